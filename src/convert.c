/* convert.c -- dtypes and TensorFlow's conversion rules.
 *
 * Owns the DType type (tapegrad.float32 ...), parsing of `dtype=`
 * arguments, and tg_convert(): Python scalars, nested lists, NumPy arrays
 * and scalars, Variables and Tensors to a Tensor.  The rules are TF's
 * (reference §3.3): float -> float32, int -> int32 (int64 when it does not
 * fit), bool -> bool, mixed int/float lists -> float32, NumPy inputs keep
 * their dtype, and a requested dtype converts values that fit it (a Python
 * float never silently becomes an integer).
 */
#include "tapegrad.h"
#include "structmember.h"
#include <math.h>

const char *const tg_dtype_names[TG_NDTYPES] = {
    "float16", "float32", "float64", "int32", "int64", "bool",
    "int8", "int16", "uint8", "uint16", "uint32", "uint64"};
/* TF's kernel-level names, used in InvalidArgumentError messages */
const char *const tg_dtype_cnames[TG_NDTYPES] = {
    "half", "float", "double", "int32", "int64", "bool",
    "int8", "int16", "uint8", "uint16", "uint32", "uint64"};
const int tg_dtype_npy[TG_NDTYPES] = {
    NPY_HALF, NPY_FLOAT, NPY_DOUBLE, NPY_INT32, NPY_INT64, NPY_BOOL,
    NPY_INT8, NPY_INT16, NPY_UINT8, NPY_UINT16, NPY_UINT32, NPY_UINT64};
const int tg_dtype_size[TG_NDTYPES] = {2, 4, 8, 4, 8, 1, 1, 2, 1, 2, 4, 8};

int
tg_dtype_from_npy(int t)
{
    for (int i = 0; i < TG_NDTYPES; i++) {
        if (PyArray_EquivTypenums(t, tg_dtype_npy[i])) {
            return i;
        }
    }
    return -1;
}

PyObject *
tg_dtype_obj(int dtype)
{
    return tg_st->dtypes[dtype];
}

/* ---- the DType type ------------------------------------------------------------ */

static void
dtype_dealloc(DTypeObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_CLEAR(self->name);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
dtype_repr(DTypeObject *self)
{
    return PyUnicode_FromFormat("tapegrad.%U", self->name);
}

static PyObject *
dtype_str(DTypeObject *self)
{
    return PyUnicode_FromFormat("<dtype: '%U'>", self->name);
}

static Py_hash_t
dtype_hash(DTypeObject *self)
{
    return PyObject_Hash(self->name);
}

static PyObject *
dtype_richcompare(PyObject *a, PyObject *b, int op)
{
    int da, db;
    if (op != Py_EQ && op != Py_NE) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    da = ((DTypeObject *)a)->code;
    if (tg_dtype_arg(b, &db) < 0 || db < 0) {
        PyErr_Clear();
        return PyBool_FromLong(op == Py_NE);
    }
    return PyBool_FromLong((da == db) == (op == Py_EQ));
}

/* TF's DType.min / .max: NumPy's finfo / iinfo limits (a float dtype's
 * as a NumPy scalar, an integer's as an int); bool has none. */
static PyObject *
dtype_limit(int c, int want_max)
{
    PyObject *np = NULL, *info = NULL, *res = NULL;
    if (c == TG_BOOL) {
        PyErr_Format(PyExc_TypeError, "Cannot find %s value of <dtype: "
                     "'bool'>.", want_max ? "maximum" : "minimum");
        return NULL;
    }
    np = PyImport_ImportModule("numpy");
    if (np != NULL) {
        PyObject *type = (PyObject *)PyArray_TypeObjectFromType(
            tg_dtype_npy[c]);
        if (type != NULL) {
            info = PyObject_CallMethod(np, tg_is_float(c) ? "finfo"
                                                          : "iinfo",
                                       "O", type);
            Py_DECREF(type);
        }
    }
    if (info != NULL) {
        res = PyObject_GetAttrString(info, want_max ? "max" : "min");
    }
    Py_XDECREF(info);
    Py_XDECREF(np);
    return res;
}

static PyObject *
dtype_get(DTypeObject *self, void *which)
{
    int c = self->code;
    switch ((int)(intptr_t)which) {
        case 0: return Py_NewRef(self->name);
        case 1: return (PyObject *)PyArray_TypeObjectFromType(tg_dtype_npy[c]);
        case 2: return PyBool_FromLong(tg_is_float(c));
        case 3: return PyBool_FromLong(tg_is_int(c));
        case 4: return PyBool_FromLong(c == TG_BOOL);
        case 5: return PyLong_FromLong(tg_dtype_size[c]);
        case 7: return PyBool_FromLong(tg_is_unsigned(c));
        case 8: return dtype_limit(c, 0);
        case 9: return dtype_limit(c, 1);
        default: return PyBool_FromLong(c != TG_BOOL);
    }
}

static PyObject *
dtype_reduce(DTypeObject *self, PyObject *Py_UNUSED(ignored))
{
    /* pickle as the module attribute of the same name */
    return Py_NewRef(self->name);
}

static PyMethodDef dtype_methods[] = {
    {"__reduce__", (PyCFunction)dtype_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef dtype_getset[] = {
    {"name", (getter)dtype_get, NULL, "'float32' ...", (void *)0},
    {"as_numpy_dtype", (getter)dtype_get, NULL, NULL, (void *)1},
    {"is_floating", (getter)dtype_get, NULL, NULL, (void *)2},
    {"is_integer", (getter)dtype_get, NULL, NULL, (void *)3},
    {"is_unsigned", (getter)dtype_get, NULL, NULL, (void *)7},
    {"min", (getter)dtype_get, NULL, "the lowest value", (void *)8},
    {"max", (getter)dtype_get, NULL, "the highest value", (void *)9},
    {"is_bool", (getter)dtype_get, NULL, NULL, (void *)4},
    {"size", (getter)dtype_get, NULL, NULL, (void *)5},
    {"is_numeric", (getter)dtype_get, NULL, NULL, (void *)6},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot dtype_slots[] = {
    {Py_tp_dealloc, dtype_dealloc},
    {Py_tp_repr, dtype_repr},
    {Py_tp_str, dtype_str},
    {Py_tp_hash, dtype_hash},
    {Py_tp_richcompare, dtype_richcompare},
    {Py_tp_methods, dtype_methods},
    {Py_tp_getset, dtype_getset},
    {Py_tp_doc, "A tensor element type: tapegrad.float32 and friends."},
    {0, NULL},
};

static PyType_Spec dtype_spec = {
    .name = "tapegrad.DType",
    .basicsize = sizeof(DTypeObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = dtype_slots,
};

int
tg_dtype_init_type(PyObject *module)
{
    tg_st->dtype_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &dtype_spec, NULL);
    if (tg_st->dtype_type == NULL ||
        PyModule_AddType(module, tg_st->dtype_type) < 0) {
        return -1;
    }
    for (int i = 0; i < TG_NDTYPES; i++) {
        DTypeObject *d = PyObject_New(DTypeObject, tg_st->dtype_type);
        if (d == NULL) {
            return -1;
        }
        d->code = i;
        d->name = PyUnicode_FromString(tg_dtype_names[i]);
        tg_st->dtypes[i] = (PyObject *)d;
        if (d->name == NULL ||
            PyModule_AddObjectRef(module, tg_dtype_names[i], (PyObject *)d) <
                0) {
            return -1;
        }
    }
    return 0;
}

/* ---- dtype= arguments -------------------------------------------------------- */

/* DType, Python float/int/bool, NumPy dtype or type, or a name.  None gives
 * -1.  Anything else: TypeError. */
int
tg_dtype_arg(PyObject *obj, int *dtype)
{
    PyArray_Descr *d = NULL;
    *dtype = -1;
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    if (Py_IS_TYPE(obj, tg_st->dtype_type)) {
        *dtype = ((DTypeObject *)obj)->code;
        return 0;
    }
    if (obj == (PyObject *)&PyFloat_Type) {
        *dtype = TG_FLOAT32; /* TF: Python float means float32 */
        return 0;
    }
    if (obj == (PyObject *)&PyLong_Type) {
        *dtype = TG_INT32;
        return 0;
    }
    if (obj == (PyObject *)&PyBool_Type) {
        *dtype = TG_BOOL;
        return 0;
    }
    if (PyUnicode_Check(obj)) {
        for (int i = 0; i < TG_NDTYPES; i++) {
            if (PyUnicode_CompareWithASCIIString(obj, tg_dtype_names[i]) ==
                0) {
                *dtype = i;
                return 0;
            }
        }
        if (PyUnicode_CompareWithASCIIString(obj, "half") == 0) {
            *dtype = TG_FLOAT16;
            return 0;
        }
        if (PyUnicode_CompareWithASCIIString(obj, "double") == 0) {
            *dtype = TG_FLOAT64;
            return 0;
        }
    }
    else if (PyArray_DescrCheck(obj) || PyType_Check(obj)) {
        if (PyArray_DescrConverter2(obj, &d) && d != NULL) {
            *dtype = tg_dtype_from_npy(d->type_num);
            Py_DECREF(d);
            if (*dtype >= 0) {
                return 0;
            }
        }
        PyErr_Clear();
    }
    PyErr_Format(PyExc_TypeError,
                 "Cannot convert %R to a tapegrad DType (supported: float16, "
                 "float32, float64, int8, int16, int32, int64, uint8, uint16, "
                 "uint32, uint64, bool)", obj);
    return -1;
}

/* ---- nested Python lists ----------------------------------------------------------- */

enum { K_BOOL = 1, K_INT = 2, K_FLOAT = 3 };

typedef struct {
    int ndim;
    Py_ssize_t shape[TG_MAXDIMS];
    int kind;        /* widest leaf kind seen */
    int big;         /* an int that does not fit int32 */
    int fixed;       /* a leaf was seen: the rank can no longer grow */
    PyObject *leaves; /* every leaf, in order: filling reads this snapshot,
                       * so user code run by a leaf's __float__ cannot
                       * change what is written */
} list_info;

static int
leaf_kind(PyObject *o, list_info *info)
{
    if (PyBool_Check(o) || PyArray_IsScalar(o, Bool)) {
        return K_BOOL;
    }
    if (PyLong_Check(o)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow || v > INT32_MAX || v < INT32_MIN) {
            info->big = 1;
        }
        return K_INT;
    }
    if (PyFloat_Check(o)) {
        return K_FLOAT;
    }
    if (PyArray_IsScalar(o, Integer)) {
        /* a NumPy int64 (or wider unsigned) keeps its width, as in TF */
        PyArray_Descr *d = PyArray_DescrFromScalar(o);
        if (d == NULL) {
            PyErr_Clear();
        }
        else {
            info->big |= d->elsize > 4 || (d->elsize == 4 && d->kind == 'u');
            Py_DECREF(d);
        }
        return K_INT;
    }
    if (PyArray_IsScalar(o, Floating)) {
        return K_FLOAT;
    }
    if (Tensor_Check(o) && ((TensorObject *)o)->ndim == 0) {
        int dt = ((TensorObject *)o)->dtype;
        info->big |= dt == TG_INT64;
        return dt == TG_BOOL ? K_BOOL : tg_is_float(dt) ? K_FLOAT : K_INT;
    }
    return 0;
}

/* First pass: shape, rectangularity and leaf kinds. */
static int
scan_list(PyObject *o, int depth, list_info *info)
{
    int is_seq = PyList_Check(o) || PyTuple_Check(o);
    if (depth == info->ndim) {
        /* the first path down fixes the rank */
        if (is_seq && info->fixed) {
            goto ragged;
        }
        if (is_seq) {
            if (depth >= TG_MAXDIMS) {
                PyErr_Format(PyExc_ValueError,
                             "tapegrad supports at most %d dimensions",
                             TG_MAXDIMS);
                return -1;
            }
            info->shape[depth] = PySequence_Fast_GET_SIZE(o);
            info->ndim++;
        }
    }
    else if (!is_seq || depth > info->ndim) {
        goto ragged;
    }
    if (is_seq) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
        if (n != info->shape[depth]) {
            goto ragged;
        }
        if (Py_EnterRecursiveCall(" while converting a nested list")) {
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            if (scan_list(PySequence_Fast_GET_ITEM(o, i), depth + 1, info) <
                0) {
                Py_LeaveRecursiveCall();
                return -1;
            }
        }
        Py_LeaveRecursiveCall();
        return 0;
    }
    if (depth != info->ndim) {
        goto ragged;
    }
    info->fixed = 1;
    if (PyList_Append(info->leaves, o) < 0) {
        return -1;
    }
    int k = leaf_kind(o, info);
    if (k == 0) {
        if (o == Py_None || Tensor_Check(o) || PyArray_Check(o)) {
            PyErr_Format(PyExc_ValueError,
                         "Attempt to convert a value (%R) with an unsupported "
                         "type (%R) to a Tensor.", o, (PyObject *)Py_TYPE(o));
        }
        else {
            PyErr_Format(PyExc_TypeError,
                         "Cannot convert %R of type %s to a Tensor", o,
                         Py_TYPE(o)->tp_name);
        }
        return -1;
    }
    if (k > info->kind) {
        info->kind = k;
    }
    return 0;
ragged:
    PyErr_SetString(PyExc_ValueError,
                    "Can't convert non-rectangular Python sequence to "
                    "Tensor.");
    return -1;
}

static int
leaf_error(PyObject *o, int dtype)
{
    PyErr_Format(PyExc_TypeError, "Cannot convert %R to EagerTensor of dtype "
                 "%s", o, tg_dtype_names[dtype]);
    return -1;
}

static int
int_range_error(const char *opname, PyObject *o, int dtype)
{
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "%s: Can't convert %.100R to a tensor of "
                 "dtype %s: out of range", opname, o, tg_dtype_names[dtype]);
    return -1;
}

/* Whether the integer x (or, with `huge`, the uint64 value (unsigned)x
 * past INT64_MAX) fits the integer dtype. */
static int
int_fits(int dtype, long long x, int huge)
{
    if (huge) {
        return dtype == TG_UINT64;
    }
    switch (dtype) {
        case TG_INT8: return x >= INT8_MIN && x <= INT8_MAX;
        case TG_INT16: return x >= INT16_MIN && x <= INT16_MAX;
        case TG_INT32: return x >= INT32_MIN && x <= INT32_MAX;
        case TG_UINT8: return x >= 0 && x <= UINT8_MAX;
        case TG_UINT16: return x >= 0 && x <= UINT16_MAX;
        case TG_UINT32: return x >= 0 && x <= (long long)UINT32_MAX;
        case TG_UINT64: return x >= 0;
        default: return 1; /* int64 */
    }
}

/* Store an integer known to fit into element p of an integer dtype. */
static void
int_store(int dtype, char *p, long long x)
{
    switch (dtype) {
        case TG_INT8: *(int8_t *)p = (int8_t)x; break;
        case TG_INT16: *(int16_t *)p = (int16_t)x; break;
        case TG_INT32: *(int32_t *)p = (int32_t)x; break;
        case TG_UINT8: *(uint8_t *)p = (uint8_t)x; break;
        case TG_UINT16: *(uint16_t *)p = (uint16_t)x; break;
        case TG_UINT32: *(uint32_t *)p = (uint32_t)x; break;
        case TG_UINT64: *(uint64_t *)p = (uint64_t)x; break;
        default: *(int64_t *)p = (int64_t)x; break;
    }
}

/* One leaf into element p of a `dtype` tensor.  Integers (ints, NumPy
 * integers, int tensors, bools) are read exactly, never through a double,
 * and range-checked; a float never becomes an integer or a bool, and a
 * number never becomes a bool (TF: "Cannot convert 5 to EagerTensor of
 * dtype bool"). */
static int
store_leaf(PyObject *o, int dtype, char *p, const char *opname)
{
    double v = 0.0;
    long long x = 0;
    int exact = 1, is_bool = 0, huge = 0;
    if (Tensor_Check(o)) {
        TensorObject *t = (TensorObject *)o;
        if (tg_is_float(t->dtype)) {
            v = tg_float_at(t->data, t->dtype, 0);
            exact = 0;
        }
        else {
            x = tg_int_at(t->data, t->dtype, 0);
            is_bool = t->dtype == TG_BOOL;
            huge = t->dtype == TG_UINT64 && x < 0;
        }
    }
    else if (PyBool_Check(o) || PyArray_IsScalar(o, Bool)) {
        x = PyObject_IsTrue(o);
        is_bool = 1;
    }
    else if (PyLong_Check(o) || PyArray_IsScalar(o, Integer)) {
        PyObject *i = PyNumber_Index(o);
        int overflow = 0;
        if (i == NULL) {
            return -1;
        }
        if (tg_is_float(dtype)) {
            /* into a float tensor: as a float, out of range only past
             * double's (NumPy rounds to the nearest float as well) */
            v = PyLong_AsDouble(i);
            overflow = v == -1.0 && PyErr_Occurred();
            exact = 0;
        }
        else {
            x = PyLong_AsLongLongAndOverflow(i, &overflow);
            if (overflow > 0 && dtype == TG_UINT64) {
                /* past INT64_MAX: only uint64 holds it */
                unsigned long long u = PyLong_AsUnsignedLongLong(i);
                if (!(u == (unsigned long long)-1 && PyErr_Occurred())) {
                    x = (long long)u;
                    huge = 1;
                    overflow = 0;
                }
            }
        }
        Py_DECREF(i);
        if (overflow) {
            return int_range_error(opname, o, exact && dtype != TG_UINT64
                                                  ? TG_INT64
                                                  : dtype);
        }
        if (x == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    else {
        v = PyFloat_AsDouble(o);
        if (v == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        exact = 0;
    }
    if (!exact) {
        switch (dtype) {
            case TG_FLOAT16: *(npy_half *)p = npy_double_to_half(v); return 0;
            case TG_FLOAT32: *(float *)p = (float)v; return 0;
            case TG_FLOAT64: *(double *)p = v; return 0;
            default: return leaf_error(o, dtype);
        }
    }
    if (tg_is_float(dtype)) {
        double d = huge ? (double)(unsigned long long)x : (double)x;
        switch (dtype) {
            case TG_FLOAT16: *(npy_half *)p = npy_double_to_half(d); break;
            case TG_FLOAT32: *(float *)p = (float)d; break;
            default: *(double *)p = d; break;
        }
        return 0;
    }
    if (dtype == TG_BOOL) {
        if (!is_bool) {
            return leaf_error(o, dtype);
        }
        *(npy_bool *)p = (npy_bool)x;
        return 0;
    }
    if (!int_fits(dtype, x, huge)) {
        return int_range_error(opname, o, dtype);
    }
    int_store(dtype, p, x);
    return 0;
}

static TensorObject *
from_python(PyObject *obj, int dtype, const char *opname)
{
    list_info info = {0};
    TensorObject *t = NULL;
    info.leaves = PyList_New(0);
    if (info.leaves == NULL || scan_list(obj, 0, &info) < 0) {
        goto error;
    }
    if (dtype < 0) {
        dtype = info.kind == K_FLOAT  ? TG_FLOAT32
                : info.kind == K_BOOL ? TG_BOOL
                : info.big            ? TG_INT64
                                      : TG_INT32;
        if (info.kind == 0) {
            dtype = TG_FLOAT32; /* an empty list: TF gives float32 */
        }
    }
    else if (info.kind == K_FLOAT && !tg_is_float(dtype)) {
        /* store_leaf names the first value that does not fit */
    }
    t = tg_tensor_new(dtype, info.ndim, info.shape);
    if (t == NULL) {
        goto error;
    }
    if (PyList_GET_SIZE(info.leaves) != t->size) {
        PyErr_SetString(PyExc_ValueError,
                        "Can't convert non-rectangular Python sequence to "
                        "Tensor.");
        goto error;
    }
    for (Py_ssize_t i = 0; i < t->size; i++) {
        char *p = t->data + (size_t)i * (size_t)tg_dtype_size[dtype];
        if (store_leaf(PyList_GET_ITEM(info.leaves, i), dtype, p, opname) <
            0) {
            goto error;
        }
    }
    Py_DECREF(info.leaves);
    return t;
error:
    Py_XDECREF(info.leaves);
    Py_XDECREF(t);
    return NULL;
}

/* ---- the conversion entry point ----------------------------------------------- */

static TensorObject *
from_ndarray(PyArrayObject *arr, int dtype, const char *opname)
{
    int have = tg_dtype_from_npy(PyArray_TYPE(arr));
    if (have < 0) {
        PyErr_Format(PyExc_TypeError,
                     "%s: cannot convert a NumPy array of dtype %R to a "
                     "Tensor (supported: float16, float32, float64, int8, "
                     "int16, int32, int64, uint8, uint16, uint32, uint64, "
                     "bool)",
                     opname, (PyObject *)PyArray_DESCR(arr));
        return NULL;
    }
    if (dtype < 0) {
        dtype = have;
    }
    else if (tg_is_float(have) && !tg_is_float(dtype)) {
        PyErr_Format(PyExc_TypeError,
                     "%s: cannot convert a NumPy array of dtype %s to a "
                     "Tensor of dtype %s", opname, tg_dtype_names[have],
                     tg_dtype_names[dtype]);
        return NULL;
    }
    /* always a copy: a tensor must not change when the user's array does */
    TensorObject *t = tg_tensor_new(dtype, PyArray_NDIM(arr),
                                    PyArray_SHAPE(arr));
    if (t == NULL) {
        return NULL;
    }
    if (t->size > 0) {
        PyObject *dst = tg_tensor_as_array(t);
        if (dst == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyArray_ENABLEFLAGS((PyArrayObject *)dst, NPY_ARRAY_WRITEABLE);
        int rc = tg_copy_into((PyArrayObject *)dst, arr);
        Py_DECREF(dst);
        if (rc < 0) {
            Py_DECREF(t);
            return NULL;
        }
    }
    return t;
}

/* Convert `obj` to a new Tensor reference.  dtype -1: infer.  Tensors and
 * Variable reads come back as they are (the caller checks their dtype). */
TensorObject *
tg_convert(PyObject *obj, int dtype, const char *opname)
{
    if (Tensor_Check(obj)) {
        return (TensorObject *)Py_NewRef(obj);
    }
    if (Variable_Check(obj)) {
        return tg_variable_read((VariableObject *)obj);
    }
    if (PyFloat_CheckExact(obj)) {
        double v = PyFloat_AS_DOUBLE(obj);
        if (dtype < 0) {
            dtype = TG_FLOAT32;
        }
        else if (!tg_is_float(dtype)) {
            PyErr_Format(PyExc_TypeError,
                         "Cannot convert %R to EagerTensor of dtype %s", obj,
                         tg_dtype_names[dtype]);
            return NULL;
        }
        return tg_tensor_scalar(dtype, v);
    }
    if (PyLong_CheckExact(obj) && dtype >= 0 &&
        (tg_is_float(dtype) || dtype == TG_INT32)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (!overflow && v >= INT32_MIN && v <= INT32_MAX) {
            return tg_tensor_scalar(dtype, (double)v);
        }
    }
    if (PyArray_Check(obj)) {
        return from_ndarray((PyArrayObject *)obj, dtype, opname);
    }
    if (PyArray_IsScalar(obj, Generic)) {
        PyObject *arr = PyArray_FromScalar(obj, NULL);
        TensorObject *t;
        if (arr == NULL) {
            return NULL;
        }
        t = from_ndarray((PyArrayObject *)arr, dtype, opname);
        Py_DECREF(arr);
        return t;
    }
    if (PyLong_Check(obj) || PyFloat_Check(obj) || PyList_Check(obj) ||
        PyTuple_Check(obj)) {
        return from_python(obj, dtype, opname);
    }
    if (obj != Py_None && !PyUnicode_Check(obj) && !PyBytes_Check(obj) &&
        PyObject_HasAttrString(obj, "__array__")) {
        PyObject *arr = PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
        TensorObject *t;
        if (arr == NULL) {
            return NULL;
        }
        t = from_ndarray((PyArrayObject *)arr, dtype, opname);
        Py_DECREF(arr);
        return t;
    }
    if (obj == Py_None) {
        PyErr_Format(PyExc_ValueError,
                     "Attempt to convert a value (None) with an unsupported "
                     "type (<class 'NoneType'>) to a Tensor.");
        return NULL;
    }
    PyErr_Format(PyExc_TypeError,
                 "%s: cannot convert %.200R of type '%s' to a Tensor", opname,
                 obj, Py_TYPE(obj)->tp_name);
    return NULL;
}
