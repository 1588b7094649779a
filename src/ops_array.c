/* ops_array.c -- forwards and vjps of the rows in ops_array.def: shapes,
 * joining, indexing and creation (transpose, stack, gather, pad, ...).
 *
 * Data movement here never needs arithmetic, so the forwards are plain C
 * copies over element bytes (any dtype): a strided/permuted copy
 * (transpose), a per-axis index map (reverse, tile, pad) and a block map
 * (gather, gather_nd).  The adjoint of each copy is a scatter-add through
 * the same map, which is its own row, whose vjp is the copy again: so
 * gradients of every order close over these rows.
 */
#include "vjp.h"
#include <math.h>
#include <float.h>

/* ---- element helpers ------------------------------------------------------ */

/* one element of `isz` bytes: constant-size memcpy compiles to a move */
static inline void
elem_copy(char *dst, const char *src, size_t isz)
{
    switch (isz) {
        case 8: memcpy(dst, src, 8); break;
        case 4: memcpy(dst, src, 4); break;
        case 2: memcpy(dst, src, 2); break;
        default: *dst = *src; break;
    }
}

/* *dst += *src in dtype `dt` (float16 through float, as NumPy does) */
static inline void
elem_add(int dt, char *dst, const char *src)
{
    switch (dt) {
        case TG_FLOAT16: {
            npy_half a, b;
            memcpy(&a, dst, 2);
            memcpy(&b, src, 2);
            a = npy_float_to_half(npy_half_to_float(a) +
                                  npy_half_to_float(b));
            memcpy(dst, &a, 2);
            break;
        }
        case TG_FLOAT32: *(float *)dst += *(const float *)src; break;
        case TG_FLOAT64: *(double *)dst += *(const double *)src; break;
        case TG_INT32:
            *(int32_t *)dst = (int32_t)((uint32_t) * (int32_t *)dst +
                                        (uint32_t) * (const int32_t *)src);
            break;
        case TG_INT64:
            *(int64_t *)dst = (int64_t)((uint64_t) * (int64_t *)dst +
                                        (uint64_t) * (const int64_t *)src);
            break;
        default: *dst = (char)(*dst || *src); break;
    }
}

static Py_ssize_t
prod(const Py_ssize_t *shape, int lo, int hi)
{
    Py_ssize_t n = 1;
    for (int i = lo; i < hi; i++) {
        n *= shape[i];
    }
    return n;
}

/* ---- argument helpers ----------------------------------------------------- */

static inline int64_t
index_at(const TensorObject *t, Py_ssize_t i)
{
    return t->dtype == TG_INT32 ? ((const int32_t *)t->data)[i]
                                : ((const int64_t *)t->data)[i];
}

/* "i,j" for flat position `flat` of a tensor of shape[0..nd) */
static void
position_str(char *buf, size_t n, int nd, const Py_ssize_t *shape,
             Py_ssize_t flat)
{
    Py_ssize_t idx[TG_MAXDIMS];
    size_t used = 0;
    for (int k = nd - 1; k >= 0; k--) {
        idx[k] = shape[k] ? flat % shape[k] : 0;
        flat = shape[k] ? flat / shape[k] : 0;
    }
    buf[0] = '\0';
    for (int k = 0; k < nd && used + 24 < n; k++) {
        used += (size_t)snprintf(buf + used, n - used, k ? ",%zd" : "%zd",
                                 idx[k]);
    }
}

/* a new list of ints */
static PyObject *
int_list(int n, const Py_ssize_t *v)
{
    PyObject *l = PyList_New(n);
    for (int i = 0; l && i < n; i++) {
        PyObject *o = PyLong_FromSsize_t(v[i]);
        if (o == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, i, o);
    }
    return l;
}

/* (slice(None),) * axis + (last,): selects along `axis` (steals `last`) */
static PyObject *
axis_key(int axis, PyObject *last)
{
    PyObject *key;
    if (last == NULL) {
        return NULL;
    }
    key = PyTuple_New(axis + 1);
    if (key == NULL) {
        Py_DECREF(last);
        return NULL;
    }
    for (int d = 0; d < axis; d++) {
        PyObject *s = PySlice_New(NULL, NULL, NULL);
        if (s == NULL) {
            Py_DECREF(key);
            Py_DECREF(last);
            return NULL;
        }
        PyTuple_SET_ITEM(key, d, s);
    }
    PyTuple_SET_ITEM(key, axis, last);
    return key;
}

static PyObject *
slice_obj(Py_ssize_t lo, Py_ssize_t hi)
{
    PyObject *a = PyLong_FromSsize_t(lo), *b = PyLong_FromSsize_t(hi);
    PyObject *s = (a && b) ? PySlice_New(a, b, NULL) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return s;
}

/* getitem(x, key), recorded (steals `key`) */
static PyObject *
take_key(PyObject *x, PyObject *key)
{
    PyObject *a = key ? PyTuple_Pack(1, key) : NULL, *r;
    Py_XDECREF(key);
    if (a == NULL) {
        return NULL;
    }
    r = tg_op1(TG_OP_getitem, x, a);
    Py_DECREF(a);
    return r;
}

/* paddings as a list of [before, after] pairs for a cotangent: a leading
 * [0, 0] for the batch dimension in a batched sweep */
static PyObject *
batch_paddings(const tg_vjp_ctx *c, int ndim, const Py_ssize_t *before,
               const Py_ssize_t *after)
{
    PyObject *l = PyList_New(0);
    for (int k = -c->batch; l && k < ndim; k++) {
        PyObject *pair = k < 0 ? Py_BuildValue("[ii]", 0, 0)
                               : Py_BuildValue("[nn]", before[k], after[k]);
        if (pair == NULL || PyList_Append(l, pair) < 0) {
            Py_CLEAR(l);
        }
        Py_XDECREF(pair);
    }
    return l;
}

/* ---- per-axis index maps ---------------------------------------------------
 * out[j_0, ..., j_n-1] = x[map_0[j_0], ..., map_n-1[j_n-1]], or `fill`
 * where an entry is -1 (pad's border).  The adjoint adds g back through
 * the same maps.  Loops over the last axis innermost.
 */
static void
map_copy(TensorObject *x, TensorObject *out, Py_ssize_t *const *maps,
         const char *fill)
{
    int nd = out->ndim;
    size_t isz = (size_t)tg_dtype_size[x->dtype];
    Py_ssize_t xs[TG_MAXDIMS], idx[TG_MAXDIMS];
    char *dst = out->data;
    if (out->size == 0) {
        return;
    }
    if (nd == 0) {
        elem_copy(dst, x->data, isz);
        return;
    }
    xs[nd - 1] = 1;
    for (int k = nd - 2; k >= 0; k--) {
        xs[k] = xs[k + 1] * x->shape[k + 1];
    }
    memset(idx, 0, sizeof(idx));
    for (;;) {
        Py_ssize_t base = 0;
        int hole = 0;
        for (int k = 0; k < nd - 1; k++) {
            Py_ssize_t s = maps[k][idx[k]];
            hole |= s < 0;
            base += s * xs[k];
        }
        const Py_ssize_t *m = maps[nd - 1];
        for (Py_ssize_t j = 0; j < out->shape[nd - 1]; j++, dst += isz) {
            elem_copy(dst, (hole || m[j] < 0) ? fill
                                              : x->data + (size_t)(base + m[j]) * isz,
                      isz);
        }
        int k = nd - 2;
        while (k >= 0 && ++idx[k] == out->shape[k]) {
            idx[k--] = 0;
        }
        if (k < 0) {
            return;
        }
    }
}

/* acc[map(j)] += g[j]; acc has x's shape, g has the mapped shape */
static void
map_add(TensorObject *g, TensorObject *acc, Py_ssize_t *const *maps)
{
    int nd = g->ndim, dt = g->dtype;
    size_t isz = (size_t)tg_dtype_size[dt];
    Py_ssize_t xs[TG_MAXDIMS], idx[TG_MAXDIMS];
    const char *src = g->data;
    if (g->size == 0) {
        return;
    }
    if (nd == 0) {
        elem_add(dt, acc->data, src);
        return;
    }
    xs[nd - 1] = 1;
    for (int k = nd - 2; k >= 0; k--) {
        xs[k] = xs[k + 1] * acc->shape[k + 1];
    }
    memset(idx, 0, sizeof(idx));
    for (;;) {
        Py_ssize_t base = 0;
        int hole = 0;
        for (int k = 0; k < nd - 1; k++) {
            Py_ssize_t s = maps[k][idx[k]];
            hole |= s < 0;
            base += s * xs[k];
        }
        const Py_ssize_t *m = maps[nd - 1];
        for (Py_ssize_t j = 0; j < g->shape[nd - 1]; j++, src += isz) {
            if (!hole && m[j] >= 0) {
                elem_add(dt, acc->data + (size_t)(base + m[j]) * isz, src);
            }
        }
        int k = nd - 2;
        while (k >= 0 && ++idx[k] == g->shape[k]) {
            idx[k--] = 0;
        }
        if (k < 0) {
            return;
        }
    }
}

/* nd maps in one allocation, maps[k] with len[k] entries */
static Py_ssize_t **
maps_new(int nd, const Py_ssize_t *len)
{
    Py_ssize_t total = 1;
    size_t bytes;
    for (int k = 0; k < nd; k++) {
        if (__builtin_add_overflow(total, len[k], &total)) {
            return (Py_ssize_t **)PyErr_NoMemory();
        }
    }
    if (__builtin_mul_overflow(sizeof(Py_ssize_t), (size_t)total, &bytes) ||
        __builtin_add_overflow(bytes, sizeof(Py_ssize_t *) * (size_t)(nd + 1),
                               &bytes)) {
        return (Py_ssize_t **)PyErr_NoMemory();
    }
    Py_ssize_t **maps = PyMem_Malloc(bytes);
    if (maps == NULL) {
        PyErr_Format(PyExc_MemoryError,
                     "OOM when allocating %zd index-map entries", total);
        return NULL;
    }
    Py_ssize_t *p = (Py_ssize_t *)(maps + nd + 1);
    for (int k = 0; k < nd; k++) {
        maps[k] = p;
        p += len[k];
    }
    return maps;
}

/* ---- transpose ------------------------------------------------------------------------
 * z = x with axes permuted: z.shape[k] = x.shape[perm[k]]
 *                                           dx = transpose(g, inverse(perm))
 * attrs: (perm, conjugate); perm None reverses the axes
 */
static int
parse_perm(TensorObject *x, PyObject *obj, int *perm)
{
    Py_ssize_t p[TG_MAXDIMS];
    int n, seen[TG_MAXDIMS] = {0};
    if (obj == Py_None) {
        for (int k = 0; k < x->ndim; k++) {
            perm[k] = x->ndim - 1 - k;
        }
        return 0;
    }
    if (tg_int_list("Transpose", "perm", obj, &n, p) < 0) {
        return -1;
    }
    if (n != x->ndim) {
        TG_INVALID_ARGUMENT("transpose expects a vector of size %d. But "
                            "input(1) is a vector of size %d [Op:Transpose]",
                            x->ndim, n);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        if (p[k] < 0 || p[k] >= n) {
            TG_INVALID_ARGUMENT("%zd is out of range [0 .. %d) "
                                "[Op:Transpose]", p[k], n);
            return -1;
        }
        seen[p[k]] = 1;
        perm[k] = (int)p[k];
    }
    for (int k = 0; k < n; k++) {
        if (!seen[k]) {
            char buf[TG_MAXDIMS * 24 + 1];
            size_t used = 0;
            buf[0] = '\0';
            for (int i = 0; i < n; i++) {
                used += (size_t)snprintf(buf + used, sizeof(buf) - used,
                                         i ? ",%zd" : "%zd", p[i]);
            }
            TG_INVALID_ARGUMENT("%d is missing from {%s}. [Op:Transpose]", k,
                                buf);
            return -1;
        }
    }
    return 0;
}

int
transpose_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0], *out;
    int perm[TG_MAXDIMS], nd = x->ndim, identity = 1;
    Py_ssize_t shape[TG_MAXDIMS], xs[TG_MAXDIMS], st[TG_MAXDIMS];
    Py_ssize_t idx[TG_MAXDIMS];
    if (parse_perm(x, attr(f->attrs, 0), perm) < 0) {
        return -1;
    }
    for (int k = 0; k < nd; k++) {
        shape[k] = x->shape[perm[k]];
        identity &= perm[k] == k;
    }
    if (identity) {
        f->out[0] = tg_tensor_view(x, nd, shape, 0);
        return f->out[0] ? 0 : -1;
    }
    out = f->out[0] = tg_tensor_new(x->dtype, nd, shape);
    if (out == NULL) {
        return -1;
    }
    if (out->size == 0) {
        return 0;
    }
    xs[nd - 1] = 1;
    for (int k = nd - 2; k >= 0; k--) {
        xs[k] = xs[k + 1] * x->shape[k + 1];
    }
    for (int k = 0; k < nd; k++) {
        st[k] = xs[perm[k]]; /* source stride of output axis k */
    }
    /* odometer over the output, last axis innermost */
    size_t isz = (size_t)tg_dtype_size[x->dtype];
    char *dst = out->data;
    Py_ssize_t inner = shape[nd - 1], s_in = st[nd - 1];
    memset(idx, 0, sizeof(idx));
    for (;;) {
        Py_ssize_t base = 0;
        for (int k = 0; k < nd - 1; k++) {
            base += idx[k] * st[k];
        }
        const char *src = x->data + (size_t)base * isz;
        for (Py_ssize_t j = 0; j < inner; j++, dst += isz) {
            elem_copy(dst, src + (size_t)(j * s_in) * isz, isz);
        }
        int k = nd - 2;
        while (k >= 0 && ++idx[k] == shape[k]) {
            idx[k--] = 0;
        }
        if (k < 0) {
            return 0;
        }
    }
}

int
transpose_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *x = IN_SLOT(0);
    int perm[TG_MAXDIMS];
    Py_ssize_t inv[TG_MAXDIMS + 1];
    TensorObject shape_only = {.ndim = x->ndim, .shape = x->shape};
    if (parse_perm(&shape_only, attr(c->attrs, 0), perm) < 0) {
        return -1;
    }
    /* batched: the batch dimension stays first */
    inv[0] = 0;
    for (int k = 0; k < x->ndim; k++) {
        inv[perm[k] + BATCHED] = k + BATCHED;
    }
    PyObject *l = KEEP(int_list(x->ndim + BATCHED, inv));
    SET(0, l ? OP1A(transpose, G, "(OO)", l, Py_False) : NULL);
    VJP_END;
}
JVP_LINEAR(transpose)

/* ---- expand_dims, squeeze ---------------------------------------------------------------
 * z = x viewed with a 1 inserted / 1s removed  dx = reshape(g, shape(x))
 * attrs: (axis,)
 */
int
expand_dims_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    Py_ssize_t a, shape[TG_MAXDIMS];
    if (attr(f->attrs, 0) == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "expand_dims() missing required argument 'axis'");
        return -1;
    }
    if (tg_int_scalar("ExpandDims", "axis", attr(f->attrs, 0), &a) < 0) {
        return -1;
    }
    if (a < -x->ndim - 1 || a > x->ndim) {
        TG_INVALID_ARGUMENT("Tried to expand dim index %zd for tensor with "
                            "%d dimensions. [Op:ExpandDims]", a, x->ndim);
        return -1;
    }
    if (x->ndim + 1 > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "ExpandDims: tapegrad supports at most %d dimensions",
                     TG_MAXDIMS);
        return -1;
    }
    if (a < 0) {
        a += x->ndim + 1;
    }
    for (int k = 0, j = 0; k <= x->ndim; k++) {
        shape[k] = k == a ? 1 : x->shape[j++];
    }
    f->out[0] = tg_tensor_view(x, x->ndim + 1, shape, 0);
    return f->out[0] ? 0 : -1;
}

int
expand_dims_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, GTO_SHAPE(reshape, G, IN_SLOT(0)));
    VJP_END;
}
JVP_LINEAR(expand_dims)

int
squeeze_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    PyObject *axis = attr(f->attrs, 0);
    char drop[TG_MAXDIMS];
    Py_ssize_t shape[TG_MAXDIMS], ax[TG_MAXDIMS];
    int n = 0, nd = 0;
    memset(drop, 0, sizeof(drop));
    if (axis == Py_None) {
        for (int k = 0; k < x->ndim; k++) {
            drop[k] = x->shape[k] == 1;
        }
    }
    else {
        if (tg_int_list("Squeeze", "axis", axis, &n, ax) < 0) {
            return -1;
        }
        for (int i = 0; i < n; i++) {
            Py_ssize_t a = ax[i];
            if (a < -x->ndim || a >= x->ndim) {
                TG_INVALID_ARGUMENT("Tried to squeeze dim index %zd for "
                                    "tensor with %d dimensions. "
                                    "[Op:Squeeze]", a, x->ndim);
                return -1;
            }
            a = a < 0 ? a + x->ndim : a;
            if (x->shape[a] != 1) {
                TG_INVALID_ARGUMENT("Can not squeeze dim[%zd], expected a "
                                    "dimension of 1, got %zd [Op:Squeeze]",
                                    a, x->shape[a]);
                return -1;
            }
            drop[a] = 1;
        }
    }
    for (int k = 0; k < x->ndim; k++) {
        if (!drop[k]) {
            shape[nd++] = x->shape[k];
        }
    }
    f->out[0] = tg_tensor_view(x, nd, shape, 0);
    return f->out[0] ? 0 : -1;
}

int
squeeze_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, GTO_SHAPE(reshape, G, IN_SLOT(0)));
    VJP_END;
}
JVP_LINEAR(squeeze)

/* ---- reverse --------------------------------------------------------------------------------
 * z = x flipped along the given axes        dx = reverse(g, axes)
 * attrs: (axis,)
 */
static int
reverse_axes(int ndim, PyObject *axis, char *flip)
{
    Py_ssize_t ax[TG_MAXDIMS];
    int n;
    memset(flip, 0, TG_MAXDIMS);
    if (axis == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "reverse() missing required argument 'axis'");
        return -1;
    }
    if (tg_int_list("ReverseV2", "axis", axis, &n, ax) < 0) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        Py_ssize_t a = ax[i];
        if (a < -ndim || a >= ndim) {
            TG_INVALID_ARGUMENT("'axis'[%d] = %zd is out of valid range "
                                "[%d, %d) [Op:ReverseV2]", i, a, -ndim,
                                ndim);
            return -1;
        }
        a = a < 0 ? a + ndim : a;
        if (flip[a]) {
            TG_INVALID_ARGUMENT("axis %zd specified more than once. "
                                "[Op:ReverseV2]", a);
            return -1;
        }
        flip[a] = 1;
    }
    return 0;
}

int
reverse_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    char flip[TG_MAXDIMS];
    if (reverse_axes(x->ndim, attr(f->attrs, 0), flip) < 0) {
        return -1;
    }
    Py_ssize_t **maps = maps_new(x->ndim, x->shape);
    if (maps == NULL) {
        return -1;
    }
    for (int k = 0; k < x->ndim; k++) {
        for (Py_ssize_t j = 0; j < x->shape[k]; j++) {
            maps[k][j] = flip[k] ? x->shape[k] - 1 - j : j;
        }
    }
    f->out[0] = tg_tensor_new(x->dtype, x->ndim, x->shape);
    if (f->out[0] != NULL) {
        map_copy(x, f->out[0], maps, NULL);
    }
    PyMem_Free(maps);
    return f->out[0] ? 0 : -1;
}

int
reverse_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *axes = GAXES(attr(c->attrs, 0), IN_SLOT(0)->ndim);
    SET(0, axes ? OP1A(reverse, G, "(O)", axes) : NULL);
    VJP_END;
}
JVP_LINEAR(reverse)

/* ---- tile -------------------------------------------------------------------------------------
 * z[j] = x[j mod shape(x)], shape(z) = multiples * shape(x)
 *   dx = reduce_sum(reshape(g, [m0, d0, m1, d1, ...]), axes of the m's)
 * attrs: (multiples,)
 */
static int
tile_multiples(int ndim, PyObject *obj, Py_ssize_t *m)
{
    int n;
    if (obj == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "tile() missing required argument 'multiples'");
        return -1;
    }
    if (tg_int_list("Tile", "multiples", obj, &n, m) < 0) {
        return -1;
    }
    if (n != ndim) {
        TG_INVALID_ARGUMENT("Expected multiples argument to be a vector of "
                            "length %d but got length %d [Op:Tile]", ndim, n);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        if (m[k] < 0) {
            TG_INVALID_ARGUMENT("Expected multiples[%d] >= 0, but got %zd "
                                "[Op:Tile]", k, m[k]);
            return -1;
        }
    }
    return 0;
}

int
tile_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    Py_ssize_t m[TG_MAXDIMS], shape[TG_MAXDIMS];
    if (tile_multiples(x->ndim, attr(f->attrs, 0), m) < 0) {
        return -1;
    }
    for (int k = 0; k < x->ndim; k++) {
        if (__builtin_mul_overflow(m[k], x->shape[k], &shape[k])) {
            PyErr_SetString(PyExc_ValueError, "Tile: result too large");
            return -1;
        }
    }
    f->out[0] = tg_tensor_new(x->dtype, x->ndim, shape);
    if (f->out[0] == NULL || f->out[0]->size == 0) {
        return f->out[0] ? 0 : -1;
    }
    Py_ssize_t **maps = maps_new(x->ndim, shape);
    if (maps == NULL) {
        Py_CLEAR(f->out[0]);
        return -1;
    }
    for (int k = 0; k < x->ndim; k++) {
        for (Py_ssize_t j = 0; j < shape[k]; j++) {
            maps[k][j] = j % x->shape[k];
        }
    }
    map_copy(x, f->out[0], maps, NULL);
    PyMem_Free(maps);
    return 0;
}

int
tile_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *x = IN_SLOT(0);
    Py_ssize_t m[TG_MAXDIMS], split[2 * TG_MAXDIMS], axes[TG_MAXDIMS];
    int n = 0, na = 0;
    if (tile_multiples(x->ndim, attr(c->attrs, 0), m) < 0) {
        return -1;
    }
    /* only tiled axes are split in two, so rank <= 32 always fits */
    for (int k = 0; k < x->ndim; k++) {
        if (m[k] != 1) {
            axes[na++] = n + BATCHED;
            split[n++] = m[k];
        }
        split[n++] = x->shape[k];
    }
    if (n > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "Tile: gradient needs %d dimensions, tapegrad supports "
                     "%d", n, TG_MAXDIMS);
        return -1;
    }
    if (na == 0) {
        SET(0, G);
        VJP_END;
    }
    tg_slot s = {.ndim = n, .shape = split};
    PyObject *g = GTO_SHAPE(reshape, G, &s);
    PyObject *ax = KEEP(int_list(na, axes));
    SET(0, ax ? OP1A(reduce_sum, g, "(OO)", ax, Py_False) : NULL);
    VJP_END;
}
JVP_LINEAR(tile)

/* ---- pad / mirror_pad_grad: an adjoint pair for the mirror modes --------------------------------
 * pad: z = x surrounded by paddings[k] = (before, after) on each axis:
 *      CONSTANT: constant_values             dx = g[before:before + d, ...]
 *      REFLECT / SYMMETRIC: x mirrored       dx = mirror_pad_grad(g)
 *      (without / with the edge element)
 * mirror_pad_grad: z = g with every border element added back onto the
 *      element it mirrors                    dx = pad(g, mode)
 * attrs: (paddings, mode, constant_values) and (paddings, mode)
 */
enum { PAD_CONSTANT, PAD_REFLECT, PAD_SYMMETRIC };

static int
pad_mode(PyObject *obj, int *mode)
{
    static const char *names[] = {"CONSTANT", "REFLECT", "SYMMETRIC"};
    if (PyUnicode_Check(obj)) {
        PyObject *up = PyObject_CallMethod(obj, "upper", NULL);
        if (up == NULL) {
            return -1;
        }
        for (int i = 0; i < 3; i++) {
            if (PyUnicode_CompareWithASCIIString(up, names[i]) == 0) {
                *mode = i;
                Py_DECREF(up);
                return 0;
            }
        }
        Py_DECREF(up);
    }
    PyErr_Format(PyExc_ValueError,
                 "Value of argument `mode` expected to be one of \"CONSTANT\", "
                 "\"REFLECT\", or \"SYMMETRIC\". Received `mode` = %.200R",
                 obj);
    return -1;
}

/* paddings as (before, after) pairs for an input of rank `ndim` */
static int
pad_amounts(const char *tfname, int ndim, PyObject *obj, Py_ssize_t *before,
            Py_ssize_t *after)
{
    TensorObject *p = tg_index_tensor("Pad", "paddings", obj);
    if (p == NULL) {
        return -1;
    }
    if (p->ndim != 2 || p->shape[1] != 2) {
        PyObject *s = tg_shape_str(p->ndim, p->shape);
        if (s != NULL) {
            TG_INVALID_ARGUMENT("paddings must be a matrix with 2 columns: "
                                "%U [Op:%s]", s, tfname);
            Py_DECREF(s);
        }
        Py_DECREF(p);
        return -1;
    }
    if (p->shape[0] != ndim) {
        TG_INVALID_ARGUMENT("The first dimension of paddings must be the "
                            "rank of inputs [%zd,2], input rank %d [Op:%s]",
                            p->shape[0], ndim, tfname);
        Py_DECREF(p);
        return -1;
    }
    for (int k = 0; k < ndim; k++) {
        before[k] = (Py_ssize_t)index_at(p, 2 * k);
        after[k] = (Py_ssize_t)index_at(p, 2 * k + 1);
        if (before[k] < 0 || after[k] < 0) {
            TG_INVALID_ARGUMENT("Paddings must be non-negative: %zd %zd "
                                "[Op:%s]", before[k], after[k], tfname);
            Py_DECREF(p);
            return -1;
        }
    }
    Py_DECREF(p);
    return 0;
}

/* mirror maps from the padded axes (len[k]) to the source axes (dim[k]) */
static Py_ssize_t **
mirror_maps(int mode, int ndim, const Py_ssize_t *dim, const Py_ssize_t *before,
            const Py_ssize_t *after, const char *tfname)
{
    Py_ssize_t len[TG_MAXDIMS] = {0};
    int off = mode == PAD_REFLECT ? 0 : 1; /* SYMMETRIC repeats the edge */
    for (int k = 0; k < ndim; k++) {
        Py_ssize_t lim = dim[k] - (mode == PAD_REFLECT);
        if (before[k] > lim || after[k] > lim) {
            if (mode == PAD_REFLECT) {
                TG_INVALID_ARGUMENT("paddings must be less than the dimension "
                                    "size: %zd, %zd not less than %zd "
                                    "[Op:%s]", before[k], after[k], dim[k],
                                    tfname);
            }
            else {
                TG_INVALID_ARGUMENT("paddings must be no greater than the "
                                    "dimension size: %zd, %zd greater than "
                                    "%zd [Op:%s]", before[k], after[k],
                                    dim[k], tfname);
            }
            return NULL;
        }
        len[k] = before[k] + dim[k] + after[k];
    }
    Py_ssize_t **maps = maps_new(ndim, len);
    for (int k = 0; maps && k < ndim; k++) {
        for (Py_ssize_t j = 0; j < len[k]; j++) {
            Py_ssize_t s = j - before[k];
            if (s < 0) {
                s = -s - off;
            }
            else if (s >= dim[k]) {
                s = 2 * dim[k] - 2 + off - s;
            }
            maps[k][j] = s;
        }
    }
    return maps;
}

int
pad_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0], *cv = NULL;
    Py_ssize_t before[TG_MAXDIMS], after[TG_MAXDIMS], shape[TG_MAXDIMS];
    Py_ssize_t **maps;
    int mode;
    const char *tfname;
    if (pad_mode(attr(f->attrs, 1), &mode) < 0) {
        return -1;
    }
    tfname = mode == PAD_CONSTANT ? "Pad" : "MirrorPad";
    if (pad_amounts(tfname, x->ndim, attr(f->attrs, 0), before, after) < 0) {
        return -1;
    }
    for (int k = 0; k < x->ndim; k++) {
        if (__builtin_add_overflow(before[k], x->shape[k], &shape[k]) ||
            __builtin_add_overflow(shape[k], after[k], &shape[k])) {
            PyErr_Format(PyExc_ValueError,
                         "%s: padded dimension %d is too large (%zd + %zd + "
                         "%zd overflows)", tfname, k, before[k], x->shape[k],
                         after[k]);
            return -1;
        }
    }
    /* a padded shape too large for a tensor fails here, before the index
     * maps (one entry per output position along each axis) are built */
    Py_ssize_t size;
    if (tg_shape_size(x->ndim, shape, &size) < 0) {
        return -1;
    }
    if (mode != PAD_CONSTANT) {
        /* checks paddings < dims first (TF's error); the maps are then at
         * most 3x the input's dims */
        maps = mirror_maps(mode, x->ndim, x->shape, before, after, tfname);
    }
    else {
        cv = tg_convert(attr(f->attrs, 2), x->dtype, "PadV2");
        if (cv == NULL) {
            return -1;
        }
        if (cv->dtype != x->dtype || cv->size != 1) {
            PyObject *s = tg_shape_str(cv->ndim, cv->shape);
            if (s != NULL && cv->dtype != x->dtype) {
                tg_want_dtype("PadV2", 2, x->dtype, cv->dtype);
            }
            else if (s != NULL) {
                TG_INVALID_ARGUMENT("constant_values must be a scalar. Shape "
                                    "of constant_values is %U [Op:PadV2]", s);
            }
            Py_XDECREF(s);
            Py_DECREF(cv);
            return -1;
        }
        /* the output before the maps (as long as the output along each
         * axis): a size the machine cannot give is TF's OOM error */
        f->out[0] = tg_tensor_new(x->dtype, x->ndim, shape);
        if (f->out[0] == NULL) {
            Py_DECREF(cv);
            return -1;
        }
        maps = maps_new(x->ndim, shape);
        for (int k = 0; maps && k < x->ndim; k++) {
            for (Py_ssize_t j = 0; j < shape[k]; j++) {
                Py_ssize_t s = j - before[k];
                maps[k][j] = (s < 0 || s >= x->shape[k]) ? -1 : s;
            }
        }
    }
    if (maps == NULL) {
        Py_XDECREF(cv);
        Py_CLEAR(f->out[0]);
        return -1;
    }
    if (f->out[0] == NULL) {
        f->out[0] = tg_tensor_new(x->dtype, x->ndim, shape);
    }
    if (f->out[0] != NULL) {
        map_copy(x, f->out[0], maps, cv ? cv->data : NULL);
    }
    PyMem_Free(maps);
    Py_XDECREF(cv);
    return f->out[0] ? 0 : -1;
}

int
pad_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *x = IN_SLOT(0);
    Py_ssize_t before[TG_MAXDIMS], after[TG_MAXDIMS];
    int mode;
    if (pad_mode(attr(c->attrs, 1), &mode) < 0 ||
        pad_amounts("Pad", x->ndim, attr(c->attrs, 0), before, after) < 0) {
        return -1;
    }
    if (mode != PAD_CONSTANT) {
        PyObject *p = KEEP(batch_paddings(c, x->ndim, before, after));
        SET(0, p ? OP1A(mirror_pad_grad, G, "(OO)", p, attr(c->attrs, 1))
                 : NULL);
        VJP_END;
    }
    PyObject *key = KEEP(PyTuple_New(x->ndim));
    for (int k = 0; key && k < x->ndim; k++) {
        PyObject *s = slice_obj(before[k], before[k] + x->shape[k]);
        if (s == NULL) {
            key = NULL;
            break;
        }
        PyTuple_SET_ITEM(key, k, s);
    }
    key = GKEY(key);
    SET(0, key ? OP1A(getitem, G, "(O)", key) : NULL);
    VJP_END;
}
JVP_DIRECT(pad)
int
pad_jvp(tg_jvp_ctx *c)
{
    /* linear in the tensor; the border is constant_values, a constant, so
     * the tangent's border is zero */
    JVP_BEGIN;
    if (TAN(0) != NULL) {
        TSET(0, OP1A(pad, TAN(0), "(OOi)", attr(c->attrs, 0),
                     attr(c->attrs, 1), 0));
    }
    JVP_END;
}

int
mirror_pad_grad_forward(tg_fwd *f)
{
    TensorObject *g = f->in[0];
    Py_ssize_t before[TG_MAXDIMS], after[TG_MAXDIMS], shape[TG_MAXDIMS];
    int mode;
    if (pad_mode(attr(f->attrs, 1), &mode) < 0 ||
        pad_amounts("MirrorPadGrad", g->ndim, attr(f->attrs, 0), before,
                    after) < 0) {
        return -1;
    }
    if (mode == PAD_CONSTANT) {
        PyErr_SetString(PyExc_ValueError,
                        "MirrorPadGrad: mode must be REFLECT or SYMMETRIC");
        return -1;
    }
    for (int k = 0; k < g->ndim; k++) {
        shape[k] = g->shape[k] - before[k] - after[k];
        if (shape[k] < 0) {
            TG_INVALID_ARGUMENT("MirrorPadGrad: paddings %zd, %zd are larger "
                                "than dimension %d of size %zd "
                                "[Op:MirrorPadGrad]", before[k], after[k], k,
                                g->shape[k]);
            return -1;
        }
    }
    Py_ssize_t **maps = mirror_maps(mode, g->ndim, shape, before, after,
                                    "MirrorPadGrad");
    if (maps == NULL) {
        return -1;
    }
    f->out[0] = tg_fill_like(g->dtype, g->ndim, shape, 0.0);
    if (f->out[0] != NULL) {
        map_add(g, f->out[0], maps);
    }
    PyMem_Free(maps);
    return f->out[0] ? 0 : -1;
}

int
mirror_pad_grad_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    Py_ssize_t before[TG_MAXDIMS], after[TG_MAXDIMS];
    if (pad_amounts("MirrorPadGrad", IN_SLOT(0)->ndim, attr(c->attrs, 0),
                    before, after) < 0) {
        return -1;
    }
    PyObject *p = KEEP(batch_paddings(c, IN_SLOT(0)->ndim, before, after));
    SET(0, p ? OP1A(pad, G, "(OOi)", p, attr(c->attrs, 1), 0) : NULL);
    VJP_END;
}
JVP_LINEAR(mirror_pad_grad)

/* ---- stack --------------------------------------------------------------------------------------
 * z = [x_0, x_1, ...] along a new axis      dx_i = g[..., i, ...]
 * attrs: (axis,)
 */
static int
stack_axis(PyObject *obj, int ndim, int *axis)
{
    Py_ssize_t a;
    if (tg_int_scalar("Pack", "axis", obj, &a) < 0) {
        return -1;
    }
    if (a < -(ndim + 1) || a >= ndim + 1) {
        PyErr_Format(PyExc_ValueError,
                     "Argument `axis` = %zd not in range [%d, %d)", a,
                     -(ndim + 1), ndim + 1);
        return -1;
    }
    *axis = (int)(a < 0 ? a + ndim + 1 : a);
    return 0;
}

int
stack_forward(tg_fwd *f)
{
    TensorObject *x0 = f->in[0];
    Py_ssize_t shape[TG_MAXDIMS];
    int axis;
    if (stack_axis(attr(f->attrs, 0), x0->ndim, &axis) < 0) {
        return -1;
    }
    if (x0->ndim + 1 > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "Pack: tapegrad supports at most %d dimensions",
                     TG_MAXDIMS);
        return -1;
    }
    for (int i = 1; i < f->nin; i++) {
        TensorObject *x = f->in[i];
        int bad = x->ndim != x0->ndim;
        for (int d = 0; !bad && d < x0->ndim; d++) {
            bad = x->shape[d] != x0->shape[d];
        }
        if (bad) {
            PyObject *a = tg_shape_str(x0->ndim, x0->shape);
            PyObject *b = a ? tg_shape_str(x->ndim, x->shape) : NULL;
            if (b) {
                TG_INVALID_ARGUMENT("Shapes of all inputs must match: "
                                    "values[0].shape = %U != values[%d].shape "
                                    "= %U [Op:Pack]", a, i, b);
            }
            Py_XDECREF(a);
            Py_XDECREF(b);
            return -1;
        }
    }
    for (int k = 0, j = 0; k <= x0->ndim; k++) {
        shape[k] = k == axis ? f->nin : x0->shape[j++];
    }
    f->out[0] = tg_tensor_new(x0->dtype, x0->ndim + 1, shape);
    if (f->out[0] == NULL) {
        return -1;
    }
    /* every input contributes one block of `inner` items per outer row */
    Py_ssize_t outer = prod(x0->shape, 0, axis);
    size_t n = (size_t)prod(x0->shape, axis, x0->ndim) *
               (size_t)tg_dtype_size[x0->dtype];
    char *dst = f->out[0]->data;
    for (Py_ssize_t r = 0; r < outer; r++) {
        for (int i = 0; i < f->nin; i++) {
            if (n > 0) {
                memcpy(dst, f->in[i]->data + (size_t)r * n, n);
            }
            dst += n;
        }
    }
    return 0;
}

int
stack_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int axis;
    if (stack_axis(attr(c->attrs, 0), IN_SLOT(0)->ndim, &axis) < 0) {
        return -1;
    }
    for (int i = 0; i < c->e->nin; i++) {
        if (NEEDS(i)) {
            SET(i, KEEP(take_key(G, axis_key(GAXIS(axis),
                                             PyLong_FromLong(i)))));
        }
    }
    VJP_END;
}
JVP_LINEAR(stack)

/* ---- unstack, split: composites of recorded slices ----------------------------------------------
 * unstack: [x[..., i, ...] for i]           split: [x[..., a_i:b_i, ...]]
 * Each piece is a recorded getitem, whose vjp scatters it back.
 */
static int
list_axis(TensorObject *x, PyObject *obj, int *axis)
{
    Py_ssize_t a;
    if (tg_int_scalar("Unpack", "axis", obj, &a) < 0) {
        return -1;
    }
    if (a < -x->ndim || a >= x->ndim) {
        PyErr_Format(PyExc_ValueError,
                     "Argument `axis` = %zd not in range [%d, %d)", a,
                     -x->ndim, x->ndim);
        return -1;
    }
    *axis = (int)(a < 0 ? a + x->ndim : a);
    return 0;
}

int
unstack_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    PyObject *num = attr(f->attrs, 0), *list;
    int axis;
    if (list_axis(x, attr(f->attrs, 1), &axis) < 0) {
        return -1;
    }
    Py_ssize_t n = x->shape[axis];
    if (num != Py_None) {
        Py_ssize_t want;
        if (tg_int_scalar("Unpack", "num", num, &want) < 0) {
            return -1;
        }
        if (want != n) {
            PyObject *s = tg_shape_str(x->ndim, x->shape);
            if (s != NULL) {
                TG_INVALID_ARGUMENT("Input shape axis %d must equal %zd, got "
                                    "shape %U [Op:Unpack]", axis, want, s);
                Py_DECREF(s);
            }
            return -1;
        }
    }
    list = PyList_New(n);
    if (list == NULL && PyErr_ExceptionMatches(PyExc_MemoryError)) {
        /* CPython's MemoryError says nothing: name the op, as split does */
        PyErr_Format(PyExc_MemoryError,
                     "unstack: out of memory for %zd pieces", n);
    }
    for (Py_ssize_t i = 0; list && i < n; i++) {
        PyObject *piece = take_key((PyObject *)x,
                                   axis_key(axis, PyLong_FromSsize_t(i)));
        if (piece == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, piece);
    }
    f->result = list;
    return list ? 0 : -1;
}

COMPOSITE_VJP(unstack)

int
split_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    PyObject *spec = attr(f->attrs, 0), *list;
    Py_ssize_t sizes[1024], *sz = sizes, a;
    int n, axis;
    const char *tfname = "Split";
    if (spec == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "split() missing required argument "
                        "'num_or_size_splits'");
        return -1;
    }
    if (tg_int_scalar("Split", "axis", attr(f->attrs, 1), &a) < 0) {
        return -1;
    }
    if (a < -x->ndim || a >= x->ndim) {
        TG_INVALID_ARGUMENT("-%d <= split_dim < %d, but got %zd [Op:Split]",
                            x->ndim, x->ndim, a);
        return -1;
    }
    axis = (int)(a < 0 ? a + x->ndim : a);
    Py_ssize_t dim = x->shape[axis];
    /* a list or a tensor/array of rank 1 is SplitV's sizes; anything
     * else is Split's number of pieces, checked as an integer */
    int scalar = !tg_int_is_vector(spec);
    if (scalar) {
        /* Split: num equal pieces */
        Py_ssize_t ways;
        if (tg_int_scalar("Split", "num_or_size_splits", spec, &ways) < 0) {
            return -1;
        }
        if (ways <= 0 || dim % ways != 0) {
            TG_INVALID_ARGUMENT("Number of ways to split should evenly divide "
                                "the split dimension, but got split_dim %d "
                                "(size = %zd) and num_split %zd [Op:Split]",
                                axis, dim, ways);
            return -1;
        }
        if (ways > INT_MAX) {
            /* TF's num_split attr is an int32; an empty dimension divides
             * into any number of pieces, so this is reachable */
            TG_INVALID_ARGUMENT("split: num_or_size_splits = %zd is more "
                                "pieces than an int32 can count [Op:Split]",
                                ways);
            return -1;
        }
        if (ways > (Py_ssize_t)(sizeof(sizes) / sizeof(sizes[0]))) {
            sz = PyMem_New(Py_ssize_t, ways);
            if (sz == NULL) {
                PyErr_Format(PyExc_MemoryError,
                             "split: out of memory for %zd pieces", ways);
                return -1;
            }
        }
        n = (int)ways;
        for (int i = 0; i < n; i++) {
            sz[i] = dim / ways;
        }
    }
    else {
        /* SplitV: explicit sizes, one of them may be -1 */
        TensorObject *t = tg_index_tensor("SplitV", "num_or_size_splits",
                                          spec);
        Py_ssize_t total = 0;
        int infer = -1;
        tfname = "SplitV";
        if (t == NULL) {
            return -1;
        }
        if (t->ndim != 1) {
            TG_INVALID_ARGUMENT("size_splits must be a 1-D tensor, got rank %d "
                                "[Op:SplitV]", t->ndim);
            Py_DECREF(t);
            return -1;
        }
        n = (int)t->size;
        if (n > (int)(sizeof(sizes) / sizeof(sizes[0]))) {
            sz = PyMem_New(Py_ssize_t, n);
            if (sz == NULL) {
                Py_DECREF(t);
                PyErr_NoMemory();
                return -1;
            }
        }
        for (int i = 0; i < n; i++) {
            sz[i] = (Py_ssize_t)index_at(t, i);
            if (sz[i] == -1) {
                if (infer >= 0) {
                    TG_INVALID_ARGUMENT("Only one dimensions can have a value "
                                        "of -1. Second one found at "
                                        "dimension %d [Op:SplitV]", i);
                    Py_DECREF(t);
                    goto error;
                }
                infer = i;
            }
            else if (sz[i] < 0) {
                TG_INVALID_ARGUMENT("Split size at index %d must be >= 0. "
                                    "Got: %zd [Op:SplitV]", i, sz[i]);
                Py_DECREF(t);
                goto error;
            }
            else {
                total += sz[i];
            }
        }
        Py_DECREF(t);
        if ((infer < 0 && total != dim) || (infer >= 0 && total > dim)) {
            TG_INVALID_ARGUMENT("Determined shape must either match input "
                                "shape along split_dim exactly if fully "
                                "specified, or be less than the size of the "
                                "input along split_dim if not fully "
                                "specified.  Got: %zd [Op:SplitV]", total);
            goto error;
        }
        if (infer >= 0) {
            sz[infer] = dim - total;
        }
    }
    if (attr(f->attrs, 2) != Py_None) {
        Py_ssize_t num;
        if (tg_int_scalar("Split", "num", attr(f->attrs, 2), &num) < 0) {
            goto error;
        }
        if (num != n) {
            PyErr_Format(PyExc_ValueError,
                         "split: `num` = %zd does not match the %d pieces of "
                         "num_or_size_splits", num, n);
            goto error;
        }
    }
    list = PyList_New(n);
    Py_ssize_t start = 0;
    for (int i = 0; list && i < n; i++) {
        PyObject *piece = take_key(
            (PyObject *)x, axis_key(axis, slice_obj(start, start + sz[i])));
        if (piece == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, piece);
        start += sz[i];
    }
    (void)tfname;
    if (sz != sizes) {
        PyMem_Free(sz);
    }
    f->result = list;
    return list ? 0 : -1;
error:
    if (sz != sizes) {
        PyMem_Free(sz);
    }
    return -1;
}

COMPOSITE_VJP(split)

/* ---- block maps: gather and gather_nd --------------------------------------------------------------
 * Both ops copy blocks of `inner` elements: output block k is params
 * block src[k].  Their gradients add the blocks back (repeated indices
 * accumulate), and the gradient of that is the gather again.
 */
typedef struct {
    Py_ssize_t nblk, inner, *src; /* src: PyMem, nblk entries */
    int ndim;                     /* output shape */
    Py_ssize_t shape[TG_MAXDIMS];
} blockmap;

static void
blocks_copy(const blockmap *m, TensorObject *x, TensorObject *out)
{
    size_t bytes = (size_t)m->inner * (size_t)tg_dtype_size[x->dtype];
    for (Py_ssize_t k = 0; k < m->nblk && bytes; k++) {
        memcpy(out->data + (size_t)k * bytes,
               x->data + (size_t)m->src[k] * bytes, bytes);
    }
}

/* dst[0..n) += s[0..n) in dtype dt */
static void
block_add(int dt, char *dst, const char *s, Py_ssize_t n)
{
    size_t isz = (size_t)tg_dtype_size[dt];
    if (dt == TG_FLOAT32) {
        for (Py_ssize_t i = 0; i < n; i++) {
            ((float *)dst)[i] += ((const float *)s)[i];
        }
    }
    else if (dt == TG_FLOAT64) {
        for (Py_ssize_t i = 0; i < n; i++) {
            ((double *)dst)[i] += ((const double *)s)[i];
        }
    }
    else {
        for (Py_ssize_t i = 0; i < n; i++) {
            elem_add(dt, dst + (size_t)i * isz, s + (size_t)i * isz);
        }
    }
}

static void
blocks_add(const blockmap *m, TensorObject *g, TensorObject *acc)
{
    size_t isz = (size_t)tg_dtype_size[g->dtype];
    for (Py_ssize_t k = 0; k < m->nblk; k++) {
        block_add(g->dtype, acc->data + (size_t)(m->src[k] * m->inner) * isz,
                  g->data + (size_t)(k * m->inner) * isz, m->inner);
    }
}

static int
out_rank_check(const char *tfname, int nd)
{
    if (nd > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "%s: the result would have %d dimensions, tapegrad "
                     "supports %d", tfname, nd, TG_MAXDIMS);
        return -1;
    }
    return 0;
}

static int
batch_dims_match(const char *tfname, int b, const Py_ssize_t *pshape,
                 TensorObject *idx)
{
    for (int k = 0; k < b; k++) {
        if (pshape[k] != idx->shape[k]) {
            TG_INVALID_ARGUMENT("params.shape[%d]: %zd should be equal to "
                                "indices.shape[%d]: %zd [Op:%s]", k,
                                pshape[k], k, idx->shape[k], tfname);
            return -1;
        }
    }
    return 0;
}

/* gather(params of shape pshape, idx, axis, batch_dims) as a block map;
 * axis and batch_dims come as attributes (None/int) and are validated */
static int
gather_map(int pnd, const Py_ssize_t *pshape, TensorObject *idx,
           PyObject *axis_obj, PyObject *bd_obj, blockmap *m)
{
    const char *tf = "GatherV2";
    Py_ssize_t bd, axis;
    m->src = NULL;
    if (tg_int_scalar("GatherV2", "batch_dims", bd_obj, &bd) < 0) {
        return -1;
    }
    if (bd < 0) {
        bd += idx->ndim;
    }
    if (bd < 0 || bd > idx->ndim) {
        TG_INVALID_ARGUMENT("batch_dims (%zd) must be in the range [%d, %d] "
                            "[Op:%s]", bd, -idx->ndim, idx->ndim, tf);
        return -1;
    }
    if (axis_obj == Py_None) {
        axis = bd;
    }
    else if (tg_int_scalar("GatherV2", "axis", axis_obj, &axis) < 0) {
        return -1;
    }
    if (pnd == 0) {
        TG_INVALID_ARGUMENT("params must be at least 1 dimensional [Op:%s]",
                            tf);
        return -1;
    }
    if (axis < -pnd || axis >= pnd) {
        TG_INVALID_ARGUMENT("Expected axis in the range [%d, %d), but got %zd "
                            "[Op:%s]", -pnd, pnd, axis, tf);
        return -1;
    }
    axis = axis < 0 ? axis + pnd : axis;
    if (bd > axis) {
        TG_INVALID_ARGUMENT("batch_dims (%zd) must be less than or equal to "
                            "axis (%zd) [Op:%s]", bd, axis, tf);
        return -1;
    }
    if (batch_dims_match(tf, (int)bd, pshape, idx) < 0) {
        return -1;
    }
    m->ndim = (int)(axis + (idx->ndim - bd) + (pnd - axis - 1));
    if (out_rank_check(tf, m->ndim) < 0) {
        return -1;
    }
    int nd = 0;
    for (int k = 0; k < axis; k++) {
        m->shape[nd++] = pshape[k];
    }
    for (int k = (int)bd; k < idx->ndim; k++) {
        m->shape[nd++] = idx->shape[k];
    }
    for (int k = (int)axis + 1; k < pnd; k++) {
        m->shape[nd++] = pshape[k];
    }
    Py_ssize_t batch = prod(pshape, 0, (int)bd);
    Py_ssize_t outer = prod(pshape, (int)bd, (int)axis), n = pshape[axis];
    Py_ssize_t per = prod(idx->shape, (int)bd, idx->ndim);
    m->inner = prod(pshape, (int)axis + 1, pnd);
    for (Py_ssize_t i = 0; i < idx->size; i++) {
        int64_t v = index_at(idx, i);
        if (v < 0 || v >= n) {
            char pos[256];
            position_str(pos, sizeof(pos), idx->ndim, idx->shape, i);
            TG_INVALID_ARGUMENT("indices%s%s%s = %lld is not in [0, %zd) "
                                "[Op:%s]", idx->ndim ? "[" : "", pos,
                                idx->ndim ? "]" : "", (long long)v, n, tf);
            return -1;
        }
    }
    m->nblk = batch * outer * per;
    m->src = PyMem_New(Py_ssize_t, m->nblk + 1);
    if (m->src == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t k = 0;
    /* no blocks: skip the loops, which would still walk batch * outer
     * (huge when only the indices are empty) */
    for (Py_ssize_t b = 0; m->nblk > 0 && b < batch; b++) {
        for (Py_ssize_t o = 0; o < outer; o++) {
            for (Py_ssize_t j = 0; j < per; j++) {
                m->src[k++] = (b * outer + o) * n +
                              (Py_ssize_t)index_at(idx, b * per + j);
            }
        }
    }
    return 0;
}

/* gather_nd(params of shape pshape, idx, batch_dims) as a block map */
static int
gather_nd_map_named(const char *tf, int pnd, const Py_ssize_t *pshape,
                    TensorObject *idx, PyObject *bd_obj, blockmap *m)
{
    Py_ssize_t bd;
    m->src = NULL;
    if (tg_int_scalar(tf, "batch_dims", bd_obj, &bd) < 0) {
        return -1;
    }
    if (idx->ndim < 1) {
        TG_INVALID_ARGUMENT("indices must be at least a vector, got shape [] "
                            "[Op:%s]", tf);
        return -1;
    }
    if (bd < 0 || bd >= idx->ndim || bd > pnd) {
        TG_INVALID_ARGUMENT("batch_dims (%zd) must be in [0, %d) for indices "
                            "of rank %d [Op:%s]", bd, idx->ndim, idx->ndim,
                            tf);
        return -1;
    }
    Py_ssize_t kk = idx->shape[idx->ndim - 1];
    if (kk > pnd - bd) {
        TG_INVALID_ARGUMENT("index innermost dimension length must be <= "
                            "params rank; saw: %zd vs. %zd [Op:%s]", kk,
                            pnd - bd, tf);
        return -1;
    }
    if (batch_dims_match(tf, (int)bd, pshape, idx) < 0) {
        return -1;
    }
    int K = (int)kk;
    m->ndim = idx->ndim - 1 + (pnd - (int)bd - K);
    if (out_rank_check(tf, m->ndim) < 0) {
        return -1;
    }
    int nd = 0;
    for (int k = 0; k < idx->ndim - 1; k++) {
        m->shape[nd++] = idx->shape[k];
    }
    for (int k = (int)bd + K; k < pnd; k++) {
        m->shape[nd++] = pshape[k];
    }
    Py_ssize_t batch = prod(pshape, 0, (int)bd);
    Py_ssize_t per = prod(idx->shape, (int)bd, idx->ndim - 1);
    Py_ssize_t span = prod(pshape, (int)bd, (int)bd + K);
    m->inner = prod(pshape, (int)bd + K, pnd);
    m->nblk = batch * per;
    m->src = PyMem_New(Py_ssize_t, m->nblk + 1);
    if (m->src == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t r = 0; r < m->nblk; r++) {
        Py_ssize_t flat = 0;
        for (int j = 0; j < K; j++) {
            int64_t v = index_at(idx, r * K + j);
            Py_ssize_t d = pshape[bd + j];
            if (v < 0 || v >= d) {
                char pos[256], val[512];
                size_t used = 0;
                position_str(pos, sizeof(pos), idx->ndim - 1, idx->shape,
                             r);
                val[0] = '\0';
                for (int q = 0; q < K && used + 24 < sizeof(val); q++) {
                    used += (size_t)snprintf(
                        val + used, sizeof(val) - used, q ? ", %lld" : "%lld",
                        (long long)index_at(idx, r * K + q));
                }
                PyObject *s = tg_shape_str(pnd, pshape);
                if (s != NULL) {
                    TG_INVALID_ARGUMENT("indices[%s] = [%s] does not index "
                                        "into %sshape %U [Op:%s]", pos, val,
                                        strcmp(tf, "GatherNd") ? ""
                                                               : "param ",
                                        s, tf);
                    Py_DECREF(s);
                }
                PyMem_Free(m->src);
                m->src = NULL;
                return -1;
            }
            flat = flat * d + (Py_ssize_t)v;
        }
        m->src[r] = (r / (per ? per : 1)) * span + flat;
    }
    return 0;
}

static int
gather_nd_map(int pnd, const Py_ssize_t *pshape, TensorObject *idx,
              PyObject *bd_obj, blockmap *m)
{
    return gather_nd_map_named("GatherNd", pnd, pshape, idx, bd_obj, m);
}

/* the adjoint: zeros of `shape`, blocks of g added at src; g must have the
 * map's output shape */
static int
scatter_forward(tg_fwd *f, const blockmap *m, int nd, const Py_ssize_t *shape,
                const char *tfname)
{
    TensorObject *g = f->in[0];
    int ok = g->ndim == m->ndim;
    for (int k = 0; ok && k < g->ndim; k++) {
        ok = g->shape[k] == m->shape[k];
    }
    if (!ok) {
        return tg_shape_error("the gradient has shape %U, expected %U "
                              "[Op:%s]", tfname, g, m->ndim, m->shape);
    }
    f->out[0] = tg_fill_like(g->dtype, nd, shape, 0.0);
    if (f->out[0] == NULL) {
        return -1;
    }
    blocks_add(m, g, f->out[0]);
    return 0;
}

/* ---- gather / gather_grad: an adjoint pair ---------------------------------------------------------
 * gather:      z = params[..., indices, ...] along axis (TF's GatherV2,
 *              batch_dims leading dims shared)      dx = gather_grad(g)
 * gather_grad: z = zeros(shape) with g's blocks added at the indices
 *              (TF's IndexedSlices made dense)       dx = gather(g)
 * attrs: (indices, validate_indices, axis, batch_dims) and
 *        (indices, axis, batch_dims, shape)
 */
int
gather_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    TensorObject *idx = tg_index_tensor("GatherV2", "indices",
                                        attr(f->attrs, 0));
    blockmap m;
    if (idx == NULL) {
        return -1;
    }
    int rc = gather_map(x->ndim, x->shape, idx, attr(f->attrs, 2),
                        attr(f->attrs, 3), &m);
    Py_DECREF(idx);
    if (rc < 0) {
        return -1;
    }
    f->out[0] = tg_tensor_new(x->dtype, m.ndim, m.shape);
    if (f->out[0] != NULL) {
        blocks_copy(&m, x, f->out[0]);
    }
    PyMem_Free(m.src);
    return f->out[0] ? 0 : -1;
}

/* A gather-like row run on a batched cotangent: the cotangent's batch
 * dimension becomes one more batch dimension of the row, so the indices
 * are repeated along it and batch_dims grows by one (and a gather axis
 * with it).  Unbatched: the attributes as they are.  New references. */
static int
batch_gather_args(const tg_vjp_ctx *c, const char *tf, PyObject *indices,
                  PyObject *bd_obj, PyObject *axis_obj, int pnd,
                  PyObject **idx_out, PyObject **bd_out, PyObject **axis_out)
{
    Py_ssize_t bd, axis = 0;
    int ind;
    if (!c->batch) {
        *idx_out = Py_NewRef(indices);
        *bd_out = Py_NewRef(bd_obj);
        *axis_out = Py_NewRef(axis_obj);
        return 0;
    }
    *bd_out = *axis_out = NULL;
    if ((*idx_out = tg_vjp_repeat(c, indices)) == NULL) {
        return -1;
    }
    ind = ((TensorObject *)*idx_out)->ndim - 1;   /* the indices' own rank */
    if (tg_int_scalar(tf, "batch_dims", bd_obj, &bd) < 0 ||
        (axis_obj != Py_None &&
         tg_int_scalar(tf, "axis", axis_obj, &axis) < 0)) {
        Py_CLEAR(*idx_out);
        return -1;
    }
    bd = bd < 0 ? bd + ind : bd;
    axis = axis_obj == Py_None ? bd : (axis < 0 ? axis + pnd : axis);
    *bd_out = PyLong_FromSsize_t(bd + 1);
    *axis_out = PyLong_FromSsize_t(axis + 1);
    if (*bd_out == NULL || *axis_out == NULL) {
        Py_CLEAR(*idx_out);
        Py_CLEAR(*bd_out);
        Py_CLEAR(*axis_out);
        return -1;
    }
    return 0;
}

int
gather_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *p = IN_SLOT(0);
    PyObject *idx, *bd, *axis;
    if (batch_gather_args(c, "GatherV2", attr(c->attrs, 0), attr(c->attrs, 3),
                          attr(c->attrs, 2), p->ndim, &idx, &bd, &axis) < 0) {
        return -1;
    }
    KEEP(idx);
    KEEP(bd);
    KEEP(axis);
    PyObject *shape = GTO_DIMS_TUPLE(p);
    SET(0, shape ? OP1A(gather_grad, G, "(OOOO)", idx, axis, bd, shape)
                 : NULL);
    VJP_END;
}
JVP_LINEAR(gather)

int
gather_grad_forward(tg_fwd *f)
{
    Py_ssize_t shape[TG_MAXDIMS];
    int nd;
    blockmap m;
    TensorObject *idx;
    if (tg_int_list("UnsortedSegmentSum", "shape", attr(f->attrs, 3), &nd,
                    shape) < 0) {
        return -1;
    }
    idx = tg_index_tensor("UnsortedSegmentSum", "indices", attr(f->attrs, 0));
    if (idx == NULL) {
        return -1;
    }
    int rc = gather_map(nd, shape, idx, attr(f->attrs, 1), attr(f->attrs, 2),
                        &m);
    Py_DECREF(idx);
    if (rc < 0) {
        return -1;
    }
    rc = scatter_forward(f, &m, nd, shape, "UnsortedSegmentSum");
    PyMem_Free(m.src);
    return rc;
}

int
gather_grad_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *idx, *bd, *axis;
    if (batch_gather_args(c, "GatherV2", attr(c->attrs, 0), attr(c->attrs, 2),
                          attr(c->attrs, 1), OUT_SLOT(0)->ndim, &idx, &bd,
                          &axis) < 0) {
        return -1;
    }
    KEEP(idx);
    KEEP(bd);
    KEEP(axis);
    SET(0, OP1A(gather, G, "(OOOO)", idx, Py_None, axis, bd));
    VJP_END;
}
JVP_LINEAR(gather_grad)

/* ---- gather_nd / gather_nd_grad: an adjoint pair -------------------------------------------------
 * gather_nd:      z[i] = params[indices[i]] (indices[i] a K-tuple)
 *                                            dx = gather_nd_grad(g)
 * gather_nd_grad: z = zeros(shape) with g[i] added at indices[i]
 *                 (TF's ScatterNd)           dx = gather_nd(g)
 * attrs: (indices, batch_dims) and (indices, batch_dims, shape)
 */
int
gather_nd_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    TensorObject *idx = tg_index_tensor("GatherNd", "indices",
                                        attr(f->attrs, 0));
    blockmap m;
    if (idx == NULL) {
        return -1;
    }
    int rc = gather_nd_map(x->ndim, x->shape, idx, attr(f->attrs, 1), &m);
    Py_DECREF(idx);
    if (rc < 0) {
        return -1;
    }
    f->out[0] = tg_tensor_new(x->dtype, m.ndim, m.shape);
    if (f->out[0] != NULL) {
        blocks_copy(&m, x, f->out[0]);
    }
    PyMem_Free(m.src);
    return f->out[0] ? 0 : -1;
}

int
gather_nd_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *p = IN_SLOT(0);
    PyObject *idx, *bd, *axis;
    if (batch_gather_args(c, "GatherNd", attr(c->attrs, 0), attr(c->attrs, 1),
                          Py_None, p->ndim, &idx, &bd, &axis) < 0) {
        return -1;
    }
    KEEP(idx);
    KEEP(bd);
    KEEP(axis);
    PyObject *shape = GTO_DIMS_TUPLE(p);
    SET(0, shape ? OP1A(gather_nd_grad, G, "(OOO)", idx, bd, shape) : NULL);
    VJP_END;
}
JVP_LINEAR(gather_nd)

int
gather_nd_grad_forward(tg_fwd *f)
{
    Py_ssize_t shape[TG_MAXDIMS];
    int nd;
    blockmap m;
    TensorObject *idx;
    if (tg_int_list("ScatterNd", "shape", attr(f->attrs, 2), &nd,
                    shape) < 0) {
        return -1;
    }
    idx = tg_index_tensor("ScatterNd", "indices", attr(f->attrs, 0));
    if (idx == NULL) {
        return -1;
    }
    int rc = gather_nd_map(nd, shape, idx, attr(f->attrs, 1), &m);
    Py_DECREF(idx);
    if (rc < 0) {
        return -1;
    }
    rc = scatter_forward(f, &m, nd, shape, "ScatterNd");
    PyMem_Free(m.src);
    return rc;
}

int
gather_nd_grad_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    PyObject *idx, *bd, *axis;
    if (batch_gather_args(c, "ScatterNd", attr(c->attrs, 0), attr(c->attrs, 1),
                          Py_None, OUT_SLOT(0)->ndim, &idx, &bd, &axis) < 0) {
        return -1;
    }
    KEEP(idx);
    KEEP(bd);
    KEEP(axis);
    SET(0, OP1A(gather_nd, G, "(OO)", idx, bd));
    VJP_END;
}
JVP_LINEAR(gather_nd_grad)

/* ---- scatter_nd, tensor_scatter_nd_update / _add / _sub ---------------------------------------------
 * TF's signatures put the indices first, so here they are an integer
 * input (never differentiated), read as gather_nd's are:
 *   scatter_nd(indices, updates, shape): zeros(shape), updates[i] added at
 *       indices[i]                          dupdates = gather_nd(g)
 *   tensor_scatter_nd_update(tensor, indices, updates): tensor with
 *       updates[i] written at indices[i] (the last wins where an index
 *       repeats; TF leaves that order undefined)
 *                     dtensor = g where no update landed, 0 elsewhere
 *                     dupdates = gather_nd(g)
 *   tensor_scatter_nd_add / _sub: tensor +/- scatter_nd(indices, updates)
 *                     dtensor = g, dupdates = +/- gather_nd(g)
 * updates must have shape indices.shape[:-1] + shape[K:].
 */
static TensorObject *
scatter_indices(const char *tf, TensorObject *idx)
{
    if (idx->dtype != TG_INT32 && idx->dtype != TG_INT64) {
        PyErr_Format(PyExc_TypeError, "%s: Value passed to parameter "
                     "'indices' has DataType %s not in list of allowed "
                     "values: int32, int64", tf, tg_dtype_names[idx->dtype]);
        return NULL;
    }
    if (idx->ndim < 1) {
        TG_INVALID_ARGUMENT("Indices must have rank >= 1 [Op:%s]", tf);
        return NULL;
    }
    return idx;
}

/* (d0, d1, ...) as a Python tuple; a new reference */
static PyObject *
dims_tuple(int nd, const Py_ssize_t *shape)
{
    PyObject *t = PyTuple_New(nd);
    for (int k = 0; t != NULL && k < nd; k++) {
        PyObject *d = PyLong_FromSsize_t(shape[k]);
        if (d == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, k, d);
    }
    return t;
}

/* element i of a float tensor set to v */
static void
store_float(TensorObject *t, Py_ssize_t i, double v)
{
    switch (t->dtype) {
        case TG_FLOAT16:
            ((npy_half *)t->data)[i] = npy_double_to_half(v);
            break;
        case TG_FLOAT32: ((float *)t->data)[i] = (float)v; break;
        default: ((double *)t->data)[i] = v; break;
    }
}

/* the block map of `indices` into `shape`, with updates' shape checked */
static int
scatter_map(const char *tf, int nd, const Py_ssize_t *shape,
            TensorObject *idx, TensorObject *upd, blockmap *m)
{
    PyObject *zero = PyLong_FromLong(0);
    int rc;
    if (zero == NULL || scatter_indices(tf, idx) == NULL) {
        Py_XDECREF(zero);
        return -1;
    }
    rc = gather_nd_map_named(tf, nd, shape, idx, zero, m);
    Py_DECREF(zero);
    if (rc < 0) {
        return -1;
    }
    int ok = upd->ndim == m->ndim;
    for (int k = 0; ok && k < upd->ndim; k++) {
        ok = upd->shape[k] == m->shape[k];
    }
    if (!ok) {
        PyMem_Free(m->src);
        m->src = NULL;
        return tg_shape_error("updates has shape %U, expected %U "
                              "(indices.shape[:-1] + shape[K:]) [Op:%s]", tf,
                              upd, m->ndim, m->shape);
    }
    return 0;
}

int
scatter_nd_forward(tg_fwd *f)
{
    Py_ssize_t shape[TG_MAXDIMS];
    int nd;
    blockmap m;
    TensorObject *upd = f->in[1];
    if (tg_int_list("ScatterNd", "shape", attr(f->attrs, 0), &nd, shape) <
        0) {
        return -1;
    }
    for (int k = 0; k < nd; k++) {
        if (shape[k] < 0) {
            TG_INVALID_ARGUMENT("Dimension %zd must be >= 0 [Op:ScatterNd]",
                                shape[k]);
            return -1;
        }
    }
    if (scatter_map("ScatterNd", nd, shape, f->in[0], upd, &m) < 0) {
        return -1;
    }
    f->out[0] = tg_fill_like(upd->dtype, nd, shape, 0.0);
    if (f->out[0] != NULL) {
        blocks_add(&m, upd, f->out[0]);
    }
    PyMem_Free(m.src);
    return f->out[0] ? 0 : -1;
}

/* gather_nd(g, indices) for the updates' gradient, batched as
 * gather_nd_grad's vjp does; a new reference */
static PyObject *
scatter_updates_grad(tg_vjp_ctx *c, const char *tf, PyObject *g,
                     PyObject *indices, int gnd)
{
    PyObject *zero = PyLong_FromLong(0), *idx, *bd, *axis, *r = NULL;
    if (zero == NULL) {
        return NULL;
    }
    if (batch_gather_args(c, tf, indices, zero, Py_None, gnd, &idx, &bd,
                          &axis) == 0) {
        r = tg_op1_attrs(TG_OP_gather_nd, g, "(OO)", idx, bd);
        Py_DECREF(idx);
        Py_DECREF(bd);
        Py_DECREF(axis);
    }
    Py_DECREF(zero);
    return r;
}

int
scatter_nd_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(1)) {
        SET(1, KEEP(scatter_updates_grad(c, "ScatterNd", G, X(0),
                                         OUT_SLOT(0)->ndim)));
    }
    VJP_END;
}
JVP_LINEAR(scatter_nd)

/* tensor_scatter_nd_* forwards: a copy of the tensor, then the updates
 * written (update) or added (add, sub: updates negated first) */
static int
tensor_scatter_forward(tg_fwd *f, const char *tf, int how)
{
    TensorObject *x = f->in[0], *upd = f->in[2], *neg = NULL;
    blockmap m;
    if (tg_want_dtype(tf, 2, x->dtype, upd->dtype) < 0 ||
        scatter_map(tf, x->ndim, x->shape, f->in[1], upd, &m) < 0) {
        return -1;
    }
    if (how < 0) {
        /* the kernel, not the op: nothing of this is recorded */
        TensorObject *in1[1] = {upd};
        if (tg_unary_forward(TG_OP_negative, in1, &neg) < 0) {
            PyMem_Free(m.src);
            return -1;
        }
        upd = neg;
    }
    f->out[0] = tg_tensor_new(x->dtype, x->ndim, x->shape);
    if (f->out[0] != NULL) {
        TensorObject *o = f->out[0];
        size_t isz = (size_t)tg_dtype_size[x->dtype];
        size_t bytes = (size_t)m.inner * isz;
        memcpy(o->data, x->data, (size_t)x->size * isz);
        if (how == 0) {
            for (Py_ssize_t k = 0; k < m.nblk && bytes; k++) {
                memcpy(o->data + (size_t)m.src[k] * bytes,
                       upd->data + (size_t)k * bytes, bytes);
            }
        }
        else {
            blocks_add(&m, upd, o);
        }
    }
    Py_XDECREF(neg);
    PyMem_Free(m.src);
    return f->out[0] ? 0 : -1;
}

int
tensor_scatter_nd_update_forward(tg_fwd *f)
{
    return tensor_scatter_forward(f, "TensorScatterUpdate", 0);
}

int
tensor_scatter_nd_add_forward(tg_fwd *f)
{
    return tensor_scatter_forward(f, "TensorScatterAdd", 1);
}

int
tensor_scatter_nd_sub_forward(tg_fwd *f)
{
    return tensor_scatter_forward(f, "TensorScatterSub", -1);
}

/* the vjps: the tensor's gradient is g (add, sub) or g masked where an
 * update landed (update); the updates' is +/- gather_nd(g) */
static int
tensor_scatter_vjp(tg_vjp_ctx *c, const char *tf, int how)
{
    VJP_BEGIN;
    if (NEEDS(0)) {
        if (how != 0) {
            SET(0, G);
        }
        else {
            /* 1 where no update landed: scatter_nd of ones, tested for
             * zero (the indices are fixed, so this is a constant) */
            const tg_slot *xs = IN_SLOT(0), *us = IN_SLOT(2);
            TensorObject *ones = tg_fill_like(xs->dtype, us->ndim, us->shape,
                                              1.0);
            PyObject *shape = ones ? KEEP(dims_tuple(xs->ndim, xs->shape))
                                   : NULL;
            PyObject *sattrs = shape ? KEEP(PyTuple_Pack(1, shape)) : NULL;
            TensorObject *sin[2] = {c->in[1], ones};
            PyObject *hit = sattrs ? KEEP(tg_call_tensors(TG_OP_scatter_nd,
                                                          2, sin, sattrs))
                                   : NULL;
            Py_XDECREF(ones);
            PyObject *zero = hit ? CONST(0.0, hit) : NULL;
            PyObject *miss = zero ? BINARY(equal, hit, zero) : NULL;
            PyObject *mask = miss ? KEEP(tg_op1_attrs(
                                        TG_OP_cast, miss, "(O)",
                                        tg_dtype_obj(xs->dtype)))
                                  : NULL;
            SET(0, mask ? MUL(G, mask) : NULL);
        }
    }
    if (NEEDS(2)) {
        PyObject *gu = KEEP(scatter_updates_grad(c, tf, G, X(1),
                                                 OUT_SLOT(0)->ndim));
        SET(2, gu && how < 0 ? NEG(gu) : gu);
    }
    VJP_END;
}

int
tensor_scatter_nd_update_vjp(tg_vjp_ctx *c)
{
    return tensor_scatter_vjp(c, "TensorScatterUpdate", 0);
}
JVP_LINEAR(tensor_scatter_nd_update)

int
tensor_scatter_nd_add_vjp(tg_vjp_ctx *c)
{
    return tensor_scatter_vjp(c, "TensorScatterAdd", 1);
}
JVP_LINEAR(tensor_scatter_nd_add)

int
tensor_scatter_nd_sub_vjp(tg_vjp_ctx *c)
{
    return tensor_scatter_vjp(c, "TensorScatterSub", -1);
}
JVP_LINEAR(tensor_scatter_nd_sub)

/* ---- unsorted_segment_sum ---------------------------------------------------------------------------
 * z[i] = sum of data[j] over j with segment_ids[j] == i (data's leading
 * dims are segment_ids' shape; negative ids are dropped, as TF's)
 *                     ddata = gather(g, segment_ids), 0 where an id is < 0
 * attrs: (num_segments,)
 */
/* TF's checks of a segment op's ids and num_segments (attribute 0); the
 * result's shape in nd/shape, and the elements per segment in *inner */
static int
segment_setup(const char *tf, tg_fwd *f, int *nd, Py_ssize_t *shape,
              Py_ssize_t *inner)
{
    TensorObject *x = f->in[0], *ids = f->in[1];
    Py_ssize_t n;
    if (ids->dtype != TG_INT32 && ids->dtype != TG_INT64) {
        PyErr_Format(PyExc_TypeError, "%s: Value passed to parameter "
                     "'segment_ids' has DataType %s not in list of allowed "
                     "values: int32, int64", tf, tg_dtype_names[ids->dtype]);
        return -1;
    }
    if (tg_int_scalar(tf, "num_segments", attr(f->attrs, 0), &n) < 0) {
        return -1;
    }
    int ok = ids->ndim <= x->ndim;
    for (int k = 0; ok && k < ids->ndim; k++) {
        ok = ids->shape[k] == x->shape[k];
    }
    if (!ok) {
        return tg_shape_error("data.shape = %U does not start with "
                              "segment_ids.shape = %U [Op:%s]", tf, x,
                              ids->ndim, ids->shape);
    }
    if (n < 0) {
        TG_INVALID_ARGUMENT("num_segments must be >= 0, got %zd [Op:%s]", n,
                            tf);
        return -1;
    }
    for (Py_ssize_t j = 0; j < ids->size; j++) {
        int64_t v = index_at(ids, j);
        if (v >= n) {
            TG_INVALID_ARGUMENT("segment_ids[%zd] = %lld is out of range "
                                "[0, %zd) [Op:%s]", j, (long long)v, n, tf);
            return -1;
        }
    }
    shape[0] = n;
    for (int k = ids->ndim; k < x->ndim; k++) {
        shape[1 + k - ids->ndim] = x->shape[k];
    }
    *nd = 1 + x->ndim - ids->ndim;
    *inner = prod(x->shape, ids->ndim, x->ndim);
    return 0;
}

int
unsorted_segment_sum_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0], *ids = f->in[1];
    Py_ssize_t shape[TG_MAXDIMS], inner;
    int nd;
    if (segment_setup("UnsortedSegmentSum", f, &nd, shape, &inner) < 0) {
        return -1;
    }
    f->out[0] = tg_fill_like(x->dtype, nd, shape, 0.0);
    if (f->out[0] == NULL) {
        return -1;
    }
    size_t isz = (size_t)tg_dtype_size[x->dtype];
    for (Py_ssize_t j = 0; j < ids->size; j++) {
        int64_t v = index_at(ids, j);
        if (v >= 0) {
            block_add(x->dtype, f->out[0]->data + (size_t)(v * inner) * isz,
                      x->data + (size_t)(j * inner) * isz, inner);
        }
    }
    return 0;
}

/* For the segment vjps: the ids with negatives made 0 (*safe, a new
 * int64 tensor, or a new reference to ids when none is negative) and,
 * when some are, a float mask of xs's dtype, 1 where the id is >= 0, of
 * shape ids.shape + (1,) * rest (*valid, else NULL).  TF's
 * _GatherDropNegatives. */
static int
segment_safe_ids(TensorObject *ids, const tg_slot *xs, PyObject **safe,
                 PyObject **valid)
{
    Py_ssize_t mshape[TG_MAXDIMS];
    int negative = 0;
    *safe = *valid = NULL;
    for (Py_ssize_t j = 0; j < ids->size && !negative; j++) {
        negative = index_at(ids, j) < 0;
    }
    if (!negative) {
        *safe = Py_NewRef((PyObject *)ids);
        return 0;
    }
    for (int k = 0; k < xs->ndim; k++) {
        mshape[k] = k < ids->ndim ? ids->shape[k] : 1;
    }
    TensorObject *sf = tg_tensor_new(TG_INT64, ids->ndim, ids->shape);
    TensorObject *mk = sf ? tg_tensor_new(xs->dtype, xs->ndim, mshape) : NULL;
    if (mk == NULL) {
        Py_XDECREF(sf);
        return -1;
    }
    for (Py_ssize_t j = 0; j < ids->size; j++) {
        int64_t v = index_at(ids, j);
        ((int64_t *)sf->data)[j] = v < 0 ? 0 : v;
        store_float(mk, j, v < 0 ? 0.0 : 1.0);
    }
    *safe = (PyObject *)sf;
    *valid = (PyObject *)mk;
    return 0;
}

/* gather(t, ids) along axis `axis`, recorded; a new reference */
static PyObject *
gather_along(PyObject *t, PyObject *ids, int axis)
{
    return tg_op1_attrs(TG_OP_gather, t, "(OOii)", ids, Py_None, axis, 0);
}

int
unsorted_segment_sum_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(0)) {
        PyObject *safe, *valid;
        if (segment_safe_ids(c->in[1], IN_SLOT(0), &safe, &valid) < 0) {
            VJP_END;
        }
        KEEP(safe);
        if (valid != NULL) {
            KEEP(valid);
        }
        /* a batched cotangent gathers along its axis 1 */
        PyObject *gx = KEEP(gather_along(G, safe, c->batch ? 1 : 0));
        SET(0, gx && valid ? MUL(gx, valid) : gx);
    }
    VJP_END;
}
JVP_LINEAR(unsorted_segment_sum)

/* ---- unsorted_segment_max ---------------------------------------------------
 * z[i] = max of data[j] over j with segment_ids[j] == i, the dtype's
 * lowest value for an empty segment (TF's)
 *     ddata[j] = g[id_j] / (how many elements of segment id_j equal its
 *                max) where data[j] is that max, 0 elsewhere
 *                (TF's _UnsortedSegmentMinOrMaxGrad)
 * attrs: (num_segments,)
 */
#define SEGMENT_MAX_LOOP(T)                                                  \
    do {                                                                     \
        T *o_ = (T *)out->data;                                              \
        const T *p_ = (const T *)x->data;                                    \
        for (Py_ssize_t j = 0; j < ids->size; j++) {                         \
            int64_t v = index_at(ids, j);                                    \
            if (v < 0) {                                                     \
                continue;                                                    \
            }                                                                \
            T *d_ = o_ + v * inner;                                          \
            const T *s_ = p_ + j * inner;                                    \
            for (Py_ssize_t i = 0; i < inner; i++) {                         \
                /* NaN wins, as in reduce_max */                             \
                if (!(s_[i] <= d_[i])) {                                     \
                    d_[i] = s_[i];                                           \
                }                                                            \
            }                                                                \
        }                                                                    \
    } while (0)

int
unsorted_segment_max_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0], *ids = f->in[1], *x32 = NULL, *out;
    Py_ssize_t shape[TG_MAXDIMS], inner;
    int nd, dt = x->dtype;
    /* every dtype natively (dispatch does not widen this row: an empty
     * segment holds the dtype's own lowest value) */
    double lowest;
    switch (dt) {
        case TG_FLOAT16: lowest = -65504.0; break;
        case TG_FLOAT32: lowest = -(double)FLT_MAX; break;
        case TG_FLOAT64: lowest = -DBL_MAX; break;
        case TG_INT8: lowest = INT8_MIN; break;
        case TG_INT16: lowest = INT16_MIN; break;
        case TG_INT32: lowest = INT32_MIN; break;
        case TG_INT64: lowest = (double)INT64_MIN; break;
        default: lowest = 0.0; break;   /* unsigned */
    }
    if (segment_setup("UnsortedSegmentMax", f, &nd, shape, &inner) < 0) {
        return -1;
    }
    if (dt == TG_FLOAT16) {     /* computed in float32, rounded back */
        if ((x32 = tg_ufunc_apply(NULL, 1, &x, TG_FLOAT32)) == NULL) {
            return -1;
        }
        x = x32;
    }
    out = tg_fill_like(x->dtype, nd, shape, lowest);
    if (out != NULL) {
        switch (x->dtype) {
            case TG_FLOAT32: SEGMENT_MAX_LOOP(float); break;
            case TG_FLOAT64: SEGMENT_MAX_LOOP(double); break;
            case TG_INT8: SEGMENT_MAX_LOOP(int8_t); break;
            case TG_INT16: SEGMENT_MAX_LOOP(int16_t); break;
            case TG_INT32: SEGMENT_MAX_LOOP(int32_t); break;
            case TG_UINT8: SEGMENT_MAX_LOOP(uint8_t); break;
            case TG_UINT16: SEGMENT_MAX_LOOP(uint16_t); break;
            case TG_UINT32: SEGMENT_MAX_LOOP(uint32_t); break;
            case TG_UINT64: SEGMENT_MAX_LOOP(uint64_t); break;
            default: SEGMENT_MAX_LOOP(int64_t); break;
        }
    }
    if (out != NULL && dt == TG_FLOAT16) {
        Py_SETREF(out, tg_ufunc_apply(NULL, 1, &out, TG_FLOAT16));
    }
    Py_XDECREF(x32);
    f->out[0] = out;
    return out ? 0 : -1;
}
#undef SEGMENT_MAX_LOOP

int
unsorted_segment_max_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(0)) {
        const tg_slot *xs = IN_SLOT(0);
        PyObject *safe, *valid;
        if (segment_safe_ids(c->in[1], xs, &safe, &valid) < 0) {
            VJP_END;
        }
        KEEP(safe);
        if (valid != NULL) {
            KEEP(valid);
        }
        /* which elements are their segment's max, and how many per
         * segment (ties share the gradient, as reduce_max's) */
        PyObject *at = KEEP(gather_along(Y, safe, 0));
        PyObject *hit = at ? BINARY(equal, X(0), at) : NULL;
        PyObject *sel = hit ? KEEP(tg_op1_attrs(TG_OP_cast, hit, "(O)",
                                                tg_dtype_obj(xs->dtype)))
                            : NULL;
        if (sel != NULL && valid != NULL) {
            sel = MUL(sel, valid);
        }
        PyObject *nattr = sel ? KEEP(Py_BuildValue(
                                    "(n)", OUT_SLOT(0)->shape[0]))
                              : NULL;
        TensorObject *sin[2] = {(TensorObject *)sel, c->in[1]};
        PyObject *count = nattr ? KEEP(tg_call_tensors(
                                      TG_OP_unsorted_segment_sum, 2, sin,
                                      nattr))
                                : NULL;
        /* an empty segment counts 1: its share is never gathered, and a
         * 0 there would put inf * 0 into the second order */
        PyObject *one = count ? CONST(1.0, count) : NULL;
        PyObject *nz = one ? BINARY(maximum, count, one) : NULL;
        PyObject *share = nz ? DIV(G, nz) : NULL;
        PyObject *back = share ? KEEP(gather_along(share, safe,
                                                   c->batch ? 1 : 0))
                               : NULL;
        SET(0, back ? MUL(back, sel) : NULL);
    }
    VJP_END;
}
JVP_TRANSPOSED(unsorted_segment_max)

/* ---- boolean_mask: a composite ---------------------------------------------------------------------
 * z = gather(reshape(x, [..., prod(mask dims), ...]), where(mask), axis)
 * Both steps are recorded rows, so the gradient is gather's scatter-add.
 * attrs: (mask, axis)
 */
int
boolean_mask_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0], *mask, *where = NULL;
    Py_ssize_t a = 0, shape[TG_MAXDIMS], count = 0;
    PyObject *flat = NULL, *attrs = NULL;
    int k, nd = 0;
    if (attr(f->attrs, 0) == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "boolean_mask() missing required argument 'mask'");
        return -1;
    }
    if (attr(f->attrs, 1) != Py_None &&
        tg_int_scalar("BooleanMask", "axis", attr(f->attrs, 1), &a) < 0) {
        return -1;
    }
    mask = tg_convert(attr(f->attrs, 0), -1, "BooleanMask");
    if (mask != NULL && mask->dtype != TG_BOOL) {
        /* TF converts the mask as it is and takes where(mask): a numeric
         * mask selects its nonzero entries */
        Py_SETREF(mask, tg_ufunc_apply(NULL, 1, &mask, TG_BOOL));
    }
    if (mask == NULL) {
        return -1;
    }
    k = mask->ndim;
    if (k == 0) {
        PyErr_SetString(PyExc_ValueError, "mask cannot be scalar.");
        goto done;
    }
    if (a < 0) {
        a += x->ndim;
    }
    int ok = a >= 0 && a + k <= x->ndim;
    for (int i = 0; ok && i < k; i++) {
        ok = x->shape[a + i] == mask->shape[i];
    }
    if (!ok) {
        PyObject *ms = tg_shape_tuple(mask->ndim, mask->shape);
        Py_ssize_t lo = a < 0 ? 0 : (a > x->ndim ? x->ndim : a);
        Py_ssize_t hi = lo + k > x->ndim ? x->ndim : lo + k;
        PyObject *xs = tg_shape_tuple((int)(hi - lo), x->shape + lo);
        if (ms && xs) {
            PyErr_Format(PyExc_ValueError,
                         "Shapes %R and %R are incompatible", xs, ms);
        }
        Py_XDECREF(ms);
        Py_XDECREF(xs);
        goto done;
    }
    /* the positions of the true entries, as an int64 index tensor */
    for (Py_ssize_t i = 0; i < mask->size; i++) {
        count += ((npy_bool *)mask->data)[i] != 0;
    }
    where = tg_tensor_new(TG_INT64, 1, &count);
    if (where == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0, j = 0; i < mask->size; i++) {
        if (((npy_bool *)mask->data)[i]) {
            ((int64_t *)where->data)[j++] = i;
        }
    }
    for (int i = 0; i < a; i++) {
        shape[nd++] = x->shape[i];
    }
    shape[nd++] = mask->size;
    for (int i = (int)a + k; i < x->ndim; i++) {
        shape[nd++] = x->shape[i];
    }
    if (k == 1) {
        flat = Py_NewRef(x);
    }
    else {
        tg_slot s = {.ndim = nd, .shape = shape};
        flat = tg_op_to_shape(TG_OP_reshape, (PyObject *)x, &s);
    }
    attrs = flat ? Py_BuildValue("(OOni)", where, Py_None, a, 0) : NULL;
    if (attrs != NULL) {
        f->out[0] = (TensorObject *)tg_op1(TG_OP_gather, flat, attrs);
    }
done:
    Py_DECREF(mask);
    Py_XDECREF(where);
    Py_XDECREF(flat);
    Py_XDECREF(attrs);
    return f->out[0] ? 0 : -1;
}

COMPOSITE_VJP(boolean_mask)

/* ---- linspace: a composite, as TF's linspace_nd ------------------------------------------------------
 * z = concat([start, start + delta * [1 .. num-2], stop], axis)[:num],
 * delta = (stop - start) / max(num - 1, 1); start and stop broadcast
 * against each other (after a new axis is inserted in each).  Integer
 * inputs give float64, as TF's true division does.  Every step is a
 * recorded row, so start and stop get TF's gradients.
 * attrs: (num, axis)
 */
int
linspace_forward(tg_fwd *f)
{
    PyObject *tmp[16] = {NULL}; /* up to 13 temporaries on the broadcast path */
    int nt = 0;
    PyObject *s, *e, *r = NULL;
    Py_ssize_t num, a, rshape[TG_MAXDIMS];
    TensorObject *range = NULL;
    if (attr(f->attrs, 0) == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "linspace() missing required argument 'num'");
        return -1;
    }
    if (tg_int_scalar("LinSpace", "num", attr(f->attrs, 0), &num) < 0 ||
        tg_int_scalar("LinSpace", "axis", attr(f->attrs, 1), &a) < 0) {
        return -1;
    }
    if (num < 0) {
        TG_INVALID_ARGUMENT("Requires num >= 0: %zd [Op:LinSpace]", num);
        return -1;
    }
#define T(x) (tmp[nt++] = (x))
    /* release a temporary early (NULL: nothing) */
#define DROP(x)                                                            \
    for (int i_ = 0; (x) != NULL && i_ < nt; i_++) {                       \
        if (tmp[i_] == (PyObject *)(x)) {                                  \
            Py_CLEAR(tmp[i_]);                                             \
            break;                                                         \
        }                                                                  \
    }
    s = (PyObject *)f->in[0];
    e = (PyObject *)f->in[1];
    if (!tg_is_float(f->in[0]->dtype)) {
        s = T(tg_op1_attrs(TG_OP_cast, s, "(O)", tg_dtype_obj(TG_FLOAT64)));
        e = s ? T(tg_op1_attrs(TG_OP_cast, e, "(O)",
                               tg_dtype_obj(TG_FLOAT64)))
              : NULL;
    }
    s = s ? T(tg_op1_attrs(TG_OP_expand_dims, s, "(n)", a)) : NULL;
    e = s && e ? T(tg_op1_attrs(TG_OP_expand_dims, e, "(n)", a)) : NULL;
    if (e == NULL) {
        goto done;
    }
    TensorObject *ts = (TensorObject *)s, *te = (TensorObject *)e;
    int nd;
    Py_ssize_t bshape[TG_MAXDIMS];
    if (tg_broadcast_shapes("LinSpace", ts, te, &nd, bshape) < 0) {
        goto done;
    }
    /* the new axis, counted in the broadcast rank as TF does */
    int ax = (int)(a < 0 ? a + nd : a);
    if (ax < 0 || ax >= nd) {
        TG_INVALID_ARGUMENT("linspace: axis %zd is out of range for a result "
                            "of rank %d [Op:LinSpace]", a, nd);
        goto done;
    }
    PyObject *sh = T(tg_shape_tuple(nd, bshape));
    if (sh == NULL) {
        goto done;
    }
    if (ts->ndim != nd || memcmp(ts->shape, bshape, sizeof(Py_ssize_t) * nd)) {
        s = T(tg_op1_attrs(TG_OP_broadcast_to, s, "(O)", sh));
    }
    if (s && (te->ndim != nd ||
              memcmp(te->shape, bshape, sizeof(Py_ssize_t) * nd))) {
        e = T(tg_op1_attrs(TG_OP_broadcast_to, e, "(O)", sh));
    }
    if (s == NULL || e == NULL) {
        goto done;
    }
    int dt = ((TensorObject *)s)->dtype;
    Py_ssize_t steps = num - 1 > 1 ? num - 1 : 1;
    Py_ssize_t nmid = num - 2 > 0 ? num - 2 : 0;
    for (int k = 0; k < nd; k++) {
        rshape[k] = k == ax ? nmid : 1;
    }
    range = tg_tensor_new(dt, nd, rshape);
    if (range == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < nmid; i++) {
        double v = (double)(i + 1);
        switch (dt) {
            case TG_FLOAT16:
                ((npy_half *)range->data)[i] = npy_double_to_half(v);
                break;
            case TG_FLOAT32: ((float *)range->data)[i] = (float)v; break;
            default: ((double *)range->data)[i] = v; break;
        }
    }
    T((PyObject *)range);
    PyObject *n = T((PyObject *)tg_tensor_scalar(dt, (double)steps));
    PyObject *diff = n ? T(tg_op2(TG_OP_subtract, e, s, NULL)) : NULL;
    PyObject *delta = diff ? T(tg_op2(TG_OP_divide, diff, n, NULL)) : NULL;
    PyObject *step = delta ? T(tg_op2(TG_OP_multiply, delta,
                                      (PyObject *)range, NULL))
                           : NULL;
    /* range, step and mid are each as large as the result: each goes as
     * soon as the next exists (a tape keeps what its vjps read), so at
     * most two are alive, not four */
    DROP((PyObject *)range);
    PyObject *mid = step ? T(tg_op2(TG_OP_add, s, step, NULL)) : NULL;
    DROP(step);
    if (mid == NULL) {
        goto done;
    }
    PyObject *parts = Py_BuildValue("[OOO]", s, mid, e);
    PyObject *cattrs = Py_BuildValue("(i)", ax);
    DROP(mid);                        /* parts holds it */
    if (parts && cattrs) {
        r = tg_call(TG_OP_concat, 3, PySequence_Fast_ITEMS(parts), cattrs);
    }
    Py_XDECREF(parts);
    Py_XDECREF(cattrs);
    /* TF slices to num: a no-op unless num < 2, or start and stop were
     * of different ranks so that the new axis broadcast wider than 1 */
    if (r != NULL && ((TensorObject *)r)->shape[ax] != num) {
        Py_SETREF(r, take_key(r, axis_key(ax, slice_obj(0, num))));
    }
done:
#undef T
#undef DROP
    for (int i = 0; i < nt; i++) {
        Py_XDECREF(tmp[i]);
    }
    f->out[0] = (TensorObject *)r;
    return r ? 0 : -1;
}

COMPOSITE_VJP(linspace)

/* ---- range: never recorded ---------------------------------------------------------------------------
 * z = [start, start + delta, ...) up to limit (exclusive), z[i] computed as
 * start + i * delta in the result dtype.  Without `dtype`, the widest of
 * the three argument dtypes in int32 < int64 < float16 < float32 < float64.
 * As TF, Python values are converted to `dtype` (the dispatcher does it
 * for `start`, TG_DTYPE_INPUTS), so range(3.5, dtype=int32) is a
 * TypeError; tensors are cast.
 * attrs: (limit, delta, dtype)
 */
static int
range_rank(int dt)
{
    static const int order[TG_NDTYPES] = {
        [TG_INT32] = 0, [TG_INT64] = 1, [TG_FLOAT16] = 2, [TG_FLOAT32] = 3,
        [TG_FLOAT64] = 4, [TG_BOOL] = -1};
    return order[dt];
}

static double
scalar_value(TensorObject *t)
{
    switch (t->dtype) {
        case TG_FLOAT16: return npy_half_to_double(*(npy_half *)t->data);
        case TG_FLOAT32: return *(float *)t->data;
        case TG_FLOAT64: return *(double *)t->data;
        case TG_INT32: return *(int32_t *)t->data;
        case TG_INT64: return (double)*(int64_t *)t->data;
        default: return *(npy_bool *)t->data;
    }
}

static int64_t
scalar_int(TensorObject *t, const char *name, int64_t *out)
{
    double v;
    switch (t->dtype) {
        case TG_INT32: *out = *(int32_t *)t->data; return 0;
        case TG_INT64: *out = *(int64_t *)t->data; return 0;
        default: v = scalar_value(t);
    }
    /* a float into an integer range: truncated, if it is an integer's
     * size at all (converting NaN or 1e30 would be undefined in C) */
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) {
        char buf[32];   /* PyErr_Format has no %g */
        snprintf(buf, sizeof(buf), "%g", v);
        TG_INVALID_ARGUMENT("Range: %s = %s does not fit an integer range "
                            "[Op:Range]", name, buf);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int
range_forward(tg_fwd *f)
{
    static const char *names[3] = {"start", "limit", "delta"};
    TensorObject *v[3] = {NULL, NULL, NULL};
    PyObject *objs[3];
    int dt, rc = -1;
    if (tg_dtype_arg(attr(f->attrs, 2), &dt) < 0) {
        return -1;
    }
    /* range(n) is range(0, n) */
    if (attr(f->attrs, 0) == Py_None) {
        objs[0] = NULL;
        objs[1] = (PyObject *)f->in[0];
    }
    else {
        objs[0] = (PyObject *)f->in[0];
        objs[1] = attr(f->attrs, 0);
    }
    objs[2] = attr(f->attrs, 1);
    int widest = -1;
    for (int i = 0; i < 3; i++) {
        if (objs[i] == NULL) {
            v[i] = tg_tensor_scalar(dt >= 0 ? dt : TG_INT32, 0.0);
        }
        else {
            v[i] = tg_convert(objs[i], Tensor_Check(objs[i]) ? -1 : dt,
                              "Range");
        }
        if (v[i] == NULL) {
            goto done;
        }
        if (v[i]->ndim != 0) {
            PyObject *s = tg_shape_str(v[i]->ndim, v[i]->shape);
            if (s != NULL) {
                TG_INVALID_ARGUMENT("%s must be a scalar, not shape %U "
                                    "[Op:Range]", names[i], s);
                Py_DECREF(s);
            }
            goto done;
        }
        if (v[i]->dtype == TG_BOOL) {
            PyErr_Format(PyExc_TypeError,
                         "Range: %s must be a number, got a bool tensor",
                         names[i]);
            goto done;
        }
        if (widest < 0 || range_rank(v[i]->dtype) > range_rank(widest)) {
            widest = v[i]->dtype;
        }
    }
    if (dt < 0) {
        dt = widest;
    }
    if (dt == TG_BOOL) {
        PyErr_SetString(PyExc_TypeError, "Range: dtype bool is not supported");
        goto done;
    }
    Py_ssize_t size;
    if (dt == TG_INT32 || dt == TG_INT64) {
        int64_t s, l, d;
        if (scalar_int(v[0], names[0], &s) < 0 ||
            scalar_int(v[1], names[1], &l) < 0 ||
            scalar_int(v[2], names[2], &d) < 0) {
            goto done;
        }
        if (dt == TG_INT32) {
            s = (int32_t)s, l = (int32_t)l, d = (int32_t)d;
        }
        if (d == 0) {
            TG_INVALID_ARGUMENT("Requires delta != 0: 0 [Op:Range]");
            goto done;
        }
        if ((d > 0 && s > l) || (d < 0 && s < l)) {
            TG_INVALID_ARGUMENT("Requires start %s limit when delta %s 0: "
                                "%lld/%lld [Op:Range]", d > 0 ? "<=" : ">=",
                                d > 0 ? ">" : "<", (long long)s,
                                (long long)l);
            goto done;
        }
        uint64_t span = d > 0 ? (uint64_t)l - (uint64_t)s
                              : (uint64_t)s - (uint64_t)l;
        uint64_t step = d > 0 ? (uint64_t)d : (uint64_t)0 - (uint64_t)d;
        size = (Py_ssize_t)((span + step - 1) / step);
        f->out[0] = tg_tensor_new(dt, 1, &size);
        if (f->out[0] == NULL) {
            goto done;
        }
        for (Py_ssize_t i = 0; i < size; i++) {
            int64_t val = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
            if (dt == TG_INT32) {
                ((int32_t *)f->out[0]->data)[i] = (int32_t)val;
            }
            else {
                ((int64_t *)f->out[0]->data)[i] = val;
            }
        }
        rc = 0;
        goto done;
    }
    /* floats: the size and values in the result dtype, as TF computes */
    double s = scalar_value(v[0]), l = scalar_value(v[1]);
    double d = scalar_value(v[2]), n;
    if (dt == TG_FLOAT32) {
        s = (float)s, l = (float)l, d = (float)d;
        n = ceilf(fabsf(((float)l - (float)s) / (float)d));
    }
    else {
        n = ceil(fabs((l - s) / d));
    }
    if (d == 0) {
        TG_INVALID_ARGUMENT("Requires delta != 0: 0 [Op:Range]");
        goto done;
    }
    if ((d > 0 && s > l) || (d < 0 && s < l)) {
        char sl[64];    /* PyErr_Format has no %g */
        snprintf(sl, sizeof(sl), "%g/%g", s, l);
        TG_INVALID_ARGUMENT("Requires start %s limit when delta %s 0: %s "
                            "[Op:Range]", d > 0 ? "<=" : ">=",
                            d > 0 ? ">" : "<", sl);
        goto done;
    }
    if (!isfinite(n) || n > (double)PY_SSIZE_T_MAX / 16) {
        TG_INVALID_ARGUMENT("Requires ((limit - start) / delta) <= %zd "
                            "[Op:Range]", (Py_ssize_t)PY_SSIZE_T_MAX / 16);
        goto done;
    }
    size = (Py_ssize_t)n;
    f->out[0] = tg_tensor_new(dt, 1, &size);
    if (f->out[0] == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        switch (dt) {
            case TG_FLOAT16:
                ((npy_half *)f->out[0]->data)[i] = npy_float_to_half(
                    (float)s + (float)i * (float)d);
                break;
            case TG_FLOAT32:
                ((float *)f->out[0]->data)[i] = (float)s + (float)i * (float)d;
                break;
            default:
                ((double *)f->out[0]->data)[i] = s + (double)i * d;
                break;
        }
    }
    rc = 0;
done:
    for (int i = 0; i < 3; i++) {
        Py_XDECREF(v[i]);
    }
    return rc;
}

NONDIFF_VJP(range)

/* ---- stop_gradient, shape, size, rank: never recorded ---------------------------------------------------
 * stop_gradient: z = x (a view), no gradient flows through
 * shape / size / rank: int32 (or out_type) tensors describing x
 */
int
stop_gradient_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    f->out[0] = tg_tensor_view(x, x->ndim, x->shape, 0);
    return f->out[0] ? 0 : -1;
}

NONDIFF_VJP(stop_gradient)

static int
out_type(PyObject *obj, const char *tfname, int *dt)
{
    if (tg_dtype_arg(obj, dt) < 0) {
        return -1;
    }
    if (*dt < 0) {
        *dt = TG_INT32;
    }
    if (*dt != TG_INT32 && *dt != TG_INT64) {
        PyErr_Format(PyExc_TypeError,
                     "Value for attr 'out_type' of %s is not in the list of "
                     "allowed values: int32, int64 [Op:%s]",
                     tg_dtype_names[*dt], tfname);
        return -1;
    }
    return 0;
}

/* a rank-nd int tensor of `dt` holding vals[0..n) */
static TensorObject *
int_tensor(int dt, int nd, Py_ssize_t n, const Py_ssize_t *vals)
{
    TensorObject *t = tg_tensor_new(dt, nd, &n);
    for (Py_ssize_t i = 0; t && i < n; i++) {
        if (dt == TG_INT32) {
            ((int32_t *)t->data)[i] = (int32_t)vals[i];
        }
        else {
            ((int64_t *)t->data)[i] = (int64_t)vals[i];
        }
    }
    return t;
}

static int
check_int32(const char *tfname, int dt, Py_ssize_t v)
{
    if (dt == TG_INT32 && v > INT32_MAX) {
        TG_INVALID_ARGUMENT("%s: %zd does not fit in int32; use "
                            "out_type=tapegrad.int64 [Op:%s]", tfname, v,
                            tfname);
        return -1;
    }
    return 0;
}

int
shape_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    int dt;
    if (out_type(attr(f->attrs, 0), "Shape", &dt) < 0) {
        return -1;
    }
    for (int k = 0; k < x->ndim; k++) {
        if (check_int32("Shape", dt, x->shape[k]) < 0) {
            return -1;
        }
    }
    f->out[0] = int_tensor(dt, 1, x->ndim, x->shape);
    return f->out[0] ? 0 : -1;
}

NONDIFF_VJP(shape)

int
size_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    int dt;
    if (out_type(attr(f->attrs, 0), "Size", &dt) < 0 ||
        check_int32("Size", dt, x->size) < 0) {
        return -1;
    }
    f->out[0] = int_tensor(dt, 0, 1, &x->size);
    return f->out[0] ? 0 : -1;
}

NONDIFF_VJP(size)

int
rank_forward(tg_fwd *f)
{
    Py_ssize_t r = f->in[0]->ndim;
    f->out[0] = int_tensor(TG_INT32, 0, 1, &r);
    return f->out[0] ? 0 : -1;
}

NONDIFF_VJP(rank)

/* ---- fill, eye, one_hot: creation from integer arguments -----------------------
 * fill(dims, value): the scalar `value` over shape `dims`
 *     dvalue = reduce_sum(g); dims (integers) gets none
 * eye(num_rows, num_columns, batch_shape, dtype): batch_shape + [n, m]
 *     identities; never recorded
 * one_hot(indices, depth, on_value, off_value, axis, dtype): on_value where
 *     the index equals the position along the new axis, off_value elsewhere
 *     (indices outside [0, depth) give all off_value); never recorded
 */
static int
scalar_or_error(const char *what, const char *tfname, const TensorObject *t)
{
    if (t->ndim == 0) {
        return 0;
    }
    PyObject *s = tg_shape_str(t->ndim, t->shape);
    if (s != NULL) {
        TG_INVALID_ARGUMENT("%s must be a scalar, got shape %U [Op:%s]", what,
                            s, tfname);
        Py_DECREF(s);
    }
    return -1;
}

int
fill_forward(tg_fwd *f)
{
    TensorObject *dims = f->in[0], *value = f->in[1];
    Py_ssize_t shape[TG_MAXDIMS];
    int nd;
    /* the dtype (a TypeError) first, then TF's rank rule: a vector */
    if (dims->ndim != 1 && (dims->dtype == TG_INT32 ||
                            dims->dtype == TG_INT64)) {
        PyObject *s = tg_shape_str(dims->ndim, dims->shape);
        if (s != NULL) {
            TG_INVALID_ARGUMENT("dims must be a vector, got shape %U "
                                "[Op:Fill]", s);
            Py_DECREF(s);
        }
        return -1;
    }
    if (tg_int_list("Fill", "dims", (PyObject *)dims, &nd, shape) < 0 ||
        scalar_or_error("value", "Fill", value) < 0) {
        return -1;
    }
    for (int i = 0; i < nd; i++) {
        if (shape[i] < 0) {
            TG_INVALID_ARGUMENT("Dimension %zd must be >= 0 [Op:Fill]",
                                shape[i]);
            return -1;
        }
    }
    f->out[0] = tg_tensor_new(value->dtype, nd, shape);
    if (f->out[0] == NULL) {
        return -1;
    }
    tg_broadcast_copy(value, f->out[0]);
    return 0;
}

int
fill_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    if (NEEDS(1)) {
        PyObject *axes = GAXES(Py_None, OUT_SLOT(0)->ndim);
        SET(1, axes ? OP1A(reduce_sum, G, "(O)", axes) : NULL);
    }
    VJP_END;
}
JVP_LINEAR(fill)

int
eye_forward(tg_fwd *f)
{
    PyObject *ncols = attr(f->attrs, 0), *batch = attr(f->attrs, 1);
    Py_ssize_t n, m, shape[TG_MAXDIMS];
    int nd = 0, dt;
    TensorObject *one;
    if (tg_int_scalar("Eye", "num_rows", (PyObject *)f->in[0], &n) < 0 ||
        (ncols != Py_None &&
         tg_int_scalar("Eye", "num_columns", ncols, &m) < 0) ||
        (batch != Py_None &&
         tg_int_list("Eye", "batch_shape", batch, &nd, shape) < 0) ||
        tg_dtype_arg(attr(f->attrs, 2), &dt) < 0) {
        return -1;
    }
    m = ncols == Py_None ? n : m;
    if (n < 0 || m < 0) {
        TG_INVALID_ARGUMENT("eye: num_rows and num_columns must be >= 0, got "
                            "%zd and %zd [Op:Eye]", n, m);
        return -1;
    }
    if (nd + 2 > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "eye: tapegrad supports at most %d dimensions",
                     TG_MAXDIMS);
        return -1;
    }
    dt = dt < 0 ? TG_FLOAT32 : dt;
    shape[nd] = n;
    shape[nd + 1] = m;
    f->out[0] = tg_fill_like(dt, nd + 2, shape, 0.0);
    one = f->out[0] ? tg_tensor_scalar(dt, 1.0) : NULL;
    if (one == NULL) {
        Py_CLEAR(f->out[0]);
        return -1;
    }
    size_t isz = (size_t)tg_dtype_size[dt];
    Py_ssize_t nb = prod(shape, 0, nd), k = n < m ? n : m;
    /* an empty matrix would still walk every batch index: 2**31 * 27 of
     * them for batch_shape [2**31-1, 3, 3, 3] (the fuzzer's timeout) */
    if (k == 0) {
        nb = 0;
    }
    for (Py_ssize_t b = 0; b < nb; b++) {
        for (Py_ssize_t i = 0; i < k; i++) {
            elem_copy(f->out[0]->data + (size_t)((b * n + i) * m + i) * isz,
                      one->data, isz);
        }
    }
    Py_DECREF(one);
    return 0;
}

NONDIFF_VJP(eye)

/* on_value / off_value: converted with `dtype` as a hint (TF's one_hot) */
static TensorObject *
one_hot_value(PyObject *obj, int dt)
{
    TensorObject *t = tg_convert(obj, dt, "OneHot");
    if (t == NULL && dt >= 0 && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        t = tg_convert(obj, -1, "OneHot");
    }
    return t;
}

int
one_hot_forward(tg_fwd *f)
{
    TensorObject *ind = f->in[0], *on = NULL, *off = NULL, *out;
    PyObject *ono = attr(f->attrs, 1), *offo = attr(f->attrs, 2);
    PyObject *axo = attr(f->attrs, 3);
    Py_ssize_t depth, ax = -1, shape[TG_MAXDIMS];
    int dt, want, rc = -1, nd = ind->ndim + 1;
    if (ind->dtype != TG_INT32 && ind->dtype != TG_INT64) {
        TG_INVALID_ARGUMENT("Value for attr 'TI' of %s is not in the list of "
                            "allowed values: uint8, int8, int32, int64 "
                            "[Op:OneHot]", tg_dtype_names[ind->dtype]);
        return -1;
    }
    if (tg_int_scalar("OneHot", "depth", attr(f->attrs, 0), &depth) < 0 ||
        (axo != Py_None && tg_int_scalar("OneHot", "axis", axo, &ax) < 0) ||
        tg_dtype_arg(attr(f->attrs, 4), &want) < 0) {
        return -1;
    }
    if (depth < 0) {
        TG_INVALID_ARGUMENT("depth must be non-negative, got: %zd "
                            "[Op:OneHot]", depth);
        return -1;
    }
    if (ax < -1 || ax >= nd) {
        TG_INVALID_ARGUMENT("Expected axis to be -1 or between [0, %d).  But "
                            "received: %zd [Op:OneHot]", nd, ax);
        return -1;
    }
    if (nd > TG_MAXDIMS) {
        PyErr_Format(PyExc_ValueError,
                     "one_hot: tapegrad supports at most %d dimensions",
                     TG_MAXDIMS);
        return -1;
    }
    ax = ax < 0 ? nd - 1 : ax;
    if ((ono != Py_None && (on = one_hot_value(ono, want)) == NULL) ||
        (offo != Py_None && (off = one_hot_value(offo, want)) == NULL)) {
        goto done;
    }
    /* TF: the dtype is `dtype`, else on_value's, else off_value's, else
     * float32; given values must agree with it and with each other */
    dt = want >= 0 ? want : on ? on->dtype : off ? off->dtype : TG_FLOAT32;
    for (int k = 0; k < 2; k++) {
        TensorObject *v = k ? off : on;
        if (v != NULL && v->dtype != dt) {
            PyErr_Format(PyExc_TypeError, want >= 0
                         ? "dtype %S of %s does not match dtype parameter %S"
                         : "dtype %S of %s does not match dtype %S of "
                           "on_value",
                         tg_dtype_obj(v->dtype), k ? "off_value" : "on_value",
                         tg_dtype_obj(dt));
            goto done;
        }
        if (v != NULL &&
            scalar_or_error(k ? "off_value" : "on_value", "OneHot", v) < 0) {
            goto done;
        }
    }
    if ((on == NULL && (on = tg_tensor_scalar(dt, 1.0)) == NULL) ||
        (off == NULL && (off = tg_tensor_scalar(dt, 0.0)) == NULL)) {
        goto done;
    }
    for (int i = 0, j = 0; i < nd; i++) {
        shape[i] = i == ax ? depth : ind->shape[j++];
    }
    out = f->out[0] = tg_tensor_new(dt, nd, shape);
    if (out == NULL) {
        goto done;
    }
    size_t isz = (size_t)tg_dtype_size[dt];
    Py_ssize_t outer = prod(ind->shape, 0, (int)ax);
    Py_ssize_t inner = prod(ind->shape, (int)ax, ind->ndim);
    for (Py_ssize_t o = 0; o < outer; o++) {
        for (Py_ssize_t d = 0; d < depth; d++) {
            char *dst = out->data + (size_t)((o * depth + d) * inner) * isz;
            for (Py_ssize_t i = 0; i < inner; i++, dst += isz) {
                int hit = index_at(ind, o * inner + i) == (int64_t)d;
                elem_copy(dst, (hit ? on : off)->data, isz);
            }
        }
    }
    rc = 0;
done:
    Py_XDECREF(on);
    Py_XDECREF(off);
    return rc;
}

NONDIFF_VJP(one_hot)
