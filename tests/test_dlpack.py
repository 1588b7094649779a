"""DLPack exchange (src/dlpack.c): Tensor/Variable.__dlpack__ and
__dlpack_device__, tf.experimental.dlpack.to_dlpack / from_dlpack.

Memory sharing is checked by data pointers (NumPy's, torch's, and the
DLPack structs' own, read through ctypes), lifetimes by dropping one side
and reading the other after gc, and capsule bookkeeping by refcounts."""
import ctypes
import gc
import sys
import threading
import weakref

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _tapegrad as C
from tapegrad.experimental import dlpack

torch = pytest.importorskip("torch")

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64",
          "uint8", "uint16", "uint32", "uint64", "bool"]
SHAPES = [(), (0,), (2, 0, 3), (2, 3, 4)]
READ_ONLY, IS_COPIED = 1, 2


# ---- the DLPack structs, from the spec, to read capsules --------------------
class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice),
                ("ndim", ctypes.c_int32), ("dtype", DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


# CFUNCTYPE: ctypes releases the GIL around the call, as a consumer's
# thread without the GIL would call it
DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", DELETER)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32 * 2),
                ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER),
                ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]


_api = ctypes.pythonapi
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_IsValid.restype = ctypes.c_int
_api.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_SetName.restype = ctypes.c_int
_api.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_char_p]

USED_VERSIONED = ctypes.c_char_p(b"used_dltensor_versioned")  # kept alive


def managed(cap):
    """The managed struct behind an unconsumed capsule."""
    if _api.PyCapsule_IsValid(cap, b"dltensor_versioned"):
        p = _api.PyCapsule_GetPointer(cap, b"dltensor_versioned")
        return DLManagedTensorVersioned.from_address(p)
    assert _api.PyCapsule_IsValid(cap, b"dltensor")
    return DLManagedTensor.from_address(_api.PyCapsule_GetPointer(
        cap, b"dltensor"))


def ptr(t):
    """Address of a Tensor's (or array's) first byte."""
    return np.asarray(t).__array_interface__["data"][0]


def make(dtype, shape):
    n = int(np.prod(shape))
    values = (np.arange(n) % 7 + 1).astype(dtype).reshape(shape)
    return tf.constant(values), values


# ---- export to NumPy -----------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_from_dlpack_shares_every_dtype(dtype, shape):
    t, values = make(dtype, shape)
    a = np.from_dlpack(t)
    assert a.dtype == np.dtype(dtype) and a.shape == shape
    np.testing.assert_array_equal(a, values)
    if a.size:
        # NumPy asks for max_version (1, 0): the read-only flag reaches it
        # (an empty tensor's data pointer is NULL, as the spec says, and
        # NumPy makes its own empty array for it: nothing to write there)
        assert not a.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            a[...] = 0
        assert a.ctypes.data == ptr(t)
        assert np.shares_memory(a, np.asarray(t))


@pytest.mark.parametrize("dtype", DTYPES)
def test_versioned_capsule_describes_the_tensor(dtype):
    t, _ = make(dtype, (2, 3, 4))
    cap = t.__dlpack__(max_version=(1, 0))
    assert _api.PyCapsule_IsValid(cap, b"dltensor_versioned")
    m = managed(cap)
    assert tuple(m.version) == (1, 0)
    assert m.flags == READ_ONLY
    dl = m.dl_tensor
    assert dl.data == ptr(t) and dl.byte_offset == 0
    assert (dl.device.device_type, dl.device.device_id) == (1, 0)
    code = {"f": 2, "i": 0, "u": 1, "b": 6}[np.dtype(dtype).kind]
    assert (dl.dtype.code, dl.dtype.bits, dl.dtype.lanes) == (
        code, 8 * np.dtype(dtype).itemsize, 1)
    assert dl.ndim == 3
    assert [dl.shape[i] for i in range(3)] == [2, 3, 4]
    assert [dl.strides[i] for i in range(3)] == [12, 4, 1]   # elements


def test_copy_true_exports_a_writable_copy():
    t = tf.constant([1.0, 2.0, 3.0])
    cap = t.__dlpack__(max_version=(1, 0), copy=True)
    m = managed(cap)
    assert m.flags == IS_COPIED and m.dl_tensor.data != ptr(t)
    del cap
    a = np.from_dlpack(t, copy=True)
    assert a.flags.writeable
    a[0] = 9.0
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    # copy=False: nothing needs copying on the CPU
    b = np.from_dlpack(t, copy=False)
    assert b.ctypes.data == ptr(t)


def test_legacy_request_follows_numpy_read_only_rule():
    # DLPack < 1.0 cannot mark a buffer read-only: NumPy refuses to export
    # its read-only arrays then, unless asked for a copy; so does tapegrad
    ro = np.arange(3.0)
    ro.flags.writeable = False
    t = tf.constant([1.0, 2.0, 3.0])
    for kw in ({}, {"max_version": (0, 8)}, {"copy": False}):
        with pytest.raises(BufferError):
            ro.__dlpack__(**kw)
        with pytest.raises(BufferError, match=r"max_version=\(1, 0\)"):
            t.__dlpack__(**kw)
    cap = t.__dlpack__(copy=True)
    assert _api.PyCapsule_IsValid(cap, b"dltensor")
    assert managed(cap).dl_tensor.data != ptr(t)
    copied = torch.utils.dlpack.from_dlpack(cap)
    copied[0] = 7.0
    assert t.numpy().tolist() == [1.0, 2.0, 3.0]


def test_protocol_arguments():
    t = tf.constant([1.0, 2.0])
    assert t.__dlpack_device__() == (1, 0)
    assert tf.Variable(1.0).__dlpack_device__() == (1, 0)
    cap = t.__dlpack__(max_version=(1, 0), dl_device=(1, 0), stream=None)
    assert _api.PyCapsule_IsValid(cap, b"dltensor_versioned")
    # a newer minor or major version than tapegrad's still gets 1.0
    assert tuple(managed(t.__dlpack__(max_version=(2, 3))).version) == (1, 0)
    with pytest.raises(BufferError, match="stream must be None"):
        t.__dlpack__(stream=1, max_version=(1, 0))
    with pytest.raises(BufferError, match=r"device \(2, 0\)"):
        t.__dlpack__(max_version=(1, 0), dl_device=(2, 0))
    with pytest.raises(BufferError, match=r"device \(2, 0\)"):
        t.__dlpack__(max_version=(1, 0), dl_device=(2, 0), copy=False)
    with pytest.raises(TypeError, match="max_version"):
        t.__dlpack__(max_version="1.0")
    with pytest.raises(TypeError, match="dl_device"):
        t.__dlpack__(max_version=(1, 0), dl_device=1)
    with pytest.raises(TypeError):
        t.__dlpack__(None)          # keyword-only, as the array API's


# ---- lifetimes -------------------------------------------------------------------
def test_exported_buffer_outlives_the_tensor():
    # big enough for a recycled data block: a freed block would be reused
    # by the next tensor of the same size and overwrite what we read
    x = tf.constant(np.arange(200_000, dtype=np.float32))
    t = x * 2.0
    a = np.from_dlpack(t)
    tt = torch.from_dlpack(t)
    ref = weakref.ref(t)
    del t
    gc.collect()
    assert ref() is not None                  # held by the two exports
    others = [x * 3.0 for _ in range(4)]      # would reuse a freed block
    expected = np.arange(200_000, dtype=np.float32) * 2
    np.testing.assert_array_equal(a, expected)
    np.testing.assert_array_equal(tt.numpy(), expected)
    del a
    gc.collect()
    assert ref() is not None
    del tt, others
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("how", ["v1", "v1-copy", "legacy-copy", "to_dlpack"])
def test_unconsumed_capsule_releases_the_tensor(how):
    t = tf.constant(np.arange(12.0).reshape(3, 4))
    gc.collect()
    start = sys.getrefcount(t)
    live = C._live_counts()
    if how == "v1":
        cap = t.__dlpack__(max_version=(1, 0))
    elif how == "v1-copy":
        cap = t.__dlpack__(max_version=(1, 0), copy=True)
    elif how == "legacy-copy":
        cap = t.__dlpack__(copy=True)
    else:
        cap = dlpack.to_dlpack(t)
    shared = how in ("v1", "to_dlpack")
    assert sys.getrefcount(t) == start + shared
    del cap
    gc.collect()
    assert sys.getrefcount(t) == start
    assert C._live_counts() == live


def test_deleter_releases_without_the_gil_from_another_thread():
    t = tf.constant([1.0, 2.0, 3.0])
    start = sys.getrefcount(t)
    cap = t.__dlpack__(max_version=(1, 0))
    m = managed(cap)
    # consume it as a consumer would (the capsule then frees nothing)...
    assert _api.PyCapsule_SetName(cap, USED_VERSIONED) == 0
    assert sys.getrefcount(t) == start + 1
    # ...and call the deleter from a thread, through a ctypes call that
    # drops the GIL: the deleter must take it back itself
    th = threading.Thread(target=m.deleter, args=(ctypes.addressof(m),))
    th.start()
    th.join()
    assert sys.getrefcount(t) == start
    del cap
    assert sys.getrefcount(t) == start


def test_to_dlpack_capsule_is_consumed_once():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    cap = dlpack.to_dlpack(t)
    assert "dltensor" in repr(cap) and _api.PyCapsule_IsValid(cap, b"dltensor")
    assert managed(cap).dl_tensor.data == ptr(t)
    u = dlpack.from_dlpack(cap)
    assert _api.PyCapsule_IsValid(cap, b"used_dltensor")
    assert ptr(u) == ptr(t)
    np.testing.assert_array_equal(u.numpy(), t.numpy())
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="consumed only once"):
        dlpack.from_dlpack(cap)
    with pytest.raises(Exception):
        torch.utils.dlpack.from_dlpack(cap)
    # another library consumes it the same way, sharing the bytes
    tt = torch.utils.dlpack.from_dlpack(dlpack.to_dlpack(t))
    assert tt.data_ptr() == ptr(t)
    with pytest.raises(TypeError, match="Tensor or Variable"):
        dlpack.to_dlpack(np.ones(2))


# ---- export to torch -----------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_from_dlpack_shares(dtype):
    t, values = make(dtype, (2, 3, 4))
    tt = torch.from_dlpack(t)
    assert tt.data_ptr() == ptr(t)
    assert tuple(tt.shape) == (2, 3, 4)
    assert tt.tolist() == values.tolist()
    assert str(tt.dtype) == "torch." + dtype


def test_variables_export_their_value():
    v = tf.Variable(np.arange(4.0))
    a = np.from_dlpack(v)
    tt = torch.from_dlpack(v)
    np.testing.assert_array_equal(a, [0.0, 1.0, 2.0, 3.0])
    assert tt.data_ptr() == a.ctypes.data
    # writes go to a fresh buffer while something still sees the old one
    v.assign_add(np.ones(4))
    v[1:].assign([9.0, 9.0, 9.0])
    np.testing.assert_array_equal(a, [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 9.0, 9.0, 9.0])
    assert tt.tolist() == [0.0, 1.0, 2.0, 3.0]
    w = tf.Variable(np.zeros(3, np.float32))
    before = np.from_dlpack(w)
    tf.keras.optimizers.SGD(1.0).apply_gradients(
        [(tf.constant([1.0, 2.0, 3.0]), w)])
    np.testing.assert_array_equal(before, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(w.numpy(), [-1.0, -2.0, -3.0])


# ---- import ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_from_dlpack_torch_shares_and_sees_mutation(dtype):
    x = torch.from_numpy((np.arange(24) % 5).astype(dtype).reshape(2, 3, 4))
    y = dlpack.from_dlpack(x)
    assert isinstance(y, tf.Tensor) and y.dtype == getattr(tf, dtype)
    assert y.shape == (2, 3, 4)
    assert ptr(y) == x.data_ptr()
    assert y.numpy().tolist() == x.tolist()
    # shared, not copied (README, Choices): the producer's writes show
    x[0, 0, 0] = 1
    assert y.numpy()[0, 0, 0] == 1


def test_from_dlpack_keeps_the_producer_alive():
    x = torch.arange(100_000, dtype=torch.float64)
    y = dlpack.from_dlpack(x)
    address = x.data_ptr()
    del x
    gc.collect()
    junk = [torch.full((100_000,), -1.0, dtype=torch.float64)
            for _ in range(4)]                  # would reuse freed memory
    assert ptr(y) == address
    np.testing.assert_array_equal(y.numpy(), np.arange(100_000.0))
    del junk

    n = np.arange(10.0)
    y = dlpack.from_dlpack(n)
    assert np.shares_memory(y.numpy(), n)
    # like every Tensor, left out of the cyclic GC (README, Choices)
    assert not gc.is_tracked(y)
    n[3] = -1.0                                 # shared: visible
    assert y.numpy()[3] == -1.0
    ref = weakref.ref(n)
    del n
    gc.collect()
    assert ref() is not None                    # y's capsule holds it
    np.testing.assert_array_equal(y.numpy()[4:], np.arange(4.0, 10.0))
    del y
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_from_dlpack_numpy_shapes(shape):
    n = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    y = dlpack.from_dlpack(n)
    assert y.shape == shape and y.dtype == tf.float32
    np.testing.assert_array_equal(y.numpy(), n)
    if n.size:
        assert ptr(y) == n.ctypes.data
    # and back: NumPy sees the same bytes again
    back = np.from_dlpack(y)
    assert back.shape == shape
    if n.size:
        assert back.ctypes.data == n.ctypes.data


def test_from_dlpack_copies_what_a_tensor_cannot_view():
    # tapegrad tensors are C-contiguous: strided producers are copied
    base = np.arange(24.0).reshape(4, 6)
    for view in (base[::-1], base[:, ::2], base.T,
                 np.broadcast_to(np.arange(3.0), (4, 3))):
        y = dlpack.from_dlpack(view)
        np.testing.assert_array_equal(y.numpy(), view)
        assert not np.shares_memory(y.numpy(), base)
    x = torch.arange(12.0).reshape(3, 4).T
    y = dlpack.from_dlpack(x)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    # a dimension of length 1 may have any stride: still shared
    z = torch.arange(4.0).reshape(4, 1)[:, :1]
    assert ptr(dlpack.from_dlpack(z)) == z.data_ptr()


def test_from_dlpack_tapegrad_objects():
    t = tf.constant([[1, 2], [3, 4]])
    u = dlpack.from_dlpack(t)
    assert ptr(u) == ptr(t) and u.dtype == tf.int32
    v = tf.Variable([1.0, 2.0])
    w = dlpack.from_dlpack(v)
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


class FakeDevice:
    """A producer on a CUDA device."""

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, **kw):
        raise AssertionError("must not be asked to export")


def test_from_dlpack_errors():
    with pytest.raises(BufferError, match=r"kDLCUDA \(2, 0\)"):
        dlpack.from_dlpack(FakeDevice())
    with pytest.raises(tf.errors.InvalidArgumentError, match="complex128"):
        dlpack.from_dlpack(np.ones(3, np.complex128))
    with pytest.raises(ValueError, match="bfloat16"):
        dlpack.from_dlpack(torch.ones(3, dtype=torch.bfloat16))
    with pytest.raises(TypeError, match="__dlpack__"):
        dlpack.from_dlpack([1.0, 2.0])
    # a refused capsule is not consumed: its producer still frees it
    n = np.ones(3, np.complex64)
    ref = weakref.ref(n)
    cap = n.__dlpack__()
    del n
    with pytest.raises(ValueError, match="complex64"):
        dlpack.from_dlpack(cap)
    assert _api.PyCapsule_IsValid(cap, b"dltensor")
    assert ref() is not None
    del cap
    gc.collect()
    assert ref() is None


def test_from_dlpack_old_producer_without_max_version():
    class Old:
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, stream=None):     # DLPack < 1.0 signature
            return self.a.__dlpack__(stream=stream)

    n = np.arange(5.0)
    y = dlpack.from_dlpack(Old(n))
    assert ptr(y) == n.ctypes.data
    np.testing.assert_array_equal(y.numpy(), n)


# ---- gradients ---------------------------------------------------------------------
def test_imported_tensors_differentiate():
    x = dlpack.from_dlpack(torch.tensor([1.0, 2.0, 3.0]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(x * x * x)
    g = tape.gradient(y, x)
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0, 27.0])
    # and the gradient goes back to torch without a copy
    gt = torch.from_dlpack(g)
    assert gt.data_ptr() == ptr(g)
    assert gt.tolist() == [3.0, 12.0, 27.0]
    v = tf.Variable(dlpack.from_dlpack(np.array([2.0, -1.0], np.float32)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(v ** 2)
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(), [4.0, -2.0])


def test_from_dlpack_passes_on_a_failing_attribute_lookup():
    # found by the allocation-failure tool: the lookup of __dlpack__ may
    # fail for reasons other than its absence (a MemoryError there was
    # reported as "expected a DLPack capsule"); only AttributeError means
    # "not a producer"
    class Broken:
        @property
        def __dlpack__(self):
            raise RuntimeError("lookup failed")

    with pytest.raises(RuntimeError, match="lookup failed"):
        tf.experimental.dlpack.from_dlpack(Broken())
    with pytest.raises(TypeError, match="expected a DLPack capsule or an "
                                        "object with __dlpack__, got int"):
        tf.experimental.dlpack.from_dlpack(3)
