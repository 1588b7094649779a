"""Build notebooks/training.ipynb and its expectations: an MLP trained end
to end with tapegrad's Keras names.

The notebook generates two moons, trains a 2-32-32-2 MLP with `fit`
(Adam, sparse categorical crossentropy from logits, accuracy, validation
data), plots the loss curves and the decision boundary, saves a checkpoint,
wipes the weights, restores them, and times the training step against
PyTorch and TensorFlow where they are installed.  Its text is tapegrad's
own.  What tools/nbcheck.py checks (tests/notebook_expectations.json):
the data's shapes, the summary table exactly, fit's per-epoch lines by
pattern, the test accuracy above 0.97 (the notebook asserts it), the
restored weights equal to the saved ones, figures by their number of Axes,
and the timing table by pattern (its numbers are the machine's).

tools/make_notebooks.py calls build() so that one command regenerates every
notebook and the whole expectations file.
"""
from __future__ import annotations

import nbformat

NAME = "training"


def _summary_table(rows, total):
    """Keras 3's summary() for a Sequential of `rows` (name, type, output
    shape, parameters), as tapegrad prints it."""
    w = (33, 24, 15)

    def line(left, mid, right, fill):
        return left + mid.join(fill * n for n in w) + right

    def row(a, b, c):
        return "\u2502" + "\u2502".join(
            [(" " + a).ljust(w[0]), (" " + b).ljust(w[1]),
             (c + " ").rjust(w[2])]) + "\u2502"
    out = ['Model: "sequential"',
           line("\u250f", "\u2533", "\u2513", "\u2501"),
           "\u2503" + "\u2503".join([" Layer (type)".ljust(w[0]),
                                     " Output Shape".ljust(w[1]),
                                     "Param # ".rjust(w[2])]) + "\u2503",
           line("\u2521", "\u2547", "\u2529", "\u2501")]
    for i, (name, kind, shape, n) in enumerate(rows):
        if i:
            out.append(line("\u251c", "\u253c", "\u2524", "\u2500"))
        out.append(row("%s (%s)" % (name, kind), shape, "{:,}".format(n)))
    out.append(line("\u2514", "\u2534", "\u2518", "\u2500"))
    size = "%.2f KB" % (total * 4 / 1024)
    out += [" Total params: {:,} ({})".format(total, size),
            " Trainable params: {:,} ({})".format(total, size),
            " Non-trainable params: 0 (0.00 B)"]
    return "\n".join(out)


def _timing_head(batch, n):
    """The start of a notebook's speed cell (the CNN notebook's too): the
    first `batch` training rows, `best_time` (microseconds per call, best
    of 5 runs of `n`) and the tapegrad step, timed into `timings`."""
    return (
        "xb, yb = x_train[:%d], y_train[:%d]\n\n"
        "def best_time(step, n=%d, repeat=5):\n"
        "    step()\n"
        "    runs = []\n"
        "    for _ in range(repeat):\n"
        "        start = time.perf_counter()\n"
        "        for _ in range(n):\n"
        "            step()\n"
        "        runs.append((time.perf_counter() - start) / n)\n"
        "    return min(runs) * 1e6\n\n"
        "xt, yt = tf.constant(xb), tf.constant(yb)\n"
        "loss_fn = model.loss\n"
        "params = model.trainable_variables\n\n"
        "def tapegrad_step():\n"
        "    with tf.GradientTape() as tape:\n"
        "        loss = loss_fn(yt, model(xt, training=True))\n"
        "    grads = tape.gradient(loss, params)\n"
        "    model.optimizer.apply_gradients(zip(grads, params))\n\n"
        "timings = {\"tapegrad\": best_time(tapegrad_step)}\n\n"
        % (batch, batch, n))


# ...and its end: the table of every library timed, against tapegrad
_TIMING_TABLE = (
    "base = timings[\"tapegrad\"]\n"
    "print(f\"{'library':<28}{'us/step':>10}{'vs tapegrad':>14}\")\n"
    "for name, us in timings.items():\n"
    "    print(f\"{name:<28}{us:>10.1f}{us / base:>13.1f}x\")")


_SUMMARY = _summary_table([("dense", "Dense", "(None, 32)", 96),
                           ("dense_1", "Dense", "(None, 32)", 1056),
                           ("dense_2", "Dense", "(None, 2)", 66)], 1218)

# (markdown before, code, expectation) per code cell; an expectation is
# "" (prints nothing), a string (exact output) or ("regex", pattern, why)
CELLS = [
    ("# Training a model end to end\n\n"
     "This notebook trains a small classifier the way Keras code does, with "
     "`import tapegrad as tf`: a `Sequential` model, `compile`, `fit` with "
     "validation data, `evaluate`, then a checkpoint written, the weights "
     "wiped and restored, and the same training step timed against PyTorch "
     "(and TensorFlow where installed).  `python tools/run_notebooks.py` "
     "reruns it and checks what it prints.",
     "import os\n"
     "import tempfile\n"
     "import time\n\n"
     "import matplotlib.pyplot as plt\n"
     "import numpy as np\n\n"
     "import tapegrad as tf",
     ""),
    ("## The data\n\n"
     "Two interleaved half circles (\"two moons\") with a little noise: a "
     "linear model cannot separate them, a small MLP can.  Points are "
     "float32, labels int64, as a Keras pipeline would feed them.",
     "def two_moons(n, noise, rng):\n"
     "    t = rng.uniform(0, np.pi, n)\n"
     "    labels = rng.integers(0, 2, n)\n"
     "    upper = np.stack([np.cos(t), np.sin(t)], axis=1)\n"
     "    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)\n"
     "    x = np.where(labels[:, None] == 0, upper, lower)\n"
     "    x = x + rng.normal(0, noise, x.shape)\n"
     "    return x.astype(np.float32), labels\n\n"
     "rng = np.random.default_rng(0)\n"
     "x_train, y_train = two_moons(1000, 0.1, rng)\n"
     "x_test, y_test = two_moons(500, 0.1, rng)\n"
     "print(x_train.shape, x_train.dtype, y_train.shape, y_train.dtype)",
     "(1000, 2) float32 (1000,) int64"),
    ("## The model\n\n"
     "Two hidden layers of 32 ReLU units and 2 output logits.  The loss "
     "takes logits (`from_logits=True`), which computes the softmax "
     "crossentropy stably.  `\"accuracy\"` becomes a sparse categorical "
     "accuracy, because the labels are integers and the outputs are two "
     "columns.  `tf.random.set_seed` makes the initial weights the same on "
     "every run, and `np.random.seed` the order in which `fit` shuffles "
     "the batches.",
     "tf.random.set_seed(42)\n"
     "np.random.seed(42)\n"
     "model = tf.keras.Sequential([\n"
     "    tf.keras.layers.Dense(32, activation=\"relu\"),\n"
     "    tf.keras.layers.Dense(32, activation=\"relu\"),\n"
     "    tf.keras.layers.Dense(2),\n"
     "])\n"
     "model.compile(\n"
     "    optimizer=tf.keras.optimizers.Adam(learning_rate=0.01),\n"
     "    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),\n"
     "    metrics=[\"accuracy\"],\n"
     ")",
     ""),
    ("## Training\n\n"
     "`fit` runs, per batch, the step you would write yourself: the "
     "forward pass under a `GradientTape`, the loss, `tape.gradient`, "
     "`optimizer.apply_gradients`.  With `verbose=2` it prints one line per "
     "epoch: the training loss and accuracy (running means over the "
     "epoch) and the same on the validation data after the epoch.",
     "history = model.fit(x_train, y_train, batch_size=32, epochs=20,\n"
     "                    validation_data=(x_test, y_test), verbose=2)",
     ("regex",
      r"(Epoch \d+/20\n32/32 - \d+s - \d+(us|ms|s)/step - accuracy: "
      r"\d\.\d{4} - loss: \d\.\d{4}(e-\d\d)? - val_accuracy: \d\.\d{4} - "
      r"val_loss: \d\.\d{4}(e-\d\d)?\n?){20}",
      "the losses and timings are the run's; the layout is fit's")),
    ("Now that the model has been called, `summary()` can show each "
     "layer's output shape and parameter count: 2 x 32 + 32, 32 x 32 + 32 "
     "and 32 x 2 + 2.",
     "model.summary()",
     _SUMMARY),
    ("`fit` returned a `History`: `history.history` holds one value per "
     "epoch for each logged quantity.",
     "plt.plot(history.history[\"loss\"], label=\"training loss\")\n"
     "plt.plot(history.history[\"val_loss\"], label=\"validation loss\")\n"
     "plt.xlabel(\"epoch\")\n"
     "plt.legend()\n"
     "plt.show()",
     ("regex", r"<Figure size \d+x\d+ with 1 Axes>",
      "a figure: only its number of Axes is compared")),
    ("## Evaluation\n\n"
     "`evaluate` returns the loss and the metrics on data the model has not "
     "trained on.  The two moons are separable up to the noise, so the "
     "accuracy should be close to 1; the cell asserts a bound.",
     "test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)\n"
     "print(f\"test accuracy {test_accuracy:.3f}\")\n"
     "assert test_accuracy > 0.97",
     ("regex", r"test accuracy (0\.9[7-9]\d|1\.000)",
      "the accuracy is the run's; the notebook asserts it exceeds 0.97")),
    ("The decision boundary: the predicted class over a grid of points, "
     "with the test points on top.",
     "xx, yy = np.meshgrid(np.linspace(-1.5, 2.5, 200),\n"
     "                     np.linspace(-1.0, 1.5, 200))\n"
     "grid = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)\n"
     "classes = model.predict(grid, batch_size=4096, verbose=0).argmax(1)\n"
     "plt.contourf(xx, yy, classes.reshape(xx.shape), alpha=0.3)\n"
     "plt.scatter(x_test[:, 0], x_test[:, 1], c=y_test, s=5)\n"
     "plt.show()",
     ("regex", r"<Figure size \d+x\d+ with 1 Axes>",
      "a figure: only its number of Axes is compared")),
    ("## Checkpoints\n\n"
     "`tf.train.Checkpoint` saves every Variable reachable from the objects "
     "it is given: the model's weights and the optimizer's state (its "
     "iteration count and Adam's moments), in an `.npz` file written "
     "atomically.  Here the weights are wiped, then read back.",
     "directory = tempfile.mkdtemp()\n"
     "checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)\n"
     "path = checkpoint.write(os.path.join(directory, \"moons\"))\n"
     "saved = [v.numpy().copy() for v in model.variables]\n\n"
     "for v in model.trainable_variables:\n"
     "    v.assign(tf.zeros_like(v))\n"
     "print(\"accuracy with zero weights:\",\n"
     "      model.evaluate(x_test, y_test, verbose=0)[1] < 0.9)\n\n"
     "checkpoint.read(path)\n"
     "print(\"restored weights equal the saved ones:\",\n"
     "      all(np.array_equal(s, v.numpy())\n"
     "          for s, v in zip(saved, model.variables)))\n"
     "print(\"test accuracy after restoring:\",\n"
     "      model.evaluate(x_test, y_test, verbose=0)[1] == test_accuracy)",
     "accuracy with zero weights: True\n"
     "restored weights equal the saved ones: True\n"
     "test accuracy after restoring: True"),
    ("## Speed\n\n"
     "The same training step (forward, gradient, Adam update) on one batch "
     "of 32, timed in tapegrad and, where installed, in PyTorch and "
     "TensorFlow, with the same architecture and the same thread count.  On "
     "a model this small the step is almost all per-operation overhead, "
     "which is what tapegrad keeps small.  The numbers are this machine's.",
     _timing_head(32, 300) +
     "try:\n"
     "    import torch\n"
     "    torch.set_num_threads(len(os.sched_getaffinity(0)))\n"
     "    net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(),\n"
     "                              torch.nn.Linear(32, 32), torch.nn.ReLU(),\n"
     "                              torch.nn.Linear(32, 2))\n"
     "    opt = torch.optim.Adam(net.parameters(), lr=0.01, eps=1e-7)\n"
     "    xp, yp = torch.tensor(xb), torch.tensor(yb)\n\n"
     "    def torch_step():\n"
     "        opt.zero_grad(set_to_none=True)\n"
     "        torch.nn.functional.cross_entropy(net(xp), yp).backward()\n"
     "        opt.step()\n"
     "    timings[\"PyTorch \" + torch.__version__] = best_time(torch_step)\n"
     "except ImportError:\n"
     "    pass\n\n"
     "try:\n"
     "    import tensorflow as real_tf\n"
     "    kmodel = real_tf.keras.Sequential([\n"
     "        real_tf.keras.layers.Dense(32, activation=\"relu\"),\n"
     "        real_tf.keras.layers.Dense(32, activation=\"relu\"),\n"
     "        real_tf.keras.layers.Dense(2)])\n"
     "    kopt = real_tf.keras.optimizers.Adam(0.01)\n"
     "    kloss = real_tf.keras.losses.SparseCategoricalCrossentropy(\n"
     "        from_logits=True)\n"
     "    xk, yk = real_tf.constant(xb), real_tf.constant(yb)\n"
     "    kmodel(xk)\n\n"
     "    def tf_step():\n"
     "        with real_tf.GradientTape() as tape:\n"
     "            loss = kloss(yk, kmodel(xk, training=True))\n"
     "        variables = kmodel.trainable_variables\n"
     "        kopt.apply_gradients(zip(tape.gradient(loss, variables),\n"
     "                                 variables))\n"
     "    timings[\"TensorFlow \" + real_tf.__version__] = best_time(tf_step)\n"
     "except ImportError:\n"
     "    pass\n\n"
     + _TIMING_TABLE,
     ("regex",
      r"library +us/step +vs tapegrad\ntapegrad +\d+\.\d +1\.0x"
      r"(\n(PyTorch|TensorFlow) \S+ +\d+\.\d +\d+\.\dx){0,2}",
      "timings are the machine's; PyTorch and TensorFlow rows appear where "
      "they are installed")),
]


def build_from(name, cells_spec):
    """(notebook, expectations entry) for `cells_spec`, a list of
    (markdown before, code, expectation); tools/cnn_notebook.py builds
    with it too."""
    cells, expected = [], {}
    for i, (markdown, code, want) in enumerate(cells_spec):
        cells.append(nbformat.v4.new_markdown_cell(markdown,
                                                   id="tg-text-%d" % i))
        cell = nbformat.v4.new_code_cell(code, id="tg-code-%d" % i)
        index = len(cells)
        cells.append(cell)
        entry = {"label": "%s [%d]" % (name, i), "stderr_noise": ""}
        if isinstance(want, tuple):
            _, pattern, why = want
            entry.update(output="", check="regex", pattern=pattern, why=why)
        else:
            entry.update(output=want, check="exact")
        expected[str(index)] = entry
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3",
                                 "language": "python", "name": "python3"}
    return nb, {"notebook": "notebooks/%s.ipynb" % name, "cells": expected}


def build():
    """(notebook, expectations entry)"""
    return build_from(NAME, CELLS)
