"""Shared pieces of the tapegrad fuzz harnesses (fuzz_ops.py, fuzz_tape.py).

* `provider(data)`: atheris.FuzzedDataProvider when atheris is installed,
  else `Provider`, a pure-Python copy of the subset the harnesses use that
  decodes the same bytes to the same values (tests/test_fuzz_seeds.py checks
  the two agree), so the corpus replays in the plain test suite.
* `Gen`: bytes -> the harnesses' vocabulary (arrays of every dtype, rank
  and memory layout; Tensors, Variables, Python scalars, nested lists,
  junk; attribute values).
* `check_exception`: the oracle.  An ordinary Python exception with a
  message is an expected outcome; SystemError, an exception with an empty
  message, or any other type is a finding and is re-raised.
"""
import gc
import math
import os
import sys
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
# non-persistent tape raises.
ORDINARY = (TypeError, ValueError, IndexError, LookupError, RuntimeError,
            MemoryError, OverflowError)

MAX_ELEMENTS = 64   # per generated array: keeps an iteration ~1 ms


class Finding(AssertionError):
    """A result that breaks an invariant the harness checks (wrong shape,
    leaked objects): raised so the fuzzer records the input."""


def check_exception(e):
    """Swallow an expected exception; re-raise a finding."""
    if isinstance(e, SystemError) or not isinstance(e, ORDINARY):
        raise e
    if not str(e).strip():
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

DTYPES = [np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_]
TF_DTYPES = [tf.float16, tf.float32, tf.float64, tf.int32, tf.int64, tf.bool]
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
                return self.pick(junk_values())
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
        (maybe mutated), or anything else."""
        kind = self.int(0, 15)
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
