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

/* A shape argument: an int, a list/tuple of ints, or an int tensor. */
int
tg_parse_shape(const char *tfname, PyObject *obj, int *ndim, Py_ssize_t *shape)
{
    PyObject *seq;
    if (obj == Py_None) {
        PyErr_Format(PyExc_TypeError, "%s: a shape is required", tfname);
        return -1;
    }
    if (Tensor_Check(obj)) {
        PyObject *arr = tg_tensor_as_array((TensorObject *)obj);
        seq = arr ? PyObject_CallMethod(arr, "tolist", NULL) : NULL;
        Py_XDECREF(arr);
        if (seq != NULL && !PyList_Check(seq)) {
            Py_SETREF(seq, Py_BuildValue("[N]", seq));
        }
        if (seq != NULL && ((TensorObject *)obj)->ndim > 1) {
            PyErr_Format(PyExc_ValueError,
                         "%s: a shape tensor must have rank 0 or 1, got "
                         "rank %d", tfname, ((TensorObject *)obj)->ndim);
            Py_CLEAR(seq);
        }
    }
    else if (PyLong_Check(obj)) {
        seq = Py_BuildValue("[O]", obj);
    }
    else {
        seq = tg_sequence_list(obj);
        if (seq == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "%s: shape must be a list or tuple of integers, got "
                         "%.200R", tfname, obj);
        }
    }
    if (seq == NULL) {
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(seq);
    if (n > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "%s: tapegrad supports at most %d dimensions, got %zd",
                     tfname, TG_MAXDIMS, n);
        Py_DECREF(seq);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PyList_GET_ITEM(seq, i);
        if (PyFloat_Check(d) || PyBool_Check(d) || PyList_Check(d)) {
            PyErr_Format(PyExc_TypeError,
                         "%s: shape dimensions must be integers, got %R",
                         tfname, d);
            Py_DECREF(seq);
            return -1;
        }
        shape[i] = PyNumber_AsSsize_t(d, PyExc_OverflowError);
        if (shape[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
    }
    *ndim = (int)n;
    Py_DECREF(seq);
    return 0;
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

PyObject *
tg_shape_attrs(int ndim, const Py_ssize_t *shape)
{
    PyObject *s = tg_shape_tuple(ndim, shape);
    PyObject *a = s ? PyTuple_Pack(1, s) : NULL;
    Py_XDECREF(s);
    return a;
}

/* op on x with a shape attribute, e.g. reshape(g, input shape) */
PyObject *
tg_op_to_shape(int op, PyObject *x, const tg_slot *s)
{
    PyObject *a, *r;
    if (x == NULL) {
        return NULL;
    }
    a = tg_shape_attrs(s->ndim, s->shape);
    r = a ? tg_op1(op, x, a) : NULL;
    Py_XDECREF(a);
    return r;
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
