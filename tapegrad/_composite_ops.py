"""Ops ported code reaches for, built from op-table rows.

scatter_nd, tensor_scatter_nd_*, unsorted_segment_sum and _max are rows of
their own (src/ops_array.c); what is here composes recorded rows (gather,
unsorted_segment_sum ...), so gradients, second order and forward mode
come from those rows' rules: embedding_lookup (TF's is Python over gather
too), the sorted segment ops (their ids checked, then the unsorted row)
and segment means.  Shapes and errors are TF's.
"""
import numpy as np

from . import _tapegrad as C

__all__ = ["embedding_lookup", "unsorted_segment_mean", "segment_sum",
           "segment_mean", "segment_max", "count_nonzero",
           "reduce_euclidean_norm"]


def _t(x, dtype=None):
    if isinstance(x, (C.Tensor, C.Variable)):
        return x
    return C.convert_to_tensor(x, dtype=dtype)


def _int_array(x, op, param):
    a = np.asarray(_t(x).numpy())
    if a.dtype.kind not in "iu":
        raise TypeError("%s: Value passed to parameter '%s' has DataType %s "
                        "not in list of allowed values: int32, int64"
                        % (op, param, _t(x).dtype.name))
    return a.astype(np.int64)


# ---- embedding_lookup -------------------------------------------------------------
def embedding_lookup(params, ids, max_norm=None, name=None):
    """Rows of params (a tensor, or a list of shards concatenated in
    order: TF's "div" strategy) at ids; with max_norm, each looked-up row
    scaled down to that L2 norm."""
    if isinstance(params, (list, tuple)):
        if not params:
            raise ValueError("Need at least one param")
        params = params[0] if len(params) == 1 else C.concat(list(params), 0)
    out = C.gather(params, ids)
    if max_norm is not None:
        nd = len(out.shape)
        axes = list(range(len(_t(ids).shape), nd))
        out = C.clip_by_norm(out, max_norm, axes=axes) if axes else out
    return out


# ---- segments -------------------------------------------------------------------------
def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    """The mean per segment; 0 for an empty one."""
    data = _t(data)
    total = C.unsorted_segment_sum(data, segment_ids, num_segments)
    ids = _int_array(segment_ids, "UnsortedSegmentMean", "segment_ids")
    counts = np.bincount(ids[ids >= 0].reshape(-1),
                         minlength=int(num_segments))[:int(num_segments)]
    shape = (int(num_segments),) + (1,) * (len(total.shape) - 1)
    denom = C.constant(np.maximum(counts, 1).reshape(shape),
                       dtype=total.dtype)
    return total / denom


def _sorted_ids(segment_ids, op):
    ids = _int_array(segment_ids, op, "segment_ids")
    if ids.ndim != 1:
        raise C.InvalidArgumentError("segment_ids should be a vector [Op:%s]"
                                     % op)
    if ids.size and (np.any(np.diff(ids) < 0) or ids[0] < 0):
        raise C.InvalidArgumentError(
            "segment ids are not increasing [Op:%s]" % op)
    return ids, (int(ids[-1]) + 1 if ids.size else 0)


def segment_sum(data, segment_ids, name=None):
    """unsorted_segment_sum over sorted ids, as many segments as the last
    id + 1."""
    ids, n = _sorted_ids(segment_ids, "SegmentSum")
    return C.unsorted_segment_sum(data, ids, n)


def segment_mean(data, segment_ids, name=None):
    """Mean of the rows of `data` per segment id; the ids are sorted (0, 0, 1,
    ...), as TF's SegmentMean requires."""
    ids, n = _sorted_ids(segment_ids, "SegmentMean")
    return unsorted_segment_mean(data, ids, n)


def segment_max(data, segment_ids, name=None):
    """Maximum of the rows of `data` per segment id; the ids are sorted (0, 0,
    1, ...), as TF's SegmentMax requires."""
    ids, n = _sorted_ids(segment_ids, "SegmentMax")
    return C.unsorted_segment_max(data, ids, n)


# ---- counts and norms ---------------------------------------------------------------
def count_nonzero(input, axis=None, keepdims=None, dtype=C.int64,  # noqa: A002
                  name=None):
    """How many elements are not zero (not False), over `axis` (all by
    default), as `dtype` (int64 by default)."""
    from .dtypes import as_dtype
    x = _t(input)
    nonzero = C.not_equal(x, C.zeros([], dtype=x.dtype))
    counts = C.reduce_sum(C.cast(nonzero, C.int64), axis=axis,
                          keepdims=bool(keepdims))
    dtype = as_dtype(dtype)
    return counts if dtype == C.int64 else C.cast(counts, dtype)


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False,
                          name=None):
    """sqrt(sum(x**2)) over `axis` (all by default).  Integer inputs give
    an integer norm, truncated, as TF's EuclideanNorm does (4 for
    sqrt(17))."""
    x = _t(input_tensor)
    if x.dtype.is_integer:
        sq = C.reduce_sum(C.cast(x, C.float64) ** 2, axis=axis,
                          keepdims=keepdims)
        return C.cast(C.floor(C.sqrt(sq)), x.dtype)
    return C.sqrt(C.reduce_sum(C.square(x), axis=axis, keepdims=keepdims))
