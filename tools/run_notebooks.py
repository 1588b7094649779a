"""Execute the tutorial notebooks in a Jupyter kernel and check them.

Runs every notebooks/*.ipynb (or the ones named) in a real Jupyter kernel
(nbclient + ipykernel, kernel 'python3', 120 s per cell, working directory
the repository root) and compares it with tests/notebook_expectations.json
using tools/nbcheck.py.

Where the executed notebooks go:
  default     build/notebooks/<name>.ipynb (build/ is ignored by git), so
              rerunning leaves the git tree clean: the committed notebooks
              in notebooks/ are never touched.
  --out DIR   DIR/<name>.ipynb instead.
  --save      also write each notebook that PASSES back into notebooks/, so
              the committed copies carry fresh outputs for readers (do this
              after changing a notebook or its builder, then commit).
  --no-save   write no file at all.
Saved outputs are made stable first (nbcheck.stable_outputs): execution
counts 1, 2, ...; consecutive stream chunks merged; object addresses and the
kernel's process id masked.  The notebooks seed their draws (and fit's
shuffling), so what still changes from one save to the next is only what
cannot repeat: the timings in training.ipynb and cnn.ipynb.

Prints one line per notebook on stdout:
  PASS notebooks/<name>.ipynb (<N> cells)      N = code cells run and checked
  FAIL notebooks/<name>.ipynb: <first problem>
With -v every problem is also listed on stderr. Exit status 1 if any failed.
Assumes tapegrad is importable (pip install -e . --no-build-isolation).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbcheck  # noqa: E402

OUT = nbcheck.ROOT / "build" / "notebooks"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--out", type=Path, default=OUT,
                    help="where the executed copies go (default build/notebooks)")
    ap.add_argument("--save", action="store_true",
                    help="also write passing notebooks back in place, with their outputs")
    ap.add_argument("--no-save", action="store_true", help="write no file at all")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every problem on stderr")
    ap.add_argument("--timeout", type=int, default=nbcheck.TIMEOUT, help="seconds per cell")
    args = ap.parse_args(argv)
    if args.save and args.no_save:
        ap.error("--save and --no-save contradict each other")

    import nbformat

    expectations = nbcheck.load_expectations()
    paths = args.notebooks or sorted((nbcheck.ROOT / "notebooks").glob("*.ipynb"))
    failed = 0
    for path in paths:
        path = Path(path).resolve()
        shown = path.relative_to(nbcheck.ROOT) if path.is_relative_to(nbcheck.ROOT) else path
        entry = expectations.get(path.stem)
        if entry is None:
            print(f"FAIL {shown}: no expectations (rerun tools/make_notebooks.py)", flush=True)
            failed += 1
            continue
        result = nbcheck.run_notebook(path, entry, timeout=args.timeout)
        if not args.no_save:
            executed = nbcheck.stable_outputs(result.nb)
            args.out.mkdir(parents=True, exist_ok=True)
            nbformat.write(executed, args.out / path.name)
            if args.save and result.ok:
                nbformat.write(executed, path)
        if result.ok:
            print(f"PASS {shown} ({result.n_code} cells)", flush=True)
        else:
            failed += 1
            print(f"FAIL {shown}: {result.problems[0]}", flush=True)
            if args.verbose:
                for problem in result.problems:
                    print(f"  {problem}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
