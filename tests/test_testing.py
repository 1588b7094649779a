"""tapegrad.test: the gradient checkers users get for their own functions."""
import numpy as np
import pytest

import tapegrad as tf


def test_compute_gradient_returns_tf_shaped_jacobians():
    x = np.array([1.0, 2.0])
    y = np.array([3.0, 4.0, 5.0])
    theoretical, numerical = tf.test.compute_gradient(
        lambda a, b: tf.reduce_sum(a) * b, [x, y])
    assert isinstance(theoretical, tuple) and len(theoretical) == 2
    # (x_size, y_size): d out_j / d a_i = b_j ; d out_j / d b_k = sum(a) [j==k]
    np.testing.assert_allclose(theoretical[0], np.tile(y, (2, 1)))
    np.testing.assert_allclose(theoretical[1], 3.0 * np.eye(3))
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, atol=1e-6)


def test_compute_gradient_of_a_nonlinear_function():
    x = np.array([0.5, -1.0, 2.0])
    theoretical, numerical = tf.test.compute_gradient(
        lambda a: tf.math.sin(a) * a, [x])
    expected = np.diag(np.cos(x) * x + np.sin(x))
    np.testing.assert_allclose(theoretical[0], expected, rtol=1e-12)
    np.testing.assert_allclose(numerical[0], expected, atol=1e-6)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_check_gradients_accepts_correct_gradients(order):
    f = lambda x, w: tf.math.exp(tf.math.sin(x) * w) + x * x  # noqa: E731
    tf.test.check_gradients(f, np.array([0.3, -1.2]), np.array([0.7, 1.1]),
                            order=order)


def test_check_gradients_catches_a_chain_broken_through_numpy():
    # x * x.numpy(): the tape sees x * constant, so the vjp misses a term
    f = lambda x: x * tf.constant(x.numpy())  # noqa: E731
    with pytest.raises(AssertionError, match="order 1 for argument 0"):
        tf.test.check_gradients(f, np.array([0.5, 1.5]), order=1)


def test_check_gradients_rejects_integer_inputs():
    with pytest.raises(TypeError, match="floating-point"):
        tf.test.check_gradients(lambda x: x * x, np.array([1, 2]))


def test_check_gradients_order_is_an_int():
    # order='2' was "'<' not supported"; order=1.5 ran two orders
    for bad in ("2", 1.5, True):
        with pytest.raises(TypeError, match="check_gradients: order must be "
                           "an int"):
            tf.test.check_gradients(tf.sin, np.array([0.5]), order=bad)
    with pytest.raises(ValueError, match="order must be >= 1, got 0"):
        tf.test.check_gradients(tf.sin, np.array([0.5]), order=0)
