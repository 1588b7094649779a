"""tf.nn.conv2d, composed from op-table rows (no Conv2D row in C yet).

The convolution is im2col: the input is padded (``pad``), each of the
kernel's KH x KW offsets is one strided slice of it (``getitem``), the
slices are concatenated along the channels and one ``matmul`` with the
kernel reshaped to (KH*KW*C, filters) gives every output pixel.  A 1x1
kernel at stride 1 is the matmul alone.  Gradients, second order and
forward mode come from those rows; the memory is KH*KW times the input's.
Padding, strides, dilations and the output size follow TF's Conv2D
(``SAME``: output ceil(size / stride), the odd padding row after), and the
errors are TF's messages as InvalidArgumentError.
"""
from . import _tapegrad as C

__all__ = ["conv2d"]


def _pair(value, what, data_format):
    """strides / dilations: an int, or 1, 2 or 4 ints (TF's
    _get_sequence); the 4-form must be 1 on the batch and channel axes."""
    if value is None:
        return (1, 1)
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    try:
        vals = [int(v) for v in value]
    except TypeError:
        raise TypeError("%s should be an int or a list of ints, got %r"
                        % (what, value)) from None
    if len(vals) == 1:
        return (vals[0], vals[0])
    if len(vals) == 2:
        return (vals[0], vals[1])
    if len(vals) == 4:
        c = 1 if data_format == "NCHW" else 3
        if vals[0] != 1 or vals[c] != 1:
            raise C.InvalidArgumentError(
                "Current implementation does not yet support %s in the "
                "batch and depth dimensions. [Op:Conv2D]" % what)
        h, w = (2, 3) if data_format == "NCHW" else (1, 2)
        return (vals[h], vals[w])
    raise ValueError("%s should be of length 1, 2 or 4. Received: %s=%r of "
                     "length %d" % (what, what, value, len(vals)))


def _out_size(size, k, stride, dilation, padding):
    """(output size, pad before, pad after) along one spatial axis, by
    TF's GetWindowedOutputSize (C's truncating division)."""
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        out = (size + stride - 1) // stride
        total = max((out - 1) * stride + eff - size, 0)
        return out, total // 2, total - total // 2
    before, after = padding if isinstance(padding, tuple) else (0, 0)
    num = size + before + after - eff + stride
    out = abs(num) // stride * (1 if num >= 0 else -1)
    if out < 0:
        raise C.InvalidArgumentError(
            "Computed output size would be negative: %d [input_size: %d, "
            "effective_filter_size: %d, stride: %d] [Op:Conv2D]"
            % (out, size + before + after, eff, stride))
    return out, before, after


def conv2d(input, filters, strides, padding, data_format="NHWC",  # noqa: A002
           dilations=None, name=None):
    """TF's tf.nn.conv2d: `input` (batch..., height, width, channels) for
    NHWC, `filters` (height, width, in_channels, out_channels), `padding`
    "SAME", "VALID" or explicit [[0, 0], [top, bottom], [left, right], [0,
    0]] pairs in `data_format`'s order.  An input depth that is a multiple
    g of the filters' in_channels is a grouped convolution (g groups)."""
    x = C.convert_to_tensor(input)
    if isinstance(filters, (C.Tensor, C.Variable)):
        w = filters
    else:
        w = C.convert_to_tensor(filters, dtype=x.dtype)
    if w.dtype != x.dtype:
        raise C.InvalidArgumentError(
            "cannot compute Conv2D as input #1(zero-based) was expected to "
            "be a %s tensor but is a %s tensor [Op:Conv2D]"
            % (x.dtype.name, w.dtype.name))
    if not (x.dtype.is_floating or x.dtype == C.int32):
        raise TypeError("Value passed to parameter 'input' has DataType %s "
                        "not in list of allowed values: half, bfloat16, "
                        "float32, float64, int32" % x.dtype.name)
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError("`data_format` must be 'NHWC' or 'NCHW'. Received: "
                         "data_format=%r" % (data_format,))
    if len(w.shape) != 4:
        raise ValueError("`filters` must be a 4-D tensor (height, width, "
                         "in_channels, out_channels). Received filters of "
                         "shape %s" % (w.shape,))
    if len(x.shape) < 4:
        raise ValueError("`input` must be at least 4-D (batch, height, width, "
                         "channels). Received input of shape %s" % (x.shape,))
    sh, sw = _pair(strides, "strides", data_format)
    dh, dw = _pair(dilations, "dilations", data_format)
    if min(sh, sw, dh, dw) < 1:
        raise C.InvalidArgumentError(
            "Sliding window strides and dilations must be > 0. [Op:Conv2D]")
    pads = padding
    if isinstance(padding, str):
        pads = padding.upper()
        if pads not in ("SAME", "VALID"):
            raise ValueError(
                "Value for attr 'padding' of \"%s\" is not in the list of "
                "allowed values: \"SAME\", \"VALID\", \"EXPLICIT\""
                % padding)
    else:
        pairs = [tuple(int(v) for v in p) for p in padding]
        if len(pairs) != 4 or any(len(p) != 2 for p in pairs):
            raise ValueError("When padding is a list, it must have 4 (batch, "
                             "height, width, channels) pairs. Received: "
                             "padding=%r" % (padding,))
        if data_format == "NCHW":
            pairs = [pairs[0], pairs[2], pairs[3], pairs[1]]
        if pairs[0] != (0, 0) or pairs[3] != (0, 0):
            raise C.InvalidArgumentError(
                "Explicit padding in the batch or depth dimensions is not "
                "supported. [Op:Conv2D]")
        if min(min(p) for p in pairs) < 0:
            raise C.InvalidArgumentError(
                "All explicit padding values must be nonnegative. "
                "[Op:Conv2D]")
        pads = pairs

    if data_format == "NCHW":
        rank = len(x.shape)
        x = C.transpose(x, list(range(rank - 3)) + [rank - 2, rank - 1,
                                                    rank - 3])
    batch = tuple(x.shape[:-3])
    H, W, Cin = x.shape[-3:]
    if len(batch) != 1:
        x = C.reshape(x, [-1, H, W, Cin])
    KH, KW, Cf, Cout = w.shape
    if Cf == 0 or Cin % Cf:
        raise C.InvalidArgumentError(
            "input depth must be evenly divisible by filter depth: %d vs %d "
            "[Op:Conv2D]" % (Cin, Cf))
    groups = Cin // Cf
    if Cout % groups:
        raise C.InvalidArgumentError(
            "output depth must be evenly divisible by number of groups: %d vs "
            "%d [Op:Conv2D]" % (Cout, groups))
    Ho, pt, pb = _out_size(H, KH, sh, dh, pads[1] if isinstance(pads, list)
                           else pads)
    Wo, pl, pr = _out_size(W, KW, sw, dw, pads[2] if isinstance(pads, list)
                           else pads)
    if pt or pb or pl or pr:
        x = C.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]])
    # one strided slice per kernel offset, i-major as the kernel's layout
    patches = []
    for i in range(KH):
        for j in range(KW):
            r0, c0 = i * dh, j * dw
            patches.append(x[:, r0:r0 + (Ho - 1) * sh + 1:sh,
                             c0:c0 + (Wo - 1) * sw + 1:sw, :]
                           if (KH, KW, sh, sw, Ho, Wo) != (1, 1, 1, 1, H, W)
                           else x)
    outs = []
    per = Cout // groups
    for g in range(groups):
        if groups == 1:
            cols = patches[0] if len(patches) == 1 else C.concat(patches, -1)
            kern = w
        else:
            part = [p[..., g * Cf:(g + 1) * Cf] for p in patches]
            cols = part[0] if len(part) == 1 else C.concat(part, -1)
            kern = w[..., g * per:(g + 1) * per]
        y = C.matmul(C.reshape(cols, [-1, KH * KW * Cf]),
                     C.reshape(kern, [KH * KW * Cf, per]))
        outs.append(y)
    y = outs[0] if groups == 1 else C.concat(outs, -1)
    y = C.reshape(y, list(batch) + [Ho, Wo, Cout])
    if data_format == "NCHW":
        rank = len(y.shape)
        y = C.transpose(y, list(range(rank - 3)) + [rank - 1, rank - 3,
                                                    rank - 2])
    return y
