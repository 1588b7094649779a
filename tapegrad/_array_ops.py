"""TF's array functions that ported code reaches for, composed of op-table
rows: tf.slice, tf.roll, tf.repeat, tf.meshgrid, tf.sequence_mask,
tf.ensure_shape, tf.executing_eagerly and tf.unique.

Each is what TF's own Python (array_ops.py, manip_ops.py) computes, built
from recorded rows (strided slices, concat, gather, reshape, broadcast_to,
comparisons), so gradients, second order and forward mode come from
those rows' rules.  Shapes, defaults and errors are TF's.
"""
import collections

import numpy as np

from . import _tapegrad as C

__all__ = ["slice", "roll", "repeat", "meshgrid", "sequence_mask",
           "ensure_shape", "executing_eagerly", "unique"]

_slice = slice                     # the builtin, before `slice` below


def _t(x):
    if isinstance(x, (C.Tensor, C.Variable)):
        return x
    return C.convert_to_tensor(x)


def _ints(x, op, position):
    """x (a Python int, a list or an integer tensor), input `position` of
    TF's op `op`, as a 1-D int64 array; TF's InvalidArgumentError for a
    float."""
    t = _t(x)
    a = np.asarray(t.numpy())
    if a.dtype.kind not in "iu" and a.size:   # [] is an empty int list
        raise C.InvalidArgumentError(
            "cannot compute %s as input #%d(zero-based) was expected to be "
            "a int32 tensor but is a %s tensor [Op:%s]"
            % (op, position, t.dtype.name, op))
    return a.astype(np.int64).reshape(-1), a.ndim


def executing_eagerly():
    """True: tapegrad runs every op eagerly, tf.function's body included
    (as TF with tf.config.run_functions_eagerly(True))."""
    return True


def slice(input_, begin, size, name=None):  # noqa: A001 (TF's name)
    """The block of `input_` that starts at `begin` and has `size`
    elements along each axis (-1: all the rest of that axis)."""
    x = _t(input_)
    shape = x.shape.as_list()
    b, _ = _ints(begin, "Slice", 1)
    s, _ = _ints(size, "Slice", 2)
    if len(b) != len(shape) or len(s) != len(shape):
        raise C.InvalidArgumentError(
            "Expected begin and size arguments to be 1-D tensors of size "
            "%d, but got shapes [%d] and [%d] instead. [Op:Slice]"
            % (len(shape), len(b), len(s)))
    index = []
    for i, dim in enumerate(shape):
        if not 0 <= b[i] <= dim:
            raise C.InvalidArgumentError(
                "Expected begin[%d] in [0, %d], but got %d [Op:Slice]"
                % (i, dim, b[i]))
        n = dim - b[i] if s[i] == -1 else s[i]
        if not 0 <= n <= dim - b[i]:
            raise C.InvalidArgumentError(
                "Expected size[%d] in [0, %d], but got %d [Op:Slice]"
                % (i, dim - b[i], s[i]))
        index.append(_slice(int(b[i]), int(b[i] + n)))
    return x[tuple(index)] if index else C.identity(x)


def roll(input, shift, axis, name=None):  # noqa: A002 (TF's name)
    """Elements shifted `shift` places toward higher indices along `axis`,
    those past the end coming round to the start; shifts along a repeated
    axis add up."""
    x = _t(input)
    shifts, sd = _ints(shift, "Roll", 1)
    axes, ad = _ints(axis, "Roll", 2)
    if sd > 1 or ad > 1:
        raise C.InvalidArgumentError(
            "shift must be a scalar or a 1-D vector. Found: %s [Op:Roll]"
            % (list(np.shape(shift)),))
    if len(shifts) != len(axes):
        raise C.InvalidArgumentError(
            "shift and axis must have the same size [Op:Roll]")
    rank = len(x.shape)
    total = {}
    for sh, ax in zip(shifts, axes):
        if not -rank <= ax < rank:
            raise C.InvalidArgumentError(
                "axis %d is out of range [Op:Roll]" % ax)
        ax = int(ax) % rank
        total[ax] = total.get(ax, 0) + int(sh)
    out = x
    for ax, sh in sorted(total.items()):
        dim = x.shape[ax]
        k = sh % dim if dim else 0
        if k == 0:
            continue
        lead = (_slice(None),) * ax
        out = C.concat([out[lead + (_slice(dim - k, None),)],
                        out[lead + (_slice(0, dim - k),)]], ax)
    return out if out is not x else C.identity(x)


def repeat(input, repeats, axis=None, name=None):  # noqa: A002
    """Each element (axis None: of the flattened input) or each slice
    along `axis`, `repeats` times over (a count for all, or one each)."""
    x = _t(input)
    if axis is None or len(x.shape) == 0:   # a scalar repeats as [x]
        x = C.reshape(x, [-1])
        axis = 0 if axis is None or int(axis) in (0, -1) else int(axis)
    rank = len(x.shape)
    if not -rank <= int(axis) < rank:
        raise ValueError("axis=%d out of bounds: expected %d<=axis<%d"
                         % (int(axis), -rank, rank))
    axis = int(axis) % rank
    counts, _ = _ints(repeats, "Repeat", 1)
    dim = x.shape[axis]
    if counts.size not in (1, dim):
        raise ValueError("Dimensions must be equal, but are %d and %d for "
                         "'repeats' and the input's axis %d"
                         % (counts.size, dim, axis))
    if counts.size == 1 and counts[0] < 0:
        raise C.InvalidArgumentError(
            "repeats must be non-negative, got %d [Op:Repeat]"
            % int(counts[0]))
    # one count per slice: a negative one is 0, as TF's sequence mask of
    # counts makes it
    index = np.repeat(np.arange(dim, dtype=np.int64),
                      np.maximum(counts, 0) if counts.size == dim
                      else int(counts[0]))
    return C.gather(x, index, axis=axis)


def meshgrid(*args, **kwargs):
    """N-D coordinate grids from N 1-D tensors: with indexing 'xy' (the
    default) the first two axes are swapped, as in NumPy."""
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        key = next(iter(kwargs))
        raise TypeError("'{}' is an invalid keyword argument for this "
                        "function".format(key))
    if indexing not in ("xy", "ij"):
        raise ValueError("indexing parameter must be either 'xy' or 'ij'")
    vecs = [C.reshape(_t(a), [-1]) for a in args]
    n = len(vecs)
    if n == 0:
        return []
    sizes = [v.shape[0] for v in vecs]
    if indexing == "xy" and n > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, v in enumerate(vecs):
        where = i
        if indexing == "xy" and n > 1 and i < 2:
            where = 1 - i
        shape = [1] * n
        shape[where] = -1
        out.append(C.broadcast_to(C.reshape(v, shape), sizes))
    return out


def sequence_mask(lengths, maxlen=None, dtype=C.bool, name=None):
    """mask[..., j] = j < lengths[...], over maxlen columns (by default
    the largest length): TF's range(maxlen) against the lengths cast to
    maxlen's dtype (a float maxlen of 2.5 gives 3 columns)."""
    from .dtypes import as_dtype
    n = np.asarray(_t(lengths).numpy())
    if maxlen is None:
        m = n.max() if n.size else np.zeros((), n.dtype)
    else:
        m = np.asarray(_t(maxlen).numpy())
        if m.ndim != 0:
            raise ValueError("Argument `maxlen` must be scalar for "
                             "sequence_mask, received `maxlen` = %s."
                             % (m.tolist(),))
    cols = np.arange(m, dtype=m.dtype) if m > 0 else np.zeros(0, m.dtype)
    mask = cols < n.astype(m.dtype)[..., None]
    out = C.constant(mask)
    return out if as_dtype(dtype) == C.bool else C.cast(out, dtype)


def ensure_shape(x, shape, name=None):
    """x itself (its gradient passes through) when its shape is
    compatible with `shape` (None: any size); InvalidArgumentError
    otherwise."""
    from ._shape import TensorShape
    x = _t(x)
    want = TensorShape(shape)
    if not want.is_compatible_with(x.shape):
        def show(s):
            if s.rank is None:
                return "<unknown>"
            return "[%s]" % ",".join("?" if d is None else str(d)
                                     for d in s.as_list())
        raise C.InvalidArgumentError(
            "Shape of tensor x %s is not compatible with expected shape %s."
            " [Op:EnsureShape]" % (show(x.shape), show(want)))
    return C.identity(x)


Unique = collections.namedtuple("Unique", ["y", "idx"])


def unique(x, out_idx=C.int32, name=None):
    """The distinct elements of the 1-D `x` in the order they first appear
    (y), and where each element of x is in y (idx, of dtype out_idx)."""
    from .dtypes import as_dtype
    t = _t(x)
    if len(t.shape) != 1:
        raise C.InvalidArgumentError(
            "unique expects a 1D vector. [Op:UniqueV2]")
    out_idx = as_dtype(out_idx)
    if out_idx not in (C.int32, C.int64):
        raise C.InvalidArgumentError(
            "Value for attr 'out_idx' of %s is not in the list of allowed "
            "values: int32, int64 [Op:UniqueV2]" % out_idx.name)
    a = t.numpy()
    # every NaN its own element, as TF's hash of values makes it
    _, first, inverse = np.unique(a, return_index=True, return_inverse=True,
                                  equal_nan=False)
    order = np.argsort(first, kind="stable")     # by first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    # y has no gradient: TF registers none for UniqueV2 (its tape raises
    # LookupError there); here a gradient through y is None, as for any
    # stop_gradient
    y = C.gather(t, first[order].astype(np.int64))
    idx = C.constant(rank[inverse.reshape(-1)], dtype=out_idx)
    return Unique(C.stop_gradient(y), idx)
