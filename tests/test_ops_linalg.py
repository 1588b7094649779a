"""Hand-written tests for the linalg rows: what the generated table tests
cannot cover (TF's errors, symmetric-input gradients, einsum specs)."""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _tapegrad as C
from tapegrad.errors import InvalidArgumentError


def _spd(rng, n, batch=()):
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _sym_fd_check(fn, a, rng, eps=1e-6):
    """<grad, U> == d/dt sum(v * fn(a + t U)) for a symmetric direction U."""
    x = tf.constant(a)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    v = rng.standard_normal(y.shape)
    g = tape.gradient(y, x, output_gradients=tf.constant(v)).numpy()
    u = rng.standard_normal(a.shape)
    u = u + np.swapaxes(u, -1, -2)
    fd = (np.sum(v * fn(tf.constant(a + eps * u)).numpy())
          - np.sum(v * fn(tf.constant(a - eps * u)).numpy())) / (2 * eps)
    np.testing.assert_allclose(np.sum(g * u), fd, rtol=1e-6, atol=1e-8)


def test_cholesky_gradient_on_symmetric_positive_definite_input(rng):
    _sym_fd_check(tf.linalg.cholesky, _spd(rng, 4), rng)
    _sym_fd_check(tf.linalg.cholesky, _spd(rng, 3, (2,)), rng)


def test_cholesky_gradient_is_symmetric_and_differentiates_again(rng):
    x = tf.constant(_spd(rng, 3))
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(tf.linalg.cholesky(x) ** 2)
        g = inner.gradient(y, x)
        s = tf.reduce_sum(g)
    np.testing.assert_allclose(g.numpy(), g.numpy().T, atol=1e-12)
    assert outer.gradient(s, x).shape == (3, 3)


def test_eigh_gradient_on_symmetric_input(rng):
    def fn(x):
        e, v = tf.linalg.eigh(x)
        return tf.concat([e, tf.reshape(v * v, [-1])], 0)   # sign-free in v
    _sym_fd_check(fn, _spd(rng, 4), rng)


def test_eigh_gradient_with_equal_eigenvalues_is_finite():
    # TF's SelfAdjointEigV2 gradient uses a safe reciprocal of the
    # eigenvalue gaps, so a repeated eigenvalue does not make it NaN: for
    # the identity, the eigenvector terms vanish and d(sum e)/dA = I.
    a = tf.eye(3, dtype=tf.float64)
    with tf.GradientTape() as t:
        t.watch(a)
        e, v = tf.linalg.eigh(a)
        loss = tf.reduce_sum(e) + tf.reduce_sum(v)
    np.testing.assert_allclose(t.gradient(loss, a).numpy(), np.eye(3))


def test_not_positive_definite_raises():
    with pytest.raises(InvalidArgumentError, match="Cholesky decomposition was not successful"):
        tf.linalg.cholesky(tf.constant([[1.0, 2.0], [2.0, 1.0]]))


def test_singular_matrices_raise():
    s = tf.constant([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(InvalidArgumentError, match=r"Input is not invertible.*MatrixInverse"):
        tf.linalg.inv(s)
    with pytest.raises(InvalidArgumentError, match="not invertible"):
        tf.linalg.solve(s, tf.constant([[1.0], [1.0]]))
    assert tf.linalg.det(s).numpy() == 0.0
    sign, logdet = tf.linalg.slogdet(s)
    assert sign.numpy() == 0.0 and logdet.numpy() == -np.inf


def test_nan_input_propagates_without_error():
    x = tf.constant([[np.nan, 1.0], [1.0, 2.0]])
    assert np.isnan(tf.linalg.inv(x).numpy()).any()   # LAPACK's NaN, no error


@pytest.mark.parametrize("fn,shape", [
    (tf.linalg.inv, (2, 3)), (tf.linalg.det, (3,)), (tf.linalg.cholesky, (2, 3)),
    (tf.linalg.eigh, (4,)), (tf.linalg.diag_part, (3,)), (tf.linalg.diag, ()),
])
def test_bad_shapes_raise_invalid_argument(fn, shape):
    with pytest.raises(InvalidArgumentError) as ei:
        fn(tf.zeros(shape))
    assert "[Op:" in str(ei.value)


def test_solve_shape_errors_name_both_shapes():
    with pytest.raises(InvalidArgumentError, match=r"\[3,3\].*\[2,1\]"):
        tf.linalg.solve(tf.ones((3, 3)), tf.ones((2, 1)))
    with pytest.raises(InvalidArgumentError, match="batch"):
        tf.linalg.solve(tf.ones((2, 3, 3)), tf.ones((3, 3, 1)))


def test_matrix_transpose_of_a_vector_is_a_value_error():
    with pytest.raises(ValueError, match="matrix_transpose"):
        tf.linalg.matrix_transpose(tf.ones((3,)))


def test_trace_and_diag_values():
    x = tf.constant([[1, 2], [3, 4]])
    assert tf.linalg.trace(x).numpy() == 5 and tf.linalg.trace(x).dtype == tf.int32
    np.testing.assert_array_equal(tf.linalg.diag([1.0, 2.0]).numpy(), np.diag([1.0, 2.0]))
    with pytest.raises(InvalidArgumentError, match="rows or columns is not consistent"):
        tf.linalg.diag([1.0, 2.0], num_rows=3, num_cols=3)


def test_einsum_specs_and_errors():
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(C._call("einsum", [a, a], equation="ij,ij->").numpy(),
                               np.einsum("ij,ij->", a, a))
    np.testing.assert_allclose(C._call("einsum", [a], equation=" i j -> j i ").numpy(), a.T)
    for eq, inputs in [("ij,jk->ik", [a]), ("ij->ik", [a]), ("ij->ii", [a]),
                       ("ijk->ij", [a]), ("i.j->ij", [a]), ("ij,ij->ij", [a, a.T]),
                       ("i1->i", [a])]:
        with pytest.raises(InvalidArgumentError) as ei:
            C._call("einsum", inputs, equation=eq)
        assert "einsum" in str(ei.value) and "[Op:Einsum]" in str(ei.value)
    with pytest.raises(TypeError, match="equation"):
        tf.einsum()
    with pytest.raises(TypeError, match="equation must be a string"):
        tf.einsum(a, a)


def test_tensordot_errors():
    with pytest.raises(ValueError, match="axes"):
        tf.tensordot(tf.ones((2, 3)), tf.ones((3, 2)), 3)
    with pytest.raises(InvalidArgumentError, match="differ in size"):
        tf.tensordot(tf.ones((2, 3)), tf.ones((2, 3)), 1)


def test_norm_ord_and_axis_errors():
    x = tf.ones((2, 3))
    with pytest.raises(ValueError, match="'ord' must be a supported vector norm"):
        tf.norm(x, ord=-1)
    with pytest.raises(ValueError, match="'ord' must be a supported matrix norm"):
        tf.norm(x, ord=3, axis=[0, 1])
    with pytest.raises(ValueError, match="'axis'"):
        tf.norm(x, axis=[0, 0])
    with pytest.raises(ValueError) as ei:
        tf.norm(x, ord=-2, axis=(0, 1))
    assert str(ei.value) == ("norm: 'ord' must be a supported matrix norm in "
                             "['euclidean', 'fro', 1, 2, inf], got -2")
    with pytest.raises(ValueError, match="supported matrix norm"):
        tf.norm(x, ord=-np.inf, axis=(0, 1))


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_norm_gradient_at_zero_is_nan_as_in_tf():
    x = tf.zeros((3,))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.norm(x)
    assert np.isnan(tape.gradient(y, x).numpy()).all()


def test_norm_inf_gradient_splits_ties_evenly():
    x = tf.constant([3.0, -3.0, 1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.norm(x, ord=np.inf)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [0.5, -0.5, 0.0])


# ---- diag / diag_part: TF's MatrixDiagV3 / MatrixDiagPartV3 -------------------
# The examples of TF's documentation of tf.raw_ops.MatrixDiagV3 and
# MatrixDiagPartV3 (tf.linalg.diag / diag_part), with their printed values.
_DP_INPUT = np.array([[[1, 2, 3, 4], [5, 6, 7, 8], [9, 8, 7, 6]],
                      [[5, 4, 3, 2], [1, 2, 3, 4], [5, 6, 7, 8]]])
_TRIDIAG = [[[1, 8, 0], [4, 2, 9], [0, 5, 3]], [[6, 2, 0], [9, 7, 3], [0, 1, 9]]]


@pytest.mark.parametrize("kw,expected", [
    ({}, [[1, 6, 7], [5, 2, 7]]),
    ({"k": 1}, [[2, 7, 6], [4, 3, 8]]),
    ({"k": (-1, 2)}, [[[0, 3, 8], [2, 7, 6], [1, 6, 7], [5, 8, 0]],
                      [[0, 3, 4], [4, 3, 8], [5, 2, 7], [1, 6, 0]]]),
    ({"k": (-1, 2), "align": "LEFT_RIGHT"},
     [[[3, 8, 0], [2, 7, 6], [1, 6, 7], [0, 5, 8]],
      [[3, 4, 0], [4, 3, 8], [5, 2, 7], [0, 1, 6]]]),
    ({"k": (-2, -1)}, [[[5, 8], [9, 0]], [[1, 6], [5, 0]]]),
    ({"k": (1, 3), "padding_value": 9},
     [[[9, 9, 4], [9, 3, 8], [2, 7, 6]], [[9, 9, 2], [9, 3, 4], [4, 3, 8]]]),
])
def test_diag_part_documented_examples(kw, expected):
    y = tf.linalg.diag_part(tf.constant(_DP_INPUT, tf.int32), **kw)
    assert y.dtype == tf.int32
    np.testing.assert_array_equal(y.numpy(), expected)


@pytest.mark.parametrize("diagonal,kw,expected", [
    ([[1, 2, 3, 4], [5, 6, 7, 8]], {},
     [np.diag([1, 2, 3, 4]), np.diag([5, 6, 7, 8])]),
    ([[1, 2, 3], [4, 5, 6]], {"k": 1},
     [np.diag([1, 2, 3], 1), np.diag([4, 5, 6], 1)]),
    ([[[0, 8, 9], [1, 2, 3], [4, 5, 0]], [[0, 2, 3], [6, 7, 9], [9, 1, 0]]],
     {"k": (-1, 1)}, _TRIDIAG),
    ([[[8, 9, 0], [1, 2, 3], [0, 4, 5]], [[2, 3, 0], [6, 7, 9], [0, 9, 1]]],
     {"k": (-1, 1), "align": "LEFT_RIGHT"}, _TRIDIAG),
    ([1, 2], {"k": -1, "num_rows": 3, "num_cols": 4},
     [[0, 0, 0, 0], [1, 0, 0, 0], [0, 2, 0, 0]]),
    ([1, 2], {"k": -1, "num_rows": 3, "padding_value": 9},
     [[9, 9], [1, 9], [9, 2]]),
])
def test_diag_documented_examples(diagonal, kw, expected):
    y = tf.linalg.diag(tf.constant(diagonal), **kw)
    assert y.dtype == tf.int32
    np.testing.assert_array_equal(y.numpy(), expected)


def test_diag_name_is_the_second_parameter_as_in_tf():
    d = tf.constant([1.0, 2.0])
    np.testing.assert_array_equal(tf.linalg.diag(d, "my_diag").numpy(),
                                  np.diag([1.0, 2.0]))
    np.testing.assert_array_equal(tf.linalg.diag(d, "n", 1).numpy(),
                                  np.diag([1.0, 2.0], 1))
    np.testing.assert_array_equal(
        tf.linalg.diag_part(tf.ones((2, 3)), "p", (-1, 0), 5).numpy(),
        [[1.0, 1.0], [1.0, 5.0]])
    assert tf.linalg.diag(d, name="x").shape == (2, 2)
    with pytest.raises(TypeError, match="at most 7 positional"):
        tf.linalg.diag(d, None, 0, -1, -1, 0, "RIGHT_LEFT", "extra")


def test_diag_and_diag_part_are_adjoint(rng):
    """<diag(d), X> == <d, diag_part(X)> for every k and alignment, which
    is why each is the other's gradient."""
    for k, dshape, xshape in [(0, (3,), (3, 3)), (2, (2,), (4, 4)),
                              ((-1, 2), (4, 3), (3, 5)),
                              ((-2, 0), (2, 3, 2), (2, 4, 2))]:
        for align in ("LEFT_RIGHT", "RIGHT_LEFT", "LEFT_LEFT", "RIGHT_RIGHT"):
            x = rng.standard_normal(xshape)
            dp = tf.linalg.diag_part(tf.constant(x), k=k, align=align)
            d = rng.standard_normal(dp.shape)
            m = tf.linalg.diag(tf.constant(d), k=k, num_rows=xshape[-2],
                               num_cols=xshape[-1], align=align)
            np.testing.assert_allclose(np.sum(m.numpy() * x),
                                       np.sum(d * dp.numpy()), rtol=1e-12)
            xt = tf.constant(x)
            with tf.GradientTape() as tape:
                tape.watch(xt)
                y = tf.linalg.diag_part(xt, k=k, align=align)
            g = tape.gradient(y, xt, output_gradients=tf.constant(d))
            np.testing.assert_array_equal(g.numpy(), m.numpy())


def test_diag_gradient_skips_padding_slots():
    # the 0s of a band's rows (short diagonals) are never read: no gradient
    d = tf.constant([[0.0, 8.0, 9.0], [1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])
    with tf.GradientTape() as tape:
        tape.watch(d)
        y = tf.reduce_sum(tf.linalg.diag(d, k=(-1, 1), padding_value=7.0))
    np.testing.assert_array_equal(tape.gradient(y, d).numpy(),
                                  [[0, 1, 1], [1, 1, 1], [1, 1, 0]])
    assert tf.reduce_sum(tf.linalg.diag(d, k=(-1, 1), padding_value=7.0)
                         ).numpy() == 32.0 + 2 * 7.0


def test_diag_of_bools_takes_the_truth_of_padding_value():
    y = tf.linalg.diag(tf.constant([True, False]), padding_value=1)
    assert y.dtype == tf.bool
    np.testing.assert_array_equal(y.numpy(), [[True, True], [True, False]])


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: tf.linalg.diag([1.0], align="UP_DOWN"), InvalidArgumentError,
     'Value for attr \'align\' of "UP_DOWN" is not in the list of allowed '
     'values: "LEFT_RIGHT", "RIGHT_LEFT", "LEFT_LEFT", "RIGHT_RIGHT" '
     '[Op:MatrixDiagV3]'),
    (lambda: tf.linalg.diag_part(tf.ones((2, 2)), align=3), TypeError,
     "Expected string for argument 'align' not 3."),
    (lambda: tf.linalg.diag([1.0], k=(0, 1, 2)), InvalidArgumentError,
     "diag_index must have only one or two elements, received 3 elements. "
     "[Op:MatrixDiagV3]"),
    (lambda: tf.linalg.diag_part(tf.ones((2, 2)), k=[[0, 1]]),
     InvalidArgumentError,
     "k must be a scalar or a vector of {int32,int64}, got a nested sequence "
     "[Op:MatrixDiagPartV3]"),
    # every integer argument goes through one conversion, whose errors name
    # the op and the parameter (TF's own says "Cannot convert 1.5 to
    # EagerTensor of dtype int32" here)
    (lambda: tf.linalg.diag([1.0], k=1.5), TypeError,
     "MatrixDiagV3: Value passed to parameter 'k' has DataType float32 not "
     "in list of allowed values: int32, int64"),
    (lambda: tf.linalg.diag(tf.ones((2, 3)), k=(1, 0)), InvalidArgumentError,
     "lower_diag_index must not be larger than upper_diag_index: 1 > 0 "
     "[Op:MatrixDiagV3]"),
    (lambda: tf.linalg.diag(tf.ones((2, 3)), k=(0, 2)), InvalidArgumentError,
     "The number of diagonals provided in the input does not match the "
     "lower_diag_index and upper_diag_index range. [Op:MatrixDiagV3]"),
    (lambda: tf.linalg.diag([1.0, 2.0], num_rows=1), InvalidArgumentError,
     "The number of rows is too small. [Op:MatrixDiagV3]"),
    (lambda: tf.linalg.diag([1.0, 2.0], k=1, num_cols=2), InvalidArgumentError,
     "The number of columns is too small. [Op:MatrixDiagV3]"),
    (lambda: tf.linalg.diag(tf.constant(1.0)), InvalidArgumentError,
     "diagonal must be at least 1-dim, received shape: [] [Op:MatrixDiagV3]"),
    (lambda: tf.linalg.diag_part(tf.ones((3,))), InvalidArgumentError,
     "input must be at least 2-dim, received shape: [3] "
     "[Op:MatrixDiagPartV3]"),
    (lambda: tf.linalg.diag_part(tf.ones((3, 4)), k=(-3, 0)),
     InvalidArgumentError,
     "lower_diag_index is out of bound: -3. It must be between -3 and 4 "
     "[Op:MatrixDiagPartV3]"),
    (lambda: tf.linalg.diag_part(tf.ones((3, 4)), k=(0, 4)),
     InvalidArgumentError,
     "upper_diag_index is out of bound: 4 It must be between -3 and 4 "
     "[Op:MatrixDiagPartV3]"),
    (lambda: tf.linalg.diag_part(tf.ones((3, 4)), k=(1, 0)),
     InvalidArgumentError,
     "lower_diag_index must not be larger than upper_diag_index: 1 > 0 "
     "[Op:MatrixDiagPartV3]"),
    (lambda: tf.linalg.diag(tf.constant([1, 2]), padding_value=0.5), TypeError,
     "Cannot convert 0.5 to EagerTensor of dtype int32"),
    (lambda: tf.linalg.diag_part(tf.ones((2, 2)),
                                 padding_value=tf.constant(1.0, tf.float64)),
     InvalidArgumentError,
     "cannot compute MatrixDiagPartV3 as input #2(zero-based) was expected "
     "to be a float tensor but is a double tensor [Op:MatrixDiagPartV3]"),
])
def test_diag_errors_follow_tf(call, exc, msg):
    with pytest.raises(exc) as ei:
        call()
    assert str(ei.value) == msg


# ---- svd and the spectral norm -------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 2), (2, 4), (3, 3), (2, 3, 5), (2, 5, 3)])
def test_svd_factorises_in_tf_order(shape, rng):
    a = rng.standard_normal(shape)
    s, u, v = tf.linalg.svd(tf.constant(a))
    k = min(shape[-2:])
    assert s.shape == shape[:-2] + (k,)
    assert u.shape == shape[:-1] + (k,) and v.shape == shape[:-2] + (shape[-1], k)
    s, u, v = s.numpy(), u.numpy(), v.numpy()
    assert np.all(np.diff(s, axis=-1) <= 0) and np.all(s >= 0)   # descending
    np.testing.assert_allclose((u * s[..., None, :]) @ np.swapaxes(v, -1, -2),
                               a, atol=1e-12)
    np.testing.assert_allclose(np.swapaxes(u, -1, -2) @ u, np.broadcast_to(
        np.eye(k), shape[:-2] + (k, k)), atol=1e-12)
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=1e-12)
    only = tf.linalg.svd(tf.constant(a), compute_uv=False)
    assert isinstance(only, tf.Tensor)
    np.testing.assert_allclose(only.numpy(), s, rtol=1e-12)
    s, u, v = tf.linalg.svd(tf.constant(a), full_matrices=True)
    assert u.shape == shape[:-1] + (shape[-2],) and v.shape == shape[:-2] + (shape[-1],) * 2


def test_svd_singular_value_gradients_are_u_v_outer_products(rng):
    """d s_i / dA = u_i v_i^T, for the thin and the values-only forms."""
    a = rng.standard_normal((4, 3))
    x = tf.constant(a)
    w = np.array([1.0, -2.0, 0.5])
    for compute_uv in (True, False):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.linalg.svd(x, compute_uv=compute_uv)
            s = out[0] if compute_uv else out
            y = tf.reduce_sum(s * tf.constant(w))
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        np.testing.assert_allclose(tape.gradient(y, x).numpy(),
                                   (u * w) @ vh, atol=1e-12)


def test_svd_full_matrices_gradient_limits_follow_tf():
    x = tf.constant(np.arange(10.0).reshape(5, 2) ** 0.5)
    with tf.GradientTape() as tape:
        tape.watch(x)
        s, u, v = tf.linalg.svd(x, full_matrices=True)
    with pytest.raises(NotImplementedError) as ei:
        tape.gradient(u, x)
    assert str(ei.value) == ("svd gradient is not implemented for "
                             "abs(m - n) > 1 when full_matrices is True")


def test_svd_gradient_with_equal_singular_values_is_finite_as_in_tf():
    # TF's _SafeReciprocal: 1/(s_j^2 - s_i^2) is taken as 0 for equal values
    x = tf.constant(np.eye(3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        s, u, v = tf.linalg.svd(x)
        y = tf.reduce_sum(u) + tf.reduce_sum(s)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.eye(3))


def test_svd_errors():
    with pytest.raises(InvalidArgumentError, match=r"rank >= 2.*\[Op:Svd\]"):
        tf.linalg.svd(tf.ones((3,)))


@pytest.mark.parametrize("shape,axis", [((3, 4), (0, 1)), ((3, 4), (1, 0)),
                                        ((2, 3, 4), (-1, -2)),
                                        ((3, 2, 4), (2, 0))])
def test_spectral_norm_is_the_largest_singular_value(shape, axis, rng):
    a = rng.standard_normal(shape)
    m = np.moveaxis(a, axis, (-2, -1))
    big = np.linalg.svd(m, compute_uv=False)[..., 0]
    x = tf.constant(a)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.norm(x, ord=2, axis=axis)
    np.testing.assert_allclose(y.numpy(), big, rtol=1e-12)
    # its gradient is u1 v1^T (TF's too: svd(compute_uv=False) has one)
    u, _, vh = np.linalg.svd(m)
    g = np.moveaxis(u[..., :, :1] @ vh[..., :1, :], (-2, -1), axis)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), g, atol=1e-12)
    kd = tf.norm(x, ord=2, axis=axis, keepdims=True)
    shp = list(shape)
    for ax in axis:
        shp[ax] = 1
    assert kd.shape == tuple(shp)
    np.testing.assert_allclose(kd.numpy().reshape(-1), big.reshape(-1), rtol=1e-12)


def test_spectral_norm_gradient_splits_ties_as_tf_reduce_max():
    x = tf.constant(2.0 * np.eye(3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.norm(x, ord=2, axis=[0, 1])
    assert y.numpy() == 2.0
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.eye(3) / 3,
                               atol=1e-15)


def test_spectral_norm_second_derivative(rng):
    """d/dt of the gradient along a direction E against finite differences
    of u1 v1^T (the Hessian of the largest singular value)."""
    a = rng.standard_normal((3, 2))
    e = rng.standard_normal((3, 2))
    x = tf.constant(a)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.norm(x, ord=2, axis=(0, 1))
        g = inner.gradient(y, x)
        ge = tf.reduce_sum(g * tf.constant(e))
    h = outer.gradient(ge, x).numpy()

    def grad(b):
        u, _, vh = np.linalg.svd(b)
        return np.outer(u[:, 0], vh[0])
    fd = (grad(a + 1e-6 * e) - grad(a - 1e-6 * e)) / 2e-6
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-8)   # H symmetric

# ---- matmul: NumPy's own loop, called directly --------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32,
                                   np.int64])
def test_matmul_equals_numpy_for_batches_transposes_and_empty_dims(dtype, rng):
    # past 128 multiply-adds (and for every batch) tapegrad runs np.matmul's
    # inner loop on its own buffers: the results are NumPy's, bit for bit,
    # except where a batch against one matrix is folded into one product
    # (BLAS may then sum in another order: float32/64 within rounding)
    cases = [((), ()), ((3,), ()), ((), (2,)), ((2, 1), (3,)), ((1,), (4,))]
    dims = [(6, 7, 5), (1, 40, 9), (9, 40, 1), (33, 17, 9), (0, 3, 2),
            (3, 0, 2)]
    for ba, bb in cases:
        for m, k, n in dims:
            for ta in (False, True):
                for tb in (False, True):
                    a = (rng.standard_normal(ba + ((k, m) if ta else (m, k)))
                         * 3).astype(dtype)
                    b = (rng.standard_normal(bb + ((n, k) if tb else (k, n)))
                         * 3).astype(dtype)
                    want = np.matmul(np.swapaxes(a, -1, -2) if ta else a,
                                     np.swapaxes(b, -1, -2) if tb else b)
                    got = tf.matmul(tf.constant(a), tf.constant(b),
                                    transpose_a=ta, transpose_b=tb).numpy()
                    assert got.dtype == want.dtype
                    folded = (ba or bb) and np.dtype(dtype) in (
                        np.float32, np.float64)
                    if folded:
                        tol = 1e-5 if dtype == np.float32 else 1e-13
                        np.testing.assert_allclose(got, want, rtol=tol,
                                                   atol=tol * 10 * k)
                    else:
                        np.testing.assert_array_equal(got, want)


def test_matmul_batch_dims_that_do_not_broadcast():
    with pytest.raises(InvalidArgumentError,
                       match=r"compatible batch dimensions: \[2,3,4\] vs\. "
                             r"\[3,4,5\] \[Op:MatMul\]"):
        tf.matmul(tf.ones((2, 3, 4)), tf.ones((3, 4, 5)))


@pytest.mark.parametrize("dtype", [tf.float16, tf.float32, tf.float64])
def test_svd_of_matrices_with_nan_or_inf_is_nan_and_terminates(dtype):
    # LAPACK's SVD never returns on NaN/inf input (found by the catalogue's
    # extreme-values test hanging); those matrices give NaN, the rest of the
    # batch is unaffected, and the gradient follows.
    x = np.random.default_rng(0).random((3, 4, 3))
    x[1, 0, 0] = np.nan
    x[2, 1, 1] = np.inf
    xt = tf.constant(x, dtype)
    s, u, v = tf.linalg.svd(xt)
    for out in (s, u, v):
        flat = out.numpy().reshape(3, -1)
        assert not np.isnan(flat[0]).any()
        assert np.isnan(flat[1:]).all()
    np.testing.assert_allclose(s.numpy()[0].astype(np.float64),
                               np.linalg.svd(x[0], compute_uv=False),
                               rtol=1e-2 if dtype == tf.float16 else 1e-5)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.reduce_sum(tf.norm(xt, ord=2, axis=[-2, -1]))
    g = tape.gradient(y, xt).numpy()
    assert np.isfinite(g[0]).all() and np.isnan(g[1:]).all()


def test_einsum_equation_with_a_nul_character_is_refused():
    # the C parser stopped at the NUL: 'ij,jk->ik\x00junk' ran as 'ij,jk->ik'
    with pytest.raises(InvalidArgumentError, match="a NUL character"):
        tf.einsum("ij,jk->ik\x00junk", tf.ones((2, 2)), tf.ones((2, 2)))
