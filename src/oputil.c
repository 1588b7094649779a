/* oputil.c -- small shared pieces of the op rows: filling, shape
 * arguments, messages, and the recorded-op calls vjps are written with.
 * Knows nothing about any particular op.
 */
#include "vjp.h"
#include <stdarg.h>

TensorObject *
tg_fill_like(int dtype, int ndim, const Py_ssize_t *shape, double value)
{
    TensorObject *t = tg_tensor_new(dtype, ndim, shape);
    TensorObject *one;
    if (t == NULL || t->size == 0) {
        return t;
    }
    if (value == 0.0) {
        memset(t->data, 0, (size_t)t->size * (size_t)tg_dtype_size[dtype]);
        return t; /* all-zero bytes are 0 in every dtype */
    }
    t->all_ones = value == 1.0;
    if (dtype == TG_FLOAT32 || dtype == TG_FLOAT64) {
        /* the value in the dtype directly: no scalar tensor to copy from */
        if (dtype == TG_FLOAT32) {
            float v = (float)value, *p = (float *)t->data;
            for (Py_ssize_t i = 0; i < t->size; i++) {
                p[i] = v;
            }
        }
        else {
            double *p = (double *)t->data;
            for (Py_ssize_t i = 0; i < t->size; i++) {
                p[i] = value;
            }
        }
        return t;
    }
    one = tg_tensor_scalar(dtype, value);
    if (one == NULL) {
        Py_DECREF(t);
        return NULL;
    }
    /* typed stores: a per-element memcpy costs ~3 ms per 1e6 elements */
#define FILL(T)                                                              \
    do {                                                                     \
        T v = *(T *)one->data, *p = (T *)t->data;                            \
        for (Py_ssize_t i = 0; i < t->size; i++) {                           \
            p[i] = v;                                                        \
        }                                                                    \
    } while (0)
    switch (tg_dtype_size[dtype]) {
        case 1: FILL(uint8_t); break;
        case 2: FILL(uint16_t); break;
        case 4: FILL(uint32_t); break;
        default: FILL(uint64_t); break;
    }
#undef FILL
    Py_DECREF(one);
    return t;
}

/* ---- shared ones ---------------------------------------------------------------
 * reduce_sum's vjp broadcasts a sweep's all-ones seed to the input's shape,
 * and what reads it next is mostly multiply, which returns the other factor
 * (all_ones) without reading it.  Filling those bytes was a full write pass
 * (4% of the elementwise 1e6 benchmark).  Up to ONES_CACHE_BYTES such
 * broadcasts are instead views of one immutable buffer of ones per dtype,
 * kept for the next sweep (so at most that much memory stays held).  Like
 * the data block cache, a cached buffer is not a live tensor for
 * _live_counts, and _release_blocks gives it back. */
#define ONES_CACHE_BYTES (8 << 20)
static TensorObject *ones_cache[TG_NDTYPES];

void
tg_ones_cache_clear(void)
{
    for (int i = 0; i < TG_NDTYPES; i++) {
        if (ones_cache[i] != NULL) {
            tg_live_tensors++;
            Py_CLEAR(ones_cache[i]);
        }
    }
}

/* 1 with *out a view of ones of `shape`, 0 if the dtype is not a float or
 * the size is over the cache's bound, -1 on error. */
int
tg_ones_view(int dtype, int ndim, const Py_ssize_t *shape, TensorObject **out)
{
    Py_ssize_t n = 1;
    for (int i = 0; i < ndim; i++) {
        n *= shape[i];
    }
    if (!tg_is_float(dtype) || n == 0 ||
        n > ONES_CACHE_BYTES / tg_dtype_size[dtype]) {
        return 0;
    }
    TensorObject *c = ones_cache[dtype];
    if (c == NULL || c->size < n) {
        Py_ssize_t size[1] = {n};
        TensorObject *fresh = tg_fill_like(dtype, 1, size, 1.0);
        if (fresh == NULL) {
            return -1;
        }
        if (c != NULL) {
            tg_live_tensors++;
            Py_CLEAR(ones_cache[dtype]);
        }
        tg_live_tensors--;   /* the cache's, not the program's */
        ones_cache[dtype] = c = fresh;
    }
    *out = tg_tensor_view(c, ndim, shape, 0);
    return *out ? 1 : -1;
}

/* ---- integer arguments ---------------------------------------------------
 * Every shape, axis, perm, multiples, num ... argument is read here, so
 * every op checks them alike, as TF's conversion to an int32/int64 tensor
 * does.  Accepted: Python ints, objects with __index__ (NumPy integer
 * scalars among them), int32/int64 Tensors and Variables, integer NumPy
 * arrays, and lists, tuples and other sized sequences of those scalars.
 * A float, bool, complex or string value is TF's TypeError; a value of
 * the wrong rank (a matrix, a nested list) is InvalidArgumentError.  Both
 * name the op and the parameter.  Nothing here trusts a value's type
 * before checking it, and nothing holds a borrowed item across a call that
 * can run Python code (__index__, __len__, __getitem__).
 */

/* TF's TypeError for an integer parameter given another dtype */
static int
int_dtype_error(const char *tfname, const char *param, const char *dtype)
{
    PyErr_Format(PyExc_TypeError,
                 "%s: Value passed to parameter '%s' has DataType %s not in "
                 "list of allowed values: int32, int64", tfname, param,
                 dtype);
    return -1;
}

/* ... for a value that is no number at all */
static int
int_type_error(const char *tfname, const char *param, PyObject *obj)
{
    PyErr_Format(PyExc_TypeError,
                 "%s: Expected int32 or int64 for parameter '%s', got %.200R "
                 "of type '%.100s' instead.", tfname, param, obj,
                 Py_TYPE(obj)->tp_name);
    return -1;
}

/* the same, with the dtype of a NumPy array or scalar */
static int
int_npy_dtype_error(const char *tfname, const char *param,
                    PyArray_Descr *descr)
{
    PyObject *name = PyObject_GetAttrString((PyObject *)descr, "name");
    const char *s = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name)
                                                  : NULL;
    if (s != NULL) {
        int_dtype_error(tfname, param, s);
    }
    Py_XDECREF(name);
    return -1;
}

/* InvalidArgumentError for a value of the wrong rank: `obj` is the
 * Tensor, Variable, array or sequence given (nested: it was an item of
 * the sequence given) */
static int
int_rank_error(const char *tfname, const char *param, int scalar_slot,
               PyObject *obj, int nested)
{
    const char *want = scalar_slot ? "a scalar"
                                   : "a scalar or a vector of {int32,int64}";
    const char *what = nested ? "an item" : "a value";
    TensorObject *t = Tensor_Check(obj)     ? (TensorObject *)obj
                      : Variable_Check(obj) ? ((VariableObject *)obj)->value
                                            : NULL;
    Py_ssize_t dims[TG_MAXDIMS];
    PyObject *s = NULL;
    if (t != NULL) {
        s = tg_shape_str(t->ndim, t->shape);
    }
    else if (PyArray_Check(obj)) {
        PyArrayObject *a = (PyArrayObject *)obj;
        int nd = PyArray_NDIM(a) < TG_MAXDIMS ? PyArray_NDIM(a) : TG_MAXDIMS;
        for (int i = 0; i < nd; i++) {
            dims[i] = PyArray_DIM(a, i);
        }
        s = tg_shape_str(nd, dims);
    }
    else if (nested) {
        TG_INVALID_ARGUMENT("%s must be %s, got a nested sequence [Op:%s]",
                            param, want, tfname);
        return -1;
    }
    else {
        TG_INVALID_ARGUMENT("%s must be %s, got a sequence [Op:%s]", param,
                            want, tfname);
        return -1;
    }
    if (s != NULL) {
        TG_INVALID_ARGUMENT("%s must be %s, got %s of shape %U [Op:%s]",
                            param, want, what, s, tfname);
        Py_DECREF(s);
    }
    return -1;
}

static int
int_range_error(const char *tfname, const char *param)
{
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError,
                 "%s: a value passed to parameter '%s' is out of the int64 "
                 "range", tfname, param);
    return -1;
}

/* A Python int (exact or not) as a Py_ssize_t */
static int
int_from_long(const char *tfname, const char *param, PyObject *v,
              Py_ssize_t *out)
{
    *out = PyLong_AsSsize_t(v);
    if (*out == -1 && PyErr_Occurred()) {
        return PyErr_ExceptionMatches(PyExc_OverflowError)
                   ? int_range_error(tfname, param)
                   : -1;
    }
    return 0;
}

/* One scalar.  Returns 0 with *out set; 1 when obj holds an array-like of
 * rank >= 1 (its rank in *rank, nothing converted); -1 on error. */
static int
int_scalar(const char *tfname, const char *param, PyObject *obj,
           Py_ssize_t *out, int *rank)
{
    if (PyLong_CheckExact(obj)) {       /* the common case first */
        return int_from_long(tfname, param, obj, out);
    }
    if (PyBool_Check(obj)) {
        return int_dtype_error(tfname, param, "bool");
    }
    if (PyLong_Check(obj)) {
        return int_from_long(tfname, param, obj, out);
    }
    if (Tensor_Check(obj) || Variable_Check(obj)) {
        /* a Variable's value is read without watching: a shape is not
         * differentiable */
        TensorObject *t = Tensor_Check(obj)
                              ? (TensorObject *)obj
                              : ((VariableObject *)obj)->value;
        if (t->dtype != TG_INT32 && t->dtype != TG_INT64) {
            return int_dtype_error(tfname, param, tg_dtype_names[t->dtype]);
        }
        if (t->ndim > 0) {
            *rank = t->ndim;
            return 1;
        }
        *out = t->dtype == TG_INT32 ? *(int32_t *)t->data
                                    : (Py_ssize_t) * (int64_t *)t->data;
        return 0;
    }
    if (PyArray_Check(obj) || PyArray_IsScalar(obj, Generic)) {
        PyArray_Descr *descr = PyArray_Check(obj)
                                   ? PyArray_DESCR((PyArrayObject *)obj)
                                   : PyArray_DescrFromScalar(obj);
        int ok = descr != NULL &&
                 (descr->kind == 'i' || descr->kind == 'u');
        if (descr != NULL && !ok) {
            int_npy_dtype_error(tfname, param, descr);
        }
        if (!PyArray_Check(obj)) {
            Py_XDECREF(descr);  /* DescrFromScalar's is a new reference */
        }
        if (!ok) {
            return -1;
        }
        if (PyArray_Check(obj) && PyArray_NDIM((PyArrayObject *)obj) > 0) {
            *rank = PyArray_NDIM((PyArrayObject *)obj);
            return 1;
        }
        /* falls through to __index__, which integer NumPy values have */
    }
    else if (PyFloat_Check(obj)) {
        return int_dtype_error(tfname, param, "float32");  /* TF's rule */
    }
    else if (PyComplex_Check(obj)) {
        return int_dtype_error(tfname, param, "complex128");
    }
    else if (PyUnicode_Check(obj) || PyBytes_Check(obj)) {
        return int_dtype_error(tfname, param, "string");
    }
    if (PyIndex_Check(obj)) {
        PyObject *v = PyNumber_Index(obj);  /* may run the user's code */
        int rc;
        if (v == NULL) {
            return -1;
        }
        rc = int_from_long(tfname, param, v, out);
        Py_DECREF(v);
        return rc;
    }
    if (PyList_Check(obj) || PyTuple_Check(obj) ||
        (PySequence_Check(obj) && !PyByteArray_Check(obj))) {
        *rank = 1;  /* at least */
        return 1;
    }
    return int_type_error(tfname, param, obj);
}

/* A rank-1 Tensor or NumPy array's values */
static int
int_vector_values(const char *tfname, const char *param, PyObject *obj,
                  int *n, Py_ssize_t *out)
{
    if (PyArray_Check(obj)) {
        PyArrayObject *a = (PyArrayObject *)obj;
        Py_ssize_t len = PyArray_DIM(a, 0);
        if (len > TG_MAXDIMS) {
            goto too_many;
        }
        for (Py_ssize_t i = 0; i < len; i++) {
            /* GETITEM reads byte-swapped and misaligned items too */
            PyObject *v = PyArray_GETITEM(
                a, PyArray_BYTES(a) + i * PyArray_STRIDE(a, 0));
            int rc = v ? int_from_long(tfname, param, v, &out[i]) : -1;
            Py_XDECREF(v);
            if (rc < 0) {
                return -1;
            }
        }
        *n = (int)len;
        return 0;
    }
    TensorObject *t = Tensor_Check(obj) ? (TensorObject *)obj
                                        : ((VariableObject *)obj)->value;
    if (t->size > TG_MAXDIMS) {
        goto too_many;
    }
    for (Py_ssize_t i = 0; i < t->size; i++) {
        out[i] = t->dtype == TG_INT32 ? ((int32_t *)t->data)[i]
                                      : (Py_ssize_t)((int64_t *)t->data)[i];
    }
    *n = (int)t->size;
    return 0;
too_many:
    TG_INVALID_ARGUMENT("%s: parameter '%s' takes at most %d values "
                        "[Op:%s]", tfname, param, TG_MAXDIMS, tfname);
    return -1;
}

int
tg_int_scalar(const char *tfname, const char *param, PyObject *obj,
              Py_ssize_t *out)
{
    int rank = 0, rc = int_scalar(tfname, param, obj, out, &rank);
    return rc == 1 ? int_rank_error(tfname, param, 1, obj, 0) : rc;
}

/* The dtype check alone, for an argument with another structure (a pair
 * of axis lists): a TypeError if obj is a non-integer value; sequences
 * pass, to be read item by item */
int
tg_int_dtype_check(const char *tfname, const char *param, PyObject *obj)
{
    Py_ssize_t v;
    int rank;
    return int_scalar(tfname, param, obj, &v, &rank) < 0 ? -1 : 0;
}

int
tg_int_list(const char *tfname, const char *param, PyObject *obj, int *n,
            Py_ssize_t *out)
{
    PyObject *seq = NULL;
    Py_ssize_t len;
    /* the common case first: a tuple of Python ints (a shape, the axes a
     * vjp passes), read as the loop below would, without its type tests */
    if (PyTuple_CheckExact(obj) && PyTuple_GET_SIZE(obj) <= TG_MAXDIMS) {
        Py_ssize_t i, k = PyTuple_GET_SIZE(obj);
        for (i = 0; i < k && PyLong_CheckExact(PyTuple_GET_ITEM(obj, i));
             i++) {
        }
        if (i == k) {
            for (i = 0; i < k; i++) {
                if (int_from_long(tfname, param, PyTuple_GET_ITEM(obj, i),
                                  &out[i]) < 0) {
                    return -1;
                }
            }
            *n = (int)k;
            return 0;
        }
    }
    int rank = 0, rc = int_scalar(tfname, param, obj, out, &rank);
    if (rc <= 0) {
        *n = 1;
        return rc;
    }
    if (!PyList_Check(obj) && !PyTuple_Check(obj) &&
        (PyArray_Check(obj) || Tensor_Check(obj) || Variable_Check(obj))) {
        return rank == 1 ? int_vector_values(tfname, param, obj, n, out)
                         : int_rank_error(tfname, param, 0, obj, 0);
    }
    /* A sequence: a private list of its items, so the user's code run by
     * an item's __index__ cannot change what we iterate.  Other sequence
     * types are read through their length, bounded first: an object whose
     * __getitem__ never stops must not make an endless list. */
    if (PyTuple_CheckExact(obj)) {
        seq = Py_NewRef(obj);
    }
    else if (PyList_Check(obj) || PyTuple_Check(obj)) {
        seq = tg_sequence_list(obj);
    }
    else {
        len = PySequence_Size(obj);
        if (len < 0) {
            if (PyErr_ExceptionMatches(PyExc_TypeError)) {
                /* __getitem__ without __len__: not a sequence we read */
                PyErr_Clear();
                int_type_error(tfname, param, obj);
            }
            return -1;
        }
        if (len > TG_MAXDIMS) {
            goto too_many;
        }
        seq = PyList_New(len);
        for (Py_ssize_t i = 0; seq != NULL && i < len; i++) {
            PyObject *item = PySequence_GetItem(obj, i);
            if (item == NULL) {
                Py_CLEAR(seq);
                break;
            }
            PyList_SET_ITEM(seq, i, item);
        }
    }
    if (seq == NULL) {
        return -1;
    }
    len = PySequence_Fast_GET_SIZE(seq);
    if (len > TG_MAXDIMS) {
        Py_DECREF(seq);
        goto too_many;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i); /* seq owns it */
        rc = int_scalar(tfname, param, item, &out[i], &rank);
        if (rc == 1) {
            int_rank_error(tfname, param, 0, item, 1);
        }
        if (rc != 0) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    *n = (int)len;
    return 0;
too_many:
    TG_INVALID_ARGUMENT("%s: parameter '%s' takes at most %d values "
                        "[Op:%s]", tfname, param, TG_MAXDIMS, tfname);
    return -1;
}

/* An integer tensor argument of any length (indices, paddings, split
 * sizes): converted as TF converts an op input, then held to int32/int64
 * with the same TypeError as the integer arguments above. */
TensorObject *
tg_index_tensor(const char *tfname, const char *param, PyObject *obj)
{
    TensorObject *t;
    if (obj == Py_None) {
        PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'",
                     tfname, param);
        return NULL;
    }
    t = tg_convert(obj, -1, tfname);
    if (t != NULL && t->dtype != TG_INT32 && t->dtype != TG_INT64) {
        int_dtype_error(tfname, param, tg_dtype_names[t->dtype]);
        Py_CLEAR(t);
    }
    return t;
}

/* A float argument (leaky_relu's alpha, dropout's rate, an epsilon): a
 * Python or NumPy real number, or a real Tensor, Variable or array of
 * rank 0, as TF converts it; anything else is TF's make_float TypeError,
 * naming the op. */
int
tg_float_scalar(const char *tfname, const char *param, PyObject *obj,
                double *out)
{
    TensorObject *t = Tensor_Check(obj)     ? (TensorObject *)obj
                      : Variable_Check(obj) ? ((VariableObject *)obj)->value
                                            : NULL;
    int real;
    if (PyFloat_Check(obj)) {
        *out = PyFloat_AS_DOUBLE(obj);
        return 0;
    }
    if (PyLong_Check(obj) && !PyBool_Check(obj)) {
        *out = PyLong_AsDouble(obj);
        if (*out == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s: %s = %.100R is out of the "
                         "float range", tfname, param, obj);
            return -1;
        }
        return 0;
    }
    if (t != NULL) {
        real = t->dtype != TG_BOOL;
    }
    else if (PyArray_Check(obj)) {
        char k = PyArray_DESCR((PyArrayObject *)obj)->kind;
        real = k == 'f' || k == 'i' || k == 'u';
    }
    else {
        real = PyArray_IsScalar(obj, Floating) ||
               PyArray_IsScalar(obj, Integer);
        real = real && !PyArray_IsScalar(obj, Timedelta);
    }
    if (!real) {
        PyErr_Format(PyExc_TypeError, "%s: Expected float for argument '%s' "
                     "not %.200R.", tfname, param, obj);
        return -1;
    }
    if ((t != NULL && t->ndim > 0) ||
        (PyArray_Check(obj) && PyArray_NDIM((PyArrayObject *)obj) > 0)) {
        return int_rank_error(tfname, param, 1, obj, 0);
    }
    /* a real scalar: its __float__ cannot fail but by running out of
     * memory */
    if (t == NULL) {
        *out = PyFloat_AsDouble(obj);
    }
    else if (tg_is_float(t->dtype)) {
        *out = tg_float_at(t->data, t->dtype, 0);
    }
    else if (t->dtype == TG_UINT64) {
        *out = (double)*(uint64_t *)t->data;
    }
    else {
        *out = (double)tg_int_at(t->data, t->dtype, 0);
    }
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* 1 if obj is given as a vector (a list, a tuple, a Tensor, Variable or
 * array of rank >= 1), not as one integer: split's num_or_size_splits,
 * tensordot's axes and norm's axis mean different things by it */
int
tg_int_is_vector(PyObject *obj)
{
    if (PyList_Check(obj) || PyTuple_Check(obj)) {
        return 1;
    }
    if (Tensor_Check(obj)) {
        return ((TensorObject *)obj)->ndim > 0;
    }
    if (Variable_Check(obj)) {
        return ((VariableObject *)obj)->value->ndim > 0;
    }
    return PyArray_Check(obj) && PyArray_NDIM((PyArrayObject *)obj) > 0;
}

/* n axes read by tg_int_list as a mask over `ndim` dims, each checked;
 * n < 0 (axis=None) means every dim */
int
tg_axes_mask(const char *tfname, int n, const Py_ssize_t *axes, int ndim,
             char *mask)
{
    memset(mask, 0, TG_MAXDIMS);
    if (n < 0) {
        memset(mask, 1, (size_t)ndim);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        Py_ssize_t a = axes[i];
        if (a < -ndim || a >= ndim || (ndim == 0 && a != 0 && a != -1)) {
            TG_INVALID_ARGUMENT(
                "Invalid reduction dimension %zd for input with %d "
                "dimensions. [Op:%s]", a, ndim, tfname);
            return -1;
        }
        if (ndim > 0) {
            mask[a < 0 ? a + ndim : a] = 1;
        }
    }
    return 0;
}

/* TF's `axis` of a reduction (None, an integer, a list of them, an int
 * tensor) as a mask over `ndim` dims.  None means every dim. */
int
tg_parse_axes(const char *tfname, const char *param, PyObject *axis,
              int ndim, char *mask)
{
    Py_ssize_t ax[TG_MAXDIMS];
    int n = -1;
    if (axis != NULL && axis != Py_None &&
        tg_int_list(tfname, param, axis, &n, ax) < 0) {
        return -1;
    }
    return tg_axes_mask(tfname, n, ax, ndim, mask);
}

/* InvalidArgumentError from `fmt`, which takes exactly, in this order:
 * %U (x's shape), %U (`shape`), %s (tfname). */
int
tg_shape_error(const char *fmt, const char *tfname, TensorObject *x, int nd,
            const Py_ssize_t *shape)
{
    PyObject *a = tg_shape_str(x->ndim, x->shape);
    PyObject *b = a ? tg_shape_str(nd, shape) : NULL;
    if (b) {
        TG_INVALID_ARGUMENT(fmt, a, b, tfname);
    }
    Py_XDECREF(a);
    Py_XDECREF(b);
    return -1;
}

/* A new list of obj's items: PySequence_List without CPython 3.11's leak.
 * Its list_extend fast path (an exact list or tuple) returns without
 * releasing its reference to the argument when the new list's storage
 * cannot be allocated: the argument and everything in it leak (found by
 * tools/run_nomemory.py as two tensors kept alive by gradient([y, z], x);
 * reproduced with list([obj]) alone). */
PyObject *
tg_sequence_list(PyObject *obj)
{
    if (PyList_CheckExact(obj) || PyTuple_CheckExact(obj)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
        PyObject *list = PyList_New(n);
        if (list == NULL) {
            return NULL;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyList_SET_ITEM(list, i,
                            Py_NewRef(PySequence_Fast_GET_ITEM(obj, i)));
        }
        return list;
    }
    return PySequence_List(obj);
}

/* A NULL operand means an earlier step failed; it must have said why.
 * And a vjp goes on evaluating its expression after a step failed, so an
 * op must not run with that step's exception still pending: code inside
 * it that clears errors (a cache lookup) would drop the MemoryError, and
 * the next NULL operand would turn into this SystemError (run_nomemory.py,
 * cholesky's vjp).  tg_op1/tg_op2 return NULL at once instead. */
static PyObject *
missing_operand(void)
{
    if (!PyErr_Occurred()) {
        PyErr_SetString(PyExc_SystemError,
                        "tapegrad: a vjp operand is missing (not saved?)");
    }
    return NULL;
}

PyObject *
tg_op1(int op, PyObject *x, PyObject *attrs)
{
    if (x == NULL || PyErr_Occurred()) {
        return missing_operand();
    }
    TensorObject *in[1] = {(TensorObject *)x};
    return tg_call_tensors(op, 1, in, attrs);
}

PyObject *
tg_op2(int op, PyObject *a, PyObject *b, PyObject *attrs)
{
    if (a == NULL || b == NULL || PyErr_Occurred()) {
        return missing_operand();
    }
    TensorObject *in[2] = {(TensorObject *)a, (TensorObject *)b};
    return tg_call_tensors(op, 2, in, attrs);
}

/* tg_unrecorded's thread-local part: no tape on this thread's stack (a
 * transposed jvp's private tape is one), no forward accumulator. */
int
tg_unrecorded_here(void)
{
    PyObject *accs;
    return tg_active_stack() == NULL &&
           ((accs = tg_accumulator_list(0)) == NULL ||
            PyList_GET_SIZE(accs) == 0);
}

/* A tensor only its one holder (a vjp's scope, the sweep's gradient
 * table, the upstream gradient a vjp was handed) refers to, owning its
 * bytes: safe to overwrite (no tape saved it, no view shares its bytes:
 * a view would hold a reference to it, no caller has it).  Whoever
 * overwrites it clears all_ones. */
int
tg_exclusive(PyObject *t)
{
    TensorObject *x = (TensorObject *)t;
    /* (a weak reference would see the bytes change: forward tensors the
     * sweep holds alone, 1 * t is t, can be weakly referenced) */
    return Py_REFCNT(t) == 1 && Tensor_Check(t) && x->base == NULL &&
           tg_is_float(x->dtype) && x->weakreflist == NULL;
}

/* 1 * t is t.  In a vjp's product of a factor known to be all ones (a
 * sweep's seed, reduce_sum's vjp of one; any shape that broadcasts into
 * t's) and a tensor t of the product's shape and dtype, when no tape and
 * no forward accumulator of this thread
 * follows the ones, the product is t itself: the same values (but for a
 * signaling NaN, which the multiply would quiet) and, to whatever any
 * tape follows, the same derivatives.  So nothing is computed and no
 * enclosing tape records a multiply: a second-order sweep keeps two
 * entries fewer per seeded product.  t is returned borrowed (the caller
 * takes its own reference, which also keeps later ops from writing over
 * it); NULL (no exception) when the shortcut does not apply. */
PyObject *
tg_ones_factor(PyObject *a, PyObject *b)
{
    if (a == NULL || b == NULL || !Tensor_Check(a) || !Tensor_Check(b)) {
        return NULL;
    }
    TensorObject *ta = (TensorObject *)a, *tb = (TensorObject *)b;
    TensorObject *ones = ta->all_ones ? ta : tb->all_ones ? tb : NULL;
    TensorObject *t = ones == ta ? tb : ta;
    if (ones == NULL || ta->dtype != tb->dtype || !tg_is_float(ta->dtype)) {
        return NULL;
    }
    if (ones->ndim != 0 && !tg_same_shape(ones, t)) {
        Py_ssize_t shape[TG_MAXDIMS];
        int nd;
        if (tg_broadcast_shapes("Mul", ta, tb, &nd, shape) < 0) {
            PyErr_Clear();         /* the multiply itself reports it */
            return NULL;
        }
        if (nd != t->ndim ||
            memcmp(shape, t->shape, (size_t)nd * sizeof(Py_ssize_t))) {
            return NULL;
        }
    }
    if (!tg_unrecorded()) {
        PyObject *tapes = tg_active_stack();
        if (tg_num_accumulating > 0) {
            return NULL;     /* an accumulator may hold a tangent for it */
        }
        for (Py_ssize_t k = 0; tapes && k < PyList_GET_SIZE(tapes); k++) {
            TapeObject *tape = (TapeObject *)PyList_GET_ITEM(tapes, k);
            if (tg_idmap_get(tape->ids, ones->id, NULL)) {
                return NULL;
            }
        }
    }
    return (PyObject *)t;
}

/* add, subtract, multiply or divide of a and b written over `last` (one
 * of them: see LAST in vjp.h) when nothing records it, `last` is
 * exclusive and the result has its shape and dtype.  A new reference to
 * `last`, or NULL with no exception when the op must run as usual. */
PyObject *
tg_op2_over(int op, PyObject *a, PyObject *b, PyObject *last)
{
    TensorObject *ta = (TensorObject *)a, *tb = (TensorObject *)b;
    TensorObject *t = (TensorObject *)last;
    Py_ssize_t shape[TG_MAXDIMS];
    int nd;
    if (!tg_is_arithmetic(op) || !Tensor_Check(a) || !Tensor_Check(b) ||
        !tg_exclusive(last) || ta->dtype != t->dtype ||
        tb->dtype != t->dtype || !tg_unrecorded()) {
        return NULL;
    }
    if (tg_broadcast_shapes(tg_ops[op].tf_name, ta, tb, &nd, shape) < 0) {
        PyErr_Clear();         /* the usual path reports it */
        return NULL;
    }
    if (nd != t->ndim ||
        memcmp(shape, t->shape, (size_t)nd * sizeof(Py_ssize_t))) {
        return NULL;
    }
    /* (t * 1 never gets here: op2_scoped answers it, tg_ones_factor) */
    if (tg_binary_kernel(op, ta, tb, t) < 0) {
        return NULL;
    }
    t->all_ones = 0;
    return Py_NewRef(last);
}

/* ---- fused first-order rules ------------------------------------------------
 * tanh's g * (1 - y*y) and sigmoid's g * (y * (1 - y)) as one pass (the
 * formula makes three), written over g when only the vjp holds it, when
 * nothing records the sweep (so no tape needs the formula's ops).  The
 * same operations in the same order as the formula: the same values
 * (tests/test_ops_table.py compares every row's unrecorded gradients with
 * its recorded formulas).  NULL with no exception: run the formula. */
#define FUSED_LOOP(T, EXPR)                                                  \
    do {                                                                     \
        const T *pg = (const T *)tg->data, *py = (const T *)ty->data;        \
        T *po = (T *)out->data;                                              \
        T sum[TG_TERMS_BYTES / sizeof(T)];                                   \
        T scratch[TG_TERMS_BYTES / sizeof(T)];                               \
        Py_ssize_t chunk = TG_TERMS_BYTES / sizeof(T);                       \
        for (Py_ssize_t s0 = 0; s0 < n; s0 += chunk) {                       \
            Py_ssize_t len = n - s0 < chunk ? n - s0 : chunk;                \
            const T *pa = in_out ? po + s0 : NULL;                           \
            if (!in_out && f.n > 0) {                                        \
                tg_terms_chunk(&f.loops, f.terms, f.n, tg->dtype, s0, len,   \
                               (char *)sum, (char *)scratch);                \
                pa = sum;                                                    \
            }                                                                \
            for (Py_ssize_t i = s0; i < s0 + len; i++) {                     \
                T gv = pg[i], yv = py[i];                                    \
                T p = (EXPR);                                                \
                po[i] = pa ? pa[i - s0] + p : p;                             \
            }                                                                \
        }                                                                    \
    } while (0)

/* What a fused rule writes and adds to: the contribution goes to `out`,
 * plus the terms of input 0's gradient so far (f->n of them, 0: none)
 * when the sweep's table lets the rule add them in the same pass
 * (tg_vjp_addend); the sum then replaces that gradient, and accumulate
 * has nothing left to do. */
typedef struct {
    TensorObject *out;
    const tg_term *terms;
    int n;
    tg_terms_loops loops;      /* for tg_terms_chunk */
} fused_target;

/* Choose the target: `out` is a term of the gradient so far that only the
 * table holds (added into in place when it is the one unscaled term; else
 * each chunk of the terms is summed before that chunk of out is written),
 * else g when only the vjp holds it, else a new tensor.
 * 0 when the rule does not apply (not two tensors of one float dtype and
 * shape, or something records the sweep), -1 with MemoryError, 1 done
 * (f->out a new reference). */
static int
fused_out(tg_vjp_ctx *c, PyObject *g, PyObject *y, fused_target *f)
{
    TensorObject *tg = (TensorObject *)g, *ty = (TensorObject *)y;
    f->n = 0;
    f->terms = NULL;
    if (g == NULL || y == NULL || !Tensor_Check(g) || !Tensor_Check(y) ||
        tg->dtype != ty->dtype ||
        (tg->dtype != TG_FLOAT32 && tg->dtype != TG_FLOAT64) ||
        !tg_same_shape(tg, ty) || !tg_unrecorded()) {
        return 0;
    }
    if (!tg_vjp_addend(c, 0, &f->terms, &f->n) ||
        f->terms[0].t->dtype != tg->dtype ||
        !tg_same_shape(f->terms[0].t, tg) ||
        !tg_terms_loops_get(tg->dtype, &f->loops)) {
        f->n = 0;              /* (no loops: out of memory; accumulate adds) */
    }
    int k = tg_term_exclusive(f->terms, f->n);
    if (k >= 0) {
        f->out = (TensorObject *)Py_NewRef(f->terms[k].t);
        return 1;
    }
    if (tg_exclusive(g)) {
        f->out = (TensorObject *)Py_NewRef(g);
        return 1;
    }
    f->out = tg_tensor_new(tg->dtype, tg->ndim, tg->shape);
    return f->out != NULL ? 1 : -1;
}

/* the gradient a fused rule returns: f->out, which replaced input 0's
 * gradient in the table when the rule added that gradient's terms */
static PyObject *
fused_result(tg_vjp_ctx *c, fused_target *f)
{
    f->out->all_ones = 0;
    if (f->n > 0) {
        tg_vjp_addend_done(c, 0, f->out);
    }
    return (PyObject *)f->out;
}

PyObject *
tg_fused_grad(tg_vjp_ctx *c, int kind, PyObject *g, PyObject *y)
{
    TensorObject *tg = (TensorObject *)g, *ty = (TensorObject *)y, *out;
    fused_target f;
    int rc = fused_out(c, g, y, &f);
    if (rc <= 0) {
        return NULL;
    }
    out = f.out;
    int in_out = tg_terms_are(f.terms, f.n, out);
    Py_ssize_t n = tg->size;
    PyThreadState *ts = tg_nogil_begin(n);
    if (kind == TG_FUSED_TANH) {
        if (tg->dtype == TG_FLOAT32) {
            FUSED_LOOP(float, gv * (1.0f - yv * yv));
        }
        else {
            FUSED_LOOP(double, gv * (1.0 - yv * yv));
        }
    }
    else {
        if (tg->dtype == TG_FLOAT32) {
            FUSED_LOOP(float, gv * (yv * (1.0f - yv)));
        }
        else {
            FUSED_LOOP(double, gv * (yv * (1.0 - yv)));
        }
    }
    tg_nogil_end(ts);
    return fused_result(c, &f);
}
#undef FUSED_LOOP

/* g * f(x) (negated with `negate`) as one chunked pass, f a NumPy unary
 * loop (sin's g * cos(x), cos's -(g * sin(x))), written over g when only
 * the vjp holds it, or added to input 0's gradient so far:
 * tg_unary_times_kernel.  The same conditions and contract as
 * tg_fused_grad. */
PyObject *
tg_fused_unary_grad(tg_vjp_ctx *c, const char *fn, int negate, PyObject *g,
                    PyObject *x)
{
    fused_target f;
    int rc = fused_out(c, g, x, &f);
    if (rc <= 0) {
        return NULL;
    }
    if (tg_unary_times_kernel(fn, (TensorObject *)g, (TensorObject *)x,
                              negate, f.terms, f.n, f.out) == 0) {
        Py_DECREF(f.out);        /* nothing was written */
        return NULL;
    }
    return fused_result(c, &f);
}

/* ---- vectorcall arguments ------------------------------------------------
 * A METH_FASTCALL | METH_KEYWORDS method's arguments as the tuple and dict
 * a tuple-and-keywords parser reads (*kw NULL without keywords): for the
 * uncommon spellings of calls whose common one reads args[] directly. */
int
tg_vector_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               PyObject **tup, PyObject **kw)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    *kw = NULL;
    if ((*tup = PyTuple_New(nargs)) == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyTuple_SET_ITEM(*tup, i, Py_NewRef(args[i]));
    }
    if (nkw > 0 && (*kw = PyDict_New()) == NULL) {
        goto error;
    }
    for (Py_ssize_t k = 0; k < nkw; k++) {
        if (PyDict_SetItem(*kw, PyTuple_GET_ITEM(kwnames, k),
                           args[nargs + k]) < 0) {
            goto error;
        }
    }
    return 0;
error:
    Py_CLEAR(*tup);
    Py_CLEAR(*kw);
    return -1;
}

/* A type's tp_new called with vectorcall arguments (a type's
 * tp_vectorcall, for the spellings it does not read in place). */
PyObject *
tg_vector_new(newfunc fn, PyObject *type, PyObject *const *args,
              size_t nargsf, PyObject *kwnames)
{
    PyObject *tup, *kw, *r;
    if (tg_vector_args(args, PyVectorcall_NARGS(nargsf), kwnames, &tup,
                       &kw) < 0) {
        return NULL;
    }
    r = fn((PyTypeObject *)type, tup, kw);
    Py_DECREF(tup);
    Py_XDECREF(kw);
    return r;
}

/* ---- shape attributes ----------------------------------------------------
 * A vjp that reshapes or broadcasts a cotangent to an input's shape passes
 * the shape as the op's attribute tuple, ((d0, d1, ...),).  A sweep asks
 * for the same few shapes over and over, so the last ones are kept
 * (immutable tuples of ints, safe to share with tapes that record them). */
#define SHAPE_ATTRS_SLOTS 8
static struct {
    int ndim;
    Py_ssize_t shape[TG_MAXDIMS];
    PyObject *attrs;           /* ((d0, ...),), or NULL */
} shape_attrs_cache[SHAPE_ATTRS_SLOTS];

void
tg_shape_attrs_clear(void)
{
    for (int i = 0; i < SHAPE_ATTRS_SLOTS; i++) {
        Py_CLEAR(shape_attrs_cache[i].attrs);
    }
}

PyObject *
tg_shape_attrs(int ndim, const Py_ssize_t *shape)
{
    uint64_t h = (uint64_t)ndim;
    for (int i = 0; i < ndim; i++) {
        h = h * 1000003u + (uint64_t)shape[i];
    }
    int slot = (int)((h * 0x9E3779B97F4A7C15ull) >> 61);   /* 0..7 */
    if (shape_attrs_cache[slot].attrs != NULL &&
        shape_attrs_cache[slot].ndim == ndim &&
        !memcmp(shape_attrs_cache[slot].shape, shape,
                (size_t)ndim * sizeof(Py_ssize_t))) {
        return Py_NewRef(shape_attrs_cache[slot].attrs);
    }
    PyObject *s = tg_shape_tuple(ndim, shape);
    PyObject *a = s ? PyTuple_Pack(1, s) : NULL;
    Py_XDECREF(s);
    if (a != NULL && ndim <= TG_MAXDIMS) {
        Py_XSETREF(shape_attrs_cache[slot].attrs, Py_NewRef(a));
        shape_attrs_cache[slot].ndim = ndim;
        memcpy(shape_attrs_cache[slot].shape, shape,
               (size_t)ndim * sizeof(Py_ssize_t));
    }
    return a;
}

/* op on x with a shape attribute, e.g. reshape(g, [2, 3]); recorded */
PyObject *
tg_op_to_dims(int op, PyObject *x, int nd, const Py_ssize_t *shape)
{
    PyObject *a, *r;
    if (x == NULL) {
        return NULL;
    }
    a = tg_shape_attrs(nd, shape);
    r = a ? tg_op1(op, x, a) : NULL;
    Py_XDECREF(a);
    return r;
}

/* the same to a slot's shape, e.g. reshape(g, shape of input 0) */
PyObject *
tg_op_to_shape(int op, PyObject *x, const tg_slot *s)
{
    return tg_op_to_dims(op, x, s->ndim, s->shape);
}

/* ---- batched cotangents ---------------------------------------------------
 * In a batched sweep (jacobian) every cotangent has a leading batch
 * dimension the primals lack.  These turn what a vjp means for one
 * cotangent into what it means for the batch. */

/* op(x, shape) for a cotangent x: reshape to [nb] + shape; broadcast_to
 * and sum_to first align x under the batch dimension (broadcasting aligns
 * from the right, which would put nb against a data dimension). */
PyObject *
tg_vjp_to_shape(const tg_vjp_ctx *c, int op, PyObject *x, int nd,
                const Py_ssize_t *shape)
{
    Py_ssize_t full[TG_MAXDIMS + 1], mid[TG_MAXDIMS + 1];
    TensorObject *t = (TensorObject *)x;
    PyObject *r, *tmp = NULL;
    int k;
    if (x == NULL) {
        return NULL;
    }
    if (!c->batch) {
        return tg_op_to_dims(op, x, nd, shape);
    }
    full[0] = t->shape[0];
    memcpy(full + 1, shape, (size_t)nd * sizeof(*full));
    if (op == TG_OP_broadcast_to && t->ndim - 1 < nd) {
        /* [nb] + x's own shape, padded with ones to the target's rank */
        int pad = nd - (t->ndim - 1);
        mid[0] = full[0];
        for (k = 0; k < pad; k++) {
            mid[1 + k] = 1;
        }
        memcpy(mid + 1 + pad, t->shape + 1,
               (size_t)(t->ndim - 1) * sizeof(*mid));
        tmp = tg_op_to_dims(TG_OP_reshape, x, nd + 1, mid);
        if (tmp == NULL) {
            return NULL;
        }
        x = tmp;
    }
    if (op == TG_OP_sum_to && t->ndim - 1 > nd) {
        /* sum to [nb, 1.., shape], then drop the ones */
        int pad = (t->ndim - 1) - nd;
        mid[0] = full[0];
        for (k = 0; k < pad; k++) {
            mid[1 + k] = 1;
        }
        memcpy(mid + 1 + pad, shape, (size_t)nd * sizeof(*mid));
        tmp = tg_op_to_dims(TG_OP_sum_to, x, t->ndim, mid);
        if (tmp == NULL) {
            return NULL;
        }
        x = tmp;
        op = TG_OP_reshape;
    }
    r = tg_op_to_dims(op, x, nd + 1, full);
    Py_XDECREF(tmp);
    return r;
}

/* An indexing key for a cotangent: a leading slice(None) in a batched
 * sweep.  New reference. */
PyObject *
tg_vjp_key(const tg_vjp_ctx *c, PyObject *key)
{
    PyObject *k, *lead, *r;
    if (key == NULL) {
        return NULL;
    }
    if (!c->batch) {
        return Py_NewRef(key);
    }
    if ((k = tg_normalize_key(key)) == NULL) {
        return NULL;
    }
    lead = PySlice_New(NULL, NULL, NULL);
    r = lead ? PyTuple_New(PyTuple_GET_SIZE(k) + 1) : NULL;
    if (r != NULL) {
        PyTuple_SET_ITEM(r, 0, Py_NewRef(lead));
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(k); i++) {
            PyTuple_SET_ITEM(r, i + 1, Py_NewRef(PyTuple_GET_ITEM(k, i)));
        }
    }
    Py_XDECREF(lead);
    Py_DECREF(k);
    return r;
}

/* The axes `axis` (an attribute: None for all, an int, a list...) name in
 * a tensor of rank `ndim`, as a list for its batched cotangent: each one
 * non-negative and moved past the batch dimension.  Unbatched: `axis`
 * itself.  New reference. */
PyObject *
tg_vjp_axes(const tg_vjp_ctx *c, const char *tfname, PyObject *axis,
            int ndim)
{
    char mask[TG_MAXDIMS];
    PyObject *r;
    if (!c->batch) {
        return Py_NewRef(axis);
    }
    if (tg_parse_axes(tfname, "axis", axis, ndim, mask) < 0 ||
        (r = PyList_New(0)) == NULL) {
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        PyObject *v;
        if (!mask[i]) {
            continue;
        }
        v = PyLong_FromLong(i + 1);
        if (v == NULL || PyList_Append(r, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(r);
            return NULL;
        }
        Py_DECREF(v);
    }
    return r;
}

/* Index values `idx` (a tensor, array or list) repeated along a new
 * leading batch dimension in a batched sweep; unbatched: idx itself.  New
 * reference. */
PyObject *
tg_vjp_repeat(const tg_vjp_ctx *c, PyObject *idx)
{
    Py_ssize_t shape[TG_MAXDIMS + 1];
    TensorObject *t;
    PyObject *r;
    if (idx == NULL) {
        return NULL;
    }
    if (!c->batch) {
        return Py_NewRef(idx);
    }
    if ((t = tg_index_tensor("gradient", "indices", idx)) == NULL) {
        return NULL;
    }
    shape[0] = ((TensorObject *)c->g)->shape[0];
    memcpy(shape + 1, t->shape, (size_t)t->ndim * sizeof(*shape));
    r = tg_op_to_dims(TG_OP_broadcast_to, (PyObject *)t, t->ndim + 1, shape);
    Py_DECREF(t);
    return r;
}

/* One axis (an attribute: None means 0, negative counts from the end) of
 * a rank-ndim tensor, for its batched cotangent: axis + 1, non-negative.
 * Unbatched: `axis` itself.  New reference. */
PyObject *
tg_vjp_axis(const tg_vjp_ctx *c, const char *tfname, PyObject *axis,
            int ndim)
{
    Py_ssize_t a = 0;
    if (!c->batch) {
        return Py_NewRef(axis);
    }
    if (axis != Py_None && tg_int_scalar(tfname, "axis", axis, &a) < 0) {
        return NULL;
    }
    if (a < 0) {
        a += ndim;
    }
    return PyLong_FromSsize_t(a + 1);
}

/* op(x) with attributes built by Py_BuildValue(fmt, ...) */
PyObject *
tg_op1_attrs(int op, PyObject *x, const char *fmt, ...)
{
    va_list va;
    PyObject *attrs, *r;
    if (x == NULL || PyErr_Occurred()) {
        return missing_operand();
    }
    va_start(va, fmt);
    attrs = Py_VaBuildValue(fmt, va);
    va_end(va);
    if (attrs == NULL) {
        return NULL;
    }
    r = tg_op1(op, x, attrs);
    Py_DECREF(attrs);
    return r;
}
