"""What four published TF guides (basic_training_loops, intro_to_modules,
custom_layers, customization/basics) needed from tapegrad's Python layer,
checked against Keras 3's and TF's documented behaviour:

- Layer.add_weight with Keras 3's keyword signature (and its error for the
  Keras 2 call ``add_weight("kernel", shape=...)``);
- Layer.__init__'s Keras 3 arguments (``input_shape``/``input_dim`` with
  Keras' warning, ``name`` by Keras' rule, unknown keywords refused), the
  Keras repr, lists in Keras' order from ``variables``, ``Model.layers``;
- tf.nn.conv2d (the C conv row) and keras.layers.Conv2D;
- the functional API: keras.Input, KerasTensor, Model(inputs, outputs), a
  Sequential built from an input shape, and the summary's output shapes;
- keras.saving's registry (register_keras_serializable and look-ups).
"""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import keras


# ---- Layer.add_weight: Keras 3's signature ---------------------------------
def test_add_weight_keras_docstring_example():
    # keras.layers.Layer's docstring: a non-trainable scalar weight
    class ComputeSum(keras.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(shape=(), initializer="zeros",
                                         trainable=False, name="total")

        def call(self, inputs):
            self.total.assign(self.total + tf.reduce_sum(inputs))
            return self.total

    my_sum = ComputeSum(2)
    y = my_sum(tf.ones((2, 2)))
    assert float(y) == 4.0
    assert my_sum.weights == [my_sum.total]
    assert my_sum.non_trainable_weights == [my_sum.total]
    assert my_sum.trainable_weights == []
    assert my_sum.total.name == "total"


def test_add_weight_keywords_and_defaults():
    class L(keras.layers.Layer):
        def build(self, input_shape):
            self.k = self.add_weight(shape=[int(input_shape[-1]), 4],
                                     name="kernel")
            self.c = self.add_weight(name="count", shape=(2,),
                                     dtype="int32")
            self.s = self.add_weight()
            self.d = self.add_weight(shape=(3,), initializer="ones",
                                     dtype=tf.float64, trainable=False)

        def call(self, x):
            return tf.matmul(x, self.k)

    layer = L()
    assert layer(tf.zeros([2, 5])).shape == (2, 4)
    # float weights default to glorot_uniform: |w| <= sqrt(6 / (fan_in +
    # fan_out)), not all zero
    limit = math.sqrt(6.0 / (5 + 4))
    k = layer.k.numpy()
    assert k.shape == (5, 4) and np.all(np.abs(k) <= limit) and k.any()
    # other dtypes default to zeros
    assert layer.c.dtype == tf.int32
    np.testing.assert_array_equal(layer.c.numpy(), [0, 0])
    # shape defaults to () (a scalar)
    assert layer.s.shape == () and layer.s.dtype == tf.float32
    assert layer.d.dtype == tf.float64 and not layer.d.trainable
    np.testing.assert_array_equal(layer.d.numpy(), [1.0, 1.0, 1.0])
    assert [v.name for v in layer.trainable_weights][:2] == ["kernel",
                                                             "count"]
    assert layer.weights == [layer.k, layer.c, layer.s, layer.d]


def test_add_weight_positional_shape_initializer_dtype():
    layer = keras.layers.Layer()
    w = layer.add_weight((2, 3), "ones", "float64")
    assert w.shape == (2, 3) and w.dtype == tf.float64
    np.testing.assert_array_equal(w.numpy(), np.ones((2, 3)))


def test_add_weight_keras2_call_is_keras3_error():
    # custom_layers.ipynb's `self.add_weight("kernel", shape=[...])`: under
    # Keras 3 (TF 2.16+) the name must be a keyword; Keras 3.14+ says so
    layer = keras.layers.Layer()
    with pytest.raises(ValueError, match=r"`name` must be passed as a "
                       r"keyword argument. Received: add_weight\('kernel', "
                       r"...\). Use: add_weight\(shape=..., name='kernel'\)"):
        layer.add_weight("kernel", shape=[5, 10])
    with pytest.raises(ValueError, match="`shape` was passed both "
                                         "positionally and as a keyword"):
        layer.add_weight((2,), shape=(2,))
    with pytest.raises(ValueError, match="`initializer` was passed both"):
        layer.add_weight((2,), "zeros", initializer="ones")
    with pytest.raises(TypeError, match="at most 3 positional"):
        layer.add_weight((2,), "zeros", "float32", True)
    with pytest.raises(ValueError, match="must be fully-defined"):
        layer.add_weight(shape=(None, 2))
    with pytest.raises(NotImplementedError, match="regularizers"):
        layer.add_weight(shape=(2,), regularizer="l2")


# ---- Layer.__init__, repr, names ------------------------------------------
def test_input_shape_argument_warns_and_is_kept():
    with pytest.warns(UserWarning, match="Do not pass an `input_shape`/"
                                         "`input_dim` argument to a layer"):
        layer = keras.layers.Dense(10, input_shape=(None, 5))
    assert layer._input_shape_arg == (None, 5)
    assert not layer.built
    assert layer(tf.zeros([10, 5])).shape == (10, 10)
    assert layer.kernel.shape == (5, 10)
    with pytest.warns(UserWarning):
        layer = keras.layers.Dense(2, input_dim=3)
    assert layer._input_shape_arg == (3,)


def test_layer_init_refuses_what_keras_refuses():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments "
                                         "passed to Dense: {'foo': 1}"):
        keras.layers.Dense(2, foo=1)
    with pytest.raises(ValueError, match="cannot contain character `/`"):
        keras.layers.Dense(2, name="a/b")
    with pytest.raises(ValueError, match="Expected `trainable` to be a "
                                         "boolean"):
        keras.layers.Dense(2, trainable=1)
    with pytest.raises(TypeError):
        keras.layers.Layer("positional_name")     # keyword-only, as Keras


def test_layer_names_and_repr_follow_keras():
    conv = keras.layers.Conv2D(2, 1)
    assert conv.name.startswith("conv2d")          # Keras' snake case
    assert repr(conv) == "<Conv2D name=%s, built=False>" % conv.name
    # Keras accepts any name without "/": the ResnetIdentityBlock of
    # custom_layers.ipynb is named ''
    assert keras.Model(name="").name == ""
    assert keras.layers.Dense(1, name="my layer").name == "my layer"
    # tf.Module keeps TF's stricter rule
    with pytest.raises(ValueError, match="not a valid module name"):
        tf.Module(name="my layer")


def test_variables_are_lists_in_keras_order():
    class Block(keras.Model):
        def __init__(self):
            super().__init__()
            self.second = keras.layers.Dense(2, name="z_first_set")
            self.first = keras.layers.Dense(3, name="a_second_set")
            self.extra = tf.Variable(1.0, name="extra")

        def call(self, x):
            return self.first(self.second(x))

    block = Block()
    block(tf.zeros([1, 4]))
    names = [v.name for v in block.variables]
    # Keras tracks layers in the order they were set (not by name), each
    # layer's weights in creation order; tf.Variable attributes after
    assert names == ["kernel", "bias", "kernel", "bias", "extra:0"]
    assert block.variables[0] is block.second.kernel
    assert isinstance(block.variables, list)
    assert isinstance(block.trainable_variables, list)
    assert block.layers == [block.second, block.first]
    # the FlexibleDense of intro_to_modules.ipynb: no variables before the
    # first call, a list
    assert keras.layers.Dense(2).variables == []


def test_count_params():
    layer = keras.layers.Dense(3)
    with pytest.raises(ValueError, match="isn't built"):
        layer.count_params()
    layer(tf.zeros([1, 4]))
    assert layer.count_params() == 4 * 3 + 3


# ---- tf.nn.conv2d ------------------------------------------------------------
def conv2d_reference(x, w, strides=(1, 1), padding="VALID",
                     dilations=(1, 1)):
    """Direct NHWC convolution in float64, TF's padding rules."""
    sh, sw = strides
    dh, dw = dilations
    n, h, wd, c = x.shape
    kh, kw, cf, co = w.shape
    groups = c // cf
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if padding == "SAME":
        ho, wo = -(-h // sh), -(-wd // sw)
        th = max((ho - 1) * sh + eh - h, 0)
        tw = max((wo - 1) * sw + ew - wd, 0)
        pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
    elif padding == "VALID":
        pads = ((0, 0), (0, 0))
    else:
        pads = (tuple(padding[1]), tuple(padding[2]))
    xp = np.pad(x.astype(np.float64), ((0, 0), pads[0], pads[1], (0, 0)))
    ho = (xp.shape[1] - eh) // sh + 1
    wo = (xp.shape[2] - ew) // sw + 1
    out = np.zeros((n, ho, wo, co))
    per = co // groups
    for i in range(ho):
        for j in range(wo):
            for o in range(co):
                g = o // per
                patch = xp[:, i * sh:i * sh + eh:dh, j * sw:j * sw + ew:dw,
                           g * cf:(g + 1) * cf]
                out[:, i, j, o] = np.einsum("nabc,abc->n", patch,
                                            w[..., o].astype(np.float64))
    return out


def test_conv2d_tf_docstring_example():
    # tf.nn.conv2d's docstring: a 5x5 one-channel image, a 2x2x1x2 kernel
    x_in = np.array([[
        [[2], [1], [2], [0], [1]],
        [[1], [3], [2], [2], [3]],
        [[1], [1], [3], [3], [0]],
        [[2], [2], [0], [1], [1]],
        [[0], [0], [3], [1], [2]], ]])
    kernel_in = np.array([
        [[[2, 0.1]], [[3, 0.2]]],
        [[[0, 0.3]], [[1, 0.4]]], ])
    x = tf.constant(x_in, dtype=tf.float32)
    kernel = tf.constant(kernel_in, dtype=tf.float32)
    y = tf.nn.conv2d(x, kernel, strides=[1, 1, 1, 1], padding="VALID")
    assert y.shape == (1, 4, 4, 2) and y.dtype == tf.float32
    # top-left window [[2, 1], [1, 3]]: 2*2 + 1*3 + 1*0 + 3*1, and
    # 2*.1 + 1*.2 + 1*.3 + 3*.4
    np.testing.assert_allclose(y.numpy()[0, 0, 0], [10.0, 1.9], rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), conv2d_reference(x_in, kernel_in),
                               rtol=1e-6)


@pytest.mark.parametrize("h,w,kh,kw,strides,dilations,padding,groups", [
    (5, 6, 3, 3, (1, 1), (1, 1), "VALID", 1),
    (5, 6, 3, 2, (2, 1), (1, 1), "SAME", 1),
    (7, 7, 3, 3, (1, 1), (2, 2), "SAME", 1),
    (6, 5, 1, 1, (1, 1), (1, 1), "VALID", 1),
    (6, 5, 2, 2, (2, 3), (1, 1), "SAME", 2),
    (4, 4, 4, 4, (3, 3), (1, 1), "SAME", 1),
    (5, 5, 2, 3, (1, 2), (1, 1), [[0, 0], [1, 0], [2, 1], [0, 0]], 1),
])
def test_conv2d_matches_direct_convolution(rng, h, w, kh, kw, strides,
                                           dilations, padding, groups):
    x = rng.standard_normal((2, h, w, 4))
    k = rng.standard_normal((kh, kw, 4 // groups, 6))
    got = tf.nn.conv2d(x, k, strides=list(strides), padding=padding,
                       dilations=list(dilations))
    assert got.dtype == tf.float64
    np.testing.assert_allclose(
        got.numpy(), conv2d_reference(x, k, strides, padding, dilations),
        rtol=1e-12, atol=1e-12)


def test_conv2d_strides_forms_nchw_and_batch_dims(rng):
    x = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    k = rng.standard_normal((3, 3, 2, 4)).astype(np.float32)
    ref = conv2d_reference(x, k, (2, 2), "SAME")
    for strides in (2, [2], [2, 2], [1, 2, 2, 1]):
        np.testing.assert_allclose(
            tf.nn.conv2d(x, k, strides, "SAME").numpy(), ref, rtol=1e-5,
            atol=1e-5)
    nchw = tf.nn.conv2d(np.transpose(x, (0, 3, 1, 2)), k, [1, 1, 2, 2],
                        "SAME", data_format="NCHW")
    np.testing.assert_allclose(nchw.numpy(), np.transpose(ref, (0, 3, 1, 2)),
                               rtol=1e-5, atol=1e-5)
    # more than one batch dimension (TF 2's batch_shape + [h, w, c])
    x5 = rng.standard_normal((2, 3, 5, 5, 2))
    k5 = rng.standard_normal((2, 2, 2, 3))
    got = tf.nn.conv2d(x5, k5, 1, "VALID")
    assert got.shape == (2, 3, 4, 4, 3)
    np.testing.assert_allclose(
        got.numpy()[1], conv2d_reference(x5[1], k5), rtol=1e-12)


def test_conv2d_gradients_match_finite_differences(rng):
    x = rng.standard_normal((1, 5, 4, 2))
    k = rng.standard_normal((3, 2, 2, 3))

    def f(x, k):
        return tf.nn.conv2d(x, k, [2, 1], "SAME")
    theoretical, numerical = tf.test.compute_gradient(f, [x, k])
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-7)
    # second order through nested tapes
    tf.test.check_gradients(
        lambda x: tf.reduce_sum(tf.nn.conv2d(x, k, 1, "VALID") ** 2), x,
        order=2)


def test_conv2d_errors_are_tfs():
    x = tf.zeros([1, 4, 4, 3])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="input depth must be evenly divisible by "
                             "filter depth: 3 vs 2"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 2, 1]), 1, "VALID")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="Computed output size would be negative: -1 "
                             r"\[input_size: 4, effective_filter_size: 6"):
        tf.nn.conv2d(x, tf.zeros([6, 1, 3, 1]), 1, "VALID")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="cannot compute Conv2D as input #1"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 3, 1], dtype=tf.float64), 1, "SAME")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="strides in the batch and depth"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 3, 1]), [2, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="padding"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 3, 1]), 1, "FULL")


# ---- keras.layers.Conv2D -----------------------------------------------------
def test_conv2d_layer_keras_docstring_example():
    # keras.layers.Conv2D's docstring
    x = np.random.rand(4, 10, 10, 128)
    y = keras.layers.Conv2D(32, 3, activation="relu")(x)
    assert y.shape == (4, 8, 8, 32)
    assert float(tf.reduce_min(y)) >= 0.0


def test_conv2d_layer_weights_values_and_shapes(rng):
    layer = keras.layers.Conv2D(4, (3, 2), strides=(2, 1), padding="same",
                                bias_initializer="ones")
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    y = layer(x)
    assert [v.name for v in layer.weights] == ["kernel", "bias"]
    assert layer.kernel.shape == (3, 2, 3, 4) and layer.bias.shape == (4,)
    assert layer.count_params() == 3 * 2 * 3 * 4 + 4
    np.testing.assert_allclose(
        y.numpy(), conv2d_reference(x, layer.kernel.numpy(), (2, 1),
                                    "SAME") + 1.0, rtol=1e-5, atol=1e-5)
    assert layer.compute_output_shape((None, 5, 6, 3)) == (None, 3, 6, 4)
    assert layer.compute_output_shape((2, None, 6, 3)) == (2, None, 6, 4)
    # channels_first and groups
    cf = keras.layers.Conv2D(4, 1, data_format="channels_first", groups=2,
                             use_bias=False)
    out = cf(np.transpose(x[..., :2], (0, 3, 1, 2)).repeat(2, axis=1))
    assert out.shape == (2, 4, 5, 6) and cf.kernel.shape == (1, 1, 2, 4)
    assert cf.get_config()["groups"] == 2


def test_conv2d_layer_errors_are_keras():
    with pytest.raises(ValueError, match="Expected a strictly positive "
                                         "value. Received filters=0"):
        keras.layers.Conv2D(0, 3)
    with pytest.raises(ValueError, match="The `kernel_size` argument must "
                                         "be a tuple of 2 integers"):
        keras.layers.Conv2D(2, (1, 2, 3))
    with pytest.raises(ValueError, match="The `padding` argument must be"):
        keras.layers.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="`strides > 1` not supported in "
                                         "conjunction with `dilation_rate"):
        keras.layers.Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="evenly divisible by the number "
                                         "of groups"):
        keras.layers.Conv2D(3, 1, groups=2)
    with pytest.raises(ValueError, match="Computed output size would be "
                                         "zero or negative"):
        keras.layers.Conv2D(1, 5)(tf.zeros([1, 3, 3, 1]))


def test_resnet_identity_block_of_custom_layers(rng):
    # custom_layers.ipynb's model: Conv2D + BatchNormalization blocks
    class ResnetIdentityBlock(keras.Model):
        def __init__(self, kernel_size, filters):
            super().__init__(name="")
            filters1, filters2, filters3 = filters
            self.conv2a = keras.layers.Conv2D(filters1, (1, 1))
            self.bn2a = keras.layers.BatchNormalization()
            self.conv2b = keras.layers.Conv2D(filters2, kernel_size,
                                              padding="same")
            self.bn2b = keras.layers.BatchNormalization()
            self.conv2c = keras.layers.Conv2D(filters3, (1, 1))
            self.bn2c = keras.layers.BatchNormalization()

        def call(self, input_tensor, training=False):
            x = tf.nn.relu(self.bn2a(self.conv2a(input_tensor),
                                     training=training))
            x = tf.nn.relu(self.bn2b(self.conv2b(x), training=training))
            x = self.bn2c(self.conv2c(x), training=training)
            return tf.nn.relu(x + input_tensor)

    block = ResnetIdentityBlock(1, [1, 2, 3])
    y = block(tf.zeros([1, 2, 3, 3]))
    assert y.shape == (1, 2, 3, 3)
    assert [type(layer).__name__ for layer in block.layers] == [
        "Conv2D", "BatchNormalization"] * 3
    assert len(block.variables) == 18
    out = []
    block.summary(print_fn=out.append)
    text = "\n".join(out)
    assert out[0] == 'Model: ""'
    # shapes from the build shape, as Keras' summary computes them
    assert "(1, 2, 3, 1)" in text and "(1, 2, 3, 3)" in text
    # "batch_normalization (BatchNormalization)" wraps in its column
    assert any(line.startswith("\u2502 (BatchNormalization)")
               for line in out)
    # 3+1, 1*2+2, 2*3+3 conv weights; 4 per channel in each batch norm
    assert " Total params: 41 (164.00 B)" in out
    assert " Trainable params: 29 (116.00 B)" in out
    assert " Non-trainable params: 12 (48.00 B)" in out
    # it trains: a gradient reaches every trainable weight
    x = tf.constant(rng.standard_normal((2, 2, 3, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(block(x, training=True) ** 2)
    grads = tape.gradient(loss, block.trainable_variables)
    assert len(grads) == 12 and all(g is not None for g in grads)


# ---- the functional API -------------------------------------------------------
def test_functional_model_keras_example(rng):
    # keras.Model's docstring, functional API
    inputs = keras.Input(shape=(37,))
    assert repr(inputs).startswith("<KerasTensor shape=(None, 37), "
                                   "dtype=float32, sparse=False, "
                                   "ragged=False, name=keras_tensor")
    x = keras.layers.Dense(32, activation="relu")(inputs)
    assert x.shape == (None, 32)
    outputs = keras.layers.Dense(5, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    assert type(model).__name__ == "Functional"
    assert isinstance(model, keras.Model)
    assert model.name.startswith("functional")
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer", "Dense", "Dense"]
    assert len(model.weights) == 4 and model.output_shape == (None, 5)
    data = rng.standard_normal((6, 37)).astype(np.float32)
    y = model(data)
    d1, d2 = model.layers[1:]
    want = d2(d1(data))          # their relu and softmax included
    np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=1e-6)
    np.testing.assert_allclose(y.numpy().sum(axis=1), np.ones(6), rtol=1e-5)
    # trains like any model
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    hist = model.fit(data, np.arange(6) % 5, epochs=3, verbose=0)
    assert len(hist.history["loss"]) == 3
    assert model.predict(data, verbose=0).shape == (6, 5)


def test_functional_model_of_custom_layers_summary():
    # intro_to_modules.ipynb: a custom layer whose build makes tf.Variables
    class FlexibleDense(keras.layers.Layer):
        def __init__(self, out_features, **kwargs):
            super().__init__(**kwargs)
            self.out_features = out_features

        def build(self, input_shape):
            self.w = tf.Variable(
                tf.random.normal([input_shape[-1], self.out_features]),
                name="w")
            self.b = tf.Variable(tf.zeros([self.out_features]), name="b")

        def call(self, inputs):
            return tf.matmul(inputs, self.w) + self.b

    inputs = keras.Input(shape=[3, ])
    x = FlexibleDense(3)(inputs)
    x = FlexibleDense(2)(x)
    model = keras.Model(inputs=inputs, outputs=x)
    out = []
    model.summary(print_fn=out.append)
    text = "\n".join(out)
    assert "(InputLayer)" in text and "(None, 3)" in text
    assert "(None, 2)" in text
    assert " Total params: 20 (80.00 B)" in out       # 3*3+3 + 3*2+2
    y = model(tf.constant([[2.0, 2.0, 2.0]]))
    assert y.shape == (1, 2)


def test_functional_model_several_inputs_and_outputs(rng):
    a = keras.Input(shape=(2,), name="a")
    b = keras.Input(shape=(3,), name="b")

    class Concat(keras.layers.Layer):
        def call(self, inputs):
            return tf.concat(inputs, -1)

    joined = Concat()([a, b])
    assert joined.shape == (None, 5)      # from running it on stand-ins
    dense = keras.layers.Dense(1)
    out = dense(joined)
    model = keras.Model([a, b], [out, joined])
    xa = rng.standard_normal((4, 2)).astype(np.float32)
    xb = rng.standard_normal((4, 3)).astype(np.float32)
    y, j = model([xa, xb])
    np.testing.assert_allclose(j.numpy(), np.concatenate([xa, xb], -1))
    np.testing.assert_allclose(y.numpy(), dense(j).numpy(), rtol=1e-6)
    by_name = keras.Model({"a": a, "b": b}, {"out": out})
    got = by_name({"b": xb, "a": xa})["out"]
    np.testing.assert_allclose(got.numpy(), y.numpy(), rtol=1e-6)
    preds = model.predict([xa, xb], batch_size=3, verbose=0)
    assert [p.shape for p in preds] == [(4, 1), (4, 5)]


def test_functional_errors():
    x = keras.Input(shape=(3,))
    y = keras.layers.Dense(2)(x)
    other = keras.Input(shape=(3,))
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(other, y)
    with pytest.raises(ValueError, match="All `outputs` values must be "
                                         "KerasTensors"):
        keras.Model(x, tf.zeros([1]))
    with pytest.raises(ValueError, match="A KerasTensor cannot be used as "
                                         "input to a TensorFlow function"):
        tf.matmul(x, tf.zeros([3, 2]))
    with pytest.raises(ValueError, match="You must pass a `shape`"):
        keras.Input()
    with pytest.raises(NotImplementedError, match="Iterating over a "
                                                  "symbolic KerasTensor"):
        iter(x)


def test_sequential_built_from_input_shape():
    # custom_layers.ipynb: input_shape on the first layer makes Keras 3
    # put an InputLayer first and build the stack right away
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        my_seq = keras.Sequential([
            keras.layers.Conv2D(1, (1, 1), input_shape=(None, None, 3)),
            keras.layers.BatchNormalization(),
            keras.layers.Conv2D(2, 1, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.Conv2D(3, (1, 1)),
            keras.layers.BatchNormalization()])
    assert my_seq.built and len(my_seq.layers) == 6
    assert all(layer.built for layer in my_seq.layers)
    assert my_seq(tf.zeros([1, 2, 3, 3])).shape == (1, 2, 3, 3)
    out = []
    my_seq.summary(print_fn=out.append)
    text = "\n".join(out)
    assert "(None, None, None, 1)" in text and "(None, None, None, 3)" in text
    assert "InputLayer" not in text
    assert " Total params: 41 (164.00 B)" in out
    # keras.Input first does the same
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
    assert model.built and [type(x).__name__ for x in model.layers] == [
        "Dense"]
    assert model.layers[0].kernel.shape == (4, 2)
    with pytest.raises(ValueError, match="should have unique names"):
        model.add(keras.layers.Dense(1, name=model.layers[0].name))


# ---- keras.saving -----------------------------------------------------------
def test_register_keras_serializable_keras_example():
    # Registered classes stay registered (a global dict, as Keras'): the
    # test takes its own out again, so the refleak guard's reruns do not
    # grow it
    objects = dict(keras.saving.GLOBAL_CUSTOM_OBJECTS)
    names = dict(keras.saving.GLOBAL_CUSTOM_NAMES)
    try:
        _check_registry()
    finally:
        keras.saving.GLOBAL_CUSTOM_OBJECTS.clear()
        keras.saving.GLOBAL_CUSTOM_OBJECTS.update(objects)
        keras.saving.GLOBAL_CUSTOM_NAMES.clear()
        keras.saving.GLOBAL_CUSTOM_NAMES.update(names)


def _check_registry():
    # keras.saving.register_keras_serializable's docstring
    @keras.saving.register_keras_serializable("my_package")
    class MyDense(keras.layers.Dense):
        pass

    assert keras.saving.get_registered_object("my_package>MyDense") is MyDense
    assert keras.saving.get_registered_name(MyDense) == "my_package>MyDense"
    assert keras.saving.get_custom_objects()["my_package>MyDense"] is MyDense
    # intro_to_modules.ipynb: the default package is "Custom"
    @keras.saving.register_keras_serializable()
    class MySequentialModel(keras.Model):
        pass

    assert keras.saving.get_registered_name(MySequentialModel) == \
        "Custom>MySequentialModel"
    assert keras.saving.get_registered_name(len) == "len"
    assert keras.saving.get_registered_object("nope") is None

    class NoConfig:
        pass
    with pytest.raises(ValueError, match="does not have a get_config"):
        keras.saving.register_keras_serializable()(NoConfig)
    with keras.saving.custom_object_scope({"thing": NoConfig}):
        assert keras.saving.get_registered_object("thing") is NoConfig
    assert keras.saving.get_registered_object("thing") is None
    with pytest.raises(TypeError, match="dict"):
        keras.saving.custom_object_scope(3)


def test_as_dtype_refuses_strings_numpy_parses_as_code():
    # NumPy reads "," as a field list and raises SyntaxError; TF's message
    with pytest.raises(TypeError, match="Cannot convert the argument "
                                        "`type_value`"):
        tf.as_dtype(",")


def test_model_layers_is_reserved():
    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.layers = [keras.layers.Dense(1)]

    with pytest.raises(AttributeError, match="`Model.layers` attribute is "
                                             "reserved"):
        M()
    seq = keras.Sequential([keras.layers.Dense(1)])
    assert len(seq.layers) == 1
