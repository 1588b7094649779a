"""Run a published TensorFlow notebook's code cells on tapegrad, cell by cell.

    python tools/run_published.py basic_training_loops intro_to_modules \\
        custom_layers basics [-v] [--json] [--timeout 600]

A notebook is named by a file (``path/to/x.ipynb``), by its path inside
tensorflow/docs (``site/en/guide/x.ipynb``), or by its bare name (``x``,
looked up under ``site/`` of the mirror); the latter two are read with
``git show HEAD:<path>`` from a mirror of tensorflow/docs (--mirror,
default ../.mirror/tensorflow+docs/repo beside the repository, as
tools/guide_notebooks.py reads it).

The code cells are taken in order.  Shell and magic lines (``!pip ...``,
``%load_ext ...``) are removed; a cell left with nothing but comments is
not counted (the license header, a cell that was only ``!ls``).  The
imports are swapped: ``import tensorflow as tf`` becomes ``import tapegrad
as tf``, and ``import keras`` becomes ``from tapegrad import keras`` (under
TF 2.21 ``keras`` is the Keras 3 that ``tf.keras`` is, installed with TF;
tapegrad's is ``tapegrad.keras``).  Nothing else is changed.

All cells run in one namespace, in a fresh Python subprocess (matplotlib's
Agg backend, a temporary working directory, so files the notebook writes
go nowhere), with a timeout for the whole notebook.  Each cell's
exception is caught and the next cell runs, so a cell that needs what an
earlier failed cell would have made fails too.  As Jupyter does, a cell's
last expression is evaluated and its repr taken (a repr that raises fails
the cell).  Prints per cell ``PASS`` or ``FAIL`` with the exception, then
``<name>: N of M cells run``; --json prints one JSON object per notebook
instead.  A failing cell listed in EXPECTED_FAILURES is shown with the
reason it does not run on tapegrad; exit status 1 if any other cell
failed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR = ROOT.parent / ".mirror" / "tensorflow+docs" / "repo"

# The four guides the test suite runs (tests/test_published_guides.py).
GUIDES = {
    "basic_training_loops": "site/en/guide/basic_training_loops.ipynb",
    "intro_to_modules": "site/en/guide/intro_to_modules.ipynb",
    "custom_layers": "site/en/tutorials/customization/custom_layers.ipynb",
    "basics": "site/en/tutorials/customization/basics.ipynb",
}

# The cells of GUIDES that do not run on tapegrad, each with why: (guide,
# cell id) -> (kind, reason).  The kinds: "SavedModel" and
# "tensorboard" (not done on purpose: no graphs to export or trace),
# "strings" (no string dtype, on purpose) and
# "TF too" (the published cell fails under TF 2.21 as well).  A failing
# cell not listed here is a regression (tests/test_published_guides.py).
EXPECTED_FAILURES = {
    ("intro_to_modules", "zmy-T67zhp-S"): (
        "tensorboard", "tf.summary / tf.profiler graph tracing for "
        "TensorBoard: no graphs to trace"),
    ("intro_to_modules", "Awv_Tw__WK7a"): (
        "SavedModel", "tf.saved_model.save: no graph to export"),
    ("intro_to_modules", "zRFcA5wIefv4"): (
        "SavedModel", "tf.saved_model.load"),
    ("custom_layers", "vrmBsYGOnuGO"): (
        "TF too", "the layer's build calls add_weight('kernel', shape=...), "
        "the Keras 2 form: Keras 3 (TF 2.16+) takes the name by keyword "
        "only and raises, as tapegrad does"),
    ("basics", "F04fVOHQIBiG"): (
        "strings", "tf.data.TextLineDataset yields string tensors"),
    ("basics", "uXSDZWE-ISsd"): (
        "strings", "batches the TextLineDataset of the cell before"),
    ("basics", "ws-WKRk5Ic6-"): (
        "strings", "iterates the TextLineDataset (its ds_tensors part "
        "runs and prints)"),
}

IMPORT_SWAPS = [
    (re.compile(r"^(\s*)import tensorflow as tf\s*$"), r"\1import tapegrad as tf"),
    (re.compile(r"^(\s*)import keras\s*$"), r"\1from tapegrad import keras"),
]

_SHELL = re.compile(r"^\s*[!%]")


# ---- reading ------------------------------------------------------------------
def _git_show(mirror: Path, path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(mirror), "show", "HEAD:" + path],
        check=True, capture_output=True, text=True).stdout


def find_in_mirror(mirror: Path, name: str) -> str:
    if name in GUIDES:
        return GUIDES[name]
    files = subprocess.run(
        ["git", "-C", str(mirror), "ls-tree", "-r", "--name-only", "HEAD",
         "site/en"], check=True, capture_output=True, text=True).stdout
    hits = [f for f in files.splitlines() if f.endswith("/" + name + ".ipynb")]
    if not hits:
        raise SystemExit("no notebook %r under site/en of %s" % (name, mirror))
    return sorted(hits, key=len)[0]


def load_notebook(spec: str, mirror: Path) -> tuple[str, dict]:
    """(short name, notebook JSON) for a file, a docs path or a name."""
    p = Path(spec)
    if p.suffix == ".ipynb" and p.exists():
        return p.stem, json.loads(p.read_text(encoding="utf-8"))
    path = spec if spec.endswith(".ipynb") else find_in_mirror(mirror, spec)
    return Path(path).stem, json.loads(_git_show(mirror, path))


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _has_code(src: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#")
               for line in src.splitlines())


def prepare(nb: dict) -> list[dict]:
    """The code cells as run: {index, id, source, skipped} in order;
    `index` counts code cells from 1; `skipped` says why a cell is not
    counted (None when it runs)."""
    out = []
    n = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        n += 1
        lines = []
        for line in _source(cell).splitlines():
            if _SHELL.match(line):
                continue
            for pattern, repl in IMPORT_SWAPS:
                line = pattern.sub(repl, line)
            lines.append(line)
        src = "\n".join(lines)
        skipped = None
        if not _has_code(src):
            skipped = ("shell/magic only" if _has_code(_source(cell))
                       else "comments only")
        out.append({"index": n, "id": cell.get("metadata", {}).get("id")
                    or cell.get("id"), "source": src, "skipped": skipped})
    return out


# ---- running (the child) ------------------------------------------------------
CHILD = r'''
import ast, io, json, sys, traceback, contextlib
cells = json.load(open(sys.argv[1]))
report = open(sys.argv[2], "w")
ns = {"__name__": "__main__"}

def run(src, name):
    tree = ast.parse(src, name)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, name, "exec"), ns)
    if last is not None:
        value = eval(compile(last, name, "eval"), ns)
        if value is not None:
            return repr(value)
    return None

for cell in cells:
    if cell["skipped"]:
        continue
    out = io.StringIO()
    rec = {"index": cell["index"]}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            shown = run(cell["source"], "<cell %d>" % cell["index"])
        if shown is not None:
            out.write(shown[:2000] + "\n")
        rec["ok"] = True
    except BaseException as e:  # SystemExit, KeyboardInterrupt too: report
        rec["ok"] = False
        rec["error"] = "%s: %s" % (type(e).__name__, str(e).strip()[:1000])
        tb = traceback.extract_tb(e.__traceback__)
        rec["where"] = ["%s:%s %s" % (f.filename, f.lineno, f.name)
                        for f in tb[1:]][-4:]
    try:
        import matplotlib.pyplot as plt
        plt.close("all")
    except Exception:
        pass
    rec["output"] = out.getvalue()[-4000:]
    report.write(json.dumps(rec) + "\n")
    report.flush()
'''


def run_cells(cells: list[dict], timeout: float) -> dict[int, dict]:
    """Run the cells in one fresh interpreter; {index: record}.  Cells not
    reached when the timeout hits get a "timeout" record."""
    with tempfile.TemporaryDirectory(prefix="run_published_") as tmp:
        tmp = Path(tmp)
        (tmp / "cells.json").write_text(json.dumps(cells))
        work = tmp / "work"
        work.mkdir()
        env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0")
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        report = tmp / "report.jsonl"
        report.touch()
        timed_out = False
        try:
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(tmp / "cells.json"), str(report)],
                cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
            crash = proc.returncode != 0 and proc.stderr.strip()
        except subprocess.TimeoutExpired:
            timed_out, crash = True, None
        records = {}
        for line in report.read_text().splitlines():
            rec = json.loads(line)
            records[rec["index"]] = rec
        for cell in cells:
            if cell["skipped"] or cell["index"] in records:
                continue
            why = ("timeout: the notebook ran over %ss" % timeout if timed_out
                   else "the interpreter died: %s" % (crash or "no report")[-500:])
            records[cell["index"]] = {"index": cell["index"], "ok": False,
                                      "error": why, "output": ""}
    return records


def run_notebook(spec: str, mirror: Path = DEFAULT_MIRROR, timeout: float = 600) -> dict:
    name, nb = load_notebook(spec, mirror)
    cells = prepare(nb)
    records = run_cells(cells, timeout)
    result = {"name": name, "cells": []}
    for cell in cells:
        entry = {"index": cell["index"], "id": cell["id"],
                 "first_line": next((l for l in cell["source"].splitlines()
                                     if l.strip()), "")}
        if cell["skipped"]:
            entry.update(status="SKIP", why=cell["skipped"])
        else:
            rec = records[cell["index"]]
            entry.update(status="PASS" if rec["ok"] else "FAIL",
                         error=rec.get("error"), where=rec.get("where"),
                         output=rec.get("output", ""))
        result["cells"].append(entry)
    counted = [c for c in result["cells"] if c["status"] != "SKIP"]
    result["passed"] = sum(c["status"] == "PASS" for c in counted)
    result["total"] = len(counted)
    result["skipped"] = len(result["cells"]) - len(counted)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="*", help="files, docs paths or names "
                    "(default: the four guides: %s)" % ", ".join(GUIDES))
    ap.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds for a whole notebook (default 600)")
    ap.add_argument("--json", action="store_true", help="one JSON object per notebook")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show each cell's output and the failing frames")
    args = ap.parse_args(argv)
    failed = False
    for spec in args.notebooks or list(GUIDES):
        result = run_notebook(spec, args.mirror, args.timeout)
        failed |= any(c["status"] == "FAIL" and (result["name"], c["id"])
                      not in EXPECTED_FAILURES for c in result["cells"])
        if args.json:
            print(json.dumps(result), flush=True)
            continue
        print("== %s" % result["name"])
        for c in result["cells"]:
            label = "cell %2d [%s] %s" % (c["index"], c["id"], c["first_line"][:50])
            if c["status"] == "SKIP":
                print("SKIP %s (%s)" % (label, c["why"]))
                continue
            if c["status"] == "PASS":
                print("PASS %s" % label)
            else:
                known = EXPECTED_FAILURES.get((result["name"], c["id"]))
                print("FAIL %s\n     %s%s" % (
                    label, c["error"],
                    "\n     expected (%s): %s" % known if known else ""))
                if args.verbose and c.get("where"):
                    for w in c["where"]:
                        print("       at %s" % w)
            if args.verbose and c.get("output"):
                for line in c["output"].rstrip().splitlines()[:40]:
                    print("     | " + line)
        unexpected = [c for c in result["cells"] if c["status"] == "FAIL"
                      and (result["name"], c["id"]) not in EXPECTED_FAILURES]
        print("%s: %d of %d cells run (%d skipped: shell/magic or comments "
              "only; %d failures not expected)"
              % (result["name"], result["passed"], result["total"],
                 result["skipped"], len(unexpected)), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
