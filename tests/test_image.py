"""tapegrad.image.adjust_contrast: TF's values, TF's errors, and TF's
missing gradient (the autodiff guide's LookupError)."""
import numpy as np
import pytest

import tapegrad as tf


def _want(images, factor):
    mean = images.mean(axis=(-3, -2), keepdims=True)
    return (images - mean) * factor + mean


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 3, 4, 3), (2, 2, 5, 4, 1)])
def test_values_are_per_image_and_channel(shape):
    rng = np.random.default_rng(0)
    images = rng.random(shape).astype(np.float32)
    got = tf.image.adjust_contrast(images, 1.7)
    assert got.dtype == tf.float32 and got.shape == shape
    np.testing.assert_allclose(got.numpy(), _want(images, 1.7), rtol=1e-6,
                               atol=1e-7)


def test_the_gradient_is_a_lookup_error_as_in_tf():
    image = tf.Variable([[[0.5, 0.0, 0.0]]])
    delta = tf.Variable(0.1)
    with tf.GradientTape() as tape:
        new_image = tf.image.adjust_contrast(image, delta)
    with pytest.raises(LookupError) as info:
        tape.gradient(new_image, [image, delta])
    assert str(info.value) == \
        "gradient registry has no entry for: AdjustContrastv2"


def test_a_path_around_it_still_differentiates():
    image = tf.Variable([[[0.5, 0.25, 0.0]]])
    with tf.GradientTape() as tape:
        unused = tf.image.adjust_contrast(image, 2.0)
        y = tf.reduce_sum(image * 3.0)
    assert unused.shape == (1, 1, 3)
    np.testing.assert_array_equal(tape.gradient(y, image).numpy(),
                                  [[[3.0, 3.0, 3.0]]])


def test_bad_ranks_raise_tf_messages():
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"^input must be at least 3-D, got shape\[2,3\]"
                             r" \[Op:AdjustContrastv2\]$"):
        tf.image.adjust_contrast(np.ones((2, 3), np.float32), 2.0)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"^contrast_factor must be scalar: \[2\]"):
        tf.image.adjust_contrast(np.ones((1, 1, 3), np.float32), [1.0, 2.0])


def test_type_names_are_tfs_eager_types():
    x = tf.Variable(2.0)
    assert type(x).__name__ == "ResourceVariable"
    assert type(x + 1).__name__ == "EagerTensor"
    assert tf.Tensor is tf.EagerTensor and tf.Variable is tf.ResourceVariable
    assert isinstance(x + 1, tf.Tensor) and isinstance(x, tf.Variable)
