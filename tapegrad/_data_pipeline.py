"""The machinery under tapegrad.data (tf.data): element structures,
components, row sources, and the shuffle and batch algorithms.

An element is a nested structure (tuples, named tuples, dicts: TF's
tf.data nest, where a Python list is a tensor, not a structure) of NumPy
arrays; Tensors are made only where elements leave a pipeline or enter a
user's function (`_tensor`), fresh ones, so no gradient flows back into a
pipeline.  A *source* (`_Columns`, `_RangeColumn`) holds the rows of a
from_tensor_slices / from_tensors / range dataset, and a pass over rows
that only reorders or selects them is a stream of int64 index chunks:
shuffle and batch work on whole chunks with NumPy (`_shuffle_chunks`,
`_batch_chunks`), with no Python step per element.
"""
import itertools

import numpy as np

from . import _tapegrad as C
from . import random as _random
from ._function import TensorSpec
from ._tapegrad import InvalidArgumentError

_DEFAULT_GRAPH_SEED = 87654321   # TF's global seed when only an op seed is set
_CHUNK = 1 << 16                 # indices per chunk of a source's pass
_ROWS = 256                      # rows gathered at once for element-wise use


# ---- element structures -----------------------------------------------------
# TF's tf.data nest: tuples (named ones too) and dicts are structure, every
# other value is a component -- a Python list is a tensor, not a structure.

def _keys(d):
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def _flatten(x):
    if isinstance(x, tuple):
        return [leaf for v in x for leaf in _flatten(v)]
    if isinstance(x, dict):
        return [leaf for k in _keys(x) for leaf in _flatten(x[k])]
    return [x]


def _rebuild(like, items):
    if isinstance(like, tuple):
        return type(like)(*items) if hasattr(like, "_fields") else tuple(items)
    values = dict(zip(_keys(like), items))
    try:
        return type(like)((k, values[k]) for k in like)
    except TypeError:   # a dict subclass with another constructor
        return {k: values[k] for k in like}


def _pack(like, flat):
    it = iter(flat)

    def pack(s):
        if isinstance(s, tuple):
            return _rebuild(s, [pack(v) for v in s])
        if isinstance(s, dict):
            return _rebuild(s, [pack(s[k]) for k in _keys(s)])
        return next(it)
    return pack(like)


def _map(fn, x):
    if isinstance(x, tuple):
        return _rebuild(x, [_map(fn, v) for v in x])
    if isinstance(x, dict):
        return _rebuild(x, [_map(fn, x[k]) for k in _keys(x)])
    return fn(x)


def _kind(x):
    if isinstance(x, tuple):
        return (type(x), tuple(_kind(v) for v in x))
    if isinstance(x, dict):
        return (dict, tuple(_keys(x)), tuple(_kind(x[k]) for k in _keys(x)))
    return None


# ---- components: NumPy arrays inside, Tensors outside -----------------------

def _array(value):
    """A component as TF converts it (Python floats float32, ints int32,
    NumPy keeps its dtype, lists stacked), as a read-only array."""
    a = np.asarray(C.convert_to_tensor(value).numpy())
    a.flags.writeable = False
    return a


def _tensor(a):
    """A fresh Tensor with the component's value.  An array made for this
    element alone (a gathered or stacked batch) becomes the tensor's
    buffer without a copy; a shared one (a source row, a cached element)
    is copied."""
    if (a.flags.writeable and a.flags.owndata and a.flags.c_contiguous
            and a.dtype.kind in "biuf"):
        return C._adopt(a)
    return C.convert_to_tensor(a)


def _numpy(a):
    return a[()] if a.ndim == 0 else a   # rank 0: a NumPy scalar, as .numpy()


def _spec(a):
    return TensorSpec(a.shape, a.dtype)


def _call(fn, element):
    """TF's calling convention: a tuple element is spread over the
    arguments, anything else (a dict, a named tuple, one tensor) is one."""
    args = _map(_tensor, element)
    return fn(*args) if type(args) is tuple else fn(args)


def _result(value):
    """What a map function returned, as an element: a list at the top is a
    tuple (TF's rule: a list of results need not stack), other lists are
    tensors."""
    if isinstance(value, list):
        value = tuple(value)
    return _map(_array, value)


def _int64(value, name, op):
    t = C.convert_to_tensor(value, dtype=C.int64)
    if t.shape != ():
        raise InvalidArgumentError("%s must be a scalar [Op:%s]" % (name, op))
    return int(t)


def _bool(value, name, op):
    t = C.convert_to_tensor(value, dtype=C.bool)
    if t.shape != ():
        raise InvalidArgumentError("%s must be a scalar [Op:%s]" % (name, op))
    return bool(t)


def _callable(fn, what):
    if not callable(fn):
        raise TypeError("`%s` must be callable, got %s." % (
            what, type(fn).__name__))


def _dims(spec):
    shape = spec.shape
    return None if shape.rank is None else shape.as_list()


# ---- sources: rows of fixed arrays, gathered by index -----------------------

class _Columns:
    """The rows of arrays with a common first dimension, packed as
    `structure`: a batch is one `take` per component."""

    __slots__ = ("structure", "arrays", "n")

    def __init__(self, structure, arrays):
        self.structure, self.arrays = structure, arrays
        self.n = arrays[0].shape[0]

    def gather(self, idx):
        return _pack(self.structure, [a.take(idx, axis=0)
                                      for a in self.arrays])


class _RangeColumn:
    """Row i is start + i * step: nothing stored (a range can be endless in
    practice).  int64 arithmetic wraps, and every value fits."""

    __slots__ = ("start", "step", "n", "dtype")

    def __init__(self, start, step, n, dtype):
        self.start, self.step, self.n, self.dtype = start, step, n, dtype

    def gather(self, idx):
        v = idx * np.int64(self.step) + np.int64(self.start)
        return v.astype(self.dtype, copy=False)


def _source_chunks(n):
    return (np.arange(s, min(s + _CHUNK, n), dtype=np.int64)
            for s in range(0, n, _CHUNK))


def _rows(source, chunks):
    """Element by element: rows gathered a few hundred at a time."""
    like = source.structure if isinstance(source, _Columns) else None
    for c in chunks:
        for s in range(0, len(c), _ROWS):
            part = source.gather(c[s:s + _ROWS])
            if like is None or not isinstance(like, (tuple, dict)):
                for i in range(part.shape[0]):
                    yield part[i, ...]
                continue
            flat = _flatten(part)
            for i in range(flat[0].shape[0]):
                yield _pack(like, [a[i, ...] for a in flat])


# ---- shuffle: TF's buffer, vectorized over index chunks ---------------------
# TF fills a buffer with buffer_size elements; each output is a uniform
# draw from the buffer, whose place the next input element takes; when the
# input ends the buffer drains in random order.  Number the buffer's slots:
# at step t the draw r_t picks slot r_t, outputs its occupant and puts input
# element t there.  So the occupant of slot r_t at step t is the element put
# there at the last earlier step t' with r_t' == r_t, or the slot's first
# occupant if there is none -- which one stable argsort of the draws finds
# for a whole chunk at once.

def _shuffle_step(slots, incoming, rng):
    """Outputs for `incoming` (a chunk of indices) through the full buffer
    `slots`, which is updated in place."""
    b, m = slots.shape[0], incoming.shape[0]
    r = rng.integers(0, b, size=m)
    order = np.argsort(r, kind="stable")
    rs = r[order]
    same = rs[1:] == rs[:-1]            # sorted neighbours in one slot
    prev = np.full(m, -1, np.int64)
    prev[order[1:][same]] = order[:-1][same]
    out = np.where(prev >= 0, incoming[prev], slots[r])
    last = np.ones(m, bool)
    last[:-1] = ~same                   # the last visit of each slot
    slots[rs[last]] = incoming[order[last]]
    return out


def _shuffle_chunks(chunks, buffer_size, rng):
    it = iter(chunks)
    parts, have, rest = [], 0, None
    for c in it:                        # fill the buffer
        if buffer_size is not None and have + len(c) > buffer_size:
            k = buffer_size - have
            parts.append(c[:k])
            rest, have = c[k:], buffer_size
            break
        parts.append(c)
        have += len(c)
        if have == buffer_size:
            break
    slots = np.concatenate(parts) if parts else np.empty(0, np.int64)
    if rest is not None:
        yield _shuffle_step(slots, rest, rng)
    for c in it:
        if len(c):
            yield _shuffle_step(slots, c, rng)
    if len(slots):
        yield slots[rng.permutation(len(slots))]


def _shuffle_elements(elements, buffer_size, rng):
    """The same algorithm one element at a time (after map, filter...)."""
    it = iter(elements)
    buf = list(it if buffer_size is None else
               itertools.islice(it, buffer_size))
    draws, pos = (), 0
    for element in it:
        if pos == len(draws):
            draws, pos = rng.integers(0, len(buf), size=1024), 0
        j = draws[pos]
        pos += 1
        yield buf[j]
        buf[j] = element
    for j in rng.permutation(len(buf)):
        yield buf[j]


def _seeds(seed):
    """(global, op) seeds as TF's get_seed resolves them; None: seeded
    from the OS, different every run."""
    op = None if seed is None else _random._seed(seed, "ShuffleDatasetV3")
    glob = _random._global_seed
    if glob is None and op is None:
        return None
    if op is None:
        # TF draws the next op seed of the global seed's sequence: the
        # same after the same set_seed and the same calls
        op = int(_random._generator.integers(1 << 31))
    return (_DEFAULT_GRAPH_SEED if glob is None else glob, op)


# ---- batching ---------------------------------------------------------------

def _batch_chunks(source, chunks, size, drop):
    """Batches of rows gathered by index: one `take` per component."""
    pending, have = [], 0
    for c in chunks:
        start = 0
        if have:
            need = size - have
            if len(c) < need:
                pending.append(c)
                have += len(c)
                continue
            pending.append(c[:need])
            yield source.gather(np.concatenate(pending))
            pending, have, start = [], 0, need
        full = start + (len(c) - start) // size * size
        for s in range(start, full, size):
            yield source.gather(c[s:s + size])
        if full < len(c):
            pending, have = [c[full:]], len(c) - full
    if have and not drop:
        yield source.gather(np.concatenate(pending))


def _shape_text(shape):
    return "[%s]" % ",".join(map(str, shape))


def _stack(elements):
    flats = [_flatten(e) for e in elements]
    out = []
    for k in range(len(flats[0])):
        first = flats[0][k].shape
        for i, f in enumerate(flats):
            if f[k].shape != first:
                raise InvalidArgumentError(
                    "Cannot batch tensors with different shapes in component "
                    "%d. First element had shape %s and element %d had shape "
                    "%s." % (k, _shape_text(first), i,
                             _shape_text(f[k].shape)))
        out.append(np.stack([f[k] for f in flats]))
    return _pack(elements[0], out)


def _batch_elements(elements, size, drop):
    buf = []
    for element in elements:
        buf.append(element)
        if len(buf) == size:
            yield _stack(buf)
            buf = []
    if buf and not drop:
        yield _stack(buf)


# ---- helpers of the transformations -----------------------------------------

def _take_chunks(chunks, count):
    """The first `count` indices (-1: all); reads no chunk past them."""
    if count < 0:
        yield from chunks
        return
    if count == 0:          # nothing read, as TF's take(0)
        return
    for c in chunks:
        if len(c) >= count:
            yield c[:count]
            return
        yield c
        count -= len(c)


def _skip_chunks(chunks, count):
    """All but the first `count` indices (-1: none, after reading them
    all, as TF's skip(-1))."""
    for c in chunks:
        if count < 0:
            continue
        if count >= len(c):
            count -= len(c)
            continue
        yield c[count:] if count else c
        count = 0


def _drain(elements):
    """skip(-1) element by element: reads everything, yields nothing."""
    for _ in elements:
        pass
    yield from ()


def _frozen(a):
    a.flags.writeable = False
    return a


def _most_specific(a, b):
    """The spec both `a` and `b` fit (TF's most_specific_common_supertype
    for TensorSpecs): unequal dims unknown, unequal ranks unknown rank."""
    if a.dtype != b.dtype:
        return None
    da, db = _dims(a), _dims(b)
    if da is None or db is None or len(da) != len(db):
        return TensorSpec(None, a.dtype)
    return TensorSpec([x if x == y else None for x, y in zip(da, db)],
                      a.dtype)


def _keep(pred, element):
    r = _call(pred, element)
    if isinstance(r, (bool, np.bool_)):
        return bool(r)
    t = C.convert_to_tensor(r)
    if t.dtype != C.bool or t.shape != ():
        raise ValueError("Invalid `predicate`. `predicate` must return a "
                         "`tf.bool` scalar tensor, but its return type is "
                         "%s." % TensorSpec(t.shape, t.dtype))
    return bool(t)
