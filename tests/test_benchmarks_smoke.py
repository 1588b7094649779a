"""benchmarks/run.py runs and prints its table (a smoke test: no timing is
ever asserted; speed is measured by the benchmark, not tested)."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.no_refleak_check(reason="a subprocess; its exit status is "
                                     "checked")
def test_run_quick_seed_prints_tapegrads_row():
    # --peers torch: TensorFlow's import alone takes ~5 s; the other peers'
    # rows are the same code path
    p = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run.py"),
         "--quick", "-k", "seed", "--peers", "torch"],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = [line for line in p.stdout.splitlines()
            if line.startswith("seed cell")]
    assert rows, p.stdout
    cells = [c.strip() for c in rows[-1].split("|")]
    # workload | tapegrad | torch | jax | tensorflow | autograd | floor | ...
    assert re.fullmatch(r"[\d.]+ (ns|us|ms|s)", cells[1]), cells
    assert cells[3] == cells[4] == cells[5] == "not asked", cells
    assert cells[-1] in ("yes", "NO", "-"), cells
