/* ops.c -- every row of ops.def: NAME_forward and NAME_vjp side by side.
 *
 * Forwards work on Tensors at kernel level and are never recorded
 * themselves (dispatch.c records).  vjps compute with recorded ops through
 * the formula helpers below, so every gradient is differentiable again;
 * they never undo broadcasting (the sweep does, in one place) and they may
 * skip inputs whose needs[i] is 0.
 *
 * Formula helpers: ADD/SUB/MUL/DIV/NEG/... take and return borrowed-looking
 * PyObject* that the scope `S` owns; any NULL argument makes them return
 * NULL without calling anything, so a vjp reads like its math and checks
 * for errors once, in VJP_END.
 */
#include "vjp.h"
#include <math.h>


/* ---- elementwise arithmetic ------------------------------------------------------ */

/* The output computed in place in the operand an operator donated
 * (tensor.c, "temporary elision"), when it is one of this op's inputs,
 * has the output's shape and dtype, the other operand is as large or a
 * single element (one pass over exactly aliased buffers, as NumPy's
 * in-place loops), and no tape that is recording saves that input.  1 if
 * taken, 0 if not, -1 on error. */
static int
donated_output(int op, TensorObject **in, int dt, int ndim,
               const Py_ssize_t *shape, TensorObject **out)
{
    TensorObject *d = tg_elide_donor;
    int k = d == in[0] ? 0 : d == in[1] ? 1 : -1;
    int saves = tg_ops[op].flags &
                (TG_SAVE_INS | (k == 0 ? TG_SAVE_IN0 : TG_SAVE_IN1));
    if (k < 0) {
        return 0;
    }
    tg_elide_donor = NULL;
    if (Py_REFCNT(d) != 1 || d->dtype != dt || d->ndim != ndim ||
        (saves && tg_num_recording > 0) || tg_num_accumulating > 0 ||
        (in[1 - k]->size != 1 && in[1 - k]->size != d->size)) {
        return 0;
    }
    for (int i = 0; i < ndim; i++) {
        if (d->shape[i] != shape[i]) {
            return 0;
        }
    }
    return tg_tensor_take_block(d, out);
}

int
tg_binary_forward(int op, TensorObject **in, TensorObject **out)
{
    Py_ssize_t shape[TG_MAXDIMS];
    int ndim, dt = in[0]->dtype;
    int flags = tg_ops[op].flags;
    /* two float scalars (a scalar chain, its sweep): no shapes to
     * broadcast, no kernel to choose */
    if (in[0]->ndim == 0 && in[1]->ndim == 0 && dt == in[1]->dtype &&
        (dt == TG_FLOAT32 || dt == TG_FLOAT64) && tg_is_arithmetic(op)) {
        if ((*out = tg_tensor_new(dt, 0, NULL)) == NULL) {
            return -1;
        }
        if (dt == TG_FLOAT32) {
            float x = *(float *)in[0]->data, y = *(float *)in[1]->data;
            *(float *)(*out)->data = op == TG_OP_add        ? x + y
                                     : op == TG_OP_subtract ? x - y
                                     : op == TG_OP_multiply ? x * y
                                                            : x / y;
        }
        else {
            double x = *(double *)in[0]->data, y = *(double *)in[1]->data;
            *(double *)(*out)->data = op == TG_OP_add        ? x + y
                                      : op == TG_OP_subtract ? x - y
                                      : op == TG_OP_multiply ? x * y
                                                             : x / y;
        }
        return 0;
    }
    if (tg_broadcast_shapes(tg_ops[op].tf_name, in[0], in[1], &ndim, shape) <
        0) {
        return -1;
    }
    if (flags & TG_NONDIFF) {
        dt = TG_BOOL; /* comparisons */
    }
    else if (op == TG_OP_divide && !tg_is_float(dt)) {
        dt = TG_FLOAT64; /* TF: int32 / int32 is float64 */
    }
    *out = NULL;
    if (tg_elide_donor != NULL) {
        int taken = donated_output(op, in, dt, ndim, shape, out);
        if (taken < 0) {
            return -1;
        }
    }
    if (*out == NULL && (*out = tg_tensor_new(dt, ndim, shape)) == NULL) {
        return -1;
    }
    if (tg_binary_kernel(op, in[0], in[1], *out) < 0) {
        Py_CLEAR(*out);
        return -1;
    }
    return 0;
}

int
tg_unary_forward(int op, TensorObject **in, TensorObject **out)
{
    *out = tg_tensor_new(in[0]->dtype, in[0]->ndim, in[0]->shape);
    if (*out == NULL) {
        return -1;
    }
    if (tg_unary_kernel(op, in[0], *out) < 0) {
        Py_CLEAR(*out);
        return -1;
    }
    return 0;
}


/* ---- add ----------------------------------------------------------------------
 * z = x + y                                 dx = g, dy = g
 */
BINARY_FORWARD(add)
int
add_vjp(tg_vjp_ctx *c)
{
    SET(0, G);
    SET(1, G);
    return 0;
}
JVP_LINEAR(add)

/* ---- subtract --------------------------------------------------------------------
 * z = x - y                                 dx = g, dy = -g
 */
BINARY_FORWARD(subtract)
int
subtract_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, G);
    if (NEEDS(1)) {
        SET(1, NEG(G));
    }
    VJP_END;
}
JVP_LINEAR(subtract)

/* ---- multiply -------------------------------------------------------------------------
 * z = x * y                                 dx = g * y, dy = g * x
 * A factor known to be all ones (all_ones: a sweep's seed, a fill of
 * ones, reduce_sum's vjp of a seed) gives the other factor's values: a
 * view of it under a new id, no pass over the data (1 * t is t for every
 * value but a signaling NaN, which it would quiet).
 * Still recorded as a multiply, so higher orders see the product.
 */
#define ONES_VIEW_MIN 1024  /* smaller: not worth the check */

/* 1 with f->out[0] set if one factor is known ones, 0 if not, -1 on error
 * (out of line: the scalar path keeps a frame-free tail call) */
static __attribute__((noinline)) int
ones_product(tg_fwd *f)
{
    TensorObject *a = f->in[0], *b = f->in[1];
    if (!tg_is_float(a->dtype) || !tg_same_shape(a, b)) {
        return 0;
    }
    TensorObject *t = a->all_ones ? b : b->all_ones ? a : NULL;
    if (t == NULL) {
        return 0;
    }
    f->out[0] = tg_tensor_view(t, t->ndim, t->shape, 0);
    return f->out[0] ? 1 : -1;
}

int
multiply_forward(tg_fwd *f)
{
    if (f->in[0]->size >= ONES_VIEW_MIN) {
        int r = ones_product(f);
        if (r != 0) {
            return r < 0 ? -1 : 0;
        }
    }
    return tg_binary_forward(TG_OP_multiply, f->in, &f->out[0]);
}
int
multiply_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    /* G read once (one input needs it): an unrecorded sweep may write the
     * product over it (LAST, tg_op2_over), as the chain's steps do */
    PyObject *g = NEEDS(0) && NEEDS(1) ? G : LAST(G);
    if (NEEDS(0)) {
        SET(0, MUL(g, X(1)));
    }
    if (NEEDS(1)) {
        SET(1, MUL(g, X(0)));
    }
    VJP_END;
}
JVP_ELEMENTWISE(multiply)

/* ---- divide ---------------------------------------------------------------------
 * z = x / y                                 dx = g / y, dy = -g * x / y^2
 */
BINARY_FORWARD(divide)
int
divide_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(0)) {
        SET(0, DIV(G, X(1)));
    }
    if (NEEDS(1)) {
        SET(1, NEG(DIV(MUL(G, X(0)), MUL(X(1), X(1)))));
    }
    VJP_END;
}
JVP_ELEMENTWISE(divide)

/* ---- pow -----------------------------------------------------------------------------
 * z = x ** y                                dx = g * y * x^(y-1)
 *                                           dy = g * z * log(x), 0 where
 *                                                x <= 0 (TF's choice)
 */
/* A constant exponent of 2, 1 or -1 (x**2 everywhere, and the 2 - 1 = 1
 * that x**2's own vjp raises x to) takes square, a view or reciprocal
 * instead of NumPy's general power loop, about 3.5x slower than a square.
 * Each is exactly what pow gives: the correctly rounded x*x, x, 1/x. */
static int
pow_by_constant(tg_fwd *f)
{
    TensorObject *x = f->in[0], *y = f->in[1];
    double e;
    if (y->size != 1 || y->ndim > x->ndim || x->dtype != y->dtype) {
        return 0;
    }
    if (x->dtype == TG_FLOAT32) {
        e = *(float *)y->data;
    }
    else if (x->dtype == TG_FLOAT64) {
        e = *(double *)y->data;
    }
    else {
        return 0;
    }
    if (e == 1.0) {
        f->out[0] = tg_tensor_view(x, x->ndim, x->shape, 0);
        return f->out[0] ? 1 : -1;
    }
    if (e != 2.0 && e != -1.0) {
        return 0;
    }
    f->out[0] = tg_tensor_new(x->dtype, x->ndim, x->shape);
    if (f->out[0] == NULL) {
        return -1;
    }
    int rc = tg_unary_numpy_loop(e == 2.0 ? "square" : "reciprocal", x,
                                 f->out[0]);
    if (rc <= 0) {
        Py_CLEAR(f->out[0]);
    }
    return rc;
}

int
pow_forward(tg_fwd *f)
{
    int r = pow_by_constant(f);
    if (r != 0) {
        return r < 0 ? -1 : 0;
    }
    return tg_binary_forward(TG_OP_pow, f->in, &f->out[0]);
}
int
pow_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    double k;
    if (NEEDS(0) && tg_vjp_scalable(c, G, X(1), &k)) {
        /* g all ones and a constant exponent k: x^(k-1), handed to the
         * sweep as a term scaled by k, whose product is made in the pass
         * that sums x's gradient (x**2: no pass of its own at all) */
        SET(0, POW(X(0), SUB(X(1), CONST(1.0, X(1)))));
        c->scaled |= 1u;
        c->scale[0] = k;
    }
    else if (NEEDS(0)) {
        SET(0, MUL(G, LAST(MUL(X(1), POW(X(0), SUB(X(1), CONST(1.0, X(1))))))));
    }
    if (NEEDS(1)) {
        /* m = (x > 0); log(x*m + (1-m)) * m is log(x) where x > 0 and 0
         * elsewhere, finite everywhere, and built from recorded ops */
        PyObject *m = mask_like(S, TG_OP_greater, X(0));
        PyObject *one = CONST(1.0, X(0));
        PyObject *safe_x = ADD(MUL(X(0), m), SUB(one, m));
        SET(1, MUL(G, MUL(Y, MUL(UNARY(log, safe_x), m))));
    }
    VJP_END;
}
JVP_ELEMENTWISE(pow)

/* ---- negative ------------------------------------------------------------------------
 * z = -x                                    dx = -g
 */
UNARY_FORWARD(negative)
int
negative_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, NEG(G));
    VJP_END;
}
JVP_LINEAR(negative)

/* ---- identity -------------------------------------------------------------------------
 * z = x (a new tensor sharing x's bytes)    dx = g
 */
int
identity_forward(tg_fwd *f)
{
    TensorObject **in = f->in, **out = &f->out[0];
    *out = tg_tensor_view(in[0], in[0]->ndim, in[0]->shape, 0);
    return *out ? 0 : -1;
}

int
identity_vjp(tg_vjp_ctx *c)
{
    SET(0, G);
    return 0;
}
JVP_LINEAR(identity)

/* ---- custom_gradient ---------------------------------------------------------------
 * outs = values[k:] (new tensors sharing their bytes), k = num_inputs.
 * The vjp calls grad_fn(*gs), one upstream gradient per output, which
 * returns a sequence of k gradients (None for "no gradient"): those go to
 * values[:k], and values[k:] get none, so the sweep never enters the
 * computation that produced them.  tapegrad.custom_gradient (Python)
 * builds grad_fn around the user's function; grad_fn runs tapegrad ops,
 * so enclosing tapes record it like any other vjp.  Without grad_fn the
 * row is IdentityN: gradients pass straight through to values[k:].
 */
static int
custom_gradient_num_inputs(PyObject *attrs, int nvalues, int *k)
{
    PyObject *obj = attr(attrs, 0);
    Py_ssize_t v = 0;
    if (obj != Py_None &&
        tg_int_scalar("custom_gradient", "num_inputs", obj, &v) < 0) {
        return -1;
    }
    if (v < 0 || v > nvalues) {
        PyErr_Format(PyExc_ValueError,
                     "custom_gradient: num_inputs must be in [0, %d], got "
                     "%zd", nvalues, v);
        return -1;
    }
    *k = (int)v;
    return 0;
}

int
custom_gradient_forward(tg_fwd *f)
{
    PyObject *grad_fn = attr(f->attrs, 1);
    int k;
    if (custom_gradient_num_inputs(f->attrs, f->nin, &k) < 0) {
        return -1;
    }
    if (grad_fn != Py_None && !PyCallable_Check(grad_fn)) {
        PyErr_Format(PyExc_TypeError,
                     "custom_gradient: grad_fn must be callable, not %.100s",
                     Py_TYPE(grad_fn)->tp_name);
        return -1;
    }
    if (f->nin - k < 1 || f->nin - k > TG_MAX_OUT) {
        PyErr_Format(PyExc_ValueError,
                     "custom_gradient: a function with a custom gradient "
                     "must return between 1 and %d tensors, got %d",
                     TG_MAX_OUT, f->nin - k);
        return -1;
    }
    f->nout = f->nin - k;
    for (int j = 0; j < f->nout; j++) {
        TensorObject *v = f->in[k + j];
        f->out[j] = tg_tensor_view(v, v->ndim, v->shape, 0);
        if (f->out[j] == NULL) {
            return -1;
        }
    }
    return 0;
}

/* grad_fn's gradient for input i, as a tensor of that input's dtype and
 * shape; NULL with an exception otherwise. */
static PyObject *
custom_gradient_input_grad(PyObject *g, const tg_slot *s, int i)
{
    TensorObject *t = tg_convert(g, s->dtype, "custom_gradient");
    if (t == NULL) {
        return NULL;
    }
    if (t->dtype != s->dtype) {
        PyErr_Format(PyExc_TypeError,
                     "custom_gradient: the gradient returned for input %d "
                     "has dtype %s, but that input has dtype %s", i,
                     tg_dtype_names[t->dtype], tg_dtype_names[s->dtype]);
        Py_DECREF(t);
        return NULL;
    }
    if (t->ndim != s->ndim ||
        memcmp(t->shape, s->shape, (size_t)s->ndim * sizeof(Py_ssize_t))) {
        PyObject *want = tg_shape_str(s->ndim, s->shape);
        PyObject *got = want ? tg_shape_str(t->ndim, t->shape) : NULL;
        if (got != NULL) {
            PyErr_Format(PyExc_ValueError,
                         "custom_gradient: the gradient returned for input "
                         "%d has shape %U, but that input has shape %U",
                         i, got, want);
        }
        Py_XDECREF(want);
        Py_XDECREF(got);
        Py_DECREF(t);
        return NULL;
    }
    return (PyObject *)t;
}

int
custom_gradient_vjp(tg_vjp_ctx *c)
{
    PyObject *grad_fn = attr(c->attrs, 1), *args = NULL, *res = NULL;
    PyObject *seq = NULL;
    int nin = c->e->nin, nout = c->e->nout, k, rc = -1;
    if (custom_gradient_num_inputs(c->attrs, nin, &k) < 0) {
        return -1;
    }
    if (grad_fn == Py_None) {
        for (int j = 0; j < nout; j++) {
            SET(k + j, GS(j));
        }
        return 0;
    }
    if ((args = PyTuple_New(nout)) == NULL) {
        return -1;
    }
    for (int j = 0; j < nout; j++) {
        PyTuple_SET_ITEM(args, j, Py_NewRef(GS(j)));
    }
    if ((res = PyObject_Call(grad_fn, args, NULL)) == NULL) {
        goto done;
    }
    /* a tuple of its own: converting an item may run code that changes a
     * list grad_fn handed back */
    if (!PyList_Check(res) && !PyTuple_Check(res)) {
        PyErr_Format(PyExc_TypeError,
                     "custom_gradient: grad_fn must return a list or tuple "
                     "of gradients, not %.100s", Py_TYPE(res)->tp_name);
        goto done;
    }
    if ((seq = PySequence_Tuple(res)) == NULL) {
        goto done;
    }
    if (PyTuple_GET_SIZE(seq) != k) {
        PyErr_Format(PyExc_ValueError,
                     "custom_gradient function expected to return %d "
                     "gradients, but returned %zd instead.", k,
                     PyTuple_GET_SIZE(seq));
        goto done;
    }
    for (int i = 0; i < k; i++) {
        PyObject *g = PyTuple_GET_ITEM(seq, i);
        if (!NEEDS(i) || g == Py_None) {
            continue;
        }
        if ((c->gx[i] = custom_gradient_input_grad(g, IN_SLOT(i), i)) ==
            NULL) {
            goto done;
        }
    }
    rc = 0;
done:
    Py_XDECREF(args);
    Py_XDECREF(res);
    Py_XDECREF(seq);
    return rc;
}
JVP_TRANSPOSED(custom_gradient)

/* ---- sin, cos, exp, log -------------------------------------------------------------
 * sin: dx = g * cos(x)      cos: dx = -g * sin(x)
 * exp: dx = g * z           log: dx = g / x
 * An unrecorded sweep runs sin's and cos's as one chunked pass
 * (tg_fused_unary_grad): the formula's cos(x) temporary never exists.
 */
UNARY_FORWARD(sin)
int
sin_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *fused = KEEP(tg_fused_unary_grad(c, "cos", 0, G, X(0)));
    if (fused == NULL && !PyErr_Occurred()) {
        fused = MUL(G, LAST(UNARY(cos, X(0))));
    }
    SET(0, fused);
    VJP_END;
}
JVP_ELEMENTWISE(sin)

UNARY_FORWARD(cos)
int
cos_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *fused = KEEP(tg_fused_unary_grad(c, "sin", 1, G, X(0)));
    if (fused == NULL && !PyErr_Occurred()) {
        fused = NEG(MUL(G, LAST(UNARY(sin, X(0)))));
    }
    SET(0, fused);
    VJP_END;
}
JVP_ELEMENTWISE(cos)

UNARY_FORWARD(exp)
int
exp_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, Y));
    VJP_END;
}
JVP_ELEMENTWISE(exp)

UNARY_FORWARD(log)
int
log_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, DIV(G, X(0)));
    VJP_END;
}
JVP_ELEMENTWISE(log)

/* ---- sigmoid, softplus, relu ------------------------------------------------------------
 * sigmoid:  z = 1 / (1 + e^-x)              dx = g * z * (1 - z)
 * softplus: z = log(1 + e^x), stable form   dx = g * sigmoid(x)
 * relu:     z = max(x, 0)                   dx = g * (z > 0)
 */
UNARY_FORWARD(sigmoid)
int
sigmoid_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *fused = KEEP(tg_fused_grad(c, TG_FUSED_SIGMOID, G, Y));
    if (fused == NULL && !PyErr_Occurred()) {
        fused = MUL(G, LAST(MUL(Y, LAST(SUB(CONST(1.0, Y), Y)))));
    }
    SET(0, fused);
    VJP_END;
}
JVP_ELEMENTWISE(sigmoid)

UNARY_FORWARD(softplus)
int
softplus_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, LAST(UNARY(sigmoid, X(0)))));
    VJP_END;
}
JVP_ELEMENTWISE(softplus)

UNARY_FORWARD(relu)
int
relu_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    /* the mask is a constant (a comparison, then a cast of a bool tensor:
     * neither is recorded), so relu's second derivative is 0, as in TF */
    SET(0, MUL(G, mask_like(S, TG_OP_greater, Y)));
    VJP_END;
}
JVP_ELEMENTWISE(relu)

/* ---- reduce_sum, reduce_mean --------------------------------------------------------------
 * z = sum(x, axes)                          dx = broadcast(g, shape(x))
 * z = mean(x, axes)                         dx = broadcast(g, shape(x)) / n
 * attrs: (axis, keepdims)
 */
static PyObject *
reduce_numpy(TensorObject *x, const char *mask, int keepdims)
{
    PyObject *arr = tg_tensor_as_array(x), *axes = NULL, *kw = NULL;
    PyObject *reduce = NULL, *r = NULL;
    int n = 0;
    if (arr == NULL) {
        return NULL;
    }
    axes = PyTuple_New(x->ndim);
    for (int i = 0; axes && i < x->ndim; i++) {
        if (mask[i]) {
            PyTuple_SET_ITEM(axes, n++, PyLong_FromLong(i));
        }
    }
    if (axes == NULL || _PyTuple_Resize(&axes, n) < 0) {
        goto done;
    }
    kw = Py_BuildValue("{sOsOsO}", "axis", axes, "dtype",
                       (PyObject *)PyArray_DESCR((PyArrayObject *)arr),
                       "keepdims", keepdims ? Py_True : Py_False);
    reduce = tg_numpy_ufunc_reduce("add");
    if (kw == NULL || reduce == NULL) {
        goto done;
    }
    PyObject *args = PyTuple_Pack(1, arr);
    if (args != NULL) {
        r = tg_np_call(reduce, args, kw);
        Py_DECREF(args);
    }
    if (r != NULL && !PyArray_Check(r)) {
        /* a full reduction gives a NumPy scalar */
        Py_SETREF(r, PyArray_FromAny(r, NULL, 0, 0, 0, NULL));
    }
done:
    Py_XDECREF(arr);
    Py_XDECREF(axes);
    Py_XDECREF(kw);
    return r;
}

static int
reduce_forward(int op, TensorObject *x, PyObject *attrs, TensorObject **out)
{
    char mask[TG_MAXDIMS];
    int keepdims = attr_bool(attrs, 1), nd = 0, all = 1;
    Py_ssize_t shape[TG_MAXDIMS], count = 1;
    const char *tfname = tg_ops[op].tf_name;
    if (keepdims < 0 ||
        tg_parse_axes(tfname, "axis", attr(attrs, 0), x->ndim, mask) < 0) {
        return -1;
    }
    if (x->dtype == TG_FLOAT16) {
        /* accumulate (and divide) in float32, round once at the end, as
         * TF's half kernels: a float16 sum of 1e5 ones would overflow */
        TensorObject *x32 = tg_ufunc_apply(NULL, 1, &x, TG_FLOAT32), *r32;
        if (x32 == NULL) {
            return -1;
        }
        int rc = reduce_forward(op, x32, attrs, &r32);
        Py_DECREF(x32);
        if (rc < 0) {
            return -1;
        }
        *out = tg_ufunc_apply(NULL, 1, &r32, TG_FLOAT16);
        Py_DECREF(r32);
        return *out ? 0 : -1;
    }
    for (int i = 0; i < x->ndim; i++) {
        if (mask[i]) {
            count *= x->shape[i];
            if (keepdims) {
                shape[nd++] = 1;
            }
        }
        else {
            all = 0;
            shape[nd++] = x->shape[i];
        }
    }
    *out = tg_tensor_new(x->dtype, nd, shape);
    if (*out == NULL) {
        return -1;
    }
    if (all) {
        if (tg_sum_all(x, *out) < 0) {
            goto error;
        }
    }
    else {
        PyObject *r = reduce_numpy(x, mask, keepdims);
        if (r == NULL) {
            goto error;
        }
        TensorObject *t = tg_tensor_from_array((PyArrayObject *)r, x->dtype);
        Py_DECREF(r);
        if (t == NULL) {
            goto error;
        }
        memcpy((*out)->data, t->data,
               (size_t)t->size * (size_t)tg_dtype_size[t->dtype]);
        Py_DECREF(t);
    }
    if (op == TG_OP_reduce_mean) {
        char *p = (*out)->data;
        for (Py_ssize_t i = 0; i < (*out)->size; i++) {
            switch (x->dtype) {
                case TG_FLOAT32: ((float *)p)[i] /= (float)count; break;
                case TG_FLOAT64: ((double *)p)[i] /= (double)count; break;
                case TG_INT32:
                    if (count) {
                        ((int32_t *)p)[i] /= (int32_t)count;
                    }
                    break;
                case TG_INT64:
                    if (count) {
                        ((int64_t *)p)[i] /= (int64_t)count;
                    }
                    break;
                default: /* float16 was widened above; bool is rejected */
                    break;
            }
        }
    }
    return 0;
error:
    Py_CLEAR(*out);
    return -1;
}

#define REDUCE_FILL_MAX 4096  /* elements: see reduce_grad */

/* elements of a slot's shape (its tensor was made: no overflow) */
static Py_ssize_t
slot_size(const tg_slot *s)
{
    Py_ssize_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        n *= s->shape[i];
    }
    return n;
}

/* g, reshaped to the input's rank with 1 on reduced dims, broadcast back;
 * with `mean`, divided by the count of reduced elements first (on the
 * small tensor: the same quotients, one pass fewer) */
static PyObject *
reduce_grad(tg_vjp_ctx *c, scope *S, int mean)
{
    PyObject *g = G;
    Py_ssize_t count;
    const tg_slot *x = &c->e->slots[0];
    char mask[TG_MAXDIMS];
    Py_ssize_t kept[TG_MAXDIMS];
    if (tg_parse_axes(tg_ops[c->e->op].tf_name, "axis", attr(c->attrs, 0),
                      x->ndim, mask) < 0) {
        return NULL;
    }
    count = 1;
    for (int i = 0; i < x->ndim; i++) {
        kept[i] = mask[i] ? 1 : x->shape[i];
        count *= mask[i] ? x->shape[i] : 1;
    }
    if (mean) {
        g = DIV(g, CONST((double)count, G));
    }
    tg_slot kept_slot = {.ndim = x->ndim, .shape = kept};
    TensorObject *tg = (TensorObject *)g;
    /* a scalar g over a small input, nothing recording the sweep: the
     * broadcast is a fill with g's value (the same elements, and all_ones
     * when g is 1, as broadcast_to's), without dispatching an op.  Larger
     * inputs keep broadcast_to, which views shared ones for a ones seed. */
    if (g != NULL && !c->batch && Tensor_Check(g) && tg->ndim == 0 &&
        (tg->dtype == TG_FLOAT32 || tg->dtype == TG_FLOAT64) &&
        x->dtype == tg->dtype && x->ndim > 0 &&
        slot_size(x) <= REDUCE_FILL_MAX && tg_unrecorded()) {
        double v = tg->dtype == TG_FLOAT32 ? *(float *)tg->data
                                           : *(double *)tg->data;
        return KEEP((PyObject *)tg_fill_like(tg->dtype, x->ndim, x->shape,
                                             v));
    }
    /* a scalar g (every axis reduced) broadcasts as it is, and g already
     * of the kept shape (keepdims) needs no reshape: one op fewer */
    int as_is = g != NULL && !c->batch &&
                (tg->ndim == 0 ||
                 (tg->ndim == x->ndim &&
                  !memcmp(tg->shape, kept, (size_t)x->ndim * sizeof(*kept))));
    if (!as_is) {
        g = GTO_SHAPE(reshape, g, &kept_slot);
    }
    return GTO_SHAPE(broadcast_to, g, x);
}

int
reduce_sum_forward(tg_fwd *f)
{
    TensorObject **in = f->in, **out = &f->out[0];
    PyObject *attrs = f->attrs;
    return reduce_forward(TG_OP_reduce_sum, in[0], attrs, out);
}

int
reduce_sum_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, reduce_grad(c, S, 0));
    VJP_END;
}
JVP_LINEAR(reduce_sum)

int
reduce_mean_forward(tg_fwd *f)
{
    TensorObject **in = f->in, **out = &f->out[0];
    PyObject *attrs = f->attrs;
    return reduce_forward(TG_OP_reduce_mean, in[0], attrs, out);
}

int
reduce_mean_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, reduce_grad(c, S, 1));
    VJP_END;
}
JVP_LINEAR(reduce_mean)

/* ---- matmul ---------------------------------------------------------------------------------
 * z = op(a) @ op(b), op = transpose if asked  (batched: leading dims
 *                                              broadcast, sum_to undoes it)
 * no transposes:  da = g @ b^T          db = a^T @ g
 * attrs: (transpose_a, transpose_b)
 * Up to SMALL_MM_WORK multiply-adds (m n k) of a 2-D product a plain C
 * loop; beyond, and for every batch, NumPy's matmul loop called directly
 * (BLAS, the very loop np.matmul runs).  Measured crossover, float32 and
 * float64 alike, square and rectangular: ~0.2 us either way at 5x5x5;
 * at 8x8x8 the loop takes 0.43 us (float32) / 0.57 us (float64), BLAS
 * 0.26 / 0.28; at 32x32x32 15.7 us against 0.73.
 */
#define SMALL_MM_WORK 128

int
matmul_forward(tg_fwd *f)
{
    TensorObject **in = f->in, **out = &f->out[0];
    PyObject *attrs = f->attrs;
    TensorObject *a = in[0], *b = in[1];
    int ta = attr_flag(attrs, 0, "MatMul", "transpose_a");
    int tb = ta < 0 ? -1 : attr_flag(attrs, 1, "MatMul", "transpose_b");
    PyObject *aa = NULL, *bb = NULL, *r = NULL;
    if (ta < 0 || tb < 0) {
        return -1;
    }
    if (a->ndim < 2 || b->ndim < 2) {
        TensorObject *bad = a->ndim < 2 ? a : b;
        PyObject *s = tg_shape_str(bad->ndim, bad->shape);
        if (s) {
            TG_INVALID_ARGUMENT("In[%d] ndims must be >= 2: %d (shape %U) "
                                "[Op:MatMul]", a->ndim < 2 ? 0 : 1,
                                bad->ndim, s);
            Py_DECREF(s);
        }
        return -1;
    }
    Py_ssize_t m = a->shape[a->ndim - (ta ? 1 : 2)];
    Py_ssize_t ka = a->shape[a->ndim - (ta ? 2 : 1)];
    Py_ssize_t kb = b->shape[b->ndim - (tb ? 1 : 2)];
    Py_ssize_t n = b->shape[b->ndim - (tb ? 2 : 1)];
    if (ka != kb) {
        PyObject *sa = tg_shape_str(a->ndim, a->shape);
        PyObject *sb = sa ? tg_shape_str(b->ndim, b->shape) : NULL;
        if (sb) {
            TG_INVALID_ARGUMENT("Matrix size-incompatible: In[0]: %U, In[1]: "
                                "%U [Op:MatMul]", sa, sb);
        }
        Py_XDECREF(sa);
        Py_XDECREF(sb);
        return -1;
    }
    /* batch dims broadcast (NumPy's and TF's BatchMatMulV2 rule) */
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    Py_ssize_t shape[TG_MAXDIMS];
    for (int i = 0; i < nd - 2; i++) {
        int ia = a->ndim - nd + i, ib = b->ndim - nd + i;
        Py_ssize_t da = ia >= 0 ? a->shape[ia] : 1;
        Py_ssize_t db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            PyObject *sa = tg_shape_str(a->ndim, a->shape);
            PyObject *sb = sa ? tg_shape_str(b->ndim, b->shape) : NULL;
            if (sb) {
                TG_INVALID_ARGUMENT("In[0] and In[1] must have compatible "
                                    "batch dimensions: %U vs. %U "
                                    "[Op:MatMul]", sa, sb);
            }
            Py_XDECREF(sa);
            Py_XDECREF(sb);
            return -1;
        }
        shape[i] = da == 1 ? db : da;
    }
    shape[nd - 2] = m;
    shape[nd - 1] = n;
    {
        /* checked here, so a too-large product says so (not NumPy) */
        Py_ssize_t osize;
        if (tg_shape_size(nd, shape, &osize) < 0) {
            return -1;
        }
    }
    Py_ssize_t work;
    if (a->ndim == 2 && b->ndim == 2 && tg_is_float(a->dtype) &&
        a->dtype != TG_FLOAT16 && !__builtin_mul_overflow(m, n, &work) &&
        !__builtin_mul_overflow(work, ka, &work) && work <= SMALL_MM_WORK) {
        /* tiny: a plain loop beats even a direct BLAS call */
        *out = tg_tensor_new(a->dtype, 2, shape);
        if (*out == NULL) {
            return -1;
        }
        Py_ssize_t as0 = ta ? 1 : ka, as1 = ta ? m : 1;
        Py_ssize_t bs0 = tb ? 1 : n, bs1 = tb ? ka : 1;
#define SMALL_MM(T)                                                          \
    do {                                                                     \
        const T *pa = (const T *)a->data, *pb = (const T *)b->data;          \
        T *po = (T *)(*out)->data;                                           \
        for (Py_ssize_t i = 0; i < m; i++) {                                 \
            for (Py_ssize_t j = 0; j < n; j++) {                             \
                T s = 0;                                                     \
                for (Py_ssize_t k = 0; k < ka; k++) {                        \
                    s += pa[i * as0 + k * as1] * pb[k * bs0 + j * bs1];      \
                }                                                            \
                po[i * n + j] = s;                                           \
            }                                                                \
        }                                                                    \
    } while (0)
        if (a->dtype == TG_FLOAT32) {
            SMALL_MM(float);
        }
        else {
            SMALL_MM(double);
        }
#undef SMALL_MM
        return 0;
    }
    *out = tg_tensor_new(a->dtype, nd, shape);
    if (*out == NULL) {
        return -1;
    }
    if ((*out)->size == 0) {
        return 0;
    }
    if (ka == 0) {
        memset((*out)->data, 0,
               (size_t)(*out)->size * (size_t)tg_dtype_size[a->dtype]);
        return 0;
    }
    if (tg_matmul_numpy_loop(a, b, ta, tb, *out)) {
        return 0;
    }
    Py_CLEAR(*out); /* no such loop: the ufunc itself */
    aa = tg_tensor_as_array(a);
    bb = aa ? tg_tensor_as_array(b) : NULL;
    if (bb == NULL) {
        goto done;
    }
    if (ta) {
        Py_SETREF(aa, PyArray_SwapAxes((PyArrayObject *)aa, -1, -2));
    }
    if (tb && aa) {
        Py_SETREF(bb, PyArray_SwapAxes((PyArrayObject *)bb, -1, -2));
    }
    if (aa == NULL || bb == NULL) {
        goto done;
    }
    {
        PyObject *args[2] = {aa, bb};
        PyObject *fn = tg_numpy_ufunc("matmul");
        r = tg_np_vectorcall(fn, args, 2, NULL);
    }
    if (r == NULL) {
        goto done;
    }
    *out = tg_tensor_from_array((PyArrayObject *)r, a->dtype);
done:
    Py_XDECREF(aa);
    Py_XDECREF(bb);
    Py_XDECREF(r);
    return *out ? 0 : -1;
}

static PyObject *
mm(scope *S, PyObject *a, PyObject *b, int ta, int tb)
{
    PyObject *attrs = keep(S, Py_BuildValue("(OO)", ta ? Py_True : Py_False,
                                            tb ? Py_True : Py_False));
    return keep(S, attrs ? tg_op2(TG_OP_matmul, a, b, attrs) : NULL);
}

int
matmul_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int ta = attr_flag(c->attrs, 0, "MatMul", "transpose_a");
    int tb = ta < 0 ? -1 : attr_flag(c->attrs, 1, "MatMul", "transpose_b");
    PyObject *a = X(0), *b = X(1);
    if (ta < 0 || tb < 0) {
        return -1;
    }
    if (NEEDS(0)) {
        SET(0, !ta ? mm(S, G, b, 0, !tb) : tb ? mm(S, b, G, 1, 1)
                                              : mm(S, b, G, 0, 1));
    }
    if (NEEDS(1)) {
        SET(1, !tb ? mm(S, a, G, !ta, 0) : ta ? mm(S, G, a, 1, 1)
                                              : mm(S, G, a, 1, 0));
    }
    VJP_END;
}
JVP_DIRECT(matmul)
int
matmul_jvp(tg_jvp_ctx *c)
{
    /* bilinear: op(ta) op(b) + op(a) op(tb), same transposes */
    JVP_BEGIN;
    PyObject *r = NULL;
    if (TAN(0) != NULL) {
        r = KEEP(tg_op2(TG_OP_matmul, TAN(0), X(1), c->attrs));
    }
    if (TAN(1) != NULL) {
        r = TADD(r, KEEP(tg_op2(TG_OP_matmul, X(0), TAN(1), c->attrs)));
    }
    TSET(0, r);
    JVP_END;
}

/* ---- reshape -------------------------------------------------------------------------------
 * z = x viewed with another shape (no copy)  dx = reshape(g, shape(x))
 * attrs: (shape,), one dim may be -1
 */
int
reshape_forward(tg_fwd *f)
{
    TensorObject **in = f->in, **out = &f->out[0];
    PyObject *attrs = f->attrs;
    TensorObject *x = in[0];
    Py_ssize_t shape[TG_MAXDIMS], known = 1;
    int nd, infer = -1;
    if (tg_int_list("Reshape", "shape", attr(attrs, 0), &nd, shape) < 0) {
        return -1;
    }
    for (int i = 0; i < nd; i++) {
        if (shape[i] == -1 && infer < 0) {
            infer = i;
        }
        else if (shape[i] < 0) {
            TG_INVALID_ARGUMENT("Size %d must be non-negative, not %zd "
                                "[Op:Reshape]", i, shape[i]);
            return -1;
        }
        else if (__builtin_mul_overflow(known, shape[i], &known)) {
            PyErr_SetString(PyExc_ValueError,
                            "Reshape: the requested shape is too large");
            return -1;
        }
    }
    if (infer >= 0) {
        if (known == 0 || x->size % known != 0) {
            PyObject *s = tg_shape_str(nd, shape);
            if (s) {
                TG_INVALID_ARGUMENT("Input to reshape is a tensor with %zd "
                                    "values, but the requested shape "
                                    "requires a multiple of %zd (%U) "
                                    "[Op:Reshape]", x->size, known, s);
                Py_DECREF(s);
            }
            return -1;
        }
        shape[infer] = x->size / known;
        known = x->size;
    }
    if (known != x->size) {
        PyObject *s = tg_shape_str(nd, shape);
        if (s) {
            TG_INVALID_ARGUMENT("Input to reshape is a tensor with %zd "
                                "values, but the requested shape %U has %zd "
                                "[Op:Reshape]", x->size, s, known);
            Py_DECREF(s);
        }
        return -1;
    }
    *out = tg_tensor_view(x, nd, shape, 0);
    return *out ? 0 : -1;
}

int
reshape_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, GTO_SHAPE(reshape, G, &c->e->slots[0]));
    VJP_END;
}
JVP_LINEAR(reshape)

/* ---- broadcast_to / sum_to: an adjoint pair ----------------------------------------------------
 * broadcast_to: z = x repeated to `shape`     dx = sum_to(g, shape(x))
 * sum_to:       z = x summed down to `shape`  dx = broadcast_to(g, shape(x))
 * The sweep uses sum_to to undo broadcasting in every binary op.
 */
int
broadcast_to_forward(tg_fwd *f)
{
    TensorObject **in = f->in, **out = &f->out[0];
    PyObject *attrs = f->attrs;
    TensorObject *x = in[0];
    Py_ssize_t shape[TG_MAXDIMS];
    int nd;
    if (tg_int_list("BroadcastTo", "shape", attr(attrs, 0), &nd,
                    shape) < 0) {
        return -1;
    }
    int ok = nd >= x->ndim;
    for (int i = 0; ok && i < x->ndim; i++) {
        Py_ssize_t d = x->shape[i], t = shape[nd - x->ndim + i];
        ok = d == t || d == 1;
    }
    for (int i = 0; ok && i < nd; i++) {
        ok = shape[i] >= 0;
    }
    if (!ok) {
        return tg_shape_error("Unable to broadcast tensor of shape %U to tensor "
                           "of shape %U [Op:%s]", "BroadcastTo", x, nd,
                           shape);
    }
    if (x->all_ones) {                /* reduce_sum's vjp of a seed */
        int r = tg_ones_view(x->dtype, nd, shape, out);
        if (r != 0) {
            return r < 0 ? -1 : 0;
        }
    }
    *out = tg_tensor_new(x->dtype, nd, shape);
    if (*out == NULL) {
        return -1;
    }
    tg_broadcast_copy(x, *out);
    (*out)->all_ones = x->all_ones;
    return 0;
}

int
broadcast_to_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, GTO_SHAPE(sum_to, G, &c->e->slots[0]));
    VJP_END;
}
JVP_LINEAR(broadcast_to)

int
sum_to_forward(tg_fwd *f)
{
    TensorObject **in = f->in, **out = &f->out[0];
    PyObject *attrs = f->attrs;
    TensorObject *x = in[0];
    Py_ssize_t shape[TG_MAXDIMS];
    char mask[TG_MAXDIMS];
    int nd, lead;
    if (tg_int_list("SumToShape", "shape", attr(attrs, 0), &nd,
                    shape) < 0) {
        return -1;
    }
    lead = x->ndim - nd;
    int ok = lead >= 0;
    memset(mask, 0, sizeof(mask));
    for (int i = 0; ok && i < x->ndim; i++) {
        if (i < lead) {
            mask[i] = 1;
        }
        else if (shape[i - lead] == 1 && x->shape[i] != 1) {
            mask[i] = 1;
        }
        else {
            ok = shape[i - lead] == x->shape[i];
        }
    }
    if (!ok) {
        return tg_shape_error("Cannot sum a tensor of shape %U down to shape %U "
                           "[Op:%s]", "SumToShape", x, nd, shape);
    }
    *out = tg_tensor_new(x->dtype, nd, shape);
    if (*out == NULL) {
        return -1;
    }
    if (nd == 0 && x->dtype != TG_FLOAT16 && x->dtype != TG_BOOL) {
        if (tg_sum_all(x, *out) < 0) {
            Py_CLEAR(*out);
            return -1;
        }
        return 0;
    }
    PyObject *r = reduce_numpy(x, mask, 0);
    if (r == NULL) {
        Py_CLEAR(*out);
        return -1;
    }
    TensorObject *t = tg_tensor_from_array((PyArrayObject *)r, x->dtype);
    Py_DECREF(r);
    if (t == NULL) {
        Py_CLEAR(*out);
        return -1;
    }
    memcpy((*out)->data, t->data,
           (size_t)t->size * (size_t)tg_dtype_size[t->dtype]);
    Py_DECREF(t);
    return 0;
}

int
sum_to_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, GTO_SHAPE(broadcast_to, G, &c->e->slots[0]));
    VJP_END;
}
JVP_LINEAR(sum_to)

/* ---- getitem / getitem_grad: an adjoint pair ------------------------------------------------------
 * getitem:      z = x[key] (basic indexing)   dx = getitem_grad(g, key, shape(x))
 * getitem_grad: z = zeros(shape); z[key] = x  dx = getitem(g, key)
 * attrs: (key,) and (key, shape); key is a normalised tuple
 */
static PyObject *
full_key(PyObject *key)
{
    /* a trailing Ellipsis makes NumPy return a 0-d view, never a scalar */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key); i++) {
        if (PyTuple_GET_ITEM(key, i) == Py_Ellipsis) {
            return Py_NewRef(key);
        }
    }
    PyObject *e = PyTuple_Pack(1, Py_Ellipsis);
    PyObject *r = e ? PySequence_Concat(key, e) : NULL;
    Py_XDECREF(e);
    return r;
}

static int
index_error(void)
{
    if (PyErr_ExceptionMatches(PyExc_IndexError)) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        TG_INVALID_ARGUMENT("%S [Op:StridedSlice]", value);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    return -1;
}

int
getitem_forward(tg_fwd *f)
{
    TensorObject **in = f->in, **out = &f->out[0];
    PyObject *attrs = f->attrs;
    PyObject *key = tg_normalize_key(attr(attrs, 0)), *arr = NULL, *k = NULL;
    PyObject *v = NULL;
    if (key == NULL) {
        return -1;
    }
    arr = tg_tensor_as_array(in[0]);
    k = arr ? full_key(key) : NULL;
    Py_DECREF(key);
    v = k ? PyObject_GetItem(arr, k) : NULL;
    if (v == NULL) {
        index_error();
    }
    else {
        *out = tg_tensor_from_array((PyArrayObject *)v, in[0]->dtype);
    }
    Py_XDECREF(arr);
    Py_XDECREF(k);
    Py_XDECREF(v);
    return *out ? 0 : -1;
}

int
getitem_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *shape = GTO_DIMS_TUPLE(IN_SLOT(0));
    PyObject *key = GKEY(attr(c->attrs, 0));
    PyObject *a = shape && key ? keep(S, PyTuple_Pack(2, key, shape))
                               : NULL;
    SET(0, a ? keep(S, tg_op1(TG_OP_getitem_grad, G, a)) : NULL);
    VJP_END;
}
JVP_LINEAR(getitem)

int
getitem_grad_forward(tg_fwd *f)
{
    TensorObject **in = f->in, **out = &f->out[0];
    PyObject *attrs = f->attrs;
    PyObject *arr = NULL, *k = NULL, *src = NULL, *key;
    Py_ssize_t shape[TG_MAXDIMS];
    int nd;
    if (tg_int_list("StridedSliceGrad", "shape", attr(attrs, 1), &nd,
                    shape) < 0) {
        return -1;
    }
    *out = tg_fill_like(in[0]->dtype, nd, shape, 0.0);
    if (*out == NULL) {
        return -1;
    }
    arr = tg_tensor_as_array(*out);
    src = arr ? tg_tensor_as_array(in[0]) : NULL;
    key = src ? tg_normalize_key(attr(attrs, 0)) : NULL;
    k = key ? full_key(key) : NULL;
    Py_XDECREF(key);
    if (k != NULL) {
        PyArray_ENABLEFLAGS((PyArrayObject *)arr, NPY_ARRAY_WRITEABLE);
        if (PyObject_SetItem(arr, k, src) < 0) {
            index_error();
            Py_CLEAR(*out);
        }
    }
    else {
        Py_CLEAR(*out);
    }
    Py_XDECREF(arr);
    Py_XDECREF(src);
    Py_XDECREF(k);
    return *out ? 0 : -1;
}

int
getitem_grad_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *key = GKEY(attr(c->attrs, 0));
    PyObject *a = key ? keep(S, PyTuple_Pack(1, key)) : NULL;
    SET(0, a ? keep(S, tg_op1(TG_OP_getitem, G, a)) : NULL);
    VJP_END;
}
JVP_LINEAR(getitem_grad)

/* ---- cast ----------------------------------------------------------------------------------------
 * z = x as dtype                            dx = cast(g, dtype(x)) between
 *                                           float dtypes, else no gradient
 * attrs: (dtype,)
 */
int
cast_forward(tg_fwd *f)
{
    TensorObject **in = f->in, **out = &f->out[0];
    PyObject *attrs = f->attrs;
    int dt;
    if (tg_dtype_arg(attr(attrs, 0), &dt) < 0) {
        return -1;
    }
    if (dt < 0) {
        PyErr_SetString(PyExc_TypeError, "Cast: dtype is required");
        return -1;
    }
    if (dt == in[0]->dtype) {
        *out = tg_tensor_view(in[0], in[0]->ndim, in[0]->shape, 0);
    }
    else {
        *out = tg_ufunc_apply(NULL, 1, in, dt);
    }
    return *out ? 0 : -1;
}

int
cast_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int from = c->e->slots[0].dtype, to = c->e->slots[1].dtype;
    if (tg_is_float(from) && tg_is_float(to)) {
        PyObject *a = keep(S, PyTuple_Pack(1, tg_dtype_obj(from)));
        SET(0, a ? keep(S, tg_op1(TG_OP_cast, G, a)) : NULL);
    }
    else {
        SET(0, Py_None);
    }
    VJP_END;
}
JVP_LINEAR(cast)

/* ---- concat ---------------------------------------------------------------------------------------
 * z = [x_0 x_1 ...] along axis              dx_i = g[..., start_i:end_i, ...]
 * attrs: (axis,).  Lives in the core because the generated tests use it to
 * flatten multi-output rows.
 */
/* the axis attribute for inputs of rank `ndim`, in [0, ndim).  The vjp
 * reads it again too: the tape keeps what the forward read, but a user's
 * __index__ object answers anew. */
static int
concat_axis(PyObject *attrs, int ndim, int *axis)
{
    PyObject *a = attr(attrs, 0);
    Py_ssize_t ax;
    if (a == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "concat() missing required argument 'axis'");
        return -1;
    }
    if (tg_int_scalar("ConcatV2", "axis", a, &ax) < 0) {
        return -1;
    }
    if (ndim == 0) {
        TG_INVALID_ARGUMENT("Can't concatenate scalars (use tf.stack "
                            "instead) [Op:ConcatV2]");
        return -1;
    }
    if (ax < -ndim || ax >= ndim) {
        TG_INVALID_ARGUMENT("ConcatOp : Expected concatenating dimensions "
                            "in the range [%d, %d), but got %zd "
                            "[Op:ConcatV2]", -ndim, ndim, ax);
        return -1;
    }
    *axis = (int)(ax < 0 ? ax + ndim : ax);
    return 0;
}

int
concat_forward(tg_fwd *f)
{
    TensorObject *x0 = f->in[0];
    Py_ssize_t shape[TG_MAXDIMS], outer = 1, inner = 1;
    int axis;
    if (concat_axis(f->attrs, f->in[0]->ndim, &axis) < 0) {
        return -1;
    }
    memcpy(shape, x0->shape, (size_t)x0->ndim * sizeof(Py_ssize_t));
    shape[axis] = 0;
    for (int i = 0; i < f->nin; i++) {
        TensorObject *x = f->in[i];
        int bad = x->ndim != x0->ndim;
        for (int d = 0; !bad && d < x0->ndim; d++) {
            bad = d != axis && x->shape[d] != x0->shape[d];
        }
        if (bad) {
            PyObject *a = tg_shape_str(x0->ndim, x0->shape);
            PyObject *b = a ? tg_shape_str(x->ndim, x->shape) : NULL;
            if (b) {
                TG_INVALID_ARGUMENT(
                    "ConcatOp : Dimensions of inputs should match: "
                    "shape[0] = %U vs. shape[%d] = %U [Op:ConcatV2]", a, i,
                    b);
            }
            Py_XDECREF(a);
            Py_XDECREF(b);
            return -1;
        }
        if (__builtin_add_overflow(shape[axis], x->shape[axis],
                                   &shape[axis])) {
            PyErr_SetString(PyExc_ValueError, "ConcatV2: result too large");
            return -1;
        }
    }
    f->out[0] = tg_tensor_new(x0->dtype, x0->ndim, shape);
    if (f->out[0] == NULL) {
        return -1;
    }
    for (int d = 0; d < axis; d++) {
        outer *= shape[d];
    }
    for (int d = axis + 1; d < x0->ndim; d++) {
        inner *= shape[d];
    }
    /* each input contributes a block of shape[axis]*inner items per row */
    size_t isz = (size_t)tg_dtype_size[x0->dtype];
    char *dst = f->out[0]->data;
    for (Py_ssize_t r = 0; r < outer; r++) {
        for (int i = 0; i < f->nin; i++) {
            size_t n = (size_t)(f->in[i]->shape[axis] * inner) * isz;
            if (n > 0) {
                memcpy(dst, f->in[i]->data + (size_t)r * n, n);
            }
            dst += n;
        }
    }
    return 0;
}

int
concat_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *x0 = IN_SLOT(0);
    int axis;
    if (concat_axis(c->attrs, x0->ndim, &axis) < 0) {
        return -1;
    }
    Py_ssize_t start = 0;
    for (int i = 0; i < c->e->nin; i++) {
        Py_ssize_t len = IN_SLOT(i)->shape[axis];
        if (NEEDS(i)) {
            PyObject *key = KEEP(PyTuple_New(axis + 1));
            for (int d = 0; key && d <= axis; d++) {
                PyObject *s = d < axis ? PySlice_New(NULL, NULL, NULL)
                                       : NULL;
                if (d == axis) {
                    PyObject *lo = PyLong_FromSsize_t(start);
                    PyObject *hi = PyLong_FromSsize_t(start + len);
                    s = (lo && hi) ? PySlice_New(lo, hi, NULL) : NULL;
                    Py_XDECREF(lo);
                    Py_XDECREF(hi);
                }
                if (s == NULL) {
                    key = NULL;
                    break;
                }
                PyTuple_SET_ITEM(key, d, s);
            }
            key = GKEY(key);
            SET(i, key ? OP1A(getitem, G, "(O)", key) : NULL);
        }
        start += len;
    }
    VJP_END;
}
JVP_LINEAR(concat)

/* ---- comparisons: bool results, never recorded ----------------------------------------------------- */
BINARY_FORWARD(less)
BINARY_FORWARD(less_equal)
BINARY_FORWARD(greater)
BINARY_FORWARD(greater_equal)
BINARY_FORWARD(equal)
BINARY_FORWARD(not_equal)
NONDIFF_VJP(less)
NONDIFF_VJP(less_equal)
NONDIFF_VJP(greater)
NONDIFF_VJP(greater_equal)
NONDIFF_VJP(equal)
NONDIFF_VJP(not_equal)

