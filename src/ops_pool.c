/* ops_pool.c -- forwards, vjps and jvps of the rows in ops_pool.def: max
 * and average pooling over 1 to 3 spatial dimensions, channels-last
 * (N, *spatial, C), and the gradient rows that make them differentiable to
 * any order.
 *
 * Every row works on the same geometry (pool_geom): the spatial sizes, the
 * window, the strides and the SAME padding before each axis, with unused
 * axes of size 1, so one set of 3-D loops serves 1-D, 2-D and 3-D.
 *
 * max_pool picks, per window, the FIRST maximum in row-major window order
 * (TF's CPU kernel); padded positions never take part.  Its gradient rows
 * are linear in their second input and read the argmax from x:
 *   max_pool_grad(x, g)       scatter-adds g to each window's argmax
 *   max_pool_grad_grad(x, gg) gathers gg at each window's argmax
 * each the transpose of the other, so the chain closes; x itself gets a
 * zero gradient (the argmax is piecewise constant).  avg_pool divides by
 * the number of in-bounds elements of each window (TF's SAME rule);
 * avg_pool_grad(g) spreads g back and is avg_pool's transpose.
 *
 * Sums and comparisons run in double and are rounded once per element, so
 * float16 needs no separate path.  The Python front ends (data formats,
 * ksize/strides of length 1, N or N + 2) are in tapegrad/_pool.py.
 */
#include "vjp.h"
#include <math.h>

typedef struct {
    int nsp;                   /* spatial dimensions, 1..3 */
    Py_ssize_t n, c;           /* batch and channels */
    Py_ssize_t in[3], out[3];  /* spatial sizes, unused axes 1 */
    Py_ssize_t k[3], s[3], p[3]; /* window, stride, padding before */
} pool_geom;

/* TF's op name for errors: the 3-D kernels have their own */
static const char *
pool_tfname(int op, int nsp)
{
    int avg = op == TG_OP_avg_pool || op == TG_OP_avg_pool_grad;
    if (nsp == 3) {
        return avg ? "AvgPool3D" : "MaxPool3D";
    }
    return tg_ops[op].tf_name;
}

/* Read ksize, strides and padding (attrs 0..2) for an input of rank `nd`
 * and shape `shape`, with TF's checks and messages. */
static int
pool_geom_init(int op, int nd, const Py_ssize_t *shape, PyObject *attrs,
               pool_geom *gm)
{
    Py_ssize_t k[TG_MAXDIMS], s[TG_MAXDIMS];
    int nk, ns, same;
    const char *tf = tg_ops[op].tf_name;
    PyObject *pad = attr(attrs, 2);
    if (nd < 3 || nd > 5) {
        TG_INVALID_ARGUMENT("input must be 3-, 4- or 5-dimensional (N, "
                            "spatial..., C), got rank %d [Op:%s]", nd, tf);
        return -1;
    }
    gm->nsp = nd - 2;
    tf = pool_tfname(op, gm->nsp);
    if (tg_int_list(tf, "ksize", attr(attrs, 0), &nk, k) < 0 ||
        tg_int_list(tf, "strides", attr(attrs, 1), &ns, s) < 0) {
        return -1;
    }
    if (nk != gm->nsp || ns != gm->nsp) {
        TG_INVALID_ARGUMENT("Sliding window ksize and strides must have %d "
                            "entries for a rank-%d input [Op:%s]", gm->nsp,
                            nd, tf);
        return -1;
    }
    if (!PyUnicode_Check(pad)) {
        PyErr_Format(PyExc_TypeError, "%s: Expected string for argument "
                     "'padding' not %.200R.", tf, pad);
        return -1;
    }
    same = PyUnicode_CompareWithASCIIString(pad, "SAME") == 0;
    if (!same && PyUnicode_CompareWithASCIIString(pad, "VALID") != 0) {
        TG_INVALID_ARGUMENT("Value for attr 'padding' of \"%U\" is not in "
                            "the list of allowed values: \"SAME\", "
                            "\"VALID\" [Op:%s]", pad, tf);
        return -1;
    }
    gm->n = shape[0];
    gm->c = shape[nd - 1];
    for (int i = 0; i < 3; i++) {
        gm->in[i] = gm->out[i] = gm->k[i] = gm->s[i] = 1;
        gm->p[i] = 0;
    }
    for (int i = 0; i < gm->nsp; i++) {
        Py_ssize_t out, total;
        /* dimension i + 1 of TF's (N, *spatial, C) ksize */
        if (k[i] <= 0) {
            TG_INVALID_ARGUMENT("Sliding window ksize for dimension %d was "
                                "zero. [Op:%s]", i + 1, tf);
            return -1;
        }
        if (s[i] <= 0) {
            TG_INVALID_ARGUMENT("Stride must be > 0, but got %zd [Op:%s]",
                                s[i], tf);
            return -1;
        }
        /* written so that no sum can overflow whatever the attributes
         * (these rows are callable with any through _call) */
        if (same) {
            out = shape[i + 1] == 0 ? 0 : (shape[i + 1] - 1) / s[i] + 1;
            total = ((out - 1) * s[i] - shape[i + 1]) + k[i];
            gm->p[i] = total > 0 ? total / 2 : 0;
        }
        else {
            /* C's truncating division, as TF's GetWindowedOutputSize */
            Py_ssize_t d = shape[i + 1] - k[i];
            out = d >= 0 ? d / s[i] + 1 : (d + s[i]) / s[i];
            if (out < 0) {
                TG_INVALID_ARGUMENT("Computed output size would be "
                                    "negative: %zd [input_size: %zd, "
                                    "effective_filter_size: %zd, stride: "
                                    "%zd] [Op:%s]", out, shape[i + 1], k[i],
                                    s[i], tf);
                return -1;
            }
        }
        gm->in[i] = shape[i + 1];
        gm->out[i] = out;
        gm->k[i] = k[i];
        gm->s[i] = s[i];
    }
    return 0;
}

/* the pooled shape (N, *out, C) into dims; returns the rank */
static int
pool_out_dims(const pool_geom *gm, Py_ssize_t *dims)
{
    dims[0] = gm->n;
    for (int i = 0; i < gm->nsp; i++) {
        dims[i + 1] = gm->out[i];
    }
    dims[gm->nsp + 1] = gm->c;
    return gm->nsp + 2;
}

static Py_ssize_t
pool_out_count(const pool_geom *gm)
{
    return gm->n * gm->out[0] * gm->out[1] * gm->out[2] * gm->c;
}

/* element i of a float buffer := v, rounded once to its dtype */
static inline void
put_float(char *data, int dt, Py_ssize_t i, double v)
{
    switch (dt) {
        case TG_FLOAT16:
            ((npy_half *)data)[i] = npy_double_to_half(v);
            break;
        case TG_FLOAT32:
            ((float *)data)[i] = (float)v;
            break;
        default:
            ((double *)data)[i] = v;
    }
}

/* Visit every window: for output element `o` (flat, channels-last), the
 * flat input offsets of its in-bounds elements, in row-major order.  The
 * callers below are small, so the walk is a macro around their bodies:
 * BEGIN_WINDOWS binds o (output index) and base (input offset of the
 * window's channel c); EACH_IN binds j (input index) for each element. */
#define BEGIN_WINDOWS(gm)                                                    \
    for (Py_ssize_t b_ = 0, o = 0; b_ < (gm)->n; b_++)                       \
        for (Py_ssize_t q0 = 0; q0 < (gm)->out[0]; q0++)                     \
            for (Py_ssize_t q1 = 0; q1 < (gm)->out[1]; q1++)                 \
                for (Py_ssize_t q2 = 0; q2 < (gm)->out[2]; q2++)             \
                    for (Py_ssize_t ch = 0; ch < (gm)->c; ch++, o++) {       \
                        Py_ssize_t a0 = q0 * (gm)->s[0] - (gm)->p[0];        \
                        Py_ssize_t a1 = q1 * (gm)->s[1] - (gm)->p[1];        \
                        Py_ssize_t a2 = q2 * (gm)->s[2] - (gm)->p[2];
#define EACH_IN(gm)                                                          \
    for (Py_ssize_t i0 = a0 < 0 ? 0 : a0;                                    \
         i0 < a0 + (gm)->k[0] && i0 < (gm)->in[0]; i0++)                     \
        for (Py_ssize_t i1 = a1 < 0 ? 0 : a1;                                \
             i1 < a1 + (gm)->k[1] && i1 < (gm)->in[1]; i1++)                 \
            for (Py_ssize_t i2 = a2 < 0 ? 0 : a2;                            \
                 i2 < a2 + (gm)->k[2] && i2 < (gm)->in[2]; i2++) {           \
                Py_ssize_t j = (((b_ * (gm)->in[0] + i0) * (gm)->in[1] +     \
                                 i1) * (gm)->in[2] + i2) * (gm)->c + ch;
#define END_EACH }
#define END_WINDOWS }

/* the number of in-bounds elements of the window starting at a[] */
static Py_ssize_t
window_count(const pool_geom *gm, Py_ssize_t a0, Py_ssize_t a1,
             Py_ssize_t a2)
{
    Py_ssize_t a[3] = {a0, a1, a2}, cnt = 1;
    for (int i = 0; i < 3; i++) {
        Py_ssize_t lo = a[i] < 0 ? 0 : a[i];
        Py_ssize_t hi = a[i] + gm->k[i] < gm->in[i] ? a[i] + gm->k[i]
                                                     : gm->in[i];
        cnt *= hi - lo;
    }
    return cnt;
}

/* idx[o] := input index of window o's first maximum.  Every window holds
 * at least one in-bounds element (SAME pads less than a window).  The
 * first NaN wins its window, so a NaN propagates to the output instead of
 * hiding behind the comparisons, which are all false for it. */
static void
pool_argmax(const pool_geom *gm, const TensorObject *x, Py_ssize_t *idx)
{
    BEGIN_WINDOWS(gm)
        Py_ssize_t best = -1;
        double bv = 0;
        EACH_IN(gm)
            double v = tg_float_at(x->data, x->dtype, j);
            if (best < 0 || (!isnan(bv) && (v > bv || isnan(v)))) {
                best = j;
                bv = v;
            }
        END_EACH
        idx[o] = best;
    END_WINDOWS
}

/* The typed float32 / float64 walk, window by window: the window's bounds
 * are computed once and each in-bounds position's C channels are compared
 * as one contiguous row against best[] (the running maxima), so the inner
 * loop is a plain typed pass instead of a per-element dtype switch.  Same
 * order and NaN rule as pool_argmax.
 *   ix != NULL  ix[o] := flat index of the first maximum (best[] is
 *               scratch)
 *   ix == NULL  out[o] := the maximum itself (the forward needs only the
 *               values; best[] is the output row)
 * The row updates are selects, not branches: on real data "is this
 * larger" is a coin toss the branch predictor loses half the time (it was
 * most of max_pool's time).  The argmax is kept as the position's spatial
 * index within the image, in an integer as wide as T (pos[]), so the
 * compare, the two selects and the stores vectorise together across
 * channels; it becomes a flat index once per window. */
#define DEFINE_TYPED_WALK(T, P)                                              \
    static inline void                                                       \
    max_row_##T(const T *restrict row, T *restrict best, Py_ssize_t c)      \
    {                                                                        \
        /* a NaN best stays: v > NaN is false, NaN replacing NaN keeps it */ \
        for (Py_ssize_t ch = 0; ch < c; ch++) {                              \
            T v = row[ch], bv = best[ch];                                    \
            best[ch] = (v > bv || v != v) ? v : bv;                          \
        }                                                                    \
    }                                                                        \
    static inline void                                                       \
    argmax_row_##T(const T *restrict row, T *restrict best,                 \
                   P *restrict pos, P here, Py_ssize_t c)                    \
    {                                                                        \
        for (Py_ssize_t ch = 0; ch < c; ch++) {                              \
            T v = row[ch], bv = best[ch];                                    \
            P take = -(P)((v > bv) | ((v != v) & (bv == bv)));               \
            best[ch] = take ? v : bv;                                        \
            pos[ch] = (pos[ch] & ~take) | (here & take);                     \
        }                                                                    \
    }                                                                        \
    static void                                                              \
    pool_walk_##T(const pool_geom *gm, const T *x, Py_ssize_t *idx,         \
                  T *out, T *scratch, P *pos)                                \
    {                                                                        \
        const Py_ssize_t c = gm->c;                                          \
        const Py_ssize_t inP = gm->in[0] * gm->in[1] * gm->in[2];           \
        Py_ssize_t o = 0;                                                    \
        for (Py_ssize_t b = 0; b < gm->n; b++) {                             \
            const T *xb = x + b * inP * c;                                   \
            for (Py_ssize_t q0 = 0; q0 < gm->out[0]; q0++) {                 \
                for (Py_ssize_t q1 = 0; q1 < gm->out[1]; q1++) {             \
                    for (Py_ssize_t q2 = 0; q2 < gm->out[2]; q2++) {         \
                        Py_ssize_t lo[3], hi[3], q[3] = {q0, q1, q2};        \
                        T *best = idx ? scratch : out + o;                   \
                        int first = 1;                                       \
                        for (int a = 0; a < 3; a++) {                        \
                            Py_ssize_t start = q[a] * gm->s[a] - gm->p[a];   \
                            lo[a] = start < 0 ? 0 : start;                   \
                            hi[a] = start + gm->k[a] < gm->in[a]             \
                                        ? start + gm->k[a] : gm->in[a];      \
                        }                                                    \
                        for (Py_ssize_t i0 = lo[0]; i0 < hi[0]; i0++) {      \
                            for (Py_ssize_t i1 = lo[1]; i1 < hi[1]; i1++) {  \
                                for (Py_ssize_t i2 = lo[2]; i2 < hi[2];      \
                                     i2++) {                                 \
                                    Py_ssize_t sp = (i0 * gm->in[1] + i1) *  \
                                                    gm->in[2] + i2;          \
                                    const T *row = xb + sp * c;              \
                                    if (first) {                             \
                                        memcpy(best, row, c * sizeof(T));    \
                                        for (Py_ssize_t ch = 0;              \
                                             idx && ch < c; ch++) {          \
                                            pos[ch] = (P)sp;                 \
                                        }                                    \
                                        first = 0;                           \
                                    }                                        \
                                    else if (idx == NULL) {                  \
                                        max_row_##T(row, best, c);           \
                                    }                                        \
                                    else {                                   \
                                        argmax_row_##T(row, best, pos,       \
                                                       (P)sp, c);            \
                                    }                                        \
                                }                                            \
                            }                                                \
                        }                                                    \
                        for (Py_ssize_t ch = 0; idx && ch < c; ch++) {       \
                            idx[o + ch] = (b * inP + pos[ch]) * c + ch;      \
                        }                                                    \
                        o += c;                                              \
                    }                                                        \
                }                                                            \
            }                                                                \
        }                                                                    \
    }
DEFINE_TYPED_WALK(float, int32_t)
DEFINE_TYPED_WALK(double, int64_t)
#undef DEFINE_TYPED_WALK

/* idx[] for x, through the typed walk where there is one; -1 with
 * MemoryError set if its scratch row cannot be had */
static int
pool_find_argmax(const pool_geom *gm, const TensorObject *x,
                 Py_ssize_t *idx)
{
    Py_ssize_t inP = gm->in[0] * gm->in[1] * gm->in[2];
    size_t c = (size_t)(gm->c > 0 ? gm->c : 1);
    /* float32's positions are int32: an image of more positions takes
     * the generic walk */
    if ((x->dtype != TG_FLOAT32 && x->dtype != TG_FLOAT64) ||
        (x->dtype == TG_FLOAT32 && inP > INT32_MAX)) {
        pool_argmax(gm, x, idx);
        return 0;
    }
    /* best[c] then pos[c], each as wide as the dtype */
    char *scratch = PyMem_Malloc(2 * c * (size_t)tg_dtype_size[x->dtype]);
    if (scratch == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (x->dtype == TG_FLOAT32) {
        pool_walk_float(gm, (const float *)x->data, idx, NULL,
                        (float *)scratch, (int32_t *)(scratch + c * 4));
    }
    else {
        pool_walk_double(gm, (const double *)x->data, idx, NULL,
                         (double *)scratch, (int64_t *)(scratch + c * 8));
    }
    PyMem_Free(scratch);
    return 0;
}

/* out[o] = v[idx[o]] for o < m (the pooled values or the gathered
 * gradient); typed where the dtype has a loop */
static void
gather_at(TensorObject *out, const TensorObject *v, const Py_ssize_t *idx,
          Py_ssize_t m)
{
    if (v->dtype == TG_FLOAT32) {
        const float *src = (const float *)v->data;
        float *dst = (float *)out->data;
        for (Py_ssize_t o = 0; o < m; o++) {
            dst[o] = src[idx[o]];
        }
    }
    else if (v->dtype == TG_FLOAT64) {
        const double *src = (const double *)v->data;
        double *dst = (double *)out->data;
        for (Py_ssize_t o = 0; o < m; o++) {
            dst[o] = src[idx[o]];
        }
    }
    else {
        for (Py_ssize_t o = 0; o < m; o++) {
            put_float(out->data, out->dtype, o,
                      tg_float_at(v->data, v->dtype, idx[o]));
        }
    }
}

/* no two windows share a position: stride >= window on every axis */
static int
pool_disjoint(const pool_geom *gm)
{
    for (int i = 0; i < 3; i++) {
        if (gm->s[i] < gm->k[i]) {
            return 0;
        }
    }
    return 1;
}

/* shared forward of the rows that read the argmax of input 0:
 *   mode 0  max_pool(x)              y[o] = x[idx[o]]
 *   mode 1  max_pool_grad(x, g)      y[idx[o]] += g[o]   (y shaped as x)
 *   mode 2  max_pool_grad_grad(x, t) y[o] = t[idx[o]]    (t shaped as x) */
static int
pool_argmax_forward(int op, int mode, tg_fwd *f)
{
    TensorObject *x = f->in[0], *v = mode ? f->in[1] : x, *out = NULL;
    Py_ssize_t dims[5], *idx = NULL, m;
    pool_geom gm;
    int nd;
    if (pool_geom_init(op, x->ndim, x->shape, f->attrs, &gm) < 0) {
        return -1;
    }
    nd = pool_out_dims(&gm, dims);
    if (mode == 1 || mode == 2) {
        /* the second input: pooled-shaped (grad) or x-shaped (grad_grad) */
        const Py_ssize_t *want = mode == 1 ? dims : x->shape;
        int ok = v->ndim == nd;
        for (int i = 0; ok && i < nd; i++) {
            ok = v->shape[i] == want[i];
        }
        if (!ok) {
            PyObject *ws = tg_shape_str(nd, want);
            PyObject *gs = tg_shape_str(v->ndim, v->shape);
            if (ws != NULL && gs != NULL) {
                TG_INVALID_ARGUMENT("%s: expected the second input of shape "
                                    "%U, got %U [Op:%s]", tg_ops[op].name,
                                    ws, gs, pool_tfname(op, gm.nsp));
            }
            Py_XDECREF(ws);
            Py_XDECREF(gs);
            return -1;
        }
    }
    m = pool_out_count(&gm);
    if (mode == 0 && (x->dtype == TG_FLOAT32 || x->dtype == TG_FLOAT64)) {
        /* the forward wants only the maxima: no index array */
        out = tg_tensor_new(x->dtype, nd, dims);
        if (out == NULL) {
            return -1;
        }
        if (m > 0 && x->dtype == TG_FLOAT32) {
            pool_walk_float(&gm, (const float *)x->data, NULL,
                            (float *)out->data, NULL, NULL);
        }
        else if (m > 0) {
            pool_walk_double(&gm, (const double *)x->data, NULL,
                             (double *)out->data, NULL, NULL);
        }
        f->out[0] = out;
        return 0;
    }
    idx = PyMem_Malloc((size_t)(m > 0 ? m : 1) * sizeof(*idx));
    if (idx == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    if (pool_find_argmax(&gm, x, idx) < 0) {
        goto error;
    }
    if (mode == 1 && x->dtype == v->dtype && pool_disjoint(&gm) &&
        (x->dtype == TG_FLOAT32 || x->dtype == TG_FLOAT64)) {
        /* windows that do not overlap (stride >= window on every axis,
         * the common 2x2 / 2): each position is at most one window's
         * argmax, so adding into zeros in the tensor's own type is exact */
        out = tg_tensor_new(v->dtype, x->ndim, x->shape);
        if (out == NULL) {
            goto error;
        }
        memset(out->data, 0, (size_t)x->size * tg_dtype_size[x->dtype]);
        if (x->dtype == TG_FLOAT32) {
            float *dst = (float *)out->data;
            const float *src = (const float *)v->data;
            for (Py_ssize_t o = 0; o < m; o++) {
                dst[idx[o]] = src[o];
            }
        }
        else {
            double *dst = (double *)out->data;
            const double *src = (const double *)v->data;
            for (Py_ssize_t o = 0; o < m; o++) {
                dst[idx[o]] = src[o];
            }
        }
    }
    else if (mode == 1) {
        /* accumulated in double: a position can be several windows'
         * argmax, and float16 would round every partial sum */
        double *acc = PyMem_Calloc((size_t)(x->size > 0 ? x->size : 1),
                                   sizeof(double));
        if (acc == NULL) {
            PyErr_NoMemory();
            goto error;
        }
        for (Py_ssize_t o = 0; o < m; o++) {
            acc[idx[o]] += tg_float_at(v->data, v->dtype, o);
        }
        out = tg_tensor_new(v->dtype, x->ndim, x->shape);
        if (out != NULL) {
            for (Py_ssize_t i = 0; i < x->size; i++) {
                put_float(out->data, out->dtype, i, acc[i]);
            }
        }
        PyMem_Free(acc);
    }
    else {
        out = tg_tensor_new(v->dtype, nd, dims);
        if (out != NULL) {
            gather_at(out, v, idx, m);
        }
    }
    if (out == NULL) {
        goto error;
    }
    PyMem_Free(idx);
    f->out[0] = out;
    return 0;
error:
    PyMem_Free(idx);
    Py_XDECREF(out);
    return -1;
}

/* ---- batched cotangents ----------------------------------------------------
 * In a batched sweep a cotangent is (nb, N, ...): the batch is folded into
 * N, (nb * N, ...), x repeated nb times to match, and the result unfolded.
 * Every step is a recorded row, so the fold differentiates again. */

/* t (nb, N, rest...) -> (nb * N, rest...) */
static PyObject *
fold(scope *S, PyObject *t)
{
    TensorObject *u = (TensorObject *)t;
    Py_ssize_t dims[TG_MAXDIMS];
    if (t == NULL) {
        return NULL;
    }
    dims[0] = u->shape[0] * u->shape[1];
    memcpy(dims + 1, u->shape + 2, (size_t)(u->ndim - 2) * sizeof(*dims));
    return KEEP(tg_op_to_dims(TG_OP_reshape, t, u->ndim - 1, dims));
}

/* x (N, rest...) repeated nb times: (nb * N, rest...) */
static PyObject *
tile(scope *S, PyObject *x, Py_ssize_t nb)
{
    TensorObject *u = (TensorObject *)x;
    Py_ssize_t dims[TG_MAXDIMS + 1];
    dims[0] = nb;
    memcpy(dims + 1, u->shape, (size_t)u->ndim * sizeof(*dims));
    return fold(S, KEEP(tg_op_to_dims(TG_OP_broadcast_to, x, u->ndim + 1,
                                      dims)));
}

/* r (nb * N, rest...) -> (nb, N, rest...) */
static PyObject *
unfold(scope *S, PyObject *r, Py_ssize_t nb)
{
    TensorObject *u = (TensorObject *)r;
    Py_ssize_t dims[TG_MAXDIMS + 1];
    if (r == NULL) {
        return NULL;
    }
    dims[0] = nb;
    dims[1] = nb ? u->shape[0] / nb : 0;
    memcpy(dims + 2, u->shape + 1, (size_t)(u->ndim - 1) * sizeof(*dims));
    return KEEP(tg_op_to_dims(TG_OP_reshape, r, u->ndim + 1, dims));
}

/* pooling attributes (ksize, strides, padding), plus input_shape for
 * avg_pool_grad: the result's shape (nd, shape), its N scaled by the fold */
static PyObject *
pool_attrs(scope *S, int op, PyObject *attrs, int nd,
           const Py_ssize_t *shape, Py_ssize_t nb)
{
    Py_ssize_t dims[TG_MAXDIMS];
    PyObject *t;
    if (op != TG_OP_avg_pool_grad) {
        return KEEP(Py_BuildValue("(OOO)", attr(attrs, 0), attr(attrs, 1),
                                  attr(attrs, 2)));
    }
    memcpy(dims, shape, (size_t)nd * sizeof(*dims));
    dims[0] *= nb;
    t = KEEP(tg_shape_tuple(nd, dims));
    return t ? KEEP(Py_BuildValue("(OOOO)", attr(attrs, 0), attr(attrs, 1),
                                  attr(attrs, 2), t))
             : NULL;
}

/* op(x, t) or op(t) (x NULL) on a cotangent t; `res` is the unbatched
 * result's slot (avg_pool_grad's input_shape) */
static PyObject *
pool_vjp_call(tg_vjp_ctx *c, scope *S, int op, PyObject *x, PyObject *t,
              const tg_slot *res)
{
    Py_ssize_t nb = BATCHED ? ((TensorObject *)t)->shape[0] : 1;
    PyObject *a = pool_attrs(S, op, c->attrs, res->ndim, res->shape, nb);
    PyObject *r;
    if (a == NULL) {
        return NULL;
    }
    if (BATCHED) {
        t = fold(S, t);
        x = x ? tile(S, x, nb) : NULL;
    }
    r = x ? KEEP(tg_op2(op, x, t, a)) : KEEP(tg_op1(op, t, a));
    return BATCHED ? unfold(S, r, nb) : r;
}

/* op(x, t) for a jvp (never batched) */
static PyObject *
pool_jvp_call(tg_jvp_ctx *c, scope *S, int op, PyObject *x, PyObject *t)
{
    PyObject *a = pool_attrs(S, op, c->attrs, 0, NULL, 1);
    return a ? KEEP(tg_op2(op, x, t, a)) : NULL;
}

/* ---- max_pool --------------------------------------------------------------
 * y[o] = x[argmax o]       dx = max_pool_grad(x, g)
 */
int
max_pool_forward(tg_fwd *f)
{
    return pool_argmax_forward(TG_OP_max_pool, 0, f);
}

int
max_pool_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, pool_vjp_call(c, S, TG_OP_max_pool_grad, X(0), G, IN_SLOT(0)));
    VJP_END;
}

JVP_DIRECT(max_pool)
int
max_pool_jvp(tg_jvp_ctx *c)
{
    JVP_BEGIN;
    TensorObject *x = c->in[0];
    if (TAN(0) != NULL) {
        TSET(0, pool_jvp_call(c, S, TG_OP_max_pool_grad_grad, (PyObject *)x,
                              TAN(0)));
    }
    JVP_END;
}

/* ---- max_pool_grad ---------------------------------------------------------
 * y = scatter-add of g at the argmaxes (shaped as x)
 * dg = max_pool_grad_grad(x, gy); dx = 0 (the argmax is locally constant)
 */
int
max_pool_grad_forward(tg_fwd *f)
{
    return pool_argmax_forward(TG_OP_max_pool_grad, 1, f);
}

int
max_pool_grad_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(0)) {
        SET(0, KEEP(vjp_zeros(c, IN_SLOT(0))));
    }
    if (NEEDS(1)) {
        SET(1, pool_vjp_call(c, S, TG_OP_max_pool_grad_grad, X(0), G,
                             IN_SLOT(1)));
    }
    VJP_END;
}

JVP_DIRECT(max_pool_grad)
int
max_pool_grad_jvp(tg_jvp_ctx *c)
{
    JVP_BEGIN;
    TensorObject *x = c->in[0];
    if (TAN(1) != NULL) {
        TSET(0, pool_jvp_call(c, S, TG_OP_max_pool_grad, (PyObject *)x,
                              TAN(1)));
    }
    JVP_END;
}

/* ---- max_pool_grad_grad ----------------------------------------------------
 * y[o] = t[argmax o] (pooled shape)
 * dt = max_pool_grad(x, gy); dx = 0
 */
int
max_pool_grad_grad_forward(tg_fwd *f)
{
    return pool_argmax_forward(TG_OP_max_pool_grad_grad, 2, f);
}

int
max_pool_grad_grad_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(0)) {
        SET(0, KEEP(vjp_zeros(c, IN_SLOT(0))));
    }
    if (NEEDS(1)) {
        SET(1, pool_vjp_call(c, S, TG_OP_max_pool_grad, X(0), G,
                             IN_SLOT(1)));
    }
    VJP_END;
}

JVP_DIRECT(max_pool_grad_grad)
int
max_pool_grad_grad_jvp(tg_jvp_ctx *c)
{
    JVP_BEGIN;
    TensorObject *x = c->in[0];
    if (TAN(1) != NULL) {
        TSET(0, pool_jvp_call(c, S, TG_OP_max_pool_grad_grad, (PyObject *)x,
                              TAN(1)));
    }
    JVP_END;
}

/* ---- avg_pool, avg_pool_grad -----------------------------------------------
 * y[o] = sum of window o / its in-bounds count   dx = avg_pool_grad(g)
 * avg_pool_grad(g)[j] = sum over windows o holding j of g[o] / count(o)
 *                                                 dg = avg_pool(gy)
 */
int
avg_pool_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0], *out;
    Py_ssize_t dims[5];
    pool_geom gm;
    int nd;
    if (pool_geom_init(TG_OP_avg_pool, x->ndim, x->shape, f->attrs, &gm) < 0) {
        return -1;
    }
    nd = pool_out_dims(&gm, dims);
    out = tg_tensor_new(x->dtype, nd, dims);
    if (out == NULL) {
        return -1;
    }
    BEGIN_WINDOWS(&gm)
        double s = 0;
        EACH_IN(&gm)
            s += tg_float_at(x->data, x->dtype, j);
        END_EACH
        put_float(out->data, out->dtype, o,
                  s / (double)window_count(&gm, a0, a1, a2));
    END_WINDOWS
    f->out[0] = out;
    return 0;
}

int
avg_pool_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, pool_vjp_call(c, S, TG_OP_avg_pool_grad, NULL, G, IN_SLOT(0)));
    VJP_END;
}
JVP_LINEAR(avg_pool)

/* attrs: (ksize, strides, padding, input_shape) */
int
avg_pool_grad_forward(tg_fwd *f)
{
    TensorObject *g = f->in[0], *out = NULL;
    Py_ssize_t shape[TG_MAXDIMS], dims[5];
    double *acc = NULL;
    pool_geom gm;
    int nd, ns, ok;
    if (tg_int_list("AvgPoolGrad", "orig_input_shape", attr(f->attrs, 3),
                    &ns, shape) < 0) {
        return -1;
    }
    for (int i = 0; i < ns; i++) {
        if (shape[i] < 0) {
            TG_INVALID_ARGUMENT("AvgPoolGrad: orig_input_shape has a "
                                "negative dimension [Op:AvgPoolGrad]");
            return -1;
        }
    }
    if (pool_geom_init(TG_OP_avg_pool_grad, ns, shape, f->attrs, &gm) < 0) {
        return -1;
    }
    nd = pool_out_dims(&gm, dims);
    ok = g->ndim == nd;
    for (int i = 0; ok && i < nd; i++) {
        ok = g->shape[i] == dims[i];
    }
    if (!ok) {
        TG_INVALID_ARGUMENT("AvgPoolGrad: the gradient's shape does not "
                            "match the pooled shape of orig_input_shape "
                            "[Op:AvgPoolGrad]");
        return -1;
    }
    out = tg_tensor_new(g->dtype, ns, shape);
    if (out == NULL) {
        return -1;
    }
    acc = PyMem_Calloc((size_t)(out->size > 0 ? out->size : 1),
                       sizeof(double));
    if (acc == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    BEGIN_WINDOWS(&gm)
        double v = tg_float_at(g->data, g->dtype, o) /
                   (double)window_count(&gm, a0, a1, a2);
        EACH_IN(&gm)
            acc[j] += v;
        END_EACH
    END_WINDOWS
    for (Py_ssize_t i = 0; i < out->size; i++) {
        put_float(out->data, out->dtype, i, acc[i]);
    }
    PyMem_Free(acc);
    f->out[0] = out;
    return 0;
error:
    Py_XDECREF(out);
    return -1;
}

int
avg_pool_grad_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, pool_vjp_call(c, S, TG_OP_avg_pool, NULL, G, OUT_SLOT(0)));
    VJP_END;
}
JVP_LINEAR(avg_pool_grad)
