"""Ops ported code reaches for, built from op-table rows.

Each is a composition of recorded rows (gather, the internal scatter rows
gather_grad / gather_nd_grad, where, reduce_max ...), so gradients, second
order and forward mode come from those rows' rules; integer results
(searchsorted) are never recorded, as TF's.  Shapes and errors are TF's.
"""
import numpy as np

from . import _tapegrad as C

__all__ = ["embedding_lookup", "scatter_nd", "tensor_scatter_nd_update",
           "tensor_scatter_nd_add", "tensor_scatter_nd_sub",
           "unsorted_segment_sum", "unsorted_segment_mean",
           "unsorted_segment_max", "segment_sum", "segment_mean",
           "segment_max", "searchsorted"]


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


# ---- scatter -------------------------------------------------------------------------
def scatter_nd(indices, updates, shape, name=None):
    """Zeros of `shape` with updates added at indices (duplicates sum), as
    TF's ScatterNd."""
    updates = _t(updates)
    if not updates.dtype.is_floating:   # not differentiable: NumPy adds
        idx = _int_array(indices, "ScatterNd", "indices")
        shape = tuple(int(d) for d in
                      np.asarray(_t(shape).numpy()).reshape(-1))
        out = np.zeros(shape, updates.dtype.as_numpy_dtype)
        k = idx.shape[-1]
        np.add.at(out, tuple(idx.reshape(-1, k).T),
                  np.asarray(updates.numpy()).reshape(
                      (-1,) + shape[k:]))
        return C.constant(out)
    return C._call("gather_nd_grad", updates, indices=indices, batch_dims=0,
                   shape=shape)


def tensor_scatter_nd_add(tensor, indices, updates, name=None):
    tensor = _t(tensor)
    return tensor + scatter_nd(indices, _t(updates, tensor.dtype),
                               tensor.shape)


def tensor_scatter_nd_sub(tensor, indices, updates, name=None):
    tensor = _t(tensor)
    return tensor - scatter_nd(indices, _t(updates, tensor.dtype),
                               tensor.shape)


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    """tensor with the entries (or slices) at indices replaced by updates.
    Where an index repeats, the last update wins (TF leaves the order
    undefined)."""
    tensor = _t(tensor)
    updates = _t(updates, tensor.dtype)
    idx = _int_array(indices, "TensorScatterUpdate", "indices")
    if idx.ndim == 0:
        raise C.InvalidArgumentError(
            "Indices must have rank >= 1 [Op:TensorScatterUpdate]")
    k = idx.shape[-1]
    rows = idx.reshape(-1, k)
    slice_shape = tuple(tensor.shape[k:])
    flat_updates = C.reshape(updates, (rows.shape[0],) + slice_shape)
    last = {}
    for i, r in enumerate(map(tuple, rows)):
        last[r] = i
    keep = sorted(last.values())
    if len(keep) != rows.shape[0]:
        rows = rows[keep]
        flat_updates = C.gather(flat_updates, keep)
    ones = C.ones((rows.shape[0],) + slice_shape, dtype=tensor.dtype)
    mask = scatter_nd(rows, ones, tensor.shape)
    return tensor * (1 - mask) + scatter_nd(rows, flat_updates, tensor.shape)


# ---- segments -------------------------------------------------------------------------
def _segment_setup(data, segment_ids, num_segments, op):
    data = _t(data)
    ids = _int_array(segment_ids, op, "segment_ids")
    n = int(num_segments)
    if tuple(data.shape[:ids.ndim]) != ids.shape:
        raise C.InvalidArgumentError(
            "data.shape = %s does not start with segment_ids.shape = %s "
            "[Op:%s]" % (list(data.shape), list(ids.shape), op))
    bad = ids[ids >= n]
    if bad.size:
        raise C.InvalidArgumentError(
            "segment_ids[%d] = %d is out of range [0, %d) [Op:%s]" % (
                int(np.argmax((ids >= n).reshape(-1))), int(bad[0]), n, op))
    rest = tuple(data.shape[ids.ndim:])
    flat = C.reshape(data, (-1,) + rest)
    fids = ids.reshape(-1)
    # (flatnonzero, not a ufunc reduction: NumPy's .all() can return NULL
    # without an exception when an allocation fails inside it)
    keep = np.flatnonzero(fids >= 0)
    if keep.size != fids.size:      # TF drops negative ids
        flat = C.gather(flat, keep)
        fids = fids[keep]
    return flat, fids, n, rest


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    """output[i] = sum of data[j] over j with segment_ids[j] == i."""
    flat, ids, n, rest = _segment_setup(data, segment_ids, num_segments,
                                        "UnsortedSegmentSum")
    if ids.size == 0:
        return C.zeros((n,) + rest, dtype=flat.dtype)
    if not flat.dtype.is_floating:      # not differentiable: NumPy adds
        out = np.zeros((n,) + rest, flat.dtype.as_numpy_dtype)
        np.add.at(out, ids, np.asarray(flat.numpy()))
        return C.constant(out)
    return C._call("gather_grad", flat, indices=ids, axis=0, batch_dims=0,
                   shape=(n,) + rest)


def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    """The mean per segment; 0 for an empty one."""
    data = _t(data)
    total = unsorted_segment_sum(data, segment_ids, num_segments)
    ids = _int_array(segment_ids, "UnsortedSegmentMean", "segment_ids")
    counts = np.bincount(ids[ids >= 0].reshape(-1),
                         minlength=int(num_segments))[:int(num_segments)]
    shape = (int(num_segments),) + (1,) * (len(total.shape) - 1)
    denom = C.constant(np.maximum(counts, 1).reshape(shape),
                       dtype=total.dtype)
    return total / denom


def unsorted_segment_max(data, segment_ids, num_segments, name=None):
    """The max per segment (its gradient goes to the maxima, ties
    shared, as reduce_max's); an empty segment is the dtype's lowest
    value, as TF's."""
    flat, ids, n, rest = _segment_setup(data, segment_ids, num_segments,
                                        "UnsortedSegmentMax")
    dt = flat.dtype
    low = np.finfo(dt.as_numpy_dtype).min if dt.is_floating else \
        np.iinfo(dt.as_numpy_dtype).min
    if ids.size == 0:
        return C.fill((n,) + rest, C.constant(low, dtype=dt))
    member = (np.arange(n)[:, None] == ids[None, :])          # [n, m]
    mask = C.constant(member.reshape((n, ids.size) + (1,) * len(rest)))
    spread = C.where(mask, C.expand_dims(flat, 0),
                     C.constant(low, dtype=dt))
    return C.reduce_max(spread, axis=1)


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
    return unsorted_segment_sum(data, ids, n)


def segment_mean(data, segment_ids, name=None):
    ids, n = _sorted_ids(segment_ids, "SegmentMean")
    return unsorted_segment_mean(data, ids, n)


def segment_max(data, segment_ids, name=None):
    ids, n = _sorted_ids(segment_ids, "SegmentMax")
    return unsorted_segment_max(data, ids, n)


# ---- searchsorted -------------------------------------------------------------------
def searchsorted(sorted_sequence, values, side="left", out_type=None,
                 name=None):
    """For each row, where values would go in sorted_sequence's row to
    keep it sorted (TF's searchsorted; an int32 result, not recorded)."""
    if side not in ("left", "right"):
        raise ValueError("Invalid value for 'side': %r; expected 'left' or "
                         "'right'" % (side,))
    seq = np.asarray(_t(sorted_sequence).numpy())
    val = np.asarray(_t(values, _t(sorted_sequence).dtype).numpy())
    if seq.ndim == 0 or val.ndim == 0 or seq.shape[:-1] != val.shape[:-1]:
        raise C.InvalidArgumentError(
            "Leading dim_size of both tensors must match. [Op:%s]"
            % ("LowerBound" if side == "left" else "UpperBound"))
    out = np.empty(val.shape, np.int64)
    s2 = seq.reshape(-1, seq.shape[-1])
    v2 = val.reshape(-1, val.shape[-1])
    o2 = out.reshape(-1, val.shape[-1])
    for i in range(s2.shape[0]):
        o2[i] = np.searchsorted(s2[i], v2[i], side=side)
    dtype = C.int32 if out_type is None else out_type
    return C.constant(out, dtype=dtype)
