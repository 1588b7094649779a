"""Forward and gradients of a 3x3 conv2d, tapegrad against PyTorch (CPU).

The batch is N=32, 32x32, 64 channels in and out, NHWC for tapegrad
(tf.nn.conv2d, SAME padding) and NCHW for PyTorch (its native layout),
float32, both on the same number of threads (PyTorch's set to what
NumPy's BLAS uses).  Each figure is the best of several runs of: the
forward alone; forward + gradients with respect to input and filters.
The four are timed in turns, so load from elsewhere on the machine
falls on all of them.

    python benchmarks/bench_conv.py [--threads N] [--repeat R]
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tapegrad as tf  # noqa: E402


def best(fns, repeat):
    """the best time of each of `fns`, run in turns (so a burst of load
    from elsewhere on the machine hits all of them alike)"""
    for fn in fns:
        fn()  # warm up: caches, BLAS threads, allocator
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [min(ts) for ts in times]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    n, h, w, c, k = 32, 32, 32, 64, 3
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((n, h, w, c)).astype(np.float32)
    w_np = (rng.standard_normal((k, k, c, c)) * 0.05).astype(np.float32)
    x = tf.constant(x_np)
    f = tf.Variable(w_np)

    def tg_forward():
        return tf.nn.conv2d(x, f, 1, "SAME")

    def tg_grads():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, f, 1, "SAME")
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, f])

    fns = [tg_forward, tg_grads]
    names = ["tapegrad"]
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(args.threads)
        xt = torch.tensor(x_np.transpose(0, 3, 1, 2).copy(),
                          requires_grad=True)
        wt = torch.tensor(w_np.transpose(3, 2, 0, 1).copy(),
                          requires_grad=True)

        def pt_forward():
            with torch.no_grad():
                return torch.nn.functional.conv2d(xt, wt, padding=1)

        def pt_grads():
            y = torch.nn.functional.conv2d(xt, wt, padding=1)
            return torch.autograd.grad((y * y).sum(), [xt, wt])

        # the two agree before either is timed
        ours = tg_grads()
        theirs = pt_grads()
        np.testing.assert_allclose(
            ours[0].numpy(), theirs[0].numpy().transpose(0, 2, 3, 1),
            rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(
            ours[1].numpy(), theirs[1].numpy().transpose(2, 3, 1, 0),
            rtol=2e-3, atol=2e-2)
        fns += [pt_forward, pt_grads]
        names.append("pytorch %s" % torch.__version__)
    t = best(fns, args.repeat)
    rows = [(name, t[2 * i], t[2 * i + 1]) for i, name in enumerate(names)]
    print("conv2d 3x3, N=%d H=W=%d C_in=C_out=%d float32, %d thread(s)"
          % (n, h, c, args.threads))
    print("%-22s %12s %18s" % ("", "forward ms", "fwd + grads ms"))
    for name, tf_, tg in rows:
        print("%-22s %12.2f %18.2f" % (name, tf_ * 1e3, tg * 1e3))
    if len(rows) == 2:
        print("%-22s %12.2fx %17.2fx" % ("tapegrad / pytorch",
                                         rows[0][1] / rows[1][1],
                                         rows[0][2] / rows[1][2]))


if __name__ == "__main__":
    main()
