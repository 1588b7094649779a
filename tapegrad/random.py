"""tapegrad.random: random tensors, reproducible after set_seed(seed).

Draws come from NumPy's PCG64 generator; random ops are not
differentiable and are not on the per-op hot path.  As in TF, without
set_seed the draws differ from run to run; after set_seed(s) the sequence
of draws (and each op-level `seed`) is reproducible.

Memory: a legal request needs its output's bytes and little more, as in
TF.  normal, uniform and truncated_normal draw in the output dtype
(float16: through a float32 chunk), CHUNK elements at a time, straight
into one output buffer, scale and shift each chunk in place (in the
output dtype, as TF's `rnd * stddev + mean`), redraw truncated_normal's
rejects within their chunk, and hand the buffer to the tensor without a
copy (_tapegrad._adopt).  The values therefore depend on the dtype: a
float32 draw is NumPy's float32 sampler, not a rounded float64 one.
"""
import operator as _operator

import numpy as _np

from ._tapegrad import InvalidArgumentError as _InvalidArgumentError
from ._tapegrad import _adopt
from ._tapegrad import constant as _constant
from ._tapegrad import _int_list
from ._tapegrad import float32 as _float32

__all__ = ["normal", "set_seed", "shuffle", "truncated_normal", "uniform"]

_global_seed = None
_generator = _np.random.default_rng()


def _seed(seed, op):
    """A seed as TF takes it: an integer (negative ones too), as a value
    NumPy's generators take (they want non-negative ones)."""
    if not isinstance(seed, bool):
        try:
            return _operator.index(seed) % (1 << 64)
        except TypeError:
            pass
    raise TypeError(f"{op}: Expected int for argument 'seed' not {seed!r}.")


def set_seed(seed):
    """Make the following random draws reproducible (tf.random.set_seed)."""
    global _global_seed, _generator
    _global_seed = None if seed is None else _seed(seed, "set_seed")
    _generator = _np.random.default_rng(_global_seed)


def _rng(seed, op="random"):
    if seed is None:
        return _generator
    base = 0 if _global_seed is None else _global_seed
    return _np.random.default_rng([base, _seed(seed, op)])


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

    if dtype is None:   # constant(0, dtype=None) would be int32
        raise TypeError("random: dtype must be a floating dtype, got None")
    if not isinstance(dtype, DType):
        dtype = constant(0, dtype=dtype).dtype
    if not dtype.is_floating:
        raise ValueError(
            f"Invalid dtype {dtype!r}: random values need a floating dtype")
    return dtype


#: elements drawn per step: the working memory beyond the output is a few
#: chunks (256 KiB of float32), and NumPy's loops stay in cache
CHUNK = 1 << 16


def _output(shape, dtype):
    """An uninitialised C-contiguous buffer of `dtype` for the result; a
    size the machine cannot give is TF's OOM error, before any draw."""
    try:
        return _np.empty(shape, dtype.as_numpy_dtype)
    except MemoryError:
        raise MemoryError(
            "OOM when allocating tensor with shape[%s] and type %s"
            % (",".join(map(str, shape)), dtype.name)) from None


def _fill(shape, dtype, draw, scale, shift):
    """A Tensor of `shape` and `dtype` filled chunk by chunk: `draw(out)`
    fills a float32/float64 array in place, then out * scale + shift (in
    that dtype; inf past its range, quietly, as TF's)."""
    buf = _output(shape, dtype)
    flat = buf.reshape(-1)                      # a view: buf is contiguous
    half = flat.dtype == _np.float16
    work = _np.empty(min(CHUNK, flat.size), _np.float32) if half else None
    with _np.errstate(over="ignore", invalid="ignore"):
        wdt = _np.float32 if half else flat.dtype.type
        scale, shift = wdt(scale), wdt(shift)
        for i in range(0, flat.size, CHUNK):
            out = flat[i:i + CHUNK]
            part = work[:out.size] if half else out
            draw(part)
            if scale != 1:
                part *= scale
            if shift != 0:
                part += shift
            if half:
                _np.copyto(out, part, casting="unsafe")
    return _adopt(buf)


# The three draws: the seeded module functions, the stateless ones and
# Generator's methods all come here.  `rng()` gives the NumPy generator,
# asked for after the dtype and shape checks (TF checks those first).
def _normal(rng, op, shape, mean, stddev, dtype):
    dtype = _dtype(dtype)
    shape = _shape(shape, op)
    rng = rng()

    def draw(out):
        rng.standard_normal(out=out, dtype=out.dtype)
    return _fill(shape, dtype, draw, float(stddev), float(mean))


def _uniform(rng, op, shape, minval, maxval, dtype):
    dtype = _dtype(dtype)
    lo = float(minval)
    hi = 1.0 if maxval is None else float(maxval)
    shape = _shape(shape, op)
    rng = rng()

    def draw(out):
        rng.random(out=out, dtype=out.dtype)
    return _fill(shape, dtype, draw, hi - lo, lo)


def _truncated_normal(rng, op, shape, mean, stddev, dtype):
    dtype = _dtype(dtype)
    shape = _shape(shape, op)
    rng = rng()

    def draw(out):
        rng.standard_normal(out=out, dtype=out.dtype)
        redo = _np.flatnonzero(_np.abs(out) > 2.0)
        while redo.size:
            again = rng.standard_normal(redo.size, dtype=out.dtype)
            out[redo] = again
            redo = redo[_np.abs(again) > 2.0]
    return _fill(shape, dtype, draw, float(stddev), float(mean))


def normal(shape, mean=0.0, stddev=1.0, dtype=_float32, seed=None,
           name=None):
    """Tensor of draws from a normal distribution (tf.random.normal)."""
    op = "RandomStandardNormal"
    return _normal(lambda: _rng(seed, op), op, shape, mean, stddev, dtype)


def uniform(shape, minval=0, maxval=None, dtype=_float32, seed=None,
            name=None):
    """Tensor of draws from [minval, maxval) (tf.random.uniform)."""
    op = "RandomUniform"
    return _uniform(lambda: _rng(seed, op), op, shape, minval, maxval, dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=_float32, seed=None,
                     name=None):
    """Normal draws, redrawn until within two standard deviations of the
    mean (tf.random.truncated_normal)."""
    op = "TruncatedNormal"
    return _truncated_normal(lambda: _rng(seed, op), op, shape, mean, stddev,
                             dtype)


def shuffle(value, seed=None, name=None):
    """A copy of `value` with its first dimension randomly permuted
    (tf.random.shuffle).  Like TF's RandomShuffle it has no gradient: the
    result is a new constant, so gradients through it are None."""
    array = _np.asarray(_constant(value).numpy())
    if array.ndim == 0:
        raise ValueError("shuffle: value must be at least 1-D, got a scalar")
    return _constant(_rng(seed, "RandomShuffle").permutation(array))


# ---- categorical, stateless draws, Generator ----------------------------------------
def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """num_samples class indices per row of logits ([batch, classes]),
    drawn with probabilities softmax(logits) (tf.random.categorical); an
    int64 tensor [batch, num_samples] by default, never recorded."""
    from . import int32, int64
    lg = _np.asarray(_constant(logits).numpy(), dtype=_np.float64)
    if lg.ndim != 2:
        raise _InvalidArgumentError(
            "logits should be a matrix, got shape %s [Op:Multinomial]"
            % (list(lg.shape),))
    n = _operator.index(num_samples)
    if n < 0:
        raise _InvalidArgumentError(
            "num_samples should be nonnegative, got %d [Op:Multinomial]" % n)
    dtype = int64 if dtype is None else dtype
    if dtype not in (int32, int64):
        raise TypeError("categorical: dtype must be int32 or int64, got %r"
                        % (dtype,))
    rng = _rng(seed, "Multinomial")
    out = _np.zeros((lg.shape[0], n), _np.int64)
    for i, row in enumerate(lg):
        p = _np.exp(row - _np.max(row)) if _np.isfinite(row).any() else \
            _np.ones_like(row)
        p = _np.where(_np.isfinite(p), p, 0.0)
        p = p / p.sum()
        out[i] = rng.choice(len(row), size=n, p=p)
    return _constant(out, dtype=dtype)


def _stateless_rng(seed, op):
    s = _np.asarray(_constant(seed).numpy())
    if s.shape != (2,) or s.dtype.kind not in "iu":
        raise _InvalidArgumentError(
            "seed must have shape [2], not %s [Op:%s]" % (list(s.shape), op))
    return _np.random.default_rng([int(v) % (1 << 64) for v in s])


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=_float32,
                     name=None, alg="auto_select"):
    """Normal draws fixed by `seed` (a shape-[2] integer seed): the same
    seed gives the same values, whatever else was drawn (the values are
    not TF's: its Philox stream is not reproduced)."""
    op = "StatelessRandomNormalV2"
    return _normal(lambda: _stateless_rng(seed, op), op, shape, mean, stddev,
                   dtype)


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=_float32,
                      name=None, alg="auto_select"):
    """Uniform draws in [minval, maxval) fixed by `seed`, as
    stateless_normal."""
    op = "StatelessRandomUniformV2"
    return _uniform(lambda: _stateless_rng(seed, op), op, shape, minval,
                    maxval, dtype)


class Generator:
    """A random number generator with its own state (tf.random.Generator):
    from_seed(seed) is reproducible; split(n) gives n independent ones."""

    def __init__(self, copy_from=None, state=None, alg=None):
        if copy_from is not None and not isinstance(copy_from, Generator):
            raise TypeError("Generator: copy_from must be a Generator, got "
                            "%r" % (copy_from,))
        if state is not None:
            state = _seed(state, "Generator")
        if copy_from is not None:
            self._rng = _np.random.default_rng()
            self._rng.bit_generator.state = copy_from._rng.bit_generator.state
        else:
            self._rng = _np.random.default_rng(state)

    @classmethod
    def from_seed(cls, seed, alg=None):
        """A generator whose draws are determined by `seed`."""
        return cls(state=_seed(seed, "Generator.from_seed"))

    @classmethod
    def from_non_deterministic_state(cls, alg=None):
        """A generator seeded from the operating system's entropy."""
        return cls()

    def reset_from_seed(self, seed):
        """Restart the generator's stream from `seed`."""
        self._rng = _np.random.default_rng(_seed(seed, "reset_from_seed"))

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=_float32, name=None):
        """Draws from a normal distribution, advancing this generator's
        state."""
        return _normal(lambda: self._rng, "StatefulStandardNormalV2", shape,
                       mean, stddev, dtype)

    def uniform(self, shape, minval=0, maxval=None, dtype=_float32,
                name=None):
        """Draws uniform in [minval, maxval) (maxval 1 for floats; required for
        integers), advancing this generator's state."""
        return _uniform(lambda: self._rng, "StatefulUniform", shape, minval,
                        maxval, dtype)

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=_float32,
                         name=None):
        """Draws from a normal distribution truncated to two standard
        deviations, advancing this generator's state."""
        return _truncated_normal(lambda: self._rng, "StatefulTruncatedNormal",
                                 shape, mean, stddev, dtype)

    def split(self, count=1):
        """`count` new, independent generators, derived from this one."""
        count = _operator.index(count)
        if not 0 <= count <= 1 << 20:
            raise ValueError("Generator.split: count must be in [0, 2**20], "
                             "got %d" % count)
        seeds = self._rng.bit_generator.seed_seq.spawn(count)
        out = []
        for s in seeds:
            g = Generator.__new__(Generator)
            g._rng = _np.random.default_rng(s)
            out.append(g)
        return out


_global_generator = [None]


def get_global_generator():
    """The generator tapegrad.random's stateful draws use, created on first
    use."""
    if _global_generator[0] is None:
        _global_generator[0] = Generator.from_non_deterministic_state()
    return _global_generator[0]


def set_global_generator(generator):
    """Make `generator` the global generator."""
    if not isinstance(generator, Generator):
        raise TypeError("set_global_generator: expected a Generator, got %r"
                        % (generator,))
    _global_generator[0] = generator


__all__ += ["categorical", "stateless_normal", "stateless_uniform",
            "Generator", "get_global_generator", "set_global_generator"]
