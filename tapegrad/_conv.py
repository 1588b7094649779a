"""tf.nn's convolutions: argument handling in front of the C rows.

The work is done by three op-table rows (src/ops_conv.c): ``conv`` (any of
1 to 3 spatial dims, channels last, explicit padding pairs, feature
groups from the shapes), ``conv_backprop_input`` (TF's
Conv2DBackpropInput, which is conv2d_transpose) and
``conv_backprop_filter``.  This module only turns TF's arguments into
theirs: ``data_format`` (channels-first inputs are transposed to channels
last and back), strides and dilations in TF's 1 / N / N+2 forms, SAME /
VALID / explicit padding resolved to (before, after) pairs by TF's rule
(SAME: output ceil(size / stride), the odd padding element after), extra
leading batch dimensions folded into one, and TF's errors for bad input.
depthwise_conv2d is the grouped convolution with one group per input
channel; bias_add is an add with TF's data_format rule.
"""
from . import _tapegrad as C

__all__ = ["conv1d", "conv2d", "conv3d", "convolution", "conv2d_transpose",
           "conv1d_transpose", "conv3d_transpose", "conv_transpose",
           "depthwise_conv2d", "bias_add"]

_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}
_OP = {1: "Conv2D", 2: "Conv2D", 3: "Conv3D"}   # conv1d runs TF's Conv2D


def _seq(value, nsp, what, channels_first, op):
    """strides / dilations: an int, or 1, nsp or nsp + 2 ints (TF's
    _get_sequence); the long form must be 1 on the batch and channel
    axes."""
    if value is None:
        return [1] * nsp
    if isinstance(value, int) and not isinstance(value, bool):
        return [value] * nsp
    try:
        vals = [int(v) for v in value]
    except TypeError:
        raise TypeError("%s should be an int or a list of ints, got %r"
                        % (what, value)) from None
    if len(vals) == 1:
        return vals * nsp
    if len(vals) == nsp:
        return vals
    if len(vals) == nsp + 2:
        c = 1 if channels_first else nsp + 1
        if vals[0] != 1 or vals[c] != 1:
            raise C.InvalidArgumentError(
                "Current implementation does not yet support %s in the "
                "batch and depth dimensions. [Op:%s]" % (what, op))
        return vals[2:] if channels_first else vals[1:-1]
    raise ValueError("%s should be of length 1, %d or %d. Received: %s=%r "
                     "of length %d" % (what, nsp, nsp + 2, what, value,
                                       len(vals)))


def _format_str(data_format):
    """data_format is None or a string (TF's attr check)"""
    if data_format is not None and not isinstance(data_format, str):
        raise TypeError("Expected string for argument 'data_format' not "
                        "%r." % (data_format,))
    return data_format


def _format(data_format, nsp):
    """True for channels first; TF's ValueError for an unknown format."""
    _format_str(data_format)
    last, first = _FORMATS[nsp]
    if data_format is None or data_format == last:
        return False
    if data_format == first:
        return True
    raise ValueError("`data_format` must be %r or %r. Received: "
                     "data_format=%r" % (last, first, data_format))


def _padding(padding, nsp, channels_first, op):
    """'SAME', 'VALID', or a list of nsp explicit pairs (channels last)"""
    if isinstance(padding, (str, bytes)):
        p = padding.decode() if isinstance(padding, bytes) else padding
        p = p.upper()
        if p not in ("SAME", "VALID"):
            raise ValueError(
                "Value for attr 'padding' of \"%s\" is not in the list of "
                "allowed values: \"SAME\", \"VALID\", \"EXPLICIT\""
                % (padding,))
        return p
    try:
        pairs = [tuple(int(v) for v in p) for p in padding]
    except TypeError:
        raise TypeError("padding should be 'SAME', 'VALID' or a list of "
                        "pairs, got %r" % (padding,)) from None
    if len(pairs) != nsp + 2 or any(len(p) != 2 for p in pairs):
        raise ValueError("When padding is a list, it must have %d (batch, "
                         "spatial..., channels) pairs. Received: padding=%r"
                         % (nsp + 2, padding))
    if channels_first:
        pairs = [pairs[0]] + pairs[2:] + [pairs[1]]
    if pairs[0] != (0, 0) or pairs[-1] != (0, 0):
        raise C.InvalidArgumentError(
            "Explicit padding in the batch or depth dimensions is not "
            "supported. [Op:%s]" % op)
    if min(min(p) for p in pairs) < 0:
        raise C.InvalidArgumentError(
            "All explicit padding values must be nonnegative. [Op:%s]" % op)
    return [list(p) for p in pairs[1:-1]]


def _resolve(padding, sizes, ksizes, strides, dilations):
    """padding as (before, after) pairs for spatial sizes `sizes`"""
    if not isinstance(padding, str):
        return padding
    if padding == "VALID":
        return [[0, 0] for _ in sizes]
    pairs = []
    for n, k, s, d in zip(sizes, ksizes, strides, dilations):
        out = (n + s - 1) // s
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        pairs.append([total // 2, total - total // 2])
    return pairs


def _to_last(x, first):
    """channels-first to channels-last (and `_to_first` back)"""
    if not first:
        return x
    r = len(x.shape)
    return C.transpose(x, [0] + list(range(2, r)) + [1])


def _to_first(x, first):
    if not first:
        return x
    r = len(x.shape)
    return C.transpose(x, [0, r - 1] + list(range(1, r - 1)))


def _operands(input, filters, op):  # noqa: A002
    x = C.convert_to_tensor(input)
    if isinstance(filters, (C.Tensor, C.Variable)):
        w = filters
    else:
        w = C.convert_to_tensor(filters, dtype=x.dtype)
    if w.dtype != x.dtype:
        raise C.InvalidArgumentError(
            "cannot compute %s as input #1(zero-based) was expected to "
            "be a %s tensor but is a %s tensor [Op:%s]"
            % (op, x.dtype.name, w.dtype.name, op))
    if not (x.dtype.is_floating or x.dtype == C.int32):
        raise TypeError("Value passed to parameter 'input' has DataType %s "
                        "not in list of allowed values: half, bfloat16, "
                        "float32, float64, int32" % x.dtype.name)
    return x, w


def _run(row, a, b, dtype, **attrs):
    """a row in a float dtype: int32 (TF's CPU kernels take it) runs in
    float64, exact for its products, and is cast back"""
    if dtype == C.int32:
        out = C._call(row, C.cast(a, C.float64), C.cast(b, C.float64),
                      **attrs)
        return C.cast(out, C.int32)
    return C._call(row, a, b, **attrs)


def _conv(input, filters, strides, padding, data_format, dilations,  # noqa
          nsp, op, filters_what):
    x, w = _operands(input, filters, op)
    first = _format(data_format, nsp)
    if len(w.shape) != nsp + 2:
        raise ValueError("`filters` must be a %d-D tensor %s. Received "
                         "filters of shape %s" % (nsp + 2, filters_what,
                                                  w.shape))
    if len(x.shape) < nsp + 2:
        raise ValueError("`input` must be at least %d-D (batch, spatial..., "
                         "channels). Received input of shape %s"
                         % (nsp + 2, x.shape))
    s = _seq(strides, nsp, "strides", first, op)
    d = _seq(dilations, nsp, "dilations", first, op)
    if min(s + d) < 1:
        raise C.InvalidArgumentError(
            "Sliding window strides and dilations must be > 0. [Op:%s]" % op)
    pads = _padding(padding, nsp, first, op)
    # extra leading batch dimensions fold into one (TF's batch_shape)
    shape = tuple(x.shape)
    batch = shape[:len(shape) - nsp - 1]
    if len(batch) != 1:
        x = C.reshape(x, [-1] + list(shape[len(batch):]))
    x = _to_last(x, first)
    sizes = list(x.shape[1:-1])
    pads = _resolve(pads, sizes, list(w.shape[:nsp]), s, d)
    cin, cg = x.shape[-1], w.shape[-2]
    if cg == 0 or cin % cg:
        raise C.InvalidArgumentError(
            "input depth must be evenly divisible by filter depth: %d vs %d "
            "[Op:%s]" % (cin, cg, op))
    y = _run("conv", x, w, x.dtype, strides=s, padding=pads, dilations=d)
    y = _to_first(y, first)
    if len(batch) != 1:
        y = C.reshape(y, list(batch) + list(y.shape[1:]))
    return y


def conv2d(input, filters, strides, padding, data_format="NHWC",  # noqa: A002
           dilations=None, name=None):
    """TF's tf.nn.conv2d: `input` (batch..., height, width, channels) for
    NHWC, `filters` (height, width, in_channels, out_channels), `padding`
    "SAME", "VALID" or explicit [[0, 0], [top, bottom], [left, right], [0,
    0]] pairs in `data_format`'s order.  An input depth that is a multiple
    g of the filters' in_channels is a grouped convolution (g groups)."""
    return _conv(input, filters, strides, padding, data_format, dilations,
                 2, "Conv2D", "(height, width, in_channels, out_channels)")


def conv1d(input, filters, stride, padding, data_format="NWC",  # noqa: A002
           dilations=None, name=None):
    """TF's tf.nn.conv1d: `input` (batch..., width, channels) for NWC,
    `filters` (width, in_channels, out_channels)."""
    return _conv(input, filters, stride, padding, data_format, dilations,
                 1, "Conv2D", "(width, in_channels, out_channels)")


def conv3d(input, filters, strides, padding, data_format="NDHWC",  # noqa
           dilations=None, name=None):
    """TF's tf.nn.conv3d: `input` (batch, depth, height, width, channels)
    for NDHWC, `filters` (depth, height, width, in_channels,
    out_channels)."""
    return _conv(input, filters, strides, padding, data_format, dilations,
                 3, "Conv3D",
                 "(depth, height, width, in_channels, out_channels)")


def convolution(input, filters, strides=None, padding="VALID",  # noqa: A002
                data_format=None, dilations=None, name=None):
    """TF's tf.nn.convolution: the rank comes from `filters` (1 to 3
    spatial dims)."""
    w = filters if isinstance(filters, (C.Tensor, C.Variable)) \
        else C.convert_to_tensor(filters)
    nsp = len(w.shape) - 2
    if nsp not in (1, 2, 3):
        raise ValueError("`filters` must have rank 3, 4 or 5 (1 to 3 "
                         "spatial dimensions). Received filters of shape %s"
                         % (w.shape,))
    if _format_str(data_format) is not None and \
            data_format.startswith("NC"):
        data_format = _FORMATS[nsp][1]
    elif data_format is not None and data_format not in _FORMATS[nsp]:
        raise ValueError("`data_format` must be %r or %r. Received: "
                         "data_format=%r" % (_FORMATS[nsp] + (data_format,)))
    return _conv(input, filters, strides, padding, data_format, dilations,
                 nsp, _OP[nsp], "(spatial..., in_channels, out_channels)")


def conv_transpose(input, filters, output_shape, strides,  # noqa: A002
                   padding="SAME", data_format=None, dilations=None,
                   name=None):
    """TF's tf.nn.conv_transpose: the gradient of `convolution` with
    respect to its input, for `filters` (spatial..., output_channels,
    in_channels) and the result's full `output_shape`."""
    w = filters if isinstance(filters, (C.Tensor, C.Variable)) \
        else C.convert_to_tensor(filters)
    nsp = len(w.shape) - 2
    if nsp not in (1, 2, 3):
        raise ValueError("`filters` must have rank 3, 4 or 5. Received "
                         "filters of shape %s" % (w.shape,))
    if _format_str(data_format) is not None and \
            data_format.startswith("NC"):
        data_format = _FORMATS[nsp][1]
    return _transpose(input, filters, output_shape, strides, padding,
                      data_format, dilations, nsp)


def _transpose(input, filters, output_shape, strides, padding,  # noqa
               data_format, dilations, nsp):
    op = "Conv3DBackpropInputV2" if nsp == 3 else "Conv2DBackpropInput"
    x, w = _operands(input, filters, op)
    first = _format(data_format, nsp)
    if len(w.shape) != nsp + 2:
        raise ValueError("`filters` must be a %d-D tensor (spatial..., "
                         "output_channels, in_channels). Received filters "
                         "of shape %s" % (nsp + 2, w.shape))
    if len(x.shape) != nsp + 2:
        raise ValueError("`input` must be %d-D. Received input of shape %s"
                         % (nsp + 2, x.shape))
    if isinstance(output_shape, (C.Tensor, C.Variable)):
        output_shape = output_shape.numpy().tolist()
    try:
        out = [int(v) for v in output_shape]
    except TypeError:
        raise TypeError("output_shape must be a list of ints, got %r"
                        % (output_shape,)) from None
    if len(out) != nsp + 2:
        raise ValueError("output_shape must have shape (%d,), got (%d,)"
                         % (nsp + 2, len(out)))
    if first:
        out = [out[0]] + out[2:] + [out[1]]
    cin = x.shape[1] if first else x.shape[-1]
    if w.shape[-1] != cin:
        raise ValueError("input channels (%d) and the filters' in_channels "
                         "(%d, their last dimension) must be equal"
                         % (cin, w.shape[-1]))
    if w.shape[-2] != out[-1]:
        raise ValueError("output_shape's channels (%d) and the filters' "
                         "output_channels (%d) must be equal"
                         % (out[-1], w.shape[-2]))
    s = _seq(strides, nsp, "strides", first, op)
    d = _seq(dilations, nsp, "dilations", first, op)
    if min(s + d) < 1:
        raise C.InvalidArgumentError(
            "Sliding window strides and dilations must be > 0. [Op:%s]" % op)
    pads = _resolve(_padding(padding, nsp, first, op), out[1:-1],
                    list(w.shape[:nsp]), s, d)
    y = _run("conv_backprop_input", w, _to_last(x, first), x.dtype,
             input_sizes=out, strides=s, padding=pads, dilations=d)
    return _to_first(y, first)


def conv2d_transpose(input, filters, output_shape, strides,  # noqa: A002
                     padding="SAME", data_format="NHWC", dilations=None,
                     name=None):
    """TF's tf.nn.conv2d_transpose: `filters` (height, width,
    output_channels, in_channels); the result has `output_shape`."""
    return _transpose(input, filters, output_shape, strides, padding,
                      data_format, dilations, 2)


def conv1d_transpose(input, filters, output_shape, strides,  # noqa: A002
                     padding="SAME", data_format="NWC", dilations=None,
                     name=None):
    """TF's tf.nn.conv1d_transpose."""
    return _transpose(input, filters, output_shape, strides, padding,
                      data_format, dilations, 1)


def conv3d_transpose(input, filters, output_shape, strides,  # noqa: A002
                     padding="SAME", data_format="NDHWC", dilations=None,
                     name=None):
    """TF's tf.nn.conv3d_transpose."""
    return _transpose(input, filters, output_shape, strides, padding,
                      data_format, dilations, 3)


def depthwise_conv2d(input, filter, strides, padding,  # noqa: A002
                     data_format=None, dilations=None, name=None):
    """TF's tf.nn.depthwise_conv2d: `filter` (height, width, in_channels,
    channel_multiplier); output channel c * multiplier + m is input
    channel c under filter[..., c, m].  It is the grouped convolution
    with one group per input channel, the filter reshaped to (height,
    width, 1, in_channels * multiplier)."""
    x, w = _operands(input, filter, "DepthwiseConv2dNative")
    if len(w.shape) != 4:
        raise ValueError("`filter` must be a 4-D tensor (height, width, "
                         "in_channels, channel_multiplier). Received filter "
                         "of shape %s" % (w.shape,))
    first = _format(data_format, 2)
    cin = x.shape[1 if first else -1] if len(x.shape) == 4 else None
    if cin is not None and cin != w.shape[2]:
        raise C.InvalidArgumentError(
            "input and filter must have the same depth: %d vs %d "
            "[Op:DepthwiseConv2dNative]" % (cin, w.shape[2]))
    kh, kw, c, m = w.shape
    w = C.reshape(w, [kh, kw, 1, c * m])
    return _conv(x, w, strides, padding, data_format, dilations, 2,
                 "DepthwiseConv2dNative",
                 "(height, width, in_channels, channel_multiplier)")


def bias_add(value, bias, data_format=None, name=None):
    """TF's tf.nn.bias_add: `bias` (1-D) added along the channels, the
    last axis, or axis 1 when `data_format` starts with "NC"."""
    x = C.convert_to_tensor(value)
    if isinstance(bias, (C.Tensor, C.Variable)):
        b = bias
    else:
        b = C.convert_to_tensor(bias, dtype=x.dtype)
    first = _format_str(data_format) is not None and data_format is not None and data_format.startswith("NC")
    if len(b.shape) != 1:
        raise C.InvalidArgumentError("Biases must be 1D: %s [Op:BiasAdd]"
                                     % _dims(b.shape))
    if len(x.shape) < 2:
        raise C.InvalidArgumentError("Input tensor must be at least 2D: %s "
                                     "[Op:BiasAdd]" % _dims(x.shape))
    axis = 1 if first else len(x.shape) - 1
    if x.shape[axis] != b.shape[0]:
        raise C.InvalidArgumentError(
            "Must provide as many biases as the %s dimension of the input "
            "tensor: %s vs. %s [Op:BiasAdd]"
            % ("channel" if first else "last", _dims(b.shape),
               _dims(x.shape)))
    if first:
        b = C.reshape(b, [-1] + [1] * (len(x.shape) - 2))
    return C.add(x, b)


def _dims(shape):
    return "[%s]" % ",".join(str(v) for v in shape)
