"""tapegrad.GradientTape against TF's documented behaviour
(tf_semantics.md sections 1.2, 1.3, 1.7, 1.10, 1.11 and the guides' cells)."""
import math
import re
import warnings

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _tapegrad as C

USED_UP = (r"A non-persistent GradientTape can only be used to compute one set of "
           r"gradients \(or jacobians\)"
           r"|GradientTape\.gradient can only be called once on non-persistent tapes\.")
REENTER = (r"Tape is still recording, This can happen if you try to re-enter an "
           r"already-active tape\.|Tape is already recording\.")


def _entries():
    return C._live_counts()["TapeEntry"]


# ---- the tutorial ------------------------------------------------------------------
def test_tutorial_gradient_of_sum_squared():
    x = tf.ones((2, 2))
    with tf.GradientTape() as t:
        t.watch(x)
        y = tf.reduce_sum(x)
        z = tf.multiply(y, y)
    assert y.numpy() == 4.0 and z.numpy() == 16.0
    dz_dx = t.gradient(z, x)
    assert dz_dx.shape == (2, 2) and dz_dx.dtype == tf.float32
    np.testing.assert_array_equal(dz_dx.numpy(), np.full((2, 2), 8.0))


def test_tutorial_gradient_wrt_intermediate():
    x = tf.ones((2, 2))
    with tf.GradientTape() as t:
        t.watch(x)
        y = tf.reduce_sum(x)
        z = tf.multiply(y, y)
    dz_dy = t.gradient(z, y)
    assert dz_dy.numpy() == 8.0


def test_tutorial_dy_dx_is_ones():
    x = tf.constant([[1, 1], [1, 1]], dtype=float)
    with tf.GradientTape() as t:
        t.watch(x)
        y = tf.reduce_sum(x)
        z = tf.multiply(y, y)
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), np.ones((2, 2)))


def test_persistent_tape():
    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        z = y * y
    assert t.gradient(z, x).numpy() == 108.0       # 4 x^3
    assert t.gradient(z, y).numpy() == 18.0        # 2 y
    assert t.gradient(y, x).numpy() == 6.0         # 2 x
    assert t.gradient(z, x).numpy() == 108.0       # again
    del t


def test_persistent_tape_vector_like_the_guide():
    x = tf.constant([1, 3.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    np.testing.assert_array_equal(tape.gradient(z, x).numpy(), [4.0, 108.0])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 6.0])
    del tape


def _f(x, y):
    output = 1.0
    for i in range(y):
        if i > 1 and i < 5:
            output = tf.multiply(output, x)
    return output


def _grad(x, y):
    with tf.GradientTape() as t:
        t.watch(x)
        out = _f(x, y)
    return t.gradient(out, x)


def test_python_control_flow():
    x = tf.convert_to_tensor(2.0)
    assert str(_f(x, 10)) == "tapegrad.Tensor(8.0, shape=(), dtype=float32)"
    assert _grad(x, 6).numpy() == 12.0
    assert _grad(x, 5).numpy() == 12.0
    assert _grad(x, 4).numpy() == 4.0


def test_gradient_of_sigmoid_over_linspace():
    a = np.linspace(-10.0, 10.0, 201).astype(np.float32)
    x = tf.constant(a)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.sigmoid(x)
    dy_dx = tape.gradient(y, x)
    s = 1.0 / (1.0 + np.exp(-a.astype(np.float64)))
    np.testing.assert_allclose(dy_dx.numpy(), s * (1.0 - s), rtol=1e-5, atol=1e-7)


def test_two_tapes_at_once_like_the_guide():
    x0 = tf.constant(0.0)
    x1 = tf.constant(0.0)
    with tf.GradientTape() as tape0, tf.GradientTape() as tape1:
        tape0.watch(x0)
        tape1.watch(x1)
        y0 = tf.math.sin(x0)
        y1 = tf.nn.sigmoid(x1)
        y = y0 + y1
        ys = tf.reduce_sum(y)
    assert tape0.gradient(ys, x0).numpy() == 1.0
    assert tape1.gradient(ys, x1).numpy() == 0.25


def test_watching_is_tape_local():
    # TF's testWatchingIsTapeLocal
    x1 = tf.Variable(2.0, trainable=False)
    x2 = tf.Variable(2.0, trainable=False)
    with tf.GradientTape() as tape1:
        with tf.GradientTape() as tape2:
            tape1.watch(x1)
            tape2.watch([x1, x2])
            y = x1 ** 3
            z = x2 ** 2
            dy, dz = tape2.gradient([y, z], [x1, x2])
        d2y, d2z = tape1.gradient([dy, dz], [x1, x2])
    assert dy.numpy() == 12.0 and dz.numpy() == 4.0
    assert d2y.numpy() == 12.0
    assert d2z is None


def test_op_recorded_only_on_tapes_watching_an_input():
    a = tf.constant(1.0)
    b = tf.constant(2.0)
    with tf.GradientTape() as ta, tf.GradientTape() as tb:
        ta.watch(a)
        tb.watch(b)
        ya = a * 3.0          # recorded on ta only
        yb = b * 5.0          # recorded on tb only
    ga, gb = ta.gradient([ya, yb], [a, b])
    assert ga.numpy() == 3.0
    assert gb is None
    assert tb.gradient(ya, a) is None


# ---- __enter__ / __exit__ -----------------------------------------------------------
def test_enter_returns_self():
    t = tf.GradientTape()
    with t as t2:
        assert t2 is t


def test_reentering_an_active_tape_raises():
    x = tf.constant(1.0)
    t = tf.GradientTape()
    with t:
        t.watch(x)
        with pytest.raises(ValueError, match=REENTER):
            with t:
                pass
        y = x * 2.0          # the tape is still recording and intact
    assert t.gradient(y, x).numpy() == 2.0


def test_reentering_after_exit_keeps_adding_to_the_same_record():
    x = tf.constant(3.0)
    g = tf.GradientTape()
    with g:
        g.watch(x)
        y = 2 * x
    with g:
        z = 2 * y
    assert [t.numpy() for t in g.gradient(z, [x])] == [4.0]


def test_exception_inside_with_propagates_and_stops_recording():
    x = tf.constant(2.0)
    t = tf.GradientTape(persistent=True)
    with pytest.raises(ZeroDivisionError):
        with t:
            t.watch(x)
            y = x * x
            1 / 0
    z = x * 5.0               # after the with: not recorded
    assert t.gradient(y, x).numpy() == 4.0
    assert t.gradient(z, x) is None
    del t


def test_ops_after_exit_are_not_recorded():
    x = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch(x)
    before = _entries()
    y = x * x
    assert _entries() == before
    assert t.gradient(y, x) is None


# ---- watch -------------------------------------------------------------------------
def test_watch_nested_structures():
    a, b, c, d = (tf.constant(float(i)) for i in (1, 2, 3, 4))
    v = tf.Variable(5.0, trainable=False)
    with tf.GradientTape() as t:
        t.watch([a, (b, {"c": c, "more": [d, v]})])
        y = a + 2 * b + 3 * c + 4 * d + 5 * v
    g = t.gradient(y, [a, b, c, d, v])
    assert [x.numpy() for x in g] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_unwatched_constant_gives_none():
    x = tf.constant(3.0)
    with tf.GradientTape() as t:
        y = x * x
    assert t.gradient(y, x) is None


def test_ops_before_watch_are_not_recorded():
    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as t:
        y = x * x
        t.watch(x)
        z = x * 4.0
    assert t.gradient(y, x) is None
    assert t.gradient(z, x).numpy() == 4.0
    del t


@pytest.mark.parametrize("bad,typename", [
    (np.array(1.0), "ndarray"), (3.0, "float"), ("abc", "str"), (None, "NoneType"),
    ([tf.constant(1.0), 2], "int")])
def test_watch_rejects_non_tensors(bad, typename):
    with tf.GradientTape() as t:
        with pytest.raises(ValueError) as ei:
            t.watch(bad)
    msg = str(ei.value)
    assert re.search(r"Passed in object .* of type '%s', not tapegrad\.Tensor or "
                     r"tapegrad\.Variable" % typename, msg, re.S), msg


def test_watch_int_tensor_gives_none():
    x = tf.constant(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tf.GradientTape() as g:
            g.watch(x)
            y = x * x
        assert g.gradient(y, x) is None


def test_int_variable_gives_none():
    x = tf.Variable([[2, 2], [2, 2]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tf.GradientTape() as g:
            y = tf.reduce_sum(x)
        assert g.gradient(y, x) is None


# ---- gradient: structures -------------------------------------------------------------
def test_sources_structure_is_preserved():
    x1, x2, x3 = tf.constant(1.0), tf.constant(1.0), tf.constant(1.0)
    with tf.GradientTape(persistent=True) as g:
        g.watch([x1, x2, x3])
        y = x1 + 2 * x2 + 3 * x3
    r = g.gradient(y, [x1, {"x2": x2, "x3": x3}])
    assert isinstance(r, list) and isinstance(r[1], dict)
    assert r[0].numpy() == 1.0
    assert r[1]["x2"].numpy() == 2.0 and r[1]["x3"].numpy() == 3.0
    r = g.gradient(y, (x1, x2, [x1, x3]))
    assert isinstance(r, tuple) and isinstance(r[2], list)
    assert [r[0].numpy(), r[1].numpy(), r[2][0].numpy(), r[2][1].numpy()] == [1.0, 2.0, 1.0, 3.0]
    r = g.gradient(y, x2)
    assert isinstance(r, tf.Tensor) and r.numpy() == 2.0
    r = g.gradient(y, {"a": [x3], "b": (x1,)})
    assert isinstance(r["a"], list) and isinstance(r["b"], tuple)
    assert r["a"][0].numpy() == 3.0 and r["b"][0].numpy() == 1.0
    del g


def test_dict_and_list_targets_give_gradient_of_sum():
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        y0 = x ** 2
        y1 = 1 / x
    assert tape.gradient(y0, x).numpy() == 4.0
    assert tape.gradient(y1, x).numpy() == -0.25
    assert tape.gradient({"y0": y0, "y1": y1}, x).numpy() == 3.75
    assert tape.gradient([y0, y1], x).numpy() == 3.75
    assert tape.gradient((y0, [y1]), x).numpy() == 3.75
    del tape


def test_non_persistent_dict_target():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y0 = x ** 2
        y1 = 1 / x
    assert tape.gradient({"y0": y0, "y1": y1}, x).numpy() == 3.75


def test_non_scalar_target_gives_gradient_of_sum():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = x * [3.0, 4.0]
    assert tape.gradient(y, x).numpy() == 7.0


def test_repeated_sources_each_get_the_full_gradient():
    x = tf.constant(1.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = 2.0 * x
    assert [g.numpy() for g in t.gradient(y, [x, x])] == [2.0, 2.0]


def test_target_equal_to_source():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x
        sq = x * x
    assert t.gradient(y, x).numpy() == 1.0
    assert t.gradient([x, sq], x).numpy() == 5.0
    assert t.gradient([y, y], x).numpy() == 2.0
    del t


def test_intermediate_sources():
    x = tf.constant(3.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
        z = y * y
    dx, dy = t.gradient(z, [x, y])
    assert dx.numpy() == 108.0 and dy.numpy() == 18.0


def test_target_computed_without_the_source_gives_none():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = tf.constant(3.0) * 2.0
    assert t.gradient(y, x) is None
    v = tf.Variable(1.0)
    assert t.gradient(v, x) is None
    del t


def test_numpy_breaks_the_chain():
    x = tf.Variable([[1.0, 2.0], [3.0, 4.0]], dtype=tf.float32)
    with tf.GradientTape() as tape:
        x2 = x ** 2
        y = np.mean(x2, axis=0)
        y = tf.reduce_mean(y, axis=0)
    assert tape.gradient(y, x) is None


def test_target_none_is_a_type_error():
    x = tf.constant(1.0)
    with tf.GradientTape() as t:
        t.watch(x)
    with pytest.raises(TypeError, match="target"):
        t.gradient(None, x)


# ---- output_gradients -----------------------------------------------------------------
def test_output_gradients_weight_each_target():
    x = tf.constant(3.0)
    y = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch([x, y])
        loss = x * y
    (g,) = t.gradient([loss, x], [x], output_gradients=[1.0, 2.0])
    assert g.numpy() == 4.0


def test_output_gradients_vector_cotangent():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    v = np.array([0.5, -1.0, 2.0], np.float32)
    x = tf.constant(a)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
    g = t.gradient(y, x, output_gradients=tf.constant(v))
    np.testing.assert_array_equal(g.numpy(), 2 * a * v)


def test_output_gradients_none_entry_means_ones():
    x = tf.constant(3.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y0 = x * 2.0
        y1 = x * x
    g = t.gradient([y0, y1], x, output_gradients=[None, 10.0])
    assert g.numpy() == 2.0 + 60.0


# ---- unconnected_gradients -------------------------------------------------------------
def test_unconnected_gradients_enum():
    assert tf.UnconnectedGradients.NONE.value == "none"
    assert tf.UnconnectedGradients.ZERO.value == "zero"
    assert tf.UnconnectedGradients("zero") is tf.UnconnectedGradients.ZERO


@pytest.mark.parametrize("how", [tf.UnconnectedGradients.ZERO, "zero"])
def test_unconnected_zero(how):
    x = tf.constant([[1.0, 2.0]])
    y = tf.constant(3.0)
    with tf.GradientTape() as t:
        t.watch([x, y])
        z = y * y
    gx, gy = t.gradient(z, [x, y], unconnected_gradients=how)
    assert gx.shape == (1, 2) and gx.dtype == tf.float32
    np.testing.assert_array_equal(gx.numpy(), [[0.0, 0.0]])
    assert gy.numpy() == 6.0


@pytest.mark.parametrize("how", [tf.UnconnectedGradients.NONE, "none"])
def test_unconnected_none(how):
    x = tf.constant(1.0)
    y = tf.constant(3.0)
    with tf.GradientTape() as t:
        t.watch([x, y])
        z = y * y
    assert t.gradient(z, [x, y], unconnected_gradients=how)[0] is None


def test_unconnected_gradients_nonsense_is_a_value_error():
    x = tf.constant(1.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
    with pytest.raises(ValueError,
                       match=re.escape("Unknown value for unconnected_gradients: 'nonsense'")):
        t.gradient(y, x, unconnected_gradients="nonsense")


# ---- lifecycle: used-up and never-entered tapes ------------------------------------------
def test_second_gradient_on_non_persistent_tape_raises():
    x = tf.constant(3.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
    assert t.gradient(y, x).numpy() == 6.0
    with pytest.raises(RuntimeError, match=USED_UP):
        t.gradient(y, x)


@pytest.mark.parametrize("persistent", [False, True])
def test_gradient_on_never_entered_tape_raises(persistent):
    x = tf.constant(3.0)
    t = tf.GradientTape(persistent=persistent)
    with pytest.raises(RuntimeError, match=USED_UP):
        t.gradient(x * x, x)


# ---- gradient inside the tape's own context (section 1.7 step 2) ------------------------
@pytest.mark.parametrize("persistent", [False, True])
def test_gradient_within_tape_block(persistent):
    x = tf.constant(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tf.GradientTape(persistent=persistent) as t:
            t.watch(x)
            y = 2.0 * x
            g = t.gradient(y, x)
            assert g.numpy() == 2.0
    if persistent:
        del t


def test_non_persistent_gradient_inside_context_stops_recording():
    x = tf.constant(3.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
        assert t.gradient(y, x).numpy() == 6.0
        before = _entries()
        z = x * y                     # no longer recorded
        assert _entries() == before
    # __exit__ did not raise; the tape is used up
    with pytest.raises(RuntimeError, match=USED_UP):
        t.gradient(z, x)


def test_persistent_gradient_inside_context_records_higher_orders():
    x = tf.constant(3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            y = x ** 3
            dy = t.gradient(y, x)
            d2 = t.gradient(dy, x)
            d3 = t.gradient(d2, x)
    assert [y.numpy(), dy.numpy(), d2.numpy(), d3.numpy()] == [27.0, 27.0, 18.0, 6.0]
    del t


# ---- nesting and higher order -------------------------------------------------------------
def test_second_derivative_of_square():
    x = tf.constant(5.0)
    with tf.GradientTape() as t2:
        t2.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            y = x * x
        dy_dx = t1.gradient(y, x)
    d2y_dx2 = t2.gradient(dy_dx, x)
    assert dy_dx.numpy() == 10.0
    assert d2y_dx2.numpy() == 2.0


def test_second_derivative_of_cube_of_variable():
    x = tf.Variable(1.0)
    with tf.GradientTape() as t:
        with tf.GradientTape() as t2:
            y = x * x * x
        dy_dx = t2.gradient(y, x)
    d2y_dx2 = t.gradient(dy_dx, x)
    assert y.numpy() == 1.0
    assert dy_dx.numpy() == 3.0
    assert d2y_dx2.numpy() == 6.0


def test_third_derivative_with_three_nested_tapes():
    x = tf.constant(2.0)
    with tf.GradientTape() as t3:
        t3.watch(x)
        with tf.GradientTape() as t2:
            t2.watch(x)
            with tf.GradientTape() as t1:
                t1.watch(x)
                y = x ** 3
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    d3 = t3.gradient(d2, x)
    assert [d1.numpy(), d2.numpy(), d3.numpy()] == [12.0, 12.0, 6.0]


def test_third_derivative_of_sin_and_exp_in_float64():
    for xv in (-1.3, 0.4, 2.2):
        x = tf.constant(np.float64(xv))
        with tf.GradientTape() as t3:
            t3.watch(x)
            with tf.GradientTape() as t2:
                t2.watch(x)
                with tf.GradientTape() as t1:
                    t1.watch(x)
                    y = tf.math.sin(x) * tf.math.exp(x)
                d1 = t1.gradient(y, x)
            d2 = t2.gradient(d1, x)
        d3 = t3.gradient(d2, x)
        s, c, e = math.sin(xv), math.cos(xv), math.exp(xv)
        # (sin e^x)' = e(s+c); '' = 2 e c; ''' = 2 e (c - s)
        np.testing.assert_allclose(d1.numpy(), e * (s + c), rtol=1e-12)
        np.testing.assert_allclose(d2.numpy(), 2 * e * c, rtol=1e-12)
        np.testing.assert_allclose(d3.numpy(), 2 * e * (c - s), rtol=1e-12)


def test_mixed_second_derivative():
    x = tf.constant(np.float64(1.5))
    y = tf.constant(np.float64(-0.5))
    with tf.GradientTape() as outer:
        outer.watch([x, y])
        with tf.GradientTape() as inner:
            inner.watch([x, y])
            f = x * x * y + tf.math.sin(x * y)
        fx = inner.gradient(f, x)
    fxy, fxx = outer.gradient(fx, [y, x])
    xv, yv = 1.5, -0.5
    # f_x = 2xy + y cos(xy); f_xy = 2x + cos(xy) - xy sin(xy); f_xx = 2y - y^2 sin(xy)
    np.testing.assert_allclose(fxy.numpy(),
                               2 * xv + math.cos(xv * yv) - xv * yv * math.sin(xv * yv),
                               rtol=1e-12)
    np.testing.assert_allclose(fxx.numpy(), 2 * yv - yv * yv * math.sin(xv * yv), rtol=1e-12)


def test_inner_ops_are_recorded_on_the_outer_tape():
    x = tf.constant(2.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x * x * x
        assert inner.gradient(y, x).numpy() == 12.0
    assert outer.gradient(y, x).numpy() == 12.0


def test_hessian_vector_product_through_matmul():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    A = tf.constant(a)
    x = tf.constant(np.array([[1.0], [2.0]]))
    v = tf.constant(np.array([[0.5], [-1.0]]))
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            f = 0.5 * tf.reduce_sum(x * tf.matmul(A, x))   # 0.5 x^T A x
        g = inner.gradient(f, x)
        gv = tf.reduce_sum(g * v)
    hv = outer.gradient(gv, x)
    np.testing.assert_allclose(g.numpy(), a @ np.array([[1.0], [2.0]]), rtol=1e-12)
    np.testing.assert_allclose(hv.numpy(), a @ np.array([[0.5], [-1.0]]), rtol=1e-12)


# ---- watched_variables -------------------------------------------------------------------
def test_watched_variables():
    t = tf.GradientTape()
    assert t.watched_variables() == ()
    x = tf.Variable(1.0, name="x")
    c = tf.Variable(1.0, name="c", trainable=False)
    with t:
        y = x * c
    assert t.watched_variables() == (x,)
    t.gradient(y, x)
    assert t.watched_variables() == (x,)


# ---- bigger smoke: a small regression fit ---------------------------------------------------
def test_linear_regression_converges(rng):
    X = rng.standard_normal((64, 3)).astype(np.float32)
    true_w = np.array([[1.0], [-2.0], [0.5]], np.float32)
    Y = X @ true_w + 0.25
    w = tf.Variable(tf.zeros((3, 1)), name="w")
    b = tf.Variable(0.0, name="b")
    for _ in range(200):
        with tf.GradientTape() as tape:
            pred = tf.matmul(X, w) + b
            loss = tf.reduce_mean((pred - Y) ** 2)
        dw, db = tape.gradient(loss, [w, b])
        w.assign_sub(0.1 * dw)
        b.assign_sub(0.1 * db)
    np.testing.assert_allclose(w.numpy(), true_w, atol=1e-3)
    np.testing.assert_allclose(b.numpy(), 0.25, atol=1e-3)


def test_ones_like_and_zeros_like_are_not_connected():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        o = tf.ones_like(x)
        z = tf.zeros_like(x)
        y = x * tf.ones_like(x) * 3.0
    assert t.gradient(o, x) is None
    assert t.gradient(z, x) is None
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), [3.0, 3.0])
    del t


# ---- the all-ones seed: g * t answered with t's values ------------------------------
def test_products_with_the_ones_seed_stay_exact_and_differentiable(rng):
    # big enough (>= 1024 elements) for multiply to return a view of the
    # other factor instead of computing 1 * t
    xa = rng.uniform(0.5, 1.5, (40, 64))
    ya = rng.uniform(0.5, 1.5, (40, 64))
    x, y = tf.constant(xa), tf.constant(ya)
    with tf.GradientTape() as outer:
        outer.watch([x, y])
        with tf.GradientTape() as inner:
            inner.watch([x, y])
            z = x * y + tf.tanh(x)
        gx, gy = inner.gradient(z, [x, y])
        s = tf.reduce_sum(gx * gy)
    np.testing.assert_array_equal(gy.numpy(), xa)
    np.testing.assert_allclose(gx.numpy(), ya + 1 - np.tanh(xa) ** 2,
                               rtol=1e-14)
    hx, hy = outer.gradient(s, [x, y])   # s = sum((y + 1 - tanh^2 x) x)
    t = np.tanh(xa)
    np.testing.assert_allclose(hx.numpy(), ya + 1 - t ** 2
                               - 2 * t * (1 - t ** 2) * xa, rtol=1e-12)
    np.testing.assert_allclose(hy.numpy(), xa, rtol=1e-14)


def test_gradient_viewing_a_variable_is_not_that_variable():
    v = tf.Variable(np.linspace(1.0, 2.0, 2048))
    x = tf.constant(np.full(2048, 3.0))
    with tf.GradientTape() as t:
        t.watch(x)
        z = v * x
    g = t.gradient(z, x)                 # v's values, under its own id
    np.testing.assert_array_equal(g.numpy(), v.numpy())
    with tf.GradientTape() as t2:
        w = g * 2.0
    assert t2.gradient(w, v) is None     # g is not a read of v


# ---- stop_recording and reset (TF's semantics, tf_semantics.md 1.4, 1.5) ----

def test_stop_recording_doc_examples():
    x = tf.constant(4.0)
    with tf.GradientTape() as tape:
        with tape.stop_recording():
            y = x ** 2
    assert tape.gradient(y, x) is None

    # the autodiff guide's cell 9
    x, y = tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape() as t:
        x_sq = x * x
        with t.stop_recording():
            y_sq = y * y
        z = x_sq + y_sq
    grad = t.gradient(z, {"x": x, "y": y})
    assert str(grad["x"]) == "tapegrad.Tensor(4.0, shape=(), dtype=float32)"
    assert grad["y"] is None


def test_stop_recording_pauses_only_its_own_tape():
    x = tf.constant(3.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            with inner.stop_recording():
                assert not inner._recording and outer._recording
                y = x * x
            assert inner._recording
            z = x * 5.0
        assert inner.gradient([y, z], x) is not None
    assert float(outer.gradient(y, x)) == 6.0


def test_gradient_under_stop_recording_is_not_traced():
    # the older doc example: a persistent tape's own gradient, untraced
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x * x
        n = t._num_entries
        with t.stop_recording():
            g = t.gradient(y, x)
        assert t._num_entries == n
    assert float(g) == 12.0
    assert t.gradient(g, x) is None


def test_stop_recording_and_reset_errors():
    never = tf.GradientTape()
    with pytest.raises(RuntimeError, match="^Trying to stop recording a tape "
                       "which is not recording.$"):
        with never.stop_recording():
            pass
    with pytest.raises(ValueError, match="^Tape is not recording.$"):
        never.reset()
    closed = tf.GradientTape()
    with closed:
        pass
    with pytest.raises(ValueError, match="^Tape is not recording.$"):
        with closed.stop_recording():
            pass
    with pytest.raises(ValueError, match="^Tape is not recording.$"):
        closed.reset()
    # an exception inside the block still puts the tape back
    x = tf.constant(1.0)
    with tf.GradientTape() as t:
        t.watch(x)
        with pytest.raises(KeyError):
            with t.stop_recording():
                raise KeyError("inside")
        assert t._recording
        y = x * 4.0
    assert float(t.gradient(y, x)) == 4.0


def test_used_up_tape_inside_stop_recording_starts_afresh():
    x = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
        with t.stop_recording():
            assert float(t.gradient(y, x)) == 4.0   # uses the tape up
        # TF's _push_tape gives a used-up tape a new, empty record
        assert t._recording
        t.watch(x)
        z = x * 3.0
    assert float(t.gradient(z, x)) == 3.0


def test_reset_forgets_ops_and_watches():
    v = tf.Variable(2.0)
    x = tf.constant(5.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        a = v * v + x
        assert t.watched_variables() == (v,)
        t.reset()
        assert t.watched_variables() == () and t._num_entries == 0
        b = v * 3.0               # v is watched again on read
        c = x * 2.0               # x is not: not recorded
    assert t.gradient(a, v) is None
    assert float(t.gradient(b, v)) == 3.0
    assert t.gradient(c, x) is None
    assert t.watched_variables() == (v,)


def test_reset_in_a_training_loop_keeps_only_the_last_step():
    w = tf.Variable(1.0)
    with tf.GradientTape() as t:
        for step in range(5):
            t.reset()
            loss = w * float(step)
    assert float(t.gradient(loss, w)) == 4.0


def test_reset_during_a_sweep_of_its_tape_is_refused():
    x = tf.constant(2.0)
    seen = []

    @tf.custom_gradient
    def f(x):
        def grad(dy):
            try:
                t.reset()
            except RuntimeError as e:
                seen.append(str(e))
            return dy * 2.0
        return 2.0 * x, grad

    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = f(x) * f(x)
        g = t.gradient(y, x)
    assert float(g) == 16.0
    assert seen and seen[0] == ("GradientTape.reset() called while "
                                "GradientTape.gradient is running on this "
                                "tape")


@pytest.mark.no_refleak_check(reason="runs a child process")
def test_gradient_inside_a_persistent_context_warns_once_as_tf_logs():
    # TF: log_first_n(WARN, ..., 1); here a UserWarning, once per process
    import subprocess
    import sys
    code = (
        "import warnings, tapegrad as tf\n"
        "warnings.simplefilter('always')\n"
        "x = tf.constant(2.0)\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    with tf.GradientTape(persistent=True) as t:\n"
        "        t.watch(x)\n"
        "        y = x * x\n"
        "        g1 = t.gradient(y, x)\n"
        "        g2 = t.gradient(y, x)\n"
        "print(len(w), w[0].category.__name__, float(g1), float(g2))\n"
        "print(w[0].message)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    first, message = p.stdout.splitlines()
    assert first == "1 UserWarning 4.0 4.0"
    assert message.startswith(
        "Calling GradientTape.gradient on a persistent tape inside its "
        "context is significantly less efficient than calling it outside "
        "the context")


# ---- attributes: the tape keeps the values the forward read ------------------
# A vjp reads its op's attributes when the gradient runs.  Had the tape kept
# the user's own list, ndarray or Variable, changing it after the op gave a
# wrong gradient, and for concat an axis out of range: a segfault.
def test_changing_an_attribute_after_the_op_does_not_change_its_gradient():
    x = tf.Variable([[1.0, 2.0]])
    axis = np.array(0)
    with tf.GradientTape() as t:
        y = tf.concat([x, x * 3.0], axis)
    axis[()] = 10 ** 7
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), [[4.0, 4.0]])

    v = tf.Variable([1.0, 2.0, 3.0])
    idx = np.array([0, 1])
    with tf.GradientTape() as t:
        y = tf.gather(v, idx)
    idx[:] = [2, 2]
    np.testing.assert_array_equal(t.gradient(y, v).numpy(), [1.0, 1.0, 0.0])

    m = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    axes, perm = [0], [0, 1]
    with tf.GradientTape(persistent=True) as t:
        s = tf.reduce_sum(m, axis=axes) * [1.0, 10.0]
        p = tf.transpose(m, perm) * [[1.0, 10.0], [100.0, 1000.0]]
        mom = tf.nn.moments(m, axes)[1]
    axes[0] = 1
    perm.reverse()
    np.testing.assert_array_equal(t.gradient(s, m).numpy(),
                                  [[1.0, 10.0], [1.0, 10.0]])
    np.testing.assert_array_equal(t.gradient(p, m).numpy(),
                                  [[1.0, 10.0], [100.0, 1000.0]])
    # variance over axis 0 of [[1, 2], [3, 4]]: d/dm = (m - mean) / 2 * 2
    np.testing.assert_allclose(t.gradient(mom, m).numpy(),
                               [[-1.0, -1.0], [1.0, 1.0]])

    alpha = tf.Variable(0.1)
    z = tf.Variable([-1.0])
    with tf.GradientTape() as t:
        y = tf.nn.leaky_relu(z, alpha=alpha)
    alpha.assign(0.5)
    np.testing.assert_allclose(t.gradient(y, z).numpy(), [0.1])



def test_gradient_rebuilds_tuple_types_as_tf_nest_does():
    import collections

    class Pair(tuple):
        pass
    Named = collections.namedtuple("Named", "a b")
    x, y = tf.Variable([1.0, 2.0]), tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as t:
        z = tf.reduce_sum(x * y)
    g = t.gradient(z, Pair([x, y]))
    assert type(g) is Pair and len(g) == 2
    np.testing.assert_array_equal(g[0].numpy(), [3.0, 3.0])
    assert g[1].numpy() == 3.0
    g = t.gradient(z, Pair([x]))      # was split into two scalars
    assert type(g) is Pair and len(g) == 1 and g[0].shape == (2,)
    g = t.gradient(z, Named(x, y))
    assert type(g) is Named and g.b.numpy() == 3.0


def test_an_argument_error_leaves_a_non_persistent_tape_usable():
    # TF checks gradient()'s arguments before it spends the tape
    x = tf.Variable(3.0)
    for bad in (dict(unconnected_gradients="zeros"),
                dict(output_gradients=[1.0, 2.0]),
                dict(sources="x")):
        with tf.GradientTape() as t:
            y = x * x
        kw = dict(target=y, sources=x)
        kw.update(bad)
        with pytest.raises((ValueError, TypeError)):
            t.gradient(**kw)
        assert t.gradient(y, x).numpy() == 6.0
        with pytest.raises(RuntimeError, match="non-persistent"):
            t.gradient(y, x)
