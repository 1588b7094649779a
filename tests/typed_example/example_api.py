"""A typed user of tapegrad's main API: tests/test_typing.py runs
`mypy --strict` on it (and runs it, so it stays true to the runtime)."""
import numpy as np
import numpy.typing as npt

import tapegrad as tf
from tapegrad import keras


def loss_fn(w: tf.Variable, b: tf.Variable, x: tf.Tensor) -> tf.Tensor:
    y = tf.matmul(x, w) + b
    return tf.reduce_mean(tf.square(y - 1.0))


class Scale(keras.layers.Layer):
    """A user layer: its own call signature overrides Layer.call."""

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.w = self.add_weight(shape=(input_shape[-1],),
                                 initializer="ones")

    def call(self, inputs: tf.Tensor, training: bool | None = None
             ) -> tf.Tensor:
        return inputs * self.w

    def compute_output_shape(self, input_shape: tuple[int, ...]
                             ) -> tuple[int, ...]:
        return input_shape


class Affine(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = tf.Variable(2.0)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self.w * x


def main() -> float:
    x: tf.Tensor = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    w = tf.Variable(tf.random.normal([2, 1], seed=1), name="w")
    b = tf.Variable(tf.zeros([1]))
    shape: tf.TensorShape = x.shape
    rank: int | None = shape.rank
    dims: list[int | None] | None = shape.as_list()
    dtype: tf.DType = x.dtype
    assert dtype == tf.float32 and rank == 2 and dims == [2, 2]
    arr: npt.NDArray[np.float32] = x.numpy()
    assert arr.shape == (2, 2)

    with tf.GradientTape(persistent=True) as tape:
        loss = loss_fn(w, b, x)
        z = x * 2.0 + 1 - tf.exp(-x) @ x / 3.0
    dw: tf.Tensor | None = tape.gradient(loss, w)
    grads = tape.gradient(loss, [w, b])
    assert dw is not None and len(grads) == 2
    w.assign_sub(0.1 * dw)
    total: tf.Tensor = tf.reduce_sum(z, axis=0, keepdims=True)
    parts: list[tf.Tensor] = tf.split(total, 2, axis=1)
    assert len(parts) == 2
    del tape
    affine = Affine()
    with tf.GradientTape() as tape2:
        out = affine(tf.constant(3.0))
    grads2 = tape2.gradient(out, affine.trainable_variables)
    assert float(grads2[0]) == 3.0

    rng = np.random.default_rng(0)
    features = rng.normal(size=(64, 3)).astype(np.float32)
    labels = features.sum(axis=1, keepdims=True)
    model = keras.Sequential([
        keras.Input(shape=(3,)),
        keras.layers.Dense(8, activation="relu"),
        Scale(),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss="mse")
    history = model.fit(
        features, labels, epochs=2, batch_size=16, verbose=0)
    predictions: npt.NDArray[np.float32] = model.predict(features, verbose=0)
    assert predictions.shape == (64, 1)
    last: float = history.history["loss"][-1]
    trainable: list[tf.Variable] = model.trainable_variables
    assert len(trainable) == 5
    return last


if __name__ == "__main__":
    print(main())
