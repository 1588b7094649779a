"""Four published TensorFlow guides, run on tapegrad by
tools/run_published.py (the import swapped, nothing else changed).

With a tensorflow/docs mirror (../.mirror/tensorflow+docs/repo, where
tools/run_published.py reads it; external data, so the test skips without
it): each guide runs at least the number of code cells recorded here (the
README's list), and every cell that fails is one of the tool's
EXPECTED_FAILURES, each with its reason (checkpoints, SavedModel,
TensorBoard, strings, a missing attribute of the C Tensor, or a cell that
fails under TF 2.21 too).  Without the mirror, the tool itself is checked
on small notebooks of our own: cells and magics, the import swap, one
namespace, failures that carry over, the Agg backend and the timeout.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import run_published as rp  # noqa: E402

pytestmark = [
    pytest.mark.no_leak_check,
    pytest.mark.no_refleak_check(
        reason="the notebooks run in a child process"),
]

# guide -> (code cells that run, code cells counted): the README's list
RECORDED = {
    "basic_training_loops": (14, 14),
    "intro_to_modules": (31, 34),
    "custom_layers": (15, 16),
    "basics": (6, 9),
}


def _have_mirror():
    if not rp.DEFAULT_MIRROR.exists():
        return False
    return all(subprocess.run(
        ["git", "-C", str(rp.DEFAULT_MIRROR), "cat-file", "-e",
         "HEAD:" + path], capture_output=True, check=False).returncode == 0
        for path in rp.GUIDES.values())


needs_mirror = pytest.mark.skipif(not _have_mirror(),
                                  reason="no tensorflow/docs mirror")


@needs_mirror
@pytest.mark.parametrize("guide", sorted(RECORDED))
def test_published_guide_runs_on_tapegrad(guide):
    result = rp.run_notebook(guide, timeout=600)
    passed, total = RECORDED[guide]
    failing = {c["id"]: c["error"] for c in result["cells"]
               if c["status"] == "FAIL"}
    unexpected = {cid: err for cid, err in failing.items()
                  if (guide, cid) not in rp.EXPECTED_FAILURES}
    assert not unexpected, unexpected
    assert result["total"] == total
    assert result["passed"] >= passed, failing


def test_expected_failures_name_cells_of_the_guides():
    kinds = {"checkpoint", "SavedModel", "tensorboard", "strings", "C",
             "TF too"}
    for (guide, cid), (kind, why) in rp.EXPECTED_FAILURES.items():
        assert guide in rp.GUIDES and kind in kinds and why
    # the counts recorded here leave room for exactly the listed failures
    for guide, (passed, total) in RECORDED.items():
        listed = sum(1 for g, _ in rp.EXPECTED_FAILURES if g == guide)
        assert passed + listed == total, guide


# ---- the tool, on notebooks of our own --------------------------------------
def _notebook(tmp_path, *sources, name="nb"):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# x"]}]
    for i, src in enumerate(sources):
        cells.append({"cell_type": "code", "metadata": {"id": "c%d" % i},
                      "execution_count": None, "outputs": [],
                      "source": src})
    path = tmp_path / (name + ".ipynb")
    path.write_text(json.dumps({"cells": cells, "metadata": {},
                                "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_prepare_drops_magics_and_swaps_the_imports(tmp_path):
    nb = json.loads(_notebook(
        tmp_path,
        "#@title License\n# comments only",
        ["import tensorflow as tf\n", "import keras\n",
         "%load_ext tensorboard\n", "!pip install x\n", "x = 1"],
        "!ls -l\n", "%tensorboard --logdir logs").read_text())
    cells = rp.prepare(nb)
    assert [c["index"] for c in cells] == [1, 2, 3, 4]
    assert [c["skipped"] for c in cells] == [
        "comments only", None, "shell/magic only", "shell/magic only"]
    assert cells[1]["source"] == ("import tapegrad as tf\n"
                                  "from tapegrad import keras\nx = 1")
    assert cells[1]["id"] == "c1"


def test_run_reports_each_cell_and_counts(tmp_path):
    path = _notebook(
        tmp_path,
        "import tensorflow as tf\nx = tf.constant([1.0, 2.0])",
        "y = x * 2\nprint(y.numpy())",
        "z = undefined_name",
        "w = z + 1",                       # depends on the failed cell
        "import matplotlib\nimport matplotlib.pyplot as plt\n"
        "plt.plot([1, 2], [3, 4])\nplt.show()\nmatplotlib.get_backend()",
        "float(tf.reduce_sum(y))",
        "!echo shell only")
    result = rp.run_notebook(str(path))
    status = [c["status"] for c in result["cells"]]
    assert status == ["PASS", "PASS", "FAIL", "FAIL", "PASS", "PASS", "SKIP"]
    cells = result["cells"]
    assert cells[1]["output"].strip() == "[2. 4.]"
    assert cells[2]["error"] == \
        "NameError: name 'undefined_name' is not defined"
    assert cells[3]["error"] == "NameError: name 'z' is not defined"
    assert cells[4]["output"].strip().lower() == "'agg'"   # the last value
    assert cells[5]["output"].strip() == "6.0"
    assert (result["passed"], result["total"], result["skipped"]) == (4, 6, 1)
    out = subprocess.run([sys.executable, str(ROOT / "tools" /
                                              "run_published.py"),
                          str(path)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 1            # failures not expected
    assert "FAIL cell  3 [c2]" in out.stdout
    assert "nb: 4 of 6 cells run" in out.stdout


def test_run_times_out(tmp_path):
    path = _notebook(tmp_path, "x = 1", "import time\ntime.sleep(60)",
                     "y = 2")
    result = rp.run_notebook(str(path), timeout=5)
    assert [c["status"] for c in result["cells"]] == ["PASS", "FAIL", "FAIL"]
    assert result["cells"][1]["error"].startswith("timeout")
