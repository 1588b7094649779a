"""Build notebooks/*.ipynb and tests/notebook_expectations.json from the seeds.

This module owns the translation of the text renditions of TensorFlow's
GradientTape tutorials (``shared/seeds/*.txt``) into runnable notebooks that
``import tapegrad as tf``, plus the table of documented outputs those notebooks
are checked against (tools/nbcheck.py, tools/run_notebooks.py,
tests/test_notebooks.py).  It also builds TF's two autodiff guides through
tools/guide_notebooks.py (from their published notebooks), and the
training, CNN and Ray notebooks through tools/training_notebook.py,
cnn_notebook.py and distributed_notebook.py, so one command regenerates
every notebook and the whole table.

Seed format: a cell starts at a line ``In [N]:``; its code follows, then one
blank line and the cell's output (if any); markdown lines may follow before the
next ``In [N]:``. Lines before the first cell are markdown.

Automatic split of a cell block (the lines after ``In [N]:``), by paragraph
(runs of non-blank lines; whitespace-only lines count as blank but are kept
verbatim inside code):
  1. The first paragraph is code. Later paragraphs stay code while the code so
     far plus the paragraph still compiles and the paragraph does not look like
     output (starts with ``tf.Tensor(``, ``<`` or ``array(``; every line is a
     Python literal such as ``108`` or ``(3, 2)``; or it parses only as bare
     annotations, like the printed ``y:  4.0``).
  2. Trailing comment-only paragraphs of that run are markdown headings
     (``### Persistant Gradients``), not code.
  3. Of what is left, a first paragraph starting with ``#`` means "no output,
     all markdown"; otherwise the output runs up to the first gap of two blank
     lines (a printed text ends in a newline, which the renditions show as an
     extra blank line) and the rest is markdown.
  Anything the rules cannot settle (an output of several paragraphs, a
  displayed value followed by markdown, output from a cell that cannot print)
  stops the build unless SPLIT_OVERRIDES says how to cut that block.
MANIFEST holds the hand-counted shape of every seed, so a change in the rules
that moves a boundary fails loudly.

Code is copied unchanged except ``import tensorflow as tf`` ->
``import tapegrad as tf`` (trailing blank lines of a cell are dropped).

Usage: python tools/make_notebooks.py [--seeds DIR] [--guide PUBLISHED.ipynb ...]
       [--mirror DIR] [--dump]
(--guide and --mirror say where the published guides are read from; see
tools/guide_notebooks.py.)
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEEDS = ROOT.parent / "shared" / "seeds"
NOTEBOOKS = ROOT / "notebooks"
EXPECTATIONS = ROOT / "tests" / "notebook_expectations.json"

HEADER = re.compile(r"^In \[(\d+)\]:\s*$")
TF_IMPORT = "import tensorflow as tf"
TG_IMPORT = "import tapegrad as tf"

# Hand-checked cuts for blocks the rules above cannot settle. Keys are
# (seed basename, In-label). "code": number of block lines that are code;
# "out": number of output lines after the one blank separator; "stream":
# where that output went. Lines after the output are markdown.
SPLIT_OVERRIDES = {
    # The only output is one stderr line of an h5py FutureWarning, indented like
    # code; it is environment noise, not something tapegrad should print.
    ("002_533deeae14ebb8b7", "1"): {"code": 3, "out": 1, "stream": "stderr",
                                     "noise": True},
}

# Cells whose documented output is not reproducible by design (see nbcheck).
# "values": an expression evaluated in the kernel after the run; the numbers
# shown by the cell must equal it (derived: y = x @ w + b, loss = mean(y**2),
# so dloss/db = y[0] and dloss/dw = outer(x[0], y[0])).
_X = "_np.asarray(x, _np.float32)"
_Y0 = f"({_X} @ w.numpy() + b.numpy())[0]"
_OUTER = f"_np.outer({_X}[0], {_Y0})"
SPECIAL_CHECKS = {
    ("003_aae8814976d2c4b4", "1"): {"check": "version"},
    ("004_6a5d4776abd4aa66", "9"): {"check": "random", "values": "w.numpy()"},
    ("004_6a5d4776abd4aa66", "10"): {"check": "random", "values": _OUTER},
    ("004_6a5d4776abd4aa66", "11"): {"check": "random", "values": _Y0},
    ("004_6a5d4776abd4aa66", "13"): {"check": "random", "values": _Y0},
}

# Extra math checked in the kernel after the notebook ran: pairs of
# expressions that must be numerically equal.
KERNEL_CHECKS = {
    "004_6a5d4776abd4aa66": [
        {"name": "dl_db == y[0]", "actual": "dl_db.numpy()", "expected": _Y0},
        {"name": "dl_dw == outer(x[0], y[0])", "actual": "dl_dw.numpy()",
         "expected": _OUTER},
    ],
}

# Hand-counted from reading each seed: code cells, markdown cells, code cells
# with documented output.
MANIFEST = {
    "000_68c18637f0d3bf93": (27, 1, 14),
    "001_99c0a4625824fa2b": (18, 4, 11),
    "002_533deeae14ebb8b7": (6, 6, 1),
    "003_aae8814976d2c4b4": (6, 4, 5),
    "004_6a5d4776abd4aa66": (15, 1, 8),
}


def _blank(line):
    return not line.strip()


def _paragraphs(lines):
    """[(start, end)] index ranges of runs of non-blank lines."""
    out, start = [], None
    for i, line in enumerate(lines + [""]):
        if not _blank(line) and start is None:
            start = i
        elif _blank(line) and start is not None:
            out.append((start, i))
            start = None
    return out


def _compiles(text):
    try:
        ast.parse(text)
        return True
    except SyntaxError:
        return False


def _is_literal(line):
    try:
        ast.literal_eval(line.strip())
        return True
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def _bare_annotations(text):
    """True for text like ``y:  4.0`` that parses only as value-less annotations."""
    try:
        body = ast.parse(text).body
    except SyntaxError:
        return False
    return bool(body) and all(isinstance(s, ast.AnnAssign) and s.value is None
                              for s in body)


def _looks_like_output(par_lines):
    first = par_lines[0]
    if first.startswith(("tf.Tensor(", "<", "array(")):
        return True
    if _bare_annotations("\n".join(par_lines)):
        return True
    return all(_is_literal(line) for line in par_lines)


def _comment_only(par_lines):
    return all(line.lstrip().startswith("#") for line in par_lines)


def _result_kind(code):
    """'execute_result' if the last statement displays a value, else 'stream'."""
    body = ast.parse(code).body
    last = body[-1] if body else None
    if isinstance(last, ast.Expr):
        call = last.value
        is_print = (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                    and call.func.id == "print")
        if not is_print:
            return "execute_result"
    return "stream"


def _strip_blank_edges(lines):
    lo, hi = 0, len(lines)
    while lo < hi and _blank(lines[lo]):
        lo += 1
    while hi > lo and _blank(lines[hi - 1]):
        hi -= 1
    return lines[lo:hi]


def split_block(seed, label, lines, at_eof):
    """Cut one cell block into (code_lines, output dict or None, md_lines)."""
    override = SPLIT_OVERRIDES.get((seed, label))
    if override:
        code = lines[:override["code"]]
        o0 = override["code"] + 1
        assert _blank(lines[override["code"]]), (seed, label)
        out_lines = lines[o0:o0 + override["out"]]
        output = {"stream": override["stream"], "text": "\n".join(out_lines),
                  "noise": override.get("noise", False)}
        return _strip_blank_edges(code), output, lines[o0 + override["out"]:]

    where = f"seed {seed} In [{label}]"
    pars = _paragraphs(lines)
    end = 1
    while end < len(pars):
        s, e = pars[end]
        par = lines[s:e]
        candidate = "\n".join(lines[:e])
        if _looks_like_output(par) or not _compiles(candidate):
            break
        end += 1
    while end > 1 and _comment_only(lines[pars[end - 1][0]:pars[end - 1][1]]):
        end -= 1
    code = lines[:pars[end - 1][1]]
    rest = pars[end:]
    if not rest or lines[rest[0][0]].startswith("#"):
        md_from = rest[0][0] if rest else len(lines)
        return code, None, lines[md_from:]

    # Output: paragraphs up to the first gap of >= 2 blank lines.
    n_out = 1
    while n_out < len(rest) and rest[n_out][0] - rest[n_out - 1][1] < 2:
        n_out += 1
    out_end = rest[n_out - 1][1]
    gap_after = (rest[n_out][0] if n_out < len(rest) else len(lines)) - out_end
    kind = _result_kind("\n".join(code))
    if n_out > 1:
        raise SystemExit(f"{where}: output spans {n_out} paragraphs; add a SPLIT_OVERRIDES entry")
    if kind == "execute_result" and n_out < len(rest):
        raise SystemExit(f"{where}: displayed value followed by markdown; add a SPLIT_OVERRIDES entry")
    if not at_eof and (gap_after >= 2) != (kind == "stream"):
        raise SystemExit(f"{where}: blank lines after the output disagree with its kind {kind}; "
                         "add a SPLIT_OVERRIDES entry")
    output = {"stream": "stdout", "kind": kind,
              "text": "\n".join(lines[rest[0][0]:out_end]), "noise": False}
    return code, output, lines[rest[n_out][0]:] if n_out < len(rest) else []


def parse_seed(path):
    """Return [("markdown", text) | ("code", label, code, output)] for a seed."""
    seed = path.stem
    lines = path.read_text(encoding="utf-8").split("\n")
    heads = [i for i, line in enumerate(lines) if HEADER.match(line)]
    items = []
    preamble = _strip_blank_edges(lines[:heads[0]] if heads else lines)
    if preamble:
        items.append(("markdown", "\n".join(preamble)))
    labels = [HEADER.match(lines[h]).group(1) for h in heads]
    if len(set(labels)) != len(labels):
        raise SystemExit(f"seed {seed}: repeated In-labels")
    for n, h in enumerate(heads):
        stop = heads[n + 1] if n + 1 < len(heads) else len(lines)
        block = lines[h + 1:stop]
        code, output, md = split_block(seed, labels[n], block, stop == len(lines))
        code = _strip_blank_edges(code)
        items.append(("code", labels[n], "\n".join(code), output))
        md = _strip_blank_edges(md)
        if md:
            items.append(("markdown", "\n".join(md)))
    return items


def _translate(seed, code):
    out = [TG_IMPORT if line == TF_IMPORT else line for line in code.split("\n")]
    text = "\n".join(out)
    if "import tensorflow" in text:
        raise SystemExit(f"seed {seed}: unexpected tensorflow import form")
    if not _compiles(text):
        raise SystemExit(f"seed {seed}: code does not compile:\n{text}")
    return text


def build(seed_path):
    """Return (notebook, expectations entry) for one seed file."""
    seed = seed_path.stem
    items = parse_seed(seed_path)
    cells, expected = [], {}
    n_imports = 0
    for item in items:
        cid = f"cell-{len(cells):02d}"
        if item[0] == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(item[1], id=cid))
            continue
        _, label, code, output = item
        n_imports += code.split("\n").count(TF_IMPORT)
        entry = {"label": f"In [{label}]", "output": "", "stderr_noise": "",
                 "check": "exact"}
        if output:
            if output["noise"]:
                entry["stderr_noise"] = output["text"]
            else:
                entry["output"] = output["text"]
                entry["kind"] = output["kind"]
        entry.update(SPECIAL_CHECKS.get((seed, label), {}))
        expected[str(len(cells))] = entry
        cells.append(nbformat.v4.new_code_cell(_translate(seed, code), id=cid))
    if n_imports != 1:
        raise SystemExit(f"seed {seed}: expected one '{TF_IMPORT}', found {n_imports}")

    n_code = len(expected)
    n_md = len(cells) - n_code
    n_out = sum(1 for e in expected.values() if e["output"] or e["stderr_noise"])
    if seed in MANIFEST and MANIFEST[seed] != (n_code, n_md, n_out):
        raise SystemExit(f"seed {seed}: parsed (code, markdown, with output) = "
                         f"{(n_code, n_md, n_out)}, hand count {MANIFEST[seed]}")
    for key in SPECIAL_CHECKS:
        if key[0] == seed and not any(e["label"] == f"In [{key[1]}]" for e in expected.values()):
            raise SystemExit(f"SPECIAL_CHECKS names a missing cell {key}")

    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["tapegrad"] = {"seed": seed_path.name,
                               "generator": "tools/make_notebooks.py"}
    nbformat.validate(nb)
    entry = {"notebook": f"notebooks/{seed}.ipynb", "seed": seed_path.name,
             "cells": expected, "kernel_checks": KERNEL_CHECKS.get(seed, [])}
    return nb, entry


def dump(seed_path):
    """Print how a seed was cut, for hand checking."""
    for item in parse_seed(seed_path):
        if item[0] == "markdown":
            print("  [md]  " + item[1].replace("\n", "\n        "))
            continue
        _, label, code, output = item
        print(f"  [In {label}] " + code.replace("\n", "\n         | "))
        if output:
            tag = "stderr(noise)" if output["noise"] else output["kind"]
            print(f"    -> {tag}: " + output["text"].replace("\n", "\n       > "))


ABOUT = ("Generated by tools/make_notebooks.py from shared/seeds and, through "
         "tools/guide_notebooks.py, TF's published autodiff guides; do not edit. "
         "Keys of 'cells' are indices into nb.cells. Compared by tools/nbcheck.py.")


def load_table():
    """The expectations table as it is on disk (empty if there is none)."""
    if not EXPECTATIONS.exists():
        return {}
    return json.loads(EXPECTATIONS.read_text(encoding="utf-8"))


def write_table(table):
    """Write the expectations table: '_about' first, then notebooks by name."""
    out = {"_about": ABOUT}
    for name in sorted(k for k in table if not k.startswith("_")):
        out[name] = table[name]
    EXPECTATIONS.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    print(f"wrote {EXPECTATIONS.relative_to(ROOT)}")


def main(argv=None):
    import cnn_notebook
    import distributed_notebook
    import guide_notebooks
    import tape_notebook
    import training_notebook

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS)
    ap.add_argument("--guide", type=Path, action="append", default=[],
                    help="a published guide notebook (autodiff.ipynb, "
                         "advanced_autodiff.ipynb); others come from --mirror")
    ap.add_argument("--mirror", type=Path, default=guide_notebooks.DEFAULT_MIRROR,
                    help="a git mirror of tensorflow/docs")
    ap.add_argument("--dump", action="store_true", help="print the cuts, write nothing")
    args = ap.parse_args(argv)
    seeds = sorted(args.seeds.glob("*.txt"))
    if not seeds:
        raise SystemExit(f"no seeds in {args.seeds}")
    if args.dump:
        for path in seeds:
            print(f"== {path.name}")
            dump(path)
        return 0
    missing = set(MANIFEST) - {p.stem for p in seeds}
    if missing:
        raise SystemExit(f"seeds missing: {sorted(missing)}")
    guides = guide_notebooks.build_all(args.guide, args.mirror)  # fail before writing
    NOTEBOOKS.mkdir(exist_ok=True)
    table = {}
    for path in seeds:
        nb, entry = build(path)
        nbformat.write(nb, NOTEBOOKS / f"{path.stem}.ipynb")
        table[path.stem] = entry
        print(f"wrote notebooks/{path.stem}.ipynb ({len(nb.cells)} cells)")
    for name, nb, entry in guides:
        nbformat.write(nb, NOTEBOOKS / f"{name}.ipynb")
        table[name] = entry
        print(f"wrote notebooks/{name}.ipynb ({len(nb.cells)} cells)")
    for maker in (training_notebook, cnn_notebook, distributed_notebook,
                  tape_notebook):
        nb, entry = maker.build()
        nbformat.write(nb, NOTEBOOKS / f"{maker.NAME}.ipynb")
        table[maker.NAME] = entry
        print(f"wrote notebooks/{maker.NAME}.ipynb ({len(nb.cells)} cells)")
    write_table(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
