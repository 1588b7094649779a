"""tapegrad.random: random tensors, reproducible after set_seed(seed).

Draws come from NumPy's PCG64 generator and are converted once; random
ops are not differentiable and are not on the per-op hot path.  As in TF,
without set_seed the draws differ from run to run; after set_seed(s) the
sequence of draws (and each op-level `seed`) is reproducible.
"""
import numpy as _np

from ._tapegrad import InvalidArgumentError as _InvalidArgumentError
from ._tapegrad import constant as _constant
from ._tapegrad import _int_list
from ._tapegrad import float32 as _float32

__all__ = ["normal", "set_seed", "shuffle", "truncated_normal", "uniform"]

_global_seed = None
_generator = _np.random.default_rng()


def set_seed(seed):
    """Make the following random draws reproducible (tf.random.set_seed)."""
    global _global_seed, _generator
    _global_seed = None if seed is None else int(seed)
    _generator = _np.random.default_rng(_global_seed)


def _rng(seed):
    if seed is None:
        return _generator
    base = 0 if _global_seed is None else _global_seed
    return _np.random.default_rng([base, int(seed)])


def _shape(shape, op):
    """The shape as a tuple, checked as TF checks it (before NumPy draws):
    dims >= 0 and a size that fits a tensor (C's tg_shape_size rule)."""
    shape = _int_list(op, "shape", shape)
    n = 1
    for d in shape:
        if d < 0:
            raise _InvalidArgumentError(
                f"Dimension {d} must be >= 0 [Op:{op}]")
        n *= d or 1
    if n > (2 ** 63 - 1) // 16:
        raise ValueError("Encountered overflow when multiplying shape "
                         "dimensions: the tensor is too large")
    return shape


def _dtype(dtype):
    from . import DType, constant

    if not isinstance(dtype, DType):
        dtype = constant(0, dtype=dtype).dtype
    if not dtype.is_floating:
        raise ValueError(
            f"Invalid dtype {dtype!r}: random values need a floating dtype")
    return dtype


def normal(shape, mean=0.0, stddev=1.0, dtype=_float32, seed=None,
           name=None):
    """Tensor of draws from a normal distribution (tf.random.normal)."""
    dtype = _dtype(dtype)
    values = _rng(seed).standard_normal(_shape(shape, "RandomStandardNormal"))
    values = values * float(stddev) + float(mean)
    # tapegrad's conversion rounds to `dtype` (inf past its range, as TF
    # does, without NumPy's overflow warning)
    return _constant(values, dtype=dtype)


def uniform(shape, minval=0, maxval=None, dtype=_float32, seed=None,
            name=None):
    """Tensor of draws from [minval, maxval) (tf.random.uniform)."""
    dtype = _dtype(dtype)
    hi = 1.0 if maxval is None else float(maxval)
    values = _rng(seed).uniform(float(minval), hi,
                                _shape(shape, "RandomUniform"))
    return _constant(values, dtype=dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=_float32, seed=None,
                     name=None):
    """Normal draws, redrawn until within two standard deviations of the
    mean (tf.random.truncated_normal)."""
    dtype = _dtype(dtype)
    rng = _rng(seed)
    shape = _shape(shape, "TruncatedNormal")
    values = rng.standard_normal(shape)
    bad = _np.abs(values) > 2.0
    while bad.any():
        values[bad] = rng.standard_normal(int(bad.sum()))
        bad = _np.abs(values) > 2.0
    values = values * float(stddev) + float(mean)
    return _constant(values, dtype=dtype)


def shuffle(value, seed=None, name=None):
    """A copy of `value` with its first dimension randomly permuted
    (tf.random.shuffle).  Like TF's RandomShuffle it has no gradient: the
    result is a new constant, so gradients through it are None."""
    array = _np.asarray(_constant(value).numpy())
    if array.ndim == 0:
        raise ValueError("shuffle: value must be at least 1-D, got a scalar")
    return _constant(_rng(seed).permutation(array))
