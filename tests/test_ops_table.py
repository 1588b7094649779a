"""Tests generated from the op table, `tapegrad._tapegrad._ops()`.

Every row of src/ops.def gets, per case (attribute set) of the row:
  * forward vs its NumPy function / tests/refs.py reference, float32 and
    float64 (int32 and int64 too when flagged 'int_ok', see Row.int_runs),
    each output compared (integers and bools exactly), with TF's result
    dtypes (integer ops stay integer, `/` on integers gives float64, integer
    mean truncates, an output that is not float for float inputs, as
    argmax's or shape's, keeps the reference's dtype);
  * a case's 'kinds' (optable.CASE_KEYS) say which inputs are integer or
    bool: they are sampled as such, held fixed by the gradient checks
    below, and must get None gradients;
  * first-order VJP vs central finite differences in float64 (inner-product
    form, one random direction per input, cotangent `v` through
    `output_gradients`), gradient shapes and dtypes equal to the inputs';
  * second order through nested tapes, checked the same way on
    (x, v) -> vjp(v), unless 'first_order_only' (then it must raise);
  * 'nondiff' rows give None gradients and record nothing;
  * nothing is recorded outside a tape, or for unwatched or integer inputs;
  * float32 gradients agree with float64 ones within 1e-3;
  * binary elementwise rows: broadcasting shape pairs forward and backward
    (gradients summed back to each input's shape), TF's message for mixed
    dtypes and an InvalidArgumentError for shapes that don't broadcast.
  * 'linear' rows are linear (affine in cases marked 'affine'); zero-size
    inputs work forward and backward.
Test ids start with the row name: `pytest -k sin` selects every sin test.
"""
import re
import warnings

import numpy as np
import pytest

import refs
import tapegrad
from optable import (KNOWN_FLAGS, Row, as64, consts,
                     fd_check_first_order, fd_check_second_order, literal,
                     on_floats, second_order, vjp)
from tapegrad import _tapegrad as C

# integer and bool inputs are watched along with the float ones
pytestmark = pytest.mark.filterwarnings("ignore:The dtype of the watched tensor")

RAW = C._ops()
ROWS = [Row(d) for d in RAW]

FLOATS = [np.float32, np.float64]
INTS = [np.int32, np.int64, np.int8, np.int16, np.uint8, np.uint16,
        np.uint32, np.uint64]
BROADCAST_PAIRS = [((), (2, 3)), ((2, 3), ()), ((3, 2), (2,)),
                   ((3, 1), (1, 4)), ((1, 2), (3, 2))]
TF_CNAME = {np.dtype(np.float16): "half", np.dtype(np.float32): "float",
            np.dtype(np.float64): "double", np.dtype(np.int32): "int32",
            np.dtype(np.int64): "int64", np.dtype(np.bool_): "bool",
            **{np.dtype(t): np.dtype(t).name for t in INTS}}


def _cases(pred=lambda r: True, case_pred=lambda r, i: True):
    out = []
    for r in ROWS:
        if not pred(r):
            continue
        for i in range(len(r.cases)):
            if case_pred(r, i):
                out.append(pytest.param(r, i, id="%s-c%d" % (r.name, i)))
    return out


def _dtypes(r, i):
    """The dtypes case i's 'f' inputs are run in (None: it has none)."""
    if "f" not in r.kinds(i):
        return [None]
    return FLOATS + (INTS if r.int_runs(i) else [])


def _with_dtypes():
    return [pytest.param(r, i, dt, id="%s-c%d-%s" % (
                r.name, i, np.dtype(dt).name if dt else "fixed"))
            for r in ROWS for i in range(len(r.cases)) for dt in _dtypes(r, i)]


def _first_case(pred=lambda r: True):
    return [pytest.param(r, id=r.name) for r in ROWS if pred(r)]


diff = lambda r: not r.has("nondiff")
ew2 = lambda r: r.elementwise_binary()
has_f = lambda r, i: "f" in r.kinds(i)
all_f = lambda r: set(r.kinds(0)) == {"f"}


def _setup(row, case, rng, dtype=np.float64):
    """attrs, the function of the 'f' inputs and their values, for the
    checks that differentiate (other inputs held at sampled values)."""
    attrs, _ = row.case(case)
    g, floats = on_floats(row.fn, row.sample(rng, case, dtype), row.kinds(case))
    return attrs, g, floats


# ---- the table itself --------------------------------------------------------
def test_table_is_not_empty_and_names_are_unique():
    names = [r.name for r in ROWS]
    assert len(names) > 0
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("row", _first_case())
def test_row_is_consistent(row):
    d = row.d
    for key in ("name", "api", "tf_name", "nin", "numpy", "shapes", "cases",
                "lo", "hi", "flags"):
        assert key in d, key
    assert isinstance(row.tf_name, str) and row.tf_name
    assert set(row.flags) <= KNOWN_FLAGS, set(row.flags) - KNOWN_FLAGS
    assert row.lo < row.hi
    assert row.has("variadic") or len(row.shapes) == row.nin, (row.shapes, row.nin)
    assert isinstance(row.cases, list) and row.cases
    for i, c in enumerate(row.cases):
        assert isinstance(c, dict)
        attrs, shapes = row.case(i)
        assert row.has("variadic") or len(shapes) == row.nin
        kinds = row.kinds(i)
        assert len(kinds) == len(shapes) and set(kinds) <= set("fib"), kinds
        for key in ("ranges", "dtypes"):
            assert len(c.get(key) or shapes) == len(shapes), (key, c)
        assert not c.get("affine") or row.has("linear"), c
        assert not c.get("prepare") or callable(getattr(refs, c["prepare"], None)), c
        if set(kinds) != {"f"}:
            assert row.has("int_ok"), "non-float inputs need TG_INT_OK"
    if row.ref.startswith("ref:"):
        assert callable(getattr(refs, row.ref[4:], None)), row.ref
    else:
        assert callable(getattr(np, row.ref, None)), row.ref
    if row.api is not None:
        assert callable(row.fn), row.api
    if row.has("kink"):
        assert row.hi > 0.1 or row.lo < -0.1


def test_literal_parser_handles_table_syntax():
    assert literal("[(3, 4), (3, 4)]") == [(3, 4), (3, 4)]
    assert literal("[{'key': (slice(-1, None, -2), Ellipsis, None)}]") == [
        {"key": (slice(-1, None, -2), Ellipsis, None)}]


# ---- forward ---------------------------------------------------------------------
def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _expected(row, ref, ref64, in_dt):
    """(values, dtype) TF gives for one output: `ref` from the inputs,
    `ref64` from their float64 copies, `in_dt` the 'f' inputs' dtype."""
    if in_dt is not None and in_dt.kind in "iu" and ref64.dtype.kind == "f":
        if ref.dtype.kind in "iu":
            # integer ops stay integer, wrapping as TF's kernels (NumPy's
            # prod of int8 widens to int64)
            return ref.astype(in_dt), in_dt
        if row.ref == "mean":
            return np.trunc(ref), in_dt            # TF: integer mean truncates
    return ref, ref.dtype


@pytest.mark.parametrize("row,case,dtype", _with_dtypes())
def test_forward_matches_reference(row, case, dtype, rng):
    attrs, _ = row.case(case)
    kinds = row.kinds(case)
    arrays = row.sample(rng, case, dtype)
    f64 = [a.astype(np.float64) if k == "f" else a for a, k in zip(arrays, kinds)]
    xs = consts(arrays)
    try:
        refs_ = _as_list(row.reference_list(arrays, attrs))
    except OverflowError:
        assert np.dtype(dtype).kind == "u"
        if "padding_value" not in attrs:
            # a case constant outside an unsigned dtype's range (truediv's
            # -3 for uint8): TF refuses to convert it, naming the op
            with pytest.raises(ValueError, match="out of range"):
                row.raw_fn(*xs, **attrs)
            return
        # diag's padding_value wraps into the dtype (README, Choices)
        attrs = dict(attrs, padding_value=np.array(
            attrs["padding_value"]).astype(dtype)[()])
        refs_ = _as_list(row.reference_list(arrays, attrs))
    refs64 = _as_list(row.reference_list(f64, attrs))
    ys = _as_list(row.raw_fn(xs, **attrs) if row.has("variadic")
                  else row.raw_fn(*xs, **attrs))
    assert len(ys) == len(refs_)
    in_dt = np.dtype(dtype) if dtype else None
    for y, ref, ref64 in zip(ys, refs_, refs64):
        expected, exp_dtype = _expected(row, ref, ref64, in_dt)
        assert isinstance(y, tapegrad.Tensor)
        assert y.shape == expected.shape
        assert y.dtype.name == exp_dtype.name, (y.dtype, exp_dtype)
        got = y.numpy()
        assert got.dtype == exp_dtype
        if exp_dtype.kind in "iub":
            np.testing.assert_array_equal(got, expected)
        elif exp_dtype == np.float64:   # vs the reference from float64 values
            np.testing.assert_allclose(got, ref64, rtol=1e-12, atol=1e-12)
        else:
            # against the reference from float64 values, unless those change
            # the result's length (range computes its size in the result
            # dtype: range(4, -3.0, -0.7) has 10 float32 elements, 11 in
            # float64); then against the same-dtype reference
            want = ref64 if np.shape(ref64) == np.shape(ref) else ref
            np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-5)


# ---- first order -----------------------------------------------------------------
@pytest.mark.parametrize("row,case", _cases(diff, has_f))
def test_vjp_matches_finite_differences_float64(row, case, rng):
    attrs, fn, arrays = _setup(row, case, rng)
    fd_check_first_order(fn, arrays, attrs, rng, name=row.name)


@pytest.mark.parametrize("row,case", _cases(diff, lambda r, i: set(r.kinds(i)) > {"f"}))
def test_integer_and_bool_inputs_get_none(row, case, rng):
    attrs, _ = row.case(case)
    kinds = row.kinds(case)
    xs = consts(row.sample(rng, case))
    with tapegrad.GradientTape() as tape:
        tape.watch(xs)
        y = row.fn(*xs, **attrs)
    gs = tape.gradient(y, xs)
    assert [g is None for g in gs] == [k != "f" for k in kinds], gs


@pytest.mark.parametrize("row,case", _cases(diff, has_f))
def test_float32_gradient_agrees_with_float64(row, case, rng):
    attrs, fn, a64 = _setup(row, case, rng)
    a32 = [a.astype(np.float32) for a in a64]
    a64 = [a.astype(np.float64) for a in a32]           # identical values
    y32 = fn(*consts(a32), **attrs)
    y64 = fn(*consts(a64), **attrs)
    v = rng.standard_normal(y64.shape)
    _, g32 = vjp(fn, a32, attrs, v.astype(y32.numpy().dtype))
    _, g64 = vjp(fn, a64, attrs, v.astype(y64.numpy().dtype))
    for i, (x, y) in enumerate(zip(g32, g64)):
        assert x is not None and y is not None, i
        assert x.dtype == tapegrad.float32, (i, x.dtype)
        assert y.dtype == tapegrad.float64, (i, y.dtype)
        np.testing.assert_allclose(as64(x), y.numpy(), rtol=1e-3, atol=1e-3)


# ---- second order ------------------------------------------------------------------
@pytest.mark.parametrize("row,case", _cases(diff, has_f))
def test_second_order_through_nested_tapes(row, case, rng):
    attrs, fn, arrays = _setup(row, case, rng)
    if row.has("first_order_only"):
        y0 = fn(*consts(arrays), **attrs)
        v = rng.standard_normal(y0.shape)
        ws = [rng.standard_normal(a.shape) for a in arrays]
        with pytest.raises(Exception) as ei:
            second_order(fn, arrays, attrs, v, ws)
        assert not isinstance(ei.value, SystemError)
        assert str(ei.value)
        return
    fd_check_second_order(fn, arrays, attrs, rng, name=row.name)


# ---- what is (not) recorded ----------------------------------------------------------
def _entries():
    return C._live_counts()["TapeEntry"]


@pytest.mark.parametrize("row", _first_case(lambda r: r.has("nondiff")))
def test_nondiff_rows_give_none_and_record_nothing(row, rng):
    attrs, _ = row.case(0)
    xs = consts(row.sample(rng, 0))
    with tapegrad.GradientTape(persistent=True) as tape:
        tape.watch(xs)
        before = _entries()
        y = row.fn(*xs, **attrs)
        assert _entries() == before
    assert tape.gradient(y, xs) == [None] * len(xs)
    assert tape.gradient(y, xs[0]) is None
    z = tape.gradient(y, xs, unconnected_gradients="zero")
    for zi, x in zip(z, xs):
        assert zi.shape == x.shape
        assert not np.any(zi.numpy())
    del tape


@pytest.mark.parametrize("row", _first_case())
def test_not_recorded_outside_a_tape(row, rng):
    attrs, _ = row.case(0)
    xs = consts(row.sample(rng, 0))
    before = _entries()
    y = row.fn(*xs, **attrs)                   # no tape active
    assert _entries() == before
    with tapegrad.GradientTape() as tape:
        tape.watch(xs)
    assert tape.gradient(y, xs) == [None] * len(xs)


@pytest.mark.parametrize("row", _first_case())
def test_not_recorded_for_unwatched_inputs(row, rng):
    attrs, _ = row.case(0)
    xs = consts(row.sample(rng, 0))
    with tapegrad.GradientTape() as tape:
        before = _entries()
        y = row.fn(*xs, **attrs)
        assert _entries() == before
    assert tape.gradient(y, xs) == [None] * len(xs)


@pytest.mark.parametrize("row", _first_case(lambda r: r.int_runs(0)))
@pytest.mark.parametrize("dtype", INTS)
def test_integer_inputs_are_never_recorded(row, dtype, rng):
    attrs, _ = row.case(0)
    xs = consts(row.sample(rng, 0, dtype))
    negative_const = any(np.any(np.asarray(v) < 0) for v in attrs.values()
                         if isinstance(v, (int, float, list)))
    with tapegrad.GradientTape() as tape:
        tape.watch(xs)
        before = _entries()
        if np.dtype(dtype).kind == "u" and negative_const:
            # truediv(x, [[1, 2, -3], ...]): -3 is no uint8
            with pytest.raises(ValueError, match="out of range"):
                row.fn(*xs, **attrs)
            assert _entries() == before
            return
        y = row.fn(*xs, **attrs)
        assert _entries() == before
    assert tape.gradient(y, xs) == [None] * len(xs)


# ---- broadcasting (binary elementwise rows) -----------------------------------------
def _bc_params(pred):
    return [pytest.param(r, a, b, id="%s-%s-%s" % (r.name, a, b))
            for r in ROWS if ew2(r) and pred(r) for a, b in BROADCAST_PAIRS]


@pytest.mark.parametrize("row,sa,sb", _bc_params(lambda r: True))
def test_broadcast_forward(row, sa, sb, rng):
    arrays = row.sample(rng, 0, shapes=[sa, sb])
    expected = row.reference(arrays, {})
    y = row.fn(*consts(arrays))
    assert y.shape == expected.shape == np.broadcast_shapes(sa, sb)
    if expected.dtype.kind == "b":
        np.testing.assert_array_equal(y.numpy(), expected)
    else:
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("row,sa,sb", _bc_params(diff))
def test_broadcast_gradients_sum_back_to_input_shapes(row, sa, sb, rng):
    fn, arrays = on_floats(row.fn, row.sample(rng, 0, shapes=[sa, sb]), row.kinds(0))
    fd_check_first_order(fn, arrays, {}, rng, name=row.name)


@pytest.mark.parametrize("row,sa,sb", _bc_params(diff))
def test_broadcast_second_order(row, sa, sb, rng):
    if row.has("first_order_only"):
        return
    fn, arrays = on_floats(row.fn, row.sample(rng, 0, shapes=[sa, sb]), row.kinds(0))
    fd_check_second_order(fn, arrays, {}, rng, name=row.name)


# ---- errors generated from the table ---------------------------------------------
def same_dtype_2(r):
    return r.nin == 2 and not r.cases[0].get("mixed_dtypes")


@pytest.mark.parametrize("row", _first_case(lambda r: same_dtype_2(r)
                                            and all_f(r)))
def test_mixed_float_dtypes_raise_tf_message(row, rng):
    attrs, _ = row.case(0)
    a, _ = row.sample(rng, 0, np.float32)
    _, b = row.sample(rng, 0, np.float64)
    with pytest.raises(tapegrad.errors.InvalidArgumentError) as ei:
        row.fn(tapegrad.constant(a), tapegrad.constant(b), **attrs)
    msg = ("cannot compute {0} as input #1(zero-based) was expected to be a "
           "float tensor but is a double tensor [Op:{0}]").format(row.tf_name)
    assert re.search(re.escape(msg), str(ei.value)), str(ei.value)


@pytest.mark.parametrize("row", _first_case(lambda r: same_dtype_2(r)
                                            and r.int_runs(0) and all_f(r)))
def test_float_and_int_tensors_raise_tf_message(row, rng):
    attrs, _ = row.case(0)
    a, _ = row.sample(rng, 0, np.float32)
    _, b = row.sample(rng, 0, np.int32)
    with pytest.raises(tapegrad.errors.InvalidArgumentError) as ei:
        row.fn(tapegrad.constant(a), tapegrad.constant(b), **attrs)
    msg = ("cannot compute {0} as input #1(zero-based) was expected to be a "
           "float tensor but is a int32 tensor [Op:{0}]").format(row.tf_name)
    assert re.search(re.escape(msg), str(ei.value)), str(ei.value)


@pytest.mark.parametrize("row", _first_case(ew2))
def test_shapes_that_do_not_broadcast_raise(row, rng):
    a, b = row.sample(rng, 0, np.float32, shapes=[(2, 3), (4,)])
    with pytest.raises(tapegrad.errors.InvalidArgumentError) as ei:
        row.fn(tapegrad.constant(a), tapegrad.constant(b))
    msg = str(ei.value)
    assert row.tf_name in msg or (row.api or row.name) in msg, msg
    assert re.search(r"[\[(]2,\s*3[\])]", msg), msg
    assert re.search(r"[\[(]4,?[\])]", msg), msg


# ---- linearity claims ----------------------------------------------------------------
@pytest.mark.parametrize("row,case", _cases(lambda r: r.has("linear"), has_f))
def test_linear_rows_are_linear(row, case, rng):
    """f(a x + b y) == a f(x) + b f(y), jointly in all 'f' inputs; for an
    'affine' case, the same for f - f(0), and f(0) is not zero."""
    attrs, fn, xs = _setup(row, case, rng)
    _, ys = on_floats(row.fn, row.sample(rng, case), row.kinds(case))
    a, b = 0.75, -1.5
    f0 = 0.0
    if row.cases[case].get("affine"):
        f0 = fn(*consts([np.zeros_like(x) for x in xs]), **attrs).numpy()
        assert np.any(f0 != 0), "an 'affine' case should not be linear"
    lhs = fn(*consts([a * x + b * y for x, y in zip(xs, ys)]), **attrs).numpy() - f0
    rhs = (a * (fn(*consts(xs), **attrs).numpy() - f0)
           + b * (fn(*consts(ys), **attrs).numpy() - f0))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


# ---- zero-size inputs ------------------------------------------------------------------
def _zero_variants():
    out = []
    for r in ROWS:
        attrs, shapes = r.case(0)
        for which in ("all", "first"):
            zs = [((0,) + tuple(s[1:])) if s and (which == "all" or i == 0) else s
                  for i, s in enumerate(shapes)]
            if zs == shapes:
                continue
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r.reference(r.sample(np.random.default_rng(0), 0, shapes=zs), attrs)
            except Exception:
                continue
            out.append(pytest.param(r, zs, id="%s-%s" % (r.name, zs)))
            break
    return out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("row,shapes", _zero_variants())
def test_zero_size_inputs(row, shapes, rng):
    attrs, _ = row.case(0)
    arrays = row.sample(rng, 0, shapes=shapes)
    with np.errstate(all="ignore"):
        expected = row.reference(arrays, attrs)
    y = row.fn(*consts(arrays), **attrs)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    if row.has("nondiff"):
        return
    v = rng.standard_normal(expected.shape)
    fn, arrays = on_floats(row.fn, arrays, row.kinds(0))
    _, grads = vjp(fn, arrays, attrs, v)
    for a, g in zip(arrays, grads):
        assert g is not None and g.shape == a.shape
        if a.size and expected.size == 0:
            # a non-empty input that only feeds an empty output: zero gradient
            np.testing.assert_array_equal(g.numpy(), np.zeros(a.shape))


# ---- the unrecorded sweep's shortcuts --------------------------------------------
# With no tape recording it, a sweep sums gradient contributions in place,
# lets a rule's LAST temporary take the next result, and views known ones
# (README, Choices).  Under an outer tape every formula runs as written:
# the two must give the same gradients, with the default seed (ones, through
# reduce_sum) and with a drawn output gradient.
@pytest.mark.parametrize("row,case", _cases(diff, has_f))
def test_unrecorded_sweep_matches_the_recorded_formulas(row, case, rng):
    attrs, fn, arrays = _setup(row, case, rng)
    xs = consts(arrays)
    v = None

    def grads(recorded):
        nonlocal v
        outer = tapegrad.GradientTape(persistent=True)
        with outer:
            outer.watch(xs)
            with tapegrad.GradientTape(persistent=True) as tape:
                tape.watch(xs)
                y = fn(*xs, **attrs)
                y = y[0] if isinstance(y, (list, tuple)) else y
                total = tapegrad.reduce_sum(y * y) + tapegrad.reduce_sum(y)
            if v is None:
                v = tapegrad.constant(rng.standard_normal(y.shape),
                                      dtype=y.dtype)
            if recorded:
                a = tape.gradient(total, xs)
                b = tape.gradient(y, xs, output_gradients=v)
        if not recorded:
            a = tape.gradient(total, xs)
            b = tape.gradient(y, xs, output_gradients=v)
        return [None if g is None else g.numpy() for g in a + b]

    for got, want in zip(grads(False), grads(True)):
        assert (got is None) == (want is None)
        if got is not None:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
