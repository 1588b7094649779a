"""Build notebooks/distributed_ray.ipynb and its expectations: the recipe
for training a tapegrad model data-parallel with Ray (issue 14, "Beyond
one process").

The notebook starts a two-CPU Ray instance on this machine, makes two
worker actors that each hold a copy of an 8-16-1 MLP (float64), and runs
five Adam steps: each worker computes the gradients of the mean loss on
its half of the batch on its own GradientTape and sends them back as
NumPy arrays; the driver averages them (weighted by shard size), applies
them with its optimizer and sends the new weights with the next batch.
It then trains the same model in one process on the same batches and
shows that the weights agree to float64 rounding, measures what the
gradients cost to pickle as arrays and as tapegrad tensors, and shuts Ray
down.  Its text is tapegrad's own.

What tools/nbcheck.py checks (tests/notebook_expectations.json): the data
shapes, that each worker is another process importing the driver's
tapegrad, the per-step losses by pattern, the comparison (the notebook
asserts it), the pickling table by pattern, and that Ray is shut down.

tests/test_ray_data_parallel.py runs these same code cells in-process
(CELLS is the one copy of the recipe) and checks them against its own
single-process loop, in float64 with Adam and float32 with SGD.

tools/make_notebooks.py calls build() so that one command regenerates every
notebook and the whole expectations file.
"""
from __future__ import annotations

from training_notebook import build_from

NAME = "distributed_ray"

CELLS = [
    ("# Data-parallel training with Ray\n\n"
     "tapegrad runs in one process.  When one process is not enough, an "
     "existing engine can carry the work to others: tapegrad's tensors, "
     "variables, models and optimizers pickle, which is all a transport "
     "such as [Ray](https://www.ray.io) needs.  This notebook is a recipe "
     "for *data parallelism*: every worker holds a copy of the model, "
     "computes the gradients of its share of each batch on its own "
     "`GradientTape`, and the driver combines them into one optimizer "
     "step.  It runs a local Ray instance on this machine "
     "(`pip install \"tapegrad[distributed]\"` installs Ray); pointed at a "
     "cluster, the same code spreads over machines.  "
     "`python tools/run_notebooks.py` reruns it and checks what it prints.",
     "import logging\n"
     "import os\n"
     "import pickle\n"
     "import time\n\n"
     "import numpy as np\n\n"
     "# Ray notes on import that ipywidgets (its rich display) is missing\n"
     "logging.getLogger(\"ray.widgets\").setLevel(logging.WARNING)\n"
     "import ray\n\n"
     "import tapegrad as tf",
     ""),
    ("## A model and its data\n\n"
     "A regression of 8 features to 1 target, learned by an 8-16-1 MLP.  "
     "The layers compute in float64 so that the comparison at the end can "
     "be tight: the two ways of training add the same numbers in a "
     "different order, which float64 rounds far below anything training "
     "notices.  `make_model` seeds tapegrad's generator, so every call "
     "gives the same initial weights.  The loss is a *mean* over the "
     "batch; that is what makes data parallelism exact (below).",
     "rng = np.random.default_rng(0)\n"
     "x_all = rng.normal(size=(320, 8))\n"
     "y_all = np.tanh(x_all @ rng.normal(size=(8, 1)) / 3)\n"
     "print(x_all.shape, y_all.shape, x_all.dtype)\n\n"
     "def make_model(dtype=\"float64\"):\n"
     "    tf.random.set_seed(3)\n"
     "    return tf.keras.Sequential([\n"
     "        tf.keras.Input(shape=(8,)),\n"
     "        tf.keras.layers.Dense(16, activation=\"tanh\", dtype=dtype),\n"
     "        tf.keras.layers.Dense(1, dtype=dtype),\n"
     "    ])\n\n"
     "def mean_squared_error(y, prediction):\n"
     "    y = tf.cast(y, prediction.dtype)\n"
     "    return tf.reduce_mean(tf.square(prediction - y))",
     "(320, 8) (320, 1) float64"),
    ("## Starting Ray\n\n"
     "`ray.init` starts a local cluster: here two CPUs, no dashboard, and "
     "only errors logged.  Ray's worker processes must import the same "
     "tapegrad as this one, so the directory it comes from goes on their "
     "`PYTHONPATH` (an installed tapegrad needs nothing).  With a running "
     "cluster, `ray.init(address=\"auto\")` joins it instead.",
     "source = os.path.dirname(os.path.dirname(tf.__file__))\n"
     "path = os.pathsep.join(p for p in (source, os.environ.get(\"PYTHONPATH\"))\n"
     "                       if p)\n"
     "context = ray.init(num_cpus=2, include_dashboard=False,\n"
     "                   logging_level=logging.ERROR, log_to_driver=False,\n"
     "                   runtime_env={\"env_vars\": {\"PYTHONPATH\": path}})\n"
     "print(\"CPUs:\", ray.cluster_resources()[\"CPU\"])",
     "CPUs: 2.0"),
    ("## The worker\n\n"
     "An actor is a process that keeps its state between calls.  Each "
     "`GradientWorker` receives the model pickled (its own Variables, "
     "independent of the driver's) and, per step, the current weights "
     "and its shard of the batch.  It assigns the weights, records the "
     "forward pass and the loss on its own tape and returns the gradients "
     "as NumPy arrays, with its shard's loss and size.\n\n"
     "Where the optimizer runs is a choice.  Here the driver keeps the "
     "only optimizer and sends the weights with every call: the workers "
     "hold no optimizer state, cannot drift apart, and a worker that "
     "joins late needs nothing but the next call.  The other way (every "
     "worker applies the same averaged gradients with its own copy of the "
     "optimizer) sends nothing back to the workers but the gradients, at "
     "the price of keeping every copy of the optimizer's slots in step.  "
     "For a small model the weights cost what the gradients cost, and "
     "sending them with the batch adds no round trip: `set weights` and "
     "`compute gradients` are one call.\n\n"
     "`ray.remote(Worker)` and `@ray.method` are Ray's type-checked "
     "spelling of the `@ray.remote` class decorator: a type checker "
     "ignores a class decorator's result, so `GradientWorker.remote(...)` "
     "and `worker.gradients.remote(...)` are only known to mypy written "
     "this way.",
     "class Worker:\n"
     "    def __init__(self, model, loss_fn):\n"
     "        self.model = model\n"
     "        self.loss_fn = loss_fn\n\n"
     "    @ray.method\n"
     "    def whoami(self):\n"
     "        return os.getpid(), tf.__file__\n\n"
     "    @ray.method\n"
     "    def gradients(self, weights, x, y):\n"
     "        variables = self.model.trainable_variables\n"
     "        for variable, value in zip(variables, weights):\n"
     "            variable.assign(value)\n"
     "        with tf.GradientTape() as tape:\n"
     "            loss = self.loss_fn(y, self.model(x, training=True))\n"
     "        grads = tape.gradient(loss, variables)\n"
     "        return [g.numpy() for g in grads], float(loss), len(x)\n\n"
     "GradientWorker = ray.remote(Worker)\n"
     "model = make_model()\n"
     "workers = [GradientWorker.remote(model, mean_squared_error)\n"
     "           for _ in range(2)]\n"
     "where = ray.get([w.whoami.remote() for w in workers])\n"
     "print(\"workers in other processes:\",\n"
     "      all(pid != os.getpid() for pid, _ in where))\n"
     "print(\"workers import this tapegrad:\",\n"
     "      all(path == tf.__file__ for _, path in where))",
     "workers in other processes: True\n"
     "workers import this tapegrad: True"),
    ("## One step\n\n"
     "For a mean loss, the gradient of the whole batch is the mean of the "
     "shards' gradients, each weighted by its shard's share of the batch: "
     "with shards of `n_k` of the `n` examples, "
     "`grad(mean over n) = sum_k (n_k / n) grad(mean over shard k)`.  "
     "(For equal shards that is the plain mean; a summed loss would add "
     "instead.)  `ray.put` stores the weights once for both workers; the "
     "two calls run at the same time, and `ray.get` waits for both.  The "
     "driver's optimizer then takes one ordinary step.",
     "def data_parallel_step(model, optimizer, workers, x, y):\n"
     "    variables = model.trainable_variables\n"
     "    weights = ray.put([v.numpy() for v in variables])\n"
     "    shards = zip(np.array_split(x, len(workers)),\n"
     "                 np.array_split(y, len(workers)))\n"
     "    results = ray.get([worker.gradients.remote(weights, xs, ys)\n"
     "                       for worker, (xs, ys) in zip(workers, shards)])\n"
     "    share = [n / len(x) for _, _, n in results]\n"
     "    grads = [sum(s * g for s, g in zip(share, parts))\n"
     "             for parts in zip(*(grads for grads, _, _ in results))]\n"
     "    optimizer.apply_gradients(zip(grads, variables))\n"
     "    return sum(s * loss for s, (_, loss, _) in zip(share, results))",
     ""),
    ("## Training\n\n"
     "Five steps of Adam over batches of 64: each worker sees 32 examples "
     "a step.  The loss printed is the whole batch's, before the step.",
     "BATCH = 64\n"
     "batches = [(x_all[i:i + BATCH], y_all[i:i + BATCH])\n"
     "           for i in range(0, len(x_all), BATCH)]\n"
     "optimizer = tf.keras.optimizers.Adam(learning_rate=0.05)\n"
     "for step, (x, y) in enumerate(batches):\n"
     "    loss = data_parallel_step(model, optimizer, workers, x, y)\n"
     "    print(f\"step {step}: loss {loss:.4f}\")",
     ("regex", r"(step [0-4]: loss \d\.\d{4}\n?){5}",
      "the losses are the run's; five steps, one line each")),
    ("## The same steps in one process\n\n"
     "A fresh model (the same initial weights, from the same seed) and a "
     "fresh Adam take the same five batches whole, on one tape.  The "
     "weights must agree with the data-parallel ones to rounding: the "
     "cell asserts 1e-12.",
     "single = make_model()\n"
     "single_optimizer = tf.keras.optimizers.Adam(learning_rate=0.05)\n"
     "for x, y in batches:\n"
     "    with tf.GradientTape() as tape:\n"
     "        loss = mean_squared_error(y, single(x, training=True))\n"
     "    variables = single.trainable_variables\n"
     "    single_optimizer.apply_gradients(\n"
     "        zip(tape.gradient(loss, variables), variables))\n\n"
     "difference = max(np.abs(a.numpy() - b.numpy()).max()\n"
     "                 for a, b in zip(model.trainable_variables,\n"
     "                                 single.trainable_variables))\n"
     "print(f\"largest difference in the weights: {difference:.1e}\")\n"
     "assert difference < 1e-12",
     ("regex", r"largest difference in the weights: "
      r"(0\.0e\+00|\d\.\de-(1[3-9]|[2-9]\d))",
      "the difference is the run's rounding; the cell asserts < 1e-12")),
    ("## Arrays or tensors on the wire\n\n"
     "A worker could return its gradients as tapegrad tensors: they "
     "pickle too (as `convert_to_tensor` of their NumPy value).  Ray "
     "pickles every result, so what matters is what each form costs to "
     "pickle and unpickle.  The tensor's pickle is the array's plus the "
     "name of the function that rebuilds it, and unpickling makes the "
     "array and then the tensor, so NumPy arrays are the cheaper form; "
     "the optimizer takes them as they are.  The numbers are this "
     "machine's.",
     "x, y = batches[0]\n"
     "with tf.GradientTape() as tape:\n"
     "    loss = mean_squared_error(y, model(x))\n"
     "as_tensors = tape.gradient(loss, model.trainable_variables)\n"
     "as_arrays = [g.numpy() for g in as_tensors]\n\n"
     "def pickle_cost(value, n=2000):\n"
     "    data = pickle.dumps(value, protocol=5)\n"
     "    start = time.perf_counter()\n"
     "    for _ in range(n):\n"
     "        pickle.loads(pickle.dumps(value, protocol=5))\n"
     "    return len(data), (time.perf_counter() - start) / n * 1e6\n\n"
     "print(f\"{'gradients as':<16}{'bytes':>8}{'us/round trip':>16}\")\n"
     "for name, value in [(\"NumPy arrays\", as_arrays),\n"
     "                    (\"tapegrad tensors\", as_tensors)]:\n"
     "    size, us = pickle_cost(value)\n"
     "    print(f\"{name:<16}{size:>8}{us:>16.1f}\")",
     ("regex",
      r"gradients as +bytes +us/round trip\n"
      r"NumPy arrays +\d+ +\d+\.\d\n"
      r"tapegrad tensors +\d+ +\d+\.\d",
      "sizes and timings are the machine's")),
    ("## Shutting down\n\n"
     "`ray.shutdown()` stops the workers and the local cluster.",
     "ray.shutdown()\n"
     "print(\"Ray running:\", ray.is_initialized())",
     "Ray running: False"),
]


def build():
    """(notebook, expectations entry)"""
    return build_from(NAME, CELLS)
