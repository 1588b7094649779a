/* dispatch.c -- tg_call(): the one path every op takes.
 *
 *   1. convert operands (TF's args_to_matching_eager: the first Tensor or
 *      Variable among the arguments fixes the dtype that Python scalars,
 *      lists and arrays are converted to; with none, the first argument
 *      decides; a TG_DTYPE_INPUTS row converts them to its `dtype`
 *      attribute instead);
 *   2. check dtypes (tensors are never silently promoted);
 *   3. run the row's forward kernel;
 *   4. record the op on every active tape of this thread that watches one of
 *      its float inputs (tape.c decides, per tape, as TF's ShouldRecord).
 * Module functions, operators, and the vjps themselves all come here, so a
 * gradient computed under an outer tape is recorded like any other op.
 */
#include "tapegrad.h"

/* per thread: another thread's assign_add (which may release the GIL in a
 * NumPy kernel) must not stop this thread's recording */
_Thread_local int tg_no_record = 0;

#define MAX_INLINE_ARGS 8

/* TF's message for input #i of op `tfname` having dtype `got` where `want`
 * was expected: 0 if they agree, else -1 with InvalidArgumentError. */
int
tg_want_dtype(const char *tfname, int i, int want, int got)
{
    if (want == got) {
        return 0;
    }
    TG_INVALID_ARGUMENT("cannot compute %s as input #%d(zero-based) was "
                        "expected to be a %s tensor but is a %s tensor "
                        "[Op:%s]", tfname, i, tg_dtype_cnames[want],
                        tg_dtype_cnames[got], tfname);
    return -1;
}

/* An index input: an integer input of a row whose other inputs may be
 * floats (TF's Tindices beside T).  A TG_SAME_DTYPE row's dtype rule
 * skips it, and its dtype never sets a widened row's result dtype. */
static inline int
index_input(int op, int i)
{
    switch (op) {
        case TG_OP_fill:
        case TG_OP_one_hot:
        case TG_OP_scatter_nd:
            return i == 0;
        case TG_OP_tensor_scatter_nd_update:
        case TG_OP_tensor_scatter_nd_add:
        case TG_OP_tensor_scatter_nd_sub:
        case TG_OP_unsorted_segment_sum:
        case TG_OP_unsorted_segment_max:
            return i == 1;
        default:
            return 0;
    }
}

int
tg_check_same_dtype(int op, int nin, TensorObject **in)
{
    int first = index_input(op, 0) ? 1 : 0;
    for (int i = first + 1; i < nin; i++) {
        if (!index_input(op, i) &&
            tg_want_dtype(tg_ops[op].tf_name, i, in[first]->dtype,
                          in[i]->dtype) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- the other integer dtypes ---------------------------------------------
 * int8, int16, uint8, uint16, uint32 and uint64 have no kernels of their
 * own: a row's inputs of those dtypes (and tensor attributes, one_hot's
 * on_value, and a `dtype` attribute naming one) become int64, the row runs,
 * and its int64 outputs are cast back (wrapping, as TF's narrow integer
 * kernels wrap).  Every value of those dtypes but uint64's upper half is an
 * int64, and + - * wrap the same modulo 2^8 ... 2^64, so results agree with
 * TF's own kernels; the two casts are paid only by those dtypes.  uint64
 * values past 2^63 - 1 keep their bits through the cast: right for modular
 * arithmetic and data movement, wrong for comparisons, division and order,
 * so those rows refuse such values rather than answer wrongly. */

static inline int
narrow_dtype(int dt)
{
    return dt >= TG_INT8;
}


static inline int
widens(int op, int i, int dt)
{
    /* unsorted_segment_max fills empty segments with the dtype's own
     * lowest value, so it runs every dtype natively */
    return narrow_dtype(dt) && !(op == TG_OP_fill && i == 0) &&
           op != TG_OP_unsorted_segment_max;
}

/* The tensor an attribute holds (a Tensor or a Variable's value), or NULL */
static inline TensorObject *
attr_tensor(PyObject *a)
{
    return Tensor_Check(a)     ? (TensorObject *)a
           : Variable_Check(a) ? ((VariableObject *)a)->value
                               : NULL;
}

/* The narrow dtype the row's `dtype` attribute names, else -1 (also for a
 * bad value: the forward reports it).  *given: the attribute is not None. */
static int
dtype_attr_narrow(int op, PyObject *attrs, int *given)
{
    int di = tg_st->sig[op].dtype_attr, dt;
    *given = 0;
    if (di < 0 || attrs == NULL || di >= PyTuple_GET_SIZE(attrs) ||
        PyTuple_GET_ITEM(attrs, di) == Py_None) {
        return -1;
    }
    *given = 1;
    if (tg_dtype_arg(PyTuple_GET_ITEM(attrs, di), &dt) < 0) {
        PyErr_Clear();
        return -1;
    }
    return dt >= 0 && narrow_dtype(dt) ? dt : -1;
}

/* Whether any attribute needs widening: a narrow tensor or dtype */
static int
attrs_widen(int op, PyObject *attrs)
{
    int given;
    if (attrs == NULL || !PyTuple_Check(attrs)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(attrs); i++) {
        TensorObject *t = attr_tensor(PyTuple_GET_ITEM(attrs, i));
        if (t != NULL && narrow_dtype(t->dtype)) {
            return 1;
        }
    }
    return dtype_attr_narrow(op, attrs, &given) >= 0;
}

static int
uint64_ok_for(int op, TensorObject *t)
{
    const uint64_t *p = (const uint64_t *)t->data;
    if ((tg_ops[op].flags & TG_LINEAR) || op == TG_OP_multiply) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < t->size; i++) {
        if (p[i] > (uint64_t)INT64_MAX) {
            TG_INVALID_ARGUMENT("%s: uint64 values above 2**63-1 are not "
                                "supported by this op (got %llu) [Op:%s]",
                                tg_ops[op].tf_name,
                                (unsigned long long)p[i], tg_ops[op].tf_name);
            return -1;
        }
    }
    return 0;
}

/* t as int64 (float32 for `/` of 8- and 16-bit integers, TF's
 * _TRUEDIV_TABLE, exact: they are all float32 values) */
static TensorObject *
widened(int op, TensorObject *t)
{
    int to = op == TG_OP_divide && tg_dtype_size[t->dtype] <= 2 ? TG_FLOAT32
                                                                 : TG_INT64;
    if (t->dtype == TG_UINT64 && uint64_ok_for(op, t) < 0) {
        return NULL;
    }
    return tg_ufunc_apply(NULL, 1, &t, to);
}

/* Cast the int64 outputs of a widened row back to `dt`: a Tensor or a
 * tuple of them; anything else is returned as is. */
static PyObject *
narrow_outputs(PyObject *r, int dt)
{
    if (Tensor_Check(r)) {
        TensorObject *t = (TensorObject *)r;
        if (t->dtype != TG_INT64) {
            return r;
        }
        TensorObject *n = tg_ufunc_apply(NULL, 1, &t, dt);
        Py_DECREF(r);
        return (PyObject *)n;
    }
    if (PyTuple_CheckExact(r)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(r); i++) {
            PyObject *o = PyTuple_GET_ITEM(r, i);
            if (Tensor_Check(o) && ((TensorObject *)o)->dtype == TG_INT64) {
                Py_INCREF(o);
                PyObject *n = narrow_outputs(o, dt);
                if (n == NULL) {
                    Py_DECREF(r);
                    return NULL;
                }
                /* the tuple is ours alone: tg_apply just built it */
                Py_SETREF(((PyTupleObject *)r)->ob_item[i], n);
            }
        }
    }
    return r;
}

/* attrs with narrow tensors widened and a narrow `dtype` made int64; the
 * first narrow tensor's dtype in *first */
static PyObject *
widened_attrs(int op, PyObject *attrs, int *first)
{
    Py_ssize_t n = PyTuple_GET_SIZE(attrs);
    int di = tg_st->sig[op].dtype_attr, given;
    PyObject *w = PyTuple_New(n);
    if (w == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *a = PyTuple_GET_ITEM(attrs, i);
        TensorObject *t = attr_tensor(a);
        if (t != NULL && narrow_dtype(t->dtype)) {
            if (*first < 0) {
                *first = t->dtype;
            }
            a = (PyObject *)widened(op, t);
            if (a == NULL) {
                Py_DECREF(w);
                return NULL;
            }
        }
        else if (i == di && dtype_attr_narrow(op, attrs, &given) >= 0) {
            a = Py_NewRef(tg_dtype_obj(TG_INT64));
        }
        else {
            Py_INCREF(a);
        }
        PyTuple_SET_ITEM(w, i, a);
    }
    return w;
}

static PyObject *
apply_widened(int op, int nin, TensorObject **in, PyObject *attrs)
{
    TensorObject *inline_w[MAX_INLINE_ARGS];
    TensorObject **w = inline_w;
    PyObject *r = NULL, *wattrs = NULL;
    int narrow = -1, given, n = 0;
    /* the result's dtype: a `dtype` attribute's if given, else the first
     * narrow input's (index inputs aside), else a narrow attribute's */
    int asked = dtype_attr_narrow(op, attrs, &given);
    if (nin > MAX_INLINE_ARGS &&
        (w = PyMem_New(TensorObject *, nin)) == NULL) {
        return PyErr_NoMemory();
    }
    for (; n < nin; n++) {
        int dt = in[n]->dtype;
        if (!widens(op, n, dt)) {
            w[n] = (TensorObject *)Py_NewRef(in[n]);
            continue;
        }
        if (narrow < 0 && !index_input(op, n)) {
            narrow = dt;
        }
        if ((w[n] = widened(op, in[n])) == NULL) {
            goto done;
        }
    }
    if (attrs != NULL && PyTuple_Check(attrs) &&
        (wattrs = widened_attrs(op, attrs, &narrow)) == NULL) {
        goto done;
    }
    r = tg_apply(op, nin, w, wattrs ? wattrs : attrs);
    if (given) {
        /* the row's dtype decides: argmax's default output_type int64
         * stays int64 */
        narrow = asked;
    }
    if (r != NULL && narrow >= 0) {
        r = narrow_outputs(r, narrow);
    }
done:
    for (int i = 0; i < n; i++) {
        Py_DECREF(w[i]);
    }
    if (w != inline_w) {
        PyMem_Free(w);
    }
    Py_XDECREF(wattrs);
    return r;
}

PyObject *
tg_apply(int op, int nin, TensorObject **in, PyObject *attrs)
{
    const tg_opdef *d = &tg_ops[op];
    tg_fwd f = {.in = in, .nin = nin, .attrs = attrs, .nout = 1};
    PyObject *result;
    int widen = 0;
    /* one float32 or float64 dtype and no attributes (the sweep's
     * arithmetic, a scalar chain): every row accepts it, none widens it */
    if (attrs == NULL && nin >= 1 && nin <= 2 &&
        (in[0]->dtype == TG_FLOAT32 || in[0]->dtype == TG_FLOAT64) &&
        in[nin - 1]->dtype == in[0]->dtype) {
        goto run;
    }
    if ((d->flags & TG_SAME_DTYPE) && tg_check_same_dtype(op, nin, in) < 0) {
        return NULL;
    }
    for (int i = 0; i < nin; i++) {
        int dt = in[i]->dtype;
        if ((dt == TG_BOOL && !(d->flags & TG_BOOL_OK)) ||
            (!tg_is_float(dt) && !(d->flags & TG_INT_OK))) {
            TG_INVALID_ARGUMENT(
                "Value for attr 'T' of %s is not in the list of allowed "
                "values: %s [Op:%s]", tg_dtype_names[dt],
                (d->flags & TG_INT_OK)
                    ? "half, float, double, int8, int16, int32, int64, "
                      "uint8, uint16, uint32, uint64"
                    : "half, float, double",
                d->tf_name);
            return NULL;
        }
        widen |= widens(op, i, dt);
    }
    if (!widen && attrs != NULL) {
        widen = attrs_widen(op, attrs);
    }
    /* composite rows widen in the primitives they call; cast converts
     * between any two dtypes itself; custom_gradient's function sees the
     * user's own tensors */
    if (widen && !(d->flags & TG_COMPOSITE) && op != TG_OP_cast &&
        op != TG_OP_custom_gradient) {
        return apply_widened(op, nin, in, attrs);
    }
run:
    if (d->forward(&f) < 0) {
        for (int i = 0; i < TG_MAX_OUT; i++) {
            Py_CLEAR(f.out[i]);
        }
        Py_CLEAR(f.result);
        return NULL;
    }
    if (f.result != NULL) {
        return f.result; /* a composite's own result (its ops recorded) */
    }
    /* never recorded, but tape.explain wants to know it cut a path
     * (tg_no_record is read in there: a thread-local read here would be
     * paid by every op) */
    if ((d->flags & TG_NONDIFF) &&
        tg_explain_nondiff(op, nin, in, f.nout, f.out) < 0) {
        for (int i = 0; i < f.nout; i++) {
            Py_DECREF(f.out[i]);
        }
        return NULL;
    }
    /* composite rows recorded their primitives already; tapes record,
     * then active accumulators compute the outputs' tangents */
    if ((tg_num_recording > 0 || tg_num_accumulating > 0) && !tg_no_record &&
        !(d->flags & (TG_NONDIFF | TG_COMPOSITE)) &&
        (tg_tape_record(op, nin, in, f.nout, f.out, attrs) < 0 ||
         (tg_num_accumulating > 0 &&
          tg_forward_accumulate(op, nin, in, f.nout, f.out, attrs) < 0))) {
        for (int i = 0; i < f.nout; i++) {
            Py_DECREF(f.out[i]);
        }
        return NULL;
    }
    if (f.nout == 1) {
        return (PyObject *)f.out[0];
    }
    result = PyTuple_New(f.nout);
    for (int i = 0; i < f.nout; i++) {
        if (result == NULL) {
            Py_DECREF(f.out[i]);
        }
        else {
            PyTuple_SET_ITEM(result, i, (PyObject *)f.out[i]);
        }
    }
    return result;
}

PyObject *
tg_call_tensors(int op, int nin, TensorObject **in, PyObject *attrs)
{
    return tg_apply(op, nin, in, attrs);
}

/* The results of an op called on a Variable remember it, so tape.explain
 * can tell a user whose `x = x + 1` replaced a Variable with a Tensor. */
static void
mark_from_variable(PyObject *result)
{
    if (Tensor_Check(result)) {
        ((TensorObject *)result)->from_variable = 1;
    }
    else if (PyTuple_Check(result)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(result); i++) {
            PyObject *item = PyTuple_GET_ITEM(result, i);
            if (Tensor_Check(item)) {
                ((TensorObject *)item)->from_variable = 1;
            }
        }
    }
}

PyObject *
tg_call(int op, int nargs, PyObject *const *args, PyObject *attrs)
{
    const tg_opdef *d = &tg_ops[op];
    TensorObject *inline_in[MAX_INLINE_ARGS];
    TensorObject **in = inline_in;
    PyObject *result = NULL;
    int dt = -1, n = 0, want = -1;
    /* a Variable among the arguments counts a read (tg_variable_read):
     * cheaper to compare once than to test every argument's type */
    Py_ssize_t reads = tg_variable_reads;
    int same = (d->flags & TG_SAME_DTYPE) != 0;

    /* two tensors of one dtype into arithmetic (`y * x`): nothing to
     * convert, no Variable read to note (tg_apply checks the dtype) */
    if (nargs == 2 && attrs == NULL && tg_is_arithmetic(op) &&
        Tensor_Check(args[0]) && Tensor_Check(args[1]) &&
        ((TensorObject *)args[0])->dtype ==
            ((TensorObject *)args[1])->dtype) {
        TensorObject *in2[2] = {(TensorObject *)args[0],
                                (TensorObject *)args[1]};
        return tg_apply(op, 2, in2, NULL);
    }
    /* a float tensor and a Python float into arithmetic (`y * x + 1.0`):
     * what the loop below does, the float taking the tensor's dtype from
     * the constant cache, without its per-argument tests */
    if (nargs == 2 && attrs == NULL && tg_is_arithmetic(op)) {
        int k = Tensor_Check(args[0]) && PyFloat_CheckExact(args[1])   ? 0
                : PyFloat_CheckExact(args[0]) && Tensor_Check(args[1]) ? 1
                                                                       : -1;
        int kdt = k >= 0 ? ((TensorObject *)args[k])->dtype : -1;
        if (kdt == TG_FLOAT32 || kdt == TG_FLOAT64) {
            TensorObject *in2[2];
            in2[k] = (TensorObject *)args[k];
            in2[1 - k] = tg_constant_scalar(kdt,
                                            PyFloat_AS_DOUBLE(args[1 - k]));
            if (in2[1 - k] == NULL) {
                return NULL;
            }
            result = tg_apply(op, 2, in2, NULL);
            Py_DECREF(in2[1 - k]);
            return result;
        }
    }
    if ((d->flags & TG_DTYPE_INPUTS) && attrs != NULL &&
        PyTuple_GET_SIZE(attrs) > 0 &&
        tg_dtype_arg(PyTuple_GET_ITEM(attrs, PyTuple_GET_SIZE(attrs) - 1),
                     &want) < 0) {
        return NULL;
    }
    if (nargs > MAX_INLINE_ARGS) {
        in = PyMem_New(TensorObject *, nargs);
        if (in == NULL) {
            return PyErr_NoMemory();
        }
    }
    if (same) {
        for (int i = 0; i < nargs && dt < 0; i++) {
            if (index_input(op, i)) {
                continue;
            }
            if (Tensor_Check(args[i])) {
                dt = ((TensorObject *)args[i])->dtype;
            }
            else if (Variable_Check(args[i])) {
                dt = ((VariableObject *)args[i])->value->dtype;
            }
        }
    }
    for (; n < nargs; n++) {
        int hint = same && !index_input(op, n) ? dt : -1;
        if (want >= 0 && !Tensor_Check(args[n]) && !Variable_Check(args[n])) {
            hint = want;
        }
        if (PyFloat_CheckExact(args[n]) &&
            (hint == TG_FLOAT32 || hint == TG_FLOAT64) &&
            tg_is_arithmetic(op)) {
            in[n] = tg_constant_scalar(hint, PyFloat_AS_DOUBLE(args[n]));
        }
        else {
            in[n] = tg_convert(args[n], hint, d->tf_name);
        }
        if (in[n] == NULL) {
            goto done;
        }
        if (same && dt < 0 && !index_input(op, n)) {
            dt = in[n]->dtype;
        }
    }
    result = tg_apply(op, nargs, in, attrs);
    if (reads != tg_variable_reads && result != NULL) {
        mark_from_variable(result);
    }
done:
    for (int i = 0; i < n; i++) {
        Py_DECREF(in[i]);
    }
    if (in != inline_in) {
        PyMem_Free(in);
    }
    return result;
}
