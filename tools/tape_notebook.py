"""Build notebooks/inside_the_tape.ipynb and its expectations: why a
gradient is None, and what a tape recorded.

The notebook walks through tape.explain on the mistakes TF's autodiff guide
warns about (a value taken out with .numpy(), an unwatched constant, an
integer source, `x = x + 1` on a Variable, stop_recording), turns on
tapegrad.debugging's None-gradient warnings, lists a small model's
recorded ops with tape.operations() and draws them with draw_tape (the
system's Graphviz when installed, else matplotlib).  Its text is
tapegrad's own.  What tools/nbcheck.py checks: every report exactly (a
notebook cell's location prints as "Cell In[N], line L", stable when the
notebook runs top to bottom), the operations list exactly, the DOT text's
first lines, and the drawing by its kind.

tools/make_notebooks.py calls build() so that one command regenerates
every notebook and the whole expectations file.
"""
from __future__ import annotations

from training_notebook import build_from

NAME = "inside_the_tape"

CELLS = [
    ("# Inside the tape: why a gradient is None\n\n"
     "TensorFlow answers a gradient it cannot compute with `None` and "
     "leaves you to guess why.  A tapegrad tape keeps enough of what it "
     "saw to answer: `tape.explain(target, sources)` writes one paragraph "
     "per source, naming the cause and the cell and line where it "
     "happened.  This notebook goes through the usual causes, then looks "
     "at what a tape records.",
     "import tapegrad as tf",
     ""),
    ("## A value that left tapegrad\n\n"
     "`.numpy()` (like `np.asarray`, a NumPy function or `float()`) turns "
     "a tensor into a NumPy value.  What is computed from it starts a new "
     "constant, with no link back to the variable.",
     "v = tf.Variable(2.0)\n"
     "with tf.GradientTape() as tape:\n"
     "    y = v * v\n"
     "    z = tf.constant(y.numpy()) * 2\n"
     "print(tape.gradient(z, v))\n"
     "print(tape.explain(z, v))",
     "None\n"
     "Source, Variable 'Variable:0' (float32, shape ()): not connected: its "
     "value left tapegrad at Cell In[2], line 4 through .numpy(): what is "
     "computed from the NumPy or Python value is a new constant the tape "
     "cannot trace back. Keep the computation in tapegrad ops (tf.math, "
     "operators on tensors) between the source and the target.\n"),
    ("## Sources the tape never watched\n\n"
     "Only trainable variables are watched on their own.  A constant "
     "needs `tape.watch`, and an integer can carry no gradient at all.  "
     "The report takes the sources in any structure and answers for each.",
     "x = tf.constant(3.0)\n"
     "n = tf.Variable(2)\n"
     "with tf.GradientTape() as tape:\n"
     "    y = x * x + tf.cast(n, tf.float32) * v\n"
     "print(tape.explain(y, {\"x\": x, \"n\": n, \"v\": v}))",
     "Source 1 of 3, Variable 'Variable:0' (int32, shape ()): its dtype "
     "is int32: gradients flow only to floating-point tensors, so TF "
     "returns None for integer and bool sources. Make it a float (for "
     "example tf.cast(x, tf.float32), or tf.Variable(2.0) rather than "
     "tf.Variable(2)) before the tape uses it.\n\n"
     "Source 2 of 3, Variable 'Variable:0' (float32, shape ()): connected: "
     "its gradient is computed.\n\n"
     "Source 3 of 3, Tensor (float32, shape ()): a Tensor the tape never "
     "watched: only trainable Variables are watched on their own, so call "
     "tape.watch(x) inside the with block, before x is used.\n"),
    ("## A Variable replaced by a Tensor\n\n"
     "The autodiff guide's classic: `x = x + 1` makes `x` a new Tensor, "
     "so the second time round the tape has no variable to watch.  "
     "`x.assign_add(1)` updates the variable in place.",
     "x = tf.Variable(2.0)\n"
     "for epoch in range(2):\n"
     "    with tf.GradientTape() as tape:\n"
     "        y = x + 1\n"
     "    grad = tape.gradient(y, x)\n"
     "    print(type(x).__name__, \":\", grad)\n"
     "    if grad is None:\n"
     "        print(tape.explain(y, x))\n"
     "    x = x + 1",
     "ResourceVariable : tapegrad.Tensor(1.0, shape=(), dtype=float32)\n"
     "EagerTensor : None\n"
     "Source, Tensor (float32, shape ()): a Tensor computed from a "
     "Variable, which the tape never watched. A line such as `x = x + 1` "
     "replaces a Variable with a plain Tensor: update a Variable in place "
     "instead (x.assign_add(1), x.assign(...)), or call tape.watch(x) if a "
     "Tensor is what you mean to differentiate by.\n"),
    ("## Switching on warnings\n\n"
     "`tf.debugging.enable_none_gradient_warnings()` makes every "
     "`gradient` that returns `None` warn with the same explanation, "
     "pointing at the line that asked for it.",
     "import warnings\n"
     "warnings.simplefilter(\"always\")\n"
     "tf.debugging.enable_none_gradient_warnings()\n"
     "w = tf.Variable(1.0)\n"
     "with tf.GradientTape() as tape:\n"
     "    with tape.stop_recording():\n"
     "        h = w * 3.0\n"
     "    out = h * 2.0\n"
     "with warnings.catch_warnings(record=True) as caught:\n"
     "    print(tape.gradient(out, w))\n"
     "print(caught[0].category.__name__)\n"
     "print(caught[0].message)\n"
     "tf.debugging.disable_none_gradient_warnings()",
     "None\n"
     "NoneGradientWarning\n"
     "GradientTape.gradient returned None. Source, Variable "
     "'Variable:0' (float32, shape ()): the tape never saw this Variable "
     "read while it recorded: ops inside the tape.stop_recording() block "
     "at Cell In[5], line 6 are not recorded, and the path may run "
     "through it.\n"),
    ("## What a tape recorded\n\n"
     "`tape.operations()` lists the recorded ops in order, with the specs "
     "of what went in and came out.  With "
     "`tf.debugging.enable_op_locations()` on, each op also keeps the "
     "line that ran it (a walk up the Python frames per op, so it is off "
     "by default).",
     "tf.debugging.enable_op_locations()\n"
     "W = tf.Variable([[0.5, -1.0, 2.0]], name=\"W\")\n"
     "b = tf.Variable([0.1, 0.2, 0.3], name=\"b\")\n"
     "inputs = tf.constant([[1.0], [2.0]])\n"
     "with tf.GradientTape(persistent=True) as tape:\n"
     "    hidden = tf.tanh(tf.matmul(inputs, W) + b)\n"
     "    loss = tf.reduce_mean(hidden ** 2)\n"
     "    penalty = tf.reduce_sum(W * W)\n"
     "tf.debugging.disable_op_locations()\n"
     "for op in tape.operations():\n"
     "    print(op)",
     "<RecordedOp MatMul(float32[2, 1], float32[1, 3]) -> (float32[2, 3]) "
     "at Cell In[6], line 6>\n"
     "<RecordedOp AddV2(float32[2, 3], float32[3]) -> (float32[2, 3]) at "
     "Cell In[6], line 6>\n"
     "<RecordedOp Tanh(float32[2, 3]) -> (float32[2, 3]) at Cell In[6], "
     "line 6>\n"
     "<RecordedOp Pow(float32[2, 3], float32[]) -> (float32[2, 3]) at "
     "Cell In[6], line 7>\n"
     "<RecordedOp Mean(float32[2, 3]) -> (float32[]) at Cell In[6], line "
     "7>\n"
     "<RecordedOp Mul(float32[1, 3], float32[1, 3]) -> (float32[1, 3]) at "
     "Cell In[6], line 8>\n"
     "<RecordedOp Sum(float32[1, 3]) -> (float32[]) at Cell In[6], line "
     "8>\n"),
    ("## The recorded graph\n\n"
     "`tape.to_dot(target)` writes the record as Graphviz text; the ops "
     "`loss`'s gradient flows through to the watched variables are red.  "
     "`tf.debugging.draw_tape` renders it: with the system's Graphviz "
     "(`dot`) when it is installed, else as a matplotlib figure.",
     "print(tape.to_dot(loss).splitlines()[0])\n"
     "tf.debugging.draw_tape(tape, loss)",
     ("regex", r"digraph tape \{\n(<Figure size \d+x\d+ with 1 Axes>|"
      r"<tapegrad\._tape_view\.SVG object at 0x[0-9a-f]+>)",
      "a drawing: the matplotlib figure or Graphviz's SVG, whichever this "
      "machine has")),
]


def build():
    """(notebook, expectations entry)"""
    return build_from(NAME, CELLS)
