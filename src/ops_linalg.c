/* ops_linalg.c -- forwards and vjps of the rows in ops_linalg.def (linear
 * algebra: tapegrad.linalg, einsum, tensordot, norm).
 *
 * Dense factorisations run in numpy.linalg._umath_linalg's gufuncs (C,
 * LAPACK, batched over leading dims).  They report a singular or
 * non-positive-definite matrix by setting the FP "invalid" flag and filling
 * NaN; we call them with NumPy's FP-error reporting switched off (no
 * RuntimeWarning) and turn NaN-from-finite-input into TF's
 * InvalidArgumentError.  float16 is computed in float32 (LAPACK has no
 * half) and rounded once.
 *
 * Every vjp is written with recorded ops (matmul, inv, einsum, the shape
 * rows ...), so gradients differentiate again.
 */
#include "vjp.h"
#include <math.h>


/* ---- helpers ------------------------------------------------------------- */

static PyObject *umath_linalg;   /* numpy.linalg._umath_linalg */

/* Call gufunc `name` with FP errors ignored (we check results ourselves). */
static PyObject *
call_quiet(const char *name, int nargs, PyObject **args)
{
    if (umath_linalg == NULL) {
        umath_linalg = PyImport_ImportModule("numpy.linalg._umath_linalg");
        if (umath_linalg == NULL) {
            return NULL;
        }
    }
    char key[64];
    PyOS_snprintf(key, sizeof(key), "linalg.%s", name);
    PyObject *fn = tg_numpy_attr_cached(key, umath_linalg, name);
    if (fn == NULL) {
        return NULL;
    }
    return tg_np_vectorcall(fn, args, (size_t)nargs, NULL);
}

/* x as an ndarray LAPACK can take (float16 widened), last two axes swapped
 * if asked (a view) */
static PyObject *
lapack_array(TensorObject *x, int swap)
{
    PyObject *a = tg_tensor_as_array(x);
    if (a != NULL && x->dtype == TG_FLOAT16) {
        Py_SETREF(a, PyArray_CastToType((PyArrayObject *)a,
                                        PyArray_DescrFromType(NPY_FLOAT32),
                                        0));
    }
    if (a != NULL && swap) {
        Py_SETREF(a, PyArray_SwapAxes((PyArrayObject *)a, -1, -2));
    }
    return a;
}

/* a gufunc result (array or NumPy scalar) as a tensor of `dtype`; steals r */
static TensorObject *
result_tensor(PyObject *r, int dtype)
{
    TensorObject *t = NULL;
    if (r != NULL && !PyArray_Check(r)) {
        Py_SETREF(r, PyArray_FromAny(r, NULL, 0, 0, 0, NULL));
    }
    if (r != NULL) {
        t = tg_tensor_from_array((PyArrayObject *)r, dtype);
        Py_DECREF(r);
    }
    return t;
}

/* nonzero if t has a NaN (want_nan) / a non-finite value (!want_nan) */
static int
has_bad(TensorObject *t, int want_nan)
{
    if (!tg_is_float(t->dtype)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < t->size; i++) {
        double v = tg_float_at(t->data, t->dtype, i);
        if (want_nan ? isnan(v) : !isfinite(v)) {
            return 1;
        }
    }
    return 0;
}

/* LAPACK gave NaN for finite input: the matrix was singular / not PD */
static int
failed(TensorObject *in, TensorObject *out)
{
    return has_bad(out, 1) && !has_bad(in, 0);
}

static int
matrix_check(const char *fname, const char *arg, const char *tfname,
             TensorObject *x, int square)
{
    const char *why = NULL;
    if (x->ndim < 2) {
        why = "must have rank >= 2";
    }
    else if (square && x->shape[x->ndim - 1] != x->shape[x->ndim - 2]) {
        why = "must be a square matrix (or a batch of them)";
    }
    if (why == NULL) {
        return 0;
    }
    PyObject *s = tg_shape_str(x->ndim, x->shape);
    if (s != NULL) {
        TG_INVALID_ARGUMENT("%s: `%s` %s, got shape %U [Op:%s]", fname, arg,
                            why, s, tfname);
        Py_DECREF(s);
    }
    return -1;
}

static PyObject *
reshape_to(scope *S, PyObject *x, int nd, const Py_ssize_t *shape)
{
    tg_slot s = {.ndim = nd, .shape = (Py_ssize_t *)shape};
    return TO_SHAPE(reshape, x, &s);
}

/* x reshaped to shape(x) + (1, 1): a batch of scalars against matrices */
static PyObject *
as_11(scope *S, PyObject *x)
{
    TensorObject *t = (TensorObject *)x;
    Py_ssize_t shape[TG_MAXDIMS];
    if (x == NULL) {
        return NULL;
    }
    if (t->ndim + 2 > TG_MAXDIMS) {
        PyErr_SetString(PyExc_ValueError, "tapegrad: too many dimensions");
        return NULL;
    }
    memcpy(shape, t->shape, (size_t)t->ndim * sizeof(Py_ssize_t));
    shape[t->ndim] = shape[t->ndim + 1] = 1;
    return reshape_to(S, x, t->ndim + 2, shape);
}

static PyObject *
mm(scope *S, PyObject *a, PyObject *b, int ta, int tb)
{
    PyObject *attrs = keep(S, Py_BuildValue("(OO)", ta ? Py_True : Py_False,
                                            tb ? Py_True : Py_False));
    return attrs ? keep(S, tg_op2(TG_OP_matmul, a, b, attrs)) : NULL;
}

static PyObject *
mtrans(scope *S, PyObject *x)
{
    return keep(S, tg_op1(TG_OP_matrix_transpose, x, NULL));
}

static PyObject *
inv_of(scope *S, PyObject *x, int adjoint)
{
    return OP1A(inv, x, "(O)", adjoint ? Py_True : Py_False);
}

/* A constant (never watched, so never recorded) n x n matrix in x's dtype:
 * 1 strictly below the diagonal, `d` on it, `u` above. */
static PyObject *
band_const(scope *S, int dtype, Py_ssize_t n, double lo, double d, double up)
{
    Py_ssize_t shape[2] = {n, n};
    TensorObject *t = tg_fill_like(TG_FLOAT64, 2, shape, 0.0), *r;
    if (t == NULL) {
        return NULL;
    }
    double *p = (double *)t->data;
    for (Py_ssize_t i = 0; i < n; i++) {
        for (Py_ssize_t j = 0; j < n; j++) {
            p[i * n + j] = i > j ? lo : i == j ? d : up;
        }
    }
    if (dtype == TG_FLOAT64) {
        return keep(S, (PyObject *)t);
    }
    r = tg_ufunc_apply(NULL, 1, &t, dtype);
    Py_DECREF(t);
    return keep(S, (PyObject *)r);
}

/* copy one element of `isz` bytes */
static inline void
copy_item(char *dst, const char *src, size_t isz)
{
    switch (isz) {
        case 8: memcpy(dst, src, 8); break;
        case 4: memcpy(dst, src, 4); break;
        case 2: memcpy(dst, src, 2); break;
        default: memcpy(dst, src, isz); break;
    }
}

#define COMPOSITE_BEGIN scope S_ = {.n = 0}, *S = &S_

/* a composite's result: f->out[0] takes a reference to r */
static int
composite_end(scope *S, tg_fwd *f, PyObject *r)
{
    if (r != NULL) {
        f->out[0] = (TensorObject *)Py_NewRef(r);
    }
    int rc = vjp_end(S);
    if (rc < 0 || r == NULL) {
        Py_CLEAR(f->out[0]);
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_SystemError, "tapegrad: composite failed");
        }
        return -1;
    }
    return 0;
}


/* ---- matrix_transpose -----------------------------------------------------
 * z[..., j, i] = x[..., i, j]                dx = matrix_transpose(g)
 * attrs: (conjugate,) -- a no-op for real dtypes
 */
static TensorObject *
swap_last2(TensorObject *x)
{
    Py_ssize_t shape[TG_MAXDIMS];
    int nd = x->ndim;
    memcpy(shape, x->shape, (size_t)nd * sizeof(Py_ssize_t));
    Py_ssize_t m = shape[nd - 2], n = shape[nd - 1];
    shape[nd - 2] = n;
    shape[nd - 1] = m;
    TensorObject *out = tg_tensor_new(x->dtype, nd, shape);
    if (out == NULL || out->size == 0) {
        return out;
    }
    size_t isz = (size_t)tg_dtype_size[x->dtype];
    Py_ssize_t batch = x->size / (m * n);
    for (Py_ssize_t b = 0; b < batch; b++) {
        const char *src = x->data + (size_t)(b * m * n) * isz;
        char *dst = out->data + (size_t)(b * m * n) * isz;
        for (Py_ssize_t i = 0; i < m; i++) {
            for (Py_ssize_t j = 0; j < n; j++) {
                copy_item(dst + (size_t)(j * m + i) * isz,
                          src + (size_t)(i * n + j) * isz, isz);
            }
        }
    }
    return out;
}

int
matrix_transpose_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    if (attr_bool(f->attrs, 0) < 0) {
        return -1;
    }
    if (x->ndim < 2) {
        PyObject *s = tg_shape_str(x->ndim, x->shape);
        if (s != NULL) {
            PyErr_Format(PyExc_ValueError,
                         "matrix_transpose: argument `a` should be a (batch) "
                         "matrix with rank >= 2, got shape %U", s);
            Py_DECREF(s);
        }
        return -1;
    }
    f->out[0] = swap_last2(x);
    return f->out[0] ? 0 : -1;
}

int
matrix_transpose_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, mtrans(S, G));
    VJP_END;
}
JVP_LINEAR(matrix_transpose)

/* ---- matvec (composite) ---------------------------------------------------
 * z = op(a) @ b, b a (batch of) vector(s): matmul(a, b[..., None])[..., 0]
 * attrs: (transpose_a, adjoint_a)
 */
int
matvec_forward(tg_fwd *f)
{
    COMPOSITE_BEGIN;
    TensorObject *a = f->in[0], *b = f->in[1];
    int ta = attr_flag(f->attrs, 0, "MatVec", "transpose_a");
    int aa = ta < 0 ? -1 : attr_flag(f->attrs, 1, "MatVec", "adjoint_a");
    Py_ssize_t shape[TG_MAXDIMS];
    if (ta < 0 || aa < 0 ||
        matrix_check("matvec", "a", "MatVec", a, 0) < 0) {
        return -1;
    }
    if (b->ndim < 1 || b->ndim >= TG_MAXDIMS) {
        PyObject *s = tg_shape_str(b->ndim, b->shape);
        if (s != NULL) {
            TG_INVALID_ARGUMENT("matvec: `b` must have rank >= 1, got shape "
                                "%U [Op:MatVec]", s);
            Py_DECREF(s);
        }
        return -1;
    }
    memcpy(shape, b->shape, (size_t)b->ndim * sizeof(Py_ssize_t));
    shape[b->ndim] = 1;
    PyObject *col = reshape_to(S, (PyObject *)b, b->ndim + 1, shape);
    PyObject *p = mm(S, (PyObject *)a, col, ta || aa, 0);
    PyObject *r = NULL;
    if (p != NULL) {
        TensorObject *pt = (TensorObject *)p;
        r = reshape_to(S, p, pt->ndim - 1, pt->shape);
    }
    return composite_end(S, f, r);
}
NO_VJP(matvec)

/* ---- inv --------------------------------------------------------------------
 * y = A^-1 (adjoint: (A^T)^-1)              dA = -y^T g y^T (adjoint:
 *                                           -y g^T y)
 */
int
inv_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    int adj = attr_flag(f->attrs, 0, "MatrixInverse", "adjoint");
    if (adj < 0 || matrix_check("inv", "input", "MatrixInverse", x, 1) < 0) {
        return -1;
    }
    PyObject *a = lapack_array(x, adj);
    PyObject *r = a ? call_quiet("inv", 1, &a) : NULL;
    Py_XDECREF(a);
    f->out[0] = result_tensor(r, x->dtype);
    if (f->out[0] != NULL && failed(x, f->out[0])) {
        Py_CLEAR(f->out[0]);
        TG_INVALID_ARGUMENT("Input is not invertible. [Op:MatrixInverse]");
    }
    return f->out[0] ? 0 : -1;
}

int
inv_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int adj = attr_bool(c->attrs, 0);
    if (adj < 0) {
        return -1;
    }
    if (adj) {
        SET(0, NEG(mm(S, Y, mm(S, G, Y, 1, 0), 0, 0)));
    }
    else {
        SET(0, NEG(mm(S, Y, mm(S, G, Y, 0, 1), 1, 0)));
    }
    VJP_END;
}
JVP_TRANSPOSED(inv)

/* ---- det ----------------------------------------------------------------------
 * d = det(A)                                dA = (g d) A^-T
 */
int
det_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    if (matrix_check("det", "input", "MatrixDeterminant", x, 1) < 0) {
        return -1;
    }
    PyObject *a = lapack_array(x, 0);
    PyObject *r = a ? call_quiet("det", 1, &a) : NULL;
    Py_XDECREF(a);
    f->out[0] = result_tensor(r, x->dtype);
    return f->out[0] ? 0 : -1;
}

int
det_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(as_11(S, MUL(G, Y)), inv_of(S, X(0), 1)));
    VJP_END;
}
JVP_TRANSPOSED(det)

/* ---- slogdet --------------------------------------------------------------------
 * (s, l) = (sign det A, log|det A|)          dA = g_l A^-T  (s: no gradient)
 */
int
slogdet_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    if (matrix_check("slogdet", "input", "LogMatrixDeterminant", x, 1) < 0) {
        return -1;
    }
    PyObject *a = lapack_array(x, 0);
    PyObject *r = a ? call_quiet("slogdet", 1, &a) : NULL;
    Py_XDECREF(a);
    if (r == NULL) {
        return -1;
    }
    if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_SystemError, "tapegrad: slogdet result");
        return -1;
    }
    f->nout = 2;
    for (int i = 0; i < 2; i++) {
        f->out[i] = result_tensor(Py_NewRef(PyTuple_GET_ITEM(r, i)),
                                  x->dtype);
    }
    Py_DECREF(r);
    return f->out[0] && f->out[1] ? 0 : -1;
}

int
slogdet_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, MUL(as_11(S, GS(1)), inv_of(S, X(0), 1)));
    VJP_END;
}
JVP_TRANSPOSED(slogdet)

/* ---- solve ------------------------------------------------------------------------
 * X = A^-1 B (adjoint: A^-T B)               dB = solve(A, g, !adjoint)
 *                                            dA = -dB X^T (adjoint: -X dB^T)
 */
int
solve_forward(tg_fwd *f)
{
    TensorObject *m = f->in[0], *b = f->in[1];
    int adj = attr_flag(f->attrs, 0, "MatrixSolve", "adjoint");
    if (adj < 0 || matrix_check("solve", "matrix", "MatrixSolve", m, 1) < 0 ||
        matrix_check("solve", "rhs", "MatrixSolve", b, 0) < 0) {
        return -1;
    }
    int bad = m->ndim != b->ndim;
    for (int i = 0; !bad && i < m->ndim - 2; i++) {
        bad = m->shape[i] != b->shape[i];
    }
    if (bad || m->shape[m->ndim - 1] != b->shape[b->ndim - 2]) {
        PyObject *sa = tg_shape_str(m->ndim, m->shape);
        PyObject *sb = sa ? tg_shape_str(b->ndim, b->shape) : NULL;
        if (sb != NULL) {
            TG_INVALID_ARGUMENT(
                bad ? "solve: `matrix` and `rhs` must have the same batch "
                      "dimensions: %U vs. %U [Op:MatrixSolve]"
                    : "solve: input matrix and right-hand side must have the "
                      "same number of rows: %U vs. %U [Op:MatrixSolve]",
                sa, sb);
        }
        Py_XDECREF(sa);
        Py_XDECREF(sb);
        return -1;
    }
    PyObject *args[2] = {lapack_array(m, adj), NULL};
    args[1] = args[0] ? lapack_array(b, 0) : NULL;
    PyObject *r = args[1] ? call_quiet("solve", 2, args) : NULL;
    Py_XDECREF(args[0]);
    Py_XDECREF(args[1]);
    f->out[0] = result_tensor(r, m->dtype);
    if (f->out[0] != NULL && failed(m, f->out[0]) && !has_bad(b, 0)) {
        Py_CLEAR(f->out[0]);
        TG_INVALID_ARGUMENT("Input matrix is not invertible. [Op:MatrixSolve]");
    }
    return f->out[0] ? 0 : -1;
}

int
solve_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int adj = attr_bool(c->attrs, 0);
    if (adj < 0) {
        return -1;
    }
    PyObject *a = keep(S, PyTuple_Pack(1, adj ? Py_False : Py_True));
    PyObject *db = NULL;
    TensorObject *m = (TensorObject *)X(0), *g = (TensorObject *)G;
    if (BATCHED && a != NULL && m->ndim == 2 && g->ndim == 3) {
        /* one solve for the whole batch: [nb, n, k] -> [n, nb * k] */
        Py_ssize_t nb = g->shape[0], n = g->shape[1], k = g->shape[2];
        Py_ssize_t wide[2] = {n, nb * k}, back[3] = {n, nb, k};
        PyObject *t = OP1A(transpose, G, "([iii]O)", 1, 0, 2, Py_False);
        PyObject *w = t ? KEEP(tg_op_to_dims(TG_OP_reshape, t, 2, wide)) : NULL;
        PyObject *sw = w ? keep(S, tg_op2(TG_OP_solve, X(0), w, a)) : NULL;
        PyObject *sb = sw ? KEEP(tg_op_to_dims(TG_OP_reshape, sw, 3, back))
                          : NULL;
        db = sb ? OP1A(transpose, sb, "([iii]O)", 1, 0, 2, Py_False) : NULL;
    }
    else if (BATCHED && a != NULL) {
        /* a batch of matrices: the same matrix for every cotangent */
        Py_ssize_t dims[TG_MAXDIMS + 1];
        dims[0] = g->shape[0];
        memcpy(dims + 1, m->shape, (size_t)m->ndim * sizeof(*dims));
        PyObject *mb = KEEP(tg_op_to_dims(TG_OP_broadcast_to, X(0),
                                       m->ndim + 1, dims));
        db = mb ? keep(S, tg_op2(TG_OP_solve, mb, G, a)) : NULL;
    }
    else if (a != NULL) {
        db = keep(S, tg_op2(TG_OP_solve, X(0), G, a));
    }
    if (NEEDS(0)) {
        SET(0, NEG(adj ? mm(S, Y, db, 0, 1) : mm(S, db, Y, 0, 1)));
    }
    if (NEEDS(1)) {
        SET(1, db);
    }
    VJP_END;
}
JVP_TRANSPOSED(solve)

/* ---- cholesky -------------------------------------------------------------------
 * A = L L^T (reads A's lower triangle)      with P = Phi(L^T g) (lower part,
 *                                           diagonal halved):
 *                                           dA = sym(L^-T P L^-1)
 * TF's choice: a symmetric gradient (for symmetric perturbations of A).
 */
int
cholesky_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    if (matrix_check("cholesky", "input", "Cholesky", x, 1) < 0) {
        return -1;
    }
    PyObject *a = lapack_array(x, 0);
    PyObject *r = a ? call_quiet("cholesky_lo", 1, &a) : NULL;
    Py_XDECREF(a);
    f->out[0] = result_tensor(r, x->dtype);
    if (f->out[0] != NULL && failed(x, f->out[0])) {
        Py_CLEAR(f->out[0]);
        TG_INVALID_ARGUMENT("Cholesky decomposition was not successful. The "
                            "input might not be valid. [Op:Cholesky]");
    }
    return f->out[0] ? 0 : -1;
}

int
cholesky_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *x = IN_SLOT(0);
    Py_ssize_t n = x->shape[x->ndim - 1];
    /* each batch-sized intermediate is released once used (held to
     * VJP_END they were eight at once) */
    PyObject *phi = band_const(S, x->dtype, n, 1.0, 0.5, 0.0);
    PyObject *linv = inv_of(S, Y, 0);
    PyObject *yg = mm(S, Y, G, 1, 0);
    PyObject *mid = MUL(yg, phi);
    RELEASE(yg);
    PyObject *ml = mm(S, mid, linv, 0, 0);
    RELEASE(mid);
    PyObject *ga = mm(S, linv, ml, 1, 0);
    RELEASE(ml);
    RELEASE(linv);
    PyObject *gat = mtrans(S, ga);
    PyObject *sym = ADD(ga, gat);
    RELEASE(ga);
    RELEASE(gat);
    SET(0, MUL(sym, CONST(0.5, G)));
    VJP_END;
}
JVP_TRANSPOSED(cholesky)

/* ---- eigh -------------------------------------------------------------------------
 * A = V diag(e) V^T (reads A's lower triangle), e ascending
 * with F_ij = 1/(e_j - e_i) off the diagonal, 0 on it:
 *   M = V (diag(g_e) + F * (V^T g_V)) V^T
 *   dA = lower(M + M^T) with the diagonal halved (TF: the forward reads
 *        only the lower triangle, so that is where the gradient goes)
 */
int
eigh_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    if (matrix_check("eigh", "tensor", "SelfAdjointEigV2", x, 1) < 0) {
        return -1;
    }
    PyObject *a = lapack_array(x, 0);
    PyObject *r = a ? call_quiet("eigh_lo", 1, &a) : NULL;
    Py_XDECREF(a);
    if (r == NULL) {
        return -1;
    }
    if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_SystemError, "tapegrad: eigh result");
        return -1;
    }
    f->nout = 2;
    for (int i = 0; i < 2; i++) {
        f->out[i] = result_tensor(Py_NewRef(PyTuple_GET_ITEM(r, i)),
                                  x->dtype);
    }
    Py_DECREF(r);
    return f->out[0] && f->out[1] ? 0 : -1;
}

/* x / (x^2 + eps): TF's _SafeReciprocal (eps 1e-20) */
static PyObject *
safe_recip(scope *S, PyObject *x)
{
    return DIV(x, ADD(MUL(x, x), CONST(1e-20, x)));
}

int
eigh_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *x = IN_SLOT(0);
    int nd = x->ndim;
    Py_ssize_t n = x->shape[nd - 1], shape[TG_MAXDIMS];
    PyObject *e = YS(0), *v = YS(1);
    /* e_j - e_i as a matrix: e[..., None, :] - e[..., :, None] */
    memcpy(shape, x->shape, (size_t)nd * sizeof(Py_ssize_t));
    shape[nd - 2] = 1;
    PyObject *row = reshape_to(S, e, nd, shape);
    shape[nd - 2] = n;
    shape[nd - 1] = 1;
    PyObject *col = reshape_to(S, e, nd, shape);
    /* 1 / (e_j - e_i) off the diagonal, 0 on it: TF's safe reciprocal,
     * so equal eigenvalues give finite gradients (as TF's).  The mask
     * (TF's matrix_set_diag) also keeps the diagonal's cotangent from
     * meeting the reciprocal's slope of 1e20 at 0 in a second derivative. */
    /* batch-sized intermediates are released once used (held to
     * VJP_END they were a dozen at once) */
    PyObject *off = band_const(S, x->dtype, n, 1.0, 0.0, 1.0);
    PyObject *dif = SUB(row, col);
    PyObject *rec = safe_recip(S, dif);
    RELEASE(dif);
    PyObject *fm = MUL(rec, off);
    RELEASE(rec);
    PyObject *vg = mm(S, v, GS(1), 1, 0);
    PyObject *fvg = MUL(fm, vg);
    RELEASE(fm);
    RELEASE(vg);
    PyObject *dg = keep(S, tg_op1(TG_OP_diag, GS(0), NULL));
    PyObject *inner = ADD(dg, fvg);
    RELEASE(dg);
    RELEASE(fvg);
    PyObject *iv = mm(S, inner, v, 0, 1);
    RELEASE(inner);
    PyObject *m = mm(S, v, iv, 0, 0);
    RELEASE(iv);
    PyObject *mt = mtrans(S, m);
    PyObject *sym = ADD(m, mt);
    RELEASE(m);
    RELEASE(mt);
    PyObject *lower = band_const(S, x->dtype, n, 1.0, 0.5, 0.0);
    SET(0, MUL(sym, lower));
    VJP_END;
}
JVP_TRANSPOSED(eigh)

/* ---- svd ---------------------------------------------------------------------------
 * A = U diag(s) V^T, s descending (k = min(m, n) of them); outputs (s, U, V)
 * in TF's order, U m x k and V n x k (full_matrices: m x m and n x n), or
 * s alone (compute_uv=False).  The signs of singular vectors are LAPACK's.
 * vjp, with U1, V1 the first k columns, S = diag(s), and (TF's
 * _SafeReciprocal, so equal singular values give finite values)
 *   F_ij = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it,  1/s likewise:
 *   dA = U1 [diag(g_s) + (J + J^T) S + S (K + K^T)] V1^T
 *        + (I - U1 U1^T) g_U1 S^-1 V1^T       (m > k)
 *        + U1 S^-1 g_V1^T (I - V1 V1^T)       (n > k)
 *   with J = F * (U1^T g_U1), K = F * (V1^T g_V1); full_matrices adds
 *   -U2 g_U2^T U1 S^-1 V1^T (m = n + 1) or -U1 S^-1 g_V2 ... (n = m + 1):
 *   the one extra column is fixed up to sign; for |m - n| > 1 it is not,
 *   and the gradient raises NotImplementedError, as TF's.
 * compute_uv=False: dA = U diag(g_s) V^T, U and V from a recorded svd of
 * A, so the gradient differentiates again (TF does the same).
 * attrs: (full_matrices, compute_uv)
 */
static int
svd_attrs(PyObject *attrs, int *full, int *uv)
{
    *full = attr_flag(attrs, 0, "Svd", "full_matrices");
    *uv = *full < 0                   ? -1
          : attr(attrs, 1) == Py_None ? 1
                                      : attr_flag(attrs, 1, "Svd", "compute_uv");
    return *full < 0 || *uv < 0 ? -1 : 0;
}

/* For svd: a C-contiguous copy of `a` (x's values as LAPACK takes them)
 * with every matrix that holds a NaN or inf set to zeros, and in *bad one
 * flag per matrix of the batch (*nb of them).  Steals a. */
static PyObject *
svd_mask_nonfinite(TensorObject *x, PyObject *a, char **bad, Py_ssize_t *nb)
{
    Py_ssize_t mn = x->shape[x->ndim - 2] * x->shape[x->ndim - 1];
    PyObject *c = PyArray_NewCopy((PyArrayObject *)a, NPY_CORDER);
    Py_DECREF(a);
    if (c == NULL) {
        return NULL;
    }
    *nb = mn ? x->size / mn : 0;
    *bad = PyMem_Calloc((size_t)(*nb ? *nb : 1), 1);
    if (*bad == NULL) {
        Py_DECREF(c);
        return PyErr_NoMemory();
    }
    size_t item = (size_t)PyArray_ITEMSIZE((PyArrayObject *)c);
    for (Py_ssize_t b = 0; b < *nb; b++) {
        for (Py_ssize_t i = 0; i < mn; i++) {
            if (!isfinite(tg_float_at(x->data, x->dtype, b * mn + i))) {
                (*bad)[b] = 1;
                memset(PyArray_BYTES((PyArrayObject *)c) + (size_t)(b * mn) *
                       item, 0, (size_t)mn * item);
                break;
            }
        }
    }
    return c;
}

/* Set to NaN the blocks of *r (an svd output, batch-major) whose batch
 * index is flagged in bad; *r is replaced by a writable contiguous copy if
 * it is not one. */
static int
nan_blocks(PyObject **r, const char *bad, Py_ssize_t nb)
{
    PyArrayObject *arr;
    if (!PyArray_Check(*r) ||
        !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)*r) ||
        !PyArray_ISWRITEABLE((PyArrayObject *)*r)) {
        PyObject *c = PyArray_FromAny(*r, NULL, 0, 0,
                                      NPY_ARRAY_ENSURECOPY |
                                      NPY_ARRAY_C_CONTIGUOUS, NULL);
        if (c == NULL) {
            return -1;
        }
        Py_SETREF(*r, c);
    }
    arr = (PyArrayObject *)*r;
    if (nb == 0) {
        return 0;
    }
    Py_ssize_t block = PyArray_SIZE(arr) / nb;
    for (Py_ssize_t b = 0; b < nb; b++) {
        if (!bad[b]) {
            continue;
        }
        for (Py_ssize_t i = b * block; i < (b + 1) * block; i++) {
            if (PyArray_TYPE(arr) == NPY_FLOAT32) {
                ((float *)PyArray_DATA(arr))[i] = NAN;
            }
            else {
                ((double *)PyArray_DATA(arr))[i] = NAN;
            }
        }
    }
    return 0;
}

int
svd_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    int full, uv;
    if (svd_attrs(f->attrs, &full, &uv) < 0 ||
        matrix_check("svd", "tensor", "Svd", x, 0) < 0) {
        return -1;
    }
    char *bad = NULL;
    Py_ssize_t nb = 0;
    PyObject *a = lapack_array(x, 0);
    if (a != NULL && has_bad(x, 0)) {
        /* LAPACK's SVD iterates forever on NaN/inf: those matrices go in
         * as zeros and come out as NaN (TF's Eigen SVD gives NaN too) */
        a = svd_mask_nonfinite(x, a, &bad, &nb);
    }
    PyObject *r = a ? call_quiet(!uv ? "svd" : full ? "svd_f" : "svd_s", 1,
                                 &a)
                    : NULL;
    Py_XDECREF(a);
    if (r != NULL && bad != NULL) {
        int rc = 0;
        if (!uv) {
            rc = nan_blocks(&r, bad, nb);
        }
        else if (PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 3) {
            for (int i = 0; rc == 0 && i < 3; i++) {
                PyObject *item = Py_NewRef(PyTuple_GET_ITEM(r, i));
                rc = nan_blocks(&item, bad, nb);
                if (rc == 0) {
                    PyObject *old_item = PyTuple_GET_ITEM(r, i);
                    /* r is a fresh tuple only this function holds */
                    PyTuple_SET_ITEM(r, i, item);
                    Py_DECREF(old_item);
                }
            }
        }
        if (rc < 0) {
            Py_CLEAR(r);
        }
    }
    PyMem_Free(bad);
    if (r == NULL) {
        return -1;
    }
    if (!uv) {
        f->out[0] = result_tensor(r, x->dtype);
        return f->out[0] ? 0 : -1;
    }
    if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 3) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_SystemError, "tapegrad: svd result");
        return -1;
    }
    /* NumPy's (u, s, vh) -> TF's (s, u, v) */
    PyObject *v = PyArray_SwapAxes((PyArrayObject *)PyTuple_GET_ITEM(r, 2),
                                   -1, -2);
    f->nout = 3;
    f->out[0] = result_tensor(Py_NewRef(PyTuple_GET_ITEM(r, 1)), x->dtype);
    f->out[1] = result_tensor(Py_NewRef(PyTuple_GET_ITEM(r, 0)), x->dtype);
    f->out[2] = v ? result_tensor(v, x->dtype) : NULL;
    Py_DECREF(r);
    return f->out[0] && f->out[1] && f->out[2] ? 0 : -1;
}

/* x[..., :, a:b], recorded */
static PyObject *
col_slice(scope *S, PyObject *x, Py_ssize_t a, Py_ssize_t b)
{
    PyObject *lo = PyLong_FromSsize_t(a), *hi = PyLong_FromSsize_t(b);
    PyObject *all = PySlice_New(NULL, NULL, NULL);
    PyObject *part = lo && hi ? PySlice_New(lo, hi, NULL) : NULL;
    PyObject *key = all && part ? PyTuple_Pack(3, Py_Ellipsis, all, part)
                                : NULL;
    Py_XDECREF(lo);
    Py_XDECREF(hi);
    Py_XDECREF(all);
    Py_XDECREF(part);
    keep(S, key);
    return key && x ? OP1A(getitem, x, "(O)", key) : NULL;
}

/* s (batch + (k,)) as batch + (1, k) (row = 1) or batch + (k, 1) */
static PyObject *
s_as(scope *S, PyObject *s, int row)
{
    TensorObject *t = (TensorObject *)s;
    Py_ssize_t shape[TG_MAXDIMS];
    if (s == NULL) {
        return NULL;
    }
    memcpy(shape, t->shape, (size_t)(t->ndim - 1) * sizeof(Py_ssize_t));
    shape[t->ndim - 1] = row ? 1 : t->shape[t->ndim - 1];
    shape[t->ndim] = row ? t->shape[t->ndim - 1] : 1;
    return reshape_to(S, s, t->ndim + 1, shape);
}

/* a helper's result: a new reference to r, or NULL if anything failed */
static PyObject *
scope_result(scope *S, PyObject *r)
{
    Py_XINCREF(r);
    if (vjp_end(S) < 0) {
        Py_CLEAR(r);
    }
    return r;
}

/* U1 [diag(g_s) + (J + J^T) S + S (K + K^T)] V1^T (new reference) */
static PyObject *
svd_core(PyObject *s, PyObject *u1, PyObject *gu1, PyObject *v1,
         PyObject *gv1, PyObject *gs, int dtype, Py_ssize_t k)
{
    scope S_ = {.n = 0}, *S = &S_;
    /* F_ij = 1/(s_j^2 - s_i^2), 0 on the diagonal (the eye keeps 0/0 away
     * in float16, where 1e-20 underflows) */
    /* batch-sized intermediates are released once used (held to the
     * end they were about twenty at once) */
    PyObject *s2 = MUL(s, s);
    PyObject *dif = SUB(s_as(S, s2, 1), s_as(S, s2, 0));
    PyObject *eye = band_const(S, dtype, k, 0.0, 1.0, 0.0);
    PyObject *d2 = MUL(dif, dif);
    PyObject *d2e = ADD(d2, eye);
    RELEASE(d2);
    PyObject *den = ADD(d2e, CONST(1e-20, s));
    RELEASE(d2e);
    PyObject *fm = DIV(dif, den);
    RELEASE(dif);
    RELEASE(den);
    PyObject *ug = mm(S, u1, gu1, 1, 0);
    PyObject *j = MUL(fm, ug);
    RELEASE(ug);
    PyObject *jt = mtrans(S, j);
    PyObject *js = ADD(j, jt);
    RELEASE(j);
    RELEASE(jt);
    PyObject *a = MUL(js, s_as(S, s, 1));
    RELEASE(js);
    PyObject *vg = mm(S, v1, gv1, 1, 0);
    PyObject *kk = MUL(fm, vg);
    RELEASE(vg);
    RELEASE(fm);
    PyObject *kt = mtrans(S, kk);
    PyObject *ks = ADD(kk, kt);
    RELEASE(kk);
    RELEASE(kt);
    PyObject *b = MUL(s_as(S, s, 0), ks);
    RELEASE(ks);
    PyObject *ab = ADD(a, b);
    RELEASE(a);
    RELEASE(b);
    PyObject *dg = keep(S, tg_op1(TG_OP_diag, gs, NULL));
    PyObject *inner = ADD(dg, ab);
    RELEASE(dg);
    RELEASE(ab);
    PyObject *iv = mm(S, inner, v1, 0, 1);
    RELEASE(inner);
    PyObject *r = mm(S, u1, iv, 0, 0);
    RELEASE(iv);
    return scope_result(S, r);
}

/* (g_U1 - U1 U1^T g_U1) S^-1 V1^T, with full_matrices (one extra column
 * U2 = U[..., k:]) also - U2 g_U2^T U1 S^-1 V1^T: what U's columns beyond
 * the k x k block carry (new reference).  With U and V swapped, its
 * transpose is V's part. */
static PyObject *
svd_side(PyObject *u, PyObject *gu, PyObject *v1, PyObject *sinv_row,
         Py_ssize_t k, Py_ssize_t m, int full)
{
    scope S_ = {.n = 0}, *S = &S_;
    PyObject *u1 = full ? col_slice(S, u, 0, k) : u;
    PyObject *gu1 = full ? col_slice(S, gu, 0, k) : gu;
    PyObject *p = SUB(gu1, mm(S, u1, mm(S, u1, gu1, 1, 0), 0, 0));
    if (full) {
        PyObject *u2 = col_slice(S, u, k, m), *gu2 = col_slice(S, gu, k, m);
        p = SUB(p, mm(S, u2, mm(S, gu2, u1, 1, 0), 0, 0));
    }
    return scope_result(S, mm(S, MUL(p, sinv_row), v1, 0, 1));
}

int
svd_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *x = IN_SLOT(0);
    int full, uv;
    if (svd_attrs(c->attrs, &full, &uv) < 0) {
        return -1;
    }
    Py_ssize_t m = x->shape[x->ndim - 2], n = x->shape[x->ndim - 1];
    Py_ssize_t k = m < n ? m : n;
    if (!uv) {
        PyObject *r = OP1A(svd, X(0), "(OO)", Py_False, Py_True);
        if (r != NULL && (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 3)) {
            PyErr_SetString(PyExc_SystemError, "tapegrad: svd result");
            r = NULL;
        }
        if (r != NULL) {
            PyObject *u = PyTuple_GET_ITEM(r, 1), *v = PyTuple_GET_ITEM(r, 2);
            SET(0, mm(S, MUL(u, s_as(S, G, 1)), v, 0, 1));
        }
        VJP_END;
    }
    if (full && (m - n > 1 || n - m > 1)) {
        PyErr_SetString(PyExc_NotImplementedError,
                        "svd gradient is not implemented for abs(m - n) > 1 "
                        "when full_matrices is True");
        VJP_END;
    }
    PyObject *s = YS(0), *u = YS(1), *v = YS(2);
    PyObject *u1 = full && m > k ? col_slice(S, u, 0, k) : u;
    PyObject *gu1 = full && m > k ? col_slice(S, GS(1), 0, k) : GS(1);
    PyObject *v1 = full && n > k ? col_slice(S, v, 0, k) : v;
    PyObject *gv1 = full && n > k ? col_slice(S, GS(2), 0, k) : GS(2);
    PyObject *ga = KEEP(u1 && gu1 && v1 && gv1
                            ? svd_core(s, u1, gu1, v1, gv1, GS(0), x->dtype,
                                       k)
                            : NULL);
    if (m > k || n > k) {
        PyObject *sinv = safe_recip(S, s);
        if (m > k) {
            ga = ADD(ga, KEEP(sinv ? svd_side(u, GS(1), v1, s_as(S, sinv, 1),
                                              k, m, full)
                                   : NULL));
        }
        else {
            ga = ADD(ga, mtrans(S, KEEP(sinv ? svd_side(v, GS(2), u1,
                                                        s_as(S, sinv, 1), k,
                                                        n, full)
                                             : NULL)));
        }
    }
    SET(0, ga);
    VJP_END;
}
JVP_TRANSPOSED(svd)

/* ---- diag / diag_part: TF's MatrixDiagV3 / MatrixDiagPartV3, an adjoint pair -----
 * k: one diagonal (0 the main one, > 0 above it) or a band (lo, hi).  A
 * band's diagonals are stored one per row, from hi down to lo, each row
 * max_len long; a diagonal shorter than max_len is aligned by `align`
 * (its first word for superdiagonals, its second for subdiagonals, either
 * for the main diagonal) and the rest of its row is padding_value.
 *   diag:      z[..., i, j] = d[..., hi - (j - i), j - max(j - i, 0) + off]
 *              for lo <= j - i <= hi, padding_value elsewhere
 *                                               dd = diag_part(g, k, align)
 *   diag_part: the inverse reading, padding_value where a row of the band
 *              has no element                   dx = diag(g, k, M, N, align)
 * (TF's gradients; padding_value gets none.)  k, num_rows and num_cols
 * are converted to int32 and padding_value to the input's dtype, as TF's
 * op inputs are; the errors are TF's kernel messages.
 * diag attrs:      (name, k, num_rows, num_cols, padding_value, align)
 * diag_part attrs: (name, k, padding_value, align)
 */
typedef struct {
    Py_ssize_t lo, hi;
    int left_super, left_sub;
} band;

static const char *const align_names[4] = {"LEFT_RIGHT", "RIGHT_LEFT",
                                           "LEFT_LEFT", "RIGHT_RIGHT"};

/* k, num_rows, num_cols are int32 inputs in TF */
static int
int32_values(const char *tfname, const char *param, int n,
             const Py_ssize_t *v)
{
    for (int i = 0; i < n; i++) {
        if (v[i] < INT32_MIN || v[i] > INT32_MAX) {
            TG_INVALID_ARGUMENT("%s: %s = %zd does not fit in an int32 "
                                "[Op:%s]", tfname, param, v[i], tfname);
            return -1;
        }
    }
    return 0;
}

static int
band_parse(PyObject *k, PyObject *align, const char *tfname, band *b)
{
    int which = 1;                      /* RIGHT_LEFT, TF's default */
    b->lo = b->hi = 0;
    if (align != Py_None) {
        if (!PyUnicode_Check(align)) {
            PyErr_Format(PyExc_TypeError,
                         "Expected string for argument 'align' not %R.",
                         align);
            return -1;
        }
        for (which = 0; which < 4; which++) {
            if (PyUnicode_CompareWithASCIIString(align,
                                                 align_names[which]) == 0) {
                break;
            }
        }
        if (which == 4) {
            TG_INVALID_ARGUMENT("Value for attr 'align' of \"%U\" is not in "
                                "the list of allowed values: \"LEFT_RIGHT\", "
                                "\"RIGHT_LEFT\", \"LEFT_LEFT\", "
                                "\"RIGHT_RIGHT\" [Op:%s]", align, tfname);
            return -1;
        }
    }
    b->left_super = which == 0 || which == 2;
    b->left_sub = which == 1 || which == 2;
    if (k == Py_None) {
        return 0;
    }
    Py_ssize_t v[TG_MAXDIMS];
    int n;
    if (tg_int_list(tfname, "k", k, &n, v) < 0 ||
        int32_values(tfname, "k", n, v) < 0) {
        return -1;
    }
    if (n < 1 || n > 2) {
        TG_INVALID_ARGUMENT("diag_index must have only one or two elements, "
                            "received %d elements. [Op:%s]", n, tfname);
        return -1;
    }
    b->lo = v[0];
    b->hi = n == 2 ? v[1] : v[0];
    return 0;
}

/* num_rows / num_cols: an int32 scalar, None meaning -1 */
static int
dim_arg(PyObject *o, const char *what, Py_ssize_t *v)
{
    *v = -1;
    if (o == Py_None) {
        return 0;
    }
    if (tg_int_scalar("MatrixDiagV3", what, o, v) < 0) {
        return -1;
    }
    return int32_values("MatrixDiagV3", what, 1, v);
}

/* padding_value as one element of `dtype` in buf (TF converts it to the
 * input's dtype; for a bool input, TF's wrapper takes its truth value) */
static int
padding_parse(PyObject *p, int dtype, const char *tfname, int index,
              char *buf)
{
    memset(buf, 0, 8);
    if (p == Py_None) {
        return 0;
    }
    if (dtype == TG_BOOL) {
        int v = PyObject_IsTrue(p);
        if (v < 0) {
            return -1;
        }
        *(npy_bool *)buf = (npy_bool)v;
        return 0;
    }
    TensorObject *t = tg_convert(p, dtype, tfname);
    int rc = -1;
    if (t == NULL || tg_want_dtype(tfname, index, dtype, t->dtype) < 0) {
        Py_XDECREF(t);
        return -1;
    }
    if (t->size != 1) {
        PyObject *sh = tg_shape_str(t->ndim, t->shape);
        if (sh != NULL) {
            TG_INVALID_ARGUMENT("padding_value must be a scalar, received "
                                "shape: %U [Op:%s]", sh, tfname);
            Py_DECREF(sh);
        }
    }
    else {
        memcpy(buf, t->data, (size_t)tg_dtype_size[dtype]);
        rc = 0;
    }
    Py_DECREF(t);
    return rc;
}

/* length of diagonal d of a rows x cols matrix */
static Py_ssize_t
diag_len(Py_ssize_t d, Py_ssize_t rows, Py_ssize_t cols)
{
    Py_ssize_t a = rows + (d < 0 ? d : 0), b = cols - (d > 0 ? d : 0);
    return a < b ? a : b;
}

/* where diagonal d (of length len) starts in its row of max_len */
static Py_ssize_t
diag_offset(const band *b, Py_ssize_t d, Py_ssize_t max_len, Py_ssize_t len)
{
    int left = (d >= 0 && b->left_super) || (d <= 0 && b->left_sub);
    return left ? 0 : max_len - len;
}

static Py_ssize_t
batch_count(const TensorObject *t, int nbatch)
{
    Py_ssize_t n = 1;
    for (int i = 0; i < nbatch; i++) {
        n *= t->shape[i];
    }
    return n;
}

int
diag_forward(tg_fwd *f)
{
    TensorObject *d = f->in[0];
    band b;
    Py_ssize_t rows, cols, shape[TG_MAXDIMS];
    char pad[8];
    if (band_parse(attr(f->attrs, 1), attr(f->attrs, 5), "MatrixDiagV3",
                   &b) < 0 ||
        dim_arg(attr(f->attrs, 2), "num_rows", &rows) < 0 ||
        dim_arg(attr(f->attrs, 3), "num_cols", &cols) < 0 ||
        padding_parse(attr(f->attrs, 4), d->dtype, "MatrixDiagV3", 4,
                      pad) < 0) {
        return -1;
    }
    if (d->ndim < 1 || d->ndim >= TG_MAXDIMS) {
        PyObject *s = tg_shape_str(d->ndim, d->shape);
        if (s != NULL) {
            TG_INVALID_ARGUMENT("diagonal must be at least 1-dim, received "
                                "shape: %U [Op:MatrixDiagV3]", s);
            Py_DECREF(s);
        }
        return -1;
    }
    if (b.lo > b.hi) {
        TG_INVALID_ARGUMENT("lower_diag_index must not be larger than "
                            "upper_diag_index: %zd > %zd [Op:MatrixDiagV3]",
                            b.lo, b.hi);
        return -1;
    }
    Py_ssize_t ndiag = b.hi - b.lo + 1;
    if (ndiag > 1 && (d->ndim < 2 || d->shape[d->ndim - 2] != ndiag)) {
        TG_INVALID_ARGUMENT("The number of diagonals provided in the input "
                            "does not match the lower_diag_index and "
                            "upper_diag_index range. [Op:MatrixDiagV3]");
        return -1;
    }
    Py_ssize_t len = d->shape[d->ndim - 1];
    Py_ssize_t min_rows = len - (b.hi < 0 ? b.hi : 0);
    Py_ssize_t min_cols = len + (b.lo > 0 ? b.lo : 0);
    const char *why = NULL;
    if (rows != -1 && rows < min_rows) {
        why = "The number of rows is too small.";
    }
    else if (cols != -1 && cols < min_cols) {
        why = "The number of columns is too small.";
    }
    else {
        if (rows == -1 && cols == -1) {
            rows = cols = min_rows > min_cols ? min_rows : min_cols;
        }
        else if (rows == -1) {
            rows = min_rows;
        }
        else if (cols == -1) {
            cols = min_cols;
        }
        if (rows != min_rows && cols != min_cols) {
            why = "The number of rows or columns is not consistent with the "
                  "specified d_lower, d_upper, and diagonal.";
        }
    }
    if (why != NULL) {
        TG_INVALID_ARGUMENT("%s [Op:MatrixDiagV3]", why);
        return -1;
    }
    int nbatch = d->ndim - (ndiag > 1 ? 2 : 1);
    memcpy(shape, d->shape, (size_t)nbatch * sizeof(Py_ssize_t));
    shape[nbatch] = rows;
    shape[nbatch + 1] = cols;
    f->out[0] = tg_tensor_new(d->dtype, nbatch + 2, shape);
    if (f->out[0] == NULL || f->out[0]->size == 0) {
        return f->out[0] ? 0 : -1;
    }
    size_t isz = (size_t)tg_dtype_size[d->dtype];
    char *o = f->out[0]->data;
    int zero = 1;
    for (size_t i = 0; i < isz; i++) {
        zero &= pad[i] == 0;
    }
    if (zero) {
        memset(o, 0, (size_t)f->out[0]->size * isz);
    }
    else {
        for (Py_ssize_t i = 0; i < f->out[0]->size; i++) {
            copy_item(o + (size_t)i * isz, pad, isz);
        }
    }
    /* each diagonal of the band in place (diag_part's loop, reversed) */
    Py_ssize_t nb = batch_count(d, nbatch);
    for (Py_ssize_t q = 0; q < nb; q++) {
        const char *src = d->data + (size_t)(q * ndiag * len) * isz;
        char *dst = o + (size_t)(q * rows * cols) * isz;
        for (Py_ssize_t dd = b.hi; dd >= b.lo; dd--) {
            Py_ssize_t dl = diag_len(dd, rows, cols);
            Py_ssize_t off = diag_offset(&b, dd, len, dl);
            Py_ssize_t y0 = dd < 0 ? -dd : 0, x0 = dd > 0 ? dd : 0;
            const char *row = src + (size_t)((b.hi - dd) * len) * isz;
            for (Py_ssize_t t = 0; t < dl; t++) {
                copy_item(dst + (size_t)((t + y0) * cols + t + x0) * isz,
                          row + (size_t)(t + off) * isz, isz);
            }
        }
    }
    return 0;
}

int
diag_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    SET(0, OP1A(diag_part, G, "(OOiO)", Py_None, attr(c->attrs, 1), 0,
                attr(c->attrs, 5)));
    VJP_END;
}
JVP_DIRECT(diag)
/* linear in the diagonal, with padding_value (attribute `which`) a
 * constant: the row on the tangent with a zero padding */
static int
jvp_zero_padding(tg_jvp_ctx *c, Py_ssize_t which)
{
    PyObject *attrs;
    tg_jvp_ctx z = *c;
    int rc;
    if (c->attrs == NULL || !PyTuple_Check(c->attrs) ||
        PyTuple_GET_SIZE(c->attrs) <= which) {
        return tg_jvp_linear(c);
    }
    /* a new tuple: the op's own is shared with the tapes that recorded it
     * (PyTuple_GetSlice of a whole tuple returns the tuple itself) */
    Py_ssize_t n = PyTuple_GET_SIZE(c->attrs);
    if ((attrs = PyTuple_New(n)) == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = i == which ? PyLong_FromLong(0)
                                 : Py_NewRef(PyTuple_GET_ITEM(c->attrs, i));
        if (v == NULL) {
            Py_DECREF(attrs);
            return -1;
        }
        PyTuple_SET_ITEM(attrs, i, v);
    }
    z.attrs = attrs;
    rc = tg_jvp_linear(&z);
    Py_DECREF(attrs);
    return rc;
}

int
diag_jvp(tg_jvp_ctx *c)
{
    return jvp_zero_padding(c, 4);
}

int
diag_part_forward(tg_fwd *f)
{
    TensorObject *x = f->in[0];
    band b;
    Py_ssize_t shape[TG_MAXDIMS];
    char pad[8];
    if (band_parse(attr(f->attrs, 1), attr(f->attrs, 3), "MatrixDiagPartV3",
                   &b) < 0 ||
        padding_parse(attr(f->attrs, 2), x->dtype, "MatrixDiagPartV3", 2,
                      pad) < 0) {
        return -1;
    }
    if (x->ndim < 2) {
        PyObject *s = tg_shape_str(x->ndim, x->shape);
        if (s != NULL) {
            TG_INVALID_ARGUMENT("input must be at least 2-dim, received "
                                "shape: %U [Op:MatrixDiagPartV3]", s);
            Py_DECREF(s);
        }
        return -1;
    }
    Py_ssize_t m = x->shape[x->ndim - 2], n = x->shape[x->ndim - 1];
    if (!((-m < b.lo && b.lo < n) || b.lo == 0)) {
        TG_INVALID_ARGUMENT("lower_diag_index is out of bound: %zd. It must "
                            "be between %zd and %zd [Op:MatrixDiagPartV3]",
                            b.lo, -m, n);
        return -1;
    }
    if (!((-m < b.hi && b.hi < n) || b.hi == 0)) {
        TG_INVALID_ARGUMENT("upper_diag_index is out of bound: %zd It must "
                            "be between %zd and %zd [Op:MatrixDiagPartV3]",
                            b.hi, -m, n);
        return -1;
    }
    if (b.lo > b.hi) {
        TG_INVALID_ARGUMENT("lower_diag_index must not be larger than "
                            "upper_diag_index: %zd > %zd "
                            "[Op:MatrixDiagPartV3]", b.lo, b.hi);
        return -1;
    }
    Py_ssize_t ndiag = b.hi - b.lo + 1;
    Py_ssize_t r1 = m + (b.hi < 0 ? b.hi : 0), r2 = n - (b.lo > 0 ? b.lo : 0);
    Py_ssize_t len = r1 < r2 ? r1 : r2;
    int nd = x->ndim - 2;
    memcpy(shape, x->shape, (size_t)nd * sizeof(Py_ssize_t));
    if (ndiag > 1) {
        shape[nd++] = ndiag;
    }
    shape[nd++] = len;
    f->out[0] = tg_tensor_new(x->dtype, nd, shape);
    if (f->out[0] == NULL || f->out[0]->size == 0) {
        return f->out[0] ? 0 : -1;
    }
    size_t isz = (size_t)tg_dtype_size[x->dtype];
    Py_ssize_t nb = batch_count(x, x->ndim - 2);
    char *dst = f->out[0]->data;
    for (Py_ssize_t q = 0; q < nb; q++) {
        const char *src = x->data + (size_t)(q * m * n) * isz;
        for (Py_ssize_t dd = b.hi; dd >= b.lo; dd--, dst += (size_t)len * isz) {
            Py_ssize_t dl = diag_len(dd, m, n);
            Py_ssize_t off = diag_offset(&b, dd, len, dl);
            Py_ssize_t y0 = dd < 0 ? -dd : 0, x0 = dd > 0 ? dd : 0;
            for (Py_ssize_t t = 0; t < len; t++) {
                Py_ssize_t e = t - off;
                if (e < 0 || e >= dl) {
                    copy_item(dst + (size_t)t * isz, pad, isz);
                }
                else {
                    copy_item(dst + (size_t)t * isz,
                              src + (size_t)((e + y0) * n + e + x0) * isz,
                              isz);
                }
            }
        }
    }
    return 0;
}

int
diag_part_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    const tg_slot *x = IN_SLOT(0);
    SET(0, OP1A(diag, G, "(OOnniO)", Py_None, attr(c->attrs, 1),
                x->shape[x->ndim - 2], x->shape[x->ndim - 1], 0,
                attr(c->attrs, 3)));
    VJP_END;
}
JVP_DIRECT(diag_part)
int
diag_part_jvp(tg_jvp_ctx *c)
{
    return jvp_zero_padding(c, 2);
}

/* ---- trace (composite) ------------------------------------------------------------
 * z = sum_i x[..., i, i] = reduce_sum(diag_part(x), -1)
 */
int
trace_forward(tg_fwd *f)
{
    COMPOSITE_BEGIN;
    PyObject *d = keep(S, tg_op1(TG_OP_diag_part, (PyObject *)f->in[0],
                                 NULL));
    return composite_end(S, f, OP1A(reduce_sum, d, "(iO)", -1, Py_False));
}
NO_VJP(trace)

/* ---- einsum ------------------------------------------------------------------------
 * z = einsum(equation, x_0, x_1, ...)
 * dx_i = einsum(g, x_j (j != i), I, 1 -> labels of x_i): a repeated label
 * of x_i (a diagonal) is fed by a constant identity, a label of x_i found
 * nowhere else (summed away) by a constant vector of ones; ellipsis dims
 * x_i broadcast are summed back by sum_to.
 * attrs: (equation,).  TF's signature is einsum(equation, *inputs); the
 * generated entry can only take the inputs first (a list), so the row is
 * internal for now and tensordot uses it.
 */
#define EQ_MAXOP 16
#define EQ_NLAB 52

typedef struct {
    int nop;
    int n[EQ_MAXOP + 1];                /* labels per operand; [nop]: out */
    char lab[EQ_MAXOP + 1][TG_MAXDIMS];
    Py_ssize_t size[EQ_NLAB];          /* per label */
    char used[EQ_NLAB];
    char ell[EQ_NLAB];                  /* label stands for an ellipsis dim */
} eqn;

static int
lab_index(char ch)
{
    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a';
    }
    if (ch >= 'A' && ch <= 'Z') {
        return 26 + ch - 'A';
    }
    return -1;
}

static char
lab_char(int i)
{
    return (char)(i < 26 ? 'a' + i : 'A' + i - 26);
}

static int
eq_error(PyObject *eqobj, const char *why)
{
    TG_INVALID_ARGUMENT("einsum: invalid equation %R: %s [Op:Einsum]", eqobj,
                        why);
    return -1;
}

/* one term of the equation: letters and at most one "..." */
static int
eq_term(PyObject *eqobj, const char *s, size_t len, char *letters, int *nl,
        int *ellpos)
{
    *nl = 0;
    *ellpos = -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.' ||
                *ellpos >= 0) {
                return eq_error(eqobj, "at most one ellipsis '...' per term");
            }
            *ellpos = *nl;
            i += 2;
        }
        else if (lab_index(s[i]) >= 0) {
            if (*nl >= TG_MAXDIMS) {
                return eq_error(eqobj, "too many labels in a term");
            }
            letters[(*nl)++] = s[i];
        }
        else {
            return eq_error(eqobj, "labels must be ASCII letters");
        }
    }
    return 0;
}

/* Parse `eqobj` for operands of the given ranks and shapes into `e`: every
 * ellipsis dim gets a fresh letter, so the result is fully explicit. */
static int
eq_parse(PyObject *eqobj, int nop, const int *ndim,
         Py_ssize_t *const *shapes, eqn *e)
{
    char buf[1024], letters[EQ_MAXOP][TG_MAXDIMS], out_letters[TG_MAXDIMS];
    int nl[EQ_MAXOP], ellpos[EQ_MAXOP], nout = 0, outell = -1, has_out = 0;
    Py_ssize_t len;
    const char *s;
    size_t k = 0;
    if (!PyUnicode_Check(eqobj)) {
        PyErr_Format(PyExc_TypeError, "einsum: equation must be a string, "
                     "got %.200R", eqobj);
        return -1;
    }
    s = PyUnicode_AsUTF8AndSize(eqobj, &len);
    if (s == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        if (s[i] == ' ') {
            continue;
        }
        if (s[i] == '\0') {    /* the C string would end here */
            return eq_error(eqobj, "a NUL character");
        }
        if (k + 1 >= sizeof(buf)) {
            return eq_error(eqobj, "too long");
        }
        buf[k++] = s[i];
    }
    buf[k] = '\0';
    if (nop > EQ_MAXOP) {
        return eq_error(eqobj, "too many operands (at most 16)");
    }
    memset(e, 0, sizeof(*e));
    e->nop = nop;
    char *arrow = strstr(buf, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - buf) : k;
    if (arrow != NULL) {
        has_out = 1;
        if (strstr(arrow + 2, "->") != NULL || strchr(arrow + 2, ',')) {
            return eq_error(eqobj, "one '->' and one output term expected");
        }
        if (eq_term(eqobj, arrow + 2, strlen(arrow + 2), out_letters, &nout,
                    &outell) < 0) {
            return -1;
        }
    }
    /* split the inputs at commas */
    int t = 0;
    size_t start = 0;
    for (size_t i = 0; i <= lhs_len; i++) {
        if (i == lhs_len || buf[i] == ',') {
            if (t >= nop) {
                t++;
                break;
            }
            if (eq_term(eqobj, buf + start, i - start, letters[t], &nl[t],
                        &ellpos[t]) < 0) {
                return -1;
            }
            t++;
            start = i + 1;
        }
    }
    if (t != nop) {
        TG_INVALID_ARGUMENT("einsum: the equation %R has %d input term(s) "
                            "but %d input tensor(s) were given [Op:Einsum]",
                            eqobj, t, nop);
        return -1;
    }
    /* ellipsis rank and fresh letters for its dims */
    int E = 0;
    for (int i = 0; i < nop; i++) {
        for (int j = 0; j < nl[i]; j++) {
            e->used[lab_index(letters[i][j])] = 1;
        }
        int er = ndim[i] - nl[i];
        if ((ellpos[i] < 0 && er != 0) || er < 0) {
            PyObject *sh = tg_shape_str(ndim[i], shapes[i]);
            if (sh != NULL) {
                TG_INVALID_ARGUMENT(
                    "einsum: input %d has shape %U but its term in %R has %d "
                    "label(s)%s [Op:Einsum]", i, sh, eqobj, nl[i],
                    ellpos[i] >= 0 ? " and an ellipsis" : "");
                Py_DECREF(sh);
            }
            return -1;
        }
        E = er > E ? er : E;
    }
    for (int j = 0; j < nout; j++) {
        int li = lab_index(out_letters[j]);
        if (!e->used[li]) {
            TG_INVALID_ARGUMENT("einsum: output label '%c' of %R appears in "
                                "no input [Op:Einsum]", out_letters[j], eqobj);
            return -1;
        }
        for (int q = 0; q < j; q++) {
            if (out_letters[q] == out_letters[j]) {
                TG_INVALID_ARGUMENT("einsum: output label '%c' of %R is "
                                    "repeated [Op:Einsum]", out_letters[j],
                                    eqobj);
                return -1;
            }
        }
    }
    char fresh[TG_MAXDIMS];
    for (int li = EQ_NLAB - 1, got = 0; got < E; li--) {
        if (li < 0) {
            return eq_error(eqobj, "too many labels");
        }
        if (!e->used[li]) {
            fresh[got++] = lab_char(li);
        }
    }
    /* explicit labels per operand, sizes per label */
    for (int i = 0; i < EQ_NLAB; i++) {
        e->size[i] = -1;
    }
    for (int i = 0; i < nop; i++) {
        int er = ndim[i] - nl[i], d = 0;
        for (int j = 0; j <= nl[i]; j++) {
            if (j == ellpos[i]) {
                for (int q = 0; q < er; q++) {
                    e->lab[i][d++] = fresh[E - er + q];
                }
            }
            if (j < nl[i]) {
                e->lab[i][d++] = letters[i][j];
            }
        }
        e->n[i] = d;
        for (d = 0; d < ndim[i]; d++) {
            int li = lab_index(e->lab[i][d]);
            int is_ell = d >= (ellpos[i] < 0 ? 0 : ellpos[i]) &&
                         ellpos[i] >= 0 && d < ellpos[i] + er;
            Py_ssize_t sz = shapes[i][d];
            e->used[li] = 1;
            e->ell[li] = (char)is_ell;
            if (e->size[li] < 0 || (is_ell && e->size[li] == 1)) {
                e->size[li] = sz;
            }
            else if (e->size[li] != sz && !(is_ell && sz == 1)) {
                PyObject *sh = tg_shape_str(ndim[i], shapes[i]);
                if (sh != NULL) {
                    TG_INVALID_ARGUMENT(
                        "einsum: expected dimension %zd at axis %d of input "
                        "%d shaped %U but got dimension %zd (equation %R) "
                        "[Op:Einsum]", e->size[li], d, i, sh, sz, eqobj);
                    Py_DECREF(sh);
                }
                return -1;
            }
        }
    }
    /* the output: explicit, or NumPy's implicit form (ellipsis dims, then
     * the labels seen exactly once, in ASCII order) */
    int n = 0;
    if (has_out) {
        for (int j = 0; j <= nout; j++) {
            if (j == outell) {
                for (int q = 0; q < E; q++) {
                    e->lab[nop][n++] = fresh[q];
                }
            }
            if (j < nout) {
                e->lab[nop][n++] = out_letters[j];
            }
        }
        if (outell < 0 && E > 0) {
            /* TF: ellipsis dims may only be dropped when they are size 1 */
            for (int q = 0; q < E; q++) {
                if (e->size[lab_index(fresh[q])] != 1) {
                    return eq_error(eqobj, "the output must contain '...' "
                                    "when an input's does");
                }
            }
        }
    }
    else {
        int count[128] = {0};
        for (int i = 0; i < nop; i++) {
            for (int j = 0; j < nl[i]; j++) {
                count[(unsigned char)letters[i][j]]++;
            }
        }
        for (int q = 0; q < E; q++) {
            e->lab[nop][n++] = fresh[q];
        }
        for (int ch = 0; ch < 128; ch++) {
            if (count[ch] == 1) {
                e->lab[nop][n++] = (char)ch;
            }
        }
    }
    e->n[nop] = n;
    return 0;
}

/* one operand's labels; with `dots`, a run of ellipsis labels is written
 * back as "..." (so its size-1 dims broadcast, as an ellipsis may) */
static size_t
eq_put(const eqn *e, char *buf, int op, int dots)
{
    size_t k = 0;
    for (int d = 0; d < e->n[op]; d++) {
        int is_ell = e->ell[lab_index(e->lab[op][d])];
        if (dots && is_ell) {
            if (d == 0 || !e->ell[lab_index(e->lab[op][d - 1])]) {
                memcpy(buf + k, "...", 3);
                k += 3;
            }
            continue;
        }
        buf[k++] = e->lab[op][d];
    }
    return k;
}

/* "ab,bc->ac" from the labels of operands `ops` and output `out` */
static void
eq_format(const eqn *e, char *buf, int nops, const int *ops, int out,
          int dots)
{
    size_t k = 0;
    for (int i = 0; i < nops; i++) {
        if (i > 0) {
            buf[k++] = ',';
        }
        k += eq_put(e, buf + k, ops[i], dots);
    }
    buf[k++] = '-';
    buf[k++] = '>';
    k += eq_put(e, buf + k, out, dots);
    buf[k] = '\0';
}

static int
eq_parse_tensors(PyObject *eqobj, int nin, TensorObject **in, eqn *e)
{
    int ndim[EQ_MAXOP];
    Py_ssize_t *shapes[EQ_MAXOP];
    if (nin > EQ_MAXOP) {
        return eq_error(eqobj, "too many operands (at most 16)");
    }
    for (int i = 0; i < nin; i++) {
        ndim[i] = in[i]->ndim;
        shapes[i] = in[i]->shape;
    }
    return eq_parse(eqobj, nin, ndim, shapes, e);
}

int
einsum_forward(tg_fwd *f)
{
    eqn e;
    char buf[(3 * EQ_MAXOP + 1) * (TG_MAXDIMS + 4) + 4];
    int ops[EQ_MAXOP];
    PyArrayObject *arrs[EQ_MAXOP];
    PyObject *eqobj = attr(f->attrs, 0);
    int dt = f->in[0]->dtype, n = 0;
    if (eqobj == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "einsum() missing required argument 'equation'");
        return -1;
    }
    if (eq_parse_tensors(eqobj, f->nin, f->in, &e) < 0) {
        return -1;
    }
    for (int i = 0; i < f->nin; i++) {
        ops[i] = i;
    }
    eq_format(&e, buf, f->nin, ops, f->nin, 0);
    for (; n < f->nin; n++) {
        arrs[n] = (PyArrayObject *)tg_tensor_as_array(f->in[n]);
        if (arrs[n] == NULL) {
            break;
        }
    }
    /* NumPy writes into our output: allocated here, an impossible size
     * is TF's OOM error (NumPy's own names its TiB), and no adoption */
    Py_ssize_t oshape[TG_MAXDIMS];
    int ond = e.n[e.nop];
    for (int d = 0; d < ond; d++) {
        oshape[d] = e.size[lab_index(e.lab[e.nop][d])];
    }
    TensorObject *out = n == f->nin ? tg_tensor_new(dt, ond, oshape) : NULL;
    PyObject *view = out ? tg_tensor_as_array(out) : NULL;
    PyArrayObject *r = NULL;
    PyObject *token = view ? tg_quiet_begin() : NULL;
    if (token != NULL) {
        PyArray_ENABLEFLAGS((PyArrayObject *)view, NPY_ARRAY_WRITEABLE);
        r = PyArray_EinsteinSum(buf, f->nin, arrs,
                                PyArray_DescrFromType(tg_dtype_npy[dt]),
                                NPY_CORDER, NPY_SAFE_CASTING,
                                (PyArrayObject *)view);
        if (r == NULL) {
            tg_np_lost_error();
        }
        if (tg_quiet_end(token) < 0) {
            Py_CLEAR(r);
        }
    }
    for (int i = 0; i < n; i++) {
        Py_DECREF(arrs[i]);
    }
    Py_XDECREF(view);
    if (r == NULL) {
        Py_XDECREF(out);
        return -1;
    }
    Py_DECREF(r);                      /* the view again */
    f->out[0] = out;
    return 0;
}

/* a constant of `dtype`: the n x n identity (ident) or n ones */
static PyObject *
eq_const(scope *S, int dtype, Py_ssize_t n, int ident)
{
    Py_ssize_t shape[2] = {n, n};
    if (!ident) {
        return keep(S, (PyObject *)tg_fill_like(dtype, 1, shape, 1.0));
    }
    TensorObject *t = tg_fill_like(dtype, 2, shape, 0.0);
    TensorObject *one = t ? tg_tensor_scalar(dtype, 1.0) : NULL;
    if (one == NULL) {
        Py_XDECREF(t);
        return NULL;
    }
    size_t isz = (size_t)tg_dtype_size[dtype];
    for (Py_ssize_t i = 0; i < n; i++) {
        memcpy(t->data + (size_t)(i * n + i) * isz, one->data, isz);
    }
    Py_DECREF(one);
    return keep(S, (PyObject *)t);
}

static PyObject *
einsum_call(scope *S, int n, PyObject **xs, const char *eq)
{
    PyObject *list = PyList_New(n);
    if (list == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (xs[i] == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, Py_NewRef(xs[i]));
    }
    PyObject *attrs = Py_BuildValue("(s)", eq);
    PyObject *r = attrs ? tg_call(TG_OP_einsum, n, PySequence_Fast_ITEMS(list),
                                  attrs)
                        : NULL;
    Py_XDECREF(attrs);
    Py_DECREF(list);
    return keep(S, r);
}

int
einsum_vjp(tg_vjp_ctx *c)
{
    VJP_BEGIN;
    int nin = c->e->nin, ndim[EQ_MAXOP];
    Py_ssize_t *shapes[EQ_MAXOP];
    eqn e;
    for (int i = 0; i < nin; i++) {
        ndim[i] = IN_SLOT(i)->ndim;
        shapes[i] = IN_SLOT(i)->shape;
    }
    if (eq_parse(attr(c->attrs, 0), nin, ndim, shapes, &e) < 0) {
        return -1;
    }
    int dt = IN_SLOT(0)->dtype;
    for (int i = 0; i < nin; i++) {
        if (!NEEDS(i)) {
            continue;
        }
        /* the gradient einsum as a fresh eqn: operand 0 is g, then the
         * other inputs, then constants; its output is input i */
        eqn ge = e;
        PyObject *xs[3 * EQ_MAXOP + TG_MAXDIMS];
        char seen[EQ_NLAB] = {0};
        int nx = 0, slot = 0;
        memcpy(ge.lab[slot], e.lab[nin], (size_t)e.n[nin]);
        ge.n[slot++] = e.n[nin];
        xs[nx++] = G;
        for (int j = 0; j < nin; j++) {
            if (j != i) {
                memcpy(ge.lab[slot], e.lab[j], (size_t)e.n[j]);
                ge.n[slot++] = e.n[j];
                xs[nx++] = X(j);
            }
        }
        /* the other operands' labels */
        char avail[EQ_NLAB] = {0};
        for (int s = 0; s < slot; s++) {
            for (int d = 0; d < ge.n[s]; d++) {
                avail[lab_index(ge.lab[s][d])] = 1;
            }
        }
        char target[TG_MAXDIMS];
        int extra_ops = 0;
        for (int d = 0; d < e.n[i]; d++) {
            char ch = e.lab[i][d];
            int li = lab_index(ch);
            Py_ssize_t sz = shapes[i][d];
            if (seen[li]) {
                /* a repeated label: a fresh one tied by an identity */
                int fl = -1;
                for (int q = 0; q < EQ_NLAB; q++) {
                    if (!ge.used[q]) {
                        fl = q;
                        break;
                    }
                }
                if (fl < 0 || slot >= EQ_MAXOP) {
                    return eq_error(attr(c->attrs, 0), "too many labels for "
                                    "its gradient");
                }
                ge.used[fl] = 1;
                target[d] = lab_char(fl);
                ge.lab[slot][0] = ch;
                ge.lab[slot][1] = lab_char(fl);
                ge.n[slot++] = 2;
                xs[nx++] = eq_const(S, dt, sz, 1);
                extra_ops++;
                continue;
            }
            seen[li] = 1;
            target[d] = ch;
            if (!avail[li] && !e.ell[li]) {
                /* summed away inside input i alone: broadcast by ones */
                if (slot >= EQ_MAXOP) {
                    return eq_error(attr(c->attrs, 0), "too many labels for "
                                    "its gradient");
                }
                ge.lab[slot][0] = ch;
                ge.n[slot++] = 1;
                xs[nx++] = eq_const(S, dt, sz, 0);
                avail[li] = 1;
            }
        }
        int tn = e.n[i];
        if (BATCHED) {
            /* one more label, on g and on the result: the batch */
            int fl = -1;
            for (int q = 0; q < EQ_NLAB && fl < 0; q++) {
                fl = ge.used[q] ? -1 : q;
            }
            if (fl < 0 || ge.n[0] >= TG_MAXDIMS || tn >= TG_MAXDIMS) {
                return eq_error(attr(c->attrs, 0), "too many labels for "
                                "its batched gradient");
            }
            ge.used[fl] = 1;
            ge.size[fl] = ((TensorObject *)G)->shape[0];
            memmove(ge.lab[0] + 1, ge.lab[0], (size_t)ge.n[0]);
            ge.lab[0][0] = lab_char(fl);
            ge.n[0]++;
            memmove(target + 1, target, (size_t)tn);
            target[0] = lab_char(fl);
            tn++;
        }
        memcpy(ge.lab[slot], target, (size_t)tn);
        ge.n[slot] = tn;
        int ops[3 * EQ_MAXOP];
        for (int q = 0; q < slot; q++) {
            ops[q] = q;
        }
        char buf[(3 * EQ_MAXOP + 1) * (TG_MAXDIMS + 4) + 4];
        eq_format(&ge, buf, slot, ops, slot, 1);
        PyObject *gi = einsum_call(S, nx, xs, buf);
        /* the output "..." has every ellipsis dim at full size: sum the
         * ones input i lacks or broadcast; all-1 dims dropped by the
         * forward's output come back by a reshape */
        TensorObject *gt = (TensorObject *)gi;
        if (gt != NULL && gt->ndim == ndim[i] + BATCHED &&
            !memcmp(gt->shape + BATCHED, shapes[i],
                    (size_t)ndim[i] * sizeof(Py_ssize_t))) {
            SET(i, gi);
        }
        else if (gt != NULL && gt->ndim < ndim[i] + BATCHED) {
            SET(i, GTO_SHAPE(reshape, gi, IN_SLOT(i)));
        }
        else {
            SET(i, GTO_SHAPE(sum_to, gi, IN_SLOT(i)));
        }
        (void)extra_ops;
    }
    VJP_END;
}
JVP_DIRECT(einsum)
int
einsum_jvp(tg_jvp_ctx *c)
{
    /* multilinear: one einsum per input with a tangent, that input
     * replaced by its tangent */
    JVP_BEGIN;
    TensorObject *args[EQ_MAXOP];
    PyObject *sum = NULL;
    if (c->nin > EQ_MAXOP) {
        return eq_error(attr(c->attrs, 0), "too many operands (at most 16)");
    }
    for (int i = 0; i < c->nin; i++) {
        if (c->t[i] == NULL) {
            continue;
        }
        for (int j = 0; j < c->nin; j++) {
            args[j] = j == i ? c->t[i] : c->in[j];
        }
        sum = TADD(sum, KEEP(tg_call_tensors(TG_OP_einsum, c->nin, args,
                                             c->attrs)));
    }
    TSET(0, sum);
    JVP_END;
}

/* ---- tensordot (composite, through einsum) ------------------------------------------
 * z = sum over paired axes of a and b; axes: an int N (a's last N with b's
 * first N) or a pair of axis lists
 */
/* obj[i] for a list, a tuple or a tensor (a new reference) */
static PyObject *
item_at(PyObject *obj, long i)
{
    PyObject *k = PyLong_FromLong(i), *r;
    if (k == NULL) {
        return NULL;
    }
    r = PyObject_GetItem(obj, k);
    Py_DECREF(k);
    return r;
}

static int
axes_list(PyObject *o, int ndim, int *ax, int *n, const char *which)
{
    Py_ssize_t v[TG_MAXDIMS];
    if (tg_int_list("Tensordot", "axes", o, n, v) < 0) {
        return -1;
    }
    if (*n > ndim) {
        PyErr_Format(PyExc_ValueError, "tensordot: %s names %d axes but the "
                     "tensor has rank %d", which, *n, ndim);
        return -1;
    }
    for (int i = 0; i < *n; i++) {
        if (v[i] < -ndim || v[i] >= ndim) {
            TG_INVALID_ARGUMENT("tensordot: axis %zd of %s is out of range "
                                "for rank %d [Op:Tensordot]", v[i], which,
                                ndim);
            return -1;
        }
        ax[i] = (int)(v[i] < 0 ? v[i] + ndim : v[i]);
    }
    return 0;
}

int
tensordot_forward(tg_fwd *f)
{
    COMPOSITE_BEGIN;
    TensorObject *a = f->in[0], *b = f->in[1];
    PyObject *axes = attr(f->attrs, 0);
    int ax[TG_MAXDIMS], bx[TG_MAXDIMS], na, nb;
    if (axes == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "tensordot() missing required argument 'axes'");
        return -1;
    }
    if (!tg_int_is_vector(axes)) {
        Py_ssize_t k;
        if (tg_int_scalar("Tensordot", "axes", axes, &k) < 0) {
            return -1;
        }
        if (k < 0 || k > a->ndim || k > b->ndim) {
            PyErr_Format(PyExc_ValueError,
                         "tensordot: 'axes' must be in [0, %d], got %zd",
                         a->ndim < b->ndim ? a->ndim : b->ndim, k);
            return -1;
        }
        na = nb = (int)k;
        for (int i = 0; i < na; i++) {
            ax[i] = a->ndim - na + i;
            bx[i] = i;
        }
    }
    else {
        /* a pair: two lists of axes, or two axes (a list, a tuple, a
         * tensor of shape [2, k] or [2]); a tensor's dtype is checked
         * before its length */
        Py_ssize_t len = tg_int_dtype_check("Tensordot", "axes", axes) < 0
                             ? -1
                             : PyObject_Size(axes);
        int ok = len == 2;
        if (len >= 0 && !ok) {
            PyErr_Format(PyExc_ValueError, "tensordot: 'axes' must be an int "
                         "or a pair of axis lists, got %.200R", axes);
        }
        PyObject *pa = ok ? item_at(axes, 0) : NULL;
        PyObject *pb = pa ? item_at(axes, 1) : NULL;
        ok = pb && axes_list(pa, a->ndim, ax, &na, "a") == 0 &&
             axes_list(pb, b->ndim, bx, &nb, "b") == 0;
        Py_XDECREF(pa);
        Py_XDECREF(pb);
        if (!ok) {
            return -1;
        }
        if (na != nb) {
            PyErr_Format(PyExc_ValueError, "tensordot: the axes of `a` and "
                         "`b` must pair up, got %d and %d axes", na, nb);
            return -1;
        }
    }
    /* labels: a's dims get 0.., b's paired dims reuse a's */
    char la[TG_MAXDIMS], lb[TG_MAXDIMS], lo[2 * TG_MAXDIMS];
    int next = 0, no = 0;
    if (a->ndim + b->ndim > EQ_NLAB) {
        PyErr_SetString(PyExc_ValueError, "tensordot: too many dimensions");
        return -1;
    }
    for (int i = 0; i < a->ndim; i++) {
        la[i] = lab_char(next++);
    }
    memset(lb, 0, sizeof(lb));
    for (int i = 0; i < na; i++) {
        if (lb[bx[i]] != 0) {
            PyErr_Format(PyExc_ValueError,
                         "tensordot: axis %d of `b` is paired twice", bx[i]);
            return -1;
        }
        for (int j = 0; j < i; j++) {
            if (ax[j] == ax[i]) {
                PyErr_Format(PyExc_ValueError,
                             "tensordot: axis %d of `a` is paired twice", ax[i]);
                return -1;
            }
        }
        if (a->shape[ax[i]] != b->shape[bx[i]]) {
            PyObject *sa = tg_shape_str(a->ndim, a->shape);
            PyObject *sb = sa ? tg_shape_str(b->ndim, b->shape) : NULL;
            if (sb != NULL) {
                TG_INVALID_ARGUMENT("tensordot: axis %d of `a` (shape %U) and "
                                    "axis %d of `b` (shape %U) differ in size "
                                    "[Op:Tensordot]", ax[i], sa, bx[i], sb);
            }
            Py_XDECREF(sa);
            Py_XDECREF(sb);
            return -1;
        }
        lb[bx[i]] = la[ax[i]];
    }
    for (int i = 0; i < a->ndim; i++) {
        int paired = 0;
        for (int j = 0; j < na; j++) {
            paired |= ax[j] == i;
        }
        if (!paired) {
            lo[no++] = la[i];
        }
    }
    for (int i = 0; i < b->ndim; i++) {
        if (lb[i] == 0) {
            lb[i] = lab_char(next++);
            lo[no++] = lb[i];
        }
    }
    char eq[3 * TG_MAXDIMS + 8];
    size_t k = 0;
    memcpy(eq + k, la, (size_t)a->ndim);
    k += (size_t)a->ndim;
    eq[k++] = ',';
    memcpy(eq + k, lb, (size_t)b->ndim);
    k += (size_t)b->ndim;
    eq[k++] = '-';
    eq[k++] = '>';
    memcpy(eq + k, lo, (size_t)no);
    k += (size_t)no;
    eq[k] = '\0';
    PyObject *xs[2] = {(PyObject *)a, (PyObject *)b};
    return composite_end(S, f, einsum_call(S, 2, xs, eq));
}
NO_VJP(tensordot)

/* ---- norm (composite) -----------------------------------------------------------------
 * vectors: 'euclidean'/2: sqrt(sum x^2)   1: sum |x|   inf: max |x|
 *          p > 0: (sum |x|^p)^(1/p)
 * matrices (axis a pair): 'euclidean'/'fro': sqrt(sum x^2)
 *          1: max over columns of sum |x| over rows   inf: the transpose
 *          2: the largest singular value (spectral_norm, through svd)
 * |x| is x * sign(x) with the sign a constant (TF's abs gradient), max is a
 * recorded sum against a constant tie indicator (TF's reduce_max gradient:
 * ties share it evenly).  sqrt at 0 has a NaN gradient, as in TF.
 * attrs: (ord, axis, keepdims)
 */
static PyObject *
abs_rec(scope *S, PyObject *x)
{
    TensorObject *t = (TensorObject *)x;
    return MUL(x, keep(S, (PyObject *)tg_ufunc_apply("sign", 1, &t,
                                                     t->dtype)));
}

static PyObject *
sum_keep(scope *S, PyObject *x, PyObject *axes)
{
    return OP1A(reduce_sum, x, "(OO)", axes, Py_True);
}

/* max of v over `axes` (keepdims) with TF's gradient */
static PyObject *
max_keep(scope *S, PyObject *v, PyObject *axes)
{
    if (v == NULL) {
        return NULL;
    }
    TensorObject *t = (TensorObject *)v;
    PyObject *arr = tg_tensor_as_array(t);
    PyObject *red = arr ? tg_numpy_ufunc_reduce("maximum") : NULL;
    PyObject *args = red ? PyTuple_Pack(1, arr) : NULL;
    PyObject *tup = args ? PySequence_Tuple(axes) : NULL;
    PyObject *kw = tup ? Py_BuildValue("{sNsOsd}", "axis", tup, "keepdims",
                                       Py_True, "initial", -INFINITY)
                       : NULL;
    PyObject *m = kw ? tg_np_call(red, args, kw) : NULL;
    Py_XDECREF(arr);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    TensorObject *mt = result_tensor(m, t->dtype);
    if (mt == NULL) {
        return NULL;
    }
    keep(S, (PyObject *)mt);
    TensorObject *pair[2] = {t, mt};
    PyObject *ind = keep(S, (PyObject *)tg_ufunc_apply("equal", 2, pair,
                                                        t->dtype));
    PyObject *cnt = sum_keep(S, ind, axes);
    return sum_keep(S, MUL(v, DIV(ind, cnt)), axes);
}

/* ord=2 over the axis pair ax (rows, columns): the largest singular
 * value, as TF builds it: the pair moved last, svd(compute_uv=False),
 * max |s| with TF's reduce_max gradient (so the gradient is u1 v1^T, split
 * evenly between equal largest values).  The result has x's rank with 1
 * at both axes (keepdims); the other axes keep their order. */
static PyObject *
spectral_norm(scope *S, PyObject *x, const int *ax)
{
    TensorObject *t = (TensorObject *)x;
    Py_ssize_t shape[TG_MAXDIMS];
    int nd = t->ndim, q = 0, moved = 0;
    PyObject *perm = keep(S, PyList_New(0));
    for (int i = 0; perm && i <= nd + 1; i++) {
        int a = i < nd ? i : ax[i - nd];
        if (i < nd && (i == ax[0] || i == ax[1])) {
            continue;
        }
        PyObject *v = PyLong_FromLong(a);
        if (v == NULL || PyList_Append(perm, v) < 0) {
            Py_XDECREF(v);
            return NULL;
        }
        Py_DECREF(v);
        moved |= a != q++;
    }
    if (perm == NULL) {
        return NULL;
    }
    PyObject *xt = moved ? OP1A(transpose, x, "(O)", perm) : x;
    PyObject *sv = xt ? OP1A(svd, xt, "(OO)", Py_False, Py_False) : NULL;
    PyObject *last = keep(S, Py_BuildValue("[i]", nd - 2));
    PyObject *m = last && sv ? max_keep(S, abs_rec(S, sv), last) : NULL;
    for (int i = 0; i < nd; i++) {
        shape[i] = i == ax[0] || i == ax[1] ? 1 : t->shape[i];
    }
    return m ? reshape_to(S, m, nd, shape) : NULL;
}

static int
norm_bad_ord(int matrix, PyObject *ord)
{
    if (matrix) {
        PyErr_Format(PyExc_ValueError, "norm: 'ord' must be a supported "
                     "matrix norm in ['euclidean', 'fro', 1, 2, inf], got %R",
                     ord);
    }
    else {
        PyErr_Format(PyExc_ValueError, "norm: 'ord' must be a supported "
                     "vector norm, got %R", ord);
    }
    return -1;
}

int
norm_forward(tg_fwd *f)
{
    COMPOSITE_BEGIN;
    TensorObject *x = f->in[0];
    PyObject *ord = attr(f->attrs, 0), *axis = attr(f->attrs, 1);
    int keepdims = attr_bool(f->attrs, 2), matrix = 0, is_str = 0, nax = 0;
    double p = 2.0;
    char mask[TG_MAXDIMS];
    Py_ssize_t av[TG_MAXDIMS];
    if (keepdims < 0) {
        return -1;
    }
    /* axis: None, one axis, or two distinct ones (a matrix norm); read
     * once, since reading runs the user's __index__ */
    if (axis != Py_None) {
        int ok;
        if (tg_int_list("Norm", "axis", axis, &nax, av) < 0) {
            return -1;
        }
        matrix = nax == 2 && tg_int_is_vector(axis);
        if (matrix) {
            Py_ssize_t nd = x->ndim, v0 = av[0], v1 = av[1];
            /* out of range is the mask's InvalidArgumentError below */
            ok = v0 != v1 && (nd == 0 || (v0 - v1) % nd != 0 || v0 < -nd ||
                              v0 >= nd || v1 < -nd || v1 >= nd);
        }
        else {
            ok = !tg_int_is_vector(axis);
        }
        if (!ok) {
            PyErr_Format(PyExc_ValueError, "norm: 'axis' must be None, an "
                         "integer, or a tuple of 2 unique integers, got "
                         "%.200R", axis);
            return -1;
        }
    }
    if (PyUnicode_Check(ord)) {
        is_str = 1;
        if (PyUnicode_CompareWithASCIIString(ord, "euclidean") != 0 &&
            (!matrix || PyUnicode_CompareWithASCIIString(ord, "fro") != 0)) {
            return norm_bad_ord(matrix, ord);
        }
    }
    else {
        if (tg_float_scalar("Norm", "ord", ord, &p) < 0) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
                return -1;
            }
            PyErr_Clear();          /* TF's message lists the ords */
            return norm_bad_ord(matrix, ord);
        }
        if (matrix ? !(p == 1.0 || p == 2.0 || (isinf(p) && p > 0))
                   : !(p > 0)) {
            return norm_bad_ord(matrix, ord);
        }
    }
    if (tg_axes_mask("Norm", axis == Py_None ? -1 : nax, av, x->ndim,
                     mask) < 0) {
        return -1;
    }
    PyObject *axes = keep(S, PyList_New(0));
    int ax[2], na = 0;
    for (int i = 0; axes && i < x->ndim; i++) {
        if (mask[i]) {
            PyObject *v = PyLong_FromLong(i);
            if (v == NULL || PyList_Append(axes, v) < 0) {
                Py_XDECREF(v);
                return composite_end(S, f, NULL);
            }
            Py_DECREF(v);
            if (na < 2) {
                ax[na++] = i;
            }
        }
    }
    if (matrix) {
        /* in the order the user gave: rows, then columns */
        ax[0] = (int)(av[0] < 0 ? av[0] + x->ndim : av[0]);
        ax[1] = (int)(av[1] < 0 ? av[1] + x->ndim : av[1]);
    }
    PyObject *xo = (PyObject *)x, *r;
    if (is_str || (!matrix && p == 2.0)) {
        r = POW(sum_keep(S, MUL(xo, xo), axes), CONST(0.5, xo));
    }
    else if (matrix && p == 2.0) {
        r = spectral_norm(S, xo, ax);
    }
    else if (matrix) {
        /* ord 1: sum over rows (ax[0]) then max over columns; inf: swap */
        int first = p == 1.0 ? ax[0] : ax[1], second = p == 1.0 ? ax[1]
                                                                : ax[0];
        PyObject *a1 = keep(S, Py_BuildValue("[i]", first));
        PyObject *a2 = keep(S, Py_BuildValue("[i]", second));
        r = max_keep(S, sum_keep(S, abs_rec(S, xo), a1), a2);
    }
    else if (p == 1.0) {
        r = sum_keep(S, abs_rec(S, xo), axes);
    }
    else if (isinf(p)) {
        r = max_keep(S, abs_rec(S, xo), axes);
    }
    else {
        r = POW(sum_keep(S, POW(abs_rec(S, xo), CONST(p, xo)), axes),
                CONST(1.0 / p, xo));
    }
    if (r != NULL && !keepdims) {
        Py_ssize_t shape[TG_MAXDIMS];
        int nd = 0;
        for (int i = 0; i < x->ndim; i++) {
            if (!mask[i]) {
                shape[nd++] = x->shape[i];
            }
        }
        r = reshape_to(S, r, nd, shape);
    }
    return composite_end(S, f, r);
}
NO_VJP(norm)
