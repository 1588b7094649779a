#!/usr/bin/env python3
"""Run a bounded slice of a fuzz harness without atheris: seeded random
bytes through the harness's TestOneInput, decoded by fuzzlib's pure-Python
Provider.  No coverage guidance, so it finds only what random inputs reach
often; it is the regular suite's quick look (tests/test_fuzz_slice.py runs
it in a child process) and a way to triage findings on a plain build.

    python fuzz/slice.py HARNESS [--seed S] [--count N] [--max-len L]
                         [--start I] [--current FILE] [--keep-going]

Input i is `random.Random("SEED:i").randbytes(...)`, so `--start I
--count 1` replays input I alone.  Before running an input it is written
to --current FILE, so that after a crash (the process dies) the file holds
the reproducer.  A finding (an exception the oracle rejects) stops the
slice with exit status 1, or with --keep-going is printed and counted;
the last line is a summary: inputs run, findings, seconds.
"""
import argparse
import os
import random
import sys
import time
import traceback


def inputs(seed, start, count, max_len):
    for i in range(start, start + count):
        rnd = random.Random("%s:%d" % (seed, i))
        yield i, rnd.randbytes(rnd.randint(0, max_len))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("harness")
    ap.add_argument("--seed", default="0")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--current")
    ap.add_argument("--keep-going", action="store_true")
    args = ap.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import fuzzlib
    fuzzlib.atheris = None   # decode with fuzzlib.Provider, as the seeds do
    harness = __import__(args.harness)
    findings = 0
    t0 = time.perf_counter()
    n = 0
    for i, data in inputs(args.seed, args.start, args.count, args.max_len):
        if args.current:
            with open(args.current, "wb") as f:
                f.write(data)
        n += 1
        try:
            harness.TestOneInput(data)
        except Exception:  # noqa: BLE001 -- a finding: report it
            findings += 1
            print("FINDING in input %d (seed %s, %d bytes %s):\n%s"
                  % (i, args.seed, len(data), data.hex(),
                     traceback.format_exc()), flush=True)
            if not args.keep_going:
                break
    print("slice: %s: %d inputs from %d, %d findings, %.1f s"
          % (args.harness, n, args.start, findings,
             time.perf_counter() - t0), flush=True)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
