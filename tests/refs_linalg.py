"""Hand references (NumPy) for the rows of src/ops_linalg.def whose `numpy`
field is "ref:NAME"."""
import numpy as np  # noqa: F401


def _same(result, x):
    x = np.asarray(x)
    return np.asarray(result, dtype=x.dtype if x.dtype.kind == "f" else None)


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def matrix_transpose(a, conjugate=False):
    return np.array(np.swapaxes(a, -1, -2), copy=True)


def matvec(a, b, transpose_a=False, adjoint_a=False):
    a = np.asarray(a)
    if a.ndim < 2 or np.ndim(b) < 1:
        raise ValueError("matvec needs a matrix and a vector")
    if transpose_a or adjoint_a:
        a = np.swapaxes(a, -1, -2)
    return np.matmul(a, np.asarray(b)[..., None])[..., 0]


def inv(x, adjoint=False):
    a = _f64(x)
    if adjoint:
        a = np.swapaxes(a, -1, -2)
    return _same(np.linalg.inv(a), x)


def det(x):
    return _same(np.linalg.det(_f64(x)), x)


def slogdet(x):
    s, l = np.linalg.slogdet(_f64(x))
    return _same(s, x), _same(l, x)


def solve(matrix, rhs, adjoint=False):
    a = _f64(matrix)
    if a.shape[:-2] != np.shape(rhs)[:-2]:
        raise ValueError("batch dims differ (TF: no broadcasting)")
    if adjoint:
        a = np.swapaxes(a, -1, -2)
    return _same(np.linalg.solve(a, _f64(rhs)), matrix)


def cholesky(x):
    return _same(np.linalg.cholesky(_f64(x)), x)


def eigh(tensor):
    e, v = np.linalg.eigh(_f64(tensor))
    return _same(e, tensor), _same(v, tensor)


def svd(tensor, full_matrices=False, compute_uv=True):
    """TF's order: (s, u, v), v = vh^T; s alone without compute_uv."""
    a = _f64(tensor)
    if not compute_uv:
        return _same(np.linalg.svd(a, compute_uv=False), tensor)
    u, s, vh = np.linalg.svd(a, full_matrices=bool(full_matrices))
    return (_same(s, tensor), _same(u, tensor),
            _same(np.swapaxes(vh, -1, -2), tensor))


def spread_singular_values(arrays):
    """Case inputs for svd and the spectral norm: each matrix keeps its
    singular vectors but gets singular values 1, 2, ..., k (times 0.8), so
    the gaps the gradient divides by are never small."""
    out = []
    for a in arrays:
        a = np.asarray(a)
        if a.ndim < 2 or a.size == 0:
            out.append(a)
            continue
        u, s, vh = np.linalg.svd(a.astype(np.float64), full_matrices=False)
        s = 0.8 * np.arange(s.shape[-1], 0, -1, dtype=np.float64)
        out.append(((u * s[..., None, :]) @ vh).astype(a.dtype))
    return out


def _band(k):
    if k is None:
        return 0, 0
    k = np.asarray(k).reshape(-1)
    return int(k[0]), int(k[-1])


def _left(align, d):
    """Whether diagonal d is left-aligned (TF's align: superdiagonals by
    the first word, subdiagonals by the second)."""
    sup, sub = align.split("_")
    return (d >= 0 and sup == "LEFT") or (d <= 0 and sub == "LEFT")


def _dlen(d, m, n):
    return min(m + min(0, d), n - max(0, d))


def diag(diagonal, k=0, num_rows=-1, num_cols=-1, padding_value=0,
         align="RIGHT_LEFT"):
    """MatrixDiagV3 from its documented formula, element by element:
    out[..., i, j] = diagonal[..., k1 - d, j - max(d, 0) + offset] for
    k0 <= d = j - i <= k1, padding_value elsewhere."""
    x = np.asarray(diagonal)
    lo, hi = _band(k)
    if x.ndim < 1 or lo > hi:
        raise ValueError("bad diagonal or k")
    band = hi > lo
    if not band:
        x = x[..., None, :]
    if x.shape[-2] != hi - lo + 1:
        raise ValueError("number of diagonals")
    L = x.shape[-1]
    min_r, min_c = L - min(hi, 0), L + max(lo, 0)
    r = max(min_r, min_c) if num_rows == -1 and num_cols == -1 else (
        min_r if num_rows == -1 else num_rows)
    c = r if num_rows == -1 and num_cols == -1 else (
        min_c if num_cols == -1 else num_cols)
    if r < min_r or c < min_c or (r != min_r and c != min_c):
        raise ValueError("rows/cols")
    out = np.full(x.shape[:-2] + (r, c), padding_value, dtype=x.dtype)
    for i in range(r):
        for j in range(c):
            d = j - i
            if lo <= d <= hi:
                n = _dlen(d, r, c)
                off = 0 if _left(align, d) else L - n
                out[..., i, j] = x[..., hi - d, j - max(d, 0) + off]
    return out


def diag_part(input, k=0, padding_value=0, align="RIGHT_LEFT"):
    """MatrixDiagPartV3 from its documented formula:
    out[..., m, t] = input[..., t + y, t + x] (d = k1 - m,
    y = max(-d, 0) - offset, x = max(d, 0) - offset) when inside the
    matrix, padding_value otherwise; one diagonal drops the m axis."""
    a = np.asarray(input)
    lo, hi = _band(k)
    if a.ndim < 2 or lo > hi:
        raise ValueError("bad input or k")
    M, N = a.shape[-2:]
    L = min(M + min(hi, 0), N - max(lo, 0))
    out = np.full(a.shape[:-2] + (hi - lo + 1, L), padding_value,
                  dtype=a.dtype)
    for m in range(hi - lo + 1):
        d = hi - m
        off = 0 if _left(align, d) else L - _dlen(d, M, N)
        for t in range(L):
            y, x = t + max(-d, 0) - off, t + max(d, 0) - off
            if 0 <= y < M and 0 <= x < N:
                out[..., m, t] = a[..., y, x]
    return out if hi > lo else out[..., 0, :]


def trace(x):
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError("trace needs a matrix")
    return np.asarray(np.trace(x, axis1=-2, axis2=-1), dtype=x.dtype)


def einsum(inputs, equation):
    return np.asarray(np.einsum(equation, *inputs))


def tensordot(a, b, axes=None):
    if axes is None:
        raise ValueError("tensordot needs axes")
    return np.asarray(np.tensordot(a, b, axes))


def norm(tensor, ord="euclidean", axis=None, keepdims=None):
    x = _f64(tensor)
    if ord in ("euclidean", "fro"):
        ord = "fro" if isinstance(axis, (tuple, list)) else 2
    if axis is None:
        x = x.reshape(-1)
        r = np.linalg.norm(x, ord=ord)
        if keepdims:
            r = np.reshape(r, (1,) * np.ndim(tensor))
    else:
        axis = tuple(axis) if isinstance(axis, list) else axis
        r = np.linalg.norm(x, ord=ord, axis=axis, keepdims=bool(keepdims))
    return _same(r, tensor)
