"""tapegrad.keras.optimizers against Keras 3's update formulas
(keras_semantics.md, "Optimizers"), computed here in NumPy in the
variable's dtype with Keras' order of operations, step by step (the
learning rate is a float32 Variable, as Keras 3's, cast to the variable's
dtype); apply_gradients'
bookkeeping (None gradients, clipping, weight decay, schedules,
iterations), the in-place update, and what bad input raises without
changing any variable."""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tf

opt = tf.keras.optimizers
F32 = np.float32


# ---- reference steps (one variable), Keras 3's expressions -------------------
def ref_sgd(p, g, state, t, lr, momentum=0.0, nesterov=False, wd=0.0):
    dt = p.dtype.type
    lr, mu = dt(F32(lr)), dt(momentum)
    if wd:
        p = p - p * dt(wd) * lr
    if momentum == 0:
        return p - g * lr
    m = state.setdefault("m", np.zeros_like(p))
    m[...] = m * mu - g * lr
    return p + (m * mu - g * lr if nesterov else m)


def ref_adam(p, g, state, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
             amsgrad=False, wd=0.0):
    dt = p.dtype.type
    lr = dt(F32(lr))
    if wd:
        p = p - p * dt(wd) * lr
    # TF's Pow is libm's pow/powf (correctly rounded here); NumPy's power
    # multiplies out small integer exponents, which can differ in the last
    # bit (0.9f ** 4)
    b1p = dt(math.pow(float(dt(beta_1)), t))
    b2p = dt(math.pow(float(dt(beta_2)), t))
    alpha = lr * np.sqrt(dt(1) - b2p) / (dt(1) - b1p)
    m = state.setdefault("m", np.zeros_like(p))
    v = state.setdefault("v", np.zeros_like(p))
    m += (g - m) * dt(1 - beta_1)
    v += (g * g - v) * dt(1 - beta_2)
    vv = v
    if amsgrad:
        vh = state.setdefault("vhat", np.zeros_like(p))
        vh[...] = np.maximum(vh, v)
        vv = vh
    return p - (m * alpha) / (np.sqrt(vv) + dt(epsilon))


def ref_rmsprop(p, g, state, t, lr, rho=0.9, momentum=0.0, epsilon=1e-7,
                centered=False, wd=0.0):
    dt = p.dtype.type
    lr, r, mu, eps = dt(F32(lr)), dt(rho), dt(momentum), dt(epsilon)
    vel = state.setdefault("vel", np.zeros_like(p))
    vel[...] = r * vel + dt(1 - rho) * (g * g)
    if centered:
        a = state.setdefault("avg", np.zeros_like(p))
        a[...] = r * a + dt(1 - rho) * g
        den = vel - a * a + eps
    else:
        den = vel + eps
    inc = (lr * g) / np.sqrt(den)
    if momentum > 0:
        m = state.setdefault("m", np.zeros_like(p))
        m[...] = mu * m + inc
        return p - m
    return p - inc


def ref_adagrad(p, g, state, t, lr, initial_accumulator_value=0.1,
                epsilon=1e-7, wd=0.0):
    dt = p.dtype.type
    acc = state.setdefault("acc", np.full_like(p, initial_accumulator_value))
    acc += g * g
    return p - (dt(F32(lr)) * g) / np.sqrt(acc + dt(epsilon))


CASES = [
    (opt.SGD, ref_sgd, {"learning_rate": 0.1}),
    (opt.SGD, ref_sgd, {"learning_rate": 0.05, "momentum": 0.9}),
    (opt.SGD, ref_sgd, {"learning_rate": 0.05, "momentum": 0.9,
                        "nesterov": True}),
    (opt.Adam, ref_adam, {}),
    (opt.Adam, ref_adam, {"learning_rate": 0.01, "beta_1": 0.8,
                          "beta_2": 0.99, "epsilon": 1e-3}),
    (opt.Adam, ref_adam, {"learning_rate": 0.01, "amsgrad": True}),
    (opt.RMSprop, ref_rmsprop, {}),
    (opt.RMSprop, ref_rmsprop, {"learning_rate": 0.01, "momentum": 0.5,
                                "centered": True}),
    (opt.RMSprop, ref_rmsprop, {"rho": 0.8, "centered": True}),
    (opt.Adagrad, ref_adagrad, {"learning_rate": 0.1}),
]


def _keras_kwargs(kw):
    return {k: v for k, v in kw.items()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls,ref,kw", CASES,
                         ids=["%s-%d" % (c[0].__name__, i)
                              for i, c in enumerate(CASES)])
def test_steps_follow_keras_formulas(cls, ref, kw, dtype, rng):
    # 63 elements: the kernels' vector body and their scalar tail
    p0 = rng.standard_normal((7, 9)).astype(dtype)
    b0 = rng.standard_normal(4).astype(dtype)
    w, b = tf.Variable(p0), tf.Variable(b0)
    o = cls(**kw)
    lr = kw.get("learning_rate", 0.01 if cls is opt.SGD else 0.001)
    rkw = {k: v for k, v in kw.items() if k != "learning_rate"}
    pw, pb, sw, sb = p0.copy(), b0.copy(), {}, {}
    for t in range(1, 6):
        gw = rng.standard_normal((7, 9)).astype(dtype)
        gb = rng.standard_normal(4).astype(dtype)
        o.apply_gradients([(tf.constant(gw), w), (tf.constant(gb), b)])
        pw = ref(pw, gw, sw, t, lr, **rkw)
        pb = ref(pb, gb, sb, t, lr, **rkw)
        # the same float operations in the same order give the same bits;
        # float64 allows libm's pow (bias correction) its last bit
        same = (np.testing.assert_array_equal if dtype is np.float32 else
                lambda x, y: np.testing.assert_array_max_ulp(x, y, 4))
        same(w.numpy(), pw)
        same(b.numpy(), pb)
        assert w.dtype == tf.as_dtype(dtype)
    assert int(o.iterations) == 5 and o.iterations.dtype == tf.int64


def test_adamw_decays_before_the_adam_step(rng):
    p0 = rng.standard_normal(5).astype(F32)
    v = tf.Variable(p0)
    o = opt.AdamW(learning_rate=0.01)
    assert o.weight_decay == 0.004
    p, st = p0.copy(), {}
    for t in range(1, 4):
        g = rng.standard_normal(5).astype(F32)
        o.apply_gradients([(tf.constant(g), v)])
        p = ref_adam(p, g, st, t, 0.01, wd=0.004)
    np.testing.assert_allclose(v.numpy(), p, rtol=4e-7)


def test_weight_decay_on_sgd(rng):
    p0 = rng.standard_normal(4).astype(F32)
    v = tf.Variable(p0)
    g = rng.standard_normal(4).astype(F32)
    opt.SGD(0.1, weight_decay=0.5).apply_gradients([(tf.constant(g), v)])
    np.testing.assert_allclose(v.numpy(), ref_sgd(p0, g, {}, 1, 0.1, wd=0.5),
                               rtol=4e-7)


def test_the_first_adam_step_is_lr_times_the_sign():
    # m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1: the step is
    # lr * g / (|g| + eps / sqrt(0.001)) ~ lr * sign(g)
    v = tf.Variable([1.0, -2.0])
    opt.Adam(0.5).apply_gradients([(tf.constant([3.0, -4.0]), v)])
    np.testing.assert_allclose(v.numpy(), [0.5, -1.5], rtol=1e-5)


def test_none_gradients_are_skipped_with_keras_warning():
    a, b = tf.Variable([1.0]), tf.Variable([2.0], name="b")
    o = opt.SGD(1.0)
    with pytest.warns(UserWarning, match=r"Gradients do not exist for "
                                         r"variables \['b:0'\]"):
        o.apply_gradients([(tf.constant([0.5]), a), (None, b)])
    assert a.numpy()[0] == 0.5 and b.numpy()[0] == 2.0
    with pytest.raises(ValueError, match="No gradients provided for any "
                                         "variable."):
        o.apply_gradients([(None, a)])
    assert int(o.iterations) == 1


def test_numpy_gradients_step_as_tensors_do(rng):
    # gradients that come back from another process as NumPy arrays
    # (tests/test_ray_data_parallel.py); `None in grads` once compared
    # them elementwise and raised
    g = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    for cls in (opt.SGD, opt.Adam):
        as_arrays = [tf.Variable(np.ones((3, 2))), tf.Variable(np.ones(2))]
        as_tensors = [tf.Variable(np.ones((3, 2))), tf.Variable(np.ones(2))]
        cls(0.1).apply_gradients(zip(g, as_arrays))
        cls(0.1).apply_gradients(zip(map(tf.constant, g), as_tensors))
        for a, t in zip(as_arrays, as_tensors):
            assert np.array_equal(a.numpy(), t.numpy())
    a, b = tf.Variable(np.ones(2)), tf.Variable(np.ones(2))
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.SGD(1.0).apply_gradients([(np.full(2, 0.5), a), (None, b)])
    assert a.numpy().tolist() == [0.5, 0.5] and b.numpy().tolist() == [1, 1]


def test_clipping_by_norm_global_norm_and_value():
    g = tf.constant([3.0, 4.0])                 # norm 5
    v = tf.Variable([0.0, 0.0])
    opt.SGD(1.0, clipnorm=1.0).apply_gradients([(g, v)])
    np.testing.assert_allclose(v.numpy(), [-0.6, -0.8], rtol=1e-6)
    v1, v2 = tf.Variable([0.0, 0.0]), tf.Variable([0.0])
    o = opt.SGD(1.0, global_clipnorm=6.5)       # global norm 13
    o.apply_gradients([(g, v1), (tf.constant([12.0]), v2)])
    np.testing.assert_allclose(v1.numpy(), [-1.5, -2.0], rtol=1e-6)
    np.testing.assert_allclose(v2.numpy(), [-6.0], rtol=1e-6)
    v = tf.Variable([0.0, 0.0])
    opt.SGD(1.0, clipvalue=3.5).apply_gradients([(g, v)])
    np.testing.assert_allclose(v.numpy(), [-3.0, -3.5])
    v = tf.Variable([1.0])
    opt.SGD(1.0, clipnorm=1.0).apply_gradients([(tf.constant([0.0]), v)])
    assert v.numpy()[0] == 1.0                  # a zero gradient stays zero
    with pytest.raises(ValueError, match="Only one of `clipnorm`, "
                                         "`clipvalue` and `global_clipnorm`"):
        opt.SGD(clipnorm=1.0, clipvalue=1.0)


def test_schedules_are_read_before_the_increment():
    sched = opt.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    o = opt.SGD(sched)
    v = tf.Variable([0.0])
    for _ in range(3):
        o.apply_gradients([(tf.constant([1.0]), v)])
    # steps 0, 1, 2: lr 0.1, 0.1 * 0.5 ** 0.5, 0.05
    want = -(0.1 + 0.1 * 0.5 ** 0.5 + 0.05)
    np.testing.assert_allclose(v.numpy(), [want], rtol=1e-6)
    stair = opt.schedules.ExponentialDecay(1.0, 2, 0.5, staircase=True)
    assert [float(stair(s)) for s in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    pw = opt.schedules.PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.1])
    assert [float(pw(s)) for s in range(6)] == pytest.approx(
        [1.0, 1.0, 1.0, 0.5, 0.5, 0.1])
    it = opt.schedules.InverseTimeDecay(1.0, 1, 0.5)
    assert float(it(2)) == pytest.approx(0.5)
    cd = opt.schedules.CosineDecay(1.0, 10, alpha=0.1)
    assert float(cd(5)) == pytest.approx(0.55, rel=1e-6)
    assert float(cd(20)) == pytest.approx(0.1, rel=1e-6)
    with pytest.raises(ValueError, match="length of boundaries should be 1 "
                                         "less than the length of values"):
        opt.schedules.PiecewiseConstantDecay([1, 2], [1.0])


def test_learning_rate_is_a_variable_that_can_be_set():
    o = opt.Adam(0.01)
    assert isinstance(o.learning_rate, tf.Variable)
    np.testing.assert_allclose(float(o.learning_rate), 0.01, rtol=1e-7)
    o.learning_rate = 0.5
    np.testing.assert_allclose(float(o.learning_rate), 0.5)
    assert [x.name for x in o.variables] == ["iteration", "learning_rate"]
    v = tf.Variable([1.0], name="w")
    o.apply_gradients([(tf.constant([1.0]), v)])
    assert [x.name for x in o.variables] == [
        "iteration", "learning_rate", "w_momentum", "w_velocity"]


def test_minimize_with_a_callable_or_a_tape():
    v = tf.Variable(3.0)
    o = opt.SGD(0.25)
    o.minimize(lambda: v * v, [v])              # g = 6
    assert float(v) == pytest.approx(1.5)
    with tf.GradientTape() as tape:
        loss = v * v
    o.minimize(loss, [v], tape=tape)            # g = 3
    assert float(v) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="`tape` is required"):
        o.minimize(v * v, [v])


def test_the_update_is_in_place_and_copies_when_shared():
    v = tf.Variable(np.ones(1000, np.float32))
    o = opt.SGD(0.5)
    o.apply_gradients([(tf.ones(1000), v)])     # first step may copy
    before = id(v.read_value())
    o.apply_gradients([(tf.ones(1000), v)])
    assert id(v.read_value()) == before         # written in place
    kept = v.read_value()                       # a reader holds the value:
    o.apply_gradients([(tf.ones(1000), v)])     # copy on write
    assert kept.numpy()[0] == 0.0 and v.numpy()[0] == -0.5
    with tf.GradientTape() as tape:             # the tape saved the value
        y = tf.reduce_sum(v * v)
    o.apply_gradients([(tf.ones(1000), v)])
    np.testing.assert_allclose(tape.gradient(y, v).numpy()[:2], [-1.0, -1.0])


def test_nothing_is_recorded():
    v = tf.Variable([1.0])
    o = opt.Adam()
    with tf.GradientTape() as tape:
        o.apply_gradients([(tf.constant([1.0]), v)])
        assert tape._num_entries == 0


def test_bad_input_changes_no_variable():
    a, b = tf.Variable([1.0, 2.0]), tf.Variable([3.0], name="b")
    o = opt.Adam(0.1)
    with pytest.raises(ValueError, match=r"the gradient for variable 'b:0' "
                                         r"has shape \[2\]"):
        o.apply_gradients([(tf.constant([1.0, 1.0]), a),
                           (tf.constant([1.0, 1.0]), b)])
    with pytest.raises(TypeError, match="expected a tapegrad.Variable"):
        o.apply_gradients([(tf.constant([1.0, 1.0]), a),
                           (tf.constant([1.0]), tf.constant([3.0]))])
    with pytest.raises(ValueError, match=r"Argument `grads` and "
                       r"`trainable_variables` must have the same length. "
                       r"Received: len\(grads\)=3, len\(trainable_variables\)"
                       r"=2"):
        o.apply([tf.constant([1.0, 1.0])] * 3, [a, b])
    with pytest.raises(TypeError, match="has dtype int32; the optimizers "
                                        "update float32 and float64"):
        o.apply_gradients([(tf.constant([1]), tf.Variable([1]))])
    assert a.numpy().tolist() == [1.0, 2.0] and b.numpy().tolist() == [3.0]
    assert int(o.iterations) == 0


def test_get_by_name():
    assert isinstance(opt.get("adam"), opt.Adam)
    assert isinstance(opt.get("SGD"), opt.SGD)
    o = opt.RMSprop()
    assert opt.get(o) is o
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        opt.get("adamax2")


def test_defaults_are_keras():
    a = opt.Adam()
    assert (a.beta_1, a.beta_2, a.epsilon, a.amsgrad) == (0.9, 0.999, 1e-7,
                                                          False)
    np.testing.assert_allclose(float(a.learning_rate), 0.001, rtol=1e-7)
    np.testing.assert_allclose(float(opt.SGD().learning_rate), 0.01,
                               rtol=1e-7)
    r = opt.RMSprop()
    assert (r.rho, r.momentum, r.epsilon, r.centered) == (0.9, 0.0, 1e-7,
                                                          False)
    assert opt.Adagrad().initial_accumulator_value == 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.SGD()


def test_a_subclass_defines_its_own_update_step():
    class SignSGD(opt.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            variable.assign_sub(tf.sign(gradient) * learning_rate)

    v = tf.Variable([1.0, 1.0])
    o = SignSGD(learning_rate=0.5)
    o.apply_gradients([(tf.constant([3.0, -0.1]), v)])
    assert v.numpy().tolist() == [0.5, 1.5] and int(o.iterations) == 1
    with pytest.raises(NotImplementedError, match="update_step"):
        opt.Optimizer(0.1).apply_gradients([(tf.constant([1.0]), v)])
