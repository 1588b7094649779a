"""A bounded slice of each fuzz harness, in the regular suite.

fuzz/slice.py feeds seeded random bytes (the same ones every run) through
the harness's TestOneInput, decoded by fuzzlib's pure-Python Provider, so
no atheris and no coverage guidance: what a few thousand random inputs of
the widened vocabulary reach (every public function, method and attribute
with Tensors of every dtype and rank, NumPy junk and lying objects in
every slot).  The corpus replay (test_fuzz_seeds.py) keeps what the
coverage-guided fuzzer found; this looks a little further each run of
the suite.

It runs in a child process with -X faulthandler and the address space
capped at 4 GiB, as test_fuzz_seeds.py does (off under tools/run_asan.sh,
whose shadow memory cannot live under a cap), so a crash fails this test
instead of killing the run.  On failure the message holds the child's
output (the finding's traceback, or faulthandler's stack) and the input's
bytes: save them as fuzz/corpus/<harness>/crash-<name>, minimise with
`python fuzz/<harness>.py -minimize_crash=1 -runs=3000 FILE` under
tools/run_fuzz.sh's sanitized build, and read them with
`FUZZ_VERBOSE=1 python fuzz/<harness>.py FILE`.
"""
import pathlib
import subprocess
import sys
import textwrap

import pytest

FUZZ = pathlib.Path(__file__).resolve().parent.parent / "fuzz"
SEED = "suite-1"
# inputs per harness: a few seconds each (fuzz_ops ~0.3 ms an input,
# fuzz_tape's sequences of up to 48 actions ~2 ms)
COUNTS = {"fuzz_ops": 12000, "fuzz_tape": 1500}

RUN = textwrap.dedent("""
    import os, resource, sys
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    sys.path.insert(0, sys.argv[1])
    import slice
    sys.exit(slice.main(sys.argv[2:]))
""")


@pytest.mark.no_refleak_check(reason="the work is done in a child process")
@pytest.mark.parametrize("harness", sorted(COUNTS))
def test_random_slice_of_the_harness_finds_nothing(harness, tmp_path):
    assert (FUZZ / (harness + ".py")).exists()
    current = tmp_path / "current"
    p = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", RUN, str(FUZZ),
         harness, "--seed", SEED, "--count", str(COUNTS[harness]),
         "--current", str(current)],
        capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    if p.returncode != 0:
        data = current.read_bytes() if current.exists() else b""
        pytest.fail("%s\n\nthe input (%s, exit status %d): "
                    "bytes.fromhex(%r)" % (out[-6000:], harness,
                                           p.returncode, data.hex()))
    assert "slice: %s: %d inputs" % (harness, COUNTS[harness]) in out, out


def test_every_harness_has_a_slice():
    harnesses = sorted(p.stem for p in FUZZ.glob("fuzz_*.py"))
    assert harnesses == sorted(COUNTS)
