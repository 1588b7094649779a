"""tf.keras.losses (Keras 3) and tf.clip_by_global_norm: values against
the documented formulas computed in NumPy float64, Keras' docstring
examples, dtypes, reductions, sample_weight broadcasting, from_logits
against probabilities, extreme logits, errors and lookup by name, and
gradients (first order against finite differences, second order through
nested tapes, forward mode) of compositions of op-table rows."""
import warnings

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.test import check_gradients

L = tf.keras.losses
EPS = 1e-7


# ---- NumPy references (float64), from the formulas --------------------------
def np_mse(t, p):
    return np.mean((t - p) ** 2, axis=-1)


def np_mae(t, p):
    return np.mean(np.abs(t - p), axis=-1)


def np_huber(t, p, delta=1.0):
    e = np.abs(p - t)
    return np.mean(np.where(e <= delta, 0.5 * e ** 2,
                            delta * e - 0.5 * delta ** 2), axis=-1)


def np_bce(z, p, label_smoothing=0.0):
    z = z * (1 - label_smoothing) + 0.5 * label_smoothing
    p = np.clip(p, EPS, 1 - EPS)
    return np.mean(-(z * np.log(p) + (1 - z) * np.log(1 - p)), axis=-1)


def np_bce_logits(z, x, label_smoothing=0.0):
    z = z * (1 - label_smoothing) + 0.5 * label_smoothing
    return np.mean(np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x))),
                   axis=-1)


def np_log_softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def np_cce(y, p, axis=-1, label_smoothing=0.0):
    y = y * (1 - label_smoothing) + label_smoothing / p.shape[axis]
    p = p / np.sum(p, axis=axis, keepdims=True)
    p = np.clip(p, EPS, 1 - EPS)
    return -np.sum(y * np.log(p), axis=axis)


def np_cce_logits(y, x, axis=-1, label_smoothing=0.0):
    y = y * (1 - label_smoothing) + label_smoothing / x.shape[axis]
    return -np.sum(y * np_log_softmax(x, axis), axis=axis)


def np_scce(labels, p):
    # Keras: the sparse softmax row over log(clip(p))
    return np_scce_logits(labels, np.log(np.clip(p, EPS, 1 - EPS)))


def np_scce_logits(labels, x):
    ls = np_log_softmax(x)
    return -np.take_along_axis(ls, labels[..., None], -1)[..., 0]


def probs(rng, shape, axis=-1):
    p = rng.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=axis, keepdims=True)


def onehot(rng, shape):
    labels = rng.integers(0, shape[-1], shape[:-1])
    return np.eye(shape[-1])[labels], labels


# ---- function forms: per-sample values, shapes, dtypes ----------------------
def test_regression_functions_against_numpy(rng):
    t = rng.standard_normal((4, 3, 5))
    p = rng.standard_normal((4, 3, 5))
    for fn, ref in ((L.mean_squared_error, np_mse),
                    (L.mean_absolute_error, np_mae),
                    (L.huber, np_huber)):
        for dt, rtol in ((tf.float32, 1e-6), (tf.float64, 1e-12)):
            got = fn(tf.constant(t, dt), tf.constant(p, dt))
            assert got.dtype == dt and got.shape == (4, 3)
            np.testing.assert_allclose(got.numpy(), ref(t, p), rtol=rtol)
    for d in (0.3, 2.5):
        np.testing.assert_allclose(
            L.huber(tf.constant(t), tf.constant(p), delta=d).numpy(),
            np_huber(t, p, d), rtol=1e-12)
    assert L.mse is L.MSE is L.mean_squared_error
    assert L.mae is L.MAE is L.mean_absolute_error
    # Python lists: float32 (and integer labels are cast to y_pred's dtype)
    got = L.mse([[0, 1], [0, 0]], [[1.0, 1.0], [1.0, 0.0]])
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), [0.5, 0.5])


def test_crossentropy_functions_against_numpy(rng):
    z = rng.integers(0, 2, (6, 4)).astype(np.float64)
    x = rng.standard_normal((6, 4)) * 3
    p = rng.uniform(0.01, 0.99, (6, 4))
    y, labels = onehot(rng, (6, 5))
    q = probs(rng, (6, 5))
    u = rng.standard_normal((6, 5)) * 3
    cases = [
        (lambda: L.binary_crossentropy(z, p), np_bce(z, p)),
        (lambda: L.binary_crossentropy(z, x, from_logits=True),
         np_bce_logits(z, x)),
        (lambda: L.binary_crossentropy(z, p, label_smoothing=0.2),
         np_bce(z, p, 0.2)),
        (lambda: L.binary_crossentropy(z, x, True, 0.2),
         np_bce_logits(z, x, 0.2)),
        (lambda: L.categorical_crossentropy(y, q), np_cce(y, q)),
        (lambda: L.categorical_crossentropy(y, q * 3.0), np_cce(y, q)),
        (lambda: L.categorical_crossentropy(y, u, from_logits=True),
         np_cce_logits(y, u)),
        (lambda: L.categorical_crossentropy(y, q, label_smoothing=0.1),
         np_cce(y, q, label_smoothing=0.1)),
        (lambda: L.categorical_crossentropy(y, u, True, 0.1),
         np_cce_logits(y, u, label_smoothing=0.1)),
        (lambda: L.categorical_crossentropy(y.T, q.T, axis=0),
         np_cce(y.T, q.T, axis=0)),
        (lambda: L.categorical_crossentropy(y.T, u.T, True, axis=0),
         np_cce_logits(y.T, u.T, axis=0)),
        (lambda: L.sparse_categorical_crossentropy(labels, q),
         np_scce(labels, q)),
        (lambda: L.sparse_categorical_crossentropy(labels[:, None], q),
         np_scce(labels, q)),
        (lambda: L.sparse_categorical_crossentropy(labels, u, True),
         np_scce_logits(labels, u)),
    ]
    for f, want in cases:
        got = f()       # NumPy float64 in, float64 out
        assert got.dtype == tf.float64 and got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)
    got = L.binary_crossentropy(tf.constant(z, tf.float32),
                                tf.constant(p, tf.float32))
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), np_bce(z, p), rtol=1e-5)


def test_keras_docstring_examples():
    # the docstrings print 3-4 digits, some truncated (0.2436 as 0.243)
    y_true = [[0, 1, 0], [0, 0, 1]]
    y_pred = [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    np.testing.assert_allclose(L.categorical_crossentropy(y_true,
                                                          y_pred).numpy(),
                               [0.0513, 2.303], atol=1e-3)
    cce = L.CategoricalCrossentropy()
    np.testing.assert_allclose(cce(y_true, y_pred).numpy(), 1.177, atol=1e-3)
    np.testing.assert_allclose(
        cce(y_true, y_pred, sample_weight=np.array([0.3, 0.7])).numpy(),
        0.814, atol=1e-3)
    np.testing.assert_allclose(
        L.CategoricalCrossentropy(reduction="sum")(y_true, y_pred).numpy(),
        2.354, atol=1e-3)
    scce = L.SparseCategoricalCrossentropy()
    np.testing.assert_allclose(scce([1, 2], y_pred).numpy(), 1.177,
                               atol=1e-3)
    np.testing.assert_allclose(
        L.SparseCategoricalCrossentropy(reduction=None)([1, 2],
                                                        y_pred).numpy(),
        [0.0513, 2.303], atol=1e-3)
    np.testing.assert_allclose(
        L.binary_crossentropy([[0, 1], [0, 0]],
                              [[0.6, 0.4], [0.4, 0.6]]).numpy(),
        [0.916, 0.714], atol=1e-3)
    t, x = np.array([[0, 1], [0, 0]]), np.array([[-18.6, 0.51], [2.94, -12.8]])
    bce = L.BinaryCrossentropy(from_logits=True)
    np.testing.assert_allclose(bce(t, x).numpy(), 0.8654, atol=1e-3)
    np.testing.assert_allclose(bce([0, 1, 0, 0], [-18.6, 0.51, 2.94, -12.8])
                               .numpy(), 0.8654, atol=1e-3)
    np.testing.assert_allclose(bce(t, x, sample_weight=[0.8, 0.2]).numpy(),
                               0.243, atol=1e-3)      # 0.2436, as printed
    np.testing.assert_allclose(
        L.BinaryCrossentropy(from_logits=True, reduction="sum")(t, x).numpy(),
        1.730, atol=1e-3)
    np.testing.assert_allclose(
        L.huber([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).numpy(),
        [0.18, 0.13], atol=1e-6)
    np.testing.assert_allclose(
        L.Huber()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).numpy(),
        0.155, atol=1e-6)


# ---- classes: conversion, dtype, reductions, sample_weight ------------------
CLASSES = [
    (L.MeanSquaredError, {}, np_mse, "mean_squared_error"),
    (L.MeanAbsoluteError, {}, np_mae, "mean_absolute_error"),
    (L.Huber, {"delta": 0.7}, lambda t, p: np_huber(t, p, 0.7),
     "huber_loss"),
    (L.BinaryCrossentropy, {}, np_bce, "binary_crossentropy"),
    (L.BinaryCrossentropy, {"from_logits": True}, np_bce_logits,
     "binary_crossentropy"),
    (L.CategoricalCrossentropy, {}, np_cce, "categorical_crossentropy"),
    (L.CategoricalCrossentropy, {"from_logits": True}, np_cce_logits,
     "categorical_crossentropy"),
]


def _inputs(rng, cls, kw, shape):
    if cls is L.BinaryCrossentropy:
        t = rng.integers(0, 2, shape).astype(np.float64)
        p = (rng.standard_normal(shape) * 3 if kw.get("from_logits")
             else rng.uniform(0.05, 0.95, shape))
    elif cls is L.CategoricalCrossentropy:
        t = onehot(rng, shape)[0]
        p = (rng.standard_normal(shape) * 3 if kw.get("from_logits")
             else probs(rng, shape))
    else:
        t, p = rng.standard_normal(shape), rng.standard_normal(shape)
    return t, p


@pytest.mark.parametrize("cls,kw,ref,name", CLASSES,
                         ids=[c[0].__name__ + ("_logits" if c[1].get(
                             "from_logits") else "") for c in CLASSES])
def test_loss_classes_reduce_as_keras(rng, cls, kw, ref, name):
    t, p = _inputs(rng, cls, kw, (5, 4))
    per = ref(t, p)                                     # shape (5,)
    loss = cls(**kw)
    assert loss.name == name and loss.reduction == "sum_over_batch_size"
    assert loss.dtype == "float32"
    got = loss(t, p)            # float64 NumPy in: cast to the loss's dtype
    assert got.dtype == tf.float32 and got.shape == ()
    np.testing.assert_allclose(got.numpy(), per.mean(), rtol=1e-5)
    for red, want in (("sum", per.sum()), ("mean", per.mean()),
                      ("none", per), (None, per)):
        got = cls(reduction=red, **kw)(tf.constant(t, tf.float32),
                                       tf.constant(p, tf.float32))
        assert got.dtype == tf.float32
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)
    # float64 all the way with dtype="float64"
    l64 = cls(dtype="float64", **kw)
    assert l64.dtype == "float64"
    got = l64(t, p)
    assert got.dtype == tf.float64
    np.testing.assert_allclose(got.numpy(), per.mean(), rtol=1e-12)
    # sample_weight: per sample, (batch, 1) squeezed, scalar, a tensor
    w = rng.uniform(0, 2, 5)
    for sw in (w, w[:, None], tf.constant(w, tf.float32), list(w)):
        np.testing.assert_allclose(l64(t, p, sample_weight=sw).numpy(),
                                   np.sum(per * w) / 5, rtol=1e-6)
    np.testing.assert_allclose(l64(t, p, sample_weight=2.5).numpy(),
                               2.5 * per.mean(), rtol=1e-12)
    np.testing.assert_allclose(
        cls(reduction="sum", dtype="float64", **kw)(t, p, w).numpy(),
        np.sum(per * w), rtol=1e-12)
    np.testing.assert_allclose(
        cls(reduction="none", dtype="float64", **kw)(t, p, w).numpy(),
        per * w, rtol=1e-12)
    np.testing.assert_allclose(
        cls(reduction="mean_with_sample_weight", dtype="float64", **kw)(
            t, p, w).numpy(), np.sum(per * w) / np.sum(w), rtol=1e-12)
    assert loss.get_config()["name"] == name


def test_per_timestep_weights_and_broadcast_divisor(rng):
    # per-sample losses of shape (batch, time): a (batch, time) weight
    # weighs each, a (batch,) weight is expanded (batch, 1) and broadcast
    t, p = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    per = np_mse(t, p)
    loss = L.MeanSquaredError(dtype="float64")
    w2 = rng.uniform(0, 1, (3, 4))
    np.testing.assert_allclose(loss(t, p, w2).numpy(),
                               np.sum(per * w2) / 12, rtol=1e-12)
    w1 = rng.uniform(0, 1, 3)
    with pytest.raises(tf.errors.InvalidArgumentError):
        loss(t, p, w1)                  # (3, 4) * (3,): as Keras, no match
    np.testing.assert_allclose(loss(t, p, w1[:, None]).numpy(),
                               np.sum(per * w1[:, None]) / 12, rtol=1e-12)
    # a weight that broadcasts the losses up divides by the larger size
    t1, p1 = rng.standard_normal((3, 1, 2)), rng.standard_normal((3, 1, 2))
    per1 = np_mse(t1, p1)                                 # (3, 1)
    np.testing.assert_allclose(loss(t1, p1, w2).numpy(),
                               np.sum(per1 * w2) / 12, rtol=1e-12)


def test_classes_match_ranks_as_keras(rng):
    # y_true (n,) against y_pred (n, 1): y_true is expanded, not broadcast
    t, p = rng.standard_normal(4), rng.standard_normal((4, 1))
    got = L.MeanSquaredError(reduction=None, dtype="float64")(t, p)
    np.testing.assert_allclose(got.numpy(), (t - p[:, 0]) ** 2, rtol=1e-12)
    z = np.array([0.0, 1.0, 1.0])
    q = np.array([[0.2], [0.7], [0.9]])
    got = L.BinaryCrossentropy(reduction=None, dtype="float64")(z, q)
    np.testing.assert_allclose(got.numpy(), np_bce(z[:, None], q),
                               rtol=1e-12)
    # y_true (n, 1) against y_pred (n, 1, 1)... and (n, k, 1) vs (n, k)
    t3, p2 = rng.standard_normal((2, 3, 1)), rng.standard_normal((2, 3))
    got = L.MeanAbsoluteError(reduction=None, dtype="float64")(t3, p2)
    np.testing.assert_allclose(got.numpy(), np_mae(t3[..., 0], p2),
                               rtol=1e-12)


def test_empty_and_scalar_losses_are_not_reduced():
    loss = L.MeanSquaredError()
    got = loss(tf.zeros([0, 3]), tf.zeros([0, 3]))
    assert got.shape == (0,)
    got = L.BinaryCrossentropy()([1.0, 0.0], [0.9, 0.2])   # rank 1 -> ()
    assert got.shape == ()
    np.testing.assert_allclose(got.numpy(), np_bce(np.array([1.0, 0.0]),
                                                   np.array([0.9, 0.2])),
                               rtol=1e-6)


def test_sparse_categorical_crossentropy_class(rng):
    q, u = probs(rng, (6, 4)), rng.standard_normal((6, 4)) * 4
    labels = rng.integers(0, 4, 6)
    for kw, x, ref in (({}, q, np_scce), ({"from_logits": True}, u,
                                          np_scce_logits)):
        loss = L.SparseCategoricalCrossentropy(dtype="float64", **kw)
        assert loss.name == "sparse_categorical_crossentropy"
        per = ref(labels, x)
        for lab in (labels, labels[:, None], labels.astype(np.float32),
                    tf.constant(labels, tf.int64)):
            np.testing.assert_allclose(loss(lab, x).numpy(), per.mean(),
                                       rtol=1e-12)
        w = rng.uniform(0, 1, 6)
        np.testing.assert_allclose(loss(labels, x, w).numpy(),
                                   np.sum(per * w) / 6, rtol=1e-12)
    # per-pixel labels: (batch, h, w) against (batch, h, w, classes)
    lab = rng.integers(0, 3, (2, 3, 2))
    x = rng.standard_normal((2, 3, 2, 3))
    got = L.sparse_categorical_crossentropy(lab, x, from_logits=True)
    assert got.shape == (2, 3, 2)
    np.testing.assert_allclose(got.numpy(), np_scce_logits(lab, x),
                               rtol=1e-12)


def test_sparse_categorical_crossentropy_ignore_class(rng):
    u = rng.standard_normal((5, 3))
    labels = np.array([0, -1, 2, -1, 1])
    per = np_scce_logits(np.where(labels < 0, 0, labels), u)
    per[labels < 0] = 0.0
    got = L.sparse_categorical_crossentropy(labels, u, from_logits=True,
                                            ignore_class=-1)
    np.testing.assert_allclose(got.numpy(), per, rtol=1e-12)
    loss = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1,
                                           dtype="float64")
    # the mean is over the valid labels only
    np.testing.assert_allclose(loss(labels, u).numpy(), per.sum() / 3,
                               rtol=1e-12)
    w = rng.uniform(0, 1, 5)
    np.testing.assert_allclose(loss(labels, u, w).numpy(),
                               np.sum(per * w) / 3, rtol=1e-12)
    np.testing.assert_allclose(
        L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1,
                                        reduction="sum", dtype="float64")(
            labels, u).numpy(), per.sum(), rtol=1e-12)
    # every label ignored: 0, not NaN
    assert L.SparseCategoricalCrossentropy(ignore_class=1)(
        [1, 1], [[0.5, 0.5], [0.2, 0.8]]).numpy() == 0.0
    # ignored rows get no gradient
    x = tf.constant(u)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = loss(labels, x)
    g = tape.gradient(y, x).numpy()
    assert np.all(g[labels < 0] == 0) and np.all(g[labels >= 0] != 0)


# ---- from_logits against probabilities; extremes ----------------------------
def test_logits_and_probabilities_agree(rng):
    x = rng.standard_normal((4, 6)) * 2
    z = rng.integers(0, 2, (4, 6)).astype(np.float64)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(
        L.binary_crossentropy(z, sig).numpy(),
        L.binary_crossentropy(z, x, from_logits=True).numpy(), rtol=1e-9)
    y, labels = onehot(rng, (4, 6))
    sm = np.exp(np_log_softmax(x))
    np.testing.assert_allclose(
        L.categorical_crossentropy(y, sm).numpy(),
        L.categorical_crossentropy(y, x, from_logits=True).numpy(),
        rtol=1e-9)
    np.testing.assert_allclose(
        L.sparse_categorical_crossentropy(labels, sm).numpy(),
        L.sparse_categorical_crossentropy(labels, x, True).numpy(),
        rtol=1e-9)
    # through tapegrad's own activations, in float32
    xt = tf.constant(x, tf.float32)
    np.testing.assert_allclose(
        L.BinaryCrossentropy()(z, tf.sigmoid(xt)).numpy(),
        L.BinaryCrossentropy(from_logits=True)(z, xt).numpy(), rtol=1e-5)
    np.testing.assert_allclose(
        L.CategoricalCrossentropy()(y, tf.nn.softmax(xt)).numpy(),
        L.CategoricalCrossentropy(from_logits=True)(y, xt).numpy(),
        rtol=1e-5)


@pytest.mark.parametrize("dt", [tf.float32, tf.float64])
def test_extreme_logits_and_saturated_probabilities_stay_finite(dt):
    x = tf.constant([[100.0, -100.0], [-100.0, 100.0]], dt)
    z = tf.constant([[0.0, 1.0], [1.0, 1.0]], dt)
    fns = [
        lambda x: L.binary_crossentropy(z, x, from_logits=True),
        lambda x: L.categorical_crossentropy(z, x, from_logits=True),
        lambda x: L.sparse_categorical_crossentropy([1, 0], x, True),
        lambda x: L.BinaryCrossentropy(from_logits=True, dtype=dt)(z, x),
        lambda x: L.SparseCategoricalCrossentropy(True, dtype=dt)([1, 0], x),
    ]
    want = [[100.0, 50.0], [200.0, 200.0], [200.0, 200.0], 75.0, 200.0]
    for f, w in zip(fns, want):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        g = tape.gradient(y, x)
        assert y.dtype == dt and g.dtype == dt
        assert np.all(np.isfinite(y.numpy())) and np.all(
            np.isfinite(g.numpy()))
        np.testing.assert_allclose(y.numpy(), w, rtol=1e-6)
    # probabilities of exactly 0 and 1: clipped to [1e-7, 1 - 1e-7]
    p = tf.constant([[0.0, 1.0], [1.0, 0.0]], dt)
    for f in (lambda p: L.binary_crossentropy(z, p),
              lambda p: L.categorical_crossentropy(z, p),
              lambda p: L.sparse_categorical_crossentropy([0, 1], p)):
        with tf.GradientTape() as tape:
            tape.watch(p)
            y = f(p)
        g = tape.gradient(y, p)
        assert np.all(np.isfinite(y.numpy())) and np.all(
            np.isfinite(g.numpy()))
    eps = np.finfo(np.float32).eps if dt == tf.float32 else 0
    worst = -np.log(np.float64(1e-7))                 # 16.118
    np.testing.assert_allclose(
        L.binary_crossentropy([[1.0]], tf.constant([[0.0]], dt)).numpy(),
        [worst], rtol=1e-6 + eps)


# ---- gradients: finite differences, second order, forward mode --------------
def test_function_gradients_first_and_second_order(rng):
    t, p = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    check_gradients(L.mean_squared_error, t, p)
    check_gradients(L.mean_absolute_error, t, p)
    # away from the kink at |error| = delta
    e = rng.uniform(0.1, 0.5, (3, 4)) * rng.choice([-1, 1], (3, 4))
    e[:, :2] *= 6
    check_gradients(lambda t, p: L.huber(t, p, delta=1.0), t, t + e)
    z = rng.uniform(0, 1, (3, 4))
    x = rng.standard_normal((3, 4)) * 2
    q = rng.uniform(0.1, 0.9, (3, 4))
    check_gradients(lambda z, x: L.binary_crossentropy(z, x, True, 0.1),
                    z, x)
    check_gradients(lambda z, q: L.binary_crossentropy(z, q), z, q)
    y = probs(rng, (3, 4))                              # soft labels
    w = probs(rng, (3, 4)) * 2.0
    check_gradients(lambda y, x: L.categorical_crossentropy(y, x, True), y, x)
    check_gradients(lambda y, w: L.categorical_crossentropy(y, w, False, 0.1),
                    y, w)
    check_gradients(lambda y, x: L.categorical_crossentropy(
        y, x, True, axis=0), y, x)
    labels = rng.integers(0, 4, 3)
    check_gradients(lambda x: L.sparse_categorical_crossentropy(
        labels, x, from_logits=True), x)
    check_gradients(lambda q: L.sparse_categorical_crossentropy(labels, q),
                    probs(rng, (3, 4)))


def test_class_gradients_with_reduction_and_weights(rng):
    t, p = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    w = rng.uniform(0, 1, 4)
    z = rng.integers(0, 2, (4, 3)).astype(np.float64)
    y, labels = onehot(rng, (4, 3))
    for red in ("sum_over_batch_size", "sum", "none",
                "mean_with_sample_weight"):
        check_gradients(lambda p: L.MeanSquaredError(
            reduction=red, dtype="float64")(t, p, w), p)
        check_gradients(lambda x: L.BinaryCrossentropy(
            from_logits=True, reduction=red, dtype="float64")(z, x, w), p)
        check_gradients(lambda x: L.CategoricalCrossentropy(
            from_logits=True, reduction=red, dtype="float64")(y, x, w), p)
        check_gradients(lambda x: L.SparseCategoricalCrossentropy(
            from_logits=True, reduction=red, dtype="float64")(labels, x, w),
            p)
    # the sample weights themselves are differentiable
    check_gradients(lambda w: L.Huber(dtype="float64")(t, p, w), w)


def test_float32_loss_gradient_is_float32_and_matches_keras_formula(rng):
    x = tf.Variable(rng.standard_normal((5, 3)).astype(np.float32))
    y, _ = onehot(rng, (5, 3))
    with tf.GradientTape() as tape:
        loss = L.CategoricalCrossentropy(from_logits=True)(y, x)
    g = tape.gradient(loss, x)
    assert g.dtype == tf.float32
    # d/dx mean(CE) = (softmax(x) - y) / batch
    sm = np.exp(np_log_softmax(x.numpy().astype(np.float64)))
    np.testing.assert_allclose(g.numpy(), (sm - y) / 5, atol=1e-6)


def test_losses_in_forward_mode(rng):
    x = rng.standard_normal((3, 4))
    v = rng.standard_normal((3, 4))
    y, labels = onehot(rng, (3, 4))
    h = 1e-6
    for f in (lambda x: L.CategoricalCrossentropy(
                  from_logits=True, dtype="float64")(y, x),
              lambda x: L.SparseCategoricalCrossentropy(dtype="float64")(
                  labels, tf.nn.softmax(x)),
              lambda x: L.BinaryCrossentropy(label_smoothing=0.1,
                                             dtype="float64")(
                  y, tf.sigmoid(x)),
              lambda x: L.Huber(dtype="float64")(y, x)):
        primal = tf.constant(x)
        with tf.autodiff.ForwardAccumulator(primal, tf.constant(v)) as acc:
            out = f(primal)
        fd = (f(tf.constant(x + h * v)).numpy()
              - f(tf.constant(x - h * v)).numpy()) / (2 * h)
        np.testing.assert_allclose(acc.jvp(out).numpy(), fd, rtol=1e-6,
                                   atol=1e-8)


# ---- errors, warnings, names, lookup ----------------------------------------
def test_errors_are_keras():
    with pytest.raises(ValueError, match=r"Invalid value for argument "
                       r"`reduction`. Expected one of .*Received: "
                       r"reduction=average"):
        L.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match=r"Arguments `target` and `output` "
                       r"must have the same shape. Received: "
                       r"target.shape=\(2, 3\), output.shape=\(2, 2\)"):
        L.binary_crossentropy(tf.zeros([2, 3]), tf.zeros([2, 2]))
    with pytest.raises(ValueError, match="must have the same rank"):
        L.categorical_crossentropy(tf.zeros([3]), tf.ones([2, 3]))
    with pytest.raises(ValueError, match=r"axis 2 is out of bounds for an "
                       r"array with dimension 2"):
        L.categorical_crossentropy(tf.ones([2, 3]), tf.ones([2, 3]), axis=2)
    with pytest.raises(ValueError, match="`axis` must be of type `int`"):
        L.categorical_crossentropy(tf.ones([2, 3]), tf.ones([2, 3]),
                                   axis=True)
    with pytest.raises(ValueError, match=r"Only axis=-1 is currently "
                       r"supported. Received: axis=0"):
        L.sparse_categorical_crossentropy([0, 1], tf.ones([2, 3]), axis=0)
    with pytest.raises(ValueError, match="must have the same shape up until "
                       "the last dimension"):
        L.sparse_categorical_crossentropy([0, 1, 0], tf.ones([2, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="outside the valid range"):
        L.sparse_categorical_crossentropy([0, 3], tf.ones([2, 3]))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        L.categorical_crossentropy(tf.ones([2, 1]), tf.ones([2, 1]))
    assert w and issubclass(w[0].category, SyntaxWarning)
    assert "Consider using 'binary_crossentropy'" in str(w[0].message)
    with pytest.raises(NotImplementedError):
        L.Loss()(1.0, 1.0)


def test_lookup_by_name_and_config():
    assert L.get("mse") is L.mean_squared_error
    assert L.get("MSE") is L.mean_squared_error
    assert L.get("mae") is L.mean_absolute_error
    assert L.get("bce") is L.binary_crossentropy
    assert L.get("categorical_crossentropy") is L.categorical_crossentropy
    assert L.get("huber") is L.huber
    assert isinstance(L.get("CategoricalCrossentropy"),
                      L.CategoricalCrossentropy)
    assert isinstance(L.get(L.Huber), L.Huber)
    inst = L.Huber(delta=2.0)
    assert L.get(inst) is inst
    assert L.get(None) is None
    cfg = L.get({"class_name": "CategoricalCrossentropy",
                 "config": {"from_logits": True}})
    assert cfg.from_logits is True
    with pytest.raises(ValueError,
                       match="^Could not interpret loss identifier: nope$"):
        L.get("nope")
    with pytest.raises(ValueError, match="Could not interpret loss "
                       "identifier: 5"):
        L.get(5)
    with pytest.raises(TypeError, match="Could not locate class 'Nope'"):
        L.get({"class_name": "Nope", "config": {}})
    # config round trip
    b = L.BinaryCrossentropy(from_logits=True, label_smoothing=0.1,
                             reduction="sum", name="b")
    c = L.deserialize(L.serialize(b))
    assert (type(c), c.name, c.reduction, c.from_logits,
            c.label_smoothing) == (L.BinaryCrossentropy, "b", "sum", True,
                                   0.1)
    assert L.deserialize("mse") is L.mean_squared_error


def test_names():
    assert L.Huber().name == "huber_loss"
    assert L.CategoricalCrossentropy(name="cce").name == "cce"

    class MyLoss(L.Loss):
        def call(self, y_true, y_pred):
            return tf.abs(y_true - y_pred)

    first = MyLoss().name
    assert first.startswith("my_loss")
    assert MyLoss().name != first              # uniquified, as Keras
    np.testing.assert_allclose(MyLoss(reduction="sum")([1.0, 2.0],
                                                       [0.0, 0.0]).numpy(),
                               3.0)


def test_choices_in_the_readme():
    # an integer y_pred computes in float32
    got = L.mse([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), [0.5, 0.0])
    # a saturated sigmoid output is clipped like any probability (Keras
    # would use the logits it tagged the output with)
    got = L.binary_crossentropy([[0.0]], tf.sigmoid(tf.constant([[100.0]])))
    top = np.float32(1) - np.float32(1 - 1e-7)          # 1 - 0.99999988
    np.testing.assert_allclose(got.numpy(), [-np.log(top)], rtol=1e-6)
    # dtype: names and DTypes, mixed_float16 computes in float16
    assert L.MeanSquaredError(dtype=tf.float64).dtype == "float64"
    h = L.Huber(dtype="mixed_float16")
    assert h.dtype == "float16"
    assert h([1.0], [2.0]).dtype == tf.float16
    # the config holds the arguments, Huber's delta included
    assert L.Huber(delta=2.0).get_config() == {
        "name": "huber_loss", "reduction": "sum_over_batch_size",
        "delta": 2.0}
    assert L.deserialize(L.serialize(L.Huber(delta=2.0))).get_config()[
        "delta"] == 2.0


# ---- clip_by_global_norm ----------------------------------------------------
def test_clip_by_global_norm_values(rng):
    a, b = rng.standard_normal((3, 2)), rng.standard_normal(4)
    gn = np.sqrt(np.sum(a ** 2) + np.sum(b ** 2))
    for c in (0.5 * gn, 2.0 * gn):
        out, norm = tf.clip_by_global_norm(
            [tf.constant(a), None, tf.constant(b)], c)
        assert out[1] is None and len(out) == 3
        np.testing.assert_allclose(norm.numpy(), gn, rtol=1e-12)
        scale = c / max(gn, c)
        np.testing.assert_allclose(out[0].numpy(), a * scale, rtol=1e-12)
        np.testing.assert_allclose(out[2].numpy(), b * scale, rtol=1e-12)
    np.testing.assert_allclose(tf.linalg.global_norm([a, None, b]).numpy(),
                               gn, rtol=1e-12)
    # use_norm replaces the computed norm; Variables and tuples are fine
    v = tf.Variable(a)
    out, norm = tf.clip_by_global_norm((v,), 1.0, use_norm=10.0)
    np.testing.assert_allclose(out[0].numpy(), a / 10.0, rtol=1e-6)
    # TF's documented infinite norm: every tensor NaN
    out, norm = tf.clip_by_global_norm([tf.constant([np.inf, 1.0])], 1.0)
    assert np.isinf(norm.numpy()) and np.all(np.isnan(out[0].numpy()))
    # zeros stay zeros; only Nones: a norm of 0
    out, norm = tf.clip_by_global_norm([tf.zeros([3])], 1.0)
    assert norm.numpy() == 0 and np.all(out[0].numpy() == 0)
    out, norm = tf.clip_by_global_norm([None], 1.0)
    assert out == [None] and norm.numpy() == 0.0
    # float32 in, float32 out
    out, norm = tf.clip_by_global_norm([tf.ones([2])], 1.0)
    assert out[0].dtype == norm.dtype == tf.float32
    np.testing.assert_allclose(out[0].numpy(), [2 ** -0.5] * 2, rtol=1e-6)
    with pytest.raises(TypeError, match="`t_list` should be a sequence of "
                       "tensors. Received <class"):
        tf.clip_by_global_norm(tf.ones([2]), 1.0)


def test_clip_by_global_norm_gradients(rng):
    a, b = rng.standard_normal((3, 2)), rng.standard_normal(4)
    gn = np.sqrt(np.sum(a ** 2) + np.sum(b ** 2))
    for c in (0.5 * gn, 2.0 * gn):          # clipping and not clipping
        check_gradients(lambda a, b: tf.concat(
            [tf.reshape(t, [-1]) for t in tf.clip_by_global_norm(
                [a, None, b], c)[0] if t is not None], 0), a, b)
        check_gradients(lambda a, b: tf.clip_by_global_norm([a, b], c)[1],
                        a, b)
    # through the clip norm too
    check_gradients(lambda c: tf.clip_by_global_norm([a, b], c)[0][1],
                    np.float64(0.3 * gn))
    # forward mode, against central differences
    v, h = rng.standard_normal((3, 2)), 1e-6

    def clipped(a):
        return tf.clip_by_global_norm([a, tf.constant(b)], 0.5 * gn)[0][0]

    primal = tf.constant(a)
    with tf.autodiff.ForwardAccumulator(primal, tf.constant(v)) as acc:
        out = clipped(primal)
    fd = (clipped(tf.constant(a + h * v)).numpy()
          - clipped(tf.constant(a - h * v)).numpy()) / (2 * h)
    np.testing.assert_allclose(acc.jvp(out).numpy(), fd, rtol=1e-6,
                               atol=1e-9)
