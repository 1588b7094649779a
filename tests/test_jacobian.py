"""GradientTape.jacobian and batch_jacobian: TF's API, documented values
(tf_semantics.md §1.8-1.9 and the advanced-autodiff guide's cells 38-82),
errors, and the claim that a Jacobian is one batched sweep.

Per-row correctness (every vjp batched against itself unbatched, and
jacobian() against one-hot gradients) is generated from the op table in
test_ops_table_modes.py; this file tests the API around it.
"""
import re

import numpy as np
import pytest

import tapegrad as tf


def dense(x, kernel, bias, act=tf.nn.relu):
    return act(tf.matmul(x, kernel) + bias)


# ---- documented values ----------------------------------------------------------
def test_jacobian_of_square_is_diagonal():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
    j = g.jacobian(y, x)
    assert j.shape == (2, 2)
    np.testing.assert_array_equal(j.numpy(), [[2.0, 0.0], [0.0, 4.0]])


def test_batch_jacobian_doc_example():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
    jb = g.batch_jacobian(y, x)
    np.testing.assert_array_equal(
        jb.numpy(), [[[2, 0], [0, 4]], [[6, 0], [0, 8]]])


def test_jacobian_inside_the_tape_scope():
    # TF's testJacobianInsideGradientTapeScope: 4 x^3 at 3
    with tf.GradientTape() as g:
        x = tf.constant(3.0)
        g.watch(x)
        y = x * x
        z = y * y
        assert float(g.jacobian(z, x)) == 108.0


def test_guide_scalar_source_gives_target_shape():
    # advanced guide cells 38-40
    x = tf.linspace(-10.0, 10.0, 201)
    delta = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        y = tf.nn.sigmoid(x + delta)
    dy_dx = tape.jacobian(y, delta)
    assert y.shape == (201,) and dy_dx.shape == (201,)
    s = 1 / (1 + np.exp(-np.linspace(-10, 10, 201)))
    np.testing.assert_allclose(dy_dx.numpy(), s * (1 - s), rtol=1e-5,
                               atol=1e-7)


def test_guide_jacobian_of_a_layer_sums_to_its_gradient(rng):
    # cells 44-50: j.shape (7, 10, 5, 10); reduce_sum(j, [0, 1]) == gradient
    x = tf.constant(rng.standard_normal((7, 5)).astype(np.float32))
    kernel = tf.Variable(rng.standard_normal((5, 10)).astype(np.float32))
    bias = tf.Variable(np.zeros(10, np.float32))
    with tf.GradientTape(persistent=True) as tape:
        y = dense(x, kernel, bias)
    j = tape.jacobian(y, kernel)
    assert y.shape == (7, 10) and j.shape == (7, 10, 5, 10)
    g = tape.gradient(y, kernel)
    delta = tf.reduce_max(tf.abs(g - tf.reduce_sum(j, axis=[0, 1]))).numpy()
    assert delta < 1e-3
    # and entry by entry: d y[b, o] / d kernel[i, o'] = x[b, i] [o == o'] relu'
    mask = (y.numpy() > 0).astype(np.float32)
    want = np.einsum("bi,bo,op->bopi", x.numpy(), mask, np.eye(10)) \
        .transpose(0, 1, 3, 2)
    np.testing.assert_allclose(j.numpy(), want, rtol=1e-6, atol=1e-6)


def test_guide_hessian_and_newton_step(rng):
    # cells 53-63: h = jacobian of a gradient taken under an outer tape
    x = tf.constant(rng.standard_normal((7, 5)), dtype=tf.float64)
    k1 = tf.Variable(rng.standard_normal((5, 8)) * 0.5)
    k2 = tf.Variable(rng.standard_normal((8, 6)) * 0.5)

    def loss_of(k1v):
        h = tf.nn.elu(tf.matmul(x, k1v))
        return tf.reduce_mean(tf.nn.elu(tf.matmul(h, k2)) ** 2)

    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            loss = loss_of(k1)
        g = t1.gradient(loss, k1)
    h = t2.jacobian(g, k1)
    assert h.shape == (5, 8, 5, 8)
    n = int(tf.reduce_prod(k1.shape))
    assert n == 40
    h_mat = tf.reshape(h, [n, n]).numpy()
    np.testing.assert_allclose(h_mat, h_mat.T, rtol=1e-8, atol=1e-10)
    # against central differences of the gradient
    base = k1.numpy()
    eps = 1e-6
    for p in (0, 13, 39):
        d = np.zeros(n)
        d[p] = eps
        grads = []
        for sgn in (1, -1):
            kv = tf.constant(base + sgn * d.reshape(5, 8))
            with tf.GradientTape() as t:
                t.watch(kv)
                lv = loss_of(kv)
            grads.append(t.gradient(lv, kv).numpy().reshape(-1))
        fd = (grads[0] - grads[1]) / (2 * eps)
        np.testing.assert_allclose(h_mat[:, p], fd, rtol=1e-5, atol=1e-7)
    # the guide's Newton step runs
    eye_eps = tf.eye(h_mat.shape[0], dtype=tf.float64) * 1e-3
    update = tf.linalg.solve(tf.constant(h_mat) + eye_eps,
                             tf.reshape(g, [n, 1]))
    k1.assign_sub(tf.reshape(update, k1.shape))


def test_guide_batch_jacobian_equals_the_diagonal_of_the_jacobian(rng):
    # cells 67-77: j (7, 6, 7, 5); jb (7, 6, 5) == einsum('bxby->bxy', j)
    x = tf.constant(rng.standard_normal((7, 5)).astype(np.float32))
    k1 = tf.constant(rng.standard_normal((5, 8)).astype(np.float32))
    k2 = tf.constant(rng.standard_normal((8, 6)).astype(np.float32))
    with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
        tape.watch(x)
        y = tf.nn.elu(tf.matmul(tf.nn.elu(tf.matmul(x, k1)), k2))
    j = tape.jacobian(y, x)
    assert j.shape == (7, 6, 7, 5)
    assert tf.reduce_sum(j, axis=2).shape == (7, 6, 5)
    j_sum = tf.einsum("bxby->bxy", j)
    jb = tape.batch_jacobian(y, x)
    assert jb.shape == (7, 6, 5)
    assert float(tf.reduce_max(tf.abs(jb - j_sum))) < 1e-6
    jb_loop = tape.batch_jacobian(y, x, experimental_use_pfor=False)
    np.testing.assert_allclose(jb_loop.numpy(), jb.numpy(), rtol=1e-6,
                               atol=1e-7)
    # the off-diagonal (batch, batch) blocks are zero
    off = j.numpy().copy()
    for b in range(7):
        off[b, :, b, :] = 0
    assert not off.any()


def test_nested_sources_keep_their_structure():
    a = tf.Variable([1.0, 2.0])
    b = tf.Variable(3.0)
    with tf.GradientTape() as g:
        y = a * b
    j = g.jacobian(y, {"b": b, "a": [a]})
    assert set(j) == {"a", "b"} and isinstance(j["a"], list)
    np.testing.assert_array_equal(j["a"][0].numpy(), [[3, 0], [0, 3]])
    np.testing.assert_array_equal(j["b"].numpy(), [1, 2])


def test_rank_two_target_and_source_shapes(rng):
    x = tf.constant(rng.standard_normal((2, 3)))
    with tf.GradientTape() as g:
        g.watch(x)
        y = tf.transpose(tf.sin(x))
    j = g.jacobian(y, x)
    assert j.shape == (3, 2, 2, 3)
    want = np.zeros((3, 2, 2, 3))
    for i in range(2):
        for k in range(3):
            want[k, i, i, k] = np.cos(x.numpy()[i, k])
    np.testing.assert_allclose(j.numpy(), want, rtol=1e-12)


def test_jacobian_of_a_scalar_is_the_gradient(rng):
    x = tf.constant(rng.standard_normal(4))
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        y = tf.reduce_sum(x ** 3)
    np.testing.assert_allclose(g.jacobian(y, x).numpy(),
                               g.gradient(y, x).numpy())


# ---- unconnected, dtypes -------------------------------------------------------
def test_unconnected_sources():
    x = tf.constant([1.0, 2.0])
    z = tf.constant([[1.0, 2.0, 3.0]])
    with tf.GradientTape(persistent=True) as g:
        g.watch([x, z])
        y = x * 2.0
    assert g.jacobian(y, z) is None
    jz = g.jacobian(y, z, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert jz.shape == (2, 1, 3) and not jz.numpy().any()
    assert g.jacobian(y, [x, z], unconnected_gradients="zero")[1].shape == (2, 1, 3)
    assert g.jacobian(y, z, experimental_use_pfor=False) is None


def test_batch_jacobian_of_an_unconnected_target_is_zeros():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    other = tf.constant([[1.0], [2.0]])
    with tf.GradientTape(persistent=True) as g:
        g.watch([x, other])
        y = other * 3.0
    # TF: zeros whatever unconnected_gradients says (backward compatibility)
    for mode in ("none", "zero"):
        jb = g.batch_jacobian(y, x, unconnected_gradients=mode)
        assert jb.shape == (2, 1, 2) and jb.dtype == tf.float32
        assert not jb.numpy().any()


@pytest.mark.filterwarnings("ignore:The dtype of the watched tensor")
def test_integer_target_has_no_jacobian():
    x = tf.constant([1, 2])
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * 2
    assert g.jacobian(y, x) is None


def test_float64_and_float16(rng):
    for dt in (tf.float64, tf.float16):
        x = tf.constant([0.5, 1.5], dtype=dt)
        with tf.GradientTape() as g:
            g.watch(x)
            y = tf.exp(x)
        j = g.jacobian(y, x)
        assert j.dtype == dt
        np.testing.assert_allclose(j.numpy().astype(np.float64),
                                   np.diag(np.exp([0.5, 1.5])), rtol=1e-3)


def test_zero_size_target():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as g:
        g.watch(x)
        y = x[:0] * 2.0
    j = g.jacobian(y, x)
    assert j.shape == (0, 2)


# ---- one sweep -------------------------------------------------------------------
def _recorded_entries(n):
    x = tf.constant(np.linspace(0.1, 1.0, n))
    with tf.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.tanh(x) * x
        inner.jacobian(y, x)
        return outer._num_entries


def test_a_jacobian_is_one_sweep_whatever_the_target_size():
    # every op of the sweep is recorded on the outer tape: a loop of
    # gradients would record n times as many
    assert _recorded_entries(3) == _recorded_entries(40)


def test_looping_jacobian_sweeps_once_per_element(rng):
    calls = []

    @tf.custom_gradient
    def f(x):
        def grad(dy):
            calls.append(tuple(dy.shape))
            return dy * 2.0
        return tf.identity(x), grad

    x = tf.constant(rng.standard_normal(3))
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        y = f(x)
    j = g.jacobian(y, x, experimental_use_pfor=False)
    np.testing.assert_array_equal(j.numpy(), 2 * np.eye(3))
    assert calls == [(3,)] * 3


def test_custom_gradient_grad_fn_is_called_once_per_batch_element(rng):
    calls = []

    @tf.custom_gradient
    def cube(x):
        def grad(dy):
            calls.append(tuple(dy.shape))
            return dy * 3.0 * x * x
        return x * x * x, grad

    x = tf.constant(rng.standard_normal(4))
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        y = tf.sin(cube(x))
    j = g.jacobian(y, x)
    xv = x.numpy()
    np.testing.assert_allclose(j.numpy(),
                               np.diag(np.cos(xv ** 3) * 3 * xv ** 2),
                               rtol=1e-12)
    assert calls == [(4,)] * 4        # unbatched cotangents, one per row
    # and it differentiates again: the Hessian of sin(x^3)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.sin(cube(x))
        j = inner.jacobian(y, x)
    h = outer.jacobian(j, x)
    d2 = 6 * xv * np.cos(xv ** 3) - 9 * xv ** 4 * np.sin(xv ** 3)
    want = np.zeros((4, 4, 4))
    for i in range(4):
        want[i, i, i] = d2[i]
    np.testing.assert_allclose(h.numpy(), want, rtol=1e-10, atol=1e-12)


# ---- errors -------------------------------------------------------------------------
USED = ("A non-persistent GradientTape can only be used to compute one set "
        "of gradients (or jacobians)")


@pytest.mark.parametrize("first", ["gradient", "jacobian", "batch_jacobian"])
@pytest.mark.parametrize("second", ["gradient", "jacobian", "batch_jacobian"])
def test_non_persistent_tape_allows_one_call(first, second):
    x = tf.constant([[1.0, 2.0]])
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
    getattr(g, first)(y, x)
    with pytest.raises(RuntimeError, match=re.escape(USED)):
        getattr(g, second)(y, x)


def test_use_pfor_false_needs_a_persistent_tape():
    x = tf.constant([[1.0, 2.0]])
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
    with pytest.raises(RuntimeError) as ei:
        g.jacobian(y, x, experimental_use_pfor=False)
    assert str(ei.value) == (
        "GradientTape must be created with persistent=True to compute the "
        "jacobian with eager execution enabled and with  "
        "experimental_use_pfor set to False.")
    with pytest.raises(RuntimeError) as ei:
        g.batch_jacobian(y, x, experimental_use_pfor=False)
    assert str(ei.value) == (
        "GradientTape must be created with persistent=True to compute the "
        "batch_jacobian with eager execution enabled and  with "
        "experimental_use_pfor set to False.")
    # the failed calls did not use the tape up
    np.testing.assert_array_equal(g.jacobian(y, x).numpy().reshape(2, 2),
                                  [[2, 0], [0, 4]])


@pytest.mark.parametrize("ts,ss,msg", [
    ((2,), (2, 3), "Shape (2,) must have rank at least 2"),
    ((2, 3), (2,), "Shape (2,) must have rank at least 2"),
    ((4, 3), (2, 3), "Need first dimension of target shape ((4, 3)) and "
                     "source shape ((2, 3)) to match."),
])
def test_batch_jacobian_shape_checks(ts, ss, msg):
    x = tf.constant(np.ones(ss, np.float32))
    t = tf.constant(np.ones(ts, np.float32))
    with tf.GradientTape() as g:
        g.watch([x, t])
        y = t * 2.0
    with pytest.raises(ValueError) as ei:
        g.batch_jacobian(y, x)
    assert str(ei.value) == msg


def test_non_tensor_target_or_source_is_a_type_error():
    x = tf.constant([1.0])
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        y = x * 2.0
    with pytest.raises(TypeError, match="jacobian"):
        g.jacobian([y, y], x)
    with pytest.raises(TypeError, match="source"):
        g.jacobian(y, [x, "nope"])
    with pytest.raises(TypeError, match="batch_jacobian"):
        g.batch_jacobian(y, 3.0)
    with pytest.raises(ValueError, match="unconnected_gradients"):
        g.jacobian(y, x, unconnected_gradients="sometimes")


# ---- the matmul paths a batched sweep takes (kernels.c) --------------------------
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_one_matrix_times_a_batch_of_vectors(dt, ta, tb, rng):
    """out[b] = op(a) @ op(v[b]): one product for the batch, and the
    one-hot shortcut (rows with at most one nonzero) where it applies."""
    m, k, nb = 4, 5, 6
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dt)
    dense = rng.standard_normal((nb, k)).astype(dt)
    onehot = np.zeros((nb, k), dt)
    onehot[np.arange(nb), [0, 3, 4, 1, 1, 2]] = rng.standard_normal(nb)
    onehot[2] = 0                                   # a zero row
    for v in (dense, onehot):
        vb = v.reshape(nb, 1, k) if tb else v.reshape(nb, k, 1)
        got = tf.matmul(tf.constant(a), tf.constant(vb), transpose_a=ta,
                        transpose_b=tb).numpy()
        opa = a.T if ta else a
        want = np.stack([opa @ v[i].reshape(k, 1) for i in range(nb)])
        assert got.shape == (nb, m, 1) and got.dtype == dt
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
def test_one_hot_shortcut_gives_up_midway_correctly(dt, ta, rng):
    """A batch whose first rows are one-hot and a later one is not: the
    shortcut has written some rows when it finds out, and the product it
    falls back to must still give every row; NaN counts as a nonzero."""
    m, k, nb = 3, 6, 5
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dt)
    opa = a.T if ta else a
    for bad_row, bad in [(3, [1.0, 2.0]), (4, [np.nan, 0.5]), (0, [1, 1])]:
        v = np.zeros((nb, k), dt)
        v[np.arange(nb), [1, 0, 5, 2, 4]] = rng.standard_normal(nb)
        v[bad_row, :2] = bad
        got = tf.matmul(tf.constant(a), tf.constant(v.reshape(nb, k, 1)),
                        transpose_a=ta).numpy()
        want = np.stack([opa @ v[i].reshape(k, 1) for i in range(nb)])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # a NaN alone in a row is one nonzero: its column times NaN
    v = np.zeros((2, k, 1), dt)
    v[0, 2, 0] = np.nan
    v[1, 5, 0] = 2.0
    got = tf.matmul(tf.constant(a), tf.constant(v), transpose_a=ta).numpy()
    assert np.isnan(got[0]).all()
    np.testing.assert_allclose(got[1, :, 0], 2.0 * opa[:, 5], rtol=1e-6)


def test_one_hot_shortcut_keeps_nan_from_infinite_entries():
    a = np.array([[1.0, np.inf], [2.0, 3.0]])
    v = np.zeros((2, 2, 1))
    v[0, 0, 0] = 1.0            # picks column 0; inf * 0 is NaN in a product
    v[1, 1, 0] = 2.0
    got = tf.matmul(tf.constant(a), tf.constant(v)).numpy()
    with np.errstate(invalid="ignore"):
        want = np.matmul(a, v)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


@pytest.mark.parametrize("tb", [False, True])
def test_a_batch_of_matrices_times_one_matrix(tb, rng):
    a = rng.standard_normal((3, 2, 4, 5))
    b = rng.standard_normal((6, 5) if tb else (5, 6))
    got = tf.matmul(tf.constant(a), tf.constant(b), transpose_b=tb).numpy()
    np.testing.assert_allclose(got, a @ (b.T if tb else b), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:The dtype of the watched tensor")
@pytest.mark.parametrize("pfor", [True, False])
def test_integer_and_bool_targets_either_way(pfor):
    # found by fuzzing: the looping path wrote a float one-hot seed into
    # an int32 target's buffer
    x = tf.constant([1.0, 2.0])
    for target in (tf.constant([1, 2, 3]), tf.constant([True, False])):
        with tf.GradientTape(persistent=True) as g:
            g.watch([x, target])
        assert g.jacobian(target, x, experimental_use_pfor=pfor) is None
        z = g.jacobian(target, x, unconnected_gradients="zero",
                       experimental_use_pfor=pfor)
        assert z.shape == tuple(target.shape) + (2,) and not z.numpy().any()
        t2 = tf.reshape(target, [-1, 1])
        jb = g.batch_jacobian(t2, tf.ones((t2.shape[0], 2)),
                              experimental_use_pfor=pfor)
        assert jb.shape == (t2.shape[0], 1, 2) and not jb.numpy().any()


def test_looping_jacobian_fills_zeros_where_grad_fn_gives_none():
    # review: the looping path stacked a None where the one sweep gave zeros
    @tf.custom_gradient
    def f(x):
        def grad(dy):
            return None if float(tf.reduce_sum(dy * [1.0, 0.0])) else dy * 2.0
        return tf.identity(x), grad

    x = tf.constant([1.0, 2.0])
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        y = f(x)
    for pfor in (True, False):
        j = g.jacobian(y, x, experimental_use_pfor=pfor)
        np.testing.assert_array_equal(j.numpy(), [[0.0, 0.0], [0.0, 2.0]])


def test_rank_limits_are_named():
    x = tf.ones([1] * 32)
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        y = tf.reduce_sum(x)
    np.testing.assert_array_equal(g.gradient(y, x).numpy(), np.ones([1] * 32))
    with pytest.raises(ValueError, match="at most 32"):
        g.jacobian(y, x)
    with pytest.raises(ValueError, match="at most 32"):
        g.jacobian(x, y)
