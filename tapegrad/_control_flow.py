"""TF's functional control flow, run eagerly.

tapegrad is eager, so ``tf.cond``, ``tf.while_loop``, ``tf.map_fn`` and
the rest are Python control flow over tapegrad ops: every op a branch or
an iteration runs is recorded by the active tapes like any other, and
gradients flow through ``tf.stack`` and ``TensorArray`` reads.  The
argument rules, structures and error types are TF's eager ones.
"""
import numpy as np

from . import _tapegrad as C

__all__ = ["cond", "case", "switch_case", "while_loop", "map_fn", "scan",
           "foldl", "foldr", "vectorized_map", "TensorArray"]


# ---- nested structures (TF's nest, enough for loop variables) ------------------
def _flatten(x):
    if isinstance(x, (list, tuple)):
        out = []
        for item in x:
            out.extend(_flatten(item))
        return out
    if isinstance(x, dict):
        out = []
        for k in sorted(x):
            out.extend(_flatten(x[k]))
        return out
    return [x]


def _pack(like, flat, pos=None):
    pos = [0] if pos is None else pos
    if isinstance(like, (list, tuple)):
        items = [_pack(v, flat, pos) for v in like]
        if isinstance(like, tuple) and hasattr(like, "_fields"):
            return type(like)(*items)
        return type(like)(items) if isinstance(like, tuple) else items
    if isinstance(like, dict):
        out = {}
        for k in sorted(like):
            out[k] = _pack(like[k], flat, pos)
        return {k: out[k] for k in like}
    v = flat[pos[0]]
    pos[0] += 1
    return v


def _kind(x):
    if isinstance(x, (list, tuple)):
        return ("seq", len(x), tuple(_kind(v) for v in x))
    if isinstance(x, dict):
        keys = sorted(x)
        return ("dict", tuple(keys), tuple(_kind(x[k]) for k in keys))
    return "leaf"


def _assert_same_structure(a, b):
    if _kind(a) != _kind(b):
        raise ValueError(
            "The two structures don't have the same nested structure.\n\n"
            "First structure: %r\n\nSecond structure: %r" % (a, b))


def _truth(pred, what):
    if isinstance(pred, (C.Tensor, C.Variable)):
        if pred.shape != ():
            raise ValueError("%s: the predicate must be a scalar, got shape %s"
                             % (what, pred.shape))
        return bool(pred)
    if isinstance(pred, (bool, np.bool_)):
        return bool(pred)
    t = C.convert_to_tensor(pred)
    return _truth(t, what)


def _callable(f, what):
    if not callable(f):
        raise TypeError("'%s' must be callable." % what)


# ---- branches -------------------------------------------------------------------------
def cond(pred, true_fn=None, false_fn=None, name=None):
    """true_fn() if pred else false_fn()."""
    _callable(true_fn, "true_fn")
    _callable(false_fn, "false_fn")
    return true_fn() if _truth(pred, "cond") else false_fn()


def _pairs(pred_fn_pairs):
    if isinstance(pred_fn_pairs, dict):
        pairs = list(pred_fn_pairs.items())
    elif isinstance(pred_fn_pairs, (list, tuple)):
        pairs = list(pred_fn_pairs)
    else:
        raise TypeError("pred_fn_pairs must be a list, tuple, or dict")
    for p in pairs:
        if not isinstance(p, tuple) or len(p) != 2:
            raise TypeError("Each entry in pred_fn_pairs must be a 2-tuple")
        _callable(p[1], "fn")
    return pairs


def case(pred_fn_pairs, default=None, exclusive=False, strict=False,
         name="case"):
    """The fn of the first true predicate; else default (or, without one,
    the last pair's fn, as TF)."""
    pairs = _pairs(pred_fn_pairs)
    if default is None:
        if not pairs:
            raise ValueError("pred_fn_pairs must not be empty without a "
                             "default")
        pairs, default = pairs[:-1], pairs[-1][1]
    _callable(default, "default")
    hits = [fn for pred, fn in pairs if _truth(pred, "case")]
    if exclusive and len(hits) > 1:
        raise C.InvalidArgumentError(
            "Input error: exclusive=True and more than 1 conditions (%d) "
            "evaluated as True." % len(hits))
    return hits[0]() if hits else default()


def switch_case(branch_index, branch_fns, default=None, name="switch_case"):
    """branch_fns[branch_index](); an index with no branch runs default,
    or without one the last branch, as TF."""
    if isinstance(branch_fns, dict):
        items = sorted(branch_fns.items())
    elif isinstance(branch_fns, (list, tuple)) and branch_fns and all(
            isinstance(b, tuple) and len(b) == 2 for b in branch_fns):
        items = sorted(branch_fns)
    elif isinstance(branch_fns, (list, tuple)):
        items = list(enumerate(branch_fns))
    else:
        raise TypeError("branch_fns must be a list, tuple, or dict")
    if not items:
        raise ValueError("Must provide at least one item in branch_fns")
    for key, fn in items:
        if not isinstance(key, (int, np.integer)) or isinstance(key, bool):
            raise TypeError("branch_fns dict keys must be ints, got %r"
                            % (key,))
        _callable(fn, "branch_fns[%d]" % key)
    idx = branch_index
    if isinstance(idx, (C.Tensor, C.Variable)):
        if idx.dtype not in (C.int32, C.int64) or idx.shape != ():
            raise TypeError("branch_index must be a scalar int32 Tensor, got "
                            "%r" % (idx,))
        idx = int(idx)
    fns = dict(items)
    if idx in fns:
        return fns[idx]()
    if default is None:
        default = items[-1][1]
    _callable(default, "default")
    return default()


# ---- loops -------------------------------------------------------------------------------
def while_loop(cond, body, loop_vars, shape_invariants=None,
               parallel_iterations=10, back_prop=True, swap_memory=False,
               maximum_iterations=None, name=None):
    """Repeat body while cond: TF's eager while_loop (every iteration's ops
    are recorded, so gradients flow through the loop)."""
    _callable(cond, "cond")
    _callable(body, "body")
    if parallel_iterations < 1:
        raise TypeError("'parallel_iterations' must be a positive integer.")
    single = not isinstance(loop_vars, (list, tuple))
    vars_ = [loop_vars] if single else loop_vars
    if maximum_iterations is not None:
        maximum_iterations = int(maximum_iterations)
        if maximum_iterations < 0:
            raise ValueError("maximum_iterations must be non-negative, got "
                             "%d" % maximum_iterations)
    i = 0
    while ((maximum_iterations is None or i < maximum_iterations)
           and _truth(cond(*vars_), "while_loop")):
        out = body(*vars_)
        if single and not isinstance(out, (list, tuple)):
            out = [out]
        elif not single and not isinstance(out, (list, tuple)):
            out = [out]
        _assert_same_structure(list(vars_), list(out))
        vars_ = type(vars_)(out) if isinstance(vars_, tuple) else list(out)
        i += 1
    return vars_[0] if single else vars_


def _elems_length(flat, what):
    n = None
    for e in flat:
        if not hasattr(e, "shape") or len(e.shape) == 0:
            raise ValueError("%s: elements must have rank at least 1, got %r"
                             % (what, e))
        if n is None:
            n = e.shape[0]
        elif e.shape[0] != n:
            raise ValueError("%s: all elements must have the same first "
                             "dimension, got %d and %d" % (what, n,
                                                           e.shape[0]))
    return n


def _as_tensors(elems):
    return [e if isinstance(e, (C.Tensor, C.Variable))
            else C.convert_to_tensor(e) for e in _flatten(elems)]


def _signature_dtypes(sig):
    """The dtypes a fn_output_signature names: TensorSpecs, DTypes or what
    tf.as_dtype reads ('float32', np.float32); TypeError otherwise."""
    if sig is None:
        return None
    from .dtypes import as_dtype
    out = []
    for s in _flatten(sig):
        try:
            out.append(as_dtype(getattr(s, "dtype", s)))
        except TypeError:
            raise TypeError(
                "map_fn: fn_output_signature must hold tf.TensorSpec or "
                "tf.DType objects, got %r" % (s,)) from None
    return out


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True,
           swap_memory=False, infer_shape=True, name=None,
           fn_output_signature=None):
    """fn applied to each slice of elems along its first dimension, the
    results stacked (through recorded stacks: gradients flow)."""
    _callable(fn, "fn")
    if fn_output_signature is None:
        fn_output_signature = dtype
    flat = _as_tensors(elems)
    n = _elems_length(flat, "map_fn")
    outs = []
    for i in range(n):
        outs.append(fn(_pack(elems, [e[i] for e in flat])))
    if n == 0:
        like = elems if fn_output_signature is None else fn_output_signature
        dtypes = _signature_dtypes(fn_output_signature) or [
            e.dtype for e in flat]
        shapes = ([tuple(getattr(s, "shape", None) or ()) for s in
                   _flatten(fn_output_signature)]
                  if fn_output_signature is not None
                  else [tuple(e.shape[1:]) for e in flat])
        empty = [C.zeros((0,) + tuple(s), dtype=d)
                 for s, d in zip(shapes, dtypes)]
        return _pack(like, empty)
    first = outs[0]
    for o in outs[1:]:
        _assert_same_structure(first, o)
    leaves = [_flatten(o) for o in outs]
    dtypes = _signature_dtypes(fn_output_signature)
    stacked = []
    for k in range(len(leaves[0])):
        col = [C.convert_to_tensor(l[k]) for l in leaves]
        if dtypes is not None and k < len(dtypes) and dtypes[k] is not None:
            want = dtypes[k]
            for c in col:
                if c.dtype != want:
                    raise TypeError(
                        "map_fn: fn returned a %s tensor where "
                        "fn_output_signature says %s" % (c.dtype.name,
                                                         want.name))
        stacked.append(C.stack(col))
    return _pack(first, stacked)


def vectorized_map(fn, elems, fallback_to_while_loop=True, warn=True):
    """fn over the first dimension of elems, stacked: map_fn's result
    (tapegrad has no pfor to vectorize with)."""
    return map_fn(fn, elems)


def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
         swap_memory=False, infer_shape=True, reverse=False, name=None):
    """The running results acc = fn(acc, x) over elems, stacked."""
    _callable(fn, "fn")
    flat = _as_tensors(elems)
    n = _elems_length(flat, "scan")
    order = list(range(n))[::-1] if reverse else list(range(n))
    if initializer is None:
        if n == 0:
            raise ValueError("scan: elems must not be empty without an "
                             "initializer")
        acc = _pack(elems, [e[order[0]] for e in flat])
        outs = [acc]
        order = order[1:]
    else:
        acc = initializer
        outs = []
    for i in order:
        acc = fn(acc, _pack(elems, [e[i] for e in flat]))
        if outs:
            _assert_same_structure(outs[0], acc)
        outs.append(acc)
    if reverse:
        outs = outs[::-1]
    if not outs:
        like = initializer
        return _pack(like, [C.zeros((0,) + tuple(C.convert_to_tensor(v).shape),
                                    dtype=C.convert_to_tensor(v).dtype)
                            for v in _flatten(like)])
    leaves = [_flatten(o) for o in outs]
    stacked = [C.stack([C.convert_to_tensor(l[k]) for l in leaves])
               for k in range(len(leaves[0]))]
    return _pack(outs[0], stacked)


def _fold(fn, elems, initializer, order, what):
    _callable(fn, "fn")
    flat = _as_tensors(elems)
    n = _elems_length(flat, what)
    idx = list(range(n))
    if order < 0:
        idx = idx[::-1]
    if initializer is None:
        if n == 0:
            raise ValueError("%s: elems must not be empty without an "
                             "initializer" % what)
        acc = _pack(elems, [e[idx[0]] for e in flat])
        idx = idx[1:]
    else:
        acc = initializer
    for i in idx:
        acc = fn(acc, _pack(elems, [e[i] for e in flat]))
    return acc


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None):
    """fn(...fn(fn(initializer, elems[0]), elems[1])..., elems[n-1])."""
    return _fold(fn, elems, initializer, 1, "foldl")


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None):
    """The same from the last element to the first."""
    return _fold(fn, elems, initializer, -1, "foldr")


# ---- TensorArray -------------------------------------------------------------------------
class TensorArray:
    """TF's eager TensorArray: a list of tensors of one dtype (and, with
    infer_shape, one shape); reads give the written tensors back and
    stack() is a recorded stack, so gradients flow through both."""

    def __init__(self, dtype, size=None, dynamic_size=None,
                 clear_after_read=None, tensor_array_name=None, handle=None,
                 flow=None, infer_shape=True, element_shape=None,
                 colocate_with_first_write_call=True, name=None):
        if not isinstance(dtype, C.DType):
            dtype = C.zeros((), dtype=dtype).dtype
        if size is None:
            size = 0
            dynamic_size = True if dynamic_size is None else dynamic_size
        self._dtype = dtype
        self._dynamic = bool(dynamic_size)
        self._infer_shape = infer_shape
        self._element_shape = (None if element_shape is None
                               else tuple(element_shape))
        self._items = [None] * int(size)

    @property
    def dtype(self):
        return self._dtype

    @property
    def dynamic_size(self):
        return self._dynamic

    @property
    def element_shape(self):
        from ._shape import TensorShape
        return TensorShape(self._element_shape)

    def size(self, name=None):
        """The number of elements written so far, a scalar int32 tensor."""
        return C.constant(len(self._items), dtype=C.int32)

    def _index(self, index, what):
        i = int(index)
        if i < 0 or i > 2 ** 31 - 1:
            raise C.InvalidArgumentError(
                "Tried to %s index %d but it is %s" % (
                    what, i, "negative" if i < 0 else "not an int32"))
        return i

    def write(self, index, value, name=None):
        """Store `value` at `index` (converted to the array's dtype) and return
        the array, so that calls chain as in TF."""
        i = self._index(index, "write to")
        if not isinstance(value, (C.Tensor, C.Variable)):
            value = C.convert_to_tensor(value, dtype=self._dtype)
        if value.dtype != self._dtype:
            raise C.InvalidArgumentError(
                "TensorArray dtype is %s but Op is trying to write dtype %s "
                "[Op:TensorListSetItem]" % (self._dtype.name,
                                            value.dtype.name))
        shape = tuple(value.shape)
        if self._infer_shape:
            if self._element_shape is None:
                self._element_shape = shape
            elif len(self._element_shape) != len(shape) or any(
                    a is not None and a != b
                    for a, b in zip(self._element_shape, shape)):
                raise ValueError(
                    "Could not write to TensorArray index %d because the "
                    "value shape is %s which is incompatible with the "
                    "TensorArray's inferred element shape: %s (consider "
                    "setting infer_shape=False)." % (
                        i, str(value.shape), str(self.element_shape)))
        if i >= len(self._items):
            if not self._dynamic:
                raise C.InvalidArgumentError(
                    "Tried to write to index %d but array is not resizeable "
                    "and size is: %d" % (i, len(self._items)))
            try:
                self._items.extend([None] * (i + 1 - len(self._items)))
            except MemoryError:
                raise MemoryError(
                    "TensorArray.write: index %d needs an array of %d "
                    "elements, more than memory allows" % (i, i + 1)) from None
        if isinstance(value, C.Variable):
            value = value.read_value()
        self._items[i] = value
        return self

    def _zeros(self):
        if self._element_shape is None or None in self._element_shape:
            return None
        return C.zeros(self._element_shape, dtype=self._dtype)

    def read(self, index, name=None):
        """The tensor stored at `index`; reading an index never written raises
        InvalidArgumentError."""
        i = self._index(index, "read from")
        if i >= len(self._items):
            raise C.InvalidArgumentError(
                "Tried to read from index %d but array size is: %d"
                % (i, len(self._items)))
        v = self._items[i]
        if v is None:
            v = self._zeros()
            if v is None:
                raise C.InvalidArgumentError(
                    "Could not read from TensorArray index %d.  Furthermore, "
                    "the element shape is not fully defined: %s.  It is "
                    "possible you are working with a resizeable TensorArray "
                    "and stop_gradients is not allowing the gradients to be "
                    "written.  If you set the full element_shape property on "
                    "the forward TensorArray, the proper all-zeros tensor "
                    "will be returned instead of incurring this error."
                    % (i, self.element_shape))
        return v

    def gather(self, indices, name=None):
        """The elements at `indices`, stacked along a new first axis."""
        idx = np.asarray(C.convert_to_tensor(indices).numpy()).reshape(-1)
        return C.stack([self.read(int(i)) for i in idx]) if len(idx) else \
            C.zeros((0,) + (self._element_shape or ()), dtype=self._dtype)

    def stack(self, name=None):
        """Every element, stacked along a new first axis (recorded, so
        gradients flow to what was written)."""
        if not self._items:
            if self._element_shape is not None and None not in \
                    self._element_shape:
                return C.zeros((0,) + self._element_shape, dtype=self._dtype)
            return C.zeros((0,), dtype=self._dtype)
        return C.stack([self.read(i) for i in range(len(self._items))])

    def concat(self, name=None):
        """Every element, joined along their first axis."""
        if not self._items:
            return C.zeros((0,), dtype=self._dtype)
        return C.concat([self.read(i) for i in range(len(self._items))], 0)

    def unstack(self, value, name=None):
        """Write the slices of `value` along its first axis as elements 0, 1,
        ...; returns the array."""
        value = C.convert_to_tensor(value, dtype=self._dtype) if not \
            isinstance(value, (C.Tensor, C.Variable)) else value
        n = value.shape[0] if value.shape else None
        if n is None:
            raise ValueError("unstack: the value must have rank at least 1")
        if n > len(self._items) and not self._dynamic and self._items:
            raise C.InvalidArgumentError(
                "Tried to write to index %d but array is not resizeable and "
                "size is: %d" % (n - 1, len(self._items)))
        for i, piece in enumerate(C.unstack(value)):
            self.write(i, piece)
        return self

    def scatter(self, indices, value, name=None):
        """Write the slices of `value` along its first axis at `indices`;
        returns the array."""
        idx = np.asarray(C.convert_to_tensor(indices).numpy()).reshape(-1)
        for i, piece in zip(idx, C.unstack(value)):
            self.write(int(i), piece)
        return self

    def split(self, value, lengths, name=None):
        """Split `value` along its first axis into pieces of the given
        `lengths` and write them as elements 0, 1, ...; returns the array."""
        lengths = [int(x) for x in np.asarray(
            C.convert_to_tensor(lengths).numpy()).reshape(-1)]
        for i, piece in enumerate(C.split(value, lengths)):
            self.write(i, piece)
        return self

    def identity(self):
        """The array itself (TF's graph-mode identity has nothing to do
        eagerly)."""
        return self

    def grad(self, source, flow=None, name=None):
        """Not supported: TF's graph-mode gradient arrays; the tape
        differentiates reads and stack() directly."""
        raise NotImplementedError(
            "TensorArray.grad is graph-mode machinery; in tapegrad the tape "
            "differentiates reads and stack() directly")

    def close(self, name=None):
        """Drop every element."""
        self._items = []
