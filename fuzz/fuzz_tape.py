#!/usr/bin/env python3
"""Fuzz the tape lifecycle: bytes -> a sequence of up to 48 actions on a few
tapes, Tensors and Variables: enter (new tape or re-entry), exit (in or
out of order, twice), nest, watch, ops, gradient inside and outside the
context, persistent and non-persistent reuse, del, gc.collect, Variable
creation and assign* (whole or sliced), stop_gradient, watched_variables,
stop_recording, reset, custom_gradient functions whose grad_fn runs an
action mid-sweep (and returns junk or raises), work done from another
thread, objects whose conversion runs an action in the middle of an op or
a gradient, and calls of any public function, method or attribute
(fuzz_ops.call_surface) on the sequence's values and tapes.  Flags, dtypes,
names, attributes and unconnected_gradients sometimes get anything from
fuzzlib's widened vocabulary.

    python fuzz/fuzz_tape.py [libFuzzer flags] fuzz/corpus/fuzz_tape
It imports without atheris: tests/test_fuzz_seeds.py replays the corpus
through TestOneInput.
"""
import gc
import os
import sys
import threading
import warnings
import weakref

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz_ops  # noqa: E402 -- its view of the op table
import fuzzlib  # noqa: E402
from fuzzlib import ORDINARY, Finding, check_exception, tf  # noqa: E402

VERBOSE = os.environ.get("FUZZ_VERBOSE") == "1"
MAX_ACTIONS = 48

UNARY = [tf.sin, tf.exp, tf.square, tf.tanh, tf.nn.relu, tf.reduce_sum,
         tf.negative, tf.identity, tf.sqrt, tf.math.log, tf.sigmoid,
         tf.reduce_mean, tf.transpose, lambda x: tf.reshape(x, [-1]),
         lambda x: tf.cast(x, tf.float64), lambda x: tf.cast(x, tf.float16),
         tf.stop_gradient, tf.abs, lambda x: x * x, lambda x: x + x,
         lambda x: x[0], lambda x: x[..., ::-1], lambda x: -x,
         lambda x: x ** 2, tf.nn.softmax, tf.reduce_max,
         lambda x: tf.stack([x, x]), lambda x: tf.concat([x, x], 0),
         lambda x: tf.unstack(x), lambda x: tf.split(x, 1),
         lambda x: tf.linalg.matmul(x, x), lambda x: tf.ones_like(x),
         lambda x: tf.broadcast_to(x, [2, 2]),
         lambda x: tf.gather(x, [0, 0]), tf.math.cumsum,
         lambda x: tf.where(x > 0, x, 2.0 * x)]
BINARY = [tf.add, tf.multiply, tf.subtract, tf.divide, tf.maximum,
          tf.matmul, tf.pow, tf.math.squared_difference, tf.atan2,
          lambda a, b: a @ b, lambda a, b: tf.add_n([a, b]),
          lambda a, b: tf.concat([a, b], -1),
          lambda a, b: tf.tensordot(a, b, 1),
          lambda a, b: tf.where(a > b, a, b)]


class State:
    def __init__(self, g):
        self.g = g
        self.tapes = []        # tapes the sequence still refers to
        self.all_tapes = []    # weakrefs, to exit whatever is left open
        self.values = [tf.constant(1.5), tf.Variable([[1.0, 2.0],
                                                      [3.0, 4.0]],
                                                     dtype=tf.float64),
                       tf.constant([[0.5, -1.0], [2.0, 0.25]]),
                       tf.constant([1, 2], dtype=tf.int32)]
        self.depth = 0         # nesting of actions run from callbacks
        self.accs = []         # ForwardAccumulators made

    def pick_tape(self):
        return self.g.pick(self.tapes) if self.tapes else None

    def pick_value(self):
        return self.g.pick(self.values)

    def add(self, out):
        for v in out if isinstance(out, (list, tuple)) else [out]:
            if isinstance(v, (tf.Tensor, tf.Variable)) and len(
                    self.values) < 24:
                self.values.append(v)


def nested_step(st):
    """One more action from inside another (at most two levels deep)."""
    if st.depth < 2:
        st.depth += 1
        try:
            step(st)
        finally:
            st.depth -= 1


class Evil:
    """Converts to an array, but runs one more action first (re-entrancy:
    ops, gradients, exits and collections in the middle of another)."""

    def __init__(self, st, shape):
        self.st, self.shape = st, shape

    def __array__(self, dtype=None, copy=None):
        nested_step(self.st)
        return np.ones(self.shape, dtype or np.float32)


# ---- actions ---------------------------------------------------------------

def a_new_tape(st):
    if len(st.tapes) >= 8:
        return
    g = st.g
    if g.chance(8):   # anything for the flags
        t = tf.GradientTape(persistent=g.attr(),
                            watch_accessed_variables=g.attr())
    else:
        t = tf.GradientTape(persistent=g.bool(),
                            watch_accessed_variables=g.int(0, 3) != 0)
    st.tapes.append(t)
    st.all_tapes.append(weakref.ref(t))
    if g.int(0, 3):
        t.__enter__()


def a_enter(st):
    t = st.pick_tape()
    if t is not None:
        t.__enter__()


def a_exit(st):
    t = st.pick_tape()
    if t is None:
        return
    if st.g.bool():   # prefer the innermost recording tape
        rec = [x for x in st.tapes if x._recording]
        t = rec[-1] if rec else t
    t.__exit__(None, None, None)


def a_watch(st):
    t = st.pick_tape()
    if t is None:
        return
    k = st.g.int(0, 5)
    if k <= 2:
        obj = st.pick_value()
    elif k == 3:
        obj = [st.pick_value(), {"a": st.pick_value(), "b": (st.pick_value(),)}]
    elif k == 4:
        obj = st.g.input() if st.g.bool() else st.g.junk()
    else:
        obj = Evil(st, ())
    t.watch(obj)


def a_unary(st):
    x = st.pick_value()
    st.add(st.g.pick(UNARY)(x))


def a_binary(st):
    st.add(st.g.pick(BINARY)(st.pick_value(), st.pick_value()))


def a_convert(st):
    """An op whose input converts through a callback."""
    x = st.pick_value()
    st.add(tf.multiply(x, Evil(st, tuple(x.shape))))


def _output_gradients(st, target):
    k = st.g.int(0, 6)
    if k <= 2 or not isinstance(target, (tf.Tensor, tf.Variable)):
        return None
    if k == 3:
        return tf.ones_like(target)
    if k == 4:
        return Evil(st, tuple(target.shape))
    if k == 5:
        return st.g.array(like=target.shape)
    return st.g.input()


def a_gradient(st):
    t = st.pick_tape()
    if t is None:
        return
    g = st.g
    k = g.int(0, 4)
    if k <= 2:
        target = st.pick_value()
    elif k == 3:
        target = [st.pick_value(), st.pick_value()]
    else:
        target = g.input()
    k = g.int(0, 5)
    if k <= 1:
        sources = [st.pick_value() for _ in range(g.int(1, 3))]
    elif k == 2:
        sources = st.pick_value()
    elif k == 3:
        sources = list(t.watched_variables()) or [st.pick_value()]
    elif k == 4:
        sources = {"x": st.pick_value(), "y": [st.pick_value()]}
    else:
        sources = [st.pick_value(), g.input()]
    kw = {}
    og = _output_gradients(st, target)
    if og is not None:
        kw["output_gradients"] = og
    if g.chance(4):
        kw["unconnected_gradients"] = g.pick(["zero", "none", "bogus",
                                              g.attr()])
    grads = t.gradient(target, sources, **kw)
    flat_s = list(_flatten(sources))
    flat_g = list(_flatten(grads))
    if len(flat_s) != len(flat_g):
        raise Finding("%d sources but %d gradients" % (len(flat_s),
                                                       len(flat_g)))
    for s, d in zip(flat_s, flat_g):
        if d is None:
            continue
        if not isinstance(d, tf.Tensor):
            raise Finding("a gradient is a %s" % type(d).__name__)
        if (isinstance(s, (tf.Tensor, tf.Variable))
                and tuple(d.shape) != tuple(s.shape)):
            raise Finding("gradient shape %r for a source of shape %r"
                          % (d.shape, s.shape))
        np.asarray(d)
        st.add(d)


JACOBIAN_CAP = 1 << 18     # elements of one jacobian the harness asks for


def _jacobian_size(target, source):
    """Elements of jacobian(target, source), for shapes that are known;
    0 for anything else (the call then reports its own error)."""
    n = 1
    for x in (target, source):
        try:
            n *= int(np.prod([int(d) for d in x.shape]))
        except Exception:       # not a tensor: the call itself raises
            return 0
    return n


def a_jacobian(st):
    """jacobian or batch_jacobian of a value by values (or anything),
    either way of computing it; results checked for shape."""
    t = st.pick_tape()
    if t is None:
        return
    g = st.g
    target = st.pick_value() if g.int(0, 5) else g.input()
    kw = {}
    if g.chance(3):
        kw["experimental_use_pfor"] = g.bool()
    if g.chance(4):
        kw["unconnected_gradients"] = g.pick(["zero", "none", "bogus"])
    if g.bool():
        sources = [st.pick_value() for _ in range(g.int(1, 2))]
        if any(_jacobian_size(target, s) > JACOBIAN_CAP for s in sources):
            return      # results join the pool: jacobians of jacobians of
            #             ... grow as size ** (2 ** k), a legitimate OOM
        jac = t.jacobian(target, sources, **kw)
        for s, j in zip(sources, jac):
            if j is not None and tuple(j.shape) != (tuple(target.shape)
                                                    + tuple(s.shape)):
                raise Finding("jacobian shape %r for %r by %r"
                              % (j.shape, target.shape, s.shape))
            if j is not None:
                st.add(j)
    else:
        source = st.pick_value()
        if _jacobian_size(target, source) > JACOBIAN_CAP:
            return
        jb = t.batch_jacobian(target, source, **kw)
        want = tuple(target.shape) + tuple(source.shape)[1:]
        if tuple(jb.shape) != want:
            raise Finding("batch_jacobian shape %r, expected %r"
                          % (jb.shape, want))
        st.add(jb)


def a_new_accumulator(st):
    """A ForwardAccumulator over values, entered (or not), sometimes
    with wrong tangents or a primal given twice."""
    if len(st.accs) >= 4:
        return
    g = st.g
    prims = [st.pick_value() for _ in range(g.int(1, 2))]
    tans = [g.array(tuple(p.shape)) if g.int(0, 4) else g.input()
            for p in prims]
    acc = tf.autodiff.ForwardAccumulator(prims, tans)
    st.accs.append(acc)
    if g.int(0, 3):
        acc.__enter__()


def a_accumulator(st):
    """Exit or re-enter an accumulator, or read JVPs from it."""
    if not st.accs:
        return
    g = st.g
    acc = g.pick(st.accs)
    k = g.int(0, 3)
    if k == 0:
        acc.__exit__(None, None, None)
    elif k == 1:
        acc.__enter__()
    else:
        v = st.pick_value()
        j = acc.jvp(v, unconnected_gradients=g.pick(["none", "zero"]))
        if j is not None and tuple(j.shape) != tuple(v.shape):
            raise Finding("jvp shape %r for a value of shape %r"
                          % (j.shape, v.shape))
        if j is not None:
            st.add(j)


def _flatten(x):
    if isinstance(x, (list, tuple)):
        for item in x:
            yield from _flatten(item)
    elif isinstance(x, dict):
        for k in sorted(x):
            yield from _flatten(x[k])
    else:
        yield x


def a_del_tape(st):
    if st.tapes:
        st.tapes.pop(st.g.int(0, len(st.tapes) - 1))


def a_del_value(st):
    if len(st.values) > 1:
        st.values.pop(st.g.int(0, len(st.values) - 1))


def a_collect(st):
    # a full collection costs ~20 ms with NumPy loaded: mostly the young
    # generations, where the sequence's own cycles are
    gc.collect(st.g.pick([0, 0, 0, 0, 0, 1, 1, 1, 1, 2]))


def a_new_variable(st):
    g = st.g
    init = st.pick_value() if g.bool() else g.array()
    kw = {}
    if g.chance(4):
        kw["dtype"] = g.pick(fuzzlib.TF_DTYPES) if g.bool() else g.attr()
    if g.chance(8):
        kw["name"] = g.attr()
    trainable = g.int(0, 3) != 0 if g.int(0, 7) else g.attr()
    st.add(tf.Variable(init, trainable=trainable, **kw))


def a_assign(st):
    vs = [v for v in st.values if isinstance(v, tf.Variable)]
    if not vs:
        return
    g = st.g
    v = g.pick(vs)
    k = g.int(0, 4)
    if k <= 1:
        val = st.pick_value()
    elif k == 2:
        val = g.array(shape=v.shape, dtype=g.pick([None, np.float64,
                                                   np.float32, np.int32]))
    elif k == 3:
        val = Evil(st, tuple(v.shape))
    else:
        val = g.input()
    method = g.pick(["assign", "assign_add", "assign_sub"])
    kw = {"read_value": g.bool() if g.int(0, 7) else g.attr()}
    if g.chance(8):
        kw[g.pick(fuzz_ops.KEYWORDS) or "bogus"] = g.attr()
    target = v
    if g.chance(3):
        # sliced assignment: v[key].assign(...) writes into v in place
        target = v[g.key()]
        kw.pop("read_value", None)
    out = getattr(target, method)(val, **kw)
    st.add(out)


def a_read(st):
    vs = [v for v in st.values if isinstance(v, tf.Variable)]
    if not vs:
        return
    v = st.g.pick(vs)
    st.add(st.g.pick([v.value, v.read_value, lambda: tf.identity(v),
                      lambda: v + 0.0, lambda: v[0]])())


def a_stop_gradient(st):
    st.add(tf.stop_gradient(st.pick_value()))


def a_inspect(st):
    t = st.pick_tape()
    if t is None:
        return
    t.watched_variables()
    repr(t)
    (t.persistent, t.watch_accessed_variables, t._recording, t._num_entries)
    repr(st.pick_value())


def a_thread(st):
    """Run one action, or a whole enter-without-exit, on another thread and
    join it: the tape stack is per thread."""
    if not st.g.chance(4):   # ~7 ms a thread: keep them rare
        return
    err = []
    mode = st.g.int(0, 2)
    tape = st.pick_tape()

    def run():
        try:
            if mode == 0:
                step(st)
            elif mode == 1 and tape is not None:
                tape.__enter__()   # left open: dies with the thread
                st.values[0] * st.values[0]
            else:
                a_gradient(st)
        except BaseException as e:  # noqa: BLE001 -- reported on the caller
            err.append(e)

    th = threading.Thread(target=run)
    th.start()
    th.join()
    if err:
        raise err[0]


def a_row(st):
    """Any public op-table row on pool values, with its first test case."""
    row = st.g.pick([r for r in fuzz_ops.ROWS if r["fn"] is not None])
    case = row["cases"][0] if row["cases"] else {}
    attrs = {k: v for k, v in case.items()
             if k not in ("shapes", "kinds", "ranges", "dtypes")}
    if row["attrs"] and st.g.chance(4):   # one attribute: anything
        name = st.g.pick(list(row["attrs"]))
        attrs[name] = st.g.attr(row["attrs"][name])
    n = st.g.int(1, 3) if "variadic" in row["flags"] else max(row["nin"], 1)
    ins = [st.pick_value() for _ in range(n)]
    if row["first_attr"]:
        out = row["fn"](attrs.pop("equation", "ij->ji"), *ins)
    elif "variadic" in row["flags"]:
        out = row["fn"](ins, **attrs)
    else:
        out = row["fn"](*ins, **attrs)
    st.add(out)


def a_stop_recording(st):
    """One more action with a tape paused (the block may exit, reset or
    use up that very tape)."""
    t = st.pick_tape()
    if t is None:
        return
    with t.stop_recording():
        nested_step(st)


def a_reset(st):
    t = st.pick_tape()
    if t is not None:
        t.reset()


def a_surface(st):
    """One call of any public function, method or attribute (found by
    introspection, fuzz_ops.call_surface) on the sequence's values and
    tapes: the tapes it makes or enters join the sequence."""
    pool = list(st.values) + list(st.tapes) + list(st.accs)
    made = []
    try:
        out = fuzz_ops.call_surface(st.g, pool, made)
    finally:
        for t in made:
            if isinstance(t, tf.autodiff.ForwardAccumulator):
                if all(t is not x for x in st.accs):
                    st.accs.append(t)      # exited at the end, whatever
                continue
            if all(t is not x for x in st.tapes) and len(st.tapes) < 8:
                st.tapes.append(t)
            st.all_tapes.append(weakref.ref(t))
    st.add(out)


class GradFnFailed(RuntimeError):
    pass


def a_custom(st):
    """An op with a custom gradient whose grad_fn runs one more action
    mid-sweep, then returns a gradient, None, the wrong count or junk, or
    raises."""
    g = st.g
    mode = g.int(0, 5)

    @tf.custom_gradient
    def f(x):
        def grad(dy):
            nested_step(st)
            if mode <= 1:
                return dy * 2.0
            if mode == 2:
                return None
            if mode == 3:
                return [dy, dy]
            if mode == 4:
                return g.input()
            raise GradFnFailed("grad_fn raised mid-sweep")
        return x * 2.0, grad

    st.add(f(st.pick_value()))


ACTIONS = [a_new_tape, a_new_tape, a_enter, a_exit, a_exit, a_watch,
           a_watch, a_unary, a_unary, a_binary, a_convert, a_gradient,
           a_gradient, a_gradient, a_del_tape, a_del_value, a_collect,
           a_new_variable, a_assign, a_read, a_stop_gradient, a_inspect,
           a_thread, a_row, a_stop_recording, a_reset, a_custom, a_surface,
           a_surface, a_jacobian, a_new_accumulator, a_accumulator,
           a_accumulator]


def step(st):
    action = st.g.pick(ACTIONS)
    if VERBOSE:
        print("  " * st.depth + action.__name__, file=sys.stderr, flush=True)
    try:
        action(st)
    except Exception as e:  # noqa: BLE001 -- the oracle decides
        check_exception(e)


def _close(st):
    """Exit whatever is still recording (innermost first), deleted tapes
    included: the thread's stack keeps those alive."""
    for acc in reversed(st.accs):
        acc.__exit__(None, None, None)
    for ref in reversed(st.all_tapes):
        t = ref()
        if t is not None and t._recording:
            try:
                t.__exit__(None, None, None)
            except ORDINARY as e:
                check_exception(e)
    st.accs.clear()
    st.tapes.clear()
    st.values.clear()
    st.all_tapes.clear()


def TestOneInput(data):
    before = fuzzlib.baseline()
    g = fuzzlib.Gen(fuzzlib.provider(data))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        st = State(g)
        try:
            for _ in range(MAX_ACTIONS):
                if g.fdp.remaining_bytes() == 0:
                    break
                step(st)
        finally:
            _close(st)
    del st, g
    fuzzlib.settle(before)


if __name__ == "__main__":
    fuzzlib.main(TestOneInput)
