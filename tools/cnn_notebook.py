"""Build notebooks/cnn.ipynb and its expectations: a small convolutional
network trained with tapegrad's Keras names.

The notebook draws a data set of 16x16 images (rings, squares and plus
signs at random places and sizes, with noise: no download), trains a
two-block CNN (Conv2D + MaxPooling2D twice, then Dense) with `fit`, plots
the accuracy curves and a few test images with their predicted classes,
and times one training step against PyTorch where it is installed.  Its
text is tapegrad's own.  What tools/nbcheck.py checks
(tests/notebook_expectations.json): the data's shapes, the summary table
exactly, fit's per-epoch lines by pattern, the test accuracy above 0.95
(the notebook asserts it), figures by their number of Axes, and the
timing table by pattern.

tools/make_notebooks.py calls build() so that one command regenerates every
notebook and the whole expectations file.
"""
from __future__ import annotations

from training_notebook import (_TIMING_TABLE, _summary_table, _timing_head,
                               build_from)

NAME = "cnn"

_SUMMARY = _summary_table(
    [("conv2d", "Conv2D", "(None, 14, 14, 8)", 80),
     ("max_pooling2d", "MaxPooling2D", "(None, 7, 7, 8)", 0),
     ("conv2d_1", "Conv2D", "(None, 5, 5, 16)", 1168),
     ("max_pooling2d_1", "MaxPooling2D", "(None, 2, 2, 16)", 0),
     ("flatten", "Flatten", "(None, 64)", 0),
     ("dense", "Dense", "(None, 32)", 2080),
     ("dense_1", "Dense", "(None, 3)", 99)], 3427)

CELLS = [
    ("# A small convolutional network\n\n"
     "This notebook trains an image classifier with convolution and "
     "pooling layers, written as Keras code with `import tapegrad as tf`. "
     "The images are drawn here, so nothing is downloaded.  "
     "`python tools/run_notebooks.py` reruns it and checks what it "
     "prints.",
     "import os\n"
     "import time\n\n"
     "import matplotlib.pyplot as plt\n"
     "import numpy as np\n\n"
     "import tapegrad as tf",
     ""),
    ("## The data\n\n"
     "Each 16x16 image holds one outline: a ring, a square or a plus sign, "
     "of random size and position, plus Gaussian noise.  A dense network "
     "would have to learn every position separately; a convolution "
     "shares its filters across positions, and pooling makes the result "
     "less sensitive to where the shape sits.",
     "CLASSES = [\"ring\", \"square\", \"plus\"]\n\n"
     "def draw_shapes(n, rng, size=16):\n"
     "    labels = rng.integers(0, 3, n)\n"
     "    yy, xx = np.mgrid[:size, :size]\n"
     "    images = np.zeros((n, size, size), np.float32)\n"
     "    for i, label in enumerate(labels):\n"
     "        r = rng.uniform(3, 6)\n"
     "        cy, cx = rng.uniform(r + 1, size - r - 1, 2)\n"
     "        dy, dx = np.abs(yy - cy), np.abs(xx - cx)\n"
     "        if label == 0:\n"
     "            shape = np.abs(np.hypot(dy, dx) - r) < 0.8\n"
     "        elif label == 1:\n"
     "            shape = np.abs(np.maximum(dy, dx) - r) < 0.6\n"
     "        else:\n"
     "            shape = ((dy < 0.7) & (dx < r)) | ((dx < 0.7) & (dy < r))\n"
     "        images[i] = shape\n"
     "    images += rng.normal(0, 0.25, images.shape)\n"
     "    return images[..., None].astype(np.float32), labels\n\n"
     "rng = np.random.default_rng(0)\n"
     "x_train, y_train = draw_shapes(3000, rng)\n"
     "x_test, y_test = draw_shapes(600, rng)\n"
     "print(x_train.shape, x_train.dtype, y_train.shape)\n\n"
     "fig, axes = plt.subplots(1, 6, figsize=(9, 1.8))\n"
     "for ax, image, label in zip(axes, x_train, y_train):\n"
     "    ax.imshow(image[..., 0], cmap=\"gray\")\n"
     "    ax.set_title(CLASSES[label])\n"
     "    ax.axis(\"off\")\n"
     "plt.show()",
     ("regex", r"\(3000, 16, 16, 1\) float32 \(3000,\)\n"
      r"<Figure size \d+x\d+ with 6 Axes>",
      "the shapes exactly; a figure: only its number of Axes is compared")),
    ("## The model\n\n"
     "Two blocks of a 3x3 convolution (ReLU) and 2x2 max pooling, then a "
     "dense layer and three logits.  `padding=\"valid\"` is Keras' "
     "default, so each convolution trims one pixel on every side; each "
     "pooling halves the size.  `tf.random.set_seed` fixes the initial "
     "weights and `np.random.seed` the order in which `fit` shuffles the "
     "batches, so every rerun trains the same way.",
     "tf.random.set_seed(7)\n"
     "np.random.seed(7)\n"
     "model = tf.keras.Sequential([\n"
     "    tf.keras.Input(shape=(16, 16, 1)),\n"
     "    tf.keras.layers.Conv2D(8, 3, activation=\"relu\"),\n"
     "    tf.keras.layers.MaxPooling2D(),\n"
     "    tf.keras.layers.Conv2D(16, 3, activation=\"relu\"),\n"
     "    tf.keras.layers.MaxPooling2D(),\n"
     "    tf.keras.layers.Flatten(),\n"
     "    tf.keras.layers.Dense(32, activation=\"relu\"),\n"
     "    tf.keras.layers.Dense(3),\n"
     "])\n"
     "model.compile(\n"
     "    optimizer=tf.keras.optimizers.Adam(learning_rate=0.005),\n"
     "    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),\n"
     "    metrics=[\"accuracy\"],\n"
     ")\n"
     "model.summary()",
     _SUMMARY),
    ("## Training\n\n"
     "`fit` runs the tape step for each batch of 64; the convolution's "
     "gradients are themselves convolutions (with respect to the input, "
     "a transposed one), recorded like any other op.",
     "history = model.fit(x_train, y_train, batch_size=64, epochs=8,\n"
     "                    validation_data=(x_test, y_test), verbose=2)",
     ("regex",
      r"(Epoch \d+/8\n47/47 - \d+s - \d+(us|ms|s)/step - accuracy: "
      r"\d\.\d{4} - loss: \d\.\d{4}(e-\d\d)? - val_accuracy: \d\.\d{4} - "
      r"val_loss: \d\.\d{4}(e-\d\d)?\n?){8}",
      "the losses and timings are the run's; the layout is fit's")),
    ("The accuracy per epoch, on the training batches (a running mean "
     "over each epoch) and on the held-out images.",
     "plt.plot(history.history[\"accuracy\"], label=\"training\")\n"
     "plt.plot(history.history[\"val_accuracy\"], label=\"validation\")\n"
     "plt.xlabel(\"epoch\")\n"
     "plt.ylabel(\"accuracy\")\n"
     "plt.legend()\n"
     "plt.show()",
     ("regex", r"<Figure size \d+x\d+ with 1 Axes>",
      "a figure: only its number of Axes is compared")),
    ("## Predictions\n\n"
     "The test accuracy (the cell asserts a bound), then eight test "
     "images with the predicted class; a wrong one is titled in red.",
     "test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)\n"
     "print(f\"test accuracy {test_accuracy:.3f}\")\n"
     "assert test_accuracy > 0.95\n\n"
     "predicted = model.predict(x_test[:8], verbose=0).argmax(axis=1)\n"
     "fig, axes = plt.subplots(1, 8, figsize=(12, 1.8))\n"
     "for ax, image, guess, truth in zip(axes, x_test, predicted, y_test):\n"
     "    ax.imshow(image[..., 0], cmap=\"gray\")\n"
     "    ax.set_title(CLASSES[guess],\n"
     "                 color=\"black\" if guess == truth else \"red\")\n"
     "    ax.axis(\"off\")\n"
     "plt.show()",
     ("regex", r"test accuracy (0\.9[5-9]\d|1\.000)\n"
      r"<Figure size \d+x\d+ with 8 Axes>",
      "the accuracy is the run's; the notebook asserts it exceeds 0.95")),
    ("## Speed\n\n"
     "One training step (forward, gradient, Adam update) on a batch of 64 "
     "images, in tapegrad and, where installed, in PyTorch with the same "
     "layers and thread count (PyTorch's images are channels-first).  The "
     "numbers are this machine's.",
     _timing_head(64, 50) +
     "try:\n"
     "    import torch\n"
     "    torch.set_num_threads(len(os.sched_getaffinity(0)))\n"
     "    nn = torch.nn\n"
     "    net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),\n"
     "                        nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),\n"
     "                        nn.Flatten(), nn.Linear(64, 32), nn.ReLU(),\n"
     "                        nn.Linear(32, 3))\n"
     "    opt = torch.optim.Adam(net.parameters(), lr=0.005, eps=1e-7)\n"
     "    xp = torch.tensor(xb).permute(0, 3, 1, 2).contiguous()\n"
     "    yp = torch.tensor(yb)\n\n"
     "    def torch_step():\n"
     "        opt.zero_grad(set_to_none=True)\n"
     "        nn.functional.cross_entropy(net(xp), yp).backward()\n"
     "        opt.step()\n"
     "    timings[\"PyTorch \" + torch.__version__] = best_time(torch_step)\n"
     "except ImportError:\n"
     "    pass\n\n" + _TIMING_TABLE,
     ("regex",
      r"library +us/step +vs tapegrad\ntapegrad +\d+\.\d +1\.0x"
      r"(\nPyTorch \S+ +\d+\.\d +\d+\.\dx)?",
      "timings are the machine's; the PyTorch row appears where it is "
      "installed")),
]


def build():
    """(notebook, expectations entry)"""
    return build_from(NAME, CELLS)
