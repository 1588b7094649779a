"""tools/guide_notebooks.py: the two autodiff guides as notebooks.

Without a tensorflow/docs mirror: the committed guide notebooks agree with
the tool's tables (every listed change and its reason is in the notebook's
markdown, the expectations name the published cell ids), open with the
attribution of the code cells, and all their markdown is tools/guide_text.py's.
With the mirror (../.mirror/tensorflow+docs/repo, as tools/guide_notebooks.py
reads it): rebuilding from the published notebooks gives the committed cells
and expectations, --verify finds no code difference that is not listed, and
no published markdown passage over 60 characters is copied.
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
    return nbformat.read(ROOT / "notebooks" / f"{gn.notebook_name(name)}.ipynb",
                         as_version=4)


@pytest.mark.parametrize("name", sorted(gn.GUIDES))
def test_expectations_follow_the_published_cells(name):
    nb = committed(name)
    entry = EXPECTATIONS[gn.notebook_name(name)]
    for key, cell in entry["cells"].items():
        assert nb.cells[int(key)].cell_type == "code"
        assert cell["label"].endswith(" " + nb.cells[int(key)].id), cell["label"]
    documented = {cid for cid in gn.DOCUMENTED[name]}
    with_output = {c["label"].split()[-1] for c in entry["cells"].values()
                   if c["output"] or c.get("pattern")}
    assert with_output == documented
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    n_dropped = sum(g == name for g, _ in gn.DROPPED)
    assert n_code == gn.MANIFEST[name][0] - n_dropped == len(entry["cells"])


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
    assert "Licensed under the Apache License" not in code  # the header is left out
    for (guide, cid), why in gn.DROPPED.items():
        if guide == name:
            assert cid not in {c.id for c in nb.cells}
            assert why in markdown


@pytest.mark.parametrize("name", sorted(gn.GUIDES))
def test_the_notebook_opens_with_title_and_attribution(name):
    nb = committed(name)
    top = nb.cells[0]
    assert top.cell_type == "markdown" and top.id == "tg-title"
    assert top.source.startswith(gn.guide_text.TITLE[name] + "\n")
    assert gn.GUIDES[name] in top.source
    for needle in ("The code cells are from TensorFlow's guide",
                   f"https://www.tensorflow.org/guide/{name}",
                   gn.PUBLISHED_PATH.format(name=name),
                   "Copyright 2020 The TensorFlow Authors",
                   "[Apache License, Version 2.0](https://www.apache.org/licenses/LICENSE-2.0)",
                   "tools/run_notebooks.py"):
        assert needle in top.source, needle
    assert nb.cells[1].id == "tg-changes"
    assert nb.cells[1].source.startswith("**Changes to the guide's code.**")


@pytest.mark.parametrize("name", sorted(gn.GUIDES))
def test_every_markdown_cell_is_tapegrads_text(name):
    """The markdown is the top cells and tools/guide_text.py's TEXT, each
    just before the code cell it is keyed by; nothing else."""
    nb = committed(name)
    expected = ["tg-title", "tg-changes"]
    for cell in nb.cells:
        if cell.cell_type == "code":
            expected += [cid for cid, _ in gn.text_cells(name, cell.id)] + [cell.id]
    assert [c.id for c in nb.cells] == expected
    texts = {cid: text for code_id in gn.guide_text.TEXT[name]
             for cid, text in gn.text_cells(name, code_id)}
    for cell in nb.cells[2:]:
        if cell.cell_type == "markdown":
            assert cell.source == texts[cell.id]
            assert not cell.metadata  # none of a published cell's metadata
    assert set(gn.guide_text.TEXT[name]) <= {c.id for c in nb.cells if c.cell_type == "code"}


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
    assert entry == EXPECTATIONS[gn.notebook_name(name)]


@needs_mirror
@pytest.mark.parametrize("name", sorted(gn.GUIDES))
def test_verify_finds_only_listed_changes(name):
    data, _ = gn.read_published(name)
    lines, problems = gn.verify(name, data, committed(name), name)
    assert problems == 0, "\n".join(lines)
    n_changed = 1 + sum(g == name for g, _ in gn.CODE_CHANGES)
    n_dropped = sum(g == name for g, _ in gn.DROPPED)
    assert f"{n_changed} code changed as listed" in lines[0]
    assert f"{n_dropped} code left out as listed" in lines[0]
    assert " 0 of " in lines[0] and "copied" in lines[0]


@needs_mirror
@pytest.mark.parametrize("name", sorted(gn.GUIDES))
def test_no_published_paragraph_is_copied(name):
    data, _ = gn.read_published(name)
    published = gn.published_cells(data)
    nb = committed(name)
    ours = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert gn.copied_passages(published, ours) == []
    paragraphs = [p for c in published if c["cell_type"] == "markdown"
                  for p in c["source"].split("\n\n") if len(" ".join(p.split())) > 60]
    assert len(paragraphs) > 20
    ours_text = " ".join(" ".join(ours).split()).casefold()
    for para in paragraphs:
        assert " ".join(para.split()).casefold() not in ours_text, para
    # No published markdown cell survives, by id or by text.
    published_md = {c["id"]: c["source"] for c in published if c["cell_type"] == "markdown"}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert cell.id not in published_md
            assert cell.source not in published_md.values()


@needs_mirror
def test_verify_reports_an_unlisted_change_with_its_diff_and_a_copy():
    data, _ = gn.read_published("autodiff")
    published = gn.published_cells(data)
    nb = committed("autodiff")
    cell = next(c for c in nb.cells if c.id == "U6zxk1sf9Ixx")
    cell.source = cell.source.replace("ZERO", "NONE")
    nb.cells.insert(5, nbformat.v4.new_code_cell("extra = 1", id="extra"))
    # A published sentence, reflowed, inside one of our cells.
    sentence = next(c["source"] for c in published if c["id"] == "CR9tFAP_7cra")
    nb.cells[3].source += "\n\n" + sentence.replace(" ", "\n", 3)
    lines, problems = gn.verify("autodiff", data, nb, "edited")
    assert problems == 3, "\n".join(lines)
    text = "\n".join(lines)
    assert "U6zxk1sf9Ixx code: differs, not listed" in text
    assert "-print(tape.gradient(z, x, unconnected_gradients=tf.UnconnectedGradients.ZERO))" in text
    assert "(extra): a code cell not in the published guide" in text
    assert "! published markdown copied: once you've recorded some operations" in text


@needs_mirror
def test_documented_outputs_equal_the_2020_stored_outputs():
    lines, bad = gn.check_documented_2020()
    assert bad == 0, "\n".join(lines)
    assert "30 cells equal" in lines[0]
