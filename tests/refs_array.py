"""Hand references (NumPy) for the rows of src/ops_array.def whose `numpy`
field is "ref:NAME".  Names carry an `array_` prefix: refs.py star-imports
every family's module, so a plain `range` or `shape` would shadow builtins
or another family's reference."""
import numpy as np


def array_transpose(a, perm=None, conjugate=False):
    return np.array(np.transpose(a, None if perm is None else tuple(perm)))


def array_reverse(tensor, axis):
    return np.array(np.flip(tensor, axis=tuple(axis)))


def array_tile(input, multiples):  # noqa: A002 (TF's parameter name)
    x = np.asarray(input)
    if len(multiples) != x.ndim:
        raise ValueError("multiples must have one entry per dimension")
    return np.tile(x, tuple(multiples)).reshape(
        tuple(m * d for m, d in zip(multiples, x.shape)))


def array_pad(tensor, paddings, mode="CONSTANT", constant_values=0):
    mode = mode.lower()
    if mode == "constant":
        return np.pad(tensor, paddings, mode="constant",
                      constant_values=constant_values)
    return np.pad(tensor, paddings, mode=mode)


def array_mirror_pad_grad(dy, paddings, mode="REFLECT"):
    """The adjoint of mirror padding: add every padded element back onto
    the source element it copies."""
    dy = np.asarray(dy)
    paddings = np.asarray(paddings)
    shape = tuple(int(n - b - a) for n, (b, a) in zip(dy.shape, paddings))
    ids = np.arange(int(np.prod(shape))).reshape(shape)
    src = np.pad(ids, paddings, mode=mode.lower())
    out = np.zeros(int(np.prod(shape)), dtype=dy.dtype)
    np.add.at(out, src.reshape(-1), dy.reshape(-1))
    return out.reshape(shape)


def array_stack(values, axis=0):
    return np.stack(values, axis=axis)


def array_unstack(value, num=None, axis=0):
    value = np.asarray(value)
    return [np.array(p) for p in np.moveaxis(value, axis, 0)]


def array_split(value, num_or_size_splits, axis=0, num=None):
    value = np.asarray(value)
    n = value.shape[axis]
    if isinstance(num_or_size_splits, int):
        if n % num_or_size_splits:
            raise ValueError("does not divide")
        sizes = [n // num_or_size_splits] * num_or_size_splits
    else:
        sizes = list(num_or_size_splits)
        if -1 in sizes:
            sizes[sizes.index(-1)] = n - (sum(sizes) + 1)
    if sum(sizes) != n:
        raise ValueError("sizes do not add up")
    return np.split(value, np.cumsum(sizes)[:-1], axis=axis)


def _gather_index(pshape, indices, axis, batch_dims):
    indices = np.asarray(indices)
    if batch_dims < 0:
        batch_dims += indices.ndim
    if axis is None:
        axis = batch_dims
    if axis < 0:
        axis += len(pshape)
    return indices, axis, batch_dims


def array_gather(params, indices, validate_indices=None, axis=None,
                 batch_dims=0):
    params = np.asarray(params)
    indices, axis, b = _gather_index(params.shape, indices, axis, batch_dims)
    if b == 0:
        if indices.size and (indices.min() < 0
                             or indices.max() >= params.shape[axis]):
            raise IndexError("out of range")
        return np.take(params, indices, axis=axis)
    # batch_dims: gather each batch entry separately
    return np.stack([array_gather(p, i, axis=axis - 1, batch_dims=b - 1)
                     for p, i in zip(params, indices)])


def array_gather_grad(dy, indices, axis=None, batch_dims=0, shape=None):
    """The adjoint of gather: scatter-add dy into zeros(shape)."""
    dy = np.asarray(dy)
    shape = tuple(shape)
    ids = np.arange(int(np.prod(shape))).reshape(shape)
    src = array_gather(ids, indices, axis=axis, batch_dims=batch_dims)
    if src.shape != dy.shape:
        raise ValueError("dy does not match the gathered shape")
    out = np.zeros(int(np.prod(shape)), dtype=dy.dtype)
    np.add.at(out, src.reshape(-1), dy.reshape(-1))
    return out.reshape(shape)


def array_gather_nd(params, indices, batch_dims=0):
    params = np.asarray(params)
    indices = np.asarray(indices)
    if batch_dims:
        return np.stack([array_gather_nd(p, i, batch_dims - 1)
                         for p, i in zip(params, indices)])
    k = indices.shape[-1]
    flat = indices.reshape(-1, k)
    out = np.stack([params[tuple(ix)] for ix in flat]) if len(flat) else \
        np.zeros((0,) + params.shape[k:], params.dtype)
    return out.reshape(indices.shape[:-1] + params.shape[k:])


def array_gather_nd_grad(dy, indices, batch_dims=0, shape=None):
    dy = np.asarray(dy)
    shape = tuple(shape)
    ids = np.arange(int(np.prod(shape))).reshape(shape)
    src = array_gather_nd(ids, indices, batch_dims)
    if src.shape != dy.shape:
        raise ValueError("dy does not match the gathered shape")
    out = np.zeros(int(np.prod(shape)), dtype=dy.dtype)
    np.add.at(out, src.reshape(-1), dy.reshape(-1))
    return out.reshape(shape)


def _scatter_rows(indices, updates, shape):
    """indices as rows of K coordinates and updates as one slice per row"""
    idx = np.asarray(indices).astype(np.int64)
    k = idx.shape[-1]
    rows = idx.reshape(-1, k)
    return rows, np.asarray(updates).reshape((rows.shape[0],) +
                                             tuple(shape)[k:])


def scatter_nd(indices, updates, shape=None):
    """zeros(shape) with each update added at its index (repeats add)"""
    rows, upd = _scatter_rows(indices, updates, shape)
    out = np.zeros(tuple(shape), np.asarray(updates).dtype)
    np.add.at(out, tuple(rows.T), upd)
    return out


def tensor_scatter_nd_update(tensor, indices, updates):
    out = np.array(tensor, copy=True)
    rows, upd = _scatter_rows(indices, updates, out.shape)
    for r, u in zip(rows, upd):         # in order: the last write wins
        out[tuple(r)] = u
    return out


def tensor_scatter_nd_add(tensor, indices, updates):
    out = np.array(tensor, copy=True)
    rows, upd = _scatter_rows(indices, updates, out.shape)
    np.add.at(out, tuple(rows.T), upd)
    return out


def tensor_scatter_nd_sub(tensor, indices, updates):
    return tensor_scatter_nd_add(tensor, indices, -np.asarray(updates))


def distinct_scatter_indices(arrays):
    """Case preparation: indices (arrays[1]) without repeats, so the order
    of writes does not matter; the tensor's positions taken backwards."""
    tensor, idx = arrays[0], np.asarray(arrays[1])
    k = idx.shape[-1]
    spots = list(np.ndindex(*tensor.shape[:k]))[::-1]
    m = int(np.prod(idx.shape[:-1]))
    new = np.array(spots[:m], np.int32).reshape(idx.shape)
    return [arrays[0], new] + list(arrays[2:])


def unsorted_segment_sum(data, segment_ids, num_segments=None):
    data = np.asarray(data)
    ids = np.asarray(segment_ids).astype(np.int64)
    rest = data.shape[ids.ndim:]
    out = np.zeros((num_segments,) + rest, data.dtype)
    flat = data.reshape((-1,) + rest)
    for j, i in enumerate(ids.reshape(-1)):
        if i >= 0:                      # TF drops negative ids
            out[i] += flat[j]
    return out


def segment_ids_used(arrays):
    """Case preparation: ids (arrays[1]) that use every segment of the
    row's cases (4 segments for 5 ids, one of them dropped as -1; 2 for a
    2x3 grid)"""
    ids = np.asarray(arrays[1])
    fixed = {(5,): [0, 3, -1, 1, 2], (2, 3): [[1, 0, 1], [0, 0, 1]]}
    return [arrays[0], np.array(fixed[ids.shape], np.int32)]


def unsorted_segment_max(data, segment_ids, num_segments=None):
    """TF's: an empty segment holds the dtype's lowest value"""
    data = np.asarray(data)
    ids = np.asarray(segment_ids).astype(np.int64)
    rest = data.shape[ids.ndim:]
    info = np.finfo if data.dtype.kind == "f" else np.iinfo
    out = np.full((num_segments,) + rest, info(data.dtype).min, data.dtype)
    flat = data.reshape((-1,) + rest)
    for j, i in enumerate(ids.reshape(-1)):
        if i >= 0:
            out[i] = np.maximum(out[i], flat[j])
    return out


def array_boolean_mask(tensor, mask, axis=None):
    tensor = np.asarray(tensor)
    mask = np.asarray(mask, dtype=bool)
    axis = 0 if axis is None else axis
    k = mask.ndim
    if tensor.shape[axis:axis + k] != mask.shape:
        raise ValueError("mask shape does not match")
    flat = tensor.reshape(tensor.shape[:axis] + (-1,) + tensor.shape[axis + k:]) \
        if tensor.size else tensor.reshape(
            tensor.shape[:axis] + (mask.size,) + tensor.shape[axis + k:])
    return np.compress(mask.reshape(-1), flat, axis=axis)


def array_linspace(start, stop, num, axis=0):
    """TF's linspace_nd: [start, start + delta*1, ..., stop][:num] with
    delta = (stop - start) / max(num - 1, 1), in the inputs' float dtype
    (float64 for integers)."""
    start = np.asarray(start)
    stop = np.asarray(stop)
    dt = start.dtype if start.dtype.kind == "f" else np.dtype(np.float64)
    s = np.expand_dims(start.astype(dt), axis)
    e = np.expand_dims(stop.astype(dt), axis)
    shape = np.broadcast_shapes(s.shape, e.shape)
    s = np.broadcast_to(s, shape)
    e = np.broadcast_to(e, shape)
    ax = axis % len(shape)
    steps = max(num - 1, 1)
    delta = (e - s) / dt.type(steps)
    rshape = [1] * len(shape)
    rshape[ax] = max(num - 2, 0)
    mid = s + delta * np.arange(1, max(num - 1, 1), dtype=dt).reshape(rshape)
    out = np.concatenate([s, mid, e], axis=ax)
    return np.take(out, np.arange(num), axis=ax)


# TF's range takes int32, int64, half, float and double only (an assert);
# tapegrad also takes the narrow integers, which a Python int joins
_RANGE_ORDER = [np.int32, np.int8, np.int16, np.uint8, np.uint16, np.uint32,
                np.uint64, np.int64, np.float16, np.float32, np.float64]


def _range_dtype(v):
    if isinstance(v, np.ndarray) or isinstance(v, np.generic):
        return np.dtype(v.dtype)
    return np.dtype(np.float32 if isinstance(v, float) else np.int32)


def array_range(start, limit=None, delta=1, dtype=None):
    if limit is None:
        start, limit = 0, start
    given = dtype
    if dtype is None:
        dts = [_range_dtype(v) for v in (start, limit, delta)]
        dtype = max(dts, key=lambda d: _RANGE_ORDER.index(d.type))
    dtype = np.dtype(dtype)
    # TF converts Python numbers first (float -> float32), then casts
    s, l_, d = (np.asarray(v, dtype=_range_dtype(v) if given is None
                           or isinstance(v, np.ndarray) else dtype)
                .astype(dtype)[()] for v in (start, limit, delta))
    if dtype.kind == "f":
        n = int(np.ceil(np.abs((l_ - s) / d)))
        return (s + np.arange(n).astype(dtype) * d).astype(dtype)
    return np.arange(s, l_, d, dtype=dtype)


def array_shape(input, out_type=None):  # noqa: A002 (TF's parameter name)
    return np.array(np.shape(input), dtype=out_type or np.int32)


def array_size(input, out_type=None):  # noqa: A002
    return np.array(np.size(input), dtype=out_type or np.int32)


def array_rank(input):  # noqa: A002
    return np.array(np.ndim(input), dtype=np.int32)


def _tf_dtype(v):
    """The dtype TF converts a Python value to."""
    v = np.asarray(v)
    return {"f": np.float32, "i": np.int32}.get(v.dtype.kind, v.dtype)


def array_fill(dims, value):
    return np.full(tuple(int(d) for d in dims), value, dtype=value.dtype)


def array_eye(num_rows, num_columns=None, batch_shape=None, dtype="float32"):
    n = int(num_rows)
    m = n if num_columns is None else num_columns
    e = np.eye(n, m, dtype=np.dtype(dtype))
    return np.broadcast_to(e, tuple(batch_shape or ()) + e.shape).copy()


def array_one_hot(indices, depth, on_value=None, off_value=None, axis=None,
                  dtype=None):
    given = on_value if on_value is not None else off_value
    dt = np.dtype(dtype) if dtype else (
        _tf_dtype(given) if given is not None else np.float32)
    on = 1 if on_value is None else on_value
    off = 0 if off_value is None else off_value
    hit = np.asarray(indices)[..., None] == np.arange(depth)
    hit = np.moveaxis(hit, -1, -1 if axis is None else axis)
    return np.where(hit, on, off).astype(dt)
