"""Tests generated from the op table for the other two ways a row's rules
run: batched (jacobian's one sweep carries a leading batch dimension of
cotangents through every vjp) and, below, forward mode.

Per differentiable row and case, in float64:
  * batched vjp == the same vjp run once per cotangent (B of them, stacked);
  * second order of the batched vjp (an outer tape over it, with respect to
    the inputs and the cotangents) == the same from the unbatched vjps;
  * jacobian() == rows of unbatched gradients with one-hot cotangents.
Test ids start with the row name, as in test_ops_table.py.
"""
import numpy as np
import pytest

import tapegrad
from optable import Row, as64, consts, on_floats
from tapegrad import _tapegrad as C

pytestmark = pytest.mark.filterwarnings("ignore:The dtype of the watched tensor")

ROWS = [Row(d) for d in C._ops()]
B = 5   # a batch size no test shape uses as a leading dimension by chance


def _cases(pred):
    return [pytest.param(r, i, id="%s-c%d" % (r.name, i))
            for r in ROWS if pred(r)
            for i in range(len(r.cases)) if "f" in r.kinds(i)]


diff = lambda r: not r.has("nondiff")
higher = lambda r: diff(r) and not r.has("first_order_only")


def _setup(row, case, rng):
    attrs, _ = row.case(case)
    fn, arrays = on_floats(row.fn, row.sample(rng, case, np.float64),
                           row.kinds(case))
    return attrs, fn, arrays


def _close(got, want, what):
    if want is None:
        assert got is None, what
        return
    assert got is not None, what
    np.testing.assert_allclose(as64(got), want, rtol=1e-10, atol=1e-10,
                               err_msg=what)


@pytest.mark.parametrize("row,case", _cases(diff))
def test_batched_vjp_matches_unbatched(row, case, rng):
    attrs, fn, arrays = _setup(row, case, rng)
    xs = consts(arrays)
    with tapegrad.GradientTape(persistent=True) as tape:
        tape.watch(xs)
        y = fn(*xs, **attrs)
    u = rng.standard_normal((B,) + tuple(y.shape)).astype(y.numpy().dtype)
    batched = tape._gradient_batched(y, xs, tapegrad.constant(u))
    singles = [tape.gradient(y, xs, output_gradients=tapegrad.constant(u[b]))
               for b in range(B)]
    for i, x in enumerate(xs):
        g = batched[i]
        if singles[0][i] is None:
            assert g is None, (row.name, i)
            continue
        assert g.shape == (B,) + tuple(x.shape), (row.name, i, g.shape)
        assert g.dtype == x.dtype
        want = np.stack([as64(s[i]) for s in singles])
        _close(g, want, "%s input %d" % (row.name, i))


@pytest.mark.parametrize("row,case", _cases(higher))
def test_batched_vjp_second_order(row, case, rng):
    """d/d(x, u) of sum_b <w_b, vjp(x, u_b)>, batched vs one u_b at a time."""
    attrs, fn, arrays = _setup(row, case, rng)
    xs = consts(arrays)
    y0 = fn(*xs, **attrs)
    u = rng.standard_normal((B,) + tuple(y0.shape)).astype(y0.numpy().dtype)
    ws = [rng.standard_normal((B,) + a.shape) for a in arrays]

    def outer_grads(batched):
        ut = tapegrad.constant(u) if batched else [
            tapegrad.constant(u[b]) for b in range(B)]
        with tapegrad.GradientTape() as outer:
            outer.watch(xs)
            outer.watch(ut)
            with tapegrad.GradientTape(persistent=True) as inner:
                inner.watch(xs)
                y = fn(*xs, **attrs)
            if batched:
                gs = inner._gradient_batched(y, xs, ut)
                ogs = [tapegrad.constant(w) for w in ws]
            else:
                gs = [g for b in range(B)
                      for g in inner.gradient(y, xs, output_gradients=ut[b])]
                ogs = [tapegrad.constant(w[b]) for b in range(B) for w in ws]
            keep = [k for k, g in enumerate(gs) if g is not None]
            gs = [gs[k] for k in keep]
            ogs = [ogs[k] for k in keep]
        if not gs:
            return None
        h = outer.gradient(gs, xs + (ut if isinstance(ut, list) else [ut]),
                           output_gradients=ogs)
        hx = [as64(t) if t is not None else 0.0 for t in h[:len(xs)]]
        hu = h[len(xs):]
        if batched:
            hu = as64(hu[0]) if hu[0] is not None else np.zeros(u.shape)
        else:
            hu = np.stack([as64(t) if t is not None else np.zeros(u.shape[1:])
                           for t in hu])
        return hx, hu

    got, want = outer_grads(True), outer_grads(False)
    if want is None:
        assert got is None
        return
    for i in range(len(xs)):
        np.testing.assert_allclose(np.broadcast_to(got[0][i], arrays[i].shape),
                                   np.broadcast_to(want[0][i], arrays[i].shape),
                                   rtol=1e-9, atol=1e-9,
                                   err_msg="%s d/dx%d" % (row.name, i))
    np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-9,
                               err_msg="%s d/du" % row.name)


@pytest.mark.parametrize("row,case", _cases(diff))
def test_jacobian_matches_one_hot_gradients(row, case, rng):
    attrs, fn, arrays = _setup(row, case, rng)
    xs = consts(arrays)
    with tapegrad.GradientTape(persistent=True) as tape:
        tape.watch(xs)
        y = fn(*xs, **attrs)
    jac = tape.jacobian(y, xs)
    looped = tape.jacobian(y, xs, experimental_use_pfor=False)
    n = int(np.prod(y.shape))
    for i, x in enumerate(xs):
        rows_ = []
        for k in range(n):
            e = np.zeros(n, dtype=y.numpy().dtype)
            e[k] = 1.0
            g = tape.gradient(y, x, output_gradients=tapegrad.constant(
                e.reshape(y.shape)))
            rows_.append(None if g is None else as64(g))
        if rows_ and rows_[0] is None:
            assert jac[i] is None and looped[i] is None, (row.name, i)
            continue
        want = np.stack(rows_).reshape(tuple(y.shape) + tuple(x.shape)) \
            if rows_ else np.zeros(tuple(y.shape) + tuple(x.shape))
        assert jac[i].shape == want.shape, (row.name, i, jac[i].shape)
        _close(jac[i], want, "%s jacobian %d" % (row.name, i))
        _close(looped[i], want, "%s looped jacobian %d" % (row.name, i))


# ---- forward mode ------------------------------------------------------------------
# Every differentiable row's jvp rule (linear, elementwise, reduction,
# transposed or hand-written: the row's "jvp" key), in float64:
#   * the JVP against central differences of the forward;
#   * <u, J v> == <J^T u, v> against the row's own vjp;
#   * second order: a jvp of the jvp (nested accumulators) against central
#     differences of the jvp, and forward-over-reverse (an accumulator over
#     a tape) against central differences of the vjp.
from optable import FD, check_inner  # noqa: E402


def _jvp(fn, arrays, attrs, vs):
    xs = consts(arrays)
    with tapegrad.autodiff.ForwardAccumulator(
            xs, [tapegrad.constant(v) for v in vs]) as acc:
        y = fn(*xs, **attrs)
    t = acc.jvp(y)
    return y, (np.zeros(y.shape) if t is None else as64(t))


def _directions(rng, arrays):
    return [rng.standard_normal(a.shape) for a in arrays]


def _fd(f, arrays, vs, eps):
    plus = [a + eps * v for a, v in zip(arrays, vs)]
    minus = [a - eps * v for a, v in zip(arrays, vs)]
    return (f(plus) - f(minus)) / (2 * eps)


def _inner_check(got, want, rng, what, dtype=np.float64):
    """<w, got> vs <w, want> for a random w, at the finite-difference
    tolerances of `dtype` (the output's: a cast to float16 is that
    precise)."""
    w = rng.standard_normal(np.shape(want))
    lhs, rhs = float(np.sum(w * got)), float(np.sum(w * want))
    scale = max(float(np.sum(np.abs(w * got))), float(np.sum(np.abs(w * want))))
    p = FD[np.dtype(dtype)]
    check_inner(lhs, rhs, scale, p["atol"], p["rtol"], what)


def test_every_differentiable_row_declares_a_forward_rule():
    for r in ROWS:
        kind = r.d["jvp"]
        if r.has("nondiff") or r.has("composite"):
            assert kind == "none", (r.name, kind)
        else:
            assert kind in ("direct", "linear", "elementwise", "reduction",
                            "transposed"), (r.name, kind)
        if r.has("linear") and r.name not in ("pad", "custom_gradient", "diag",
                                              "diag_part"):
            assert kind in ("linear", "none"), (r.name, kind)


@pytest.mark.parametrize("row,case", _cases(diff))
def test_jvp_matches_central_differences(row, case, rng):
    attrs, fn, arrays = _setup(row, case, rng)
    vs = _directions(rng, arrays)
    y, t = _jvp(fn, arrays, attrs, vs)
    assert t.shape == tuple(y.shape)
    eps = FD[np.dtype(y.numpy().dtype)]["eps"]
    fd = _fd(lambda pts: as64(fn(*consts(pts), **attrs)), arrays, vs, eps)
    _inner_check(t, fd, rng, "%s jvp" % row.name, y.numpy().dtype)


@pytest.mark.parametrize("row,case", _cases(diff))
def test_jvp_is_the_transpose_of_the_vjp(row, case, rng):
    """<u, J v> == <J^T u, v>, J^T u from the row's vjp (a tape)."""
    attrs, fn, arrays = _setup(row, case, rng)
    vs = _directions(rng, arrays)
    y, jv = _jvp(fn, arrays, attrs, vs)
    u = rng.standard_normal(tuple(y.shape)).astype(y.numpy().dtype)
    xs = consts(arrays)
    with tapegrad.GradientTape() as tape:
        tape.watch(xs)
        y2 = fn(*xs, **attrs)
    gs = tape.gradient(y2, xs, output_gradients=tapegrad.constant(u))
    lhs = float(np.sum(u * jv))
    rhs = sum(float(np.sum(as64(g) * v)) for g, v in zip(gs, vs)
              if g is not None)
    scale = max(float(np.sum(np.abs(u * jv))),
                sum(float(np.sum(np.abs(as64(g) * v))) for g, v in zip(gs, vs)
                    if g is not None))
    rtol = max(1e-9, 10 * np.finfo(y.numpy().dtype).eps)   # both exact
    check_inner(lhs, rhs, scale, 1e-12, rtol, "%s <u, Jv> vs <J^T u, v>"
                % row.name)


@pytest.mark.parametrize("row,case", _cases(higher))
def test_jvp_of_the_jvp(row, case, rng):
    """outer.jvp(inner.jvp(y)) == d/de jvp(x + e v2; v1)."""
    attrs, fn, arrays = _setup(row, case, rng)
    v1, v2 = _directions(rng, arrays), _directions(rng, arrays)
    xs = consts(arrays)
    with tapegrad.autodiff.ForwardAccumulator(
            xs, [tapegrad.constant(v) for v in v2]) as outer:
        with tapegrad.autodiff.ForwardAccumulator(
                xs, [tapegrad.constant(v) for v in v1]) as inner:
            y = fn(*xs, **attrs)
        t1 = inner.jvp(y)
    if t1 is None:
        return          # a zero tangent: nothing for the outer to see
    t2 = outer.jvp(t1)
    got = np.zeros(y.shape) if t2 is None else as64(t2)
    eps = FD[np.dtype(y.numpy().dtype)]["eps"]
    fd = _fd(lambda pts: _jvp(fn, pts, attrs, v1)[1], arrays, v2, eps)
    _inner_check(got, fd, rng, "%s jvp of jvp" % row.name, y.numpy().dtype)


@pytest.mark.parametrize("row,case", _cases(higher))
def test_forward_over_reverse(row, case, rng):
    """acc.jvp(tape.gradient(y, x, u)) == d/de vjp(x + e v; u)."""
    attrs, fn, arrays = _setup(row, case, rng)
    vs = _directions(rng, arrays)
    xs = consts(arrays)
    y0 = fn(*xs, **attrs)
    u = tapegrad.constant(rng.standard_normal(tuple(y0.shape))
                          .astype(y0.numpy().dtype))
    with tapegrad.autodiff.ForwardAccumulator(
            xs, [tapegrad.constant(v) for v in vs]) as acc:
        with tapegrad.GradientTape() as tape:
            tape.watch(xs)
            y = fn(*xs, **attrs)
        gs = tape.gradient(y, xs, output_gradients=u)
    eps = FD[np.dtype(y0.numpy().dtype)]["eps"]

    def vjp_at(pts):
        ps = consts(pts)
        with tapegrad.GradientTape() as t:
            t.watch(ps)
            yy = fn(*ps, **attrs)
        g = t.gradient(yy, ps, output_gradients=u)
        return np.concatenate([np.zeros(a.size) if gi is None
                               else as64(gi).reshape(-1)
                               for gi, a in zip(g, pts)])

    fd = _fd(vjp_at, arrays, vs, eps)
    got = np.concatenate([
        np.zeros(a.size) if (g is None or acc.jvp(g) is None)
        else as64(acc.jvp(g)).reshape(-1) for g, a in zip(gs, arrays)])
    _inner_check(got, fd, rng, "%s forward over reverse" % row.name,
                 y0.numpy().dtype)
