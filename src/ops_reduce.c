/* ops_reduce.c -- forwards and vjps of the rows in ops_reduce.def
 * (reductions, scans and sorting: reduce_max, cumsum, argmax, top_k, ...).
 *
 * Every kernel here sees its input as a C-contiguous block of shape
 * (outer, n, inner): `n` is the reduced / scanned / sorted extent.  A set of
 * reduced axes that is one contiguous run needs no copy; any other set is
 * transposed once by NumPy (kept axes first), which makes it a run.  The
 * loops then walk rows of `inner` contiguous lanes, so both small tensors
 * (no NumPy call overhead) and large ones (sequential memory) are fast.
 * float16 inputs are widened to float32 and the result rounded once, as
 * TF's half kernels accumulate in float.
 */
#include "vjp.h"
#include <math.h>

/* ---- shared pieces ------------------------------------------------------------ */

/* Run `fwd` on x widened to float32 and round float outputs back to half. */
static int
via_float32(tg_fwd *f, tg_forward_fn fwd)
{
    TensorObject *x32 = tg_ufunc_apply(NULL, 1, &f->in[0], TG_FLOAT32);
    if (x32 == NULL) {
        return -1;
    }
    tg_fwd g = {.in = &x32, .nin = 1, .attrs = f->attrs, .nout = 1};
    int rc = fwd(&g);
    Py_DECREF(x32);
    if (rc < 0) {
        return -1;
    }
    f->nout = g.nout;
    for (int i = 0; i < g.nout; i++) {
        if (g.out[i]->dtype == TG_FLOAT32) {
            f->out[i] = tg_ufunc_apply(NULL, 1, &g.out[i], TG_FLOAT16);
            Py_DECREF(g.out[i]);
            if (f->out[i] == NULL) {
                rc = -1;
            }
        }
        else {
            f->out[i] = g.out[i];
        }
    }
    return rc;
}

/* The input seen as (outer, n, inner) and the result's shape. */
typedef struct {
    TensorObject *x; /* new reference: x itself or a transposed copy */
    Py_ssize_t outer, n, inner;
    int nd;
    Py_ssize_t shape[TG_MAXDIMS];
} rlayout;

static Py_ssize_t
prod_dims(const Py_ssize_t *shape, int lo, int hi)
{
    Py_ssize_t p = 1;
    for (int i = lo; i < hi; i++) {
        p *= shape[i];
    }
    return p;
}

/* Reduced axes -> layout.  The sizes are sub-products of x->size, which
 * tg_tensor_new already checked for overflow. */
static int
reduce_layout(const char *tfname, TensorObject *x, PyObject *attrs,
              rlayout *L)
{
    char mask[TG_MAXDIMS];
    int keepdims = attr_bool(attrs, 1), first = -1, last = -1, run = 1;
    if (keepdims < 0 ||
        tg_parse_axes(tfname, "axis", attr(attrs, 0), x->ndim, mask) < 0) {
        return -1;
    }
    L->nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (mask[i]) {
            run &= first < 0 || last == i - 1;
            first = first < 0 ? i : first;
            last = i;
            if (keepdims) {
                L->shape[L->nd++] = 1;
            }
        }
        else {
            L->shape[L->nd++] = x->shape[i];
        }
    }
    if (first < 0) {
        /* nothing reduced (rank 0, or axis=[]): every element is a lane */
        L->outer = x->size;
        L->n = L->inner = 1;
        L->x = (TensorObject *)Py_NewRef(x);
        return 0;
    }
    if (run) {
        L->outer = prod_dims(x->shape, 0, first);
        L->n = prod_dims(x->shape, first, last + 1);
        L->inner = prod_dims(x->shape, last + 1, x->ndim);
        L->x = (TensorObject *)Py_NewRef(x);
        return 0;
    }
    /* kept axes first, reduced last: one copy makes the reduced axes a run
     * and keeps the result in the kept axes' order */
    npy_intp perm[TG_MAXDIMS];
    PyArray_Dims dims = {perm, x->ndim};
    int k = 0;
    L->outer = L->n = 1;
    L->inner = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (!mask[i]) {
            perm[k++] = i;
            L->outer *= x->shape[i];
        }
    }
    for (int i = 0; i < x->ndim; i++) {
        if (mask[i]) {
            perm[k++] = i;
            L->n *= x->shape[i];
        }
    }
    PyObject *arr = tg_tensor_as_array(x), *t = NULL, *c = NULL;
    t = arr ? PyArray_Transpose((PyArrayObject *)arr, &dims) : NULL;
    c = t ? PyArray_NewCopy((PyArrayObject *)t, NPY_CORDER) : NULL;
    L->x = c ? tg_tensor_from_array((PyArrayObject *)c, x->dtype) : NULL;
    Py_XDECREF(arr);
    Py_XDECREF(t);
    Py_XDECREF(c);
    return L->x ? 0 : -1;
}

/* A single axis argument (argmax, cumsum, sort, ...): a Python int or an
 * integer scalar tensor, normalised to [0, ndim). */
static int
single_axis(const char *tfname, PyObject *obj, int ndim, const char *what,
            int *axis)
{
    Py_ssize_t a;
    if (tg_int_scalar(tfname, "axis", obj, &a) < 0) {
        return -1;
    }
    if (a < -ndim || a >= ndim) {
        TG_INVALID_ARGUMENT("%s: Expected %s in the range [%d, %d), but got "
                            "%zd [Op:%s]", tfname, what, -ndim, ndim, a,
                            tfname);
        return -1;
    }
    *axis = (int)(a < 0 ? a + ndim : a);
    return 0;
}

/* x's shape with 1 on the reduced axes (to reshape g or y for
 * broadcasting against x), and the slot describing it. */
static int
kept_shape(tg_vjp_ctx *c, char *mask, Py_ssize_t *kept, tg_slot *slot)
{
    const tg_slot *x = IN_SLOT(0);
    if (tg_parse_axes(tg_ops[c->e->op].tf_name, "axis", attr(c->attrs, 0),
                      x->ndim, mask) < 0) {
        return -1;
    }
    for (int i = 0; i < x->ndim; i++) {
        kept[i] = mask[i] ? 1 : x->shape[i];
    }
    *slot = (tg_slot){.ndim = x->ndim, .shape = kept, .dtype = x->dtype};
    return 0;
}

static Py_ssize_t
reduced_count(const tg_slot *x, const char *mask)
{
    Py_ssize_t n = 1;
    for (int i = 0; i < x->ndim; i++) {
        n *= mask[i] ? x->shape[i] : 1;
    }
    return n;
}

/* ---- reduce_max, reduce_min, reduce_prod, reduce_logsumexp,
 *      reduce_variance, reduce_std, reduce_all, reduce_any ----------------------
 * One forward over rows of `inner` lanes; `acc` holds one accumulator per
 * lane (two for the two-pass ops).  Floats accumulate in double.
 */
enum { R_MAX, R_MIN, R_PROD, R_LSE, R_VAR, R_STD, R_ALL, R_ANY };

/* out[o, i] = STORE(fold over r of x[o, r, i]) */
#define FOLD(T, A, INIT, STEP, STORE)                                        \
    do {                                                                     \
        const T *px = (const T *)L->x->data;                                 \
        T *po = (T *)out->data;                                              \
        A *acc = (A *)tmp;                                                   \
        for (Py_ssize_t o = 0; o < L->outer; o++) {                          \
            for (Py_ssize_t i = 0; i < L->inner; i++) {                      \
                acc[i] = (INIT);                                             \
            }                                                                \
            for (Py_ssize_t r = 0; r < L->n; r++) {                          \
                const T *row = px + (o * L->n + r) * L->inner;               \
                for (Py_ssize_t i = 0; i < L->inner; i++) {                  \
                    A a = acc[i];                                            \
                    T v = row[i];                                            \
                    STEP;                                                    \
                    acc[i] = a;                                              \
                }                                                            \
            }                                                                \
            for (Py_ssize_t i = 0; i < L->inner; i++) {                      \
                A a = acc[i];                                                \
                po[o * L->inner + i] = (T)(STORE);                           \
            }                                                                \
        }                                                                    \
    } while (0)

/* NaN wins, as IEEE comparisons would lose it: (v != v) catches it */
#define MAX_STEP (a = (v > a || v != v) ? v : a)
#define MIN_STEP (a = (v < a || v != v) ? v : a)

#define FOLD_ALL_TYPES(OP_F, OP_I, INIT_F, INIT_I32, INIT_I64)               \
    switch (L->x->dtype) {                                                   \
        case TG_FLOAT32: FOLD(float, double, INIT_F, OP_F, a); break;        \
        case TG_FLOAT64: FOLD(double, double, INIT_F, OP_F, a); break;       \
        case TG_INT32: FOLD(int32_t, int64_t, INIT_I32, OP_I, a); break;     \
        case TG_INT64: FOLD(int64_t, int64_t, INIT_I64, OP_I, a); break;     \
        default: break;                                                      \
    }

/* logsumexp: m = max (NaN wins); shift by m where finite (TF shifts by 0
 * when the max is +-inf, so inf stays inf and all -inf gives -inf) */
#define LSE(T)                                                               \
    do {                                                                     \
        const T *px = (const T *)L->x->data;                                 \
        T *po = (T *)out->data;                                              \
        double *m = (double *)tmp, *s = m + L->inner;                        \
        for (Py_ssize_t o = 0; o < L->outer; o++) {                          \
            const T *blk = px + o * L->n * L->inner;                         \
            for (Py_ssize_t i = 0; i < L->inner; i++) {                      \
                m[i] = -INFINITY;                                            \
                s[i] = 0.0;                                                  \
            }                                                                \
            for (Py_ssize_t r = 0; r < L->n; r++) {                          \
                for (Py_ssize_t i = 0; i < L->inner; i++) {                  \
                    double a = m[i], v = blk[r * L->inner + i];              \
                    m[i] = MAX_STEP;                                         \
                }                                                            \
            }                                                                \
            for (Py_ssize_t i = 0; i < L->inner; i++) {                      \
                m[i] = isfinite(m[i]) ? m[i] : 0.0;                          \
            }                                                                \
            for (Py_ssize_t r = 0; r < L->n; r++) {                          \
                for (Py_ssize_t i = 0; i < L->inner; i++) {                  \
                    s[i] += exp((double)blk[r * L->inner + i] - m[i]);       \
                }                                                            \
            }                                                                \
            for (Py_ssize_t i = 0; i < L->inner; i++) {                      \
                po[o * L->inner + i] = (T)(log(s[i]) + m[i]);                \
            }                                                                \
        }                                                                    \
    } while (0)

/* variance (population, ddof 0) in two passes: mean, then squared
 * deviations; std takes the square root */
#define VAR(T, SQRT)                                                         \
    do {                                                                     \
        const T *px = (const T *)L->x->data;                                 \
        T *po = (T *)out->data;                                              \
        double *m = (double *)tmp, *s = m + L->inner;                        \
        double n = (double)L->n;                                             \
        for (Py_ssize_t o = 0; o < L->outer; o++) {                          \
            const T *blk = px + o * L->n * L->inner;                         \
            for (Py_ssize_t i = 0; i < L->inner; i++) {                      \
                m[i] = s[i] = 0.0;                                           \
            }                                                                \
            for (Py_ssize_t r = 0; r < L->n; r++) {                          \
                for (Py_ssize_t i = 0; i < L->inner; i++) {                  \
                    m[i] += blk[r * L->inner + i];                           \
                }                                                            \
            }                                                                \
            for (Py_ssize_t i = 0; i < L->inner; i++) {                      \
                m[i] /= n;                                                   \
            }                                                                \
            for (Py_ssize_t r = 0; r < L->n; r++) {                          \
                for (Py_ssize_t i = 0; i < L->inner; i++) {                  \
                    double d = blk[r * L->inner + i] - m[i];                 \
                    s[i] += d * d;                                           \
                }                                                            \
            }                                                                \
            for (Py_ssize_t i = 0; i < L->inner; i++) {                      \
                double v = s[i] / n;                                         \
                po[o * L->inner + i] = (T)(SQRT ? sqrt(v) : v);              \
            }                                                                \
        }                                                                    \
    } while (0)

/* Above this many elements a reduction goes to NumPy's ufunc reduce
 * loops (vectorised); below it, NumPy's per-call overhead dominates and the
 * loops above win. */
#define LARGE 4096

/* ufunc.reduce(arr, axis=axes, keepdims=True): always keepdims, so the
 * result is an array whose elements are in the output's order */
static PyObject *
np_reduce(const char *ufunc, PyObject *arr, PyObject *axes)
{
    PyObject *reduce = tg_numpy_ufunc_reduce(ufunc), *args, *kw, *r = NULL;
    args = reduce ? PyTuple_Pack(1, arr) : NULL;
    kw = args ? Py_BuildValue("{sOsO}", "axis", axes, "keepdims", Py_True)
              : NULL;
    r = kw ? tg_np_call(reduce, args, kw) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kw);
    if (r != NULL && !PyArray_Check(r)) {
        Py_SETREF(r, PyArray_FromAny(r, NULL, 0, 0, 0, NULL));
    }
    return r;
}

static PyObject *
np_binary(const char *ufunc, PyObject *a, PyObject *b)
{
    PyObject *args[2] = {a, b};
    return tg_np_vectorcall(tg_numpy_ufunc(ufunc), args, 2, NULL);
}

/* out = fin(r1) elementwise, r1 (and r2 = shift) float arrays of out's
 * size and dtype */
#define FINISH(T, EXPR)                                                      \
    do {                                                                     \
        T *a1 = (T *)PyArray_DATA((PyArrayObject *)r1);                      \
        T *po = (T *)out->data;                                              \
        for (Py_ssize_t i = 0; i < out->size; i++) {                         \
            double v = a1[i];                                                \
            po[i] = (T)(EXPR);                                               \
        }                                                                    \
    } while (0)

#define SHIFT(T)                                                             \
    do {                                                                     \
        T *pm = (T *)PyArray_DATA((PyArrayObject *)m);                       \
        for (Py_ssize_t i = 0; i < PyArray_SIZE((PyArrayObject *)m); i++) { \
            pm[i] = isfinite(pm[i]) ? pm[i] : (T)0;                          \
        }                                                                    \
    } while (0)

/* The large-input path: NumPy ufuncs only (C loops), composed as the
 * small path computes (max-shifted logsumexp, two-pass variance). */
static int
reduction_numpy(int kind, TensorObject *x, const char *mask,
                TensorObject *out)
{
    PyObject *arr = tg_tensor_as_array(x), *axes = NULL, *m = NULL;
    PyObject *r1 = NULL, *t1 = NULL, *t2 = NULL;
    int rc = -1, f32 = x->dtype == TG_FLOAT32;
    Py_ssize_t n = 1, k = 0;
    axes = arr ? PyTuple_New(x->ndim) : NULL;
    for (int i = 0; axes && i < x->ndim; i++) {
        if (mask[i]) {
            n *= x->shape[i];
            PyTuple_SET_ITEM(axes, k++, PyLong_FromLong(i));
        }
    }
    if (axes == NULL || _PyTuple_Resize(&axes, k) < 0) {
        goto done;
    }
    static const char *const simple[] = {
        [R_MAX] = "maximum", [R_MIN] = "minimum", [R_PROD] = "multiply",
        [R_ALL] = "logical_and", [R_ANY] = "logical_or"};
    switch (kind) {
        case R_MAX: case R_MIN: case R_PROD: case R_ALL: case R_ANY:
            r1 = np_reduce(simple[kind], arr, axes);
            if (r1 != NULL) {
                PyObject *c = PyArray_FromAny(
                    r1, PyArray_DescrFromType(tg_dtype_npy[x->dtype]), 0, 0,
                    NPY_ARRAY_CARRAY | NPY_ARRAY_FORCECAST, NULL);
                if (c != NULL) {
                    memcpy(out->data, PyArray_DATA((PyArrayObject *)c),
                           (size_t)out->size *
                               (size_t)tg_dtype_size[x->dtype]);
                    Py_DECREF(c);
                    rc = 0;
                }
            }
            break;
        case R_LSE:
            /* m = max, shifted by 0 where not finite; log(sum(exp(x - m)))
             * + m */
            m = np_reduce("maximum", arr, axes);
            if (m == NULL) {
                break;
            }
            if (f32) {
                SHIFT(float);
            }
            else {
                SHIFT(double);
            }
            t1 = np_binary("subtract", arr, m);
            /* exp in place: one input-sized temporary, not two */
            if (t1 != NULL) {
                PyObject *inout[2] = {t1, t1};
                t2 = tg_np_vectorcall(tg_numpy_ufunc("exp"), inout, 2, NULL);
            }
            r1 = t2 ? np_reduce("add", t2, axes) : NULL;
            if (r1 != NULL) {
                if (f32) {
                    const float *pm =
                        (const float *)PyArray_DATA((PyArrayObject *)m);
                    FINISH(float, log(v) + pm[i]);
                }
                else {
                    const double *pm =
                        (const double *)PyArray_DATA((PyArrayObject *)m);
                    FINISH(double, log(v) + pm[i]);
                }
                rc = 0;
            }
            break;
        default: /* R_VAR, R_STD: mean, then mean squared deviation */
            m = np_reduce("add", arr, axes);
            if (m == NULL) {
                break;
            }
            {
                PyObject *nn = PyFloat_FromDouble((double)n);
                PyObject *mean = nn ? np_binary("true_divide", m, nn) : NULL;
                Py_XDECREF(nn);
                t1 = mean ? np_binary("subtract", arr, mean) : NULL;
                Py_XDECREF(mean);
            }
            /* squared in place: one input-sized temporary, not two */
            if (t1 != NULL) {
                PyObject *inout[3] = {t1, t1, t1};
                t2 = tg_np_vectorcall(tg_numpy_ufunc("multiply"), inout, 3,
                                      NULL);
            }
            r1 = t2 ? np_reduce("add", t2, axes) : NULL;
            if (r1 != NULL) {
                double dn = (double)n;
                int root = kind == R_STD;
                if (f32) {
                    FINISH(float, root ? sqrt(v / dn) : v / dn);
                }
                else {
                    FINISH(double, root ? sqrt(v / dn) : v / dn);
                }
                rc = 0;
            }
            break;
    }
done:
    Py_XDECREF(arr);
    Py_XDECREF(axes);
    Py_XDECREF(m);
    Py_XDECREF(r1);
    Py_XDECREF(t1);
    Py_XDECREF(t2);
    return rc;
}

static int
reduction_forward(int op, int kind, tg_fwd *f, tg_forward_fn self)
{
    const char *tfname = tg_ops[op].tf_name;
    TensorObject *x = f->in[0], *xb = NULL, *out = NULL;
    rlayout Lv = {.x = NULL}, *L = &Lv;
    void *tmp = NULL;
    if ((kind == R_ALL || kind == R_ANY) &&
        tg_want_dtype(tfname, 0, TG_BOOL, x->dtype) < 0) {
        return -1; /* TF's All/Any take bool only */
    }
    if (x->dtype == TG_FLOAT16) {
        return via_float32(f, self);
    }
    if (x->size > LARGE) {
        char mask[TG_MAXDIMS];
        Py_ssize_t shape[TG_MAXDIMS];
        int nd = 0, keepdims = attr_bool(f->attrs, 1);
        if (keepdims < 0 ||
            tg_parse_axes(tfname, "axis", attr(f->attrs, 0), x->ndim,
                          mask) < 0) {
            goto error;
        }
        for (int i = 0; i < x->ndim; i++) {
            if (!mask[i] || keepdims) {
                shape[nd++] = mask[i] ? 1 : x->shape[i];
            }
        }
        out = tg_tensor_new(x->dtype, nd, shape);
        if (out == NULL || reduction_numpy(kind, x, mask, out) < 0) {
            goto error;
        }
        Py_XDECREF(xb);
        f->out[0] = out;
        return 0;
    }
    if (reduce_layout(tfname, x, f->attrs, L) < 0) {
        goto error;
    }
    out = tg_tensor_new(x->dtype, L->nd, L->shape);
    /* two doubles per lane (logsumexp / variance), at least one */
    tmp = out ? PyMem_Malloc((size_t)(L->inner > 0 ? L->inner : 1) * 16) : NULL;
    if (out == NULL || tmp == NULL) {
        if (out != NULL) {
            PyErr_NoMemory();
        }
        goto error;
    }
    switch (kind) {
        case R_MAX:
            FOLD_ALL_TYPES(MAX_STEP, MAX_STEP, -INFINITY, INT32_MIN,
                           INT64_MIN);
            break;
        case R_MIN:
            FOLD_ALL_TYPES(MIN_STEP, MIN_STEP, INFINITY, INT32_MAX,
                           INT64_MAX);
            break;
        case R_PROD:
            /* integers wrap around like TF's: the low bits of an
             * unsigned product */
            switch (L->x->dtype) {
                case TG_FLOAT32: FOLD(float, double, 1.0, a *= v, a); break;
                case TG_FLOAT64: FOLD(double, double, 1.0, a *= v, a); break;
                case TG_INT32:
                    FOLD(int32_t, uint64_t, 1u, a *= (uint64_t)v,
                         (int32_t)(uint32_t)a);
                    break;
                case TG_INT64:
                    FOLD(int64_t, uint64_t, 1u, a *= (uint64_t)v, a);
                    break;
                default: break;
            }
            break;
        case R_LSE:
            if (L->x->dtype == TG_FLOAT32) {
                LSE(float);
            }
            else {
                LSE(double);
            }
            break;
        case R_VAR:
        case R_STD:
            if (L->x->dtype == TG_FLOAT32) {
                VAR(float, kind == R_STD);
            }
            else {
                VAR(double, kind == R_STD);
            }
            break;
        case R_ALL:
            FOLD(npy_bool, int, 1, a = a && v, a);
            break;
        case R_ANY:
            FOLD(npy_bool, int, 0, a = a || v, a);
            break;
    }
    PyMem_Free(tmp);
    Py_DECREF(L->x);
    Py_XDECREF(xb);
    f->out[0] = out;
    return 0;
error:
    Py_XDECREF(out);
    Py_XDECREF(L->x);
    Py_XDECREF(xb);
    return -1;
}

#define REDUCTION_FORWARD(NAME, KIND)                                        \
    int NAME##_forward(tg_fwd *f)                                            \
    {                                                                        \
        return reduction_forward(TG_OP_##NAME, KIND, f, NAME##_forward);     \
    }

/* reshape(t, kept shape): g or y ready to broadcast against x */
#define KEPT(t) TO_SHAPE(reshape, (t), &ks)
/* the same for a cotangent (with its batch dimension when batched) */
#define KEPTG(t) GTO_SHAPE(reshape, (t), &ks)

/* ---- reduce_max, reduce_min ----------------------------------------------------
 * z = max(x, axes)       dx = g * [x == z] / count(x == z)
 * Ties share the gradient equally, as TF.  The mask is a constant (a
 * comparison, then a cast), so the second derivative is 0 there.
 */
static int
extreme_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    char mask[TG_MAXDIMS];
    Py_ssize_t kept[TG_MAXDIMS];
    tg_slot ks;
    if (kept_shape(c, mask, kept, &ks) < 0) {
        return -1;
    }
    PyObject *hit = BINARY(equal, X(0), KEPT(Y));
    PyObject *ind = hit ? OP1A(cast, hit, "(O)",
                               tg_dtype_obj(IN_SLOT(0)->dtype))
                        : NULL;
    PyObject *cnt = OP1A(reduce_sum, ind, "(OO)", attr(c->attrs, 0),
                         Py_True);
    SET(0, MUL(DIV(ind, cnt), KEPTG(G)));
    VJP_END;
}

REDUCTION_FORWARD(reduce_max, R_MAX)
int
reduce_max_vjp(tg_vjp_ctx *c)
{
    return extreme_vjp(c);
}
JVP_REDUCTION(reduce_max)

REDUCTION_FORWARD(reduce_min, R_MIN)
int
reduce_min_vjp(tg_vjp_ctx *c)
{
    return extreme_vjp(c);
}
JVP_REDUCTION(reduce_min)

/* ---- reduce_prod -----------------------------------------------------------------
 * z = prod(x, axes)      dx_j = g * prod_{i<j} x_i * prod_{i>j} x_i
 * The products of the others come from exclusive cumprods forward and
 * backward (TF's approach): exact with zeros in x, and differentiable
 * again.  Each contiguous run of reduced axes is flattened to one axis by a
 * reshape; several runs are chained (prod over A u B = prod_A(prod_B)).
 */

/* cumprod_excl(w) * cumprod_excl_reverse(w) over axes [first, last] of w */
static PyObject *
others_product(scope *S, PyObject *w, int first, int last)
{
    TensorObject *t = (TensorObject *)w;
    if (w == NULL) {
        return NULL;
    }
    Py_ssize_t s3[3] = {prod_dims(t->shape, 0, first),
                        prod_dims(t->shape, first, last + 1),
                        prod_dims(t->shape, last + 1, t->ndim)};
    tg_slot three = {.ndim = 3, .shape = s3};
    tg_slot orig = {.ndim = t->ndim, .shape = t->shape};
    PyObject *w3 = TO_SHAPE(reshape, w, &three);
    PyObject *fwd = OP1A(cumprod, w3, "(iOO)", 1, Py_True, Py_False);
    PyObject *bwd = OP1A(cumprod, w3, "(iOO)", 1, Py_True, Py_True);
    return TO_SHAPE(reshape, MUL(fwd, bwd), &orig);
}

REDUCTION_FORWARD(reduce_prod, R_PROD)
int
reduce_prod_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    char mask[TG_MAXDIMS];
    Py_ssize_t kept[TG_MAXDIMS];
    int first[TG_MAXDIMS], last[TG_MAXDIMS], nrun = 0;
    PyObject *ws[TG_MAXDIMS];
    tg_slot ks;
    if (kept_shape(c, mask, kept, &ks) < 0) {
        return -1;
    }
    for (int i = 0; i < ks.ndim; i++) {
        if (mask[i] && (i == 0 || !mask[i - 1])) {
            first[nrun] = i;
        }
        if (mask[i] && (i == ks.ndim - 1 || !mask[i + 1])) {
            last[nrun++] = i;
        }
    }
    /* ws[j]: x reduced over runs 0..j-1 (keepdims), the input of run j */
    ws[0] = X(0);
    for (int j = 1; j < nrun; j++) {
        PyObject *axes = KEEP(PyList_New(0));
        for (int a = first[j - 1]; axes && a <= last[j - 1]; a++) {
            PyObject *ai = PyLong_FromLong(a);
            if (ai == NULL || PyList_Append(axes, ai) < 0) {
                axes = NULL;
            }
            Py_XDECREF(ai);
        }
        ws[j] = axes ? OP1A(reduce_prod, ws[j - 1], "(OO)", axes, Py_True)
                     : NULL;
    }
    PyObject *g = KEPTG(G);
    for (int j = nrun - 1; j >= 0; j--) {
        g = MUL(g, others_product(S, ws[j], first[j], last[j]));
    }
    /* nothing reduced: g already has x's shape */
    SET(0, g);
    VJP_END;
}
JVP_REDUCTION(reduce_prod)

/* ---- reduce_logsumexp ------------------------------------------------------------
 * z = log(sum(exp(x)))   dx = g * exp(x - z)    (softmax; never overflows)
 */
REDUCTION_FORWARD(reduce_logsumexp, R_LSE)
int
reduce_logsumexp_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    char mask[TG_MAXDIMS];
    Py_ssize_t kept[TG_MAXDIMS];
    tg_slot ks;
    if (kept_shape(c, mask, kept, &ks) < 0) {
        return -1;
    }
    SET(0, MUL(KEPTG(G), UNARY(exp, SUB(X(0), KEPT(Y)))));
    VJP_END;
}
JVP_REDUCTION(reduce_logsumexp)

/* ---- reduce_variance, reduce_std --------------------------------------------------
 * v = mean((x - mean(x))^2)  dx = g * 2 (x - mean(x)) / n
 * s = sqrt(v)                dx = g * (x - mean(x)) / (n s)
 */
static PyObject *
deviation(tg_vjp_ctx *c, scope *S)
{
    return SUB(X(0), OP1A(reduce_mean, X(0), "(OO)", attr(c->attrs, 0),
                          Py_True));
}

REDUCTION_FORWARD(reduce_variance, R_VAR)
int
reduce_variance_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    char mask[TG_MAXDIMS];
    Py_ssize_t kept[TG_MAXDIMS];
    tg_slot ks;
    if (kept_shape(c, mask, kept, &ks) < 0) {
        return -1;
    }
    double n = (double)reduced_count(IN_SLOT(0), mask);
    SET(0, MUL(KEPTG(G), MUL(deviation(c, S), CONST(2.0 / n, G))));
    VJP_END;
}
JVP_REDUCTION(reduce_variance)

REDUCTION_FORWARD(reduce_std, R_STD)
int
reduce_std_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    char mask[TG_MAXDIMS];
    Py_ssize_t kept[TG_MAXDIMS];
    tg_slot ks;
    if (kept_shape(c, mask, kept, &ks) < 0) {
        return -1;
    }
    double n = (double)reduced_count(IN_SLOT(0), mask);
    PyObject *den = MUL(KEPT(Y), CONST(n, G));
    SET(0, MUL(KEPTG(G), DIV(deviation(c, S), den)));
    VJP_END;
}
JVP_REDUCTION(reduce_std)

/* ---- reduce_all, reduce_any: bool results, never recorded ---------------------- */
REDUCTION_FORWARD(reduce_all, R_ALL)
REDUCTION_FORWARD(reduce_any, R_ANY)
NONDIFF_VJP(reduce_all)
NONDIFF_VJP(reduce_any)

/* ---- argmax, argmin: index of the first extreme along one axis --------------------
 * z = argmax(x, axis)  (axis None means 0, as TF); NaN counts as the
 * extreme (the first NaN wins, as NumPy).  Never recorded.
 * attrs: (axis, output_type)
 */
#define ARGEXT(T, BETTER)                                                    \
    do {                                                                     \
        const T *px = (const T *)x->data;                                    \
        for (Py_ssize_t o = 0; o < outer; o++) {                             \
            for (Py_ssize_t i = 0; i < inner; i++) {                         \
                const T *lane = px + o * n * inner + i;                      \
                T b = lane[0];                                               \
                int64_t bi = 0;                                              \
                for (Py_ssize_t r = 1; r < n && b == b; r++) {               \
                    T v = lane[r * inner];                                   \
                    if (BETTER) {                                            \
                        b = v;                                               \
                        bi = r;                                              \
                    }                                                        \
                }                                                            \
                idx[o * inner + i] = bi;                                     \
            }                                                                \
        }                                                                    \
    } while (0)

static int
argext_forward(int op, int is_max, tg_fwd *f)
{
    const char *tfname = tg_ops[op].tf_name;
    TensorObject *x = f->in[0], *out = NULL;
    PyObject *ax = attr(f->attrs, 0);
    int axis, odt;
    if (x->dtype == TG_FLOAT16) {
        return via_float32(f, is_max ? argmax_forward : argmin_forward);
    }
    if (tg_dtype_arg(attr(f->attrs, 1), &odt) < 0) {
        return -1;
    }
    if (odt != TG_INT32 && odt != TG_INT64) {
        TG_INVALID_ARGUMENT("Value for attr 'output_type' of %s is not in "
                            "the list of allowed values: int32, int64 "
                            "[Op:%s]",
                            odt < 0 ? "None" : tg_dtype_names[odt], tfname);
        return -1;
    }
    if (ax == Py_None) {
        axis = 0; /* TF: axis=None means 0 for argmax, not "all" */
        if (x->ndim == 0) {
            TG_INVALID_ARGUMENT("%s: Expected dimension in the range [0, 0), "
                                "but got 0 [Op:%s]", tfname, tfname);
            return -1;
        }
    }
    else if (single_axis(tfname, ax, x->ndim, "dimension", &axis) < 0) {
        return -1;
    }
    Py_ssize_t outer = prod_dims(x->shape, 0, axis), n = x->shape[axis];
    Py_ssize_t inner = prod_dims(x->shape, axis + 1, x->ndim);
    if (n == 0) {
        PyObject *s = tg_shape_str(x->ndim, x->shape);
        if (s) {
            TG_INVALID_ARGUMENT("%s: Reduction axis %d is empty in shape %U "
                                "[Op:%s]", tfname, axis, s, tfname);
            Py_DECREF(s);
        }
        return -1;
    }
    Py_ssize_t shape[TG_MAXDIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i != axis) {
            shape[nd++] = x->shape[i];
        }
    }
    int64_t *idx = PyMem_Malloc(sizeof(int64_t) *
                                (size_t)(outer * inner > 0 ? outer * inner
                                                           : 1));
    if (idx == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    switch (x->dtype) {
        case TG_FLOAT32:
            if (is_max) {
                ARGEXT(float, v > b || v != v);
            }
            else {
                ARGEXT(float, v < b || v != v);
            }
            break;
        case TG_FLOAT64:
            if (is_max) {
                ARGEXT(double, v > b || v != v);
            }
            else {
                ARGEXT(double, v < b || v != v);
            }
            break;
        case TG_INT32:
            if (is_max) {
                ARGEXT(int32_t, v > b);
            }
            else {
                ARGEXT(int32_t, v < b);
            }
            break;
        default:
            if (is_max) {
                ARGEXT(int64_t, v > b);
            }
            else {
                ARGEXT(int64_t, v < b);
            }
            break;
    }
    out = tg_tensor_new(odt, nd, shape);
    if (out != NULL) {
        for (Py_ssize_t k = 0; k < out->size; k++) {
            if (odt == TG_INT32) {
                ((int32_t *)out->data)[k] = (int32_t)idx[k];
            }
            else {
                ((int64_t *)out->data)[k] = idx[k];
            }
        }
    }
    PyMem_Free(idx);
    f->out[0] = out;
    return out ? 0 : -1;
}

int
argmax_forward(tg_fwd *f)
{
    return argext_forward(TG_OP_argmax, 1, f);
}

int
argmin_forward(tg_fwd *f)
{
    return argext_forward(TG_OP_argmin, 0, f);
}

NONDIFF_VJP(argmax)
NONDIFF_VJP(argmin)

/* ---- cumsum, cumprod ---------------------------------------------------------------
 * z_k = sum_{j<=k} x_j   (exclusive: j < k; reverse: from the end)
 * cumsum:  dx = cumsum(g) with `reverse` flipped (its transpose)
 * cumprod: dx = cumsum(z * g, reverse flipped) / x    (TF's formula)
 * attrs: (axis, exclusive, reverse).  Floats accumulate in double;
 * integers wrap around like TF's.
 */
#define SCAN(T, A, INIT, STEP, STORE)                                        \
    do {                                                                     \
        const T *px = (const T *)x->data;                                    \
        T *po = (T *)out->data;                                              \
        A *acc = (A *)tmp;                                                   \
        for (Py_ssize_t o = 0; o < outer; o++) {                             \
            for (Py_ssize_t i = 0; i < inner; i++) {                         \
                acc[i] = (INIT);                                             \
            }                                                                \
            for (Py_ssize_t k = 0; k < n; k++) {                             \
                Py_ssize_t at = (o * n + (reverse ? n - 1 - k : k)) * inner; \
                for (Py_ssize_t i = 0; i < inner; i++) {                     \
                    A a = acc[i];                                            \
                    T v = px[at + i];                                        \
                    if (exclusive) {                                         \
                        po[at + i] = (T)(STORE);                             \
                        STEP;                                                \
                    }                                                        \
                    else {                                                   \
                        STEP;                                                \
                        po[at + i] = (T)(STORE);                             \
                    }                                                        \
                    acc[i] = a;                                              \
                }                                                            \
            }                                                                \
        }                                                                    \
    } while (0)

static int
scan_forward(int op, int is_prod, tg_fwd *f)
{
    const char *tfname = tg_ops[op].tf_name;
    TensorObject *x = f->in[0], *out;
    int axis, exclusive, reverse;
    if (x->dtype == TG_FLOAT16) {
        return via_float32(f, is_prod ? cumprod_forward : cumsum_forward);
    }
    exclusive = attr_flag(f->attrs, 1, tfname, "exclusive");
    reverse = exclusive < 0 ? -1 : attr_flag(f->attrs, 2, tfname, "reverse");
    if (exclusive < 0 || reverse < 0 ||
        single_axis(tfname, attr(f->attrs, 0), x->ndim, "scan axis",
                    &axis) < 0) {
        return -1;
    }
    Py_ssize_t outer = prod_dims(x->shape, 0, axis), n = x->shape[axis];
    Py_ssize_t inner = prod_dims(x->shape, axis + 1, x->ndim);
    void *tmp = PyMem_Malloc((size_t)(inner > 0 ? inner : 1) * 8);
    if (tmp == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    out = tg_tensor_new(x->dtype, x->ndim, x->shape);
    if (out == NULL) {
        PyMem_Free(tmp);
        return -1;
    }
    switch (x->dtype) {
        case TG_FLOAT32:
            if (is_prod) {
                SCAN(float, double, 1.0, a *= v, a);
            }
            else {
                SCAN(float, double, 0.0, a += v, a);
            }
            break;
        case TG_FLOAT64:
            if (is_prod) {
                SCAN(double, double, 1.0, a *= v, a);
            }
            else {
                SCAN(double, double, 0.0, a += v, a);
            }
            break;
        case TG_INT32:
            if (is_prod) {
                SCAN(int32_t, uint64_t, 1u, a *= (uint64_t)v,
                     (int32_t)(uint32_t)a);
            }
            else {
                SCAN(int32_t, uint64_t, 0u, a += (uint64_t)v,
                     (int32_t)(uint32_t)a);
            }
            break;
        default:
            if (is_prod) {
                SCAN(int64_t, uint64_t, 1u, a *= (uint64_t)v, a);
            }
            else {
                SCAN(int64_t, uint64_t, 0u, a += (uint64_t)v, a);
            }
            break;
    }
    PyMem_Free(tmp);
    f->out[0] = out;
    return 0;
}

int
cumsum_forward(tg_fwd *f)
{
    return scan_forward(TG_OP_cumsum, 0, f);
}

int
cumsum_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int reverse = attr_bool(c->attrs, 2);
    if (reverse < 0) {
        return -1;
    }
    PyObject *axis = GAXIS1(attr(c->attrs, 0), IN_SLOT(0)->ndim);
    SET(0, axis ? OP1A(cumsum, G, "(OOO)", axis, attr(c->attrs, 1),
                       reverse ? Py_False : Py_True)
                : NULL);
    VJP_END;
}
JVP_LINEAR(cumsum)

int
cumprod_forward(tg_fwd *f)
{
    return scan_forward(TG_OP_cumprod, 1, f);
}

int
cumprod_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int reverse = attr_bool(c->attrs, 2);
    if (reverse < 0) {
        return -1;
    }
    PyObject *axis = GAXIS1(attr(c->attrs, 0), IN_SLOT(0)->ndim);
    PyObject *s = axis ? OP1A(cumsum, MUL(Y, G), "(OOO)", axis,
                              attr(c->attrs, 1), reverse ? Py_False : Py_True)
                       : NULL;
    SET(0, DIV(s, X(0)));
    VJP_END;
}
JVP_TRANSPOSED(cumprod)

/* ---- sorting: one stable merge sort of each lane ----------------------------------
 * Ties keep the lower index first in both directions (TF sorts through
 * top_k, which is stable); NaN sorts as the largest value (last ascending,
 * first descending).
 */
#define DEFINE_LANE_SORT(NAME, T)                                            \
    static void NAME(const T *v, Py_ssize_t n, int64_t *idx, int64_t *tmp,   \
                     int desc)                                               \
    {                                                                        \
        int64_t *src = idx, *dst = tmp, *t;                                  \
        for (Py_ssize_t i = 0; i < n; i++) {                                 \
            idx[i] = i;                                                      \
        }                                                                    \
        for (Py_ssize_t w = 1; w < n; w *= 2) {                              \
            for (Py_ssize_t lo = 0; lo < n; lo += 2 * w) {                   \
                Py_ssize_t mid = lo + w < n ? lo + w : n;                    \
                Py_ssize_t hi = lo + 2 * w < n ? lo + 2 * w : n;             \
                Py_ssize_t a = lo, b = mid, k = lo;                          \
                while (a < mid && b < hi) {                                  \
                    T va = v[src[a]], vb = v[src[b]];                        \
                    int take_b = desc ? (vb > va || (vb != vb && va == va))  \
                                      : (vb < va || (va != va && vb == vb)); \
                    dst[k++] = take_b ? src[b++] : src[a++];                 \
                }                                                            \
                while (a < mid) {                                            \
                    dst[k++] = src[a++];                                     \
                }                                                            \
                while (b < hi) {                                             \
                    dst[k++] = src[b++];                                     \
                }                                                            \
            }                                                                \
            t = src;                                                         \
            src = dst;                                                       \
            dst = t;                                                         \
        }                                                                    \
        if (src != idx) {                                                    \
            memcpy(idx, src, (size_t)n * sizeof(int64_t));                   \
        }                                                                    \
    }

DEFINE_LANE_SORT(sort_f32, float)
DEFINE_LANE_SORT(sort_f64, double)
DEFINE_LANE_SORT(sort_i32, int32_t)
DEFINE_LANE_SORT(sort_i64, int64_t)

/* Sort every lane of x along `axis`; keep the first k of each: values
 * into `vals` (x's dtype) and/or positions into `pos` (int32 or int64),
 * both laid out as x with `k` along the axis. */
#define SORT_LANES(T, FN)                                                    \
    do {                                                                     \
        const T *px = (const T *)x->data;                                    \
        T *vb = (T *)buf, *pv = vals ? (T *)vals->data : NULL;               \
        for (Py_ssize_t o = 0; o < outer; o++) {                             \
            for (Py_ssize_t i = 0; i < inner; i++) {                         \
                const T *lane = px + o * n * inner + i;                      \
                for (Py_ssize_t r = 0; r < n; r++) {                         \
                    vb[r] = lane[r * inner];                                 \
                }                                                            \
                FN(vb, n, idx, tmp, desc);                                   \
                for (Py_ssize_t r = 0; r < k; r++) {                         \
                    Py_ssize_t at = (o * k + r) * inner + i;                 \
                    if (pv) {                                                \
                        pv[at] = vb[idx[r]];                                 \
                    }                                                        \
                    if (pos && pos->dtype == TG_INT32) {                     \
                        ((int32_t *)pos->data)[at] = (int32_t)idx[r];        \
                    }                                                        \
                    else if (pos) {                                          \
                        ((int64_t *)pos->data)[at] = idx[r];                 \
                    }                                                        \
                }                                                            \
            }                                                                \
        }                                                                    \
    } while (0)

/* The large-input path: NumPy's stable argsort (PyArray_ArgSort: radix or
 * timsort, in C) gives the same order as the merge sort above.  Descending
 * sorts the lane reversed and reads the result backwards, which keeps the
 * lower index first among ties and NaN first.
 *
 * Memory: the lanes go through NumPy in groups of whole outer slabs of
 * about SORT_GROUP elements (at least one slab), so the argsort's int64
 * order and a descending sort's reversed copy are bounded by a group, not
 * by the input (they were 3x a float32 input, top_k's whole working set
 * even for k = 1); values and positions go straight to the outputs. */
#define SORT_GROUP ((Py_ssize_t)1 << 20)

#define PUT_PICKED(T)                                                        \
    do {                                                                     \
        const T *px = (const T *)x->data;                                    \
        T *pv = vals ? (T *)vals->data : NULL;                               \
        for (Py_ssize_t o = o0; o < o0 + g; o++) {                           \
            const int64_t *po = order + (o - o0) * n * inner;                \
            for (Py_ssize_t r = 0; r < k; r++) {                             \
                for (Py_ssize_t i = 0; i < inner; i++) {                     \
                    Py_ssize_t at = (o * k + r) * inner + i;                 \
                    int64_t p = desc ? n - 1 - po[(n - 1 - r) * inner + i]   \
                                     : po[r * inner + i];                    \
                    if (pv) {                                                \
                        pv[at] = px[(o * n + p) * inner + i];                \
                    }                                                        \
                    if (pos && pos->dtype == TG_INT32) {                     \
                        ((int32_t *)pos->data)[at] = (int32_t)p;             \
                    }                                                        \
                    else if (pos) {                                          \
                        ((int64_t *)pos->data)[at] = p;                      \
                    }                                                        \
                }                                                            \
            }                                                                \
        }                                                                    \
    } while (0)

static int
sort_lanes_numpy(TensorObject *x, int axis, int desc, Py_ssize_t k,
                 TensorObject *vals, TensorObject *pos)
{
    Py_ssize_t outer = prod_dims(x->shape, 0, axis), n = x->shape[axis];
    Py_ssize_t inner = prod_dims(x->shape, axis + 1, x->ndim);
    Py_ssize_t slab = n * inner;
    Py_ssize_t per = slab >= SORT_GROUP ? 1 : SORT_GROUP / slab;
    size_t isz = (size_t)tg_dtype_size[x->dtype];
    char *rev = NULL;
    if (desc) {
        rev = PyMem_Malloc((size_t)(per < outer ? per : outer) *
                           (size_t)slab * isz);
        if (rev == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    for (Py_ssize_t o0 = 0; o0 < outer; o0 += per) {
        Py_ssize_t g = per < outer - o0 ? per : outer - o0;
        char *base = x->data + (size_t)(o0 * slab) * isz;
        if (desc) {
            for (Py_ssize_t o = 0; o < g; o++) {
                for (Py_ssize_t r = 0; r < n; r++) {
                    memcpy(rev + (size_t)((o * n + r) * inner) * isz,
                           base + (size_t)((o * n + n - 1 - r) * inner) * isz,
                           (size_t)inner * isz);
                }
            }
            base = rev;
        }
        npy_intp dims[3] = {g, n, inner};
        PyObject *arr = PyArray_SimpleNewFromData(3, dims,
                                                  tg_dtype_npy[x->dtype],
                                                  base);
        PyObject *ord = arr ? PyArray_ArgSort((PyArrayObject *)arr, 1,
                                              NPY_STABLESORT)
                            : NULL;
        Py_XDECREF(arr);
        if (ord != NULL) {
            Py_SETREF(ord, PyArray_FromAny(
                               ord, PyArray_DescrFromType(NPY_INT64), 0, 0,
                               NPY_ARRAY_CARRAY | NPY_ARRAY_FORCECAST, NULL));
        }
        if (ord == NULL) {
            PyMem_Free(rev);
            return -1;
        }
        const int64_t *order = (const int64_t *)PyArray_DATA(
            (PyArrayObject *)ord);
        switch (x->dtype) {
            case TG_FLOAT32: PUT_PICKED(float); break;
            case TG_FLOAT64: PUT_PICKED(double); break;
            case TG_INT32: PUT_PICKED(int32_t); break;
            default: PUT_PICKED(int64_t); break;
        }
        Py_DECREF(ord);
    }
    PyMem_Free(rev);
    return 0;
}

static int
sort_lanes(TensorObject *x, int axis, int desc, Py_ssize_t k,
           TensorObject *vals, TensorObject *pos)
{
    Py_ssize_t outer = prod_dims(x->shape, 0, axis), n = x->shape[axis];
    Py_ssize_t inner = prod_dims(x->shape, axis + 1, x->ndim);
    if (x->size > LARGE && n > 16) {
        return sort_lanes_numpy(x, axis, desc, k, vals, pos);
    }
    size_t m = (size_t)(n > 0 ? n : 1);
    char *buf = PyMem_Malloc(m * 8);
    int64_t *idx = PyMem_Malloc(m * sizeof(int64_t));
    int64_t *tmp = PyMem_Malloc(m * sizeof(int64_t));
    if (buf == NULL || idx == NULL || tmp == NULL) {
        PyMem_Free(buf);
        PyMem_Free(idx);
        PyMem_Free(tmp);
        PyErr_NoMemory();
        return -1;
    }
    switch (x->dtype) {
        case TG_FLOAT32: SORT_LANES(float, sort_f32); break;
        case TG_FLOAT64: SORT_LANES(double, sort_f64); break;
        case TG_INT32: SORT_LANES(int32_t, sort_i32); break;
        default: SORT_LANES(int64_t, sort_i64); break;
    }
    PyMem_Free(buf);
    PyMem_Free(idx);
    PyMem_Free(tmp);
    return 0;
}

/* TF's `direction`: 'ASCENDING' or 'DESCENDING' (a Python-level check in
 * TF, hence ValueError) */
static int
parse_direction(const char *tfname, PyObject *d, int *desc)
{
    if (PyUnicode_Check(d)) {
        if (PyUnicode_CompareWithASCIIString(d, "ASCENDING") == 0) {
            *desc = 0;
            return 0;
        }
        if (PyUnicode_CompareWithASCIIString(d, "DESCENDING") == 0) {
            *desc = 1;
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError,
                 "%s: direction should be one of 'ASCENDING', 'DESCENDING', "
                 "got %.200R", tfname, d);
    return -1;
}

/* sort/argsort attrs -> axis, direction; rank 0 has nothing to sort */
static int
sort_attrs(const char *tfname, PyObject *attrs, int ndim, int *axis,
           int *desc)
{
    if (parse_direction(tfname, attr(attrs, 1), desc) < 0) {
        return -1;
    }
    if (ndim == 0) {
        PyErr_Format(PyExc_ValueError,
                     "%s: the input must have rank >= 1, got a scalar",
                     tfname);
        return -1;
    }
    return single_axis(tfname, attr(attrs, 0), ndim, "axis", axis);
}

/* ---- sort ----------------------------------------------------------------------------
 * z = x sorted along axis = take_along_axis(x, p), p = argsort(x)
 *                           dx = take_along_axis_grad(g, p)  (scatter back)
 * attrs: (axis, direction).  The vjp sorts x again for p (no extra output
 * to keep on the tape); p is a constant, so sort is piecewise linear.
 */
int
sort_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    int axis, desc;
    if (x->dtype == TG_FLOAT16) {
        return via_float32(f, sort_forward);
    }
    if (sort_attrs("Sort", f->attrs, x->ndim, &axis, &desc) < 0) {
        return -1;
    }
    f->out[0] = tg_tensor_new(x->dtype, x->ndim, x->shape);
    if (f->out[0] == NULL) {
        return -1;
    }
    if (x->size > LARGE && x->shape[axis] > 16) {
        /* values only: ties are indistinguishable, so NumPy's fastest
         * (unstable, SIMD) sort in place on the result, reversed after
         * for DESCENDING (which also puts NaN first) */
        PyObject *arr = tg_tensor_as_array(f->out[0]);
        size_t isz = (size_t)tg_dtype_size[x->dtype];
        memcpy(f->out[0]->data, x->data, (size_t)x->size * isz);
        if (arr != NULL) {
            PyArray_ENABLEFLAGS((PyArrayObject *)arr, NPY_ARRAY_WRITEABLE);
        }
        int rc = arr ? PyArray_Sort((PyArrayObject *)arr, axis,
                                    NPY_QUICKSORT)
                     : -1;
        Py_XDECREF(arr);
        if (rc < 0) {
            Py_CLEAR(f->out[0]);
            return -1;
        }
        if (desc) {
            Py_ssize_t outer = prod_dims(x->shape, 0, axis);
            Py_ssize_t n = x->shape[axis];
            Py_ssize_t inner = prod_dims(x->shape, axis + 1, x->ndim);
            char *d = f->out[0]->data, t[8];
            for (Py_ssize_t o = 0; o < outer; o++) {
                for (Py_ssize_t r = 0; r < n / 2; r++) {
                    for (Py_ssize_t i = 0; i < inner; i++) {
                        char *a = d + (size_t)((o * n + r) * inner + i) * isz;
                        char *b = d + (size_t)((o * n + n - 1 - r) * inner +
                                               i) * isz;
                        memcpy(t, a, isz);
                        memcpy(a, b, isz);
                        memcpy(b, t, isz);
                    }
                }
            }
        }
        return 0;
    }
    if (sort_lanes(x, axis, desc, x->shape[axis], f->out[0], NULL) < 0) {
        Py_CLEAR(f->out[0]);
        return -1;
    }
    return 0;
}

int
sort_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    TensorObject *x = c->in[0], *x32 = NULL;
    int axis, desc;
    if (sort_attrs("Sort", c->attrs, x->ndim, &axis, &desc) < 0) {
        return -1;
    }
    if (x->dtype == TG_FLOAT16) {
        x32 = (TensorObject *)KEEP(
            (PyObject *)tg_ufunc_apply(NULL, 1, &x, TG_FLOAT32));
        if (x32 == NULL) {
            VJP_END;
        }
        x = x32;
    }
    TensorObject *p = (TensorObject *)KEEP(
        (PyObject *)tg_tensor_new(TG_INT64, x->ndim, x->shape));
    if (p == NULL || sort_lanes(x, axis, desc, x->shape[axis], NULL, p) < 0) {
        VJP_END;
    }
    PyObject *pb = GREPEAT((PyObject *)p);
    SET(0, pb ? OP1A(take_along_axis_grad, G, "(Oin)", pb, GAXIS(axis),
                     x->shape[axis])
              : NULL);
    VJP_END;
}
JVP_TRANSPOSED(sort)

/* ---- argsort: positions that sort x (int32, as TF); never recorded ----------------
 * attrs: (axis, direction, stable).  Always stable.
 */
int
argsort_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    int axis, desc;
    if (x->dtype == TG_FLOAT16) {
        return via_float32(f, argsort_forward);
    }
    if (attr_bool(f->attrs, 2) < 0 ||
        sort_attrs("ArgSort", f->attrs, x->ndim, &axis, &desc) < 0) {
        return -1;
    }
    f->out[0] = tg_tensor_new(TG_INT32, x->ndim, x->shape);
    if (f->out[0] == NULL ||
        sort_lanes(x, axis, desc, x->shape[axis], NULL, f->out[0]) < 0) {
        Py_CLEAR(f->out[0]);
        return -1;
    }
    return 0;
}

NONDIFF_VJP(argsort)

/* ---- searchsorted: where values would go in sorted rows; never recorded ---------
 * For each row of sorted_sequence [..., M] and the same row of values
 * [..., K]: the first position i with !(seq[i] < v) (side 'left', TF's
 * LowerBound) or with v < seq[i] (side 'right', UpperBound), by binary
 * search.  attrs: (side, out_type); int32 positions unless out_type int64.
 */
#define SEARCH_LOOP(T)                                                       \
    do {                                                                     \
        const T *sq_ = (const T *)seq->data, *vs_ = (const T *)val->data;   \
        for (Py_ssize_t r = 0; r < rows; r++) {                              \
            const T *row_ = sq_ + r * m;                                     \
            for (Py_ssize_t j = 0; j < k; j++) {                             \
                T v_ = vs_[r * k + j];                                       \
                Py_ssize_t lo = 0, hi = m;                                   \
                while (lo < hi) {                                            \
                    Py_ssize_t mid = lo + (hi - lo) / 2;                     \
                    int go_right = right ? !(v_ < row_[mid])                 \
                                         : row_[mid] < v_;                   \
                    if (go_right) {                                          \
                        lo = mid + 1;                                        \
                    }                                                        \
                    else {                                                   \
                        hi = mid;                                            \
                    }                                                        \
                }                                                            \
                if (wide) {                                                  \
                    ((int64_t *)out->data)[r * k + j] = lo;                  \
                }                                                            \
                else {                                                       \
                    ((int32_t *)out->data)[r * k + j] = (int32_t)lo;         \
                }                                                            \
            }                                                                \
        }                                                                    \
    } while (0)

int
searchsorted_forward(tg_fwd *f)
{
    TensorObject *seq = f->in[0], *val = f->in[1], *out;
    PyObject *side = attr(f->attrs, 0);
    int right, odt;
    if (seq->dtype == TG_FLOAT16) {
        /* every half is a float: the same positions in float32 */
        TensorObject *w[2] = {tg_ufunc_apply(NULL, 1, &seq, TG_FLOAT32),
                              NULL};
        w[1] = w[0] ? tg_ufunc_apply(NULL, 1, &val, TG_FLOAT32) : NULL;
        tg_fwd g = {.in = w, .nin = 2, .attrs = f->attrs, .nout = 1};
        int rc = w[1] ? searchsorted_forward(&g) : -1;
        Py_XDECREF(w[0]);
        Py_XDECREF(w[1]);
        f->out[0] = rc == 0 ? g.out[0] : NULL;
        return rc;
    }
    if (!PyUnicode_Check(side) ||
        (PyUnicode_CompareWithASCIIString(side, "left") != 0 &&
         PyUnicode_CompareWithASCIIString(side, "right") != 0)) {
        PyErr_Format(PyExc_ValueError, "Argument `side` must be either "
                     "'right' or 'left'. Received: `side` = %S.", side);
        return -1;
    }
    right = PyUnicode_CompareWithASCIIString(side, "right") == 0;
    const char *tf = right ? "UpperBound" : "LowerBound";
    if (tg_dtype_arg(attr(f->attrs, 1), &odt) < 0) {
        return -1;
    }
    odt = odt < 0 ? TG_INT32 : odt;
    if (odt != TG_INT32 && odt != TG_INT64) {
        TG_INVALID_ARGUMENT("Value for attr 'out_type' of %s is not in the "
                            "list of allowed values: int32, int64 [Op:%s]",
                            tg_dtype_names[odt], tf);
        return -1;
    }
    int ok = seq->ndim >= 1 && val->ndim == seq->ndim;
    for (int d = 0; ok && d < seq->ndim - 1; d++) {
        ok = seq->shape[d] == val->shape[d];
    }
    if (!ok) {
        TG_INVALID_ARGUMENT("Leading dim_size of both tensors must match. "
                            "[Op:%s]", tf);
        return -1;
    }
    Py_ssize_t m = seq->shape[seq->ndim - 1], k = val->shape[val->ndim - 1];
    Py_ssize_t rows = m ? seq->size / m : prod_dims(seq->shape, 0,
                                                     seq->ndim - 1);
    int wide = odt == TG_INT64;
    out = tg_tensor_new(odt, val->ndim, val->shape);
    if (out == NULL) {
        return -1;
    }
    switch (seq->dtype) {
        case TG_FLOAT32: SEARCH_LOOP(float); break;
        case TG_FLOAT64: SEARCH_LOOP(double); break;
        case TG_INT32: SEARCH_LOOP(int32_t); break;
        default: SEARCH_LOOP(int64_t); break;
    }
    f->out[0] = out;
    return 0;
}
#undef SEARCH_LOOP

NONDIFF_VJP(searchsorted)

/* ---- top_k ----------------------------------------------------------------------------
 * (values, indices) of the k largest along the last axis, largest first
 * (also with sorted=False); ties keep the lower index first.
 *   dx = take_along_axis_grad(g_values, indices)   (indices: no gradient)
 * attrs: (k, sorted)
 */
int
top_k_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    PyObject *ko = attr(f->attrs, 0);
    Py_ssize_t k, shape[TG_MAXDIMS];
    if (x->dtype == TG_FLOAT16) {
        return via_float32(f, top_k_forward);
    }
    if (attr_flag(f->attrs, 1, "TopKV2", "sorted") < 0) {
        return -1;
    }
    if (tg_int_scalar("TopKV2", "k", ko, &k) < 0) {
        return -1;
    }
    if (k < 0) {
        TG_INVALID_ARGUMENT("Need k >= 0, got %zd [Op:TopKV2]", k);
        return -1;
    }
    if (x->ndim == 0) {
        TG_INVALID_ARGUMENT("input must be >= 1-D, got shape [] "
                            "[Op:TopKV2]");
        return -1;
    }
    int axis = x->ndim - 1;
    if (k > x->shape[axis]) {
        TG_INVALID_ARGUMENT("input must have at least k columns. Had %zd, "
                            "needed %zd [Op:TopKV2]", x->shape[axis], k);
        return -1;
    }
    memcpy(shape, x->shape, (size_t)x->ndim * sizeof(Py_ssize_t));
    shape[axis] = k;
    f->nout = 2;
    f->out[0] = tg_tensor_new(x->dtype, x->ndim, shape);
    f->out[1] = f->out[0] ? tg_tensor_new(TG_INT32, x->ndim, shape) : NULL;
    if (f->out[1] == NULL ||
        sort_lanes(x, axis, 1, k, f->out[0], f->out[1]) < 0) {
        Py_CLEAR(f->out[0]);
        Py_CLEAR(f->out[1]);
        return -1;
    }
    return 0;
}

int
top_k_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *x = IN_SLOT(0);
    PyObject *pb = GREPEAT(YS(1));
    SET(0, pb ? OP1A(take_along_axis_grad, GS(0), "(Oin)", pb,
                     GAXIS(x->ndim - 1), x->shape[x->ndim - 1])
              : NULL);
    VJP_END;
}
JVP_TRANSPOSED(top_k)

/* ---- take_along_axis / take_along_axis_grad: an adjoint pair ----------------------
 * take:  z[o, k, i] = x[o, p[o, k, i], i]      dx = take_grad(g, p, n)
 * grad:  z = zeros (n along axis); z[o, p[o, k, i], i] += x[o, k, i]
 *                                              dx = take(g, p)
 * attrs: (indices, axis) and (indices, axis, size); indices: an int32 or
 * int64 tensor (or nested list) shaped like the result / the input.
 */
static inline int64_t
index_at(TensorObject *p, Py_ssize_t at)
{
    return p->dtype == TG_INT32 ? ((int32_t *)p->data)[at]
                                : ((int64_t *)p->data)[at];
}

/* Check that `p` matches `a` (x or g) on every dim but `axis` and that its
 * entries lie in [0, n).  Fills the (outer, inner) split. */
static int
check_indices(const char *tfname, TensorObject *a, TensorObject *p, int axis,
              Py_ssize_t n, Py_ssize_t *outer, Py_ssize_t *inner)
{
    int ok = a->ndim == p->ndim;
    for (int d = 0; ok && d < a->ndim; d++) {
        ok = d == axis || a->shape[d] == p->shape[d];
    }
    if (!ok) {
        return tg_shape_error("indices of shape %U do not match the "
                              "input's shape %U off the axis [Op:%s]",
                              tfname, p, a->ndim, a->shape);
    }
    for (Py_ssize_t j = 0; j < p->size; j++) {
        int64_t v = index_at(p, j);
        if (v < 0 || v >= n) {
            TG_INVALID_ARGUMENT("%s: index %lld is not in [0, %zd) "
                                "[Op:%s]", tfname, (long long)v, n, tfname);
            return -1;
        }
    }
    *outer = prod_dims(p->shape, 0, axis);
    *inner = prod_dims(p->shape, axis + 1, p->ndim);
    return 0;
}

int
take_along_axis_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0], *p;
    Py_ssize_t outer, inner;
    int axis;
    if (x->ndim == 0) {
        TG_INVALID_ARGUMENT("TakeAlongAxis: the input must have rank >= 1 "
                            "[Op:TakeAlongAxis]");
        return -1;
    }
    if (single_axis("TakeAlongAxis", attr(f->attrs, 1), x->ndim, "axis",
                    &axis) < 0 ||
        (p = tg_index_tensor("TakeAlongAxis", "indices",
                             attr(f->attrs, 0))) == NULL) {
        return -1;
    }
    Py_ssize_t n = x->shape[axis], k = p->ndim == x->ndim ? p->shape[axis]
                                                          : 0;
    if (check_indices("TakeAlongAxis", x, p, axis, n, &outer, &inner) < 0 ||
        (f->out[0] = tg_tensor_new(x->dtype, p->ndim, p->shape)) == NULL) {
        Py_DECREF(p);
        return -1;
    }
    size_t isz = (size_t)tg_dtype_size[x->dtype];
    for (Py_ssize_t o = 0; o < outer; o++) {
        for (Py_ssize_t r = 0; r < k; r++) {
            for (Py_ssize_t i = 0; i < inner; i++) {
                Py_ssize_t at = (o * k + r) * inner + i;
                Py_ssize_t src = (o * n + index_at(p, at)) * inner + i;
                memcpy(f->out[0]->data + (size_t)at * isz,
                       x->data + (size_t)src * isz, isz);
            }
        }
    }
    Py_DECREF(p);
    return 0;
}

int
take_along_axis_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *x = IN_SLOT(0);
    int axis;
    if (single_axis("TakeAlongAxis", attr(c->attrs, 1), x->ndim, "axis",
                    &axis) < 0) {
        return -1;
    }
    PyObject *pb = GREPEAT(attr(c->attrs, 0));
    SET(0, pb ? OP1A(take_along_axis_grad, G, "(Oin)", pb, GAXIS(axis),
                     x->shape[axis])
              : NULL);
    VJP_END;
}
JVP_LINEAR(take_along_axis)

#define SCATTER_ADD(T)                                                       \
    do {                                                                     \
        const T *pg = (const T *)g->data;                                    \
        T *pz = (T *)f->out[0]->data;                                        \
        for (Py_ssize_t o = 0; o < outer; o++) {                             \
            for (Py_ssize_t r = 0; r < k; r++) {                             \
                for (Py_ssize_t i = 0; i < inner; i++) {                     \
                    Py_ssize_t at = (o * k + r) * inner + i;                 \
                    pz[(o * n + index_at(p, at)) * inner + i] += pg[at];     \
                }                                                            \
            }                                                                \
        }                                                                    \
    } while (0)

int
take_along_axis_grad_forward(tg_fwd *f)
{
    const char *tfname = "TakeAlongAxisGrad";
    TensorObject *g = f->in[0], *p;
    PyObject *so = attr(f->attrs, 2);
    Py_ssize_t outer, inner, n, shape[TG_MAXDIMS];
    int axis;
    if (g->dtype == TG_FLOAT16) {
        return via_float32(f, take_along_axis_grad_forward);
    }
    if (g->ndim == 0) {
        TG_INVALID_ARGUMENT("%s: the input must have rank >= 1 [Op:%s]",
                            tfname, tfname);
        return -1;
    }
    if (tg_int_scalar(tfname, "size", so, &n) < 0) {
        return -1;
    }
    if (n < 0) {
        TG_INVALID_ARGUMENT("%s: size must be non-negative, got %zd [Op:%s]",
                            tfname, n, tfname);
        return -1;
    }
    if (single_axis(tfname, attr(f->attrs, 1), g->ndim, "axis", &axis) < 0 ||
        (p = tg_index_tensor(tfname, "indices", attr(f->attrs, 0))) ==
            NULL) {
        return -1;
    }
    int same = p->ndim == g->ndim;
    for (int d = 0; same && d < g->ndim; d++) {
        same = p->shape[d] == g->shape[d];
    }
    if (!same) {
        tg_shape_error("indices of shape %U do not match the gradient's "
                       "shape %U [Op:%s]", tfname, p, g->ndim, g->shape);
        Py_DECREF(p);
        return -1;
    }
    Py_ssize_t k = g->shape[axis];
    memcpy(shape, g->shape, (size_t)g->ndim * sizeof(Py_ssize_t));
    shape[axis] = n;
    if (check_indices(tfname, g, p, axis, n, &outer, &inner) < 0 ||
        (f->out[0] = tg_fill_like(g->dtype, g->ndim, shape, 0.0)) == NULL) {
        Py_DECREF(p);
        return -1;
    }
    switch (g->dtype) {
        case TG_FLOAT32: SCATTER_ADD(float); break;
        case TG_FLOAT64: SCATTER_ADD(double); break;
        case TG_INT32: SCATTER_ADD(int32_t); break;
        case TG_INT64: SCATTER_ADD(int64_t); break;
        default: break;
    }
    Py_DECREF(p);
    return 0;
}

int
take_along_axis_grad_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int axis;
    if (single_axis("TakeAlongAxisGrad", attr(c->attrs, 1),
                    OUT_SLOT(0)->ndim, "axis", &axis) < 0) {
        return -1;
    }
    PyObject *pb = GREPEAT(attr(c->attrs, 0));
    SET(0, pb ? OP1A(take_along_axis, G, "(Oi)", pb, GAXIS(axis)) : NULL);
    VJP_END;
}
JVP_LINEAR(take_along_axis_grad)
