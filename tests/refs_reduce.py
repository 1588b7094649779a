"""Hand references (NumPy) for the rows of src/ops_reduce.def whose `numpy`
field is "ref:NAME"."""
import numpy as np


def _axes(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def reduce_logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))), max-shifted, computed in float64."""
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    axis = _axes(axis)
    m = np.max(x64, axis=axis, keepdims=True) if x64.size else np.zeros(())
    m = np.where(np.isfinite(m), m, 0.0)
    r = np.log(np.sum(np.exp(x64 - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        r = np.squeeze(r, axis=axis) if axis is not None else r.reshape(())
    return r.astype(x.dtype)


def _arg(f, x, axis, output_type):
    axis = 0 if axis is None else axis
    return f(np.asarray(x), axis=axis).astype(np.dtype(output_type))


def argmax(input, axis=None, output_type="int64"):
    return _arg(np.argmax, input, axis, output_type)


def argmin(input, axis=None, output_type="int64"):
    return _arg(np.argmin, input, axis, output_type)


def _scan(f, x, axis, exclusive, reverse):
    x = np.asarray(x)
    y = np.flip(x, axis) if reverse else x
    with np.errstate(over="ignore"):
        r = f(y.astype(np.float64) if x.dtype.kind == "f" else y, axis=axis)
    if exclusive:
        first = np.ones_like(np.take(r, [0], axis=axis))
        first = first * (1 if f is np.cumprod else 0)
        r = np.concatenate([first, np.take(r, range(r.shape[axis] - 1),
                                           axis=axis)], axis=axis)
    if reverse:
        r = np.flip(r, axis)
    return r.astype(x.dtype)


def cumsum(x, axis=0, exclusive=False, reverse=False):
    return _scan(np.cumsum, x, axis, exclusive, reverse)


def cumprod(x, axis=0, exclusive=False, reverse=False):
    return _scan(np.cumprod, x, axis, exclusive, reverse)


def argsort(values, axis=-1, direction="ASCENDING", stable=False):
    """Stable; ties keep the lower index first in both directions."""
    v = np.asarray(values)
    if direction == "DESCENDING":
        # unsigned values negate in a signed type (-v wraps in NumPy)
        key = -v.astype(np.float64) if v.dtype.kind == "u" else -v
    else:
        key = v
    return np.argsort(key, axis=axis, kind="stable").astype(np.int32)


def sort(values, axis=-1, direction="ASCENDING"):
    v = np.asarray(values)
    return np.take_along_axis(v, argsort(v, axis, direction).astype(np.intp),
                              axis=axis)


def top_k(input, k=1, sorted=True):
    v = np.asarray(input)
    idx = argsort(v, -1, "DESCENDING")[..., :k]
    return np.take_along_axis(v, idx.astype(np.intp), axis=-1), idx


def take_along_axis(x, indices, axis=-1):
    return np.take_along_axis(np.asarray(x), np.asarray(indices), axis=axis)


def take_along_axis_grad(dy, indices, axis=-1, size=None):
    """The adjoint of take_along_axis: scatter-add dy (repeats add up)."""
    dy = np.asarray(dy)
    idx = np.asarray(indices)
    shape = list(dy.shape)
    shape[axis] = size
    out = np.zeros(shape, dtype=dy.dtype)
    grids = list(np.indices(idx.shape, sparse=True))
    grids[axis % dy.ndim] = idx
    np.add.at(out, tuple(grids), dy)
    return out


def sort_first_rows(arrays):
    """Case preparation: the sequence (arrays[0]) sorted along its rows"""
    return [np.sort(arrays[0], axis=-1)] + list(arrays[1:])


def searchsorted(sorted_sequence, values, side="left", out_type=None):
    seq = np.asarray(sorted_sequence)
    val = np.asarray(values)
    out = np.empty(val.shape, np.int64)
    s2, v2 = seq.reshape(-1, seq.shape[-1]), val.reshape(-1, val.shape[-1])
    o2 = out.reshape(-1, val.shape[-1])
    for i in range(s2.shape[0]):
        o2[i] = np.searchsorted(s2[i], v2[i], side=side)
    return out.astype(np.int64 if out_type == "int64" else np.int32)
