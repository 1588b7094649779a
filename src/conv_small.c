/* conv_small.c -- the convolution and its two transposes computed
 * directly, for convolutions with few channels (LeNet's 1 -> 6 and
 * 6 -> 16), where ops_conv.c's im2col + BLAS does not pay: im2col copies
 * every input element once per kernel offset, and BLAS runs a product
 * with 6 or 16 columns at a fraction of its speed (measured: the product
 * alone took longer than PyTorch's whole convolution).
 *
 * The images (and cotangents) are first transposed into channel planes,
 * (n, c, H0, H1, W2), zero-padded by the convolution's padding, so that
 * along the last spatial axis an output row reads (and the input gradient
 * writes) one contiguous input row per kernel offset.  The inner loops are
 * then multiply-adds over 32-byte blocks of output positions, with the
 * sums of CONV_CB output channels held in registers; the ends of rows run
 * as scalar loops in the same order.  Each output element sums its terms
 * in the order (kernel offset, input channel), as im2col's rows do.
 *
 * tg_conv_small_ok decides: one group, stride 1 along the last axis, at
 * most 4 input and 32 output channels, padding within the kernel's reach
 * (so the planes stay the size of the images).  Everything else takes
 * im2col.  The input bound is measured: at LeNet's 6 -> 16 im2col + BLAS
 * already wins the gradients (input 0.66 against 1.15 ms, filter 0.46
 * against 1.27 ms, batch 64 of 12x12), while at 1 -> 6 the direct kernel
 * takes 0.54 / 0.76 / 0.66 ms where im2col took 1.30 / 2.42 / 1.82.
 */
#include "conv_geo.h"

#include <string.h>

/* output channels per register block: eight 32-byte sums and one row
 * block fit in the 16 vector registers */
#define CONV_CB 8

/* wider vectors where the CPU has them: GCC builds an AVX2 copy of the
 * kernels beside the baseline one and picks at load time (ifunc) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__)
#define CONV_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CONV_CLONES
#endif

typedef float vfloat __attribute__((vector_size(32)));
typedef double vdouble __attribute__((vector_size(32)));

int
tg_conv_small_ok(const geo *g)
{
    Py_ssize_t elems = g->n * g->cin, per = 1;
    if (g->groups != 1 || g->s[2] != 1 || g->cin > 4 || g->cout > 32) {
        return 0;
    }
    for (int i = 0; i < 3; i++) {
        /* padding past the kernel's reach would make planes larger than
         * the images (explicit padding may be anything) */
        Py_ssize_t reach = (g->k[i] - 1) * g->d[i];
        if (g->pb[i] > reach || g->pa[i] > reach ||
            __builtin_mul_overflow(per, g->in[i] + g->pb[i] + g->pa[i],
                                   &per)) {
            return 0;
        }
    }
    return !__builtin_mul_overflow(elems, per, &elems) &&
           elems < PY_SSIZE_T_MAX / 8;
}

/* the sizes of the padded input planes */
static void
plane_dims(const geo *g, Py_ssize_t *H)
{
    for (int i = 0; i < 3; i++) {
        H[i] = g->in[i] + g->pb[i] + g->pa[i];
    }
}

/* Offset of the plane row output row (o0, o1) reads under kernel offset
 * (k0, k1), in plane `index` (image * channels + channel) of planes sized
 * H: the one address the three kernels below compute, in element units. */
static inline Py_ssize_t
plane_row(const geo *g, const Py_ssize_t *H, Py_ssize_t index, Py_ssize_t o0,
          Py_ssize_t o1, Py_ssize_t k0, Py_ssize_t k1)
{
    return index * H[0] * H[1] * H[2] +
           ((o0 * g->s[0] + k0 * g->d[0]) * H[1] + o1 * g->s[1] +
            k1 * g->d[1]) * H[2];
}

/* what each kernel below reads of the geometry: the vector width in
 * elements, the channels, the output row's length and its full blocks */
#define KERNEL_SIZES(T, VT)                                                  \
    const Py_ssize_t V = sizeof(VT) / sizeof(T);                             \
    const Py_ssize_t cin = g->cin, cout = g->cout, ow = g->out[2];           \
    const Py_ssize_t full = ow - ow % V, P = g->P;                           \
    (void)P

#define DEFINE_SMALL(T, VT)                                                  \
    /* channels-last src (n, in[3], c) -> planes dst (n, cp, H[3]) at      \
     * offset `before`; dst is zeroed first (padding, channels past c) */   \
    static void                                                              \
    to_planes_##T(Py_ssize_t n, Py_ssize_t c, const Py_ssize_t *in,         \
                  const T *src, Py_ssize_t cp, const Py_ssize_t *H,         \
                  const Py_ssize_t *before, T *dst)                          \
    {                                                                        \
        Py_ssize_t plane = H[0] * H[1] * H[2];                               \
        memset(dst, 0, (size_t)(n * cp * plane) * sizeof(T));               \
        for (Py_ssize_t b = 0; b < n; b++) {                                 \
            for (Py_ssize_t i0 = 0; i0 < in[0]; i0++) {                      \
                for (Py_ssize_t i1 = 0; i1 < in[1]; i1++) {                  \
                    T *d = dst + b * cp * plane +                            \
                           ((i0 + before[0]) * H[1] + i1 + before[1]) *      \
                               H[2] + before[2];                             \
                    for (Py_ssize_t i2 = 0; i2 < in[2]; i2++, src += c) {    \
                        for (Py_ssize_t ch = 0; ch < c; ch++) {              \
                            d[ch * plane + i2] = src[ch];                    \
                        }                                                    \
                    }                                                        \
                }                                                            \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    /* w (K, cin, cout) -> (K, cin, cp), zero past cout */                   \
    static void                                                              \
    pad_filter_##T(const geo *g, const T *w, Py_ssize_t cp, T *dst)          \
    {                                                                        \
        for (Py_ssize_t r = 0; r < g->K; r++) {                              \
            memcpy(dst + r * cp, w + r * g->cout,                            \
                   (size_t)g->cout * sizeof(T));                             \
            memset(dst + r * cp + g->cout, 0,                                \
                   (size_t)(cp - g->cout) * sizeof(T));                      \
        }                                                                    \
    }                                                                        \
                                                                             \
    /* y = conv(x planes, w padded to cp channels), channels-last */         \
    CONV_CLONES static void                                                  \
    forward_##T(const geo *g, const T *xp, const Py_ssize_t *H,             \
                const T *wp, Py_ssize_t cp, T *y)                            \
    {                                                                        \
        KERNEL_SIZES(T, VT);                                                 \
        const Py_ssize_t d2 = g->d[2];                                       \
        for (Py_ssize_t b = 0; b < g->n; b++)                                \
        for (Py_ssize_t o0 = 0; o0 < g->out[0]; o0++)                        \
        for (Py_ssize_t o1 = 0; o1 < g->out[1]; o1++) {                      \
            T *yrow = y + ((b * g->out[0] + o0) * g->out[1] + o1) * ow *     \
                              cout;                                          \
            for (Py_ssize_t cb = 0; cb < cout; cb += CONV_CB) {              \
                Py_ssize_t nj = cout - cb < CONV_CB ? cout - cb : CONV_CB;   \
                for (Py_ssize_t x0 = 0; x0 < full; x0 += V) {                \
                    VT acc[CONV_CB];                                         \
                    memset(acc, 0, sizeof(acc));                             \
                    for (Py_ssize_t k0 = 0; k0 < g->k[0]; k0++)              \
                    for (Py_ssize_t k1 = 0; k1 < g->k[1]; k1++)              \
                    for (Py_ssize_t ci = 0; ci < cin; ci++) {                \
                        const T *r = xp + x0 + plane_row(g, H, b * cin + ci, \
                                                         o0, o1, k0, k1);    \
                        const T *w = wp + ((k0 * g->k[1] + k1) * g->k[2] *   \
                                           cin + ci) * cp + cb;              \
                        for (Py_ssize_t k2 = 0; k2 < g->k[2]; k2++) {        \
                            const T *wk = w + k2 * cin * cp;                 \
                            VT xv;                                           \
                            memcpy(&xv, r + k2 * d2, sizeof(xv));            \
                            for (int j = 0; j < CONV_CB; j++) {              \
                                acc[j] += xv * wk[j];                        \
                            }                                                \
                        }                                                    \
                    }                                                        \
                    for (Py_ssize_t j = 0; j < nj; j++) {                    \
                        for (Py_ssize_t l = 0; l < V; l++) {                 \
                            yrow[(x0 + l) * cout + cb + j] = acc[j][l];      \
                        }                                                    \
                    }                                                        \
                }                                                            \
                {                                                            \
                    /* the row's end, one position at a time */              \
                    for (Py_ssize_t p = full; p < ow; p++) {                   \
                        for (Py_ssize_t j = 0; j < nj; j++) {                \
                            T s = 0;                                         \
                            for (Py_ssize_t k0 = 0; k0 < g->k[0]; k0++)      \
                            for (Py_ssize_t k1 = 0; k1 < g->k[1]; k1++)      \
                            for (Py_ssize_t ci = 0; ci < cin; ci++) {        \
                                const T *r = xp + p + plane_row(             \
                                    g, H, b * cin + ci, o0, o1, k0, k1);     \
                                const T *w = wp + ((k0 * g->k[1] + k1) *     \
                                                   g->k[2] * cin + ci) *     \
                                                      cp + cb + j;           \
                                for (Py_ssize_t k2 = 0; k2 < g->k[2];        \
                                     k2++) {                                 \
                                    s += r[k2 * d2] * w[k2 * cin * cp];      \
                                }                                            \
                            }                                                \
                            yrow[p * cout + cb + j] = s;                     \
                        }                                                    \
                    }                                                        \
                }                                                            \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    /* dw (K, cin, cout) = sum over images and positions of x planes times   \
     * gy planes (padded to cp channels) */                                  \
    CONV_CLONES static void                                                  \
    filter_grad_##T(const geo *g, const T *xp, const Py_ssize_t *H,         \
                    const T *gp, Py_ssize_t cp, T *dw)                       \
    {                                                                        \
        KERNEL_SIZES(T, VT);                                                 \
        memset(dw, 0, (size_t)(g->K * cout) * sizeof(T));                    \
        for (Py_ssize_t b = 0; b < g->n; b++)                                \
        for (Py_ssize_t k0 = 0; k0 < g->k[0]; k0++)                          \
        for (Py_ssize_t k1 = 0; k1 < g->k[1]; k1++)                          \
        for (Py_ssize_t k2 = 0; k2 < g->k[2]; k2++)                          \
        for (Py_ssize_t ci = 0; ci < cin; ci++) {                            \
            T *dwr = dw + (((k0 * g->k[1] + k1) * g->k[2] + k2) * cin +      \
                           ci) * cout;                                       \
            for (Py_ssize_t cb = 0; cb < cout; cb += CONV_CB) {              \
                Py_ssize_t nj = cout - cb < CONV_CB ? cout - cb : CONV_CB;   \
                VT acc[CONV_CB];                                             \
                T sacc[CONV_CB];                                             \
                memset(acc, 0, sizeof(acc));                                 \
                memset(sacc, 0, sizeof(sacc));                               \
                for (Py_ssize_t o0 = 0; o0 < g->out[0]; o0++)                \
                for (Py_ssize_t o1 = 0; o1 < g->out[1]; o1++) {              \
                    const T *r = xp + k2 * g->d[2] +                         \
                        plane_row(g, H, b * cin + ci, o0, o1, k0, k1);       \
                    const T *gr = gp + (b * cp + cb) * P +                   \
                                  (o0 * g->out[1] + o1) * ow;                \
                    for (Py_ssize_t x0 = 0; x0 < full; x0 += V) {            \
                        VT xv;                                               \
                        memcpy(&xv, r + x0, sizeof(xv));                     \
                        for (int j = 0; j < CONV_CB; j++) {                  \
                            VT gv;                                           \
                            memcpy(&gv, gr + j * P + x0, sizeof(gv));        \
                            acc[j] += xv * gv;                               \
                        }                                                    \
                    }                                                        \
                    for (Py_ssize_t p = full; p < ow; p++) {                 \
                        for (int j = 0; j < CONV_CB; j++) {                  \
                            sacc[j] += r[p] * gr[j * P + p];                 \
                        }                                                    \
                    }                                                        \
                }                                                            \
                for (Py_ssize_t j = 0; j < nj; j++) {                        \
                    T s = sacc[j];                                           \
                    for (Py_ssize_t l = 0; l < V; l++) {                     \
                        s += acc[j][l];                                      \
                    }                                                        \
                    dwr[cb + j] += s;                                        \
                }                                                            \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    /* dx planes (n, cin, H) += w (K, cin, cp) applied to gy planes: each    \
     * output position's cotangent added back under the kernel */           \
    CONV_CLONES static void                                                  \
    input_grad_##T(const geo *g, const T *gp, Py_ssize_t cp, const T *wp,    \
                   const Py_ssize_t *H, T *dxp)                              \
    {                                                                        \
        KERNEL_SIZES(T, VT);                                                 \
        for (Py_ssize_t b = 0; b < g->n; b++)                                \
        for (Py_ssize_t ci = 0; ci < cin; ci++)                              \
        for (Py_ssize_t o0 = 0; o0 < g->out[0]; o0++)                        \
        for (Py_ssize_t o1 = 0; o1 < g->out[1]; o1++)                        \
        for (Py_ssize_t k0 = 0; k0 < g->k[0]; k0++)                          \
        for (Py_ssize_t k1 = 0; k1 < g->k[1]; k1++) {                        \
            T *trow = dxp + plane_row(g, H, b * cin + ci, o0, o1, k0, k1);   \
            const T *gr = gp + b * cp * P + (o0 * g->out[1] + o1) * ow;      \
            for (Py_ssize_t k2 = 0; k2 < g->k[2]; k2++) {                    \
                T *t = trow + k2 * g->d[2];                                  \
                const T *w = wp + (((k0 * g->k[1] + k1) * g->k[2] + k2) *    \
                                   cin + ci) * cp;                           \
                for (Py_ssize_t x0 = 0; x0 < full; x0 += V) {                \
                    VT acc;                                                  \
                    memcpy(&acc, t + x0, sizeof(acc));                       \
                    for (Py_ssize_t co = 0; co < cout; co++) {               \
                        VT gv;                                               \
                        memcpy(&gv, gr + co * P + x0, sizeof(gv));           \
                        acc += gv * w[co];                                   \
                    }                                                        \
                    memcpy(t + x0, &acc, sizeof(acc));                       \
                }                                                            \
                for (Py_ssize_t p = full; p < ow; p++) {                     \
                    T s = t[p];                                              \
                    for (Py_ssize_t co = 0; co < cout; co++) {               \
                        s += gr[co * P + p] * w[co];                         \
                    }                                                        \
                    t[p] = s;                                                \
                }                                                            \
            }                                                                \
        }                                                                    \
    }                                                                        \
                                                                             \
    static int                                                               \
    small_##T(int role, const geo *g, const T *a, const T *b, T *out)       \
    {                                                                        \
        Py_ssize_t H[3], zero[3] = {0, 0, 0};                                \
        Py_ssize_t cp = (g->cout + CONV_CB - 1) / CONV_CB * CONV_CB;         \
        T *planes = NULL, *other = NULL;                                     \
        plane_dims(g, H);                                                    \
        size_t xsize = (size_t)(g->n * g->cin * H[0] * H[1] * H[2]);         \
        size_t gsize = (size_t)(g->n * cp * g->P);                           \
        if (role == CONV_FWD) {                                              \
            planes = PyMem_RawMalloc(xsize * sizeof(T));                     \
            other = PyMem_RawMalloc((size_t)(g->K * cp) * sizeof(T));        \
            if (planes == NULL || other == NULL) {                           \
                goto error;                                                  \
            }                                                                \
            to_planes_##T(g->n, g->cin, g->in, a, g->cin, H, g->pb, planes); \
            pad_filter_##T(g, b, cp, other);                                 \
            forward_##T(g, planes, H, other, cp, out);                       \
        }                                                                    \
        else if (role == CONV_BP_FILTER) {                                   \
            planes = PyMem_RawMalloc(xsize * sizeof(T));                     \
            other = PyMem_RawMalloc(gsize * sizeof(T));                      \
            if (planes == NULL || other == NULL) {                           \
                goto error;                                                  \
            }                                                                \
            to_planes_##T(g->n, g->cin, g->in, a, g->cin, H, g->pb, planes); \
            to_planes_##T(g->n, g->cout, g->out, b, cp, g->out, zero,        \
                          other);                                            \
            filter_grad_##T(g, planes, H, other, cp, out);                   \
        }                                                                    \
        else {                                                               \
            /* a = w, b = gy: dx planes, then cropped into dx */             \
            T *wp;                                                           \
            planes = PyMem_RawMalloc(xsize * sizeof(T));                     \
            other = PyMem_RawMalloc((gsize + (size_t)(g->K * cp)) *          \
                                    sizeof(T));                              \
            if (planes == NULL || other == NULL) {                           \
                goto error;                                                  \
            }                                                                \
            wp = other + gsize;                                              \
            to_planes_##T(g->n, g->cout, g->out, b, cp, g->out, zero,        \
                          other);                                            \
            pad_filter_##T(g, a, cp, wp);                                    \
            memset(planes, 0, xsize * sizeof(T));                            \
            input_grad_##T(g, other, cp, wp, H, planes);                     \
            from_planes_##T(g, H, planes, out);                              \
        }                                                                    \
        PyMem_RawFree(planes);                                               \
        PyMem_RawFree(other);                                                \
        return 0;                                                            \
    error:                                                                   \
        PyMem_RawFree(planes);                                               \
        PyMem_RawFree(other);                                                \
        return -1;                                                           \
    }

/* the padded dx planes (n, cin, H) cropped into channels-last dx */
#define DEFINE_FROM_PLANES(T)                                                \
    static void                                                              \
    from_planes_##T(const geo *g, const Py_ssize_t *H, const T *src, T *dx)  \
    {                                                                        \
        Py_ssize_t plane = H[0] * H[1] * H[2];                               \
        for (Py_ssize_t b = 0; b < g->n; b++) {                              \
            for (Py_ssize_t i0 = 0; i0 < g->in[0]; i0++) {                   \
                for (Py_ssize_t i1 = 0; i1 < g->in[1]; i1++) {               \
                    const T *s = src + b * g->cin * plane +                  \
                                 ((i0 + g->pb[0]) * H[1] + i1 + g->pb[1]) *  \
                                     H[2] + g->pb[2];                        \
                    for (Py_ssize_t i2 = 0; i2 < g->in[2]; i2++) {           \
                        for (Py_ssize_t ch = 0; ch < g->cin; ch++) {         \
                            *dx++ = s[ch * plane + i2];                      \
                        }                                                    \
                    }                                                        \
                }                                                            \
            }                                                                \
        }                                                                    \
    }

DEFINE_FROM_PLANES(float)
DEFINE_FROM_PLANES(double)
DEFINE_SMALL(float, vfloat)
DEFINE_SMALL(double, vdouble)
#undef DEFINE_SMALL
#undef DEFINE_FROM_PLANES

int
tg_conv_small(int role, const geo *g, int dtype, const char *a,
              const char *b, char *out)
{
    if (dtype == TG_FLOAT32) {
        return small_float(role, g, (const float *)a, (const float *)b,
                           (float *)out);
    }
    return small_double(role, g, (const double *)a, (const double *)b,
                        (double *)out);
}
