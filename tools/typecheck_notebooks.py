"""Type-check the notebooks' code against tapegrad's stubs.

    python tools/typecheck_notebooks.py [NOTEBOOK ...]

Joins each notebook's code cells (notebooks/*.ipynb, as
tools/run_notebooks.py finds them; IPython magics and shell lines
dropped) into build/notebook_scripts/<name>.py and runs mypy over them
with this checkout on MYPYPATH, in --strict mode less three flags
(PROFILE): the tutorials' own functions are TF's code, unannotated and
kept unchanged (--allow-untyped-defs, --allow-untyped-calls), and a
notebook reuses names from cell to cell (--allow-redefinition).
Everything --strict checks about how the code uses tapegrad stays on.
Prints mypy's report and the number of errors per notebook; the
notebooks themselves are never changed.  Exit status: mypy's.
tests/test_typing.py runs it and names the errors that remain and why.
"""
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "notebook_scripts"
PROFILE = ["--strict", "--allow-untyped-defs", "--allow-untyped-calls",
           "--allow-redefinition", "--ignore-missing-imports"]


def script_of(path):
    nb = json.loads(path.read_text())
    parts = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        lines = [("pass  # " + ln) if ln.lstrip().startswith(("%", "!"))
                 else ln for ln in src.splitlines()]
        parts.append("# cell %d\n%s\n" % (i, "\n".join(lines)))
    return "\n".join(parts)


def main(argv):
    paths = [Path(a) for a in argv] or sorted(
        (ROOT / "notebooks").glob("*.ipynb"))
    OUT.mkdir(parents=True, exist_ok=True)
    scripts = []
    for path in paths:
        script = OUT / (path.stem + ".py")
        script.write_text(script_of(path))
        scripts.append(script)
    env = dict(os.environ, MYPYPATH=str(ROOT))
    r = subprocess.run(
        [sys.executable, "-m", "mypy", *PROFILE, "--cache-dir",
         str(ROOT / "build" / ".mypy_cache"), "--no-error-summary",
         *map(str, scripts)],
        cwd=ROOT, env=env, capture_output=True, text=True)
    sys.stdout.write(r.stdout + r.stderr)
    errors = Counter(line.split(":", 1)[0] for line in r.stdout.splitlines()
                     if ": error:" in line)
    for script in scripts:
        rel = os.path.relpath(script, ROOT)
        print("%4d errors  %s" % (errors.get(rel, 0), rel))
    print("%4d errors in %d notebooks" % (sum(errors.values()),
                                           len(scripts)))
    return r.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
