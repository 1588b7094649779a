"""Shared pieces of the tapegrad fuzz harnesses (fuzz_ops.py, fuzz_tape.py).

* `provider(data)`: atheris.FuzzedDataProvider when atheris is installed,
  else `Provider`, a pure-Python copy of the subset the harnesses use that
  decodes the same bytes to the same values (tests/test_fuzz_seeds.py checks
  the two agree), so the corpus replays in the plain test suite.
* `Gen`: bytes -> the harnesses' vocabulary (arrays of every dtype, rank
  and memory layout; Tensors, Variables, Python scalars, nested lists,
  junk; attribute values), and the widened vocabulary any slot may get
  (`Gen.junk`: Tensors and Variables of every dtype at rank 0-2, NumPy
  arrays and scalars of every NumPy dtype and layout, huge ints, ragged and
  cyclic lists, dtype objects, callables, objects whose protocols lie).
* the public API by introspection: `public_functions`, `public_classes`,
  `methods`, `attributes`, `parameters`, `keywords`.
* `check_exception`: the oracle.  An ordinary Python exception with a
  message is an expected outcome; SystemError, an exception with an empty
  message, or any other type is a finding and is re-raised.
"""
import enum
import gc
import inspect
import math
import os
import sys
import types
import warnings

import numpy as np

# the tree this file is in, after PYTHONPATH (run_fuzz.sh points that at
# its instrumented copy)
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tapegrad as tf  # noqa: E402
from tapegrad import _tapegrad as C  # noqa: E402

try:
    import atheris
except ImportError:  # replay only (tests/test_fuzz_seeds.py)
    atheris = None

# What a call may raise (with a message).  InvalidArgumentError is a
# ValueError; LookupError covers KeyError; RuntimeError is what a used-up
# non-persistent tape raises; BufferError is the array API's answer of
# __dlpack__ to a request it cannot serve (a legacy consumer, a device).
ORDINARY = (TypeError, ValueError, IndexError, LookupError, RuntimeError,
            MemoryError, OverflowError, BufferError)

MAX_ELEMENTS = 64   # per generated array: keeps an iteration ~1 ms


class Finding(AssertionError):
    """A result that breaks an invariant the harness checks (wrong shape,
    leaked objects): raised so the fuzzer records the input."""


def check_exception(e):
    """Swallow an expected exception; re-raise a finding."""
    if isinstance(e, SystemError) or not isinstance(e, ORDINARY):
        raise e
    # CPython's own MemoryError carries no message (a str repeated by a
    # huge integer tensor's __index__); tapegrad's say what was refused
    if not str(e).strip() and type(e) is not MemoryError:
        raise Finding("%s raised with an empty message" %
                      type(e).__name__) from e


class Provider:
    """The part of atheris.FuzzedDataProvider the harnesses use, decoding
    bytes exactly as atheris 2.x/3.x does (integers from the end of the
    data, everything else from the front)."""

    _U64 = (1 << 64) - 1

    def __init__(self, data):
        self._d = bytes(data)
        self._pos = 0
        self._end = len(self._d)

    def remaining_bytes(self):
        return self._end - self._pos

    def _advance(self, n):
        self._pos = self._end if n > self.remaining_bytes() else self._pos + n

    def _small(self, nbits, rng):
        result = offset = 0
        while offset < nbits and (rng >> offset) > 0 and self._end > self._pos:
            self._end -= 1
            result = (result << 8) | self._d[self._end]
            offset += 8
        if rng != self._U64:
            result %= rng + 1
        return result

    def ConsumeIntInRange(self, lo, hi):
        delta = hi - lo
        if delta < 0 or delta.bit_length() > 64:
            raise ValueError("ConsumeIntInRange: unsupported range")
        return lo + self._small(delta.bit_length(), delta)

    def ConsumeBool(self):
        if not self.remaining_bytes():
            return False
        b = self._d[self._pos] & 1
        self._advance(1)
        return bool(b)

    def ConsumeBytes(self, count):
        n = min(count, self.remaining_bytes())
        out = self._d[self._pos:self._pos + n]
        self._advance(n)
        return out

    def ConsumeProbability(self):
        n = min(8, self.remaining_bytes())
        integral = int.from_bytes(self._d[self._pos:self._pos + n], "little")
        self._advance(n)
        return float(integral) / float(self._U64)

    def ConsumeFloatInRange(self, lo, hi):
        if lo > hi:
            raise ValueError("ConsumeFloatInRange: min must be <= max")
        result = lo
        if lo < 0 and hi > 0 and lo + sys.float_info.max < hi:
            rng = hi / 2 - lo / 2
            if self.ConsumeBool():
                result += rng
        else:
            rng = hi - lo
        return result + rng * self.ConsumeProbability()

    def ConsumeFloat(self):
        if not self.remaining_bytes():
            return 0.0
        kind = self._d[self._pos]
        self._advance(1)
        if kind <= 10:
            self._advance(min(9, self.remaining_bytes()))
            m = sys.float_info
            return [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324,
                    -5e-324, m.min, -m.min, m.max, -m.max][kind]
        return self.ConsumeFloatInRange(-sys.float_info.max,
                                        sys.float_info.max)

    def PickValueInList(self, lst):
        n = len(lst)
        bits = 8 if n <= 0xFF else 16 if n <= 0xFFFF else 32
        return lst[self._small(bits, n - 1)]


def provider(data, pure=False):
    if atheris is not None and not pure:
        return atheris.FuzzedDataProvider(data)
    return Provider(data)


# ---- vocabulary ------------------------------------------------------------

DTYPES = [np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_,
          np.int8, np.int16, np.uint8, np.uint16, np.uint32, np.uint64]
TF_DTYPES = [tf.float16, tf.float32, tf.float64, tf.int32, tf.int64, tf.bool,
             tf.int8, tf.int16, tf.uint8, tf.uint16, tf.uint32, tf.uint64]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -3.0, 0.1, 1e-30, 1e30, 65504.0,
          7e4, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308,
          -2.5, 1e-8, 100.0]
INTS = [0, 1, -1, 2, 3, -2, 4, 5, -5, 7, 127, -128, 255, 65535]
# absurd sizes: their products overflow, or the allocation is refused
HUGE = [2 ** 31 - 1, 2 ** 31, -2 ** 31, 2 ** 32, 2 ** 62, 2 ** 63 - 1,
        -2 ** 63, 2 ** 63, 2 ** 64, 10 ** 40, -10 ** 40]
STRINGS = ["REFLECT", "SYMMETRIC", "CONSTANT", "reflect", "symmetric",
           "constant", "fro", "euclidean", "DESCENDING", "ASCENDING",
           "float64", "float32", "float16", "int32", "int64", "bool",
           "int8", "uint8", "uint16", "uint64",
           "complex64", "string", "none", "zero", "", "x", "ij,jk->ik",
           "ii", "i", "...", "ij->ji", "\u00e9\u0000"]
ALPHABET = "ijkab.,->"


class Raises:
    """Fails every protocol it is asked for, with an ordinary error."""

    def __array__(self, dtype=None, copy=None):
        raise ValueError("Raises.__array__")

    def __len__(self):
        raise TypeError("Raises.__len__")

    def __getitem__(self, i):
        raise IndexError("Raises.__getitem__")

    def __float__(self):
        raise ValueError("Raises.__float__")

    def __index__(self):
        raise TypeError("Raises.__index__")


class LiesLen(list):
    """A list whose len() disagrees with what iteration yields."""

    def __len__(self):
        return 3


def junk_values():
    return [None, "x", b"x", object(), 1 + 2j, [[1.0], [2.0, 3.0]],
            np.array(["a"]), np.array([object()]), np.array([1 + 1j]),
            math.nan, 10 ** 40, -1, [], {}, (), tf.float32, Raises(),
            LiesLen([1.0]), np.array(["2020-01-01"], dtype="datetime64[D]"),
            np.zeros((2, 0)), [[]], [None, 1.0], {"a": 1.0}, np.float64(2.0),
            iter([1.0]), memoryview(b"abcd"), slice(1), Ellipsis,
            np.zeros(3, dtype=[("a", "f4")])]


# ---- the widened vocabulary ------------------------------------------------
# Anything a caller could put where a shape, an axis, a perm, a dtype, a
# flag or a name goes: Tensors and Variables of every dtype at rank 0-2,
# NumPy arrays and scalars of every dtype (object, datetime, complex,
# unsigned, str, bytes, void, structured; byte-swapped, misaligned,
# strided, read-only), huge and negative ints, nested and ragged lists,
# strings, dtype objects, callables, and objects whose conversion
# protocols lie.  Every value is drawn from the provider when it is made,
# never when the code under test calls one of its protocols, so an input
# decodes to the same values however often tapegrad calls them.

NP_DTYPES = [np.float16, np.float32, np.float64, np.longdouble, np.int8,
             np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
             np.uint64, np.bool_, np.complex64, np.complex128, np.object_,
             "datetime64[D]", "timedelta64[s]", "U3", "S3", "V4",
             [("a", "<f4"), ("b", ">i2")]]
# what a `dtype=` may be handed: TF's, NumPy's (types, dtype objects,
# names), Python's own types, and names TF has that tapegrad does not
DTYPE_OBJECTS = (TF_DTYPES + [np.dtype(d) for d in NP_DTYPES] +
                 [np.float32, np.float64, np.int32, np.int64, np.bool_,
                  np.complex64, np.str_, np.uint8, np.datetime64,
                  np.dtype(">f4"), np.dtype("<i8"), float, int, bool,
                  complex, str, bytes, object, tf.DType, tf.Tensor,
                  "float32", "float64", "float16", "half", "double", "int32",
                  "int64", "bool", "int8", "uint8", "complex64",
                  "bfloat16", "string", "float", "f4", "<i8", "O",
                  "float32 ", "Float32"])
BIG_INTS = HUGE + [-2, -3, -7, -(2 ** 31) - 1, 2 ** 53 + 1, -(2 ** 64),
                   10 ** 100, np.int64(-2 ** 63), np.int64(2 ** 63 - 1),
                   np.uint64(2 ** 64 - 1), np.int8(-128),
                   np.uint32(2 ** 32 - 1), np.int32(-1), np.int16(7), True,
                   False]
WEIRD_STRINGS = ["%s%s%s%n", "%U%R%S%p", "{}{0}", "\ud800", "\x00", "a" * 300,
                 "float32\x00junk", "\u00e9", " ", "0", "-1", "2", "1e3",
                 "NaN", "axis", "name", "int32", "float32"]
# TF's keyword names (with every name introspection finds, see keywords())
TF_KEYWORDS = ["axis", "dtype", "shape", "perm", "keepdims", "name", "seed",
               "output_gradients", "unconnected_gradients", "persistent",
               "watch_accessed_variables", "dtype_hint", "trainable",
               "read_value", "use_locking", "multiples", "paddings", "mode",
               "constant_values", "num", "num_or_size_splits", "batch_dims",
               "indices", "depth", "on_value", "off_value", "k", "sorted",
               "direction", "exclusive", "reverse", "ord", "epsilon",
               "full_matrices", "compute_uv", "transpose_a", "transpose_b",
               "adjoint_a", "adjoint_b", "rate", "noise_shape", "alpha",
               "beta", "labels", "logits", "mean", "stddev", "minval",
               "maxval", "delta", "limit", "start", "stop", "num_rows",
               "num_columns", "batch_shape", "clip_norm", "axes",
               "equation", "out_type", "validate_shape", "x", "y", "value",
               "input", "tensor", "values", "a", "b", "bogus", ""]


class LiarError(ValueError):
    """What a lying protocol raises: an ordinary error, which a caller may
    let through (a user's __index__ raising TypeError is propagated)."""


_ECHO = "<echo>"          # __getitem__: return the index itself
_MIDWAY = "<raise-midway>"  # __iter__: yield one item, then raise


class _Lies:
    """A plan, drawn when the object is made: per protocol, a value to
    return (wrong type or wrong value included), values to cycle through
    (a different answer on every call), an error to raise, or `mutate`
    (empty the list this object sits in, then answer)."""

    def __init__(self, plan, victim=None):
        self._plan = plan
        self._calls = 0
        self.victim = victim

    def _lie(self, proto):
        mode, payload = self._plan.get(proto, ("raise", TypeError))
        if mode == "raise":
            raise payload("%s lies: it raises" % proto)
        if mode == "cycle":
            self._calls += 1
            return payload[self._calls % len(payload)]
        if mode == "mutate" and isinstance(self.victim, list):
            del self.victim[:]
        return payload


class LyingNumber(_Lies):
    def __index__(self):
        return self._lie("__index__")

    def __int__(self):
        return self._lie("__int__")

    def __float__(self):
        return self._lie("__float__")

    def __complex__(self):
        return self._lie("__complex__")

    def __bool__(self):
        return self._lie("__bool__")


class LyingSequence(_Lies):
    def __len__(self):
        return self._lie("__len__")

    def __getitem__(self, i):
        v = self._lie("__getitem__")
        if isinstance(v, str) and v == _ECHO:
            if isinstance(i, int) and not 0 <= i < 3:
                raise IndexError("LyingSequence index out of range")
            return i
        return v

    def __iter__(self):
        v = self._lie("__iter__")
        if isinstance(v, list):
            return iter(v)
        if isinstance(v, str) and v == _MIDWAY:
            return _midway()
        return v   # not an iterator: iter() raises TypeError


def _midway():
    yield 1.0
    raise LiarError("__iter__ lies: it raises after one item")


class LyingArray(_Lies):
    def __array__(self, dtype=None, copy=None):
        return self._lie("__array__")


class LyingEverything(LyingNumber, LyingSequence, LyingArray):
    def __repr__(self):
        return self._lie("__repr__")

    def __str__(self):
        return self._lie("__str__")

    def __format__(self, spec):
        return self._lie("__format__")

    def __eq__(self, other):
        return self._lie("__eq__")

    def __hash__(self):
        return self._lie("__hash__")


class LyingInt(int):
    """An int whose protocols say something else than its value."""

    _lie = _Lies._lie

    def __index__(self):
        return self._lie("__index__")

    def __int__(self):
        return self._lie("__int__")

    def __float__(self):
        return self._lie("__float__")


class LyingFloat(float):
    _lie = _Lies._lie

    def __float__(self):
        return self._lie("__float__")

    def __index__(self):
        return self._lie("__index__")


class LyingList(list):
    """A list whose len(), indexing and iteration disagree with its
    storage (C's PyList_GET_SIZE sees the storage)."""

    _lie = _Lies._lie
    __len__ = LyingSequence.__len__
    __getitem__ = LyingSequence.__getitem__
    __iter__ = LyingSequence.__iter__


LIAR_CLASSES = [LyingNumber, LyingSequence, LyingArray, LyingEverything,
                LyingInt, LyingFloat, LyingList]
PROTOCOLS = {
    "__index__": [0, 1, 2, 3, -1, 2.5, "3", None, True, np.int64(2),
                  np.float64(2.0), 2 ** 70, -2 ** 70, b"2"],
    "__int__": [0, 2, -1, 2.5, "3", None, 2 ** 70, np.int32(1)],
    "__float__": [1.0, 2.0, math.nan, 2, "1.0", None, np.float32(2.0)],
    "__complex__": [1j, 1.0, None],
    "__bool__": [True, False, 1, None, np.bool_(True)],
    "__len__": [0, 1, 2, 3, 1000, -1, 2 ** 70, 2.0, None, "3"],
    "__getitem__": [_ECHO, _ECHO, 1.0, None, [1.0, 2.0], "x"],
    "__iter__": [[], [1.0], [1.0, 2.0, 3.0], [[1.0], 2.0], _MIDWAY, None, 5],
    "__array__": [None, 1.0, [1.0, 2.0]],   # + drawn arrays, see liar()
    "__repr__": ["Liar", 5, None, "x" * 3000],
    "__str__": ["Liar", 5, None],
    "__format__": ["", 5, None],
    "__eq__": [False, True, NotImplemented, None],
    "__hash__": [0, 2 ** 70, "x", None],
}


def lies_about(cls):
    """The protocols `cls` defines itself (not those of int, list...)."""
    return [p for p in PROTOCOLS if any(
        p in vars(c) for c in cls.__mro__ if c.__module__ == __name__)]


def make_liar(cls, plan, init=None, around=None):
    """A `cls` (LIAR_CLASSES) lying as `plan` says ({protocol: (mode,
    payload)}, see _Lies); `init` is the int, float or list value of the
    int, float and list subclasses.  With `around` ([a, b]), the list
    [a, liar, b], which a `mutate` protocol empties."""
    if cls in (LyingInt, LyingFloat, LyingList):
        obj = cls(init)
    else:
        obj = cls(plan)
    obj._plan, obj._calls, obj.victim = plan, 0, None
    if around is not None:
        obj.victim = [around[0], obj, around[1]]
        return obj.victim
    return obj


LIE_ERRORS = [TypeError, ValueError, LiarError, IndexError, OverflowError]


NP_LAYOUTS = ["plain", "byteswapped", "misaligned", "strided", "readonly",
              "scalar"]


def np_layout(a, layout):
    """`a`'s values in another memory layout (NP_LAYOUTS), or as a NumPy
    scalar (its first element)."""
    raw = not a.dtype.hasobject
    if layout == "byteswapped" and raw:
        return a.byteswap().view(a.dtype.newbyteorder())
    if layout == "misaligned" and raw:
        buf = np.zeros(a.nbytes + 1, np.uint8)
        u = buf[1:].view(a.dtype).reshape(a.shape)
        u[...] = a
        return u
    if layout == "strided" and a.ndim:
        return np.stack([a, a], axis=-1)[..., 0]
    if layout == "readonly":
        a.flags.writeable = False
    elif layout == "scalar":
        return a.reshape(-1)[0] if a.size else a[()] if not a.ndim else a
    return a


def _return_first(*args, **kw):
    return args[0] if args else None


def _raise_liar(*args, **kw):
    raise LiarError("a callable that raises")


def _pair(*args, **kw):
    """What custom_gradient's function returns: (value, grad_fn)."""
    return (args[0] if args else 1.0), _return_first


CALLABLES = [_return_first, _raise_liar, _pair, lambda *a, **k: None,
             lambda *a, **k: [], tf.identity, tf.sin, tf.reduce_sum,
             tf.constant, np.sin, np.asarray, float, int, len, str, dict,
             tf.Tensor, tf.GradientTape, iter]


def nested_lists():
    """Nested, ragged and self-containing lists (all tiny)."""
    cyclic = [1.0]
    cyclic.append(cyclic)
    deep = [1]
    for _ in range(70):   # deeper than NumPy's 64 dimensions
        deep = [deep]
    return [[[1, 2], [3]], [[[1]], [2]], [[1.0, [2.0]]], [[], [1]],
            [[[]]], [(1, 2), [3, 4]], [1, [2, [3, [4]]]], cyclic, deep,
            [tf.constant(1.0), tf.constant([1.0, 2.0])],
            [tf.constant(1.0), np.float32(2), "x"], [None], [[None]],
            [1, 2.5, True], [2 ** 40, -1], [[0, 1], [2 ** 63, 0]],
            [np.int64(1), np.uint64(2)], [[1, 2], (3, 4), np.array([5, 6])],
            ((1,), [2]), [1e300, -1e300], [math.nan], [[1], 2]]


class Gen:
    """Decodes the harnesses' values from one provider."""

    def __init__(self, fdp):
        self.fdp = fdp

    # primitive draws
    def int(self, lo, hi):
        return self.fdp.ConsumeIntInRange(lo, hi)

    def bool(self):
        return self.fdp.ConsumeBool()

    def pick(self, lst):
        return self.fdp.PickValueInList(lst)

    def chance(self, n):
        """True with probability 1/n."""
        return self.int(0, n - 1) == 0

    def float(self):
        if self.bool():
            return self.pick(FLOATS)
        return self.fdp.ConsumeFloatInRange(-4.0, 4.0)

    def small_int(self):
        if self.chance(16):
            return self.pick(HUGE)
        return self.int(-4, 6)

    def text(self):
        if self.bool():
            return self.pick(STRINGS)
        raw = self.fdp.ConsumeBytes(self.int(0, 8))
        return "".join(ALPHABET[b % len(ALPHABET)] for b in raw)

    # shapes and arrays
    def shape(self, like=None):
        """Rank 0-6, sides 0-4, at most MAX_ELEMENTS elements; with `like`,
        often a shape that broadcasts against it."""
        if like is not None and self.int(0, 3):
            mode = self.int(0, 3)
            if mode == 0:
                return tuple(like)
            if mode == 1:   # a suffix
                return tuple(like[self.int(0, len(like)):])
            if mode == 2:   # ones punched in
                return tuple(1 if self.bool() else d for d in like)
            return tuple(like) + (1,) * self.int(0, 2)
        rank = self.int(0, 6)
        dims = [self.pick([1, 2, 3, 0, 4, 1, 2]) for _ in range(rank)]
        while int(np.prod(dims, dtype=np.int64)) > MAX_ELEMENTS:
            dims[dims.index(max(dims))] -= 1
        return tuple(dims)

    def dtype(self):
        return self.pick(DTYPES)

    def values(self, n):
        """n float64 values; at most MAX_ELEMENTS drawn one by one (an
        output_gradients for a 10**8-element result repeats them)."""
        mode = self.int(0, 4)
        if mode == 0:
            return np.arange(n, dtype=np.float64) - n / 2
        if mode == 1:
            return np.full(n, self.float())
        k = min(n, MAX_ELEMENTS)
        if mode == 2:
            drawn = [self.float() for _ in range(k)]
        elif mode == 3:
            drawn = [self.int(-3, 3) for _ in range(k)]
        else:
            return np.zeros(n)
        return np.resize(np.array(drawn, dtype=np.float64), n)

    def array(self, shape=None, dtype=None, like=None):
        """An ndarray in one of several memory layouts (all with the same
        logical contents): contiguous, strided, reversed, byte-swapped,
        read-only, Fortran, transposed view, broadcast (stride 0),
        unaligned."""
        shape = self.shape(like) if shape is None else tuple(shape)
        dtype = self.dtype() if dtype is None else dtype
        n = int(np.prod(shape, dtype=np.int64))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = self.values(n).astype(dtype).reshape(shape)
        layout = self.int(0, 9)
        if layout == 1 and a.ndim:
            big = np.zeros(shape[:-1] + (2 * shape[-1] + 1,), dtype)
            big[..., 1::2] = a
            a = big[..., 1::2]
        elif layout == 2 and a.ndim:
            a = a[::-1].copy()[::-1]
        elif layout == 3:
            a = a.byteswap().view(a.dtype.newbyteorder())
        elif layout == 4:
            a.flags.writeable = False
        elif layout == 5:
            a = np.asfortranarray(a)
        elif layout == 6 and a.ndim > 1:
            a = np.ascontiguousarray(a.T).T
        elif layout == 7 and a.ndim and n:
            a = np.broadcast_to(a.reshape(-1)[:1].reshape((1,) * a.ndim),
                                shape)
        elif layout == 8 and a.itemsize > 1:
            buf = np.zeros(a.nbytes + 1, np.uint8)
            u = buf[1:].view(a.dtype).reshape(shape)
            u[...] = a
            a = u
        elif layout == 9 and a.ndim == 0:
            a = a[()]   # a NumPy scalar
        return a

    # inputs
    def tensor(self, like=None, dtype=None):
        return tf.constant(self.array(like=like, dtype=dtype))

    def input(self, like=None, previous=()):
        """Anything an op might be handed."""
        kind = self.int(0, 12)
        try:
            if kind <= 3:
                return tf.constant(self.array(like=like))
            if kind == 4:
                return tf.Variable(self.array(like=like),
                                   trainable=self.bool())
            if kind <= 6:
                return self.array(like=like)
            if kind == 7:
                pick = self.int(0, 3)
                return [self.float(), self.small_int(), self.bool(),
                        np.float32(self.float())][pick]
            if kind == 8:
                lst = self.array(like=like).tolist()
                if isinstance(lst, list) and lst and self.chance(4):
                    lst.append(lst[0])  # maybe ragged
                return lst
            if kind == 9:
                return self.junk()
            if kind == 10 and previous:
                return self.pick(list(previous))  # aliasing: f(x, x)
            if kind == 11:   # a Tensor of another dtype, via convert
                return tf.convert_to_tensor(self.array(like=like),
                                            dtype_hint=self.pick(TF_DTYPES))
            return tf.constant(self.array(like=like, dtype=np.float32))
        except ORDINARY as e:
            check_exception(e)
            return None

    def attr(self, examples=()):
        """A value for an op attribute: one from the row's own test cases
        (maybe mutated), or anything else: ints, lists, strings, dtypes,
        and often (kinds 16-23) the widened vocabulary, a Tensor of any
        dtype and rank 0-2 most of all."""
        kind = self.int(0, 23)
        if kind <= 3 and examples:
            v = self.pick(list(examples))
            if kind == 0 and isinstance(v, int) and not isinstance(v, bool):
                return v + self.int(-3, 3)
            if kind == 1 and isinstance(v, (list, tuple)) and v:
                v = list(v)
                op = self.int(0, 3)
                if op == 0:
                    v.pop()
                elif op == 1:
                    v.append(v[0])
                elif op == 2:
                    v[self.int(0, len(v) - 1)] = self.small_int()
                else:
                    v = tuple(v)
            return v
        if kind == 4:
            return self.small_int()
        if kind == 5:
            return [self.small_int() for _ in range(self.int(0, 4))]
        if kind == 6:
            return tuple(self.small_int() for _ in range(self.int(0, 4)))
        if kind == 7:
            return [[self.int(-1, 3), self.int(-1, 3)]
                    for _ in range(self.int(0, 3))]
        if kind == 8:
            return self.bool()
        if kind == 9:
            return self.float()
        if kind == 10:
            return self.text()
        if kind == 11:
            return None
        if kind == 12:
            return self.pick(TF_DTYPES)
        if kind == 13:
            return tf.constant([self.int(-2, 3) for _ in range(self.int(0, 3))]
                               if self.bool() else self.int(-2, 3))
        if kind == 14:
            return self.key()
        if kind == 15:
            return self.pick(junk_values())
        if kind <= 19:   # the crash class of the widening: a tensor here
            return self.slot_tensor()
        if kind == 20:
            return self.np_any()
        if kind == 21:
            return self.pick(BIG_INTS) if self.bool() else self.pick(
                nested_lists())
        if kind == 22:
            return self.pick(DTYPE_OBJECTS) if self.bool() else self.liar()
        return self.junk()

    # the widened vocabulary (see NP_DTYPES above)
    def slot_tensor(self, variable=True):
        """A Tensor, or sometimes a Variable, of any dtype at rank 0-2,
        holding what attributes hold: small ints, floats, extremes."""
        dtype = self.pick(TF_DTYPES)
        shape = tuple(self.int(0, 3) for _ in range(self.int(0, 2)))
        n = int(np.prod(shape, dtype=np.int64))
        mode = self.int(0, 2)
        if mode == 0:
            vals = [self.int(-3, 4) for _ in range(n)]
        elif mode == 1:
            vals = [self.float() for _ in range(n)]
        else:
            vals = [float(self.pick(HUGE)) for _ in range(n)]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = np.array(vals, dtype=np.float64).astype(
                dtype.as_numpy_dtype).reshape(shape)
        if variable and self.chance(3):
            return tf.Variable(a, trainable=self.bool())
        return tf.constant(a)

    def np_any(self):
        """A small NumPy array (rank 0-2) or scalar of any NumPy dtype, in
        a plain, byte-swapped, misaligned, strided or read-only layout."""
        dtype = np.dtype(self.pick(NP_DTYPES))
        shape = tuple(self.int(0, 3) for _ in range(self.int(0, 2)))
        n = int(np.prod(shape, dtype=np.int64))
        base = self.values(n)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dtype.names:
                a = np.zeros(n, dtype)
                a[dtype.names[0]] = base
            elif dtype.kind == "V":
                a = np.zeros(n, dtype)
            elif dtype.kind in "mM":
                a = base.astype(np.int64).astype(dtype)
            else:
                a = base.astype(dtype)
        return np_layout(a.reshape(shape), NP_LAYOUTS[self.int(0, 5)])

    def liar(self):
        """An object whose conversion protocols lie (LIAR_CLASSES), maybe
        inside a list that one of its protocols empties."""
        cls = self.pick(LIAR_CLASSES)
        plan = {}
        for proto in lies_about(cls):
            mode = self.int(0, 5)
            if mode == 4:
                plan[proto] = ("raise", self.pick(LIE_ERRORS))
                continue
            if proto == "__array__" and self.bool():
                value = self.np_any() if self.bool() else self.array()
            else:
                value = self.pick(PROTOCOLS[proto])
            if mode == 3:
                plan[proto] = ("cycle", [value, self.pick(PROTOCOLS[proto])])
            else:
                plan[proto] = ("mutate" if mode == 5 else "return", value)
        if cls is LyingInt:
            init = self.int(-2, 4)
        elif cls is LyingFloat:
            init = self.float()
        else:
            init = [1.0] * self.int(0, 3)
        around = [self.int(0, 2), self.int(0, 2)] if self.bool() else None
        return make_liar(cls, plan, init, around)

    def junk(self):
        """Anything from the widened vocabulary."""
        kind = self.int(0, 11)
        if kind <= 1:
            return self.slot_tensor()
        if kind == 2:
            return self.np_any()
        if kind == 3:
            return self.pick(BIG_INTS)
        if kind == 4:
            return self.pick(nested_lists())
        if kind == 5:
            return self.pick(WEIRD_STRINGS + STRINGS)
        if kind == 6:
            return self.pick(DTYPE_OBJECTS)
        if kind == 7:
            return self.pick(CALLABLES)
        if kind <= 9:
            return self.liar()
        if kind == 10:
            return self.pick([None, Ellipsis, slice(None), (), {}, set(),
                              frozenset([1]), range(3), 1 + 2j, b"",
                              bytearray(b"\x01\x02"),
                              memoryview(np.arange(3.0)), True, False,
                              -0.0, math.inf, LiarError("an exception")])
        return self.pick(junk_values())

    def key(self):
        """An indexing key: ints, slices, None, Ellipsis, lists, masks."""
        parts = []
        for _ in range(self.int(0, 4)):
            k = self.int(0, 7)
            if k == 0:
                parts.append(self.int(-4, 4))
            elif k == 1:
                parts.append(slice(self.pick([None, 0, 1, -1, 2, 5]),
                                   self.pick([None, 0, 1, -1, 3, 10]),
                                   self.pick([None, 1, 2, -1, -2, 0])))
            elif k == 2:
                parts.append(None)
            elif k == 3:
                parts.append(Ellipsis)
            elif k == 4:
                parts.append([self.int(-2, 2) for _ in range(self.int(0, 3))])
            elif k == 5:
                parts.append(tf.constant(self.int(-2, 2)))
            elif k == 6:
                parts.append(np.array([self.bool() for _ in range(3)]))
            else:
                parts.append(self.small_int())
        if len(parts) == 1 and self.bool():
            return parts[0]
        return tuple(parts)


# ---- the public API, found by introspection --------------------------------
# Every public callable of every namespace, every public and dunder method
# and attribute of every class the package defines: new API is fuzzed the
# day it lands, with nothing to register.

NAMESPACES = ["autodiff", "config", "debugging", "errors", "experimental",
              "linalg", "math", "nn", "random", "test"]

# Public callables that are never called, and why.  tapegrad.train's file
# API reads or writes the paths it is given: fuzzed paths would write files
# anywhere on the disk (or open FIFOs and devices), and OSError is its
# documented answer to a bad path.  It is Python over zipfile, np.load and
# Variable.assign/numpy, which the harnesses reach directly; its checks
# are tests/test_checkpoint.py's.  Checkpoint itself (construction, its
# attributes, save_counter) stays fuzzed.
_FILE_API = "reads or writes the files its arguments name"
SKIP = {q: _FILE_API for q in (
    "tapegrad.train.Checkpoint.write", "tapegrad.train.Checkpoint.save",
    "tapegrad.train.Checkpoint.read", "tapegrad.train.Checkpoint.restore",
    "tapegrad.train.CheckpointManager", "tapegrad.train.latest_checkpoint",
    "tapegrad.train.get_checkpoint_state", "tapegrad.train.list_variables",
    "tapegrad.train.load_variable",
    "tapegrad.keras.models.load_model", "tapegrad.keras.models.save_model",
    "tapegrad.keras.saving.load_model", "tapegrad.keras.saving.save_model")}
# (methods() takes only an Enum's own methods, not those it inherits
# from the standard library's enum: EnumType(...) or Enum.__new__ called
# on junk raises whatever that code meets, which is Python's behaviour,
# not tapegrad's; tapegrad.UnconnectedGradients is an Enum, as TF's is)
# the Keras models' file methods, on every Model class (Sequential,
# Functional, users' subclasses), for the same reason
SKIP_METHODS = {"save_weights": _FILE_API, "load_weights": _FILE_API,
                "save": _FILE_API}

# Arguments that would make a call run for minutes rather than misbehave:
# capped when they are ints.  check_gradients' cost doubles per order.
LIMITS = {"tapegrad.test.check_gradients": {"order": 3}}

# Methods whose documented error is AttributeError (not a finding there):
# a bad name or a read-only attribute, and assigning to a plain Tensor.
ATTRIBUTE_METHODS = {"__getattribute__", "__setattr__", "__delattr__",
                     "__getattr__",
                     # a Tensor that is not a slice of a Variable has
                     # nothing to assign: TF's AttributeError
                     "assign", "assign_add", "assign_sub"}


def check_call_exception(e, qual, method=None):
    """The oracle for a call of public API `qual` (method name `method`):
    check_exception's, except that AttributeError is the documented answer
    of the attribute methods, and AssertionError (exactly) is how
    tapegrad.test's checkers report a failed check (a junk function's
    gradient rarely matches its finite differences)."""
    if isinstance(e, AttributeError) and method in ATTRIBUTE_METHODS:
        if not str(e).strip():
            raise Finding("AttributeError with an empty message") from e
        return
    if type(e) is AssertionError and qual.startswith("tapegrad.test."):
        return
    check_exception(e)


def namespaces():
    """tapegrad and its public submodules, at any depth (tapegrad.keras
    .layers too): the usual ones, any module tapegrad.__all__ lists, and
    the public modules those hold."""
    mods = [tf]
    todo = [getattr(tf, name, None)
            for name in sorted(set(getattr(tf, "__all__", ())) |
                               set(NAMESPACES))]
    while todo:
        m = todo.pop(0)
        if (isinstance(m, types.ModuleType)
                and m.__name__.startswith("tapegrad") and m not in mods
                and not any(part.startswith("_")
                            for part in m.__name__.split("."))):
            mods.append(m)
            todo.extend(getattr(m, name) for name in sorted(dir(m))
                        if not name.startswith("_"))
    return mods


def public_functions():
    """[(qualified name, callable)] for each public callable (classes
    included: calling one constructs) of every namespace, each object once
    (tapegrad.add is tapegrad.math.add), minus SKIP."""
    out, seen = [], set()
    for m in namespaces():
        for name in sorted(getattr(m, "__all__", None) or dir(m)):
            if name.startswith("_"):
                continue
            obj = getattr(m, name, None)
            if isinstance(obj, types.ModuleType) or not callable(obj):
                continue
            qual = "%s.%s" % (m.__name__, name)
            if id(obj) in seen or qual in SKIP:
                continue
            seen.add(id(obj))
            out.append((qual, obj))
    return out


def public_classes():
    """The classes the package defines, with the types of objects its API
    hands back without a public name (stop_recording's context manager)."""
    classes = [obj for _, obj in public_functions()
               if isinstance(obj, type) and obj.__module__.startswith(
                   "tapegrad")]
    for probe in (lambda: tf.GradientTape().stop_recording(),):
        cls = type(probe())
        if cls not in classes:
            classes.append(cls)
    return classes


def _instance_names(cls):
    """What an instance finds on its class: the names in the class's and
    its bases' dicts (dir() of an Enum lists its metaclass' methods too)."""
    return sorted({n for c in cls.__mro__ for n in vars(c)})


def _callable_attr(cls, name):
    try:
        return callable(getattr(cls, name))
    except AttributeError:
        return False


def methods(cls):
    """Names of every public and dunder method of `cls` (inherited ones
    too: object's __reduce_ex__ and __format__ reach the class's slots),
    minus SKIP."""
    return [n for n in _instance_names(cls)
            if (not n.startswith("_") or n.startswith("__"))
            and _callable_attr(cls, n)
            and "%s.%s.%s" % (cls.__module__, cls.__name__, n) not in SKIP
            and n not in SKIP_METHODS
            and not (issubclass(cls, enum.Enum) and not _own(cls, n))]


def _own(cls, name):
    """`name` is defined on `cls` by tapegrad's code (not by the standard
    library's enum, which fills an Enum's class dict too)"""
    f = vars(cls).get(name)
    f = getattr(f, "__func__", f)
    return getattr(f, "__module__", "").startswith("tapegrad")


def attributes(cls):
    """Names of the public data attributes (properties, getsets) of `cls`."""
    return [n for n in _instance_names(cls)
            if not n.startswith("_") and not _callable_attr(cls, n)]


def parameters(f):
    """[(name, kind)] from inspect.signature, else from __text_signature__
    (a fallback: signature() refuses a default that is not a Python
    literal or a str/number constant it can look up, and
    tests/test_signatures.py keeps every public callable readable); None
    when neither says.  kind is
    'pos' (positional-only), 'any', 'kw' (keyword-only), '*' or '**'."""
    try:
        sig = inspect.signature(f)
    except (ValueError, TypeError):
        sig = None
    if sig is not None:
        kinds = {inspect.Parameter.POSITIONAL_ONLY: "pos",
                 inspect.Parameter.POSITIONAL_OR_KEYWORD: "any",
                 inspect.Parameter.KEYWORD_ONLY: "kw",
                 inspect.Parameter.VAR_POSITIONAL: "*",
                 inspect.Parameter.VAR_KEYWORD: "**"}
        return [(p.name, kinds[p.kind]) for p in sig.parameters.values()
                if p.name != "self"]
    text = getattr(f, "__text_signature__", None)
    if not text:
        return None
    out, kind = [], "any"
    for part in text.strip("()").split(","):
        part = part.split("=")[0].strip()
        if part in ("", "$self", "$module", "$type", "$cls"):
            continue
        if part == "/":
            out = [(n, "pos") for n, _ in out]
        elif part == "*":
            kind = "kw"
        elif part.startswith("**"):
            out.append((part[2:], "**"))
        elif part.startswith("*"):
            out.append((part[1:], "*"))
            kind = "kw"
        else:
            out.append((part, kind))
    return out


def optional(f):
    """The names of `f`'s parameters that have a default (from the same
    sources as parameters())."""
    try:
        return {p.name for p in inspect.signature(f).parameters.values()
                if p.default is not inspect.Parameter.empty}
    except (ValueError, TypeError):
        text = getattr(f, "__text_signature__", None) or ""
        return {part.split("=")[0].strip()
                for part in text.strip("()").split(",") if "=" in part}


def keywords():
    """Every keyword name the API takes (from its signatures) and TF's."""
    names = set(TF_KEYWORDS)
    for _, f in public_functions():
        names.update(n for n, k in parameters(f) or () if k in ("any", "kw"))
    for cls in public_classes():
        for m in methods(cls):
            names.update(n for n, k in parameters(getattr(cls, m)) or ()
                         if k in ("any", "kw"))
    return sorted(names)


def safe_repr(x):
    """repr(x), or a stand-in when x's __repr__ lies by raising."""
    try:
        return repr(x)
    except Exception as e:  # noqa: BLE001 -- a lying __repr__
        return "<%s whose repr raised %s>" % (type(x).__name__,
                                              type(e).__name__)


def live_counts():
    return dict(C._live_counts())


def baseline():
    """Live tapegrad objects before an iteration (an earlier iteration's
    cyclic garbage collected first, so it cannot hide a leak)."""
    counts = live_counts()
    if any(counts.values()):
        gc.collect()
        counts = live_counts()
    return counts


def settle(before):
    """After an iteration every tapegrad object it made must be gone."""
    def grew():
        after = live_counts()
        return any(after[k] > before.get(k, 0) for k in after), after
    if grew()[0]:
        gc.collect()
        leaked, after = grew()
        if leaked:
            raise Finding("tapegrad objects leaked by this input: %r -> %r"
                          % (before, after))


def main(test_one_input, argv=None):
    """`python fuzz/fuzz_X.py [libFuzzer flags] corpus/` fuzzes under
    atheris; `python fuzz/fuzz_X.py FILE...` runs inputs once (libFuzzer
    does that too, and without atheris it is all this does)."""
    argv = sys.argv if argv is None else argv
    if atheris is None:
        files = [a for a in argv[1:] if not a.startswith("-")]
        if not files:
            sys.exit("atheris is not installed: python -m pip install atheris")
        for path in files:
            with open(path, "rb") as f:
                test_one_input(f.read())
            print("ok", path)
        return
    if os.environ.get("FUZZ_PY_COVERAGE") == "1":
        # run_fuzz.sh's fallback when the extension has no native counters:
        # let the Python code (harness, facade) guide the mutations instead
        atheris.instrument_all()
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
