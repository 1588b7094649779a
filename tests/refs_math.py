"""Hand references (NumPy) for the rows of src/ops_math.def whose `numpy`
field is "ref:NAME".  Computed in float64 and cast back to the input's
float dtype, so they are at least as accurate as the implementation."""
import math

import numpy as np  # noqa: F401

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _like(result, x):
    x = np.asarray(x)
    return np.asarray(result, dtype=x.dtype if x.dtype.kind == "f" else None)


def rsqrt(x):
    return _like(1.0 / np.sqrt(_f64(x)), x)


def reciprocal(x):
    return _like(1.0 / _f64(x), x)


def log_sigmoid(x):
    return _like(-np.logaddexp(0.0, -_f64(x)), x)


_erf = np.vectorize(math.erf, otypes=[np.float64])


def erf(x):
    return _like(_erf(_f64(x)) if np.size(x) else _f64(x), x)


def relu6(features):
    return _like(np.clip(_f64(features), 0.0, 6.0), features)


def leaky_relu(features, alpha=0.2):
    x = _f64(features)
    return _like(np.where(x > 0, x, alpha * x), features)


def elu(features):
    x = _f64(features)
    return _like(np.where(x > 0, x, np.expm1(np.minimum(x, 0))), features)


def selu(features):
    x = _f64(features)
    return _like(_SELU_SCALE * np.where(
        x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0))), features)


def gelu(features, approximate=False):
    x = _f64(features)
    if approximate:
        t = np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))
        return _like(0.5 * x * (1 + t), features)
    e = _erf(x / math.sqrt(2)) if x.size else x
    return _like(0.5 * x * (1 + e), features)


def silu(features, beta=1.0):
    x = _f64(features)
    return _like(x / (1 + np.exp(-beta * x)), features)


def softsign(features):
    x = _f64(features)
    return _like(x / (1 + np.abs(x)), features)


def squared_difference(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind == "f":
        return _like((_f64(x) - _f64(y)) ** 2, x)
    return (x - y) * (x - y)


def divide_no_nan(x, y):
    x64, y64 = _f64(x), _f64(y)
    safe = np.where(y64 == 0, 1.0, y64)
    return _like(np.where(y64 == 0, 0.0, x64 / safe), x)


def xlogy(x, y):
    x64, y64 = _f64(x), _f64(y)
    with np.errstate(all="ignore"):
        return _like(np.where(x64 == 0, 0.0, x64 * np.log(y64)), x)


def xdivy(x, y):
    x64, y64 = _f64(x), _f64(y)
    with np.errstate(all="ignore"):
        return _like(np.where(x64 == 0, 0.0, x64 / y64), x)


def floordiv(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind == "f":
        return _like(np.floor(_f64(x) / _f64(y)), x)   # TF: floor(x / y)
    return np.floor_divide(x, y)


def floormod(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind == "f":
        # fmod in the inputs' own precision, moved to the sign of y (TF)
        r = np.fmod(x, y)
        return np.where((r != 0) & ((r < 0) != (y < 0)), r + y, r).astype(x.dtype)
    return np.mod(x, y)


def add_n(inputs):
    out = np.array(inputs[0], copy=True)
    for x in inputs[1:]:
        out = out + x
    return out


def clip_by_value(t, clip_value_min, clip_value_max):
    # TF: maximum(minimum(t, max), min) (so min wins where min > max)
    return np.maximum(np.minimum(t, clip_value_max), clip_value_min)


def truediv(x, y):
    """y takes x's dtype (TF's dtype hint); integers divide in float64,
    8- and 16-bit ones in float32 (TF's _TRUEDIV_TABLE)."""
    x = np.asarray(x)
    y = np.asarray(y, dtype=x.dtype)
    if x.dtype.kind == "f":
        return np.true_divide(x, y)
    to = np.float32 if x.dtype.itemsize <= 2 else np.float64
    return np.true_divide(x.astype(to), y.astype(to))


def select(condition, x, y):
    return np.where(np.asarray(condition) != 0, x, y)


def select_or_zero(condition, x, negate=False):
    keep = (np.asarray(condition) != 0) != negate
    x = np.asarray(x)
    return np.where(keep, x, np.zeros_like(x))


def where(condition, x=None, y=None):
    cond = np.asarray(condition) != 0
    if x is None and y is None:
        return np.argwhere(cond).astype(np.int64)
    # Python values convert to float32, as TF's convert_to_tensor
    return np.where(cond, np.asarray(x, dtype=np.float32),
                    np.asarray(y, dtype=np.float32))


# special functions: SciPy's as the independent reference
def erfc(x):
    from scipy import special
    return _like(special.erfc(_f64(x)), x)


def erfinv(x):
    from scipy import special
    return _like(special.erfinv(_f64(x)), x)


def lgamma(x):
    # TF's (C's) lgamma(-inf) is +inf; SciPy's gammaln says -inf
    from scipy import special
    v = _f64(x)
    with np.errstate(all="ignore"):
        r = np.where(v == -np.inf, np.inf, special.gammaln(v))
    return _like(r, x)


def digamma(x):
    # TF (Eigen) gives NaN at the poles 0, -1, -2 ...; SciPy gives -inf at 0
    from scipy import special
    v = _f64(x)
    with np.errstate(all="ignore"):
        r = np.where((v <= 0) & (v == np.floor(v)), np.nan, special.digamma(v))
    return _like(r, x)


def polygamma_n(x, n=0):
    from scipy import special
    return _like(special.polygamma(int(n), _f64(x)), x)
