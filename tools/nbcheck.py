"""Run a tutorial notebook in a Jupyter kernel and compare it with its documented outputs.

Shared by tools/run_notebooks.py and tests/test_notebooks.py, so that "PASS"
means the same thing in both: every code cell ran without raising (the
notebooks' own asserts included) and showed what the seed or guide documents,
up to the rules below. The documented outputs come from
tests/notebook_expectations.json, written by tools/make_notebooks.py and
tools/guide_notebooks.py (keys of "cells" are indices into nb.cells).

What a cell shows: its stdout text followed by the text/plain of each value it
displays (a displayed value counts as one line); its stderr is kept apart.

Normalisation rules (the only differences allowed; all else must match exactly):
  R1 Trailing newlines are ignored (the renditions do not keep them).
  R2 Module name, seed side only: ``tf.Tensor(`` -> ``tapegrad.Tensor(``,
     ``<tf.Tensor:`` -> ``<tapegrad.Tensor:``, ``<tf.Variable `` ->
     ``<tapegrad.Variable ``. tapegrad itself must print ``tapegrad.``.
  R3 NumPy 2 scalar reprs: a displayed value that is wholly a NumPy scalar repr
     (``np.float32(6.0)``, ``np.int32(3)``, ``np.True_``) compares as the bare
     value (``6.0``), which is how NumPy 1 showed ``x.numpy()``.
  R4 GradientTape reprs compare by shape: the seed's
     ``<tensorflow.python.eager.backprop.GradientTape object at 0xHEX>`` and
     tapegrad's ``<tapegrad.GradientTape object at 0xHEX>`` both become
     ``<tapegrad.GradientTape object at 0x...>``.
  R5 Cells with check "random" (values drawn by tf.random.normal): the text up
     to ``numpy=`` must match; after it, every number becomes N and spaces are
     dropped, so dtype, brackets and line layout must match. If the cell has a
     "values" expression, the numbers shown must also equal it (rtol 1e-5),
     evaluated in the kernel after the run from the notebook's own variables;
     without one only the layout is compared.
  R6 The cell with check "version" prints tapegrad's version instead of TF's
     ``2.0.0-alpha0``: it must be one line that looks like a version.
  R7 stderr: seed stderr that is environment noise ("stderr_noise", an h5py
     warning) is not expected from tapegrad; a cell's stderr must be empty,
     unless the cell has a "stderr" regex, which its whole stderr must match
     (a warning tapegrad must give, e.g. for a watched integer tensor).
  R8 Cells with check "regex": what the cell shows (after R1, R3, R4) must
     match the regex "pattern" as a whole (a figure's repr, float noise); the
     documented "output" is kept beside it for the reader.
  R9 "edits": [old, new] pairs applied in order (str.replace) to the
     documented output before R2, each a difference from TF's output made on
     purpose; "why" says why (e.g. Keras 3 weight names, TF log lines).
"why" and "from" (where the documented output comes from) are for the reader.
Also, each "kernel_checks" entry names two expressions evaluated in the kernel
after the run that must be numerically equal (e.g. dl_db == y[0]).
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTATIONS = ROOT / "tests" / "notebook_expectations.json"
KERNEL = "python3"
TIMEOUT = 120  # seconds per cell
RTOL, ATOL = 1e-5, 1e-6

_RENAMES = (("<tf.Tensor:", "<tapegrad.Tensor:"), ("tf.Tensor(", "tapegrad.Tensor("),
            ("<tf.Variable ", "<tapegrad.Variable "))
_NP_SCALAR = re.compile(r"np\.(?:float|int|uint|complex)\d+\((.*)\)|np\.(True|False)_",
                        re.DOTALL)
_TAPE_TF = re.compile(r"<tensorflow\.python\.eager\.backprop\.GradientTape object at 0x[0-9a-fA-F]+>")
_TAPE_TG = re.compile(r"<tapegrad\.GradientTape object at 0x[0-9a-fA-F]+>")
_TAPE = "<tapegrad.GradientTape object at 0x...>"
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|nan|inf)(?![\w.])")
_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?[0-9A-Za-z.+-]*")


# ---- normalisation -------------------------------------------------------

def expected_text(text):
    """Seed text after R1, R2, R4."""
    for old, new in _RENAMES:
        text = text.replace(old, new)
    return _TAPE_TF.sub(_TAPE, text).rstrip("\n")


def shown_text(cell):
    """(what the cell shows after R1, R3, R4; its stderr; its first error or None)."""
    parts, err, error = [], [], None
    for out in cell.get("outputs", []):
        kind = out["output_type"]
        if kind == "stream":
            (parts if out["name"] == "stdout" else err).append(out["text"])
        elif kind in ("execute_result", "display_data"):
            plain = out.get("data", {}).get("text/plain", "")
            match = _NP_SCALAR.fullmatch(plain)
            if match:
                plain = match.group(1) if match.group(1) is not None else match.group(2)
            if parts and not parts[-1].endswith("\n"):
                parts.append("\n")
            parts.append(plain + "\n")
        elif kind == "error" and error is None:
            error = f"{out['ename']}: {out['evalue']}".strip()
    return _TAPE_TG.sub(_TAPE, "".join(parts)).rstrip("\n"), "".join(err), error


def apply_edits(text, edits):
    """R9: the documented text with its listed edits made."""
    for old, new in edits:
        if old not in text:
            raise ValueError(f"edit {old!r} -> {new!r} does not apply to {text!r}")
        text = text.replace(old, new)
    return text


def layout(text):
    """R5: text after ``numpy=`` with numbers as N and spaces removed."""
    return re.sub(r" +", "", _NUMBER.sub("N", text))


def numbers(text):
    return [float(tok) for tok in _NUMBER.findall(text)]


def _split_numpy(text):
    cut = text.find("numpy=")
    return (text[:cut + 6], text[cut + 6:]) if cut >= 0 else ("", text)


def _close(got, want):
    import numpy as np
    if not isinstance(got, list) or not isinstance(want, list):
        return False
    got, want = np.asarray(got, float), np.asarray(want, float)
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=RTOL, atol=ATOL))


def _clip(text, n=400):
    text = repr(text)
    return text if len(text) <= n else text[:n] + "..."


# ---- comparison ------------------------------------------------------------

def compare_cell(index, expect, cell, values=None):
    """Problems (one-line strings) for one code cell; [] if it matches."""
    where = f"cell {index} ({expect['label']})"
    got, stderr, error = shown_text(cell)
    problems = []
    if error:
        problems.append(f"{where} raised {error.splitlines()[0]}")
    stderr_rule = expect.get("stderr")
    if stderr_rule is None:
        if stderr:
            problems.append(f"{where} wrote to stderr: {_clip(stderr)}")
    elif not re.fullmatch(stderr_rule, stderr):
        problems.append(f"{where} stderr does not match {stderr_rule!r}: got {_clip(stderr)}")
    if error:
        return problems
    try:
        want = expected_text(apply_edits(expect["output"], expect.get("edits", ())))
    except ValueError as exc:
        return problems + [f"{where} expectations: {exc}"]
    check = expect.get("check", "exact")
    if check == "version":
        if not _VERSION.fullmatch(got):
            problems.append(f"{where} should print a version string, got {_clip(got)}")
    elif check == "random":
        want_head, want_tail = _split_numpy(want)
        got_head, got_tail = _split_numpy(got)
        if got_head != want_head or layout(got_tail) != layout(want_tail):
            problems.append(f"{where} layout differs: expected like {_clip(want)}, got {_clip(got)}")
        elif "values" in expect:
            derived = (values or {}).get(f"cell {index}")
            if derived is None or not _close(numbers(got_tail), derived):
                problems.append(f"{where} values {numbers(got_tail)} != derived "
                                f"{expect['values']} = {derived}")
    elif check == "regex":
        if not re.fullmatch(expect["pattern"], got):
            problems.append(f"{where} output does not match {expect['pattern']!r}: got {_clip(got)}")
    elif check != "exact":
        problems.append(f"{where} has an unknown check {check!r}")
    elif got != want:
        problems.append(f"{where} output differs: expected {_clip(want)}, got {_clip(got)}")
    return problems


def compare(nb, entry, values=None):
    """Problems for a whole executed notebook against its expectations entry."""
    cells = entry["cells"]
    code = {str(i) for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    if code != set(cells):
        return ["notebook and expectations are out of sync: rerun tools/make_notebooks.py"]
    problems = []
    for key in sorted(cells, key=int):
        problems += compare_cell(int(key), cells[key], nb.cells[int(key)], values)
    for chk in entry.get("kernel_checks", []):
        got = (values or {}).get(f"actual {chk['name']}")
        want = (values or {}).get(f"expected {chk['name']}")
        if not _close(got, want):
            problems.append(f"kernel check {chk['name']} failed: {chk['actual']} = {got}, "
                            f"{chk['expected']} = {want}")
    return problems


# ---- execution -------------------------------------------------------------

_PROBE = '''\
import json as _json, numpy as _np
def _tapegrad_probe(_expr):
    try:
        return _np.asarray(eval(_expr), dtype=_np.float64).ravel().tolist()
    except Exception as _e:
        return "error: %s: %s" % (type(_e).__name__, _e)
print(_json.dumps({_k: _tapegrad_probe(_v) for _k, _v in EXPRS.items()}))
'''


def probe_exprs(entry):
    """Kernel expressions to evaluate after the run, keyed as compare() expects."""
    exprs = {}
    for key, cell in entry["cells"].items():
        if "values" in cell:
            exprs[f"cell {key}"] = cell["values"]
    for chk in entry.get("kernel_checks", []):
        exprs[f"actual {chk['name']}"] = chk["actual"]
        exprs[f"expected {chk['name']}"] = chk["expected"]
    return exprs


_warmed = False


def warm_up():
    """Build matplotlib's font cache outside the kernel, once, so its one-off
    'building the font cache' notice is not mistaken for a cell's stderr."""
    global _warmed
    if not _warmed:
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"],
                       capture_output=True, cwd=ROOT, check=False)
        _warmed = True


@dataclass
class Result:
    path: Path
    nb: object                      # the executed notebook (outputs in place)
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems

    @property
    def n_code(self):
        return sum(1 for c in self.nb.cells if c.cell_type == "code")


def run_notebook(path, entry, timeout=TIMEOUT):
    """Execute the notebook at path (not modified on disk) and compare it."""
    import nbformat
    from nbclient import NotebookClient

    warm_up()
    nb = nbformat.read(path, as_version=4)
    run = copy.deepcopy(nb)
    exprs = probe_exprs(entry)
    if exprs:
        run.cells.append(nbformat.v4.new_code_cell(_PROBE.replace("EXPRS", repr(exprs))))
    current = {"index": None}

    def on_start(cell, cell_index, **_):
        current["index"] = cell_index

    client = NotebookClient(run, timeout=timeout, kernel_name=KERNEL, allow_errors=True,
                            record_timing=False, on_cell_start=on_start,
                            resources={"metadata": {"path": str(ROOT)}})
    crash = None
    try:
        client.execute()
    except Exception as exc:  # timeout, dead kernel (e.g. a segfault), startup failure
        line = (str(exc).strip().splitlines() or [""])[0]
        crash = f"cell {current['index']}: {type(exc).__name__}: {line}"
    values = {}
    if exprs:
        probe = run.cells.pop()
        text, _, _ = shown_text(probe)
        try:
            values = json.loads(text.splitlines()[-1]) if text else {}
        except (json.JSONDecodeError, IndexError):
            values = {}
    nb.cells = run.cells
    nb.metadata = run.metadata
    problems = [f"execution stopped at {crash}"] if crash else []
    return Result(Path(path), nb, problems + compare(nb, entry, values))


_ADDRESS = re.compile(r"( object at )0x[0-9a-fA-F]+")
_KERNEL_PID = re.compile(r"ipykernel_\d+")


def _stable_text(text):
    return _KERNEL_PID.sub("ipykernel_<pid>", _ADDRESS.sub(r"\g<1>0x...", text))


def stable_outputs(nb):
    """A copy of an executed notebook whose outputs read the same on every
    rerun, so that saving it changes nothing it need not: execution counts
    1, 2, ... over the code cells; consecutive chunks of one stream merged
    (how a print is cut into messages is the kernel's timing); object
    addresses (``object at 0x...``, as R4 compares them) and the kernel's
    process id in warning paths (``ipykernel_<pid>``) masked.  Only outputs
    change; what the checks let vary (timings, figures) stays the run's."""
    nb = copy.deepcopy(nb)
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("execution_count") is not None:
            count += 1
            cell.execution_count = count
        merged = []
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                out["text"] = _stable_text(out["text"])
                if merged and merged[-1]["output_type"] == "stream" \
                        and merged[-1]["name"] == out["name"]:
                    merged[-1]["text"] += out["text"]
                    continue
            elif out["output_type"] in ("execute_result", "display_data"):
                data = out.get("data", {})
                if "text/plain" in data:
                    data["text/plain"] = _stable_text(data["text/plain"])
                if out["output_type"] == "execute_result":
                    out["execution_count"] = cell.get("execution_count")
            merged.append(out)
        cell.outputs = merged
    return nb


def load_expectations(path=EXPECTATIONS):
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}
