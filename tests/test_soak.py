"""Long-running-program checks (reliability plan C5, G1): memory stays flat
over 1e5 tape steps, a chain of 1e6 ops neither overflows the C stack in
the sweep nor in deallocation, and the interpreter shuts down cleanly with
tapes and variables still alive.  Crash-type cases run in a subprocess.
"""
import gc
import subprocess
import sys
import textwrap

import pytest

import tapegrad as tf

# The soak tests already repeat their step 2e4..1e5 times and bound the RSS
# growth; the chain and shutdown tests run in a child process and check its
# exit status and counters.  Re-running them would only cost minutes.
pytestmark = pytest.mark.no_refleak_check(
    reason="soak loops bound RSS themselves; the others run in a subprocess")


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _soak(step, n, warmup):
    for _ in range(warmup):
        step()
    gc.collect()
    start = _rss_bytes()
    for _ in range(n):
        step()
    gc.collect()
    return _rss_bytes() - start


def test_soak_first_order_steps_keep_rss_flat():
    w = tf.Variable([[0.5, -0.2], [0.1, 0.3]])
    b = tf.Variable([0.1, -0.1])
    x = tf.constant([[1.0, 2.0]])

    def step():
        with tf.GradientTape() as tape:
            y = tf.nn.sigmoid(x @ w + b)
            loss = tf.reduce_mean(y * y)
        tape.gradient(loss, [w, b])

    assert _soak(step, 100_000, 10_000) < 1 << 20


def test_soak_nested_second_order_keeps_rss_flat():
    x = tf.Variable(0.7)

    def step():
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                y = tf.math.sin(x) * x
            g = inner.gradient(y, x)
        outer.gradient(g, x)

    assert _soak(step, 20_000, 2_000) < 1 << 20


def test_soak_persistent_two_gradients_and_del_keep_rss_flat():
    x = tf.constant([0.3, 0.6])

    def step():
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = tf.reduce_sum(tf.math.exp(x) * x)
            z = y * y
        tape.gradient(z, x)
        tape.gradient(y, x)
        del tape

    assert _soak(step, 20_000, 2_000) < 1 << 20


def _run(code, timeout=600):
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c",
                        textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, (p.returncode, p.stderr[-3000:])
    assert "Fatal Python error" not in p.stderr
    return p.stdout


def test_million_op_chain_gradient_and_release():
    out = _run("""
        import tapegrad as tf
        from tapegrad import _tapegrad as C
        x = tf.constant(1.0)
        with tf.GradientTape() as t:
            t.watch(x)
            y = x
            for _ in range(1_000_000):
                y = y * 1.0
        g = t.gradient(y, x)
        print(float(g))
        del t, y, g
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            y = x
            for _ in range(1_000_000):
                y = y + 0.0
        del t, y
        print(C._live_counts()["TapeEntry"])
    """)
    assert out.split() == ["1.0", "0"]


def test_ctrl_c_interrupts_a_long_sweep_and_leaves_nothing_behind():
    # The reverse sweep is one C call; it polls for signals so Ctrl-C stops
    # a long gradient.  The alarm fires a quarter into a sweep; its handler
    # asks the tape for another gradient, which says whether the sweep was
    # still running (the signal was handled inside it) or already over (it
    # was handled after the call returned).  The interrupted gradient must
    # then release every tape entry, saved tensor and partial gradient.
    out = _run("""
        import signal, time
        import tapegrad as tf
        from tapegrad import _tapegrad as C

        def chain(n):
            x = tf.constant(1.0)
            with tf.GradientTape() as t:
                t.watch(x)
                y = x
                for _ in range(n):
                    y = y * 1.0
            return t, x, y

        t, x, y = chain(300_000)
        start = time.perf_counter()
        t.gradient(y, x)
        full = time.perf_counter() - start
        del t, x, y
        baseline = C._live_counts()

        seen = []
        def interrupt(signum, frame):
            try:
                t.gradient(y, x)
            except RuntimeError as e:
                seen.append(str(e))
            raise KeyboardInterrupt
        signal.signal(signal.SIGALRM, interrupt)
        t, x, y = chain(300_000)
        signal.setitimer(signal.ITIMER_REAL, full / 4)
        try:
            t.gradient(y, x)
        except KeyboardInterrupt:
            print("interrupted:", seen[0])
        signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            t.gradient(y, x)
        except RuntimeError as e:
            print("used up:", e)
        del t, x, y
        print(C._live_counts() == baseline)
    """)
    lines = out.splitlines()
    assert lines[0] == ("interrupted: GradientTape.gradient is already "
                        "running on this tape")
    assert lines[1].startswith("used up: A non-persistent GradientTape can only")
    assert lines[2] == "True"


def test_interpreter_shutdown_with_live_tapes_variables_and_threads():
    out = _run("""
        import threading, tapegrad as tf
        v = tf.Variable([1.0, 2.0], name="kept")
        persistent = tf.GradientTape(persistent=True)
        persistent.__enter__()          # left open on purpose
        y = v * v
        outer = tf.GradientTape()
        outer.__enter__()
        started = threading.Event()
        def worker():
            with tf.GradientTape() as t:
                t.watch(tf.constant(1.0))
                started.set()
                threading.Event().wait()   # never returns: daemon thread
        threading.Thread(target=worker, daemon=True).start()
        started.wait()
        print("exiting")
    """)
    assert out.strip() == "exiting"
