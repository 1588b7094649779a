"""The refleak guard (tests/refleak.py) itself: run on a throw-away test file
in a child pytest, it reports test bodies that leak on every repetition
(a module-level list that grows, a tapegrad tensor kept alive) and passes
bodies that do not (nothing kept, a cache filled once in the warm-up,
one-off noise)."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

BODIES = textwrap.dedent('''
    import numpy as np
    import pytest
    import tapegrad as tf

    _KEPT = []
    _CACHE = {}
    _NOISE = [0]

    def test_leaks_python_objects():
        _KEPT.append(object())

    def test_leaks_a_tapegrad_tensor():
        _KEPT.append(tf.constant([1.0, 2.0]) * 2.0)

    def test_leaks_a_tape_with_its_entries():
        x = tf.constant(1.0)
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            y = x * x
        _KEPT.append(t)

    def test_clean():
        x = tf.constant([1.0, 2.0])
        with tf.GradientTape() as t:
            t.watch(x)
            y = tf.reduce_sum(x * x)
        assert t.gradient(y, x).shape == (2,)

    def test_cache_filled_once():
        _CACHE.setdefault("k", [object() for _ in range(10)])

    def test_one_off_noise():
        # runs: the test, the warm-up, measured 1, measured 2: only
        # measured 1 grows (deltas [5, 0]), which is noise, not a leak
        if _NOISE[0] == 2:
            _KEPT.extend(object() for _ in range(5))
        _NOISE[0] += 1

    @pytest.mark.no_refleak_check(reason="demonstrates the exemption")
    def test_exempt_leak():
        _KEPT.append(object())

    def test_not_repeatable():
        assert not _CACHE.get("ran")
        _CACHE["ran"] = True

    @pytest.fixture
    def rng():
        return np.random.default_rng(7)

    def test_generator_replays_its_draws(rng):
        # every repetition sees the first run's inputs
        assert rng.random() == np.random.default_rng(7).random()
''')


def _child(tmp_path, *args):
    (tmp_path / "test_bodies.py").write_text(BODIES)
    env = dict(os.environ, COLUMNS="4000")   # untruncated summary lines
    env["PYTHONPATH"] = os.pathsep.join(
        [HERE, ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "refleak", "-p",
         "no:cacheprovider", "-q", "-rfE", "-o", "addopts=", *args,
         str(tmp_path / "test_bodies.py")],
        capture_output=True, text=True, timeout=300, cwd=str(tmp_path),
        env=env)
    return p.returncode, p.stdout + p.stderr


def _outcomes(out):
    return {name: status for status, name in
            re.findall(r"^(PASSED|FAILED|ERROR) \S+::(\w+)", out, re.M)}


@pytest.mark.no_refleak_check(reason="runs a child pytest; it checks the "
                              "guard, not tapegrad")
@pytest.mark.skipif(sys.getallocatedblocks() == 0,
                    reason="sys.getallocatedblocks() counts pymalloc blocks "
                    "only; PYTHONMALLOC=malloc (the sanitizer runs) leaves "
                    "the guard just the live-object counts")
def test_guard_reports_leaks_and_only_leaks(tmp_path):
    rc, out = _child(tmp_path, "-rA")
    got = _outcomes(out)
    assert got == {
        "test_leaks_python_objects": "FAILED",
        "test_leaks_a_tapegrad_tensor": "FAILED",
        "test_leaks_a_tape_with_its_entries": "FAILED",
        "test_clean": "PASSED",
        "test_cache_filled_once": "PASSED",
        "test_one_off_noise": "PASSED",
        "test_exempt_leak": "PASSED",
        "test_not_repeatable": "FAILED",
        "test_generator_replays_its_draws": "PASSED",
    }, out
    assert rc == 1
    # the message gives the per-repetition deltas, blocks and live objects
    m = re.search(r"test_leaks_a_tapegrad_tensor - AssertionError: (.*)", out)
    assert m, out
    # 2 runs, then 6 confirming ones (refleak.CONFIRM)
    assert "every one of 8 measured repetitions" in m.group(1), m.group(1)
    assert re.search(r"allocated blocks deltas \[(\d+, ){7}\d+\]",
                     m.group(1)), m.group(1)
    assert ("live-object deltas [1, 1, 1, 1, 1, 1, 1, 1] (in all: "
            "{'Tensor': 8})" in m.group(1)), m.group(1)
    m = re.search(r"test_leaks_python_objects - AssertionError: (.*)", out)
    assert "live-object" not in m.group(1), m.group(1)
    assert re.search(r"test_not_repeatable - AssertionError: refleak guard: "
                     r"repetition 1 of this passing test raised", out), out


@pytest.mark.no_refleak_check(reason="runs a child pytest; it checks the "
                              "guard, not tapegrad")
def test_guard_can_be_turned_off_and_needs_a_reason(tmp_path):
    rc, out = _child(tmp_path, "--refleak=0:0")
    assert rc == 0, out
    (tmp_path / "test_noreason.py").write_text(textwrap.dedent('''
        import pytest
        @pytest.mark.no_refleak_check
        def test_x():
            pass
    '''))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([HERE, ROOT])
    p = subprocess.run([sys.executable, "-m", "pytest", "-p", "refleak",
                        "-p", "no:cacheprovider", "-q", "-o", "addopts=",
                        str(tmp_path / "test_noreason.py")],
                       capture_output=True, text=True, timeout=300,
                       cwd=str(tmp_path), env=env)
    assert p.returncode != 0
    assert "needs reason=" in p.stdout + p.stderr
