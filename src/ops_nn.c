/* ops_nn.c -- forwards and vjps of the rows in ops_nn.def (losses, softmax,
 * normalisation and dropout: tapegrad.nn).
 *
 * softmax, log_softmax and l2_loss are primitives with C loops (max
 * subtracted, sums in double); the losses and normalisations are
 * composites of recorded rows, each in TF's numerically stable form.
 * Where TF uses `where`/`maximum` (no such core row), a constant 0/1 mask
 * selects instead: the same values and the same gradient (nothing flows to
 * the branch not taken).
 */
#include "vjp.h"
#include <math.h>

#define COMPOSITE_BEGIN scope S_ = {.n = 0}, *S = &S_

/* a composite's results: f->out[i] take references to rs[i] */
static int
composite_end_n(scope *S, tg_fwd *f, int n, PyObject **rs)
{
    int ok = 1;
    for (int i = 0; i < n; i++) {
        ok = ok && rs[i] != NULL;
    }
    for (int i = 0; ok && i < n; i++) {
        f->out[i] = (TensorObject *)Py_NewRef(rs[i]);
    }
    f->nout = n;
    if (vjp_end(S) < 0 || !ok) {
        for (int i = 0; i < n; i++) {
            Py_CLEAR(f->out[i]);
        }
        f->nout = 1;
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_SystemError, "tapegrad: composite failed");
        }
        return -1;
    }
    return 0;
}

static int
composite_end(scope *S, tg_fwd *f, PyObject *r)
{
    return composite_end_n(S, f, 1, &r);
}

/* a constant from a ufunc on tensors (never watched: never recorded) */
static PyObject *
ufunc_const(scope *S, const char *name, PyObject *a, PyObject *b, int dt)
{
    TensorObject *in[2] = {(TensorObject *)a, (TensorObject *)b};
    if (a == NULL || (b == NULL && strcmp(name, "sign") != 0)) {
        return NULL;
    }
    return keep(S, (PyObject *)tg_ufunc_apply(name, b ? 2 : 1, in, dt));
}

/* TF's axis for a softmax-like op: None is -1; returns the normalised axis */
static int
class_axis(const char *fname, const char *tfname, PyObject *a,
           TensorObject *x, int *axis)
{
    Py_ssize_t ax = -1;
    if (x->ndim == 0) {
        TG_INVALID_ARGUMENT("%s: logits must have >= 1 dimension, got shape "
                            "[] [Op:%s]", fname, tfname);
        return -1;
    }
    if (a != Py_None && tg_int_scalar(tfname, "axis", a, &ax) < 0) {
        return -1;
    }
    if (ax < -x->ndim || ax >= x->ndim) {
        TG_INVALID_ARGUMENT("%s: `axis` must be in the range [%d, %d) where "
                            "%d is the number of dimensions in the input. "
                            "Received: axis=%zd [Op:%s]", fname, -x->ndim,
                            x->ndim, x->ndim, ax, tfname);
        return -1;
    }
    *axis = (int)(ax < 0 ? ax + x->ndim : ax);
    return 0;
}

/* ---- softmax, log_softmax ----------------------------------------------------
 * y = exp(x - m) / sum exp(x - m), m = max x   dx = y (g - sum(g y))
 * y = x - m - log sum exp(x - m)               dx = g - exp(y) sum(g)
 * attrs: (axis,), None meaning the last axis
 */
#define SOFTMAX_LOOP(T)                                                      \
    do {                                                                     \
        const T *px = (const T *)x->data;                                    \
        T *py = (T *)out->data;                                              \
        for (Py_ssize_t o = 0; o < outer; o++) {                             \
            for (Py_ssize_t in = 0; in < inner; in++) {                      \
                const T *xs = px + o * n * inner + in;                       \
                T *ys = py + o * n * inner + in;                             \
                double m = -INFINITY, s = 0;                                 \
                int nan = 0;                                                 \
                for (Py_ssize_t k = 0; k < n; k++) {                         \
                    double v = xs[k * inner];                                \
                    nan |= isnan(v);                                         \
                    m = v > m ? v : m;                                       \
                }                                                            \
                if (nan) {                                                   \
                    m = NAN;                                                 \
                }                                                            \
                for (Py_ssize_t k = 0; k < n; k++) {                         \
                    s += exp((double)xs[k * inner] - m);                     \
                }                                                            \
                double ls = log(s);                                          \
                for (Py_ssize_t k = 0; k < n; k++) {                         \
                    double d = (double)xs[k * inner] - m;                    \
                    ys[k * inner] = (T)(logsm ? d - ls : exp(d) / s);        \
                }                                                            \
            }                                                                \
        }                                                                    \
    } while (0)

static int
softmax_common(tg_fwd *f, int logsm)
{
    TensorObject *x = f->in[0], *out;
    const char *fname = logsm ? "log_softmax" : "softmax";
    const char *tfname = logsm ? "LogSoftmax" : "Softmax";
    int axis;
    if (class_axis(fname, tfname, attr(f->attrs, 0), x, &axis) < 0) {
        return -1;
    }
    if (x->dtype == TG_FLOAT16) {
        /* in float32, rounded once */
        TensorObject *x32 = tg_ufunc_apply(NULL, 1, &x, TG_FLOAT32);
        if (x32 == NULL) {
            return -1;
        }
        tg_fwd f32 = {.in = &x32, .nin = 1, .attrs = f->attrs, .nout = 1};
        int rc = softmax_common(&f32, logsm);
        Py_DECREF(x32);
        if (rc < 0) {
            return -1;
        }
        f->out[0] = tg_ufunc_apply(NULL, 1, &f32.out[0], TG_FLOAT16);
        Py_DECREF(f32.out[0]);
        return f->out[0] ? 0 : -1;
    }
    out = tg_tensor_new(x->dtype, x->ndim, x->shape);
    if (out == NULL) {
        return -1;
    }
    Py_ssize_t outer = 1, inner = 1, n = x->shape[axis];
    for (int i = 0; i < axis; i++) {
        outer *= x->shape[i];
    }
    for (int i = axis + 1; i < x->ndim; i++) {
        inner *= x->shape[i];
    }
    if (x->size > 0) {
        if (x->dtype == TG_FLOAT32) {
            SOFTMAX_LOOP(float);
        }
        else {
            SOFTMAX_LOOP(double);
        }
    }
    f->out[0] = out;
    return 0;
}

static PyObject *
sum_axis_keep(scope *S, PyObject *x, int axis)
{
    return OP1A(reduce_sum, x, "(iO)", axis, Py_True);
}

/* softmax's axis (None: the last) for an input of rank `ndim`,
 * non-negative; read again by its vjp and jvp, where a user's __index__
 * may answer differently than it did for the forward */
static int
softmax_axis(int op, PyObject *attrs, int ndim, int *axis)
{
    PyObject *a = attr(attrs, 0);
    const char *tf = tg_ops[op].tf_name;
    Py_ssize_t ax = -1;
    if (a != Py_None && tg_int_scalar(tf, "axis", a, &ax) < 0) {
        return -1;
    }
    if (ax < -ndim || ax >= ndim) {
        TG_INVALID_ARGUMENT("%s: axis %zd is out of range for rank %d "
                            "[Op:%s]", tf, ax, ndim, tf);
        return -1;
    }
    *axis = (int)(ax < 0 ? ax + ndim : ax);
    return 0;
}

/* the axis of the cotangent, past its batch dimension when batched */
static int
vjp_axis(tg_vjp_ctx *c, int *axis)
{
    if (softmax_axis(c->e->op, c->attrs, IN_SLOT(0)->ndim, axis) < 0) {
        return -1;
    }
    *axis += c->batch;
    return 0;
}

int
softmax_forward(tg_fwd *f)
{
    return softmax_common(f, 0);
}

int
softmax_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int axis;
    if (vjp_axis(c, &axis) < 0) {
        return -1;
    }
    SET(0, MUL(Y, SUB(G, sum_axis_keep(S, MUL(G, Y), axis))));
    VJP_END;
}
JVP_DIRECT(softmax)
int
softmax_jvp(tg_jvp_ctx *c)
{
    /* dy = y (t - sum(y t)) */
    JVP_BEGIN;
    int axis;
    if (TAN(0) == NULL) {
        VJP_END;
    }
    if (softmax_axis(c->op, c->attrs, c->in[0]->ndim, &axis) < 0) {
        return -1;
    }
    PyObject *yt = MUL(Y, TAN(0));
    TSET(0, MUL(Y, SUB(TAN(0), sum_axis_keep(S, yt, axis))));
    JVP_END;
}

int
log_softmax_forward(tg_fwd *f)
{
    return softmax_common(f, 1);
}

int
log_softmax_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int axis;
    if (vjp_axis(c, &axis) < 0) {
        return -1;
    }
    SET(0, SUB(G, MUL(UNARY(exp, Y), sum_axis_keep(S, G, axis))));
    VJP_END;
}
JVP_DIRECT(log_softmax)
int
log_softmax_jvp(tg_jvp_ctx *c)
{
    /* dy = t - sum(exp(y) t) */
    JVP_BEGIN;
    int axis;
    if (TAN(0) == NULL) {
        VJP_END;
    }
    if (softmax_axis(c->op, c->attrs, c->in[0]->ndim, &axis) < 0) {
        return -1;
    }
    PyObject *pt = MUL(UNARY(exp, Y), TAN(0));
    TSET(0, SUB(TAN(0), sum_axis_keep(S, pt, axis)));
    JVP_END;
}

/* ---- softmax_cross_entropy_with_logits (composite) -------------------------------
 * loss = -sum(labels * log_softmax(logits), axis)
 * dlogits = g (softmax - labels)    dlabels = -g log_softmax (TF: labels get
 * a gradient)
 * attrs: (axis,)
 */
int
softmax_cross_entropy_with_logits_forward(tg_fwd *f)
{
    COMPOSITE_BEGIN;
    TensorObject *z = f->in[0], *x = f->in[1];
    int axis;
    if (class_axis("softmax_cross_entropy_with_logits",
                   "SoftmaxCrossEntropyWithLogits", attr(f->attrs, 0), x,
                   &axis) < 0) {
        return -1;
    }
    if (z->ndim != x->ndim ||
        memcmp(z->shape, x->shape, (size_t)x->ndim * sizeof(Py_ssize_t))) {
        PyObject *sx = tg_shape_str(x->ndim, x->shape);
        PyObject *sz = sx ? tg_shape_str(z->ndim, z->shape) : NULL;
        if (sz != NULL) {
            TG_INVALID_ARGUMENT("softmax_cross_entropy_with_logits: logits "
                                "and labels must have the same shape: "
                                "logits_size=%U labels_size=%U "
                                "[Op:SoftmaxCrossEntropyWithLogits]", sx, sz);
        }
        Py_XDECREF(sx);
        Py_XDECREF(sz);
        return -1;
    }
    PyObject *ls = OP1A(log_softmax, (PyObject *)x, "(i)", axis);
    PyObject *s = OP1A(reduce_sum, MUL((PyObject *)z, ls), "(iO)", axis,
                       Py_False);
    return composite_end(S, f, NEG(s));
}
NO_VJP(softmax_cross_entropy_with_logits)

/* ---- sigmoid_cross_entropy_with_logits (composite) ----------------------------------
 * loss = max(x, 0) - x z + log(1 + exp(-|x|))  (TF's stable form)
 * dx = g (sigmoid(x) - z)        dz = -g x
 */
int
sigmoid_cross_entropy_with_logits_forward(tg_fwd *f)
{
    COMPOSITE_BEGIN;
    PyObject *z = (PyObject *)f->in[0], *x = (PyObject *)f->in[1];
    TensorObject *zt = f->in[0], *xt = f->in[1];
    if (zt->ndim != xt->ndim ||
        memcmp(zt->shape, xt->shape, (size_t)xt->ndim * sizeof(Py_ssize_t))) {
        PyObject *sx = tg_shape_str(xt->ndim, xt->shape);
        PyObject *sz = sx ? tg_shape_str(zt->ndim, zt->shape) : NULL;
        if (sz != NULL) {
            PyErr_Format(PyExc_ValueError,
                         "sigmoid_cross_entropy_with_logits: logits and "
                         "labels must have the same shape (%U vs %U)", sx,
                         sz);
        }
        Py_XDECREF(sx);
        Py_XDECREF(sz);
        return -1;
    }
    /* |x| = x sign(x), the sign a constant: TF's abs gradient */
    /* intermediates released once used: all alive at the end they were
     * eight input-sized tensors */
    PyObject *sg = ufunc_const(S, "sign", x, NULL, xt->dtype);
    PyObject *absx = MUL(x, sg);
    RELEASE(sg);
    PyObject *rl = UNARY(relu, x), *xz = MUL(x, z);
    PyObject *a = SUB(rl, xz);
    RELEASE(rl);
    RELEASE(xz);
    PyObject *na = NEG(absx);
    RELEASE(absx);
    PyObject *sp = UNARY(softplus, na);
    RELEASE(na);
    PyObject *r = ADD(a, sp);
    RELEASE(a);
    RELEASE(sp);
    return composite_end(S, f, r);
}
NO_VJP(sigmoid_cross_entropy_with_logits)

/* ---- l2_loss ------------------------------------------------------------------------
 * z = sum(t^2) / 2                           dt = g t
 */
int
l2_loss_forward(tg_fwd *f)
{
    TensorObject *t = f->in[0];
    double s = 0;
    for (Py_ssize_t i = 0; i < t->size; i++) {
        double v = tg_float_at(t->data, t->dtype, i);
        s += v * v;
    }
    f->out[0] = tg_tensor_scalar(t->dtype, s / 2);
    return f->out[0] ? 0 : -1;
}

int
l2_loss_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(GLIFT(G, IN_SLOT(0)->ndim), X(0)));
    VJP_END;
}
JVP_REDUCTION(l2_loss)

/* ---- moments (composite) --------------------------------------------------------------
 * mean = mean(x, axes)   variance = mean((x - mean)^2, axes)
 * Unlike TF, mean is not stop_gradient'ed inside the variance: the first
 * derivative is the same, and the second is the true one.
 * attrs: (axes, shift, keepdims); shift is unused, as in TF 2
 */
int
moments_forward(tg_fwd *f)
{
    COMPOSITE_BEGIN;
    TensorObject *x = f->in[0];
    PyObject *axes = attr(f->attrs, 0), *xo = (PyObject *)x;
    int keepdims = attr_bool(f->attrs, 2);
    char mask[TG_MAXDIMS];
    if (keepdims < 0) {
        return -1;
    }
    if (axes == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "moments() missing required argument 'axes'");
        return -1;
    }
    if (tg_parse_axes("Moments", "axes", axes, x->ndim, mask) < 0) {
        return -1;
    }
    PyObject *mean = OP1A(reduce_mean, xo, "(OO)", axes, Py_True);
    PyObject *d = SUB(xo, mean);
    PyObject *var = OP1A(reduce_mean, MUL(d, d), "(OO)", axes, Py_True);
    if (!keepdims) {
        Py_ssize_t shape[TG_MAXDIMS];
        int nd = 0;
        for (int i = 0; i < x->ndim; i++) {
            if (!mask[i]) {
                shape[nd++] = x->shape[i];
            }
        }
        tg_slot s = {.ndim = nd, .shape = shape};
        mean = TO_SHAPE(reshape, mean, &s);
        var = TO_SHAPE(reshape, var, &s);
    }
    PyObject *rs[2] = {mean, var};
    return composite_end_n(S, f, 2, rs);
}
NO_VJP(moments)

/* ---- l2_normalize (composite) -----------------------------------------------------------
 * y = x / sqrt(max(sum(x^2, axis), epsilon))
 * attrs: (axis, epsilon)
 */
int
l2_normalize_forward(tg_fwd *f)
{
    COMPOSITE_BEGIN;
    PyObject *x = (PyObject *)f->in[0];
    int dt = f->in[0]->dtype;
    double eps = 1e-12;
    if (attr(f->attrs, 1) != Py_None &&
        tg_float_scalar("L2Normalize", "epsilon", attr(f->attrs, 1), &eps) <
            0) {
        return -1;
    }
    PyObject *sq = OP1A(reduce_sum, MUL(x, x), "(OO)", attr(f->attrs, 0),
                        Py_True);
    PyObject *e = CONST(eps, x);
    /* maximum(sq, eps): a constant mask picks sq where sq >= eps */
    PyObject *m = ufunc_const(S, "greater_equal", sq, e, dt);
    PyObject *rest = ufunc_const(S, "multiply",
                                 ufunc_const(S, "subtract", CONST(1.0, x), m,
                                             dt), e, dt);
    PyObject *safe = ADD(MUL(sq, m), rest);
    return composite_end(S, f, MUL(x, POW(safe, CONST(-0.5, x))));
}
NO_VJP(l2_normalize)

/* ---- clip_by_norm (composite) ----------------------------------------------------------
 * n = ||t|| over axes (0 where t is 0: TF's NaN-free form)
 * y = t * c / max(n, c)
 * attrs: (axes,)
 */
int
clip_by_norm_forward(tg_fwd *f)
{
    COMPOSITE_BEGIN;
    PyObject *t = (PyObject *)f->in[0], *cn = (PyObject *)f->in[1];
    int dt = f->in[0]->dtype;
    PyObject *axes = attr(f->attrs, 0);
    char mask[TG_MAXDIMS];
    if (tg_parse_axes("ClipByNorm", "axes", axes, f->in[0]->ndim, mask) <
        0) {
        return -1;
    }
    PyObject *one = CONST(1.0, t), *zero = CONST(0.0, t);
    PyObject *l2sum = OP1A(reduce_sum, MUL(t, t), "(OO)", axes, Py_True);
    PyObject *p = ufunc_const(S, "greater", l2sum, zero, dt);
    PyObject *notp = ufunc_const(S, "subtract", one, p, dt);
    PyObject *safe = ADD(MUL(l2sum, p), notp);
    PyObject *l2norm = ADD(MUL(POW(safe, CONST(0.5, t)), p), MUL(l2sum, notp));
    PyObject *q = ufunc_const(S, "greater_equal", l2norm, cn, dt);
    PyObject *notq = ufunc_const(S, "subtract", one, q, dt);
    PyObject *den = ADD(MUL(l2norm, q), MUL(cn, notq));
    return composite_end(S, f, DIV(MUL(t, cn), den));
}
NO_VJP(clip_by_norm)

/* ---- dropout (composite) ------------------------------------------------------------
 * y = x * mask, mask = (u >= rate) / (1 - rate), u uniform in [0, 1)
 * The mask is a constant input of a recorded multiply (saved there): the
 * gradient is g * mask.  u comes from splitmix64 over the element index
 * keyed by `seed`, so a given seed always drops the same elements (a
 * stateless dropout); without a seed the key comes from a process-wide
 * sequence.  noise_shape: the mask's shape, broadcast against x.
 * attrs: (rate, noise_shape, seed)
 */
#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)

static uint64_t
mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t unseeded_state = 0x243f6a8885a308d3u;

int
dropout_forward(tg_fwd *f)
{
    COMPOSITE_BEGIN;
    TensorObject *x = f->in[0];
    PyObject *rate_obj = attr(f->attrs, 0), *ns = attr(f->attrs, 1);
    PyObject *seed = attr(f->attrs, 2);
    Py_ssize_t shape[TG_MAXDIMS];
    int nd = x->ndim;
    uint64_t key;
    if (rate_obj == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "dropout() missing required argument 'rate'");
        return -1;
    }
    double rate;
    if (tg_float_scalar("Dropout", "rate", rate_obj, &rate) < 0) {
        return -1;
    }
    if (!(rate >= 0.0 && rate < 1.0)) {
        PyErr_Format(PyExc_ValueError, "dropout: `rate` must be a scalar "
                     "tensor or a float in the range [0, 1). Received: "
                     "rate=%R", rate_obj);
        return -1;
    }
    memcpy(shape, x->shape, (size_t)nd * sizeof(Py_ssize_t));
    if (ns != Py_None) {
        int ok = tg_int_list("Dropout", "noise_shape", ns, &nd, shape) == 0;
        if (!ok) {
            return -1;
        }
        ok = nd == x->ndim;
        for (int i = 0; ok && i < nd; i++) {
            ok = shape[i] == x->shape[i] || shape[i] == 1;
        }
        if (!ok) {
            PyObject *a = tg_shape_str(x->ndim, x->shape);
            PyObject *b = a ? tg_shape_str(nd, shape) : NULL;
            if (b != NULL) {
                TG_INVALID_ARGUMENT("dropout: noise_shape %U does not "
                                    "broadcast to the shape of x, %U "
                                    "[Op:Dropout]", b, a);
            }
            Py_XDECREF(a);
            Py_XDECREF(b);
            return -1;
        }
    }
    if (seed != Py_None) {
        Py_ssize_t s;
        if (tg_int_scalar("Dropout", "seed", seed, &s) < 0) {
            return -1;
        }
        key = (uint64_t)s;
    }
    else {
        unseeded_state += GOLDEN;
        key = mix64(unseeded_state);
    }
    TensorObject *m64 = tg_tensor_new(TG_FLOAT64, nd, shape);
    if (m64 == NULL) {
        return -1;
    }
    double scale = 1.0 / (1.0 - rate);
    for (Py_ssize_t i = 0; i < m64->size; i++) {
        uint64_t r = mix64(key + (uint64_t)(i + 1) * GOLDEN);
        double u = (double)(r >> 11) * 0x1.0p-53;
        ((double *)m64->data)[i] = u >= rate ? scale : 0.0;
    }
    PyObject *mask = (PyObject *)m64;
    if (x->dtype != TG_FLOAT64) {
        mask = (PyObject *)tg_ufunc_apply(NULL, 1, &m64, x->dtype);
        Py_DECREF(m64);
    }
    return composite_end(S, f, MUL((PyObject *)x, keep(S, mask)));
}
NO_VJP(dropout)

/* ---- sparse_softmax_cross_entropy_with_logits (composite) --------------------------
 * loss = -log_softmax(logits)[..., labels]   (labels: integer class ids)
 * dlogits = g (softmax - one_hot(labels)), TF's gradient; labels get none
 * The recorded rows are log_softmax (stable) and take_along_axis.
 */
#define SPARSE_XENT "SparseSoftmaxCrossEntropyWithLogits"

/* "0 5 2": the labels, as TF's message lists them */
static PyObject *
label_values(TensorObject *labels)
{
    PyObject *arr = tg_tensor_as_array(labels), *flat, *list, *strs, *sep, *r;
    flat = arr ? PyObject_CallMethod(arr, "ravel", NULL) : NULL;
    list = flat ? PyObject_CallMethod(flat, "tolist", NULL) : NULL;
    strs = list ? PyList_New(PyList_GET_SIZE(list)) : NULL;
    for (Py_ssize_t i = 0; strs && i < PyList_GET_SIZE(list); i++) {
        PyObject *s = PyObject_Str(PyList_GET_ITEM(list, i));
        if (s == NULL) {
            Py_CLEAR(strs);
            break;
        }
        PyList_SET_ITEM(strs, i, s);
    }
    sep = strs ? PyUnicode_FromString(" ") : NULL;
    r = sep ? PyUnicode_Join(sep, strs) : NULL;
    Py_XDECREF(arr);
    Py_XDECREF(flat);
    Py_XDECREF(list);
    Py_XDECREF(strs);
    Py_XDECREF(sep);
    return r;
}

static int
sparse_xent_check(TensorObject *z, TensorObject *x)
{
    if (z->dtype != TG_INT32 && z->dtype != TG_INT64) {
        TG_INVALID_ARGUMENT("Value for attr 'Tlabels' of %s is not in the "
                            "list of allowed values: int32, int64 [Op:%s]",
                            tg_dtype_names[z->dtype], SPARSE_XENT);
        return -1;
    }
    if (!tg_is_float(x->dtype)) {
        TG_INVALID_ARGUMENT("Value for attr 'T' of %s is not in the list of "
                            "allowed values: half, bfloat16, float, double "
                            "[Op:%s]", tg_dtype_names[x->dtype], SPARSE_XENT);
        return -1;
    }
    if (x->ndim == 0) {
        PyErr_SetString(PyExc_ValueError,
                        "Logits cannot be scalars - received shape ().");
        return -1;
    }
    if (z->ndim != x->ndim - 1) {
        PyErr_Format(PyExc_ValueError,
                     "Rank mismatch: Rank of labels (received %d) should "
                     "equal rank of logits minus 1 (received %d).", z->ndim,
                     x->ndim);
        return -1;
    }
    if (memcmp(z->shape, x->shape, (size_t)z->ndim * sizeof(Py_ssize_t))) {
        PyObject *a = tg_shape_tuple(z->ndim, z->shape);
        PyObject *b = a ? tg_shape_tuple(x->ndim, x->shape) : NULL;
        if (b != NULL) {
            PyErr_Format(PyExc_ValueError,
                         "Shape mismatch: The shape of labels (received %R) "
                         "should equal the shape of logits except for the "
                         "last dimension (received %R).", a, b);
        }
        Py_XDECREF(a);
        Py_XDECREF(b);
        return -1;
    }
    Py_ssize_t nc = x->shape[x->ndim - 1];
    for (Py_ssize_t i = 0; i < z->size; i++) {
        int64_t v = z->dtype == TG_INT32 ? ((int32_t *)z->data)[i]
                                         : ((int64_t *)z->data)[i];
        if (v < 0 || v >= nc) {
            PyObject *vals = label_values(z);
            if (vals != NULL) {
                TG_INVALID_ARGUMENT("Received a label value of %lld which is "
                                    "outside the valid range of [0, %zd).  "
                                    "Label values: %U [Op:%s]", (long long)v,
                                    nc, vals, SPARSE_XENT);
                Py_DECREF(vals);
            }
            return -1;
        }
    }
    return 0;
}

int
sparse_softmax_cross_entropy_with_logits_forward(tg_fwd *f)
{
    COMPOSITE_BEGIN;
    TensorObject *z = f->in[0], *x = f->in[1];
    if (sparse_xent_check(z, x) < 0) {
        return -1;
    }
    PyObject *idx = OP1A(expand_dims, (PyObject *)z, "(i)", -1);
    PyObject *ls = UNARY(log_softmax, (PyObject *)x);
    PyObject *picked = idx ? OP1A(take_along_axis, ls, "(Oi)", idx, -1) : NULL;
    return composite_end(S, f, NEG(OP1A(squeeze, picked, "(i)", -1)));
}

COMPOSITE_VJP(sparse_softmax_cross_entropy_with_logits)
