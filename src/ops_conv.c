/* ops_conv.c -- forwards and vjps of the rows in ops_conv.def: the N-d
 * convolution (1 to 3 spatial dims, channels last, feature groups) and its
 * two transposes, TF's Conv*BackpropInput and Conv*BackpropFilter.
 *
 * One kernel serves all three: a chunk of images (or of one image's
 * output positions, for large ones) is unfolded into patch rows (im2col,
 * into one bounded scratch buffer reused for every chunk and group), and
 * one product per chunk and group runs through NumPy's matmul loop (BLAS)
 * without the GIL.  The input gradient folds the product's
 * rows back (col2im, adding).  A 1x1 kernel at stride 1 reads (or writes)
 * the images in place.
 *
 * The rows are bilinear and transposes of one another, so every vjp and
 * jvp is written with the three rows themselves: any order of
 * differentiation, either mode, closes over them.
 */
#include "vjp.h"
#include "conv_geo.h"

/* patch rows per chunk: this many bytes of scratch at most (one row at
 * least).  Bounded, so memory stays near the output's size; large enough
 * that each BLAS call gets thousands of rows (a 32x32 image's 1024 rows
 * per call measured slower on the filter gradient, where the product's
 * inner dimension is the rows). */
#define CONV_SCRATCH_BYTES ((Py_ssize_t)16 << 20)

/* the op name TF prints for a convolution of rank nsp, by role */
static const char *
conv_tfname(int role, int nsp)
{
    static const char *names[3][2] = {
        {"Conv2D", "Conv3D"},
        {"Conv2DBackpropInput", "Conv3DBackpropInputV2"},
        {"Conv2DBackpropFilter", "Conv3DBackpropFilterV2"},
    };
    return names[role][nsp == 3];
}

/* strides or dilations: None (all 1) or nsp positive ints */
static int
parse_window(const char *tf, const char *param, PyObject *obj, int nsp,
             Py_ssize_t *v)
{
    Py_ssize_t vals[TG_MAXDIMS];
    int n = 0;
    for (int i = 0; i < 3; i++) {
        v[i] = 1;
    }
    if (obj == Py_None) {
        return 0;
    }
    if (tg_int_list(tf, param, obj, &n, vals) < 0) {
        return -1;
    }
    if (n != nsp) {
        TG_INVALID_ARGUMENT("Sliding window %s field must specify %d "
                            "dimensions [Op:%s]", param, nsp + 2, tf);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (vals[i] < 1) {
            TG_INVALID_ARGUMENT("Sliding window strides and dilations must "
                                "be > 0, got %s=%zd [Op:%s]", param, vals[i],
                                tf);
            return -1;
        }
        v[3 - nsp + i] = vals[i];
    }
    return 0;
}

/* explicit padding: None (none) or nsp (before, after) pairs >= 0 */
static int
parse_padding(const char *tf, PyObject *obj, int nsp, geo *g)
{
    PyObject *seq = NULL;
    int rc = -1;
    for (int i = 0; i < 3; i++) {
        g->pb[i] = g->pa[i] = 0;
    }
    if (obj == Py_None) {
        return 0;
    }
    seq = tg_sequence_list(obj);
    if (seq == NULL) {
        goto error;
    }
    if (PyList_GET_SIZE(seq) != nsp) {
        TG_INVALID_ARGUMENT("explicit padding must have %d (before, after) "
                            "pairs, got %zd [Op:%s]", nsp,
                            PyList_GET_SIZE(seq), tf);
        goto error;
    }
    for (int i = 0; i < nsp; i++) {
        Py_ssize_t p[TG_MAXDIMS];
        int n = 0;
        if (tg_int_list(tf, "padding", PyList_GET_ITEM(seq, i), &n, p) < 0) {
            goto error;
        }
        if (n != 2) {
            TG_INVALID_ARGUMENT("explicit padding must be (before, after) "
                                "pairs [Op:%s]", tf);
            goto error;
        }
        if (p[0] < 0 || p[1] < 0) {
            TG_INVALID_ARGUMENT("All explicit padding values must be "
                                "nonnegative. [Op:%s]", tf);
            goto error;
        }
        g->pb[3 - nsp + i] = p[0];
        g->pa[3 - nsp + i] = p[1];
    }
    rc = 0;
error:
    Py_XDECREF(seq);
    return rc;
}

/* The geometry of input shape xs (rank nd) under filter shape ws (same
 * rank) and attrs[off...] = (strides, padding, dilations), with TF's
 * checks.  The output size is TF's: (in + pads - effective) / stride + 1
 * (the negative one reported by C's truncating division, as TF's). */
static int
make_geo(int role, int nd, const Py_ssize_t *xs, int wnd,
         const Py_ssize_t *ws, PyObject *attrs, int off, geo *g)
{
    int nsp = nd - 2;
    const char *tf = conv_tfname(role, nsp);
    PyObject *s = NULL;
    if (nsp < 1 || nsp > 3) {
        s = tg_shape_str(nd, xs);
        if (s) {
            TG_INVALID_ARGUMENT("input must be 3-, 4- or 5-dimensional: %U "
                                "[Op:%s]", s, tf);
        }
        goto error;
    }
    if (wnd != nd) {
        s = tg_shape_str(wnd, ws);
        if (s) {
            TG_INVALID_ARGUMENT("filter must be %d-dimensional: %U [Op:%s]",
                                nd, s, tf);
        }
        goto error;
    }
    g->nsp = nsp;
    if (parse_window(tf, "strides", attr(attrs, off), nsp, g->s) < 0 ||
        parse_padding(tf, attr(attrs, off + 1), nsp, g) < 0 ||
        parse_window(tf, "dilations", attr(attrs, off + 2), nsp, g->d) < 0) {
        goto error;
    }
    g->n = xs[0];
    g->cin = xs[nd - 1];
    g->cg = ws[nd - 2];
    g->cout = ws[nd - 1];
    /* an input of depth 0 would make 0 groups: no convolution (TF's
     * kernels divide by the group count) */
    if (g->cg < 1 || g->cin < 1 || g->cin % g->cg != 0) {
        TG_INVALID_ARGUMENT("input depth must be evenly divisible by filter "
                            "depth: %zd vs %zd [Op:%s]", g->cin, g->cg, tf);
        goto error;
    }
    g->groups = g->cin / g->cg;
    if (g->cout % g->groups != 0) {
        TG_INVALID_ARGUMENT("output depth must be evenly divisible by number "
                            "of groups: %zd vs %zd [Op:%s]", g->cout,
                            g->groups, tf);
        goto error;
    }
    g->og = g->cout / g->groups;
    g->P = g->K = g->inP = 1;
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - nsp);
        g->in[i] = j >= 0 ? xs[1 + j] : 1;
        g->k[i] = j >= 0 ? ws[j] : 1;
        Py_ssize_t eff, num;
        /* attributes are any int64: an effective size or padded input
         * that overflows is no convolution TF could run either */
        if (__builtin_mul_overflow(g->k[i] > 0 ? g->k[i] - 1 : 0, g->d[i],
                                   &eff) ||
            __builtin_add_overflow(g->in[i], g->pb[i], &num) ||
            __builtin_add_overflow(num, g->pa[i], &num) ||
            num == PY_SSIZE_T_MAX) {
            TG_INVALID_ARGUMENT("Sliding window dilations or padding too "
                                "large for the input [Op:%s]", tf);
            goto error;
        }
        eff = g->k[i] > 0 ? eff + 1 : 0;
        num -= eff;
        if (num < 0) {
            TG_INVALID_ARGUMENT("Computed output size would be negative: "
                                "%zd [input_size: %zd, effective_filter_"
                                "size: %zd, stride: %zd] [Op:%s]",
                                (num + g->s[i]) / g->s[i],
                                g->in[i] + g->pb[i] + g->pa[i],
                                eff, g->s[i], tf);
            goto error;
        }
        g->out[i] = num / g->s[i] + 1;
        if (__builtin_mul_overflow(g->P, g->out[i], &g->P) ||
            __builtin_mul_overflow(g->inP, g->in[i], &g->inP) ||
            __builtin_mul_overflow(g->K, g->k[i], &g->K)) {
            goto too_large;
        }
    }
    if (__builtin_mul_overflow(g->K, g->cg, &g->K)) {
        goto too_large;
    }
    return 0;
too_large:
    TG_INVALID_ARGUMENT("Sliding window dilations or padding too large for "
                        "the input [Op:%s]", tf);
error:
    Py_XDECREF(s);
    return -1;
}

/* the output shape of a convolution: (n, *out, cout) */
static int
geo_out_shape(const geo *g, Py_ssize_t *shape)
{
    shape[0] = g->n;
    for (int i = 0; i < g->nsp; i++) {
        shape[1 + i] = g->out[3 - g->nsp + i];
    }
    shape[g->nsp + 1] = g->cout;
    return g->nsp + 2;
}

/* ---- the kernel --------------------------------------------------------- */

/* patch rows [r0, r0 + nr) of the (image, output position) rows, group
 * grp's channels: row b * P + o is the input under the kernel at output
 * position o of image b, (kernel offset, channel) order as the filter's
 * rows; zeros where it overhangs */
static void
im2col(const geo *g, const char *x, Py_ssize_t isz, Py_ssize_t r0,
       Py_ssize_t nr, Py_ssize_t grp, char *cols)
{
    size_t run = (size_t)(g->cg * isz);
    /* with every channel in the group and no dilation along the last
     * axis, the k[2] offsets of a row are k[2] adjacent input positions:
     * one copy where they all lie inside (3x fewer calls for 3x3) */
    int whole = g->cg == g->cin && g->d[2] == 1;
    size_t wide = run * (size_t)g->k[2];
    char *p = cols;
    for (Py_ssize_t r = r0; r < r0 + nr; r++) {
        Py_ssize_t b = r / g->P, o = r % g->P;
        const char *xb = x + (b * g->inP * g->cin + grp * g->cg) * isz;
        Py_ssize_t o2 = o % g->out[2], o1 = o / g->out[2] % g->out[1];
        Py_ssize_t o0 = o / g->out[2] / g->out[1];
        Py_ssize_t z2 = o2 * g->s[2] - g->pb[2];
        int inside2 = whole && z2 >= 0 && z2 + g->k[2] <= g->in[2];
        for (Py_ssize_t i0 = 0; i0 < g->k[0]; i0++) {
            Py_ssize_t y0 = o0 * g->s[0] - g->pb[0] + i0 * g->d[0];
            int ok0 = y0 >= 0 && y0 < g->in[0];
            for (Py_ssize_t i1 = 0; i1 < g->k[1]; i1++) {
                Py_ssize_t y1 = o1 * g->s[1] - g->pb[1] + i1 * g->d[1];
                int ok1 = ok0 && y1 >= 0 && y1 < g->in[1];
                Py_ssize_t row = (y0 * g->in[1] + y1) * g->in[2];
                if (ok1 && inside2) {
                    memcpy(p, xb + (row + z2) * g->cin * isz, wide);
                    p += wide;
                    continue;
                }
                for (Py_ssize_t i2 = 0; i2 < g->k[2]; i2++, p += run) {
                    Py_ssize_t y2 = z2 + i2 * g->d[2];
                    if (ok1 && y2 >= 0 && y2 < g->in[2]) {
                        memcpy(p, xb + (row + y2) * g->cin * isz, run);
                    }
                    else {
                        memset(p, 0, run);
                    }
                }
            }
        }
    }
}

/* the transpose of im2col, one patch row: output position o's row added
 * back into image xb; *pp moves past the row */
#define COL2IM_ROW(T)                                                        \
    static void col2im_row_##T(const geo *g, T *xb, Py_ssize_t o,            \
                               const T **pp)                                 \
    {                                                                        \
        const T *p = *pp;                                                    \
        Py_ssize_t cg = g->cg;                                               \
        Py_ssize_t o2 = o % g->out[2], o1 = o / g->out[2] % g->out[1];       \
        Py_ssize_t o0 = o / g->out[2] / g->out[1];                           \
        for (Py_ssize_t i0 = 0; i0 < g->k[0]; i0++) {                        \
            Py_ssize_t y0 = o0 * g->s[0] - g->pb[0] + i0 * g->d[0];          \
            int ok0 = y0 >= 0 && y0 < g->in[0];                              \
            for (Py_ssize_t i1 = 0; i1 < g->k[1]; i1++) {                    \
                Py_ssize_t y1 = o1 * g->s[1] - g->pb[1] + i1 * g->d[1];      \
                int ok1 = ok0 && y1 >= 0 && y1 < g->in[1];                   \
                for (Py_ssize_t i2 = 0; i2 < g->k[2]; i2++, p += cg) {       \
                    Py_ssize_t y2 = o2 * g->s[2] - g->pb[2] + i2 * g->d[2];  \
                    if (!ok1 || y2 < 0 || y2 >= g->in[2]) {                  \
                        continue;                                            \
                    }                                                        \
                    T *q = xb + ((y0 * g->in[1] + y1) * g->in[2] + y2) *     \
                                    g->cin;                                  \
                    for (Py_ssize_t c = 0; c < cg; c++) {                    \
                        q[c] += p[c];                                        \
                    }                                                        \
                }                                                            \
            }                                                                \
        }                                                                    \
        *pp = p;                                                             \
    }
COL2IM_ROW(float)
COL2IM_ROW(double)
#undef COL2IM_ROW

/* the transpose of im2col: patch rows [r0, r0 + nr) added back into dx */
#define COL2IM(T)                                                            \
    static void col2im_##T(const geo *g, T *dx, Py_ssize_t r0,               \
                           Py_ssize_t nr, Py_ssize_t grp, const T *cols)     \
    {                                                                        \
        const T *p = cols;                                                   \
        for (Py_ssize_t r = r0; r < r0 + nr; r++) {                          \
            Py_ssize_t b = r / g->P;                                         \
            T *xb = dx + b * g->inP * g->cin + grp * g->cg;                  \
            col2im_row_##T(g, xb, r % g->P, &p);                             \
        }                                                                    \
    }
COL2IM(float)
COL2IM(double)
#undef COL2IM

/* dw's column block of group grp (row stride cout) += t (K x og) */
#define ADD_BLOCK(T)                                                         \
    static void add_block_##T(const geo *g, T *dw, Py_ssize_t grp,           \
                              const T *t)                                    \
    {                                                                        \
        for (Py_ssize_t r = 0; r < g->K; r++) {                              \
            T *q = dw + r * g->cout + grp * g->og;                           \
            for (Py_ssize_t c = 0; c < g->og; c++) {                         \
                q[c] += t[r * g->og + c];                                    \
            }                                                                \
        }                                                                    \
    }
ADD_BLOCK(float)
ADD_BLOCK(double)
#undef ADD_BLOCK

/* The three products over raw float32/float64 buffers, no GIL needed:
 *   CONV_FWD        y  = conv(x, w)            a = x, b = w
 *   CONV_BP_INPUT   dx = col2im(gy @ w^T)      a = w, b = gy
 *   CONV_BP_FILTER  dw = sum im2col(x)^T @ gy  a = x, b = gy
 * over chunks of `chunk` rows of the n * P (image, output position)
 * rows.  `out` is zeroed on entry where it is a sum (col2im, several
 * chunks of the filter gradient); `cols` holds chunk * K elements (NULL
 * when direct) and `tmp` K * og (CONV_BP_FILTER over several chunks). */
static void
conv_kernel(int role, const geo *g, const tg_gemm *gm, int dtype,
            const char *a, const char *b, char *out, Py_ssize_t chunk,
            int direct, char *cols, char *tmp)
{
    Py_ssize_t z = gm->isz;
    Py_ssize_t total = g->n * g->P;
    for (Py_ssize_t r0 = 0; r0 < total; r0 += chunk) {
        Py_ssize_t rows = total - r0 < chunk ? total - r0 : chunk;
        for (Py_ssize_t grp = 0; grp < g->groups; grp++) {
            /* this chunk's patch rows: the images themselves or `cols` */
            const char *pa = cols;
            Py_ssize_t lda = g->K;
            if (direct) {
                pa = (role == CONV_BP_INPUT ? out : a) +
                     (r0 * g->cin + grp * g->cg) * z;
                lda = g->cin;
            }
            else if (role != CONV_BP_INPUT) {
                im2col(g, a, z, r0, rows, grp, cols);
            }
            const char *gy = b + (r0 * g->cout + grp * g->og) * z;
            if (role == CONV_FWD) {
                tg_gemm_run(gm, rows, g->K, g->og, pa, lda, 1,
                            b + grp * g->og * z, g->cout, 1,
                            out + (r0 * g->cout + grp * g->og) * z, g->cout,
                            1);
            }
            else if (role == CONV_BP_INPUT) {
                /* rows x og times og x K (w's block, transposed) */
                tg_gemm_run(gm, rows, g->og, g->K, gy, g->cout, 1,
                            a + grp * g->og * z, 1, g->cout, (char *)pa,
                            lda, 1);
                if (!direct && dtype == TG_FLOAT32) {
                    col2im_float(g, (float *)out, r0, rows, grp,
                                 (const float *)cols);
                }
                else if (!direct) {
                    col2im_double(g, (double *)out, r0, rows, grp,
                                  (const double *)cols);
                }
            }
            else if (chunk >= total) {
                /* one chunk: the product is dw's block itself */
                tg_gemm_run(gm, g->K, rows, g->og, pa, 1, lda, gy, g->cout,
                            1, out + grp * g->og * z, g->cout, 1);
            }
            else {
                tg_gemm_run(gm, g->K, rows, g->og, pa, 1, lda, gy, g->cout,
                            1, tmp, g->og, 1);
                if (dtype == TG_FLOAT32) {
                    add_block_float(g, (float *)out, grp, (const float *)tmp);
                }
                else {
                    add_block_double(g, (double *)out, grp,
                                     (const double *)tmp);
                }
            }
        }
    }
}

/* Run one of the three on tensors a, b into a new tensor of shape
 * (ond, oshape), zero-filled where a sum or empty product needs it. */
static int
conv_compute(int role, const geo *g, TensorObject *a, TensorObject *b,
             int ond, const Py_ssize_t *oshape, TensorObject **res)
{
    int dtype = a->dtype;
    TensorObject *out = NULL, *ca = NULL, *cb = NULL;
    char *cols = NULL, *tmp = NULL;
    tg_gemm gm;
    if (dtype != TG_FLOAT32 && dtype != TG_FLOAT64) {
        /* float16 and the like: in float32, rounded once */
        int wide = dtype == TG_FLOAT16 ? TG_FLOAT32 : TG_FLOAT64;
        TensorObject *wr = NULL;
        ca = tg_ufunc_apply(NULL, 1, &a, wide);
        cb = ca ? tg_ufunc_apply(NULL, 1, &b, wide) : NULL;
        if (cb == NULL || conv_compute(role, g, ca, cb, ond, oshape,
                                       &wr) < 0) {
            goto error;
        }
        *res = tg_ufunc_apply(NULL, 1, &wr, dtype);
        Py_DECREF(wr);
        Py_DECREF(ca);
        Py_DECREF(cb);
        return *res ? 0 : -1;
    }
    out = tg_tensor_new(dtype, ond, oshape);
    if (out == NULL) {
        goto error;
    }
    size_t obytes = (size_t)out->size * (size_t)tg_dtype_size[dtype];
    if (g->n == 0 || g->P == 0 || g->K == 0 || g->og == 0 || out->size == 0) {
        memset(out->data, 0, obytes);
        *res = out;
        return 0;
    }
    if (tg_conv_small_ok(g)) {
        /* few channels: the direct kernel (conv_small.c), no BLAS */
        double work = (double)g->n * (double)g->P * (double)g->K *
                      (double)g->cout;
        PyThreadState *ts = work > 1e5 ? PyEval_SaveThread() : NULL;
        int rc = tg_conv_small(role, g, dtype, a->data, b->data, out->data);
        if (ts != NULL) {
            PyEval_RestoreThread(ts);
        }
        if (rc < 0) {
            PyErr_NoMemory();
            goto error;
        }
        *res = out;
        return 0;
    }
    if (!tg_gemm_loop(dtype, &gm)) {
        PyErr_SetString(PyExc_SystemError, "tapegrad: no matmul loop");
        goto error;
    }
    int direct = 1;
    for (int i = 0; i < 3; i++) {
        direct &= g->k[i] == 1 && g->s[i] == 1 && g->pb[i] == 0 &&
                  g->out[i] == g->in[i];
    }
    Py_ssize_t z = gm.isz, per, chunk;
    Py_ssize_t total;
    if (__builtin_mul_overflow(g->K, z, &per) ||
        __builtin_mul_overflow(g->n, g->P, &total)) {
        PyErr_NoMemory();
        goto error;
    }
    /* whole images where they fit: rows of one image are what BLAS
     * gets anyway, and a chunk that ends mid-image is only for images
     * larger than the bound */
    chunk = CONV_SCRATCH_BYTES / per > 1 ? CONV_SCRATCH_BYTES / per : 1;
    if (chunk >= g->P) {
        chunk -= chunk % g->P;
    }
    chunk = chunk < total ? chunk : total;
    if (!direct) {
        cols = PyMem_RawMalloc((size_t)(chunk * per));
        if (cols == NULL) {
            PyErr_NoMemory();
            goto error;
        }
    }
    /* sums start from zero: col2im's, and the filter gradient's over
     * several chunks; otherwise the products write every element */
    if ((role == CONV_BP_INPUT && !direct) ||
        (role == CONV_BP_FILTER && chunk < total)) {
        memset(out->data, 0, obytes);
    }
    if (role == CONV_BP_FILTER && chunk < total) {
        tmp = PyMem_RawMalloc((size_t)(g->K * g->og * z));
        if (tmp == NULL) {
            PyErr_NoMemory();
            goto error;
        }
    }
    {
        /* the operands are immutable tensors we hold, `out` is not shared
         * yet: big products run without the GIL, as np.matmul's do */
        double work = (double)g->n * (double)g->P * (double)g->K *
                      (double)g->og;
        PyThreadState *ts = work > 1e5 ? PyEval_SaveThread() : NULL;
        conv_kernel(role, g, &gm, dtype, a->data, b->data, out->data, chunk,
                    direct, cols, tmp);
        if (ts != NULL) {
            PyEval_RestoreThread(ts);
        }
        npy_clear_floatstatus_barrier((char *)&work);
    }
    PyMem_RawFree(cols);
    PyMem_RawFree(tmp);
    *res = out;
    return 0;
error:
    PyMem_RawFree(cols);
    PyMem_RawFree(tmp);
    Py_XDECREF(out);
    Py_XDECREF(ca);
    Py_XDECREF(cb);
    return -1;
}

/* a shape attribute (input_sizes, filter_sizes): nd non-negative ints */
static int
parse_sizes(const char *tf, const char *param, PyObject *obj, int nd,
            Py_ssize_t *shape)
{
    int n = 0;
    if (obj == Py_None) {
        TG_INVALID_ARGUMENT("%s must be given [Op:%s]", param, tf);
        return -1;
    }
    if (tg_int_list(tf, param, obj, &n, shape) < 0) {
        return -1;
    }
    if (n != nd) {
        TG_INVALID_ARGUMENT("%s must have %d elements, got %d [Op:%s]",
                            param, nd, n, tf);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (shape[i] < 0) {
            TG_INVALID_ARGUMENT("%s must be non-negative, got %zd [Op:%s]",
                                param, shape[i], tf);
            return -1;
        }
    }
    return 0;
}

/* out_backprop must have the shape the convolution of geometry g gives */
static int
check_out_backprop(int role, const geo *g, TensorObject *gy)
{
    Py_ssize_t want[TG_MAXDIMS];
    int nd = geo_out_shape(g, want);
    PyObject *sw = NULL, *sg = NULL;
    if (gy->ndim == nd &&
        !memcmp(gy->shape, want, (size_t)nd * sizeof(Py_ssize_t))) {
        return 0;
    }
    sw = tg_shape_str(nd, want);
    sg = sw ? tg_shape_str(gy->ndim, gy->shape) : NULL;
    if (sg) {
        TG_INVALID_ARGUMENT("%s: Size of out_backprop doesn't match "
                            "computed: actual = %U, computed = %U [Op:%s]",
                            conv_tfname(role, g->nsp), sg, sw,
                            conv_tfname(role, g->nsp));
    }
    Py_XDECREF(sw);
    Py_XDECREF(sg);
    return -1;
}

/* ---- conv ------------------------------------------------------------------
 * y[b, o, co] = sum_{k, c} x[b, o * s - pb + k * d, grp(co) * cg + c]
 *                          w[k, c, co]
 * dx = conv_backprop_input(w, g)      dw = conv_backprop_filter(x, g)
 * attrs: (strides, padding, dilations): nsp ints, nsp (before, after)
 * pairs, nsp ints; groups = input channels / filter's in-channels.
 */
int
conv_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0], *w = f->in[1];
    Py_ssize_t shape[TG_MAXDIMS];
    geo g;
    if (make_geo(CONV_FWD, x->ndim, x->shape, w->ndim, w->shape, f->attrs,
                 0, &g) < 0) {
        return -1;
    }
    int nd = geo_out_shape(&g, shape);
    return conv_compute(CONV_FWD, &g, x, w, nd, shape, &f->out[0]);
}

/* (sizes, strides, padding, dilations) for a backprop row, from a conv
 * row's attrs and a slot's shape */
static PyObject *
bp_attrs(scope *S, PyObject *conv_attrs, const tg_slot *s)
{
    PyObject *shape = tg_shape_tuple(s->ndim, s->shape);
    if (shape == NULL) {
        return NULL;
    }
    return keep(S, Py_BuildValue("(NOOO)", shape, attr(conv_attrs, 0),
                                 attr(conv_attrs, 1), attr(conv_attrs, 2)));
}

/* a backprop row's attrs without its sizes: the conv row's */
static PyObject *
fwd_attrs(scope *S, PyObject *bp)
{
    return keep(S, Py_BuildValue("(OOO)", attr(bp, 1), attr(bp, 2),
                                 attr(bp, 3)));
}


#define CALL2(OP, a, b, attrs)                                               \
    ((attrs) ? KEEP(tg_op2(TG_OP_##OP, (a), (b), (attrs))) : NULL)

/* reshape(x, dims) and transpose(x, perm) as scope temporaries */
static PyObject *
reshape_to(scope *S, PyObject *x, int nd, const Py_ssize_t *dims)
{
    return keep(S, tg_op_to_dims(TG_OP_reshape, x, nd, dims));
}

static PyObject *
permute(scope *S, PyObject *x, int nd, const int *perm)
{
    PyObject *p = keep(S, PyList_New(nd));
    for (int i = 0; p != NULL && i < nd; i++) {
        PyList_SET_ITEM(p, i, PyLong_FromLong(perm[i]));
        if (PyList_GET_ITEM(p, i) == NULL) {
            return NULL;
        }
    }
    return p ? OP1A(transpose, x, "(O)", p) : NULL;
}

/* conv's vjp for a batch of nb cotangents G (nb, n, *out, cout) in two
 * calls, not nb: the input gradient takes the batch as more images; the
 * filter gradient takes it as more output channels, ordered (groups, nb,
 * og) so that each group's channels stay together. */
static int
conv_vjp_batched(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *xs = IN_SLOT(0), *ws = IN_SLOT(1);
    int nd = xs->ndim, nsp = nd - 2;
    Py_ssize_t nb = ((TensorObject *)c->g)->shape[0];
    Py_ssize_t d[TG_MAXDIMS];
    int perm[TG_MAXDIMS];
    PyObject *gt = G;
    TensorObject *gten = (TensorObject *)c->g;
    if (NEEDS(0)) {
        /* (nb * n, *out, cout) -> dx (nb * n, *in, cin) */
        d[0] = nb * xs->shape[0];
        memcpy(d + 1, gten->shape + 2, (size_t)(nd - 1) * sizeof(*d));
        PyObject *g2 = reshape_to(S, gt, nd, d);
        memcpy(d + 1, xs->shape + 1, (size_t)(nd - 1) * sizeof(*d));
        PyObject *shape = keep(S, tg_shape_tuple(nd, d));
        PyObject *at = shape ? keep(S, Py_BuildValue(
                                   "(OOOO)", shape, attr(c->attrs, 0),
                                   attr(c->attrs, 1), attr(c->attrs, 2)))
                             : NULL;
        PyObject *dx = CALL2(conv_backprop_input, X(1), g2, at);
        d[0] = nb;
        memcpy(d + 1, xs->shape, (size_t)nd * sizeof(*d));
        SET(0, reshape_to(S, dx, nd + 1, d));
    }
    if (NEEDS(1)) {
        Py_ssize_t cg = ws->shape[nd - 2], cout = ws->shape[nd - 1];
        Py_ssize_t groups = xs->shape[nd - 1] / cg, og = cout / groups;
        /* (nb, n, *out, groups, og) -> (n, *out, groups, nb, og) */
        memcpy(d, gten->shape, (size_t)(nd) * sizeof(*d));
        d[nd] = groups;
        d[nd + 1] = og;
        PyObject *g2 = reshape_to(S, gt, nd + 2, d);
        for (int i = 0; i < nsp + 1; i++) {
            perm[i] = i + 1;
        }
        perm[nsp + 1] = nsp + 2;
        perm[nsp + 2] = 0;
        perm[nsp + 3] = nsp + 3;
        g2 = permute(S, g2, nd + 2, perm);
        memcpy(d, gten->shape + 1, (size_t)(nd - 1) * sizeof(*d));
        d[nd - 1] = groups * nb * og;
        g2 = reshape_to(S, g2, nd, d);
        /* dw (*k, cg, groups * nb * og) -> (nb, *k, cg, cout) */
        memcpy(d, ws->shape, (size_t)(nd - 1) * sizeof(*d));
        d[nd - 1] = groups * nb * og;
        PyObject *shape = keep(S, tg_shape_tuple(nd, d));
        PyObject *at = shape ? keep(S, Py_BuildValue(
                                   "(OOOO)", shape, attr(c->attrs, 0),
                                   attr(c->attrs, 1), attr(c->attrs, 2)))
                             : NULL;
        PyObject *dw = CALL2(conv_backprop_filter, X(0), g2, at);
        d[nd - 1] = groups;
        d[nd] = nb;
        d[nd + 1] = og;
        dw = reshape_to(S, dw, nd + 2, d);
        perm[0] = nd;
        for (int i = 0; i < nd; i++) {
            perm[1 + i] = i;
        }
        perm[nd + 1] = nd + 1;
        dw = permute(S, dw, nd + 2, perm);
        d[0] = nb;
        memcpy(d + 1, ws->shape, (size_t)nd * sizeof(*d));
        SET(1, reshape_to(S, dw, nd + 1, d));
    }
    VJP_END;
}

int
conv_vjp(tg_vjp_ctx *c)
{
    if (BATCHED) {
        return conv_vjp_batched(c);
    }
    VJP_BEGIN;
    if (NEEDS(0)) {
        PyObject *at = bp_attrs(S, c->attrs, IN_SLOT(0));
        SET(0, CALL2(conv_backprop_input, X(1), G, at));
    }
    if (NEEDS(1)) {
        PyObject *at = bp_attrs(S, c->attrs, IN_SLOT(1));
        SET(1, CALL2(conv_backprop_filter, X(0), G, at));
    }
    VJP_END;
}

/* the three rows are bilinear: f(ta, b) + f(a, tb), same attributes */
static int
bilinear_jvp(tg_jvp_ctx *c, int op)
{
    JVP_BEGIN;
    PyObject *r = NULL;
    if (TAN(0) != NULL) {
        r = KEEP(tg_op2(op, TAN(0), (PyObject *)c->in[1], c->attrs));
    }
    if (TAN(1) != NULL) {
        r = TADD(r, KEEP(tg_op2(op, (PyObject *)c->in[0], TAN(1),
                                c->attrs)));
    }
    TSET(0, r);
    JVP_END;
}

JVP_DIRECT(conv)
int
conv_jvp(tg_jvp_ctx *c)
{
    return bilinear_jvp(c, TG_OP_conv);
}

/* ---- conv_backprop_input ---------------------------------------------------
 * dx = the transpose of conv(., w) applied to out_backprop (TF's
 * Conv2DBackpropInput, conv2d_transpose)
 * d filters = conv_backprop_filter(G, out_backprop)   d out_backprop =
 * conv(G, filters)
 * attrs: (input_sizes, strides, padding, dilations)
 */
int
conv_backprop_input_forward(tg_fwd *f)
{
    TensorObject *w = f->in[0], *gy = f->in[1];
    Py_ssize_t xs[TG_MAXDIMS];
    int nd = w->ndim;
    geo g;
    const char *tf = conv_tfname(CONV_BP_INPUT, nd - 2);
    if (parse_sizes(tf, "input_sizes", attr(f->attrs, 0), nd, xs) < 0 ||
        make_geo(CONV_BP_INPUT, nd, xs, w->ndim, w->shape, f->attrs, 1,
                 &g) < 0 ||
        check_out_backprop(CONV_BP_INPUT, &g, gy) < 0) {
        return -1;
    }
    return conv_compute(CONV_BP_INPUT, &g, w, gy, nd, xs, &f->out[0]);
}

int
conv_backprop_input_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *fa = fwd_attrs(S, c->attrs);
    if (NEEDS(0)) {
        PyObject *at = bp_attrs(S, fa, IN_SLOT(0));
        SET(0, CALL2(conv_backprop_filter, G, X(1), at));
    }
    if (NEEDS(1)) {
        SET(1, CALL2(conv, G, X(0), fa));
    }
    VJP_END;
}
JVP_DIRECT(conv_backprop_input)
int
conv_backprop_input_jvp(tg_jvp_ctx *c)
{
    return bilinear_jvp(c, TG_OP_conv_backprop_input);
}

/* ---- conv_backprop_filter --------------------------------------------------
 * dw = the transpose of conv(x, .) applied to out_backprop (TF's
 * Conv2DBackpropFilter)
 * d input = conv_backprop_input(G, out_backprop)   d out_backprop =
 * conv(input, G)
 * attrs: (filter_sizes, strides, padding, dilations)
 */
int
conv_backprop_filter_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0], *gy = f->in[1];
    Py_ssize_t ws[TG_MAXDIMS];
    int nd = x->ndim;
    geo g;
    const char *tf = conv_tfname(CONV_BP_FILTER, nd - 2);
    if (nd < 3 || nd > 5) {
        return make_geo(CONV_BP_FILTER, nd, x->shape, nd, x->shape, f->attrs,
                        1, &g);
    }
    if (parse_sizes(tf, "filter_sizes", attr(f->attrs, 0), nd, ws) < 0 ||
        make_geo(CONV_BP_FILTER, nd, x->shape, nd, ws, f->attrs, 1,
                 &g) < 0 ||
        check_out_backprop(CONV_BP_FILTER, &g, gy) < 0) {
        return -1;
    }
    return conv_compute(CONV_BP_FILTER, &g, x, gy, nd, ws, &f->out[0]);
}

int
conv_backprop_filter_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *fa = fwd_attrs(S, c->attrs);
    if (NEEDS(0)) {
        PyObject *at = bp_attrs(S, fa, IN_SLOT(0));
        SET(0, CALL2(conv_backprop_input, G, X(1), at));
    }
    if (NEEDS(1)) {
        SET(1, CALL2(conv, X(0), G, fa));
    }
    VJP_END;
}
JVP_DIRECT(conv_backprop_filter)
int
conv_backprop_filter_jvp(tg_jvp_ctx *c)
{
    return bilinear_jvp(c, TG_OP_conv_backprop_filter);
}
