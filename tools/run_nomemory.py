#!/usr/bin/env python
"""Allocation-failure injection over tapegrad's public entry points
(reliability plan G2).

For each case (tensor creation from Python values, lists, NumPy arrays and
scalars; every op row of the table, forward and, where differentiable,
through a tape to its gradient; GradientTape enter/watch/gradient/exit,
persistent and nested tapes; Variables; printing; .numpy(); operators),
after three warm-up calls:

  for start = 0, 1, 2, ...:
      _testcapi.set_nomemory(start, stop)     # make allocations fail
      call the case
      _testcapi.remove_mem_hooks()

in two modes: 'from' (stop=0: every allocation from number `start` on
fails, error paths included; for WINDOWED_CASES the next FROM_WINDOW)
and 'single' (stop=start+1: only allocation number `start` fails).  The
'from' sweep ends when three starts in a row succeed (the case makes
fewer allocations than that); 'single' then tries every start up to that
count.  Each outcome must be MemoryError or success
with the same result as an undisturbed call -- never a crash, never
SystemError or another exception, never a wrong result -- and afterwards
(gc.collect()) tapegrad's live-object counters must be back at their value
before the call.  Each case's sweep runs twice; a start whose call leaves
more allocated blocks behind in both passes is reported as a leak on that
error path.

Cases run in child processes, in batches; a child that dies is reported
with the case and start it was running, and the batch goes on after it.

Usage:
    python tools/run_nomemory.py                  # every case, both modes
    python tools/run_nomemory.py -k matmul -k tape --mode single
    python tools/run_nomemory.py --quick          # a subset (~20 s)
    python tools/run_nomemory.py --list

Exit status 0 when no case had a problem.  Needs CPython's _testcapi module
with set_nomemory: pyenv and python.org builds have it, and Debian's
/usr/bin/python3.11 has it in libpython3.11-stdlib (a python3.11
dependency); a Python built without its test modules
(--disable-test-modules) does not.
"""
import argparse
import gc
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
if ROOT not in sys.path:
    sys.path.insert(1, ROOT)

MAX_POINTS = 3000           # a case with more allocation points is cut off

# A crash whose innermost frame is NumPy's np.errstate is CPython 3.11's
# PyContextVar_Set under memory pressure: it does not check the token it
# allocates and Py_DECREFs NULL when the next allocation fails too.  NumPy's
# printing and random seeding enter errstate in Python; tapegrad's own
# quiet NumPy calls avoid PyContextVar_Set (src/kernels.c).  Reported, not
# counted against tapegrad.
KNOWN_CRASHES = {
    "numpy/_core/_ufunc_config.py":
        "known: CPython's PyContextVar_Set (unchecked token) reached through "
        "NumPy's np.errstate",
}
# Cases whose gradient runs Python code of its own (custom_gradient's
# wrapper and the user's grad_fn).  CPython 3.11 itself leaks a Python
# call's arguments when an allocation fails while it sets the call up: the
# child shows it first with plain Python objects and no tapegrad
# (_interpreter_leaks_calls).  Where it does, leaks in these cases are
# reported as known, not counted; the C-level custom_gradient cases
# (op:/grad:custom_gradient, no Python grad_fn) stay strict.
PYTHON_LEVEL_CASES = {"custom_gradient_second_order", "porting_surface",
                      "tape_explain",
                      "image_adjust_contrast",
                      "layers_and_control_flow", "keras_loss_metric_step",
                      "checkpoint_write", "checkpoint_read",
                      "checkpoint_manager_save",
                      # Keras' optimizer runs Python (apply_gradients,
                      # build) around its C update
                      "optimizer_adam_step"}
# Cases whose 'from' sweep fails a burst of FROM_WINDOW allocations from
# `start` on, not every later one: Python code with try/except/finally and
# with blocks (zipfile's, NumPy's npz code, tapegrad.train's) cannot run
# under endless failure in CPython 3.11.  Its exception_unwind (ceval.c)
# boxes the raising instruction's offset with PyLong_FromLong for the
# handlers that keep it, which allocates past offset 256; when that fails
# it unwinds to the same handler again, spinning forever.  And
# _PyErr_NormalizeException aborts the process after 32 failed tries
# ("Cannot recover from MemoryErrors while normalizing exceptions"), or a
# recursion depth left counted on such a path ends in "Cannot recover from
# stack overflow".  A burst still fails the error paths' own allocations.
# layers_and_control_flow joined when building a Dense went through
# inspect.Signature.bind (Keras' auto-config of the constructor's
# arguments), whose try/except StopIteration spins so.
WINDOWED_CASES = {"checkpoint_write", "checkpoint_read",
                  "checkpoint_manager_save", "keras_loss_metric_step",
                  "layers_and_control_flow"}
FROM_WINDOW = 20
# Exceptions other than MemoryError that CPython or NumPy themselves give
# for a failed allocation, met by the checkpoint cases' zipfile and .npy
# code: (type, file of the innermost frame or None, message regex, why).
# Reported as known, not counted.
KNOWN_ERRORS = [
    (RuntimeError, None, re.compile(r"^can't allocate (read |write )?lock$"),
     "known: CPython raises RuntimeError, not MemoryError, when it cannot "
     "allocate a lock (io's buffered files, threading.RLock)"),
    (SystemError, "/ast.py", re.compile(""),
     "known: CPython 3.11's ast.parse/literal_eval (NumPy's .npy header "
     "parser) returns NULL with or without an exception set"),
    (SystemError, "numpy/lib/_format_impl.py",
     re.compile("returned NULL without setting an exception"),
     "known: NumPy's nditer and ufunc.reduce (.npy write_array, "
     "read_array) return NULL without an exception set"),
    (ValueError, "/zipfile.py", re.compile("open writing handle"),
     "known: zipfile leaves its writing flag set when opening a member "
     "fails, so closing the ZipFile raises this over the MemoryError"),
]
KNOWN_PY_LEAK = ("known: CPython 3.11 leaks a Python call's arguments when an "
                 "allocation fails while setting the call up (reproduced "
                 "without tapegrad)")
QUICK = ["constant_list", "constant_ndarray_cast", "zeros", "op:add",
         "op:matmul", "op:reduce_sum", "grad:multiply", "grad:exp",
         "tape_lifecycle", "tape_persistent_two_gradients",
         "tape_nested_second_order", "variable_assign", "str_dtype",
         "numpy", "getitem", "op:concat", "grad:sigmoid", "jacobian",
         "forward_accumulator"]


# ---- the cases --------------------------------------------------------------------
def _cases():
    """name -> zero-argument function doing one call of the entry point.
    Inputs are built here, outside the failing window, unless building
    them is the point (the creation cases)."""
    import numpy as np

    import tapegrad as tf
    from optable import rows
    from tapegrad import _tapegrad as C

    tf.random.set_seed(7)
    rng = np.random.default_rng(20240611)
    x = tf.constant([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="w")
    big = tf.constant(np.linspace(-1, 1, 2000, dtype=np.float32))
    a32 = np.arange(6, dtype=np.float32).reshape(2, 3)
    a64 = np.arange(6, dtype=np.float64).reshape(2, 3)
    swapped = a64.astype(">f8")[:, ::-1]
    cases = {}

    def case(name):
        def deco(f):
            cases[name] = f
            return f
        return deco

    # creation
    cases["constant_float"] = lambda: tf.constant(1.5)
    cases["constant_int"] = lambda: tf.constant(3)
    cases["constant_int64"] = lambda: tf.constant(2 ** 40)
    cases["constant_bool"] = lambda: tf.constant(True)
    cases["constant_list"] = lambda: tf.constant([[1.0, 2.0], [3.0, 4.0]])
    cases["constant_list_dtype"] = lambda: tf.constant([1, 2, 3], dtype=tf.float64)
    cases["constant_ndarray"] = lambda: tf.constant(a32)
    cases["constant_ndarray_cast"] = lambda: tf.constant(a64, dtype=tf.float16)
    cases["constant_ndarray_layout"] = lambda: tf.constant(swapped)
    cases["constant_numpy_scalar"] = lambda: tf.constant(np.float64(2.5))
    cases["constant_shape"] = lambda: tf.constant(1.0, shape=(2, 3))
    cases["convert_to_tensor"] = lambda: tf.convert_to_tensor([[1, 2], [3, 4]])
    # the narrow integer dtypes: widened to int64, run, cast back
    u8 = tf.constant([1, 2, 250], tf.uint8)
    cases["constant_uint8"] = lambda: tf.constant([1, 255], tf.uint8)
    cases["constant_uint64_huge"] = lambda: tf.constant(2 ** 64 - 1, tf.uint64)
    cases["narrow_add"] = lambda: u8 + u8
    cases["narrow_truediv"] = lambda: u8 / u8
    cases["narrow_reduce"] = lambda: tf.reduce_sum(u8)
    cases["narrow_topk"] = lambda: tf.math.top_k(u8, 2)
    cases["narrow_dtype_attr"] = lambda: tf.range(1, 9, 2, dtype=tf.int16)
    cases["narrow_attr_tensor"] = lambda: tf.one_hot(
        [0, 2], 3, on_value=tf.constant(7, tf.uint16),
        off_value=tf.constant(1, tf.uint16))
    cases["narrow_cast"] = lambda: tf.cast(u8, tf.int8)

    @case("narrow_uint64_refused")
    def _():
        try:
            tf.constant([2 ** 63 + 1], tf.uint64) < 3
        except tf.errors.InvalidArgumentError as e:
            return str(e)
        raise AssertionError("uint64 past 2**63 - 1 compared")

    cases["image_adjust_contrast"] = lambda: tf.image.adjust_contrast(
        np.array([[[10], [20]]], np.uint8), 2.0)
    cases["zeros"] = lambda: tf.zeros((2, 3))
    cases["ones"] = lambda: tf.ones((3,), dtype=tf.int64)
    cases["zeros_like"] = lambda: tf.zeros_like(x)
    cases["ones_like"] = lambda: tf.ones_like(a64)
    cases["identity"] = lambda: tf.identity(x)
    cases["random_normal"] = lambda: tf.random.normal((2, 3), seed=1)
    cases["random_uniform"] = lambda: tf.random.uniform((4,), seed=2)
    cases["random_truncated_normal"] = lambda: tf.random.truncated_normal((3,), seed=3)
    cases["random_shuffle"] = lambda: tf.random.shuffle(x, seed=4)

    # every op row: case 0's inputs, forward; differentiable rows also
    # through a tape to the gradient
    for r in rows():
        attrs, _ = r.case(0)
        kinds = r.kinds(0)
        arrays = r.sample(rng, 0, np.float64)
        xs = [tf.constant(a) for a in arrays]
        fn = r.fn
        cases["op:" + r.name] = (lambda fn=fn, xs=xs, attrs=attrs:
                                 fn(*xs, **attrs))
        if r.has("nondiff") or "f" not in kinds:
            continue
        fxs = [t for t, k in zip(xs, kinds) if k == "f"]

        def grad(fn=fn, xs=xs, fxs=fxs, attrs=attrs):
            with tf.GradientTape() as tape:
                tape.watch(fxs)
                y = fn(*xs, **attrs)
            return tape.gradient(y, fxs)
        cases["grad:" + r.name] = grad

    # tapes
    @case("tape_lifecycle")
    def _():
        t = tf.GradientTape()
        t.__enter__()
        try:                  # as a with block does: exit even on errors
            t.watch(x)
            y = x * x
        finally:
            t.__exit__(None, None, None)
        return t.gradient(y, x)

    @case("tape_with_block")
    def _():
        with tf.GradientTape() as t:
            t.watch(x)
            y = tf.reduce_sum(tf.math.sin(x) * x)
        return t.gradient(y, x)

    @case("tape_persistent_two_gradients")
    def _():
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            y = tf.math.exp(x) * x
            z = tf.reduce_sum(y * y)
        g1 = t.gradient(z, x)
        g2 = t.gradient([y, z], [x])
        del t
        return g1, g2

    @case("tape_nested_second_order")
    def _():
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                y = v * v * v
            g = inner.gradient(y, v)
        return g, outer.gradient(g, v)

    @case("tape_structures_and_options")
    def _():
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            y = {"a": x * 2.0, "b": [tf.reduce_sum(x), x - 1.0]}
        g = t.gradient(y, {"x": x, "v": v}, unconnected_gradients="zero")
        h = t.gradient(y, [x], output_gradients={"a": None, "b": [3.0, x]})
        return g, h, t.watched_variables()

    @case("tape_stop_recording_and_reset")
    def _():
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            with t.stop_recording():
                a = x * x
            b = x * 3.0
            t.reset()
            t.watch(x)
            c = x * x * v[0, 0]
        return t.gradient([a, b, c], [x, v])

    @tf.custom_gradient
    def scaled(z):
        def grad(dy, variables=None):
            return dy * v[0, 0], [tf.reduce_sum(dy) * tf.ones_like(v)]
        return z * v[0, 0], grad

    @case("custom_gradient_second_order")
    def _():
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.reduce_sum(scaled(x * x))
            g = inner.gradient(y, [x, v])
        return g, outer.gradient(g[0], x)

    @case("tape_gradient_inside_context")
    def _():
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            y = x * x
            g = t.gradient(y, x)
        return g

    @case("tape_variable_autowatch")
    def _():
        with tf.GradientTape(watch_accessed_variables=True) as t:
            y = tf.reduce_sum(tf.matmul(v, v))
        return t.gradient(y, v), t.watched_variables()

    # jacobians: one batched sweep, the looping path, per-example
    @case("jacobian")
    def _():
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            y = tf.tanh(tf.matmul(x, x, transpose_b=True)) * 2.0
        return (t.jacobian(y, [x, v]),
                t.jacobian(y, x, experimental_use_pfor=False,
                           unconnected_gradients="zero"))

    @case("batch_jacobian")
    def _():
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            y = tf.sin(x) * x
        return (t.batch_jacobian(y, x),
                t.batch_jacobian(y, x, experimental_use_pfor=False))

    # forward mode: nested accumulators, forward over backward.  (No
    # reduction with an axis here: reduce_sum(x, axis=0) run twice leaks a
    # block when an allocation fails in the second call, with or without
    # forward mode, on the build before it too; see the closing note of
    # issue 10.)
    @case("forward_accumulator")
    def _():
        with tf.autodiff.ForwardAccumulator(x, tf.ones_like(x)) as outer:
            with tf.autodiff.ForwardAccumulator(x, x) as inner:
                y = tf.reduce_sum(tf.exp(x) * x)
                z = tf.matmul(x, x, transpose_a=True)
            j = inner.jvp([y, z])
        return j, outer.jvp(j), inner.jvp(x, unconnected_gradients="zero")

    @case("forward_over_backward")
    def _():
        with tf.autodiff.ForwardAccumulator(v, tf.ones_like(v)) as acc:
            with tf.GradientTape() as t:
                y = tf.reduce_sum(v ** 3.0)
            g = t.gradient(y, v)
        return acc.jvp(g)

    # what ported TF code meets: shapes, sliced assignment, ref(),
    # tf.function, layers, control flow, composite ops
    @case("porting_surface")
    def _():
        w = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
        w[0].assign([5.0, 6.0])
        w[1:, ::2].assign_add([[1.0]])
        s = x.shape
        f = tf.function(lambda a: a * 2.0,
                        input_signature=[tf.TensorSpec([None, 3])])
        return (s.as_list(), repr(s), len({w.ref(): 1, w.ref(): 2}),
                w.numpy(), f(x),
                tf.math.unsorted_segment_sum(x, [1, 0], 2),
                tf.tensor_scatter_nd_update(x, [[0, 1]], [7.0]))

    @case("layers_and_control_flow")
    def _():
        layer = tf.keras.layers.Dense(2, activation="relu",
                                      kernel_initializer="ones")
        with tf.GradientTape() as t:
            y = layer(x)
            z = tf.while_loop(lambda i, a: i < 2,
                              lambda i, a: (i + 1, a * 1.5), (0, y))[1]
            m = tf.map_fn(lambda r: tf.reduce_sum(r), z)
        return y, z, m, t.gradient(m, layer.trainable_variables)

    # the Keras pieces a training step runs (fit's own loop, and a Conv2D
    # stack, are too long a case): a layer, a loss class, a metric, the
    # gradient
    @case("keras_loss_metric_step")
    def _():
        dense = tf.keras.layers.Dense(3, kernel_initializer="ones")
        loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(
            from_logits=True)
        acc = tf.keras.metrics.SparseCategoricalAccuracy()
        with tf.GradientTape() as t:
            logits = dense(x)
            loss = loss_fn([1, 2], logits)
        acc.update_state([1, 2], logits)
        return (logits, loss, float(acc.result()),
                t.gradient(loss, dense.trainable_variables))

    # tape.explain's notes (an escape, a no-gradient op, a pause) and the
    # report read from a used-up tape
    @case("tape_explain")
    def _():
        v = tf.Variable(2.0)
        with tf.GradientTape() as t:
            y = v * v
            z = tf.constant(y.numpy()) + tf.round(y) + float(y)
            with t.stop_recording():
                w = v * 3.0
            u = w * y
        g = t.gradient(u, v)
        # operations() and to_dot() name tensors by id, which differs
        # from run to run: compared by what does not
        return (g, t.explain(z, [v, w]), t.explain(u, v),
                [(op.type, op.inputs, op.outputs) for op in t.operations()],
                t.to_dot(u).count("#d62728"))

    # an optimizer step: copy on write and the in-place kernel
    @case("optimizer_adam_step")
    def _():
        w = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
        o = tf.keras.optimizers.Adam(0.1, clipnorm=1.0)
        o.apply_gradients([(tf.constant([[1.0, -1.0], [0.5, 2.0]]), w)])
        return w.numpy(), int(o.iterations)

    # variables
    cases["variable_create"] = lambda: tf.Variable([[1.0, 2.0]], name="v", trainable=True)
    cases["variable_create_ndarray"] = lambda: tf.Variable(a64, dtype=tf.float32)

    @case("variable_assign")
    def _():
        w = tf.Variable([1.0, 2.0])
        w.assign([3.0, 4.0])
        w.assign_add(np.array([1.0, 1.0], np.float32))
        w.assign_sub(tf.constant([0.5, 0.5]))
        return w.read_value(), w.numpy(), w.value()

    # pickles and copies (C __reduce__ / __deepcopy__, the Python rebuilder).
    # Not pickle.dumps itself: pickling a plain NumPy array crashes under
    # set_nomemory without tapegrad (NumPy's / CPython's pickler), so the
    # cases call the reductions and rebuild from them, and unpickle.
    import copy
    import pickle
    x_bytes = pickle.dumps(x)
    v_bytes = pickle.dumps(v)

    @case("reduce_tensor")
    def _():
        fn, args = x.__reduce__()
        return fn(*args)

    @case("reduce_variable")
    def _():
        fn, args = v.__reduce__()
        w = fn(*args)
        return w.numpy(), w.name, w.trainable

    cases["unpickle_tensor"] = lambda: pickle.loads(x_bytes)

    @case("unpickle_variable")
    def _():
        w = pickle.loads(v_bytes)
        return w.numpy(), w.name, w.trainable

    @case("deepcopy_variable")
    def _():
        w = copy.deepcopy(v)
        return w.numpy(), w.name, w.trainable, copy.copy(v) is v

    # DLPack both ways (src/dlpack.c): an export NumPy consumes, TF's
    # capsule round trip, and an import that keeps its producer alive
    @case("dlpack_exchange")
    def _():
        t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        a = np.from_dlpack(t)
        back = tf.experimental.dlpack.from_dlpack(
            tf.experimental.dlpack.to_dlpack(t))
        imported = tf.experimental.dlpack.from_dlpack(np.arange(6.0))
        return a.tolist(), back.numpy(), imported.numpy()

    @case("elementwise_fast_paths")
    def _():
        # issue 15's shortcuts at a size that takes them: pow by 2, 1, -1;
        # reduce_sum's vjp as a view of the shared ones; multiply by known
        # ones; contributions summed in place; the GIL released
        xs = tf.constant(np.linspace(0.5, 2.0, 20000, dtype=np.float32))
        with tf.GradientTape() as t:
            t.watch(xs)
            s = tf.reduce_sum(tf.sin(xs) * xs + xs ** 2 + xs ** -1.0)
        g = t.gradient(s, xs)
        return g.numpy()[:3], (xs ** 1.0).numpy()[:3], tf._tapegrad._fill(
            "a few words to fill " * 8, "  ", "    ")

    @case("cheap_tape_paths")
    def _():
        # issue 15's per-op shortcuts: the id map's window, inline hash and
        # its growth past both; rank-0 arithmetic, cached float constants,
        # scalar gradients summed in place, a keepdims reduction's vjp
        puts = [(7, -1)] + [(10 ** 6 + i, i) for i in range(300)]
        puts += [(10 ** 9 + 37 * i, 1) for i in range(40)]
        found = tf._tapegrad._idmap_replay(puts, [7, 10 ** 6 + 5, 3])
        s0 = tf.constant(0.5, dtype=tf.float64)
        with tf.GradientTape() as t:
            t.watch(s0)
            y = s0
            for _ in range(20):
                y = y * s0 + 1.0
            r = tf.reduce_sum(tf.reshape(y, [1, 1]) * 2.0, keepdims=True)
        return found, t.gradient(r, s0).numpy()

    @case("scalar_and_fused_sweeps")
    def _():
        # this session's sweep shortcuts: rank-0 arithmetic on C floats
        # with unboxed gradients (boxed again for sin, for a caller's
        # output gradient and for the results), a gradient table past its
        # 16 inline slots, a source inside the chain; sin's and cos's
        # chunked vjps over several chunks
        s0 = tf.constant(0.5)
        v = tf.constant(np.linspace(-2, 2, 3000, dtype=np.float32))
        with tf.GradientTape(persistent=True) as t:
            t.watch([s0, v])
            y = s0 * s0
            mid = y
            for k in range(24):
                y = y * s0 + 1.0 / (s0 + 2.0) - 0.5
                if k == 12:
                    y = tf.math.sin(y)
            w = tf.reduce_sum(tf.math.sin(v) * tf.math.cos(v))
        g = t.gradient([y, s0], [s0, mid],
                       output_gradients=[tf.constant(2.0), tf.constant(1.0)])
        return [x.numpy() for x in g], t.gradient(w, v).numpy()

    @case("gradient_terms")
    def _():
        # gradients kept as terms (sweep.c, pending): pow's scaled terms,
        # more contributions than wait at once, the terms summed by a
        # fused rule (sin) and by another rule's vjp (exp), the result
        v = tf.constant(np.linspace(0.5, 2, 4096, dtype=np.float32))
        with tf.GradientTape() as t:
            t.watch(v)
            a = tf.math.sin(v) * v + v ** 2
            c = tf.exp(v * v + v ** 2 + v ** 3 + v + v * 0.5)
            y = tf.reduce_sum(a + c)
        return t.gradient(y, v).numpy()

    big_block = tf.constant(np.linspace(-1, 1, 1 << 17, dtype=np.float32))

    @case("elided_operators")
    def _():
        # temporary elision (tensor.c): results computed in a temporary
        # operand's block, outside and inside a tape
        r = tf.math.sin(big_block) * 2.0 + big_block - 1.0
        with tf.GradientTape() as t:
            t.watch(big_block)
            y = tf.reduce_sum(tf.math.exp(big_block) + big_block * 3.0)
        return r, t.gradient(y, big_block)

    # printing, conversion, indexing, operators
    cases["repr_tensor"] = lambda: repr(x)
    cases["str_tensor"] = lambda: str(x)
    cases["repr_scalar"] = lambda: repr(tf.constant(0.1))
    cases["str_big_tensor"] = lambda: str(big)
    cases["repr_variable"] = lambda: repr(v)
    cases["str_dtype"] = lambda: (repr(tf.float32), str(tf.int64))
    cases["numpy"] = lambda: x.numpy()
    cases["asarray"] = lambda: np.asarray(x, dtype=np.float64)
    cases["scalar_conversions"] = lambda: (float(x[0, 0]), int(tf.constant(3)),
                                           bool(tf.constant(True)))
    cases["len_iter"] = lambda: (len(x), list(x))
    cases["getitem"] = lambda: (x[1:, ::-1], x[None, 0], x[..., 1], x[-1])
    cases["operators"] = lambda: (x + 1.0, 2.0 * x, x - x, x / 2.0, x ** 2,
                                  x @ tf.transpose(x), -x, abs(x), x // 1.0,
                                  x % 2.0, x < 0.5, x == x)
    cases["bool_operators"] = lambda: (~tf.constant([True, False]),
                                       tf.constant([True]) & tf.constant([False]),
                                       tf.constant([True]) | tf.constant([False]))
    # (tf.test.compute_gradient is left out: pure Python over these entry
    # points, and its thousands of allocation points take many minutes)
    cases["live_counts"] = lambda: C._live_counts()

    # checkpoints (tapegrad.train): an atomic .npz write, a checked read,
    # a manager's numbered save with its deletion and state file.  Files
    # go to a directory of this child's, removed when it exits.
    import atexit
    import shutil
    import tempfile
    ckdir = tempfile.mkdtemp(prefix="tapegrad-nomemory-")
    atexit.register(shutil.rmtree, ckdir, True)
    ck_path = os.path.join(ckdir, "c.npz")
    src_ckpt = tf.train.Checkpoint(v=v)
    src_ckpt.write(ck_path)
    dst_v = tf.Variable(tf.zeros_like(v))
    dst_ckpt = tf.train.Checkpoint(v=dst_v)
    zeros = tf.zeros_like(v)
    cases["checkpoint_write"] = lambda: os.path.basename(
        src_ckpt.write(os.path.join(ckdir, "w.npz")))

    @case("checkpoint_read")
    def _():
        dst_v.assign(zeros)
        dst_ckpt.read(ck_path).assert_consumed()
        return dst_v.numpy()

    mgr_ckpt = tf.train.Checkpoint(v=v)
    mgr_dir = os.path.join(ckdir, "m")

    @case("checkpoint_manager_save")
    def _():
        # a new manager each time: it resumes from the directory's index
        manager = tf.train.CheckpointManager(mgr_ckpt, mgr_dir, 1)
        path = manager.save()
        return (len(manager.checkpoints), path == manager.latest_checkpoint,
                tf.train.latest_checkpoint(mgr_dir) == path)
    return cases


# ---- results ------------------------------------------------------------------------
def _normalize(r):
    """A comparable form of a result: tensors and arrays by dtype, shape and
    bytes (NaN-safe), containers recursively."""
    import numpy as np

    import tapegrad as tf
    if isinstance(r, (tf.Tensor, tf.Variable)):
        a = np.asarray(r.numpy())
        return ("T", str(a.dtype), a.shape, a.tobytes())
    if isinstance(r, np.ndarray) or isinstance(r, np.generic):
        a = np.asarray(r)
        return ("A", str(a.dtype), a.shape, a.tobytes())
    if isinstance(r, (list, tuple)):
        return (type(r).__name__, tuple(_normalize(e) for e in r))
    if isinstance(r, dict):
        return ("D", tuple((k, _normalize(r[k])) for k in sorted(r)))
    if r is None or isinstance(r, (str, int, float, bool)):
        return r
    return ("repr", type(r).__name__)


# ---- the child: sweeps in this process ----------------------------------------------
def _attempt(f, start, stop, set_nomemory, remove):
    # a function: its variables are fast locals, so nothing here allocates
    # between set_nomemory and remove_mem_hooks but the call itself
    r = e = None
    set_nomemory(start, stop)
    try:
        r = f()
    except BaseException as exc:
        remove()
        e = exc
    else:
        remove()
    return r, e


def _known_error(e):
    """The KNOWN_ERRORS reason that matches exception `e`, or None."""
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = tb.tb_frame.f_code.co_filename if tb is not None else ""
    for kind, path, pattern, why in KNOWN_ERRORS:
        if (type(e) is kind and (path is None or where.endswith(path))
                and pattern.search(str(e))):
            return why
    return None


def _sweep(name, f, mode, limit, expected, live, marks):
    import _testcapi
    set_nomemory, remove = _testcapi.set_nomemory, _testcapi.remove_mem_hooks
    outcomes = {}
    problems = []
    known_errors = {}
    leaky = set()
    points = 0
    ok_run = 0
    start = 0
    while start < MAX_POINTS:
        if mode == "single" and start >= limit:
            break
        _settle()
        base = live()
        blocks = sys.getallocatedblocks()
        os.write(2, marks[start] if start < len(marks)
                 else ("START %d\n" % start).encode())
        r, e = _attempt(f, start, _stop(name, mode, start),
                        set_nomemory, remove)
        same = None
        if e is None:
            try:
                same = _normalize(r) == expected
            except Exception as exc:       # noqa: BLE001 (reported)
                same = exc
        kind = "ok" if e is None else type(e).__name__
        err = None if e is None or isinstance(e, MemoryError) else str(e)[:200]
        why = None if err is None else _known_error(e)
        r = e = None
        _settle()
        grew = sys.getallocatedblocks() > blocks
        after = live()
        # bookkeeping only after the measurement
        points = start + 1
        outcomes[kind] = outcomes.get(kind, 0) + 1
        if same is not None and same is not True:
            problems.append("start %d: success with a %s" % (
                start, "wrong result" if same is False
                else "result that cannot be read: %r" % (same,)))
        if why is not None:
            known_errors[why] = known_errors.get(why, 0) + 1
        elif err is not None:
            problems.append("start %d: %s: %s" % (start, kind, err))
        if after != base:
            problems.append("start %d: live objects %r -> %r" % (start, base, after))
        if grew:
            leaky.add(start)
        ok_run = ok_run + 1 if kind == "ok" else 0
        if mode == "from" and ok_run >= 3:
            break
        start += 1
    return {"points": points, "outcomes": outcomes, "problems": problems,
            "leaky": leaky, "cut": start >= MAX_POINTS,
            "known_errors": known_errors}


def _stop(name, mode, start):
    """set_nomemory's stop: 0 (never) in 'from' mode, but after
    FROM_WINDOW failures for WINDOWED_CASES; start + 1 in 'single'."""
    if mode != "from":
        return start + 1
    return start + FROM_WINDOW if name in WINDOWED_CASES else 0


def _settle():
    """Collect, and empty tapegrad's caches (the free list of small tensor
    objects, the data block cache, cached constants and attributes).  Every
    attempt starts from the same empty caches, so allocation number `start`
    is the same allocation on every call (with a warm free list, a call
    that fails early leaves it fuller, the next call takes more objects
    from it and allocates less, and 20 'identical' failing calls each fail
    a different allocation), and the blocks counted before and after an
    attempt are the case's own, not a cache's fill."""
    gc.collect()
    from tapegrad import _tapegrad as C
    C._release_blocks()


def _failing_calls(f, start, stop, n, measure):
    """measure() after one warm-up call failing at `start` and after n more,
    each from settled caches: (before, after)."""
    import _testcapi
    args = (start, stop, _testcapi.set_nomemory, _testcapi.remove_mem_hooks)
    _settle()
    _attempt(f, *args)
    _settle()
    before = measure()
    for _ in range(n):
        _attempt(f, *args)
        _settle()
    return before, measure()


def _repeat(f, start, stop, n):
    before, after = _failing_calls(f, start, stop, n, sys.getallocatedblocks)
    return after - before


def _leak_sites(f, start, stop, n=20):
    """Where the blocks a leaking start leaves behind were allocated: the
    Python-level tracebacks (tracemalloc sits under set_nomemory's hooks,
    so the failing allocation is still number `start`) of the sites that
    grew by at least n blocks over n failing calls."""
    import tracemalloc
    tracemalloc.start(12)
    try:
        before, after = _failing_calls(f, start, stop, n,
                                       tracemalloc.take_snapshot)
    finally:
        tracemalloc.stop()
    sites = []
    for stat in after.compare_to(before, "traceback"):
        if stat.count_diff >= n:
            frames = list(stat.traceback)[-4:]      # innermost last
            sites.append("%d blocks from %s" % (stat.count_diff, " <- ".join(
                "%s:%d" % (os.path.basename(fr.filename), fr.lineno)
                for fr in reversed(frames))))
    return sites[:3]


def _build_from(s, items):
    if isinstance(s, (list, tuple)):
        return type(s)(_build_from(x, items) for x in s)
    return next(items)


def _interpreter_leaks_calls():
    """Does this interpreter leak a Python call's arguments when one
    allocation fails during the call?  Plain Python objects, no tapegrad."""
    import _testcapi
    live = [0]

    class Probe:
        def __init__(self):
            live[0] += 1

        def __del__(self):
            live[0] -= 1

    def call(flat):
        return _build_from(None, iter(flat))

    for start in range(40):
        flat = (Probe(),)
        _attempt(lambda: call(flat), start, start + 1,
                 _testcapi.set_nomemory, _testcapi.remove_mem_hooks)
        del flat
        gc.collect()
        if live[0]:
            return True
    return False


def child(names, modes, passes):
    import _testcapi  # noqa: F401 (fail early)

    from tapegrad import _tapegrad as C
    cases = _cases()

    def live():
        return dict(C._live_counts())

    marks = [("START %d\n" % i).encode() for i in range(MAX_POINTS)]
    py_leaks = (_interpreter_leaks_calls()
                if PYTHON_LEVEL_CASES.intersection(names) else False)
    for name in names:
        f = cases[name]
        os.write(2, ("CASE %s\n" % name).encode())
        for _ in range(3):
            r = f()
        expected = _normalize(r)
        r = None
        gc.collect()
        gc.freeze()                  # collections walk only the case's objects
        result = {"name": name}
        limit = 0
        for mode in modes:
            if mode == "single" and not limit:
                limit = _sweep(name, f, "from", 0, expected, live, marks)["points"]
            os.write(2, ("MODE %s\n" % mode).encode())
            runs = [_sweep(name, f, mode, limit, expected, live, marks)
                    for _ in range(passes)]
            res = runs[-1]
            if mode == "from":
                limit = res["points"]
            leaky = set.intersection(*(r_["leaky"] for r_ in runs))
            problems = sorted(set(p for r_ in runs for p in r_["problems"]))
            confirmed = {}
            for start in sorted(leaky)[:50]:
                # confirm: the same failing call 20 more times must leave
                # at least 20 more blocks (one-off noise does not)
                grown = _repeat(f, start, _stop(name, mode, start), 20)
                if grown >= 20:
                    confirmed[start] = grown
            if confirmed:
                first = min(confirmed)
                sites = _leak_sites(f, first, _stop(name, mode, first))
                problems.append("leak: 20 calls failing at start N left D more "
                                "allocated blocks, {N: D} = %r%s" % (
                                    confirmed, "".join(
                                        "\n      start %d: %s" % (first, site)
                                        for site in sites)))
            known = []
            if py_leaks and name in PYTHON_LEVEL_CASES:
                known = [p for p in problems
                         if p.startswith("leak:") or "live objects" in p]
                problems = [p for p in problems if p not in known]
            result[mode] = {"points": res["points"], "outcomes": res["outcomes"],
                            "problems": problems, "known": len(known),
                            "cut": res["cut"],
                            "known_errors": res["known_errors"]}
        gc.unfreeze()
        print(json.dumps(result), flush=True)


# ---- the parent -----------------------------------------------------------------------
def run_batch(names, modes, passes, timeout):
    """Run `names` in child processes; a crash is recorded and the rest of
    the batch continues in a new child."""
    results = []
    todo = list(names)
    while todo:
        p = subprocess.run(
            [sys.executable, "-X", "faulthandler", os.path.abspath(__file__),
             "--child", "--mode", ",".join(modes), "--passes", str(passes),
             "--cases", json.dumps(todo)],
            capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        done = [json.loads(ln) for ln in p.stdout.splitlines() if ln.startswith("{")]
        results += done
        finished = {d["name"] for d in done}
        todo = [n for n in todo if n not in finished]
        if p.returncode == 0 and not todo:
            break
        # the child died: blame the case and start it was in
        case = start = mode = None
        for ln in p.stderr.splitlines():
            if ln.startswith("CASE "):
                case, start, mode = ln[5:], None, None
            elif ln.startswith("MODE "):
                mode = ln[5:]
            elif ln.startswith("START "):
                start = int(ln[6:])
        if case is None or case not in todo:
            case = todo[0]
        tail = [ln for ln in p.stderr.splitlines()
                if not ln.startswith(("CASE ", "MODE ", "START "))]
        # the crashing thread's stack (faulthandler's dump), not a
        # traceback printed earlier (an ignored exception's)
        dump = tail
        for i, ln in enumerate(tail):
            if "most recent call first" in ln:
                dump = tail[i:]
        frames = [ln for ln in dump if ln.strip().startswith("File ")]
        known = None
        for path, why in KNOWN_CRASHES.items():
            if frames and path in frames[0]:
                known = why
        results.append({"name": case, "crash": {
            "returncode": p.returncode, "mode": mode, "start": start,
            "known": known, "stderr": "\n".join(tail[-25:])}})
        todo.remove(case)
    return results


def report(results, elapsed):
    bad = known_crashes = known_leaks = 0
    total_points = 0
    print("%-44s %-6s %7s %7s %7s  %s" % ("case", "mode", "points", "ok",
                                          "MemErr", "problems"))
    for r in results:
        if "crash" in r:
            c = r["crash"]
            if c.get("known"):
                print("%-44s crash in mode %s at start %s (sweep stopped): %s"
                      % (r["name"], c["mode"], c["start"], c["known"]))
                known_crashes += 1
                continue
            bad += 1
            print("%-44s CRASH (exit %s) in mode %s at start %s\n    %s" % (
                r["name"], c["returncode"], c["mode"], c["start"],
                c["stderr"].replace("\n", "\n    ")))
            continue
        for mode in ("from", "single"):
            if mode not in r:
                continue
            m = r[mode]
            total_points += m["points"]
            o = m["outcomes"]
            print("%-44s %-6s %7d %7d %7d  %s%s" % (
                r["name"], mode, m["points"], o.get("ok", 0),
                o.get("MemoryError", 0), len(m["problems"]) or "",
                " (cut off at %d points)" % MAX_POINTS if m.get("cut") else ""))
            for prob in m["problems"][:10]:
                print("    " + prob)
            if m.get("known"):
                print("    %d leak reports, %s" % (m["known"], KNOWN_PY_LEAK))
                known_leaks += 1
            for why, n in sorted(m.get("known_errors", {}).items()):
                print("    %d exceptions, %s" % (n, why))
            if m["problems"]:
                bad += 1
    print("\n%d cases, %d allocation points tried (per pass), %d with "
          "problems, %d known CPython crashes, %d sweeps with known CPython "
          "leaks, %.0f s" % (len(results), total_points, bad, known_crashes,
                             known_leaks, elapsed))
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", action="append", default=[],
                    help="run the cases whose name contains this (repeatable)")
    ap.add_argument("--mode", default="from,single",
                    help="from, single or both (from,single)")
    ap.add_argument("--passes", type=int, default=2,
                    help="sweeps per case and mode (leak check needs 2)")
    ap.add_argument("--batch", type=int, default=25, help="cases per child")
    ap.add_argument("--timeout", type=int, default=1800,
                    help="seconds per child process")
    ap.add_argument("--quick", action="store_true",
                    help="a subset of cases, single mode, one pass")
    ap.add_argument("--list", action="store_true", help="list the cases")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cases", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    modes = [m for m in args.mode.split(",") if m]
    if args.child:
        child(json.loads(args.cases), modes, args.passes)
        return 0
    try:
        import _testcapi
        _testcapi.set_nomemory, _testcapi.remove_mem_hooks  # noqa: B018
    except (ImportError, AttributeError):
        print("This Python has no _testcapi.set_nomemory.  Use a CPython "
              "built with its test modules: pyenv and python.org builds "
              "have them, and Debian's python3.11 (libpython3.11-stdlib).",
              file=sys.stderr)
        return 2
    names = list(_cases())
    if args.quick:
        names, modes, args.passes = QUICK, ["single"], 1
    if args.k:
        names = [n for n in names if any(k in n for k in args.k)]
    if args.list:
        print("\n".join(names))
        return 0
    t0 = time.time()
    results = []
    for i in range(0, len(names), args.batch):
        batch = names[i:i + args.batch]
        print("... %d/%d: %s .. %s" % (i, len(names), batch[0], batch[-1]),
              file=sys.stderr, flush=True)
        results += run_batch(batch, modes, args.passes, args.timeout)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 1 if report(results, time.time() - t0) else 0


if __name__ == "__main__":
    sys.exit(main())
