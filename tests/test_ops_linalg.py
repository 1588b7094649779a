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
    with pytest.raises(InvalidArgumentError, match="num_rows"):
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
    with pytest.raises(ValueError, match="spectral"):
        tf.norm(x, ord=2, axis=(0, 1))


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


# ---- matmul: NumPy's own loop, called directly --------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32,
                                   np.int64])
def test_matmul_equals_numpy_for_batches_transposes_and_empty_dims(dtype, rng):
    # past 128 multiply-adds (and for every batch) tapegrad runs np.matmul's
    # inner loop on its own buffers: the results are NumPy's, bit for bit
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
                    np.testing.assert_array_equal(got, want)


def test_matmul_batch_dims_that_do_not_broadcast():
    with pytest.raises(InvalidArgumentError,
                       match=r"compatible batch dimensions: \[2,3,4\] vs\. "
                             r"\[3,4,5\] \[Op:MatMul\]"):
        tf.matmul(tf.ones((2, 3, 4)), tf.ones((3, 4, 5)))
