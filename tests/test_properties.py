"""Property tests (reliability plan H1/H2), with Hypothesis.

H1: every public row of the op table, fed random shapes (rank 0 to 6,
zero-size dims, broadcastable pairs), every dtype, and junk, either returns
tensors or raises an ordinary exception (TypeError, ValueError and its
subclass InvalidArgumentError, IndexError, LookupError) -- never
SystemError, never a crash.
H1, widened: every public callable found by introspection (functions of
every namespace, public and dunder methods and attributes of every class),
with anything in any slot -- Tensors and Variables of every dtype at rank
0-2, NumPy values of every NumPy dtype and layout, huge ints, ragged and
cyclic lists, dtype objects, callables, objects whose protocols lie --
judged by the fuzzers' oracle (fuzz/fuzzlib.py) in a forked child, so a
crash fails one test; Hypothesis samples the calls, and a sweep gives every
slot of every callable every kind of value.
H2: a state machine drives the tape lifecycle (enter, nest, watch, ops,
stop_recording, gradient inside and outside, reset, exit, del, another
thread) and checks every gradient against its model (the analytic value or
None) and the live-object counters at the end.
"""
import enum
import gc
import math
import mmap
import os
import pathlib
import re
import resource
import signal
import sys
import threading
import time
import traceback
import types
import warnings

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
    """Tapes over one scalar x, nested on this thread, and computations
    y = x**3.  The model tracks, per tape, whether it watches x and which
    y's it recorded (every open, watching, unpaused tape records a y), so
    each gradient is known: 3 x**2 for a y the tape recorded, None for one
    it did not.  Rules: enter (nest), watch, compute, compute under
    stop_recording, gradient inside and outside the context, reset, exit,
    del, and another thread with its own tape (records nothing here)."""

    X = 1.5
    DY = 3 * 1.5 ** 2

    def __init__(self):
        super().__init__()
        gc.collect()
        self.baseline = C._live_counts()
        self.x = tf.constant(self.X, dtype=tf.float64)
        self.open = []          # model dicts of entered tapes, innermost last
        self.closed = []        # model dicts after exit
        self.y = None           # the latest computation

    def _new(self, persistent):
        return {"tape": tf.GradientTape(persistent=persistent),
                "persistent": persistent, "watching": False, "ys": [],
                "used": False}

    def _check(self, m, y):
        """Gradient of y on model tape m, against the model."""
        if m["used"]:
            with pytest.raises(RuntimeError, match="non-persistent"):
                m["tape"].gradient(y, self.x)
            return
        g = m["tape"].gradient(y, self.x)
        if not m["persistent"]:
            m["used"] = True
        if any(r is y for r in m["ys"]):
            assert abs(float(g) - self.DY) < 1e-12
        else:
            assert g is None

    @rule(persistent=st.booleans(), watch=st.booleans())
    def enter(self, persistent, watch):
        if len(self.open) >= 4:
            return
        m = self._new(persistent)
        m["tape"].__enter__()
        if watch:
            m["tape"].watch(self.x)
            m["watching"] = True
        self.open.append(m)

    @precondition(lambda self: self.open)
    @rule()
    def watch(self):
        m = self.open[-1]
        m["tape"].watch(self.x)
        m["watching"] = True

    def _compute(self, paused=None):
        y = self.x * self.x * self.x
        for m in self.open:
            if m["watching"] and m is not paused:
                m["ys"].append(y)
        self.y = y

    @rule()
    def compute(self):
        self._compute()

    @precondition(lambda self: self.open)
    @rule()
    def compute_under_stop_recording(self):
        m = self.open[-1]
        with m["tape"].stop_recording():
            assert not m["tape"]._recording
            self._compute(paused=m)
        assert m["tape"]._recording

    @precondition(lambda self: self.open and self.y is not None)
    @rule()
    def gradient_inside(self):
        m = self.open[-1]
        used = m["used"]
        self._check(m, self.y)
        if not m["persistent"] and not used:
            # a non-persistent tape leaves the stack when it computes
            self.open.pop()
            self.closed.append(m)

    @precondition(lambda self: self.open)
    @rule()
    def reset(self):
        m = self.open[-1]
        m["tape"].reset()
        m.update(watching=False, ys=[], used=False)

    @precondition(lambda self: self.open)
    @rule()
    def exit(self):
        m = self.open.pop()
        m["tape"].__exit__(None, None, None)
        self.closed.append(m)

    @precondition(lambda self: self.closed)
    @rule(pick=st.integers(0, 7))
    def gradient_outside(self, pick):
        m = self.closed[pick % len(self.closed)]
        ys = m["ys"] + ([self.y] if self.y is not None else [])
        if ys:
            self._check(m, ys[pick % len(ys)])

    @precondition(lambda self: self.closed)
    @rule(pick=st.integers(0, 7))
    def delete(self, pick):
        del self.closed[pick % len(self.closed)]

    @rule()
    def another_thread(self):
        counts = [m["tape"]._num_entries for m in self.open]
        out = []

        def work():
            x = tf.constant(2.0, dtype=tf.float64)
            with tf.GradientTape() as t:
                t.watch(x)
                y = x * x * x
            out.append(float(t.gradient(y, x)))
            # a tape left open when the thread ends stops recording
            tf.GradientTape().__enter__()

        th = threading.Thread(target=work)
        th.start()
        th.join()
        assert out == [12.0]
        assert [m["tape"]._num_entries for m in self.open] == counts

    @invariant()
    def counters_never_negative(self):
        assert all(v >= 0 for v in C._live_counts().values())

    def teardown(self):
        while self.open:
            self.open.pop()["tape"].__exit__(None, None, None)
        self.closed.clear()
        self.y = self.x = None
        gc.collect()
        assert C._live_counts()["GradientTape"] == self.baseline["GradientTape"]
        assert C._live_counts()["TapeEntry"] == self.baseline["TapeEntry"]


TapeLifecycle.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, derandomize=True, deadline=None)
# gradient inside a persistent tape's context warns, as TF logs (tested in
# test_tape.py); the machine does it on purpose
test_tape_lifecycle = pytest.mark.filterwarnings(
    "ignore:Calling GradientTape.gradient on a persistent tape")(
    HYPOTHESIS_RUN(TapeLifecycle.TestCase))


# ---- H1, widened: every public callable, anything in every slot -------------
# fuzz/fuzzlib.py finds the public API by introspection (every public
# function of every namespace, every public and dunder method and attribute
# of every class the package defines), and holds the fuzzers' widened
# vocabulary (objects whose __index__/__len__/__float__/__array__/__iter__
# lie, dtype objects, callables, cyclic and deep lists).  Here Hypothesis
# draws the rest: Tensors and Variables of every dtype at rank 0-2 with any
# integer or float values, NumPy arrays and scalars of every NumPy dtype in
# every layout, any int, float or text.  Each example runs in a forked
# child: a crash fails the example (and Hypothesis shrinks it) instead of
# killing the run, and tapegrad objects are made only there (`Make`).

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent
                       / "fuzz"))
import fuzzlib  # noqa: E402

FUNCTIONS = fuzzlib.public_functions()
CLASSES = fuzzlib.public_classes()
SURFACE = {}     # group -> [(qualified name, class or None, attribute)]
for _qual, _f in FUNCTIONS:
    SURFACE.setdefault(_qual.rsplit(".", 1)[0], []).append(
        (_qual, None, _f))
for _cls in CLASSES:
    SURFACE[_cls.__name__] = (
        [("%s.%s" % (_cls.__name__, m), _cls, m)
         for m in fuzzlib.methods(_cls)] +
        [("%s.%s" % (_cls.__name__, a), _cls, a)
         for a in fuzzlib.attributes(_cls)])
# every row's example values for its attributes, by name
NAME_EXAMPLES = {}
for _r in C._ops():
    for _case in eval(_r["cases"], {"slice": slice,  # noqa: S307
                                    "Ellipsis": Ellipsis,
                                    "__builtins__": {}}):
        for _k, _v in _case.items():
            if _k not in ("shapes", "kinds", "ranges", "dtypes"):
                NAME_EXAMPLES.setdefault(_k, []).append(_v)


class Make:
    """A value made in the child that runs the call, shown as the code
    that makes it."""

    def __init__(self, text, fn):
        self.text, self.fn = text, fn

    def __repr__(self):
        return self.text


def made(x):
    return x.fn() if isinstance(x, Make) else x


_TAPES = []   # (in the child) every tape made, exited afterwards


def _tape(persistent, watch, state):
    t = tf.GradientTape(persistent=persistent,
                        watch_accessed_variables=watch)
    _TAPES.append(t)
    if state != "fresh":
        t.__enter__()
        x = tf.constant(1.5)
        t.watch(x)
        y = x * x
        if state == "exited":
            t.__exit__(None, None, None)
        elif state == "used":
            t.gradient(y, x)
    return t


ATTR_VALUES = st.one_of(st.integers(-3, 4), st.sampled_from(
    [0.5, -0.0, 2.0, 2.5, math.inf, math.nan, 2.0 ** 31, -2.0 ** 31,
     2.0 ** 63, 65504.0]), st.floats(), st.integers(-2 ** 70, 2 ** 70))
SHAPES_0_2 = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0,
                              max_side=3)


@st.composite
def slot_tensors(draw, variable=True):
    """A Tensor (or Variable) of any dtype at rank 0-2."""
    dtype = draw(st.sampled_from(fuzzlib.TF_DTYPES))
    shape = draw(SHAPES_0_2)
    n = int(np.prod(shape))
    values = draw(st.lists(ATTR_VALUES, min_size=n, max_size=n))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = np.array([float(v) for v in values]).astype(
            dtype.as_numpy_dtype).reshape(shape)
    kind = draw(st.sampled_from(["constant", "Variable"])) if variable \
        else "constant"
    return Make("tf.%s(np.array(%r, %s))" % (kind, a.tolist(), a.dtype),
                lambda: getattr(tf, kind)(a))


@st.composite
def numpy_values(draw):
    """A NumPy array (rank 0-2) or scalar of any NumPy dtype (object,
    datetime, complex, unsigned, bytes, str, void, structured), in any
    layout (byte-swapped, misaligned, strided, read-only)."""
    dtype = draw(st.one_of(
        hnp.scalar_dtypes(), hnp.byte_string_dtypes(max_len=3),
        hnp.unicode_string_dtypes(max_len=3),
        hnp.array_dtypes(max_size=2),
        st.sampled_from([np.dtype(object), np.dtype("V4"),
                         np.dtype(np.longdouble)])))
    shape = draw(SHAPES_0_2)
    if dtype.hasobject:
        a = np.empty(shape, object)
        for i in np.ndindex(shape):
            a[i] = draw(st.one_of(st.none(), st.integers(), st.floats(),
                                  st.text(max_size=2)))
    elif dtype.kind == "V" and not dtype.names:
        a = np.zeros(shape, dtype)
    else:
        a = draw(hnp.arrays(dtype, shape))
    return fuzzlib.np_layout(a, draw(st.sampled_from(fuzzlib.NP_LAYOUTS)))


@st.composite
def liars(draw):
    """An object whose protocols lie (fuzzlib.LIAR_CLASSES)."""
    cls = draw(st.sampled_from(fuzzlib.LIAR_CLASSES))
    plan = {}
    for proto in fuzzlib.lies_about(cls):
        mode = draw(st.sampled_from(["return", "cycle", "raise", "mutate"]))
        if mode == "raise":
            plan[proto] = (mode, draw(st.sampled_from(fuzzlib.LIE_ERRORS)))
            continue
        values = st.sampled_from(fuzzlib.PROTOCOLS[proto])
        if proto == "__array__":
            values = st.one_of(values, numpy_values())
        v = draw(values)
        plan[proto] = ("cycle", [v, draw(values)]) if mode == "cycle" \
            else (mode, v)
    init = (draw(st.integers(-2, 4)) if cls is fuzzlib.LyingInt
            else draw(st.floats()) if cls is fuzzlib.LyingFloat
            else [1.0] * draw(st.integers(0, 3)))
    around = draw(st.none() | st.lists(st.integers(0, 2), min_size=2,
                                       max_size=2))
    return Make("make_liar(%s, %r, %r, %r)" % (cls.__name__, plan, init,
                                                around),
                lambda: fuzzlib.make_liar(cls, plan, init, around))


def _made_list(fn, i, name):
    return Make("fuzzlib.%s()[%d]" % (name, i), lambda: fn()[i])


NESTED = st.recursive(st.one_of(st.integers(-3, 4), st.floats(),
                                st.none()),
                      lambda c: st.lists(c, max_size=3) | st.tuples(c, c),
                      max_leaves=6)
ANYTHING = st.one_of(
    slot_tensors(), numpy_values(), st.integers(),
    st.sampled_from(fuzzlib.BIG_INTS), st.floats(), NESTED,
    st.integers(0, len(fuzzlib.nested_lists()) - 1).map(
        lambda i: _made_list(fuzzlib.nested_lists, i, "nested_lists")),
    st.none(), st.text(max_size=4),
    st.sampled_from(fuzzlib.WEIRD_STRINGS + fuzzlib.STRINGS),
    st.sampled_from(fuzzlib.DTYPE_OBJECTS),
    st.sampled_from(fuzzlib.CALLABLES), liars(),
    st.integers(0, len(fuzzlib.junk_values()) - 1).map(
        lambda i: _made_list(fuzzlib.junk_values, i, "junk_values")))
GOOD = Make("tf.constant([[1.0, 2.0], [3.0, 4.0]])",
            lambda: tf.constant([[1.0, 2.0], [3.0, 4.0]]))


def value_for(name):
    """For parameter `name`: its op-table examples, a float matrix, or
    anything."""
    good = [GOOD] + NAME_EXAMPLES.get(name, [])
    return st.one_of(st.sampled_from(good), ANYTHING)


@st.composite
def arguments(draw, params):
    """Positional and keyword arguments for a signature: each parameter
    given or left out, by position or by name; sometimes one positional
    too many or a keyword it does not take."""
    if params is None:
        params = [("arg%d" % i, "pos") for i in range(draw(
            st.integers(0, 3)))]
    args, kw, positional = [], {}, True
    for name, kind in params:
        if kind == "*":
            args += draw(st.lists(value_for(name), max_size=2)) \
                if positional else []
            continue
        how = draw(st.sampled_from(["position", "name", "omit"]))
        if kind == "**" or how == "omit" or (kind == "pos"
                                             and not positional):
            positional = positional and kind in ("kw", "**")
            continue
        if kind == "kw" or how == "name" or not positional:
            kw[name] = draw(value_for(name))
            positional = False
        else:
            args.append(draw(value_for(name)))
    if draw(st.booleans()) and draw(st.booleans()):
        if draw(st.booleans()):
            args.append(draw(ANYTHING))
        else:
            key = draw(st.sampled_from(fuzzlib.TF_KEYWORDS))
            kw[key or "bogus"] = draw(value_for(key))
    return args, kw


def receiver(cls):
    """An instance of `cls` to call a method on (a strategy), or None."""
    if cls is tf.Tensor:
        return slot_tensors(variable=False)
    if cls is tf.Variable:
        return slot_tensors().map(lambda m: Make(
            "tf.Variable(%r)" % m, lambda: tf.Variable(m.fn())))
    if cls is tf.GradientTape or cls.__name__ == "_StopRecording":
        stop = cls is not tf.GradientTape
        return st.tuples(st.booleans(), st.booleans(), st.sampled_from(
            ["fresh", "recording", "exited", "used"])).map(
            lambda a: Make("_tape(%r, %r, %r)%s" % (
                *a, ".stop_recording()" if stop else ""),
                lambda: (_tape(*a).stop_recording() if stop
                         else _tape(*a))))
    if cls is tf.DType:
        return st.sampled_from(fuzzlib.TF_DTYPES)
    if issubclass(cls, enum.Enum):
        return st.sampled_from(list(cls))
    if issubclass(cls, BaseException):
        return st.just(Make("%s('x')" % cls.__name__, lambda: cls("x")))
    if _python_receiver(cls) is not None:
        # a fresh one per call: a layer's first call builds its variables,
        # which must not outlive the call being checked for leaks
        return st.just(Make("%s instance" % cls.__name__,
                            lambda: _python_receiver(cls)))
    return None


def _python_receiver(cls):
    """An instance of one of the package's Python-level classes (their
    methods are plain functions: called on another type they fail as any
    Python code would, which is not the C type checks this sweep is
    after)."""
    if issubclass(cls, tf.TensorShape):
        return tf.TensorShape([2, None, 3])
    if cls is tf.TensorSpec:
        return tf.TensorSpec([None, 2], tf.float32)
    if cls is tf.device:
        return tf.device("/GPU:0")
    if cls is tf.data.Dataset:   # abstract, as TF's: a pipeline instead
        return tf.data.Dataset.from_tensor_slices(
            ([1.0, 2.0, 3.0], [1, 2, 3])).shuffle(2, seed=1)
    if isinstance(tf.function(lambda x: x), cls):
        return tf.function(lambda x: x)
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return cls(*["x"] * len(cls._fields))
    if cls is tf.keras.KerasTensor:
        return cls((None, 2))
    if cls is tf.keras.models.Functional:   # keras.Model(inputs, outputs)
        x = tf.keras.Input(shape=(2,))
        return tf.keras.Model(x, tf.keras.layers.Dense(2)(x))
    if cls is tf.keras.saving.CustomObjectScope:
        return cls({})
    if cls.__module__.startswith("tapegrad"):
        # the package's Python classes (Module, the Keras layers and
        # initializers): defaults, or one positional (Dense's units)
        # (and the learning-rate schedules: a rate, steps, a rate; or
        # boundaries and values; and the layers that need a rate, two
        # sizes or an activation: Dropout, Embedding, Activation)
        for args in ((), (2,), (tf.float32,), (0.1, 10, 0.5),
                     ([1], [1.0, 0.5]), (0.5,), (4, 2), ("relu",)):
            try:
                return cls(*args)
            except (TypeError, ValueError):
                continue
    return None


def _cap_address_space(extra=2 << 30):
    """(In the child.)  Allow `extra` bytes of address space beyond what
    the forked interpreter holds: a legal but huge request (ones(2**31),
    8 GiB) is then a quick MemoryError rather than seconds of filling
    memory (the sweep spent two minutes so).  Under tools/run_asan.sh the
    cap is left off (ASan's shadow memory cannot live under it; its own
    max_allocation_size_mb refuses such sizes)."""
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        return
    with open("/proc/self/status") as f:
        size = int(re.search(r"VmSize:\s+(\d+)", f.read()).group(1)) << 10
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, size + extra))


def run_forked(fn, timeout=60):
    """fn() in a forked child; returns None, or what went wrong there: a
    finding's traceback, or the signal that killed it."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: never returns
        os.close(r)
        status = 0
        _cap_address_space()
        try:
            fn()
        except BaseException:  # noqa: BLE001 -- reported to the parent
            os.write(w, traceback.format_exc().encode()[-8000:])
            status = 1
        os._exit(status)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        report = f.read().decode(errors="replace")
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timed out after %d s" % timeout
        time.sleep(0.001)
    if os.WIFSIGNALED(status):
        return "crashed: killed by signal %d" % os.WTERMSIG(status)
    if os.WEXITSTATUS(status):
        return report
    return None


def _close_tapes():
    """Exit and drop the tapes a call opened (innermost first)."""
    while _TAPES:
        if _TAPES[-1]._recording:
            _TAPES[-1].__exit__(None, None, None)
        _TAPES.pop()


def _call_surface(*call):
    """(In the child.)  The call, judged by fuzzlib's oracle: an ordinary
    exception with a message or a result, no leaked tapegrad objects."""
    before = fuzzlib.baseline()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            _attempt(*call)
        finally:
            _close_tapes()
    fuzzlib.settle(before)


def _attempt(qual, cls, attr, recv, args, kw, op):
    try:
        args = [made(a) for a in args]
        kw = {k: made(v) for k, v in kw.items()}
        if cls is None:
            out = attr(*args, **kw)
        elif op != "call":
            obj = made(recv)
            if op == "get":
                out = getattr(obj, attr)
            elif op == "set":
                out = setattr(obj, attr, args[0] if args else None)
            else:
                out = delattr(obj, attr)
        elif recv is None or isinstance(recv, str):
            out = getattr(cls, attr)(*args, **kw)   # unbound
        else:
            out = getattr(made(recv), attr)(*args, **kw)
        repr(out)
    except Exception as e:  # noqa: BLE001 -- the oracle decides
        if op in ("get", "set", "del") and isinstance(e, AttributeError):
            assert str(e).strip(), "AttributeError with no message"
        else:
            fuzzlib.check_call_exception(
                e, qual, attr if cls is not None else None)


@st.composite
def surface_calls(draw, group):
    """A call of one callable of `group`: (qualified name, class, function
    or attribute name, receiver, args, kwargs, call/get/set/del)."""
    qual, cls, attr = draw(st.sampled_from(SURFACE[group]))
    if cls is None:
        params = fuzzlib.parameters(attr)
        if isinstance(attr, type) and issubclass(attr, enum.Enum):
            params = [("value", "pos")]   # more: enum's functional API
        args, kw = draw(arguments(params))
        return qual, None, attr, None, args, kw, "call"
    recv_strategy = receiver(cls)
    recv = draw(recv_strategy) if recv_strategy is not None else None
    if not _callable(cls, attr):
        shared = isinstance(recv, enum.Enum)   # lives for the process
        op = "get" if shared else draw(st.sampled_from(["get", "set",
                                                         "del"]))
        return qual, cls, attr, recv, [draw(ANYTHING)], {}, op
    if isinstance(recv, enum.Enum) and attr in ("__setattr__",
                                                "__delattr__"):
        return qual, cls, "__repr__", recv, [], {}, "call"
    args, kw = draw(arguments(fuzzlib.parameters(getattr(cls, attr))))
    if recv is None or (draw(st.integers(0, 9)) == 0 and isinstance(
            getattr(cls, attr), C_METHODS)):
        # unbound, with anything as self: C's type check
        args = [draw(ANYTHING) if recv is None else recv] + args
        recv = "unbound"
    return qual, cls, attr, recv, args, kw, "call"


C_METHODS = (types.MethodDescriptorType, types.WrapperDescriptorType,
             types.BuiltinFunctionType, types.ClassMethodDescriptorType)


def _callable(cls, name):
    return callable(getattr(cls, name, None))


def _limit(call):
    """check_gradients' cost doubles with `order`: keep it small."""
    qual, cls, attr, recv, args, kw, op = call
    for key, cap in fuzzlib.LIMITS.get(qual, {}).items():
        if isinstance(kw.get(key), int) and kw[key] > cap:
            kw = dict(kw, **{key: cap})
    return qual, cls, attr, recv, args, kw, op


# the "ci" profile's 15 examples per group (each forks a child: ~3 s in all)
@HYPOTHESIS_RUN
@pytest.mark.parametrize("group", sorted(SURFACE))
@given(data=st.data())
def test_every_public_callable_takes_anything_in_any_slot(group, data):
    call = _limit(data.draw(surface_calls(group), label="call"))
    problem = run_forked(lambda: _call_surface(*call))
    assert problem is None, "%s(%r, %r): %s" % (call[0], call[4], call[5],
                                                problem)


# ---- ...and every slot of every callable, each with every kind of value ----
# Hypothesis samples; this sweep visits them all: each parameter of each
# public function and method (and each data attribute, set) gets, in turn,
# every value of SWEEP (a Tensor and a Variable of every dtype at ranks
# 0-2, NumPy scalars of every NumPy dtype, byte-swapped and misaligned
# arrays, huge ints, ragged/cyclic/deep lists, dtype objects, callables,
# lying objects...), the other required parameters a float matrix.  One
# forked child does it all; the call it was making when it died is in a
# shared page.

def _sweep_values():
    vals = []
    for dtype in fuzzlib.TF_DTYPES:
        for a in (2, [1, 0], [[0, 1], [1, 0]]):
            arr = np.array(a).astype(dtype.as_numpy_dtype)
            vals += [tf.constant(arr), tf.Variable(arr)]
    # beyond the small-int cache, and negative
    vals += [tf.constant(300), tf.constant(-100, tf.int64)]
    vals += [np.zeros((), d)[()] for d in fuzzlib.NP_DTYPES]
    for d in (np.float32, np.int64, np.bool_, np.complex64):
        vals += [fuzzlib.np_layout(np.arange(2).astype(d), "byteswapped"),
                 fuzzlib.np_layout(np.arange(2).astype(d), "misaligned")]
    vals += [2 ** 31, -2 ** 31 - 1, 2 ** 64, -7, np.uint64(2 ** 64 - 1),
             True]
    nested = fuzzlib.nested_lists()
    vals += [nested[0], nested[7], nested[8], nested[10]]  # ragged,
    # cyclic, 71 deep, with tensors
    vals += [None, "%s%s%n", "\ud800"]
    vals += [np.dtype("complex64"), np.dtype("M8[D]"), np.float32,
             "bfloat16", tf.DType]
    vals += [fuzzlib._return_first, fuzzlib._raise_liar]
    protos = fuzzlib.PROTOCOLS
    for cls in fuzzlib.LIAR_CLASSES:
        names = fuzzlib.lies_about(cls)
        init = (3 if cls is fuzzlib.LyingInt else 2.0
                if cls is fuzzlib.LyingFloat else [1.0])
        vals += [   # raising; or wrong types, changing, emptying its list
            fuzzlib.make_liar(cls, {p: ("raise", fuzzlib.LiarError)
                                    for p in names}, init),
            fuzzlib.make_liar(cls, {p: (["return", "cycle", "mutate"][
                i % 3], protos[p][-1] if i % 3 != 1 else protos[p][:3])
                for i, p in enumerate(names)}, init, [1, 2])]
    vals += fuzzlib.junk_values()[:6]
    return vals


def _default_receiver(cls):
    if cls is tf.Tensor:
        return tf.constant([[1.0, 2.0], [3.0, 4.0]])
    if cls is tf.Variable:
        return tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    if cls is tf.GradientTape:
        return _tape(True, True, "recording")
    if cls.__name__ == "_StopRecording":
        return _tape(False, True, "recording").stop_recording()
    if cls is tf.DType:
        return tf.float32
    if issubclass(cls, enum.Enum):
        return list(cls)[0]
    if issubclass(cls, BaseException):
        return cls("x")
    return _python_receiver(cls)


def _slot_calls(qual, f, params, optional):
    """For each slot of f: (slot name, make(v) -> (args, kwargs))."""
    if params is None:   # unknown signature: the first two positions
        return [("arg0", lambda v: ([v], {})),
                ("arg1", lambda v: ([GOOD.fn(), v], {}))]
    out = []
    for i, (name, kind) in enumerate(params):
        if kind == "**":
            continue

        def make(v, i=i, name=name, kind=kind):
            args, kw = [], {}
            for j, (n, k) in enumerate(params[:i]):
                if k == "pos" or (k == "*" and kind in ("pos", "*")):
                    if k != "*":
                        args.append(GOOD.fn())
                elif k == "any" and kind in ("pos", "*"):
                    args.append(GOOD.fn())
                elif k in ("any", "kw") and n not in optional:
                    kw[n] = GOOD.fn()
            if kind in ("pos", "*"):
                args.append(v)
            else:
                kw[name] = v
            for n, k in params[i + 1:]:
                if k in ("any", "kw") and n not in optional:
                    kw[n] = GOOD.fn()
            return args, kw
        out.append((name, make))
    return out


def _sweep(where):
    """(In the child.)  Every slot of every public callable, every SWEEP
    value; `where` (a shared page) holds the call being made."""
    values = _sweep_values()
    for group in sorted(SURFACE):
        for qual, cls, attr in SURFACE[group]:
            if cls is None:
                f = attr
                params = fuzzlib.parameters(f)
                if isinstance(f, type) and issubclass(f, enum.Enum):
                    params = [("value", "pos")]
                slots = _slot_calls(qual, f, params, fuzzlib.optional(f))
            elif not _callable(cls, attr):
                slots = [("=", lambda v: ([v], {}))]
            else:
                slots = _slot_calls(
                    qual, getattr(cls, attr),
                    fuzzlib.parameters(getattr(cls, attr)),
                    fuzzlib.optional(getattr(cls, attr)))
            for slot, make in slots:
                for i, v in enumerate(values):
                    where.seek(0)
                    where.write(("%s, slot %s, SWEEP value %d: %s\0" % (
                        qual, slot, i, fuzzlib.safe_repr(v)[:200])).encode(
                        errors="replace")[:4000])
                    _sweep_one(qual, cls, attr, slot, make, v)


def _sweep_one(qual, cls, attr, slot, make, v):
    # (not fuzzlib.baseline(): SWEEP's own tensors are alive, and a
    # collection per call would cost ~20 ms; settle() collects when the
    # counts grew)
    before = fuzzlib.live_counts()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            _sweep_call(qual, cls, attr, slot, make, v)
        finally:
            _close_tapes()
    fuzzlib.settle(before)


def _sweep_call(qual, cls, attr, slot, make, v):
    if cls is not None and isinstance(_default_receiver(cls), enum.Enum) \
            and attr in ("__setattr__", "__delattr__", "__init__"):
        return    # an Enum member lives for the process
    args, kw = make(v)
    for key, cap in fuzzlib.LIMITS.get(qual, {}).items():
        if isinstance(kw.get(key), int) and kw[key] > cap:
            kw[key] = cap
    recv = _default_receiver(cls) if cls is not None else None
    op = "set" if slot == "=" else "call"
    if recv is None and cls is not None:
        recv, args = "unbound", [GOOD.fn()] + args
    if isinstance(recv, enum.Enum) and op == "set":
        op = "get"
    _attempt(qual, cls, attr, recv, args, kw, op)


@pytest.mark.no_refleak_check(reason="the work is done in a forked child")
def test_every_slot_of_every_public_callable_takes_every_kind_of_value():
    where = mmap.mmap(-1, 4096)
    problem = run_forked(lambda: _sweep(where), timeout=300)
    last = where[:].split(b"\0")[0].decode(errors="replace")
    assert problem is None, "%s\nthe call: %s" % (problem, last)
