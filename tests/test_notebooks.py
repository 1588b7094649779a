"""Run each notebook in a Jupyter kernel and check its documented values.

One test per notebook in tests/notebook_expectations.json (the five seed
tutorials, TF's two autodiff guides, training and cnn): the notebook is run from memory with
nbclient (the file in notebooks/ is not overwritten; the executed copy goes to
pytest's tmp_path), the notebooks' own asserts run as written and every code
cell's output must match the documented one, up to the rules in
tools/nbcheck.py. Needs tapegrad importable (pip install -e .).
"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import nbcheck  # noqa: E402

# Notebooks run in a separate kernel process: the host-side leak check of
# tests/conftest.py has nothing to measure here.
pytestmark = [
    pytest.mark.no_leak_check,
    pytest.mark.no_refleak_check(
        reason="each notebook runs in a Jupyter kernel process; a rerun "
               "measures the kernel client, not tapegrad"),
]

EXPECTATIONS = nbcheck.load_expectations()


def test_every_notebook_has_expectations():
    on_disk = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert on_disk == set(EXPECTATIONS)


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_notebook(name, tmp_path):
    import nbformat

    entry = EXPECTATIONS[name]
    result = nbcheck.run_notebook(ROOT / entry["notebook"], entry)
    nbformat.write(result.nb, tmp_path / f"{name}.ipynb")
    assert result.ok, f"{name}: {len(result.problems)} problem(s)\n" + "\n".join(result.problems)


def test_rerun_leaves_the_committed_notebook_alone(tmp_path):
    """The README's command (tools/run_notebooks.py) writes its executed
    copies elsewhere (build/notebooks/ by default; here --out), never over
    notebooks/, so rerunning keeps the git tree clean; and a notebook
    without timings reruns to the outputs committed with it."""
    import nbformat
    import run_notebooks

    path = ROOT / "notebooks" / "seed_002_gradient_tape_tf2_alpha.ipynb"
    before = path.read_bytes()
    assert run_notebooks.main([str(path), "--out", str(tmp_path)]) == 0
    assert path.read_bytes() == before
    executed = nbformat.read(tmp_path / path.name, as_version=4)
    committed = nbformat.reads(before.decode("utf-8"), as_version=4)
    assert [c.get("outputs") for c in executed.cells] == \
        [c.get("outputs") for c in committed.cells]
    assert [c.get("execution_count") for c in executed.cells] == \
        [c.get("execution_count") for c in committed.cells]
