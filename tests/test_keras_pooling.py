"""Keras 3's pooling layers and Reshape on tapegrad: values against NumPy
loops (tests/refs_pool.py), output shapes, configs that rebuild the layer,
Keras' error messages, training in a Sequential model and the `.keras`
file round trip."""
import numpy as np
import pytest

import refs_pool
import tapegrad as tf

L = tf.keras.layers

POOLING = ["MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
           "AveragePooling1D", "AveragePooling2D", "AveragePooling3D"]
GLOBAL = ["GlobalAveragePooling1D", "GlobalAveragePooling2D",
          "GlobalAveragePooling3D", "GlobalMaxPooling1D",
          "GlobalMaxPooling2D", "GlobalMaxPooling3D"]


def test_every_layer_is_exported():
    for name in POOLING + GLOBAL + ["Reshape"]:
        assert name in L.__all__ and hasattr(L, name)


def _rank(name):
    return int(name[-2])


def _ref(name, x, pool, strides, padding):
    f = refs_pool.max_pool if name.startswith("Max") else refs_pool.avg_pool
    return f(x, list(pool), list(strides), padding.upper())


@pytest.mark.parametrize("name", POOLING)
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_pooling_values_and_shapes(name, padding, fmt):
    n = _rank(name)
    rng = np.random.default_rng(n)
    shape = (2,) + (5, 4, 3)[:n] + (3,)
    x = rng.standard_normal(shape)
    pool, strides = (3, 2, 2)[:n], (2, 1, 2)[:n]
    layer = getattr(L, name)(pool, strides=strides, padding=padding,
                             data_format=fmt)
    want = _ref(name, x, pool, strides, padding)
    xin = np.moveaxis(x, -1, 1) if fmt == "channels_first" else x
    y = layer(tf.constant(xin)).numpy()
    if fmt == "channels_first":
        y = np.moveaxis(y, 1, -1)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    assert tuple(layer.compute_output_shape(xin.shape)) == \
        tuple(layer(xin).shape)


@pytest.mark.parametrize("name", POOLING)
def test_strides_default_to_pool_size_and_defaults(name):
    n = _rank(name)
    layer = getattr(L, name)(2) if name.startswith("Average") \
        else getattr(L, name)()
    cfg = layer.get_config()
    assert cfg["pool_size"] == (2,) * n and cfg["strides"] == (2,) * n
    assert cfg["padding"] == "valid"
    assert cfg["data_format"] == "channels_last"
    again = getattr(L, name).from_config(cfg)
    assert again.get_config() == cfg


@pytest.mark.parametrize("name", GLOBAL)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_global_pooling(name, keepdims, fmt):
    n = _rank(name)
    x = np.random.default_rng(0).standard_normal((2,) + (3, 4, 2)[:n] + (5,))
    xin = np.moveaxis(x, -1, 1) if fmt == "channels_first" else x
    axes = tuple(range(1, n + 1)) if fmt == "channels_last" else \
        tuple(range(2, n + 2))
    f = np.max if "Max" in name else np.mean
    layer = getattr(L, name)(data_format=fmt, keepdims=keepdims)
    y = layer(tf.constant(xin))
    np.testing.assert_allclose(y.numpy(), f(xin, axis=axes,
                                            keepdims=keepdims),
                               rtol=1e-5, atol=1e-6)
    assert tuple(layer.compute_output_shape(xin.shape)) == tuple(y.shape)
    cfg = layer.get_config()
    assert cfg["keepdims"] is keepdims and cfg["data_format"] == fmt
    assert getattr(L, name).from_config(cfg).get_config() == cfg


def test_reshape():
    x = np.arange(24.0).reshape(2, 3, 4)
    layer = L.Reshape((-1, 2))
    np.testing.assert_array_equal(layer(x).numpy(), x.reshape(2, 6, 2))
    assert layer.compute_output_shape((None, 3, 4)) == (None, 6, 2)
    assert layer.compute_output_shape((None, None, 4)) == (None, None, 2)
    assert L.Reshape((4, 3))(x).shape == (2, 4, 3)
    cfg = layer.get_config()
    assert cfg["target_shape"] == (-1, 2)
    assert L.Reshape.from_config(cfg).target_shape == (-1, 2)


@pytest.mark.parametrize("make,exc,msg", [
    (lambda: L.MaxPooling2D(0), ValueError,
     "The `pool_size` argument must be a tuple of 2 integers. Received "
     "pool_size=0, including values {0} that do not satisfy `value > 0`"),
    (lambda: L.AveragePooling1D(2, strides=(1, 1)), ValueError,
     "The `strides` argument must be a tuple of 1 integers. Received "
     "strides=(1, 1)"),
    (lambda: L.MaxPooling3D(padding="full"), ValueError,
     "The `padding` argument must be a list/tuple or one of {'valid', "
     "'same'}. Received: full"),
    (lambda: L.GlobalMaxPooling2D(data_format="NHWC"), ValueError,
     "The `data_format` argument must be one of {'channels_first', "
     "'channels_last'}. Received: data_format=nhwc"),
    (lambda: L.Reshape((-1, -1)), ValueError,
     "The `target_shape` argument must not contain more than one `-1` "
     "value. Received: target_shape=(-1, -1)"),
])
def test_constructor_errors(make, exc, msg):
    with pytest.raises(exc) as e:
        make()
    assert str(e.value) == msg


def test_call_errors():
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        L.MaxPooling2D(name="mp")(np.ones((1, 4, 4)))
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=4"):
        L.GlobalAveragePooling1D()(np.ones((1, 4, 4, 1)))
    with pytest.raises(ValueError, match="Computed output size would be "
                                         "negative"):
        L.MaxPooling1D(5, strides=1).compute_output_shape((1, 3, 1))
    with pytest.raises(ValueError, match="The total size of the tensor must "
                                         "be unchanged"):
        L.Reshape((5,))(np.ones((2, 3, 2)))


def test_gradients_flow_through_the_layers():
    x = tf.constant(refs_pool.pool_distinct(
        [np.random.default_rng(4).random((1, 4, 4, 2))])[0])
    for layer in (L.MaxPooling2D(), L.AveragePooling2D(2, 1, "same"),
                  L.GlobalMaxPooling2D(), L.GlobalAveragePooling2D()):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(layer(x) ** 2)
        g = tape.gradient(y, x)
        assert g.shape == x.shape and np.any(g.numpy() != 0)


def _model():
    return tf.keras.Sequential([
        tf.keras.Input((8, 8, 1)),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.MaxPooling2D(),
        L.AveragePooling2D(2, padding="same"),
        L.Reshape((-1,)),
        L.Dense(4, activation="relu"),
        L.Reshape((4, 1)),
        L.GlobalMaxPooling1D(),
        L.Dense(1),
    ])


def test_a_model_with_them_trains_and_round_trips(tmp_path):
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1)).astype("float32")
    y = x.mean(axis=(1, 2, 3))[:, None] * 3.0
    model = _model()
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
    before = float(model.evaluate(x, y, verbose=0))
    model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    after = float(model.evaluate(x, y, verbose=0))
    assert after < before
    path = str(tmp_path / "x.keras")
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    assert [type(a).__name__ for a in loaded.layers] == \
        [type(a).__name__ for a in model.layers]
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(),
                               rtol=1e-6)


def test_global_pooling_1d_and_3d_in_a_functional_model(tmp_path):
    inp = tf.keras.Input((6, 2))
    a = L.MaxPooling1D(2, padding="same")(inp)
    b = L.GlobalAveragePooling1D()(a)
    model = tf.keras.Model(inp, L.Dense(1)(b))
    x = np.random.default_rng(1).random((3, 6, 2)).astype("float32")
    path = str(tmp_path / "f.keras")
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(),
                               rtol=1e-6)
    layer = L.MaxPooling3D()
    assert layer(np.ones((1, 4, 4, 4, 2))).shape == (1, 2, 2, 2, 2)


def test_keras_short_names_are_the_same_classes():
    assert L.MaxPool2D is L.MaxPooling2D and L.AvgPool1D is L.AveragePooling1D
    assert L.GlobalAvgPool3D is L.GlobalAveragePooling3D
    assert L.GlobalMaxPool1D is L.GlobalMaxPooling1D
    assert L.MaxPool2D().name.startswith("max_pooling2d")


def test_global_average_pooling_1d_mask_weights_the_steps():
    x = np.arange(12.0).reshape(2, 3, 2)
    mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=bool)
    y = L.GlobalAveragePooling1D()(x, mask=mask).numpy()
    want = np.stack([x[0, :2].mean(axis=0), x[1, :1].mean(axis=0)])
    np.testing.assert_allclose(y, want, rtol=1e-6)
    y = L.GlobalAveragePooling1D(data_format="channels_first",
                                 keepdims=True)(np.moveaxis(x, 1, 2),
                                                mask=mask).numpy()
    np.testing.assert_allclose(y[:, :, 0], want, rtol=1e-6)
