"""The type stubs (tapegrad/**/*.pyi, PEP 561) against the runtime and
against a typed user.

- tools/make_stubs.py --check: the generated op sections match the op
  table (rerun the tool after adding an op);
- `python -m mypy.stubtest tapegrad`: every stub matches the runtime
  module it describes (names, signatures, defaults, positional-only
  parameters), with the documented exceptions of
  tools/stubtest_allowlist.txt;
- `mypy --strict` on the stubs and on tests/typed_example/example_api.py, a
  typed script over the main API (tensors, variables, GradientTape,
  gradient, a Keras Sequential with Dense, fit on NumPy arrays), which
  also runs; and a snippet with deliberate type errors that mypy must
  report, so the check can fail.

Each runs mypy in a child process with this checkout on MYPYPATH and
PYTHONPATH (an installed tapegrad may be another checkout), and mypy's
cache under build/.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

mypy = pytest.importorskip("mypy", reason="pip install mypy (the test extra)")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "typed_example" / "example_api.py"
CACHE = ROOT / "build" / ".mypy_cache"

pytestmark = [
    pytest.mark.no_leak_check,
    pytest.mark.no_refleak_check(reason="mypy runs in a child process"),
]


def _run(args, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MYPYPATH=str(ROOT))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _mypy(*args):
    return _run(["-m", "mypy", "--cache-dir", str(CACHE),
                 "--no-error-summary", "--hide-error-context", *args])


def test_generated_stubs_are_current():
    r = _run([str(ROOT / "tools" / "make_stubs.py"), "--check"])
    assert r.returncode == 0, r.stdout + r.stderr


def test_stubtest_reports_no_mismatch():
    r = _run(["-m", "mypy.stubtest", "tapegrad", "--allowlist",
              str(ROOT / "tools" / "stubtest_allowlist.txt")])
    assert r.returncode == 0 and "Success" in r.stdout, r.stdout + r.stderr


def test_strict_example_and_stubs_pass():
    r = _mypy("--strict", "-p", "tapegrad")
    assert r.returncode == 0, r.stdout + r.stderr
    r = _mypy("--strict", str(EXAMPLE))
    assert r.returncode == 0, r.stdout + r.stderr
    # and the example is true to the runtime
    r = _run([str(EXAMPLE)])
    assert r.returncode == 0, r.stdout + r.stderr


def test_strict_reports_type_errors(tmp_path):
    bad = tmp_path / "bad_use.py"
    bad.write_text(textwrap.dedent("""\
        import tapegrad as tf

        x = tf.constant([1.0, 2.0])
        v = tf.Variable(1.0)
        name: str = x.numpy()
        y: int = tf.exp(x)
        with tf.GradientTape() as tape:
            z = v * x
        g = tape.gradient(z, v)
        g.no_such_method()
        tf.reduce_sum(x, name=3)
        rank: str = x.shape.rank
    """))
    r = _mypy("--strict", str(bad))
    assert r.returncode == 1, r.stdout + r.stderr
    # by file name: mypy's cache may report the path of an earlier run's
    # tmp_path for the same module and contents
    lines = [ln for ln in r.stdout.splitlines() if ": error:" in ln]
    expected = {
        5: "incompatible types in assignment",   # ndarray is not str
        6: "incompatible types in assignment",   # Tensor is not int
        10: "attr-defined",                      # a Tensor has no such method
        11: "arg-type",                          # name= takes a str
        12: "incompatible types in assignment",  # rank is int | None
    }
    for line, what in expected.items():
        hits = [ln for ln in lines if "bad_use.py:%d:" % line in ln]
        assert hits and any(what in h.lower() for h in hits), \
            (line, what, r.stdout)
    assert len(lines) == len(expected), r.stdout


def test_notebooks_code_type_checks():
    # tools/typecheck_notebooks.py: every notebook's code under --strict
    # less the flags that would demand annotations on the tutorials' own
    # (TF's, unchanged) functions.  What remains is not tapegrad's stubs:
    known = {
        # TF's guide passes a Tensor as imshow's vmin/vmax: matplotlib's
        # annotations want a float (at runtime float(tensor) is called);
        # TF's own tensors under typeshed's stubs meet the same two
        ("guide_advanced_autodiff.py", "arg-type"): 2,
    }
    r = _run([str(ROOT / "tools" / "typecheck_notebooks.py")])
    found = {}
    for line in r.stdout.splitlines():
        if ": error:" in line:
            name = os.path.basename(line.split(":", 1)[0])
            code = line.rsplit("[", 1)[-1].rstrip("]")
            found[(name, code)] = found.get((name, code), 0) + 1
    assert found == known, r.stdout + r.stderr
