"""tf.keras.metrics (Keras 3): state in non-trainable Variables,
update_state / result / reset_state, the values of Keras' docstring
examples and of its formulas (Mean: weighted total / count of
per-sample values), names, configs and lookup by name."""
import numpy as np
import pytest

import tapegrad as tf

M = tf.keras.metrics


def test_mean_and_sum_keras_examples():
    m = M.Mean()
    m.update_state([1, 3, 5, 7])
    assert m.result().numpy() == 4.0
    m.reset_state()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result().numpy() == 2.0
    s = M.Sum()
    s.update_state([1, 3, 5, 7])
    assert s.result().numpy() == 16.0
    s = M.Sum()
    s.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert s.result().numpy() == 4.0


def test_mean_state_variables_and_reset():
    m = M.Mean()
    assert m.name == "mean" and m.dtype == "float32"
    total, count = m.variables
    assert (total.name, count.name) == ("total", "count")
    assert not total.trainable and not count.trainable
    assert total.dtype == count.dtype == tf.float32
    # nothing seen: 0, not NaN
    assert m.result().numpy() == 0.0
    # accumulates across calls: 16 / 4, then (16 + 4) / (4 + 2)
    m.update_state([1, 3, 5, 7])
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    np.testing.assert_allclose(m.result().numpy(), 20 / 6, rtol=1e-6)
    assert (total.numpy(), count.numpy()) == (20.0, 6.0)
    r = m(tf.constant(2.0))             # __call__: update, then result
    np.testing.assert_allclose(r.numpy(), 22 / 7, rtol=1e-6)
    m.reset_state()
    assert (total.numpy(), count.numpy()) == (0.0, 0.0)
    assert repr(m) == "<Mean name=mean>"
    assert M.Mean(dtype="float64").result().dtype == tf.float64


def test_mean_of_higher_rank_values_is_per_sample(rng):
    # rank-2 values: each sample's mean counts once (count is the batch)
    v = rng.standard_normal((4, 3))
    m = M.Mean(dtype="float64")
    m.update_state(v)
    np.testing.assert_allclose(m.result().numpy(), v.mean(1).sum() / 4,
                               rtol=1e-12)
    assert m.count.numpy() == 4
    # a (batch,) weight: per-sample means weighted, count = sum(weights)
    w = rng.uniform(0, 1, 4)
    m.reset_state()
    m.update_state(v, sample_weight=w)
    np.testing.assert_allclose(m.result().numpy(),
                               np.sum(v.mean(1) * w) / w.sum(), rtol=1e-12)
    # a (batch, 3) weight: per-element, then per-sample means of both
    w2 = rng.uniform(0, 1, (4, 3))
    m.reset_state()
    m.update_state(v, sample_weight=w2)
    np.testing.assert_allclose(
        m.result().numpy(), np.sum((v * w2).mean(1)) / np.sum(w2.mean(1)),
        rtol=1e-12)
    # a scalar weight: one weighted value for the whole batch
    m.reset_state()
    m.update_state(v, sample_weight=2.0)
    np.testing.assert_allclose(m.result().numpy(), v.mean(), rtol=1e-12)
    assert m.count.numpy() == 2.0
    # a scalar value counts once
    m.reset_state()
    m.update_state(5.0)
    assert (m.total.numpy(), m.count.numpy()) == (5.0, 1.0)


def test_accuracy_keras_examples():
    cases = [
        (M.Accuracy, ([[1], [2], [3], [4]], [[0], [2], [3], [4]]),
         [1, 1, 0, 0], 0.75, 0.5),
        (M.BinaryAccuracy, ([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]),
         [1, 0, 0, 1], 0.75, 0.5),
        (M.CategoricalAccuracy, ([[0, 0, 1], [0, 1, 0]],
                                 [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]),
         [0.7, 0.3], 0.5, 0.3),
        (M.SparseCategoricalAccuracy, ([[2], [1]],
                                       [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]),
         [0.7, 0.3], 0.5, 0.3),
    ]
    for cls, args, w, plain, weighted in cases:
        m = cls()
        m.update_state(*args)
        np.testing.assert_allclose(m.result().numpy(), plain, rtol=1e-6)
        m.reset_state()
        m.update_state(*args, sample_weight=w)
        np.testing.assert_allclose(m.result().numpy(), weighted, rtol=1e-6)
        assert m.result().dtype == tf.float32
        assert [v.name for v in m.variables] == ["total", "count"]
    mse = M.MeanSquaredError()
    mse.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    assert mse.result().numpy() == 0.25
    mae = M.MeanAbsoluteError()
    mae.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    assert mae.result().numpy() == 0.5


def test_accuracies_against_numpy(rng):
    logits = rng.standard_normal((8, 5))
    labels = rng.integers(0, 5, 8)
    hit = (logits.argmax(-1) == labels).astype(np.float64)
    for lab in (labels, labels[:, None], labels.astype(np.float32),
                tf.constant(labels, tf.int64)):
        m = M.SparseCategoricalAccuracy()
        m.update_state(lab, logits)
        np.testing.assert_allclose(m.result().numpy(), hit.mean(), rtol=1e-6)
    got = M.sparse_categorical_accuracy(labels[:, None], logits)
    assert got.shape == (8,) and got.dtype == tf.float32
    np.testing.assert_array_equal(got.numpy(), hit)
    onehot = np.eye(5)[labels]
    np.testing.assert_array_equal(
        M.categorical_accuracy(onehot, logits).numpy(), hit)
    # per-timestep labels
    lt, pt = rng.integers(0, 3, (2, 4)), rng.standard_normal((2, 4, 3))
    np.testing.assert_array_equal(
        M.sparse_categorical_accuracy(lt, pt).numpy(),
        (pt.argmax(-1) == lt).astype(np.float32))
    # binary: y_pred > threshold against 0/1 labels (bool labels too)
    p = rng.uniform(0, 1, (6, 2))
    z = rng.integers(0, 2, (6, 2))
    for thr in (0.5, 0.3):
        want = ((p > thr).astype(int) == z).astype(np.float32)
        np.testing.assert_array_equal(
            M.binary_accuracy(z, p, threshold=thr).numpy(), want)
        np.testing.assert_array_equal(
            M.binary_accuracy(z.astype(bool), p, thr).numpy(), want)
        m = M.BinaryAccuracy(threshold=thr)
        m.update_state(z, p)
        np.testing.assert_allclose(m.result().numpy(), want.mean(1).mean(),
                                   rtol=1e-6)
    assert M.BinaryAccuracy(threshold=0.3).get_config() == {
        "name": "binary_accuracy", "dtype": "float32", "threshold": 0.3}


def test_metric_updates_inside_a_tape_do_not_disturb_it():
    x = tf.Variable(2.0)
    m = M.Mean()
    with tf.GradientTape() as tape:
        y = x * x
        m.update_state(y)
    assert tape.gradient(y, x).numpy() == 4.0
    assert m.result().numpy() == 4.0


def test_lookup_by_name():
    for name, cls in (("accuracy", M.Accuracy), ("Accuracy", M.Accuracy),
                      ("sparse_categorical_accuracy",
                       M.SparseCategoricalAccuracy),
                      ("categorical_accuracy", M.CategoricalAccuracy),
                      ("binary_accuracy", M.BinaryAccuracy),
                      ("mse", M.MeanSquaredError),
                      ("mean_squared_error", M.MeanSquaredError),
                      ("mae", M.MeanAbsoluteError), ("mean", M.Mean)):
        assert type(M.get(name)) is cls
    m = M.Mean(name="loss_tracker")
    assert M.get(m) is m and M.get(None) is None
    assert M.get(M.mean_squared_error) is M.mean_squared_error
    with pytest.raises(ValueError,
                       match="^Could not interpret metric identifier: nope$"):
        M.get("nope")
    b = M.get({"class_name": "BinaryAccuracy",
               "config": {"threshold": 0.7, "name": "acc"}})
    assert (b.threshold, b.name) == (0.7, "acc")
    c = M.deserialize(M.serialize(b))
    assert (type(c), c.threshold, c.name) == (M.BinaryAccuracy, 0.7, "acc")


def test_custom_metric_subclass():
    class Count(M.Metric):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.n = self.add_variable((), "zeros", name="n")
            self.inner = M.Sum()

        def update_state(self, values):
            self.n.assign_add(tf.cast(tf.size(values), tf.float32))
            self.inner.update_state(values)

        def result(self):
            return self.n

    c = Count()
    assert c.name.startswith("count")
    c.update_state([1.0, 2.0, 3.0])
    assert c.result().numpy() == 3.0
    assert [v.name for v in c.variables] == ["n", "total"]
    c.reset_state()
    assert [v.numpy() for v in c.variables] == [0.0, 0.0]
    with pytest.raises(NotImplementedError):
        M.Metric().update_state()
