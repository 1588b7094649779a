"""Jacobian benchmark: the full Jacobian of tanh(W @ x), W 100x100, x 100x1.

Run:  python benchmarks/bench_jacobian.py [--quick]

Times, in one process and interleaved round by round (best of the rounds):
  * tapegrad: one gradient of the same function; tape.jacobian (one batched
    sweep); the pre-jacobian workaround, a loop of 100 gradient calls; and
    jacobian(experimental_use_pfor=False), which loops as TF's does;
  * PyTorch (if installed): torch.func.jacrev run eagerly, and one
    autograd gradient;
  * NumPy by hand: J = (1 - y^2)[:, None] * W, the floor.
Prints microseconds per call and the ratios the project tracks (jacobian
in gradients; peers / tapegrad).  Speed is measured here, never asserted
in a test.
"""
import argparse
import platform
import timeit

import numpy as np

import tapegrad as tg

N = 100


def make(rng):
    w = (rng.standard_normal((N, N)) / np.sqrt(N)).astype(np.float32)
    x = rng.standard_normal((N, 1)).astype(np.float32)
    return w, x


def tapegrad_cases(w, x, tf=tg):
    # tf: the module; real TensorFlow runs the same code (benchmarks/run.py)
    tg = tf
    W = tg.constant(w)
    X = tg.constant(x)

    def gradient():
        with tg.GradientTape() as t:
            t.watch(X)
            y = tg.tanh(W @ X)
        return t.gradient(y, X)

    def jacobian():
        with tg.GradientTape() as t:
            t.watch(X)
            y = tg.tanh(W @ X)
        return t.jacobian(y, X)

    def loop_of_gradients():
        with tg.GradientTape(persistent=True) as t:
            t.watch(X)
            y = tg.tanh(W @ X)
            rows = [y[i, 0] for i in range(N)]
        return tg.stack([t.gradient(r, X) for r in rows])

    def jacobian_no_pfor():
        with tg.GradientTape(persistent=True) as t:
            t.watch(X)
            y = tg.tanh(W @ X)
        return t.jacobian(y, X, experimental_use_pfor=False)

    return {"tapegrad gradient": gradient, "tapegrad jacobian": jacobian,
            "tapegrad 100 gradients": loop_of_gradients,
            "tapegrad jacobian (no pfor)": jacobian_no_pfor}


def torch_cases(w, x, threads=1):
    try:
        import torch
        from torch.func import jacrev
    except ImportError:
        return {}
    torch.set_num_threads(threads)
    W = torch.tensor(w)
    X = torch.tensor(x)

    def f(xx):
        return torch.tanh(W @ xx)

    def jac():
        return jacrev(f)(X)

    def grad():
        xx = X.clone().requires_grad_(True)
        y = f(xx).sum()
        return torch.autograd.grad(y, xx)[0]

    return {"torch.func.jacrev": jac, "torch gradient": grad}


def numpy_case(w, x):
    def by_hand():
        y = np.tanh(w @ x)
        return (1 - y * y) * w          # (100, 1) * (100, 100)
    return {"NumPy by hand": by_hand}


def check(w, x, cases):
    want = (1 - np.tanh(w @ x) ** 2) * w
    j = cases["tapegrad jacobian"]().numpy().reshape(N, N)
    np.testing.assert_allclose(j, want, rtol=1e-4, atol=1e-5)
    j2 = cases["tapegrad jacobian (no pfor)"]().numpy().reshape(N, N)
    np.testing.assert_allclose(j2, want, rtol=1e-4, atol=1e-5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    w, x = make(rng)
    cases = {}
    cases.update(tapegrad_cases(w, x))
    cases.update(torch_cases(w, x))
    cases.update(numpy_case(w, x))
    check(w, x, cases)
    rounds = 3 if args.quick else 9
    best = {k: float("inf") for k in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            timer = timeit.Timer(fn)
            n, t = timer.autorange()
            best[name] = min(best[name], t / n)
    print("Jacobian of tanh(W @ x), W %dx%d, float32, one thread; %s, "
          "NumPy %s" % (N, N, platform.python_version(), np.__version__))
    try:
        import torch
        print("PyTorch", torch.__version__)
    except ImportError:
        pass
    print("%-30s %12s" % ("", "us per call"))
    for name, t in best.items():
        print("%-30s %12.1f" % (name, t * 1e6))
    g = best["tapegrad gradient"]
    j = best["tapegrad jacobian"]
    print()
    print("jacobian / one gradient:          %.2f gradients" % (j / g))
    print("100 gradients / jacobian:         %.1fx" %
          (best["tapegrad 100 gradients"] / j))
    if "torch.func.jacrev" in best:
        print("torch.func.jacrev / jacobian:     %.1fx" %
              (best["torch.func.jacrev"] / j))
    print("jacobian / NumPy by hand:         %.2fx" %
          (j / best["NumPy by hand"]))


if __name__ == "__main__":
    main()
