"""Replay the fuzz corpus in the regular suite.

Every file in fuzz/corpus/<harness>/ (minimised seeds that reach distinct
coverage, and every crash reproducer the fuzzer found) goes through the
harness's own TestOneInput, which raises on a finding: SystemError, an
exception with an empty message, an unexpected exception type, a gradient
of the wrong shape, leaked tapegrad objects.  The harnesses import without
atheris; fuzz/fuzzlib.Provider then decodes the bytes as atheris would,
which fuzz/check_provider.py checks (tools/run_fuzz.sh runs it first).

Each harness replays in a child process whose address space is capped at
4 GiB, as the fuzzer's ASan caps single allocations: inputs with absurd
sizes must fail with MemoryError there instead of allocating for real, and
a crash regression fails this test instead of killing the run.  Under
tools/run_asan.sh the cap is left off (ASan's shadow memory cannot live
under it) and ASan's allocator limit plays its part.
"""
import importlib
import pathlib
import subprocess
import sys
import textwrap

import pytest

FUZZ = pathlib.Path(__file__).resolve().parent.parent / "fuzz"
# every harness there is (fuzz_ops, fuzz_tape)
HARNESSES = sorted(p.stem for p in FUZZ.glob("fuzz_*.py"))

REPLAY = textwrap.dedent("""
    import os, resource, sys, traceback
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):  # see below
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    sys.path.insert(0, sys.argv[1])
    harness = __import__(sys.argv[2])
    failed = 0
    for path in sys.argv[3:]:
        print("replaying", path, flush=True)
        try:
            with open(path, "rb") as f:
                harness.TestOneInput(f.read())
        except BaseException:
            failed += 1
            print("FAILED", path, traceback.format_exc(), flush=True)
    sys.exit(1 if failed else 0)
""")


def _harness(name):
    if str(FUZZ) not in sys.path:
        sys.path.insert(0, str(FUZZ))
    return importlib.import_module(name)


def _corpus(harness):
    return sorted((FUZZ / "corpus" / harness).iterdir())


@pytest.mark.parametrize("harness", HARNESSES)
def test_corpus_replays(harness):
    files = _corpus(harness)
    assert len(files) >= 10, "the %s corpus is missing" % harness
    p = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", REPLAY, str(FUZZ),
         harness] + [str(f) for f in files],
        capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-6000:]
    assert out.count("replaying") == len(files)
