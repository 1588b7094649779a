"""tf.train.Checkpoint, CheckpointManager and latest_checkpoint
(tapegrad/train.py): round trips, the path scheme, numbering, the
manager's deletion and restart, atomic writes under injected failures and
a killed writer, untrusted and damaged files, and restore statuses.

Every test makes its files in a fresh directory of its own (`fresh`): the
refleak guard runs each test body again with the same tmp_path."""
import contextlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import textwrap
import zipfile

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _npzfile, train

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_WRITE_ARRAY = np.lib.format.write_array
_ASSIGN = _npzfile._assign


def fresh(tmp_path):
    return tempfile.mkdtemp(dir=tmp_path)


@contextlib.contextmanager
def patched(obj, name, value):
    """obj.name = value inside the block (not pytest's monkeypatch, whose
    record of patches grows each time the refleak guard reruns a test)."""
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def values(vs):
    return [np.array(v.numpy()) for v in vs]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


class Block(tf.Module):
    def __init__(self, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.dense = tf.keras.layers.Dense(3, activation="relu")
        self.dense(tf.constant(rng.normal(size=(2, 4)), dtype=tf.float32))
        self.norm = tf.keras.layers.BatchNormalization()
        self.norm(tf.constant(rng.normal(size=(5, 3)), dtype=tf.float32),
                  training=True)
        self.scale = tf.Variable(rng.normal(size=(3,)).astype(np.float32))
        self.parts = [tf.Variable(rng.normal()),
                      (tf.Variable(rng.integers(-5, 5, size=2)),),
                      {"b": tf.Variable(rng.normal(size=(2, 2))),
                       "a": tf.Variable(bool(rng.integers(2)))}]
        self.tied = self.scale                 # a second path, sorted later
        self._hidden = tf.Variable(float(seed))
        self.config = {"units": 3, "name": "block"}

    def __call__(self, x):
        return self.norm(self.dense(x)) * self.scale


BLOCK_KEYS = ["model/_hidden", "model/dense/bias", "model/dense/kernel",
              "model/norm/beta", "model/norm/gamma", "model/norm/moving_mean",
              "model/norm/moving_variance", "model/parts/0", "model/parts/1/0",
              "model/parts/2/a", "model/parts/2/b", "model/scale"]


# ---- round trips --------------------------------------------------------------------
def test_variables_of_every_dtype_round_trip(tmp_path):
    d = fresh(tmp_path)
    vs = {"f32": tf.Variable([[1.5, -2.0, 3.25]]),
          "f64": tf.Variable(np.float64(1 / 3)),
          "f16": tf.Variable(np.array([0.1, 65504.0], np.float16)),
          "i8": tf.Variable(np.array([-128, 127], np.int8)),
          "i32": tf.Variable([[1, 2], [3, 4]]),
          "i64": tf.Variable(np.array([2 ** 62, -7], np.int64)),
          "u64": tf.Variable(np.array([2 ** 64 - 1, 0], np.uint64)),
          "u8": tf.Variable(np.array([255, 1], np.uint8)),
          "b": tf.Variable([True, False, True]),
          "empty": tf.Variable(np.zeros((0, 3), np.float32))}
    saved = values(vs.values())
    ckpt = tf.train.Checkpoint(**vs)
    path = os.path.join(d, "all.npz")
    assert ckpt.write(path) == path
    for v in vs.values():
        v.assign(np.zeros(v.shape, v.dtype.as_numpy_dtype) + 1)
    status = ckpt.read(path)
    status.assert_consumed()
    assert_same(values(vs.values()), saved)
    assert [v.dtype for v in vs.values()] == [
        tf.float32, tf.float64, tf.float16, tf.int8, tf.int32, tf.int64,
        tf.uint64, tf.uint8, tf.bool, tf.float32]


def test_module_with_layers_lists_and_dicts_round_trips(tmp_path):
    d = fresh(tmp_path)
    model, other = Block(1), Block(2)
    x = tf.constant(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))
    assert not np.allclose(model(x).numpy(), other(x).numpy())
    path = tf.train.Checkpoint(model=model).write(os.path.join(d, "m.npz"))
    tf.train.Checkpoint(model=other).restore(path).assert_consumed()
    assert_same(values(other.variables), values(model.variables))
    np.testing.assert_array_equal(model(x).numpy(), other(x).numpy())
    # BatchNormalization's moving statistics are Variables too
    np.testing.assert_array_equal(other.norm.moving_mean.numpy(),
                                  model.norm.moving_mean.numpy())


def test_a_dense_layer_alone_and_a_plain_object(tmp_path):
    d = fresh(tmp_path)
    layer = tf.keras.layers.Dense(2)
    layer(tf.ones([1, 3]))

    class Optimizer:                 # not a Module: attributes are walked
        def __init__(self, variables):
            self.iterations = tf.Variable(0, dtype=tf.int64)
            self._momentums = [tf.Variable(tf.zeros_like(v))
                               for v in variables]
    opt = Optimizer(layer.trainable_variables)
    opt.iterations.assign(7)
    opt._momentums[0].assign(tf.ones([3, 2]))
    ckpt = tf.train.Checkpoint(layer=layer, optimizer=opt)
    path = ckpt.write(os.path.join(d, "x.npz"))
    assert [k for k, _ in tf.train.list_variables(path)] == [
        "layer/bias", "layer/kernel", "optimizer/_momentums/0",
        "optimizer/_momentums/1", "optimizer/iterations"]
    saved = values(layer.variables) + values([opt.iterations])
    layer.kernel.assign(tf.zeros([3, 2]))
    opt.iterations.assign(0)
    opt._momentums[0].assign(tf.zeros([3, 2]))
    ckpt.restore(path).assert_consumed()
    assert_same(values(layer.variables) + values([opt.iterations]), saved)
    np.testing.assert_array_equal(opt._momentums[0].numpy(), np.ones([3, 2]))


# ---- the path scheme -----------------------------------------------------------------
def test_paths_follow_attribute_names(tmp_path):
    d = fresh(tmp_path)
    model = Block(0)
    ckpt = tf.train.Checkpoint(model=model)
    path = ckpt.write(os.path.join(d, "m.npz"))
    # sorted attribute names, list indices, sorted dict keys; the shared
    # Variable once, under its first public path (scale, not tied); a
    # layer's weights under kernel/bias, not its private weight list; a
    # private Variable that nothing public reaches, under its own name
    assert [k for k, _ in tf.train.list_variables(path)] == BLOCK_KEYS
    assert dict(tf.train.list_variables(path))["model/dense/kernel"] == [4, 3]
    assert list(train._variables_by_path(ckpt)) == BLOCK_KEYS
    # the helper the Keras layer's save_weights can use: paths below an
    # object
    below = train._variables_by_path(model)
    assert below["dense/kernel"] is model.dense.kernel
    assert below["scale"] is model.scale and "tied" not in below
    with pytest.raises(ValueError, match="no path below itself"):
        train._variables_by_path(model.scale)


def test_paths_do_not_depend_on_creation_order_or_ids(tmp_path):
    class A(tf.Module):
        def __init__(self, first):
            super().__init__()
            if first:
                self.x = tf.Variable(1.0)
                self.y = {"q": tf.Variable(2.0), "p": tf.Variable(3.0)}
            else:
                self.y = {"p": tf.Variable(3.0)}
                self.y["q"] = tf.Variable(2.0)
                self.x = tf.Variable(1.0)
    a = train._variables_by_path(tf.train.Checkpoint(m=A(True)))
    b = train._variables_by_path(tf.train.Checkpoint(m=A(False)))
    assert list(a) == list(b) == ["m/x", "m/y/p", "m/y/q"]
    assert [float(v.numpy()) for v in a.values()] == [
        float(v.numpy()) for v in b.values()]


CHILD_WRITE = '''
    import sys
    import numpy as np
    import tapegrad as tf
    sys.path.insert(0, %(here)r)
    from test_checkpoint import Block
    extra = [object() for _ in range(int(sys.argv[2]))]   # moves ids
    tf.random.set_seed(1)
    m = Block(3)
    ckpt = tf.train.Checkpoint(model=m, step=tf.Variable(5))
    print(ckpt.write(sys.argv[1]))
'''


@pytest.mark.no_refleak_check(reason="runs child processes (their own "
                              "interpreters); the in-process tests cover "
                              "the same code")
def test_same_model_same_bytes_in_two_processes(tmp_path):
    d = fresh(tmp_path)
    files = []
    for i, n in enumerate((0, 1000)):
        out = os.path.join(d, "run%d.npz" % i)
        p = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(CHILD_WRITE)
             % {"here": HERE}, out, str(n)],
            capture_output=True, text=True, timeout=120,
            env=dict(os.environ, PYTHONPATH=ROOT), cwd=d)
        assert p.returncode == 0, p.stderr[-3000:]
        files.append(out)
    a, b = (open(f, "rb").read() for f in files)
    assert a == b
    with zipfile.ZipFile(files[0]) as z:
        assert z.namelist() == [".tapegrad.npy"] + [
            k + ".npy" for k in sorted(BLOCK_KEYS + ["step"])]


def test_names_are_escaped_and_odd_names_round_trip(tmp_path):
    d = fresh(tmp_path)
    holder = {"a/b": tf.Variable(1.0), "a.b": tf.Variable(2.0),
              "": tf.Variable(3.0), ".tapegrad": tf.Variable(4.0)}
    ckpt = tf.train.Checkpoint(h=holder)
    path = ckpt.write(os.path.join(d, "odd.npz"))
    assert [k for k, _ in tf.train.list_variables(path)] == [
        "h/", "h/..tapegrad", "h/a..b", "h/a.Sb"]
    for v in holder.values():
        v.assign(0.0)
    ckpt.read(path).assert_consumed()
    assert {k: float(v.numpy()) for k, v in holder.items()} == {
        "a/b": 1.0, "a.b": 2.0, "": 3.0, ".tapegrad": 4.0}


def test_variables_only_under_non_string_dict_keys_are_refused(tmp_path):
    d = fresh(tmp_path)
    v, w = tf.Variable(1.0), tf.Variable(2.0)

    class Opt:
        def __init__(self):
            self._slots = {id(v): w, "ok": tf.Variable(0.0)}
    with pytest.raises(ValueError, match=r"opt/_slots/\[\d+\].*string"):
        tf.train.Checkpoint(opt=Opt()).write(os.path.join(d, "x.npz"))
    assert os.listdir(d) == []
    # reachable another way too: named by that path, no error
    opt = Opt()
    opt.slot_list = [w]
    path = tf.train.Checkpoint(opt=opt).write(os.path.join(d, "y.npz"))
    assert [k for k, _ in tf.train.list_variables(path)] == [
        "opt/_slots/ok", "opt/slot_list/0"]


def test_what_is_not_walked():
    import functools
    import types
    v = tf.Variable(1.0)
    mod = types.ModuleType("m")
    mod.v = v

    def f():
        pass
    f.v = v

    class Holder:
        cls_v = v                        # on the class: not the instance's
    h = Holder()
    h.mod, h.fn, h.part = mod, f, functools.partial(print, v)
    h.t = tf.constant(1.0)
    h.arr = np.empty(1, dtype=object)
    h.arr[0] = v
    assert train._variables_by_path(h) == {}


def test_cycles_and_shared_objects():
    class Node:
        pass
    a, b = Node(), Node()
    a.other, b.other = b, a
    a.v, b.v = tf.Variable(1.0), tf.Variable(2.0)
    a.self = a
    got = train._variables_by_path(tf.train.Checkpoint(a=a, b=b))
    assert list(got) == ["a/v", "b/v"]
    assert got["a/v"] is a.v and got["b/v"] is b.v


def test_root_puts_its_attributes_at_the_top(tmp_path):
    d = fresh(tmp_path)
    m = Block(4)
    extra = tf.Variable(9.0)
    ckpt = tf.train.Checkpoint(m, extra=extra)
    assert list(train._variables_by_path(ckpt)) == sorted(
        k.replace("model/", "") for k in BLOCK_KEYS + ["model/extra"])
    path = ckpt.save(os.path.join(d, "r"))
    assert "save_counter" in dict(tf.train.list_variables(path))
    m2 = Block(5)
    tf.train.Checkpoint(root=m2, extra=tf.Variable(0.0)).restore(
        path).assert_consumed()
    assert_same(values(m2.variables), values(m.variables))
    with pytest.raises(ValueError, match="already has a 'scale'"):
        tf.train.Checkpoint(m, scale=tf.Variable(1.0)).write(
            os.path.join(d, "x.npz"))
    with pytest.raises(ValueError, match="not a Variable"):
        tf.train.Checkpoint(root=extra)


def test_checkpoint_arguments_are_checked():
    with pytest.raises(ValueError, match="was expecting x to be a trackable"):
        tf.train.Checkpoint(x=3)
    with pytest.raises(ValueError, match="trackable"):
        tf.train.Checkpoint(x=tf.constant(1.0))
    for name in ("save_counter", "write", "restore", "_private"):
        with pytest.raises(ValueError, match="cannot hold"):
            tf.train.Checkpoint(**{name: tf.Variable(1.0)})
    ckpt = tf.train.Checkpoint()
    with pytest.raises(AttributeError):
        ckpt.save_counter = tf.Variable(1)
    with pytest.raises(TypeError, match="str or os.PathLike"):
        ckpt.write(b"x.npz")
    with pytest.raises(ValueError, match="empty"):
        ckpt.write("")


def test_attributes_set_later_are_saved(tmp_path):
    d = fresh(tmp_path)
    ckpt = tf.train.Checkpoint()
    ckpt.v = tf.Variable([1.0, 2.0])
    path = ckpt.write(os.path.join(d, "late.npz"))
    assert [k for k, _ in tf.train.list_variables(path)] == ["v"]


# ---- save numbering and the save counter --------------------------------------------
def test_save_numbers_files_with_save_counter(tmp_path):
    d = fresh(tmp_path)
    v = tf.Variable(1.0)
    ckpt = tf.train.Checkpoint(v=v)
    prefix = os.path.join(d, "sub", "ckpt")
    assert ckpt.save(prefix) == prefix + "-1.npz"
    assert tf.train.latest_checkpoint(os.path.join(d, "sub")) == \
        prefix + "-1.npz"
    v.assign(2.0)
    assert ckpt.save(prefix) == prefix + "-2.npz"
    assert int(ckpt.save_counter.numpy()) == 2
    assert ckpt.save_counter.dtype == tf.int64
    assert not ckpt.save_counter.trainable
    # write() is not numbered and leaves the counter alone, but saves it
    ckpt.write(os.path.join(d, "plain.npz"))
    assert int(ckpt.save_counter.numpy()) == 2
    assert tf.train.load_variable(os.path.join(d, "plain.npz"),
                                  "save_counter") == 2
    assert tf.train.latest_checkpoint(os.path.join(d, "sub")) == \
        prefix + "-2.npz"
    # restoring a save restores its number: the next save follows it
    fresh_v = tf.Variable(0.0)
    other = tf.train.Checkpoint(v=fresh_v)
    other.restore(prefix + "-1")        # TF's prefixes work: .npz is added
    assert float(fresh_v.numpy()) == 1.0
    assert int(other.save_counter.numpy()) == 1
    assert other.save(prefix) == prefix + "-2.npz"
    assert float(tf.train.load_variable(prefix + "-2.npz", "v")) == 1.0


def test_save_counter_is_created_on_demand():
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    assert list(train._variables_by_path(ckpt)) == ["v"]
    assert int(ckpt.save_counter.numpy()) == 0
    assert list(train._variables_by_path(ckpt)) == ["save_counter", "v"]


def test_a_failed_save_does_not_count(tmp_path):
    d = fresh(tmp_path)
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    ckpt.save(os.path.join(d, "c"))

    def boom(*a, **k):
        raise OSError("disk full")
    with patched(np.lib.format, "write_array", boom):
        with pytest.raises(OSError, match="disk full"):
            ckpt.save(os.path.join(d, "c"))
    assert int(ckpt.save_counter.numpy()) == 1
    assert ckpt.save(os.path.join(d, "c")) == os.path.join(d, "c-2.npz")


# ---- CheckpointManager ---------------------------------------------------------------
def test_manager_keeps_the_newest_max_to_keep(tmp_path):
    d = fresh(tmp_path)
    v = tf.Variable(0.0)
    ckpt = tf.train.Checkpoint(v=v)
    mgr = tf.train.CheckpointManager(ckpt, d, max_to_keep=2)
    assert mgr.latest_checkpoint is None and mgr.checkpoints == []
    assert mgr.directory == d and mgr.checkpoint is ckpt
    paths = []
    for i in range(1, 5):
        v.assign(float(i))
        paths.append(mgr.save())
    assert paths == [os.path.join(d, "ckpt-%d.npz" % i) for i in range(1, 5)]
    assert mgr.checkpoints == paths[2:]
    assert mgr.latest_checkpoint == paths[3]
    assert sorted(os.listdir(d)) == ["checkpoint", "ckpt-3.npz", "ckpt-4.npz"]
    assert tf.train.latest_checkpoint(d) == paths[3]
    state = json.load(open(os.path.join(d, "checkpoint")))
    assert state["model_checkpoint_path"] == "ckpt-4.npz"
    assert state["all_model_checkpoint_paths"] == ["ckpt-3.npz",
                                                   "ckpt-4.npz"]
    st = tf.train.get_checkpoint_state(d)
    assert st.all_model_checkpoint_paths == paths[2:]
    assert st.model_checkpoint_path == paths[3]
    assert float(tf.train.load_variable(d, "v")) == 4.0


def test_manager_resumes_after_a_restart(tmp_path):
    d = fresh(tmp_path)
    v = tf.Variable(0.0)
    mgr = tf.train.CheckpointManager(tf.train.Checkpoint(v=v), d, 3,
                                     checkpoint_name="model")
    for i in range(1, 5):
        v.assign(i * 10.0)
        mgr.save()
    del mgr, v
    # a new process: new objects, the same directory
    w = tf.Variable(0.0)
    ckpt = tf.train.Checkpoint(v=w)
    mgr = tf.train.CheckpointManager(ckpt, d, 3, checkpoint_name="model")
    assert mgr.checkpoints == [os.path.join(d, "model-%d.npz" % i)
                               for i in (2, 3, 4)]
    assert mgr.latest_checkpoint == os.path.join(d, "model-4.npz")
    assert mgr.restore_or_initialize() == mgr.latest_checkpoint
    assert float(w.numpy()) == 40.0
    assert int(ckpt.save_counter.numpy()) == 4
    w.assign(50.0)
    assert mgr.save() == os.path.join(d, "model-5.npz")
    assert sorted(os.listdir(d)) == ["checkpoint", "model-3.npz",
                                     "model-4.npz", "model-5.npz"]
    # a checkpoint file removed by hand is dropped from the list
    os.remove(os.path.join(d, "model-3.npz"))
    mgr2 = tf.train.CheckpointManager(ckpt, d, 3, checkpoint_name="model")
    assert mgr2.checkpoints == [os.path.join(d, "model-%d.npz" % i)
                                for i in (4, 5)]


def test_restore_or_initialize_without_checkpoints_calls_init_fn(tmp_path):
    d = fresh(tmp_path)
    calls = []
    mgr = tf.train.CheckpointManager(
        tf.train.Checkpoint(v=tf.Variable(1.0)), d, 1,
        init_fn=lambda: calls.append(1))
    assert mgr.restore_or_initialize() is None and calls == [1]


def test_manager_options(tmp_path):
    d = fresh(tmp_path)
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    with pytest.raises(ValueError, match="positive integer or `None`"):
        tf.train.CheckpointManager(ckpt, d, 0)
    with pytest.raises(ValueError, match="step_counter"):
        tf.train.CheckpointManager(ckpt, d, 1, checkpoint_interval=2)
    with pytest.raises(TypeError, match="Checkpoint"):
        tf.train.CheckpointManager(object(), d, 1)
    # None keeps everything; checkpoint_number names the file, and the
    # counter still counts
    keep = tf.train.CheckpointManager(ckpt, d, None)
    for _ in range(3):
        keep.save()
    assert keep.save(checkpoint_number=tf.Variable(100)) == \
        os.path.join(d, "ckpt-100.npz")
    assert len(keep.checkpoints) == 4
    assert int(ckpt.save_counter.numpy()) == 4
    # checkpoint_interval: save only every 5 steps of step_counter
    d2 = fresh(tmp_path)
    step = tf.Variable(0, dtype=tf.int64)
    every = tf.train.CheckpointManager(tf.train.Checkpoint(s=step), d2, 5,
                                       step_counter=step,
                                       checkpoint_interval=5)
    saved = []
    for s in range(12):
        step.assign(s)
        saved.append(every.save() is not None)
    assert [s for s, ok in enumerate(saved) if ok] == [0, 5, 10]
    step.assign(10)
    assert every.save(check_interval=False) is None      # the same step
    step.assign(11)
    assert every.save(check_interval=False) is not None
    # keep_checkpoint_every_n_hours: a checkpoint leaving the list at least
    # that long after the last kept one stays on disk
    d3 = fresh(tmp_path)
    clock = [1000.0]
    with patched(train, "_now", lambda: clock[0]):
        hourly = tf.train.CheckpointManager(tf.train.Checkpoint(
            v=tf.Variable(1.0)), d3, 1, keep_checkpoint_every_n_hours=1)
        for _ in range(4):
            clock[0] += 1800.0
            hourly.save()
    assert hourly.checkpoints == [os.path.join(d3, "ckpt-4.npz")]
    # TF's rule: leaving the list, a checkpoint stays on disk when it is
    # at least an hour newer than the last one kept (at first, the
    # manager's start, t=999): ckpt-1 (t=2800) is not, ckpt-2 (4600) is,
    # ckpt-3 (6400) is not an hour newer than ckpt-2
    assert sorted(os.listdir(d3)) == ["checkpoint", "ckpt-2.npz",
                                      "ckpt-4.npz"]


def test_state_file_that_is_not_tapegrads(tmp_path):
    d = fresh(tmp_path)
    with open(os.path.join(d, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "ckpt-1"\n')   # TF's text proto
    with pytest.raises(ValueError, match="not a tapegrad checkpoint state"):
        tf.train.latest_checkpoint(d)
    with pytest.raises(ValueError, match="not a tapegrad checkpoint state"):
        tf.train.CheckpointManager(tf.train.Checkpoint(), d, 1)
    empty = fresh(tmp_path)
    assert tf.train.latest_checkpoint(empty) is None
    assert tf.train.get_checkpoint_state(empty) is None
    with pytest.raises(ValueError, match="Couldn't find"):
        tf.train.list_variables(empty)


# ---- atomic writes ---------------------------------------------------------------------
def _failing_on(n, exc):
    calls = [0]

    def write_array(*a, **k):
        calls[0] += 1
        if calls[0] == n:
            raise exc
        return _WRITE_ARRAY(*a, **k)
    return write_array


@pytest.mark.parametrize("kind", [OSError, KeyboardInterrupt])
def test_a_write_failing_midway_leaves_no_file(tmp_path, kind):
    d = fresh(tmp_path)
    ckpt = tf.train.Checkpoint(model=Block(0))
    exc = kind(28, "No space left") if kind is OSError else kind()
    with patched(np.lib.format, "write_array", _failing_on(4, exc)):
        with pytest.raises(kind):
            ckpt.write(os.path.join(d, "new.npz"))
    assert os.listdir(d) == []            # no final file, no temporary one


def test_a_write_failing_midway_keeps_the_old_file(tmp_path):
    d = fresh(tmp_path)
    model = Block(0)
    ckpt = tf.train.Checkpoint(model=model)
    path = ckpt.write(os.path.join(d, "m.npz"))
    before = open(path, "rb").read()
    saved = values(model.variables)
    for v in model.variables:
        v.assign(tf.zeros_like(v))
    for patch in ((np.lib.format, "write_array",
                   _failing_on(5, OSError(28, "No space left"))),
                  (os, "fsync", lambda fd: (_ for _ in ()).throw(
                      OSError(5, "Input/output error"))),
                  (os, "replace", lambda a, b: (_ for _ in ()).throw(
                      OSError(13, "Permission denied")))):
        with patched(*patch):
            with pytest.raises(OSError):
                ckpt.write(path)
        assert os.listdir(d) == ["m.npz"]
        assert open(path, "rb").read() == before
    ckpt.read(path).assert_consumed()
    assert_same(values(model.variables), saved)


CHILD_KILLED = '''
    import os, sys
    import numpy as np
    import tapegrad as tf
    path = sys.argv[1]
    v = tf.Variable(np.arange(1000, dtype=np.float32))
    w = tf.Variable(np.ones(1000, np.float32))
    ckpt = tf.train.Checkpoint(v=v, w=w)
    ckpt.write(path)
    real = np.lib.format.write_array
    calls = []
    def dying(fp, array, *a, **k):
        calls.append(1)
        if len(calls) == 3:            # the second array, half written
            fp.write(array.tobytes()[:1000])
            os._exit(7)                # no cleanup, no flush: a crash
        return real(fp, array, *a, **k)
    np.lib.format.write_array = dying
    v.assign(-v)
    ckpt.write(path)
'''


@pytest.mark.no_refleak_check(reason="runs a child process that is killed "
                              "mid-write; no tapegrad objects in this one")
def test_a_writer_killed_midway_leaves_the_old_file(tmp_path):
    d = fresh(tmp_path)
    path = os.path.join(d, "c.npz")
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD_KILLED),
                        path], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert p.returncode == 7, p.stderr[-3000:]
    # the temporary file the crash left is hidden, and never the target
    leftovers = [f for f in os.listdir(d) if f != "c.npz"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".c.npz.tmp-")
    v, w = tf.Variable(np.zeros(1000, np.float32)), tf.Variable(
        np.zeros(1000, np.float32))
    tf.train.Checkpoint(v=v, w=w).read(path).assert_consumed()
    np.testing.assert_array_equal(v.numpy(), np.arange(1000))
    np.testing.assert_array_equal(w.numpy(), np.ones(1000))


def test_writes_are_byte_for_byte_repeatable(tmp_path):
    d = fresh(tmp_path)
    ckpt = tf.train.Checkpoint(model=Block(6))
    a = ckpt.write(os.path.join(d, "a.npz"))
    b = ckpt.write(os.path.join(d, "b.npz"))
    assert open(a, "rb").read() == open(b, "rb").read()


# ---- untrusted and damaged files -------------------------------------------------------
class _Payload:
    """Unpickling this creates the marker file: the code a hostile
    checkpoint would run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickled_npz(path, marker, key):
    arrays = {"v": np.zeros(2, np.float32)}
    obj = np.empty(1, dtype=object)
    obj[0] = _Payload(marker)
    arrays[key] = obj
    np.savez(path, **arrays)


@pytest.mark.parametrize("key", ["v2", "w"])
def test_a_pickled_array_is_refused_without_running_it(tmp_path, key):
    d = fresh(tmp_path)
    marker = os.path.join(d, "pwned")
    path = os.path.join(d, "evil.npz")
    _pickled_npz(path, marker, key)
    # the payload is live: unpickling really would run it
    with np.load(path, allow_pickle=True) as z:
        z[key][0].close()
    assert os.path.exists(marker)
    os.remove(marker)
    v = tf.Variable([1.0, 2.0])
    w = tf.Variable([3.0])
    # whether a variable wants that key (w) or not (v2): refused
    with pytest.raises(ValueError, match="Python objects.*unpickling"):
        tf.train.Checkpoint(v=v, w=w).read(path)
    with pytest.raises(ValueError, match="Python objects"):
        tf.train.list_variables(path)
    assert not os.path.exists(marker)
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


def test_a_pickle_file_is_not_unpickled(tmp_path):
    d = fresh(tmp_path)
    marker = os.path.join(d, "pwned")
    path = os.path.join(d, "evil.npz")
    with open(path, "wb") as f:
        pickle.dump(_Payload(marker), f)
    with pytest.raises(ValueError, match="not an .npz file"):
        tf.train.Checkpoint(v=tf.Variable(1.0)).read(path)
    assert not os.path.exists(marker)


def _written(d, name="m.npz"):
    model = Block(0)
    path = tf.train.Checkpoint(model=model).write(os.path.join(d, name))
    return model, path


def _unchanged_after(model, fn):
    before = values(model.variables)
    with pytest.raises(ValueError) as info:
        fn()
    assert_same(values(model.variables), before)
    return str(info.value)


def test_truncated_and_corrupt_files(tmp_path):
    d = fresh(tmp_path)
    _, path = _written(d)
    data = open(path, "rb").read()
    target = Block(1)
    ckpt = tf.train.Checkpoint(model=target)
    damaged = {
        "truncated": data[:len(data) // 2],
        "no central directory": data[:-30],
        "empty": b"",
        "noise": bytes(range(256)) * 4,
        "a .npy": b"\x93NUMPY\x01\x00" + data[100:200],
        # a flipped byte inside an array's data: the zip's CRC catches it
        "flipped": bytearray(data),
    }
    with zipfile.ZipFile(path) as z:
        at = z.getinfo("model/dense/kernel.npy").header_offset
    n, m = np.frombuffer(data[at + 26:at + 30], "<u2")
    npy = at + 30 + int(n) + int(m)                  # the member's data
    assert data[npy:npy + 6] == b"\x93NUMPY"
    header = int(np.frombuffer(data[npy + 8:npy + 10], "<u2")[0])
    damaged["flipped"][npy + 10 + header + 5] ^= 0xFF   # in the values
    for what, content in damaged.items():
        bad = os.path.join(d, "bad.npz")
        with open(bad, "wb") as f:
            f.write(bytes(content))
        msg = _unchanged_after(target, lambda: ckpt.read(bad))
        assert ("truncated or corrupt" in msg or "not an .npz" in msg), (
            what, msg)
        assert repr(bad) in msg


def test_missing_files_and_directories(tmp_path):
    d = fresh(tmp_path)
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    with pytest.raises(FileNotFoundError, match="nor with .npz"):
        ckpt.restore(os.path.join(d, "nothing"))
    with pytest.raises(IsADirectoryError, match="latest_checkpoint"):
        ckpt.restore(d)
    if hasattr(os, "mkfifo"):
        fifo = os.path.join(d, "fifo")
        os.mkfifo(fifo)
        with pytest.raises(ValueError, match="not a regular file"):
            ckpt.restore(fifo)               # refused, without blocking


def test_a_missing_key_is_named_and_nothing_changes(tmp_path):
    d = fresh(tmp_path)
    _, path = _written(d)
    target = Block(1)
    target.extra = tf.Variable(1.0)
    msg = _unchanged_after(
        target, lambda: tf.train.Checkpoint(model=target).read(path))
    assert "model/extra: not in the checkpoint" in msg
    assert "no variable was changed" in msg
    # a different name for the same object: the message points at it
    other = Block(2)
    msg = _unchanged_after(
        other, lambda: tf.train.Checkpoint(net=other).restore(path))
    assert "net/dense/kernel: not in the checkpoint (the checkpoint has " \
        "'model/dense/kernel')" in msg


def test_shape_and_dtype_mismatches_are_named_and_nothing_changes(tmp_path):
    d = fresh(tmp_path)
    a = tf.Variable(7)
    b = tf.Variable(np.ones((2, 3), np.float32))
    c = tf.Variable(np.ones(4, np.float64))
    path = tf.train.Checkpoint(a=a, b=b, c=c).write(os.path.join(d, "x.npz"))
    a2 = tf.Variable(0)                              # fine, and first
    b2 = tf.Variable(np.zeros((3, 2), np.float32))   # shape
    c2 = tf.Variable(np.zeros(4, np.float32))        # dtype
    with pytest.raises(ValueError) as info:
        tf.train.Checkpoint(a=a2, b=b2, c=c2).read(path)
    msg = str(info.value)
    assert "b: shape (2, 3) in the checkpoint, (3, 2) in the variable" in msg
    assert "c: dtype float64 in the checkpoint, float32 in the variable" \
        in msg
    assert "a:" not in msg
    assert int(a2.numpy()) == 0                      # not even the good one
    np.testing.assert_array_equal(b2.numpy(), np.zeros((3, 2)))
    np.testing.assert_array_equal(c2.numpy(), np.zeros(4))
    # a rank-0 variable against a vector, an int against a float
    with pytest.raises(ValueError, match=r"a: dtype int32 in the checkpoint,"
                       r" float32 in the variable; shape \(\) in the "
                       r"checkpoint, \(1,\)"):
        tf.train.Checkpoint(a=tf.Variable([0.0])).read(path)


def test_a_failure_while_assigning_rolls_back(tmp_path):
    d = fresh(tmp_path)
    _, path = _written(d)
    target = Block(1)
    before = values(target.variables)
    calls = [0]

    def assign(v, value):
        calls[0] += 1
        if calls[0] == 5:
            raise MemoryError
        _ASSIGN(v, value)
    with patched(_npzfile, "_assign", assign):
        with pytest.raises(MemoryError):
            tf.train.Checkpoint(model=target).read(path)
    assert calls[0] > 5                  # four assigned, then rolled back
    assert_same(values(target.variables), before)


def test_other_files_numpy_wrote(tmp_path):
    d = fresh(tmp_path)
    v = tf.Variable(np.zeros((2, 2), np.float32))
    w = tf.Variable(np.zeros(3, np.int64))
    # a plain np.savez file (no .tapegrad entry), big-endian, compressed
    path = os.path.join(d, "plain.npz")
    np.savez_compressed(path, v=np.arange(4, dtype=">f4").reshape(2, 2),
                        w=np.array([1, 2, 3], ">i8"), other=np.ones(2))
    status = tf.train.Checkpoint(v=v, w=w).read(path)
    np.testing.assert_array_equal(v.numpy(), [[0, 1], [2, 3]])
    np.testing.assert_array_equal(w.numpy(), [1, 2, 3])
    with pytest.raises(AssertionError, match="no variable took other"):
        status.assert_consumed()
    status.expect_partial()
    # a member that is not an array; a newer format version
    with zipfile.ZipFile(os.path.join(d, "z.npz"), "w") as z:
        z.writestr("v.npy", b"not an array")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        tf.train.Checkpoint(v=v).read(os.path.join(d, "z.npz"))
    with zipfile.ZipFile(os.path.join(d, "t.npz"), "w") as z:
        z.writestr("notes.txt", b"hello")
    with pytest.raises(ValueError, match="not a .npy array"):
        tf.train.Checkpoint(v=v).read(os.path.join(d, "t.npz"))
    newer = os.path.join(d, "newer.npz")
    np.savez(newer, **{".tapegrad": np.asarray(json.dumps(
        {"format": "tapegrad.train.Checkpoint", "version": 99}))})
    with pytest.raises(ValueError, match="version 99"):
        tf.train.Checkpoint(v=v).read(newer)


# ---- restore statuses ------------------------------------------------------------------
def test_status_assert_consumed_and_expect_partial(tmp_path):
    d = fresh(tmp_path)
    model = Block(0)
    path = tf.train.Checkpoint(model=model, extra=tf.Variable(5.0)).save(
        os.path.join(d, "c"))
    # everything matched
    status = tf.train.Checkpoint(model=Block(1), extra=tf.Variable(0.0)
                                 ).restore(path)
    assert status.assert_consumed() is status
    status.assert_existing_objects_matched().assert_nontrivial_match()
    status.run_restore_ops()
    status.initialize_or_restore()
    # restoring part of a checkpoint: allowed; assert_consumed names the
    # rest, and dropping the status unchecked warns about it
    part = Block(2)
    status = tf.train.Checkpoint(model=part).restore(path)
    assert_same(values(part.variables), values(model.variables))
    with pytest.raises(AssertionError, match="no variable took extra") as e:
        status.assert_consumed()
    assert "model/" not in str(e.value)   # only what was not taken
    with pytest.warns(UserWarning, match="did not use these values.*extra"):
        tf.train.Checkpoint(model=Block(3)).restore(path)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tf.train.Checkpoint(model=Block(3)).restore(path).expect_partial()
    # the TF idiom for restoring one part: a Checkpoint for that part
    dense = tf.keras.layers.Dense(3)
    dense(tf.ones([1, 4]))
    tf.train.Checkpoint(model=tf.train.Checkpoint(dense=dense)).restore(
        path).expect_partial()
    np.testing.assert_array_equal(dense.kernel.numpy(),
                                  model.dense.kernel.numpy())
    # nothing but the counter matched
    only = tf.train.Checkpoint().restore(path).expect_partial()
    with pytest.raises(AssertionError, match="Nothing except the root"):
        only.assert_nontrivial_match()


def test_no_deferred_restoration_build_first(tmp_path):
    d = fresh(tmp_path)
    built = tf.keras.layers.Dense(2)
    built(tf.ones([1, 3]))
    path = tf.train.Checkpoint(layer=built).write(os.path.join(d, "l.npz"))
    # an unbuilt layer has no Variables yet: nothing takes the values (TF
    # would queue them for build()); assert_consumed says so
    unbuilt = tf.keras.layers.Dense(2)
    status = tf.train.Checkpoint(layer=unbuilt).restore(path)
    with pytest.raises(AssertionError, match="layer/bias, layer/kernel"):
        status.assert_consumed()
    unbuilt(tf.ones([1, 3]))
    tf.train.Checkpoint(layer=unbuilt).restore(path).assert_consumed()
    np.testing.assert_array_equal(unbuilt.kernel.numpy(),
                                  built.kernel.numpy())


def test_restore_none_restores_nothing():
    status = tf.train.Checkpoint(v=tf.Variable(1.0)).restore(None)
    for check in (status.assert_consumed,
                  status.assert_existing_objects_matched,
                  status.assert_nontrivial_match):
        with pytest.raises(AssertionError, match="No checkpoint specified"):
            check()
    assert status.expect_partial() is status


def test_the_file_api_is_left_out_of_the_fuzz_surface():
    sys.path.insert(0, os.path.join(ROOT, "fuzz"))
    try:
        import fuzzlib
    finally:
        sys.path.remove(os.path.join(ROOT, "fuzz"))
    funcs = [q for q, _ in fuzzlib.public_functions()
             if q.startswith("tapegrad.train.")]
    assert funcs == ["tapegrad.train.Checkpoint"]
    methods = fuzzlib.methods(tf.train.Checkpoint)
    for m in ("write", "save", "read", "restore"):
        assert m not in methods
    assert "save_counter" in fuzzlib.attributes(tf.train.Checkpoint)
