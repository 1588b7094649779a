/* kernels.c -- numeric loops; knows nothing about tapes.
 *
 * Elementwise float32/float64 (and int32/int64 arithmetic) runs in the C
 * loops below: a NumPy ufunc call costs ~0.5 us even on a scalar, which is
 * the whole budget of a small-tensor op.  Everything else (float16, bool,
 * axis reductions, large matmuls) goes through NumPy's C API, which is
 * where it wins.  Broadcasting follows NumPy's rules; every shape product
 * is overflow-checked by tg_tensor_new.
 */
#include "tapegrad.h"
#include <math.h>
/* ufuncobject.h declares a function without a prototype (NumPy's, not
 * ours); we only read PyUFuncObject's loop tables */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <numpy/ufuncobject.h>
#pragma GCC diagnostic pop
#include <numpy/npy_math.h>

/* ---- broadcasting --------------------------------------------------------- */

int
tg_broadcast_shapes(const char *opname, TensorObject *a, TensorObject *b,
                    int *ndim, Py_ssize_t *shape)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = a->ndim - n + i, ib = b->ndim - n + i;
        Py_ssize_t da = ia >= 0 ? a->shape[ia] : 1;
        Py_ssize_t db = ib >= 0 ? b->shape[ib] : 1;
        if (da == db || db == 1) {
            shape[i] = da;
        }
        else if (da == 1) {
            shape[i] = db;
        }
        else {
            PyObject *sa = tg_shape_str(a->ndim, a->shape);
            PyObject *sb = sa ? tg_shape_str(b->ndim, b->shape) : NULL;
            if (sb) {
                TG_INVALID_ARGUMENT("Incompatible shapes: %U vs. %U [Op:%s]",
                                    sa, sb, opname);
            }
            Py_XDECREF(sa);
            Py_XDECREF(sb);
            return -1;
        }
    }
    *ndim = n;
    return 0;
}

/* Element strides (0 on broadcast dims) of `t` seen with the output shape. */
static void
broadcast_strides(TensorObject *t, int ndim, const Py_ssize_t *shape,
                  Py_ssize_t *strides)
{
    Py_ssize_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        int it = t->ndim - ndim + i;
        if (it >= 0 && t->shape[it] != 1) {
            strides[i] = s;
            s *= t->shape[it];
        }
        else {
            strides[i] = 0;
            if (it >= 0) {
                s *= t->shape[it];
            }
        }
        (void)shape;
    }
}

/* Coalesce a broadcast walk, as NumPy's iterator does: drop dims of size
 * 1 and merge each dim into the next inner one where both operands
 * continue contiguously (or both broadcast) across them.  A jacobian's
 * batched cotangents meet shapes like [100, 100, 1] * [100, 1]: walked as
 * written, that is 10,000 inner loops of one element; coalesced, 100 of
 * 100.  Rewrites shape (a copy of the output's) and the strides in place;
 * returns the new rank (at least 1). */
static int
coalesce(int nd, Py_ssize_t *shape, Py_ssize_t *sa, Py_ssize_t *sb)
{
    int k = 0;
    for (int i = 0; i < nd; i++) {
        if (shape[i] == 1) {
            continue;
        }
        if (k > 0 && sa[k - 1] == sa[i] * shape[i] &&
            sb[k - 1] == sb[i] * shape[i]) {
            shape[k - 1] *= shape[i];       /* merge into the outer dim */
            sa[k - 1] = sa[i];
            sb[k - 1] = sb[i];
            continue;
        }
        shape[k] = shape[i];
        sa[k] = sa[i];
        sb[k] = sb[i];
        k++;
    }
    if (k == 0) {
        shape[0] = 1;
        sa[0] = sb[0] = 0;
        k = 1;
    }
    return k;
}

/* Fill `out` with `x` repeated along broadcast dims (shapes already
 * checked compatible).  Copies whole innermost rows when they are not
 * broadcast, repeats single elements with typed stores otherwise (a
 * memcpy per element made reduce_sum's gradient, a scalar broadcast to
 * 1e6 elements, cost 9x its forward). */
#define BCAST_LOOP(T)                                                        \
    do {                                                                     \
        const T *px = (const T *)x->data;                                    \
        T *po = (T *)out->data;                                              \
        if (x->size == 1) {                                                  \
            T v = px[0];                                                     \
            for (Py_ssize_t i = 0; i < out->size; i++) {                     \
                po[i] = v;                                                   \
            }                                                                \
            return;                                                          \
        }                                                                    \
        Py_ssize_t sx[TG_MAXDIMS], idx[TG_MAXDIMS];                          \
        int nd = out->ndim;                                                  \
        broadcast_strides(x, nd, out->shape, sx);                            \
        memset(idx, 0, sizeof(idx));                                         \
        Py_ssize_t inner = out->shape[nd - 1], ix = 0;                       \
        for (;;) {                                                           \
            if (sx[nd - 1] == 1) {                                           \
                memcpy(po, px + ix, (size_t)inner * sizeof(T));              \
            }                                                                \
            else {                                                           \
                T v = px[ix];                                                \
                for (Py_ssize_t j = 0; j < inner; j++) {                     \
                    po[j] = v;                                               \
                }                                                            \
            }                                                                \
            po += inner;                                                     \
            int d = nd - 2;                                                  \
            for (; d >= 0; d--) {                                            \
                ix += sx[d];                                                 \
                if (++idx[d] < out->shape[d]) {                              \
                    break;                                                   \
                }                                                            \
                ix -= sx[d] * out->shape[d];                                 \
                idx[d] = 0;                                                  \
            }                                                                \
            if (d < 0) {                                                     \
                return;                                                      \
            }                                                                \
        }                                                                    \
    } while (0)

static void
broadcast_copy(TensorObject *x, TensorObject *out)
{
    if (x->size == out->size) {
        memcpy(out->data, x->data,
               (size_t)out->size * (size_t)tg_dtype_size[x->dtype]);
        return;
    }
    /* elements as same-size unsigned words: any dtype, bit-exact */
    switch (tg_dtype_size[x->dtype]) {
        case 1: BCAST_LOOP(uint8_t); break;
        case 2: BCAST_LOOP(uint16_t); break;
        case 4: BCAST_LOOP(uint32_t); break;
        default: BCAST_LOOP(uint64_t); break;
    }
}

/* Called with the GIL held; big copies run without it. */
void
tg_broadcast_copy(TensorObject *x, TensorObject *out)
{
    if (out->size == 0) {
        return;
    }
    PyThreadState *ts = tg_nogil_begin(out->size);
    broadcast_copy(x, out);
    tg_nogil_end(ts);
}
#undef BCAST_LOOP

/* ---- binary loops ----------------------------------------------------------
 * One macro expands a loop per (op, C type).  Three shapes of iteration:
 * same-size contiguous, one side a single element, and the general
 * broadcast walk (an odometer over all but the innermost dimension).
 */
#define BIN_LOOP(T, EXPR)                                                    \
    do {                                                                     \
        const T *pa = (const T *)a->data, *pb = (const T *)b->data;          \
        T *po = (T *)out->data;                                              \
        Py_ssize_t n = out->size;                                            \
        if (a->size == n && b->size == n) {                                  \
            for (Py_ssize_t i = 0; i < n; i++) {                             \
                T x = pa[i], y = pb[i];                                      \
                po[i] = (EXPR);                                              \
            }                                                                \
        }                                                                    \
        else if (b->size == 1 && a->size == n) {                             \
            T y = pb[0];                                                     \
            for (Py_ssize_t i = 0; i < n; i++) {                             \
                T x = pa[i];                                                 \
                po[i] = (EXPR);                                              \
            }                                                                \
        }                                                                    \
        else if (a->size == 1 && b->size == n) {                             \
            T x = pa[0];                                                     \
            for (Py_ssize_t i = 0; i < n; i++) {                             \
                T y = pb[i];                                                 \
                po[i] = (EXPR);                                              \
            }                                                                \
        }                                                                    \
        else if (n > 0) {                                                    \
            int nd = out->ndim;                                              \
            Py_ssize_t sa[TG_MAXDIMS], sb[TG_MAXDIMS], idx[TG_MAXDIMS];      \
            Py_ssize_t shp[TG_MAXDIMS];                                      \
            broadcast_strides(a, nd, out->shape, sa);                        \
            broadcast_strides(b, nd, out->shape, sb);                        \
            memcpy(shp, out->shape, (size_t)nd * sizeof(Py_ssize_t));        \
            nd = coalesce(nd, shp, sa, sb);                                  \
            memset(idx, 0, sizeof(idx));                                     \
            Py_ssize_t inner = shp[nd - 1];                                  \
            Py_ssize_t ia = 0, ib = 0, io = 0;                               \
            Py_ssize_t sai = sa[nd - 1], sbi = sb[nd - 1];                   \
            for (;;) {                                                       \
                for (Py_ssize_t j = 0; j < inner; j++) {                     \
                    T x = pa[ia + j * sai], y = pb[ib + j * sbi];            \
                    po[io++] = (EXPR);                                       \
                }                                                            \
                int d = nd - 2;                                              \
                for (; d >= 0; d--) {                                        \
                    ia += sa[d];                                             \
                    ib += sb[d];                                             \
                    if (++idx[d] < shp[d]) {                                 \
                        break;                                               \
                    }                                                        \
                    ia -= sa[d] * shp[d];                                    \
                    ib -= sb[d] * shp[d];                                    \
                    idx[d] = 0;                                              \
                }                                                            \
                if (d < 0) {                                                 \
                    break;                                                   \
                }                                                            \
            }                                                                \
        }                                                                    \
    } while (0)

#define BIN_DISPATCH_FLOAT(EXPR)                                             \
    switch (a->dtype) {                                                      \
        case TG_FLOAT32:                                                     \
            BIN_LOOP(float, EXPR);                                           \
            return 0;                                                        \
        case TG_FLOAT64:                                                     \
            BIN_LOOP(double, EXPR);                                          \
            return 0;                                                        \
        default:                                                             \
            break;                                                           \
    }

#define BIN_DISPATCH_INT(EXPR)                                               \
    switch (a->dtype) {                                                      \
        case TG_INT32:                                                       \
            BIN_LOOP(int32_t, EXPR);                                         \
            return 0;                                                        \
        case TG_INT64:                                                       \
            BIN_LOOP(int64_t, EXPR);                                         \
            return 0;                                                        \
        default:                                                             \
            break;                                                           \
    }

/* Integer + - * wrap around like TF's (two's complement) instead of being
 * undefined behaviour in C: they are computed in unsigned arithmetic and
 * converted back on the store. */

static const char *
binary_ufunc_name(int op)
{
    switch (op) {
        case TG_OP_add: return "add";
        case TG_OP_subtract: return "subtract";
        case TG_OP_multiply: return "multiply";
        case TG_OP_divide: return "true_divide";
        case TG_OP_pow: return "power";
        case TG_OP_less: return "less";
        case TG_OP_less_equal: return "less_equal";
        case TG_OP_greater: return "greater";
        case TG_OP_greater_equal: return "greater_equal";
        case TG_OP_equal: return "equal";
        case TG_OP_not_equal: return "not_equal";
        default: return NULL;
    }
}

/* ---- NumPy's inner loops, called directly ---------------------------------
 * A ufunc call costs ~0.5 us of argument parsing, type resolution and
 * buffer setup even for one element; its inner loops (SIMD-dispatched for
 * sin, exp, log, comparisons, float16 ...) are plain C functions on raw
 * pointers.  We look a loop up once per (ufunc, types) and call it on our
 * own buffers, then clear the floating-point status flags the loop may
 * have raised: TF reports no warnings for log(-1) or 1/0, so we don't
 * either.
 */
typedef void (*tg_loop_fn)(char **args, npy_intp const *dims,
                           npy_intp const *steps, void *data);

typedef struct {
    const char *name; /* string literal: compared by address */
    int types[3];
    tg_loop_fn fn;
    void *data;
} loop_entry;

static loop_entry loop_cache[128];
static int loop_cache_n = 0;

/* The loop of ufunc `name` whose operand types are exactly `types` (nin
 * inputs and one output), or NULL (no exception) if there is none. */
static const loop_entry *
numpy_loop(const char *name, int nin, int t0, int t1, int tout)
{
    int want[3] = {t0, nin == 2 ? t1 : tout, tout};
    for (int i = 0; i < loop_cache_n; i++) {
        loop_entry *e = &loop_cache[i];
        if (e->name == name && e->types[0] == want[0] &&
            e->types[1] == want[1] && e->types[2] == want[2]) {
            return e->fn ? e : NULL;
        }
    }
    PyUFuncObject *uf = (PyUFuncObject *)tg_numpy_ufunc(name);
    tg_loop_fn fn = NULL;
    void *data = NULL;
    if (uf == NULL) {
        /* out of memory: no fast loop this time (the caller falls back to
         * calling the ufunc), and nothing cached, so the next call retries */
        PyErr_Clear();
        return NULL;
    }
    if (uf->nin == nin && uf->nout == 1) {
        for (int i = 0; i < uf->ntypes && fn == NULL; i++) {
            const char *t = uf->types + (size_t)i * (size_t)uf->nargs;
            int ok = 1;
            for (int j = 0; j <= nin; j++) {
                ok &= t[j] == want[j == nin ? 2 : j];
            }
            if (ok) {
                fn = (tg_loop_fn)uf->functions[i];
                data = uf->data ? uf->data[i] : NULL;
            }
        }
    }
    if (loop_cache_n < (int)(sizeof(loop_cache) / sizeof(loop_cache[0]))) {
        loop_entry *e = &loop_cache[loop_cache_n++];
        e->name = name;
        memcpy(e->types, want, sizeof(want));
        e->fn = fn;
        e->data = data;
        return fn ? e : NULL;
    }
    return NULL;
}

/* Run NumPy's unary loop `name` over all of x into out (same size,
 * contiguous): 1 if done, 0 if there is no such loop (name may be NULL),
 * -1 if the loop raised (its integer loops may, e.g. power). */
int
tg_unary_numpy_loop(const char *name, TensorObject *x, TensorObject *out)
{
    if (name == NULL) {
        return 0;
    }
    const loop_entry *e = numpy_loop(name, 1, tg_dtype_npy[x->dtype], 0,
                                     tg_dtype_npy[out->dtype]);
    if (e == NULL) {
        return 0;
    }
    char *args[2] = {x->data, out->data};
    npy_intp dims[1] = {out->size};
    npy_intp steps[2] = {tg_dtype_size[x->dtype], tg_dtype_size[out->dtype]};
    /* NumPy's float loops never call into Python (errors are FP flags);
     * integer loops may set an exception, so they keep the GIL */
    PyThreadState *ts = tg_is_float(x->dtype) ? tg_nogil_begin(out->size)
                                              : NULL;
    e->fn(args, dims, steps, e->data);
    tg_nogil_end(ts);
    npy_clear_floatstatus_barrier((char *)dims);
    return PyErr_Occurred() ? -1 : 1;
}

/* NumPy's loops for a dtype's multiply and add (IEEE-exact, and
 * vectorised for the machine, which the build's baseline loops are not),
 * looked up with the GIL held, for tg_terms_chunk to run without it.
 * 0 if NumPy has none. */
int
tg_terms_loops_get(int dtype, tg_terms_loops *l)
{
    int npy = tg_dtype_npy[dtype];
    l->mul = numpy_loop("multiply", 2, npy, npy, npy);
    l->add = numpy_loop("add", 2, npy, npy, npy);
    return l->mul != NULL && l->add != NULL;
}

/* out[0, len) = a op b, b a scalar when bstep is 0 */
static inline void
run_loop2(const void *entry, const char *a, const char *b, npy_intp bstep,
          char *out, npy_intp len, npy_intp isz)
{
    const loop_entry *e = entry;
    char *args[3] = {(char *)a, (char *)b, out};
    npy_intp steps[3] = {isz, bstep, isz};
    e->fn(args, &len, steps, e->data);
}

/* dst[0, len) = the terms' left-to-right sum at elements [start, start +
 * len): fl(c0 t0) + fl(c1 t1) + ..., a product left out where its
 * coefficient is 1 (1 * t is t), every step rounded in the dtype as the
 * ops that would have made and summed the terms round it.  dst may be
 * term 0's own bytes at `start`.  len * itemsize <= TG_TERMS_BYTES, and
 * so large is `scratch` (a scaled term's product after the first goes
 * there); float32 or float64; the loops from tg_terms_loops_get.  Runs
 * without the GIL. */
void
tg_terms_chunk(const tg_terms_loops *l, const tg_term *terms, int n,
               int dtype, Py_ssize_t start, Py_ssize_t len, char *dst,
               char *scratch)
{
    npy_intp isz = tg_dtype_size[dtype];
    for (int k = 0; k < n; k++) {
        const char *p = terms[k].t->data + start * isz;
        float cf = (float)terms[k].coef;
        double cd = terms[k].coef;
        const char *c = dtype == TG_FLOAT32 ? (const char *)&cf
                                            : (const char *)&cd;
        if (cd == 1.0) {
            if (k == 0 && dst != p) {
                memcpy(dst, p, (size_t)(len * isz));
            }
            else if (k > 0) {
                run_loop2(l->add, dst, p, isz, dst, len, isz);
            }
        }
        else if (k == 0) {
            run_loop2(l->mul, p, c, 0, dst, len, isz);
        }
        else {
            run_loop2(l->mul, p, c, 0, scratch, len, isz);
            run_loop2(l->add, dst, scratch, isz, dst, len, isz);
        }
    }
}

/* out = g * f(x), or -(g * f(x)) with `negate`: a vjp's product of its
 * upstream gradient and a derivative NumPy's unary loop `name` computes
 * (sin's g * cos(x)), a chunk at a time.  f of a chunk lands in a buffer
 * on the stack, still in L1 when the product reads it: one pass over
 * memory where the formula's two ops make two and write a temporary as
 * large as x.  Every step is the NumPy loop the op would run, so the
 * values are the formula's.  With `nterms` terms (tg_term), out = their
 * sum + that product instead: the sweep's accumulation of it into a
 * gradient already there, in the same pass (what summing the terms and
 * then accumulating would compute).  g, x, out and the terms are
 * contiguous, of one float dtype and size.  out may be g or any term:
 * added into in place when the terms are out alone with coefficient 1,
 * else written after the chunk's terms and product are made.  1 if done,
 * 0 if NumPy has no such loops. */
int
tg_unary_times_kernel(const char *name, TensorObject *g, TensorObject *x,
                      int negate, const tg_term *terms, int nterms,
                      TensorObject *out)
{
    int npy = tg_dtype_npy[x->dtype];
    const loop_entry *e = numpy_loop(name, 1, npy, 0, npy);
    const loop_entry *neg = numpy_loop("negative", 1, npy, 0, npy);
    tg_terms_loops l;
    if (e == NULL || neg == NULL || !tg_terms_loops_get(x->dtype, &l) ||
        (x->dtype != TG_FLOAT32 && x->dtype != TG_FLOAT64)) {
        return 0;
    }
    /* f(x), then g * f(x); the terms' sum (its scratch: buf, before f) */
    double buf[TG_TERMS_BYTES / sizeof(double)];
    double sum[TG_TERMS_BYTES / sizeof(double)];
    int in_out = tg_terms_are(terms, nterms, out);
    Py_ssize_t n = x->size, isz = tg_dtype_size[x->dtype];
    Py_ssize_t chunk = TG_TERMS_BYTES / isz;
    npy_intp steps[2] = {isz, isz};
    PyThreadState *ts = tg_nogil_begin(n);
    for (Py_ssize_t start = 0; start < n; start += chunk) {
        npy_intp len = n - start < chunk ? n - start : chunk;
        Py_ssize_t at = start * isz;
        char *args[2] = {x->data + at, (char *)buf};
        char *prod = nterms > 0 ? (char *)buf : out->data + at;
        if (nterms > 0 && !in_out) {    /* before out's chunk is written */
            tg_terms_chunk(&l, terms, nterms, x->dtype, start, len,
                           (char *)sum, (char *)buf);
        }
        e->fn(args, &len, steps, e->data);                  /* f(x) */
        run_loop2(l.mul, g->data + at, (char *)buf, isz, prod, len, isz);
        if (negate) {
            char *nargs[2] = {prod, prod};
            neg->fn(nargs, &len, steps, neg->data);
        }
        if (in_out) {
            run_loop2(l.add, out->data + at, prod, isz, out->data + at,
                      len, isz);
        }
        else if (nterms > 0) {
            run_loop2(l.add, (char *)sum, prod, isz, out->data + at, len,
                      isz);
        }
    }
    tg_nogil_end(ts);
    npy_clear_floatstatus_barrier((char *)steps);
    return 1;
}

/* Step an odometer over the outer dims 0..last of `shape` (the innermost
 * dim is the loop's own), moving two operands' offsets by their strides
 * (0 where an operand broadcasts).  0 once it wraps past dim 0: done. */
static inline int
odometer_next(int last, const Py_ssize_t *shape, Py_ssize_t *idx,
              const Py_ssize_t *sa, const Py_ssize_t *sb, Py_ssize_t *pa,
              Py_ssize_t *pb)
{
    for (int d = last; d >= 0; d--) {
        *pa += sa[d];
        *pb += sb[d];
        if (++idx[d] < shape[d]) {
            return 1;
        }
        *pa -= sa[d] * shape[d];
        *pb -= sb[d] * shape[d];
        idx[d] = 0;
    }
    return 0;
}

/* A full (rows, c) operand against a row vector of c (a bias over
 * channels-last images: shp = {rows, c}, strides {c, 1} and {0, 1}),
 * with c short: sweeping rows of c would call the loop once per row
 * (Conv2D's bias on 64x24x24x6 took 0.29 ms that way).  The vector is
 * repeated into a tile of many rows instead, and the loop runs over
 * whole chunks of rows against it, contiguous on both sides.  1 if done,
 * 0 if the strides are not that pattern. */
#define TILE_ROW_MAX 128
#define TILE_ELEMS 1024
static int
binary_row_tiled(const loop_entry *e, TensorObject *a, TensorObject *b,
                 TensorObject *out, const Py_ssize_t *shp,
                 const Py_ssize_t *sa, const Py_ssize_t *sb, int nogil)
{
    Py_ssize_t rows = shp[0], c = shp[1];
    int a_full = sa[0] == c && sa[1] == 1 && sb[0] == 0 && sb[1] == 1;
    int b_full = sb[0] == c && sb[1] == 1 && sa[0] == 0 && sa[1] == 1;
    /* 8-byte aligned, room for TILE_ELEMS of the widest dtype */
    double tile[TILE_ELEMS];
    if (!a_full && !b_full) {
        return 0;
    }
    TensorObject *vec = a_full ? b : a, *full = a_full ? a : b;
    npy_intp vs = tg_dtype_size[vec->dtype], fs = tg_dtype_size[full->dtype];
    npy_intp os = tg_dtype_size[out->dtype];
    Py_ssize_t per = TILE_ELEMS / c;   /* rows per call, >= 8 */
    if (vs > (npy_intp)sizeof(double)) {
        return 0;
    }
    for (Py_ssize_t r = 0; r < per; r++) {
        memcpy((char *)tile + r * c * vs, vec->data, (size_t)(c * vs));
    }
    for (Py_ssize_t r = 0; r < rows; r += per) {
        Py_ssize_t nr = rows - r < per ? rows - r : per;
        char *pf = full->data + r * c * fs;
        char *args[3] = {a_full ? pf : (char *)tile,
                         a_full ? (char *)tile : pf,
                         out->data + r * c * os};
        npy_intp dims[1] = {nr * c};
        npy_intp steps[3] = {a_full ? fs : vs, a_full ? vs : fs, os};
        e->fn(args, dims, steps, e->data);
        if (!nogil && PyErr_Occurred()) {
            break;
        }
    }
    return 1;
}

/* Run NumPy's binary loop `name` with NumPy broadcasting: the loop sweeps
 * the innermost dimension, our odometer walks the others.  1 if done, 0
 * if there is no such loop (name may be NULL), -1 if the loop raised: the
 * loops return void and report errors such as "Integers to negative
 * integer powers are not allowed." by setting an exception. */
int
tg_binary_numpy_loop(const char *name, TensorObject *a, TensorObject *b,
                     TensorObject *out)
{
    if (name == NULL) {
        return 0;
    }
    const loop_entry *e = numpy_loop(name, 2, tg_dtype_npy[a->dtype],
                                     tg_dtype_npy[b->dtype],
                                     tg_dtype_npy[out->dtype]);
    if (e == NULL) {
        return 0;
    }
    int nd = out->ndim;
    npy_intp ia = tg_dtype_size[a->dtype], ib = tg_dtype_size[b->dtype];
    npy_intp io = tg_dtype_size[out->dtype];
    /* float loops never call into Python (see tg_unary_numpy_loop) */
    int nogil = tg_is_float(a->dtype) && tg_is_float(b->dtype) &&
                out->size >= TG_NOGIL_MIN;
    PyThreadState *ts = NULL;
    if (nd == 0 || (a->size == out->size && b->size == out->size) ||
        (a->size == 1 && b->size == out->size) ||
        (b->size == 1 && a->size == out->size)) {
        char *args[3] = {a->data, b->data, out->data};
        npy_intp dims[1] = {out->size};
        npy_intp steps[3] = {a->size == 1 ? 0 : ia, b->size == 1 ? 0 : ib,
                             io};
        ts = nogil ? PyEval_SaveThread() : NULL;
        e->fn(args, dims, steps, e->data);
        tg_nogil_end(ts);
    }
    else {
        Py_ssize_t sa[TG_MAXDIMS], sb[TG_MAXDIMS], idx[TG_MAXDIMS];
        Py_ssize_t shp[TG_MAXDIMS];
        broadcast_strides(a, nd, out->shape, sa);
        broadcast_strides(b, nd, out->shape, sb);
        memcpy(shp, out->shape, (size_t)nd * sizeof(Py_ssize_t));
        nd = coalesce(nd, shp, sa, sb);
        ts = nogil ? PyEval_SaveThread() : NULL;
        if (nd == 2 && shp[1] <= TILE_ROW_MAX &&
            binary_row_tiled(e, a, b, out, shp, sa, sb, nogil)) {
            tg_nogil_end(ts);
            goto done;
        }
        memset(idx, 0, sizeof(idx));
        npy_intp dims[1] = {shp[nd - 1]};
        npy_intp steps[3] = {sa[nd - 1] * ia, sb[nd - 1] * ib, io};
        Py_ssize_t pa = 0, pb = 0;
        char *po = out->data;
        for (;;) {
            char *args[3] = {a->data + pa * ia, b->data + pb * ib, po};
            e->fn(args, dims, steps, e->data);
            if (!nogil && PyErr_Occurred()) {
                break;
            }
            po += dims[0] * io;
            if (!odometer_next(nd - 2, shp, idx, sa, sb, &pa, &pb)) {
                break;
            }
        }
        tg_nogil_end(ts);
    }
done:
    npy_clear_floatstatus_barrier((char *)&nd);
    return PyErr_Occurred() ? -1 : 1;
}

/* op(a) @ v for a batch of vectors v (rows of b, length k) that each hold
 * at most one nonzero: what a Jacobian's identity batch of cotangents
 * still is after elementwise vjps (tanh(W @ x): g * (1 - y^2)).  Then
 * out[r] = v[r][j] * op(a)[:, j], a scaled column, k times less work than
 * the product.  Exact where the product is: only taken when `a` is all
 * finite (0 * inf would be NaN in the product).  A dense batch pays one
 * row: the first is checked before anything else.  Each row is read once,
 * counting its nonzeros and summing their indices (with one nonzero, the
 * sum is its index: no second search).  1 if done; 0 otherwise, `out`
 * possibly part written (the caller's product then writes all of it). */
#define ONEHOT_MATVEC(T, U, EXP)                                              \
    do {                                                                     \
        const T *pa = (const T *)a->data, *pb = (const T *)b->data;          \
        const U *bits = (const U *)a->data;                                  \
        T *po = (T *)out;                                                    \
        U bad = 0;                                                           \
        Py_ssize_t hits = 0;                                                 \
        for (Py_ssize_t j = 0; j < k; j++) {                                 \
            hits += pb[j] != 0;                                              \
        }                                                                    \
        if (hits > 1) {                                                      \
            return 0;                                                        \
        }                                                                    \
        /* inf and NaN: every exponent bit set (integer ops vectorize) */    \
        for (Py_ssize_t i = 0; i < m * k; i++) {                             \
            bad |= (U)((bits[i] & (EXP)) == (EXP));                          \
        }                                                                    \
        if (bad) {                                                           \
            return 0;                                                        \
        }                                                                    \
        for (Py_ssize_t r = 0; r < batch; r++) {                             \
            const T *v = pb + r * k;                                         \
            T *o = po + r * m;                                               \
            /* 32-bit masks and sums (k < 2**31 is checked): they        \
             * vectorize where int64 multiplies do not */                    \
            uint32_t count = 0, at = 0;                                      \
            for (Py_ssize_t j = 0; j < k; j++) {                             \
                uint32_t nz = 0u - (uint32_t)(v[j] != 0);                    \
                count -= nz;                                                 \
                at += (uint32_t)j & nz;                                      \
            }                                                                \
            if (count > 1) {                                                 \
                return 0;                                                    \
            }                                                                \
            if (count == 0) {                                                \
                memset(o, 0, (size_t)m * sizeof(T));                         \
                continue;                                                    \
            }                                                                \
            T s = v[at];                                                     \
            if (ta) {           /* op(a)[:, j] = a[j, :], contiguous */      \
                const T *col = pa + at * m;                                  \
                for (Py_ssize_t i = 0; i < m; i++) {                         \
                    o[i] = s * col[i];                                       \
                }                                                            \
            }                                                                \
            else {              /* a[:, j], stride k */                      \
                for (Py_ssize_t i = 0; i < m; i++) {                         \
                    o[i] = s * pa[i * k + at];                               \
                }                                                            \
            }                                                                \
        }                                                                    \
        return 1;                                                            \
    } while (0)

static int
onehot_matvec(TensorObject *a, TensorObject *b, int ta, Py_ssize_t batch,
              Py_ssize_t m, Py_ssize_t k, char *out)
{
    if (k >= INT32_MAX) {
        return 0;
    }
    switch (a->dtype) {
        case TG_FLOAT32: ONEHOT_MATVEC(float, uint32_t, 0x7f800000u);
        case TG_FLOAT64:
            ONEHOT_MATVEC(double, uint64_t, 0x7ff0000000000000ull);
        default: return 0;
    }
}
#undef ONEHOT_MATVEC

/* out = op(a) @ op(b) through NumPy's matmul gufunc loop, called directly
 * (BLAS gemm/gemv for float32/float64, exactly what np.matmul runs, minus
 * ~1.5 us of array wrapping and dispatch).  `out` has the broadcast batch
 * shape + (m, n); op transposes the last two dims when ta / tb, which is
 * only a choice of strides.  The loop runs the innermost batch dim, our
 * odometer the others.  0 if NumPy has no loop for the dtype. */
int
tg_matmul_numpy_loop(TensorObject *a, TensorObject *b, int ta, int tb,
                     TensorObject *out)
{
    int npt = tg_dtype_npy[a->dtype];
    const loop_entry *e = numpy_loop("matmul", 2, npt, npt, npt);
    if (e == NULL) {
        return 0;
    }
    npy_intp isz = tg_dtype_size[a->dtype];
    int nd = out->ndim, nb = nd - 2;
    Py_ssize_t ar = a->shape[a->ndim - 2], ac = a->shape[a->ndim - 1];
    Py_ssize_t br = b->shape[b->ndim - 2], bc = b->shape[b->ndim - 1];
    Py_ssize_t m = out->shape[nd - 2], n = out->shape[nd - 1];
    Py_ssize_t k = ta ? ar : ac;
    /* byte strides per batch dim (0 where an operand broadcasts) */
    Py_ssize_t sa[TG_MAXDIMS], sb[TG_MAXDIMS], so[TG_MAXDIMS];
    Py_ssize_t idx[TG_MAXDIMS];
    npy_intp ea = ar * ac * isz, eb = br * bc * isz, eo = m * n * isz;
    for (int d = nb - 1; d >= 0; d--) {
        int da = a->ndim - 2 - nb + d, db = b->ndim - 2 - nb + d;
        Py_ssize_t la = da >= 0 ? a->shape[da] : 1;
        Py_ssize_t lb = db >= 0 ? b->shape[db] : 1;
        sa[d] = la == 1 ? 0 : ea;
        sb[d] = lb == 1 ? 0 : eb;
        so[d] = eo;
        ea *= la;
        eb *= lb;
        eo *= out->shape[d];
        idx[d] = 0;
    }
    npy_intp dims[4] = {nb > 0 ? out->shape[nb - 1] : 1, m, k, n};
    npy_intp steps[9] = {
        nb > 0 ? sa[nb - 1] : 0, nb > 0 ? sb[nb - 1] : 0,
        nb > 0 ? so[nb - 1] : 0,
        ta ? isz : ac * isz, ta ? ac * isz : isz,   /* a: along m, along k */
        tb ? isz : bc * isz, tb ? bc * isz : isz,   /* b: along k, along n */
        n * isz, isz};                             /* out: along m, n */
    Py_ssize_t oa = 0, ob = 0, batch = 1;
    char *po = out->data;
    int a_full = 1, a_same = 1, b_full = 1, b_same = 1, folded = 0;
    for (int d = 0; d < nb; d++) {
        batch *= out->shape[d];
        if (out->shape[d] != 1) {
            a_full &= sa[d] != 0;
            a_same &= sa[d] == 0;
            b_full &= sb[d] != 0;
            b_same &= sb[d] == 0;
        }
    }
    /* big products release the GIL, as np.matmul does: the operands are
     * immutable tensors we hold and `out` is not shared yet */
    int threads = (double)batch * (double)m * (double)n * (double)k > 1e5;
    PyThreadState *ts = threads ? PyEval_SaveThread() : NULL;
    /* A batch against one matrix is one product, not one BLAS call per
     * matrix (NumPy's loop makes one each: 100 matrix-vector products
     * cost 33 us that way, 4 us as one product):
     *  - a batch of `a` (not transposed) times one `b`: a's rows run on
     *    contiguously across the batch, [batch * m, k] @ op(b);
     *  - one `a` times a batch of vectors (n == 1: a Jacobian's batched
     *    cotangents in a matvec's vjp): out[batch, m] = b[batch, k] @
     *    op(a)^T, every operand read in place. */
    if (batch > 1 && a_full && b_same && !ta) {
        npy_intp fdims[4] = {1, batch * m, k, n};
        char *args[3] = {a->data, b->data, po};
        e->fn(args, fdims, steps, e->data);
        folded = 1;
    }
    else if (batch > 1 && a_same && b_full && n == 1 &&
             onehot_matvec(a, b, ta, batch, m, k, po)) {
        folded = 1;
    }
    else if (batch > 1 && a_same && b_full && n == 1) {
        npy_intp fdims[4] = {1, batch, k, m};
        npy_intp fsteps[9] = {0, 0, 0, k * isz, isz,
                              ta ? ac * isz : isz, ta ? isz : ac * isz,
                              m * isz, isz};
        char *args[3] = {b->data, a->data, po};
        e->fn(args, fdims, fsteps, e->data);
        folded = 1;
    }
    for (; !folded;) {
        char *args[3] = {a->data + oa, b->data + ob, po};
        e->fn(args, dims, steps, e->data);
        po += dims[0] * steps[2];
        if (!odometer_next(nb - 2, out->shape, idx, sa, sb, &oa, &ob)) {
            break;
        }
    }
    if (ts != NULL) {
        PyEval_RestoreThread(ts);
    }
    npy_clear_floatstatus_barrier((char *)&nd);
    return 1;
}

/* NumPy's matmul inner loop for `dtype` (float32/float64), for callers
 * that run products on raw buffers (ops_conv.c): 0 if there is none.
 * Looked up with the GIL held; the loop itself may then run without it. */
int
tg_gemm_loop(int dtype, tg_gemm *gm)
{
    const loop_entry *e;
    int npt = tg_dtype_npy[dtype];
    e = numpy_loop("matmul", 2, npt, npt, npt);
    if (e == NULL) {
        return 0;
    }
    gm->fn = e->fn;
    gm->data = e->data;
    gm->isz = tg_dtype_size[dtype];
    return 1;
}

/* c[m, n] = a[m, k] @ b[k, n], every operand given by element strides
 * (NumPy's loop hands BLAS any operand with one unit stride, transposed
 * or not).  Needs no GIL. */
void
tg_gemm_run(const tg_gemm *gm, Py_ssize_t m, Py_ssize_t k, Py_ssize_t n,
            const char *a, Py_ssize_t am, Py_ssize_t ak, const char *b,
            Py_ssize_t bk, Py_ssize_t bn, char *c, Py_ssize_t cm,
            Py_ssize_t cn)
{
    npy_intp z = gm->isz;
    npy_intp dims[4] = {1, m, k, n};
    npy_intp steps[9] = {0, 0, 0, am * z, ak * z, bk * z, bn * z, cm * z,
                         cn * z};
    char *args[3] = {(char *)a, (char *)b, c};
    gm->fn(args, dims, steps, gm->data);
}

static int
ufunc_into(const char *name, int nin, TensorObject **in, TensorObject *out)
{
    PyObject *ufunc = tg_numpy_ufunc(name);
    PyObject *args[4] = {NULL, NULL, NULL, NULL};
    PyObject *kwnames = NULL, *res = NULL;
    int rc = -1;
    if (ufunc == NULL) {
        return -1;
    }
    for (int i = 0; i < nin; i++) {
        args[i + 1] = tg_tensor_as_array(in[i]);
        if (args[i + 1] == NULL) {
            goto done;
        }
    }
    args[nin + 1] = tg_tensor_as_array(out);
    if (args[nin + 1] == NULL) {
        goto done;
    }
    /* the output view is read-only for users; make it writeable here */
    PyArray_ENABLEFLAGS((PyArrayObject *)args[nin + 1], NPY_ARRAY_WRITEABLE);
    kwnames = Py_BuildValue("(s)", "out");
    if (kwnames == NULL) {
        goto done;
    }
    res = tg_np_vectorcall(ufunc, args + 1,
                           nin | PY_VECTORCALL_ARGUMENTS_OFFSET, kwnames);
    if (res != NULL) {
        rc = 0;
    }
done:
    for (int i = 1; i <= nin + 1; i++) {
        Py_XDECREF(args[i]);
    }
    Py_XDECREF(kwnames);
    Py_XDECREF(res);
    return rc;
}

int
tg_binary_kernel(int op, TensorObject *a, TensorObject *b, TensorObject *out)
{
    if (out->size == 0) {
        return 0;
    }
    if (out->size > 32 && tg_is_float(a->dtype) && out->dtype == a->dtype &&
        tg_binary_numpy_loop(binary_ufunc_name(op), a, b, out)) {
        /* NumPy's AVX loops (IEEE-exact, as ours): ours, one loop of many
         * in this function, keeps a spill in its body and ran 3x slower
         * at 1e5 float32 elements (L2-resident) */
        return 0;
    }
    if (out->dtype == a->dtype) {
        switch (op) {
            case TG_OP_add:
                BIN_DISPATCH_FLOAT(x + y);
                BIN_DISPATCH_INT((uint64_t)x + (uint64_t)y);
                break;
            case TG_OP_subtract:
                BIN_DISPATCH_FLOAT(x - y);
                BIN_DISPATCH_INT((uint64_t)x - (uint64_t)y);
                break;
            case TG_OP_multiply:
                BIN_DISPATCH_FLOAT(x * y);
                BIN_DISPATCH_INT((uint64_t)x * (uint64_t)y);
                break;
            case TG_OP_divide:
                BIN_DISPATCH_FLOAT(x / y);
                break;
            default:
                break;
        }
    }
    const char *name = binary_ufunc_name(op);
    if (name == NULL) {
        PyErr_Format(PyExc_SystemError, "tapegrad: no kernel for op %d", op);
        return -1;
    }
    int rc = tg_binary_numpy_loop(name, a, b, out);
    if (rc != 0) {
        return rc < 0 ? -1 : 0;
    }
    TensorObject *in[2] = {a, b};
    return ufunc_into(name, 2, in, out);
}

/* ---- unary loops ------------------------------------------------------------ */
#define UN_LOOP(T, EXPR)                                                     \
    do {                                                                     \
        const T *px = (const T *)x->data;                                    \
        T *po = (T *)out->data;                                              \
        for (Py_ssize_t i = 0; i < x->size; i++) {                           \
            T v = px[i];                                                     \
            po[i] = (EXPR);                                                  \
        }                                                                    \
    } while (0)

#define UN_DISPATCH(EF, ED)                                                  \
    switch (x->dtype) {                                                      \
        case TG_FLOAT32: {                                                   \
            PyThreadState *ts_ = tg_nogil_begin(x->size);                    \
            UN_LOOP(float, EF);                                              \
            tg_nogil_end(ts_);                                               \
            return 0;                                                        \
        }                                                                    \
        case TG_FLOAT64: {                                                   \
            PyThreadState *ts_ = tg_nogil_begin(x->size);                    \
            UN_LOOP(double, ED);                                             \
            tg_nogil_end(ts_);                                               \
            return 0;                                                        \
        }                                                                    \
        default:                                                             \
            break;                                                           \
    }

static inline float
sigmoidf_(float v)
{
    if (v >= 0) {
        return 1.0f / (1.0f + expf(-v));
    }
    float e = expf(v);
    return e / (1.0f + e);
}

static inline double
sigmoid_(double v)
{
    if (v >= 0) {
        return 1.0 / (1.0 + exp(-v));
    }
    double e = exp(v);
    return e / (1.0 + e);
}

/* softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows */
static inline float
softplusf_(float v)
{
    return (v > 0 ? v : 0.0f) + log1pf(expf(-fabsf(v)));
}

static inline double
softplus_(double v)
{
    return (v > 0 ? v : 0.0) + log1p(exp(-fabs(v)));
}

static const char *
unary_ufunc_name(int op)
{
    switch (op) {
        case TG_OP_negative: return "negative";
        case TG_OP_sin: return "sin";
        case TG_OP_cos: return "cos";
        case TG_OP_exp: return "exp";
        case TG_OP_log: return "log";
        default: return NULL;
    }
}

int
tg_unary_kernel(int op, TensorObject *x, TensorObject *out)
{
    if (x->size == 0) {
        return 0;
    }
    if (tg_is_float(x->dtype) && op != TG_OP_negative) {
        /* NumPy's SIMD loops beat libm's scalar sinf/expf ~10x on big
         * arrays and cost nothing extra on small ones */
        const char *name = unary_ufunc_name(op);
        int rc = name != NULL ? tg_unary_numpy_loop(name, x, out) : 0;
        if (rc != 0) {
            return rc < 0 ? -1 : 0;
        }
    }
    switch (op) {
        case TG_OP_negative:
            UN_DISPATCH(-v, -v);
            if (x->dtype == TG_INT32) {
                UN_LOOP(int32_t, (int32_t)(0u - (uint32_t)v));
                return 0;
            }
            if (x->dtype == TG_INT64) {
                UN_LOOP(int64_t, (int64_t)(0u - (uint64_t)v));
                return 0;
            }
            break;
        case TG_OP_sin: UN_DISPATCH(sinf(v), sin(v)); break;
        case TG_OP_cos: UN_DISPATCH(cosf(v), cos(v)); break;
        case TG_OP_exp: UN_DISPATCH(expf(v), exp(v)); break;
        case TG_OP_log: UN_DISPATCH(logf(v), log(v)); break;
        case TG_OP_sigmoid: UN_DISPATCH(sigmoidf_(v), sigmoid_(v)); break;
        case TG_OP_softplus: UN_DISPATCH(softplusf_(v), softplus_(v)); break;
        case TG_OP_relu:
            /* NaN propagates: (v > 0) is false for NaN, so test v <= 0 */
            UN_DISPATCH(v <= 0 ? 0.0f : v, v <= 0 ? 0.0 : v);
            break;
        default:
            break;
    }
    /* float16: compute in float32 through NumPy and round back */
    if (x->dtype == TG_FLOAT16) {
        const char *name = unary_ufunc_name(op);
        if (name != NULL) {
            TensorObject *in[1] = {x};
            return ufunc_into(name, 1, in, out);
        }
        /* no NumPy ufunc (sigmoid, softplus, relu): run the float32 loop
         * and round back, as TF's half kernels compute in float */
        TensorObject *x32 = tg_ufunc_apply(NULL, 1, &x, TG_FLOAT32);
        TensorObject *o32 = NULL, *o16 = NULL;
        int rc = -1;
        if (x32 != NULL &&
            (o32 = tg_tensor_new(TG_FLOAT32, x->ndim, x->shape)) != NULL &&
            tg_unary_kernel(op, x32, o32) == 0 &&
            (o16 = tg_ufunc_apply(NULL, 1, &o32, TG_FLOAT16)) != NULL) {
            memcpy(out->data, o16->data, (size_t)out->size * 2);
            rc = 0;
        }
        Py_XDECREF(x32);
        Py_XDECREF(o32);
        Py_XDECREF(o16);
        return rc;
    }
    PyErr_Format(PyExc_SystemError, "tapegrad: no unary kernel for op %d",
                 op);
    return -1;
}

/* ---- NumPy bridges ---------------------------------------------------------- */

/* `owner.attr`, looked up once and kept under `key` in the cache in module
 * state (borrowed).  Per call, a lookup by name would make a fresh name
 * string, and a method a fresh bound method; CPython 3.11's type attribute
 * cache also keeps a reference to each fresh name string (it is keyed by
 * the string's address), up to 4096 of them. */
PyObject *
tg_numpy_attr_cached(const char *key, PyObject *owner, const char *attr)
{
    PyObject *f = PyDict_GetItemString(tg_st->numpy_cache, key);
    if (f != NULL) {
        return f;
    }
    /* by an interned name: one string object however often a failing
     * allocation makes the lookup above miss, not one more kept by the
     * type cache each time */
    PyObject *name = PyUnicode_InternFromString(attr);
    f = name != NULL ? PyObject_GetAttr(owner, name) : NULL;
    Py_XDECREF(name);
    if (f == NULL) {
        return NULL;
    }
    if (PyDict_SetItemString(tg_st->numpy_cache, key, f) < 0) {
        Py_DECREF(f);
        return NULL;
    }
    Py_DECREF(f);
    return f;
}

/* NumPy's function `name` (borrowed, cached) */
PyObject *
tg_numpy_ufunc(const char *name)
{
    return tg_numpy_attr_cached(name, tg_st->numpy, name);
}

/* NumPy's `name`.reduce, a bound method of the ufunc (borrowed, cached) */
PyObject *
tg_numpy_ufunc_reduce(const char *name)
{
    char key[64];
    PyObject *f = tg_numpy_ufunc(name);
    PyOS_snprintf(key, sizeof(key), "%s.reduce", name);
    return f == NULL ? NULL : tg_numpy_attr_cached(key, f, "reduce");
}

/* ---- NumPy's floating-point error state -----------------------------------
 * NumPy reports an overflow or invalid value met by a cast ("overflow
 * encountered in cast") or a ufunc as a RuntimeWarning, following
 * np.errstate, a context variable.  TF never warns there: a value beyond a
 * float type's range becomes inf, a float beyond an integer type's range
 * (or NaN) becomes what the CPU's conversion gives (INT_MIN on x86, as TF's
 * Cast kernel), an int64 beyond int32 wraps.  So every cast tapegrad asks of
 * NumPy runs under errstate(all='ignore'); the values are NumPy's, which
 * are those. */
/* How: NumPy reads its error state from a context variable.  Setting it
 * per call (PyContextVar_Set/Reset) allocates a token and a HAMT node, and
 * CPython's PyContextVar_Set crashes when both allocations fail (its token
 * is not NULL-checked: Py_DECREF(NULL)), which tools/run_nomemory.py hit.
 * So each thread gets, once, its own copy of a Context in which NumPy's
 * error state is errstate(all='ignore') (kept in the thread-state dict,
 * freed with the thread), and a quiet call enters and exits it:
 * PyContext_Enter/Exit allocate nothing.  Inside, a NumPy call sees only
 * that variable, which is all the C code of a ufunc or cast reads. */
static PyObject *quiet_template;  /* Context: NumPy's extobj = quiet */
static PyObject *quiet_key;       /* its per-thread copy's key */
static _Thread_local int quiet_depth;
static int quiet_unavailable;     /* this NumPy has no _extobj_contextvar */

int
tg_quiet_init(void)
{
    if (quiet_template != NULL || quiet_unavailable) {
        return 0;
    }
    PyObject *um = PyImport_ImportModule("numpy._core.umath");
    PyObject *make = um ? PyObject_GetAttrString(um, "_make_extobj") : NULL;
    PyObject *var = make ? PyObject_GetAttrString(um, "_extobj_contextvar")
                         : NULL;
    PyObject *kw = var ? Py_BuildValue("{ss}", "all", "ignore") : NULL;
    PyObject *empty = kw ? PyTuple_New(0) : NULL;
    PyObject *quiet = empty ? PyObject_Call(make, empty, kw) : NULL;
    PyObject *ctx = quiet ? PyContext_New() : NULL;
    PyObject *key = ctx ? PyUnicode_InternFromString("tapegrad._quiet_context")
                        : NULL;
    int rc = -1;
    if (key != NULL && PyContext_Enter(ctx) == 0) {
        PyObject *tok = PyContextVar_Set(var, quiet);
        rc = PyContext_Exit(ctx);
        if (tok == NULL) {
            rc = -1;
        }
        Py_XDECREF(tok);
    }
    Py_XDECREF(um);
    Py_XDECREF(make);
    Py_XDECREF(var);
    Py_XDECREF(kw);
    Py_XDECREF(empty);
    Py_XDECREF(quiet);
    if (rc < 0) {
        Py_XDECREF(ctx);
        Py_XDECREF(key);
        if (PyErr_ExceptionMatches(PyExc_AttributeError) ||
            PyErr_ExceptionMatches(PyExc_ImportError)) {
            /* NumPy moved its private errstate machinery: run NumPy calls
             * as they are (they may warn) rather than not at all */
            PyErr_Clear();
            quiet_unavailable = 1;
            return 0;
        }
        return -1;
    }
    quiet_template = ctx;
    quiet_key = key;
    return 0;
}

/* The calling thread's quiet Context (borrowed), copied on first use. */
static PyObject *
quiet_context(void)
{
    PyObject *dict, *ctx;
    if (tg_quiet_init() < 0) {
        return NULL;
    }
    dict = PyThreadState_GetDict();
    if (dict == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tapegrad: no thread state");
        return NULL;
    }
    ctx = PyDict_GetItemWithError(dict, quiet_key);
    if (ctx != NULL || PyErr_Occurred()) {
        return ctx;
    }
    ctx = PyContext_Copy(quiet_template);
    if (ctx == NULL || PyDict_SetItem(dict, quiet_key, ctx) < 0) {
        Py_XDECREF(ctx);
        return NULL;
    }
    Py_DECREF(ctx); /* the thread-state dict owns it */
    return ctx;
}

PyObject *
tg_quiet_begin(void)
{
    if (quiet_depth > 0 || tg_quiet_init() < 0 || quiet_unavailable) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        quiet_depth++;               /* nested, or nothing to enter */
        return Py_NewRef(Py_None);
    }
    PyObject *ctx = quiet_context();
    if (ctx == NULL || PyContext_Enter(ctx) < 0) {
        return NULL;
    }
    quiet_depth = 1;
    return Py_NewRef(ctx);
}

int
tg_quiet_end(PyObject *token)
{
    PyObject *et, *ev, *tb;
    int rc;
    if (token == NULL) {
        return 0;
    }
    quiet_depth--;
    if (token == Py_None) {
        Py_DECREF(token);
        return 0;
    }
    PyErr_Fetch(&et, &ev, &tb);
    rc = PyContext_Exit(token);
    Py_DECREF(token);
    if (rc < 0) {
        /* the exit's own error wins: the caller must fail */
        Py_XDECREF(et);
        Py_XDECREF(ev);
        Py_XDECREF(tb);
        return -1;
    }
    PyErr_Restore(et, ev, tb);
    return 0;
}

/* NumPy 2.x sometimes loses the MemoryError of a failed allocation and
 * returns NULL with no exception: a C-API call then just fails, a call
 * through the Python API becomes CPython's SystemError "... returned NULL
 * without setting an exception" (run_nomemory.py finds both in np.add.reduce,
 * the linalg gufuncs and einsum, with NumPy alone).  A SystemError means an
 * interpreter bug to users; this is NumPy out of memory, so say so. */
void
tg_np_lost_error(void)
{
    /* PyErr_NoMemory: MemoryError's preallocated instances, no message to
     * allocate while memory is short */
    if (!PyErr_Occurred()) {
        PyErr_NoMemory();
        return;
    }
    if (!PyErr_ExceptionMatches(PyExc_SystemError)) {
        return;
    }
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    const char *msg = NULL;
    if (ev != NULL && PyUnicode_Check(ev)) {
        msg = PyUnicode_AsUTF8(ev);        /* ASCII: no allocation */
    }
    else if (ev != NULL && PyExceptionInstance_Check(ev) &&
             PyTuple_Check(((PyBaseExceptionObject *)ev)->args) &&
             PyTuple_GET_SIZE(((PyBaseExceptionObject *)ev)->args) == 1 &&
             PyUnicode_Check(
                 PyTuple_GET_ITEM(((PyBaseExceptionObject *)ev)->args, 0))) {
        msg = PyUnicode_AsUTF8(
            PyTuple_GET_ITEM(((PyBaseExceptionObject *)ev)->args, 0));
    }
    if (msg != NULL && (strstr(msg, "without setting an exception") ||
                        strstr(msg, "error return without exception set"))) {
        Py_XDECREF(et);
        Py_XDECREF(ev);
        Py_XDECREF(tb);
        PyErr_NoMemory();
        return;
    }
    PyErr_Clear();                     /* PyUnicode_AsUTF8 may have failed */
    PyErr_Restore(et, ev, tb);
}

/* PyArray_CopyInto, casting to dst's dtype without NumPy's warnings */
int
tg_copy_into(PyArrayObject *dst, PyArrayObject *src)
{
    if (PyArray_EquivTypes(PyArray_DESCR(dst), PyArray_DESCR(src))) {
        return PyArray_CopyInto(dst, src);      /* no cast: nothing to warn */
    }
    PyObject *token = tg_quiet_begin();
    if (token == NULL) {
        return -1;
    }
    int rc = PyArray_CopyInto(dst, src);
    if (rc < 0) {
        tg_np_lost_error();
    }
    if (tg_quiet_end(token) < 0) {
        rc = -1;
    }
    return rc;
}

/* NumPy's ufuncs and reductions warn the same way ("invalid value
 * encountered in matmul" for a NaN, "overflow encountered in reduce");
 * TF's kernels do not.  Every NumPy function tapegrad calls through the
 * Python API goes through these two. */
/* The end of a quiet NumPy call that began with `token` and gave `r`. */
static PyObject *
np_call_end(PyObject *token, PyObject *r)
{
    if (r == NULL && token != NULL) {
        tg_np_lost_error();
    }
    if (tg_quiet_end(token) < 0) {
        Py_CLEAR(r);
    }
    return r;
}

PyObject *
tg_np_vectorcall(PyObject *f, PyObject *const *args, size_t nargsf,
                 PyObject *kwnames)
{
    if (f == NULL) {
        return NULL;                 /* the lookup failed: error is set */
    }
    PyObject *token = tg_quiet_begin();
    return np_call_end(token, token ? PyObject_Vectorcall(f, args, nargsf,
                                                          kwnames)
                                    : NULL);
}

PyObject *
tg_np_call(PyObject *f, PyObject *args, PyObject *kw)
{
    if (f == NULL || args == NULL) {
        return NULL;
    }
    PyObject *token = tg_quiet_begin();
    return np_call_end(token, token ? PyObject_Call(f, args, kw) : NULL);
}

/* A new array: arr cast to npy_type, without NumPy's warnings */
PyObject *
tg_cast_array(PyArrayObject *arr, int npy_type)
{
    PyArray_Descr *d = PyArray_DescrFromType(npy_type);
    if (d == NULL) {
        return NULL;
    }
    PyObject *token = tg_quiet_begin();
    if (token == NULL) {
        Py_DECREF(d);
        return NULL;
    }
    PyObject *r = PyArray_CastToType(arr, d, 0);      /* steals d */
    if (r == NULL) {
        tg_np_lost_error();
    }
    if (tg_quiet_end(token) < 0) {
        Py_CLEAR(r);
    }
    return r;
}

/* Apply ufunc `name` (or, with name NULL, a plain cast) and return a new
 * tensor of `out_dtype` (-1: whatever NumPy returns). */
TensorObject *
tg_ufunc_apply(const char *name, int nin, TensorObject **in, int out_dtype)
{
    PyObject *args[3] = {NULL, NULL, NULL};
    PyObject *res = NULL;
    TensorObject *t = NULL;
    for (int i = 0; i < nin; i++) {
        args[i] = tg_tensor_as_array(in[i]);
        if (args[i] == NULL) {
            goto done;
        }
    }
    if (name == NULL) {
        res = tg_cast_array((PyArrayObject *)args[0], tg_dtype_npy[out_dtype]);
    }
    else {
        PyObject *f = tg_numpy_ufunc(name);
        if (f == NULL) {
            goto done;
        }
        res = tg_np_vectorcall(f, args, nin, NULL);
    }
    if (res == NULL) {
        goto done;
    }
    if (!PyArray_Check(res)) {
        Py_SETREF(res, PyArray_FromAny(res, NULL, 0, 0, 0, NULL));
        if (res == NULL) {
            goto done;
        }
    }
    t = tg_tensor_from_array((PyArrayObject *)res, out_dtype);
done:
    for (int i = 0; i < nin; i++) {
        Py_XDECREF(args[i]);
    }
    Py_XDECREF(res);
    return t;
}

/* ---- reductions --------------------------------------------------------------- */

/* ---- float32 sum of a large array -----------------------------------------
 * NumPy's pairwise sum (its add loop in reduce form) ran at a third of
 * memory speed on AMD Zen 5 (220 us for 1e6 float32, against 61 us for
 * the BLAS dot of the same array), the largest single step of the
 * elementwise benchmark's forward after sin.  Here SUM_LANES double
 * accumulators take the elements in turn, as the small arrays' one
 * double does: the float32 result is the exact sum correctly rounded
 * but for the double's own rounding, which is more accurate than NumPy's
 * float32 pairwise sum whatever the data (float32 lanes, 49 us, were up
 * to 340 ulps worse than NumPy on alternating signs).  The lanes are
 * independent IEEE additions (no reassociation, no fused multiply-add),
 * so the compiler vectorises them as written and the result is the same
 * bits whichever variant below runs: 85 us with AVX2, 136 us without. */
#define SUM_LANES 16

#define SUM_F32_BODY                                                         \
    double acc[SUM_LANES] = {0};                                             \
    Py_ssize_t i = 0, whole = n / SUM_LANES * SUM_LANES;                     \
    for (; i < whole; i += SUM_LANES) {                                      \
        for (int j = 0; j < SUM_LANES; j++) {                                \
            acc[j] += p[i + j];                                              \
        }                                                                    \
    }                                                                        \
    for (int w = SUM_LANES / 2; w > 0; w /= 2) {                             \
        for (int j = 0; j < w; j++) {                                        \
            acc[j] += acc[j + w];                                            \
        }                                                                    \
    }                                                                        \
    double s = acc[0];                                                       \
    for (; i < n; i++) {                                                     \
        s += p[i];                                                           \
    }                                                                        \
    return (float)s;

static float
sum_f32_base(const float *p, Py_ssize_t n)
{
    SUM_F32_BODY
}

/* The same loop built for AVX2 (twice the lanes per instruction),
 * chosen at run time. */
#if defined(__x86_64__) && defined(__GNUC__)
#define SUM_F32_AVX2 1
__attribute__((target("avx2"))) static float
sum_f32_avx2(const float *p, Py_ssize_t n)
{
    SUM_F32_BODY
}
#endif

typedef float (*sum_f32_fn)(const float *, Py_ssize_t);

/* the variant for this CPU; with the GIL held (picked once) */
static sum_f32_fn
sum_f32_pick(void)
{
    static sum_f32_fn picked = NULL;
    if (picked == NULL) {
        picked = sum_f32_base;
#ifdef SUM_F32_AVX2
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2")) {
            picked = sum_f32_avx2;
        }
#endif
    }
    return picked;
}

/* Sum every element of `x` into the scalar `out` (same dtype).  float32
 * accumulates in double (in SUM_LANES lanes when large). */
int
tg_sum_all(TensorObject *x, TensorObject *out)
{
    Py_ssize_t n = x->size;
    switch (x->dtype) {
        case TG_FLOAT32: {
            const float *p = (const float *)x->data;
            if (n > 4096) {
                sum_f32_fn sum = sum_f32_pick();
                PyThreadState *ts = tg_nogil_begin(n);
                float r = sum(p, n);
                tg_nogil_end(ts);
                *(float *)out->data = r;
                return 0;
            }
            double s = 0;
            for (Py_ssize_t i = 0; i < n; i++) {
                s += p[i];
            }
            *(float *)out->data = (float)s;
            return 0;
        }
        case TG_FLOAT64: {
            const double *p = (const double *)x->data;
            double s[4] = {0, 0, 0, 0};
            Py_ssize_t i = 0;
            for (; i + 4 <= n; i += 4) {
                s[0] += p[i];
                s[1] += p[i + 1];
                s[2] += p[i + 2];
                s[3] += p[i + 3];
            }
            for (; i < n; i++) {
                s[0] += p[i];
            }
            *(double *)out->data = (s[0] + s[1]) + (s[2] + s[3]);
            return 0;
        }
        case TG_INT32: {
            const int32_t *p = (const int32_t *)x->data;
            uint32_t s = 0;
            for (Py_ssize_t i = 0; i < n; i++) {
                s += (uint32_t)p[i];
            }
            *(int32_t *)out->data = (int32_t)s;
            return 0;
        }
        case TG_INT64: {
            const int64_t *p = (const int64_t *)x->data;
            uint64_t s = 0;
            for (Py_ssize_t i = 0; i < n; i++) {
                s += (uint64_t)p[i];
            }
            *(int64_t *)out->data = (int64_t)s;
            return 0;
        }
        default:
            PyErr_SetString(PyExc_SystemError, "tapegrad: tg_sum_all dtype");
            return -1;
    }
}
