"""Hand references for op-table rows whose ``numpy`` field is 'ref:NAME'.

Each function takes NumPy arrays (and the row's attributes as keywords) and
returns a NumPy array.  They are computed in float64 where precision matters
and cast back to the input's dtype, so they are at least as accurate as the
implementation under test.  Keep this list short: use a NumPy function in
the op table whenever one exists.
"""
import numpy as np


def _as_input_dtype(result, x):
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return np.asarray(result, dtype=x.dtype)
    return np.asarray(result)


def identity(x):
    return np.array(x, copy=True)


def identity_n(values, num_inputs=0, grad_fn=None):
    """custom_gradient's row: values[num_inputs:] unchanged."""
    return [np.array(v, copy=True) for v in values[num_inputs:]]


def sigmoid(x):
    """1 / (1 + exp(-x)), stable for either sign of x."""
    x64 = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x64))
    out = np.where(x64 >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return _as_input_dtype(out, x)


def softplus(x):
    """log(1 + exp(x)), stable for either sign of x."""
    x64 = np.asarray(x, dtype=np.float64)
    return _as_input_dtype(np.logaddexp(0.0, x64), x)


def relu(x):
    x = np.asarray(x)
    return np.maximum(x, np.zeros((), dtype=x.dtype))


def matmul(a, b, transpose_a=False, transpose_b=False):
    a = np.asarray(a)
    b = np.asarray(b)
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError("matmul needs rank >= 2 (TF semantics)")
    if transpose_a:
        a = np.swapaxes(a, -1, -2)
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


def sum_to(x, shape):
    """Sum `x` down to `shape`, the adjoint of broadcasting `shape` to x.shape:
    leading axes are summed away, axes where `shape` has 1 are summed with
    keepdims."""
    x = np.asarray(x)
    shape = tuple(shape)
    lead = x.ndim - len(shape)
    if lead < 0:
        raise ValueError("sum_to: target rank larger than input rank")
    if lead:
        x = x.sum(axis=tuple(range(lead)), dtype=x.dtype)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    if axes:
        x = x.sum(axis=axes, keepdims=True, dtype=x.dtype)
    if x.shape != shape:
        raise ValueError("sum_to: %s does not broadcast to %s" % (shape, x.shape))
    return x


def getitem(x, key):
    return np.array(np.asarray(x)[key], copy=True)


def getitem_grad(dy, key, shape):
    """The adjoint of getitem(., key) for an input of `shape`: scatter `dy`
    into zeros (basic indexing only, so no index repeats)."""
    dy = np.asarray(dy)
    out = np.zeros(tuple(shape), dtype=dy.dtype)
    out[key] = dy
    return out


def cast(x, dtype):
    return np.asarray(x).astype(np.dtype(dtype))


def concat(values, axis):
    return np.concatenate(values, axis=axis)


# one module per op family, next to its rows (src/ops_<family>.def)
from refs_array import *  # noqa: E402,F401,F403
from refs_linalg import *  # noqa: E402,F401,F403
from refs_math import *  # noqa: E402,F401,F403
from refs_nn import *  # noqa: E402,F401,F403
from refs_pool import *  # noqa: E402,F401,F403
from refs_reduce import *  # noqa: E402,F401,F403
from refs_conv import *  # noqa: E402,F401,F403
