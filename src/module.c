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
    /* tf.multiply(x, y), tf.reduce_sum(x): the inputs alone, every
     * attribute its default, so the defaults tuple itself is the attrs
     * (the same items the loop below would copy) */
    if (nkw == 0 && nargs == nin && sig->required == 0 &&
        !(tg_ops[op].flags & TG_VARIADIC)) {
        return tg_call(op, nin, args, nattr > 0 ? sig->attr_defaults : NULL);
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
            if (v == NULL && (sig->required & (1u << i))) {
                PyErr_Format(PyExc_TypeError,
                             "%s() missing required argument '%U' (pos %zd)",
                             fname, PyTuple_GET_ITEM(sig->attr_names, i),
                             nin + i + 1);
                goto done;
            }
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

/* A default in a row's attribute text ("None", "False", "-1", "1e-12",
 * "'CONSTANT'"): the literals the rows use, read here (ast.literal_eval on
 * each of the ~150 cost a millisecond of `import tapegrad`); anything
 * else still goes to ast.literal_eval.  A new reference, or NULL. */
static PyObject *
literal_default(PyObject *text)
{
    const char *s = PyUnicode_AsUTF8(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *v, *ast;
    if (s == NULL) {
        return NULL;
    }
    if (!strcmp(s, "None")) {
        return Py_NewRef(Py_None);
    }
    if (!strcmp(s, "True") || !strcmp(s, "False")) {
        return PyBool_FromLong(s[0] == 'T');
    }
    if (n >= 2 && s[0] == '\'' && s[n - 1] == '\'' &&
        !memchr(s + 1, '\'', (size_t)(n - 2)) &&
        !memchr(s + 1, '\\', (size_t)(n - 2))) {
        return PyUnicode_Substring(text, 1, n - 1);
    }
    if ((v = PyLong_FromUnicodeObject(text, 10)) != NULL) {
        return v;
    }
    PyErr_Clear();
    if ((v = PyFloat_FromString(text)) != NULL) {
        return v;
    }
    PyErr_Clear();
    if ((ast = PyImport_ImportModule("ast")) == NULL) {
        return NULL;
    }
    v = PyObject_CallMethod(ast, "literal_eval", "O", text);
    Py_DECREF(ast);
    return v;
}

static int
parse_signatures(void)
{
    int rc = -1;
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
            PyObject *eq = PyUnicode_FromString("=");
            PyObject *kv = eq ? PyUnicode_Split(part, eq, 1) : NULL;
            Py_XDECREF(eq);
            PyObject *dflt = NULL;
            if (kv != NULL && PyList_GET_SIZE(kv) == 1) {
                /* "axis, ": required, as in TF's signature */
                sig->required |= 1u << PyList_GET_SIZE(names);
                dflt = Py_NewRef(Py_None);
            }
            else if (kv != NULL) {
                dflt = literal_default(PyList_GET_ITEM(kv, 1));
            }
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
    return rc;
}

/* ---- docstrings composed from the op table ------------------------------------ */

/* What the attributes mean: "row.attr" for one row, "attr" for the rest;
 * any other attribute is listed with its default alone. */
static const struct {
    const char *name, *text;
} arg_texts[] = {
    {"axis", "the axis, or list of axes, it works along (negative values "
             "count from the end)"},
    {"axes", "the axes it works along"},
    {"keepdims", "keep each reduced axis, with length 1"},
    {"dtype", "the result's dtype: a DType or its name"},
    {"out_type", "the integer dtype of the result"},
    {"output_type", "the integer dtype of the result"},
    {"shape", "the shape: a list, tuple, TensorShape or 1-D integer tensor"},
    {"perm", "the new order of the axes (None: reversed)"},
    {"seed", "an integer seed, for reproducible draws"},
    {"transpose_a", "transpose the last two axes of `a` first"},
    {"transpose_b", "transpose the last two axes of `b` first"},
    {"adjoint", "use each matrix's (conjugate) transpose"},
    {"conjugate", "conjugate too (nothing to do: tapegrad has no complex "
                  "dtypes)"},
    {"equation", "the Einstein-summation equation, e.g. 'ij,jk->ik'"},
    {"name", "accepted for TF's sake and ignored (tapegrad builds no "
             "graph)"},
    {"adjoint_a", "use the (conjugate) transpose of `a`"},
    {"align", "where a short diagonal sits in its rows and columns: "
              "'RIGHT_LEFT', 'LEFT_RIGHT', 'LEFT_LEFT' or 'RIGHT_RIGHT'"},
    {"alpha", "the slope for negative inputs"},
    {"approximate", "use the tanh approximation"},
    {"batch_dims", "the number of leading batch axes params and indices "
                   "share"},
    {"batch_shape", "leading batch axes for a batch of matrices"},
    {"beta", "the factor inside the sigmoid"},
    {"compute_uv", "also return the singular vectors"},
    {"full_matrices", "return square singular-vector matrices"},
    {"constant_values", "the value CONSTANT padding fills with"},
    {"delta", "the step between values"},
    {"depth", "the length of each one-hot vector"},
    {"direction", "'ASCENDING' or 'DESCENDING'"},
    {"epsilon", "the lower bound on the squared norm it divides by"},
    {"exclusive", "leave each element out of its own running total"},
    {"reverse", "run from the end of the axis"},
    {"indices", "integer positions to pick"},
    {"limit", "the end, excluded (None: start is the end and 0 the "
              "start)"},
    {"mask", "a bool tensor matching the leading axes"},
    {"mode", "'CONSTANT', 'REFLECT' or 'SYMMETRIC'"},
    {"multiples", "how many copies along each axis"},
    {"noise_shape", "the shape of the random keep mask, broadcast to the "
                    "input's"},
    {"num", "how many values or pieces"},
    {"num_cols", "the matrices' column count (-1: from the diagonal)"},
    {"num_rows", "the matrices' row count (-1: from the diagonal)"},
    {"num_columns", "the column count (None: square)"},
    {"num_or_size_splits", "a number of equal pieces, or the list of "
                           "their sizes (one may be -1)"},
    {"num_segments", "the number of output rows"},
    {"on_value", "the value at each index (default 1)"},
    {"off_value", "the value elsewhere (default 0)"},
    {"ord", "the norm's order: 'euclidean', 'fro', 1, 2, np.inf..."},
    {"padding_value", "the value outside the diagonal's band"},
    {"paddings", "[before, after] counts for each axis"},
    {"rate", "the probability of zeroing each element, in [0, 1)"},
    {"shift", "accepted for TF's sake (a numerical hint); unused"},
    {"side", "'left' or 'right': where equal elements put the position"},
    {"sorted", "return the entries sorted, largest first"},
    {"stable", "keep equal elements in their order"},
    {"validate_indices", "ignored, as in TF"},
    {"where.x", "the values where condition is True"},
    {"where.y", "the values where condition is False"},
    {"truediv.y", "the divisor, a tensor or a value convertible to one"},
    {"top_k.k", "how many entries to return"},
    {"diag.k", "which diagonal: 0 the main one, positive above it"},
    {"diag_part.k", "which diagonal: 0 the main one, positive above it"},
    {"tensordot.axes", "an integer n (the last n axes of a with the first n "
                       "of b) or two lists of axes to pair"},
};

static PyObject *op_docstrings[TG_NOPS]; /* alive as long as the process:
                                            the functions' ml_doc */

/* ---- filling paragraphs ----------------------------------------------------
 * What textwrap.fill(text, 72, initial_indent, subsequent_indent,
 * break_on_hyphens=False) gives, in C: calling textwrap for the ~900
 * paragraphs of the op docstrings was most of the module's import time.
 * Greedy, as textwrap: words and runs of whitespace (each whitespace
 * character a space) are laid on a line while they fit; a line drops the
 * whitespace it would start (but the first) or end with; a word longer
 * than a line is cut.  Widths count code points (the text is UTF-8).
 * tests/test_signatures.py compares every docstring with textwrap's. */
#define DOC_WIDTH 72
/* the indents it is held to textwrap for: an indent near the width leaves
 * lines of a character or two, where textwrap's corner cases were not
 * copied (the filler still ends and stays in bounds there) */
#define FILL_INDENT_MAX 36

static int
is_doc_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
}

/* code points in s[0..n) */
static Py_ssize_t
utf8_len(const char *s, Py_ssize_t n)
{
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return k;
}

/* bytes of the first `cps` code points of s[0..n) */
static Py_ssize_t
utf8_prefix(const char *s, Py_ssize_t n, Py_ssize_t cps)
{
    Py_ssize_t i = 0;
    while (i < n && cps > 0) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) {
            i++;
        }
        cps--;
    }
    return i;
}

typedef struct {
    const char *p;             /* into the text (spaces: any whitespace) */
    Py_ssize_t n;              /* bytes */
    int space;
} doc_chunk;

static PyObject *
fill_paragraph(const char *text, const char *indent, const char *more)
{
    Py_ssize_t len = (Py_ssize_t)strlen(text), nchunks = 0, i = 0, k = 0;
    doc_chunk *chunks = PyMem_Malloc((size_t)(len + 1) * sizeof(*chunks));
    PyObject *out = NULL;
    char *buf = NULL;
    Py_ssize_t cap = 2 * len + 64, used = 0, nlines = 0;
    if (chunks == NULL || (buf = PyMem_Malloc((size_t)cap)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    while (i < len) {          /* tabs never occur in the op table's text */
        Py_ssize_t j = i;
        int sp = is_doc_space(text[i]);
        while (j < len && is_doc_space(text[j]) == sp) {
            j++;
        }
        chunks[nchunks++] = (doc_chunk){text + i, j - i, sp};
        i = j;
    }
    while (k < nchunks) {
        const char *ind = nlines ? more : indent;
        Py_ssize_t width = DOC_WIDTH - (Py_ssize_t)strlen(ind), cur = 0;
        Py_ssize_t first = k, last;
        Py_ssize_t cut = 0;    /* bytes of chunks[k] taken by a cut word */
        /* a line drops the whitespace it starts with, and the empty rest
         * of a word cut to the end (textwrap: `chunks[-1].strip() == ''`;
         * only an indent of 72 columns or more cuts a word to its end) */
        if (nlines && (chunks[k].space || chunks[k].n == 0)) {
            k++;
            first = k;
            if (k == nchunks) {
                break;
            }
        }
        while (k < nchunks) {
            Py_ssize_t l = utf8_len(chunks[k].p, chunks[k].n);
            if (cur + l > width) {
                break;
            }
            cur += l;
            k++;
        }
        int long_word = k < nchunks &&
                        utf8_len(chunks[k].p, chunks[k].n) > width;
        if (long_word) {
            Py_ssize_t left = width < 1 ? 1 : width - cur;
            cut = utf8_prefix(chunks[k].p, chunks[k].n, left);
        }
        last = k;              /* whole chunks [first, last), then cut */
        /* textwrap drops a line's last chunk if it is whitespace; after
         * cutting a long word that chunk is the cut piece, empty when the
         * line was already full, so the whitespace before it stays */
        if (!long_word && last > first && chunks[last - 1].space) {
            last--;
        }
        if (last == first && cut == 0) {
            continue;          /* nothing on this line: textwrap adds none */
        }
        Py_ssize_t need = used + (Py_ssize_t)strlen(ind) + 2;
        for (Py_ssize_t c = first; c < last; c++) {
            need += chunks[c].n;
        }
        need += cut;
        if (need > cap) {
            char *nb = PyMem_Realloc(buf, (size_t)(cap = 2 * need));
            if (nb == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            buf = nb;
        }
        if (nlines) {
            buf[used++] = '\n';
        }
        memcpy(buf + used, ind, strlen(ind));
        used += (Py_ssize_t)strlen(ind);
        for (Py_ssize_t c = first; c < last; c++) {
            if (chunks[c].space) {
                memset(buf + used, ' ', (size_t)chunks[c].n);
            }
            else {
                memcpy(buf + used, chunks[c].p, (size_t)chunks[c].n);
            }
            used += chunks[c].n;
        }
        if (cut) {
            memcpy(buf + used, chunks[k].p, (size_t)cut);
            used += cut;
            chunks[k].p += cut;
            chunks[k].n -= cut;
        }
        nlines++;
    }
    out = PyUnicode_DecodeUTF8(buf, used, "strict");
done:
    PyMem_Free(chunks);
    PyMem_Free(buf);
    return out;
}

/* `text` filled to 72 columns (indent for the first line, an Args:
 * entry's continuation lines 2 more), appended to `parts` with a
 * newline */
static int
doc_par(PyObject *parts, PyObject *text, const char *indent)
{
    char more[64];
    const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
    PyOS_snprintf(more, sizeof(more), "%s%s", indent, indent[0] ? "  " : "");
    PyObject *filled = utf8 ? fill_paragraph(utf8, indent, more) : NULL;
    PyObject *line = filled ? PyUnicode_FromFormat("%U\n", filled) : NULL;
    int rc = line ? PyList_Append(parts, line) : -1;
    Py_XDECREF(filled);
    Py_XDECREF(line);
    return rc;
}

/* "NAME: TEXT. Default: REPR." for an attribute (dflt given), "NAME:
 * TEXT." for an input */
static int
doc_arg(PyObject *parts, int op, PyObject *name, const char *input_text,
        PyObject *dflt)
{
    const char *text = input_text;
    PyObject *line, *own = PyUnicode_FromFormat("%s.%U", tg_ops[op].name,
                                                name);
    if (own == NULL) {
        return -1;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0;
             !text && i < sizeof(arg_texts) / sizeof(arg_texts[0]); i++) {
            if (PyUnicode_CompareWithASCIIString(pass ? name : own,
                                                 arg_texts[i].name) == 0) {
                text = arg_texts[i].text;
            }
        }
    }
    Py_DECREF(own);
    if (dflt == NULL) {
        line = PyUnicode_FromFormat("%U: %s.", name, text ? text : "required");
    }
    else if (text != NULL) {
        line = PyUnicode_FromFormat("%U: %s. Default: %R.", name, text, dflt);
    }
    else {
        line = PyUnicode_FromFormat("%U: default %R.", name, dflt);
    }
    int rc = line ? doc_par(parts, line, "  ") : -1;
    Py_XDECREF(line);
    return rc;
}

static const char *
doc_dtype_rule(int flags)
{
    if (flags & TG_INT_OK) {
        if (flags & TG_BOOL_OK) {
            return (flags & TG_SAME_DTYPE)
                       ? "Dtypes: floating, integer or bool tensors; the "
                         "inputs share one dtype (a Python number takes "
                         "its neighbour's)."
                       : "Dtypes: floating, integer or bool tensors.";
        }
        return (flags & TG_SAME_DTYPE)
                   ? "Dtypes: floating or integer tensors (not bool); the "
                     "inputs share one dtype (a Python number takes its "
                     "neighbour's)."
                   : "Dtypes: floating or integer tensors (not bool).";
    }
    return (flags & TG_BOOL_OK)
               ? "Dtypes: floating or bool tensors."
               : "Dtypes: floating tensors only (float16, float32, "
                 "float64); integer and bool inputs are refused.";
}

static const char *
doc_gradient(int flags)
{
    if (flags & TG_NONDIFF) {
        return "Gradient: none. The op is never recorded: a tape treats its "
               "result as a constant, and gradients through it are None.";
    }
    if (flags & TG_FIRST_ORDER_ONLY) {
        return "Gradient: first order only (its gradient is not "
               "differentiable again).";
    }
    if (flags & TG_COMPOSITE) {
        return "Gradient: that of the recorded ops it is computed with; "
               "it differentiates again, to any order.";
    }
    if (flags & TG_LINEAR) {
        return "Gradient: defined (the op is linear: the gradient applies "
               "its transpose), recorded, so it differentiates again, to "
               "any order.";
    }
    if (flags & TG_KINK) {
        return "Gradient: defined, and recorded, so it differentiates "
               "again, to any order; at a kink it takes TF's one-sided "
               "value.";
    }
    return "Gradient: defined, and recorded, so it differentiates again, "
           "to any order.";
}

/* Row `op`'s docstring: its text signature, its TG_DOC summary, Args:
 * from INPUTS and ATTRS, the dtype rule and the Gradient: sentence from
 * FLAGS, and its example (ops.def's header). */
static PyObject *
compose_docstring(int op)
{
    const tg_opdef *d = &tg_ops[op];
    const tg_opsig *sig = &tg_st->sig[op];
    PyObject *parts = PyList_New(0), *inames = input_names(op);
    PyObject *r = NULL, *sep = NULL, *has_name = NULL;
    if (parts == NULL || inames == NULL) {
        goto done;
    }
    PyObject *head = PyUnicode_FromString(d->doc);
    PyObject *summary = PyUnicode_FromString(d->docs->summary);
    PyObject *args_hdr = PyUnicode_FromString("\nArgs:\n");
    int ok = head && summary && args_hdr && PyList_Append(parts, head) == 0 &&
             doc_par(parts, summary, "") == 0 &&
             PyList_Append(parts, args_hdr) == 0;
    Py_XDECREF(head);
    Py_XDECREF(summary);
    Py_XDECREF(args_hdr);
    if (!ok) {
        goto done;
    }
    int attr_first = (d->flags & TG_ATTR_FIRST) != 0;
    if (attr_first &&
        doc_arg(parts, op, PyTuple_GET_ITEM(sig->attr_names, 0), NULL,
                NULL) < 0) {
        goto done;
    }
    for (Py_ssize_t i = attr_first; i < PyTuple_GET_SIZE(inames); i++) {
        const char *text =
            attr_first ? "the tensors (or convertible values) it names"
            : (d->flags & TG_VARIADIC)
                ? "a list or tuple of tensors (or values convertible to "
                  "them)"
                : "a tensor, or a value convertible to one (a Python "
                  "number or list, a NumPy array, a Variable)";
        if (doc_arg(parts, op, PyTuple_GET_ITEM(inames, i), text,
                    NULL) < 0) {
            goto done;
        }
    }
    has_name = PyUnicode_FromString("name");
    if (has_name == NULL) {
        goto done;
    }
    for (Py_ssize_t i = attr_first; i < PyTuple_GET_SIZE(sig->attr_names);
         i++) {
        if (doc_arg(parts, op, PyTuple_GET_ITEM(sig->attr_names, i), NULL,
                    (sig->required & (1u << i))
                        ? NULL
                        : PyTuple_GET_ITEM(sig->attr_defaults, i)) < 0) {
            goto done;
        }
    }
    if (!(d->flags & TG_NAME_ATTR) &&
        doc_arg(parts, op, has_name, NULL, Py_None) < 0) {
        goto done;
    }
    PyObject *rule = PyUnicode_FromFormat(
        "%s%s", doc_dtype_rule(d->flags),
        (d->flags & TG_DTYPE_INPUTS)
            ? " Python values given as inputs are converted to `dtype`."
            : "");
    PyObject *grad = PyUnicode_FromString(doc_gradient(d->flags));
    PyObject *blank = PyUnicode_FromString("\n");
    ok = rule && grad && blank && PyList_Append(parts, blank) == 0 &&
         doc_par(parts, rule, "") == 0 && PyList_Append(parts, blank) == 0 &&
         doc_par(parts, grad, "") == 0;
    Py_XDECREF(rule);
    Py_XDECREF(grad);
    Py_XDECREF(blank);
    if (!ok) {
        goto done;
    }
    if (d->docs->example[0]) {
        /* doctest's form, indented by 4, the output's lines too */
        PyObject *out = PyUnicode_FromString(d->docs->output);
        PyObject *nl = PyUnicode_FromString("\n");
        PyObject *nl4 = PyUnicode_FromString("\n    ");
        PyObject *indented = (out && nl && nl4)
                                 ? PyUnicode_Replace(out, nl, nl4, -1)
                                 : NULL;
        PyObject *ex = indented ? PyUnicode_FromFormat(
                                      "\nExample:\n    >>> %s\n    %U\n",
                                      d->docs->example, indented)
                                : NULL;
        Py_XDECREF(out);
        Py_XDECREF(nl);
        Py_XDECREF(nl4);
        Py_XDECREF(indented);
        if (ex == NULL || PyList_Append(parts, ex) < 0) {
            Py_XDECREF(ex);
            goto done;
        }
        Py_DECREF(ex);
    }
    sep = PyUnicode_FromString("");
    r = sep ? PyUnicode_Join(sep, parts) : NULL;
done:
    Py_XDECREF(parts);
    Py_XDECREF(inames);
    Py_XDECREF(sep);
    Py_XDECREF(has_name);
    return r;
}

/* the op functions, with their docstrings */
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
        if (op_docstrings[op] == NULL &&
            (op_docstrings[op] = compose_docstring(op)) == NULL) {
            return -1;
        }
        op_defs[op].ml_doc = PyUnicode_AsUTF8(op_docstrings[op]);
        if (op_defs[op].ml_doc == NULL) {
            return -1;
        }
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

/* fmt: "O|OO:ones" (a literal: building it per call with snprintf was
 * 4% of the seed cell) */
static PyObject *
fill(PyObject *args, PyObject *kw, double value, const char *fname,
     const char *fmt)
{
    static char *kwlist[] = {"shape", "dtype", "name", NULL};
    PyObject *shape_obj, *dtype_obj = NULL, *name = Py_None;
    Py_ssize_t shape[TG_MAXDIMS];
    int dtype, nd;
    Py_ssize_t npos = PyTuple_GET_SIZE(args);
    if ((kw == NULL || PyDict_GET_SIZE(kw) == 0) && npos >= 1 && npos <= 3) {
        /* ones((2, 2)): positional only, the parser skipped */
        shape_obj = PyTuple_GET_ITEM(args, 0);
        dtype_obj = npos > 1 ? PyTuple_GET_ITEM(args, 1) : NULL;
    }
    else if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &shape_obj,
                                          &dtype_obj, &name)) {
        return NULL;
    }
    if (tg_dtype_arg(dtype_obj, &dtype) < 0) {
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
    return fill(args, kw, 1.0, "ones", "O|OO:ones");
}

static PyObject *
mod_zeros(PyObject *Py_UNUSED(m), PyObject *args, PyObject *kw)
{
    return fill(args, kw, 0.0, "zeros", "O|OO:zeros");
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
            "{sssNsssisssssssdsdsNssssssss}", "name", d->name, "api",
            d->api[0] ? PyUnicode_FromString(d->api) : Py_NewRef(Py_None),
            "tf_name", d->tf_name, "nin", tg_st->sig[op].nin, "numpy", d->ref,
            "shapes", d->shapes, "cases", d->cases, "lo", d->lo, "hi", d->hi,
            "flags", flags, "jvp", jvp_kinds[*d->jvp_kind], "summary",
            d->docs->summary, "example", d->docs->example, "output",
            d->docs->output);
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
mod_elisions(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(tg_elisions);
}

/* _fill(text, indent, subsequent_indent): the docstrings' paragraph
 * filler, for tests/test_signatures.py to hold against textwrap.fill */
static PyObject *
mod_fill(PyObject *Py_UNUSED(m), PyObject *args)
{
    const char *text, *indent, *more;
    if (!PyArg_ParseTuple(args, "sss:_fill", &text, &indent, &more)) {
        return NULL;
    }
    if (strlen(indent) > FILL_INDENT_MAX || strlen(more) > FILL_INDENT_MAX) {
        PyErr_Format(PyExc_ValueError, "_fill: indents of at most %d "
                     "columns (the docstrings use 4)", FILL_INDENT_MAX);
        return NULL;
    }
    return fill_paragraph(text, indent, more);
}

/* The id map (idmap.c) driven from Python, for its tests: puts the
 * (key, value) pairs in order, then looks up each probe key (None when
 * absent) and the keys mapped to -1. */
static PyObject *
mod_idmap_replay(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *puts, *probes, *found = NULL, *minus = NULL, *r = NULL;
    tg_idmap *map = NULL;
    if (!PyArg_ParseTuple(args, "O!O!:_idmap_replay", &PyList_Type, &puts,
                          &PyList_Type, &probes)) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(puts); i++) {
        long long k, v;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(puts, i), "LL:_idmap_replay",
                              &k, &v)) {
            goto done;
        }
        if (v == INT64_MIN) {
            PyErr_SetString(PyExc_ValueError, "INT64_MIN is not a value");
            goto done;
        }
        if (tg_idmap_put(&map, k, v) < 0) {
            goto done;
        }
    }
    if ((found = PyList_New(0)) == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(probes); i++) {
        long long k = PyLong_AsLongLong(PyList_GET_ITEM(probes, i));
        int64_t v;
        PyObject *item;
        if (k == -1 && PyErr_Occurred()) {
            goto done;
        }
        item = tg_idmap_get(map, k, &v) ? PyLong_FromLongLong(v)
                                        : Py_NewRef(Py_None);
        if (item == NULL || PyList_Append(found, item) < 0) {
            Py_XDECREF(item);
            goto done;
        }
        Py_DECREF(item);
    }
    if ((minus = tg_idmap_keys_with(map, -1)) == NULL) {
        goto done;
    }
    r = PyTuple_Pack(2, found, minus);
done:
    tg_idmap_free(map);
    Py_XDECREF(found);
    Py_XDECREF(minus);
    return r;
}

/* Everything the module keeps for reuse: data blocks, free tensor
 * objects and cached constants (tensor.c), shared ones and shape
 * attributes (oputil.c), spare id maps and the spare tape arena chunk.
 * With `close`, the tensor caches stay off afterwards. */
static void
release_caches(int close)
{
    tg_ones_cache_clear();
    tg_shape_attrs_clear();
    tg_idmap_spare_free();
    tg_tensor_blocks_free(close);
    tg_tape_spare_free();
}

static PyObject *
mod_release_blocks(PyObject *Py_UNUSED(m), PyObject *args)
{
    int close = 0;
    if (!PyArg_ParseTuple(args, "|p:_release_blocks", &close)) {
        return NULL;
    }
    release_caches(close);
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
    {"_op_locations", (PyCFunction)tg_set_op_locations, METH_O,
     "_op_locations($module, on, /)\n--\n\n"
     "Switch tapegrad.debugging's op locations (tape.operations()); "
     "returns the previous state."},
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
    {"_scope_name", (PyCFunction)tg_py_scope_name, METH_NOARGS,
     "_scope_name($module, /)\n--\n\n"
     "This thread's tf.name_scope ('outer/inner/'), '' for none."},
    {"_set_scope_name", (PyCFunction)tg_py_set_scope_name, METH_O,
     "_set_scope_name($module, scope, /)\n--\n\n"
     "Make `scope` this thread's tf.name_scope ('' for none)."},
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
    {"_elisions", (PyCFunction)mod_elisions, METH_NOARGS,
     "_elisions($module, /)\n--\n\n"
     "How many operator results so far were computed in place in a "
     "temporary operand's block (temporary elision, tensor.c)."},
    {"_adopt", (PyCFunction)mod_adopt, METH_O,
     "_adopt($module, array, /)\n--\n\n"
     "A Tensor over a fresh ndarray's bytes, no copy (private: the array "
     "is given up).\n"},
    {"_fill", (PyCFunction)mod_fill, METH_VARARGS,
     "_fill($module, text, indent, subsequent_indent, /)\n--\n\nWhat "
     "textwrap.fill(text, 72, initial_indent=indent, subsequent_indent="
     "subsequent_indent, break_on_hyphens=False) gives (the op "
     "docstrings' filler)."},
    {"_idmap_replay", (PyCFunction)mod_idmap_replay, METH_VARARGS,
     "_idmap_replay($module, puts, probes, /)\n--\n\n"
     "Put (key, value) pairs into a fresh id map, then look up each probe: "
     "([value or None], {keys mapped to -1}) (private: the map's tests)."},
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
    release_caches(1);
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
