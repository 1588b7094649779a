"""One training step of a LeNet-style CNN (issue 13's target): batch 64
of 28x28x1 images, Conv2D(6, 5) + ReLU + MaxPool 2, Conv2D(16, 5) + ReLU
+ MaxPool 2, Dense(120) + ReLU, Dense(84) + ReLU, Dense(10), sparse
softmax crossentropy, Adam; forward, gradient and update, in tapegrad
(Keras layers, the step a user writes) and PyTorch eager (channels
first, its native layout) in one run, the same thread count.

    python benchmarks/bench_cnn.py [--repeat N] [--steps N]

Figures are the best of --repeat timed runs of --steps steps, the two
libraries timed in turns so load elsewhere on the machine falls on both.
"""
import argparse
import os
import time

import numpy as np

import tapegrad as tf

B = 64


def tapegrad_step(x, labels):
    L = tf.keras.layers
    tf.random.set_seed(0)
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(28, 28, 1)),
        L.Conv2D(6, 5, activation="relu"), L.MaxPooling2D(),
        L.Conv2D(16, 5, activation="relu"), L.MaxPooling2D(),
        L.Flatten(), L.Dense(120, activation="relu"),
        L.Dense(84, activation="relu"), L.Dense(10)])
    opt = tf.keras.optimizers.Adam(1e-3)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    xt, yt = tf.constant(x), tf.constant(labels)
    params = model.trainable_variables

    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(yt, model(xt, training=True))
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
    return step


def torch_step(x, labels):
    import torch
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    xp = torch.tensor(x).permute(0, 3, 1, 2).contiguous()
    yp = torch.tensor(labels)

    def step():
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(net(xp), yp).backward()
        opt.step()
    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, 10, B)
    steps = {"tapegrad": tapegrad_step(x, labels)}
    try:
        import torch
        threads = max(1, len(os.sched_getaffinity(0)))
        torch.set_num_threads(threads)
        steps["PyTorch %s eager" % torch.__version__] = torch_step(x, labels)
    except ImportError:
        print("(PyTorch not installed: skipped)")
    best = {name: float("inf") for name in steps}
    for step in steps.values():
        step()
    for _ in range(args.repeat):
        for name, step in steps.items():
            t = time.perf_counter()
            for _ in range(args.steps):
                step()
            best[name] = min(best[name], (time.perf_counter() - t)
                             / args.steps)
    base = best["tapegrad"]
    print("LeNet-style training step, batch 64 of 28x28x1 (float32):")
    print("| | ms/step | vs tapegrad |")
    print("|---|---:|---:|")
    for name, sec in best.items():
        print("| %s | %.2f | %.2fx |" % (name, sec * 1e3, sec / base))


if __name__ == "__main__":
    main()
