#!/usr/bin/env python3
"""Pick a few regression seeds that keep most of a fuzz corpus's coverage.

    python fuzz/select_seeds.py HARNESS OUT_DIR CORPUS_DIR... [--max N]

Run it with the coverage-instrumented extension and libFuzzer's runtime
preloaded (tools/run_fuzz.sh does, with FUZZ_MERGE=1).  Every input is run
once through the harness's TestOneInput, with the extension's inline 8-bit
edge counters (the __sancov_cntrs section, found with nm and read through
ctypes) cleared before and read after; then a greedy set cover takes, N
times, the input that adds the most edges not yet kept.  The chosen inputs
are copied to OUT_DIR as seed-<sha1 prefix>, and the share of the corpus's
edges they keep is printed.
"""
import argparse
import ctypes
import hashlib
import importlib
import os
import shutil
import subprocess
import sys


def counters(so_path):
    """The extension's edge counters, as a ctypes array."""
    syms = {}
    for line in subprocess.run(["nm", so_path], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and "___sancov_cntrs" in parts[2]:
            syms[parts[2]] = int(parts[0], 16)
    start, stop = syms["__start___sancov_cntrs"], syms["__stop___sancov_cntrs"]
    real = os.path.realpath(so_path)
    with open("/proc/self/maps") as f:
        base = min(int(line.split("-")[0], 16) for line in f
                   if line.rstrip().endswith(real))
    return (ctypes.c_uint8 * (stop - start)).from_address(base + start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("harness")
    ap.add_argument("out")
    ap.add_argument("corpus", nargs="+")
    ap.add_argument("--max", type=int, default=60)
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    harness = importlib.import_module(args.harness)
    cnt = counters(harness.fuzzlib.C.__file__)
    zero = bytes(len(cnt))

    edges = {}
    for d in args.corpus:
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                data = f.read()
            ctypes.memmove(cnt, zero, len(zero))
            try:
                harness.TestOneInput(data)
            except Exception as e:  # noqa: BLE001 -- a finding: say so
                print("finding in %s: %r" % (path, e), file=sys.stderr)
                continue
            hit = frozenset(i for i, c in enumerate(bytes(cnt)) if c)
            key = hashlib.sha1(data).hexdigest()
            if key not in edges or len(edges[key][1]) < len(hit):
                edges[key] = (path, hit)

    total = frozenset().union(*(e for _, e in edges.values()))
    kept, chosen = set(), []
    while len(chosen) < args.max:
        key, gain = max(((k, len(e - kept)) for k, (_, e) in edges.items()),
                        key=lambda kv: kv[1], default=(None, 0))
        if not gain:
            break
        chosen.append(key)
        kept |= edges[key][1]
        if len(chosen) % 10 == 0:
            print("  %3d seeds: %d edges" % (len(chosen), len(kept)))
    os.makedirs(args.out, exist_ok=True)
    for key in chosen:
        shutil.copyfile(edges[key][0],
                        os.path.join(args.out, "seed-" + key[:12]))
    print("%d seeds keep %d of the %d edges that %d inputs reach (%.1f%%)"
          % (len(chosen), len(kept), len(total), len(edges),
             100.0 * len(kept) / max(len(total), 1)))


if __name__ == "__main__":
    main()
