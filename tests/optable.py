"""Helpers shared by the generated op-table tests and the hand-written tests:
reading `tapegrad._tapegrad._ops()`, sampling inputs, calling rows, and the
finite-difference VJP checks (the inner-product form:
<vjp(v), u>  ==  <v, (f(x + eps u) - f(x - eps u)) / (2 eps)>).
"""
import ast
import math

import numpy as np

import refs
import tapegrad
from tapegrad import _tapegrad as C

KNOWN_FLAGS = frozenset({
    "linear", "kink", "first_order_only", "nondiff", "int_ok", "bool_ok",
    "composite", "variadic",
    # implementation details the table may also export
    "same_dtype", "save_in0", "save_in1", "save_out", "save_ins",
})

#: finite-difference step and relative tolerance by output dtype.  float64
#: is the real check (eps 1e-6, rtol 1e-6); float32 outputs (e.g. a cast
#: to float32) use the float32 optimum step 1e-3 and tolerance 2e-3
#: (reliability plan section 3).
FD = {
    np.dtype(np.float64): dict(eps=1e-6, rtol=1e-6, atol=1e-8),
    np.dtype(np.float32): dict(eps=1e-3, rtol=2e-3, atol=1e-5),
    np.dtype(np.float16): dict(eps=1e-1, rtol=2e-2, atol=1e-2),
}


#: test keys a case dict of a row's CASES may carry besides attributes:
#:   'shapes': input shapes, replacing the row's SHAPES;
#:   'kinds':  per input, 'f' float (the tested dtype, sampled in [LO, HI],
#:             differentiable), 'i' integer or 'b' bool (never
#:             differentiable: must get None gradients), a list or a
#:             string ('bff'); default all 'f';
#:   'ranges': per input, None or [lo, hi] replacing [LO, HI];
#:   'dtypes': per input, None or a dtype name for an 'i' input (int32);
#:   'affine': True when the case's attributes make a 'linear' row affine
#:             (diag's nonzero padding_value): the linearity check
#:             subtracts f(0);
#:   'prepare': the name of a function in refs that maps the sampled
#:             inputs (a list of arrays) to the case's inputs, same shapes
#:             and dtypes: for ops whose derivatives need inputs away from
#:             a singular set (svd: well-separated singular values);
#:   'mixed_dtypes': True when the inputs may differ in dtype (IdentityN,
#:             custom_gradient's row): no mixed-dtype error is expected.
CASE_KEYS = ("shapes", "kinds", "ranges", "dtypes", "affine", "prepare",
             "mixed_dtypes")


# ---- literal parsing ---------------------------------------------------------
def literal(text):
    """ast.literal_eval, extended with `slice(...)` and `Ellipsis` (used by
    the getitem rows' `key` attributes)."""
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    return _ev(ast.parse(text, mode="eval").body)


def _ev(node):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple):
        return tuple(_ev(e) for e in node.elts)
    if isinstance(node, ast.List):
        return [_ev(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_ev(k): _ev(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _ev(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Name) and node.id in ("Ellipsis", "None", "True", "False"):
        return {"Ellipsis": Ellipsis, "None": None, "True": True, "False": False}[node.id]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "slice" and not node.keywords):
        return slice(*[_ev(a) for a in node.args])
    raise ValueError("not a literal: %s" % ast.dump(node))


# ---- rows ----------------------------------------------------------------------
class Row:
    def __init__(self, d):
        self.d = dict(d)
        self.name = d["name"]
        self.api = d.get("api") or None
        self.tf_name = d.get("tf_name")
        self.nin = int(d["nin"])
        self.ref = d["numpy"]
        self.shapes = [tuple(s) for s in literal(d["shapes"])]
        self.cases = literal(d["cases"])
        self.lo = float(d["lo"])
        self.hi = float(d["hi"])
        self.flags = frozenset(d["flags"])
        if "variadic" in self.flags:
            self.nin = len(self.shapes)  # the test's list length

    def __repr__(self):
        return "Row(%s)" % self.name

    def has(self, flag):
        return flag in self.flags

    @property
    def raw_fn(self):
        """The row's function as users call it (first API path)."""
        if self.api:
            obj = tapegrad
            for part in self.api.split()[0].split("."):
                obj = getattr(obj, part)
            return obj
        name = self.name
        return lambda *inputs, **attrs: C._call(name, *inputs, **attrs)

    @property
    def fn(self):
        """fn(*tensors, **attrs) -> one tensor, for the generic checks: a
        variadic row gets its inputs as one list; a multi-output row's
        float outputs are flattened and concatenated into one vector."""
        f = self.raw_fn
        variadic = self.has("variadic")

        def call(*xs, **attrs):
            out = f(list(xs), **attrs) if variadic else f(*xs, **attrs)
            if isinstance(out, (tuple, list)):
                return join_outputs(out)
            return out
        return call

    def case(self, i):
        """(attrs, input shapes) of case i; the test keys (CASE_KEYS) are
        not attributes."""
        attrs = dict(self.cases[i])
        for k in CASE_KEYS:
            attrs.pop(k, None)
        shapes = self.cases[i].get("shapes")
        shapes = [tuple(s) for s in shapes] if shapes is not None else list(self.shapes)
        return attrs, shapes

    def kinds(self, i):
        """Per input of case i: 'f', 'i' or 'b' (see CASE_KEYS)."""
        n = len(self.case(i)[1])
        return list(self.cases[i].get("kinds") or "f" * n)

    def int_runs(self, i):
        """Case i is also run with integer 'f' inputs: an 'int_ok' row whose
        case has an 'f' input and no 'i' one (an 'i' input marks the 'f'
        ones as float-only, as sparse_softmax_cross_entropy's logits)."""
        k = self.kinds(i)
        return self.has("int_ok") and "f" in k and "i" not in k

    def sample(self, rng, i, dtype=np.float64, shapes=None):
        """Inputs of case i: 'f' ones in `dtype` (None: float64)."""
        c = self.cases[i]
        shapes = self.case(i)[1] if shapes is None else shapes
        n = len(shapes)
        ranges = c.get("ranges") or [None] * n
        dtypes = c.get("dtypes") or [None] * n
        out = []
        for shape, kind, rg, dt in zip(shapes, self.kinds(i), ranges, dtypes):
            lo, hi = rg if rg is not None else (self.lo, self.hi)
            if kind == "b":
                out.append(rng.random(shape) < 0.5)
            else:
                dt = dt or (np.int32 if kind == "i" else dtype or np.float64)
                out.append(sample(rng, self, shape, dt, lo, hi))
        if c.get("prepare"):
            out = [np.asarray(a) for a in getattr(refs, c["prepare"])(out)]
        return out

    def reference(self, arrays, attrs):
        """The reference's result, a multi-output row's joined as
        join_outputs joins the row's."""
        out = self.reference_list(arrays, attrs)
        if not isinstance(out, list):
            return out
        floats = [p.reshape(-1) for p in out if p.dtype.kind == "f"]
        if out and not floats:
            return out                  # all integer: kept as a list
        return np.concatenate(floats)   # (raises for an empty list)

    def reference_list(self, arrays, attrs):
        """The reference's result: an array, or a list for multi-output rows."""
        if self.ref.startswith("ref:"):
            f = getattr(refs, self.ref[4:])
        else:
            f = getattr(np, self.ref)
        kw = {}
        for k, v in attrs.items():
            if k == "axis" and isinstance(v, list):
                v = tuple(v)
            kw[k] = v
        if self.has("variadic"):
            out = f(list(arrays), **kw)
        else:
            out = f(*arrays, **kw)
        if isinstance(out, (tuple, list)):
            return [np.asarray(o) for o in out]
        return np.asarray(out)

    def elementwise_binary(self):
        """True for two-input rows whose reference broadcasts elementwise."""
        if self.nin != 2:
            return False
        try:
            a = self.reference([np.ones((3, 1)), np.ones((1, 4))], {})
            b = self.reference([np.ones(()), np.ones((2, 3))], {})
        except Exception:
            return False
        return a.shape == (3, 4) and b.shape == (2, 3)


def rows():
    return [Row(d) for d in C._ops()]


def join_outputs(outs):
    """One float vector from a multi-output op's float outputs (integer
    outputs such as indices are not differentiable and are left out); the
    list itself when none is float (top_k of integers)."""
    parts = [tapegrad.reshape(o, [-1]) for o in outs if o.dtype.is_floating]
    if not parts:
        return list(outs)
    if len(parts) == 1:
        return parts[0]
    return tapegrad.concat(parts, 0)


# ---- sampling --------------------------------------------------------------------
def sample(rng, row, shape, dtype, lo=None, hi=None):
    """Uniform in [lo, hi] (default: the row's domain), away from 0 for
    'kink' rows; integers are drawn from the integers in [lo, hi]."""
    dtype = np.dtype(dtype)
    lo = row.lo if lo is None else lo
    hi = row.hi if hi is None else hi
    if dtype.kind == "f":
        x = np.asarray(rng.uniform(lo, hi, size=shape), dtype=np.float64)
        if row.has("kink"):
            bad = np.abs(x) < 0.1
            while bad.any():
                x[bad] = rng.uniform(lo, hi, size=int(bad.sum()))
                bad = np.abs(x) < 0.1
        return x.astype(dtype)
    lo, hi = math.ceil(lo), math.floor(hi)
    if dtype.kind == "u":
        # unsigned: the non-negative part of the domain (or [0, 3] if none)
        lo, hi = max(lo, 0), max(hi, 3)
    if row.has("kink"):
        lo = lo if lo != 0 else 1
    return np.asarray(rng.integers(lo, hi + 1, size=shape)).astype(dtype)


def consts(arrays):
    return [tapegrad.constant(a) for a in arrays]


def on_floats(fn, arrays, kinds):
    """(g, floats): g(*floats, **attrs) is fn with its non-'f' inputs held
    at their values in `arrays`, for the checks that differentiate."""
    idx = [k for k, kind in enumerate(kinds) if kind == "f"]

    def g(*xs, **attrs):
        full = consts(arrays)
        for k, x in zip(idx, xs):
            full[k] = x
        return fn(*full, **attrs)
    return g, [arrays[k] for k in idx]


def as64(t):
    return np.asarray(t.numpy(), dtype=np.float64)


# ---- gradients -----------------------------------------------------------------
def vjp(fn, arrays, attrs, v):
    """(output, [gradients]) of fn at `arrays` for the cotangent `v`."""
    xs = consts(arrays)
    with tapegrad.GradientTape() as tape:
        tape.watch(xs)
        y = fn(*xs, **attrs)
    g = tape.gradient(y, xs, output_gradients=tapegrad.constant(v))
    return y, g


def _rounding_atol(out_dtype, eps, vabs_fabs):
    """Bound on the finite-difference rounding error of <v, fd>."""
    return 2.0 * np.finfo(out_dtype).eps / eps * vabs_fabs


def check_inner(lhs, rhs, scale, atol, rtol, what):
    err = abs(lhs - rhs)
    tol = atol + rtol * scale
    assert err <= tol, (
        "%s: <vjp(v), u> = %.12g but <v, finite difference> = %.12g "
        "(|diff| %.3g > tol %.3g)" % (what, lhs, rhs, err, tol))


def fd_check_first_order(fn, arrays, attrs, rng, name="op"):
    """First-order VJP of fn vs central finite differences, per input."""
    y0 = fn(*consts(arrays), **attrs)
    out_dtype = np.dtype(y0.numpy().dtype)
    p = FD[out_dtype]
    v = rng.standard_normal(y0.shape).astype(out_dtype)
    y, grads = vjp(fn, arrays, attrs, v)
    assert isinstance(grads, list) and len(grads) == len(arrays)
    f0 = np.abs(as64(y0))
    for i, (a, g) in enumerate(zip(arrays, grads)):
        assert g is not None, "%s: gradient for input %d is None" % (name, i)
        assert isinstance(g, tapegrad.Tensor)
        assert g.shape == a.shape, (
            "%s: gradient %d has shape %s, input has %s" % (name, i, g.shape, a.shape))
        assert g.dtype.name == a.dtype.name, (name, i, g.dtype, a.dtype)
        u = rng.standard_normal(a.shape)
        plus = list(arrays)
        minus = list(arrays)
        plus[i] = (a + p["eps"] * u).astype(a.dtype)
        minus[i] = (a - p["eps"] * u).astype(a.dtype)
        fd = (as64(fn(*consts(plus), **attrs)) - as64(fn(*consts(minus), **attrs))) \
            / (2 * p["eps"])
        g64 = as64(g)
        lhs = float(np.sum(g64 * u))
        rhs = float(np.sum(v * fd))
        scale = max(float(np.sum(np.abs(g64 * u))), float(np.sum(np.abs(v * fd))))
        atol = p["atol"] + _rounding_atol(out_dtype, p["eps"], float(np.sum(np.abs(v) * f0)))
        check_inner(lhs, rhs, scale, atol, p["rtol"], "%s input %d" % (name, i))


def first_order_vjp_arrays(fn, arrays, attrs, v):
    _, g = vjp(fn, arrays, attrs, v)
    return [as64(x) if x is not None else None for x in g]


def second_order(fn, arrays, attrs, v, ws):
    """Run the inner VJP under an outer tape and differentiate
    sum_j <w_j, vjp_j(x, v)> with respect to (x_1..x_n, v)."""
    xs = consts(arrays)
    vt = tapegrad.constant(v)
    with tapegrad.GradientTape() as outer:
        outer.watch(xs)
        outer.watch(vt)
        with tapegrad.GradientTape() as inner:
            inner.watch(xs)
            y = fn(*xs, **attrs)
        gs = inner.gradient(y, xs, output_gradients=vt)
    h = outer.gradient(gs, xs + [vt], output_gradients=[tapegrad.constant(w) for w in ws])
    return gs, h


def fd_check_second_order(fn, arrays, attrs, rng, name="op"):
    y0 = fn(*consts(arrays), **attrs)
    out_dtype = np.dtype(y0.numpy().dtype)
    v = rng.standard_normal(y0.shape).astype(out_dtype)
    ws = [rng.standard_normal(a.shape).astype(a.dtype) for a in arrays]
    gs, h = second_order(fn, arrays, attrs, v, ws)
    assert len(h) == len(arrays) + 1
    g0 = first_order_vjp_arrays(fn, arrays, attrs, v)
    gabs = sum(float(np.sum(np.abs(w) * np.abs(g))) for w, g in zip(ws, g0))
    sources = list(arrays) + [v]
    for s, (src, hs) in enumerate(zip(sources, h)):
        if hs is not None:
            assert hs.shape == src.shape, (name, s, hs.shape, src.shape)
            h64 = as64(hs)
        else:
            h64 = np.zeros(src.shape)       # unconnected: the derivative is 0
        u = rng.standard_normal(src.shape)
        p = FD[np.dtype(src.dtype)]

        def G(delta):
            pts = list(sources)
            pts[s] = (src + delta * u).astype(src.dtype)
            return first_order_vjp_arrays(fn, pts[:-1], attrs, pts[-1])

        gp, gm = G(p["eps"]), G(-p["eps"])
        rhs = 0.0
        terms = 0.0
        for w, a, b in zip(ws, gp, gm):
            d = (a - b) / (2 * p["eps"])
            rhs += float(np.sum(w * d))
            terms += float(np.sum(np.abs(w * d)))
        lhs = float(np.sum(h64 * u))
        scale = max(float(np.sum(np.abs(h64 * u))), terms)
        atol = p["atol"] + _rounding_atol(np.float64, p["eps"], gabs)
        what = "%s second order, source %s" % (
            name, "v" if s == len(arrays) else "x%d" % s)
        check_inner(lhs, rhs, scale, atol, p["rtol"], what)
