"""tf.keras.Model / Sequential: compile, fit, evaluate, predict,
train_on_batch, History, the progress line and summary().

fit's step is the step a user would write, so the tests run the same data
through a hand-written GradientTape loop on an identical model and demand
the same weights, bit for bit, and the same logged losses."""
import io
import re
import contextlib

import numpy as np
import pytest

import tapegrad as tf

keras = tf.keras


class MLP(keras.Model):
    def __init__(self, hidden=8, out=1):
        super().__init__()
        self.hidden = keras.layers.Dense(hidden, activation="tanh",
                                         kernel_initializer="ones")
        self.out = keras.layers.Dense(out, kernel_initializer="ones")

    def call(self, x, training=None):
        return self.out(self.hidden(x))


def _data(rng, n=64):
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (x @ np.array([0.5, -1.0, 0.25], np.float32))[:, None]
    return x, y


def _clone_weights(src, dst, x):
    dst(x[:1])                          # build
    for a, b in zip(dst.variables, src.variables):
        a.assign(b)


def test_fit_is_the_hand_written_step(rng):
    x, y = _data(rng)
    model = MLP()
    model(x[:1])
    twin = MLP()
    _clone_weights(model, twin, x)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    hist = model.fit(x, y, batch_size=16, epochs=3, shuffle=False,
                     verbose=0)
    opt = keras.optimizers.Adam(0.01)
    mse = keras.losses.MeanSquaredError()
    epoch_losses = []
    for _ in range(3):
        total = 0.0
        for s in range(0, 64, 16):
            xb, yb = tf.constant(x[s:s + 16]), tf.constant(y[s:s + 16])
            with tf.GradientTape() as tape:
                loss = mse(yb, twin(xb, training=True))
            grads = tape.gradient(loss, twin.trainable_variables)
            opt.apply_gradients(zip(grads, twin.trainable_variables))
            total += float(loss) * 16
        epoch_losses.append(total / 64)
    for a, b in zip(model.variables, twin.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(hist.history["loss"], epoch_losses,
                               rtol=1e-12)
    assert hist.epoch == [0, 1, 2]
    assert int(model.optimizer.iterations) == 12
    assert epoch_losses[-1] < epoch_losses[0]


def test_metrics_validation_and_history(rng):
    x, y = _data(rng)
    model = MLP()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    hist = model.fit(x, y, batch_size=32, epochs=2, verbose=0,
                     validation_data=(x[:16], y[:16]))
    assert sorted(hist.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert all(len(v) == 2 for v in hist.history.values())
    # val_ values are evaluate's on the same data after the epoch
    loss, mae = model.evaluate(x[:16], y[:16], verbose=0)
    assert hist.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    pred = model.predict(x[:16], verbose=0)
    assert isinstance(pred, np.ndarray) and pred.shape == (16, 1)
    np.testing.assert_allclose(mae, np.mean(np.abs(pred - y[:16])),
                               rtol=1e-5)
    np.testing.assert_allclose(loss, np.mean((pred - y[:16]) ** 2),
                               rtol=1e-5)
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(d) == ["loss", "mae"]


def test_accuracy_follows_the_shapes_as_keras():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64)
    model = MLP(hidden=8, out=2)
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True), metrics=["accuracy"])
    hist = model.fit(x, labels, epochs=30, batch_size=40, verbose=0)
    assert isinstance(model.metrics[0], keras.metrics.SparseCategoricalAccuracy)
    pred = model.predict(x, verbose=0).argmax(-1)
    # the last epoch's accuracy is measured during its one (full) batch,
    # before that batch's update
    assert 0.0 <= hist.history["accuracy"][-1] <= 1.0
    assert np.mean(pred == labels) >= 0.9
    binary = MLP(out=1)
    binary.compile(optimizer="adam", loss="binary_crossentropy",
                   metrics=["accuracy"])
    binary.fit(x, labels[:, None].astype(np.float32), epochs=1, verbose=0)
    assert isinstance(binary.metrics[0], keras.metrics.BinaryAccuracy)


def test_progress_line_and_verbosity(rng):
    x, y = _data(rng)
    model = MLP()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.fit(x, y, batch_size=16, epochs=2)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    pat = (r"^4/4 \u2501{20} \d+s \d+(us|ms|s)/step - loss: \d+\.\d{4} - "
           r"mae: \d+\.\d{4}$")
    assert re.match(pat, lines[1]), lines[1]
    assert re.match(pat, lines[3]), lines[3]
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        model.fit(x, y, epochs=1, verbose=0)
    assert quiet.getvalue() == ""
    two = io.StringIO()
    with contextlib.redirect_stdout(two):
        model.fit(x, y, batch_size=32, epochs=1, verbose=2)
    assert re.match(r"^Epoch 1/1\n2/2 - \d+s - \d+(us|ms|s)/step - loss: ",
                    two.getvalue())


def test_fit_takes_a_dataset(rng):
    x, y = _data(rng)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    model = MLP()
    model.compile(optimizer="sgd", loss="mse")
    hist = model.fit(ds, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2
    assert int(model.optimizer.iterations) == 8
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(ds, y, verbose=0)


def test_train_on_batch_and_test_on_batch(rng):
    x, y = _data(rng, 8)
    model = MLP()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = model.test_on_batch(x, y)
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(before, rel=1e-6)   # measured before
    after = model.test_on_batch(x, y)
    assert after < before
    assert int(model.optimizer.iterations) == 1


def test_validation_split_takes_the_tail(rng):
    x, y = _data(rng, 40)
    model = MLP()
    model.compile(optimizer="sgd", loss="mse")
    hist = model.fit(x, y, validation_split=0.25, epochs=1, batch_size=10,
                     shuffle=False, verbose=0)
    assert hist.params["steps"] == 3        # 30 training samples
    assert "val_loss" in hist.history


def test_errors_are_keras():
    model = MLP()
    with pytest.raises(RuntimeError, match="You must call `compile\\(\\)`"):
        model.fit(np.zeros((2, 3)), np.zeros((2, 1)), verbose=0)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="Data cardinality is ambiguous"):
        model.fit(np.zeros((4, 3)), np.zeros((3, 1)), verbose=0)
    with pytest.raises(ValueError, match="Could not interpret loss"):
        model.compile(optimizer="sgd", loss="nope")
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        model.compile(optimizer="nope", loss="mse")
    # Model(inputs, outputs) is the functional API: Keras' message for
    # inputs that are not KerasTensors
    with pytest.raises(ValueError, match="All `inputs` values must be "
                                         "KerasTensors"):
        keras.Model(1, 2)


def test_callbacks_can_stop_training(rng):
    x, y = _data(rng)

    class StopAfterOne:
        def set_model(self, model):
            self.model = model

        def on_epoch_end(self, epoch, logs):
            self.logs = logs
            self.model.stop_training = True

    cb = StopAfterOne()
    model = MLP()
    model.compile(optimizer="sgd", loss="mse")
    hist = model.fit(x, y, epochs=5, verbose=0, callbacks=[cb])
    assert hist.epoch == [0] and "loss" in cb.logs


def test_summary_counts_parameters(rng):
    model = MLP(hidden=4, out=2)
    model(tf.zeros([1, 3]))
    out = []
    model.summary(print_fn=out.append)
    text = "\n".join(out)
    assert out[0] == 'Model: "%s"' % model.name
    assert "dense" in text and "(Dense)" in text
    assert " Total params: 26 (104.00 B)" in out      # 3*4+4 + 4*2+2
    assert " Trainable params: 26 (104.00 B)" in out
    assert " Non-trainable params: 0 (0.00 B)" in out


def test_sequential_stacks_layers_and_passes_training(rng):
    # seeded: the initial weights, dropout masks (tapegrad.random) and
    # fit's shuffle (NumPy's global state, as Keras') decide whether 5
    # noisy epochs lower the loss; unseeded, about 1 run in 100 did not
    tf.random.set_seed(0)
    np.random.seed(0)
    x, y = _data(rng)
    model = keras.Sequential([keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dropout(0.5),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    hist = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    # inference skips the dropout: two predictions agree exactly
    np.testing.assert_array_equal(model.predict(x[:8], verbose=0),
                                  model.predict(x[:8], verbose=0))
    # training=True drops: two calls differ
    a = model(tf.constant(x[:8]), training=True).numpy()
    b = model(tf.constant(x[:8]), training=True).numpy()
    assert not np.array_equal(a, b)
    assert len(model.layers) == 3 and len(model.trainable_variables) == 4
    out = []
    model.summary(print_fn=out.append)
    text = "\n".join(out)
    assert "(None, 8)" in text and "(None, 1)" in text
    assert " Total params: 41 (164.00 B)" in out     # 3*8+8 + 8*1+1
    with pytest.raises(ValueError, match="Only instances of `keras.Layer` "
                                         "can be added to a Sequential"):
        model.add("dense")
    assert isinstance(model.pop(), keras.layers.Dense)
    assert len(model.layers) == 2


def test_ctrl_c_leaves_the_last_completed_step(rng):
    """A KeyboardInterrupt between steps (here from a callback after the
    third step) leaves the weights exactly as three steps left them."""
    x, y = _data(rng)

    class Interrupt:
        def on_train_batch_end(self, batch, logs):
            if batch == 2:
                raise KeyboardInterrupt

    model = MLP()
    model(x[:1])
    twin = MLP()
    _clone_weights(model, twin, x)
    for m in (model, twin):
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0,
                  callbacks=[Interrupt()])
    for s in range(0, 48, 16):
        twin.train_on_batch(x[s:s + 16], y[s:s + 16])
    for a, b in zip(model.variables, twin.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(model.optimizer.iterations) == 3
    # and fit runs again afterwards (its cached variable list is gone)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 7


def test_save_and_load_weights_round_trip(rng, tmp_path):
    x, y = _data(rng)
    model = MLP()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "mlp.weights.h5")
    model.save_weights(path)
    other = MLP()
    with pytest.raises(ValueError, match="no weights yet"):
        other.load_weights(path)
    other(x[:1])
    other.load_weights(path)
    for a, b in zip(model.variables, other.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(model.predict(x, verbose=0),
                                  other.predict(x, verbose=0))
    wrong = keras.Sequential([keras.layers.Dense(5)])
    wrong(x[:1])
    before = [v.numpy() for v in wrong.variables]
    with pytest.raises(ValueError):
        wrong.load_weights(path)
    for a, b in zip(before, wrong.variables):
        np.testing.assert_array_equal(a, b.numpy())


def test_a_checkpoint_resumes_training_exactly(rng, tmp_path):
    """Model and optimizer (iterations, learning rate, Adam's slots) are
    saved: training resumed from the checkpoint continues exactly as the
    uninterrupted run."""
    x, y = _data(rng)
    model = MLP()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    path = ckpt.write(str(tmp_path / "run"))
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)

    resumed = MLP()
    resumed.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    resumed.fit(x[:16], y[:16], epochs=1, verbose=0)    # builds the slots
    tf.train.Checkpoint(model=resumed, optimizer=resumed.optimizer).read(path)
    assert int(resumed.optimizer.iterations) == 4
    resumed.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.variables, resumed.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_batches_cover_every_row_once_in_pairs(shuffle):
    # more rows than one gathered chunk (CHUNK_BATCHES batches), a ragged
    # last batch; x and y rows stay paired, every row comes exactly once
    from tapegrad.keras.models import _ArrayBatches
    n, bs = 7 * _ArrayBatches.CHUNK_BATCHES * 3 + 5, 7
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n, dtype=np.float32) * 10
    batches = list(_ArrayBatches(x, y, None, bs, shuffle))
    assert len(batches) == -(-n // bs)
    assert [b[3] for b in batches] == [bs] * (n // bs) + [n % bs]
    xs = np.concatenate([b[0].numpy() for b in batches])
    ys = np.concatenate([b[1].numpy() for b in batches])
    np.testing.assert_array_equal(xs[:, 0] * 5, ys)
    assert sorted(ys) == list(y)
    assert (list(ys) != list(y)) == shuffle
