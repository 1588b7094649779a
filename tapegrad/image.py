"""tapegrad.image: the image ops TF's guides reach for.

`adjust_contrast`, because the autodiff guide uses it to show what happens
when a path goes through an op that has no gradient: TF's AdjustContrastv2
kernel has none registered, so `tape.gradient` through it raises
`LookupError: gradient registry has no entry for: AdjustContrastv2`.
tapegrad computes the same values with its own ops and, to keep that
documented behaviour, records them as one op whose gradient raises the same
LookupError (a deliberate, documented gap: see the README's "Choices").

`resize` and `ResizeMethod` (TF 2's `tf.image.resize`, half-pixel centers)
for the bilinear and nearest-neighbour methods.  Each is a composite of
`gather` along the height and width axes and elementwise ops, with the
source indices and weights computed once in NumPy from the sizes (in
float32, as TF's kernels compute them), so gradients of any order come from
those rows.  The other methods raise ValueError (see the README's
"Choices").
"""
import numpy as np

from . import _tapegrad as _C
from ._custom_gradient import custom_gradient
from .errors import InvalidArgumentError

_NO_GRADIENT = "gradient registry has no entry for: AdjustContrastv2"


def _float_image(images):
    """TF's convert_image_dtype into float32 for integer images (scaled to
    [0, 1] by the dtype's maximum); float images are used as they are."""
    if images.dtype.is_floating:
        return images
    top = np.iinfo(images.dtype.as_numpy_dtype).max
    return _C.cast(images, _C.float32) * (1.0 / top)


def _back_to(images, dtype):
    """convert_image_dtype from float32 back to an integer dtype: scale by
    max + 0.5 and saturate, truncating toward zero as TF does."""
    if dtype.is_floating:
        return images
    info = np.iinfo(dtype.as_numpy_dtype)
    scaled = _C.clip_by_value(images * (info.max + 0.5), float(info.min),
                              float(info.max))
    return _C.cast(scaled, dtype)


def adjust_contrast(images, contrast_factor):
    """Adjust the contrast of images: per image and channel,
    ``(x - mean) * contrast_factor + mean`` where the mean is taken over the
    height and width axes (the last three axes are height, width, channels).

    As in TF, the op has no gradient: a gradient through it raises
    LookupError.
    """
    images = _C.convert_to_tensor(images)
    if images.shape.rank is not None and images.shape.rank < 3:
        raise InvalidArgumentError(
            "input must be at least 3-D, got shape%s [Op:AdjustContrastv2]"
            % _debug_string(images.shape))
    orig_dtype = images.dtype
    flt = _float_image(images)
    factor = _C.convert_to_tensor(contrast_factor, dtype=flt.dtype)
    if factor.shape.rank != 0:
        raise InvalidArgumentError(
            "contrast_factor must be scalar: %s [Op:AdjustContrastv2]"
            % _debug_string(factor.shape))

    @custom_gradient
    def adjust_contrastv2(x, f):
        mean = _C.reduce_mean(x, axis=[-3, -2], keepdims=True)
        out = (x - mean) * f + mean

        def no_gradient(*upstream):
            raise LookupError(_NO_GRADIENT)

        return out, no_gradient

    return _back_to(adjust_contrastv2(flt, factor), orig_dtype)


def _debug_string(shape):
    """TensorShape::DebugString, as TF's kernel messages print shapes."""
    return "[%s]" % ",".join(str(d) for d in shape)


class ResizeMethod:
    """The methods `resize` names, as TF 2's strings (the string forms are
    accepted too).  tapegrad implements BILINEAR and NEAREST_NEIGHBOR."""
    BILINEAR = "bilinear"
    NEAREST_NEIGHBOR = "nearest"
    BICUBIC = "bicubic"
    AREA = "area"
    LANCZOS3 = "lanczos3"
    LANCZOS5 = "lanczos5"
    GAUSSIAN = "gaussian"
    MITCHELLCUBIC = "mitchellcubic"


# TF's methods that tapegrad does not implement: they are rejected by name,
# apart from the unknown ones TF itself rejects.
_UNSUPPORTED_METHODS = (ResizeMethod.BICUBIC, ResizeMethod.AREA,
                        ResizeMethod.LANCZOS3, ResizeMethod.LANCZOS5,
                        ResizeMethod.GAUSSIAN, ResizeMethod.MITCHELLCUBIC)

# The image dtypes ResizeBilinear and ResizeNearestNeighbor accept (their op
# definitions' T), in the order TF's attr error lists them.
_RESIZE_DTYPES = {
    "ResizeBilinear": ("int8, uint8, int16, uint16, int32, int64, bfloat16, "
                       "half, float, double"),
    "ResizeNearestNeighbor": ("int8, uint8, int16, uint16, int32, int64, "
                              "half, float, double, bfloat16"),
}
_RESIZABLE = frozenset(["int8", "uint8", "int16", "uint16", "int32", "int64",
                        "float16", "float32", "float64"])


def resize(images, size, method=ResizeMethod.BILINEAR,
           preserve_aspect_ratio=False, antialias=False, name=None):
    """Resize `images` (``[height, width, channels]`` or ``[batch, height,
    width, channels]``) to `size` (``[new_height, new_width]``), TF 2's
    ``tf.image.resize`` with half-pixel centers.

    Bilinear returns float32 whatever the input dtype (TF's ResizeBilinear
    always outputs float); nearest keeps the dtype.  With
    `preserve_aspect_ratio`, `size` is the largest size the result may
    have.  `antialias` has no effect on nearest, as in TF; with bilinear it
    is not supported.  `name` is accepted and ignored (eager: no graph).
    """
    images = _C.convert_to_tensor(images)
    rank = images.shape.rank
    if rank not in (3, 4):
        raise ValueError("'images' must have either 3 or 4 dimensions.")
    batch = images if rank == 4 else _C.expand_dims(images, 0)
    _, height, width, _ = batch.shape
    new_height, new_width = _size_pair(size)
    if preserve_aspect_ratio:
        new_height, new_width = _fit(height, width, new_height, new_width)
    # TF picks the kernel only after the size checks, so its method error
    # comes after theirs.
    if method == ResizeMethod.BILINEAR:
        if antialias:
            raise ValueError(
                "tapegrad's tf.image.resize does not support antialias=True "
                "with method 'bilinear': it supports 'bilinear' and "
                "'nearest' without antialiasing only")
        out = _resize_bilinear(batch, new_height, new_width)
    elif method == ResizeMethod.NEAREST_NEIGHBOR:
        out = _resize_nearest(batch, new_height, new_width)
    elif method in _UNSUPPORTED_METHODS:
        raise ValueError(
            "tapegrad's tf.image.resize does not support method %r: it "
            "supports 'bilinear' and 'nearest' only" % method)
    else:
        raise ValueError("Resize method is not implemented: {}"
                         .format(method))
    return out if rank == 4 else _C.squeeze(out, axis=[0])


def _size_pair(size):
    """`size` as two Python ints, with TF's Python-side errors."""
    try:
        size = _C.convert_to_tensor(size, dtype=_C.int32)
    except (TypeError, ValueError):
        raise ValueError("'size' must be a 1-D int32 Tensor") from None
    if tuple(size.shape) != (2,):
        raise ValueError("'size' must be a 1-D Tensor of 2 elements: "
                         "new_height, new_width")
    new_height, new_width = size.numpy().tolist()
    return new_height, new_width


def _fit(height, width, new_height, new_width):
    """TF's preserve_aspect_ratio size: one scale factor, the smaller of the
    two, applied to both sides and rounded half to even, all in float32 as
    TF computes it."""
    if height == 0 or width == 0:
        # The kernel rejects an empty image before it reads the size; keep
        # the float32 arithmetic away from 0/0.
        return new_height, new_width
    f32 = np.float32
    scale = min(f32(new_height) / f32(height), f32(new_width) / f32(width))
    return (int(np.round(scale * f32(height))),
            int(np.round(scale * f32(width))))


def _check_kernel_args(batch, new_height, new_width, op):
    """The dtype, channel and size checks of TF's resize kernels, with
    their messages, in their order."""
    if batch.dtype.name not in _RESIZABLE:
        raise InvalidArgumentError(
            "Value for attr 'T' of %s is not in the list of allowed values: "
            "%s [Op:%s]" % (batch.dtype.name, _RESIZE_DTYPES[op], op))
    _, height, width, channels = batch.shape
    if channels <= 0:
        raise InvalidArgumentError(
            "image must have at least one channel [Op:%s]" % op)
    if height <= 0 or width <= 0:
        raise InvalidArgumentError(
            "input image must be of non-zero size [Op:%s]" % op)
    if new_height <= 0 or new_width <= 0:
        raise InvalidArgumentError(
            "output dimensions must be positive [Op:%s]" % op)
    return height, width


def _source_coordinates(in_size, out_size, offset):
    """Where each output pixel's center falls in the input, in float32:
    ``(out + 0.5) * scale - offset`` with ``scale = in_size / out_size``
    (half-pixel centers).  Float32 on purpose: TF's kernels compute it so,
    and a float64 coordinate can land on the other side of an integer."""
    f32 = np.float32
    scale = f32(in_size) / f32(out_size)
    return (np.arange(out_size, dtype=f32) + f32(0.5)) * scale - f32(offset)


def _resize_bilinear(batch, new_height, new_width):
    height, width = _check_kernel_args(batch, new_height, new_width,
                                       "ResizeBilinear")
    flt = _C.cast(batch, _C.float32)
    if (new_height, new_width) == (height, width):
        # TF's kernel copies the cast image here: interpolating would turn
        # an infinite pixel into NaN (inf + (inf - inf) * 0).
        return flt
    y_lower, y_upper, y_lerp = _bilinear_taps(height, new_height)
    x_lower, x_upper, x_lerp = _bilinear_taps(width, new_width)
    y_lerp = _C.constant(y_lerp.reshape(1, -1, 1, 1))
    x_lerp = _C.constant(x_lerp.reshape(1, 1, -1, 1))
    top_rows = _C.gather(flt, y_lower, axis=1)
    bottom_rows = _C.gather(flt, y_upper, axis=1)
    # The kernel's order of operations (along the width, then the height),
    # so float32 results round as TF's do.
    top_left = _C.gather(top_rows, x_lower, axis=2)
    top = top_left + (_C.gather(top_rows, x_upper, axis=2) - top_left) * x_lerp
    bottom_left = _C.gather(bottom_rows, x_lower, axis=2)
    bottom = bottom_left + (_C.gather(bottom_rows, x_upper, axis=2)
                            - bottom_left) * x_lerp
    return top + (bottom - top) * y_lerp


def _bilinear_taps(in_size, out_size):
    """The two input pixels each output pixel interpolates and the weight
    of the upper one.  The weight is not clamped at the borders: there both
    pixels are the same one, so it does not matter, as in TF."""
    src = _source_coordinates(in_size, out_size, 0.5)
    below = np.floor(src)
    lower = np.maximum(below.astype(np.int64), 0)
    upper = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    return lower, upper, src - below


def _resize_nearest(batch, new_height, new_width):
    height, width = _check_kernel_args(batch, new_height, new_width,
                                       "ResizeNearestNeighbor")
    if (new_height, new_width) == (height, width):
        return _C.identity(batch)
    rows = _C.gather(batch, _nearest_taps(height, new_height), axis=1)
    return _C.gather(rows, _nearest_taps(width, new_width), axis=2)


def _nearest_taps(in_size, out_size):
    """The input pixel each output pixel copies: the one whose cell holds
    its center, ``floor((out + 0.5) * scale)`` (TF's half-pixel nearest
    floors; it rounds only with align_corners, which v2 never sets)."""
    src = _source_coordinates(in_size, out_size, 0.0)
    return np.clip(np.floor(src).astype(np.int64), 0, in_size - 1)
