"""Build notebooks that rerun the code of TensorFlow's two autodiff guides on tapegrad.

notebooks/guide_autodiff.ipynb           "Introduction to gradients and automatic
                                         differentiation" (site/en/guide/autodiff.ipynb)
notebooks/guide_advanced_autodiff.ipynb  "Advanced automatic differentiation"
                                         (site/en/guide/advanced_autodiff.ipynb)

A guide is named by its published file name (``autodiff``,
``advanced_autodiff``) throughout this tool; its notebook, and its key in
tests/notebook_expectations.json, is ``guide_<name>`` (notebook_name).

Each is built from the published notebook of tensorflow/docs (its JSON): a
path named on the command line (``autodiff.ipynb`` / ``advanced_autodiff.ipynb``
by file name), or else ``git show HEAD:site/en/guide/<name>.ipynb`` from a
mirror of tensorflow/docs (--mirror, default ../.mirror/tensorflow+docs/repo
beside the repository).  Only the build needs the published notebook; the
built notebooks run on their own.

The notebooks rerun every computation of the guides, in the guides' order,
with tapegrad's own explanatory text.  The code cells are the published
ones, with their cell ids and metadata, verbatim except for the changes
listed here, each with its reason: the one `import tensorflow as tf` line
becomes `import tapegrad as tf` (IMPORT_WHY) and is followed by
make_notebooks.SEED_LINE (SEED_WHY), CODE_CHANGES replaces a cell,
and DROPPED leaves out the license header cell (its copyright and license
go into the attribution at the top).  None of TF's markdown is used: every
markdown cell is tapegrad's, from tools/guide_text.py (TEXT, keyed by the
id of the code cell each text precedes; see that module's docstring).  The
notebook opens with a title, a paragraph on what it is, the attribution of
the code cells (The TensorFlow Authors, Apache License 2.0, with the link)
and the list of changes and of outputs that differ on purpose (top_note).
The build fails if a published markdown passage (paragraph, line or
sentence) longer than MIN_COPY characters appears in our markdown, or if a
published markdown run has no text of ours before its code cell.
``--verify`` compares the committed notebooks' code cells with the
published ones cell by cell and shows every difference (it fails on any
difference not listed here), and checks that no published markdown passage
longer than MIN_COPY characters appears in their markdown.

The documented outputs (DOCUMENTED) are the values the guides show, keyed by
cell id: for the introductory guide the outputs stored in the 2020 notebook
(tensorflow/docs 4c0bad2c7, the last version committed with outputs; --verify
compares them with that commit when the mirror has it) for the cells whose
code has not changed since (comments aside), and tf_semantics.md section 2.2
for the two that have; for the advanced guide, tf_semantics.md section 2.3
(the tensorflow.org rendering; its published notebook has never carried
outputs).  A code cell absent from DOCUMENTED documents no output.  They go
to tests/notebook_expectations.json with the rules tools/nbcheck.py applies:
"random" (layout, plus values derived in the kernel), "regex" (figures, float
noise), "stderr" (a warning tapegrad must give) and "edits" (a documented text
adjusted on purpose, with "why").  KERNEL_CHECKS are derived facts evaluated
in the kernel after the run.

Usage:
  python tools/guide_notebooks.py [PUBLISHED.ipynb ...] [--mirror DIR]
      write both notebooks (without outputs; tools/run_notebooks.py runs
      them) and their entries in tests/notebook_expectations.json
  python tools/guide_notebooks.py --verify [PUBLISHED.ipynb ...]
      compare the code cells of notebooks/guide_<name>.ipynb with the published
      notebooks, and check that none of their prose is copied
tools/make_notebooks.py calls build() too, so that it regenerates all nine
notebooks and the whole expectations file.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guide_text  # noqa: E402
from make_notebooks import SEED_LINE  # noqa: E402
import nbcheck  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_MIRROR = ROOT.parent / ".mirror" / "tensorflow+docs" / "repo"
PUBLISHED_PATH = "site/en/guide/{name}.ipynb"


def notebook_name(name):
    """The notebook's name (notebooks/<it>.ipynb, and its expectations key)."""
    return f"guide_{name}"
# The last tensorflow/docs commit whose autodiff.ipynb carries outputs.
OUTPUTS_2020 = "4c0bad2c72a429df22bc915de4daca30e0b59d34"

TF_IMPORT = "import tensorflow as tf"
TG_IMPORT = "import tapegrad as tf"

GUIDES = {
    "autodiff": "Introduction to gradients and automatic differentiation",
    "advanced_autodiff": "Advanced automatic differentiation",
}

# Hand-counted from the published notebooks: (code cells, markdown cells,
# code cells with a documented output).
MANIFEST = {
    "autodiff": (32, 43, 23),
    "advanced_autodiff": (39, 44, 27),
}

# ---- the changes to the published cells -----------------------------------

IMPORT_WHY = "the point of the rerun: the guide's own code, run on tapegrad"
SEED_WHY = ("so that `tf.random` draws the same values on every rerun, and "
            "the outputs saved with the notebook do not change")

SAVEDMODEL_CELL = """\
# tapegrad: no SavedModel to save or load (no graphs to export), so the
# gradient is taken through `model` itself, the object the guide saves.
v = tf.Variable(2.0)
with tf.GradientTape() as t:
  output = model.call_custom_grad(v * v)
print(t.gradient(output, v))"""

SAVEDMODEL_WHY = (
    "tapegrad is eager only: `tf.function` runs the Python function and there "
    "is no graph to serialize, so `tf.saved_model.save`, `tf.saved_model.load` "
    "and `tf.saved_model.SaveOptions` do not exist. The cell takes the same "
    "gradient through the same `tf.function` and custom gradient on `model` "
    "itself, and prints the value the guide shows for the loaded model")

# (guide, cell id) -> what replaces the published code, and why.  Besides
# these, the one `import tensorflow as tf` line of each guide becomes
# `import tapegrad as tf` (IMPORT_WHY), followed by SEED_LINE (SEED_WHY).
CODE_CHANGES = {
    ("advanced_autodiff", "xZTrgy2q-9pq"): {
        "what": "the cell that saves `model` as a SavedModel and loads it "
                "back is replaced",
        "code": SAVEDMODEL_CELL,
        "why": SAVEDMODEL_WHY,
    },
}

# (guide, cell id) -> why a published code cell is left out.
LICENSE_WHY = ("it holds nothing but comments, TensorFlow's license header; "
               "the copyright and the license are in the attribution above")
DROPPED = {
    ("autodiff", "tuOe1ymfHZPu"): LICENSE_WHY,
    ("advanced_autodiff", "tuOe1ymfHZPu"): LICENSE_WHY,
}

# The copyright line of the guide's header cell, carried into the attribution.
COPYRIGHT = re.compile(r"Copyright (\d{4}) The TensorFlow Authors")

# A published markdown passage (paragraph, line or sentence) longer than
# this, whitespace collapsed, must not appear in our markdown.
MIN_COPY = 60

# ---- what the guides document ---------------------------------------------

D2020 = "2020 stored output (tensorflow/docs 4c0bad2c7)"
S22 = "tf_semantics.md 2.2"
S23 = "tf_semantics.md 2.3 (tensorflow.org rendering)"

# Python float noise as NumPy prints a float32: 0.0 or below 1e-4.
FLOAT_NOISE = r"(?:0\.0|[1-9](?:\.\d+)?e-(?:0[5-9]|[1-9]\d))"
RETRACING_WHY = ("TensorFlow also logs two `tf.function` retracing warnings "
                 "here (a pfor artefact, not part of the documented output); "
                 "tapegrad traces nothing and logs nothing")
NOISE_WHY = ("float rounding: only `< 1e-3` is meaningful (the cell asserts "
             "it), so the value is matched as 0.0 or float32 noise")


def figure(n_axes, documented=""):
    """A cell whose output is one matplotlib figure with n_axes Axes."""
    return {"output": documented, "check": "regex",
            "pattern": rf"<Figure size \d+x\d+ with {n_axes} Axes>",
            "why": "a figure: only its number of Axes is compared (its size "
                   "is matplotlib's default, and the guide's images are not "
                   "text)"}


_X13 = "_np.asarray([[1., 2., 3.]], _np.float32)"
_Y13 = f"({_X13} @ w.numpy() + b.numpy())[0]"
_WARN = ("WARNING:tensorflow:The dtype of the {} tensor must be floating "
         "(e.g. tf.float32){}, got tf.int32\n")
_WARNINGS_63 = (_WARN.format("watched", "")
                + _WARN.format("target", " when calling GradientTape.gradient")
                + _WARN.format("source", " when calling GradientTape.gradient"))
_INFO_20 = "INFO:tensorflow:Assets written to: saved_model/assets\n"

DOCUMENTED = {
    "autodiff": {
        "LsvrwF6bHroC": {"output": "6.0", "from": D2020},
        "aYbWRFPZqk4U": {"output": "(3, 2)\n(3, 2)", "from": D2020},
        "d73cY6NOuaMd": {
            "output": "<tf.Tensor: shape=(2,), dtype=float32, numpy=array("
                      "[-2.9555566, -0.3094782], dtype=float32)>",
            "from": S22 + " (an example: w is random; the 2020 cell built "
                          "new variables and showed nothing)",
            "check": "random", "values": _Y13,
            "why": "`w` is drawn by `tf.random.normal`: compared by layout, "
                   "and with y[0] = (x @ w + b)[0] computed from `w` and `b` "
                   "(d mean(y**2)/db = y for one row of two outputs)"},
        "PR_ezr6UFrpI": {
            "output": "dense/kernel:0, shape: (3, 2)\ndense/bias:0, shape: (2,)",
            "from": D2020,
            "edits": [["dense/kernel:0", "kernel"], ["dense/bias:0", "bias"]],
            "why": "tapegrad's Dense layer names its weights as Keras 3 does "
                   "(`kernel`, `bias`, what TF 2.16+ prints); the 2020 output "
                   "shows Keras 2's `dense/kernel:0`, `dense/bias:0`"},
        "Kj9gPckdB37a": {"output": "tf.Tensor(6.0, shape=(), dtype=float32)\n"
                                   "None\nNone\nNone", "from": D2020},
        "hwNwjW1eAkib": {"output": "['x0:0']", "from": D2020},
        "tVN1QqFRDHBK": {"output": "6.0", "from": D2020},
        "e6GM-3evH1Sz": {"output": "dy/dx0: None\ndy/dx1: 0.9999546", "from": D2020},
        "7XaPRAwUyYms": {"output": "18.0", "from": D2020},
        "zZaCm3-9zVCi": {"output": "[  4. 108.]\n[2. 6.]", "from": D2020},
        "qI0sDV_WeXBb": {"output": "4.0\n-0.25", "from": D2020},
        "o4a6_YOcfWKS": {"output": "3.75", "from": D2020},
        "DArPWqsSh5un": {"output": "7.0", "from": D2020},
        "e_f2QgDPmcPE": {**figure(1, "<Figure size 432x288 with 1 Axes>"),
                         "from": D2020},
        "ciFLizhrrjy7": {"output": "tf.Tensor(1.0, shape=(), dtype=float32)\nNone",
                         "from": D2020},
        "8k05WmuAwPm7": {"output": "None", "from": D2020},
        "CU185WDM81Ut": {"output": "None", "from": D2020},
        "QPKY4Tn9zX7_": {"output": "ResourceVariable : tf.Tensor(1.0, shape=(), "
                                   "dtype=float32)\nEagerTensor : None",
                         "from": D2020},
        "jmoLCDJb_yw1": {"output": "None", "from": D2020},
        "9jlHXHqfASU3": {
            "output": _WARNINGS_63 + "None",
            "from": S22 + " (the guide's TF ~2.7 output; the cell changed "
                          "after 2020, whose log lines have this format)",
            "edits": [[_WARNINGS_63, ""]],
            # attributed to the cell's own line, not to a library's frame
            "stderr": r"(?![^\n]*site-packages)[^\n]*:\d+: UserWarning: The "
                      r"dtype of the watched tensor "
                      r"must be floating \(e\.g\. tapegrad\.float32\), got "
                      r"tapegrad\.int32\n(?:  [^\n]*\n)?",
            "why": "tapegrad warns once, for the watched integer tensor, as "
                   "recent TF does, and with a Python `UserWarning` on stderr "
                   "where TF writes log lines"},
        "C1tLeeRFE479": {"output": "None", "from": D2020},
        "HSb20FXc_V0U": {"output": "LookupError: gradient registry has no entry "
                                   "for: AdjustContrastv2", "from": D2020},
        "U6zxk1sf9Ixx": {"output": "tf.Tensor([0. 0.], shape=(2,), dtype=float32)",
                         "from": D2020},
    },
    "advanced_autodiff": {
        "mhFSYf7uQWxR": {"output": "dz/dx: tf.Tensor(4.0, shape=(), dtype=float32)"
                                   "\ndz/dy: None", "from": S23},
        "lsMHsmrh4pqM": {"output": "dz/dx: tf.Tensor(4.0, shape=(), dtype=float32)"
                                   "\ndz/dy: None", "from": S23},
        "30qnZMe48BkB": {"output": "dz/dx: tf.Tensor(4.0, shape=(), dtype=float32)"
                                   "\ndz/dy: None", "from": S23},
        "Mjj01w4NYtwd": {"output": "tf.Tensor(2.0, shape=(), dtype=float32)",
                         "from": S23},
        "xZTrgy2q-9pq": {
            "output": _INFO_20 * 2 + "tf.Tensor(2.0, shape=(), dtype=float32)",
            "from": S23, "edits": [[_INFO_20, ""]],
            "why": "the cell is replaced (no SavedModel): the same gradient, "
                   "without TF's log lines about writing the SavedModel"},
        "6ApAoMNFfNz6": {"output": "1.0", "from": S23},
        "rF1jrAJsfYW_": {"output": "0.25", "from": S23},
        "cPQgthZ7ugRJ": {"output": "dy_dx: 3.0\nd2y_dx2: 6.0", "from": S23},
        "123QMq6PqK_d": {"output": "[TensorShape([5, 10]), TensorShape([10])]",
                         "from": S23},
        "iZ6awnDzr_BA": {"output": "(201,)\n(201,)", "from": S23},
        "siNZaklc0_-e": {**figure(1), "from": S23 + " (a figure)"},
        "39YXItgLxMBk": {"output": "TensorShape([7, 10])", "from": S23},
        "CigTWyfPvPuv": {"output": "TensorShape([5, 10])", "from": S23},
        "pRLzTTbvEimH": {"output": "TensorShape([7, 10, 5, 10])", "from": S23},
        "FJjZpYRnDjVa": {
            "output": "g.shape: (5, 10)\ndelta: 2.3841858e-07", "from": S23,
            "check": "regex",
            "pattern": r"g\.shape: \(5, 10\)\ndelta: " + FLOAT_NOISE,
            "why": NOISE_WHY},
        "FVqQuZj4XGjm": {"output": "layer.kernel.shape: (5, 8)\nh.shape: (5, 8, 5, 8)",
                         "from": S23},
        "DExOxd7Ok2H0": {**figure(2), "from": S23 + " (a figure)"},
        "tQMndhIUHMes": {"output": "TensorShape([7, 6])", "from": S23},
        "1zSl2A5-HhMH": {"output": "TensorShape([7, 6, 7, 5])", "from": S23},
        "ZFl9uj3ueVSH": {**figure(2), "from": S23 + " (a figure)"},
        "g4ZoRJcJNmy5": {**figure(2), "from": S23 + " (a figure)"},
        "v65OAjEgLQwl": {"output": "(7, 6, 5)\n(7, 6, 5)", "from": S23},
        "YJLIl9WpHqYq": {"output": "TensorShape([7, 6, 5])", "from": S23,
                         "why": RETRACING_WHY},
        "-5t_q5SfHw7T": {"output": "0.0", "from": S23, "check": "regex",
                         "pattern": FLOAT_NOISE, "why": NOISE_WHY},
        "tnDugVc-L4fj": {"output": "j.shape: (7, 6, 7, 5)", "from": S23,
                         "why": RETRACING_WHY},
        "SNyZ1WhJMVLm": {**figure(2), "from": S23 + " (a figure)"},
        "k8_mICHoasCi": {"output": "jb.shape: (7, 6, 5)", "from": S23},
    },
}

# Derived facts the notebooks' variables must satisfy after the run.
KERNEL_CHECKS = {
    "autodiff": [
        {"name": "dl_dw == outer(x[0], y[0])", "actual": "dl_dw.numpy()",
         "expected": f"_np.outer({_X13}[0], {_Y13})"},
        {"name": "dy_dx == sigmoid'(x)", "actual": "dy_dx.numpy()",
         "expected": "(lambda s: s * (1 - s))"
                     "(1 / (1 + _np.exp(-_np.linspace(-10.0, 10.0, 201))))"},
    ],
    "advanced_autodiff": [
        {"name": "the Hessian is symmetric", "actual": "h_mat.numpy()",
         "expected": "h_mat.numpy().T"},
    ],
}

# ---- our markdown: the top cells, tools/guide_text.py, the copy check ----


def _first_line(code):
    lines = [ln for ln in code.split("\n") if ln.strip() and not ln.lstrip().startswith("#")]
    return lines[0].strip() if lines else code.split("\n")[0]


def top_note(name, published):
    """The list of changes to the guide's code and of outputs that differ
    from TensorFlow's on purpose, each with its reason."""
    code = {c["id"]: c["source"] for c in published if c["cell_type"] == "code"}
    changes = [f"- The Setup cell's `{TF_IMPORT}` is `{TG_IMPORT}`: {IMPORT_WHY}; "
               f"it is followed by `{SEED_LINE.split('  #')[0]}`, {SEED_WHY}."]
    for (guide, cid), why in DROPPED.items():
        if guide == name:
            first = code[cid].split("\n")[0].split(",")[0]
            changes.append(f"- The guide's cell `{first}…` is left out: {why}.")
    for (guide, cid), change in CODE_CHANGES.items():
        if guide == name:
            changes.append(f"- The guide's cell starting `{_first_line(code[cid])}`: "
                           f"{change['what']}. {change['why']} (see the note "
                           "before it).")
    outputs = ["- Tensors and Variables print `tapegrad.` where TensorFlow "
               "prints `tf.`, and a displayed NumPy scalar shows as "
               "`np.float32(6.0)` (NumPy 2) where the guide shows `6.0`."]
    grouped = {}  # why -> first lines of its cells, in the guide's order
    for cid, doc in DOCUMENTED[name].items():
        if doc.get("why") and (name, cid) not in CODE_CHANGES:
            grouped.setdefault(doc["why"], []).append(f"`{_first_line(code[cid])}`")
    for why, cells in grouped.items():
        which = (f"The cell with {cells[0]}" if len(cells) == 1 else
                 f"The cells with {', '.join(cells[:-1])} and {cells[-1]}")
        outputs.append(f"- {which}: {why}.")
    return "\n".join([
        "**Changes to the guide's code.** Every code cell is the guide's, as "
        "published, except:",
        "",
        *changes,
        "",
        "**Outputs that differ from TensorFlow's on purpose.** "
        "`python tools/run_notebooks.py` checks each cell's output against the "
        "value the guide documents; these differences are expected:",
        "",
        *outputs,
    ])


def top_cells(name, published):
    """[(cell id, markdown)] that open the notebook: title, what it is,
    where its code comes from, and what differs."""
    header = "\n".join(c["source"] for c in published[:1] if c["cell_type"] == "markdown")
    year = COPYRIGHT.search(header)
    if not year:
        raise SystemExit(f"{name}: no 'Copyright YEAR The TensorFlow Authors' in the "
                         f"guide's first cell: {header[:80]!r}")
    path = PUBLISHED_PATH.format(name=name)
    about = guide_text.ABOUT.format(title=GUIDES[name], name=name)
    attribution = guide_text.ATTRIBUTION.format(name=name, path=path, year=year.group(1))
    return [("tg-title", f"{guide_text.TITLE[name]}\n\n{about}\n\n{attribution}"),
            ("tg-changes", top_note(name, published))]


def text_cells(name, code_id):
    """[(cell id, markdown)] of tools/guide_text.py placed before a code cell."""
    text = guide_text.TEXT[name].get(code_id, ())
    texts = (text,) if isinstance(text, str) else tuple(text)
    return [(f"tg-{code_id}" + (f"-{k}" if k > 1 else ""), t)
            for k, t in enumerate(texts, 1)]


def _norm(text):
    return " ".join(text.split()).casefold()


def published_passages(published, min_len=MIN_COPY):
    """The published markdown's paragraphs, lines and sentences longer than
    min_len characters (whitespace collapsed, case folded), in order."""
    out = []
    for pc in published:
        if pc["cell_type"] != "markdown":
            continue
        for para in re.split(r"\n\s*\n", pc["source"]):
            parts = [para, *para.split("\n"), *re.split(r"(?<=[.!?:;])\s+", para)]
            for part in parts:
                norm = _norm(part)
                if len(norm) > min_len and norm not in out:
                    out.append(norm)
    return out


def copied_passages(published, markdown_texts, min_len=MIN_COPY):
    """Published markdown passages longer than min_len found in our markdown."""
    ours = _norm("\n\n".join(markdown_texts))
    return [p for p in published_passages(published, min_len) if p in ours]


# ---- reading the published notebooks --------------------------------------


def blob_sha(data):
    """git's object id of a file with these bytes (as `git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def read_published(name, paths=(), mirror=DEFAULT_MIRROR, commit="HEAD"):
    """(bytes, where) of the published notebook `name`: a path whose file
    name is NAME.ipynb, else the mirror's COMMIT:site/en/guide/NAME.ipynb."""
    for path in paths:
        if Path(path).name == f"{name}.ipynb":
            return Path(path).read_bytes(), str(path)
    spec = f"{commit}:{PUBLISHED_PATH.format(name=name)}"
    if not Path(mirror).exists():
        raise SystemExit(f"{name}: no published notebook given and no mirror at "
                         f"{mirror}; pass the path of {name}.ipynb")
    run = subprocess.run(["git", "-C", str(mirror), "show", spec],
                         capture_output=True, check=False)
    if run.returncode:
        raise SystemExit(f"git show {spec} in {mirror} failed: "
                         f"{run.stderr.decode(errors='replace').strip()}")
    return run.stdout, f"tensorflow/docs {spec}"


def published_cells(data):
    """[{"cell_type", "id", "source", "metadata"}] of a published notebook."""
    nb = json.loads(data)
    cells = []
    for c in nb["cells"]:
        src = c["source"]
        src = "".join(src) if isinstance(src, list) else src
        meta = c.get("metadata", {})
        cells.append({"cell_type": c["cell_type"], "id": meta["id"],
                      "source": src, "metadata": meta})
    ids = [c["id"] for c in cells]
    if len(set(ids)) != len(ids):
        raise SystemExit("published notebook has repeated cell ids")
    return cells


def translate(code):
    """The published code with the import line changed (and SEED_LINE after
    it); the count of changes."""
    lines = code.split("\n")
    out = [f"{TG_IMPORT}\n{SEED_LINE}" if line == TF_IMPORT else line for line in lines]
    return "\n".join(out), sum(a != b for a, b in zip(lines, out))


def _compiles(text):
    try:
        ast.parse(text)
        return True
    except SyntaxError:
        return False


def _kind(code, doc):
    if doc.get("pattern", "").startswith("<Figure"):
        return "display_data"
    body = ast.parse(code).body
    last = body[-1] if body else None
    if isinstance(last, ast.Expr) and not (
            isinstance(last.value, ast.Call) and isinstance(last.value.func, ast.Name)
            and last.value.func.id == "print"):
        return "execute_result"
    return "stream"


# ---- building ---------------------------------------------------------------

def build(name, data):
    """(notebook, expectations entry) for guide `name` from its published JSON."""
    published = published_cells(data)
    documented = DOCUMENTED[name]
    code_ids = {c["id"] for c in published if c["cell_type"] == "code"}
    dropped = {cid for g, cid in DROPPED if g == name}
    for what, table in (("DOCUMENTED", documented),
                        ("CODE_CHANGES", {cid for g, cid in CODE_CHANGES if g == name}),
                        ("DROPPED", dropped),
                        ("guide_text.TEXT", guide_text.TEXT[name])):
        missing = set(table) - code_ids
        if missing:
            raise SystemExit(f"{name}: {what} names code cells the guide lacks: "
                             f"{sorted(missing)}")
        if what != "DROPPED" and set(table) & dropped:
            raise SystemExit(f"{name}: {what} names dropped cells: "
                             f"{sorted(set(table) & dropped)}")

    cells, expected = [], {}
    n_imports = 0
    published_md = False  # a published markdown run since the last code cell
    for i, pc in enumerate(published):
        if pc["cell_type"] == "markdown":
            published_md = True  # replaced by ours before the next code cell
            continue
        if pc["cell_type"] != "code":
            raise SystemExit(f"{name} [{i}]: unexpected cell type {pc['cell_type']}")
        if pc["id"] in dropped:
            published_md = False  # the header run goes with the header cell
            continue
        if not cells:
            cells += [nbformat.v4.new_markdown_cell(text, id=cid)
                      for cid, text in top_cells(name, published)]
        ours = text_cells(name, pc["id"])
        if published_md and not ours:
            raise SystemExit(f"{name} [{i}] {pc['id']}: the guide has markdown before "
                             "this code cell and tools/guide_text.py has no text for it")
        published_md = False
        cells += [nbformat.v4.new_markdown_cell(text, id=cid) for cid, text in ours]

        meta = dict(pc["metadata"])
        change = CODE_CHANGES.get((name, pc["id"]))
        if change:
            code = change["code"]
        else:
            code, n = translate(pc["source"])
            n_imports += n
        if "import tensorflow" in code or not _compiles(code):
            raise SystemExit(f"{name} [{i}] {pc['id']}: code does not compile "
                             "or still imports tensorflow")
        doc = documented.get(pc["id"], {"output": ""})
        if doc.get("edits"):
            nbcheck.apply_edits(doc["output"], doc["edits"])  # each applies
        if doc.get("check", "exact") != "exact" or doc.get("edits") or doc.get("stderr"):
            if not doc.get("why"):
                raise SystemExit(f"{name} {pc['id']}: a special rule needs a 'why'")
        entry = {"label": f"guide [{i}] {pc['id']}", "output": doc["output"],
                 "stderr_noise": "", "check": doc.get("check", "exact")}
        for key in ("pattern", "values", "edits", "stderr", "why", "from"):
            if key in doc:
                entry[key] = doc[key]
        if doc["output"] or "pattern" in doc:
            entry["kind"] = _kind(code, doc)
        expected[str(len(cells))] = entry
        cells.append(nbformat.v4.new_code_cell(code, id=pc["id"], metadata=meta))
    if published_md:
        raise SystemExit(f"{name}: the guide ends with markdown, which has no code "
                         "cell to key our text by")
    copied = copied_passages(published, [c.source for c in cells
                                         if c.cell_type == "markdown"])
    if copied:
        raise SystemExit(f"{name}: tools/guide_text.py copies {len(copied)} published "
                         "passage(s):\n" + "\n".join(f"  {p}" for p in copied))
    if n_imports != 1:
        raise SystemExit(f"{name}: expected one '{TF_IMPORT}' line, found {n_imports}")

    counts = (sum(c["cell_type"] == "code" for c in published),
              sum(c["cell_type"] == "markdown" for c in published),
              len(documented))
    if counts != MANIFEST[name]:
        raise SystemExit(f"{name}: published (code, markdown, documented) = {counts}, "
                         f"hand count {MANIFEST[name]}")

    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["tapegrad"] = {"generator": "tools/guide_notebooks.py",
                               "guide": f"tensorflow/docs {PUBLISHED_PATH.format(name=name)}",
                               "published_blob": blob_sha(data),
                               "text": "tapegrad's own, from tools/guide_text.py"}
    nbformat.validate(nb)
    entry = {"notebook": f"notebooks/{notebook_name(name)}.ipynb",
             "guide": PUBLISHED_PATH.format(name=name),
             "cells": expected, "kernel_checks": KERNEL_CHECKS.get(name, [])}
    return nb, entry


def build_all(paths=(), mirror=DEFAULT_MIRROR):
    """[(notebook name, notebook, entry)] for both guides."""
    out = []
    for name in GUIDES:
        data, _ = read_published(name, paths, mirror)
        out.append((notebook_name(name), *build(name, data)))
    return out


# ---- verification ---------------------------------------------------------

def _diff(a, b, where):
    return ["      " + line for line in difflib.unified_diff(
        a.split("\n"), b.split("\n"), "published", where, lineterm="", n=1)]


def verify(name, data, committed, where):
    """(report lines, number of problems): the committed notebook's code cells
    against the published ones (every difference not listed in this tool is
    a problem), and every published markdown passage longer than MIN_COPY
    characters found in its markdown (ours by design, never copied)."""
    published = published_cells(data)
    lines, problems = [], 0
    by_id = {c.get("id"): (j, c) for j, c in enumerate(committed.cells)}
    order = []
    tally = {"code identical": 0, "code changed as listed": 0,
             "code left out as listed": 0}
    for i, pc in enumerate(published):
        if pc["cell_type"] != "code":
            continue
        tag = f"[{i}] {pc['id']} code"
        dropped = DROPPED.get((name, pc["id"]))
        if dropped:
            if pc["id"] in by_id:
                lines.append(f"  ! {tag}: listed as left out, but present in {where}")
                problems += 1
            else:
                lines.append(f"  - {tag}: left out (listed: {dropped})")
                tally["code left out as listed"] += 1
            continue
        if pc["id"] not in by_id:
            lines.append(f"  ! {tag}: missing from {where}")
            problems += 1
            continue
        j, cc = by_id[pc["id"]]
        order.append(j)
        if cc.cell_type != "code":
            lines.append(f"  ! {tag}: is a {cc.cell_type} cell in {where}")
            problems += 1
            continue
        if cc.source == pc["source"]:
            tally["code identical"] += 1
            continue
        change = CODE_CHANGES.get((name, pc["id"]))
        if change and cc.source == change["code"]:
            lines.append(f"  ~ {tag}: replaced (listed: {change['why']})")
        elif not change and cc.source == translate(pc["source"])[0]:
            lines.append(f"  ~ {tag}: import line and seed (listed: {IMPORT_WHY}; "
                         f"{SEED_WHY})")
        else:
            lines.append(f"  ! {tag}: differs, not listed in tools/guide_notebooks.py")
            lines += _diff(pc["source"], cc.source, where)
            problems += 1
            continue
        tally["code changed as listed"] += 1
        lines += _diff(pc["source"], cc.source, where)
    if order != sorted(order):
        lines.append(f"  ! the published code cells are in another order in {where}")
        problems += 1
    code_ids = {pc["id"] for pc in published if pc["cell_type"] == "code"}
    markdown_ids = {pc["id"] for pc in published if pc["cell_type"] == "markdown"}
    ours = []
    for j, cc in enumerate(committed.cells):
        if cc.cell_type == "code" and cc.get("id") not in code_ids:
            lines.append(f"  ! cell {j} ({cc.get('id')}): a code cell not in the "
                         "published guide")
            problems += 1
        elif cc.cell_type == "markdown":
            ours.append(cc.source)
            if cc.get("id") in markdown_ids:
                lines.append(f"  ! cell {j} ({cc.get('id')}): has the id of a published "
                             "markdown cell; our markdown is tapegrad's own")
                problems += 1
    copied = copied_passages(published, ours)
    for passage in copied:
        lines.append(f"  ! published markdown copied: {passage[:72]}...")
    problems += len(copied)
    n_code = sum(pc["cell_type"] == "code" for pc in published)
    counts = ", ".join(f"{v} {k}" for k, v in tally.items())
    head = (f"{where}: {n_code} published code cells: {counts}; {len(ours)} "
            f"markdown cells of tapegrad's, {len(copied)} of "
            f"{len(published_passages(published))} published passages over "
            f"{MIN_COPY} characters copied; {problems} problem(s)")
    return [head] + lines, problems


def check_documented_2020(mirror=DEFAULT_MIRROR):
    """Compare DOCUMENTED["autodiff"] with the outputs stored in 2020, for the
    cells whose code (comments aside) is unchanged.  (report lines, problems)"""
    try:
        old, _ = read_published("autodiff", (), mirror, OUTPUTS_2020)
        new, _ = read_published("autodiff", (), mirror)
    except SystemExit as exc:
        return [f"documented outputs: not cross-checked ({exc})"], 0
    stored = {}
    for c in json.loads(old)["cells"]:
        texts = []
        for out in c.get("outputs", []):
            text = out.get("text", out.get("data", {}).get("text/plain", ""))
            texts.append("".join(text) if isinstance(text, list) else text)
        stored[c["metadata"]["id"]] = ("".join(c["source"]), "".join(texts).rstrip("\n"))
    lines, bad, same = [], 0, 0
    for pc in published_cells(new):
        if pc["cell_type"] != "code" or pc["id"] not in stored:
            continue
        old_src, old_out = stored[pc["id"]]
        if ast.dump(ast.parse(old_src)) != ast.dump(ast.parse(pc["source"])):
            continue  # changed since 2020: documented from tf_semantics.md
        doc = DOCUMENTED["autodiff"].get(pc["id"], {"output": ""})
        if doc["output"] != old_out:
            lines.append(f"  ! {pc['id']}: DOCUMENTED {doc['output']!r} != stored {old_out!r}")
            bad += 1
        else:
            same += 1
    lines.insert(0, f"documented outputs of autodiff: {same} cells equal the outputs "
                    f"stored at tensorflow/docs {OUTPUTS_2020[:9]}, {bad} differ")
    return lines, bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("published", nargs="*", type=Path,
                    help="autodiff.ipynb and/or advanced_autodiff.ipynb as published")
    ap.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR,
                    help="a git mirror of tensorflow/docs (for guides not given)")
    ap.add_argument("--verify", action="store_true",
                    help="compare the code cells of notebooks/ with the published guides "
                         "and check that no published prose is copied; write nothing")
    args = ap.parse_args(argv)
    for path in args.published:
        if path.stem not in GUIDES or path.suffix != ".ipynb":
            raise SystemExit(f"{path}: expected one of "
                             + ", ".join(f"{n}.ipynb" for n in GUIDES))

    if args.verify:
        failed = 0
        for name in GUIDES:
            data, source = read_published(name, args.published, args.mirror)
            path = NOTEBOOKS / f"{notebook_name(name)}.ipynb"
            committed = nbformat.read(path, as_version=4)
            lines, problems = verify(name, data, committed, str(path.relative_to(ROOT)))
            print(f"{source} (blob {blob_sha(data)[:12]}) vs " + lines[0])
            print("\n".join(lines[1:]))
            failed += problems
        lines, bad = check_documented_2020(args.mirror)
        print("\n".join(lines))
        return 1 if failed or bad else 0

    import make_notebooks  # the expectations file's one writer

    table = make_notebooks.load_table()
    NOTEBOOKS.mkdir(exist_ok=True)
    for name, nb, entry in build_all(args.published, args.mirror):
        nbformat.write(nb, NOTEBOOKS / f"{name}.ipynb")
        table[name] = entry
        n_code = sum(c.cell_type == "code" for c in nb.cells)
        print(f"wrote notebooks/{name}.ipynb ({len(nb.cells)} cells, {n_code} code)")
    make_notebooks.write_table(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
