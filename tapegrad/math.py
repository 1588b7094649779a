"""tapegrad.math: elementwise math, reductions and scans, as tf.math.

Its functions are op-table rows (src/ops*.def) installed by
tapegrad/__init__.py from each row's `api` paths, polygamma below, and
the segment ops composed in tapegrad/_composite_ops.py, which
tapegrad/__init__.py sets here once the package is ready.
"""
_FROM_MODULES = dict.fromkeys(("unsorted_segment_mean", "segment_sum",
                               "segment_mean", "segment_max",
                               "count_nonzero", "reduce_euclidean_norm"),
                              "tapegrad._composite_ops")
__all__ = list(_FROM_MODULES)


def polygamma(a, x, name=None):
    """The a-th derivative of digamma at x (TF's tf.math.polygamma): `a`
    is a tensor of non-negative integer values (a float dtype, as x);
    differentiable in x (TF gives `a` no gradient).  Runs the
    polygamma_n row once per distinct order."""
    import numpy as _np

    from . import _tapegrad as _C
    x = x if isinstance(x, (_C.Tensor, _C.Variable)) else \
        _C.convert_to_tensor(x, dtype=getattr(a, "dtype", None))
    a_t = a if isinstance(a, (_C.Tensor, _C.Variable)) else \
        _C.convert_to_tensor(a, dtype=x.dtype)
    if a_t.dtype != x.dtype:
        raise _C.InvalidArgumentError(
            "cannot compute Polygamma as input #1(zero-based) was expected "
            "to be a %s tensor but is a %s tensor [Op:Polygamma]"
            % (a_t.dtype.name, x.dtype.name))
    if not x.dtype.is_floating:
        raise _C.InvalidArgumentError(
            "Value for attr 'T' of %s is not in the list of allowed values: "
            "float, double [Op:Polygamma]" % x.dtype.name)
    av = _np.asarray(a_t.numpy(), dtype=_np.float64)
    shape = _np.broadcast_shapes(av.shape, tuple(x.shape))
    out = _C.zeros(shape, dtype=x.dtype)
    for n in _np.unique(av):
        if n >= 0 and n == _np.floor(n) and _np.isfinite(n):
            part = _C._call("polygamma_n", x, n=int(n))
        else:       # TF: NaN for a negative or non-integer order
            part = _C.fill(tuple(x.shape),
                           _C.constant(float("nan"), dtype=x.dtype))
        if tuple(part.shape) != shape:
            part = _C.broadcast_to(part, shape)
        if av.size == 1 or _np.all(av == n):
            return part
        out = _C.where(_C.constant(_np.broadcast_to(av == n, shape)), part,
                       out)
    return out


__all__.append("polygamma")
