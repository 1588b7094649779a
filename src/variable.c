/* variable.c -- the Variable type: a named, mutable holder of a Tensor.
 *
 * Invariants:
 *  - shape and dtype are fixed at creation;
 *  - assign* never writes into an existing tensor: it builds a new value
 *    tensor, so values saved on tapes stay correct (tensors are immutable);
 *  - every value tensor carries the Variable's own id (its "handle"), so all
 *    reads are one tape node and gradient(..., v) sums over every read, as
 *    TF's resource handles do;
 *  - reading a trainable Variable while a tape with
 *    watch_accessed_variables=True records watches it on that tape.
 * A Variable is not a Tensor (as in TF); operators on it give Tensors.
 */
#include "tapegrad.h"
#include "structmember.h"

Py_ssize_t tg_live_variables = 0;

/* from tensor.c */
PyObject *tg_nb_add(PyObject *, PyObject *);
PyObject *tg_nb_subtract(PyObject *, PyObject *);
PyObject *tg_nb_multiply(PyObject *, PyObject *);
PyObject *tg_nb_true_divide(PyObject *, PyObject *);
PyObject *tg_nb_matmul(PyObject *, PyObject *);
PyObject *tg_nb_power(PyObject *, PyObject *, PyObject *);
PyObject *tg_nb_negative(PyObject *);
PyObject *tg_nb_absolute(PyObject *);
PyObject *tg_nb_invert(PyObject *);
PyObject *tg_nb_floor_divide(PyObject *, PyObject *);
PyObject *tg_nb_remainder(PyObject *, PyObject *);
PyObject *tg_nb_and(PyObject *, PyObject *);
PyObject *tg_nb_or(PyObject *, PyObject *);
PyObject *tg_richcompare(PyObject *, PyObject *, int);
PyObject *tg_numpy_text(TensorObject *, int);
PyObject *tg_tensor_getitem(PyObject *, PyObject *);

/* reads so far: tg_call compares it around an op to mark results made
 * from a Variable (tape.explain) */
Py_ssize_t tg_variable_reads = 0;

TensorObject *
tg_variable_read(VariableObject *v)
{
    tg_variable_reads++;
    if (tg_tape_variable_accessed(v) < 0) {
        return NULL;
    }
    return (TensorObject *)Py_NewRef(v->value);
}

/* Re-label `t` as a value of `v`: same bytes, the variable's handle id. */
static TensorObject *
as_value(VariableObject *v, TensorObject *t)
{
    return tg_tensor_view(t, t->ndim, t->shape, v->id);
}

/* v's value as a tensor whose bytes an optimizer may overwrite in place:
 * v's own value when nothing else can see those bytes (no other reference
 * to the value or to the buffer it views), else a fresh copy that becomes
 * v's value (copy on write), so a tensor read earlier, or saved on a
 * tape, keeps its bytes.  Borrowed; NULL with an exception. */
TensorObject *
tg_variable_writable(VariableObject *v)
{
    TensorObject *val = v->value, *fresh, *nv;
    PyObject *base = val->base;
    if (Py_REFCNT(val) == 1 && base != NULL && Tensor_Check(base) &&
        ((TensorObject *)base)->base == NULL && Py_REFCNT(base) == 1) {
        /* the caller writes these bytes: they stop being known ones */
        val->all_ones = ((TensorObject *)base)->all_ones = 0;
        return val;
    }
    fresh = tg_tensor_new(val->dtype, val->ndim, val->shape);
    if (fresh == NULL) {
        return NULL;
    }
    memcpy(fresh->data, val->data,
           (size_t)val->size * (size_t)tg_dtype_size[val->dtype]);
    nv = as_value(v, fresh);
    Py_DECREF(fresh);
    if (nv == NULL) {
        return NULL;
    }
    Py_SETREF(v->value, nv);
    return nv;
}

/* A new variable of `type` holding `t`'s value (relabelled with the new
 * variable's id; `t` itself is untouched) under exactly `name`. */
static PyObject *
variable_make(PyTypeObject *type, TensorObject *t, int trainable,
              PyObject *name)
{
    VariableObject *self = PyObject_GC_New(VariableObject, type);
    if (self == NULL) {
        return NULL;
    }
    self->id = tg_next_id();
    self->value = NULL;
    self->name = Py_NewRef(name);
    self->weakreflist = NULL;
    self->trainable = trainable;
    tg_live_variables++;
    self->value = as_value(self, t);
    if (self->value == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

/* "Variable:0", every unnamed variable's name: made once (interned,
 * kept for the process, as the tape stack's key) */
static PyObject *default_name;

static PyObject *variable_build(PyTypeObject *type, PyObject *init,
                                PyObject *trainable, PyObject *name,
                                PyObject *dtype_obj);

static PyObject *
variable_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"initial_value", "trainable", "name", "dtype",
                             "validate_shape", "caching_device", "shape",
                             NULL};
    PyObject *init = Py_None, *trainable = Py_None, *name = Py_None;
    PyObject *dtype_obj = Py_None, *ignore = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOOOOOO:Variable", kwlist,
                                     &init, &trainable, &name, &dtype_obj,
                                     &ignore, &ignore, &ignore)) {
        return NULL;
    }
    return variable_build(type, init, trainable, name, dtype_obj);
}

/* Variable(1.0), the usual call, as a vectorcall on the type (never
 * inherited: subclasses take type_call): the one argument read in place,
 * no tuple made, no parser; other spellings go through variable_new. */
static PyObject *
variable_vectorcall(PyObject *type, PyObject *const *args, size_t nargsf,
                    PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) == 1 && kwnames == NULL) {
        return variable_build((PyTypeObject *)type, args[0], Py_None,
                              Py_None, Py_None);
    }
    return tg_vector_new(variable_new, type, args, nargsf, kwnames);
}

/* A new Variable from Variable()'s arguments (validate_shape,
 * caching_device and shape are accepted and ignored) */
static PyObject *
variable_build(PyTypeObject *type, PyObject *init, PyObject *trainable,
               PyObject *name, PyObject *dtype_obj)
{
    PyObject *self = NULL, *full = NULL, *scope;
    TensorObject *t = NULL;
    int dtype, is_trainable;
    if (init == Py_None) {
        PyErr_SetString(PyExc_ValueError,
                        "The initial value must be specified.");
        return NULL;
    }
    if (tg_dtype_arg(dtype_obj, &dtype) < 0) {
        return NULL;
    }
    if (PyCallable_Check(init) && !Tensor_Check(init) &&
        !Variable_Check(init) && !PyType_Check(init)) {
        init = PyObject_CallNoArgs(init);
    }
    else {
        Py_INCREF(init);
    }
    if (init == NULL) {
        return NULL;
    }
    t = tg_convert(init, dtype, "Variable");
    Py_DECREF(init);
    if (t == NULL) {
        return NULL;
    }
    if (dtype >= 0 && t->dtype != dtype) {
        PyErr_Format(PyExc_TypeError,
                     "Expected tensor with dtype tapegrad.%s, but got dtype "
                     "tapegrad.%s.", tg_dtype_names[dtype],
                     tg_dtype_names[t->dtype]);
        goto done;
    }
    is_trainable = trainable == Py_None ? 1 : PyObject_IsTrue(trainable);
    if (is_trainable < 0) {
        goto done;
    }
    /* inside tf.name_scope('dense') the name is 'dense/w:0' (and
     * 'dense/Variable:0' unnamed), as TF's eager variables are named; as
     * there, a name ending in '/' is the whole name ('w/' is 'w:0') and
     * '' leaves the scope (':0') */
    if (tg_scope_name(&scope) < 0) {
        goto done;
    }
    if (name == Py_None) {
        full = scope == NULL ? Py_NewRef(default_name)
                             : PyUnicode_FromFormat("%UVariable:0", scope);
    }
    else if (PyUnicode_Check(name)) {
        Py_ssize_t len = PyUnicode_GET_LENGTH(name);
        if (len > 0 && PyUnicode_READ_CHAR(name, len - 1) == '/') {
            PyObject *whole = PyUnicode_Substring(name, 0, len - 1);
            full = whole ? PyUnicode_FromFormat("%U:0", whole) : NULL;
            Py_XDECREF(whole);
        }
        else if (scope == NULL || len == 0) {
            full = PyUnicode_FromFormat("%U:0", name);
        }
        else {
            full = PyUnicode_FromFormat("%U%U:0", scope, name);
        }
    }
    else {
        PyErr_Format(PyExc_TypeError, "Variable name must be a string, not %s",
                     Py_TYPE(name)->tp_name);
    }
    if (full == NULL) {
        goto done;
    }
    self = variable_make(type, t, is_trainable, full);
done:
    Py_XDECREF(t);
    Py_XDECREF(full);
    return self;
}

static int
variable_traverse(VariableObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->value);
    Py_VISIT(self->name);
    return 0;
}

static int
variable_clear(VariableObject *self)
{
    Py_CLEAR(self->value);
    Py_CLEAR(self->name);
    return 0;
}

static void
variable_dealloc(VariableObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    variable_clear(self);
    tg_live_variables--;
    PyObject_GC_Del(self);
    Py_DECREF(tp);
}

/* ---- assignment -------------------------------------------------------------- */

static PyObject *
variable_assign_impl(VariableObject *self, PyObject *value, int op)
{
    TensorObject *t = NULL, *r = NULL;
    t = tg_convert(value, self->value->dtype, "AssignVariableOp");
    if (t == NULL) {
        return NULL;
    }
    if (t->dtype != self->value->dtype) {
        PyErr_Format(PyExc_TypeError,
                     "Cannot assign a value of dtype tapegrad.%s to variable "
                     "'%U' of dtype tapegrad.%s", tg_dtype_names[t->dtype],
                     self->name, tg_dtype_names[self->value->dtype]);
        goto error;
    }
    int same = t->ndim == self->value->ndim;
    for (int i = 0; same && i < t->ndim; i++) {
        same = t->shape[i] == self->value->shape[i];
    }
    if (!same) {
        PyObject *a = tg_shape_tuple(self->value->ndim, self->value->shape);
        PyObject *b = a ? tg_shape_tuple(t->ndim, t->shape) : NULL;
        if (b) {
            PyErr_Format(PyExc_ValueError,
                         "Cannot assign value to variable '%U': Shape "
                         "mismatch. The variable shape %R, and the assigned "
                         "value shape %R are incompatible.", self->name, a, b);
        }
        Py_XDECREF(a);
        Py_XDECREF(b);
        goto error;
    }
    if (op >= 0) {
        /* not differentiable through, as in TF: nothing is recorded */
        TensorObject *in[2] = {self->value, t};
        tg_no_record++;
        r = (TensorObject *)tg_call_tensors(op, 2, in, NULL);
        tg_no_record--;
        if (r == NULL) {
            goto error;
        }
        Py_SETREF(t, r);
    }
    r = as_value(self, t);
    if (r == NULL) {
        goto error;
    }
    Py_SETREF(self->value, r);
    Py_DECREF(t);
    return Py_NewRef(self);
error:
    Py_DECREF(t);
    return NULL;
}

#define ASSIGN_METHOD(NAME, OP)                                              \
    static PyObject *NAME(VariableObject *self, PyObject *args, PyObject *kw) \
    {                                                                        \
        static char *kwlist[] = {"value", "use_locking", "name",             \
                                 "read_value", NULL};                        \
        PyObject *value, *ignore;                                            \
        if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOO", kwlist, &value,  \
                                         &ignore, &ignore, &ignore)) {       \
            return NULL;                                                     \
        }                                                                    \
        return variable_assign_impl(self, value, OP);                        \
    }
ASSIGN_METHOD(variable_assign, -1)
ASSIGN_METHOD(variable_assign_add, TG_OP_add)
ASSIGN_METHOD(variable_assign_sub, TG_OP_subtract)
#undef ASSIGN_METHOD

/* ---- reading ----------------------------------------------------------------- */

static PyObject *
variable_read_value(VariableObject *self, PyObject *Py_UNUSED(ignored))
{
    return (PyObject *)tg_variable_read(self);
}

static PyObject *
variable_numpy(VariableObject *self, PyObject *Py_UNUSED(ignored))
{
    return tg_tensor_numpy(self->value);
}

static PyObject *
variable_array(VariableObject *self, PyObject *args, PyObject *kw)
{
    return tg_tensor_array(self->value, args, kw);
}

static PyObject *
variable_format(VariableObject *self, PyObject *spec)
{
    PyObject *v, *r;
    if (tg_check_format_spec("Variable", spec) < 0) {
        return NULL;
    }
    /* a strong reference: a user formatter NumPy runs may assign to self */
    v = Py_NewRef(self->value);
    r = PyObject_Format(v, spec);
    Py_DECREF(v);
    return r;
}

static PyObject *
variable_repr(VariableObject *self)
{
    /* a strong reference: NumPy's printing may run a user formatter that
     * assigns this variable */
    TensorObject *v = (TensorObject *)Py_NewRef(self->value);
    PyObject *text = tg_numpy_text(v, 1), *shape = NULL, *r = NULL;
    if (text && (shape = tg_shape_tuple(v->ndim, v->shape))) {
        r = PyUnicode_FromFormat(
            "<tapegrad.Variable '%U' shape=%R dtype=%s, numpy=%U>",
            self->name, shape, tg_dtype_names[v->dtype], text);
    }
    Py_XDECREF(text);
    Py_XDECREF(shape);
    Py_DECREF(v);
    return r;
}

static PyObject *
variable_get(VariableObject *self, void *which)
{
    switch ((int)(intptr_t)which) {
        case 0: return Py_NewRef(self->name);
        case 1: return PyBool_FromLong(self->trainable);
        case 2: return tg_shape_object(self->value->ndim, self->value->shape);
        case 3: return Py_NewRef(tg_dtype_obj(self->value->dtype));
        case 4: return PyLong_FromLong(self->value->ndim);
        case 6: return tg_device_name();
        case 7: return PyLong_FromLongLong(self->id);
        default: return PyFloat_FromDouble(100.0); /* __array_priority__ */
    }
}

static Py_hash_t
variable_hash(PyObject *self)
{
    /* TF: Variables are unhashable when equality is elementwise */
    PyErr_SetString(PyExc_TypeError,
                    "Variable is unhashable. Instead, use variable.ref() as "
                    "the key.");
    (void)self;
    return -1;
}

#define VALUE_SLOT(NAME, EXPR)                                              \
    static PyObject *NAME(PyObject *self)                                   \
    {                                                                       \
        PyObject *v = (PyObject *)((VariableObject *)self)->value;          \
        return EXPR;                                                        \
    }
VALUE_SLOT(variable_float, PyNumber_Float(v))
VALUE_SLOT(variable_int, PyNumber_Long(v))
VALUE_SLOT(variable_index, PyNumber_Index(v))
#undef VALUE_SLOT

static int
variable_bool(PyObject *self)
{
    return PyObject_IsTrue((PyObject *)((VariableObject *)self)->value);
}

static Py_ssize_t
variable_length(PyObject *self)
{
    return PyObject_Length((PyObject *)((VariableObject *)self)->value);
}

/* ---- slices of a variable ---------------------------------------------------
 * `v[1:, ::2].assign(x)`: TF gives the tensor a Variable's indexing returns
 * an `assign` that writes into that slice of the variable.  Our tensors
 * have no per-object attributes, so the slice is remembered here, by the
 * tensor's id (never reused), until the tensor dies (tensor_dealloc asks
 * tg_variable_slice_forget while any slice is remembered).  The write
 * itself is Python (tapegrad/_variables.py, registered as a helper). */
/* tensor id -> index in slice_list (-1 once the tensor died); entries are
 * (id, variable, normalized key) or None.  A tensor's dealloc drops its
 * entry without allocating (a failed allocation there would keep the
 * variable alive); registration compacts the tombstones away. */
static tg_idmap *slice_ids = NULL;
static PyObject *slice_list = NULL;
Py_ssize_t tg_num_variable_slices = 0;

void
tg_variable_slice_forget(int64_t id)
{
    int64_t pos;
    PyObject *entry;
    if (!tg_idmap_get(slice_ids, id, &pos) || pos < 0) {
        return;
    }
    tg_idmap_update(slice_ids, id, -1);
    entry = PyList_GET_ITEM(slice_list, pos);
    PyList_SET_ITEM(slice_list, pos, Py_NewRef(Py_None));
    tg_num_variable_slices--;
    Py_DECREF(entry);
}

/* (variable, key) of the slice tensor `t` (new reference), or NULL
 * without an exception */
PyObject *
tg_variable_slice_of(TensorObject *t)
{
    int64_t pos;
    PyObject *entry;
    if (tg_num_variable_slices == 0 || !tg_idmap_get(slice_ids, t->id, &pos)
        || pos < 0) {
        return NULL;
    }
    entry = PyList_GET_ITEM(slice_list, pos);
    return PyTuple_GetSlice(entry, 1, 3);
}

/* drop the tombstones once they are most of the list (allocates: only
 * here, never in a dealloc); on failure nothing changes */
static void
slices_compact(void)
{
    Py_ssize_t n = PyList_GET_SIZE(slice_list);
    PyObject *list = PyList_New(0);
    tg_idmap *ids = list ? tg_idmap_new(tg_num_variable_slices + 1) : NULL;
    for (Py_ssize_t i = 0; ids != NULL && i < n; i++) {
        PyObject *e = PyList_GET_ITEM(slice_list, i);
        if (e == Py_None) {
            continue;
        }
        int64_t id = PyLong_AsLongLong(PyTuple_GET_ITEM(e, 0));
        if (PyList_Append(list, e) < 0 ||
            tg_idmap_put(&ids, id, PyList_GET_SIZE(list) - 1) < 0) {
            tg_idmap_free(ids);
            ids = NULL;
        }
    }
    if (ids == NULL) {
        PyErr_Clear();
        Py_XDECREF(list);
        return;
    }
    Py_SETREF(slice_list, list);
    tg_idmap_free(slice_ids);
    slice_ids = ids;
}

static int
slice_remember(TensorObject *t, PyObject *var, PyObject *key)
{
    PyObject *norm, *id, *entry;
    Py_ssize_t n;
    if (slice_list == NULL && (slice_list = PyList_New(0)) == NULL) {
        return -1;
    }
    n = PyList_GET_SIZE(slice_list);
    if (n > 64 && 2 * tg_num_variable_slices < n) {
        slices_compact();
        n = PyList_GET_SIZE(slice_list);
    }
    norm = tg_normalize_key(key);
    id = norm ? PyLong_FromLongLong(t->id) : NULL;
    entry = id ? PyTuple_Pack(3, id, var, norm) : NULL;
    Py_XDECREF(norm);
    Py_XDECREF(id);
    if (entry == NULL || PyList_Append(slice_list, entry) < 0) {
        Py_XDECREF(entry);
        return -1;
    }
    Py_DECREF(entry);
    if (tg_idmap_put(&slice_ids, t->id, n) < 0) {
        PyList_SetSlice(slice_list, n, n + 1, NULL);
        return -1;
    }
    tg_num_variable_slices++;
    return 0;
}

static PyObject *
variable_getitem(PyObject *self, PyObject *key)
{
    TensorObject *t = tg_variable_read((VariableObject *)self);
    PyObject *r;
    if (t == NULL) {
        return NULL;
    }
    r = tg_tensor_getitem((PyObject *)t, key);
    Py_DECREF(t);
    if (r == NULL || !Tensor_Check(r)) {
        return r;
    }
    if (slice_remember((TensorObject *)r, self, key) < 0) {
        Py_CLEAR(r);
    }
    return r;
}

static PyObject *
variable_iter(PyObject *self)
{
    TensorObject *t = tg_variable_read((VariableObject *)self);
    PyObject *r;
    if (t == NULL) {
        return NULL;
    }
    r = PyObject_GetIter((PyObject *)t);
    Py_DECREF(t);
    return r;
}

static PyObject *
variable_ref(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return tg_make_ref(self);
}

/* ---- copies and pickles ------------------------------------------------------
 * As TF's ResourceVariable: copy.copy gives the variable itself; a deep
 * copy or an unpickled one is a new, independent variable with the value,
 * name, trainable flag and dtype (the copy module's memo keeps a variable
 * shared within one structure shared in its copy).  Neither reads the
 * variable, so a tape watching it neither watches nor comes along with
 * the copy. */

static PyObject *
variable_copy(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(self);
}

static PyObject *
variable_deepcopy(VariableObject *self, PyObject *Py_UNUSED(memo))
{
    TensorObject *val = (TensorObject *)Py_NewRef(self->value);
    TensorObject *fresh = tg_tensor_new(val->dtype, val->ndim, val->shape);
    PyObject *r = NULL;
    if (fresh == NULL) {
        goto done;
    }
    if (val->size > 0) {        /* fresh bytes: nothing shared at all */
        memcpy(fresh->data, val->data,
               (size_t)val->size * (size_t)tg_dtype_size[val->dtype]);
    }
    r = variable_make(Py_TYPE(self), fresh, self->trainable, self->name);
done:
    Py_XDECREF(fresh);
    Py_DECREF(val);
    return r;
}

/* (tapegrad._variables.variable_from_state, (array, trainable, name,
 * dtype)): the exact name is kept (Keras' 'kernel' as well as 'w:0') */
static PyObject *
variable_reduce(VariableObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *extra = PyTuple_Pack(3, self->trainable ? Py_True : Py_False,
                                   self->name,
                                   tg_dtype_obj(self->value->dtype));
    PyObject *r;
    if (extra == NULL) {
        return NULL;
    }
    r = tg_reduce_value("variable_from_state", self->value, extra);
    Py_DECREF(extra);
    return r;
}

static PyMethodDef variable_methods[] = {
    {"assign", (PyCFunction)(void (*)(void))variable_assign,
     METH_VARARGS | METH_KEYWORDS,
     "assign($self, /, value, use_locking=False, name=None, read_value=True)"
     "\n--\n\nReplace the value (same shape and dtype); not recorded."},
    {"assign_add", (PyCFunction)(void (*)(void))variable_assign_add,
     METH_VARARGS | METH_KEYWORDS,
     "assign_add($self, /, delta, use_locking=False, name=None, "
     "read_value=True)\n--\n\nAdd to the value in place; not recorded."},
    {"assign_sub", (PyCFunction)(void (*)(void))variable_assign_sub,
     METH_VARARGS | METH_KEYWORDS,
     "assign_sub($self, /, delta, use_locking=False, name=None, "
     "read_value=True)\n--\n\nSubtract from the value in place; not "
     "recorded."},
    {"ref", (PyCFunction)variable_ref, METH_NOARGS,
     "ref($self, /)\n--\n\nA hashable reference to this variable, usable "
     "as a dict or set key; deref() gives the variable back."},
    {"__copy__", (PyCFunction)variable_copy, METH_NOARGS,
     "__copy__($self, /)\n--\n\nThe variable itself, as TF's."},
    {"__deepcopy__", (PyCFunction)variable_deepcopy, METH_O,
     "__deepcopy__($self, memo, /)\n--\n\nA new variable with a copy of "
     "the value, the name, trainable and dtype."},
    {"__reduce__", (PyCFunction)variable_reduce, METH_NOARGS,
     "__reduce__($self, /)\n--\n\nPickle as a new variable with the "
     "value, name, trainable and dtype."},
    {"read_value", (PyCFunction)variable_read_value, METH_NOARGS,
     "read_value($self, /)\n--\n\nThe current value as a Tensor "
     "(differentiable with respect to this variable)."},
    {"value", (PyCFunction)variable_read_value, METH_NOARGS,
     "value($self, /)\n--\n\nSame as read_value()."},
    {"numpy", (PyCFunction)variable_numpy, METH_NOARGS,
     "numpy($self, /)\n--\n\nThe current value as a NumPy array."},
    {"__array__", (PyCFunction)(void (*)(void))variable_array,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"__format__", (PyCFunction)variable_format, METH_O, NULL},
    TG_DLPACK_METHODS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef variable_getset[] = {
    {"name", (getter)variable_get, NULL, "'w:0'", (void *)0},
    {"trainable", (getter)variable_get, NULL, NULL, (void *)1},
    {"shape", (getter)variable_get, NULL, NULL, (void *)2},
    {"dtype", (getter)variable_get, NULL, NULL, (void *)3},
    {"ndim", (getter)variable_get, NULL, NULL, (void *)4},
    {"__array_priority__", (getter)variable_get, NULL, NULL, (void *)5},
    {"device", (getter)variable_get, NULL, "Always the host CPU.", (void *)6},
    {"_id", (getter)variable_get, NULL, "Handle id, shared by every value "
     "read (internal: tape.explain).", (void *)7},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef variable_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(VariableObject, weakreflist),
     READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot variable_slots[] = {
    {Py_tp_new, variable_new},
    {Py_tp_dealloc, variable_dealloc},
    {Py_tp_traverse, variable_traverse},
    {Py_tp_clear, variable_clear},
    {Py_tp_repr, variable_repr},
    {Py_tp_hash, variable_hash},
    {Py_tp_iter, variable_iter},
    {Py_tp_richcompare, tg_richcompare},
    {Py_tp_methods, variable_methods},
    {Py_tp_getset, variable_getset},
    {Py_tp_members, variable_members},
    {Py_nb_add, tg_nb_add},
    {Py_nb_subtract, tg_nb_subtract},
    {Py_nb_multiply, tg_nb_multiply},
    {Py_nb_true_divide, tg_nb_true_divide},
    {Py_nb_matrix_multiply, tg_nb_matmul},
    {Py_nb_power, tg_nb_power},
    {Py_nb_negative, tg_nb_negative},
    {Py_nb_absolute, tg_nb_absolute},
    {Py_nb_floor_divide, tg_nb_floor_divide},
    {Py_nb_remainder, tg_nb_remainder},
    {Py_nb_and, tg_nb_and},
    {Py_nb_or, tg_nb_or},
    {Py_nb_invert, tg_nb_invert},
    {Py_nb_float, variable_float},
    {Py_nb_int, variable_int},
    {Py_nb_index, variable_index},
    {Py_nb_bool, variable_bool},
    {Py_mp_subscript, variable_getitem},
    {Py_mp_length, variable_length},
    {Py_tp_doc,
     /* the name before "(" is the type's, so that inspect finds it */
     "ResourceVariable(initial_value=None, trainable=None, name=None, "
     "dtype=None, validate_shape=True, caching_device=None, shape=None)"
     "\n--\n\n"
     "A mutable tensor-valued state: model parameters.  Reads while a\n"
     "GradientTape records are watched automatically (if trainable:\n"
     "trainable=None means True).  validate_shape, caching_device and\n"
     "shape are accepted for TF's sake and ignored: the shape is fixed."},
    {0, NULL},
};

static PyType_Spec variable_spec = {
    /* as TF's: tf.Variable(...) builds a ResourceVariable, which is what
     * type(v).__name__ shows; exported as tapegrad.Variable too */
    .name = "tapegrad.ResourceVariable",
    .basicsize = sizeof(VariableObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = variable_slots,
};

int
tg_variable_init_type(PyObject *module)
{
    if (default_name == NULL &&
        (default_name = PyUnicode_InternFromString("Variable:0")) == NULL) {
        return -1;
    }
    tg_st->variable_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &variable_spec, NULL);
    if (tg_st->variable_type == NULL) {
        return -1;
    }
    tg_st->variable_type->tp_vectorcall = variable_vectorcall;
    if (PyModule_AddObjectRef(module, "Variable",
                              (PyObject *)tg_st->variable_type) < 0) {
        return -1;
    }
    return PyModule_AddType(module, tg_st->variable_type);
}
