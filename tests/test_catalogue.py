"""Regressions from the reliability plan's bug catalogue (section 4.6, G1)
that the other files do not cover:

* every public op row fed NumPy inputs in unusual layouts -- byte-swapped,
  unaligned (a view one byte into a uint8 buffer), read-only, negative
  strides, non-contiguous -- gives exactly what it gives on contiguous
  copies, forward and (differentiable rows) backward, with the cotangent
  passed through output_gradients in the same layout;
* constructors and shape-taking ops given more than 32 dims, negative dims
  or shapes whose size overflows raise ValueError (or InvalidArgumentError,
  a ValueError) with a message (pad and matmul results that overflow are in
  test_errors.py);
* output_gradients of the wrong count, shape or dtype, and None inside a
  nested structure;
* NaN and inf through every elementwise unary row, against its reference;
* exceptions (KeyboardInterrupt too) raised by Python code that runs in the
  middle of a sweep, in a child process.
Zero-size tensors through every row are in test_ops_table.py
(test_zero_size_inputs); a tape used after exit and a non-persistent tape
reused are in test_tape.py; the 1e6-op chain and interpreter shutdown are in
test_soak.py.
"""
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import tapegrad as tf
from optable import rows

IAE = tf.errors.InvalidArgumentError
PUBLIC = [r for r in rows() if r.api]

pytestmark = pytest.mark.filterwarnings("ignore:The dtype of the watched tensor")


# ---- layouts ---------------------------------------------------------------------
def _byteswapped(a):
    if a.dtype.itemsize == 1:
        return None
    b = a.astype(a.dtype.newbyteorder())
    assert not b.dtype.isnative
    return b


def _unaligned(a):
    if a.dtype.itemsize == 1 or a.size == 0:
        return None
    buf = np.zeros(a.nbytes + 1, np.uint8)
    u = buf[1:].view(a.dtype).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


def _readonly(a):
    b = np.array(a)
    b.flags.writeable = False
    return b


def _negative_strides(a):
    if a.ndim == 0:
        return None
    return np.flip(np.flip(a).copy())


def _non_contiguous(a):
    if a.ndim == 0 or a.size == 0:
        return None
    big = np.zeros(tuple(2 * n for n in a.shape), a.dtype)
    every_other = tuple(slice(None, None, 2) for _ in a.shape)
    big[every_other] = a
    return big[every_other]


LAYOUTS = {"byteswapped": _byteswapped, "unaligned": _unaligned,
           "readonly": _readonly, "negative_strides": _negative_strides,
           "non_contiguous": _non_contiguous}


def _relayout(arrays, how):
    """The arrays in layout `how` (same values), or None if no input can
    take it."""
    out = [LAYOUTS[how](a) for a in arrays]
    if all(o is None for o in out):
        return None
    for o, a in zip(out, arrays):
        if o is not None:
            np.testing.assert_array_equal(o, a)
    return [a if o is None else o for o, a in zip(out, arrays)]


def _forward(row, arrays, attrs):
    f = row.raw_fn
    out = f(list(arrays), **attrs) if row.has("variadic") else f(*arrays, **attrs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(o) for o in outs]


def _backward(row, arrays, attrs, kinds, v, how):
    """Gradients of the row's float inputs, the inputs made with
    tf.constant from `arrays` and the cotangent v passed as a NumPy array
    in layout `how` (None: as it is)."""
    xs = [tf.constant(a) for a in arrays]
    fxs = [x for x, k in zip(xs, kinds) if k == "f"]
    with tf.GradientTape() as tape:
        tape.watch(fxs)
        y = row.fn(*xs, **attrs)
    if how is not None:
        v = (_relayout([v], how) or [v])[0]     # 0-d: not every layout applies
    gs = tape.gradient(y, fxs, output_gradients=v)
    return [None if g is None else g.numpy() for g in gs]


def _assert_same(got, want, what):
    assert len(got) == len(want), what
    for g, w in zip(got, want):
        if w is None or g is None:
            assert g is None and w is None, what
            continue
        assert g.dtype == w.dtype and g.shape == w.shape, (what, g.dtype, w.dtype)
        np.testing.assert_array_equal(g, w, err_msg=what)   # NaNs compare equal


def _layout_runs(row):
    runs = [(i, np.float64) for i in range(len(row.cases))]
    if "f" in row.kinds(0):
        runs.append((0, np.float32))          # '>f4' and friends
    return runs


@pytest.mark.parametrize("row", PUBLIC, ids=[r.name for r in PUBLIC])
def test_unusual_numpy_layouts_give_the_contiguous_result(row, rng):
    for case, dtype in _layout_runs(row):
        attrs, _ = row.case(case)
        kinds = row.kinds(case)
        arrays = row.sample(rng, case, dtype)
        want = _forward(row, arrays, attrs)
        diff = not row.has("nondiff") and "f" in kinds
        if diff:
            y = row.fn(*[tf.constant(a) for a in arrays], **attrs)
            v = rng.standard_normal(y.shape).astype(y.numpy().dtype)
            want_g = _backward(row, arrays, attrs, kinds, v, None)
        for how in LAYOUTS:
            weird = _relayout(arrays, how)
            if weird is None:
                continue
            what = "%s case %d %s %s" % (row.name, case, np.dtype(dtype).name, how)
            _assert_same(_forward(row, weird, attrs), want, what + " forward")
            if diff:
                _assert_same(_backward(row, weird, attrs, kinds, v, how), want_g,
                             what + " gradient")


def test_unusual_layouts_into_variables_and_assign():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    for how, f in LAYOUTS.items():
        w = f(a)
        v = tf.Variable(w)
        np.testing.assert_array_equal(v.numpy(), a, err_msg=how)
        v.assign(f(a * 2))
        np.testing.assert_array_equal(v.numpy(), a * 2, err_msg=how)
        v.assign_add(w)
        np.testing.assert_array_equal(v.numpy(), a * 3, err_msg=how)
        assert v.numpy().flags.c_contiguous and v.numpy().dtype.isnative


# ---- dims: too many, negative, overflowing ---------------------------------------------
DIMS33 = (1,) * 33
HUGE = [(2 ** 32, 2 ** 32), (2 ** 62, 4), (4, 2 ** 62)]

SHAPE_TAKERS = {
    "zeros": lambda s: tf.zeros(s),
    "ones": lambda s: tf.ones(s, dtype=tf.int32),
    "fill": lambda s: tf.fill(s, 1.0),
    "constant": lambda s: tf.constant(1.0, shape=s),
    "reshape": lambda s: tf.reshape(tf.zeros((0,)), s),
    "broadcast_to": lambda s: tf.broadcast_to(tf.constant(1.0), s),
    "tile": lambda s: tf.tile(tf.zeros((1,) * len(s)), s),
    "random.normal": lambda s: tf.random.normal(s),
    "random.uniform": lambda s: tf.random.uniform(s),
    "random.truncated_normal": lambda s: tf.random.truncated_normal(s),
    "eye": lambda s: tf.eye(2, batch_shape=s),
    "zeros_like": lambda s: tf.zeros_like(np.zeros(s)),
}


def _value_error(f, *args):
    with pytest.raises(ValueError) as ei:
        f(*args)
    assert str(ei.value).strip(), "empty message from %r" % (f,)
    return str(ei.value)


@pytest.mark.parametrize("name", sorted(SHAPE_TAKERS))
def test_more_than_32_dims_is_a_value_error(name):
    msg = _value_error(SHAPE_TAKERS[name], DIMS33)
    assert "32" in msg or "dimension" in msg.lower(), msg


@pytest.mark.parametrize("name", sorted(set(SHAPE_TAKERS) - {"tile", "zeros_like"}))
@pytest.mark.parametrize("shape", [(-1,), (2, -3), (0, -1)], ids=str)
def test_negative_dims_are_a_value_error(name, shape):
    if name == "reshape" and shape == (-1,):
        return                       # -1 is reshape's "infer this dim"
    msg = _value_error(SHAPE_TAKERS[name], shape)
    assert "-" in msg, msg


def test_negative_multiples_and_inferred_dims():
    msg = _value_error(tf.tile, tf.zeros((2, 2)), (1, -2))
    assert "-2" in msg
    msg = _value_error(tf.reshape, tf.zeros((6,)), (-1, -1))
    assert "-1" in msg
    msg = _value_error(tf.reshape, tf.zeros((6,)), (-2, 3))
    assert "-2" in msg
    msg = _value_error(tf.pad, tf.zeros((2,)), [[-1, 0]])
    assert "-1" in msg


@pytest.mark.parametrize("name", sorted(set(SHAPE_TAKERS) - {"zeros_like"}))
@pytest.mark.parametrize("shape", HUGE, ids=str)
def test_overflowing_shapes_are_a_value_error(name, shape):
    try:
        SHAPE_TAKERS[name](shape)
    except (ValueError, MemoryError) as e:
        assert isinstance(e, ValueError) or name == "zeros_like", repr(e)
        assert str(e).strip()
    else:
        pytest.fail("%s%r did not raise" % (name, shape))


# ---- output_gradients --------------------------------------------------------------------
def _three_targets():
    x = tf.constant([1.0, 2.0, 3.0])
    t = tf.GradientTape(persistent=True)
    with t:
        t.watch(x)
        y0 = tf.reduce_sum(x * 2.0)
        y1 = x * x
        y2 = x * 3.0
    return t, x, y0, y1, y2


def test_output_gradients_count_in_nested_structures():
    t, x, y0, y1, y2 = _three_targets()
    for og in ([1.0, 1.0], [1.0, [None, None, None]], {"a": 1.0}, [[1.0]] * 4):
        with pytest.raises(ValueError, match="output_gradients") as ei:
            t.gradient([y0, (y1, y2)], x, output_gradients=og)
        assert "3 targets" in str(ei.value), str(ei.value)
    # the tape is still usable after each error
    np.testing.assert_allclose(t.gradient([y0, (y1, y2)], x).numpy(),
                               [2 + 2 + 3, 2 + 4 + 3, 2 + 6 + 3])


def test_none_inside_output_gradient_structures_means_ones():
    t, x, y0, y1, y2 = _three_targets()
    v = np.array([10.0, 20.0, 30.0], np.float32)
    g = t.gradient([y0, (y1, y2)], x, output_gradients=[None, (v, None)])
    np.testing.assert_allclose(g.numpy(), 2 + 2 * np.array([1, 2, 3]) * v + 3)
    g = t.gradient({"a": y0, "b": [y1, y2]}, x,
                   output_gradients={"a": 5.0, "b": [None, v]})
    np.testing.assert_allclose(g.numpy(), 10 + 2 * np.array([1, 2, 3]) + 3 * v)
    g = t.gradient([y0, y1, y2], x, output_gradients=[None, None, None])
    np.testing.assert_allclose(g.numpy(), t.gradient([y0, y1, y2], x).numpy())


@pytest.mark.parametrize("bad", [
    np.ones((1, 3), np.float32), np.ones((), np.float32), np.ones((3, 1), np.float32),
    np.ones((0,), np.float32), np.ones((6,), np.float32)[::2][:2]],
    ids=["(1,3)", "()", "(3,1)", "(0,)", "strided(2,)"])
def test_output_gradient_of_another_shape_is_a_value_error(bad):
    t, x, y0, y1, y2 = _three_targets()
    with pytest.raises(ValueError) as ei:
        t.gradient(y1, x, output_gradients=bad)
    msg = str(ei.value)
    assert "(3,)" in msg and str(tuple(bad.shape)) in msg, msg


@pytest.mark.parametrize("bad", [
    tf.constant([1, 2, 3]), tf.constant([True, False, True]),
    tf.constant(np.ones(3)), np.array([1.0, 2.0, 3.0], np.float16).astype("M8[s]"),
    np.array(["a", "b", "c"]), [1.0, "x", 2.0], np.array([1 + 1j] * 3), object(),
    "abc"],
    ids=["int32", "bool", "float64", "datetime-array", "str-array", "mixed-list",
         "complex-array", "object", "str"])
def test_output_gradient_of_another_dtype_is_an_error(bad):
    t, x, y0, y1, y2 = _three_targets()
    with pytest.raises((TypeError, ValueError)) as ei:
        t.gradient(y1, x, output_gradients=bad)
    assert str(ei.value)
    assert t.gradient(y1, x) is not None


def test_output_gradients_as_python_or_numpy_values_take_the_target_dtype():
    # like tf.convert_to_tensor(og, dtype=target.dtype): Python numbers,
    # lists and NumPy arrays (an int64 or float64 array too) convert; only
    # a tensor of another dtype is an error (above)
    t, x, y0, y1, y2 = _three_targets()
    # (lists are structures, flattened to one entry per target as in TF)
    for og in (np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0]),
               [np.array([1, 2, 3], np.int32)], (np.array([1, 2, 3]),)):
        g = t.gradient(y1, x, output_gradients=og)
        assert g.dtype == tf.float32
        np.testing.assert_array_equal(g.numpy(), [2.0, 8.0, 18.0])


# ---- NaN and inf -----------------------------------------------------------------------
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5,
                    3.0, -3.0, 1e30, -1e30, 1e-30, 88.0, -88.0, 710.0, -710.0])


def _elementwise_unary(r):
    if r.nin != 1 or r.kinds(0) != ["f"] or r.case(0)[0]:
        return False
    try:
        with np.errstate(all="ignore"):
            return (r.reference([np.ones((2, 3))], {}).shape == (2, 3)
                    and r.reference([np.ones((5,))], {}).shape == (5,))
    except Exception:
        return False


UNARY = [r for r in PUBLIC if _elementwise_unary(r)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row", UNARY, ids=[r.name for r in UNARY])
def test_nan_and_inf_through_unary_rows(row, dtype):
    with np.errstate(all="ignore"):
        x = SPECIAL.astype(dtype)
        want = row.reference([x], {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # TF never warns here
        got = row.fn(tf.constant(x)).numpy()
    assert got.shape == want.shape
    nan_got, nan_want = np.isnan(got), np.isnan(want)
    assert (nan_got == nan_want).all(), (
        "%s: NaN at %s, the reference has NaN at %s (input %s)"
        % (row.name, x[nan_got], x[nan_want], x))
    ok = ~nan_want
    np.testing.assert_array_equal(np.isinf(got[ok]), np.isinf(want[ok]),
                                  err_msg="%s: inf positions" % row.name)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got[ok], want[ok].astype(dtype), rtol=tol,
                                   atol=tol, err_msg=row.name)


@pytest.mark.parametrize("row", [r for r in UNARY if not r.has("nondiff")],
                         ids=[r.name for r in UNARY if not r.has("nondiff")])
def test_gradients_at_nan_and_inf_do_not_warn_or_raise(row):
    x = tf.constant(SPECIAL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with tf.GradientTape() as t:
            t.watch(x)
            y = row.fn(x)
        g = t.gradient(y, x)
    assert g.shape == x.shape
    # NaN in, NaN out: the gradient at a NaN input is NaN unless the row's
    # derivative does not depend on its input (linear rows, sort's
    # permutation) or is piecewise constant (relu's 0 past the kink)
    assert (np.isnan(g.numpy()[0]) or row.has("kink") or row.has("linear")
            or row.name == "sort"), (row.name, g.numpy()[0])


EXTREMES = [1e30, -1e30, np.nan, np.inf, -np.inf, 7e4, -7e4, 0.0]
ORDINARY = (TypeError, ValueError, IndexError, LookupError, OverflowError)


@pytest.mark.parametrize("row", PUBLIC, ids=[r.name for r in PUBLIC])
def test_no_row_warns_on_extreme_values(row, rng):
    """Values past float16's range, NaN and inf in every float input, in
    every float dtype, forward and backward: an ordinary error (a matrix
    that is not invertible) is fine, a RuntimeWarning from NumPy is not --
    TF does not warn."""
    for case in range(len(row.cases)):
        attrs, _ = row.case(case)
        kinds = row.kinds(case)
        if "f" not in kinds:
            continue
        for dtype in (np.float16, np.float32, np.float64):
            arrays = row.sample(rng, case, dtype)
            for a, k in zip(arrays, kinds):
                if k == "f" and a.size:
                    with np.errstate(all="ignore"):
                        flat = a.reshape(-1)
                        flat[:len(EXTREMES)] = np.array(EXTREMES)[:flat.size]
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                try:
                    _backward(row, arrays, attrs, kinds, None, None) \
                        if not row.has("nondiff") else _forward(row, arrays, attrs)
                except ORDINARY:
                    pass


# ---- exceptions raised while a sweep runs --------------------------------------------------
MID_SWEEP = textwrap.dedent(r'''
    import gc, signal, sys, threading, time, weakref
    import tapegrad as tf
    from tapegrad import _tapegrad as C

    seen = []
    sys.unraisablehook = lambda u: seen.append(type(u.exc_value).__name__)
    base = C._live_counts()

    def step(y):
        return y + tf.math.sin(y) * 0.01   # sin saves its input y

    def chain(persistent, n=50):
        x = tf.constant(0.5)
        t = tf.GradientTape(persistent=persistent)
        with t:
            t.watch(x)
            y, saved = x, []
            for _ in range(n):
                saved.append(y)
                y = step(y)
        return t, x, y, saved

    def expected(n=50):
        x = tf.constant(0.5)
        with tf.GradientTape() as t:
            t.watch(x)
            y = x
            for _ in range(n):
                y = step(y)
        return float(t.gradient(y, x))

    want = expected()

    # (a) weakref callbacks fired by the sweep releasing saved tensors raise
    for exc in (RuntimeError, KeyboardInterrupt, MemoryError):
        for persistent in (False, True):
            t, x, y, saved = chain(persistent)
            def boom(_r, exc=exc):
                raise exc("raised mid-sweep")
            refs = [weakref.ref(s, boom) for s in saved[1:]]
            del saved
            g = t.gradient(y, x)
            assert abs(float(g) - want) < 1e-5 * abs(want), (exc, float(g), want)
            if persistent:
                assert abs(float(t.gradient(y, x)) - want) < 1e-5 * abs(want)
            del t, y, g, refs
            gc.collect()
    assert seen and set(seen) <= {"RuntimeError", "KeyboardInterrupt",
                                  "MemoryError"}, seen

    # (b) gc callbacks raising while the sweep allocates
    def gc_boom(phase, info):
        if phase == "start":
            raise KeyboardInterrupt("gc callback")
    old = gc.get_threshold()
    gc.set_threshold(1, 1, 1)
    gc.callbacks.append(gc_boom)
    try:
        t, x, y, saved = chain(False)
        del saved
        g = t.gradient(y, x)
    finally:
        gc.callbacks.remove(gc_boom)
        gc.set_threshold(*old)
    assert abs(float(g) - want) < 1e-5 * abs(want)
    del t, x, y, g

    # (c) output_gradients whose conversion raises KeyboardInterrupt: it
    # propagates unchanged, and the tape, persistent or not, stays usable:
    # as in TF, arguments are checked before a non-persistent tape is
    # spent
    class Evil:
        def __array__(self, dtype=None, copy=None):
            raise KeyboardInterrupt("from __array__")
    for persistent in (False, True):
        t, x, y, saved = chain(persistent, 5)
        try:
            t.gradient(y, x, output_gradients=Evil())
        except KeyboardInterrupt as e:
            assert str(e) == "from __array__"
        else:
            raise AssertionError("no KeyboardInterrupt")
        assert float(t.gradient(y, x)) > 0
        del t, x, y, saved

    # (d) SIGINT from another thread while long sweeps run: the sweep polls
    # for signals, so the interrupt lands inside it or between bytecodes;
    # any gradient that completed is right and the state stays consistent.
    # The handler raises only while a gradient is armed: with Python's
    # default one a SIGINT could land on this loop's own bookkeeping (seen
    # under ASan, where everything is slower), which tests nothing.
    hits = 0
    armed = [False]
    def on_sigint(signum, frame):
        if armed[0]:
            armed[0] = False
            raise KeyboardInterrupt
    signal.signal(signal.SIGINT, on_sigint)
    main = threading.get_ident()
    stop = threading.Event()
    def pester():
        while not stop.is_set():
            time.sleep(0.002)
            signal.pthread_kill(main, signal.SIGINT)
    th = threading.Thread(target=pester, daemon=True)
    th.start()
    for _ in range(200):
        t, x, y, saved = chain(True, 200)
        del saved
        try:
            armed[0] = True
            g = t.gradient(y, x)
            assert float(g) > 0
            g = t.gradient(y, x)
            assert float(g) > 0
            armed[0] = False
        except KeyboardInterrupt:
            hits += 1
        t = x = y = saved = g = None
    stop.set()
    th.join()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    gc.collect()
    assert C._live_counts() == base, (C._live_counts(), base)
    print("ok", hits)
''')


@pytest.mark.no_refleak_check(reason="runs a child process with signal "
                              "handlers and gc callbacks; it checks its own "
                              "live counts")
def test_exceptions_raised_mid_sweep_propagate_or_are_reported_cleanly():
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c", MID_SWEEP],
                       capture_output=True, text=True, timeout=300,
                       cwd=os.path.dirname(os.path.abspath(__file__)))
    assert p.returncode == 0, (p.returncode, p.stdout[-2000:], p.stderr[-3000:])
    assert "Fatal Python error" not in p.stderr
    assert p.stdout.startswith("ok"), p.stdout


# ---- list parameters read from a snapshot (catalogue 4.8) --------------------
def run_in_subprocess(code, env_extra=()):
    env = dict(os.environ, **dict(env_extra))
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c",
                        textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=300, env=env)
    assert p.returncode == 0, (p.returncode, p.stderr[-3000:])
    return p.stdout


def test_list_parameters_survive_an_item_that_changes_the_list():
    # converting the first item (its __array__) empties the caller's list:
    # the op read the freed second item (a wrong sum; a crash under
    # PYTHONMALLOC=debug).  Now it reads its own snapshot.
    out = run_in_subprocess("""
        import numpy as np
        import tapegrad as tf
        L = []

        class Clears:
            def __array__(self, dtype=None, copy=None):
                L.clear()
                return np.ones(2, np.float32)
        for call in (lambda: tf.add_n(L), lambda: tf.concat(L, 0),
                     lambda: tf.stack(L),
                     lambda: tf.einsum("i,i->i", L)):
            L[:] = [Clears(), tf.constant([1.0, 2.0])]
            print(call().numpy().ravel().tolist())
    """, env_extra={"PYTHONMALLOC": "debug"})
    assert out.splitlines() == ["[2.0, 3.0]", "[1.0, 1.0, 1.0, 2.0]",
                                "[1.0, 1.0, 1.0, 2.0]", "[1.0, 2.0]"]


def test_list_parameters_as_tf_takes_them():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert tf.concat(x, 0).shape == (2, 2)     # a lone tensor is [x], as TF
    with pytest.raises(ZeroDivisionError):      # the generator's own error
        tf.add_n(1 / v for v in [1.0, 0.0])
    with pytest.raises(TypeError, match="add_n: expected a list or tuple of "
                       "tensors, got 5"):
        tf.add_n(5)
