"""The .keras model file: model.save / keras.models.load_model round
trips (Sequential, functional, registered subclassed models) give the same
predictions bit for bit, a compiled model resumes training as the
original would, and bad inputs give clear errors."""
import json
import os
import zipfile

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import keras


def _data(n=32, d=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)).astype("float32"),
            rng.integers(0, classes, size=(n,)))


def _same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b))


def _weights_equal(m1, m2):
    assert len(m1.variables) == len(m2.variables)
    return all(_same(a.numpy(), b.numpy())
               for a, b in zip(m1.variables, m2.variables))


class FlexibleDense(tf.keras.layers.Layer):
    """The guide's layer: unregistered, no get_config, tf.Variables made in
    build."""

    def __init__(self, out_features, **kwargs):
        super().__init__(**kwargs)
        self.out_features = out_features

    def build(self, input_shape):
        self.w = tf.Variable(
            tf.random.normal([input_shape[-1], self.out_features]), name="w")
        self.b = tf.Variable(tf.zeros([self.out_features]), name="b")

    def call(self, inputs):
        return tf.matmul(inputs, self.w) + self.b


@keras.saving.register_keras_serializable()
class MySequentialModel(tf.keras.Model):
    def __init__(self, name=None, **kwargs):
        super().__init__(**kwargs)
        self.dense_1 = FlexibleDense(out_features=3)
        self.dense_2 = FlexibleDense(out_features=2)

    def call(self, x):
        x = self.dense_1(x)
        return self.dense_2(x)


@keras.saving.register_keras_serializable(package="tests")
class Widened(tf.keras.Model):
    """Constructor arguments (auto-config) and layers in a list."""

    def __init__(self, widths=(4, 2), activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.stack = [keras.layers.Dense(w, activation=activation)
                      for w in widths]

    def call(self, x):
        for layer in self.stack:
            x = layer(x)
        return x


def test_guide_subclassed_model(tmp_path):
    model = MySequentialModel(name="the_model")
    x = tf.constant([[2.0, 2.0, 2.0]])
    before = model(x).numpy()
    path = str(tmp_path / "exname_of_file.keras")
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json",
                                         "model.weights.npz"]
        config = json.loads(zf.read("config.json"))
        meta = json.loads(zf.read("metadata.json"))
    assert config["class_name"] == "MySequentialModel"
    assert config["registered_name"] == "Custom>MySequentialModel"
    assert config["build_config"] == {"input_shape": [1, 3]}
    assert set(meta) >= {"keras_version", "date_saved"}
    loaded = tf.keras.models.load_model(path)
    assert type(loaded) is MySequentialModel
    assert loaded is not model
    assert _same(loaded(x).numpy(), before)
    assert _weights_equal(model, loaded)
    x2 = tf.constant([[1.0, -2.0, 0.5], [3.0, 0.0, 1.0]])
    assert _same(loaded(x2).numpy(), model(x2).numpy())


def test_auto_config_and_layers_in_a_list(tmp_path):
    model = Widened(widths=[5, 3, 2], activation="tanh")
    x = np.ones((2, 4), "float32")
    out = model(x).numpy()
    path = str(tmp_path / "w.keras")
    keras.saving.save_model(model, path)
    loaded = keras.saving.load_model(path)
    assert [layer.units for layer in loaded.stack] == [5, 3, 2]
    assert _same(loaded(x).numpy(), out)


def _sequential():
    return keras.Sequential([
        keras.Input(shape=(8,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Dropout(0.25),
        keras.layers.LayerNormalization(),
        keras.layers.Dense(3)])


def test_sequential_round_trip(tmp_path):
    x, y = _data()
    model = _sequential()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)   # moving stats move
    path = str(tmp_path / "s.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is keras.Sequential
    assert [type(la).__name__ for la in loaded.layers] == [
        "Dense", "BatchNormalization", "Dropout", "LayerNormalization",
        "Dense"]
    assert [la.name for la in loaded.layers] == [la.name
                                                for la in model.layers]
    assert _weights_equal(model, loaded)
    assert _same(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_sequential_without_input_embedding_and_conv(tmp_path):
    emb = keras.Sequential([keras.layers.Embedding(10, 4),
                            keras.layers.Flatten(), keras.layers.Dense(2)])
    ids = np.array([[1, 2, 3], [4, 5, 9]])
    emb(ids)
    emb.save(str(tmp_path / "e.keras"))
    loaded = keras.models.load_model(str(tmp_path / "e.keras"))
    assert _same(loaded(ids).numpy(), emb(ids).numpy())

    conv = keras.Sequential([keras.Input((6, 6, 2)),
                             keras.layers.Conv2D(3, 3, activation="relu"),
                             keras.layers.Flatten(), keras.layers.Dense(1)])
    img = np.random.default_rng(1).normal(size=(2, 6, 6, 2)).astype(
        "float32")
    conv.save(str(tmp_path / "c.keras"))
    loaded = keras.models.load_model(str(tmp_path / "c.keras"))
    assert _same(loaded.predict(img, verbose=0), conv.predict(img, verbose=0))


def test_functional_round_trip(tmp_path):
    a = keras.Input(shape=(4,), name="a")
    b = keras.Input(shape=(3,), name="b")
    shared = keras.layers.Dense(5, activation="relu")
    h = shared(a)
    g = keras.layers.Dense(5)(b)
    h2 = shared(keras.layers.Dense(4)(g))     # a layer called twice
    out = keras.layers.Dense(2)(keras.layers.LayerNormalization()(h2))
    model = keras.Model(inputs=[a, b], outputs=[out, h])
    xa = np.random.default_rng(2).normal(size=(3, 4)).astype("float32")
    xb = np.random.default_rng(3).normal(size=(3, 3)).astype("float32")
    path = str(tmp_path / "f.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded).__name__ == "Functional"
    for got, want in zip(loaded([xa, xb]), model([xa, xb])):
        assert _same(got.numpy(), want.numpy())
    assert [la.name for la in loaded.layers] == [la.name
                                                for la in model.layers]


def test_functional_with_unregistered_layer(tmp_path):
    inputs = tf.keras.Input(shape=[3])
    x = FlexibleDense(3)(inputs)
    x = FlexibleDense(2)(x)
    model = tf.keras.Model(inputs=inputs, outputs=x)
    path = str(tmp_path / "f.keras")
    model.save(path)
    with pytest.raises(TypeError, match="FlexibleDense.*"
                       "register_keras_serializable.*custom_objects"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(
        path, custom_objects={"FlexibleDense": FlexibleDense})
    x = tf.constant([[2.0, 2.0, 2.0]])
    assert _same(loaded(x).numpy(), model(x).numpy())
    with keras.saving.custom_object_scope({"FlexibleDense": FlexibleDense}):
        assert _same(keras.models.load_model(path)(x).numpy(),
                     model(x).numpy())


def test_unregistered_subclassed_model(tmp_path):
    class Unregistered(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)
    model = Unregistered()
    model(np.ones((1, 3), "float32"))
    path = str(tmp_path / "u.keras")
    model.save(path)
    with pytest.raises(TypeError, match="Could not locate class "
                       "'Unregistered'"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(
        path, custom_objects={"Unregistered": Unregistered})
    assert _weights_equal(model, loaded)


@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.Adam(1e-2),
    lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    lambda: keras.optimizers.RMSprop(1e-3, momentum=0.5, centered=True),
    lambda: keras.optimizers.Adam(
        keras.optimizers.schedules.ExponentialDecay(1e-2, 10, 0.5))])
def test_compiled_model_resumes_training(tmp_path, optimizer):
    x, y = _data(n=48)
    model = _sequential()
    model.compile(optimizer=optimizer(),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.compiled
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        assert _same(a.numpy(), b.numpy())
    h1 = model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    h2 = loaded.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    assert _weights_equal(model, loaded)
    assert h1.history == h2.history


def test_compile_false_and_compiled_without_training(tmp_path):
    model = _sequential()
    model.compile(optimizer="sgd", loss="mse")      # no slots built yet
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.compiled and type(loaded.optimizer).__name__ == "SGD"
    plain = keras.models.load_model(path, compile=False)
    assert not plain.compiled
    assert _weights_equal(model, plain)


def test_extension_errors(tmp_path):
    model = _sequential()
    with pytest.raises(ValueError, match="HDF5"):
        model.save(str(tmp_path / "m.h5"))
    with pytest.raises(ValueError, match="`.keras` extension"):
        model.save(str(tmp_path / "m.tf"))
    with pytest.raises(ValueError, match="File format not supported"):
        keras.models.load_model(str(tmp_path / "m.zip"))
    with pytest.raises(ValueError, match="HDF5"):
        keras.models.load_model(str(tmp_path / "m.h5"))
    assert os.listdir(tmp_path) == []


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ValueError, match="File not found"):
        keras.models.load_model(str(tmp_path / "nothing.keras"))
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a zip archive"):
        keras.models.load_model(str(junk))
    model = _sequential()
    good = tmp_path / "good.keras"
    model.save(str(good))
    data = good.read_bytes()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError):
        keras.models.load_model(str(cut))
    # an archive without its weights, and one whose config is not JSON
    for name, members in (("noweights.keras", {"config.json": None}),
                          ("badjson.keras", {"config.json": b"{nope"})):
        with zipfile.ZipFile(good) as src, \
                zipfile.ZipFile(tmp_path / name, "w") as dst:
            for info in src.infolist():
                if info.filename == "model.weights.npz" and \
                        name == "noweights.keras":
                    continue
                body = members.get(info.filename) or src.read(info)
                dst.writestr(info.filename, body)
        with pytest.raises(ValueError, match="Cannot load"):
            keras.models.load_model(str(tmp_path / name))


def test_pickled_weights_refused(tmp_path):
    model = _sequential()
    good = tmp_path / "good.keras"
    model.save(str(good))
    import io
    buf = io.BytesIO()
    np.savez(buf, **{"layers/dense/vars/0": np.array([object()],
                                                     dtype=object)})
    bad = tmp_path / "pickle.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            body = buf.getvalue() if info.filename == "model.weights.npz" \
                else src.read(info)
            dst.writestr(info.filename, body)
    with pytest.raises(ValueError, match="Python objects"):
        keras.models.load_model(str(bad))


def test_mismatched_weights_name_the_layer(tmp_path):
    model = _sequential()
    path = tmp_path / "m.keras"
    model.save(str(path))
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
        rest = {i.filename: zf.read(i) for i in zf.infolist()}
    config["config"]["layers"][1]["config"]["units"] = 7
    rest["config.json"] = json.dumps(config).encode()
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, body in rest.items():
            zf.writestr(name, body)
    with pytest.raises(ValueError, match=r"'dense.*shape \(8, 16\).*"
                       r"\(8, 7\)"):
        keras.models.load_model(str(bad))


def test_overwrite_false_and_atomic(tmp_path):
    model = _sequential()
    path = tmp_path / "m.keras"
    model.save(str(path))
    first = path.read_bytes()
    with pytest.raises(FileExistsError):
        model.save(str(path), overwrite=False)
    assert path.read_bytes() == first
    model.save(path)                            # a PathLike, overwriting
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]


def test_unbuilt_subclassed_model_needs_a_call(tmp_path):
    model = MySequentialModel()
    with pytest.warns(UserWarning, match="not yet been built"):
        model.save(str(tmp_path / "u.keras"))
    loaded = keras.models.load_model(str(tmp_path / "u.keras"))
    assert loaded.variables == []


def test_model_build_creates_variables():
    model = MySequentialModel()
    model.build((None, 3))
    assert sorted(tuple(v.shape) for v in model.variables) == [
        (2,), (3,), (3, 2), (3, 3)]


@keras.saving.register_keras_serializable(package="tests")
class TwoInputs(tf.keras.Model):
    """Built by a call on a list of tensors: its build_config holds two
    shapes, and load_model builds it by calling it on zeros of both."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.left = keras.layers.Dense(2)
        self.right = keras.layers.Dense(2)

    def call(self, inputs):
        a, b = inputs
        return self.left(a) + self.right(b)


def test_subclassed_model_with_two_inputs(tmp_path):
    model = TwoInputs()
    xs = [np.ones((2, 3), "float32"), np.full((2, 5), 0.5, "float32")]
    out = model(xs).numpy()
    path = str(tmp_path / "two.keras")
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read("config.json"))["build_config"] == {
            "input_shape": [[2, 3], [2, 5]]}
    loaded = keras.models.load_model(path)
    assert _same(loaded(xs).numpy(), out)
