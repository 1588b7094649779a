"""tools/guide_notebooks.py: the two autodiff guides as notebooks.

Without a tensorflow/docs mirror: the committed guide notebooks agree with
the tool's tables (every listed change and its reason is in the notebook's
markdown, the expectations name the published cell ids).  With the mirror
(../.mirror/tensorflow+docs/repo, as tools/guide_notebooks.py reads it):
rebuilding from the published notebooks gives the committed cells and
expectations, and --verify finds no difference that is not listed.
"""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import guide_notebooks as gn  # noqa: E402
import nbcheck  # noqa: E402

pytestmark = [
    pytest.mark.no_leak_check,
    pytest.mark.no_refleak_check(
        reason="reads and builds notebook files; no tapegrad objects"),
]

EXPECTATIONS = nbcheck.load_expectations()
HAVE_MIRROR = gn.DEFAULT_MIRROR.exists() and subprocess.run(
    ["git", "-C", str(gn.DEFAULT_MIRROR), "cat-file", "-e",
     "HEAD:" + gn.PUBLISHED_PATH.format(name="autodiff")],
    capture_output=True, check=False).returncode == 0
needs_mirror = pytest.mark.skipif(not HAVE_MIRROR, reason="no tensorflow/docs mirror")


def committed(name):
    return nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", sorted(gn.GUIDES))
def test_expectations_follow_the_published_cells(name):
    nb = committed(name)
    entry = EXPECTATIONS[name]
    for key, cell in entry["cells"].items():
        assert nb.cells[int(key)].cell_type == "code"
        assert cell["label"].endswith(" " + nb.cells[int(key)].id), cell["label"]
    documented = {cid for cid in gn.DOCUMENTED[name]}
    with_output = {c["label"].split()[-1] for c in entry["cells"].values()
                   if c["output"] or c.get("pattern")}
    assert with_output == documented
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    assert n_code == gn.MANIFEST[name][0] == len(entry["cells"])


@pytest.mark.parametrize("name", sorted(gn.GUIDES))
def test_every_change_is_explained_in_the_notebook(name):
    nb = committed(name)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert gn.IMPORT_WHY in markdown
    for (guide, cid), change in gn.CODE_CHANGES.items():
        if guide == name:
            cell = next(c for c in nb.cells if c.id == cid)
            assert cell.source == change["code"]
            assert change["why"] in markdown
    for why in {d["why"] for d in gn.DOCUMENTED[name].values() if "why" in d}:
        assert why in markdown or any(
            why == d.get("why") and (name, cid) in gn.CODE_CHANGES
            for cid, d in gn.DOCUMENTED[name].items())
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert code.count(gn.TG_IMPORT) == 1 and "import tensorflow" not in code
    assert nb.cells[0].source == "##### Copyright 2020 The TensorFlow Authors."
    assert "Licensed under the Apache License" in nb.cells[1].source


def test_special_rules_carry_a_reason_and_their_edits_apply():
    for name, cells in gn.DOCUMENTED.items():
        for cid, doc in cells.items():
            special = (doc.get("check", "exact") != "exact" or doc.get("edits")
                       or doc.get("stderr"))
            assert not special or doc.get("why"), (name, cid)
            assert doc.get("from"), (name, cid)
            if doc.get("edits"):
                assert nbcheck.apply_edits(doc["output"], doc["edits"]) != doc["output"]


@needs_mirror
@pytest.mark.parametrize("name", sorted(gn.GUIDES))
def test_rebuild_gives_the_committed_notebook(name):
    data, _ = gn.read_published(name)
    nb, entry = gn.build(name, data)
    old = committed(name)

    def cells(notebook):
        return [(c.cell_type, c.id, c.source, dict(c.metadata)) for c in notebook.cells]

    assert cells(nb) == cells(old)
    assert nb.metadata["tapegrad"] == old.metadata["tapegrad"]
    assert entry == EXPECTATIONS[name]


@needs_mirror
@pytest.mark.parametrize("name", sorted(gn.GUIDES))
def test_verify_finds_only_listed_changes(name):
    data, _ = gn.read_published(name)
    lines, unlisted = gn.verify(name, data, committed(name), name)
    assert unlisted == 0, "\n".join(lines)
    n_changed = 1 + sum(g == name for g, _ in gn.CODE_CHANGES)
    assert f"{n_changed} code changed as listed" in lines[0]


@needs_mirror
def test_verify_reports_an_unlisted_change_with_its_diff():
    data, _ = gn.read_published("autodiff")
    nb = committed("autodiff")
    cell = next(c for c in nb.cells if c.id == "U6zxk1sf9Ixx")
    cell.source = cell.source.replace("ZERO", "NONE")
    nb.cells.insert(5, nbformat.v4.new_markdown_cell("extra", id="extra"))
    lines, unlisted = gn.verify("autodiff", data, nb, "edited")
    assert unlisted == 2
    text = "\n".join(lines)
    assert "U6zxk1sf9Ixx code: differs, not listed" in text
    assert "-print(tape.gradient(z, x, unconnected_gradients=tf.UnconnectedGradients.ZERO))" in text
    assert "(extra): not in the published guide" in text


@needs_mirror
def test_documented_outputs_equal_the_2020_stored_outputs():
    lines, bad = gn.check_documented_2020()
    assert bad == 0, "\n".join(lines)
    assert "30 cells equal" in lines[0]
