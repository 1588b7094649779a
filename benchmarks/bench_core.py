"""Core benchmark: the seed tutorials' computations and a 200-op scalar chain.

Run:  python benchmarks/bench_core.py [--quick]

Prints one table.  Every row times the same computation in every framework
that is importable here (tapegrad always; plain Python floats and NumPy where
the computation makes sense without autodiff; PyTorch, JAX, TensorFlow and
HIPS autograd if installed), in one process, best of several repeats, and
gives the ratio peer / tapegrad (> 1 means tapegrad is faster).  Speed is
measured here, never asserted in a test.
"""
import argparse
import importlib
import platform
import sys
import timeit

import numpy as np

import tapegrad as tg

CHAIN_STEPS = 100  # y = y * x + 1.0 per step: 2 ops, so 200 ops in all


# ---- the computations, per framework -------------------------------------

# The tape-API cases take the module as `tf`: tapegrad by default, and
# real TensorFlow runs the very same code (benchmarks/run.py passes it).

def tg_chain(tf=tg):
    x = tf.constant(0.5)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x
        for _ in range(CHAIN_STEPS):
            y = y * x + 1.0
    return t.gradient(y, x)


def tg_chain_forward():
    x = tg.constant(0.5)
    y = x
    for _ in range(CHAIN_STEPS):
        y = y * x + 1.0
    return y


def py_chain():
    x = 0.5
    y = x
    for _ in range(CHAIN_STEPS):
        y = y * x + 1.0
    return y


def py_nested():
    # d2/dx2 of x**3 by hand: 6x
    x = 1.0
    return 6.0 * x


def py_chain_grad():
    # hand-written forward and reverse sweep with Python floats
    x = 0.5
    ys = [x]
    y = x
    for _ in range(CHAIN_STEPS):
        y = y * x + 1.0
        ys.append(y)
    g, gx = 1.0, 0.0
    for k in range(CHAIN_STEPS, 0, -1):
        gx += g * ys[k - 1]
        g = g * x
    return gx + g


def tg_seed_basic(tf=tg):
    x = tf.ones((2, 2))
    with tf.GradientTape() as t:
        t.watch(x)
        y = tf.reduce_sum(x)
        z = tf.multiply(y, y)
    return t.gradient(z, x)


def np_seed_basic():
    x = np.ones((2, 2), np.float32)
    y = x.sum()
    return np.full_like(x, 2 * y)


def tg_seed_persistent():
    x = tg.constant(3.0)
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        z = y * y
    return t.gradient(z, x), t.gradient(y, x)


def tg_seed_nested(tf=tg):
    x = tf.Variable(1.0)
    with tf.GradientTape() as t:
        with tf.GradientTape() as t2:
            y = x * x * x
        dy_dx = t2.gradient(y, x)
    return t.gradient(dy_dx, x)


_W = tg.Variable(np.random.default_rng(0).standard_normal((3, 2))
                 .astype(np.float32), name="w")
_B = tg.Variable(tg.zeros(2, dtype=tg.float32), name="b")
_X = [[1.0, 2.0, 3.0]]
_WN = _W.numpy().copy()
_XN = np.array(_X, np.float32)


def tg_seed_linear():
    with tg.GradientTape() as tape:
        y = _X @ _W + _B
        loss = tg.reduce_mean(y ** 2)
    return tape.gradient(loss, [_W, _B])


def np_seed_linear():
    y = _XN @ _WN
    dy = 2 * y / y.size
    return _XN.T @ dy, dy.sum(0)


def tg_seed_sin_softplus():
    x0 = tg.Variable(0.0)
    x1 = tg.Variable(10.0)
    with tg.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x1)
        y = tg.math.sin(x0) + tg.nn.softplus(x1)
        ys = tg.reduce_sum(y)
    return tape.gradient(ys, {"x0": x0, "x1": x1})


# ---- optional peers ----------------------------------------------------------

def _try(name):
    try:
        return importlib.import_module(name)
    except Exception:
        return None


def torch_cases(torch):
    def chain():
        x = torch.tensor(0.5, requires_grad=True)
        y = x
        for _ in range(CHAIN_STEPS):
            y = y * x + 1.0
        y.backward()
        return x.grad

    def basic():
        x = torch.ones((2, 2), requires_grad=True)
        y = x.sum()
        z = y * y
        z.backward()
        return x.grad

    def nested():
        x = torch.tensor(1.0, requires_grad=True)
        y = x * x * x
        (g,) = torch.autograd.grad(y, x, create_graph=True)
        (h,) = torch.autograd.grad(g, x)
        return h

    return {"chain": chain, "basic": basic, "nested": nested}


def jax_cases(jax):
    jnp = jax.numpy

    def f(x):
        y = x
        for _ in range(CHAIN_STEPS):
            y = y * x + 1.0
        return y

    g = jax.grad(f)  # eager (no jit): per-op dispatch, as tapegrad
    ones = jnp.ones((2, 2))
    basic = jax.grad(lambda x: jnp.sum(x) * jnp.sum(x))
    nested = jax.grad(jax.grad(lambda x: x * x * x))
    return {"chain": lambda: g(0.5), "basic": lambda: basic(ones),
            "nested": lambda: nested(1.0)}


def tf_cases(tf):
    # real TensorFlow runs tapegrad's own cases (the same API)
    return {"chain": lambda: tg_chain(tf), "basic": lambda: tg_seed_basic(tf),
            "nested": lambda: tg_seed_nested(tf)}


def autograd_cases(autograd):
    import autograd.numpy as anp

    def f(x):
        y = x
        for _ in range(CHAIN_STEPS):
            y = y * x + 1.0
        return y

    g = autograd.grad(f)
    ones = np.ones((2, 2), np.float32)
    basic = autograd.grad(lambda x: anp.sum(x) * anp.sum(x))
    nested = autograd.grad(autograd.grad(lambda x: x * x * x))
    return {"chain": lambda: g(0.5), "basic": lambda: basic(ones),
            "nested": lambda: nested(1.0)}


PEER_CASES = {"torch": torch_cases, "jax": jax_cases, "tensorflow": tf_cases,
              "autograd": autograd_cases}


# ---- harness -------------------------------------------------------------------

def best_us(fn, repeat, number):
    fn()  # warm up
    times = timeit.repeat(fn, repeat=repeat, number=number)
    return min(times) / number * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    args = ap.parse_args()
    repeat, number = (3, 20) if args.quick else (7, 200)

    peers = {}
    for name, cases in PEER_CASES.items():
        mod = _try(name)
        if mod is not None:
            peers[name] = cases(mod)

    rows = [
        ("200-op chain y=y*x+1, fwd+grad", tg_chain, 200,
         {"python floats (hand grad)": py_chain_grad}, "chain"),
        ("200-op chain, forward only", tg_chain_forward, 200,
         {"python floats": py_chain}, None),
        ("seed: reduce_sum, multiply, grad", tg_seed_basic, 3,
         {"numpy (hand grad)": np_seed_basic}, "basic"),
        ("seed: persistent, two grads", tg_seed_persistent, 2, {}, None),
        ("seed: nested tapes, 2nd order", tg_seed_nested, 3,
         {"python floats (hand)": py_nested}, "nested"),
        ("seed: x @ w + b, mean(y**2), grad", tg_seed_linear, 4,
         {"numpy (hand grad)": np_seed_linear}, None),
        ("seed: sin + softplus, dict grad", tg_seed_sin_softplus, 3, {}, None),
    ]
    print(f"tapegrad {tg.__version__}, numpy {np.__version__}, Python "
          f"{platform.python_version()}, {platform.machine()}")
    print(f"peers: python, numpy" + "".join(", " + p for p in peers))
    print()
    hdr = f"{'case':36} {'tapegrad us':>12} {'us/op':>7}   peer: us (peer/tapegrad)"
    print(hdr)
    print("-" * len(hdr))
    for label, fn, nops, local_peers, peer_key in rows:
        t = best_us(fn, repeat, number)
        cells = []
        for pname, pfn in local_peers.items():
            p = best_us(pfn, repeat, number)
            cells.append(f"{pname}: {p:.1f} ({p / t:.2f}x)")
        for pname, cases in peers.items():
            if peer_key in cases:
                p = best_us(cases[peer_key], repeat, max(1, number // 4))
                cells.append(f"{pname}: {p:.1f} ({p / t:.2f}x)")
        print(f"{label:36} {t:12.1f} {t / nops:7.3f}   " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
