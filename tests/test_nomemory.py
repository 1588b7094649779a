"""Allocation-failure injection (reliability plan G2): regressions for what
tools/run_nomemory.py found.  Each
runs in a child process: a failure there may be a crash."""
import os
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_testcapi = pytest.importorskip("_testcapi")
if not hasattr(_testcapi, "set_nomemory"):
    pytest.skip("this Python's _testcapi has no set_nomemory",
                allow_module_level=True)

pytestmark = pytest.mark.no_refleak_check(
    reason="runs child processes that check their own live counts")


def _child(code):
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c",
                        textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert p.returncode == 0, (p.returncode, p.stdout[-2000:], p.stderr[-3000:])
    assert "Fatal Python error" not in p.stderr
    return p.stdout


HARNESS = '''
    import gc, _testcapi
    import tapegrad as tf
    from tapegrad import _tapegrad as C

    gc.collect()
    gc.freeze()     # the collections below walk only the calls' objects

    def attempt(f, start, stop, setm=_testcapi.set_nomemory,
                remove=_testcapi.remove_mem_hooks):
        r = e = None
        setm(start, stop)
        try:
            r = f()
        except BaseException as exc:
            remove()
            e = exc
        else:
            remove()
        return r, e
'''


def test_with_block_failing_for_memory_still_takes_the_tape_off_the_stack():
    # Every allocation from `start` on fails: the with statement cannot build
    # the (type, value, tb) tuple for a METH_VARARGS __exit__, and
    # PySequence_DelItem could fail to shrink the stack list.  Either way the
    # tape stayed on the thread's stack, recording every later op, never freed.
    out = _child(HARNESS + '''
    x = tf.constant([1.0, 2.0])
    def case():
        with tf.GradientTape() as t:
            t.watch(x)
            y = tf.reduce_sum(tf.math.sin(x) * x)
        return t.gradient(y, x)
    for _ in range(3):
        case()
    gc.collect()
    base = C._live_counts()
    failures = 0
    for start in range(200):
        r, e = attempt(case, start, 0)
        failures += e is not None
        r = e = None
        gc.collect()
        assert C._live_counts() == base, (start, C._live_counts(), base)
    print("ok", failures)
    ''')
    assert out.startswith("ok") and int(out.split()[1]) > 10, out
