"""TF's "Introduction to gradients and automatic differentiation" guide,
its computations in order with `import tapegrad as tf`, against the values
the guide documents (tf_semantics.md §2.2).  Plots are left out."""
import warnings

import numpy as np
import pytest

import tapegrad as tf


def test_gradient_tapes_cells_9_to_22():
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = x ** 2
    assert tape.gradient(y, x).numpy() == 6.0

    w = tf.Variable(tf.random.normal((3, 2)), name="w")
    b = tf.Variable(tf.zeros(2, dtype=tf.float32), name="b")
    x = [[1.0, 2.0, 3.0]]
    with tf.GradientTape(persistent=True) as tape:
        y = x @ w + b
        loss = tf.reduce_mean(y ** 2)
    [dl_dw, dl_db] = tape.gradient(loss, [w, b])
    assert w.shape == dl_dw.shape == (3, 2)
    my_vars = {"w": w, "b": b}
    grad = tape.gradient(loss, my_vars)
    yv = (np.array(x) @ w.numpy() + b.numpy())[0]
    # d mean(y^2)/dy, against float64: w is random, and a y near 0 is a
    # float32 sum of terms of size ~3, so its error is absolute (~4e-7)
    np.testing.assert_allclose(grad["b"].numpy(), yv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dl_dw.numpy(), np.outer(x[0], yv), rtol=1e-5,
                               atol=3e-5)

    layer = tf.keras.layers.Dense(2, activation="relu")
    x = tf.constant([[1.0, 2.0, 3.0]])
    with tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_mean(y ** 2)
    grad = tape.gradient(loss, layer.trainable_variables)
    shapes = [f"{var.name}, shape: {g.shape}"
              for var, g in zip(layer.trainable_variables, grad)]
    assert shapes == ["kernel, shape: (3, 2)", "bias, shape: (2,)"]


def test_what_the_tape_watches_cells_25_to_33():
    x0 = tf.Variable(3.0, name="x0")
    x1 = tf.Variable(3.0, name="x1", trainable=False)
    x2 = tf.Variable(2.0, name="x2") + 1.0
    x3 = tf.constant(3.0, name="x3")
    with tf.GradientTape() as tape:
        y = (x0 ** 2) + (x1 ** 2) + (x2 ** 2)
    grad = tape.gradient(y, [x0, x1, x2, x3])
    assert [str(g) for g in grad] == [
        "tapegrad.Tensor(6.0, shape=(), dtype=float32)", "None", "None",
        "None"]
    assert [var.name for var in tape.watched_variables()] == ["x0:0"]

    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x ** 2
    assert tape.gradient(y, x).numpy() == 6.0

    x0 = tf.Variable(0.0)
    x1 = tf.Variable(10.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x1)
        y0 = tf.math.sin(x0)
        y1 = tf.nn.softplus(x1)
        y = y0 + y1
        ys = tf.reduce_sum(y)
    grad = tape.gradient(ys, {"x0": x0, "x1": x1})
    assert grad["x0"] is None
    assert str(grad['x1'].numpy()) == "0.9999546"   # print's text


def test_intermediates_and_persistence_cells_35_to_46():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert tape.gradient(z, y).numpy() == 18.0

    x = tf.constant([1, 3.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert str(tape.gradient(z, x).numpy()) == "[  4. 108.]"
    assert str(tape.gradient(y, x).numpy()) == "[2. 6.]"
    del tape

    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        y0 = x ** 2
        y1 = 1 / x
    assert tape.gradient(y0, x).numpy() == 4.0
    assert tape.gradient(y1, x).numpy() == -0.25

    with tf.GradientTape() as tape:
        y0 = x ** 2
        y1 = 1 / x
    assert tape.gradient({"y0": y0, "y1": y1}, x).numpy() == 3.75

    with tf.GradientTape() as tape:
        y = x * [3.0, 4.0]
    assert tape.gradient(y, x).numpy() == 7.0


def test_control_flow_and_none_gradients_cells_49_to_74():
    x = tf.linspace(-10.0, 10.0, 200 + 1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.sigmoid(x)
    dy_dx = tape.gradient(y, x)
    s = 1 / (1 + np.exp(-np.linspace(-10, 10, 201)))
    np.testing.assert_allclose(dy_dx.numpy(), s * (1 - s), rtol=1e-4,
                               atol=1e-7)

    x = tf.constant(1.0)
    v0 = tf.Variable(2.0)
    v1 = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        if x > 0.0:
            result = v0
        else:
            result = v1 ** 2
    dv0, dv1 = tape.gradient(result, [v0, v1])
    assert str(dv0) == "tapegrad.Tensor(1.0, shape=(), dtype=float32)"
    assert dv1 is None
    assert tape.gradient(result, x) is None

    x = tf.Variable(2.0)
    y = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        z = y * y
    assert tape.gradient(z, x) is None

    x = tf.Variable(2.0)
    grads = []
    for epoch in range(2):
        with tf.GradientTape() as tape:
            y = x + 1
        grads.append(tape.gradient(y, x))
        x = x + 1       # a Tensor now: the next gradient is None
    assert str(grads[0]) == "tapegrad.Tensor(1.0, shape=(), dtype=float32)"
    assert grads[1] is None

    x = tf.Variable([[1.0, 2.0], [3.0, 4.0]], dtype=tf.float32)
    with tf.GradientTape() as tape:
        x2 = x ** 2
        y = np.mean(x2, axis=0)         # leaves tapegrad
        y = tf.reduce_mean(y, axis=0)
    assert tape.gradient(y, x) is None

    x = tf.constant(10)
    with tf.GradientTape() as g:
        with pytest.warns(UserWarning, match="must be floating"):
            g.watch(x)
        y = x * x
    assert g.gradient(y, x) is None

    # cell 70: an op without a registered gradient
    image = tf.Variable([[[0.5, 0.0, 0.0]]])
    delta = tf.Variable(0.1)
    with tf.GradientTape() as tape:
        new_image = tf.image.adjust_contrast(image, delta)
    with pytest.raises(LookupError, match="^gradient registry has no entry "
                                          "for: AdjustContrastv2$"):
        tape.gradient(new_image, [image, delta])

    x0 = tf.Variable(3.0)
    x1 = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        x1.assign_add(x0)       # not differentiable through
        y = x1 ** 2
    assert tape.gradient(y, x0) is None

    x = tf.Variable([2.0, 2.0])
    y = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        z = y ** 2
    assert str(tape.gradient(z, x, unconnected_gradients=
                             tf.UnconnectedGradients.ZERO)) == (
        "tapegrad.Tensor([0. 0.], shape=(2,), dtype=float32)")
