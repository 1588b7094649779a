"""Peak-memory audit of every op-table row.

For each row of ``tapegrad._tapegrad._ops()`` (read, sampled and called the
way the test-suite does it: tests/optable.py), scale a case's inputs up
until inputs + output are about --target-mib, then, in a fresh child
process under an address-space cap, run the forward (and, for
differentiable rows, the forward under a GradientTape plus ``gradient``)
and report

    factor = (input bytes + peak RSS increase during the call)
             / (input bytes + output bytes [+ gradient bytes])

i.e. the peak RSS over the interpreter's baseline, divided by what the
call legally needs: an op that only writes its output scores ~1.0; one
full temporary the size of the output scores up to 2.  Rows above
--threshold (default 3) are offenders.

Measurement: the child builds its inputs, frees its scratch (malloc_trim,
tapegrad's block cache), resets the kernel's RSS high-water mark through
/proc/self/clear_refs, makes the call and reads VmHWM.  BLAS runs on one
thread (OPENBLAS_NUM_THREADS=1), so per-thread buffers do not blur the
numbers on a shared 2-core machine.  tapegrad's block cache (freed
tensors of 256 KiB..32 MiB wait there for reuse, 32 MiB at most) is off
in the child unless --with-cache: it is bounded, shared machinery, and
would add up to 32 MiB to any row's peak.

Scaling a case: "dims" multiplies every dimension > 1 of every input (and a
`shape` attribute) by k, so equal dimensions stay equal (matmul's inner
one); "lead" scales only the leading dimension; "batch" prepends a batch
dimension of k (the linalg rows: many small matrices rather than one huge
one); "tail" scales the last one (unstack: few pieces, each large).  The
first (case, strategy) whose forward runs and grows is used; k is found
from the sizes at small k.  Rows whose size comes from values (fill, eye,
range, linspace) or whose indices are attributes (gather_grad,
gather_nd_grad, take_along_axis, take_along_axis_grad) have their own
recipes (SPECIAL).

    python tools/mem_audit.py                  # every row, sorted table
    python tools/mem_audit.py -k matmul,exp    # some rows
    python tools/mem_audit.py --all-cases      # every case that scales
    python tools/mem_audit.py --json out.json  # also write the results
"""
import argparse
import ctypes
import gc
import json
import math
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

import numpy as np  # noqa: E402

import tapegrad as tf  # noqa: E402
from tapegrad import _tapegrad as C  # noqa: E402

MiB = 1 << 20
LINALG = {"inv", "det", "slogdet", "solve", "cholesky", "eigh", "svd",
          "trace", "diag_part", "matrix_transpose"}
#: rows measured with other strategies first: unstack's pieces would grow
#: with "dims" (thousands of outputs: that measures the per-output overhead,
#: not memory)
PREFER = {"unstack": ["tail"]}


# ---- building a scaled call ------------------------------------------------------------
def _scale_shape(shape, strategy, k):
    shape = tuple(shape)
    if strategy == "dims":
        return tuple(d * k if d > 1 else d for d in shape)
    if strategy == "lead":
        return (shape[0] * k,) + shape[1:] if shape else shape
    if strategy == "batch":
        return (k,) + shape if shape else shape
    if strategy == "tail":
        return shape[:-1] + (shape[-1] * k,) if shape else shape
    raise ValueError(strategy)


def _special(name, k):
    """(arrays, kinds, attrs) for rows whose output size is a value."""
    n = 1024 * k
    if name == "fill":
        return [np.array([n], np.int32), np.float32(1.5)], "if", {}
    if name == "eye":
        return [np.int32(32 * k)], "i", {}
    if name == "range":
        return [np.float32(n)], "f", {}
    if name == "linspace":
        return [np.float32(-1), np.float32(1)], "ff", {"num": n}
    # rows whose indices are attributes: n rows of 8, indices drawn here
    rng = np.random.default_rng(k)
    g = rng.standard_normal((n, 8)).astype(np.float32)
    if name == "take_along_axis":
        return [g], "f", {"indices": rng.integers(0, 8, (n, 8)), "axis": 1}
    if name == "take_along_axis_grad":
        return [g], "f", {"indices": rng.integers(0, 8, (n, 8)), "axis": 1,
                          "size": 8}
    if name == "gather_grad":
        return [g], "f", {"indices": rng.integers(0, n, n), "axis": 0,
                          "shape": (n, 8)}
    if name == "gather_nd_grad":
        return [g], "f", {"indices": rng.integers(0, 32, (n, 2)),
                          "shape": (32, 32, 8)}
    return None


SPECIAL = ("fill", "eye", "range", "linspace", "take_along_axis",
           "take_along_axis_grad", "gather_grad", "gather_nd_grad")


def build(row, case, strategy, k, seed=0):
    """(arrays, kinds, attrs) for `row`'s case `case`, scaled by k."""
    if strategy == "special":
        return _special(row.name, k)
    attrs, shapes = row.case(case)
    shapes = [_scale_shape(s, strategy, k) for s in shapes]
    if isinstance(attrs.get("shape"), (list, tuple)):
        shape = tuple(attrs["shape"])
        if strategy == "batch":
            shape = (k,) + shape
        elif strategy == "tail" and shape and shape[-1] > 0:
            shape = shape[:-1] + (shape[-1] * k,)
        elif strategy == "lead" and shape and shape[0] > 0:
            shape = (shape[0] * k,) + shape[1:]
        elif strategy == "dims":
            shape = tuple(d * k if d > 1 else d for d in shape)
        attrs["shape"] = shape
    rng = np.random.default_rng(seed)
    arrays = row.sample(rng, case, dtype=np.float32, shapes=shapes)
    arrays = [np.ascontiguousarray(a) for a in arrays]
    return arrays, "".join(row.kinds(case)), attrs


def call(row, tensors, attrs):
    f = row.raw_fn
    if row.has("variadic"):
        return f(list(tensors), **attrs)
    return f(*tensors, **attrs)


def outputs(y):
    if isinstance(y, (list, tuple)):
        out = []
        for o in y:
            out.extend(outputs(o))
        return out
    return [y] if isinstance(y, tf.Tensor) else []


def nbytes(ts, seen=None):
    """Bytes of the tensors' buffers, each buffer once: a view of an input
    (reshape's result, a gradient that is `1 * output`) costs nothing new.
    `seen` (a list of arrays) carries the buffers already counted."""
    seen = [] if seen is None else seen
    total = 0
    for t in ts:
        a = t.numpy()
        if not any(np.may_share_memory(a, b) for b in seen):
            total += a.nbytes
        seen.append(a)
    return total


def differentiable(row):
    return not row.has("nondiff")


def run(row, arrays, kinds, attrs, grad):
    """Inputs as tensors, then the call: (inputs, outputs, gradients)."""
    xs = [tf.constant(a) for a in arrays]
    return xs, run_on(row, xs, kinds, attrs, grad)


def run_on(row, xs, kinds, attrs, grad):
    if not grad:
        return outputs(call(row, xs, attrs)), []
    fl = [x for x, kd in zip(xs, kinds) if kd == "f" and x.dtype.is_floating]
    with tf.GradientTape() as tape:
        tape.watch(fl)
        y = call(row, xs, attrs)
    outs = outputs(y)
    targets = [o for o in outs if o.dtype.is_floating]
    gs = tape.gradient(targets, fl) if targets and fl else []
    return outs, [g for g in gs if g is not None]


# ---- choosing a case and a size (in the parent, at small sizes) ------------------------
def _size(row, case, strategy, k):
    arrays, kinds, attrs = build(row, case, strategy, k)
    xs = [tf.constant(a) for a in arrays]
    with np.errstate(all="ignore"):
        outs, _ = run_on(row, xs, kinds, attrs, False)
    seen = []
    return nbytes(xs, seen) + nbytes(outs, seen)


def plan(row, target, all_cases=False):
    """[(case, strategy, k, note)] to measure for `row`."""
    if row.name in SPECIAL:
        cases, strategies = [0], ["special"]
    else:
        cases = list(range(len(row.cases)))
        strategies = PREFER.get(row.name, []) + (
            ["batch", "dims", "lead"] if row.name in LINALG
            else ["dims", "lead", "batch"])
    found = []
    for case in cases:
        for strategy in strategies:
            try:
                b1 = _size(row, case, strategy, 1)
                b2 = _size(row, case, strategy, 2)
            except Exception:
                continue
            if b2 < 1.5 * b1:
                continue
            k, b, flat = 2, b2, 0
            try:
                while b < target / 32 and k < 1 << 20:
                    kb, bb = k, b
                    k *= 2
                    b = _size(row, case, strategy, k)
                    # a step may not grow (small results are copies,
                    # larger ones views), two in a row do not scale
                    flat = flat + 1 if b <= bb else 0
                    if flat == 2:
                        raise ValueError("does not grow")
            except Exception:
                continue
            kb, bb = (k // 2, _size(row, case, strategy, k // 2)) if k > 2 else (1, b1)
            e = max(math.log(max(b, bb + 1) / bb) / math.log(k / kb), 0.5)
            kf = max(k, int(round(k * (target / b) ** (1.0 / e))))
            found.append((case, strategy, kf, ""))
            break
        if found and not all_cases:
            break
    return found


# ---- the child ----------------------------------------------------------------------
def _status(key):
    with open("/proc/self/status") as f:
        return int(re.search(key + r":\s+(\d+)", f.read()).group(1)) * 1024


def _settle():
    gc.collect()
    C._release_blocks()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def child(spec):
    from optable import rows
    row = {r.name: r for r in rows()}[spec["row"]]
    grad = spec["mode"] == "grad"
    np.seterr(all="ignore")
    if not spec.get("cache"):
        C._release_blocks(True)     # no block cache: the op's own memory
    # warm up: lazy imports, NumPy's caches, the row's code paths
    a, kd, at = build(row, spec["case"], spec["strategy"], 1)
    run(row, a, kd, at, grad)
    del a, kd, at
    arrays, kinds, attrs = build(row, spec["case"], spec["strategy"], spec["k"])
    xs = [tf.constant(x) for x in arrays]
    del arrays
    _settle()
    base = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    t = time.perf_counter()
    outs, gs = run_on(row, xs, kinds, attrs, grad)
    dt = time.perf_counter() - t
    peak = _status("VmHWM")
    seen = []
    return {"in": nbytes(xs, seen), "out": nbytes(outs, seen), "grad": nbytes(gs, seen),
            "extra": peak - base, "seconds": dt,
            "shapes": [list(x.shape) for x in xs]}


def measure(spec, cap_gib, timeout):
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cap = cap_gib << 30

    def limit():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child",
                            json.dumps(spec)], capture_output=True, text=True,
                           timeout=timeout, env=env, cwd=ROOT, preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return {"error": "timeout after %d s" % timeout}
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["rc %d" % p.returncode])[-1]
        return {"error": last[:200]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def factor(r):
    need = r["in"] + r["out"] + r["grad"]
    return (r["in"] + r["extra"]) / need if need else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", default="", help="comma-separated row names")
    ap.add_argument("--target-mib", type=float, default=48.0)
    ap.add_argument("--threshold", type=float, default=3.0)
    ap.add_argument("--cap-gib", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--all-cases", action="store_true")
    ap.add_argument("--no-grad", action="store_true")
    ap.add_argument("--with-cache", action="store_true",
                    help="keep tapegrad's block cache on (it may hold up to "
                         "32 MiB of freed tensors)")
    ap.add_argument("--json", default="")
    ap.add_argument("--child", default="")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    from optable import rows
    want = set(filter(None, args.k.split(",")))
    results, skipped = [], []
    for row in rows():
        if want and row.name not in want:
            continue
        with np.errstate(all="ignore"):
            todo = plan(row, args.target_mib * MiB, args.all_cases)
        if not todo:
            skipped.append(row.name)
            print("%-40s no case scales" % row.name, file=sys.stderr)
            continue
        for case, strategy, k, _ in todo:
            modes = [False] + ([True] if differentiable(row) and not args.no_grad else [])
            for grad in modes:
                spec = {"row": row.name, "case": case, "strategy": strategy,
                        "k": k, "mode": "grad" if grad else "fwd",
                        "cache": args.with_cache}
                r = measure(spec, args.cap_gib, args.timeout)
                r.update(spec)
                results.append(r)
                if "error" in r:
                    msg = "error: " + r["error"]
                else:
                    msg = "%.2f" % factor(r)
                print("%-40s %-4s case %d %-5s k=%-6d %s" % (
                    row.name, spec["mode"], case, strategy, k, msg),
                    file=sys.stderr, flush=True)

    ok = [r for r in results if "error" not in r]
    ok.sort(key=factor, reverse=True)
    print("%-40s %-4s %4s %-5s %8s %8s %8s %9s %7s %6s  %s" % (
        "row", "mode", "case", "scale", "in MiB", "out MiB", "grad MiB",
        "peak MiB", "factor", "sec", "input shapes"))
    for r in ok:
        print("%-40s %-4s %4d %-5s %8.1f %8.1f %8.1f %9.1f %7.2f %6.2f  %s%s" % (
            r["row"], r["mode"], r["case"], r["strategy"],
            r["in"] / MiB, r["out"] / MiB, r["grad"] / MiB,
            (r["in"] + r["extra"]) / MiB, factor(r), r["seconds"],
            " ".join("x".join(map(str, s)) or "()" for s in r["shapes"]),
            "   <-- offender" if factor(r) > args.threshold else ""))
    for r in results:
        if "error" in r:
            print("%-40s %-4s %4d %-5s error: %s" % (
                r["row"], r["mode"], r["case"],
                r["strategy"], r["error"]))
    if skipped:
        print("not scaled (no case grows with its inputs): " + ", ".join(skipped))
    offenders = [r for r in ok if factor(r) > args.threshold]
    print("%d measurements, %d offenders above %.1fx, %d errors" % (
        len(ok), len(offenders), args.threshold, len(results) - len(ok)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
