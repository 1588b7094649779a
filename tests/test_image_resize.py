"""tapegrad.image.resize (TF 2's tf.image.resize, half-pixel centers):
values against NumPy loops written here from TF's kernel formulas and
against the values TF's documentation prints, TF's dtype rules, the
preserve_aspect_ratio sizes, gradients to second order, and TF's errors
(plus tapegrad's own for the methods it does not implement)."""
import numpy as np
import pytest

import tapegrad as tf

F32 = np.float32


# ---- references: one output pixel at a time, from TF's formulas ----------
# Both kernels place output pixel i's center at (i + 0.5) * scale in input
# coordinates, scale = in_size / out_size, all in float32.  Bilinear shifts
# it by -0.5 to index pixel centers, takes floor and ceil clamped into the
# image, and interpolates with lerp = src - floor(src) along the width, then
# the height.  Nearest copies the pixel floor((i + 0.5) * scale), clamped.
def _bilinear_ref(images, out_h, out_w):
    n, h, w, c = images.shape
    out = np.zeros((n, out_h, out_w, c), F32)
    sy, sx = F32(h) / F32(out_h), F32(w) / F32(out_w)
    for y in range(out_h):
        fy = (F32(y) + F32(0.5)) * sy - F32(0.5)
        y0, y1 = max(int(np.floor(fy)), 0), min(int(np.ceil(fy)), h - 1)
        ly = fy - F32(np.floor(fy))
        for x in range(out_w):
            fx = (F32(x) + F32(0.5)) * sx - F32(0.5)
            x0, x1 = max(int(np.floor(fx)), 0), min(int(np.ceil(fx)), w - 1)
            lx = fx - F32(np.floor(fx))
            tl, tr = images[:, y0, x0].astype(F32), images[:, y0, x1]
            bl, br = images[:, y1, x0].astype(F32), images[:, y1, x1]
            top = tl + (tr.astype(F32) - tl) * lx
            bottom = bl + (br.astype(F32) - bl) * lx
            out[:, y, x] = top + (bottom - top) * ly
    return out


def _nearest_ref(images, out_h, out_w):
    n, h, w, c = images.shape
    out = np.zeros((n, out_h, out_w, c), images.dtype)
    sy, sx = F32(h) / F32(out_h), F32(w) / F32(out_w)
    for y in range(out_h):
        iy = min(int(np.floor((F32(y) + F32(0.5)) * sy)), h - 1)
        for x in range(out_w):
            ix = min(int(np.floor((F32(x) + F32(0.5)) * sx)), w - 1)
            out[:, y, x] = images[:, iy, ix]
    return out


_REFS = {"bilinear": _bilinear_ref, "nearest": _nearest_ref}

# (input height, width) -> (output height, width): up, down, non-square,
# one axis up and the other down, to and from a single pixel, and a ratio
# whose float32 source coordinates are not exact.
_SIZES = [((2, 3), (5, 7)), ((6, 8), (3, 2)), ((4, 4), (4, 9)),
          ((5, 3), (2, 7)), ((1, 1), (3, 2)), ((3, 4), (1, 1)),
          ((7, 5), (3, 11))]


@pytest.fixture
def rng():
    return np.random.default_rng(11)


# ---- values ---------------------------------------------------------------
@pytest.mark.parametrize("method", ["bilinear", "nearest"])
@pytest.mark.parametrize("sizes", _SIZES)
def test_4d_values_match_the_reference(rng, method, sizes):
    (h, w), (oh, ow) = sizes
    images = rng.standard_normal((2, h, w, 3)).astype(F32)
    got = tf.image.resize(images, [oh, ow], method=method)
    assert got.dtype == tf.float32 and got.shape == (2, oh, ow, 3)
    np.testing.assert_allclose(got.numpy(), _REFS[method](images, oh, ow),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_a_3d_image_is_a_batch_of_one(rng, method):
    image = rng.standard_normal((5, 4, 2)).astype(F32)
    got = tf.image.resize(image, (3, 7), method=method)
    assert got.shape == (3, 7, 2)
    np.testing.assert_allclose(got.numpy(),
                               _REFS[method](image[None], 3, 7)[0],
                               rtol=1e-6, atol=1e-6)


def test_the_2x2_to_4x4_bilinear_case_by_hand():
    # scale = 2 / 4 = 0.5, so output rows and columns sample the input at
    # (i + 0.5) * 0.5 - 0.5 = -0.25, 0.25, 0.75, 1.25.  The outer two clamp
    # to pixels 0 and 1; the inner two mix them 3:1 and 1:3.  Along a row
    # of [0, 1] that gives 0, 0.25, 0.75, 1; down a column of [0, 2] it
    # gives 0, 0.5, 1.5, 2; the image is linear, so the result is their sum.
    got = tf.image.resize([[[0.0], [1.0]], [[2.0], [3.0]]], [4, 4])
    np.testing.assert_array_equal(got.numpy()[..., 0], [
        [0.0, 0.25, 0.75, 1.0],
        [0.5, 0.75, 1.25, 1.5],
        [1.5, 1.75, 2.25, 2.5],
        [2.0, 2.25, 2.75, 3.0]])


def test_the_values_tfs_documentation_prints():
    image = tf.constant(np.eye(5, dtype=np.int32)[None, ..., None])
    bilinear = tf.image.resize(image, [3, 5])
    assert bilinear.dtype == tf.float32
    np.testing.assert_array_equal(bilinear.numpy()[0, ..., 0], np.array([
        [0.6666667, 0.3333333, 0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.3333335, 0.6666665]], F32))
    nearest = tf.image.resize(image, [5, 7], method="nearest")
    assert nearest.dtype == tf.int32
    np.testing.assert_array_equal(nearest.numpy()[0, ..., 0], [
        [1, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 0, 0],
        [0, 0, 0, 0, 1, 1, 0],
        [0, 0, 0, 0, 0, 0, 1]])
    assert tf.image.resize(image[0], [3, 5]).shape == (3, 5, 1)


# ---- dtypes ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.int64])
def test_integer_images(rng, dtype):
    images = rng.integers(0, 100, (1, 3, 5, 2)).astype(dtype)
    # Bilinear interpolates the values themselves (no rescaling to [0, 1])
    # and returns float32.
    got = tf.image.resize(images, [4, 3])
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), _bilinear_ref(images, 4, 3),
                               rtol=1e-6)
    # Nearest copies pixels, so it keeps the dtype.
    got = tf.image.resize(images, [4, 3], method="nearest")
    assert got.dtype == tf.as_dtype(dtype)
    np.testing.assert_array_equal(got.numpy(), _nearest_ref(images, 4, 3))


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_bilinear_is_float32_and_nearest_keeps_float_dtypes(rng, dtype):
    images = rng.standard_normal((1, 3, 4, 1)).astype(dtype)
    got = tf.image.resize(images, [5, 2])
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), _bilinear_ref(images, 5, 2),
                               rtol=1e-6, atol=1e-6)
    got = tf.image.resize(images, [5, 2], method="nearest")
    assert got.dtype == tf.as_dtype(dtype)
    np.testing.assert_array_equal(got.numpy(), _nearest_ref(images, 5, 2))


def test_the_same_size_gives_the_image_back_after_the_dtype_rule():
    images = np.array([[[[1.5], [np.inf]], [[-2.0], [3.25]]]])    # float64
    same = tf.image.resize(images, [2, 2])
    assert same.dtype == tf.float32
    # the values themselves: interpolating would give inf - inf = NaN
    np.testing.assert_array_equal(same.numpy(), images.astype(F32))
    same = tf.image.resize(images, [2, 2], method="nearest")
    assert same.dtype == tf.float64
    np.testing.assert_array_equal(same.numpy(), images)


def test_size_may_be_a_list_tuple_array_or_tensor(rng):
    images = rng.standard_normal((2, 3, 1)).astype(F32)
    want = _bilinear_ref(images[None], 4, 5)[0]
    for size in ([4, 5], (4, 5), np.array([4, 5]), tf.constant([4, 5])):
        np.testing.assert_allclose(tf.image.resize(images, size).numpy(),
                                   want, rtol=1e-6)


def test_an_empty_batch_resizes_to_an_empty_batch():
    got = tf.image.resize(np.zeros((0, 2, 3, 4), F32), [5, 1])
    assert got.shape == (0, 5, 1, 4) and got.dtype == tf.float32


# ---- preserve_aspect_ratio ------------------------------------------------
def test_preserve_aspect_ratio_uses_the_smaller_scale(rng):
    images = rng.standard_normal((1, 4, 6, 1)).astype(F32)
    # scale = min(10 / 4, 10 / 6) = 5 / 3: 4 * 5 / 3 = 6.67 rounds to 7 and
    # 6 * 5 / 3 to 10.
    got = tf.image.resize(images, [10, 10], preserve_aspect_ratio=True)
    assert got.shape == (1, 7, 10, 1)
    np.testing.assert_allclose(got.numpy(), _bilinear_ref(images, 7, 10),
                               rtol=1e-6, atol=1e-6)
    # TF's documented case: a 5x5 image into at most 10x20 is 10x10.
    square = np.eye(5, dtype=np.int32)[None, ..., None]
    assert tf.image.resize(square, [10, 20],
                           preserve_aspect_ratio=True).shape == (1, 10, 10, 1)


def test_preserve_aspect_ratio_rounds_half_to_even():
    # scale = min(10 / 5, 1 / 2) = 0.5 and 5 * 0.5 = 2.5, which tf.round
    # takes to 2 (round half up would give 3).
    got = tf.image.resize(np.ones((5, 2, 1), F32), [10, 1],
                          preserve_aspect_ratio=True, method="nearest")
    assert got.shape == (2, 1, 1)


# ---- methods --------------------------------------------------------------
def test_resize_method_names_are_tfs_strings(rng):
    m = tf.image.ResizeMethod
    assert (m.BILINEAR, m.NEAREST_NEIGHBOR) == ("bilinear", "nearest")
    assert (m.BICUBIC, m.AREA, m.LANCZOS3, m.LANCZOS5, m.GAUSSIAN,
            m.MITCHELLCUBIC) == ("bicubic", "area", "lanczos3", "lanczos5",
                                 "gaussian", "mitchellcubic")
    images = rng.standard_normal((1, 3, 3, 1)).astype(F32)
    for constant, string in [(m.BILINEAR, "bilinear"),
                             (m.NEAREST_NEIGHBOR, "nearest")]:
        np.testing.assert_array_equal(
            tf.image.resize(images, [5, 4], method=constant).numpy(),
            tf.image.resize(images, [5, 4], method=string).numpy())


@pytest.mark.parametrize("method", ["bicubic", "area", "lanczos3",
                                    "lanczos5", "gaussian", "mitchellcubic"])
def test_other_tf_methods_are_rejected_by_name(method):
    with pytest.raises(ValueError, match=r"^tapegrad's tf.image.resize does "
                       r"not support method '%s': it supports 'bilinear' "
                       r"and 'nearest' only$" % method):
        tf.image.resize(np.ones((2, 2, 1), F32), [3, 3], method=method)


def test_unknown_methods_raise_tfs_error():
    for method in ["BILINEAR", "linear", 0]:
        with pytest.raises(ValueError, match=r"^Resize method is not "
                           r"implemented: %s$" % method):
            tf.image.resize(np.ones((2, 2, 1), F32), [3, 3], method=method)


def test_antialias(rng):
    images = rng.standard_normal((4, 4, 1)).astype(F32)
    with pytest.raises(ValueError, match=r"^tapegrad's tf.image.resize does "
                       r"not support antialias=True with method 'bilinear'"):
        tf.image.resize(images, [2, 2], antialias=True)
    # As in TF, antialias has no effect on nearest neighbour.
    np.testing.assert_array_equal(
        tf.image.resize(images, [2, 3], "nearest", antialias=True).numpy(),
        _nearest_ref(images[None], 2, 3)[0])


# ---- gradients ------------------------------------------------------------
def _matrix(ref, h, w, oh, ow):
    """The resize as a matrix (output pixel, input pixel), from the loop
    reference applied to each one-hot image."""
    basis = np.eye(h * w, dtype=F32).reshape(h * w, h, w, 1)
    return ref(basis, oh, ow).reshape(h * w, oh * ow).T


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
@pytest.mark.parametrize("sizes", [((3, 4), (5, 2)), ((4, 2), (2, 5))])
def test_jacobian_is_the_resize_matrix(rng, method, sizes):
    (h, w), (oh, ow) = sizes
    x = rng.standard_normal((1, h, w, 1)).astype(F32)
    theoretical, numerical = tf.test.compute_gradient(
        lambda t: tf.image.resize(t, [oh, ow], method=method), [x])
    want = _matrix(_REFS[method], h, w, oh, ow).T
    np.testing.assert_allclose(theoretical[0], want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(numerical[0], want, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_gradients_to_second_order_agree_with_finite_differences(rng,
                                                                 method):
    x = rng.standard_normal((2, 3, 4, 2)).astype(F32)
    tf.test.check_gradients(
        lambda t: tf.sin(tf.image.resize(t, [5, 3], method=method)), x,
        order=2)


def test_second_order_through_nested_tapes(rng):
    # f(x) = sum(resize(x)^2) / 2 with resize the matrix R: the gradient is
    # R^T R x, and the gradient of <grad, u> is R^T R u.
    h, w, oh, ow = 3, 4, 5, 2
    r = _matrix(_bilinear_ref, h, w, oh, ow).astype(np.float64)
    x0 = rng.standard_normal((h, w, 1)).astype(F32)
    u = rng.standard_normal((h, w, 1)).astype(F32)
    x = tf.Variable(x0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.reduce_sum(tf.square(tf.image.resize(x, [oh, ow]))) / 2
        g = inner.gradient(y, x)
        gu = tf.reduce_sum(g * u)
    hu = outer.gradient(gu, x)
    np.testing.assert_allclose(g.numpy().ravel(),
                               r.T @ r @ x0.ravel(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(hu.numpy().ravel(),
                               r.T @ r @ u.ravel(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_forward_mode_is_the_resize_of_the_tangent(rng, method):
    # The resize is linear in the image, so its jvp is the resized tangent.
    x = tf.constant(rng.standard_normal((2, 3, 4, 1)).astype(F32))
    u = rng.standard_normal((2, 3, 4, 1)).astype(F32)
    with tf.autodiff.ForwardAccumulator(x, tf.constant(u)) as acc:
        y = tf.image.resize(x, [5, 2], method=method)
    np.testing.assert_allclose(acc.jvp(y).numpy(),
                               _REFS[method](u, 5, 2), rtol=1e-6, atol=1e-6)


def test_a_float64_image_gets_a_float64_gradient():
    x = tf.Variable(np.ones((1, 2, 2, 1)))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.image.resize(x, [4, 4]))
    g = tape.gradient(y, x)
    # 16 output pixels, each a convex combination: 4 per input pixel here.
    assert g.dtype == tf.float64
    np.testing.assert_allclose(g.numpy(), np.full((1, 2, 2, 1), 4.0))


# ---- errors ---------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 4), (1, 1, 4, 4, 1)])
def test_images_must_be_3d_or_4d(shape):
    with pytest.raises(ValueError, match=r"^'images' must have either 3 or "
                       r"4 dimensions\.$"):
        tf.image.resize(np.ones(shape, F32), [2, 2])


@pytest.mark.parametrize("size", [[2], [2, 2, 2], 3, [[2, 2]]])
def test_size_must_have_two_elements(size):
    with pytest.raises(ValueError, match=r"^'size' must be a 1-D Tensor of "
                       r"2 elements: new_height, new_width$"):
        tf.image.resize(np.ones((2, 2, 1), F32), size)


@pytest.mark.parametrize("size", [[2.5, 3.0], tf.constant([2, 3], tf.int64),
                                  "ab"])
def test_size_must_be_int32(size):
    with pytest.raises(ValueError,
                       match=r"^'size' must be a 1-D int32 Tensor$"):
        tf.image.resize(np.ones((2, 2, 1), F32), size)


@pytest.mark.parametrize("method,op", [("bilinear", "ResizeBilinear"),
                                       ("nearest", "ResizeNearestNeighbor")])
def test_kernel_errors(method, op):
    def resize(shape, size, dtype=F32):
        return tf.image.resize(np.ones(shape, dtype), size, method=method)

    for size in ([0, 3], [3, -1]):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"^output dimensions must be positive "
                                 r"\[Op:%s\]$" % op):
            resize((2, 2, 1), size)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"^input image must be of non-zero size "
                             r"\[Op:%s\]$" % op):
        resize((0, 2, 1), [2, 2])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"^image must have at least one channel "
                             r"\[Op:%s\]$" % op):
        resize((2, 2, 0), [3, 3])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"^Value for attr 'T' of bool is not in the list "
                             r"of allowed values: int8, uint8, .* \[Op:%s\]$"
                             % op):
        resize((2, 2, 1), [3, 3], dtype=bool)


def test_size_errors_come_before_method_errors():
    # TF checks the size before it picks a kernel by method.
    with pytest.raises(ValueError, match=r"^'size' must be a 1-D Tensor"):
        tf.image.resize(np.ones((2, 2, 1), F32), [3], method="bicubic")
