/* ops_math.c -- forwards and vjps of the rows in ops_math.def (elementwise
 * math and activations: tapegrad.math, tapegrad.nn activations).
 *
 * Forwards: float32/float64 run in the C loops below (a NumPy ufunc call
 * costs more than the whole op on a small tensor); float16 is computed in
 * float32 and rounded back, as TF's half kernels do, which also keeps
 * NumPy's floating-point warnings out; integer paths go through NumPy
 * ufuncs or small C loops with TF's wrap-around.
 *
 * vjps are written with recorded ops (vjp.h), so every gradient
 * differentiates again.  Masks come from comparisons (never recorded) and
 * are applied with `select` (or `select_or_zero`, its one-pass form when
 * the other branch is 0), TF's choice: a masked-out NaN or inf in the
 * upstream gradient does not leak into the other branch.
 */
#include "vjp.h"
#include <math.h>

#define SQRT1_2 0.70710678118654752440       /* 1 / sqrt(2) */
#define TWO_OVER_SQRTPI 1.12837916709551257390 /* 2 / sqrt(pi) */
#define INV_SQRT2PI 0.39894228040143267794   /* 1 / sqrt(2 pi) */
#define SQRT_2_OVER_PI 0.79788456080286535588 /* sqrt(2 / pi) */
#define GELU_C 0.044715
#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

/* ---- shared helpers --------------------------------------------------------- */

/* Run `fn` on float32 copies of the float16 inputs and round its float32
 * outputs back to float16 (bool and int outputs pass through). */
static int
half_via_float(tg_fwd *f, tg_forward_fn fn)
{
    TensorObject *small[4], **tmp = small;
    tg_fwd g = {.nin = f->nin, .attrs = f->attrs, .nout = 1};
    int rc = -1, n = 0;
    if (f->nin > 4 && (tmp = PyMem_New(TensorObject *, f->nin)) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (; n < f->nin; n++) {
        TensorObject *x = f->in[n];
        tmp[n] = x->dtype == TG_FLOAT16
                     ? tg_ufunc_apply(NULL, 1, &x, TG_FLOAT32)
                     : (TensorObject *)Py_NewRef(x);
        if (tmp[n] == NULL) {
            goto done;
        }
    }
    g.in = tmp;
    if (fn(&g) < 0) {
        goto done;
    }
    rc = 0;
    for (int k = 0; k < g.nout; k++) {
        TensorObject *o = g.out[k];
        f->out[k] = o->dtype == TG_FLOAT32
                        ? tg_ufunc_apply(NULL, 1, &o, TG_FLOAT16)
                        : (TensorObject *)Py_NewRef(o);
        if (f->out[k] == NULL) {
            rc = -1;
        }
    }
    for (int k = 0; k < g.nout; k++) {
        Py_DECREF(g.out[k]);
        if (rc < 0) {
            Py_CLEAR(f->out[k]);
        }
    }
    f->nout = rc < 0 ? 1 : g.nout;
done:
    for (int i = 0; i < n; i++) {
        Py_DECREF(tmp[i]);
    }
    if (tmp != small) {
        PyMem_Free(tmp);
    }
    return rc;
}

static int
any_half(tg_fwd *f)
{
    for (int i = 0; i < f->nin; i++) {
        if (f->in[i]->dtype == TG_FLOAT16) {
            return 1;
        }
    }
    return 0;
}

/* a float attribute, `dflt` when None */
static int
attr_double(PyObject *attrs, Py_ssize_t i, const char *tfname,
            const char *param, double dflt, double *v)
{
    PyObject *a = attr(attrs, i);
    if (a == Py_None) {
        *v = dflt;
        return 0;
    }
    return tg_float_scalar(tfname, param, a, v);
}

/* The odometer over an output shape, with each input's element offset
 * (broadcast dims have stride 0). */
typedef struct {
    int nd, nin;
    const Py_ssize_t *shape;
    Py_ssize_t idx[TG_MAXDIMS];
    Py_ssize_t st[3][TG_MAXDIMS];
    Py_ssize_t off[3];
} bcast_it;

static void
bcast_init(bcast_it *it, int nin, TensorObject **in, TensorObject *out)
{
    it->nd = out->ndim;
    it->nin = nin;
    it->shape = out->shape;
    memset(it->idx, 0, sizeof(it->idx));
    for (int k = 0; k < nin; k++) {
        TensorObject *t = in[k];
        Py_ssize_t s = 1;
        for (int i = out->ndim - 1; i >= 0; i--) {
            int ti = t->ndim - out->ndim + i;
            Py_ssize_t d = ti >= 0 ? t->shape[ti] : 1;
            it->st[k][i] = d == 1 ? 0 : s;
            s *= d;
        }
        it->off[k] = 0;
    }
}

static inline void
bcast_next(bcast_it *it)
{
    for (int d = it->nd - 1; d >= 0; d--) {
        for (int k = 0; k < it->nin; k++) {
            it->off[k] += it->st[k][d];
        }
        if (++it->idx[d] < it->shape[d]) {
            return;
        }
        for (int k = 0; k < it->nin; k++) {
            it->off[k] -= it->st[k][d] * it->shape[d];
        }
        it->idx[d] = 0;
    }
}

/* po[i] = EXPR(x, y) over the broadcast of a_ and b_ into o_ */
#define BLOOP(TA, TO, EXPR)                                                  \
    do {                                                                     \
        const TA *pa_ = (const TA *)a_->data, *pb_ = (const TA *)b_->data;   \
        TO *po_ = (TO *)o_->data;                                            \
        Py_ssize_t n_ = o_->size;                                            \
        if (a_->size == n_ && b_->size == n_) {                              \
            for (Py_ssize_t i_ = 0; i_ < n_; i_++) {                         \
                TA x = pa_[i_], y = pb_[i_];                                 \
                po_[i_] = (TO)(EXPR);                                        \
            }                                                                \
        }                                                                    \
        else if (a_->size == n_ && b_->size == 1) {                          \
            TA y = pb_[0];                                                   \
            for (Py_ssize_t i_ = 0; i_ < n_; i_++) {                         \
                TA x = pa_[i_];                                              \
                po_[i_] = (TO)(EXPR);                                        \
            }                                                                \
        }                                                                    \
        else if (n_ > 0) {                                                   \
            bcast_it it_;                                                    \
            TensorObject *ins_[2] = {a_, b_};                                \
            bcast_init(&it_, 2, ins_, o_);                                   \
            for (Py_ssize_t i_ = 0; i_ < n_; i_++) {                         \
                TA x = pa_[it_.off[0]], y = pb_[it_.off[1]];                 \
                po_[i_] = (TO)(EXPR);                                        \
                bcast_next(&it_);                                            \
            }                                                                \
        }                                                                    \
    } while (0)

/* the broadcast output of a binary row, in dtype `dt` */
static TensorObject *
binary_out(int op, tg_fwd *f, int dt)
{
    Py_ssize_t shape[TG_MAXDIMS];
    int nd;
    if (tg_broadcast_shapes(tg_ops[op].tf_name, f->in[0], f->in[1], &nd,
                            shape) < 0) {
        return NULL;
    }
    f->out[0] = tg_tensor_new(dt, nd, shape);
    return f->out[0];
}

/* A float binary row: FEXPR/DEXPR in x, y; float16 through float32. */
#define BINARY_FLOAT_ROW(NAME, FEXPR, DEXPR)                                 \
    int NAME##_forward(tg_fwd *f)                                            \
    {                                                                        \
        TensorObject *a_ = f->in[0], *b_ = f->in[1], *o_;                    \
        if (any_half(f)) {                                                   \
            return half_via_float(f, NAME##_forward);                        \
        }                                                                    \
        if ((o_ = binary_out(TG_OP_##NAME, f, a_->dtype)) == NULL) {         \
            return -1;                                                       \
        }                                                                    \
        int rc_ = o_->size > 32 ? tg_binary_numpy_loop(                      \
            TG_OP_##NAME == TG_OP_atan2 ? "arctan2" : NULL, a_, b_, o_) : 0; \
        if (rc_ != 0) {                                                      \
            return rc_ < 0 ? -1 : 0; /* NumPy's SIMD loop: ~20x libm's       \
                                        atan2 at 1e6 */                      \
        }                                                                    \
        if (a_->dtype == TG_FLOAT32) {                                       \
            BLOOP(float, float, FEXPR);                                      \
        }                                                                    \
        else {                                                               \
            BLOOP(double, double, DEXPR);                                    \
        }                                                                    \
        return 0;                                                            \
    }

/* A unary row: FEXPR/DEXPR in v for float32/float64 into a tensor of
 * dtype ODT(x) (x's own, or bool); float16 through float32. */
#define UNARY_LOOPS(FEXPR, DEXPR, OF, OD)                                    \
    do {                                                                     \
        Py_ssize_t n_ = x_->size;                                            \
        if (x_->dtype == TG_FLOAT32) {                                       \
            const float *p_ = (const float *)x_->data;                       \
            OF *o_ = (OF *)f->out[0]->data;                                  \
            for (Py_ssize_t i_ = 0; i_ < n_; i_++) {                         \
                float v = p_[i_];                                            \
                o_[i_] = (FEXPR);                                            \
            }                                                                \
        }                                                                    \
        else {                                                               \
            const double *p_ = (const double *)x_->data;                     \
            OD *o_ = (OD *)f->out[0]->data;                                  \
            for (Py_ssize_t i_ = 0; i_ < n_; i_++) {                         \
                double v = p_[i_];                                           \
                o_[i_] = (DEXPR);                                            \
            }                                                                \
        }                                                                    \
    } while (0)

/* INTFN: NumPy ufunc for integer inputs ("" = the value itself, NULL =
 * integers are rejected by the row's flags before we get here) */
/* The NumPy ufunc with the same float semantics, whose SIMD inner loop
 * beats our scalar libm loop on more than a few dozen elements. */
static const char *
simd_name(int op)
{
    switch (op) {
        case TG_OP_abs: return "absolute";
        case TG_OP_is_nan: return "isnan";
        case TG_OP_is_finite: return "isfinite";
        case TG_OP_is_inf: return "isinf";
        case TG_OP_square: return "square";
        case TG_OP_sqrt: return "sqrt";
        case TG_OP_reciprocal: return "reciprocal";
        case TG_OP_tan: return "tan";
        case TG_OP_asin: return "arcsin";
        case TG_OP_acos: return "arccos";
        case TG_OP_atan: return "arctan";
        case TG_OP_sinh: return "sinh";
        case TG_OP_cosh: return "cosh";
        case TG_OP_tanh: return "tanh";
        case TG_OP_asinh: return "arcsinh";
        case TG_OP_acosh: return "arccosh";
        case TG_OP_atanh: return "arctanh";
        case TG_OP_expm1: return "expm1";
        case TG_OP_log1p: return "log1p";
        case TG_OP_floor: return "floor";
        case TG_OP_ceil: return "ceil";
        case TG_OP_round: return "rint"; /* half to even, as TF */
        default: return NULL;
    }
}

#define UNARY_FLOAT_ROW(NAME, FEXPR, DEXPR, INTFN)                           \
    int NAME##_forward(tg_fwd *f)                                            \
    {                                                                        \
        TensorObject *x_ = f->in[0];                                         \
        if (x_->dtype == TG_FLOAT16) {                                       \
            return half_via_float(f, NAME##_forward);                        \
        }                                                                    \
        if (!tg_is_float(x_->dtype)) {                                       \
            return int_unary(f, INTFN);                                      \
        }                                                                    \
        f->out[0] = tg_tensor_new(x_->dtype, x_->ndim, x_->shape);           \
        if (f->out[0] == NULL) {                                             \
            return -1;                                                       \
        }                                                                    \
        int rc_ = x_->size > 32 ? tg_unary_numpy_loop(                       \
            simd_name(TG_OP_##NAME), x_, f->out[0]) : 0;                     \
        if (rc_ != 0) {                                                      \
            return rc_ < 0 ? -1 : 0;                                         \
        }                                                                    \
        UNARY_LOOPS(FEXPR, DEXPR, float, double);                            \
        return 0;                                                            \
    }

static int
int_unary(tg_fwd *f, const char *ufunc)
{
    TensorObject *x = f->in[0];
    if (ufunc == NULL) {
        PyErr_SetString(PyExc_SystemError, "tapegrad: no integer kernel");
        return -1;
    }
    f->out[0] = ufunc[0] ? tg_ufunc_apply(ufunc, 1, &x, x->dtype)
                         : tg_tensor_view(x, x->ndim, x->shape, 0);
    return f->out[0] ? 0 : -1;
}

/* bool conditions and logical operands: TF's dtype message otherwise */
static int
want_dtype(int op, int i, const TensorObject *t, int dt)
{
    return tg_want_dtype(tg_ops[op].tf_name, i, dt, t->dtype);
}

/* select(c, a, b), recorded (it is its own row), owned by the scope */
static PyObject *
sel(scope *S, PyObject *c, PyObject *a, PyObject *b)
{
    if (c == NULL || a == NULL || b == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_SystemError, "tapegrad: missing operand");
        }
        return NULL;
    }
    TensorObject *in[3] = {(TensorObject *)c, (TensorObject *)a,
                           (TensorObject *)b};
    return keep(S, tg_call_tensors(TG_OP_select, 3, in, NULL));
}

/* select(c, x, 0), or select(c, 0, x) if negate: one recorded pass */
static PyObject *
sel0(scope *S, PyObject *c, PyObject *x, int negate)
{
    PyObject *attrs = negate ? keep(S, Py_BuildValue("(O)", Py_True)) : NULL;
    if (c == NULL || x == NULL || (negate && attrs == NULL)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_SystemError, "tapegrad: missing operand");
        }
        return NULL;
    }
    TensorObject *in[2] = {(TensorObject *)c, (TensorObject *)x};
    return keep(S, tg_call_tensors(TG_OP_select_or_zero, 2, in, attrs));
}

/* a comparison (bool, never recorded); b may be a scalar constant */
#define CMP(OP, a, b) BINARY(OP, (a), (b))
#define ONE(like) CONST(1.0, (like))
#define ZERO(like) CONST(0.0, (like))


/* ---- abs ---------------------------------------------------------------------
 * z = |x|                                   dx = g * sign(x)  (0 at x = 0)
 */
UNARY_FLOAT_ROW(abs, fabsf(v), fabs(v), "absolute")
int
abs_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, UNARY(sign, X(0))));
    VJP_END;
}
JVP_ELEMENTWISE(abs)

/* ---- sign --------------------------------------------------------------------
 * z = -1, 0 or 1 (-0 gives 0, NaN stays NaN)  dx = 0 (TF: zeros, not
 *                                               None)
 */
/* three selects, no branches: the loop vectorizes (1.7x NumPy's sign at
 * 1e6 float32, whose mixed-sign input also defeats branch prediction) */
static inline float
signf_(float v)
{
    float s = v > 0 ? 1.0f : 0.0f;
    s = v < 0 ? -1.0f : s;
    return v != v ? v : s;
}

static inline double
sign_(double v)
{
    double s = v > 0 ? 1.0 : 0.0;
    s = v < 0 ? -1.0 : s;
    return v != v ? v : s;
}

UNARY_FLOAT_ROW(sign, signf_(v), sign_(v), "sign")
int
sign_vjp(tg_vjp_ctx *c)
{
    /* TF's _SignGrad: zeros, not None (and not connected to g) */
    c->gx[0] = vjp_zeros(c, IN_SLOT(0));
    return c->gx[0] ? 0 : -1;
}
JVP_DIRECT(sign)
int
sign_jvp(tg_jvp_ctx *c)
{
    /* no tangent (None), as TF's double-vjp finds: the zeros sign_vjp
     * returns do not depend on the cotangent */
    (void)c;
    return 0;
}

/* ---- square ------------------------------------------------------------------
 * z = x^2                                   dx = 2 x g
 */
UNARY_FLOAT_ROW(square, v * v, v * v, "square")
int
square_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, LAST(MUL(CONST(2.0, X(0)), X(0)))));
    VJP_END;
}
JVP_ELEMENTWISE(square)

/* ---- sqrt, rsqrt, reciprocal --------------------------------------------------
 * sqrt:       z = x^(1/2)                   dx = g / (2 z)
 * rsqrt:      z = x^(-1/2)                  dx = -g z^3 / 2
 * reciprocal: z = 1 / x                     dx = -g z^2
 * (in terms of z, as TF's SqrtGrad/RsqrtGrad/ReciprocalGrad)
 */
UNARY_FLOAT_ROW(sqrt, sqrtf(v), sqrt(v), NULL)
int
sqrt_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, DIV(MUL(G, CONST(0.5, Y)), Y));
    VJP_END;
}
JVP_ELEMENTWISE(sqrt)

/* 1 / sqrt(x).  libm's sqrtf may set errno, which keeps a one-pass loop
 * scalar (3x NumPy at 1e6); NumPy's SIMD sqrt (correctly rounded, as
 * sqrtf) and then an in-place division pass give the same bits. */
int
rsqrt_forward(tg_fwd *f)
{
    TensorObject *x_ = f->in[0];
    if (x_->dtype == TG_FLOAT16) {
        return half_via_float(f, rsqrt_forward);
    }
    f->out[0] = tg_tensor_new(x_->dtype, x_->ndim, x_->shape);
    if (f->out[0] == NULL) {
        return -1;
    }
    if (x_->size > 32 && tg_unary_numpy_loop("sqrt", x_, f->out[0])) {
        x_ = f->out[0];
        UNARY_LOOPS(1.0f / v, 1.0 / v, float, double);
        return 0;
    }
    UNARY_LOOPS(1.0f / sqrtf(v), 1.0 / sqrt(v), float, double);
    return 0;
}

int
rsqrt_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, MUL(CONST(-0.5, Y), MUL(Y, MUL(Y, Y)))));
    VJP_END;
}
JVP_ELEMENTWISE(rsqrt)

UNARY_FLOAT_ROW(reciprocal, 1.0f / v, 1.0 / v, NULL)
int
reciprocal_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, NEG(MUL(G, MUL(Y, Y))));
    VJP_END;
}
JVP_ELEMENTWISE(reciprocal)

/* ---- tan, asin, acos, atan -----------------------------------------------------
 * tan:  dx = g (1 + z^2)                    asin: dx = g / sqrt(1 - x^2)
 * acos: dx = -g / sqrt(1 - x^2)             atan: dx = g / (1 + x^2)
 */
UNARY_FLOAT_ROW(tan, tanf(v), tan(v), NULL)
int
tan_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, ADD(ONE(Y), MUL(Y, Y))));
    VJP_END;
}
JVP_ELEMENTWISE(tan)

UNARY_FLOAT_ROW(asin, asinf(v), asin(v), NULL)
int
asin_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *x = X(0);
    SET(0, DIV(G, UNARY(sqrt, SUB(ONE(x), MUL(x, x)))));
    VJP_END;
}
JVP_ELEMENTWISE(asin)

UNARY_FLOAT_ROW(acos, acosf(v), acos(v), NULL)
int
acos_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *x = X(0);
    SET(0, NEG(DIV(G, UNARY(sqrt, SUB(ONE(x), MUL(x, x))))));
    VJP_END;
}
JVP_ELEMENTWISE(acos)

UNARY_FLOAT_ROW(atan, atanf(v), atan(v), NULL)
int
atan_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *x = X(0);
    SET(0, DIV(G, ADD(ONE(x), MUL(x, x))));
    VJP_END;
}
JVP_ELEMENTWISE(atan)

/* ---- sinh, cosh, tanh, asinh, acosh, atanh ------------------------------------
 * sinh:  dx = g cosh(x)                     cosh:  dx = g sinh(x)
 * tanh:  dx = g (1 - z^2)                   asinh: dx = g / cosh(z)
 * acosh: dx = g / sinh(z)                   atanh: dx = g / (1 - x^2)
 * (asinh/acosh in terms of z: no overflow in x^2 for large x)
 */
UNARY_FLOAT_ROW(sinh, sinhf(v), sinh(v), NULL)
int
sinh_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, UNARY(cosh, X(0))));
    VJP_END;
}
JVP_ELEMENTWISE(sinh)

UNARY_FLOAT_ROW(cosh, coshf(v), cosh(v), NULL)
int
cosh_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, UNARY(sinh, X(0))));
    VJP_END;
}
JVP_ELEMENTWISE(cosh)

UNARY_FLOAT_ROW(tanh, tanhf(v), tanh(v), NULL)
int
tanh_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *fused = KEEP(tg_fused_grad(c, TG_FUSED_TANH, G, Y));
    if (fused == NULL && !PyErr_Occurred()) {
        fused = MUL(G, LAST(SUB(ONE(Y), LAST(MUL(Y, Y)))));
    }
    SET(0, fused);
    VJP_END;
}
JVP_ELEMENTWISE(tanh)

UNARY_FLOAT_ROW(asinh, asinhf(v), asinh(v), NULL)
int
asinh_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, DIV(G, UNARY(cosh, Y)));
    VJP_END;
}
JVP_ELEMENTWISE(asinh)

UNARY_FLOAT_ROW(acosh, acoshf(v), acosh(v), NULL)
int
acosh_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, DIV(G, UNARY(sinh, Y)));
    VJP_END;
}
JVP_ELEMENTWISE(acosh)

UNARY_FLOAT_ROW(atanh, atanhf(v), atanh(v), NULL)
int
atanh_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *x = X(0);
    SET(0, DIV(G, SUB(ONE(x), MUL(x, x))));
    VJP_END;
}
JVP_ELEMENTWISE(atanh)

/* ---- expm1, log1p, log_sigmoid, erf ---------------------------------------------
 * expm1: z = e^x - 1                        dx = g e^x
 * log1p: z = log(1 + x)                     dx = g / (1 + x)
 * log_sigmoid: z = -softplus(-x)            dx = g sigmoid(-x)
 * erf:   z = 2/sqrt(pi) int_0^x e^-t^2 dt   dx = g 2/sqrt(pi) e^(-x^2)
 */
UNARY_FLOAT_ROW(expm1, expm1f(v), expm1(v), NULL)
int
expm1_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, UNARY(exp, X(0))));
    VJP_END;
}
JVP_ELEMENTWISE(expm1)

UNARY_FLOAT_ROW(log1p, log1pf(v), log1p(v), NULL)
int
log1p_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, DIV(G, ADD(ONE(X(0)), X(0))));
    VJP_END;
}
JVP_ELEMENTWISE(log1p)

/* -softplus(-v) = min(v, 0) - log1p(e^-|v|): never overflows */
UNARY_FLOAT_ROW(log_sigmoid, (v < 0 ? v : 0.0f) - log1pf(expf(-fabsf(v))),
                (v < 0 ? v : 0.0) - log1p(exp(-fabs(v))), NULL)
int
log_sigmoid_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, UNARY(sigmoid, NEG(X(0)))));
    VJP_END;
}
JVP_ELEMENTWISE(log_sigmoid)

UNARY_FLOAT_ROW(erf, erff(v), erf(v), NULL)
int
erf_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *x = X(0);
    SET(0, MUL(G, MUL(CONST(TWO_OVER_SQRTPI, x),
                      UNARY(exp, NEG(MUL(x, x))))));
    VJP_END;
}
JVP_ELEMENTWISE(erf)

/* ---- erfc, erfinv --------------------------------------------------------------
 * erfc:   z = 1 - erf(x)                      dx = -g 2/sqrt(pi) e^(-x^2)
 * erfinv: erf(z) = x                          dx = g sqrt(pi)/2 e^(z^2)
 */
UNARY_FLOAT_ROW(erfc, erfcf(v), erfc(v), NULL)
int
erfc_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *x = X(0);
    SET(0, MUL(G, MUL(CONST(-TWO_OVER_SQRTPI, x),
                      UNARY(exp, NEG(MUL(x, x))))));
    VJP_END;
}
JVP_ELEMENTWISE(erfc)

/* Giles' single-precision approximation ("Approximating the erfinv
 * function", GPU Computing Gems, 2011), then Newton steps on erf for
 * full double precision; +-inf at +-1, NaN outside [-1, 1]. */
static double
erfinv_(double x)
{
    double w, p;
    if (!(x >= -1.0 && x <= 1.0)) {
        return NAN;
    }
    if (x == 1.0 || x == -1.0) {
        return x * INFINITY;
    }
    w = -log((1.0 - x) * (1.0 + x));
    if (w < 5.0) {
        w -= 2.5;
        p = 2.81022636e-08;
        p = 3.43273939e-07 + p * w;
        p = -3.5233877e-06 + p * w;
        p = -4.39150654e-06 + p * w;
        p = 0.00021858087 + p * w;
        p = -0.00125372503 + p * w;
        p = -0.00417768164 + p * w;
        p = 0.246640727 + p * w;
        p = 1.50140941 + p * w;
    }
    else {
        w = sqrt(w) - 3.0;
        p = -0.000200214257;
        p = 0.000100950558 + p * w;
        p = 0.00134934322 + p * w;
        p = -0.00367342844 + p * w;
        p = 0.00573950773 + p * w;
        p = -0.0076224613 + p * w;
        p = 0.00943887047 + p * w;
        p = 1.00167406 + p * w;
        p = 2.83297682 + p * w;
    }
    p *= x;
    for (int i = 0; i < 2; i++) {   /* Newton on erf(p) = x */
        double d = TWO_OVER_SQRTPI * exp(-p * p);
        if (d == 0.0) {
            break;
        }
        p -= (erf(p) - x) / d;
    }
    return p;
}

UNARY_FLOAT_ROW(erfinv, (float)erfinv_(v), erfinv_(v), NULL)
int
erfinv_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *y = Y;
    SET(0, MUL(G, MUL(CONST(1.0 / TWO_OVER_SQRTPI, y),
                      UNARY(exp, MUL(y, y)))));
    VJP_END;
}
JVP_ELEMENTWISE(erfinv)

/* ---- lgamma, digamma, polygamma ------------------------------------------------
 * lgamma:      z = log|Gamma(x)|            dx = g digamma(x)
 * digamma:     z = Gamma'(x) / Gamma(x)     dx = g polygamma(1, x)
 * polygamma_n: z = d^n digamma(x) / dx^n    dx = g polygamma(n + 1, x)
 * polygamma(n, x) = (-1)^(n+1) n! zeta(n + 1, x) for n >= 1 (Hurwitz
 * zeta); NaN for a non-integer or negative n, and for x <= 0 (TF's
 * zeta is NaN there too).
 */
UNARY_FLOAT_ROW(lgamma, lgammaf(v), lgamma(v), NULL)
int
lgamma_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, UNARY(digamma, X(0))));
    VJP_END;
}
JVP_ELEMENTWISE(lgamma)

/* digamma: the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then
 * the asymptotic series; reflection below 0; poles at 0, -1, -2 ... */
static double
digamma_(double x)
{
    double r = 0.0, z, s;
    if (x <= 0.0) {
        if (x == floor(x)) {
            return NAN;
        }
        /* psi(x) = psi(1 - x) - pi / tan(pi x) */
        return digamma_(1.0 - x) - M_PI / tan(M_PI * x);
    }
    while (x < 10.0) {
        r -= 1.0 / x;
        x += 1.0;
    }
    z = 1.0 / (x * x);
    /* Bernoulli terms B2k / (2k x^2k), k = 1..7 */
    s = z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 -
        z * (1.0 / 132 - z * (691.0 / 32760 - z * (1.0 / 12)))))));
    return r + log(x) - 0.5 / x - s;
}

UNARY_FLOAT_ROW(digamma, (float)digamma_(v), digamma_(v), NULL)
int
digamma_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(G, OP1A(polygamma_n, X(0), "(i)", 1)));
    VJP_END;
}
JVP_ELEMENTWISE(digamma)

/* Hurwitz zeta(s, q) = sum_k (k + q)^-s, s > 1, q > 0, by Euler-Maclaurin
 * summation: terms up to k = N directly, then the integral of the tail
 * and its Bernoulli corrections. */
static double
hurwitz_zeta(double s, double q)
{
    /* (2j)! / B_2j, j = 1..12 */
    static const double fact_over_b[] = {
        12.0, -720.0, 30240.0, -1209600.0, 47900160.0,
        -1.8924375803183791606e9, 7.47242496e10, -2.950130727918164224e12,
        1.1646782814350067249e14, -4.5979787224074726105e15,
        1.8152105401943546773e17, -7.1661652561756670113e18};
    double sum, a, b, k, w, t;
    if (!(s > 1.0) || !(q > 0.0)) {
        return NAN;
    }
    sum = pow(q, -s);
    a = q;
    b = 0.0;
    for (int i = 0; i < 9 || a <= 9.0; i++) {
        a += 1.0;
        b = pow(a, -s);
        sum += b;
        if (fabs(b / sum) < 1e-17) {
            return sum;
        }
    }
    w = a;
    sum += b * w / (s - 1.0) - 0.5 * b;
    a = 1.0;
    k = 0.0;
    for (int i = 0; i < 12; i++) {
        a *= s + k;
        b /= w;
        t = a * b / fact_over_b[i];
        sum += t;
        if (fabs(t / sum) < 1e-17) {
            break;
        }
        k += 1.0;
        a *= s + k;
        b /= w;
        k += 1.0;
    }
    return sum;
}

static double
polygamma_(double n, double x)
{
    if (n != floor(n) || n < 0.0) {
        return NAN;
    }
    if (n == 0.0) {
        return digamma_(x);
    }
    double f = tgamma(n + 1.0);                       /* n! */
    return (fmod(n, 2.0) == 0.0 ? -f : f) * hurwitz_zeta(n + 1.0, x);
}

int
polygamma_n_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    Py_ssize_t n;
    if (tg_int_scalar("Polygamma", "n", attr(f->attrs, 0), &n) < 0) {
        return -1;
    }
    if (x->dtype == TG_FLOAT16) {
        return half_via_float(f, polygamma_n_forward);
    }
    f->out[0] = tg_tensor_new(x->dtype, x->ndim, x->shape);
    if (f->out[0] == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < x->size; i++) {
        if (x->dtype == TG_FLOAT32) {
            ((float *)f->out[0]->data)[i] = (float)polygamma_(
                (double)n, ((const float *)x->data)[i]);
        }
        else {
            ((double *)f->out[0]->data)[i] = polygamma_(
                (double)n, ((const double *)x->data)[i]);
        }
    }
    return 0;
}

int
polygamma_n_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    Py_ssize_t n;
    if (tg_int_scalar("Polygamma", "n", attr(c->attrs, 0), &n) < 0) {
        return -1;
    }
    SET(0, MUL(G, OP1A(polygamma_n, X(0), "(n)", n + 1)));
    VJP_END;
}
JVP_ELEMENTWISE(polygamma_n)

/* ---- floor, ceil, round: not differentiable ------------------------------------
 * round is half-to-even (TF's Round, NumPy's round); integers unchanged
 */
UNARY_FLOAT_ROW(floor, floorf(v), floor(v), NULL)
NONDIFF_VJP(floor)
UNARY_FLOAT_ROW(ceil, ceilf(v), ceil(v), NULL)
NONDIFF_VJP(ceil)
UNARY_FLOAT_ROW(round, rintf(v), rint(v), "")
NONDIFF_VJP(round)

/* ---- is_nan, is_finite, is_inf: bool results, not differentiable ------------------------- */
#define UNARY_BOOL_ROW(NAME, EXPR)                                           \
    int NAME##_forward(tg_fwd *f)                                            \
    {                                                                        \
        TensorObject *x_ = f->in[0];                                         \
        if (x_->dtype == TG_FLOAT16) {                                       \
            return half_via_float(f, NAME##_forward);                        \
        }                                                                    \
        f->out[0] = tg_tensor_new(TG_BOOL, x_->ndim, x_->shape);             \
        if (f->out[0] == NULL) {                                             \
            return -1;                                                       \
        }                                                                    \
        /* NumPy's loops test the bits in SIMD: 1.4x ours at 1e6 */          \
        if (x_->size > 32 &&                                                 \
            tg_unary_numpy_loop(simd_name(TG_OP_##NAME), x_, f->out[0])) {   \
            return 0;                                                        \
        }                                                                    \
        UNARY_LOOPS(EXPR, EXPR, npy_bool, npy_bool);                         \
        return 0;                                                            \
    }
UNARY_BOOL_ROW(is_nan, isnan(v) != 0)
NONDIFF_VJP(is_nan)
UNARY_BOOL_ROW(is_finite, isfinite(v) != 0)
NONDIFF_VJP(is_finite)
UNARY_BOOL_ROW(is_inf, isinf(v) != 0)
NONDIFF_VJP(is_inf)

/* ---- relu6 ----------------------------------------------------------------------
 * z = min(max(x, 0), 6)                     dx = g where 0 < z < 6, else 0
 */
UNARY_FLOAT_ROW(relu6, v <= 0 ? 0.0f : v > 6 ? 6.0f : v,
                v <= 0 ? 0.0 : v > 6 ? 6.0 : v, NULL)
int
relu6_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *in = KEEP(tg_op2(TG_OP_logical_and,
                               CMP(greater, Y, ZERO(Y)),
                               CMP(less, Y, CONST(6.0, Y)), NULL));
    SET(0, sel0(S, in, G, 0));
    VJP_END;
}
JVP_ELEMENTWISE(relu6)

/* ---- leaky_relu --------------------------------------------------------------------
 * z = x if x > 0 else alpha x               dx = g if x > 0 else alpha g
 * attrs: (alpha,)
 */
int
leaky_relu_forward(tg_fwd *f)
{
    TensorObject *x_ = f->in[0];
    double alpha;
    if (attr_double(f->attrs, 0, "LeakyRelu", "alpha", 0.2, &alpha) < 0) {
        return -1;
    }
    if (x_->dtype == TG_FLOAT16) {
        return half_via_float(f, leaky_relu_forward);
    }
    float af = (float)alpha;
    f->out[0] = tg_tensor_new(x_->dtype, x_->ndim, x_->shape);
    if (f->out[0] == NULL) {
        return -1;
    }
    UNARY_LOOPS(v > 0 ? v : v * af, v > 0 ? v : v * alpha, float, double);
    return 0;
}

int
leaky_relu_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    double alpha;
    if (attr_double(c->attrs, 0, "LeakyRelu", "alpha", 0.2, &alpha) < 0) {
        return -1;
    }
    PyObject *x = X(0);
    SET(0, sel(S, CMP(greater, x, ZERO(x)), G, MUL(G, CONST(alpha, G))));
    VJP_END;
}
JVP_ELEMENTWISE(leaky_relu)

/* ---- elu, selu -----------------------------------------------------------------------
 * elu:  z = x if x > 0 else e^x - 1         dx = g if z > 0 else g (z + 1)
 * selu: z = s x if x > 0 else s a (e^x - 1) dx = g s if z > 0 else g (z + s a)
 */
UNARY_FLOAT_ROW(elu, v > 0 ? v : expm1f(v), v > 0 ? v : expm1(v), NULL)
int
elu_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, sel(S, CMP(greater, Y, ZERO(Y)), G, MUL(G, ADD(Y, ONE(Y)))));
    VJP_END;
}
JVP_ELEMENTWISE(elu)

UNARY_FLOAT_ROW(selu,
                v > 0 ? (float)SELU_SCALE * v
                      : (float)(SELU_SCALE * SELU_ALPHA) * expm1f(v),
                v > 0 ? SELU_SCALE * v
                      : SELU_SCALE * SELU_ALPHA * expm1(v), NULL)
int
selu_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, sel(S, CMP(greater, Y, ZERO(Y)), MUL(G, CONST(SELU_SCALE, G)),
               MUL(G, ADD(Y, CONST(SELU_SCALE * SELU_ALPHA, Y)))));
    VJP_END;
}
JVP_ELEMENTWISE(selu)

/* ---- gelu ------------------------------------------------------------------------------
 * exact:       z = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2
 *              dx = g (Phi(x) + x phi(x)),  phi(x) = e^(-x^2/2) / sqrt(2 pi)
 * approximate: z = x (1 + tanh(u)) / 2,  u = sqrt(2/pi) (x + 0.044715 x^3)
 *              dx = g ((1 + t) / 2 + x (1 - t^2) u'(x) / 2),  t = tanh(u)
 * attrs: (approximate,)
 */
static inline double
gelu_d(double v, int approx)
{
    if (approx) {
        double t = tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
        return 0.5 * v * (1.0 + t);
    }
    return 0.5 * v * (1.0 + erf(v * SQRT1_2));
}

static inline float
gelu_f(float v, int approx)
{
    if (approx) {
        float t = tanhf((float)SQRT_2_OVER_PI * (v + (float)GELU_C * v * v * v));
        return 0.5f * v * (1.0f + t);
    }
    return 0.5f * v * (1.0f + erff(v * (float)SQRT1_2));
}

int
gelu_forward(tg_fwd *f)
{
    TensorObject *x_ = f->in[0];
    int approx = attr_bool(f->attrs, 0);
    if (approx < 0) {
        return -1;
    }
    if (x_->dtype == TG_FLOAT16) {
        return half_via_float(f, gelu_forward);
    }
    f->out[0] = tg_tensor_new(x_->dtype, x_->ndim, x_->shape);
    if (f->out[0] == NULL) {
        return -1;
    }
    UNARY_LOOPS(gelu_f(v, approx), gelu_d(v, approx), float, double);
    return 0;
}

int
gelu_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *x = X(0), *half = CONST(0.5, x), *d;
    int approx = attr_bool(c->attrs, 0);
    if (approx < 0) {
        return -1;
    }
    /* each intermediate is released once used: held to VJP_END they
     * were a dozen input-sized tensors at once */
    if (approx) {
        PyObject *x2 = MUL(x, x);
        PyObject *x3 = MUL(x2, x);
        PyObject *c3 = MUL(CONST(GELU_C, x), x3);
        RELEASE(x3);
        PyObject *inner = ADD(x, c3);
        RELEASE(c3);
        PyObject *u = MUL(CONST(SQRT_2_OVER_PI, x), inner);
        RELEASE(inner);
        PyObject *t = UNARY(tanh, u);
        RELEASE(u);
        PyObject *d3 = MUL(CONST(3.0 * GELU_C, x), x2);
        RELEASE(x2);
        PyObject *du1 = ADD(ONE(x), d3);
        RELEASE(d3);
        PyObject *du = MUL(CONST(SQRT_2_OVER_PI, x), du1);
        RELEASE(du1);
        PyObject *tt = MUL(t, t);
        PyObject *sech2 = SUB(ONE(x), tt);
        RELEASE(tt);
        PyObject *q = MUL(sech2, du);
        RELEASE(sech2);
        RELEASE(du);
        PyObject *xq = MUL(x, q);
        RELEASE(q);
        PyObject *a = ADD(ONE(x), t);
        RELEASE(t);
        PyObject *b = ADD(a, xq);
        RELEASE(a);
        RELEASE(xq);
        d = MUL(half, b);
        RELEASE(b);
    }
    else {
        PyObject *xs = MUL(x, CONST(SQRT1_2, x));
        PyObject *er = UNARY(erf, xs);
        RELEASE(xs);
        PyObject *c1 = ADD(ONE(x), er);
        RELEASE(er);
        PyObject *cdf = MUL(half, c1);
        RELEASE(c1);
        PyObject *xx = MUL(x, x);
        PyObject *h = MUL(CONST(-0.5, x), xx);
        RELEASE(xx);
        PyObject *ex = UNARY(exp, h);
        RELEASE(h);
        PyObject *pdf = MUL(CONST(INV_SQRT2PI, x), ex);
        RELEASE(ex);
        PyObject *xp = MUL(x, pdf);
        RELEASE(pdf);
        d = ADD(cdf, xp);
        RELEASE(cdf);
        RELEASE(xp);
    }
    SET(0, MUL(G, d));
    VJP_END;
}
JVP_ELEMENTWISE(gelu)

/* ---- silu (swish) ---------------------------------------------------------------------------
 * silu (composite): TF's nn.silu converts beta (a Python float becomes
 * float32) and casts it to the features' dtype.  A Python number becomes a
 * constant scalar of that value (never watched, so silu_beta's vjp skips
 * its gradient): the fast path, one fused kernel and one tape entry.  A
 * tensor or Variable is cast by a recorded op, so its gradient flows back
 * in its own dtype (none for an integer beta, as in TF).
 * attrs: (beta,)
 *
 * silu_beta: z = x s,  s = sigmoid(b x)     dx = g s (1 + b x (1 - s))
 *                                           db = g x^2 s (1 - s)
 * b broadcasts against x (the sweep sums db back to b's shape).
 */
int
silu_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0], *in[2] = {x, NULL};
    PyObject *beta = attr(f->attrs, 0), *r = NULL;
    if (beta == Py_None) {
        in[1] = tg_tensor_scalar(x->dtype, 1.0);
    }
    else if (PyFloat_CheckExact(beta)) {
        /* TF: a float32 tensor first, then cast to the features' dtype */
        in[1] = tg_tensor_scalar(x->dtype, (float)PyFloat_AS_DOUBLE(beta));
    }
    else {
        TensorObject *b = tg_convert(beta, -1, "Silu");
        if (b != NULL && b->dtype != x->dtype) {
            in[1] = (TensorObject *)tg_op1_attrs(TG_OP_cast, (PyObject *)b,
                                                 "(O)",
                                                 tg_dtype_obj(x->dtype));
            Py_DECREF(b);
        }
        else {
            in[1] = b;
        }
    }
    if (in[1] != NULL) {
        r = tg_call_tensors(TG_OP_silu_beta, 2, in, NULL);
        Py_DECREF(in[1]);
    }
    f->out[0] = (TensorObject *)r;
    return r ? 0 : -1;
}
COMPOSITE_VJP(silu)

static inline double
sigm_d(double v)
{
    return v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
}

static inline float
sigm_f(float v)
{
    return v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
}

BINARY_FLOAT_ROW(silu_beta, x * sigm_f(y * x), x * sigm_d(y * x))

int
silu_beta_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    /* intermediates released once used (all alive at VJP_END they were
     * seven input-sized tensors) */
    PyObject *x = X(0), *bx = MUL(X(1), x);
    PyObject *s = UNARY(sigmoid, bx);
    PyObject *oms = SUB(ONE(x), s);
    PyObject *ss = MUL(s, oms);
    RELEASE(oms);
    PyObject *gss = MUL(G, ss);                         /* g s (1 - s) */
    RELEASE(ss);
    if (NEEDS(0)) {
        PyObject *gs = MUL(G, s), *t = MUL(gss, bx);
        SET(0, ADD(gs, t));
        RELEASE(gs);
        RELEASE(t);
    }
    RELEASE(s);
    RELEASE(bx);
    if (NEEDS(1)) {
        PyObject *xx = MUL(x, x);
        SET(1, MUL(gss, xx));
        RELEASE(xx);
    }
    VJP_END;
}
JVP_ELEMENTWISE(silu_beta)

/* ---- softsign -----------------------------------------------------------------------------------
 * z = x / (1 + |x|)                         dx = g / (1 + |x|)^2
 */
UNARY_FLOAT_ROW(softsign, v / (1.0f + fabsf(v)), v / (1.0 + fabs(v)), NULL)
int
softsign_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *d = ADD(ONE(X(0)), UNARY(abs, X(0)));
    SET(0, DIV(G, MUL(d, d)));
    VJP_END;
}
JVP_ELEMENTWISE(softsign)

/* ---- maximum, minimum ------------------------------------------------------------------------------
 * z = max(x, y)        dx = g where x >= y, dy = g where x < y  (TF: ties
 * z = min(x, y)        dx = g where x <= y, dy = g where x > y   go to x)
 * NaN propagates from either side.
 */
static int
int_binary_ufunc(tg_fwd *f, int op, const char *ufunc)
{
    TensorObject *o = binary_out(op, f, f->in[0]->dtype);
    if (o == NULL) {
        return -1;
    }
    Py_CLEAR(f->out[0]); /* only the broadcast check was wanted */
    f->out[0] = tg_ufunc_apply(ufunc, 2, f->in, f->in[0]->dtype);
    return f->out[0] ? 0 : -1;
}

#define MAXF(x, y) ((x) > (y) || (x) != (x) ? (x) : (y))
#define MINF(x, y) ((x) < (y) || (x) != (x) ? (x) : (y))

int
maximum_forward(tg_fwd *f)
{
    if (!tg_is_float(f->in[0]->dtype)) {
        return int_binary_ufunc(f, TG_OP_maximum, "maximum");
    }
    if (any_half(f)) {
        return half_via_float(f, maximum_forward);
    }
    TensorObject *a_ = f->in[0], *b_ = f->in[1];
    TensorObject *o_ = binary_out(TG_OP_maximum, f, a_->dtype);
    if (o_ == NULL) {
        return -1;
    }
    if (o_->size > 32 && tg_binary_numpy_loop("maximum", a_, b_, o_)) {
        return 0; /* SIMD, 2.2x ours at 1e5; same NaN and +-0 results */
    }
    if (a_->dtype == TG_FLOAT32) {
        BLOOP(float, float, MAXF(x, y));
    }
    else {
        BLOOP(double, double, MAXF(x, y));
    }
    return 0;
}

int
minimum_forward(tg_fwd *f)
{
    if (!tg_is_float(f->in[0]->dtype)) {
        return int_binary_ufunc(f, TG_OP_minimum, "minimum");
    }
    if (any_half(f)) {
        return half_via_float(f, minimum_forward);
    }
    TensorObject *a_ = f->in[0], *b_ = f->in[1];
    TensorObject *o_ = binary_out(TG_OP_minimum, f, a_->dtype);
    if (o_ == NULL) {
        return -1;
    }
    if (o_->size > 32 && tg_binary_numpy_loop("minimum", a_, b_, o_)) {
        return 0; /* SIMD, 2.2x ours at 1e5; same NaN and +-0 results */
    }
    if (a_->dtype == TG_FLOAT32) {
        BLOOP(float, float, MINF(x, y));
    }
    else {
        BLOOP(double, double, MINF(x, y));
    }
    return 0;
}

/* TF's _MaximumMinimumGrad: where(m, g, 0) and where(m, 0, g), each one
 * select_or_zero pass (a NaN or inf in g never leaks to the other side) */
static int
minmax_vjp(tg_vjp_ctx *c, int cmp)
{
    VJP_BEGIN;
    PyObject *m = KEEP(tg_op2(cmp, X(0), X(1), NULL));
    if (NEEDS(0)) {
        SET(0, sel0(S, m, G, 0));
    }
    if (NEEDS(1)) {
        SET(1, sel0(S, m, G, 1));
    }
    VJP_END;
}

int
maximum_vjp(tg_vjp_ctx *c)
{
    return minmax_vjp(c, TG_OP_greater_equal);
}
JVP_ELEMENTWISE(maximum)

int
minimum_vjp(tg_vjp_ctx *c)
{
    return minmax_vjp(c, TG_OP_less_equal);
}
JVP_ELEMENTWISE(minimum)

/* ---- squared_difference --------------------------------------------------------------------------
 * z = (x - y)^2                             dx = 2 (x - y) g, dy = -dx
 */
int
squared_difference_forward(tg_fwd *f)
{
    TensorObject *a_ = f->in[0], *b_ = f->in[1], *o_;
    if (any_half(f)) {
        return half_via_float(f, squared_difference_forward);
    }
    if ((o_ = binary_out(TG_OP_squared_difference, f, a_->dtype)) == NULL) {
        return -1;
    }
    switch (a_->dtype) {
        case TG_FLOAT32: BLOOP(float, float, (x - y) * (x - y)); break;
        case TG_FLOAT64: BLOOP(double, double, (x - y) * (x - y)); break;
        /* integers wrap around like TF's: unsigned arithmetic */
        case TG_INT32:
            BLOOP(int32_t, int32_t,
                  ((uint32_t)x - (uint32_t)y) * ((uint32_t)x - (uint32_t)y));
            break;
        default:
            BLOOP(int64_t, int64_t,
                  ((uint64_t)x - (uint64_t)y) * ((uint64_t)x - (uint64_t)y));
            break;
    }
    return 0;
}

int
squared_difference_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *d = MUL(G, MUL(CONST(2.0, G), SUB(X(0), X(1))));
    if (NEEDS(0)) {
        SET(0, d);
    }
    if (NEEDS(1)) {
        SET(1, NEG(d));
    }
    VJP_END;
}
JVP_ELEMENTWISE(squared_difference)

/* ---- atan2 ------------------------------------------------------------------------------------------
 * z = atan2(y, x)                  dy = g x / (x^2 + y^2), dx = -g y / (...)
 * (inputs in TF's order: in0 = y, in1 = x)
 */
BINARY_FLOAT_ROW(atan2, atan2f(x, y), atan2(x, y))
int
atan2_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *yy = X(0), *xx = X(1);
    PyObject *gd = DIV(G, ADD(MUL(xx, xx), MUL(yy, yy)));
    if (NEEDS(0)) {
        SET(0, MUL(gd, xx));
    }
    if (NEEDS(1)) {
        SET(1, NEG(MUL(gd, yy)));
    }
    VJP_END;
}
JVP_ELEMENTWISE(atan2)

/* ---- truediv ----------------------------------------------------------------------------------------
 * TF's Python truediv: x converts alone, y with x's dtype as a hint (a
 * Python value takes it when it can); different dtypes are a TypeError, not
 * a kernel error; integers divide in float64.  y is an attribute so that
 * the forward sees it before conversion; the division is the recorded
 * `divide` row (RealDiv), whose vjp differentiates both operands.
 */
int
truediv_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0], *in[2] = {NULL, NULL};
    PyObject *yo = attr(f->attrs, 0), *r = NULL;
    TensorObject *y = tg_convert(yo, x->dtype, "RealDiv");
    if (y == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();                  /* the hint failed: convert alone */
        y = tg_convert(yo, -1, "RealDiv");
    }
    if (y == NULL) {
        return -1;
    }
    if (y->dtype != x->dtype) {
        PyErr_Format(PyExc_TypeError,
                     "`x` and `y` must have the same dtype, got %R != %R.",
                     tg_dtype_obj(x->dtype), tg_dtype_obj(y->dtype));
        Py_DECREF(y);
        return -1;
    }
    if (tg_is_float(x->dtype)) {
        in[0] = (TensorObject *)Py_NewRef(x);
        in[1] = y;
    }
    else {
        /* TF's _TRUEDIV_TABLE: 8- and 16-bit integers divide in float32,
         * the wider ones in float64 */
        int narrow = x->dtype == TG_INT8 || x->dtype == TG_INT16 ||
                     x->dtype == TG_UINT8 || x->dtype == TG_UINT16;
        PyObject *dt = tg_dtype_obj(narrow ? TG_FLOAT32 : TG_FLOAT64);
        in[0] = (TensorObject *)tg_op1_attrs(TG_OP_cast, (PyObject *)x,
                                             "(O)", dt);
        in[1] = in[0] ? (TensorObject *)tg_op1_attrs(
                            TG_OP_cast, (PyObject *)y, "(O)", dt)
                      : NULL;
        Py_DECREF(y);
    }
    if (in[1] != NULL) {
        r = tg_call_tensors(TG_OP_divide, 2, in, NULL);
    }
    Py_XDECREF(in[0]);
    Py_XDECREF(in[1]);
    f->out[0] = (TensorObject *)r;
    return r ? 0 : -1;
}
COMPOSITE_VJP(truediv)

/* ---- divide_no_nan, xlogy, xdivy ----------------------------------------------------------------------
 * divide_no_nan: z = 0 if y == 0 else x / y
 *     dx = divide_no_nan(g, y), dy = g divide_no_nan(divide_no_nan(-x, y), y)
 * xlogy: z = 0 if x == 0 else x log(y)
 *     dx = g xlogy(x != 0, y), dy = g xdivy(x, y)
 * xdivy: z = 0 if x == 0 else x / y
 *     dx = g xdivy(x != 0, y), dy = g xdivy(-x, y^2)
 * (TF's gradients: each is zero exactly where the forward is pinned to 0)
 */
BINARY_FLOAT_ROW(divide_no_nan, y == 0 ? 0.0f : x / y, y == 0 ? 0.0 : x / y)
int
divide_no_nan_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(0)) {
        SET(0, BINARY(divide_no_nan, G, X(1)));
    }
    if (NEEDS(1)) {
        PyObject *t = BINARY(divide_no_nan, NEG(X(0)), X(1));
        SET(1, MUL(G, BINARY(divide_no_nan, t, X(1))));
    }
    VJP_END;
}
JVP_ELEMENTWISE(divide_no_nan)

BINARY_FLOAT_ROW(xlogy, x == 0 ? 0.0f : x * logf(y), x == 0 ? 0.0 : x * log(y))

/* cast(x != 0) in x's dtype: a constant 0/1 tensor */
static PyObject *
nonzero_mask(scope *S, PyObject *x)
{
    PyObject *b = CMP(not_equal, x, ZERO(x));
    return x ? OP1A(cast, b, "(O)", tg_dtype_obj(((TensorObject *)x)->dtype))
             : NULL;
}

int
xlogy_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(0)) {
        SET(0, MUL(G, BINARY(xlogy, nonzero_mask(S, X(0)), X(1))));
    }
    if (NEEDS(1)) {
        SET(1, MUL(G, BINARY(xdivy, X(0), X(1))));
    }
    VJP_END;
}
JVP_ELEMENTWISE(xlogy)

BINARY_FLOAT_ROW(xdivy, x == 0 ? 0.0f : x / y, x == 0 ? 0.0 : x / y)
int
xdivy_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(0)) {
        SET(0, MUL(G, BINARY(xdivy, nonzero_mask(S, X(0)), X(1))));
    }
    if (NEEDS(1)) {
        SET(1, MUL(G, BINARY(xdivy, NEG(X(0)), MUL(X(1), X(1)))));
    }
    VJP_END;
}
JVP_ELEMENTWISE(xdivy)

/* ---- floordiv, floormod ---------------------------------------------------------------------------------
 * floordiv: z = floor(x / y)                not differentiable
 * floormod: z = x - floor(x / y) y, the sign of y (TF's FloorMod; for
 *           floats fmod adjusted, as TF)  dx = g, dy = -g floordiv(x, y)
 * Integer division by zero is TF's InvalidArgumentError.
 */
static int
int_zero_divisor(int op, TensorObject *b)
{
    for (Py_ssize_t i = 0; i < b->size; i++) {
        int64_t v = b->dtype == TG_INT32 ? ((int32_t *)b->data)[i]
                                         : ((int64_t *)b->data)[i];
        if (v == 0) {
            TG_INVALID_ARGUMENT("Integer division by zero [Op:%s]",
                                tg_ops[op].tf_name);
            return -1;
        }
    }
    return 0;
}

/* floor(x / y) for integers: C truncates, so step down when the signs
 * differ and there is a remainder; y == -1 is negation (wrapping, so
 * INT_MIN / -1 is not undefined behaviour) */
static inline int64_t
ifloordiv(int64_t x, int64_t y)
{
    if (y == -1) {
        return (int64_t)(0u - (uint64_t)x);
    }
    int64_t q = x / y;
    return (x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q;
}

static inline int64_t
ifloormod(int64_t x, int64_t y)
{
    if (y == -1) {
        return 0;
    }
    int64_t r = x % y;
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}

static inline double
ffloormod_d(double x, double y)
{
    double r = fmod(x, y);
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}

static inline float
ffloormod_f(float x, float y)
{
    float r = fmodf(x, y);
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}

static int
floor_op_forward(tg_fwd *f, int op, tg_forward_fn self)
{
    TensorObject *a_ = f->in[0], *b_ = f->in[1], *o_;
    int mod = op == TG_OP_floormod;
    if (any_half(f)) {
        return half_via_float(f, self);
    }
    if (!tg_is_float(a_->dtype) && int_zero_divisor(op, b_) < 0) {
        return -1;
    }
    if ((o_ = binary_out(op, f, a_->dtype)) == NULL) {
        return -1;
    }
    switch (a_->dtype) {
        case TG_FLOAT32:
            if (mod) {
                BLOOP(float, float, ffloormod_f(x, y));
            }
            else {
                BLOOP(float, float, floorf(x / y));
            }
            break;
        case TG_FLOAT64:
            if (mod) {
                BLOOP(double, double, ffloormod_d(x, y));
            }
            else {
                BLOOP(double, double, floor(x / y));
            }
            break;
        case TG_INT32:
            if (mod) {
                BLOOP(int32_t, int32_t, ifloormod(x, y));
            }
            else {
                BLOOP(int32_t, int32_t, ifloordiv(x, y));
            }
            break;
        default:
            if (mod) {
                BLOOP(int64_t, int64_t, ifloormod(x, y));
            }
            else {
                BLOOP(int64_t, int64_t, ifloordiv(x, y));
            }
            break;
    }
    return 0;
}

int
floordiv_forward(tg_fwd *f)
{
    return floor_op_forward(f, TG_OP_floordiv, floordiv_forward);
}
NONDIFF_VJP(floordiv)

int
floormod_forward(tg_fwd *f)
{
    return floor_op_forward(f, TG_OP_floormod, floormod_forward);
}

int
floormod_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(0)) {
        SET(0, G);
    }
    if (NEEDS(1)) {
        SET(1, NEG(MUL(G, BINARY(floordiv, X(0), X(1)))));
    }
    VJP_END;
}
JVP_ELEMENTWISE(floormod)

/* ---- add_n ------------------------------------------------------------------------------------------------
 * z = x_0 + x_1 + ... (same shape and dtype)  dx_i = g
 */
int
add_n_forward(tg_fwd *f)
{
    TensorObject *x0 = f->in[0];
    for (int i = 1; i < f->nin; i++) {
        TensorObject *xi = f->in[i];
        int same = xi->ndim == x0->ndim;
        for (int d = 0; same && d < x0->ndim; d++) {
            same = xi->shape[d] == x0->shape[d];
        }
        if (!same) {
            PyObject *a = tg_shape_str(x0->ndim, x0->shape);
            PyObject *b = a ? tg_shape_str(xi->ndim, xi->shape) : NULL;
            if (b) {
                TG_INVALID_ARGUMENT("Inputs to operation AddN of type AddN "
                                    "must have the same size and shape.  "
                                    "Input 0: %U != input %d: %U [Op:AddN]",
                                    a, i, b);
            }
            Py_XDECREF(a);
            Py_XDECREF(b);
            return -1;
        }
    }
    if (x0->dtype == TG_FLOAT16) {
        return half_via_float(f, add_n_forward);
    }
    f->out[0] = tg_tensor_new(x0->dtype, x0->ndim, x0->shape);
    if (f->out[0] == NULL) {
        return -1;
    }
    Py_ssize_t n = x0->size;
    char *o = f->out[0]->data;
    memcpy(o, x0->data, (size_t)n * (size_t)tg_dtype_size[x0->dtype]);
    for (int k = 1; k < f->nin; k++) {
        const char *p = f->in[k]->data;
        switch (x0->dtype) {
            case TG_FLOAT32:
                for (Py_ssize_t i = 0; i < n; i++) {
                    ((float *)o)[i] += ((const float *)p)[i];
                }
                break;
            case TG_FLOAT64:
                for (Py_ssize_t i = 0; i < n; i++) {
                    ((double *)o)[i] += ((const double *)p)[i];
                }
                break;
            case TG_INT32: /* wrap around like TF */
                for (Py_ssize_t i = 0; i < n; i++) {
                    ((int32_t *)o)[i] = (int32_t)((uint32_t)((int32_t *)o)[i] +
                                                  (uint32_t)((const int32_t *)
                                                                 p)[i]);
                }
                break;
            default:
                for (Py_ssize_t i = 0; i < n; i++) {
                    ((int64_t *)o)[i] = (int64_t)((uint64_t)((int64_t *)o)[i] +
                                                  (uint64_t)((const int64_t *)
                                                                 p)[i]);
                }
                break;
        }
    }
    return 0;
}

int
add_n_vjp(tg_vjp_ctx *c)
{
    for (int i = 0; i < c->e->nin; i++) {
        if (NEEDS(i)) {
            SET(i, G);
        }
    }
    return 0;
}
JVP_LINEAR(add_n)

/* ---- clip_by_value (composite) ------------------------------------------------------------------------------
 * z = maximum(minimum(t, hi), lo), as TF writes it; the gradient passes to
 * t where lo <= t <= hi (maximum/minimum send ties to their first input),
 * and to the bounds elsewhere.  The result must keep t's shape (TF's
 * ValueError when the bounds would broadcast t).
 */
int
clip_by_value_forward(tg_fwd *f)
{
    TensorObject *t = f->in[0];
    PyObject *lo = (PyObject *)f->in[1], *hi = (PyObject *)f->in[2];
    PyObject *m = tg_op2(TG_OP_minimum, (PyObject *)t, hi, NULL);
    PyObject *r = m ? tg_op2(TG_OP_maximum, m, lo, NULL) : NULL;
    Py_XDECREF(m);
    if (r == NULL) {
        return -1;
    }
    TensorObject *rt = (TensorObject *)r;
    int same = rt->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) {
        same = rt->shape[d] == t->shape[d];
    }
    if (!same) {
        PyObject *a = tg_shape_tuple(t->ndim, t->shape);
        PyObject *b = a ? tg_shape_tuple(rt->ndim, rt->shape) : NULL;
        if (b) {
            PyErr_Format(PyExc_ValueError,
                         "clip_by_value: Shapes %R and %R are incompatible "
                         "(the clip values must not broadcast t)", a, b);
        }
        Py_XDECREF(a);
        Py_XDECREF(b);
        Py_DECREF(r);
        return -1;
    }
    f->out[0] = rt;
    return 0;
}
COMPOSITE_VJP(clip_by_value)

/* ---- select, where ----------------------------------------------------------------------------------------------
 * select(c, x, y): z = x where c else y (broadcasting all three)
 *     dx = select(c, g, 0), dy = select(c, 0, g); c is not differentiable
 * where(condition, x, y) converts x and y together (TF's rule: the first
 * tensor among them fixes the dtype of Python values) and records select;
 * where(condition) gives the int64 coordinates of the true elements (its
 * condition may be numeric: nonzero is true, TF's Where); select's
 * condition must be bool, as TF's SelectV2.
 */
static int
truth(const TensorObject *c, Py_ssize_t i)
{
    switch (c->dtype) {
        case TG_BOOL: return ((const npy_bool *)c->data)[i] != 0;
        case TG_FLOAT16: return !npy_half_iszero(((const npy_half *)c->data)[i]);
        case TG_FLOAT32: return ((const float *)c->data)[i] != 0;
        case TG_FLOAT64: return ((const double *)c->data)[i] != 0;
        default: return tg_int_at(c->data, c->dtype, i) != 0;
    }
}

/* out[i] = EXPR over the broadcast of cnd (bool), a and b into out, T an
 * unsigned word of the element size.  EXPR reads c_ (the condition, 0 or
 * 1), pa_[ia_] and pb_[ib_].  Operands that are full-size or one element
 * (every mask of a gradient) take a flat loop; others the odometer. */
#define SELECT_LOOP(T, EXPR)                                                 \
    do {                                                                     \
        const npy_bool *pc_ = (const npy_bool *)cnd->data;                   \
        const T *pa_ = (const T *)a->data, *pb_ = (const T *)b->data;        \
        T *po_ = (T *)out->data;                                             \
        Py_ssize_t n_ = out->size;                                           \
        (void)pb_; /* select_or_zero reads only a */                         \
        if (cnd->size == n_ && a->size == n_ && b->size == n_) {             \
            for (Py_ssize_t i_ = 0; i_ < n_; i_++) {                         \
                int c_ = pc_[i_] != 0;                                       \
                Py_ssize_t ia_ = i_, ib_ = i_;                               \
                (void)ib_;                                                   \
                po_[i_] = (EXPR);                                            \
            }                                                                \
        }                                                                    \
        else if ((cnd->size == n_ || cnd->size == 1) &&                      \
                 (a->size == n_ || a->size == 1) &&                          \
                 (b->size == n_ || b->size == 1)) {                          \
            Py_ssize_t sc_ = cnd->size == n_, sa_ = a->size == n_;           \
            Py_ssize_t sb_ = b->size == n_;                                  \
            for (Py_ssize_t i_ = 0; i_ < n_; i_++) {                         \
                int c_ = pc_[i_ * sc_] != 0;                                 \
                Py_ssize_t ia_ = i_ * sa_, ib_ = i_ * sb_;                   \
                (void)ib_;                                                   \
                po_[i_] = (EXPR);                                            \
            }                                                                \
        }                                                                    \
        else {                                                               \
            TensorObject *ins_[3] = {cnd, a, b};                             \
            bcast_it it_;                                                    \
            bcast_init(&it_, 3, ins_, out);                                  \
            for (Py_ssize_t i_ = 0; i_ < n_; i_++) {                         \
                int c_ = pc_[it_.off[0]] != 0;                               \
                Py_ssize_t ia_ = it_.off[1], ib_ = it_.off[2];               \
                (void)ib_;                                                   \
                po_[i_] = (EXPR);                                            \
                bcast_next(&it_);                                            \
            }                                                                \
        }                                                                    \
    } while (0)

int
select_forward(tg_fwd *f)
{
    TensorObject *cnd = f->in[0], *a = f->in[1], *b = f->in[2], *out;
    Py_ssize_t shape[TG_MAXDIMS];
    int nd = 0;
    if (want_dtype(TG_OP_select, 0, cnd, TG_BOOL) < 0) {
        return -1;
    }
    if (tg_want_dtype("SelectV2", 2, a->dtype, b->dtype) < 0) {
        return -1;
    }
    for (int k = 0; k < 3; k++) {
        nd = f->in[k]->ndim > nd ? f->in[k]->ndim : nd;
    }
    for (int i = 0; i < nd; i++) {
        shape[i] = 1;
        for (int k = 0; k < 3; k++) {
            TensorObject *t = f->in[k];
            int ti = t->ndim - nd + i;
            Py_ssize_t d = ti >= 0 ? t->shape[ti] : 1;
            if (d != 1 && shape[i] != 1 && d != shape[i]) {
                PyObject *s0 = tg_shape_str(cnd->ndim, cnd->shape);
                PyObject *s1 = s0 ? tg_shape_str(a->ndim, a->shape) : NULL;
                PyObject *s2 = s1 ? tg_shape_str(b->ndim, b->shape) : NULL;
                if (s2) {
                    TG_INVALID_ARGUMENT("condition %U, then %U, and else %U "
                                        "must be broadcastable [Op:SelectV2]",
                                        s0, s1, s2);
                }
                Py_XDECREF(s0);
                Py_XDECREF(s1);
                Py_XDECREF(s2);
                return -1;
            }
            if (d != 1) {
                shape[i] = d;
            }
        }
    }
    out = f->out[0] = tg_tensor_new(a->dtype, nd, shape);
    if (out == NULL) {
        return -1;
    }
    if (out->size == 0) {
        return 0;
    }
    /* elements are moved as same-size unsigned words: any dtype, bit-exact */
    switch (tg_dtype_size[a->dtype]) {
        case 1: SELECT_LOOP(uint8_t, c_ ? pa_[ia_] : pb_[ib_]); break;
        case 2: SELECT_LOOP(uint16_t, c_ ? pa_[ia_] : pb_[ib_]); break;
        case 4: SELECT_LOOP(uint32_t, c_ ? pa_[ia_] : pb_[ib_]); break;
        default: SELECT_LOOP(uint64_t, c_ ? pa_[ia_] : pb_[ib_]); break;
    }
    return 0;
}

int
select_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(1)) {           /* the bool condition never needs one */
        SET(1, sel0(S, X(0), G, 0));
    }
    if (NEEDS(2)) {
        SET(2, sel0(S, X(0), G, 1));
    }
    VJP_END;
}
JVP_ELEMENTWISE(select)

/* ---- select_or_zero ------------------------------------------------------------------------------
 * z = x where c (where not c if negate) else 0   dx = select_or_zero(c, g)
 * (the gradients' masks: one pass where select(c, g, zeros) took a
 * comparison-sized temporary and a general three-way walk)
 * attrs: (negate,)
 */
int
select_or_zero_forward(tg_fwd *f)
{
    TensorObject *cnd = f->in[0], *x = f->in[1], *out;
    int neg = attr_bool(f->attrs, 0);
    if (neg < 0 || want_dtype(TG_OP_select_or_zero, 0, cnd, TG_BOOL) < 0) {
        return -1;
    }
    if ((out = binary_out(TG_OP_select_or_zero, f, x->dtype)) == NULL) {
        return -1;
    }
    if (out->size == 0) {
        return 0;
    }
    TensorObject *a = x, *b = x; /* the loop reads only a */
    /* and with an all-ones or all-zeros word: branch-free, vectorizes */
#define SEL0(T) ((T)(pa_[ia_] & (T)((T)0 - (T)(c_ != neg))))
    switch (tg_dtype_size[x->dtype]) {
        case 1: SELECT_LOOP(uint8_t, SEL0(uint8_t)); break;
        case 2: SELECT_LOOP(uint16_t, SEL0(uint16_t)); break;
        case 4: SELECT_LOOP(uint32_t, SEL0(uint32_t)); break;
        default: SELECT_LOOP(uint64_t, SEL0(uint64_t)); break;
    }
#undef SEL0
    return 0;
}

int
select_or_zero_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int neg = attr_bool(c->attrs, 0);
    if (neg < 0) {
        return -1;
    }
    if (NEEDS(1)) {
        SET(1, sel0(S, X(0), G, neg));
    }
    VJP_END;
}
JVP_LINEAR(select_or_zero)

/* where(condition): coordinates of the true elements, [n, rank] int64 */
static int
where_indices(tg_fwd *f)
{
    TensorObject *cnd = f->in[0];
    Py_ssize_t n = 0, shape[2];
    for (Py_ssize_t i = 0; i < cnd->size; i++) {
        n += truth(cnd, i);
    }
    shape[0] = n;
    shape[1] = cnd->ndim;
    f->out[0] = tg_tensor_new(TG_INT64, 2, shape);
    if (f->out[0] == NULL) {
        return -1;
    }
    int64_t *o = (int64_t *)f->out[0]->data;
    Py_ssize_t idx[TG_MAXDIMS];
    memset(idx, 0, sizeof(idx));
    for (Py_ssize_t i = 0; i < cnd->size; i++) {
        if (truth(cnd, i)) {
            for (int d = 0; d < cnd->ndim; d++) {
                *o++ = (int64_t)idx[d];
            }
        }
        for (int d = cnd->ndim - 1; d >= 0; d--) {
            if (++idx[d] < cnd->shape[d]) {
                break;
            }
            idx[d] = 0;
        }
    }
    return 0;
}

int
where_forward(tg_fwd *f)
{
    PyObject *xo = attr(f->attrs, 0), *yo = attr(f->attrs, 1);
    TensorObject *in[3] = {f->in[0], NULL, NULL};
    int dt = -1;
    if (xo == Py_None && yo == Py_None) {
        return where_indices(f);
    }
    if (xo == Py_None || yo == Py_None) {
        PyErr_SetString(PyExc_ValueError,
                        "where: x and y must both be non-None or both be "
                        "None.");
        return -1;
    }
    /* TF's args_to_matching_eager([x, y]) */
    PyObject *xy[2] = {xo, yo};
    for (int k = 0; k < 2 && dt < 0; k++) {
        if (Tensor_Check(xy[k])) {
            dt = ((TensorObject *)xy[k])->dtype;
        }
        else if (Variable_Check(xy[k])) {
            dt = ((VariableObject *)xy[k])->value->dtype;
        }
    }
    for (int k = 0; k < 2; k++) {
        in[k + 1] = tg_convert(xy[k], dt, "SelectV2");
        if (in[k + 1] == NULL) {
            Py_XDECREF(in[1]);
            return -1;
        }
        if (dt < 0) {
            dt = in[k + 1]->dtype;
        }
    }
    PyObject *r = tg_call_tensors(TG_OP_select, 3, in, NULL);
    Py_DECREF(in[1]);
    Py_DECREF(in[2]);
    f->out[0] = (TensorObject *)r;
    return r ? 0 : -1;
}
COMPOSITE_VJP(where)

/* ---- logical_and, logical_or, logical_xor, logical_not --------------------------------------------------------------
 * bool inputs only (TF's message otherwise), bool results, never recorded.
 * logical_xor is TF's Python composite of LogicalOr/LogicalAnd, so its
 * messages name LogicalOr; here it is one loop.
 */
static int
logical_forward(tg_fwd *f, int op)
{
    TensorObject *a_ = f->in[0], *b_ = f->nin == 2 ? f->in[1] : NULL, *o_;
    for (int i = 0; i < f->nin; i++) {
        if (want_dtype(op, i, f->in[i], TG_BOOL) < 0) {
            return -1;
        }
    }
    if (b_ == NULL) {
        o_ = f->out[0] = tg_tensor_new(TG_BOOL, a_->ndim, a_->shape);
        if (o_ == NULL) {
            return -1;
        }
        for (Py_ssize_t i = 0; i < o_->size; i++) {
            ((npy_bool *)o_->data)[i] = !((npy_bool *)a_->data)[i];
        }
        return 0;
    }
    if ((o_ = binary_out(op, f, TG_BOOL)) == NULL) {
        return -1;
    }
    if (op == TG_OP_logical_and) {
        BLOOP(npy_bool, npy_bool, x && y);
    }
    else if (op == TG_OP_logical_or) {
        BLOOP(npy_bool, npy_bool, x || y);
    }
    else {
        BLOOP(npy_bool, npy_bool, !x != !y);
    }
    return 0;
}

int
logical_and_forward(tg_fwd *f)
{
    return logical_forward(f, TG_OP_logical_and);
}
NONDIFF_VJP(logical_and)

int
logical_or_forward(tg_fwd *f)
{
    return logical_forward(f, TG_OP_logical_or);
}
NONDIFF_VJP(logical_or)

int
logical_not_forward(tg_fwd *f)
{
    return logical_forward(f, TG_OP_logical_not);
}
NONDIFF_VJP(logical_not)

int
logical_xor_forward(tg_fwd *f)
{
    return logical_forward(f, TG_OP_logical_xor);
}
NONDIFF_VJP(logical_xor)
