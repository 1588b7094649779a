"""One training step of a 784-256-10 MLP on a batch of 64 (forward,
gradient, Adam update) in tapegrad, hand-written NumPy, PyTorch eager and
TF (where installed), in one run; and what Keras-style `fit` adds to the
hand-written tapegrad step on a 16-32-1 MLP with batch 32.

    python benchmarks/bench_training.py [--repeat N]

Each figure is the best of several timed runs of many steps (us/step);
ratios are against hand-written NumPy (the floor: the same float32 BLAS
calls with no autodiff machinery).  Threads: every library uses the
machine's default; PyTorch is set to the same count as NumPy's BLAS
(torch.set_num_threads) so the comparison is like for like.
"""
import argparse
import os
import time

import numpy as np

import tapegrad as tf

B, D_IN, H, D_OUT = 64, 784, 256, 10
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7


def best_of(step, n, repeat):
    step()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n):
            step()
        times.append((time.perf_counter() - t) / n)
    return min(times) * 1e6


def data(rng, batch=B):
    x = rng.standard_normal((batch, D_IN)).astype(np.float32)
    labels = rng.integers(0, D_OUT, batch)
    w1 = (rng.standard_normal((D_IN, H)) * 0.05).astype(np.float32)
    w2 = (rng.standard_normal((H, D_OUT)) * 0.05).astype(np.float32)
    return x, labels, w1, w2


# ---- tapegrad, written by hand --------------------------------------------------
def tapegrad_step(x, labels, w1, w2):
    keras = tf.keras
    W1, b1 = tf.Variable(w1), tf.Variable(np.zeros(H, np.float32))
    W2, b2 = tf.Variable(w2), tf.Variable(np.zeros(D_OUT, np.float32))
    params = [W1, b1, W2, b2]
    opt = keras.optimizers.Adam(LR)
    xt, yt = tf.constant(x), tf.constant(labels)

    def step():
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.matmul(xt, W1) + b1)
            logits = tf.matmul(h, W2) + b2
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(yt, logits))
        grads = tape.gradient(loss, params)
        opt.apply_gradients(zip(grads, params))
    return step


# ---- NumPy, written by hand -------------------------------------------------------
def numpy_step(x, labels, w1, w2):
    p = [w1.copy(), np.zeros(H, np.float32), w2.copy(),
         np.zeros(D_OUT, np.float32)]
    m = [np.zeros_like(a) for a in p]
    v = [np.zeros_like(a) for a in p]
    t = [0]
    onehot = np.eye(D_OUT, dtype=np.float32)[labels]

    def step():
        h_pre = x @ p[0] + p[1]
        h = np.maximum(h_pre, 0)
        logits = h @ p[2] + p[3]
        z = logits - logits.max(1, keepdims=True)
        e = np.exp(z)
        sm = e / e.sum(1, keepdims=True)
        g_logits = (sm - onehot) * np.float32(1.0 / len(x))
        g = [None, None, h.T @ g_logits, g_logits.sum(0)]
        g_h = g_logits @ p[2].T
        g_h *= h_pre > 0
        g[0] = x.T @ g_h
        g[1] = g_h.sum(0)
        t[0] += 1
        alpha = np.float32(LR * np.sqrt(1 - B2 ** t[0]) / (1 - B1 ** t[0]))
        for a, ga, ma, va in zip(p, g, m, v):
            ma += (ga - ma) * np.float32(1 - B1)
            va += (ga * ga - va) * np.float32(1 - B2)
            a -= (ma * alpha) / (np.sqrt(va) + np.float32(EPS))
    return step


# ---- PyTorch eager ----------------------------------------------------------------
def torch_step(x, labels, w1, w2):
    import torch
    W1 = torch.tensor(w1, requires_grad=True)
    b1 = torch.zeros(H, requires_grad=True)
    W2 = torch.tensor(w2, requires_grad=True)
    b2 = torch.zeros(D_OUT, requires_grad=True)
    opt = torch.optim.Adam([W1, b1, W2, b2], lr=LR, eps=EPS)
    xt, yt = torch.tensor(x), torch.tensor(labels)

    def step():
        opt.zero_grad(set_to_none=True)
        h = torch.relu(xt @ W1 + b1)
        loss = torch.nn.functional.cross_entropy(h @ W2 + b2, yt)
        loss.backward()
        opt.step()
    return step


# ---- JAX: one jitted step (its idiom), Adam written out as above --------------------
def jax_step(x, labels, w1, w2):
    import jax
    import jax.numpy as jnp
    p = [jnp.asarray(w1), jnp.zeros(H, jnp.float32), jnp.asarray(w2),
         jnp.zeros(D_OUT, jnp.float32)]
    state = [p, [jnp.zeros_like(a) for a in p], [jnp.zeros_like(a) for a in p],
             jnp.float32(0)]
    xj, yj = jnp.asarray(x), jnp.asarray(labels)

    def loss_fn(p, xb, yb):
        h = jax.nn.relu(xb @ p[0] + p[1])
        logp = jax.nn.log_softmax(h @ p[2] + p[3])
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], 1))

    @jax.jit
    def update(p, m, v, t, xb, yb):
        g = jax.grad(loss_fn)(p, xb, yb)
        t = t + 1
        alpha = LR * jnp.sqrt(1 - B2 ** t) / (1 - B1 ** t)
        m = [ma + (ga - ma) * (1 - B1) for ma, ga in zip(m, g)]
        v = [va + (ga * ga - va) * (1 - B2) for va, ga in zip(v, g)]
        p = [a - alpha * ma / (jnp.sqrt(va) + EPS)
             for a, ma, va in zip(p, m, v)]
        return p, m, v, t

    def step():
        state[:] = update(*state, xj, yj)
        jax.block_until_ready(state[0])
    return step


# ---- TensorFlow eager -------------------------------------------------------------
def tf_step(x, labels, w1, w2):
    import tensorflow as real_tf
    W1, b1 = real_tf.Variable(w1), real_tf.Variable(np.zeros(H, np.float32))
    W2 = real_tf.Variable(w2)
    b2 = real_tf.Variable(np.zeros(D_OUT, np.float32))
    params = [W1, b1, W2, b2]
    opt = real_tf.keras.optimizers.Adam(LR)
    xt, yt = real_tf.constant(x), real_tf.constant(labels)

    def step():
        with real_tf.GradientTape() as tape:
            h = real_tf.nn.relu(xt @ W1 + b1)
            loss = real_tf.reduce_mean(
                real_tf.nn.sparse_softmax_cross_entropy_with_logits(
                    yt, h @ W2 + b2))
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
    return step


# ---- fit's overhead -----------------------------------------------------------------
def fit_overhead(repeat):
    keras = tf.keras
    rng = np.random.default_rng(1)
    n = 32 * 200
    x = rng.standard_normal((n, 16)).astype(np.float32)
    y = rng.standard_normal((n, 1)).astype(np.float32)

    class MLP(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = keras.layers.Dense(32, activation="relu")
            self.b = keras.layers.Dense(1)

        def call(self, inputs, training=None):
            return self.b(self.a(inputs))

    model = MLP()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    fit = best_of(lambda: model.fit(x, y, batch_size=32, epochs=1,
                                    verbose=0), 1, repeat) / 200
    hand = MLP()
    hand(x[:1])
    params = list(hand.trainable_variables)
    opt = keras.optimizers.SGD(0.01)
    mse = keras.losses.MeanSquaredError()
    xs = [tf.constant(x[i:i + 32]) for i in range(0, n, 32)]
    ys = [tf.constant(y[i:i + 32]) for i in range(0, n, 32)]

    def epoch():
        for xb, yb in zip(xs, ys):
            with tf.GradientTape() as tape:
                loss = mse(yb, hand(xb))
            opt.apply_gradients(zip(tape.gradient(loss, params), params))
    hand_t = best_of(epoch, 1, repeat) / 200
    return fit, hand_t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    arrays = data(rng)
    rows = [("NumPy by hand", numpy_step), ("tapegrad", tapegrad_step)]
    try:
        import torch
        # torch.optim loads torch._dynamo and triton, whose native library
        # segfaults when TensorFlow's was loaded first: load it before TF
        import torch._dynamo  # noqa: F401
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
        rows.append(("PyTorch %s eager" % torch.__version__, torch_step))
    except ImportError:
        print("(PyTorch not installed: skipped)")
    try:
        import tensorflow  # noqa: F401
        rows.append(("TensorFlow eager", tf_step))
    except ImportError:
        print("(TensorFlow not installed: skipped)")
    results = [(name, best_of(make(*arrays), args.steps, args.repeat))
               for name, make in rows]
    floor = results[0][1]
    print("Adam step, 784-256-10 MLP, batch 64 (float32), us/step:")
    print("| | us/step | vs NumPy by hand |")
    print("|---|---:|---:|")
    for name, us in results:
        print("| %s | %.0f | %.2fx |" % (name, us, us / floor))
    fit, hand = fit_overhead(args.repeat)
    print()
    print("16-32-1 MLP, batch 32, SGD, MSE: hand-written tapegrad step "
          "%.1f us; fit %.1f us/step (adds %.1f us)" % (hand, fit,
                                                       fit - hand))


if __name__ == "__main__":
    main()
