"""tapegrad's own text for the two guide notebooks (tools/guide_notebooks.py).

The guide notebooks rerun the code of TensorFlow's autodiff guides; the code
cells are TensorFlow's (Apache License 2.0, attributed at the top of each
notebook), and every markdown cell is written here, for tapegrad, from
scratch.  None of TensorFlow's prose is copied: tools/guide_notebooks.py
refuses to build (and --verify fails) if a published markdown passage of
more than 60 characters appears in this text.

Layout:
  TITLE[guide]       the notebook's title (a markdown heading);
  ABOUT              what the notebook is (formatted with title, name);
  ATTRIBUTION        where the code cells come from (formatted with name,
                     path, year: the copyright year read from the guide's
                     header cell);
  TEXT[guide][id]    the markdown placed just before the published code cell
                     with that cell id: a str is one markdown cell, a tuple
                     of str several cells in that order.  A cell gets the id
                     "tg-<code cell id>" (the k-th of a tuple, k >= 2,
                     "tg-<code cell id>-<k>").
Wherever the published guide has markdown before a code cell, TEXT has an
entry for that code cell (the build checks it), so the notebook keeps the
guide's sections, in the guide's order, and a reader can follow it beside
the published page.  Entries before code cells that the guide leaves
uncommented are allowed too.
"""

TITLE = {
    "autodiff": "# Introduction to gradients and automatic differentiation, "
                "rerun on tapegrad",
    "advanced_autodiff": "# Advanced automatic differentiation, rerun on "
                         "tapegrad",
}

ABOUT = (
    "This notebook reruns, in order, every computation of TensorFlow's guide "
    "*{title}* on tapegrad. The code cells are the guide's own, run with "
    "`import tapegrad as tf`, so each value they print can be set beside the "
    "value TensorFlow documents for it. The text between them is tapegrad's: "
    "it says what the next cell computes, what the tape records, and why the "
    "result is what it is. `python tools/run_notebooks.py` runs the notebook "
    "and checks every output against the documented one "
    "(`tests/notebook_expectations.json`); `tools/guide_notebooks.py` "
    "generates it from the published guide.")

ATTRIBUTION = (
    "**Where the code comes from.** The code cells are from TensorFlow's "
    "guide ([tensorflow.org/guide/{name}](https://www.tensorflow.org/guide/"
    "{name}); source `{path}` in "
    "[tensorflow/docs](https://github.com/tensorflow/docs)), Copyright {year} "
    "The TensorFlow Authors, used under the "
    "[Apache License, Version 2.0](https://www.apache.org/licenses/LICENSE-2.0). "
    "The changes made to them are listed below. The explanatory text is "
    "tapegrad's, not TensorFlow's.")

SAVEDMODEL_TEXT = """\
**tapegrad note (SavedModel).** This cell is not the guide's. There, `model` \
is written to disk as a SavedModel with \
`tf.saved_model.SaveOptions(experimental_custom_gradients=True)`, read back \
with `tf.saved_model.load`, and the gradient is taken through the loaded \
`call_custom_grad`. tapegrad runs eagerly and has no graph to export, so \
`tf.saved_model` does not exist. The cell takes the same gradient through \
`model` itself: the same `tf.function`, the same custom gradient, so it \
prints the guide's `2.0` (and none of TensorFlow's \
`INFO:tensorflow:Assets written to: saved_model/assets` log lines)."""

TEXT = {
    # ---- Introduction to gradients and automatic differentiation ----------
    "autodiff": {
        "IqR2PQG4ZaZ0": (
            """\
## Automatic differentiation and gradients

Training a model by gradient descent needs the derivative of a loss with \
respect to every parameter. Automatic differentiation gets these exactly, \
from the operations the program actually ran, rather than from a formula \
written by hand or from finite differences. The sections below show how \
tapegrad's `GradientTape` does it in eager code, which is the only kind of \
code tapegrad runs.""",
            """\
## Setup

NumPy appears once, to show a computation the tape cannot see; matplotlib \
draws the one figure. `tf` is tapegrad.""",
        ),
        "Xq9GgTCP7a4A": (
            """\
## Computing gradients

Reverse-mode differentiation works in two passes. The forward pass runs the \
computation and keeps a log of each operation, its inputs and outputs. The \
backward pass reads that log from the end to the start and applies the chain \
rule one operation at a time, carrying the derivative of the final result \
back towards the inputs.""",
            """\
## Gradient tapes

`tf.GradientTape` is that log. While its `with` block is open it records the \
operations whose inputs it follows, and by default it follows every \
trainable `tf.Variable` the code reads. Below, reading `x` makes the tape \
watch it, so `x**2` is recorded. The cell prints nothing.""",
        ),
        "LsvrwF6bHroC": """\
`tape.gradient(target, sources)` runs the backward pass from the target \
(here `y`) to the sources (here `x`). Since d(x²)/dx = 2x and x is 3, the \
answer is 6.0. `.numpy()` turns the result into a NumPy scalar, which \
NumPy 2 displays as `np.float32(6.0)`.""",
        "vacZ3-Ws5VdV": """\
Nothing changes for tensors of higher rank. This cell multiplies a 1×3 input \
(a plain nested list, converted when it meets `@`) by a 3×2 variable `w` \
drawn at random, adds a bias `b` of zeros and averages the squares of the \
two outputs. The tape is made `persistent=True` because the cells below ask \
it for gradients more than once.""",
        "luOtK1Da_BR0": """\
Sources may be passed as any nesting of lists, tuples and dicts, and the \
gradients come back in the same nesting. A list of the two variables gives a \
list of two gradients.""",
        "aYbWRFPZqk4U": """\
Each gradient has its source's shape: entry (i, j) of `dl_dw` says how fast \
the loss changes as `w[i, j]` changes. Both lines print `(3, 2)`.""",
        "d73cY6NOuaMd": """\
The same persistent tape, asked again with a dict of sources, answers with a \
dict. For the bias the answer is easy to predict: the loss is the mean of \
y₀² and y₁², so its derivative with respect to bᵢ is yᵢ, and `grad['b']` is \
the row `y[0]` itself. Because `w` is random, the numbers are not the \
guide's; the checker compares them with `y[0]` recomputed from `w` and \
`b`.""",
        "JvesHtbQESc-": """\
## Gradients of a model's variables

Layers and models own their variables and list the trainable ones in \
`trainable_variables`; passing that list as the sources gives one gradient \
per variable. In tapegrad a Keras layer is a `tf.Module`. `Dense` creates its \
kernel and bias the first time it is called, here inside the tape, and the \
tape watches them as the layer reads them.""",
        "PR_ezr6UFrpI": """\
Each gradient again has the shape of its variable. The names are printed as \
Keras 3 prints them (`kernel`, `bias`); the guide's stored output comes from \
Keras 2, which showed `dense/kernel:0` and `dense/bias:0`.""",
        "Kj9gPckdB37a": """\
## What the tape watches

A tape records an operation only if one of its inputs is watched or comes \
from an operation it recorded, and without instructions it watches just the \
trainable variables read inside the block. Recording more would cost \
memory, because each record keeps alive the tensors its gradient needs. Of the four values below only `x0` qualifies: \
`x1` is a variable marked `trainable=False`, `x2` is the ordinary tensor that \
`Variable + 1.0` returns, computed before the tape opened, and `x3` is a \
constant that `y` does not even use. So the cell prints 6.0 (that is, 2·x0) \
and then `None` three times.""",
        "hwNwjW1eAkib": """\
`watched_variables()` tells which variables the tape ended up watching: here \
only `x0`, named `x0:0` as TensorFlow names variables.""",
        "tVN1QqFRDHBK": """\
To differentiate with respect to a tensor that is not a variable, call \
`tape.watch` on it before using it. From then on, operations on `x` are \
recorded exactly as reads of a variable would be, and the derivative of x² \
at 3 is 6.0 again.""",
        "7QPzwWvSEwIp": """\
The opposite control: with `watch_accessed_variables=False` the tape watches \
nothing by itself, only what is passed to `watch`. Both `x0` and `x1` are \
trainable variables, but only `x1` is watched here, so `sin(x0)` is not \
recorded.""",
        "e6GM-3evH1Sz": """\
No recorded operation leads from `x0` to `ys`, so its gradient is `None`. \
For `x1` the derivative of softplus is the logistic sigmoid, and \
sigmoid(10) = 0.9999546.""",
        "7XaPRAwUyYms": """\
## Intermediate results

A source need not be something the tape watched: any tensor the tape \
followed will do, including one computed inside the block. With z = y², \
dz/dy = 2y, and y = 3·3 = 9, so the cell prints 18.0.""",
        "zZaCm3-9zVCi": """\
An ordinary tape answers one `gradient` (or `jacobian`) call and then frees \
its records; a second call raises `RuntimeError`. A persistent tape keeps \
them, so one forward pass can serve several gradients, and frees them only \
when the tape object itself goes away, which is what the `del` in the cell \
after this one is for. Here z = x⁴ and y = x², so the gradients at \
x = [1, 3] are 4x³ = [4, 108] and 2x = [2, 6].""",
        "qI0sDV_WeXBb": (
            """\
## Notes on performance

Recording adds a small cost to every operation run while a tape is open, so \
open tapes only around the code you mean to differentiate. Each record also \
holds on to the tensors its gradient rule reads (tapegrad keeps only those, \
not every input and output). A non-persistent tape drops all of them when \
`gradient` returns; a persistent tape keeps them until it is deleted, so its \
peak memory is higher.""",
            """\
## Targets that are not scalars

The backward pass starts from one number. Two targets on one persistent \
tape, asked about one at a time, give two separate derivatives: \
d(x²)/dx = 2x = 4 and d(1/x)/dx = −1/x² = −0.25 at x = 2.""",
        ),
        "o4a6_YOcfWKS": """\
Asked about both targets in one call (here as a dict), the tape does not \
return one gradient per target. It starts the backward pass with a gradient \
of one for every target at once, so the contributions add up and the result \
is the derivative of their sum: 4 − 0.25 = 3.75.""",
        "DArPWqsSh5un": """\
A target with several elements behaves the same way, each element counting \
as one target: y = [3x, 4x], and the gradient is that of 3x + 4x, namely \
7.0.""",
        "JQvk_jnMmTDS": """\
Summing is what training wants: the gradient of a total loss, or of a loss \
computed element by element. To get the derivative of each element \
separately you need a Jacobian (see the advanced notebook). An elementwise \
function is the exception: output i depends on input i alone, so the \
gradient of the sum with respect to x[i] is just dy[i]/dx[i]. The cell takes \
the sigmoid of 201 points between −10 and 10 and gets its derivative at each \
one in a single `gradient` call.""",
        "e_f2QgDPmcPE": """\
The plot shows the sigmoid and its derivative σ(x)(1 − σ(x)), a bump that \
peaks at 0.25 at x = 0. The checker compares only the figure's number of \
axes, and after the run it compares `dy_dx` with that formula.""",
        "ciFLizhrrjy7": """\
## Control flow

The tape records operations as Python executes them, so `if`, `for` and \
`while` need no support of their own: whatever branch runs is what gets \
recorded. Since x = 1 > 0, the code takes `result = v0` and never touches \
`v1`. The gradient is 1.0 for `v0` and `None` for `v1`.""",
        "8k05WmuAwPm7": """\
The condition chose a branch but is not part of the arithmetic that produced \
`result`: no recorded operation leads from `x` to `result`. So the gradient \
with respect to `x` is `None`, and it would be `None` whichever branch had \
run. A derivative cannot say anything about where a branch switches.""",
        "CU185WDM81Ut": """\
## When `gradient` returns `None`

When no chain of recorded operations links a source to the target, its \
gradient is `None` (unless zeros are asked for; see the last section). The \
plain case first: `z` is computed from `y` only, so its gradient with \
respect to `x` is `None`. The four cases after it are easier to miss.""",
        "QPKY4Tn9zX7_": """\
### 1. A variable replaced by a tensor

`x = x + 1` does not update the variable; it binds the name `x` to a new \
tensor. On the second pass of the loop `x` is that tensor, which no tape \
watches, and the gradient is `None`. `x.assign_add(1)` would have changed the \
variable in place. tapegrad's tensor and variable types are named \
`EagerTensor` and `ResourceVariable`, as TensorFlow's are, so the printed \
type names match the guide's.""",
        "jmoLCDJb_yw1": """\
### 2. A step computed outside tapegrad

A tape sees only tapegrad operations. `np.mean` turns `x2` into a NumPy \
array and averages it where no tape can watch; `tf.reduce_mean` then \
receives a fresh constant that has no recorded link to `x`. The gradient is \
`None`.""",
        "9jlHXHqfASU3": """\
### 3. An integer dtype

Derivatives exist only for floating-point dtypes. `tf.constant(10)` is \
int32 (a Python int converts to int32), so `x * x` is not recorded and the \
gradient is `None`. tapegrad warns as soon as an integer tensor is watched, \
with a Python `UserWarning` on stderr where TensorFlow writes a log line; \
the notebook's check requires that warning. (Strings are the other \
non-differentiable type in TensorFlow; tapegrad has no string dtype.)""",
        "C1tLeeRFE479": (
            """\
An integer slipping in usually shows up sooner as an error: an operation \
that mixes an int32 tensor with a float32 one raises instead of converting \
either side.""",
            """\
### 4. State in a variable

A variable is read as its current value; how it got that value is not on \
any tape. `assign_add` changes `x1` in place and is not recorded, so the \
recorded `x1**2` depends on `x1` alone. The gradient with respect to `x0` is \
therefore `None`, not the 2·(x0 + x1) the formula might suggest.""",
        ),
        "HSb20FXc_V0U": """\
## No gradient registered

Two situations differ here. Some operations are declared to have no \
derivative and simply give `None`. Others could have one but no gradient \
rule was written; differentiating through them raises `LookupError`, so the \
gap cannot go unnoticed. `tf.image.adjust_contrast` is the guide's example: \
TensorFlow's `AdjustContrastv2` kernel has no gradient, and tapegrad \
reproduces that, so the cell catches the error and prints its message.""",
        "U6zxk1sf9Ixx": (
            """\
To get a gradient through such an operation, express it with \
differentiable operations, or wrap it in `tf.custom_gradient` and supply the \
backward pass yourself (the advanced notebook shows how). tapegrad has no \
`tf.RegisterGradient`.""",
            """\
## Zeros instead of None

`unconnected_gradients=tf.UnconnectedGradients.ZERO` makes `gradient` \
return zeros shaped like the source wherever it would return `None`. `x` has \
two elements and is not connected to `z`, so the answer is `[0. 0.]`.""",
        ),
    },

    # ---- Advanced automatic differentiation -------------------------------
    "advanced_autodiff": {
        "IqR2PQG4ZaZ0": (
            """\
This notebook continues `guide_autodiff.ipynb`, which covers what everyday \
training needs. It turns to the rest of the tape's toolbox: pausing and \
clearing the recording, stopping a gradient on one path, writing a custom \
backward pass, several tapes at once, higher-order derivatives, and \
Jacobians.""",
            """\
## Setup

matplotlib draws the figures, at 8×6 inches. `tf` is tapegrad.""",
        ),
        "mhFSYf7uQWxR": (
            """\
## Controlling gradient recording

Choosing what a tape watches was covered in the introductory notebook. A \
tape can also be told to pause its recording or to forget what it has \
recorded.""",
            """\
### Stop recording

Inside `with t.stop_recording():` the tape records nothing, even operations \
on values it watches. That saves time and memory for side computations \
nobody will differentiate, such as a metric. `y * y` runs during the pause, \
so `z` depends on `y` only through an unrecorded step: dz/dx = 2x = 4, and \
dz/dy is `None`.""",
        ),
        "lsMHsmrh4pqM": """\
### Reset and start over

`t.reset()` throws away everything recorded so far; the tape goes on \
recording afterwards. `y_sq` was recorded before the reset and is forgotten \
with it, so once more dz/dx = 4 and dz/dy is `None`. Closing the `with` \
block and opening a new tape is usually clearer; `reset` is for code that \
cannot leave the block.""",
        "30qnZMe48BkB": """\
## Stopping the gradient on one path

`tf.stop_gradient(t)` passes `t`'s value through but cuts the link to `t` \
for the backward pass. Unlike the tape methods above it acts on one path \
only, and it needs no access to the tape. `y` reaches `z` only through the \
stopped path, so dz/dy is `None` while dz/dx is still 4.""",
        "Mjj01w4NYtwd": """\
## Custom gradients

`@tf.custom_gradient` lets a function define its own backward pass: it \
returns its result together with a function that maps the gradient arriving \
at the result (`dy`) to the gradient for its inputs. Uses include an \
operation with no gradient rule, a derivative that is numerically poor when \
taken step by step, reusing a value from the forward pass, and changing the \
gradient while leaving the value alone (clipping, rounding). tapegrad has no \
`tf.RegisterGradient`: the gradients of its own operations live in its op \
table, and `custom_gradient` is the way to add one.

`clip_gradients` below returns its input unchanged, but clips the gradient \
passing back through it to norm 0.5. The gradient arriving at `output` is \
1.0 and leaves clipped to 0.5; the chain rule through `v * v` then \
multiplies by 2v = 4, giving 2.0 instead of 4.0.""",
        "Q5JBgIBYjN1I": """\
### Custom gradients in SavedModel

In TensorFlow this section checks that a custom gradient survives saving a \
model and loading it back. The cell below defines the module to save: a \
`tf.Module` whose `tf.function` calls `clip_gradients`. In tapegrad \
`tf.function` checks the `input_signature` and then simply runs the Python \
function; nothing is traced.""",
        "xZTrgy2q-9pq": SAVEDMODEL_TEXT,
        "BJ0HdMvte0VZ": """\
## Multiple tapes

Any number of tapes can be open together. Each operation is recorded on \
every open tape that follows one of its inputs, independently of the \
others. Here `tape0` watches only `x0` and `tape1` only `x1`, so each can \
differentiate `ys` with respect to its own input.""",
        "6ApAoMNFfNz6": """\
Each tape answers for its own input: d sin(x0)/dx0 = cos(0) = 1.0 from \
`tape0`, and in the next cell d sigmoid(x1)/dx1 = σ(0)(1 − σ(0)) = 0.25 from \
`tape1`.""",
        "cPQgthZ7ugRJ": """\
### Higher-order gradients

`t1.gradient` computes the derivative with ordinary operations. When it runs \
inside an outer tape that follows their inputs, that tape records them, so \
the derivative can itself be differentiated. For y = x³ at x = 1: \
dy/dx = 3x² = 3.0 and d²y/dx² = 6x = 6.0.""",
        "tH3ZFuUfDLrR": (
            """\
Nested tapes give the second derivative of a function of one scalar. They \
do not give a whole Hessian matrix, because `gradient` always returns the \
derivative of a single number (the sum, for a larger target); the Hessian \
example in the Jacobian section uses `jacobian` instead. Nesting fits best \
when the inner gradient is reduced to a scalar that the outer tape then \
differentiates, as in the next example.""",
            """\
#### Example: input gradient regularization

The gradient of a model's output with respect to its input measures how much \
a small change of the input can move the output; adversarial examples \
exploit exactly that. Input gradient regularization \
([Finlay & Oberman, 2019](https://arxiv.org/abs/1905.11468)) adds the size \
of this gradient to the loss. The next cells compute (1) the input gradient \
with an inner tape, (2) its norm, and (3) the gradient of that norm with \
respect to the layer's variables with an outer tape. This cell makes a \
random batch of seven 5-vectors and a `Dense` layer of 10 ReLU units.""",
        ),
        "E6yOFsjEDR9u": """\
The inner tape watches `x` only (`watch_accessed_variables=False`), so it \
follows the input path. The outer tape watches the layer's variables as the \
layer reads them. Steps 1 and 2 run inside the outer tape, and the input \
gradient depends on the kernel, so the outer tape records them and step 3 \
can differentiate through them.""",
        "123QMq6PqK_d": """\
One gradient per trainable variable, shaped like it: the kernel is (5, 10) \
and the bias (10,).""",
        "bAFeIE8EuVIq": (
            """\
## Jacobians

The Jacobian of a target with several elements holds the derivative of \
every target element with respect to every source element; its shape is the \
target's shape followed by the source's. `tape.jacobian(target, sources)` \
computes it. As with `gradient` the sources may be a nested structure, but \
the target has to be one tensor. tapegrad computes the whole Jacobian in \
one backward pass that carries a batch of one-hot starting gradients, one \
per target element (the default `experimental_use_pfor=True`); \
`experimental_use_pfor=False` makes one pass per element instead.""",
            """\
### Scalar source

The sigmoid of `x + delta` for 201 values of `x`, differentiated with \
respect to the scalar variable `delta`.""",
        ),
        "iZ6awnDzr_BA": """\
With a scalar source the Jacobian has the target's shape: element i is \
dy[i]/d delta. Both lines print `(201,)`.""",
        "siNZaklc0_-e": """\
At delta = 0, d sigmoid(x + delta)/d delta is just sigmoid'(x), so this is \
the same bump as in the introductory notebook, here obtained from \
`jacobian` rather than from the gradient of a sum.""",
        "39YXItgLxMBk": """\
### Tensor source

A `Dense` layer of 10 ReLU units applied to a random batch of seven \
5-vectors: the output is (7, 10). The tape is persistent because it will be \
asked for a Jacobian and then a gradient.""",
        "CigTWyfPvPuv": """\
The kernel maps 5 inputs to 10 outputs, so it is (5, 10).""",
        "pRLzTTbvEimH": """\
Differentiating each of the 70 output values by each of the 50 kernel \
entries gives a tensor shaped like the output followed by the kernel: \
(7, 10, 5, 10).""",
        "FJjZpYRnDjVa": """\
Summing the Jacobian over the target's axes gives the derivative of the \
target's sum, which is what `gradient` returns. The cell asserts that the \
two agree to within 1e-3 and prints the largest difference, 0.0 or \
float32 rounding noise.""",
        "ELGTaell_j81": """\
#### Example: Hessian

There is no Hessian method, but a Hessian is the Jacobian of a gradient. The \
inner tape gives `g`, the gradient of the loss with respect to `layer1`'s \
kernel, and because that happens inside the outer tape, \
`t2.jacobian(g, layer1.kernel)` can differentiate it once more. The kernel \
is (5, 8), so the Hessian is (5, 8, 5, 8). A Hessian has as many entries as \
the square of the parameter count, which makes it impractical for models of \
realistic size; the example is here to show `jacobian`. Second-order methods at scale use \
Hessian-vector products instead, which cost a small multiple of a \
gradient (nested tapes, or forward over reverse with \
`tf.autodiff.ForwardAccumulator`).""",
        "6te7N6wVXwXX": """\
A Newton step needs the Hessian as a matrix and the gradient as a vector: \
the kernel's 40 parameters make `g_vec` (40, 1) and `h_mat` (40, 40).""",
        "8TCHc7Vrf52S": """\
Second derivatives do not depend on the order of differentiation, so \
`h_mat` should equal its transpose; the notebook's check asserts it after \
the run. `imshow_zero_center` draws a matrix with a colour scale centred on \
zero, so that positive and negative entries stand apart.""",
        "DExOxd7Ok2H0": """\
The image is symmetric about its diagonal. Its two axes are the matrix and \
its colour bar.""",
        "3DdnbynBdSor": """\
Newton's method moves the parameters by −H⁻¹g. Adding a small multiple of \
the identity (1e-3) to H keeps that system solvable when H is singular or \
nearly so, as happens when a ReLU unit is off for the whole batch and its \
weights have no effect on the loss.""",
        "k1LYftgmswOO": """\
`tf.linalg.solve` finds u with (H + εI)u = g without forming the inverse, \
which is cheaper and more accurate than inverting. The step is reshaped to \
the kernel's shape and subtracted in place with `assign_sub`.""",
        "tQMndhIUHMes": (
            """\
For one variable this is straightforward. A model with several variables \
would need the Hessian's blocks for every pair of them, cut and joined into \
one matrix.""",
            """\
### Batch Jacobian

A common case: the rows of a batch go through the model independently, and \
what you want is each row's own Jacobian, (batch, outputs, inputs). Here \
`x` is (7, 5), two `Dense` layers with ELU make `y` (7, 6), and the tape \
watches `x` only.""",
        ),
        "1zSl2A5-HhMH": """\
`jacobian` does not know the rows are independent. It returns every \
derivative of `y` with respect to `x`, shape (7, 6, 7, 5), in which row b of \
`y` against row b′ ≠ b of `x` is all zeros.""",
        "ZFl9uj3ueVSH": """\
So for one output feature and one input feature, the (batch, batch) slice is \
diagonal. The figure shows the slice for feature 0 against feature 0.""",
        "g4ZoRJcJNmy5": """\
`plot_as_patches` tiles all 6 × 5 such slices into one image, with a border \
around each; every tile is lit only on its diagonal.""",
        "v65OAjEgLQwl": """\
Two ways to drop the redundant batch axis: sum over the source's batch axis \
(everything off the diagonal is zero), or pick the diagonal with \
`tf.einsum('bxby->bxy', j)`. Both give (7, 6, 5).""",
        "YJLIl9WpHqYq": """\
`batch_jacobian` gives the (batch, outputs, inputs) result directly, without \
the zeros. For each output feature k it differentiates the sum of `y[:, k]` \
over the batch; when rows are independent, the part of that derivative \
belonging to row b of `x` is row b's own. tapegrad does this in one backward \
pass that carries all 6 starting gradients at once.""",
        "-5t_q5SfHw7T": """\
It agrees with the result taken from the full Jacobian: the largest \
difference is 0.0, or float32 rounding noise.""",
        "tnDugVc-L4fj": """\
`batch_jacobian` checks only shapes (target and source must agree in their \
first dimension); it cannot check that the rows are independent. Batch \
normalization in training mode breaks that independence: it normalizes each \
feature with the mean and variance of the whole batch, so every output row \
depends on every input row. The full Jacobian is still (7, 6, 7, 5).""",
        "SNyZ1WhJMVLm": """\
The tiles now have entries off their diagonals: rows influence each other.""",
        "k8_mICHoasCi": """\
No error is raised: `batch_jacobian` produces a (7, 6, 5) tensor, but entry \
[b, k] is now the derivative of the whole batch's `y[:, k]` with respect to \
`x[b]`, which mixes in the other rows' dependence on `x[b]`. It is not the \
Jacobian of any single example.""",
    },
}
