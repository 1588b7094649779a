"""Hand-written tests for the math family (src/ops_math.def) that the
generated op-table tests cannot express: TF's gradient choices at ties and
kinks, where/select masking (and its NaN trap), integer and bool results,
TF's errors for bad input, float16 paths and TF's constants."""
import math

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError


def grad(f, *xs):
    xs = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        tape.watch(xs)
        y = f(*xs)
    return [None if g is None else g.numpy() for g in tape.gradient(y, xs)]


# ---- gradients at ties and kinks follow TF ------------------------------------
def test_abs_gradient_at_zero_is_zero():
    (g,) = grad(tf.abs, [-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])


def test_maximum_minimum_ties_go_to_x():
    gx, gy = grad(tf.maximum, [1.0, 2.0, 3.0], [1.0, 1.0, 5.0])
    np.testing.assert_array_equal(gx, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(gy, [0.0, 0.0, 1.0])
    gx, gy = grad(tf.minimum, [1.0, 2.0, 3.0], [1.0, 1.0, 5.0])
    np.testing.assert_array_equal(gx, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(gy, [0.0, 1.0, 0.0])


def test_maximum_minimum_masks_keep_inf_cotangents_on_their_side():
    # where(m, g, 0), not g * m: an inf or NaN cotangent stays where it is
    x = tf.constant([[1.0, 4.0], [3.0, 3.0]])
    y = tf.constant([2.0, 3.0])                    # broadcast, with ties
    v = tf.constant([[np.inf, np.nan], [1.0, 2.0]])
    for op, gx_want, gy_want in (
            (tf.maximum, [[0, np.nan], [1, 2]], [np.inf, 0]),
            (tf.minimum, [[np.inf, 0], [0, 2]], [1, np.nan])):
        with tf.GradientTape() as tape:
            tape.watch([x, y])
            z = op(x, y)
        gx, gy = tape.gradient(z, [x, y], output_gradients=v)
        np.testing.assert_array_equal(gx.numpy(), gx_want)
        np.testing.assert_array_equal(gy.numpy(), gy_want)


def test_maximum_propagates_nan_from_either_side():
    y = tf.maximum(tf.constant([np.nan, 1.0]), tf.constant([1.0, np.nan]))
    assert np.isnan(y.numpy()).all()
    y = tf.minimum(tf.constant([np.nan, 1.0]), tf.constant([1.0, np.nan]))
    assert np.isnan(y.numpy()).all()


def test_clip_by_value_gradient_passes_inclusive_bounds():
    gt, glo, ghi = grad(lambda t, lo, hi: tf.clip_by_value(t, lo, hi),
                        [-1.0, 0.0, 1.0, 2.0, 3.0], 0.0, 2.0)
    np.testing.assert_array_equal(gt, [0.0, 1.0, 1.0, 1.0, 0.0])
    assert glo == 1.0 and ghi == 1.0     # the clipped elements' gradients


def test_clip_by_value_bounds_may_not_broadcast_t():
    with pytest.raises(ValueError, match=r"Shapes \(2,\) and \(3, 2\)"):
        tf.clip_by_value(tf.constant([1.0, 2.0]), tf.zeros([3, 2]), 1.0)
    y = tf.clip_by_value(tf.constant([1, 5, 9]), 2, 6)
    assert y.dtype == tf.int32 and y.numpy().tolist() == [2, 5, 6]


def test_activation_gradients_at_kinks():
    (g,) = grad(tf.nn.relu6, [-1.0, 0.0, 3.0, 6.0, 7.0])
    np.testing.assert_array_equal(g, [0, 0, 1, 0, 0])
    (g,) = grad(lambda x: tf.nn.leaky_relu(x, alpha=0.1), [-1.0, 0.0, 2.0])
    np.testing.assert_allclose(g, [0.1, 0.1, 1.0])
    (g,) = grad(tf.nn.elu, [0.0])
    np.testing.assert_allclose(g, [1.0])


def test_activation_constants_match_tf():
    selu = tf.nn.selu(tf.constant([1.0, -1.0], dtype=tf.float64)).numpy()
    np.testing.assert_allclose(selu, [1.0507009873554805, -1.1113307378125628],
                               rtol=1e-15)
    x = tf.constant([1.0], dtype=tf.float64)
    np.testing.assert_allclose(tf.nn.gelu(x).numpy(), [0.8413447460685429],
                               rtol=1e-15)
    np.testing.assert_allclose(tf.nn.gelu(x, approximate=True).numpy(),
                               [0.8411919906082768], rtol=1e-15)
    np.testing.assert_allclose(tf.math.log_sigmoid(tf.constant(-800.0)).numpy(),
                               -800.0)       # stable: no log(0)


# ---- where / select ------------------------------------------------------------------
def test_where_masks_gradients_and_broadcasts():
    c = tf.constant([[True], [False]])
    gx, gy = grad(lambda x, y: tf.where(c, x, y), [1.0, 2.0, 3.0], 5.0)
    np.testing.assert_array_equal(gx, [1.0, 1.0, 1.0])
    assert gy == 3.0


def test_where_nan_in_unselected_branch_poisons_gradient_as_in_tf():
    # TF's documented trap: the masked-out branch still runs its vjp with a
    # zero cotangent, and 0 * inf (here 0 / (2 sqrt(0))) is NaN.
    (g,) = grad(lambda x: tf.where(x > 0.0, tf.sqrt(x), tf.zeros_like(x)),
                [0.0, 4.0])
    assert np.isnan(g[0]) and g[1] == 0.25
    # the usual fix, a second where on the input, keeps it finite
    (g,) = grad(lambda x: tf.where(
        x > 0.0, tf.sqrt(tf.where(x > 0.0, x, tf.ones_like(x))),
        tf.zeros_like(x)), [0.0, 4.0])
    np.testing.assert_array_equal(g, [0.0, 0.25])


def test_where_converts_x_and_y_together_and_reads_variables():
    x64 = tf.constant([1.0, 2.0], dtype=tf.float64)
    y = tf.where(tf.constant([True, False]), x64, 0.0)
    assert y.dtype == tf.float64 and y.numpy().tolist() == [1.0, 0.0]
    v = tf.Variable([3.0, 4.0])
    with tf.GradientTape() as tape:
        y = tf.where(tf.constant([False, True]), v, -1.0)
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [0.0, 1.0])


def test_where_condition_alone_gives_int64_coordinates():
    y = tf.where(tf.constant([[True, False], [False, True]]))
    assert y.dtype == tf.int64 and y.shape == (2, 2)
    assert y.numpy().tolist() == [[0, 0], [1, 1]]
    assert tf.where(tf.constant([0, 3, 0])).numpy().tolist() == [[1]]
    assert tf.where(tf.constant(False)).shape == (0, 0)


def test_where_errors():
    with pytest.raises(ValueError, match="x and y must both be non-None"):
        tf.where(tf.constant([True]), 1.0)
    with pytest.raises(InvalidArgumentError,
                       match=r"condition \[3\], then \[2\], and else \[\] "
                             r"must be broadcastable \[Op:SelectV2\]"):
        tf.where(tf.constant([True, False, True]), [1.0, 2.0], 0.0)
    with pytest.raises(InvalidArgumentError, match=r"SelectV2"):
        tf.where(tf.constant([True]), tf.constant([1.0]),
                 tf.constant([1.0], dtype=tf.float64))


# ---- division-like rows ------------------------------------------------------------
def test_divide_no_nan_xlogy_xdivy_pin_zero():
    y = tf.math.divide_no_nan(tf.constant([1.0, np.nan, 6.0]),
                              tf.constant([0.0, 0.0, 3.0]))
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 2.0])
    gx, gy = grad(tf.math.divide_no_nan, [1.0, 6.0], [0.0, 3.0])
    np.testing.assert_allclose(gx, [0.0, 1 / 3])
    np.testing.assert_allclose(gy, [0.0, -6 / 9])
    y = tf.math.xlogy(tf.constant([0.0, 2.0]), tf.constant([0.0, math.e]))
    np.testing.assert_allclose(y.numpy(), [0.0, 2.0])
    gx, gy = grad(tf.math.xlogy, [0.0, 2.0], [0.0, math.e])
    np.testing.assert_allclose(gx, [0.0, 1.0])
    np.testing.assert_allclose(gy, [0.0, 2 / math.e], rtol=1e-6)
    assert tf.math.xdivy(tf.constant(0.0), tf.constant(0.0)).numpy() == 0.0


def test_truediv_of_integers_is_float64():
    y = tf.truediv(tf.constant([1, 3]), tf.constant([2, 4]))
    assert y.dtype == tf.float64
    np.testing.assert_array_equal(y.numpy(), [0.5, 0.75])
    assert tf.math.truediv(tf.constant([1], dtype=tf.int64), 2).dtype == tf.float64


def test_floordiv_floormod_follow_the_sign_of_the_divisor():
    x = tf.constant([-7, 7, -7, 7])
    y = tf.constant([2, 2, -2, -2])
    assert tf.math.floordiv(x, y).numpy().tolist() == [-4, 3, 3, -4]
    assert tf.math.floormod(x, y).numpy().tolist() == [1, 1, -1, -1]
    xf = tf.constant([-7.5, 7.5])
    np.testing.assert_array_equal(tf.math.floormod(xf, 2.0).numpy(), [0.5, 1.5])
    assert tf.math.mod is tf.math.floormod


def test_integer_division_by_zero_is_invalid_argument():
    for f, op in ((tf.math.floordiv, "FloorDiv"), (tf.math.floormod, "FloorMod")):
        with pytest.raises(InvalidArgumentError,
                           match=r"Integer division by zero \[Op:%s\]" % op):
            f(tf.constant([1, 2]), tf.constant([1, 0]))
    big = tf.constant([-2 ** 31], dtype=tf.int32)   # no C overflow trap
    assert tf.math.floordiv(big, -1).numpy().tolist() == [-2 ** 31]
    assert tf.math.floormod(big, -1).numpy().tolist() == [0]


def test_floormod_gradient_is_tfs_floordiv_gradient_is_none():
    gx, gy = grad(tf.math.floormod, [7.0, -7.0], [2.0, 2.0])
    np.testing.assert_array_equal(gx, [1.0, 1.0])
    np.testing.assert_array_equal(gy, [-3.0, 4.0])
    assert grad(tf.math.floordiv, [7.0], [2.0]) == [None, None]


# ---- add_n ----------------------------------------------------------------------------
def test_add_n_requires_one_shape_and_dtype():
    with pytest.raises(InvalidArgumentError,
                       match=r"Input 0: \[2\] != input 1: \[1\] \[Op:AddN\]"):
        tf.add_n([tf.constant([1.0, 2.0]), tf.constant([1.0])])
    with pytest.raises(InvalidArgumentError, match=r"\[Op:AddN\]"):
        tf.add_n([tf.constant([1.0]), tf.constant([1])])
    gs = grad(lambda a, b: tf.add_n([a, b, a]), [1.0, 2.0], [3.0, 4.0])
    np.testing.assert_array_equal(gs[0], [2.0, 2.0])
    np.testing.assert_array_equal(gs[1], [1.0, 1.0])


# ---- results that are not float ---------------------------------------------------
def test_bool_and_integer_results():
    x = tf.constant([np.nan, np.inf, -1.0])
    assert tf.math.is_nan(x).numpy().tolist() == [True, False, False]
    assert tf.math.is_finite(x).numpy().tolist() == [False, False, True]
    assert tf.math.is_nan(x).dtype == tf.bool
    a, b = tf.constant([True, True, False]), tf.constant([True, False, False])
    assert tf.logical_and(a, b).numpy().tolist() == [True, False, False]
    assert tf.logical_or(a, b).numpy().tolist() == [True, True, False]
    assert tf.logical_not(a).numpy().tolist() == [False, False, True]
    assert tf.math.logical_and(a, True).numpy().tolist() == [True, True, False]
    assert tf.sign(tf.constant([-3, 0, 5])).numpy().tolist() == [-1, 0, 1]
    assert tf.abs(tf.constant([-3, 4], dtype=tf.int64)).dtype == tf.int64
    assert tf.round(tf.constant([3, -2])).numpy().tolist() == [3, -2]


def test_round_is_half_to_even_and_sign_keeps_nan():
    r = tf.round(tf.constant([0.5, 1.5, 2.5, -2.5])).numpy()
    np.testing.assert_array_equal(r, [0.0, 2.0, 2.0, -2.0])
    s = tf.sign(tf.constant([np.nan, -0.0, -2.0])).numpy()
    assert np.isnan(s[0]) and s[1] == 0 and not np.signbit(s[1]) and s[2] == -1


def test_nondiff_rows_give_no_gradient():
    for f in (tf.floor, tf.math.ceil, tf.round):
        assert grad(f, [1.3, -0.7]) == [None]


def test_sign_gradient_is_zeros_as_in_tf():
    # TF registers Sign's gradient as zeros_like(x), not as "no gradient"
    g = grad(tf.sign, [1.3, -0.7, 0.0])
    assert g[0].tolist() == [0.0, 0.0, 0.0]


# ---- errors -----------------------------------------------------------------------------
def test_float_only_rows_reject_integers_naming_the_op():
    with pytest.raises(InvalidArgumentError, match=r"int32.*\[Op:Sqrt\]"):
        tf.sqrt(tf.constant([4]))
    with pytest.raises(InvalidArgumentError, match=r"\[Op:Atan2\]"):
        tf.atan2(tf.constant([1.0]), tf.constant([1.0], dtype=tf.float64))


def test_bad_attributes_raise_type_error():
    # float arguments: TF's make_float message, naming the op
    for call in (lambda v: tf.nn.leaky_relu(tf.constant([1.0]), alpha=v),
                 lambda v: tf.nn.dropout(tf.constant([1.0]), rate=v),
                 lambda v: tf.nn.l2_normalize(tf.constant([1.0]), epsilon=v)):
        for bad in ("big", True, 1j, [0.5], np.array(["a"])):
            with pytest.raises(TypeError, match=r"^(LeakyRelu|Dropout|"
                               r"L2Normalize): Expected float for argument "
                               r"'(alpha|rate|epsilon)' not "):
                call(bad)
        with pytest.raises(InvalidArgumentError, match="must be a scalar"):
            call(tf.constant([0.5, 0.5]))
        call(np.float32(0.25))
        call(tf.constant(0.25))
    with pytest.raises(TypeError, match="cannot convert 'big'"):
        tf.nn.silu(tf.constant([1.0]), beta="big")


# ---- float16 --------------------------------------------------------------------------
@pytest.mark.parametrize("f,ref", [
    (tf.math.tan, np.tan), (tf.sqrt, np.sqrt), (tf.math.erf, None),
    (tf.nn.gelu, None), (tf.math.atanh, np.arctanh)])
def test_float16_is_computed_in_float32_and_rounded(f, ref):
    x = np.array([0.25, 0.5, 0.75], dtype=np.float16)
    y = f(tf.constant(x))
    assert y.dtype == tf.float16
    y32 = f(tf.constant(x.astype(np.float32))).numpy()
    np.testing.assert_array_equal(y.numpy(), y32.astype(np.float16))
    if ref is not None:
        np.testing.assert_allclose(y.numpy(), ref(x.astype(np.float64)), rtol=1e-3)


def test_float16_binary_and_domain_errors_are_silent_nan():
    y = tf.maximum(tf.constant([1.0, -1.0], dtype=tf.float16), 0.5)
    assert y.dtype == tf.float16 and y.numpy().tolist() == [1.0, 0.5]
    with np.errstate(all="raise"):             # no NumPy warnings
        y = tf.sqrt(tf.constant([-1.0], dtype=tf.float16))
    assert np.isnan(y.numpy()[0])


# ---- bool-only inputs and truediv's dtype rule, as TF ----------------------------
def test_logical_ops_and_select_take_bool_only():
    f = tf.constant([1.0, 0.0])
    b = tf.constant([True, False])
    msg = (r"cannot compute {0} as input #{1}\(zero-based\) was expected to be "
           r"a bool tensor but is a {2} tensor \[Op:{0}\]")
    for fn, op in ((tf.logical_and, "LogicalAnd"), (tf.logical_or, "LogicalOr"),
                   (tf.math.logical_xor, "LogicalOr")):
        with pytest.raises(InvalidArgumentError, match=msg.format(op, 0, "float")):
            fn(f, b)
        with pytest.raises(InvalidArgumentError, match=msg.format(op, 1, "int32")):
            fn(b, tf.constant([1, 0]))
    with pytest.raises(InvalidArgumentError, match=msg.format("LogicalNot", 0, "double")):
        tf.logical_not(tf.constant([1.0], dtype=tf.float64))
    with pytest.raises(InvalidArgumentError, match=msg.format("SelectV2", 0, "float")):
        tf.where(f, 1.0, 2.0)
    assert tf.math.logical_xor(b, True).numpy().tolist() == [False, True]
    # where(condition) alone takes numbers (TF's Where): nonzero is true
    assert tf.where(tf.constant([0.0, 2.0])).numpy().tolist() == [[1]]


def test_is_inf():
    x = tf.constant([np.inf, -np.inf, np.nan, 1.0], dtype=tf.float16)
    assert tf.math.is_inf(x).numpy().tolist() == [True, True, False, False]


def test_truediv_mixed_dtypes_are_a_type_error_as_in_tf():
    x32, x64 = tf.constant([1.0, 2.0]), tf.constant([1.0, 2.0], dtype=tf.float64)
    with pytest.raises(TypeError, match=r"^`x` and `y` must have the same dtype, "
                       r"got tapegrad.float32 != tapegrad.float64\.$"):
        tf.math.truediv(x32, x64)
    with pytest.raises(TypeError, match=r"got tapegrad.int32 != tapegrad.float32\."):
        tf.truediv(tf.constant([1, 2]), 2.5)          # 2.5 cannot take int32
    with pytest.raises(TypeError, match=r"got tapegrad.int32 != tapegrad.float32\."):
        tf.truediv(2, x32)                            # x converts alone
    # Python values take x's dtype (TF's dtype hint)
    assert tf.truediv(x64, 2.0).dtype == tf.float64
    assert tf.truediv(tf.constant([3], dtype=tf.int64), 2).numpy().tolist() == [1.5]
    gx, gy = grad(lambda a, b: tf.truediv(a, y=b), [1.0, 4.0], [2.0, 8.0])
    np.testing.assert_allclose(gx, [0.5, 0.125])
    np.testing.assert_allclose(gy, [-0.25, -1 / 16])
