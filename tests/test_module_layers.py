"""tf.Module, tf.keras.layers.Dense and BatchNormalization, as the two
autodiff guides use them (tf_semantics.md §2), with values checked
against NumPy and Keras 3's formulas (keras_semantics.md)."""
import numpy as np
import pytest

import tapegrad as tf


# ---- tf.Module --------------------------------------------------------------------
class Inner(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(1.0, name="w")
        self.frozen = tf.Variable(0.0, name="frozen", trainable=False)


class Outer(tf.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.z = tf.Variable(2.0, name="z")
        self.inner = Inner()
        self.parts = [tf.Variable(3.0, name="p0"),
                      {"b": tf.Variable(4.0, name="b"),
                       "a": tf.Variable(5.0, name="a")}]
        self.same = self.z                    # tracked once
        self.number = 3


def test_module_finds_variables_in_tf_order():
    m = Outer()
    assert m.name == "outer" and Inner().name == "inner"
    assert tf.Module().name == "module"
    # own leaves by sorted attribute (inner is a module: after), lists in
    # order, dicts by sorted key; then the submodule's
    assert [v.name for v in m.variables] == [
        "p0:0", "a:0", "b:0", "z:0", "frozen:0", "w:0"]
    assert [v.name for v in m.trainable_variables] == [
        "p0:0", "a:0", "b:0", "z:0", "w:0"]
    assert m.submodules == (m.inner,)
    assert Outer(name="custom").name == "custom"
    with pytest.raises(ValueError, match="not a valid module name"):
        tf.Module(name="a b")


def test_gradients_through_a_module():
    m = Outer()
    with tf.GradientTape() as t:
        y = m.z * m.inner.w * m.parts[0]
    g = t.gradient(y, m.trainable_variables)
    got = {v.name: (None if gi is None else float(gi))
           for v, gi in zip(m.trainable_variables, g)}
    assert got == {"p0:0": 2.0, "a:0": None, "b:0": None, "z:0": 3.0,
                   "w:0": 6.0}


# ---- Dense -------------------------------------------------------------------------
def test_dense_builds_on_first_call_and_computes(rng):
    tf.random.set_seed(1)
    layer = tf.keras.layers.Dense(2, activation="relu")
    assert layer.kernel is None and not layer.built
    x = tf.constant([[1.0, 2.0, 3.0]])
    y = layer(x)
    assert layer.built and layer.kernel.shape == (3, 2)
    assert layer.bias.shape == (2,)
    k, b = layer.kernel.numpy(), layer.bias.numpy()
    np.testing.assert_allclose(y.numpy(), np.maximum(x.numpy() @ k + b, 0),
                               rtol=1e-6)
    assert not b.any()                                   # zeros
    limit = np.sqrt(6.0 / (3 + 2))                       # glorot_uniform
    assert np.all(np.abs(k) <= limit)
    assert [v.name for v in layer.trainable_variables] == ["kernel",
                                                           "bias"]


def test_the_guides_dense_cells():
    # autodiff guide cells 21-22 and advanced guide cells 30-32, 44-50
    layer = tf.keras.layers.Dense(2, activation="relu")
    x = tf.constant([[1.0, 2.0, 3.0]])
    with tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_mean(y ** 2)
    grad = tape.gradient(loss, layer.trainable_variables)
    assert [f"{v.name}, shape: {g.shape}" for v, g in zip(
        layer.trainable_variables, grad)] == [
        "kernel, shape: (3, 2)", "bias, shape: (2,)"]

    x = tf.random.normal([7, 5])
    layer = tf.keras.layers.Dense(10, activation=tf.nn.relu)
    with tf.GradientTape() as t2:
        with tf.GradientTape(watch_accessed_variables=False) as t1:
            t1.watch(x)
            out = tf.reduce_sum(layer(x) ** 2)
        g1 = t1.gradient(out, x)
        g1_mag = tf.norm(g1)
    dg1_mag = t2.gradient(g1_mag, layer.trainable_variables)
    assert repr([v.shape for v in dg1_mag]) == (
        "[TensorShape([5, 10]), TensorShape([10])]")

    with tf.GradientTape(persistent=True) as tape:
        y = layer(x)
    assert repr(y.shape) == "TensorShape([7, 10])"
    j = tape.jacobian(y, layer.kernel)
    assert repr(j.shape) == "TensorShape([7, 10, 5, 10])"
    g = tape.gradient(y, layer.kernel)
    assert float(tf.reduce_max(tf.abs(g - tf.reduce_sum(j, axis=[0, 1])))) < 1e-3


def test_dense_options_and_errors():
    layer = tf.keras.layers.Dense(3, use_bias=False,
                                  kernel_initializer="ones",
                                  activation=lambda t: t * 2.0)
    y = layer(tf.ones([2, 4]))
    np.testing.assert_array_equal(y.numpy(), np.full((2, 3), 8.0))
    assert layer.bias is None and len(layer.trainable_variables) == 1
    y3 = tf.keras.layers.Dense(2, kernel_initializer="ones")(tf.ones([2, 3, 4]))
    assert y3.shape == (2, 3, 2)
    with pytest.raises(ValueError, match="units"):
        tf.keras.layers.Dense(0)
    with pytest.raises(ValueError, match="activation"):
        tf.keras.layers.Dense(2, activation="nope")
    with pytest.raises(ValueError, match="initializer"):
        tf.keras.layers.Dense(2, kernel_initializer="nope")
    d = tf.keras.layers.Dense(2)
    d(tf.ones([1, 3]))
    with pytest.raises(ValueError, match="incompatible"):
        d(tf.ones([1, 4]))


def test_a_module_holding_layers_finds_their_variables():
    class Net(tf.Module):
        def __init__(self):
            super().__init__()
            self.l1 = tf.keras.layers.Dense(4)
            self.l2 = tf.keras.layers.Dense(1)

        def __call__(self, x):
            return self.l2(self.l1(x))

    net = Net()
    net(tf.ones([2, 3]))
    assert [tuple(v.shape) for v in net.trainable_variables] == [
        (3, 4), (4,), (4, 1), (1,)]


# ---- BatchNormalization ---------------------------------------------------------
def test_batch_normalization_training_and_inference(rng):
    x = rng.standard_normal((7, 6)).astype(np.float32) * 3 + 1
    bn = tf.keras.layers.BatchNormalization()
    y = bn(tf.constant(x), training=True)
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y.numpy(), (x - mean) / np.sqrt(var + 1e-3),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.01 * mean,
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bn.moving_variance.numpy(),
                               0.99 + 0.01 * var, rtol=1e-5)
    y2 = bn(tf.constant(x))                         # inference
    want = ((x - bn.moving_mean.numpy())
            / np.sqrt(bn.moving_variance.numpy() + 1e-3))
    np.testing.assert_allclose(y2.numpy(), want, rtol=1e-5, atol=1e-6)
    assert [v.name for v in bn.variables] == [
        "gamma", "beta", "moving_mean", "moving_variance"]
    assert [v.name for v in bn.trainable_variables] == ["gamma", "beta"]


def test_the_guides_batch_norm_jacobian_cell(rng):
    # advanced guide cell 79: BatchNormalization(training=True) in the
    # middle; the jacobian's (batch, batch) slices are not diagonal
    x = tf.constant(rng.standard_normal((7, 5)).astype(np.float32))
    layer1 = tf.keras.layers.Dense(8, activation=tf.nn.elu)
    bn = tf.keras.layers.BatchNormalization()
    layer2 = tf.keras.layers.Dense(6, activation=tf.nn.elu)
    with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
        tape.watch(x)
        y = layer2(bn(layer1(x), training=True))
    j = tape.jacobian(y, x)
    assert j.shape == (7, 6, 7, 5)
    off = j.numpy().copy()
    for b in range(7):
        off[b, :, b, :] = 0
    assert np.abs(off).max() > 1e-6
    jb = tape.batch_jacobian(y, x)
    assert jb.shape == (7, 6, 5)
