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

int
tg_check_same_dtype(int op, int nin, TensorObject **in)
{
    for (int i = 1; i < nin; i++) {
        if (tg_want_dtype(tg_ops[op].tf_name, i, in[0]->dtype,
                          in[i]->dtype) < 0) {
            return -1;
        }
    }
    return 0;
}

PyObject *
tg_apply(int op, int nin, TensorObject **in, PyObject *attrs)
{
    const tg_opdef *d = &tg_ops[op];
    tg_fwd f = {.in = in, .nin = nin, .attrs = attrs, .nout = 1};
    PyObject *result;
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
                (d->flags & TG_INT_OK) ? "half, float, double, int32, int64"
                                       : "half, float, double",
                d->tf_name);
            return NULL;
        }
    }
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
    /* composite rows recorded their primitives already; tapes record,
     * then active accumulators compute the outputs' tangents */
    if (!tg_no_record && !(d->flags & (TG_NONDIFF | TG_COMPOSITE)) &&
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

PyObject *
tg_call(int op, int nargs, PyObject *const *args, PyObject *attrs)
{
    const tg_opdef *d = &tg_ops[op];
    TensorObject *inline_in[MAX_INLINE_ARGS];
    TensorObject **in = inline_in;
    PyObject *result = NULL;
    int dt = -1, n = 0, want = -1;
    int same = (d->flags & TG_SAME_DTYPE) != 0;

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
            if (Tensor_Check(args[i])) {
                dt = ((TensorObject *)args[i])->dtype;
            }
            else if (Variable_Check(args[i])) {
                dt = ((VariableObject *)args[i])->value->dtype;
            }
        }
    }
    for (; n < nargs; n++) {
        int hint = same ? dt : -1;
        if (want >= 0 && !Tensor_Check(args[n]) && !Variable_Check(args[n])) {
            hint = want;
        }
        in[n] = tg_convert(args[n], hint, d->tf_name);
        if (in[n] == NULL) {
            goto done;
        }
        if (same && dt < 0) {
            dt = in[n]->dtype;
        }
    }
    result = tg_apply(op, nargs, in, attrs);
done:
    for (int i = 0; i < n; i++) {
        Py_DECREF(in[i]);
    }
    if (in != inline_in) {
        PyMem_Free(in);
    }
    return result;
}
