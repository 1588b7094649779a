"""The Keras layers training code needs beyond Dense and BatchNormalization
(tests/test_module_layers.py): Dropout, LayerNormalization, Embedding,
Flatten, Activation, ReLU, Softmax, and Layer.__call__'s `training`
handling.  Values against Keras 3's formulas in NumPy float64; gradients
with tapegrad.test.check_gradients (second order included) and forward
mode; Keras' error messages."""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad.test import check_gradients

L = tf.keras.layers


def test_every_layer_is_exported():
    for name in ("Dropout", "LayerNormalization", "Embedding", "Flatten",
                 "Activation", "ReLU", "Softmax", "Dense",
                 "BatchNormalization", "Layer"):
        assert name in L.__all__ and hasattr(L, name)


# ---- training= in Layer.__call__ -----------------------------------------------------
class Recorder(L.Layer):
    def call(self, inputs, training=None):
        self.seen = training
        return inputs


class KeywordOnly(L.Layer):
    def call(self, inputs, *, training=True):
        self.seen = training
        return inputs


class Holder(L.Layer):
    """A call without `training`: its sublayers inherit the flag."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def call(self, inputs):
        return self.inner(inputs)


def test_training_goes_to_call_only_when_it_takes_it():
    x = tf.ones([2, 3])
    d = L.Dense(2)
    d(x, training=True)                  # Dense.call has no `training`
    d(x, training=False)
    r = Recorder()
    r(x)
    assert r.seen is None                # call's default
    r(x, training=True)
    assert r.seen is True
    r(x, False)                          # positionally
    assert r.seen is False
    with pytest.raises(TypeError, match="multiple values for argument "
                                        "'training'"):
        r(x, True, training=True)
    k = KeywordOnly()
    k(x)
    assert k.seen is True                # its default
    k(x, training=False)
    assert k.seen is False
    slot = type(r).__dict__["_tg_training_slot"]      # read once, kept
    assert slot == (True, 0, None)
    assert L.Dense.__dict__["_tg_training_slot"][0] is False


def test_training_propagates_to_nested_layers_and_is_restored():
    x = tf.ones([2, 3])
    rec = Recorder()
    outer = Holder(rec)
    outer(x, training=True)
    assert rec.seen is True
    outer(x)
    assert rec.seen is None
    nested = Holder(Holder(rec))
    nested(x, training=False)
    assert rec.seen is False

    class Override(L.Layer):           # an explicit value wins inside
        def __init__(self):
            super().__init__()
            self.rec = Recorder()
            self.sibling = Recorder()

        def call(self, inputs, training=None):
            return self.sibling(self.rec(inputs, training=False))

    o = Override()
    o(x, training=True)
    assert o.rec.seen is False
    assert o.sibling.seen is True      # the override ended with its call
    rec(x)                             # the context ended with the call
    assert rec.seen is None

    drop = Holder(L.Dropout(0.5, seed=1))
    y = drop(tf.ones([50]), training=True).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}
    np.testing.assert_array_equal(drop(tf.ones([50])).numpy(), np.ones(50))


def test_a_raising_call_restores_the_training_context():
    class Boom(L.Layer):
        def call(self, inputs):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        Boom()(tf.ones([1]), training=True)
    rec = Recorder()
    rec(tf.ones([1]))
    assert rec.seen is None


@pytest.mark.parametrize("make", [
    lambda: L.Dense(2), lambda: L.Conv2D(1, 1), lambda: L.Dropout(0.5),
    lambda: L.BatchNormalization(), lambda: L.LayerNormalization(),
    lambda: L.Flatten(), lambda: L.ReLU(), lambda: L.Softmax(),
    lambda: L.Activation("tanh")])
def test_one_tensor_layers_refuse_a_structure_of_several(make):
    # Keras' InputSpec check; a list of one is unwrapped
    layer = make()
    x = tf.ones([2, 3, 3, 3])
    for bad, n in (([x, x], 2), ({"a": x, "b": x, "c": x}, 3),
                   ((x, [x, np.ones(3)]), 3)):
        with pytest.raises(ValueError) as info:
            layer(bad)
        assert str(info.value).startswith(
            'Layer "%s" expects 1 input(s), but it received %d input '
            "tensors. Inputs received: " % (layer.name, n))
    np.testing.assert_array_equal(layer([x]).numpy(), layer(x).numpy())


def test_a_users_layer_takes_any_structure():
    class Add(L.Layer):
        def call(self, inputs):
            return inputs[0] + inputs[1]

    np.testing.assert_array_equal(
        Add()([tf.ones([2]), tf.ones([2])]).numpy(), [2.0, 2.0])


def test_floating_inputs_are_cast_to_the_layers_dtype():
    x = tf.constant(np.ones((2, 3)))                 # float64
    assert L.Dense(2)(x).dtype == tf.float32
    assert L.Dense(2, dtype="float64")(x).dtype == tf.float64
    assert L.Activation("relu")(x).dtype == tf.float32
    assert L.Dense(2)(np.ones((2, 3))).dtype == tf.float32


# ---- Dropout ----------------------------------------------------------------------------
def test_dropout_is_the_identity_unless_training(rng):
    x = tf.constant(rng.standard_normal((4, 5)).astype(np.float32))
    d = L.Dropout(0.5, seed=3)
    assert d.built
    for training in (None, False, 0):
        assert d(x, training=training) is x
    assert d(x) is x
    np.testing.assert_array_equal(d(x.numpy()).numpy(), x.numpy())
    assert L.Dropout(0.0)(x, training=True) is x


def test_dropout_keeps_1_minus_rate_and_scales_exactly(rng):
    rate = 0.3
    x = rng.uniform(0.5, 2.0, (200, 100)).astype(np.float32)
    d = L.Dropout(rate, seed=11)
    y = d(tf.constant(x), training=True).numpy()
    kept = y != 0
    assert abs(kept.mean() - (1 - rate)) < 0.015        # 20000 draws: ~4.6e-3 sd
    scale = np.float32(1.0 / (1.0 - rate))
    np.testing.assert_array_equal(y[kept], x[kept] * scale)
    # each call draws a new mask; a layer with the same seed repeats them
    y2 = d(tf.constant(x), training=True).numpy()
    assert not np.array_equal(y, y2)
    again = L.Dropout(rate, seed=11)
    np.testing.assert_array_equal(
        again(tf.constant(x), training=True).numpy(), y)
    np.testing.assert_array_equal(
        again(tf.constant(x), training=True).numpy(), y2)


def test_dropout_without_a_seed_follows_tf_random_set_seed():
    x = tf.ones([64])
    tf.random.set_seed(5)
    a = L.Dropout(0.5)(x, training=True).numpy()
    tf.random.set_seed(5)
    b = L.Dropout(0.5)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    tf.random.set_seed(None)


def test_dropout_noise_shape_and_rate_one():
    x = tf.ones([6, 40])
    y = L.Dropout(0.5, noise_shape=(None, 1), seed=2)(x, training=True)
    y = y.numpy()
    assert np.all(y == y[:, :1])                 # one draw per row
    assert set(np.unique(y)) <= {0.0, 2.0}
    y = L.Dropout(0.5, noise_shape=[1, 40], seed=2)(x, training=True).numpy()
    assert np.all(y == y[:1])
    np.testing.assert_array_equal(L.Dropout(1.0)(x, training=True).numpy(),
                                  np.zeros((6, 40)))
    with pytest.raises(ValueError, match='layer "dropout_?[0-9]*" is '
                       r"incompatible.*noise_shape=\(2, 1, 5\) does not "
                       r"broadcast to the input shape \(6, 40\)"):
        L.Dropout(0.5, noise_shape=(2, 1, 5))(x, training=True)
    with pytest.raises(ValueError, match="does not broadcast"):
        L.Dropout(0.5, noise_shape=(6, 3))(x, training=True)


def test_dropout_gradients(rng):
    x0 = rng.standard_normal((3, 4))

    def f(x):   # a fresh layer: the same mask at every evaluation
        return L.Dropout(0.4, seed=9, dtype="float64")(x, training=True)

    check_gradients(f, x0)
    x = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    mask = (y.numpy() != 0) / 0.6
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), mask, rtol=1e-15)
    v = rng.standard_normal((3, 4))
    with tf.autodiff.ForwardAccumulator(x, tf.constant(v)) as acc:
        y = f(x)
    np.testing.assert_allclose(acc.jvp(y).numpy(), mask * v, rtol=1e-15)


def test_dropout_errors_and_config():
    for bad in (1.5, -0.1, "0.5", None, float("nan"), [0.5]):
        with pytest.raises(ValueError) as e:
            L.Dropout(bad)
        assert str(e.value) == (
            "Invalid value received for argument `rate`. Expected a float "
            "value between 0 and 1. Received: rate=%s" % (bad,))
    with pytest.raises(ValueError, match="Expected a tuple or list of "
                                         "integers. Received: noise_shape=ab"):
        L.Dropout(0.5, noise_shape="ab")
    with pytest.raises(ValueError, match="Expected an iterable of integers"):
        L.Dropout(0.5, noise_shape=5)
    with pytest.raises(ValueError, match="Received element at index 1: 2.5 "
                                         r"\(type: float\)"):
        L.Dropout(0.5, noise_shape=(2, 2.5))
    with pytest.raises(ValueError, match="Received negative or zero value at "
                                         "index 0: 0"):
        L.Dropout(0.5, noise_shape=(0, 2))
    with pytest.raises(TypeError, match="seed"):
        L.Dropout(0.5, seed=0.5)
    d = L.Dropout(0.25, noise_shape=[None, 1], seed=4, name="drop")
    assert d.get_config() == {"name": "drop", "trainable": True,
                              "dtype": "float32", "rate": 0.25, "seed": 4,
                              "noise_shape": (None, 1)}
    assert L.Dropout.from_config(d.get_config()).get_config() == \
        d.get_config()
    assert d.compute_output_shape((None, 3)) == (None, 3)
    assert d.weights == []


# ---- LayerNormalization -----------------------------------------------------------------
def _layer_norm(x, axes, gamma=None, beta=None, eps=1e-3):
    x = x.astype(np.float64)
    mean = x.mean(axis=tuple(axes), keepdims=True)
    var = x.var(axis=tuple(axes), keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def test_layer_normalization_last_axis(rng):
    x = (rng.standard_normal((4, 6)) * 3 + 2).astype(np.float32)
    ln = L.LayerNormalization()
    y = ln(tf.constant(x))
    np.testing.assert_allclose(y.numpy(), _layer_norm(x, [1]), rtol=1e-5,
                               atol=1e-5)
    assert [v.name for v in ln.weights] == ["gamma", "beta"]
    assert ln.gamma.shape == (6,) and ln.beta.shape == (6,)
    g = rng.standard_normal(6).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    ln.set_weights([g, b])
    np.testing.assert_allclose(ln(tf.constant(x)).numpy(),
                               _layer_norm(x, [1], g, b), rtol=1e-5,
                               atol=1e-5)


def test_layer_normalization_over_several_axes(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    ln = L.LayerNormalization(axis=[1, 2])
    ln.build([5, 3, 4])
    assert ln.gamma.shape == (3, 4) and ln.beta.shape == (3, 4)
    g = rng.standard_normal((3, 4)).astype(np.float32)
    ln.gamma.assign(g)
    np.testing.assert_allclose(ln(tf.constant(x)).numpy(),
                               _layer_norm(x, [1, 2], g), rtol=1e-5,
                               atol=1e-5)
    # one middle axis: gamma (3,) broadcast as (1, 3, 1)
    ln1 = L.LayerNormalization(axis=1, center=False)
    ln1(tf.constant(x))
    g1 = rng.standard_normal(3).astype(np.float32)
    ln1.gamma.assign(g1)
    np.testing.assert_allclose(ln1(tf.constant(x)).numpy(),
                               _layer_norm(x, [1], g1.reshape(1, 3, 1)),
                               rtol=1e-5, atol=1e-5)
    assert ln1.beta is None and len(ln1.weights) == 1
    # negative axes in a list
    ln2 = L.LayerNormalization(axis=[-2, -1], epsilon=1e-5)
    np.testing.assert_allclose(ln2(tf.constant(x)).numpy(),
                               _layer_norm(x, [1, 2], eps=1e-5), rtol=1e-4,
                               atol=1e-5)
    bare = L.LayerNormalization(center=False, scale=False)
    bare(tf.constant(x))
    assert bare.weights == []


def test_layer_normalization_rms_scaling(rng):
    x = rng.standard_normal((3, 5)).astype(np.float32)
    ln = L.LayerNormalization(rms_scaling=True)
    y = ln(tf.constant(x))
    assert [v.name for v in ln.weights] == ["gamma"]
    x64 = x.astype(np.float64)
    want = x64 / np.sqrt(x64.var(1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-6)


def test_layer_normalization_gradients(rng):
    x0 = rng.standard_normal((3, 4))
    ln = L.LayerNormalization(dtype="float64")
    ln(tf.constant(x0))
    ln.set_weights([rng.standard_normal(4), rng.standard_normal(4)])
    check_gradients(lambda x: ln(x), x0)
    ln3 = L.LayerNormalization(axis=[0, 2], dtype="float64")
    check_gradients(lambda x: ln3(x), rng.standard_normal((2, 3, 2)))
    # the weights' gradients: sum over the batch of xhat * w, and of w
    w = rng.standard_normal((3, 4))
    x = tf.constant(x0)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(ln(x) * w)
    dg, db = tape.gradient(y, [ln.gamma, ln.beta])
    xhat = _layer_norm(x0, [1])
    np.testing.assert_allclose(dg.numpy(), (xhat * w).sum(0), rtol=1e-10)
    np.testing.assert_allclose(db.numpy(), w.sum(0), rtol=1e-12)
    # forward mode against central differences
    v = rng.standard_normal((3, 4))
    with tf.autodiff.ForwardAccumulator(x, tf.constant(v)) as acc:
        y = ln(x)
    eps = 1e-6
    fd = (ln(tf.constant(x0 + eps * v)).numpy()
          - ln(tf.constant(x0 - eps * v)).numpy()) / (2 * eps)
    np.testing.assert_allclose(acc.jvp(y).numpy(), fd, rtol=1e-6, atol=1e-8)


def test_layer_normalization_errors_and_config():
    with pytest.raises(TypeError) as e:
        L.LayerNormalization(axis="1")
    assert str(e.value) == ("Expected an int or a list/tuple of ints for the "
                            "argument 'axis', but received: '1'")
    with pytest.raises(ValueError, match=r"Axis 2 is out of bounds for input "
                                         r"shape \(3, 4\) of layer "
                                         '"layer_normalization'):
        L.LayerNormalization(axis=2)(tf.ones([3, 4]))
    with pytest.raises(ValueError, match="duplicate axis 1"):
        L.LayerNormalization(axis=[1, -1])(tf.ones([3, 4]))
    ln = L.LayerNormalization(name="ln")
    ln(tf.ones([2, 3]))
    with pytest.raises(ValueError) as e:
        ln(tf.ones([2, 4]))
    assert str(e.value) == (
        'Input 0 of layer "ln" is incompatible with the layer: expected '
        "axis 1 of input shape to have value 3, but received input with "
        "shape (2, 4)")
    with pytest.raises(NotImplementedError, match="regularizers"):
        L.LayerNormalization(gamma_regularizer="l2")
    with pytest.raises(ValueError, match="initializer"):
        L.LayerNormalization(beta_initializer="nope")
    assert ln.compute_output_shape((None, 3)) == (None, 3)
    with pytest.raises(ValueError, match="out of bounds"):
        ln.compute_output_shape(())
    cfg = ln.get_config()
    assert cfg == {"name": "ln", "trainable": True, "dtype": "float32",
                   "axis": -1, "epsilon": 1e-3, "center": True,
                   "scale": True, "rms_scaling": False,
                   "beta_initializer": "zeros", "gamma_initializer": "ones"}
    assert L.LayerNormalization.from_config(cfg).get_config() == cfg


# ---- Embedding --------------------------------------------------------------------------
def test_embedding_lookup(rng):
    tf.random.set_seed(2)
    e = L.Embedding(10, 3)
    assert e.embeddings is None and not e.built
    ids = [[0, 2, 9], [4, 4, 1]]
    y = e(ids)
    table = e.embeddings.numpy()
    assert e.embeddings.shape == (10, 3) and e.embeddings.name == "embeddings"
    assert np.all(np.abs(table) <= 0.05) and table.std() > 0.01  # uniform
    assert y.shape == (2, 3, 3) and y.dtype == tf.float32
    np.testing.assert_array_equal(y.numpy(), table[np.array(ids)])
    np.testing.assert_array_equal(e(np.array(ids, np.int64)).numpy(),
                                  table[np.array(ids)])
    # floats are cast to int32 (toward zero), as Keras does
    np.testing.assert_array_equal(e(tf.constant([[1.7, 0.2]])).numpy(),
                                  table[[[1, 0]]])
    assert e.compute_output_shape((None, 3)) == (None, 3, 3)
    assert e.compute_mask(ids) is None
    m = L.Embedding(5, 2, mask_zero=True)
    np.testing.assert_array_equal(m.compute_mask([[0, 3, 0]]).numpy(),
                                  [[False, True, False]])


def test_embedding_gradient_scatter_adds_rows(rng):
    e = L.Embedding(6, 2, embeddings_initializer="ones")
    ids = np.array([[1, 3, 1], [1, 5, 0]])
    w = rng.standard_normal((2, 3, 2))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(e(ids) * w)
    g = tape.gradient(y, e.trainable_variables)[0]
    want = np.zeros((6, 2))
    np.add.at(want, ids.reshape(-1), w.reshape(-1, 2))
    np.testing.assert_allclose(tf.convert_to_tensor(g).numpy(), want,
                               rtol=1e-6)
    # through the layer's rows, second order included
    e64 = L.Embedding(6, 2, dtype="float64")
    check_gradients(lambda t: e64(ids) * t, rng.standard_normal((2, 3, 2)))


def test_embedding_errors_and_config():
    e = L.Embedding(5, 2, name="emb")
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        e([[1, 5]])
    msg = str(err.value)
    assert 'layer "emb" (type Embedding)' in msg and "[0, 5)" in msg
    assert isinstance(err.value, ValueError)
    with pytest.raises(ValueError, match='layer "emb"'):
        e([-1])
    for bad in (0, -2, 2.0, True, "3"):
        with pytest.raises(ValueError) as err:
            L.Embedding(bad, 2)
        assert str(err.value) == (
            "`input_dim` must be a positive integer. Received: input_dim=%s "
            "(of type %s)." % (bad, type(bad).__name__))
    with pytest.raises(ValueError, match="`output_dim` must be a positive "
                                         "integer. Received: output_dim=0"):
        L.Embedding(3, 0)
    with pytest.raises(NotImplementedError, match="regularizers"):
        L.Embedding(3, 2, embeddings_regularizer="l2")
    with pytest.warns(UserWarning, match="input_length"):
        L.Embedding(3, 2, input_length=4)
    table = np.arange(6, dtype=np.float32).reshape(3, 2)
    w = L.Embedding(3, 2, weights=table)
    assert w.built
    np.testing.assert_array_equal(w([2, 0]).numpy(), table[[2, 0]])
    assert e.get_config() == {"name": "emb", "trainable": True,
                              "dtype": "float32", "input_dim": 5,
                              "output_dim": 2,
                              "embeddings_initializer": "uniform",
                              "mask_zero": False}
    assert tf.keras.initializers.get("uniform").maxval == 0.05


# ---- Flatten ----------------------------------------------------------------------------
def test_flatten(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    f = L.Flatten()
    np.testing.assert_array_equal(f(tf.constant(x)).numpy(), x.reshape(2, 12))
    assert f(tf.ones([5])).shape == (5, 1)
    assert f(tf.ones([0, 3, 4])).shape == (0, 12)
    cf = L.Flatten(data_format="channels_first")
    np.testing.assert_array_equal(cf(tf.constant(x)).numpy(),
                                  x.transpose(0, 2, 1).reshape(2, 12))
    assert f.compute_output_shape((None, 3, 4)) == (None, 12)
    assert f.compute_output_shape((2, None, 4)) == (2, None)
    check_gradients(lambda t: L.Flatten(dtype="float64")(t) ** 2,
                    rng.standard_normal((2, 2, 3)))
    with pytest.raises(ValueError) as e:
        L.Flatten(name="flat")(tf.constant(1.0))
    assert str(e.value) == (
        'Input 0 of layer "flat" is incompatible with the layer: expected '
        "min_ndim=1, found ndim=0. Full shape received: ()")
    with pytest.raises(ValueError, match="data_format"):
        L.Flatten(data_format="nchw")
    assert L.Flatten(name="g").get_config() == {
        "name": "g", "trainable": True, "dtype": "float32",
        "data_format": "channels_last"}


# ---- Activation, ReLU, Softmax -----------------------------------------------------------
def test_activation(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(L.Activation("relu")(x).numpy(),
                                  np.maximum(x, 0))
    np.testing.assert_allclose(L.Activation(tf.math.tanh)(x).numpy(),
                               np.tanh(x), rtol=1e-6)
    np.testing.assert_array_equal(L.Activation(None)(x).numpy(), x)
    check_gradients(lambda t: L.Activation("softplus", dtype="float64")(t),
                    rng.standard_normal((2, 3)))
    assert L.Activation("relu", name="a").get_config() == {
        "name": "a", "trainable": True, "dtype": "float32",
        "activation": "relu"}
    assert L.Activation("tanh").compute_output_shape((None, 2)) == (None, 2)
    with pytest.raises(ValueError, match="activation"):
        L.Activation("nope")


def _keras_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's relu, piece by piece, in float64."""
    x = x.astype(np.float64)
    y = np.where(x > threshold, x, 0.0) if threshold else np.maximum(x, 0.0)
    if max_value is not None:
        y = np.minimum(y, max_value)
    if negative_slope:
        y = y - negative_slope * np.maximum(threshold - x, 0.0)
    return y


@pytest.mark.parametrize("kw", [{}, {"max_value": 6.0}, {"max_value": 1.5},
                                {"negative_slope": 0.1},
                                {"threshold": 0.5},
                                {"negative_slope": 0.2, "max_value": 1.0},
                                {"negative_slope": 0.3, "threshold": 0.4,
                                 "max_value": 2.0}])
def test_relu_variants(rng, kw):
    x = rng.uniform(-3, 3, (5, 6)).astype(np.float32)
    np.testing.assert_allclose(L.ReLU(**kw)(x).numpy(), _keras_relu(x, **kw),
                               rtol=1e-6, atol=1e-6)
    # away from the kinks (0, threshold, max_value), the gradients
    x0 = rng.uniform(-3, 3, (4, 5))
    kinks = [0.0, kw.get("threshold", 0.0), kw.get("max_value") or 0.0]
    for k in kinks:
        x0 = np.where(np.abs(x0 - k) < 0.05, k + 0.3, x0)
    check_gradients(lambda t: L.ReLU(dtype="float64", **kw)(t), x0)


def test_relu_keras_example_and_errors():
    y = L.ReLU(max_value=10, negative_slope=0.5, threshold=0)(
        np.array([-10, -5, 0.0, 5, 10]))
    np.testing.assert_array_equal(y.numpy(), [-5.0, -2.5, 0.0, 5.0, 10.0])
    with pytest.raises(ValueError) as e:
        L.ReLU(max_value=-1)
    assert str(e.value) == ("max_value of a ReLU layer cannot be a negative "
                            "value. Received: max_value=-1")
    with pytest.raises(ValueError, match="negative_slope of a ReLU layer "
                                         "cannot be None or a negative value. "
                                         "Received: negative_slope=None"):
        L.ReLU(negative_slope=None)
    with pytest.raises(ValueError, match="threshold of a ReLU layer cannot "
                                         "be None or a negative value. "
                                         "Received: threshold=-0.5"):
        L.ReLU(threshold=-0.5)
    assert L.ReLU(max_value=6, name="r").get_config() == {
        "name": "r", "trainable": True, "dtype": "float32", "max_value": 6,
        "negative_slope": 0.0, "threshold": 0.0}


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_softmax(rng):
    np.testing.assert_allclose(
        L.Softmax()(np.array([1.0, 2.0, 1.0])).numpy(),
        [0.21194157, 0.5761169, 0.21194157], rtol=1e-6)
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(L.Softmax(axis=1)(x).numpy(), _softmax(x, 1),
                               rtol=1e-5)
    np.testing.assert_allclose(L.Softmax(axis=[1])(x).numpy(),
                               _softmax(x, 1), rtol=1e-5)
    np.testing.assert_allclose(L.Softmax(axis=[1, 2])(x).numpy(),
                               _softmax(x, (1, 2)), rtol=1e-5)
    mask = np.array([[1, 1, 0, 1]] * 3)
    got = L.Softmax()(x[0], mask=mask).numpy()
    want = _softmax(np.where(mask == 1, x[0], -np.inf), -1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    check_gradients(lambda t: L.Softmax(dtype="float64")(t), x)
    check_gradients(lambda t: L.Softmax(axis=[0, 2], dtype="float64")(t), x)
    assert L.Softmax(name="s").get_config() == {
        "name": "s", "trainable": True, "dtype": "float32", "axis": -1}


# ---- BatchNormalization's and Dense's input checks, configs -------------------------------
def test_batch_normalization_and_dense_input_checks_and_configs():
    bn = L.BatchNormalization(name="bn")
    bn(tf.ones([2, 3]))
    with pytest.raises(ValueError) as e:
        bn(tf.ones([2, 4]))
    assert str(e.value) == (
        'Input 0 of layer "bn" is incompatible with the layer: expected '
        "axis -1 of input shape to have value 3, but received input with "
        "shape (2, 4)")
    with pytest.raises(ValueError) as e:
        bn(tf.ones([2, 2, 3]))
    assert str(e.value) == (
        'Input 0 of layer "bn" is incompatible with the layer: expected '
        "ndim=2, found ndim=3. Full shape received: (2, 2, 3)")
    assert bn.get_config()["momentum"] == 0.99
    d = L.Dense(4, activation="relu", name="d")
    assert d.get_config() == {
        "name": "d", "trainable": True, "dtype": "float32", "units": 4,
        "activation": "relu", "use_bias": True,
        "kernel_initializer": "glorot_uniform", "bias_initializer": "zeros"}
    assert d.compute_output_shape((None, 7, 3)) == (None, 7, 4)
    with pytest.raises(NotImplementedError, match="kernel_regularizer"):
        L.Dense(2, kernel_regularizer="l2")     # refused, not ignored
    assert L.Dense(1).get_config()["activation"] == "linear"
    assert L.Dense.from_config(d.get_config()).get_config() == \
        d.get_config()
    with pytest.raises(NotImplementedError, match="compute_output_shape"):
        L.Layer().compute_output_shape((1,))


# ---- all of them in one small training loop ------------------------------------------------
def test_a_small_model_trains(rng):
    tf.random.set_seed(0)
    emb = L.Embedding(8, 4)
    flat = L.Flatten()
    dense = L.Dense(6)
    act = L.ReLU(negative_slope=0.1)
    drop = L.Dropout(0.2, seed=1)
    norm = L.LayerNormalization()
    head = L.Dense(1)
    ids = rng.integers(0, 8, (16, 3))
    target = tf.constant((ids.sum(1, keepdims=True) / 10.0).astype(np.float32))
    opt = tf.keras.optimizers.Adam(0.02)
    layers = [emb, flat, dense, act, drop, norm, head]

    def model(x, training):
        for layer in layers:
            x = layer(x, training=training)
        return x

    def loss_value(training):
        return tf.reduce_mean((model(ids, training) - target) ** 2)

    first = float(loss_value(False))
    for _ in range(150):
        with tf.GradientTape() as tape:
            loss = loss_value(True)
        weights = [v for layer in layers for v in layer.trainable_weights]
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
    assert float(loss_value(False)) < 0.3 * first
