"""Data-parallel training with Ray (issue 14, "Beyond one process"): the
recipe of notebooks/distributed_ray.ipynb gives the weights single-process
training gives, to float rounding.

The recipe's code is the notebook's: its code cells (tools/
distributed_notebook.py's CELLS, the one copy) run here in this process,
all but the last (`ray.shutdown()`, which the fixture does).  They start
a two-CPU local Ray instance, two `GradientWorker` actors holding copies
of an 8-16-1 MLP, and train five Adam steps in float64.  The tests check
those weights, then the same recipe with SGD in float32 and with unequal
shards, against a single-process loop written here.

Skipped only where Ray is not importable; `pip install -e ".[test]"`
installs it.
"""
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tf

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import distributed_notebook  # noqa: E402

pytestmark = [
    pytest.mark.no_leak_check,
    pytest.mark.no_refleak_check(
        reason="talks to Ray's worker processes; the module's Ray instance "
               "and the recipe's objects outlive each test"),
]


@pytest.fixture(scope="module")
def recipe():
    """The notebook's namespace after its training cells: Ray running,
    `workers`, the data-parallel `model`, `batches`, the recipe's
    functions.  Ray is shut down at the end of the module."""
    cells = [code for _, code, _ in distributed_notebook.CELLS]
    assert cells[-1].startswith("ray.shutdown()")
    # a module name cloudpickle cannot import, so the actor class and the
    # loss travel by value, as they do from a notebook's __main__
    namespace = {"__name__": "distributed_ray_notebook"}
    try:
        for i, code in enumerate(cells[:-1]):
            exec(compile(code, "distributed_ray.ipynb cell %d" % i, "exec"),
                 namespace)
        yield namespace
    finally:
        ray.shutdown()


def _single_process(model, optimizer, batches, loss_fn):
    """The reference: each whole batch on one tape, one optimizer step."""
    variables = model.trainable_variables
    for x, y in batches:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables),
                                      variables))
    return [v.numpy() for v in variables]


def _data_parallel(recipe, model, optimizer, batches, workers):
    for x, y in batches:
        recipe["data_parallel_step"](model, optimizer, workers, x, y)
    return [v.numpy() for v in model.trainable_variables]


def test_workers_are_other_processes_importing_this_tapegrad(recipe):
    where = ray.get([w.whoami.remote() for w in recipe["workers"]])
    pids = {pid for pid, _ in where}
    assert len(pids) == 2 and os.getpid() not in pids
    assert all(path == tf.__file__ for _, path in where)


def test_adam_float64_equals_single_process(recipe):
    make_model, batches = recipe["make_model"], recipe["batches"]
    assert len(batches) == 5 and all(len(x) == 64 for x, _ in batches)
    initial = [v.numpy() for v in make_model().trainable_variables]
    want = _single_process(make_model(), tf.keras.optimizers.Adam(0.05),
                           batches, recipe["mean_squared_error"])
    got = [v.numpy() for v in recipe["model"].trainable_variables]
    assert [g.dtype for g in got] == [np.float64] * 4
    for g, w, start in zip(got, want, initial):
        assert np.abs(w - start).max() > 1e-3          # training moved them
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)


def test_sgd_float32_equals_single_process(recipe):
    make_model, loss_fn = recipe["make_model"], recipe["mean_squared_error"]
    batches = [(x.astype(np.float32), y.astype(np.float32))
               for x, y in recipe["batches"]]
    model = make_model("float32")
    workers = [recipe["GradientWorker"].remote(model, loss_fn)
               for _ in range(2)]
    try:
        got = _data_parallel(recipe, model, tf.keras.optimizers.SGD(0.1),
                             batches, workers)
    finally:
        for w in workers:
            ray.kill(w)
    want = _single_process(make_model("float32"),
                           tf.keras.optimizers.SGD(0.1), batches, loss_fn)
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)


def test_unequal_shards_are_weighted_by_their_size(recipe):
    # 63 examples split 32 + 31: the plain mean of the two shards'
    # gradients would be off; the size-weighted mean is the batch's
    x, y = recipe["x_all"][:63], recipe["y_all"][:63]
    make_model = recipe["make_model"]
    got = _data_parallel(recipe, make_model(), tf.keras.optimizers.SGD(0.5),
                         [(x, y)], recipe["workers"])
    want = _single_process(make_model(), tf.keras.optimizers.SGD(0.5),
                           [(x, y)], recipe["mean_squared_error"])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)


def test_gradients_pickle_smaller_as_arrays(recipe):
    # what the notebook measures: the arrays a worker returns pickle in
    # fewer bytes than the same gradients as tapegrad tensors
    arrays, tensors = recipe["as_arrays"], recipe["as_tensors"]
    assert all(type(t) is tf.Tensor for t in tensors)
    assert (len(pickle.dumps(arrays, protocol=5))
            < len(pickle.dumps(tensors, protocol=5)))
