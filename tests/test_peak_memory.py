"""Peak memory: an op's working memory stays a small multiple of its inputs
plus output, and an impossible size is TF's OOM error (or a ValueError) up
front, not an OOM kill.

Each measurement runs in a fresh interpreter under an address-space cap
(RLIMIT_AS), so a regression fails the test instead of the machine.  Peak
RSS is the kernel's high-water mark (VmHWM), reset through
/proc/self/clear_refs just before the call; the extra peak over the RSS
just before it is what the call itself needed.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _tapegrad as C

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PRELUDE = """
import re, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (%d, %d))
import numpy as np
import tapegrad as tf

def _status(key):
    with open("/proc/self/status") as f:
        return int(re.search(key + r":\\s+(\\d+)", f.read()).group(1)) * 1024

def extra_peak(fn):
    '''(result, bytes of peak RSS above the RSS before the call)'''
    base = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    out = fn()
    return out, _status("VmHWM") - base
"""


def run_child(code, cap_gib=2):
    """Run `code` in a fresh interpreter with the address space capped at
    `cap_gib`; its stdout."""
    cap = cap_gib << 30
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run(
        [sys.executable, "-c", PRELUDE % (cap, cap) + textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert p.returncode == 0, "rc=%s\n%s" % (p.returncode, p.stderr[-3000:])
    return p.stdout


def _can_reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


needs_hwm = pytest.mark.skipif(not _can_reset_peak(),
                               reason="needs /proc/self/clear_refs (Linux)")


# ---- random ops: the output's bytes, not three times them -------------------------
@needs_hwm
@pytest.mark.parametrize("op", ["normal", "uniform", "truncated_normal"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_random_ops_peak_is_about_their_output(op, dtype):
    # 2**24 elements: 32..128 MiB of output.  They used to draw float64 and
    # convert (truncated_normal also redrew its rejects in whole arrays):
    # 3x..8x the output.  Now: one output buffer, filled in chunks.
    out = run_child("""
        f = tf.random.%s
        f((100,), dtype=tf.%s)                         # warm up
        t, extra = extra_peak(lambda: f((1 << 24,), dtype=tf.%s))
        print(extra, t.numpy().nbytes)
    """ % (op, dtype, dtype))
    extra, nbytes = map(int, out.split())
    assert extra <= 1.2 * nbytes, (extra / nbytes, extra, nbytes)


def test_random_draws_stay_in_their_bounds_across_chunks():
    n = 3 * tf.random.CHUNK + 5                  # several chunks and a tail
    tf.random.set_seed(11)
    for dt in (tf.float16, tf.float32, tf.float64):
        x = tf.random.truncated_normal((n,), mean=-3.0, stddev=0.5, dtype=dt).numpy()
        assert x.dtype == dt.as_numpy_dtype and np.all(np.abs(x + 3.0) <= 1.0 + 1e-3)
        u = tf.random.uniform((n,), minval=2, maxval=5, dtype=dt).numpy()
        assert u.min() >= 2 and u.max() <= 5 and abs(u.astype(np.float64).mean() - 3.5) < 0.05
        z = tf.random.normal((n,), mean=1.0, stddev=2.0, dtype=dt).numpy().astype(np.float64)
        assert abs(z.mean() - 1.0) < 0.05 and abs(z.std() - 2.0) < 0.05


def test_random_results_are_read_only_and_not_copied():
    t = tf.random.normal((1000,))
    a = t.numpy()
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a.flags.writeable = True
    assert np.shares_memory(a, t.numpy())


def test_adopt_takes_only_arrays_that_own_their_data():
    a = np.arange(100.0)
    t = C._adopt(a)
    assert t.dtype == tf.float64 and np.array_equal(t.numpy(), np.arange(100.0))
    assert not a.flags.writeable                # the tensor owns it now
    with pytest.raises(TypeError):
        C._adopt(np.arange(100.0)[::2])
    with pytest.raises(TypeError):
        C._adopt([1.0, 2.0])
    with pytest.raises(TypeError):
        C._adopt(np.zeros(3, np.complex64))
