/* vjp.h -- what every op-family file (ops*.c) includes: the helpers for
 * writing forwards and formula-style vjps.
 *
 * Formula helpers: ADD/SUB/MUL/DIV/NEG/UNARY/CONST/... call recorded ops
 * through tg_call and register their result in the scope `S`, which
 * releases them in VJP_END; any NULL argument makes them return NULL
 * without calling anything.  So a vjp reads like its math and checks for
 * errors once:
 *
 *     int sin_vjp(tg_vjp_ctx *c)
 *     {
 *         VJP_BEGIN;
 *         SET(0, MUL(G, UNARY(cos, X(0))));
 *         VJP_END;
 *     }
 */
#ifndef TAPEGRAD_VJP_H
#define TAPEGRAD_VJP_H
#include "tapegrad.h"

/* ---- attributes ------------------------------------------------------------ */

/* attrs[i], or None when absent (borrowed) */
static inline PyObject *
attr(PyObject *attrs, Py_ssize_t i)
{
    if (attrs == NULL || !PyTuple_Check(attrs) ||
        PyTuple_GET_SIZE(attrs) <= i) {
        return Py_None;
    }
    return PyTuple_GET_ITEM(attrs, i);
}

/* truth of attrs[i] (None is false); -1 with an exception */
static inline int
attr_bool(PyObject *attrs, Py_ssize_t i)
{
    PyObject *a = attr(attrs, i);
    return a == Py_None ? 0 : PyObject_IsTrue(a);
}

/* a flag TF passes to its kernel as a bool attribute (transpose_a,
 * adjoint, exclusive, sorted...): TF's make_bool takes only a bool, where
 * a truthiness test would read "no" and "False" as true.  (keepdims and
 * the like, which TF's Python tests for truth, use attr_bool.) */
static inline int
attr_flag(PyObject *attrs, Py_ssize_t i, const char *tfname,
          const char *param)
{
    PyObject *a = attr(attrs, i);
    if (a == Py_None || a == Py_False) {
        return 0;
    }
    if (a == Py_True) {
        return 1;
    }
    if (PyArray_IsScalar(a, Bool)) {
        return PyObject_IsTrue(a);
    }
    PyErr_Format(PyExc_TypeError, "%s: Expected bool for argument '%s' not "
                 "%.200R.", tfname, param, a);
    return -1;
}

/* ---- the scope ----------------------------------------------------------------- */

typedef struct {
    PyObject *tmp[48];
    int n;
    PyObject *last;            /* LAST(t): the next op may write over t */
} scope;

static inline PyObject *
keep(scope *S, PyObject *r)
{
    if (r == NULL) {
        return NULL;
    }
    if (S->n == (int)(sizeof(S->tmp) / sizeof(S->tmp[0]))) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_SystemError, "tapegrad: vjp scope overflow");
        return NULL;
    }
    S->tmp[S->n++] = r;
    return r;
}

static inline int
vjp_end(scope *S)
{
    for (int i = 0; i < S->n; i++) {
        Py_DECREF(S->tmp[i]);
    }
    return PyErr_Occurred() ? -1 : 0;
}

/* Release a scope temporary before VJP_END: a long formula's
 * intermediates would otherwise all be alive at its end, one result-sized
 * tensor each (a recording tape keeps what its vjps read).  `x` must not
 * be used afterwards; NULL does nothing. */
static inline void
scope_release(scope *S, PyObject *x)
{
    for (int i = S->n - 1; x != NULL && i >= 0; i--) {
        if (S->tmp[i] == x) {
            S->tmp[i] = S->tmp[--S->n];
            Py_DECREF(x);
            return;
        }
    }
}

/* LAST(t): this formula reads scope temporary t no more after the op it
 * is an argument of.  When nothing records the sweep, that op (add,
 * subtract, multiply, divide) may then write its result over t's bytes
 * (tg_op2_over: only if t is the scope's alone) instead of allocating
 * another result-sized tensor: tanh's g * (1 - y*y) needs one buffer, not
 * three.  Same operations, same order: the values are the recorded
 * path's, bit for bit.  Only the op consuming the mark may use it: an
 * op2 evaluated meanwhile clears it, taking it only if t is its operand
 * (so never mark a temporary that is read again). */
static inline PyObject *
scope_last(scope *S, PyObject *t)
{
    S->last = t;
    return t;
}

static inline PyObject *
op2_scoped(scope *S, int op, PyObject *a, PyObject *b)
{
    PyObject *last = S->last;
    S->last = NULL;
    if (op == TG_OP_multiply) {
        PyObject *t = tg_ones_factor(a, b);
        if (t != NULL) {
            return Py_NewRef(t);
        }
    }
    if (last != NULL && a != NULL && b != NULL &&
        (a == last || b == last)) {
        PyObject *r = tg_op2_over(op, a, b, last);
        if (r != NULL) {
            scope_release(S, last);   /* r is it: the scope keeps r */
            return r;
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    return tg_op2(op, a, b, NULL);
}

static inline PyObject *
scalar_like(PyObject *like, double v)
{
    return like ? (PyObject *)tg_tensor_scalar(((TensorObject *)like)->dtype,
                                               v)
                : NULL;
}

/* op(x) with extra attributes built from a format, e.g. ("(O)", dtype) */
#define OP1A(OP, x, ...) keep(S, tg_op1_attrs(TG_OP_##OP, (x), __VA_ARGS__))

/* only n and last: zeroing all of tmp[] was a tenth of a scalar vjp */
static inline scope *
scope_open(scope *S)
{
    S->n = 0;
    S->last = NULL;
    return S;
}

#define VJP_BEGIN scope S_, *S = scope_open(&S_)
#define VJP_END return vjp_end(S)
#define ADD(a, b) keep(S, op2_scoped(S, TG_OP_add, (a), (b)))
#define SUB(a, b) keep(S, op2_scoped(S, TG_OP_subtract, (a), (b)))
#define MUL(a, b) keep(S, op2_scoped(S, TG_OP_multiply, (a), (b)))
#define DIV(a, b) keep(S, op2_scoped(S, TG_OP_divide, (a), (b)))
#define LAST(t) scope_last(S, (t))
#define POW(a, b) keep(S, tg_op2(TG_OP_pow, (a), (b), NULL))
#define NEG(a) keep(S, tg_op1(TG_OP_negative, (a), NULL))
#define UNARY(OP, a) keep(S, tg_op1(TG_OP_##OP, (a), NULL))
#define BINARY(OP, a, b) keep(S, tg_op2(TG_OP_##OP, (a), (b), NULL))
#define CONST(v, like) keep(S, scalar_like((like), (v)))
#define TO_SHAPE(OP, x, slot) keep(S, tg_op_to_shape(TG_OP_##OP, (x), (slot)))
#define KEEP(r) keep(S, (r))
/* Batched sweeps (c->batch, see tg_vjp_ctx): a cotangent (G and what is
 * computed from it) has a leading batch dimension, primals do not.  Use
 * these on cotangents; TO_SHAPE and plain axes on primals.
 *   GTO_SHAPE(reshape, g, slot)  g to [nb] + slot's shape (broadcast_to and
 *                                sum_to aligned under the batch dimension)
 *   GAXIS(a)       a non-negative axis a of the unbatched tensor
 *   GAXES(axis, n) an axis attribute of a rank-n tensor, as a list
 *   GKEY(key)      an indexing key with a leading slice(None) */
#define GTO_SHAPE(OP, x, slot)                                              \
    keep(S, tg_vjp_to_shape(c, TG_OP_##OP, (x), (slot)->ndim, (slot)->shape))
#define GTO_DIMS(OP, x, nd, shape)                                          \
    keep(S, tg_vjp_to_shape(c, TG_OP_##OP, (x), (nd), (shape)))
#define GAXIS(a) ((a) + c->batch)
/* a batched cotangent g of rank 1 + k made to broadcast against primals
 * of rank n >= k: [nb] + [1] * (n - k) + g's own shape (unbatched: g) */
#define GLIFT(g, n) keep(S, vjp_lift(c, (g), (n)))
/* a slot's shape as a tuple, with the batch dimension when batched */
#define GTO_DIMS_TUPLE(slot) keep(S, vjp_shape_tuple(c, (slot)))
#define GAXES(axis, n)                                                      \
    keep(S, tg_vjp_axes(c, tg_ops[c->e->op].tf_name, (axis), (n)))
#define GKEY(key) keep(S, tg_vjp_key(c, (key)))
/* an index array matching the cotangent element for element (take_along_
 * axis' indices), repeated along the batch dimension when batched */
#define GREPEAT(idx) keep(S, tg_vjp_repeat(c, (idx)))
/* a single-axis attribute (None: 0) of a rank-n tensor, for its batched
 * cotangent: a non-negative int past the batch dimension */
#define GAXIS1(axis, n)                                                     \
    keep(S, tg_vjp_axis(c, tg_ops[c->e->op].tf_name, (axis), (n)))
#define BATCHED (c->batch)
#define RELEASE(x) scope_release(S, (x))
#define G ((PyObject *)c->g)
#define GS(i) ((PyObject *)c->gs[i])
#define X(i) ((PyObject *)c->in[i])
#define Y ((PyObject *)c->out)
#define YS(i) ((PyObject *)c->outs[i])
#define NEEDS(i) (c->needs[i])
#define SET(i, v) (c->gx[i] = Py_XNewRef(v))
#define IN_SLOT(i) (&c->e->slots[i])
#define OUT_SLOT(i) (&c->e->slots[c->e->nin + (i)])

/* slot s's shape into dims, after the batch dimension when batched;
 * returns the rank */
static inline int
vjp_dims(const tg_vjp_ctx *c, const tg_slot *s, Py_ssize_t *dims)
{
    memcpy(dims + c->batch, s->shape, (size_t)s->ndim * sizeof(*dims));
    if (c->batch) {
        dims[0] = ((TensorObject *)c->g)->shape[0];
    }
    return s->ndim + c->batch;
}

static inline PyObject *
vjp_shape_tuple(const tg_vjp_ctx *c, const tg_slot *s)
{
    Py_ssize_t dims[TG_MAXDIMS + 1];
    int nd = vjp_dims(c, s, dims);
    return tg_shape_tuple(nd, dims);
}

static inline PyObject *
vjp_lift(const tg_vjp_ctx *c, PyObject *g, int n)
{
    Py_ssize_t dims[TG_MAXDIMS + 1];
    TensorObject *t = (TensorObject *)g;
    int k;
    if (g == NULL) {
        return NULL;
    }
    k = t->ndim - 1;
    if (!c->batch || k >= n) {
        return Py_NewRef(g);
    }
    dims[0] = t->shape[0];
    for (int i = 0; i < n - k; i++) {
        dims[1 + i] = 1;
    }
    memcpy(dims + 1 + n - k, t->shape + 1, (size_t)k * sizeof(*dims));
    return tg_vjp_to_shape(&(tg_vjp_ctx){.batch = 0}, TG_OP_reshape, g,
                           n + 1, dims);
}

/* zeros shaped like slot s, in a batched sweep with the batch dimension:
 * a gradient that is zero whatever the cotangent (TF's sign) */
static inline PyObject *
vjp_zeros(const tg_vjp_ctx *c, const tg_slot *s)
{
    Py_ssize_t dims[TG_MAXDIMS + 1];
    int nd = vjp_dims(c, s, dims);
    return (PyObject *)tg_fill_like(s->dtype, nd, dims, 0.0);
}

/* cast(cmp(x, 0)) in x's dtype: a constant 0/1 mask (never recorded) */
static inline PyObject *
mask_like(scope *S, int cmp, PyObject *x)
{
    PyObject *zero = CONST(0.0, x);
    PyObject *b = KEEP(tg_op2(cmp, x, zero, NULL));
    return x ? KEEP(tg_op1_attrs(TG_OP_cast, b, "(O)",
                                 tg_dtype_obj(((TensorObject *)x)->dtype)))
             : NULL;
}

/* ---- rows without a vjp ------------------------------------------------------ */

/* Rows that are never recorded (TG_NONDIFF, TG_COMPOSITE) still define
 * NAME_vjp so the table has one shape; it is never called. */
#define NO_VJP(NAME)                                                         \
    int NAME##_vjp(tg_vjp_ctx *c)                                            \
    {                                                                        \
        (void)c;                                                             \
        PyErr_Format(PyExc_SystemError, "tapegrad: %s has no vjp", #NAME);   \
        return -1;                                                           \
    }                                                                        \
    const int NAME##_jvp_kind = TG_JVP_NONE;                                 \
    int NAME##_jvp(tg_jvp_ctx *c)                                            \
    {                                                                        \
        (void)c;                                                             \
        PyErr_Format(PyExc_SystemError, "tapegrad: %s has no jvp", #NAME);   \
        return -1;                                                           \
    }
#define NONDIFF_VJP(NAME) NO_VJP(NAME)
#define COMPOSITE_VJP(NAME) NO_VJP(NAME)

/* ---- forward rules -----------------------------------------------------------
 * Each row declares its jvp beside its vjp, by one of these (forward.c has
 * the generic ones) or by writing NAME_jvp itself under JVP_DIRECT:
 *   JVP_LINEAR(NAME)       the row applied to the tangents (jointly linear
 *                          rows: reshape, concat, reduce_sum...)
 *   JVP_ELEMENTWISE(NAME)  a diagonal Jacobian (with broadcasting): the
 *                          vjp's own formula with the tangent in place of
 *                          the cotangent, summed over the inputs
 *   JVP_REDUCTION(NAME)    each input feeds one output: reduce_sum of
 *                          t * (vjp of ones) over the row's axes
 *   JVP_TRANSPOSED(NAME)   the recorded vjp transposed by a second sweep
 *                          (TF's double-vjp trick): any row, two passes
 *   JVP_DIRECT(NAME)       declares a hand-written NAME_jvp that follows
 * Rows that are never recorded (NO_VJP) get no rule: their primitives'
 * rules apply. */
#define JVP_KIND(NAME, KIND) const int NAME##_jvp_kind = (KIND);
#define JVP_LINEAR(NAME)                                                     \
    JVP_KIND(NAME, TG_JVP_LINEAR)                                            \
    int NAME##_jvp(tg_jvp_ctx *c) { return tg_jvp_linear(c); }
#define JVP_ELEMENTWISE(NAME)                                                \
    JVP_KIND(NAME, TG_JVP_ELEMENTWISE)                                       \
    int NAME##_jvp(tg_jvp_ctx *c)                                            \
    {                                                                        \
        return tg_jvp_elementwise(c, NAME##_vjp);                            \
    }
#define JVP_REDUCTION(NAME)                                                  \
    JVP_KIND(NAME, TG_JVP_REDUCTION)                                         \
    int NAME##_jvp(tg_jvp_ctx *c) { return tg_jvp_reduction(c, NAME##_vjp); }
#define JVP_TRANSPOSED(NAME)                                                 \
    JVP_KIND(NAME, TG_JVP_TRANSPOSED)                                        \
    int NAME##_jvp(tg_jvp_ctx *c)                                            \
    {                                                                        \
        return tg_jvp_transposed(c, NAME##_vjp);                             \
    }
#define JVP_DIRECT(NAME) JVP_KIND(NAME, TG_JVP_DIRECT)

/* in a hand-written jvp: the tangent of input i (NULL: zero), the result */
#define TAN(i) ((PyObject *)c->t[i])
#define TSET(j, v) (c->tout[j] = Py_XNewRef(v))
#define JVP_BEGIN VJP_BEGIN
#define JVP_END VJP_END
/* a + b where either may be a zero tangent (NULL) */
#define TADD(a, b) keep(S, tangent_add((a), (b)))

static inline PyObject *
tangent_add(PyObject *a, PyObject *b)
{
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (a == NULL || b == NULL) {
        return Py_XNewRef(a ? a : b);
    }
    return tg_op2(TG_OP_add, a, b, NULL);
}

/* Elementwise rows whose forward is the shared kernel path. */
#define BINARY_FORWARD(NAME)                                                 \
    int NAME##_forward(tg_fwd *f)                                            \
    {                                                                        \
        return tg_binary_forward(TG_OP_##NAME, f->in, &f->out[0]);           \
    }
#define UNARY_FORWARD(NAME)                                                  \
    int NAME##_forward(tg_fwd *f)                                            \
    {                                                                        \
        return tg_unary_forward(TG_OP_##NAME, f->in, &f->out[0]);            \
    }

#endif /* TAPEGRAD_VJP_H */
