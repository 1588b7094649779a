"""Property tests (reliability plan H1/H2), with Hypothesis.

H1: every public row of the op table, fed random shapes (rank 0 to 6,
zero-size dims, broadcastable pairs), every dtype, and junk, either returns
tensors or raises an ordinary exception (TypeError, ValueError and its
subclass InvalidArgumentError, IndexError, LookupError) -- never
SystemError, never a crash.
H2: a state machine drives the tape lifecycle (enter, nest, watch, ops,
gradient inside and outside, exit, del) and checks every gradient against
the analytic value and the live-object counters at the end.
"""
import gc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.stateful import (RuleBasedStateMachine, invariant,
                                 precondition, rule)

import tapegrad as tf
from tapegrad import _tapegrad as C

ORDINARY = (TypeError, ValueError, IndexError, LookupError, OverflowError,
            MemoryError)
DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]
ROWS = [r for r in C._ops() if r["api"]]
JUNK = [None, "x", b"x", object(), 1 + 2j, [[1.0], [2.0, 3.0]],
        np.array(["a"]), np.array([object()]), np.array([1 + 1j]),
        float("nan"), 10 ** 40, -1, [], {}]

# A Hypothesis test's call runs many generated examples, and a rerun draws
# others (and fills Hypothesis' own caches): its memory is not comparable run
# to run.  Leaks stay covered by conftest.py's live-object check after each
# test and by the state machine's teardown check below.
HYPOTHESIS_RUN = pytest.mark.no_refleak_check(
    reason="Hypothesis: each run draws new examples")

settings.register_profile(
    "ci", max_examples=15, derandomize=True, deadline=None,
    suppress_health_check=[HealthCheck.too_slow,
                           HealthCheck.function_scoped_fixture])
settings.load_profile("ci")


def _fn(row):
    obj = tf
    for part in row["api"].split()[0].split("."):
        obj = getattr(obj, part)
    return obj


def _call(row, args):
    f = _fn(row)
    if "variadic" in row["flags"] and "attr_first" not in row["flags"]:
        return f(list(args))
    return f(*args)


def _check_result(out):
    for t in out if isinstance(out, (list, tuple)) else [out]:
        if isinstance(t, (tf.Tensor, tf.Variable)):
            assert isinstance(t.shape, tuple)
            np.asarray(t)  # readable


def arrays_for(nin):
    shapes = hnp.mutually_broadcastable_shapes(
        num_shapes=max(nin, 1), min_dims=0, max_dims=6, min_side=0,
        max_side=3)
    return shapes.flatmap(lambda s: st.tuples(*[
        hnp.arrays(st.sampled_from(DTYPES), shape)
        for shape in s.input_shapes]))


@HYPOTHESIS_RUN
@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
@given(data=st.data())
def test_random_shapes_and_dtypes_never_crash(row, data):
    nin = max(1, row["nin"])
    arrays = data.draw(arrays_for(nin))
    try:
        out = _call(row, arrays)
    except ORDINARY as e:
        assert str(e), "%s raised %s with no message" % (
            row["name"], type(e).__name__)
        return
    _check_result(out)


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_junk_arguments_raise_ordinary_errors(row):
    good = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    for j in JUNK:
        for args in ([j], [good, j], [j, good]):
            try:
                _call(row, args[:max(1, row["nin"])] if row["nin"] < 2
                      else args)
            except ORDINARY:
                pass


# ---- H2: the tape lifecycle as a state machine ------------------------------

class TapeLifecycle(RuleBasedStateMachine):
    """A stack of open tapes over one scalar x; y = x**k recorded on every
    open tape.  Whatever the sequence, each gradient is k*x**(k-1) for the
    tapes that saw the whole computation."""

    def __init__(self):
        super().__init__()
        gc.collect()
        self.baseline = C._live_counts()
        self.x = tf.constant(1.5, dtype=tf.float64)
        self.open = []          # [tape, persistent, watched]
        self.closed = []        # tapes after exit, with their power
        self.y = None
        self.power = 0

    @rule(persistent=st.booleans())
    def enter(self, persistent):
        if len(self.open) >= 4:
            return
        t = tf.GradientTape(persistent=persistent)
        t.__enter__()
        t.watch(self.x)
        self.open.append([t, persistent])
        self.y, self.power = None, 0  # a new computation starts

    @precondition(lambda self: self.open)
    @rule()
    def compute(self):
        self.y = self.x * self.x * self.x
        self.power = 3

    @precondition(lambda self: self.open and self.y is not None)
    @rule()
    def gradient_inside(self):
        t, persistent = self.open[-1]
        g = t.gradient(self.y, self.x)
        assert abs(float(g) - 3 * 1.5 ** 2) < 1e-12
        if not persistent:
            self.open.pop()  # a non-persistent tape stops recording

    @precondition(lambda self: self.open)
    @rule()
    def exit(self):
        t, persistent = self.open.pop()
        t.__exit__(None, None, None)
        self.closed.append((t, persistent, self.y))

    @precondition(lambda self: self.closed)
    @rule()
    def gradient_outside(self):
        t, persistent, y = self.closed.pop()
        if y is None:
            return
        try:
            g = t.gradient(y, self.x)
        except RuntimeError as e:
            assert "non-persistent" in str(e)  # used up inside already
            return
        if g is not None:
            assert abs(float(g) - 3 * 1.5 ** 2) < 1e-12
        if persistent:
            self.closed.append((t, persistent, y))

    @precondition(lambda self: self.closed)
    @rule()
    def delete(self):
        self.closed.pop()

    @invariant()
    def counters_never_negative(self):
        assert all(v >= 0 for v in C._live_counts().values())

    def teardown(self):
        while self.open:
            self.open.pop()[0].__exit__(None, None, None)
        self.closed.clear()
        self.y = self.x = None
        gc.collect()
        assert C._live_counts()["GradientTape"] == self.baseline["GradientTape"]
        assert C._live_counts()["TapeEntry"] == self.baseline["TapeEntry"]


TapeLifecycle.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, derandomize=True, deadline=None)
test_tape_lifecycle = HYPOTHESIS_RUN(TapeLifecycle.TestCase)
