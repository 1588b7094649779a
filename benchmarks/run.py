"""tapegrad's benchmark: one command, every workload of issue 15, every peer.

    python benchmarks/run.py [--quick] [-k NAME ...] [--threads N]
                             [--markdown PATH] [--plot PATH]

Workloads (-k matches these names): chain, seed, second-order, mlp,
elementwise, matmul, jacobian, threads, memory, import.  Each is written
idiomatically per framework: tapegrad, PyTorch, JAX, TensorFlow and HIPS
autograd (a peer that is not installed is skipped and said so), next to a
floor (Python floats or NumPy written by hand).

How it measures:
  * one process; in each round every framework runs once, round after
    round, so load from elsewhere on the machine falls on all of them;
    the figure is the median over the rounds (not the best);
  * threads are pinned before NumPy or any peer is imported: --threads N
    (default 1) goes to OMP/OpenBLAS/MKL's env vars, torch.set_num_threads,
    TensorFlow's intra/inter-op setters and (for 1) XLA_FLAGS;
  * peak memory is measured in a fresh subprocess per framework: the
    kernel's high-water mark of resident memory (VmHWM, reset through
    /proc/self/clear_refs after setup and warm-up) minus the resident
    memory at that point, so it counts everything a framework allocates,
    NumPy's, tapegrad's and PyTorch's allocators alike (tracemalloc would
    miss PyTorch's and JAX's own);
  * import time is `import X` timed inside fresh interpreters (median).

Speed is printed here, never asserted in a test.  The table's ratio column
is the figure the target names; met? compares it with the target.
"""
import argparse
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = ("torch", "jax", "tensorflow", "autograd")
COLUMNS = ("tapegrad",) + PEERS
WORKLOADS = ("chain", "seed", "second-order", "mlp", "elementwise", "matmul",
             "jacobian", "threads", "memory", "import")


# ---- threads, before anything numeric is imported ---------------------------------

def pin_threads(n):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
                "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = str(n)
    if n == 1:
        os.environ["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def checkout_built():
    pkg = os.path.join(ROOT, "tapegrad")
    return any(f.startswith("_tapegrad") for f in os.listdir(pkg))


def use_checkout():
    # the checkout's tapegrad (built in place) wins over an installed one
    if checkout_built():
        sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)            # bench_core & co. are plain scripts


def import_peer(name, threads):
    """The peer's module, or the reason it is missing (a str)."""
    try:
        if name == "torch":
            import torch
            # torch.optim loads torch._dynamo and with it triton, whose
            # native library crashes the process when TensorFlow's was
            # loaded first: load it now, before TF (PEERS puts torch first)
            import torch._dynamo  # noqa: F401
            torch.set_num_threads(threads)
            return torch
        if name == "jax":
            import jax
            import jax.numpy  # noqa: F401
            return jax
        if name == "tensorflow":
            import tensorflow as real_tf
            real_tf.config.threading.set_intra_op_parallelism_threads(threads)
            real_tf.config.threading.set_inter_op_parallelism_threads(threads)
            return real_tf
        if name == "autograd":
            import autograd
            import autograd.numpy  # noqa: F401
            return autograd
    except ImportError as e:
        return "not installed (%s)" % e
    except Exception as e:                  # a broken install: say so, go on
        return "failed to import (%s: %s)" % (type(e).__name__, e)
    raise ValueError(name)


# ---- timing: frameworks interleaved round by round, medians -----------------------

def _batch(fn, n):
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - t


def calibrate(fn, budget):
    """Calls per timed batch so that one batch takes about `budget` s."""
    fn()                                    # warm up (JIT, caches, pools)
    n = 1
    while True:
        dt = _batch(fn, n)
        if dt >= budget or n >= 1 << 20:
            return n
        n = min(1 << 20, max(n * 2, int(n * budget / max(dt, 1e-9))))


def interleaved(cases, rounds, budget):
    """{name: fn} -> {name: median seconds per call}."""
    numbers = {k: calibrate(f, budget) for k, f in cases.items()}
    samples = {k: [] for k in cases}
    for _ in range(rounds):
        for k, f in cases.items():
            samples[k].append(_batch(f, numbers[k]) / numbers[k])
    return {k: statistics.median(v) for k, v in samples.items()}


# ---- results ------------------------------------------------------------------------

class Target:
    """ratio = value[num] / value[den] (den None: value[num] itself),
    met when `ratio op bound`."""

    def __init__(self, text, num, den, op, bound):
        self.text, self.num, self.den = text, num, den
        self.op, self.bound = op, bound

    def ratio(self, values):
        a = values.get(self.num)
        b = 1.0 if self.den is None else values.get(self.den)
        if not isinstance(a, float) or not isinstance(b, float) or b == 0:
            return None
        return a / b

    def met(self, r):
        return r <= self.bound if self.op == "<=" else r >= self.bound

    def margin(self, r):                    # >= 1 when met, for the plot
        r = max(r, 1e-6)
        return self.bound / r if self.op == "<=" else r / self.bound


class Result:
    def __init__(self, name, unit, values, floor_name, targets, notes=()):
        self.name, self.unit, self.values = name, unit, values
        self.floor_name, self.targets = floor_name, targets
        self.notes = list(notes)


def missing(peers, col):
    """The cell of a framework with no figure: not importable, not asked
    for, or no version of this workload written for it (n/a)."""
    reason = peers.get(col)
    if not isinstance(reason, str):
        return "n/a"
    return "not asked" if reason.startswith("not asked") else "missing"


def fmt(value, unit):
    if isinstance(value, str):
        return value
    if value is None:
        return "-"
    if unit == "s":
        if value < 1e-6:
            return "%.0f ns" % (value * 1e9)
        if value < 1e-3:
            return "%.1f us" % (value * 1e6)
        if value < 1:
            return "%.2f ms" % (value * 1e3)
        return "%.2f s" % value
    if unit == "MB":
        return "%.0f MB" % value
    return "%.2fx" % value                  # speedups


# ---- the workloads ------------------------------------------------------------------

class Ctx:
    def __init__(self, args, peers):
        self.quick, self.threads = args.quick, args.threads
        self.peers = peers                  # name -> module or reason (str)
        self.rounds = 3 if args.quick else 9
        self.budget = 0.01 if args.quick else 0.1

    def peer(self, name):
        m = self.peers.get(name)
        return None if isinstance(m, str) else m

    def time(self, name, cases, floor_name, floor, targets, notes=(),
             check=True):
        runnable = {k: f for k, f in cases.items() if f is not None}
        runnable["floor"] = floor
        notes = list(notes)
        if check:                           # every framework, the same answer
            want = _arrays(floor())
            for k in COLUMNS:
                if k in runnable and not _same(_arrays(runnable[k]()), want):
                    notes.append("%s: %s's result differs from the floor's"
                                 % (name, k))
        t = interleaved(runnable, self.rounds, self.budget)
        values = {}
        for col in COLUMNS:
            if col in t:
                values[col] = t[col]
            else:
                values[col] = missing(self.peers, col)
        values.update({k: v for k, v in t.items() if k not in values})
        return Result(name, "s", values, floor_name, targets, notes)


def _arrays(out):
    """A case's result (tensors, arrays, floats, nested in tuples or lists)
    as a flat list of NumPy arrays."""
    import numpy as np
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _arrays(o)]
    if hasattr(out, "detach"):             # a torch tensor
        out = out.detach()
    return [np.asarray(out, dtype=np.float64)]


def _same(got, want):
    import numpy as np
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if g.size != w.size:
            return False
        scale = max(1.0, float(np.abs(w).max()) if w.size else 1.0)
        if not np.allclose(g.reshape(w.shape), w, rtol=1e-3,
                           atol=1e-4 * scale):
            return False
    return True


def _core(ctx, key, name, floor_name, targets, notes=()):
    """A bench_core row: tapegrad's case, each peer's case `key`, a floor."""
    import bench_core as bc
    tg_fn, floor = {"chain": (bc.tg_chain, bc.py_chain_grad),
                    "basic": (bc.tg_seed_basic, bc.np_seed_basic),
                    "nested": (bc.tg_seed_nested, bc.py_nested)}[key]
    cases = {"tapegrad": tg_fn}
    for p, make in bc.PEER_CASES.items():
        if ctx.peer(p):
            cases[p] = make(ctx.peer(p))[key]
    return ctx.time(name, cases, floor_name, floor, targets, notes)


def w_chain(ctx):
    return _core(
        ctx, "chain", "scalar chain (200 ops, grad)",
        "Python floats, hand grad",
        [Target("<= 3x Python floats", "tapegrad", "floor", "<=", 3.0),
         Target(">= 40x faster than torch", "torch", "tapegrad", ">=", 40.0)],
        ["chain, seed, second order: jax eager (jax.grad, no jit): per-op "
         "dispatch, as the others"])


def w_seed(ctx):
    return _core(
        ctx, "basic", "seed cell (sum, square, grad)", "NumPy by hand",
        [Target(">= 30x faster than torch", "torch", "tapegrad", ">=", 30.0)])


def w_second_order(ctx):
    return _core(
        ctx, "nested", "second order (d2/dx2 x**3)", "Python float, by hand",
        [Target(">= 40x faster than torch", "torch", "tapegrad", ">=", 40.0)])


def w_mlp(ctx):
    import numpy as np
    import bench_training as bt
    arrays = bt.data(np.random.default_rng(0))
    cases = {"tapegrad": bt.tapegrad_step(*arrays)}
    if ctx.peer("torch"):
        cases["torch"] = bt.torch_step(*arrays)
    if ctx.peer("jax"):
        cases["jax"] = bt.jax_step(*arrays)
    if ctx.peer("tensorflow"):
        cases["tensorflow"] = bt.tf_step(*arrays)
    return ctx.time(
        "MLP step 64x784x256x10, Adam", cases, "NumPy by hand",
        bt.numpy_step(*arrays),
        [Target("<= 0.95x NumPy by hand", "tapegrad", "floor", "<=", 0.95)],
        ["MLP: jax is one jitted step (its idiom); autograd not written"],
        check=False)                        # steps return nothing


def tape_elementwise(tf, x):
    """loss = sum(sin(x) * x + x**2) and its gradient; tf: the module."""
    with tf.GradientTape() as t:
        t.watch(x)
        loss = tf.reduce_sum(tf.math.sin(x) * x + x ** 2)
    return loss, t.gradient(loss, x)


def tape_matmul(tf, a, b):
    with tf.GradientTape() as t:
        t.watch([a, b])
        loss = tf.reduce_sum(tf.matmul(a, b))
    return loss, t.gradient(loss, [a, b])


def w_elementwise(ctx):
    import numpy as np
    import tapegrad as tg
    x = np.random.default_rng(0).uniform(-2, 2, 10 ** 6).astype(np.float32)

    def numpy_by_hand():
        s = np.sin(x)
        loss = s.dot(x) + x.dot(x)          # sum(sin(x) * x + x**2)
        g = np.cos(x)                        # cos(x) * x + sin(x) + 2x,
        g *= x                               # in place: one new array
        g += s
        g += x
        g += x
        return loss, g

    xt = tg.constant(x)
    cases = {"tapegrad": lambda: tape_elementwise(tg, xt)}
    torch, jax = ctx.peer("torch"), ctx.peer("jax")
    real_tf, autograd = ctx.peer("tensorflow"), ctx.peer("autograd")
    if torch:
        xtorch = torch.from_numpy(x).requires_grad_(True)

        def torch_case():
            loss = (torch.sin(xtorch) * xtorch + xtorch ** 2).sum()
            return loss, torch.autograd.grad(loss, xtorch)[0]
        cases["torch"] = torch_case
    if jax:
        jnp = jax.numpy
        f = jax.jit(jax.value_and_grad(
            lambda v: jnp.sum(jnp.sin(v) * v + v ** 2)))
        xj = jnp.asarray(x)
        cases["jax"] = lambda: jax.block_until_ready(f(xj))
    if real_tf:
        xtf = real_tf.constant(x)
        cases["tensorflow"] = lambda: tape_elementwise(real_tf, xtf)
    if autograd:
        import autograd.numpy as anp
        g = autograd.value_and_grad(lambda v: anp.sum(anp.sin(v) * v + v ** 2))
        cases["autograd"] = lambda: g(x)
    return ctx.time(
        "elementwise 1e6 f32, fwd+grad", cases, "NumPy by hand",
        numpy_by_hand,
        [Target("<= 1.0x NumPy by hand", "tapegrad", "floor", "<=", 1.0)],
        ["elementwise, matmul, jacobian, memory: jax is jax.jit(grad)"])


def w_matmul(ctx):
    import numpy as np
    import tapegrad as tg
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((512, 512)).astype(np.float32)
            for _ in range(2))

    def numpy_by_hand():
        # the matmul backward given the upstream gradient, as for any loss
        c = a @ b
        g = np.ones_like(c)
        return c.sum(), g @ b.T, a.T @ g

    at, bt_ = tg.constant(a), tg.constant(b)
    cases = {"tapegrad": lambda: tape_matmul(tg, at, bt_)}
    torch, jax = ctx.peer("torch"), ctx.peer("jax")
    real_tf, autograd = ctx.peer("tensorflow"), ctx.peer("autograd")
    if torch:
        ta = torch.from_numpy(a).requires_grad_(True)
        tb = torch.from_numpy(b).requires_grad_(True)

        def torch_case():
            loss = (ta @ tb).sum()
            return loss, torch.autograd.grad(loss, [ta, tb])
        cases["torch"] = torch_case
    if jax:
        jnp = jax.numpy
        f = jax.jit(jax.value_and_grad(lambda p, q: jnp.sum(p @ q),
                                       argnums=(0, 1)))
        ja, jb = jnp.asarray(a), jnp.asarray(b)
        cases["jax"] = lambda: jax.block_until_ready(f(ja, jb))
    if real_tf:
        fa, fb = real_tf.constant(a), real_tf.constant(b)
        cases["tensorflow"] = lambda: tape_matmul(real_tf, fa, fb)
    if autograd:
        import autograd.numpy as anp
        g = autograd.value_and_grad(lambda ab: anp.sum(ab[0] @ ab[1]))
        cases["autograd"] = lambda: g((a, b))
    return ctx.time(
        "matmul 512 f32, fwd+grad", cases, "NumPy by hand", numpy_by_hand,
        [Target("<= 1.02x NumPy by hand", "tapegrad", "floor", "<=", 1.02)],
        ["matmul floor: c = a @ b, then g @ b.T and a.T @ g with g the "
         "upstream gradient (ones), the backward any autodiff does"])


def w_jacobian(ctx):
    import numpy as np
    import bench_jacobian as bj
    w, x = bj.make(np.random.default_rng(0))
    tgc = bj.tapegrad_cases(w, x)
    cases = {"tapegrad": tgc["tapegrad jacobian"],
             "tapegrad gradient": tgc["tapegrad gradient"]}
    torch, jax = ctx.peer("torch"), ctx.peer("jax")
    real_tf, autograd = ctx.peer("tensorflow"), ctx.peer("autograd")
    if torch:
        cases["torch"] = bj.torch_cases(w, x, ctx.threads)["torch.func.jacrev"]
    if jax:
        jnp = jax.numpy
        wj, xj = jnp.asarray(w), jnp.asarray(x)
        jf = jax.jit(jax.jacrev(lambda v: jnp.tanh(wj @ v)))
        cases["jax"] = lambda: jax.block_until_ready(jf(xj))
    if real_tf:
        cases["tensorflow"] = bj.tapegrad_cases(
            w, x, real_tf)["tapegrad jacobian"]
    if autograd:
        import autograd.numpy as anp
        ja = autograd.jacobian(lambda v: anp.tanh(w @ v))
        cases["autograd"] = lambda: ja(x)
    res = ctx.time(
        "Jacobian tanh(W @ x), W 100x100", cases, "NumPy by hand",
        bj.numpy_case(w, x)["NumPy by hand"],
        [Target("<= 5 gradients", "tapegrad", "tapegrad gradient", "<=", 5.0),
         Target(">= 10x faster than jacrev", "torch", "tapegrad", ">=",
                10.0)],
        ["jacobian: torch is torch.func.jacrev run eagerly; TF is "
         "tape.jacobian (pfor)"])
    res.notes.append("jacobian: one tapegrad gradient of the same function "
                     "takes %s" % fmt(res.values["tapegrad gradient"], "s"))
    return res


def w_threads(ctx):
    import numpy as np
    import bench_training as bt
    arrays = bt.data(np.random.default_rng(0), batch=256)
    makers = {"tapegrad": bt.tapegrad_step}
    if ctx.peer("torch"):
        makers["torch"] = bt.torch_step
    if ctx.peer("tensorflow"):
        makers["tensorflow"] = bt.tf_step
    makers["floor"] = bt.numpy_step
    seconds = 0.3 if ctx.quick else 2.0     # per throughput measurement
    steps = {}
    for k, make in makers.items():         # size the runs by one step's time
        step = make(*arrays)
        steps[k] = max(3, int(seconds / max(_batch(step, 3) / 3, 1e-6)))

    def throughput(make, nthreads, n):
        stepper = [make(*arrays) for _ in range(nthreads)]  # own model+tape
        for s in stepper:
            s()
        go = threading.Barrier(nthreads + 1)

        def work(s):
            go.wait()
            for _ in range(n):
                s()
        ths = [threading.Thread(target=work, args=(s,)) for s in stepper]
        for th in ths:
            th.start()
        go.wait()
        t = time.perf_counter()
        for th in ths:
            th.join()
        return nthreads * n / (time.perf_counter() - t)

    rounds = 1 if ctx.quick else 3
    tp = {k: {1: [], 2: []} for k in makers}
    for _ in range(rounds):
        for k, make in makers.items():
            for nth in (1, 2):
                tp[k][nth].append(throughput(make, nth, steps[k]))
    values = {c: missing(ctx.peers, c) for c in COLUMNS}
    notes = []
    for k in makers:
        one, two = (statistics.median(tp[k][n]) for n in (1, 2))
        values[k] = two / one
        notes.append("threads: %s %.0f steps/s on 1 thread, %.0f on 2"
                     % (k, one, two))
    notes.append("threads: NumPy by hand spends its step in BLAS calls that "
                 "release the GIL, so its figure is about what this machine "
                 "gives two threads at all (other load, shared cores)")
    return Result("2 threads, MLP step batch 256", "x", values,
                  "NumPy by hand",
                  [Target(">= 1.6x on 2 threads", "tapegrad", None, ">=",
                          1.6)], notes)


# peak memory: each framework in its own fresh interpreter (--_peak NAME)

MEM_OPS = 50                                # 25 tanh, 25 scalings by 1.5


def tape_chain(tf, x):
    with tf.GradientTape() as t:
        t.watch(x)
        y = x
        for _ in range(MEM_OPS // 2):
            y = tf.tanh(y) * 1.5
        loss = tf.reduce_sum(y)
    return t.gradient(loss, x)


def peak_case(name, threads):
    """(convert, fn) for one framework: convert(NumPy array) is its input
    (made before the baseline: the input is not counted, whatever the
    framework's conversion copies), fn(input) the gradient; or a str
    saying why the framework is skipped."""
    import numpy as np
    if name == "floor":
        def numpy_by_hand(x):
            saved, y = [], x                 # forward keeps the tanh outputs
            for _ in range(MEM_OPS // 2):
                y = np.tanh(y, out=None if y is x else y)
                saved.append(y)
                y = y * 1.5
            g = np.full_like(x, 1.5)         # d sum / d (last scaling input)
            while saved:
                t = saved.pop()
                np.multiply(t, t, out=t)     # tanh' = 1 - t**2, in place
                np.subtract(1, t, out=t)
                g *= t
                del t
                if saved:
                    g *= 1.5
            return g
        return (lambda x: x), numpy_by_hand
    if name == "tapegrad":
        import tapegrad as tg
        return tg.constant, lambda x: tape_chain(tg, x)
    mod = import_peer(name, threads)
    if isinstance(mod, str):
        return mod
    if name == "tensorflow":
        return mod.constant, lambda x: tape_chain(mod, x)
    if name == "torch":
        torch = mod

        def torch_case(xt):
            y = xt
            for _ in range(MEM_OPS // 2):
                y = torch.tanh(y) * 1.5
            return torch.autograd.grad(y.sum(), xt)[0]
        return (lambda x: torch.from_numpy(x).requires_grad_(True)), \
            torch_case
    if name == "jax":
        jnp = mod.numpy

        def f(v):
            for _ in range(MEM_OPS // 2):
                v = jnp.tanh(v) * 1.5
            return jnp.sum(v)
        g = mod.jit(mod.grad(f))
        return jnp.asarray, lambda x: mod.block_until_ready(g(x))
    if name == "autograd":
        import autograd.numpy as anp

        def f(v):
            for _ in range(MEM_OPS // 2):
                v = anp.tanh(v) * 1.5
            return anp.sum(v)
        return (lambda x: x), mod.grad(f)
    raise ValueError(name)


def _status_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def peak_child(name, n, threads):
    """Runs in the subprocess: prints {"mb": peak over the baseline}."""
    import numpy as np
    case = peak_case(name, threads)
    if isinstance(case, str):
        print(json.dumps({"skip": case}))
        return
    convert, fn = case
    x = np.random.default_rng(0).uniform(-1, 1, n).astype(np.float32)
    fn(convert(x[:1000].copy()))            # warm up: JIT, lazy init
    x = convert(x)                          # the input: not counted
    import gc
    gc.collect()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")                       # reset VmHWM to the current RSS
    base = _status_kb("VmRSS")
    g = fn(x)
    peak = _status_kb("VmHWM")
    del g
    print(json.dumps({"mb": (peak - base) / 1024}))


def w_memory(ctx):
    n = 10 ** 6 if ctx.quick else 10 ** 7
    values, notes = {}, []
    for name in COLUMNS + ("floor",):
        if isinstance(ctx.peers.get(name), str):
            values[name] = missing(ctx.peers, name)
            continue
        # a fixed mmap threshold: glibc's sliding one would keep freed
        # multi-MB blocks in the heap, and resident, after their first use
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--_peak", name,
             "--_n", str(n), "--threads", str(ctx.threads)],
            capture_output=True, text=True, timeout=600, env=env)
        try:
            res = json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            values[name] = "failed"
            notes.append("memory: %s failed: %s" % (
                name, out.stderr.strip().splitlines()[-1:]))
            continue
        values[name] = res.get("mb", res.get("skip"))
    notes.append("memory: peak resident growth during one forward+gradient "
                 "(the %d MB input, and each framework's conversion of it, "
                 "made before the baseline), a fresh process each, after a "
                 "warm-up on 1000 elements; glibc's mmap threshold fixed at "
                 "128 KiB so that freed arrays leave the resident set"
                 % (n * 4 // 10 ** 6))
    return Result("peak memory, 50-op chain %.0e f32" % n, "MB", values,
                  "NumPy by hand",
                  [Target("<= NumPy by hand", "tapegrad", "floor", "<=",
                          1.0)], notes)


def w_import(ctx):
    rounds = 3 if ctx.quick else 10
    code = ("import sys, time; sys.path.insert(0, %r); "
            "t = time.perf_counter(); import {mod}; "
            "print(time.perf_counter() - t)" % (
                ROOT if checkout_built() else HERE))
    mods = {"tapegrad": "tapegrad", "floor": "numpy"}
    for p in PEERS:
        if not isinstance(ctx.peers.get(p), str):
            mods[p] = p
    samples = {k: [] for k in mods}
    for r in range(rounds):
        for k, mod in mods.items():
            if k not in ("tapegrad", "floor") and r >= max(1, rounds // 3):
                continue                    # peers: fewer rounds (TF: ~5 s)
            out = subprocess.run([sys.executable, "-c",
                                  code.format(mod=mod)],
                                 capture_output=True, text=True, timeout=300)
            samples[k].append(float(out.stdout.strip().splitlines()[-1]))
    values = {c: missing(ctx.peers, c) for c in COLUMNS}
    values.update({k: statistics.median(v) for k, v in samples.items()})
    return Result("import time", "s", values, "import numpy",
                  [Target("<= 1.2x import numpy", "tapegrad", "floor", "<=",
                          1.2)],
                  ["import: `import X` timed in a fresh interpreter, median "
                   "of %d (peers %d); tapegrad's includes NumPy's"
                   % (rounds, max(1, rounds // 3))])


RUNNERS = {"chain": w_chain, "seed": w_seed, "second-order": w_second_order,
           "mlp": w_mlp, "elementwise": w_elementwise, "matmul": w_matmul,
           "jacobian": w_jacobian, "threads": w_threads, "memory": w_memory,
           "import": w_import}


# ---- reporting ------------------------------------------------------------------------

def cpu_model():
    """The CPU's name and NumPy's SIMD targets found on it: the ratios to
    the NumPy floors move with both (an AMD Zen 5's SIMD sin and cos made
    the elementwise floor 1.4x faster than on the machine of earlier
    runs, while tapegrad's share of it stayed)."""
    name = platform.processor() or platform.machine()
    try:
        info = {}
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
        # a VM may name only the vendor ("AMD EPYC"): family and model
        # tell the generation (AMD family 26 is Zen 5)
        name = "%s (family %s, model %s)" % (
            info.get("model name", name), info.get("cpu family", "?"),
            info.get("model", "?"))
    except OSError:
        pass
    try:
        import numpy as np
        simd = np.show_config(mode="dicts")["SIMD Extensions"]["found"]
        name += "; NumPy SIMD found: " + " ".join(simd)
    except Exception:
        pass
    return name


def environment(ctx):
    import numpy as np
    import tapegrad as tg
    lines = ["date: %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "machine: %s, %s, %d cores (%d usable), load average %.2f" % (
                 platform.platform(), platform.processor() or
                 platform.machine(), os.cpu_count(),
                 len(os.sched_getaffinity(0)), os.getloadavg()[0]),
             "CPU: %s" % cpu_model(),
             "Python %s; tapegrad %s (%s); numpy %s" % (
                 platform.python_version(), tg.__version__,
                 os.path.dirname(tg.__file__), np.__version__)]
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        lines.append("NumPy BLAS: %s %s" % (blas.get("name"),
                                            blas.get("version")))
    except Exception:
        pass
    try:
        import threadpoolctl
        for p in threadpoolctl.threadpool_info():
            lines.append("threadpool: %s %s, %s threads" % (
                p.get("internal_api"), p.get("version"), p.get("num_threads")))
    except ImportError:
        lines.append("threadpoolctl not installed: thread pools per env vars")
    lines.append("threads pinned to %d: %s; XLA_FLAGS=%r" % (
        ctx.threads, " ".join("%s=%s" % (v, os.environ[v]) for v in (
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")),
        os.environ.get("XLA_FLAGS", "")))
    for p in PEERS:
        m = ctx.peers.get(p)
        if isinstance(m, str):
            lines.append("%s: %s, skipped" % (p, m))
            continue
        extra = ""
        if p == "torch":
            blas = re.search(r"BLAS_INFO=(\w+)", m.__config__.show())
            extra = ", %d threads, BLAS %s" % (
                m.get_num_threads(), blas.group(1) if blas else "?")
        if p == "tensorflow":
            extra = ", intra-op %d, inter-op %d threads" % (
                m.config.threading.get_intra_op_parallelism_threads(),
                m.config.threading.get_inter_op_parallelism_threads())
        lines.append("%s %s%s" % (p, importlib.metadata.version(
            "tensorflow-cpu" if p == "tensorflow" else p), extra))
    return lines


def fmt_ratio(r):
    # three digits near the targets (1.02 vs 1.022 decides one of them)
    return "%.3fx" % r if r < 10 else "%.1fx" % r


def table_rows(results):
    head = ["workload"] + list(COLUMNS) + ["floor", "ratio", "target",
                                           "met?"]
    rows = []
    for res in results:
        for i, tgt in enumerate(res.targets):
            r = tgt.ratio(res.values)
            cells = [res.name if i == 0 else "  \""]
            if i == 0:
                cells += [fmt(res.values.get(c), res.unit) for c in COLUMNS]
                cells.append("%s (%s)" % (fmt(res.values.get("floor"),
                                              res.unit), res.floor_name))
            else:
                cells += [""] * (len(COLUMNS) + 1)
            cells += ["-" if r is None else fmt_ratio(r), tgt.text,
                      "-" if r is None else ("yes" if tgt.met(r) else "NO")]
            rows.append(cells)
    return head, rows


def print_table(head, rows):
    w = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    line = " | ".join(h.ljust(w[i]) for i, h in enumerate(head))
    print(line)
    print("-+-".join("-" * x for x in w))
    for r in rows:
        print(" | ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))


TABLE_BEGIN = "<!-- run.py --markdown: table begins -->"
TABLE_END = "<!-- run.py --markdown: table ends -->"


def markdown(path, env, head, rows, notes, command):
    out = ["```", *env, "```", "", "`%s`" % command, "",
           "| " + " | ".join(head) + " |",
           "|" + "|".join("---" if i == 0 else "---:"
                          for i in range(len(head))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|")
                                     for c in r) + " |")
    out += [""] + ["- " + n for n in notes]
    text = "\n".join(out) + "\n"
    try:
        with open(path) as fh:
            old = fh.read()
    except FileNotFoundError:
        old = ""
    if TABLE_BEGIN in old and TABLE_END in old:
        # a page that holds the table between the markers (our README):
        # only the table is replaced
        head_, rest = old.split(TABLE_BEGIN, 1)
        text = (head_ + TABLE_BEGIN + "\n" + text
                + TABLE_END + rest.split(TABLE_END, 1)[1])
    with open(path, "w") as fh:
        fh.write(text)


def plot(path, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels, margins, texts = [], [], []
    for res in results:
        for tgt in res.targets:
            r = tgt.ratio(res.values)
            if r is None:
                continue
            labels.append("%s\n%s" % (res.name, tgt.text))
            margins.append(tgt.margin(r))
            texts.append("%s (target %s %g)" % (fmt_ratio(r), tgt.op,
                                                 tgt.bound))
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(labels) + 1.5))
    ys = range(len(labels))[::-1]
    ax.barh(list(ys), margins, color=["tab:green" if m >= 1 else "tab:red"
                                      for m in margins])
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(list(ys), labels, fontsize=7)
    for y, m, t in zip(ys, margins, texts):
        ax.text(m, y, " " + t, va="center", fontsize=7)
    ax.set_xlabel("how far from target (>= 1: met; log scale)")
    ax.set_title("tapegrad against the issue-15 targets")
    lo, hi = min(margins + [1.0]), max(margins + [1.0])
    ax.set_xlim(lo / 2, hi * 6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="few rounds, short batches, 1e6 for memory")
    ap.add_argument("-k", action="append", default=[],
                    help="only workloads whose name contains this "
                         "(repeatable): " + ", ".join(WORKLOADS))
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for every library (default 1)")
    ap.add_argument("--peers", default=",".join(PEERS),
                    help="comma-separated peers to try (default all; "
                         "none: tapegrad and the floors only)")
    ap.add_argument("--markdown", metavar="PATH")
    ap.add_argument("--plot", metavar="PATH")
    ap.add_argument("--_peak", help=argparse.SUPPRESS)
    ap.add_argument("--_n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    pin_threads(args.threads)
    use_checkout()
    if args._peak:
        peak_child(args._peak, args._n, args.threads)
        return 0
    chosen = [w for w in WORKLOADS
              if not args.k or any(k in w for k in args.k)]
    if not chosen:
        ap.error("no workload matches -k %s" % args.k)
    wanted = [p for p in args.peers.split(",") if p]
    peers = {p: (import_peer(p, args.threads) if p in wanted
                 else "not asked for (--peers)") for p in PEERS}
    ctx = Ctx(args, peers)
    env = environment(ctx)
    print("\n".join(env))
    print()
    results = []
    for w in chosen:
        t = time.perf_counter()
        res = RUNNERS[w](ctx)
        results.append(res)
        print("%-40s done in %.1f s" % (res.name, time.perf_counter() - t),
              flush=True)
    print()
    head, rows = table_rows(results)
    print_table(head, rows)
    notes = [n for res in results for n in res.notes]
    notes.append("load average at the end: %.2f" % os.getloadavg()[0])
    print()
    for n in notes:
        print("  " + n)
    command = "python benchmarks/run.py " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:]))
    if args.markdown:
        markdown(args.markdown, env, head, rows, notes, command.strip())
    if args.plot:
        plot(args.plot, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
