/* dlpack.c -- zero-copy exchange with other array libraries over DLPack
 * (structs in dlpack.h): Tensor/Variable.__dlpack__ and
 * __dlpack_device__, and tf.experimental.dlpack's to_dlpack / from_dlpack.
 *
 * Export.  One PyMem_RawMalloc block holds the managed tensor, its shape
 * and strides, and a strong reference to the Tensor whose bytes it
 * describes (manager_ctx points at the block).  The deleter drops that
 * reference under PyGILState_Ensure (a consumer may call it from any
 * thread, without the GIL) and frees the block; a capsule nobody consumed
 * calls the deleter from its own destructor.  A Tensor is immutable, so a
 * versioned export (the consumer asked for max_version >= (1, 0)) is
 * flagged DLPACK_FLAG_BITMASK_READ_ONLY.  The legacy struct cannot say
 * read-only: __dlpack__ then refuses unless copy=True, as NumPy does for
 * its read-only arrays; to_dlpack, TF's explicit legacy call, shares (see
 * README, Choices).  copy=True exports a fresh copy the consumer owns.
 *
 * Import.  The capsule is checked first (version, device, dtype, shape)
 * and only then renamed "used_..." (consumed), so a refused capsule stays
 * with its producer.  The managed tensor is then wrapped in a private
 * capsule, "tapegrad.dlpack", whose destructor calls the producer's
 * deleter: as a Tensor's `base` it keeps the producer's buffer alive for
 * as long as the Tensor (and any view of it) lives.  C-contiguous aligned
 * buffers are shared; others (negative or gapped strides, unaligned data)
 * are copied into a fresh tensor and released at once, since a Tensor is
 * always C-contiguous and aligned.
 */
#include "tapegrad.h"
#include "dlpack.h"

#define CAP_LEGACY "dltensor"
#define CAP_LEGACY_USED "used_dltensor"
#define CAP_VERSIONED "dltensor_versioned"
#define CAP_VERSIONED_USED "used_dltensor_versioned"
#define CAP_IMPORTED "tapegrad.dlpack"

/* DLPack's type of each tapegrad dtype, in tg_dtype order */
static const DLDataType dl_types[TG_NDTYPES] = {
    [TG_FLOAT16] = {kDLFloat, 16, 1}, [TG_FLOAT32] = {kDLFloat, 32, 1},
    [TG_FLOAT64] = {kDLFloat, 64, 1}, [TG_INT32] = {kDLInt, 32, 1},
    [TG_INT64] = {kDLInt, 64, 1},     [TG_BOOL] = {kDLBool, 8, 1},
    [TG_INT8] = {kDLInt, 8, 1},       [TG_INT16] = {kDLInt, 16, 1},
    [TG_UINT8] = {kDLUInt, 8, 1},     [TG_UINT16] = {kDLUInt, 16, 1},
    [TG_UINT32] = {kDLUInt, 32, 1},   [TG_UINT64] = {kDLUInt, 64, 1},
};

/* ---- export ------------------------------------------------------------- */

/* The block behind an exported capsule: manager_ctx points at it. */
typedef struct {
    PyObject *owner;           /* strong: the Tensor the bytes belong to */
    union {
        DLManagedTensorVersioned v1;
        DLManagedTensor v0;
    } m;
    int64_t dims[];            /* shape, then strides: 2 * ndim */
} export_block;

/* Drop an export's reference from whatever thread the consumer is on, and
 * free its block.  After interpreter shutdown there is nothing left to
 * release into. */
static void
export_free(void *ctx)
{
    export_block *e = ctx;
    if (Py_IsInitialized()) {
        PyGILState_STATE g = PyGILState_Ensure();
        Py_DECREF(e->owner);
        PyGILState_Release(g);
    }
    PyMem_RawFree(e);
}

static void
deleter_v1(DLManagedTensorVersioned *self)
{
    if (self != NULL) {
        export_free(self->manager_ctx);
    }
}

static void
deleter_v0(DLManagedTensor *self)
{
    if (self != NULL) {
        export_free(self->manager_ctx);
    }
}

/* A capsule dropped before any consumer renamed it still owns its block
 * (the capsule's context): free it here.  A consumed one belongs to the
 * consumer, who calls the deleter. */
static void
capsule_free(PyObject *cap)
{
    void *e = PyCapsule_GetContext(cap);
    if (e != NULL && (PyCapsule_IsValid(cap, CAP_VERSIONED) ||
                      PyCapsule_IsValid(cap, CAP_LEGACY))) {
        export_free(e);
    }
}

/* Describe `t` in `dl`: its bytes, kDLCPU 0, explicit C-contiguous
 * strides (in elements) in dims[ndim..2*ndim), byte_offset 0; an empty
 * tensor's data is NULL, as the spec asks. */
static void
describe(TensorObject *t, DLTensor *dl, int64_t *dims)
{
    int64_t step = 1;
    dl->data = t->size > 0 ? t->data : NULL;
    dl->device.device_type = kDLCPU;
    dl->device.device_id = 0;
    dl->ndim = t->ndim;
    dl->dtype = dl_types[t->dtype];
    dl->shape = dims;
    dl->strides = dims + t->ndim;
    dl->byte_offset = 0;
    for (int i = t->ndim - 1; i >= 0; i--) {
        dims[i] = t->shape[i];
        dims[t->ndim + i] = step;
        step *= t->shape[i] > 0 ? t->shape[i] : 1;
    }
}

/* A fresh tensor with t's value (copy=True: the consumer may write it). */
static TensorObject *
tensor_copy(TensorObject *t)
{
    TensorObject *c = tg_tensor_new(t->dtype, t->ndim, t->shape);
    if (c != NULL && t->size > 0) {
        memcpy(c->data, t->data,
               (size_t)t->size * (size_t)tg_dtype_size[t->dtype]);
    }
    return c;
}

/* The capsule for `t`: versioned ("dltensor_versioned", read-only unless
 * copied) or legacy ("dltensor").  With `copy` it describes a fresh copy
 * instead of t's own bytes. */
static PyObject *
export_capsule(TensorObject *t, int versioned, int copy)
{
    size_t dims = 2 * (size_t)t->ndim * sizeof(int64_t);
    PyObject *owner, *cap;
    export_block *e;
    DLTensor *dl;
    /* known ones may be a view of the buffer every sweep's broadcast
     * seed shares (tg_ones_view): a consumer that writes through an
     * export, as an unversioned capsule allows, must not reach it */
    copy = copy || t->all_ones;
    owner = copy ? (PyObject *)tensor_copy(t) : Py_NewRef(t);
    if (owner == NULL) {
        return NULL;
    }
    e = PyMem_RawCalloc(1, sizeof(export_block) + dims);
    if (e == NULL) {
        PyErr_NoMemory();
        Py_DECREF(owner);
        return NULL;
    }
    e->owner = owner;
    if (versioned) {
        e->m.v1.version.major = TG_DLPACK_MAJOR;
        e->m.v1.version.minor = TG_DLPACK_MINOR;
        e->m.v1.manager_ctx = e;
        e->m.v1.deleter = deleter_v1;
        e->m.v1.flags = copy ? DLPACK_FLAG_BITMASK_IS_COPIED
                             : DLPACK_FLAG_BITMASK_READ_ONLY;
        dl = &e->m.v1.dl_tensor;
    }
    else {
        e->m.v0.manager_ctx = e;
        e->m.v0.deleter = deleter_v0;
        dl = &e->m.v0.dl_tensor;
    }
    describe((TensorObject *)owner, dl, e->dims);
    cap = PyCapsule_New(&e->m, versioned ? CAP_VERSIONED : CAP_LEGACY,
                        capsule_free);
    if (cap == NULL || PyCapsule_SetContext(cap, e) < 0) {
        Py_XDECREF(cap);       /* no context yet: its destructor frees none */
        export_free(e);
        return NULL;
    }
    return cap;
}

/* The tensor a Tensor or Variable exports: a Variable's current value
 * (TF's variables read their value); new reference. */
static TensorObject *
exported_value(PyObject *self)
{
    if (Variable_Check(self)) {
        return (TensorObject *)Py_NewRef(((VariableObject *)self)->value);
    }
    return (TensorObject *)Py_NewRef(self);
}

/* A __dlpack__ argument that is None (left as is) or a tuple of two ints;
 * TypeError naming it otherwise. */
static int
int_pair(PyObject *obj, const char *name, const char *form, int *a, int *b)
{
    if (obj == Py_None ||
        (PyTuple_Check(obj) && PyArg_ParseTuple(obj, "ii", a, b))) {
        return 0;
    }
    PyErr_Format(PyExc_TypeError,
                 "__dlpack__: %s must be None or a tuple %s of ints, got %R",
                 name, form, obj);
    return -1;
}

/* __dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None),
 * the array API's signature */
PyObject *
tg_dlpack_method(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"stream", "max_version", "dl_device", "copy",
                             NULL};
    PyObject *stream = Py_None, *max_version = Py_None;
    PyObject *dl_device = Py_None, *copy_obj = Py_None, *cap;
    int major = 0, minor = 0, dev_type = kDLCPU, dev_id = 0, copy = -1;
    TensorObject *t;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OOOO:__dlpack__", kwlist,
                                     &stream, &max_version, &dl_device,
                                     &copy_obj)) {
        return NULL;
    }
    if (stream != Py_None) {
        PyErr_Format(PyExc_BufferError,
                     "__dlpack__: tapegrad tensors live on the CPU, which "
                     "has no streams: stream must be None, got %R", stream);
        return NULL;
    }
    if (int_pair(max_version, "max_version", "(major, minor)", &major,
                 &minor) < 0 ||
        int_pair(dl_device, "dl_device", "(device_type, device_id)",
                 &dev_type, &dev_id) < 0) {
        return NULL;
    }
    if (dev_type != kDLCPU || dev_id != 0) {
        PyErr_Format(PyExc_BufferError,
                     "__dlpack__: tapegrad tensors live on the CPU "
                     "(kDLCPU, 0) and cannot be exported to device (%d, %d)",
                     dev_type, dev_id);
        return NULL;
    }
    if (copy_obj != Py_None && (copy = PyObject_IsTrue(copy_obj)) < 0) {
        return NULL;
    }
    if (major < 1 && copy != 1) {
        PyErr_SetString(PyExc_BufferError,
                        "__dlpack__: a tapegrad tensor is read-only, which "
                        "only DLPack >= 1.0 can signal: ask for "
                        "max_version=(1, 0), or pass copy=True for a "
                        "writable copy");
        return NULL;
    }
    t = exported_value(self);
    cap = export_capsule(t, major >= 1, copy == 1);
    Py_DECREF(t);
    return cap;
}

/* __dlpack_device__(): (kDLCPU, 0) */
PyObject *
tg_dlpack_device_method(PyObject *Py_UNUSED(self),
                        PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("(ii)", kDLCPU, 0);
}

/* tf.experimental.dlpack.to_dlpack(tf_tensor): a legacy "dltensor"
 * capsule sharing the tensor's bytes, as TF's */
PyObject *
tg_to_dlpack(PyObject *Py_UNUSED(module), PyObject *obj)
{
    TensorObject *t;
    PyObject *cap;
    if (!Tensor_Check(obj) && !Variable_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "to_dlpack: expected a tapegrad Tensor or Variable, "
                     "got %.200s", Py_TYPE(obj)->tp_name);
        return NULL;
    }
    t = exported_value(obj);
    cap = export_capsule(t, 0, 0);
    Py_DECREF(t);
    return cap;
}

/* ---- import ------------------------------------------------------------- */

static const char *
device_name(int32_t type)
{
    switch (type) {
        case kDLCPU: return "kDLCPU";
        case kDLCUDA: return "kDLCUDA";
        case kDLCUDAHost: return "kDLCUDAHost";
        case kDLOpenCL: return "kDLOpenCL";
        case kDLVulkan: return "kDLVulkan";
        case kDLMetal: return "kDLMetal";
        case kDLVPI: return "kDLVPI";
        case kDLROCM: return "kDLROCM";
        case kDLROCMHost: return "kDLROCMHost";
        case kDLExtDev: return "kDLExtDev";
        case kDLCUDAManaged: return "kDLCUDAManaged";
        case kDLOneAPI: return "kDLOneAPI";
        case kDLWebGPU: return "kDLWebGPU";
        case kDLHexagon: return "kDLHexagon";
        case kDLMAIA: return "kDLMAIA";
        default: return "an unknown device type";
    }
}

static int
device_error(int32_t type, int32_t id)
{
    PyErr_Format(PyExc_BufferError,
                 "from_dlpack: the DLPack tensor is on device %s (%d, %d); "
                 "tapegrad tensors live on the CPU (kDLCPU, 0): copy it to "
                 "the host first", device_name(type), (int)type, (int)id);
    return -1;
}

/* The tapegrad dtype of a DLPack type, or -1 with TF's InvalidArgumentError
 * naming the type. */
static int
import_dtype(DLDataType t)
{
    static const char *const codes[] = {"int", "uint", "float",
                                        "opaque handle ", "bfloat",
                                        "complex", "bool"};
    for (int i = 0; i < TG_NDTYPES; i++) {
        if (t.lanes == 1 && dl_types[i].code == t.code &&
            dl_types[i].bits == t.bits) {
            return i;
        }
    }
    TG_INVALID_ARGUMENT(
        "from_dlpack: DLPack dtype %s%d (code %d, bits %d, lanes %d) is "
        "not supported: tapegrad has float16/32/64, int8/16/32/64, "
        "uint8/16/32/64 and bool",
        t.code < sizeof(codes) / sizeof(codes[0]) ? codes[t.code]
                                                  : "code-",
        t.code < sizeof(codes) / sizeof(codes[0]) ? (int)t.bits
                                                  : (int)t.code,
        (int)t.code, (int)t.bits, (int)t.lanes);
    return -1;
}

/* What an imported DLTensor becomes: checked before the capsule is
 * consumed, so nothing is taken on failure. */
typedef struct {
    int dtype;
    int ndim;
    Py_ssize_t shape[TG_MAXDIMS];
    Py_ssize_t strides[TG_MAXDIMS];  /* bytes */
    Py_ssize_t size;
    char *data;                      /* data + byte_offset */
    int share;                       /* C-contiguous and aligned */
} import_plan;

static int
plan_import(const DLTensor *dl, import_plan *p)
{
    Py_ssize_t isz, want;
    if (dl->device.device_type != kDLCPU) {
        return device_error(dl->device.device_type, dl->device.device_id);
    }
    if ((p->dtype = import_dtype(dl->dtype)) < 0) {
        return -1;
    }
    if (dl->ndim < 0 || dl->ndim > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "from_dlpack: tapegrad supports at most %d dimensions, "
                     "got %d", TG_MAXDIMS, (int)dl->ndim);
        return -1;
    }
    if (dl->ndim > 0 && dl->shape == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "from_dlpack: the DLPack tensor has no shape");
        return -1;
    }
    p->ndim = (int)dl->ndim;
    isz = tg_dtype_size[p->dtype];
    for (int i = 0; i < p->ndim; i++) {
        int64_t s = dl->strides != NULL ? dl->strides[i] : 0;
        if (s > PY_SSIZE_T_MAX / 8 || s < -(PY_SSIZE_T_MAX / 8)) {
            PyErr_Format(PyExc_ValueError,
                         "from_dlpack: stride %lld of dimension %d is out of "
                         "range", (long long)s, i);
            return -1;
        }
        p->shape[i] = (Py_ssize_t)dl->shape[i];
        p->strides[i] = (Py_ssize_t)s * isz;
    }
    if (tg_shape_size(p->ndim, p->shape, &p->size) < 0) {
        return -1;
    }
    p->data = (char *)dl->data + dl->byte_offset;
    /* NULL strides: C-contiguous.  Else C-contiguous where every dimension
     * longer than 1 steps by the product of the later ones (what NumPy
     * calls contiguous too); an empty tensor has nothing to lay out. */
    p->share = p->size == 0 || (uintptr_t)p->data % (uintptr_t)isz == 0;
    want = isz;
    for (int i = p->ndim - 1; i >= 0; i--) {
        if (dl->strides == NULL) {
            p->strides[i] = want;
        }
        else if (p->shape[i] > 1 && p->strides[i] != want && p->size > 0) {
            p->share = 0;
        }
        want *= p->shape[i] > 0 ? p->shape[i] : 1;
    }
    if (p->size > 0 && p->data == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "from_dlpack: the DLPack tensor has elements but no "
                        "data pointer");
        return -1;
    }
    return 0;
}

/* Hand an imported managed tensor back to its producer. */
static void
give_back(void *m, int versioned)
{
    if (versioned) {
        DLManagedTensorVersioned *v = m;
        if (v->deleter != NULL) {
            v->deleter(v);
        }
    }
    else {
        DLManagedTensor *l = m;
        if (l->deleter != NULL) {
            l->deleter(l);
        }
    }
}

/* The private capsule that owns an imported managed tensor: its
 * destructor gives it back (context: 1 for versioned). */
static void
imported_free(PyObject *cap)
{
    void *m = PyCapsule_GetPointer(cap, CAP_IMPORTED);
    if (m == NULL) {
        PyErr_WriteUnraisable(cap);
        return;
    }
    give_back(m, PyCapsule_GetContext(cap) != NULL);
}

/* The tensor for a planned import whose managed tensor `owner` now holds:
 * a view of the producer's bytes, or a copy (then owner goes when the
 * copy's source array does). */
static PyObject *
import_tensor(const import_plan *p, PyObject *owner)
{
    PyArray_Descr *descr;
    PyObject *arr;
    TensorObject *t;
    if (p->share) {
        return (PyObject *)tg_tensor_external(p->dtype, p->ndim, p->shape,
                                              p->data, owner);
    }
    descr = PyArray_DescrFromType(tg_dtype_npy[p->dtype]);
    if (descr == NULL) {
        return NULL;
    }
    /* a read-only strided view of the producer's bytes (steals descr),
     * holding the owner, that tg_tensor_from_array copies */
    arr = PyArray_NewFromDescr(&PyArray_Type, descr, p->ndim,
                               (npy_intp *)p->shape,
                               (npy_intp *)p->strides, p->data, 0, NULL);
    if (arr == NULL) {
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)arr, Py_NewRef(owner)) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    t = tg_tensor_from_array((PyArrayObject *)arr, p->dtype);
    Py_DECREF(arr);
    return (PyObject *)t;
}

/* Import a "dltensor" or "dltensor_versioned" capsule: check, consume,
 * wrap. */
static PyObject *
import_capsule(PyObject *cap)
{
    const char *name = PyCapsule_GetName(cap);
    int versioned;
    void *m;
    const DLTensor *dl;
    import_plan plan;
    PyObject *owner, *t;
    if (name == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (name != NULL && strcmp(name, CAP_VERSIONED) == 0) {
        DLManagedTensorVersioned *v = PyCapsule_GetPointer(cap, name);
        if (v == NULL) {
            return NULL;
        }
        if (v->version.major != TG_DLPACK_MAJOR) {
            PyErr_Format(PyExc_BufferError,
                         "from_dlpack: DLPack version %u.%u is not "
                         "supported (tapegrad reads 1.x)",
                         (unsigned)v->version.major,
                         (unsigned)v->version.minor);
            return NULL;
        }
        versioned = 1;
        m = v;
        dl = &v->dl_tensor;
    }
    else if (name != NULL && strcmp(name, CAP_LEGACY) == 0) {
        DLManagedTensor *l = PyCapsule_GetPointer(cap, name);
        if (l == NULL) {
            return NULL;
        }
        versioned = 0;
        m = l;
        dl = &l->dl_tensor;
    }
    else {
        TG_INVALID_ARGUMENT(
            "from_dlpack: a DLPack capsule is named \"%s\" or \"%s\", got "
            "\"%s\"; a DLPack capsule can be consumed only once",
            CAP_LEGACY, CAP_VERSIONED, name != NULL ? name : "(null)");
        return NULL;
    }
    if (plan_import(dl, &plan) < 0) {
        return NULL;
    }
    /* consume: from here on the managed tensor is ours to delete */
    if (PyCapsule_SetName(cap, versioned ? CAP_VERSIONED_USED
                                         : CAP_LEGACY_USED) < 0) {
        return NULL;
    }
    owner = PyCapsule_New(m, CAP_IMPORTED, imported_free);
    if (owner == NULL ||
        PyCapsule_SetContext(owner, versioned ? (void *)1 : NULL) < 0) {
        if (owner == NULL) {
            give_back(m, versioned); /* nobody holds it now */
        }
        Py_XDECREF(owner);           /* its destructor gives it back */
        return NULL;
    }
    t = import_tensor(&plan, owner);
    Py_DECREF(owner);
    return t;
}

/* The (device_type, device_id) an object's __dlpack_device__ reports, so
 * a GPU array is refused before it exports anything; 0 if it has none. */
static int
check_device(PyObject *obj)
{
    PyObject *dev = PyObject_CallMethod(obj, "__dlpack_device__", NULL);
    int type, id, rc;
    if (dev == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    rc = PyTuple_Check(dev) && PyArg_ParseTuple(dev, "ii", &type, &id);
    Py_DECREF(dev);
    if (!rc) {
        PyErr_Format(PyExc_TypeError,
                     "from_dlpack: __dlpack_device__() of %.200s must return "
                     "a tuple (device_type, device_id)",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    return type == kDLCPU ? 0 : device_error(type, id);
}

/* An object's capsule: __dlpack__(max_version=(1, 0)), or __dlpack__()
 * from producers that predate the keyword (a TypeError). */
static PyObject *
call_dlpack(PyObject *obj)
{
    PyObject *meth, *kw = NULL, *empty = NULL, *cap = NULL;
    meth = PyObject_GetAttrString(obj, "__dlpack__");
    if (meth == NULL) {
        return NULL;
    }
    kw = Py_BuildValue("{s(ii)}", "max_version", TG_DLPACK_MAJOR,
                       TG_DLPACK_MINOR);
    empty = PyTuple_New(0);
    if (kw == NULL || empty == NULL) {
        goto done;
    }
    cap = PyObject_Call(meth, empty, kw);
    if (cap == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        cap = PyObject_CallNoArgs(meth);
    }
done:
    Py_XDECREF(empty);
    Py_XDECREF(kw);
    Py_DECREF(meth);
    return cap;
}

/* tf.experimental.dlpack.from_dlpack(dlcapsule): a Tensor over a DLPack
 * capsule's bytes, or over any object with __dlpack__ (recent TF). */
PyObject *
tg_from_dlpack(PyObject *Py_UNUSED(module), PyObject *obj)
{
    PyObject *cap, *t, *meth;
    if (PyCapsule_CheckExact(obj)) {
        return import_capsule(obj);
    }
    /* not PyObject_HasAttrString: it would turn a MemoryError (or any
     * error of the lookup) into "no __dlpack__" */
    meth = PyObject_GetAttrString(obj, "__dlpack__");
    if (meth == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "from_dlpack: expected a DLPack capsule or an "
                         "object with __dlpack__, got %.200s",
                         Py_TYPE(obj)->tp_name);
        }
        return NULL;
    }
    Py_DECREF(meth);
    if (check_device(obj) < 0) {
        return NULL;
    }
    cap = call_dlpack(obj);
    if (cap == NULL) {
        return NULL;
    }
    if (!PyCapsule_CheckExact(cap)) {
        PyErr_Format(PyExc_TypeError,
                     "from_dlpack: %.200s.__dlpack__() returned %.200s, not "
                     "a DLPack capsule", Py_TYPE(obj)->tp_name,
                     Py_TYPE(cap)->tp_name);
        Py_DECREF(cap);
        return NULL;
    }
    t = import_capsule(cap);
    Py_DECREF(cap);
    return t;
}
