"""Tensor basics: dtypes, attributes, .numpy(), indexing (recorded), Python
protocols, operators against scalars/lists/ndarrays, comparisons, and the
public creation and math functions of the issue."""
import copy
import math
import operator

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _tapegrad as C


# ---- dtypes ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["float16", "float32", "float64", "int32", "int64", "bool"])
def test_dtype_objects(name):
    dt = getattr(tf, name)
    assert isinstance(dt, tf.DType)
    assert dt.name == name
    assert repr(dt) == "tapegrad." + name
    assert str(dt) == "<dtype: '%s'>" % name
    assert dt == name
    assert np.dtype(dt.as_numpy_dtype) == np.dtype(name if name != "bool" else np.bool_)
    assert dt.is_floating == name.startswith("float")
    assert dt.is_integer == name.startswith("int")
    assert dt.is_bool == (name == "bool")


def test_dtype_compares_with_numpy_types():
    assert tf.float32 == np.float32
    assert tf.float64 == np.float64
    assert tf.int32 == np.int32
    assert tf.int64 == np.int64
    assert tf.float32 != tf.float64
    assert tf.float32 != "float64"


def test_newaxis_and_errors_namespace():
    assert tf.newaxis is None
    assert issubclass(tf.errors.InvalidArgumentError, ValueError)


def test_namespaces_hold_the_issue_functions():
    for path in ["constant", "convert_to_tensor", "ones", "zeros", "ones_like",
                 "zeros_like", "identity", "reduce_sum", "reduce_mean", "add",
                 "subtract", "multiply", "divide", "negative", "pow", "matmul",
                 "math.sin", "math.cos", "math.exp", "math.log", "nn.softplus",
                 "nn.sigmoid", "nn.relu", "random.normal", "random.uniform",
                 "random.set_seed", "Variable", "GradientTape"]:
        obj = tf
        for part in path.split("."):
            obj = getattr(obj, part)
        assert callable(obj), path


# ---- attributes ----------------------------------------------------------------
def test_shape_dtype_ndim():
    t = tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3)
    assert isinstance(t.shape, tuple)
    assert t.dtype == tf.float32
    assert t.dtype is tf.float32
    assert t.ndim == 2
    s = tf.constant(3.0)
    assert s.shape == ()
    assert s.ndim == 0


def test_numpy_returns_readonly_array():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    a = t.numpy()
    assert isinstance(a, np.ndarray)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, [[1.0, 2.0], [3.0, 4.0]])
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0] = 5.0
    np.testing.assert_array_equal(t.numpy(), [[1.0, 2.0], [3.0, 4.0]])


def test_numpy_does_not_copy():
    t = tf.ones((3, 4))
    assert np.shares_memory(t.numpy(), t.numpy())


def test_numpy_of_scalar_is_numpy_scalar():
    v = tf.constant(3.0).numpy()
    assert isinstance(v, np.float32)
    assert v == 3.0
    i = tf.constant(3).numpy()
    assert isinstance(i, np.int32)
    b = tf.constant(True).numpy()
    assert isinstance(b, np.bool_)


def test_constant_from_ndarray_is_not_affected_by_later_changes():
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = tf.constant(a)
    a[0] = 100.0
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


def test_tensor_is_immutable():
    t = tf.constant([1.0, 2.0])
    with pytest.raises(TypeError):
        t[0] = 3.0
    with pytest.raises((AttributeError, TypeError)):
        t.shape = (1, 2)


def test_tensor_is_unhashable():
    with pytest.raises(TypeError):
        hash(tf.constant(1.0))
    with pytest.raises(TypeError):
        {tf.constant(1.0): 1}


def test_copy_returns_self():
    t = tf.constant([1.0, 2.0])
    assert copy.copy(t) is t
    assert copy.deepcopy(t) is t


# ---- Python protocols ---------------------------------------------------------------
def test_len():
    assert len(tf.constant([1.0, 2.0, 3.0])) == 3
    assert len(tf.ones((4, 2))) == 4
    with pytest.raises(TypeError, match="Scalar tensor has no `len\\(\\)`"):
        len(tf.constant(1.0))


def test_float_int_bool_on_scalars():
    assert float(tf.constant(2.5)) == 2.5
    assert int(tf.constant(7)) == 7
    assert int(tf.constant(2.75)) == 2
    assert bool(tf.constant(1.0)) is True
    assert bool(tf.constant(0.0)) is False
    assert bool(tf.constant(True)) is True


def test_bool_of_non_scalar_raises():
    with pytest.raises(ValueError):
        bool(tf.constant([1.0, 2.0]))


def test_index_protocol_for_integer_tensors():
    assert [10, 20, 30][tf.constant(1)] == 20
    assert operator.index(tf.constant(2, dtype=tf.int64)) == 2
    with pytest.raises(TypeError):
        operator.index(tf.constant(1.0))


def test_comparison_in_python_if():
    x = tf.constant(1.0)
    if x > 0.0:
        branch = "pos"
    else:
        branch = "neg"
    assert branch == "pos"
    assert not (x < 0.0)


def test_array_protocol():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(np.mean(t, axis=0), [2.0, 3.0])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.asarray(tf.constant(5)).dtype == np.int32


def test_format_formats_the_value():
    t = tf.constant([1.0, 2.0, 3.0])
    assert f"{t}" == "[1. 2. 3.]"
    assert format(tf.constant(3.14159), ".2f") == "3.14"
    assert f"{tf.constant(7):03d}" == "007"


def test_iteration_yields_rows():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    rows = list(t)
    assert len(rows) == 2
    assert all(isinstance(r, tf.Tensor) for r in rows)
    np.testing.assert_array_equal(rows[1].numpy(), [3.0, 4.0])
    with pytest.raises(TypeError):
        iter(tf.constant(1.0))


# ---- indexing --------------------------------------------------------------------
KEYS = [0, -1, (1, 2), (-1, -2), slice(1, None), (slice(None), 1),
        (slice(None, None, -1), slice(0, 3, 2)), Ellipsis, (Ellipsis, 0),
        (None, 1), (slice(None), None, -1), ()]


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
def test_indexing_matches_numpy(key):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = tf.constant(a)
    r = t[key]
    assert isinstance(r, tf.Tensor)
    assert r.dtype == tf.float32
    assert r.shape == a[key].shape
    np.testing.assert_array_equal(r.numpy(), a[key])


def test_chained_indexing_like_the_tutorial():
    x = tf.ones((2, 2))
    with tf.GradientTape() as t:
        t.watch(x)
        y = tf.reduce_sum(x)
        z = tf.multiply(y, y)
    dz_dx = t.gradient(z, x)
    for i in [0, 1]:
        for j in [0, 1]:
            assert dz_dx[i][j].numpy() == 8.0


def test_index_out_of_range_raises():
    t = tf.constant([1.0, 2.0, 3.0])
    with pytest.raises((IndexError, ValueError)):
        t[3]
    with pytest.raises((IndexError, ValueError)):
        t[-4]
    with pytest.raises((IndexError, ValueError, TypeError)):
        t[0, 0]


def test_indexing_is_recorded():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = tf.constant(a)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y0 = x[1, 2]
        y1 = x[:, 1] * 2.0
        y2 = x[-1]
        y3 = x[0][3]
    e = np.zeros((3, 4), np.float32)
    e[1, 2] = 1
    np.testing.assert_array_equal(tape.gradient(y0, x).numpy(), e)
    e = np.zeros((3, 4), np.float32)
    e[:, 1] = 2
    np.testing.assert_array_equal(tape.gradient(y1, x).numpy(), e)
    e = np.zeros((3, 4), np.float32)
    e[2] = 1
    np.testing.assert_array_equal(tape.gradient(y2, x).numpy(), e)
    e = np.zeros((3, 4), np.float32)
    e[0, 3] = 1
    np.testing.assert_array_equal(tape.gradient(y3, x).numpy(), e)
    del tape


def test_indexing_second_order():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x[1] ** 3           # d/dx1 = 3 x1^2, d2 = 6 x1
        g = inner.gradient(y, x)
        np.testing.assert_array_equal(g.numpy(), [0.0, 12.0, 0.0])
        s = g[1]
    h = outer.gradient(s, x)
    np.testing.assert_array_equal(h.numpy(), [0.0, 12.0, 0.0])


# ---- operators ----------------------------------------------------------------------
BINOPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("op", BINOPS, ids=lambda f: f.__name__)
def test_operators_with_python_scalars_both_sides(op):
    a = np.array([1.5, 2.0, 0.5], dtype=np.float32)
    t = tf.constant(a)
    for r, e in [(op(t, 2.0), op(a, np.float32(2.0))),
                 (op(2.0, t), op(np.float32(2.0), a)),
                 (op(t, 2), op(a, np.float32(2)))]:
        assert isinstance(r, tf.Tensor)
        assert r.dtype == tf.float32
        np.testing.assert_allclose(r.numpy(), e, rtol=1e-6)


@pytest.mark.parametrize("op", BINOPS, ids=lambda f: f.__name__)
def test_operators_with_lists_and_ndarrays_both_sides(op):
    a = np.array([1.5, 2.0, 0.5], dtype=np.float32)
    b = [0.5, 1.0, 2.0]
    nb = np.array(b, dtype=np.float32)
    t = tf.constant(a)
    for r, e in [(op(t, b), op(a, nb)), (op(b, t), op(nb, a)),
                 (op(t, nb), op(a, nb)), (op(nb, t), op(nb, a))]:
        assert isinstance(r, tf.Tensor), type(r)
        assert r.dtype == tf.float32
        np.testing.assert_allclose(r.numpy(), e, rtol=1e-6)


def test_unary_minus_and_matmul_operator():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    t = tf.constant(a)
    np.testing.assert_array_equal((-t).numpy(), -a)
    np.testing.assert_array_equal((t @ t).numpy(), a @ a)
    np.testing.assert_array_equal(([[1.0, 0.0]] @ t).numpy(), [[1.0, 2.0]])
    np.testing.assert_array_equal((t @ [[1.0], [1.0]]).numpy(), [[3.0], [7.0]])
    np.testing.assert_array_equal((a @ t).numpy(), a @ a)


def test_operator_gradients():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ys = {"add": x + 1.0, "radd": 1.0 + x, "sub": x - 3.0, "rsub": 3.0 - x,
              "mul": x * 3.0, "rmul": 3.0 * x, "div": x / 4.0, "rdiv": 1 / x,
              "pow": x ** 3, "rpow": 2.0 ** x, "neg": -x}
    expected = {"add": 1.0, "radd": 1.0, "sub": 1.0, "rsub": -1.0, "mul": 3.0,
                "rmul": 3.0, "div": 0.25, "rdiv": -0.25, "pow": 12.0,
                "rpow": 4.0 * math.log(2.0), "neg": -1.0}
    for k, y in ys.items():
        g = tape.gradient(y, x)
        assert g is not None, k
        np.testing.assert_allclose(g.numpy(), expected[k], rtol=1e-6, err_msg=k)
    del tape


@pytest.mark.parametrize("op,npop", [
    (operator.lt, np.less), (operator.le, np.less_equal), (operator.gt, np.greater),
    (operator.ge, np.greater_equal), (operator.eq, np.equal), (operator.ne, np.not_equal)])
def test_comparisons_give_bool_tensors(op, npop):
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    b = np.array([2.0, 2.0, 2.0], dtype=np.float32)
    r = op(tf.constant(a), tf.constant(b))
    assert isinstance(r, tf.Tensor)
    assert r.dtype == tf.bool
    np.testing.assert_array_equal(r.numpy(), npop(a, b))
    r2 = op(tf.constant(a), 2.0)
    assert r2.dtype == tf.bool
    np.testing.assert_array_equal(r2.numpy(), npop(a, np.float32(2.0)))


def test_comparisons_are_never_recorded():
    x = tf.constant([1.0, -1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        before = C._live_counts()["TapeEntry"]
        c = x > 0.0
        assert C._live_counts()["TapeEntry"] == before
    assert tape.gradient(c, x) is None


# ---- creation and math functions ----------------------------------------------
def test_ones_zeros_and_likes():
    o = tf.ones((2, 3))
    assert o.dtype == tf.float32 and o.shape == (2, 3)
    np.testing.assert_array_equal(o.numpy(), np.ones((2, 3)))
    z = tf.zeros(2, dtype=tf.float32)
    assert z.shape == (2,) and z.dtype == tf.float32
    np.testing.assert_array_equal(z.numpy(), [0.0, 0.0])
    assert tf.zeros([2, 2], dtype=tf.int32).dtype == tf.int32
    assert tf.ones((), dtype=tf.float64).shape == ()
    x = tf.constant([[1, 2, 3]], dtype=tf.int64)
    ol = tf.ones_like(x)
    assert ol.dtype == tf.int64 and ol.shape == (1, 3)
    np.testing.assert_array_equal(ol.numpy(), [[1, 1, 1]])
    zl = tf.zeros_like(x, dtype=tf.float32)
    assert zl.dtype == tf.float32 and zl.shape == (1, 3)
    np.testing.assert_array_equal(zl.numpy(), [[0.0, 0.0, 0.0]])


def test_identity_is_a_new_value_with_gradient_one():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.identity(x)
    np.testing.assert_array_equal(y.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 1.0])


def test_reduce_sum_and_mean():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = tf.constant(a)
    assert tf.reduce_sum(x).numpy() == a.sum()
    np.testing.assert_array_equal(tf.reduce_sum(x, axis=1).numpy(), a.sum(axis=1))
    np.testing.assert_array_equal(tf.reduce_sum(x, axis=[0, 2]).numpy(), a.sum(axis=(0, 2)))
    np.testing.assert_array_equal(tf.reduce_sum(x, axis=-1, keepdims=True).numpy(),
                                  a.sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(tf.reduce_mean(x, axis=0).numpy(), a.mean(axis=0))
    assert tf.reduce_mean(x, keepdims=True).shape == (1, 1, 1)
    assert tf.reduce_mean(tf.constant([1, 2])).numpy() == 1
    assert tf.reduce_mean(tf.constant([1, 2])).dtype == tf.int32


def test_matmul_transpose_flags():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(
        tf.matmul(a, b, transpose_b=True).numpy(), a @ b.T)
    np.testing.assert_array_equal(
        tf.matmul(a, b, transpose_a=True).numpy(), a.T @ b)


def test_math_functions_forward():
    a = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    x = tf.constant(a)
    np.testing.assert_allclose(tf.math.sin(x).numpy(), np.sin(a), rtol=1e-6)
    np.testing.assert_allclose(tf.math.cos(x).numpy(), np.cos(a), rtol=1e-6)
    np.testing.assert_allclose(tf.math.exp(x).numpy(), np.exp(a), rtol=1e-6)
    np.testing.assert_allclose(tf.math.log(x).numpy(), np.log(a), rtol=1e-6)
    np.testing.assert_allclose(tf.nn.softplus(x).numpy(), np.log1p(np.exp(a)), rtol=1e-6)
    np.testing.assert_allclose(tf.nn.sigmoid(x).numpy(), 1 / (1 + np.exp(-a)), rtol=1e-6)
    np.testing.assert_array_equal(tf.nn.relu(tf.constant([-1.0, 2.0])).numpy(), [0.0, 2.0])
    np.testing.assert_array_equal(tf.negative(x).numpy(), -a)
    np.testing.assert_allclose(tf.pow(x, 2.0).numpy(), a ** 2, rtol=1e-6)
    np.testing.assert_allclose(tf.divide(x, 2.0).numpy(), a / 2, rtol=1e-6)
    np.testing.assert_allclose(tf.subtract(x, 2.0).numpy(), a - 2, rtol=1e-6)
    np.testing.assert_allclose(tf.add(x, 2.0).numpy(), a + 2, rtol=1e-6)


def test_softplus_large_input_is_finite():
    # softplus(100) = 100 (log1p(exp(100)) overflows if computed naively)
    y = tf.nn.softplus(tf.constant(100.0))
    assert y.numpy() == np.float32(100.0)
    assert tf.nn.sigmoid(tf.constant(-100.0)).numpy() >= 0.0


def test_random_normal_and_uniform():
    tf.random.set_seed(1234)
    a = tf.random.normal((200, 50))
    assert a.shape == (200, 50) and a.dtype == tf.float32
    v = a.numpy()
    assert abs(v.mean()) < 0.05           # 10^4 samples: sd of mean is 0.01
    assert abs(v.std() - 1.0) < 0.05
    b = tf.random.normal((3,), mean=10.0, stddev=0.001, dtype=tf.float64)
    assert b.dtype == tf.float64
    assert np.all(np.abs(b.numpy() - 10.0) < 0.01)
    u = tf.random.uniform((1000,), minval=2.0, maxval=3.0)
    assert u.dtype == tf.float32
    assert np.all((u.numpy() >= 2.0) & (u.numpy() < 3.0))
    u01 = tf.random.uniform((1000,))
    assert np.all((u01.numpy() >= 0.0) & (u01.numpy() < 1.0))


def test_random_set_seed_makes_sequences_repeatable():
    tf.random.set_seed(7)
    a1 = tf.random.normal((5,)).numpy().copy()
    b1 = tf.random.uniform((5,)).numpy().copy()
    tf.random.set_seed(7)
    a2 = tf.random.normal((5,)).numpy()
    b2 = tf.random.uniform((5,)).numpy()
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(a1, tf.random.normal((5,)).numpy())


def test_random_values_scale_a_watched_tensor():
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.random.normal((2,)) * x
    r = y.numpy() / 1.0
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), r.sum(), rtol=1e-6)


def _isolated(code):
    """Run `code` in a fresh interpreter (a crash must not take the suite down)."""
    import subprocess
    import sys
    import textwrap
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c", textwrap.dedent(code)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "rc=%s\n%s" % (p.returncode, p.stderr[-3000:])
    return p.stdout


def test_shapes_given_as_tensors():
    # TF takes shapes as int tensors or lists holding scalar tensors (the guide
    # reshapes with [tf.reduce_prod(shape), 1]); run isolated: this crashed once
    out = _isolated("""
        import tapegrad as tf
        s = tf.constant([2, 3])
        assert tf.ones(s).shape == (2, 3)
        assert tf.zeros(s, dtype=tf.int64).shape == (2, 3)
        assert tf.random.normal(s).shape == (2, 3)
        assert tf.random.uniform(s).shape == (2, 3)
        assert tf.ones((tf.constant(2), 3)).shape == (2, 3)
        n = tf.reduce_sum(tf.constant([3, 3]))
        assert tf.reshape(tf.ones((2, 3)), [n, 1]).shape == (6, 1)
        print("ok")
    """)
    assert out.strip() == "ok"


def test_matplotlib_takes_tensors():
    matplotlib = pytest.importorskip("matplotlib")   # a test extra, not a tapegrad feature
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x = tf.constant(np.linspace(-10.0, 10.0, 201).astype(np.float32))
    y = tf.nn.sigmoid(x)
    fig, ax = plt.subplots()
    try:
        (line,) = ax.plot(x, y)
        np.testing.assert_array_equal(line.get_xdata(), x.numpy())
        np.testing.assert_array_equal(line.get_ydata(), y.numpy())
        im = ax.imshow(tf.ones((3, 4)))
        assert im.get_array().shape == (3, 4)
    finally:
        plt.close(fig)


def test_float16_ops_and_gradients():
    a = np.array([0.5, 1.0, 1.5], np.float16)
    x = tf.constant(a)
    assert x.dtype == tf.float16
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.math.sin(x) * x + 2.0)
    assert y.dtype == tf.float16
    expected = np.sum(np.sin(a.astype(np.float64)) * a + 2.0)
    np.testing.assert_allclose(float(y), expected, rtol=2e-3)
    g = tape.gradient(y, x)
    assert g.dtype == tf.float16 and g.shape == (3,)
    a64 = a.astype(np.float64)
    np.testing.assert_allclose(g.numpy().astype(np.float64),
                               np.cos(a64) * a64 + np.sin(a64), rtol=5e-3)


# ---- NumPy 2's __array__(dtype, copy) -------------------------------------
def test_array_protocol_copy_semantics():
    t = tf.constant([1.0, 2.0])
    with pytest.raises(ValueError, match="unable to avoid a copy"):
        np.asarray(t, dtype=np.float64, copy=False)
    view = np.asarray(t, copy=False)
    assert not view.flags.writeable          # the tensor's own bytes
    for copy in (True, 1):
        c = t.__array__(copy=copy)
        assert c.flags.owndata and c.flags.writeable
        c[0] = 9.0
    assert t.numpy()[0] == 1.0
    assert np.asarray(t, dtype=np.float32, copy=False).dtype == np.float32
    assert t.__array__(dtype="float64").dtype == np.float64


# ---- index keys: integers through the integer conversion --------------------
def test_index_keys_of_every_integer_kind():
    t = tf.constant([1.0, 2.0, 3.0])
    for k in (1, np.int64(1), np.uint8(1), tf.constant(1),
              tf.constant(1, dtype=tf.int64)):
        assert t[k].numpy() == 2.0
    assert t[1:2 ** 70].shape == (2,)          # slice bounds clamp
    with pytest.raises(ValueError, match=r"^StridedSlice: a value passed to "
                       r"parameter 'key' is out of the int64 range"):
        t[2 ** 63]
    with pytest.raises(TypeError, match=r"^StridedSlice: .*DataType "
                       r"timedelta64\[D\]"):
        t[np.timedelta64(1, "D")]
