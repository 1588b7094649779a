"""The Keras convolution layers beyond Conv2D: Conv1D (with "causal"
padding), Conv3D, Conv2DTranspose and DepthwiseConv2D, against
convolutions written as NumPy loops here (Keras 3's kernel layouts and
output-size rules); gradients through tapegrad.test.check_gradients;
usable in Sequential and fit; configs and Keras' errors."""
import itertools

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.test import check_gradients

L = tf.keras.layers


def np_conv(x, k, strides, pads, dilations):
    """Channels-last N-d cross-correlation: x (N, *S, C), k (*K, C, F),
    pads [(before, after)] per spatial axis."""
    n = x.ndim - 2
    x = np.pad(x, [(0, 0)] + list(pads) + [(0, 0)])
    ks = k.shape[:n]
    out_sz = [(x.shape[1 + i] - (ks[i] - 1) * dilations[i] - 1)
              // strides[i] + 1 for i in range(n)]
    y = np.zeros((x.shape[0], *out_sz, k.shape[-1]))
    for o in itertools.product(*[range(s) for s in out_sz]):
        for t in itertools.product(*[range(s) for s in ks]):
            idx = tuple(o[i] * strides[i] + t[i] * dilations[i]
                        for i in range(n))
            y[(slice(None),) + o] += x[(slice(None),) + idx] @ k[t]
    return y


def same_pads(sizes, ks, strides, dilations):
    pads = []
    for n, k, s, d in zip(sizes, ks, strides, dilations):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def np_conv_transpose(x, k, strides, out_spatial, pads):
    """The input gradient of np_conv: scatter each input pixel times the
    kernel (k (*K, F, C) as Keras' Conv2DTranspose kernel)."""
    n = x.ndim - 2
    ks = k.shape[:n]
    full = [out_spatial[i] + pads[i][0] + pads[i][1] for i in range(n)]
    y = np.zeros((x.shape[0], *full, k.shape[-2]))
    for o in itertools.product(*[range(s) for s in x.shape[1:-1]]):
        for t in itertools.product(*[range(s) for s in ks]):
            idx = tuple(o[i] * strides[i] + t[i] for i in range(n))
            if all(idx[i] < full[i] for i in range(n)):
                y[(slice(None),) + idx] += x[(slice(None),) + o] @ k[t].T
    sl = tuple(slice(pads[i][0], pads[i][0] + out_spatial[i])
               for i in range(n))
    return y[(slice(None),) + sl]


def _layer_out(layer, x):
    return layer(tf.constant(x)).numpy()


@pytest.mark.parametrize("cls,shape,kw", [
    (L.Conv1D, (2, 9, 3), {"kernel_size": 3}),
    (L.Conv1D, (2, 9, 3), {"kernel_size": 2, "strides": 2,
                           "padding": "same"}),
    (L.Conv1D, (2, 9, 3), {"kernel_size": 3, "dilation_rate": 2}),
    (L.Conv2D, (2, 6, 5, 3), {"kernel_size": (3, 2), "strides": (2, 1),
                              "padding": "same"}),
    (L.Conv3D, (1, 5, 4, 4, 2), {"kernel_size": 2}),
    (L.Conv3D, (1, 5, 4, 4, 2), {"kernel_size": (3, 2, 2),
                                 "padding": "same", "strides": 2}),
])
def test_conv_layers_match_numpy(cls, shape, kw, rng):
    layer = cls(4, bias_initializer="ones", **kw)
    x = rng.standard_normal(shape).astype(np.float32)
    y = _layer_out(layer, x)
    n = len(shape) - 2
    k = layer.kernel.numpy().astype(np.float64)
    assert k.shape == layer.kernel_size + (shape[-1], 4)
    strides, dil = layer.strides, layer.dilation_rate
    pads = (same_pads(shape[1:-1], layer.kernel_size, strides, dil)
            if layer.padding == "same" else [(0, 0)] * n)
    want = np_conv(x.astype(np.float64), k, strides, pads, dil) + 1.0
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    assert y.shape == layer.compute_output_shape(shape)


def test_conv1d_causal_sees_only_the_past(rng):
    layer = L.Conv1D(1, 3, padding="causal", dilation_rate=2,
                     use_bias=False)
    x = rng.standard_normal((1, 10, 2)).astype(np.float32)
    y = _layer_out(layer, x)
    assert y.shape == (1, 10, 1) == layer.compute_output_shape((1, 10, 2))
    k = layer.kernel.numpy().astype(np.float64)
    want = np_conv(x.astype(np.float64), k, (1,), [(4, 0)], (2,))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    # changing a later step leaves every earlier output as it was
    x2 = x.copy()
    x2[0, 6] += 5.0
    y2 = _layer_out(layer, x2)
    np.testing.assert_array_equal(y2[0, :6], y[0, :6])
    assert not np.allclose(y2[0, 6:], y[0, 6:])
    with pytest.raises(ValueError, match="padding"):
        L.Conv2D(1, 3, padding="causal")


@pytest.mark.parametrize("kw,size", [
    ({}, 10), ({"strides": 2}, 17), ({"strides": 2, "padding": "same"}, 16),
    ({"strides": 2, "padding": "same", "output_padding": 1}, 16),
    ({"strides": 3, "output_padding": 1}, 25),
])
def test_conv2d_transpose_matches_numpy_and_keras_sizes(kw, size, rng):
    layer = L.Conv2DTranspose(2, 3, bias_initializer="ones", **kw)
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    y = _layer_out(layer, x)
    assert y.shape == (2, size, size, 2)
    assert layer.compute_output_shape((2, 8, 8, 3)) == y.shape
    k = layer.kernel.numpy().astype(np.float64)
    assert k.shape == (3, 3, 2, 3)
    s = layer.strides
    if layer.padding == "same":
        pads = same_pads((size, size), (3, 3), s, (1, 1))
    else:
        pads = [(0, 0), (0, 0)]
    want = np_conv_transpose(x.astype(np.float64), k, s, (size, size),
                             pads) + 1.0
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_conv2d_transpose_is_the_gradient_of_conv2d(rng):
    # <conv(x, k), g> == <x, conv_transpose(g, k)>
    x = rng.standard_normal((1, 7, 7, 3)).astype(np.float32)
    g = rng.standard_normal((1, 4, 4, 2)).astype(np.float32)
    conv = L.Conv2D(2, 3, strides=2, padding="same", use_bias=False)
    y = conv(tf.constant(x))
    tr = L.Conv2DTranspose(3, 3, strides=2, padding="same", use_bias=False,
                           output_padding=0)
    tr.build((1, 4, 4, 2))
    tr.kernel.assign(conv.kernel)
    # output_padding 0 gives (4 - 1) * 2 + 3 % 2 = 7 rows
    xt = tr(tf.constant(g)).numpy()
    assert xt.shape == x.shape
    # float32 sums of terms of either sign: the error is relative to the
    # terms' size, not to a total that can land near 0 (a random kernel)
    scale = np.sum(np.abs(y.numpy() * g))
    np.testing.assert_allclose(np.sum(y.numpy() * g), np.sum(x * xt),
                               rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("kw", [{}, {"depth_multiplier": 2},
                                {"strides": 2, "padding": "same"},
                                {"dilation_rate": 2}])
def test_depthwise_conv2d_matches_numpy(kw, rng):
    layer = L.DepthwiseConv2D(3, bias_initializer="ones", **kw)
    x = rng.standard_normal((2, 7, 7, 3)).astype(np.float32)
    y = _layer_out(layer, x)
    m = layer.depth_multiplier
    k = layer.kernel.numpy().astype(np.float64)
    assert k.shape == (3, 3, 3, m)
    s, d = layer.strides, layer.dilation_rate
    pads = (same_pads((7, 7), (3, 3), s, d) if layer.padding == "same"
            else [(0, 0), (0, 0)])
    x64 = x.astype(np.float64)
    # channel c's filters j go to output channel c * m + j (TF's order)
    cols = [np_conv(x64[..., c:c + 1], k[:, :, c:c + 1, :], s, pads, d)
            for c in range(3)]
    want = np.concatenate(cols, axis=-1) + 1.0
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    assert y.shape == layer.compute_output_shape(x.shape)


@pytest.mark.parametrize("make,shape", [
    (lambda: L.Conv1D(2, 2, padding="causal"), (1, 4, 2)),
    (lambda: L.Conv3D(2, 2), (1, 3, 3, 3, 1)),
    (lambda: L.Conv2DTranspose(2, 2, strides=2), (1, 2, 2, 2)),
    (lambda: L.DepthwiseConv2D(2, depth_multiplier=2), (1, 3, 3, 2)),
])
def test_conv_layer_gradients_to_second_order(make, shape, rng):
    layer = make()
    x = tf.constant(rng.standard_normal(shape))
    layer(tf.cast(x, tf.float32))
    k = tf.constant(layer.kernel.numpy().astype(np.float64))
    fn = {L.Conv1D: lambda a, b: tf.nn.convolution(
              tf.pad(a, [[0, 0], [1, 0], [0, 0]]), b),
          L.Conv3D: lambda a, b: tf.nn.convolution(a, b),
          L.Conv2DTranspose: lambda a, b: tf.nn.conv2d_transpose(
              a, b, [1, 4, 4, 2], strides=2, padding="VALID"),
          L.DepthwiseConv2D: lambda a, b: tf.nn.depthwise_conv2d(
              a, b, [1, 1, 1, 1], "VALID")}[type(layer)]
    check_gradients(fn, x, k, order=2)


def test_conv_layers_train_in_sequential_and_round_trip(rng, tmp_path):
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(8, 8, 1)),
        L.Conv2D(4, 3, activation="relu"),
        L.DepthwiseConv2D(3, depth_multiplier=2),
        L.Conv2DTranspose(2, 3, strides=2),
        L.Flatten(), L.Dense(1)])
    x = rng.standard_normal((16, 8, 8, 1)).astype(np.float32)
    y = x.mean(axis=(1, 2, 3))[:, None].astype(np.float32)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
    hist = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    losses = hist.history["loss"]
    assert losses[-1] < losses[0]
    path = str(tmp_path / "conv.keras")
    model.save(path)
    back = tf.keras.models.load_model(path)
    np.testing.assert_array_equal(back.predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    for layer in model.layers[:3]:
        cfg = layer.get_config()
        twin = type(layer).from_config(cfg)
        assert twin.get_config() == cfg


def test_conv_layer_errors_are_keras():
    with pytest.raises(ValueError, match="strictly positive"):
        L.Conv1D(0, 3)
    with pytest.raises(ValueError, match="tuple of 3 integers"):
        L.Conv3D(1, (2, 2))
    with pytest.raises(ValueError, match="strictly less than"):
        L.Conv2DTranspose(1, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="depth_multiplier"):
        L.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match="Kernel shape must have the same "
                       "length as input"):
        L.Conv1D(1, 2)(tf.zeros([1, 4, 4, 1]))     # building: Keras' check
    conv1d = L.Conv1D(1, 2)
    conv1d(tf.zeros([1, 4, 1]))
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=4"):
        conv1d(tf.zeros([1, 4, 4, 1]))
    layer = L.DepthwiseConv2D(2)
    layer(tf.zeros([1, 3, 3, 2]))
    with pytest.raises(ValueError, match="expected axis -1 of input shape "
                       "to have value 2"):
        layer(tf.zeros([1, 3, 3, 3]))
