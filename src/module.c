/* module.c -- the tapegrad._tapegrad module: init, module functions, and
 * the Python functions generated from the op table.
 *
 * One module instance per process (single-phase init): the per-op fast path
 * keeps process-wide state (the tensor id counter, the thread-local tape
 * stack cache), so loading the module twice, e.g. in subinterpreters, is
 * not supported.
 *
 * Every row of ops.def with a public API path becomes a function here with
 * the row's TF signature (inputs, then attributes with defaults, then
 * name=None), parsed by one generic entry point, op_entry().
 */
#define TG_MAIN_MODULE
#include "tapegrad.h"

static tg_state state;
tg_state *tg_st = &state;
static PyMethodDef op_defs[TG_NOPS];


/* ---- generated op functions -------------------------------------------------- */

static int
find_name(PyObject *names, PyObject *key)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        PyObject *n = PyTuple_GET_ITEM(names, i);
        if (n == key) {
            return (int)i;
        }
        int eq = PyUnicode_Compare(n, key);
        if (eq == 0) {
            return (int)i;
        }
        if (eq == -1 && PyErr_Occurred()) {
            PyErr_Clear();
        }
    }
    return -1;
}

static PyObject *
input_names(int op)
{
    PyObject *s = PyUnicode_FromString(tg_ops[op].inputs);
    PyObject *sep = PyUnicode_FromString(", ");
    PyObject *r = (s && sep) ? PyUnicode_Split(s, sep, -1) : NULL;
    Py_XDECREF(s);
    Py_XDECREF(sep);
    if (r != NULL) {
        Py_SETREF(r, PyList_AsTuple(r));
    }
    return r;
}

/* einsum(equation, *inputs, name=None): the attribute comes first and the
 * remaining positional arguments are the inputs.  With the attribute given
 * by keyword, the positional arguments (or one list of them) are the
 * inputs, so einsum([a, b], equation=...) works too. */
static PyObject *
run_attr_first(int op, PyObject *const *args, Py_ssize_t nargs,
               PyObject *kwnames)
{
    const tg_opsig *sig = &tg_st->sig[op];
    PyObject *attr = NULL, *attrs = NULL, *r = NULL, *seq = NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *const *inputs = args;
    Py_ssize_t ninputs = nargs;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        if (PyUnicode_Compare(key, PyTuple_GET_ITEM(sig->attr_names, 0)) ==
            0) {
            attr = args[nargs + k];
        }
        else if (PyUnicode_CompareWithASCIIString(key, "name") != 0) {
            PyErr_Format(PyExc_TypeError,
                         "%s() got an unexpected keyword argument '%U'",
                         tg_ops[op].name, key);
            return NULL;
        }
    }
    if (attr == NULL) {
        if (nargs < 1) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument "
                         "'%U' (pos 1)", tg_ops[op].name,
                         PyTuple_GET_ITEM(sig->attr_names, 0));
            return NULL;
        }
        attr = args[0];
        inputs = args + 1;
        ninputs = nargs - 1;
    }
    if (ninputs == 1 && (PyList_Check(inputs[0]) || PyTuple_Check(inputs[0]))) {
        /* a tuple of our own: converting an item can run code that
         * changes a list under our feet */
        seq = PySequence_Tuple(inputs[0]);
        if (seq == NULL) {
            return NULL;
        }
        inputs = &PyTuple_GET_ITEM(seq, 0);
        ninputs = PyTuple_GET_SIZE(seq);
    }
    if (ninputs == 0) {
        PyErr_Format(PyExc_ValueError, "%s: no input tensors given",
                     tg_ops[op].name);
    }
    else if ((attrs = PyTuple_Pack(1, attr)) != NULL) {
        r = tg_call(op, (int)ninputs, inputs, attrs);
    }
    Py_XDECREF(attrs);
    Py_XDECREF(seq);
    return r;
}

/* TF's list parameter: add_n(inputs), concat(values, axis)...  The
 * items go into a tuple of our own first: converting one can run code
 * (an __array__) that changes the caller's list, whose other items would
 * then be freed under us. */
static PyObject *
run_variadic(int op, PyObject *values, PyObject *attrs)
{
    const char *fname = tg_ops[op].name;
    PyObject *seq, *it, *r = NULL;
    if (op == TG_OP_concat && (Tensor_Check(values) ||
                               Variable_Check(values))) {
        /* TF's concat takes a lone tensor as [values] (add_n and stack
         * iterate it, as TF's do) */
        seq = PyTuple_Pack(1, values);
    }
    else if ((it = PyObject_GetIter(values)) == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "%s: expected a list or tuple of tensors, got %.200R",
                         fname, values);
        }
        return NULL;
    }
    else {
        /* an error raised while iterating (a generator's) is kept */
        seq = PySequence_Tuple(it);
        Py_DECREF(it);
    }
    if (seq == NULL) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(seq) == 0) {
        PyErr_Format(PyExc_ValueError, "%s: the list of inputs is empty",
                     fname);
    }
    else if (PyTuple_GET_SIZE(seq) > INT_MAX) {
        PyErr_Format(PyExc_ValueError, "%s: too many inputs", fname);
    }
    else {
        r = tg_call(op, (int)PyTuple_GET_SIZE(seq), &PyTuple_GET_ITEM(seq, 0),
                    attrs);
    }
    Py_DECREF(seq);
    return r;
}

/* Run row `op` with Python-level arguments, as its TF signature says. */
static PyObject *
run_op(int op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    const tg_opsig *sig = &tg_st->sig[op];
    int nin = sig->nin;
    Py_ssize_t nattr = PyTuple_GET_SIZE(sig->attr_names);
    PyObject *vals[16] = {NULL};
    PyObject *attrs = NULL, *inames = NULL, *r = NULL;
    const char *fname = tg_ops[op].name;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    if (tg_ops[op].flags & TG_ATTR_FIRST) {
        return run_attr_first(op, args, nargs, kwnames);
    }
    if (nin + nattr > 16) {
        PyErr_SetString(PyExc_SystemError, "tapegrad: too many parameters");
        return NULL;
    }
    /* the trailing `name`, unless the row lists it among its attributes */
    Py_ssize_t npos = nin + nattr + !(tg_ops[op].flags & TG_NAME_ATTR);
    if (nargs > npos) {
        PyErr_Format(PyExc_TypeError,
                     "%s() takes at most %zd positional arguments (%zd given)",
                     fname, npos, nargs);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs && i < nin + nattr; i++) {
        vals[i] = args[i];
    }
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int idx = -1;
        if (PyUnicode_CompareWithASCIIString(key, "name") == 0) {
            continue;
        }
        if (inames == NULL && (inames = input_names(op)) == NULL) {
            goto done;
        }
        idx = find_name(inames, key);
        if (idx < 0) {
            idx = find_name(sig->attr_names, key);
            if (idx >= 0) {
                idx += nin;
            }
        }
        if (idx < 0 || vals[idx] != NULL) {
            PyErr_Format(PyExc_TypeError, idx < 0
                         ? "%s() got an unexpected keyword argument '%U'"
                         : "%s() got multiple values for argument '%U'",
                         fname, key);
            goto done;
        }
        vals[idx] = args[nargs + k];
    }
    for (int i = 0; i < nin; i++) {
        if (vals[i] == NULL) {
            if (inames == NULL && (inames = input_names(op)) == NULL) {
                goto done;
            }
            PyErr_Format(PyExc_TypeError,
                         "%s() missing required argument '%U' (pos %d)",
                         fname, PyTuple_GET_ITEM(inames, i), i + 1);
            goto done;
        }
    }
    if (nattr > 0) {
        attrs = PyTuple_New(nattr);
        if (attrs == NULL) {
            goto done;
        }
        for (Py_ssize_t i = 0; i < nattr; i++) {
            PyObject *v = vals[nin + i];
            if (v == NULL) {
                v = PyTuple_GET_ITEM(sig->attr_defaults, i);
            }
            PyTuple_SET_ITEM(attrs, i, Py_NewRef(v));
        }
    }
    if (tg_ops[op].flags & TG_VARIADIC) {
        r = run_variadic(op, vals[0], attrs);
        goto done;
    }
    r = tg_call(op, nin, vals, attrs);
done:
    Py_XDECREF(attrs);
    Py_XDECREF(inames);
    return r;
}

/* One entry point per row, so each function is a plain built-in of the
 * module (`<built-in function add>`) that knows its row. */
#define TG_OP(NAME, ...)                                                     \
    static PyObject *NAME##_entry(PyObject *Py_UNUSED(m),                    \
                                  PyObject *const *args, Py_ssize_t nargs,   \
                                  PyObject *kwnames)                         \
    {                                                                        \
        return run_op(TG_OP_##NAME, args, nargs, kwnames);                   \
    }
#include "ops.def"
#undef TG_OP

typedef PyObject *(*op_entry_fn)(PyObject *, PyObject *const *, Py_ssize_t,
                                 PyObject *);
static const op_entry_fn op_entries[TG_NOPS] = {
#define TG_OP(NAME, ...) NAME##_entry,
#include "ops.def"
#undef TG_OP
};

/* _call(name, *inputs, **attrs): any row, internal ones included (tests) */
static PyObject *
mod_call(PyObject *Py_UNUSED(m), PyObject *const *args, Py_ssize_t nargs,
         PyObject *kwnames)
{
    if (nargs < 1 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_call(name, *inputs, **attrs)");
        return NULL;
    }
    for (int op = 0; op < TG_NOPS; op++) {
        if (PyUnicode_CompareWithASCIIString(args[0], tg_ops[op].name) == 0) {
            return run_op(op, args + 1, nargs - 1, kwnames);
        }
    }
    PyErr_Format(PyExc_LookupError, "no op named %R", args[0]);
    return NULL;
}

static int
parse_signatures(void)
{
    PyObject *ast = PyImport_ImportModule("ast");
    int rc = -1;
    if (ast == NULL) {
        return -1;
    }
    for (int op = 0; op < TG_NOPS; op++) {
        const tg_opdef *d = &tg_ops[op];
        tg_opsig *sig = &tg_st->sig[op];
        int nin = 1;
        for (const char *p = d->inputs; *p; p++) {
            nin += *p == ',';
        }
        sig->nin = nin;
        sig->dtype_attr = -1;
        if (d->flags & TG_ATTR_FIRST) {
            /* "equation, *inputs": one attribute, then the input list */
            sig->nin = 1;
            const char *comma = strchr(d->inputs, ',');
            sig->attr_names = Py_BuildValue(
                "(N)", PyUnicode_FromStringAndSize(
                           d->inputs, comma ? comma - d->inputs
                                            : (Py_ssize_t)strlen(d->inputs)));
            sig->attr_defaults = Py_BuildValue("(O)", Py_None);
            if (sig->attr_names == NULL || sig->attr_defaults == NULL) {
                goto done;
            }
            continue;
        }
        /* "axis=None, keepdims=False, " -> names and literal defaults */
        PyObject *names = PyList_New(0), *defaults = PyList_New(0);
        PyObject *text = PyUnicode_FromString(d->attrs);
        PyObject *sep = PyUnicode_FromString(", ");
        PyObject *parts = (text && sep) ? PyUnicode_Split(text, sep, -1)
                                        : NULL;
        Py_XDECREF(text);
        Py_XDECREF(sep);
        if (!names || !defaults || !parts) {
            Py_XDECREF(names);
            Py_XDECREF(defaults);
            Py_XDECREF(parts);
            goto done;
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(parts); i++) {
            PyObject *part = PyList_GET_ITEM(parts, i);
            if (PyUnicode_GET_LENGTH(part) == 0) {
                continue;
            }
            PyObject *kv = PyUnicode_Split(part, NULL, -1);
            PyObject *eq = PyUnicode_FromString("=");
            Py_XSETREF(kv, eq ? PyUnicode_Split(part, eq, 1) : NULL);
            Py_XDECREF(eq);
            PyObject *dflt = kv ? PyObject_CallMethod(
                                      ast, "literal_eval", "O",
                                      PyList_GET_ITEM(kv, 1))
                                : NULL;
            if (dflt == NULL ||
                PyList_Append(names, PyList_GET_ITEM(kv, 0)) < 0 ||
                PyList_Append(defaults, dflt) < 0) {
                Py_XDECREF(kv);
                Py_XDECREF(dflt);
                Py_DECREF(names);
                Py_DECREF(defaults);
                Py_DECREF(parts);
                goto done;
            }
            Py_DECREF(kv);
            Py_DECREF(dflt);
        }
        Py_DECREF(parts);
        sig->attr_names = PyList_AsTuple(names);
        sig->attr_defaults = PyList_AsTuple(defaults);
        Py_DECREF(names);
        Py_DECREF(defaults);
        if (!sig->attr_names || !sig->attr_defaults) {
            goto done;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(sig->attr_names); i++) {
            const char *a = PyUnicode_AsUTF8(
                PyTuple_GET_ITEM(sig->attr_names, i));
            if (a == NULL) {
                goto done;
            }
            if (!strcmp(a, "dtype") || !strcmp(a, "out_type") ||
                !strcmp(a, "output_type")) {
                sig->dtype_attr = (int)i;
            }
        }
    }
    rc = 0;
done:
    Py_DECREF(ast);
    return rc;
}

static int
add_op_functions(PyObject *m)
{
    for (int op = 0; op < TG_NOPS; op++) {
        const tg_opdef *d = &tg_ops[op];
        if (d->api[0] == '\0') {
            continue;
        }
        op_defs[op].ml_name = d->name;
        op_defs[op].ml_meth = (PyCFunction)(void (*)(void))op_entries[op];
        op_defs[op].ml_flags = METH_FASTCALL | METH_KEYWORDS;
        op_defs[op].ml_doc = d->doc;
        PyObject *modname = PyModule_GetNameObject(m);
        PyObject *f = modname ? PyCFunction_NewEx(&op_defs[op], m, modname)
                              : NULL;
        Py_XDECREF(modname);
        if (f == NULL || PyModule_AddObject(m, d->name, f) < 0) {
            Py_XDECREF(f);
            return -1;
        }
    }
    return 0;
}

/* ---- creation functions ------------------------------------------------------------ */

static PyObject *
mod_constant(PyObject *Py_UNUSED(m), PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"value", "dtype", "shape", "name", NULL};
    PyObject *value, *dtype_obj = Py_None, *shape = Py_None, *name = Py_None;
    TensorObject *t;
    int dtype;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOO:constant", kwlist,
                                     &value, &dtype_obj, &shape, &name) ||
        tg_dtype_arg(dtype_obj, &dtype) < 0) {
        return NULL;
    }
    t = tg_convert(value, dtype, "Const");
    if (t == NULL) {
        return NULL;
    }
    if (dtype >= 0 && t->dtype != dtype) {
        PyObject *r = tg_numpy_text(t, 0);
        if (r != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "Expected tensor %U with dtype tapegrad.%s, but got "
                         "dtype tapegrad.%s.", r, tg_dtype_names[dtype],
                         tg_dtype_names[t->dtype]);
            Py_DECREF(r);
        }
        Py_DECREF(t);
        return NULL;
    }
    if (shape != Py_None) {
        PyObject *a = PyTuple_Pack(1, shape);
        PyObject *r = NULL;
        if (a != NULL) {
            TensorObject *in[1] = {t};
            r = tg_call_tensors(t->size == 1 ? TG_OP_broadcast_to
                                             : TG_OP_reshape,
                                1, in, a);
            Py_DECREF(a);
        }
        Py_DECREF(t);
        return r;
    }
    return (PyObject *)t;
}

static PyObject *
mod_convert_to_tensor(PyObject *Py_UNUSED(m), PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"value", "dtype", "dtype_hint", "name", NULL};
    PyObject *value, *dtype_obj = Py_None, *hint_obj = Py_None, *nm = Py_None;
    TensorObject *t;
    int dtype, hint;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOO:convert_to_tensor",
                                     kwlist, &value, &dtype_obj, &hint_obj,
                                     &nm) ||
        tg_dtype_arg(dtype_obj, &dtype) < 0 ||
        tg_dtype_arg(hint_obj, &hint) < 0) {
        return NULL;
    }
    if (dtype < 0 && hint >= 0) {
        t = tg_convert(value, hint, "Const");
        if (t != NULL || !(PyErr_ExceptionMatches(PyExc_TypeError) ||
                           PyErr_ExceptionMatches(PyExc_ValueError))) {
            return (PyObject *)t;
        }
        PyErr_Clear(); /* a hint is only a preference */
    }
    t = tg_convert(value, dtype, "Const");
    if (t != NULL && dtype >= 0 && t->dtype != dtype) {
        PyObject *r = PyObject_Repr((PyObject *)t);
        if (r != NULL) {
            PyErr_Format(PyExc_ValueError,
                         "Tensor conversion requested dtype %s for Tensor "
                         "with dtype %s: %U", tg_dtype_names[dtype],
                         tg_dtype_names[t->dtype], r);
            Py_DECREF(r);
        }
        Py_CLEAR(t);
    }
    return (PyObject *)t;
}

static PyObject *
fill(PyObject *args, PyObject *kw, double value, const char *fname)
{
    static char *kwlist[] = {"shape", "dtype", "name", NULL};
    PyObject *shape_obj, *dtype_obj = NULL, *name = Py_None;
    Py_ssize_t shape[TG_MAXDIMS];
    int dtype, nd;
    char fmt[32];
    snprintf(fmt, sizeof(fmt), "O|OO:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &shape_obj,
                                     &dtype_obj, &name) ||
        tg_dtype_arg(dtype_obj, &dtype) < 0) {
        return NULL;
    }
    if (dtype < 0) {
        dtype = TG_FLOAT32;
    }
    if (tg_int_list(fname, "shape", shape_obj, &nd, shape) < 0) {
        return NULL;
    }
    for (int i = 0; i < nd; i++) {
        if (shape[i] < 0) {
            TG_INVALID_ARGUMENT("%s: dimension %d must be >= 0, got %zd",
                                fname, i, shape[i]);
            return NULL;
        }
    }
    return (PyObject *)tg_fill_like(dtype, nd, shape, value);
}

static PyObject *
mod_ones(PyObject *Py_UNUSED(m), PyObject *args, PyObject *kw)
{
    return fill(args, kw, 1.0, "ones");
}

static PyObject *
mod_zeros(PyObject *Py_UNUSED(m), PyObject *args, PyObject *kw)
{
    return fill(args, kw, 0.0, "zeros");
}

static PyObject *
fill_like(PyObject *args, PyObject *kw, double value, const char *fname)
{
    static char *kwlist[] = {"input", "dtype", "name", NULL};
    PyObject *input, *dtype_obj = Py_None, *name = Py_None;
    TensorObject *t, *r;
    int dtype;
    char fmt[32];
    snprintf(fmt, sizeof(fmt), "O|OO:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &input,
                                     &dtype_obj, &name) ||
        tg_dtype_arg(dtype_obj, &dtype) < 0) {
        return NULL;
    }
    /* reads the value without watching: ones_like has no gradient */
    if (Variable_Check(input)) {
        t = (TensorObject *)Py_NewRef(((VariableObject *)input)->value);
    }
    else {
        t = tg_convert(input, -1, fname);
    }
    if (t == NULL) {
        return NULL;
    }
    r = tg_fill_like(dtype < 0 ? t->dtype : dtype, t->ndim, t->shape, value);
    Py_DECREF(t);
    return (PyObject *)r;
}

static PyObject *
mod_ones_like(PyObject *Py_UNUSED(m), PyObject *args, PyObject *kw)
{
    return fill_like(args, kw, 1.0, "ones_like");
}

static PyObject *
mod_zeros_like(PyObject *Py_UNUSED(m), PyObject *args, PyObject *kw)
{
    return fill_like(args, kw, 0.0, "zeros_like");
}

/* ---- introspection ---------------------------------------------------------------------- */

static PyObject *
mod_ops(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    static const struct {
        int bit;
        const char *name;
    } flag_names[] = {
        {TG_LINEAR, "linear"},
        {TG_KINK, "kink"},
        {TG_FIRST_ORDER_ONLY, "first_order_only"},
        {TG_NONDIFF, "nondiff"},
        {TG_INT_OK, "int_ok"},
        {TG_COMPOSITE, "composite"},
        {TG_VARIADIC, "variadic"},
        {TG_BOOL_OK, "bool_ok"},
    };
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (int op = 0; op < TG_NOPS; op++) {
        const tg_opdef *d = &tg_ops[op];
        PyObject *flags = PyTuple_New(0), *row;
        for (size_t i = 0; flags && i < sizeof(flag_names) /
                                            sizeof(flag_names[0]); i++) {
            if (d->flags & flag_names[i].bit) {
                PyObject *f = Py_BuildValue("(s)", flag_names[i].name);
                PyObject *joined = f ? PySequence_Concat(flags, f) : NULL;
                Py_XDECREF(f);
                Py_SETREF(flags, joined);
            }
        }
        if (flags == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        static const char *const jvp_kinds[] = {
            "none", "direct", "linear", "elementwise", "reduction",
            "transposed"};
        row = Py_BuildValue(
            "{sssNsssisssssssdsdsNss}", "name", d->name, "api",
            d->api[0] ? PyUnicode_FromString(d->api) : Py_NewRef(Py_None),
            "tf_name", d->tf_name, "nin", tg_st->sig[op].nin, "numpy", d->ref,
            "shapes", d->shapes, "cases", d->cases, "lo", d->lo, "hi", d->hi,
            "flags", flags, "jvp", jvp_kinds[*d->jvp_kind]);
        if (row == NULL || PyList_Append(list, row) < 0) {
            Py_XDECREF(row);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(row);
    }
    return list;
}

static PyObject *
mod_live_counts(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("{snsnsnsn}", "Tensor", tg_live_tensors, "Variable",
                         tg_live_variables, "GradientTape", tg_live_tapes,
                         "TapeEntry", tg_live_entries);
}

static PyObject *
mod_block_cache(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t n, bytes;
    tg_tensor_blocks_held(&n, &bytes);
    return Py_BuildValue("(nn)", n, bytes);
}

static PyObject *
mod_release_blocks(PyObject *Py_UNUSED(m), PyObject *args)
{
    int close = 0;
    if (!PyArg_ParseTuple(args, "|p:_release_blocks", &close)) {
        return NULL;
    }
    tg_tensor_blocks_free(close);
    Py_RETURN_NONE;
}

/* the C conversion of integer arguments, for the Python facade (random) */
static PyObject *
mod_int_list(PyObject *Py_UNUSED(m), PyObject *args)
{
    const char *op, *param;
    PyObject *value;
    Py_ssize_t v[TG_MAXDIMS];
    int n;
    if (!PyArg_ParseTuple(args, "ssO:_int_list", &op, &param, &value) ||
        tg_int_list(op, param, value, &n, v) < 0) {
        return NULL;
    }
    return tg_shape_tuple(n, v);
}

/* _adopt(array): a Tensor holding a fresh ndarray's bytes without a copy
 * (tg_tensor_from_array: the array becomes the tensor's base and is made
 * read-only).  For tapegrad.random, which fills an output buffer of the
 * output dtype in bounded chunks and hands it over whole: a copy here
 * would double its peak memory.  The caller gives the array up: it must
 * own its data (not a view) and keep no other reference that writes. */
static PyObject *
mod_adopt(PyObject *Py_UNUSED(m), PyObject *arr)
{
    if (!PyArray_Check(arr) ||
        !PyArray_CHKFLAGS((PyArrayObject *)arr,
                          NPY_ARRAY_OWNDATA | NPY_ARRAY_C_CONTIGUOUS)) {
        PyErr_SetString(PyExc_TypeError,
                        "_adopt: expected a C-contiguous ndarray that owns "
                        "its data");
        return NULL;
    }
    return (PyObject *)tg_tensor_from_array((PyArrayObject *)arr, -1);
}

static PyObject *
mod_watcher_push(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    return tg_watcher_push();
}

static PyObject *
mod_watcher_pop(PyObject *Py_UNUSED(m), PyObject *w)
{
    tg_watcher_pop(w);
    Py_RETURN_NONE;
}

/* Python-level helpers (tapegrad/_variables.py registers Reference and
 * slice_assign): what C calls back into for work that is not per op */
static PyObject *helpers = NULL;

PyObject *
tg_helper(const char *name)
{
    /* not PyDict_GetItemString: it hides a MemoryError as "missing" */
    PyObject *key = PyUnicode_FromString(name), *h = NULL;
    if (key == NULL) {
        return NULL;
    }
    if (helpers != NULL) {
        h = PyDict_GetItemWithError(helpers, key);
    }
    Py_DECREF(key);
    if (h == NULL && !PyErr_Occurred()) {
        PyErr_Format(PyExc_RuntimeError,
                     "tapegrad: the package has not registered '%s' (import "
                     "tapegrad, not tapegrad._tapegrad alone)", name);
    }
    return h;
}

static PyObject *
mod_set_helper(PyObject *Py_UNUSED(m), PyObject *args)
{
    const char *name;
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "sO:_set_helper", &name, &obj)) {
        return NULL;
    }
    if (helpers == NULL && (helpers = PyDict_New()) == NULL) {
        return NULL;
    }
    if (PyDict_SetItemString(helpers, name, obj) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* TensorShape.__getitem__ in C: shape[0] sits in users' inner loops, and
 * a Python-level __getitem__ costs ~170 ns against a tuple's ~30.  An
 * index gives the tuple's item; a slice gives a TensorShape, as TF's. */
static PyObject *
shape_getitem(PyObject *self, PyObject *key)
{
    PyObject *r;
    if (!PySlice_Check(key)) {
        return PyTuple_Type.tp_as_mapping->mp_subscript(self, key);
    }
    r = PyTuple_Type.tp_as_mapping->mp_subscript(self, key);
    if (r == NULL || tg_shape_type == NULL) {
        return r;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(r);
    PyObject *s = ((PyTypeObject *)tg_shape_type)->tp_alloc(
        (PyTypeObject *)tg_shape_type, n);
    for (Py_ssize_t i = 0; s != NULL && i < n; i++) {
        PyTuple_SET_ITEM(s, i, Py_NewRef(PyTuple_GET_ITEM(r, i)));
    }
    Py_DECREF(r);
    return s;
}

static PyMethodDef shape_getitem_def = {
    "__getitem__", (PyCFunction)shape_getitem, METH_O,
    "__getitem__($self, key, /)\n--\n\nAn int for an index, a TensorShape "
    "for a slice."};

/* _set_shape_type(TensorShape): the class `.shape` builds (a tuple
 * subclass without instance dicts: its items are set here directly) */
static PyObject *
mod_set_shape_type(PyObject *Py_UNUSED(m), PyObject *tp)
{
    if (!PyType_Check(tp) ||
        !PyType_IsSubtype((PyTypeObject *)tp, &PyTuple_Type) ||
        ((PyTypeObject *)tp)->tp_dictoffset != 0 ||
        ((PyTypeObject *)tp)->tp_basicsize != PyTuple_Type.tp_basicsize) {
        PyErr_SetString(PyExc_TypeError,
                        "_set_shape_type: a tuple subclass with __slots__ = "
                        "() is required");
        return NULL;
    }
    Py_XSETREF(tg_shape_type, Py_NewRef(tp));
    /* a method descriptor of tuple, so it binds to TensorShape instances */
    PyObject *descr = PyDescr_NewMethod(&PyTuple_Type, &shape_getitem_def);
    int rc = descr ? PyObject_SetAttrString(tp, "__getitem__", descr) : -1;
    Py_XDECREF(descr);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Keras 3 names a layer's weights "kernel", "bias" (no TF ":0" suffix,
 * which tf.Variable(name=...) adds); tapegrad.keras sets that exact name. */
static PyObject *
mod_set_variable_name(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *var, *name;
    if (!PyArg_ParseTuple(args, "O!U:_set_variable_name",
                          tg_st->variable_type, &var, &name)) {
        return NULL;
    }
    Py_SETREF(((VariableObject *)var)->name, Py_NewRef(name));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"_none_gradient_warnings", (PyCFunction)tg_set_none_gradient_warnings,
     METH_O,
     "_none_gradient_warnings($module, on, /)\n--\n\n"
     "Switch tapegrad.debugging's None-gradient warnings; returns the "
     "previous state."},
    {"_to_dlpack", (PyCFunction)tg_to_dlpack, METH_O,
     "_to_dlpack($module, tf_tensor, /)\n--\n\n"
     "tf.experimental.dlpack.to_dlpack (src/dlpack.c)."},
    {"_from_dlpack", (PyCFunction)tg_from_dlpack, METH_O,
     "_from_dlpack($module, dlcapsule, /)\n--\n\n"
     "tf.experimental.dlpack.from_dlpack (src/dlpack.c)."},
    {"_optimizer_apply", (PyCFunction)tg_optimizer_apply, METH_VARARGS,
     "_optimizer_apply($module, kind, variables, gradients, slots, hyper, "
     "iterations, /)\n--\n\n"
     "One optimizer step on every variable, in place (src/optim.c)."},
    {"_set_variable_name", (PyCFunction)mod_set_variable_name, METH_VARARGS,
     "_set_variable_name($module, variable, name, /)\n--\n\n"
     "Give a Variable exactly this name (Keras weights: 'kernel')."},
    {"_set_helper", (PyCFunction)mod_set_helper, METH_VARARGS,
     "_set_helper($module, name, obj, /)\n--\n\n"
     "Register a Python-level helper the C core calls (Reference, "
     "slice_assign)."},
    {"_set_shape_type", (PyCFunction)mod_set_shape_type, METH_O,
     "_set_shape_type($module, cls, /)\n--\n\n"
     "Make `.shape` build instances of cls (tapegrad.TensorShape)."},
    {"constant", (PyCFunction)(void (*)(void))mod_constant,
     METH_VARARGS | METH_KEYWORDS,
     "constant(value, dtype=None, shape=None, name=None)\n--\n\n"
     "A Tensor from a Python value, NumPy array or Tensor."},
    {"convert_to_tensor", (PyCFunction)(void (*)(void))mod_convert_to_tensor,
     METH_VARARGS | METH_KEYWORDS,
     "convert_to_tensor(value, dtype=None, dtype_hint=None, name=None)\n--\n\n"
     "Convert a value to a Tensor (Variables are read)."},
    {"ones", (PyCFunction)(void (*)(void))mod_ones,
     METH_VARARGS | METH_KEYWORDS,
     "ones(shape, dtype='float32', name=None)\n--\n\n"
     "A tensor of ones of the given shape (a list, tuple, TensorShape or\n"
     "1-D integer tensor) and dtype (a DType or its name; float32, TF's\n"
     "default, unless given)."},
    {"zeros", (PyCFunction)(void (*)(void))mod_zeros,
     METH_VARARGS | METH_KEYWORDS,
     "zeros(shape, dtype='float32', name=None)\n--\n\n"
     "A tensor of zeros of the given shape (a list, tuple, TensorShape or\n"
     "1-D integer tensor) and dtype (a DType or its name; float32, TF's\n"
     "default, unless given)."},
    {"ones_like", (PyCFunction)(void (*)(void))mod_ones_like,
     METH_VARARGS | METH_KEYWORDS,
     "ones_like(input, dtype=None, name=None)\n--\n\n"
     "Ones with the shape of `input` (not differentiable)."},
    {"zeros_like", (PyCFunction)(void (*)(void))mod_zeros_like,
     METH_VARARGS | METH_KEYWORDS,
     "zeros_like(input, dtype=None, name=None)\n--\n\n"
     "Zeros with the shape of `input` (not differentiable)."},
    {"_ops", (PyCFunction)mod_ops, METH_NOARGS,
     "_ops($module, /)\n--\n\nThe op table, one dict per row (for tests)."},
    {"_call", (PyCFunction)(void (*)(void))mod_call,
     METH_FASTCALL | METH_KEYWORDS,
     "_call(name, *inputs, **attrs)\n--\n\nRun any op-table row by name."},
    {"_int_list", (PyCFunction)mod_int_list, METH_VARARGS,
     "_int_list($module, op, param, value, /)\n--\n\n"
     "An integer argument (a shape, axes) as a tuple, checked as every op "
     "checks it."},
    {"_variable_watcher_push", (PyCFunction)mod_watcher_push, METH_NOARGS,
     "_variable_watcher_push($module, /)\n--\n\n"
     "Start collecting the trainable Variables this thread reads; returns "
     "the list they go to (custom_gradient's VariableWatcher)."},
    {"_variable_watcher_pop", (PyCFunction)mod_watcher_pop, METH_O,
     "_variable_watcher_pop($module, watcher, /)\n--\n\n"
     "Stop the watcher _variable_watcher_push returned."},
    {"_live_counts", (PyCFunction)mod_live_counts, METH_NOARGS,
     "_live_counts($module, /)\n--\n\nLive instances of tapegrad's types."},
    {"_block_cache", (PyCFunction)mod_block_cache, METH_NOARGS,
     "_block_cache($module, /)\n--\n\n"
     "(blocks, bytes) of large tensor data waiting in the cache for reuse."},
    {"_adopt", (PyCFunction)mod_adopt, METH_O,
     "_adopt($module, array, /)\n--\n\n"
     "A Tensor over a fresh ndarray's bytes, no copy (private: the array "
     "is given up).\n"},
    {"_release_blocks", (PyCFunction)mod_release_blocks, METH_VARARGS,
     "_release_blocks($module, close=False, /)\n--\n\n"
     "Free the cached data blocks (close: and cache no more; run at exit)."},
    {NULL, NULL, 0, NULL},
};

/* If the module object is ever freed, so are the cached data blocks
 * (tensors still alive free theirs as they go).  A single-phase module
 * usually outlives finalization, so an atexit hook does it too. */
static void
module_free(void *Py_UNUSED(m))
{
    tg_tensor_blocks_free(1);
}

/* atexit.register(_release_blocks, True): run while the interpreter is
 * still whole */
static int
register_block_release(PyObject *m)
{
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *fn = atexit ? PyObject_GetAttrString(m, "_release_blocks")
                          : NULL;
    PyObject *r = fn ? PyObject_CallMethod(atexit, "register", "OO", fn,
                                           Py_True)
                     : NULL;
    Py_XDECREF(atexit);
    Py_XDECREF(fn);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static struct PyModuleDef tapegrad_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tapegrad._tapegrad",
    .m_doc = "tapegrad's C core: tensors, variables, GradientTape, ops.",
    .m_size = -1,
    .m_methods = module_methods,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__tapegrad(void)
{
    PyObject *m;
    if (PyArray_ImportNumPyAPI() < 0) {
        return NULL;
    }
    m = PyModule_Create(&tapegrad_module);
    if (m == NULL) {
        return NULL;
    }
    state.numpy = PyImport_ImportModule("numpy");
    state.numpy_cache = PyDict_New();
    if (state.numpy == NULL || state.numpy_cache == NULL ||
        tg_quiet_init() < 0) {
        Py_DECREF(m);
        return NULL;
    }
    /* TF's error classes: OpError is the base of every op's error
     * (tapegrad/errors.py gives it TF's constructor and properties and
     * derives the others); InvalidArgumentError, the one the C code
     * raises, is also a ValueError, as Python code expects of a bad
     * argument */
    PyObject *op_error = PyErr_NewExceptionWithDoc(
        "tapegrad.errors.OpError",
        "The base of the errors an op raises (TF's tf.errors.OpError).",
        PyExc_Exception, NULL);
    PyObject *bases = op_error ? PyTuple_Pack(2, op_error, PyExc_ValueError)
                               : NULL;
    state.InvalidArgumentError = bases ? PyErr_NewExceptionWithDoc(
        "tapegrad.errors.InvalidArgumentError",
        "An op received an invalid argument (incompatible shapes or dtypes, "
        "a bad axis ...).", bases, NULL) : NULL;
    Py_XDECREF(bases);
    int op_error_added = state.InvalidArgumentError != NULL &&
        PyModule_AddObjectRef(m, "OpError", op_error) == 0;
    Py_XDECREF(op_error);
    if (!op_error_added ||
        PyModule_AddObjectRef(m, "InvalidArgumentError",
                              state.InvalidArgumentError) < 0 ||
        tg_dtype_init_type(m) < 0 || tg_tensor_init_type(m) < 0 ||
        tg_variable_init_type(m) < 0 || tg_tape_init_type(m) < 0 ||
        tg_forward_init_type(m) < 0 ||
        parse_signatures() < 0 || add_op_functions(m) < 0 ||
        register_block_release(m) < 0 || tg_explain_init(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
