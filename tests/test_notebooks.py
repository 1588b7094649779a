"""Run each notebook in a Jupyter kernel and check its documented values.

One test per notebook in tests/notebook_expectations.json (the five seed
tutorials and TF's two autodiff guides): the notebook is run from memory with
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
