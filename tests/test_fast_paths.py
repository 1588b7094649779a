"""The shortcuts the elementwise 1e6 benchmark (issue 15) takes give the
values the general paths give, and never let one tensor's bytes reach
another's:

- pow by a constant 2, 1 or -1 runs square, a view or reciprocal instead
  of NumPy's power loop: the same values as np.power everywhere (signed
  zeros, infinities, NaN, subnormals), and the same gradients;
- known ones (a sweep's seed, a fill or broadcast of ones, reduce_sum's
  vjp of a seed, which views one shared buffer of ones): multiply by them
  is a view of the other factor, and nothing a user does with such a
  tensor (a Variable made from it and updated in place, a DLPack export
  written through) changes the ones the next sweep gets;
- gradient contributions summed in place when no tape records the sweep:
  the sums the recorded path gives, higher orders through nested tapes
  unchanged, and a tensor the user still holds never overwritten.
"""
import numpy as np
import pytest

import tapegrad as tf

N = 4096  # above every size threshold of the shortcuts

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0e38, -3.0e38, 1.0e-40,
           -1.0e-40, np.inf, -np.inf, np.nan, 7.25, -1.0e-3]


def special(dtype, n=N):
    vals = np.array(SPECIAL, dtype=dtype)
    rng = np.random.default_rng(0)
    rest = rng.standard_normal(n - len(vals)).astype(dtype) * 10
    return np.concatenate([vals, rest])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exponent", [2.0, 1.0, -1.0, 3.0, 0.5])
@pytest.mark.parametrize("n", [1, 5, N])
def test_pow_by_constant_matches_numpy(dtype, exponent, n):
    x = special(dtype, max(n, len(SPECIAL)))[:n]
    with np.errstate(all="ignore"):
        want = np.power(x, dtype(exponent))
    for got in (tf.pow(tf.constant(x), exponent),
                tf.constant(x) ** exponent,
                tf.pow(tf.constant(x), tf.constant(exponent, dtype=dtype))):
        assert got.dtype.as_numpy_dtype == dtype
        np.testing.assert_array_equal(got.numpy(), want)
        # bit for bit, signs of zeros included
        assert np.array_equal(np.signbit(got.numpy()), np.signbit(want))


def test_pow_by_one_is_a_new_tensor_with_the_same_values():
    x = tf.constant(special(np.float32))
    y = x ** 1.0
    assert y is not x
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    # still recorded as a power: its gradient is 1 * x**0
    v = tf.Variable(np.linspace(0.5, 2.0, N).astype(np.float32))
    with tf.GradientTape() as t:
        s = tf.reduce_sum(v ** 1.0)
    np.testing.assert_array_equal(t.gradient(s, v).numpy(), np.ones(N))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_square_gradients_to_second_order(dtype):
    xn = np.linspace(-3.0, 3.0, N).astype(dtype)
    x = tf.constant(xn)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(x ** 2.0 + x ** -1.0)
        g = inner.gradient(y, x)
    h = outer.gradient(g, x)
    np.testing.assert_allclose(g.numpy(), 2 * xn - xn ** -2.0, rtol=1e-6)
    np.testing.assert_allclose(h.numpy(), 2 + 2 * xn ** -3.0, rtol=1e-5)


def elementwise_loss(x):
    return tf.reduce_sum(tf.sin(x) * x + x ** 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_benchmark_gradient_is_the_hand_derivative(dtype):
    xn = np.random.default_rng(1).standard_normal(N).astype(dtype)
    x = tf.Variable(xn)
    with tf.GradientTape() as t:
        loss = elementwise_loss(x)
    g = t.gradient(loss, x).numpy()
    want = np.cos(xn) * xn + np.sin(xn) + 2 * xn
    np.testing.assert_allclose(g, want, rtol=2e-6 if dtype == np.float32
                               else 1e-13, atol=1e-6)
    # the same sums as when an outer tape records the sweep (no in-place
    # accumulation, no views): bit for bit
    with tf.GradientTape() as outer:
        with tf.GradientTape() as t:
            loss = elementwise_loss(x)
        g_recorded = t.gradient(loss, x).numpy()
    np.testing.assert_array_equal(g, g_recorded)


def test_multiply_by_known_ones_is_the_other_factor():
    x = tf.constant(special(np.float32))
    for ones in (tf.ones([N]), tf.ones_like(x), tf.fill([N], 1.0)):
        for y in (ones * x, x * ones):
            np.testing.assert_array_equal(y.numpy(), x.numpy())
    # a fill of another value is multiplied as usual
    with np.errstate(over="ignore"):
        want = 2 * x.numpy()
    np.testing.assert_array_equal((tf.fill([N], 2.0) * x).numpy(), want)


def ones_gradient():
    x = tf.Variable(np.zeros(N, np.float32))
    with tf.GradientTape() as t:
        s = tf.reduce_sum(x)
    return t.gradient(s, x)


def test_shared_ones_survive_a_variable_updated_in_place():
    g = ones_gradient()
    v = tf.Variable(g)
    del g
    opt = tf.keras.optimizers.SGD(learning_rate=1.0)
    for _ in range(2):
        opt.apply_gradients([(tf.fill([N], 3.0), v)])
    np.testing.assert_array_equal(v.numpy(), np.full(N, -5.0, np.float32))
    v.assign_add(tf.fill([N], 1.0))
    np.testing.assert_array_equal(ones_gradient().numpy(), np.ones(N))


def test_shared_ones_survive_writes_through_an_export():
    g = ones_gradient()
    assert not np.asarray(g).flags.writeable
    arr = np.from_dlpack(g)
    if arr.flags.writeable:
        arr[:] = 5.0
    del arr
    torch = pytest.importorskip("torch")
    t = torch.from_dlpack(g)
    try:
        t.add_(7.0)
    except RuntimeError:
        pass  # a consumer that honours read-only
    np.testing.assert_array_equal(g.numpy(), np.ones(N))
    np.testing.assert_array_equal(ones_gradient().numpy(), np.ones(N))


def test_summing_in_place_never_touches_a_tensor_the_user_holds():
    held = tf.constant(np.arange(N, dtype=np.float32))
    before = held.numpy().copy()

    @tf.custom_gradient
    def twice(a, b):
        def grad(dy):
            return held, held   # the same tensor reaches x twice
        return a + b, grad

    x = tf.Variable(np.ones(N, np.float32))
    with tf.GradientTape() as t:
        y = tf.reduce_sum(twice(x, x) * x)
    g = t.gradient(y, x)
    np.testing.assert_array_equal(held.numpy(), before)
    np.testing.assert_array_equal(g.numpy(), 2 * before + 2)


def test_persistent_tape_gives_the_same_gradient_twice():
    xn = np.random.default_rng(2).standard_normal(N).astype(np.float32)
    x = tf.Variable(xn)
    with tf.GradientTape(persistent=True) as t:
        loss = elementwise_loss(x) + tf.reduce_sum(x * x * x)
    g1 = t.gradient(loss, x).numpy()
    g2 = t.gradient(loss, x).numpy()
    np.testing.assert_array_equal(g1, g2)
    del t
