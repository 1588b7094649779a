"""Hand-written tests for the nn rows: what the generated table tests cannot
cover (TF's errors, gradients at special points, dropout's randomness)."""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError


def test_softmax_is_stable_for_large_logits():
    y = tf.nn.softmax(tf.constant([1000.0, 1000.0, -1000.0]))
    np.testing.assert_allclose(y.numpy(), [0.5, 0.5, 0.0])
    ls = tf.nn.log_softmax(tf.constant([1000.0, 0.0]))
    np.testing.assert_allclose(ls.numpy(), [0.0, -1000.0])


def test_softmax_axis_errors():
    with pytest.raises(InvalidArgumentError, match="axis"):
        tf.nn.softmax(tf.ones((2, 3)), axis=2)
    with pytest.raises(InvalidArgumentError, match=">= 1 dimension"):
        tf.nn.softmax(tf.constant(1.0))


def test_softmax_cross_entropy_gradients_match_tf():
    labels = tf.constant([[0.2, 0.3, 0.5]], dtype=tf.float64)
    logits = tf.constant([[1.0, 2.0, -1.0]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([labels, logits])
        loss = tf.nn.softmax_cross_entropy_with_logits(labels, logits)
    gz, gx = tape.gradient(loss, [labels, logits])
    sm = tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(gx.numpy(), sm - labels.numpy())
    np.testing.assert_allclose(gz.numpy(), -tf.nn.log_softmax(logits).numpy())
    with pytest.raises(InvalidArgumentError, match="same shape"):
        tf.nn.softmax_cross_entropy_with_logits(tf.ones((2, 3)), tf.ones((3, 3)))


def test_sigmoid_cross_entropy_is_stable_and_checks_shapes():
    y = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.constant([1.0, 0.0]), logits=tf.constant([-100.0, 100.0]))
    np.testing.assert_allclose(y.numpy(), [100.0, 100.0])
    with pytest.raises(ValueError, match="same shape"):
        tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones((2,)), logits=tf.ones((3,)))


def test_clip_by_norm_gradient_at_zero_is_finite():
    t = tf.zeros((3,))
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = tf.clip_by_norm(t, 1.0)
    np.testing.assert_array_equal(tape.gradient(y, t).numpy(), [1.0, 1.0, 1.0])


def test_clip_by_norm_guide_example():
    # custom-gradient guide: an upstream gradient of 4 clipped to norm 0.5
    np.testing.assert_allclose(tf.clip_by_norm(tf.constant(4.0), 0.5).numpy(), 0.5)


def test_l2_normalize_of_zero_is_zero_with_finite_gradient():
    x = tf.zeros((3,))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.math.l2_normalize(x)
    assert not np.any(y.numpy())
    assert np.isfinite(tape.gradient(y, x).numpy()).all()


def test_moments_requires_axes():
    with pytest.raises(TypeError, match="axes"):
        tf.nn.moments(tf.ones((2, 3)))


def test_dropout_keeps_expected_fraction_and_scales():
    x = tf.ones((100, 100))
    y = tf.nn.dropout(x, 0.25, seed=5).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(tf.nn.dropout(x, 0.25, seed=5).numpy(), y)
    a, b = tf.nn.dropout(x, 0.5).numpy(), tf.nn.dropout(x, 0.5).numpy()
    assert not np.array_equal(a, b)               # unseeded calls differ


def test_dropout_errors():
    with pytest.raises(ValueError, match="rate"):
        tf.nn.dropout(tf.ones((2,)), 1.0)
    with pytest.raises(InvalidArgumentError, match="noise_shape"):
        tf.nn.dropout(tf.ones((2, 3)), 0.5, noise_shape=[3, 1])
    with pytest.raises(InvalidArgumentError):
        tf.nn.dropout(tf.constant([1, 2]), 0.5)


@pytest.mark.filterwarnings("ignore:The dtype of the watched tensor")
def test_sparse_softmax_cross_entropy_follows_tf():
    f = tf.nn.sparse_softmax_cross_entropy_with_logits
    logits = tf.constant([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    loss = f(tf.constant([2, 0], dtype=tf.int64), logits)       # stable
    np.testing.assert_allclose(loss.numpy(), [0.40760596, 0.0], atol=1e-6)
    with pytest.raises(InvalidArgumentError, match=(
            r"^Received a label value of 5 which is outside the valid range of "
            r"\[0, 3\)\.  Label values: 0 5 \[Op:SparseSoftmaxCrossEntropyWithLogits\]$")):
        f(tf.constant([0, 5]), logits)
    with pytest.raises(InvalidArgumentError, match=r"Received a label value of -1 "):
        f([-1, 0], logits)
    with pytest.raises(InvalidArgumentError, match=r"attr 'Tlabels' of float32"):
        f(tf.constant([0.0, 1.0]), logits)
    with pytest.raises(ValueError, match=r"Rank mismatch: Rank of labels \(received 2\) "
                       r"should equal rank of logits minus 1 \(received 2\)\."):
        f(tf.constant([[0, 1]]), logits)
    with pytest.raises(ValueError, match=r"Shape mismatch: The shape of labels "
                       r"\(received \(3,\)\) should equal .* \(received \(2, 3\)\)\."):
        f(tf.constant([0, 1, 2]), logits)
    labels = tf.constant([1, 1])
    with tf.GradientTape() as tape:
        tape.watch([labels, logits])
        loss = f(labels, logits)
    gz, gx = tape.gradient(loss, [labels, logits])
    assert gz is None
    np.testing.assert_allclose(gx.numpy()[1], [1.0, -1.0, 0.0], atol=1e-6)


# ---- silu's beta: a number or a tensor TF differentiates with respect to ----
def _silu_parts(x, b):
    s = 1.0 / (1.0 + np.exp(-b * x))
    return x * s, s


def test_silu_gradient_with_respect_to_a_variable_beta():
    x = np.array([1.0, -2.0, 0.5, 3.0])
    beta = tf.Variable(0.75, dtype=tf.float64)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.silu(xt, beta=beta)
        loss = tf.reduce_sum(y * tf.constant([1.0, 2.0, -1.0, 0.5], tf.float64))
    gx, gb = tape.gradient(loss, [xt, beta])
    v = np.array([1.0, 2.0, -1.0, 0.5])
    z, s = _silu_parts(x, 0.75)
    np.testing.assert_allclose(y.numpy(), z, rtol=1e-14)
    # TF's swish gradient: dy s (1 + b x (1 - s)) and sum(dy x^2 s (1 - s))
    np.testing.assert_allclose(gx.numpy(), v * s * (1 + 0.75 * x * (1 - s)),
                               rtol=1e-14)
    np.testing.assert_allclose(gb.numpy(), np.sum(v * x * x * s * (1 - s)),
                               rtol=1e-14)
    assert gb.shape == () and gb.dtype == tf.float64


def test_silu_beta_second_order_and_swish_alias():
    b = tf.constant(1.5, dtype=tf.float64)
    x = tf.constant([0.5, -1.0], dtype=tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(b)
        with tf.GradientTape() as inner:
            inner.watch(b)
            y = tf.reduce_sum(tf.nn.swish(x, b))
        gb = inner.gradient(y, b)
    hb = outer.gradient(gb, b)
    xv = x.numpy()
    _, s = _silu_parts(xv, 1.5)
    # d/db [x^2 s (1 - s)] = x^3 s (1 - s) (1 - 2 s)
    np.testing.assert_allclose(gb.numpy(), np.sum(xv ** 2 * s * (1 - s)),
                               rtol=1e-14)
    np.testing.assert_allclose(hb.numpy(),
                               np.sum(xv ** 3 * s * (1 - s) * (1 - 2 * s)),
                               rtol=1e-12)


def test_silu_casts_beta_to_the_features_dtype_as_tf():
    x = tf.constant([1.0, -2.0])                      # float32
    b64 = tf.constant(0.5, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(b64)
        y = tf.nn.silu(x, b64)
    assert y.dtype == tf.float32
    g = tape.gradient(y, b64)
    assert g.dtype == tf.float64                      # back through the cast
    _, s = _silu_parts(np.array([1.0, -2.0]), 0.5)
    np.testing.assert_allclose(g.numpy(), np.sum([1.0, 4.0] * s * (1 - s)),
                               rtol=1e-6)
    # an integer beta is cast too, and gets no gradient (TF: Cast of int)
    bi = tf.constant(2)
    with tf.GradientTape() as tape:
        with pytest.warns(UserWarning, match="must be floating"):
            tape.watch(bi)
        y = tf.nn.silu(x, bi)
    np.testing.assert_allclose(y.numpy(), _silu_parts(np.array([1.0, -2.0]),
                                                      2.0)[0], rtol=1e-6)
    assert tape.gradient(y, bi) is None
    # a Python float is a float32 tensor first: 0.1 is float32(0.1), also
    # for float64 features
    y = tf.nn.silu(tf.constant([2.0], dtype=tf.float64), beta=0.1)
    b = float(np.float32(0.1))
    assert y.numpy()[0] == 2.0 / (1.0 + np.exp(-b * 2.0))


def test_silu_beta_broadcasts_and_sums_its_gradient():
    x = tf.constant([[1.0, -1.0, 2.0]], dtype=tf.float64)
    beta = tf.Variable([[0.5], [2.0]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        y = tf.nn.silu(x, beta)
    assert y.shape == (2, 3)
    g = tape.gradient(y, beta)
    xv = x.numpy()
    _, s = _silu_parts(xv, beta.numpy())
    np.testing.assert_allclose(g.numpy(),
                               np.sum(xv * xv * s * (1 - s), axis=1,
                                      keepdims=True), rtol=1e-14)


def test_silu_python_beta_records_one_entry():
    from tapegrad import _tapegrad as C
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        before = C._live_counts()["TapeEntry"]
        y = tf.nn.silu(x, beta=0.5)
        assert C._live_counts()["TapeEntry"] == before + 1
    _, s = _silu_parts(np.array([1.0, 2.0]), 0.5)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(),
                               s * (1 + 0.5 * np.array([1.0, 2.0]) * (1 - s)),
                               rtol=1e-6)
