"""tapegrad.image: the image ops TF's guides reach for.

Only `adjust_contrast` so far, because the autodiff guide uses it to show
what happens when a path goes through an op that has no gradient: TF's
AdjustContrastv2 kernel has none registered, so `tape.gradient` through it
raises `LookupError: gradient registry has no entry for: AdjustContrastv2`.
tapegrad computes the same values with its own ops and, to keep that
documented behaviour, records them as one op whose gradient raises the same
LookupError (a deliberate, documented gap: see the README's "Choices").
"""
from . import _tapegrad as _C
from ._custom_gradient import custom_gradient
from .errors import InvalidArgumentError

_NO_GRADIENT = "gradient registry has no entry for: AdjustContrastv2"


def _float_image(images):
    """TF's convert_image_dtype into float32 for integer images (scaled to
    [0, 1] by the dtype's maximum); float images are used as they are."""
    if images.dtype.is_floating:
        return images
    import numpy as np
    top = np.iinfo(images.dtype.as_numpy_dtype).max
    return _C.cast(images, _C.float32) * (1.0 / top)


def _back_to(images, dtype):
    """convert_image_dtype from float32 back to an integer dtype: scale by
    max + 0.5 and saturate, truncating toward zero as TF does."""
    if dtype.is_floating:
        return images
    import numpy as np
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
