"""Pickling and copying (issue 14, "Beyond one process"), as TF's:

* a Tensor pickles as ``convert_to_tensor(its NumPy value)`` at every
  protocol, keeping dtype and shape (0-d and empty too); ``copy.copy`` and
  ``copy.deepcopy`` give the tensor itself (it is immutable);
* a Variable pickles and deep-copies as a new, independent variable with
  the value, name, trainable flag and dtype; ``copy.copy`` gives the
  variable itself (TF's ``BaseResourceVariable.__copy__``);
* tf.Module subclasses, Keras layers and models (Sequential, functional,
  subclassed) and optimizers pickle and deep-copy; an optimizer copied
  with its model keeps its slots on the copied variables, so the copy
  trains on bit for bit as the original does;
* a GradientTape refuses (TypeError), and a tensor made on a tape or a
  variable a tape watches pickles without the tape;
* a spawned process receives a tensor and a model and sends back the
  gradients it computed on its own tape.
"""
import copy
import multiprocessing
import os
import pickle

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import keras

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)
DTYPES = [tf.float16, tf.float32, tf.float64, tf.int8, tf.int16, tf.int32,
          tf.int64, tf.uint8, tf.uint16, tf.uint32, tf.uint64, tf.bool]
SHAPES = [(), (0,), (5,), (2, 3), (3, 0, 2), (2, 1, 2, 2)]


def _values(dtype, shape, rng):
    """Values that exercise the dtype: its extremes, and for floats the
    signed zero, infinities and NaN."""
    npdt = np.dtype(dtype.name)
    n = int(np.prod(shape, dtype=np.int64))
    if npdt == np.bool_:
        pool = np.array([True, False])
    elif npdt.kind == "f":
        pool = np.array([0.1, -0.0, np.inf, -np.inf, np.nan,
                         np.finfo(npdt).max, np.finfo(npdt).tiny],
                        dtype=npdt)
    else:
        info = np.iinfo(npdt)
        pool = np.array([info.min, info.max, 0, 1, 7], dtype=npdt)
    return rng.choice(pool, size=n).astype(npdt).reshape(shape)


def _same(a, b):
    """Same dtype, shape and bytes (NaN == NaN, -0.0 != 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    return (a.dtype == b.dtype and a.shape == b.shape
            and a.tobytes() == b.tobytes())


def _roundtrip(obj, protocol=pickle.HIGHEST_PROTOCOL):
    return pickle.loads(pickle.dumps(obj, protocol=protocol))


# ---- tensors -----------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_tensor_round_trip_every_protocol(dtype, shape, rng):
    arr = _values(dtype, shape, rng)
    t = tf.constant(arr)
    assert t.dtype == dtype
    for protocol in PROTOCOLS:
        u = _roundtrip(t, protocol)
        assert type(u) is tf.Tensor
        assert u.dtype == dtype
        assert u.shape == shape
        assert _same(u.numpy(), arr), protocol
    # immutable, so a copy is the tensor itself (TF's __copy__/__deepcopy__)
    assert copy.copy(t) is t
    assert copy.deepcopy(t) is t
    pair = copy.deepcopy([t, t])
    assert pair[0] is t and pair[1] is t


def test_tensor_reduces_to_convert_to_tensor_of_its_value():
    t = tf.constant([[1, 2], [3, 4]], dtype=tf.int16)
    fn, args = t.__reduce__()
    assert fn is tf.convert_to_tensor
    assert len(args) == 1
    assert _same(args[0], np.array([[1, 2], [3, 4]], dtype=np.int16))
    u = fn(*args)
    assert u.dtype == tf.int16 and u.shape == (2, 2)


def test_extreme_integers_survive():
    t = tf.constant(np.array([2**64 - 1, 2**63, 0], dtype=np.uint64))
    u = _roundtrip(t, 0)
    assert u.numpy().tolist() == [2**64 - 1, 2**63, 0]
    s = _roundtrip(tf.constant(-128, dtype=tf.int8), 2)
    assert s.dtype == tf.int8 and int(s) == -128


def test_tensor_made_on_a_tape_pickles_without_the_tape():
    x = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as tape:
        y = x * x
        data = pickle.dumps(y)
        y2 = pickle.loads(data)
        z = y2 * 2.0
    assert b"GradientTape" not in data
    assert float(y2) == 9.0
    # the copy is a new constant: not connected to x on the tape that was
    # recording when it was pickled and unpickled
    assert tape.gradient(z, x) is None
    assert float(tape.gradient(y, x)) == 6.0


# ---- variables ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_variable_keeps_value_name_trainable_dtype(dtype, rng):
    arr = _values(dtype, (2, 3), rng)
    for name, trainable in [(None, True), ("w", False), ("dense/k", True)]:
        v = tf.Variable(arr, name=name, trainable=trainable)
        want = "Variable:0" if name is None else name + ":0"
        copies = [_roundtrip(v, p) for p in PROTOCOLS] + [copy.deepcopy(v)]
        for c in copies:
            assert type(c) is tf.Variable
            assert c is not v
            assert c.name == want
            assert c.trainable is trainable
            assert c.dtype == dtype
            assert c.shape == (2, 3)
            assert _same(c.numpy(), arr)


def test_variable_copy_is_the_variable_as_tf():
    v = tf.Variable(1.0)
    assert copy.copy(v) is v


def test_copies_are_independent():
    v = tf.Variable([1.0, 2.0], name="w")
    for c in (copy.deepcopy(v), _roundtrip(v)):
        c.assign([5.0, 6.0])
        assert v.numpy().tolist() == [1.0, 2.0]
        v.assign_add([1.0, 1.0])
        assert c.numpy().tolist() == [5.0, 6.0]
        v.assign([1.0, 2.0])


def test_keras_weight_keeps_its_exact_name():
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    k = layer.kernel
    assert k.name == "kernel"
    assert _roundtrip(k).name == "kernel"
    assert copy.deepcopy(k).name == "kernel"


def test_deepcopy_keeps_sharing_within_a_structure():
    v = tf.Variable([1.0, 2.0])
    a, b = copy.deepcopy([v, v])
    assert a is b and a is not v
    p, q = _roundtrip([v, v])
    assert p is q
    p.assign([0.0, 0.0])
    assert q.numpy().tolist() == [0.0, 0.0]


def test_watched_variable_pickles_without_the_tape():
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = v * v
        data = pickle.dumps(v)
        c = pickle.loads(data)
        d = copy.deepcopy(v)
        # neither copying nor pickling reads v or watches the copies
        assert tape.watched_variables() == (v,)
    assert b"GradientTape" not in data
    gv, gc, gd = tape.gradient(y, [v, c, d])
    assert float(gv) == 4.0
    assert gc is None and gd is None


def test_untrainable_variable_copies_are_not_watched():
    v = tf.Variable(2.0, trainable=False)
    with tf.GradientTape() as tape:
        c = copy.deepcopy(v)
        y = c * c
    assert tape.watched_variables() == ()
    assert tape.gradient(y, c) is None


# ---- tapes -------------------------------------------------------------------
@pytest.mark.parametrize("persistent", [False, True])
def test_gradient_tape_refuses_to_pickle(persistent):
    tape = tf.GradientTape(persistent=persistent)
    for protocol in PROTOCOLS:
        with pytest.raises(TypeError, match="cannot pickle 'tapegrad."
                                            "GradientTape' object"):
            pickle.dumps(tape, protocol=protocol)
    with pytest.raises(TypeError, match="GradientTape"):
        copy.copy(tape)
    with pytest.raises(TypeError, match="GradientTape"):
        copy.deepcopy(tape)
    with tape:
        x = tf.constant(1.0)
        tape.watch(x)
        with pytest.raises(TypeError, match="GradientTape"):
            pickle.dumps({"tape": tape, "x": x})


def test_forward_accumulator_refuses_to_pickle():
    acc = tf.autodiff.ForwardAccumulator(tf.constant(1.0), tf.constant(1.0))
    with pytest.raises(TypeError, match="ForwardAccumulator"):
        pickle.dumps(acc)


# ---- modules, layers, models ---------------------------------------------------
class Affine(tf.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.w = tf.Variable([[1.0, -2.0], [0.5, 3.0], [2.0, 0.25]],
                             name="w")
        self.b = tf.Variable([0.5, -1.0], name="b")
        self.scale = tf.Variable(2.0, trainable=False, name="scale")

    def __call__(self, x):
        return (x @ self.w + self.b) * self.scale


def _distinct_variables(a, b):
    ids = {id(v) for v in a.variables}
    return all(id(v) not in ids for v in b.variables)


def test_module_deepcopy_and_pickle():
    m = Affine(name="affine")
    x = tf.constant([[1.0, 2.0, 3.0]])
    want = m(x).numpy()
    assert want.tolist() == [[17.0, 7.5]]
    for c in (copy.deepcopy(m), _roundtrip(m)):
        assert type(c) is Affine and c.name == "affine"
        assert _same(c(x).numpy(), want)
        assert [v.name for v in c.variables] == [v.name for v in m.variables]
        assert [v.trainable for v in c.trainable_variables] == [True, True]
        assert _distinct_variables(m, c)
        c.w.assign(tf.zeros((3, 2)))
        assert _same(m(x).numpy(), want)


def _sequential():
    tf.random.set_seed(7)
    return keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dropout(0.25, seed=3),
        keras.layers.Dense(3),
    ])


def _functional():
    tf.random.set_seed(8)
    inp = keras.Input((4,))
    h = keras.layers.Dense(6, activation="tanh")(inp)
    h = keras.layers.LayerNormalization()(h)
    return keras.Model(inp, keras.layers.Dense(3)(h))


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(5, activation="relu")
        self.norm = keras.layers.BatchNormalization()
        self.out = keras.layers.Dense(3)

    def call(self, x, training=False):
        return self.out(self.norm(self.hidden(x), training=training))


def _subclassed():
    tf.random.set_seed(9)
    m = Subclassed()
    m(np.zeros((1, 4), np.float32))
    return m


MODELS = {"sequential": _sequential, "functional": _functional,
          "subclassed": _subclassed}


@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_model_copies_predict_the_same_with_new_variables(make, rng):
    model = make()
    x = rng.standard_normal((5, 4)).astype(np.float32)
    want = model.predict(x, verbose=0)
    for c in (copy.deepcopy(model), _roundtrip(model)):
        assert type(c) is type(model) and c.name == model.name
        assert _same(c.predict(x, verbose=0), want)
        assert [w.name for w in c.weights] == [w.name for w in model.weights]
        assert all(_same(a.numpy(), b.numpy())
                   for a, b in zip(c.weights, model.weights))
        ids = {id(w) for w in model.weights}
        assert not any(id(w) in ids for w in c.weights)
        c.weights[0].assign(tf.zeros_like(c.weights[0]))
        assert _same(model.predict(x, verbose=0), want)


def test_unbuilt_layer_copies_build_later():
    layer = keras.layers.Dense(2, name="late")
    for c in (copy.deepcopy(layer), _roundtrip(layer)):
        assert not c.built and c.name == "late"
        y = c(tf.ones((1, 3)))
        assert y.shape == (1, 2) and len(c.weights) == 2
    assert not layer.built


def _data(rng):
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.standard_normal((16, 3)).astype(np.float32)
    return x, y


def _state(model):
    return ([w.numpy() for w in model.weights]
            + [v.numpy() for v in model.optimizer.variables])


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_compiled_model_and_adam_train_on_identically(make, how, rng):
    model = make()
    opt = keras.optimizers.Adam(learning_rate=0.01)
    model.compile(optimizer=opt, loss="mse")
    x, y = _data(rng)
    for _ in range(3):
        model.train_on_batch(x, y)
    assert int(opt.iterations) == 3
    if how == "pickle":
        model2, opt2 = pickle.loads(pickle.dumps((model, opt)))
    else:
        model2, opt2 = copy.deepcopy((model, opt))
    assert model2.optimizer is opt2 and opt2 is not opt
    assert int(opt2.iterations) == 3
    before = _state(model)
    assert all(_same(a, b) for a, b in zip(_state(model2), before))
    # the copy's slots are the copy's own variables, tied to its weights
    orig_slots = {id(v) for v in opt.variables}
    assert not any(id(v) in orig_slots for v in opt2.variables)
    assert len(opt2.variables) == len(opt.variables)
    for _ in range(3):
        model2.train_on_batch(x, y)
    assert all(_same(a, b) for a, b in zip(_state(model), before))
    for _ in range(3):
        model.train_on_batch(x, y)
    after, after2 = _state(model), _state(model2)
    assert len(after) == len(after2)
    assert all(_same(a, b) for a, b in zip(after, after2))
    assert int(opt.iterations) == int(opt2.iterations) == 6
    # and training moved the weights, so the comparison meant something
    assert not all(_same(a, b) for a, b in zip(after, before))


@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    lambda: keras.optimizers.Adagrad(0.1),
    lambda: keras.optimizers.AdamW(keras.optimizers.schedules
                                   .ExponentialDecay(0.01, 2, 0.5),
                                   amsgrad=True),
], ids=["sgd", "rmsprop", "adagrad", "adamw-schedule"])
def test_custom_loop_with_copied_optimizer(optimizer, rng):
    model = _functional()
    opt = optimizer()
    x, y = _data(rng)

    def step(m, o):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(m(x) - y))
        grads = tape.gradient(loss, m.trainable_variables)
        o.apply_gradients(zip(grads, m.trainable_variables))

    for _ in range(2):
        step(model, opt)
    model2, opt2 = copy.deepcopy((model, opt))
    model3, opt3 = _roundtrip((model, opt))
    for m, o in ((model, opt), (model2, opt2), (model3, opt3)):
        for _ in range(3):
            step(m, o)
    for m, o in ((model2, opt2), (model3, opt3)):
        assert all(_same(a.numpy(), b.numpy())
                   for a, b in zip(model.weights, m.weights))
        assert all(_same(a.numpy(), b.numpy())
                   for a, b in zip(opt.variables, o.variables))


def test_optimizer_pickled_apart_from_its_model_keeps_its_own_slots(rng):
    # README, Choices: nothing ties two pickles together, so an optimizer
    # unpickled on its own holds slots for its own copies of the variables;
    # applied to a separately unpickled model, it starts fresh slots
    model = _sequential()
    opt = keras.optimizers.Adam(0.01)
    model.compile(optimizer=opt, loss="mse")
    x, y = _data(rng)
    model.train_on_batch(x, y)
    alone = _roundtrip(opt)
    assert int(alone.iterations) == 1
    assert len(alone.variables) == len(opt.variables) == 2 + 2 * 4
    assert all(_same(a.numpy(), b.numpy())
               for a, b in zip(alone.variables, opt.variables))
    other = _roundtrip(model)
    grads = [tf.ones_like(w) for w in other.trainable_variables]
    alone.apply_gradients(zip(grads, other.trainable_variables))
    assert len(alone.variables) == 2 + 2 * 4 + 2 * 4


def test_cloudpickle_carries_a_class_defined_in_place():
    # Dask and Ray pickle with cloudpickle, which sends a class or lambda
    # defined interactively by value; the tensors and variables inside go
    # through the same reductions
    cloudpickle = pytest.importorskip("cloudpickle")

    class Scale(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable([1.0, -2.0], name="w")

        def __call__(self, x):
            return x * self.w

    m = Scale()
    c = pickle.loads(cloudpickle.dumps(m))
    assert c.w is not m.w and c.w.name == "w:0"
    assert c(tf.constant(3.0)).numpy().tolist() == [3.0, -6.0]
    double = keras.layers.Dense(2, activation=lambda t: t * 2)
    model = keras.Sequential([keras.Input((2,)), double])
    x = np.array([[1.0, 2.0]], np.float32)
    c = pickle.loads(cloudpickle.dumps(model))
    assert _same(c(x).numpy(), model(x).numpy())


# ---- another process -----------------------------------------------------------
def _gradients_in_worker(payload):
    """Run in a spawned process: the gradients of a loss of the model at x,
    on the worker's own tape."""
    x, model = payload
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(x)))
    return os.getpid(), loss, tape.gradient(loss, model.trainable_variables)


@pytest.mark.no_refleak_check(reason="starts a process")
def test_spawned_worker_computes_the_parents_gradients(rng):
    model = _sequential()
    x = tf.constant(rng.standard_normal((6, 4)).astype(np.float32))
    parent, want_loss, want = _gradients_in_worker((x, model))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        pid, loss, grads = pool.apply_async(_gradients_in_worker,
                                            ((x, model),)).get(timeout=120)
    assert pid != parent
    assert type(loss) is tf.Tensor and _same(loss.numpy(), want_loss.numpy())
    assert len(grads) == len(want) == 4
    for g, w in zip(grads, want):
        assert type(g) is tf.Tensor
        assert _same(g.numpy(), w.numpy())
