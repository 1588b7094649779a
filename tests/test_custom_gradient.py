"""tapegrad.custom_gradient: TF's eager contract, higher order, and what
happens when grad_fn raises (an exception or KeyboardInterrupt) mid-sweep.

Values are TF's documented ones (tf_semantics.md: the autodiff guide's
clip_gradients cell and custom_gradient's log1pexp docstring) or analytic.
"""
import gc
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _tapegrad as C


@tf.custom_gradient
def clip_gradients(y):
    def backward(dy):
        return tf.clip_by_norm(dy, 0.5)
    return y, backward


@tf.custom_gradient
def log1pexp(x):
    e = tf.exp(x)

    def grad(upstream):
        return upstream * (1 - 1 / (1 + e))
    return tf.math.log(1 + e), grad


def test_guide_clip_gradients_gives_2():
    # autodiff guide cell 16: the upstream 1 clipped to norm 0.5, times 4
    v = tf.Variable(2.0)
    with tf.GradientTape() as t:
        output = clip_gradients(v * v)
    g = t.gradient(output, v)
    assert str(g) == "tapegrad.Tensor(2.0, shape=(), dtype=float32)"
    assert float(output) == 4.0


def test_log1pexp_is_stable_where_the_plain_formula_is_not():
    x = tf.constant(100.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = log1pexp(x)
        naive = tf.math.log(1 + tf.exp(x))
    assert float(tape.gradient(y, x)) == 1.0
    assert math.isnan(float(tape.gradient(naive, x)))


def test_second_order_differentiates_grad_fn():
    for x0 in (-2.0, 0.0, 3.0):
        x = tf.constant(x0, dtype=tf.float64)
        with tf.GradientTape() as t2:
            t2.watch(x)
            with tf.GradientTape() as t1:
                t1.watch(x)
                y = log1pexp(x)
            g = t1.gradient(y, x)
        s = 1 / (1 + math.exp(-x0))
        assert float(g) == pytest.approx(s, rel=1e-12)
        assert float(t2.gradient(g, x)) == pytest.approx(s * (1 - s),
                                                          rel=1e-12)


def test_nested_custom_gradient_overrides_the_second_order():
    # TF's testOverrideSecondOrderWithCustomGradient
    @tf.custom_gradient
    def f(x):
        def first_order_grad(dz):
            @tf.custom_gradient
            def first_order_custom(unused_x):
                def h(ddz):
                    return -2.1 * ddz
                return -1.1, h
            return dz * first_order_custom(x)
        return x + 10.0, first_order_grad

    c = tf.constant(1.0)
    with tf.GradientTape() as outer:
        outer.watch(c)
        with tf.GradientTape() as inner:
            inner.watch(c)
            d = f(c) ** 4.0
        dd = inner.gradient(d, c)
        assert float(dd) == pytest.approx(4.0 * 11.0 ** 3 * -1.1)
    dd2 = outer.gradient(dd, c)
    # d/dc (4 (c+10)^3 * -1.1): the -1.1 factor's own gradient is -2.1
    # (custom), and (c+10)'s is -1.1 again (the first-order rule)
    want = (4.0 * 3 * 11.0 ** 2 * -1.1) * -1.1 + 4.0 * 11.0 ** 3 * -2.1
    assert float(dd2) == pytest.approx(want, rel=1e-5)


def test_several_inputs_and_outputs_match_the_automatic_gradient():
    @tf.custom_gradient
    def prod_and_sum(x, y):
        def grad(dp, ds):
            return dp * y + ds, dp * x + ds
        return (x * y, x + y), grad

    rng = np.random.default_rng(0)
    a = tf.constant(rng.normal(size=(3,)))
    b = tf.constant(rng.normal(size=(3,)))
    with tf.GradientTape(persistent=True) as t:
        t.watch([a, b])
        p, s = prod_and_sum(a, b)
        loss = tf.reduce_sum(p * p + 3.0 * s)
        p2, s2 = a * b, a + b
        loss2 = tf.reduce_sum(p2 * p2 + 3.0 * s2)
    got = t.gradient(loss, [a, b])
    want = t.gradient(loss2, [a, b])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12)


def test_an_output_the_target_ignores_gets_zeros():
    seen = {}

    @tf.custom_gradient
    def two(x):
        def grad(da, db):
            seen["db"] = db.numpy()
            return da + db
        return (2.0 * x, 3.0 * x), grad

    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as t:
        t.watch(x)
        a, _ = two(x)
        loss = tf.reduce_sum(a)
    np.testing.assert_array_equal(t.gradient(loss, x).numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(seen["db"], [0.0, 0.0])


def test_structures_go_in_and_out_as_in_tf():
    @tf.custom_gradient
    def f(pair, scale):
        x, y = pair
        def grad(upstream):
            # upstream has result's structure; one gradient per flat arg
            return [upstream["s"] * 2.0, upstream["s"] * 3.0, None]
        return {"s": 2.0 * x + 3.0 * y}, grad

    x, y = tf.constant(1.0), tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch([x, y])
        out = f((x, y), 7)
        assert sorted(out) == ["s"] and float(out["s"]) == 8.0
    gx, gy = t.gradient(out["s"], [x, y])
    assert (float(gx), float(gy)) == (2.0, 3.0)


def test_variables_read_inside_f():
    w = tf.Variable(3.0)

    @tf.custom_gradient
    def needs_variables_kwarg(x):
        def grad(dy):
            return dy * w
        return x * w, grad

    x = tf.constant(2.0)
    with pytest.raises(TypeError) as e:
        needs_variables_kwarg(x)
    assert str(e.value).startswith(
        "@tapegrad.custom_gradient grad_fn must accept keyword argument "
        "'variables', since function uses variables: [<tapegrad.Variable")

    @tf.custom_gradient
    def scaled(x):
        def grad(dy, variables=None):
            assert variables == [w] or variables[0] is w
            return dy * w, [dy * x * 10.0]
        return x * w, grad

    with tf.GradientTape() as t:
        t.watch(x)
        y = scaled(x)
    gx, gw = t.gradient(y, [x, w])
    assert (float(gx), float(gw)) == (3.0, 20.0)

    @tf.custom_gradient
    def wrong_count(x):
        def grad(dy, variables=None):
            return dy, []
        return x * w, grad

    with tf.GradientTape() as t:
        t.watch(x)
        y = wrong_count(x)
    with pytest.raises(ValueError, match="Must return gradient for each "
                       "variable from @custom_gradient grad_fn."):
        t.gradient(y, [x, w])


def test_a_variable_passed_as_an_argument_is_an_input():
    @tf.custom_gradient
    def double(v):
        def grad(dy):
            return 2.0 * dy
        return 2.0 * v, grad

    v = tf.Variable(1.5)
    with tf.GradientTape() as t:
        y = double(v)
    assert float(t.gradient(y, v)) == 2.0


def test_wrong_gradient_counts_shapes_and_dtypes_are_errors():
    def make(result_grad):
        @tf.custom_gradient
        def f(x):
            return 2.0 * x, lambda dy: result_grad(dy)
        return f

    x = tf.constant([1.0, 2.0])
    cases = [
        (lambda dy: [dy, dy], ValueError,
         "custom_gradient function expected to return 1 gradients, but "
         "returned 2 instead."),
        (lambda dy: [], ValueError,
         "custom_gradient function expected to return 1 gradients, but "
         "returned 0 instead."),
        (lambda dy: tf.ones([3]), ValueError,
         "custom_gradient: the gradient returned for input 0 has shape [3], "
         "but that input has shape [2]"),
        (lambda dy: tf.ones([2], dtype=tf.float64), TypeError,
         "custom_gradient: the gradient returned for input 0 has dtype "
         "float64, but that input has dtype float32"),
    ]
    for result_grad, exc, msg in cases:
        f = make(result_grad)
        with tf.GradientTape() as t:
            t.watch(x)
            y = f(x)
        with pytest.raises(exc) as e:
            t.gradient(y, x)
        assert msg in str(e.value)
    # None means "no gradient", as for any op
    f = make(lambda dy: None)
    with tf.GradientTape() as t:
        t.watch(x)
        y = f(x)
    assert t.gradient(y, x) is None


def test_outside_a_tape_it_is_just_the_function():
    x = tf.constant([0.0, 1.0])
    y = log1pexp(x)
    np.testing.assert_allclose(y.numpy(), np.log1p(np.exp([0.0, 1.0])),
                               rtol=1e-6)
    assert clip_gradients(3.0).numpy() == 3.0


def test_bad_row_attributes_name_the_op():
    x = tf.constant(1.0)
    with pytest.raises(TypeError, match="custom_gradient: Value passed to "
                       "parameter 'num_inputs' has DataType string"):
        C._call("custom_gradient", [x, x], num_inputs="1")
    with pytest.raises(ValueError, match=r"custom_gradient: num_inputs must "
                       r"be in \[0, 2\], got 3"):
        C._call("custom_gradient", [x, x], num_inputs=3)
    with pytest.raises(TypeError, match="custom_gradient: grad_fn must be "
                       "callable, not int"):
        C._call("custom_gradient", [x, x], num_inputs=1, grad_fn=7)


def test_too_many_outputs_is_a_clear_error():
    @tf.custom_gradient
    def many(x):
        return [x * float(i) for i in range(5)], lambda *dys: dys[0]

    with pytest.raises(ValueError, match="must return between 1 and 4 "
                       "tensors, got 5"):
        many(tf.constant(1.0))


def test_grad_fn_closing_over_its_tape_is_collected():
    before = C._live_counts()
    for _ in range(3):
        x = tf.constant(2.0)
        t = tf.GradientTape(persistent=True)

        @tf.custom_gradient
        def f(x):
            def grad(dy):
                grad.tape = t       # a cycle: tape -> entry -> grad -> tape
                return dy * 3.0
            return 3.0 * x, grad

        with t:
            t.watch(x)
            y = f(x)
        assert float(t.gradient(y, x)) == 3.0
        del t, x, y, f
    gc.collect()
    assert C._live_counts() == before


def test_exceptions_from_grad_fn_propagate_and_leave_a_usable_tape():
    calls = {"n": 0}

    @tf.custom_gradient
    def flaky(x):
        def grad(dy):
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("grad_fn failed")
            return dy * 2.0
        return 2.0 * x, grad

    x = tf.constant(1.5)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x
        for _ in range(3):
            y = tf.sin(flaky(y))
    with pytest.raises(RuntimeError, match="grad_fn failed"):
        t.gradient(y, x)
    # the retry runs every grad_fn again and gets the whole chain's value
    g = float(t.gradient(y, x))
    v, want = 1.5, 1.0
    for _ in range(3):
        want *= 2.0 * math.cos(2.0 * v)
        v = math.sin(2.0 * v)
    assert g == pytest.approx(want, rel=1e-6)

    # a non-persistent tape is used up by the failed call, as in TF
    calls["n"] = 0
    with tf.GradientTape() as t:
        t.watch(x)
        y = flaky(x)
    with pytest.raises(RuntimeError, match="grad_fn failed"):
        t.gradient(y, x)
    with pytest.raises(RuntimeError):
        t.gradient(y, x)


KEYBOARD_INTERRUPT = r'''
import gc, math, sys
import tapegrad as tf
from tapegrad import _tapegrad as C

base = C._live_counts()
state = {"n": 0, "raise_at": None}

@tf.custom_gradient
def step(x):
    def grad(dy):
        state["n"] += 1
        if state["n"] == state["raise_at"]:
            raise KeyboardInterrupt("Ctrl-C in grad_fn")
        return dy * 0.5
    return 0.5 * x, grad

def chain(persistent, n=1000):
    x = tf.constant(0.3, dtype=tf.float64)
    t = tf.GradientTape(persistent=persistent)
    with t:
        t.watch(x)
        y = x
        for i in range(n):
            y = tf.sin(y) + 0.1
            if i % 10 == 0:
                y = step(y)
    return t, x, y

t, x, y = chain(True)
state["raise_at"] = None
want = float(t.gradient(y, x))
assert want != 0 and math.isfinite(want)
del t, x, y

for persistent in (False, True):
    for raise_at in (1, 50, 100):
        state["n"], state["raise_at"] = 0, raise_at
        t, x, y = chain(persistent)
        try:
            t.gradient(y, x)
        except KeyboardInterrupt as e:
            assert str(e) == "Ctrl-C in grad_fn", e
        else:
            raise AssertionError("KeyboardInterrupt was swallowed")
        assert state["n"] == raise_at, state
        if persistent:
            state["raise_at"] = None
            assert float(t.gradient(y, x)) == want
        else:
            try:
                t.gradient(y, x)
            except RuntimeError:
                pass
            else:
                raise AssertionError("a used-up tape computed again")
        del t, x, y
        gc.collect()
        # the interrupted sweep left no tape recording and nothing alive
        assert C._live_counts() == base, (C._live_counts(), base)
        with tf.GradientTape() as t:
            x = tf.constant(2.0)
            t.watch(x)
            y = x * x
        assert float(t.gradient(y, x)) == 4.0
        del t, x, y
gc.collect()
assert C._live_counts() == base, (C._live_counts(), base)
print("ok")
'''


@pytest.mark.no_refleak_check(reason="runs a child process that checks its "
                              "own live counts")
def test_keyboard_interrupt_from_grad_fn_mid_sweep():
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c",
                        KEYBOARD_INTERRUPT], capture_output=True, text=True,
                       timeout=300,
                       cwd=os.path.dirname(os.path.abspath(__file__)))
    assert p.returncode == 0, (p.returncode, p.stdout[-2000:],
                               p.stderr[-3000:])
    assert p.stdout.strip() == "ok"


def test_grad_fn_may_take_variables_in_any_form_python_allows():
    import functools
    w = tf.Variable(4.0)

    class Rule:
        def bound(self, dy, variables=None):
            return dy * w, [dy * 0.5]

        def __call__(self, dy, **kw):
            return dy * w, [dy * 0.25]

    def keyword_only(dy, *, variables):
        return dy * w, [dy * 0.125]

    def plain(dy, variables, scale):
        return dy * w * scale, [dy * scale]

    for grad_fn, want in [(Rule().bound, 0.5), (Rule(), 0.25),
                          (keyword_only, 0.125),
                          (functools.partial(plain, scale=2.0), 2.0)]:
        @tf.custom_gradient
        def f(x):
            return x * w, grad_fn
        x = tf.constant(1.0)
        with tf.GradientTape() as t:
            t.watch(x)
            y = f(x)
        gx, gw = t.gradient(y, [x, w])
        assert float(gw) == want and float(gx) == 4.0 * (
            want if want == 2.0 else 1.0)


def test_a_method_with_a_custom_gradient_binds_self():
    class Layer:
        def __init__(self):
            self.scale = 3.0

        @tf.custom_gradient
        def forward(self, x):
            def grad(dy):
                return dy * self.scale * 10.0
            return x * self.scale, grad

    layer = Layer()
    x = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = layer.forward(x)
    assert float(y) == 6.0
    assert float(t.gradient(y, x)) == 30.0
    assert Layer.forward.__name__ == "forward"
    assert layer.forward.__name__ == "forward"
    assert log1pexp.__name__ == "log1pexp"


def test_grad_fn_with_variables_must_return_a_pair_with_a_list():
    # (dy, None) was "object of type 'NoneType' has no len()"
    x, w = tf.Variable(2.0), tf.Variable(3.0)
    for ret in (lambda dy: (dy, None), lambda dy: dy,
                lambda dy: (dy, [dy], dy)):
        @tf.custom_gradient
        def f(x):
            def g(dy, variables=None):
                return ret(dy)
            return x * w, g
        with tf.GradientTape() as t:
            y = f(x)
        with pytest.raises(TypeError, match="custom_gradient: a grad_fn that "
                           "takes `variables` must return"):
            t.gradient(y, [x, w])
