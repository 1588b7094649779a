"""tf.nn's pooling front ends: max_pool, avg_pool and their 1d/2d/3d forms.

What is TF's Python layer lives here: ksize and strides given as an int or
a list of length 1, N or N + 2 (TF's _get_sequence), the data formats, the
rank checks and their messages.  The pooling itself is the op-table rows
max_pool / avg_pool (src/ops_pool.c), which take one window size and one
stride per spatial axis of a channels-last input; a channels-first input
is transposed to channels-last and back, which costs two copies but keeps
one kernel.  Explicit padding (max pooling over 1 or 2 axes, as TF) pads
with -inf and pools VALID.  Messages the kernels raise in TF (ksize,
strides, padding, output size) are raised by the rows with TF's wording.
"""
import collections.abc

from . import _tapegrad as C

__all__ = ["max_pool", "max_pool1d", "max_pool2d", "max_pool3d",
           "avg_pool", "avg_pool1d", "avg_pool2d", "avg_pool3d"]

#: the data formats each rank's TF op accepts (the 1-D functions run the
#: 2-D op on an expanded input, so their formats map onto its list)
_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}
_OP_NAMES = {("max", 2): "MaxPool", ("max", 3): "MaxPool3D",
             ("avg", 2): "AvgPool", ("avg", 3): "AvgPool3D"}


def _get_sequence(value, n, channel_index, name):
    """ksize / strides as the full (n + 2)-list in the data format's
    order, from an int or a list of length 1, n or n + 2 (TF's rule)."""
    if value is None:
        return [1] * (n + 2)
    if isinstance(value, list):
        pass
    elif isinstance(value, tuple):
        value = list(value)
    elif isinstance(value, int):
        value = [value]
    elif not isinstance(value, collections.abc.Sized):
        value = [value]
    else:
        value = list(value)
    if len(value) == n + 2:
        return value
    if len(value) == 1:
        value = value * n
    elif len(value) != n:
        raise ValueError("%s should be of length 1, %d or %d. Received: "
                         "%s=%s of length %d" % (name, n, n + 2, name, value,
                                                 len(value)))
    if channel_index == 1:
        return [1, 1] + value
    return [1] + value + [1]


def _convert_padding(padding, expected_length):
    """TF's convert_padding: a list of (before, after) pairs, one per
    dimension, is explicit padding; returns the pairs or None."""
    if isinstance(padding, str) and padding == "EXPLICIT":
        raise ValueError('"EXPLICIT" is not a valid value for `padding`. To '
                         'use explicit padding, `padding` must be a list.')
    if not isinstance(padding, (list, tuple)):
        return None
    for i, pair in enumerate(padding):
        if not isinstance(pair, (list, tuple)):
            raise ValueError(
                "When `padding` is a list, each element of `padding` must be "
                "a list/tuple of size 2. Received: padding=%s with element "
                "at index %d of type %s" % (padding, i, type(pair)))
        if len(pair) != 2:
            raise ValueError(
                "When `padding` is a list, each element of `padding` must be "
                "a list/tuple of size 2. Received: padding=%s with element "
                "at index %d of size %d" % (padding, i, len(pair)))
    if len(padding) != expected_length:
        raise ValueError("When padding is a list, it must be of size %d. "
                         "Received: padding=%s of size %d"
                         % (expected_length, padding, len(padding)))
    return [_ints(pair, "explicit_paddings") for pair in padding]


def _explicit(x, pads, ksize, strides, op):
    """x (channels-last) padded with -inf by `pads` (one pair per axis),
    TF's checks first: max pooling with explicit padding is VALID pooling
    of the padded input, since -inf never wins a window that holds an
    input element."""
    for pair in pads:
        for v in pair:
            if v < 0:
                raise C.InvalidArgumentError(
                    "All explicit padding values must be nonnegative, got "
                    "%d [Op:%s]" % (v, op))
    if pads[0] != [0, 0] or pads[-1] != [0, 0]:
        raise C.InvalidArgumentError(
            "Nonzero explicit padding in the batch or depth dimensions is "
            "not supported [Op:%s]" % op)
    for i in range(1, len(pads) - 1):
        size, (b, a), k, st = x.shape[i], pads[i], ksize[i], strides[i]
        if st <= 0:
            raise C.InvalidArgumentError(
                "Stride must be > 0, but got %d [Op:%s]" % (st, op))
        out = (size + b + a - k + st) // st if size + b + a - k + st >= 0 \
            else -((-(size + b + a - k + st)) // st)
        if out < 0:
            raise C.InvalidArgumentError(
                "Computed output size would be negative: %d [input_size: %d, "
                "effective_filter_size: %d, stride: %d] [Op:%s]"
                % (out, size, k, st, op))
    return C.pad(x, pads, constant_values=float("-inf"))


def _ints(values, name):
    out = []
    for v in values:
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError("Expected int for argument '%s' not %r."
                            % (name, v))
        out.append(v.__index__())
    return out


def _run(kind, x, ksize, strides, padding, data_format, n):
    """Pool the rank-(n + 2) tensor x; ksize and strides are full lists in
    data_format's order; n is the op's spatial rank (1-D pooling already
    counts as TF's 2-D op for its messages)."""
    op = _OP_NAMES[(kind, 3 if n == 3 else 2)]
    formats = _FORMATS[n]
    if data_format not in formats:
        allowed = ("\"NDHWC\", \"NCDHW\"" if n == 3
                   else "\"NHWC\", \"NCHW\", \"NCHW_VECT_C\"")
        raise C.InvalidArgumentError(
            "Value for attr 'data_format' of \"%s\" is not in the list of "
            "allowed values: %s [Op:%s]" % (data_format, allowed, op))
    rank = len(x.shape)
    if rank != n + 2:
        raise C.InvalidArgumentError(
            "tensor_in must be %d-dimensional [Op:%s]"
            % (5 if n == 3 else 4, op))
    ksize = _ints(ksize, "ksize")
    strides = _ints(strides, "strides")
    if len(ksize) != n + 2 or len(strides) != n + 2:
        raise C.InvalidArgumentError(
            "Sliding window ksize and strides fields must specify %d "
            "dimensions [Op:%s]" % (n + 2, op))
    # TF's 1-D functions run the 2-D op with a window of 1 in front
    shift = 1 if n == 1 else 0
    for i, k in enumerate(ksize):
        if k <= 0:
            raise C.InvalidArgumentError(
                "Sliding window ksize for dimension %d was zero. [Op:%s]"
                % (i + (shift if i else 0), op))
    channels_first = data_format.startswith("NC")
    c = 1 if channels_first else n + 1
    if ksize[0] != 1 or strides[0] != 1:
        raise C.InvalidArgumentError(
            "Pooling is not yet supported on the batch dimension. [Op:%s]"
            % op)
    if ksize[c] != 1 or strides[c] != 1:
        raise C.InvalidArgumentError(
            "Pooling is not yet supported on the depth dimension. [Op:%s]"
            % op)
    spatial = [i for i in range(n + 2) if i not in (0, c)]
    order = [0] + spatial + [c]
    if channels_first:
        x = C.transpose(x, order)
    if kind == "max" and n < 3:
        # MaxPool takes explicit padding; MaxPool3D and the average ops
        # take a string (the row's TypeError otherwise, as TF's make_str)
        pads = _convert_padding(padding, n + 2)
        if pads is not None:
            x = _explicit(x, [pads[i] for i in order],
                          [ksize[i] for i in order],
                          [strides[i] for i in order], op)
            padding = "VALID"
    y = C._call("max_pool" if kind == "max" else "avg_pool", x,
                ksize=[ksize[i] for i in spatial],
                strides=[strides[i] for i in spatial], padding=padding)
    if channels_first:
        y = C.transpose(y, [0, n + 1] + list(range(1, n + 1)))
    return y


def _generic(kind, input, ksize, strides, padding, data_format):
    x = C.convert_to_tensor(input)
    n = len(x.shape) - 2
    if not 1 <= n <= 3:
        raise ValueError("`input.shape.rank` must be 3, 4 or 5. Received: "
                         "input.shape=%s of rank %d." % (x.shape, n + 2))
    if data_format is None:
        channel_index = n + 1
        data_format = _FORMATS[n][0]
    else:
        # TF reads data_format.startswith here (an AttributeError for a
        # non-string); the row's "not in the list" message says more
        channel_index = 1 if str(data_format).startswith("NC") else n + 1
    ksize = _get_sequence(ksize, n, channel_index, "ksize")
    strides = _get_sequence(strides, n, channel_index, "strides")
    if kind == "max" and isinstance(padding, (list, tuple)) and n == 3:
        raise ValueError("Explicit padding is not yet supported with an "
                         "input tensor of rank 5")
    return _run(kind, x, ksize, strides, padding, data_format, n)


def _fixed(kind, n, input, ksize, strides, padding, data_format):
    """The 1d/2d/3d forms: the rank is the function's, as TF's (a wrong
    rank is the kernel's InvalidArgumentError)."""
    x = C.convert_to_tensor(input)
    if data_format is None:
        data_format = _FORMATS[n][0]
    channel_index = 1 if str(data_format).startswith("NC") else n + 1
    ksize = _get_sequence(ksize, n, channel_index, "ksize")
    strides = _get_sequence(strides, n, channel_index, "strides")
    return _run(kind, x, ksize, strides, padding, data_format, n)


def max_pool(input, ksize, strides, padding, data_format=None,  # noqa: A002
             name=None):
    """tf.nn.max_pool: the rank (3, 4 or 5) comes from the input; each
    window's maximum (padding never wins)."""
    return _generic("max", input, ksize, strides, padding, data_format)


def avg_pool(input, ksize, strides, padding, data_format=None,  # noqa: A002
             name=None):
    """tf.nn.avg_pool: each window's mean over its in-bounds elements."""
    return _generic("avg", input, ksize, strides, padding, data_format)


def max_pool1d(input, ksize, strides, padding,  # noqa: A002
               data_format="NWC", name=None):
    """Max pooling over one spatial axis of a 3-D input (NWC, or NCW): the
    largest value of each window."""
    return _fixed("max", 1, input, ksize, strides, padding, data_format)


def max_pool2d(input, ksize, strides, padding,  # noqa: A002
               data_format="NHWC", name=None):
    """Max pooling over two spatial axes of a 4-D input (NHWC, or NCHW): the
    largest value of each window."""
    return _fixed("max", 2, input, ksize, strides, padding, data_format)


def max_pool3d(input, ksize, strides, padding,  # noqa: A002
               data_format="NDHWC", name=None):
    """Max pooling over three spatial axes of a 5-D input (NDHWC, or NCDHW):
    the largest value of each window."""
    return _fixed("max", 3, input, ksize, strides, padding, data_format)


def avg_pool1d(input, ksize, strides, padding,  # noqa: A002
               data_format="NWC", name=None):
    """Average pooling over one spatial axis of a 3-D input (NWC, or NCW): the
    mean of each window."""
    return _fixed("avg", 1, input, ksize, strides, padding, data_format)


def avg_pool2d(input, ksize, strides, padding,  # noqa: A002
               data_format="NHWC", name=None):
    """Average pooling over two spatial axes of a 4-D input (NHWC, or NCHW):
    the mean of each window."""
    return _fixed("avg", 2, input, ksize, strides, padding, data_format)


def avg_pool3d(input, ksize, strides, padding,  # noqa: A002
               data_format="NDHWC", name=None):
    """Average pooling over three spatial axes of a 5-D input (NDHWC, or
    NCDHW): the mean of each window."""
    return _fixed("avg", 3, input, ksize, strides, padding, data_format)
