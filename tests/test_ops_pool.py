"""tf.nn pooling (tapegrad/_pool.py over the rows of src/ops_pool.def):
what the generated table tests cannot see -- the first-maximum rule on
ties, the front ends' data formats and ksize/strides forms, TF's errors,
and gradients of every order through the public functions."""
import numpy as np
import pytest

import refs_pool
import tapegrad as tf


IAE = tf.errors.InvalidArgumentError


def _nhwc(x, n):
    return np.moveaxis(x, 1, n + 1)


def test_ties_send_the_gradient_to_the_first_maximum():
    # windows [1, 3, 3] and [3, 3, 2] both pick the first 3 (TF's CPU rule)
    x = tf.constant([[[1.0], [3.0], [3.0], [2.0]]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.max_pool1d(x, 3, 1, "VALID")
    np.testing.assert_array_equal(y.numpy().ravel(), [3, 3])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy().ravel(),
                                  [0, 2, 0, 0])


def test_ties_in_two_dimensions_are_row_major():
    x = np.zeros((1, 2, 2, 1))
    x[0, 0, 1, 0] = x[0, 1, 0, 0] = 5.0       # equal maxima
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.max_pool2d(xt, 2, 2, "VALID")
    g = tape.gradient(y, xt).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(g, [[0, 1], [0, 0]])


def test_all_equal_window_second_order_gathers_at_the_first():
    x = tf.constant(np.ones((1, 3, 3, 1)))
    with tf.GradientTape() as outer:
        g = tf.ones((1, 1, 1, 1), dtype=tf.float64)
        outer.watch(g)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.nn.max_pool2d(x, 3, 1, "VALID")
        dx = inner.gradient(y, x, output_gradients=g)
        z = tf.reduce_sum(dx * tf.constant(np.arange(9.0).reshape(1, 3, 3, 1)))
    np.testing.assert_array_equal(outer.gradient(z, g).numpy().ravel(), [0.0])


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("n,fmt", [(1, "NCW"), (2, "NCHW"), (3, "NCDHW")])
def test_channels_first_matches_channels_last(kind, n, fmt):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3) + (5,) * n)
    ks, st = [2] * n, [1] + [2] * (n - 1)
    generic = getattr(tf.nn, kind + "_pool")
    fixed = getattr(tf.nn, "%s_pool%dd" % (kind, n))
    want = getattr(refs_pool, kind + "_pool")(_nhwc(x, n), ks, st, "SAME")
    for y in (generic(x, ks, st, "SAME", data_format=fmt),
              fixed(x, [1, 1] + ks, [1, 1] + st, "SAME", data_format=fmt)):
        np.testing.assert_allclose(_nhwc(y.numpy(), n), want, rtol=1e-12)


@pytest.mark.parametrize("ksize", [2, [2], [2, 2], [1, 2, 2, 1], (2, 2)])
def test_ksize_forms(ksize):
    x = np.arange(32.0).reshape(1, 4, 4, 2)
    y = tf.nn.avg_pool(x, ksize, ksize, "VALID")
    np.testing.assert_allclose(
        y.numpy(), refs_pool.avg_pool(x, [2, 2], [2, 2], "VALID"))


def test_avg_pool_same_divides_by_the_in_bounds_count():
    x = np.ones((1, 3, 3, 1))
    y = tf.nn.avg_pool2d(x, 2, 2, "SAME").numpy()
    np.testing.assert_array_equal(y, np.ones((1, 2, 2, 1)))


def test_float16_and_float32_keep_their_dtype():
    x = np.random.default_rng(1).random((1, 4, 4, 2))
    for dt in ("float16", "float32"):
        for f in (tf.nn.max_pool2d, tf.nn.avg_pool2d):
            y = f(tf.constant(x.astype(dt)), 2, 2, "VALID")
            assert y.dtype.name == dt
            want = f(tf.constant(x), 2, 2, "VALID").numpy()
            np.testing.assert_allclose(y.numpy(), want, rtol=1e-3, atol=1e-3)


def test_third_order_through_nested_tapes():
    rng = np.random.default_rng(2)
    x = tf.constant(refs_pool.pool_distinct([rng.random((1, 4, 4, 1))])[0])
    for pool in (tf.nn.avg_pool2d, tf.nn.max_pool2d):
        with tf.GradientTape() as t3:
            t3.watch(x)
            with tf.GradientTape() as t2:
                t2.watch(x)
                with tf.GradientTape() as t1:
                    t1.watch(x)
                    y = tf.reduce_sum(pool(x, 2, 1, "SAME") ** 3)
                s1 = tf.reduce_sum(t1.gradient(y, x) ** 2)
            s2 = tf.reduce_sum(t2.gradient(s1, x))
        g3 = t3.gradient(s2, x)
        # y = sum p^3 with p linear in x on each piece: d3/dx3 of the
        # composite is a polynomial's, finite and nonzero
        assert g3.shape == x.shape and np.all(np.isfinite(g3.numpy()))
        assert np.any(g3.numpy() != 0)


def test_jacobian_of_max_pool_is_one_hot_rows():
    x = tf.constant(refs_pool.pool_distinct(
        [np.random.default_rng(3).random((1, 4, 4, 1))])[0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.max_pool2d(x, 2, 2, "VALID")
    j = tape.jacobian(y, x).numpy().reshape(4, 16)
    np.testing.assert_array_equal(j.sum(axis=1), np.ones(4))
    assert set(np.unique(j)) <= {0.0, 1.0}


@pytest.mark.parametrize("call,exc,msg", [
    (lambda x: tf.nn.max_pool2d(x, 0, 1, "VALID"), IAE,
     "Sliding window ksize for dimension 1 was zero. [Op:MaxPool]"),
    (lambda x: tf.nn.avg_pool2d(x, 2, 0, "VALID"), IAE,
     "Stride must be > 0, but got 0 [Op:AvgPool]"),
    (lambda x: tf.nn.max_pool2d(x, 6, 1, "VALID"), IAE,
     "Computed output size would be negative: -1 [input_size: 4, "
     "effective_filter_size: 6, stride: 1] [Op:MaxPool]"),
    (lambda x: tf.nn.max_pool2d(x, 2, 1, "same"), IAE,
     "Value for attr 'padding' of \"same\" is not in the list of allowed "
     "values: \"SAME\", \"VALID\" [Op:MaxPool]"),
    (lambda x: tf.nn.max_pool(x, 2, 1, "VALID", data_format="NWC"),
     IAE,
     "Value for attr 'data_format' of \"NWC\" is not in the list of allowed "
     "values: \"NHWC\", \"NCHW\", \"NCHW_VECT_C\" [Op:MaxPool]"),
    # found by fuzz_ops: a non-string data_format was an AttributeError
    (lambda x: tf.nn.max_pool(x, 2, 1, "VALID", data_format=1.0),
     IAE,
     "Value for attr 'data_format' of \"1.0\" is not in the list of allowed "
     "values: \"NHWC\", \"NCHW\", \"NCHW_VECT_C\" [Op:MaxPool]"),
    (lambda x: tf.nn.max_pool(x[0, 0], 2, 1, "VALID"), ValueError,
     "`input.shape.rank` must be 3, 4 or 5. Received: input.shape=(4, 1) of "
     "rank 2."),
    (lambda x: tf.nn.avg_pool2d(x, [2, 2, 2], 1, "VALID"), ValueError,
     "ksize should be of length 1, 2 or 4. Received: ksize=[2, 2, 2] of "
     "length 3"),
    (lambda x: tf.nn.max_pool3d(x, 2, 1, "VALID"), IAE,
     "tensor_in must be 5-dimensional [Op:MaxPool3D]"),
    (lambda x: tf.nn.max_pool2d(x, [2, 2, 2, 1], 1, "VALID"),
     IAE,
     "Pooling is not yet supported on the batch dimension. [Op:MaxPool]"),
])
def test_errors_are_tfs(call, exc, msg):
    x = tf.constant(np.ones((1, 4, 4, 1)))
    with pytest.raises(exc) as e:
        call(x)
    assert str(e.value) == msg


def test_padding_must_be_a_string():
    with pytest.raises(TypeError, match="Expected string for argument "
                                        "'padding'"):
        tf.nn.max_pool2d(np.ones((1, 4, 4, 1)), 2, 1, 3)


def test_names_are_in_tf_nn():
    for name in ("max_pool", "avg_pool", "max_pool1d", "max_pool2d",
                 "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d"):
        assert name in tf.nn.__all__ and callable(getattr(tf.nn, name))


def test_explicit_padding_of_max_pool_is_minus_infinity():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 5, 3))
    pads = [[0, 0], [1, 0], [2, 1], [0, 0]]
    xp = np.pad(x, pads, constant_values=-np.inf)
    want = refs_pool.max_pool(xp, [3, 3], [2, 1], "VALID")
    np.testing.assert_array_equal(
        tf.nn.max_pool2d(x, [3, 3], [2, 1], pads).numpy(), want)
    xc = tf.constant(np.moveaxis(x, -1, 1))
    y = tf.nn.max_pool(xc, [3, 3], [2, 1], [[0, 0], [0, 0], [1, 0], [2, 1]],
                       data_format="NCHW")
    np.testing.assert_array_equal(np.moveaxis(y.numpy(), 1, -1), want)
    # SAME's padding written out gives SAME's result
    np.testing.assert_array_equal(
        tf.nn.max_pool1d(x[:, 0], 3, 1, [[0, 0], [1, 1], [0, 0]]).numpy(),
        tf.nn.max_pool1d(x[:, 0], 3, 1, "SAME").numpy())
    # and the gradient never reaches the padding
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.max_pool2d(xt, 3, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])
    g = tape.gradient(y, xt)
    assert g.shape == x.shape
    np.testing.assert_allclose(float(tf.reduce_sum(g)), y.shape.num_elements())


@pytest.mark.parametrize("padding,exc,msg", [
    ([[0, 0], [1, 1], [0, 0]], ValueError,
     "When padding is a list, it must be of size 4. Received: "
     "padding=[[0, 0], [1, 1], [0, 0]] of size 3"),
    ([[1, 0], [1, 1], [1, 1], [0, 0]], IAE,
     "Nonzero explicit padding in the batch or depth dimensions is not "
     "supported [Op:MaxPool]"),
    ([[0, 0], [-1, 1], [1, 1], [0, 0]], IAE,
     "All explicit padding values must be nonnegative, got -1 [Op:MaxPool]"),
    ("EXPLICIT", ValueError,
     '"EXPLICIT" is not a valid value for `padding`. To use explicit '
     'padding, `padding` must be a list.'),
])
def test_explicit_padding_errors(padding, exc, msg):
    with pytest.raises(exc) as e:
        tf.nn.max_pool2d(np.ones((1, 4, 4, 1)), 2, 1, padding)
    assert str(e.value) == msg


def test_explicit_padding_is_max_pool_1d_2d_only():
    with pytest.raises(ValueError, match="Explicit padding is not yet "
                                         "supported with an input tensor of "
                                         "rank 5"):
        tf.nn.max_pool(np.ones((1, 3, 3, 3, 1)), 2, 1, [[0, 0]] * 5)
    with pytest.raises(TypeError, match="Expected string for argument "
                                        "'padding'"):
        tf.nn.avg_pool2d(np.ones((1, 4, 4, 1)), 2, 1, [[0, 0]] * 4)


def test_huge_windows_and_strides_do_not_overflow():
    # the internal rows take any attributes through _call: the output size
    # and SAME padding are computed without sums that could wrap
    from tapegrad import _tapegrad as C
    x = tf.ones((1, 4, 4, 1))
    big = 2 ** 63 - 1
    y = C._call("avg_pool", x, ksize=[big, 1], strides=[1, 1],
                padding="SAME")
    np.testing.assert_array_equal(y.numpy(), np.ones((1, 4, 4, 1)))
    y = C._call("max_pool", x, ksize=[1, 1], strides=[big, 1],
                padding="VALID")
    assert y.shape == (1, 1, 4, 1)
    with pytest.raises(IAE, match="Computed output size would be negative"):
        C._call("max_pool", x, ksize=[big, 1], strides=[1, 1],
                padding="VALID")


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_typed_argmax_walk_agrees_with_the_generic_one(padding):
    # float32/float64 take a typed window walk, float16 the generic one:
    # small integers (exact in all three) with many ties and a NaN must
    # pick the same positions (first maximum; a NaN wins its window)
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (2, 5, 6, 3)).astype(np.float64)
    x[0, 1, 2, 1] = np.nan
    picks = []
    for dt in (tf.float16, tf.float32, tf.float64):
        xt = tf.constant(x, dtype=dt)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.nn.max_pool2d(xt, [2, 3], [1, 2], padding)
        g = tape.gradient(y, xt, output_gradients=tf.ones_like(y) * 1.0)
        picks.append((np.isnan(y.numpy()), np.nan_to_num(y.numpy()),
                      g.numpy().astype(np.float64)))
    for other in picks[1:]:
        for a, b in zip(picks[0], other):
            np.testing.assert_array_equal(a, b)
    assert picks[0][0].any()
