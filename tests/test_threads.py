"""The stack of active tapes is thread-local (TF: a thread_local tape set)."""
import gc
import sys
import threading

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _tapegrad as C


def _run(target, *args):
    out = {}

    def wrap():
        try:
            out["value"] = target(*args)
        except BaseException as e:          # re-raised in the calling thread
            out["error"] = e

    th = threading.Thread(target=wrap)
    th.start()
    th.join(timeout=60)
    assert not th.is_alive()
    if "error" in out:
        raise out["error"]
    return out.get("value")


@pytest.fixture
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def test_ops_in_another_thread_are_not_recorded():
    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        before = C._live_counts()["TapeEntry"]
        y_other = _run(lambda: x * x)
        assert C._live_counts()["TapeEntry"] == before
        y_here = x * x
    assert tape.gradient(y_other, x) is None
    assert tape.gradient(y_here, x).numpy() == 6.0
    del tape


def test_variable_read_in_another_thread_is_not_watched():
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = _run(lambda: v * v)
    assert tape.gradient(y, v) is None
    assert tape.watched_variables() == ()


def test_tape_in_a_thread_does_not_see_the_callers_tape():
    x = tf.constant(2.0)
    with tf.GradientTape() as outer:
        outer.watch(x)

        def work():
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = x * x * x
            return y, inner.gradient(y, x)

        y, g = _run(work)
        assert g.numpy() == 12.0
    assert outer.gradient(y, x) is None       # recorded only on the thread's own tape


def test_gradient_of_a_finished_tape_in_another_thread():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x ** 3
    g = _run(lambda: tape.gradient(y, x))
    assert g.numpy() == 27.0


def test_first_use_in_a_new_thread():
    def work():
        x = tf.Variable([1.0, 2.0])
        with tf.GradientTape() as t2:
            with tf.GradientTape() as t1:
                y = tf.reduce_sum(x ** 3)
            g = t1.gradient(y, x)
        return g.numpy().copy(), t2.gradient(g, x).numpy().copy()

    g, h = _run(work)
    np.testing.assert_array_equal(g, [3.0, 12.0])
    np.testing.assert_array_equal(h, [6.0, 12.0])


def _workload(w, xs):
    """A fixed computation: first and second order through own tapes."""
    out = []
    for x0 in xs:
        x = tf.constant(x0)
        with tf.GradientTape() as t2:
            t2.watch(x)
            with tf.GradientTape() as t1:
                t1.watch(x)
                h = tf.math.sin(tf.matmul(x, w)) + tf.nn.softplus(x @ w)
                loss = tf.reduce_mean(h * h)
            gx, gw = t1.gradient(loss, [x, w])
            s = tf.reduce_sum(gx * gx)
        hx = t2.gradient(s, x)
        out.append((loss.numpy().copy(), gx.numpy().copy(), gw.numpy().copy(),
                    hx.numpy().copy()))
    return out


def _all_at_once(fns, timeout=120):
    """Run each of fns in its own thread, all released together by a
    barrier; their results in order (any exception is re-raised)."""
    results = [None] * len(fns)
    errors = []
    barrier = threading.Barrier(len(fns))

    def run(i):
        try:
            barrier.wait()
            results[i] = fns[i]()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,))
               for i in range(len(fns))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=timeout)
    assert not any(th.is_alive() for th in threads)
    if errors:
        raise errors[0]
    return results


def test_eight_threads_with_own_tapes_match_single_thread(rng, fast_switching):
    w = tf.Variable(rng.standard_normal((4, 3)), trainable=True)   # shared, read-only
    inputs = [[rng.standard_normal((5, 4)) for _ in range(100)] for _ in range(8)]
    expected = [_workload(w, xs) for xs in inputs]
    results = _all_at_once([lambda xs=xs: _workload(w, xs) for xs in inputs])
    for i in range(8):
        assert len(results[i]) == len(expected[i])
        for got, exp in zip(results[i], expected[i]):
            for a, b in zip(got, exp):
                np.testing.assert_array_equal(a, b)       # bitwise identical


def test_thread_ending_with_an_open_tape_leaves_no_objects():
    gc.collect()
    base = dict(C._live_counts())

    def work():
        x = tf.constant([1.0, 2.0])
        t = tf.GradientTape(persistent=True)
        t.__enter__()
        t.watch(x)
        y = tf.math.exp(x) * x
        return None                     # never __exit__

    _run(work)
    for _ in range(3):
        gc.collect()
    assert dict(C._live_counts()) == base

    # and this thread's tape stack is unaffected
    x = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
    assert t.gradient(y, x).numpy() == 4.0


def test_thread_raising_inside_a_tape():
    def work():
        x = tf.constant(1.0)
        with tf.GradientTape() as t:
            t.watch(x)
            y = x * 2.0
            raise KeyError("boom")

    with pytest.raises(KeyError):
        _run(work)
    gc.collect()


def test_concurrent_gradients_on_a_shared_persistent_tape_are_consistent(fast_switching):
    x = tf.constant(np.linspace(0.1, 1.0, 50))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.math.sin(x) * x)
    expected = tape.gradient(y, x).numpy().copy()
    errors = []
    got = []

    def run():
        try:
            for _ in range(20):
                got.append(tape.gradient(y, x).numpy().copy())
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert errors == []
    assert len(got) == 80
    for g in got:
        np.testing.assert_array_equal(g, expected)
    del tape


# ---- kernels without the GIL (issue 15) -------------------------------------
# Kernels over TG_NOGIL_MIN (16384) elements release the GIL.  A helper
# thread that sleeps between counts can then only count while this thread
# is inside such a kernel: with a switch interval of 100 s the interpreter
# never takes the GIL from a thread running Python code.

NOGIL_MIN = 16384


@pytest.fixture
def slow_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    yield
    sys.setswitchinterval(old)


def _counts_while(fn, budget):
    """Run fn until the sleeping counter thread has counted (or `budget`
    seconds are up: a kernel that keeps the GIL never lets it count);
    how many times it counted meanwhile.  The budget only bounds the
    wait: the counter may need the scheduler to find it a core first."""
    import time
    count = [0]
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            count[0] += 1
            time.sleep(1e-4)

    fn()                                   # warm up (lookups, caches)
    th = threading.Thread(target=counter)
    th.start()
    time.sleep(0.01)                       # the counter is looping
    before = count[0]
    deadline = time.monotonic() + budget
    while count[0] == before and time.monotonic() < deadline:
        fn()
    during = count[0] - before
    stop.set()
    th.join(timeout=60)
    assert not th.is_alive()
    return during


def _kernels(n):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal(n).astype(np.float32))
    y = tf.constant(rng.standard_normal(n).astype(np.float32))
    rows = tf.constant(rng.standard_normal((n // 8, 8)).astype(np.float32))
    bias = tf.constant(rng.standard_normal(8).astype(np.float32))
    v = tf.Variable(rng.standard_normal(n).astype(np.float32))
    opt = tf.keras.optimizers.Adam(1e-3)
    g = tf.ones([n])

    def grad():
        with tf.GradientTape() as t:
            t.watch(x)
            s = tf.reduce_sum(tf.sin(x) * y)
        return t.gradient(s, x)

    return {
        "multiply": lambda: x * y,
        "sin": lambda: tf.sin(x),
        "bias rows": lambda: rows + bias,
        "adam update": lambda: opt.apply_gradients([(g, v)]),
        "gradient": grad,
    }


@pytest.mark.parametrize("name", ["multiply", "sin", "bias rows",
                                  "adam update", "gradient"])
def test_big_kernels_let_other_threads_run(name, slow_switching):
    big = _kernels(64 * NOGIL_MIN)[name]
    small = _kernels(64)[name]
    assert _counts_while(big, budget=10.0) > 0
    # the control: below the threshold the GIL is kept, and the counter
    # indeed cannot run (the method can tell the two apart)
    assert _counts_while(small, budget=0.3) == 0


def test_big_matmul_lets_other_threads_run(slow_switching):
    a = tf.constant(np.ones((256, 256), np.float32))
    assert _counts_while(lambda: a @ a, budget=10.0) > 0


def _train(seed, steps=3, batch=256):
    rng = np.random.default_rng(seed)
    w1 = tf.Variable(rng.standard_normal((784, 256)).astype(np.float32)
                     * 0.05)
    b1 = tf.Variable(np.zeros(256, np.float32))
    w2 = tf.Variable(rng.standard_normal((256, 10)).astype(np.float32) * 0.05)
    b2 = tf.Variable(np.zeros(10, np.float32))
    x = tf.constant(rng.standard_normal((batch, 784)).astype(np.float32))
    y = tf.constant(rng.integers(0, 10, batch))
    opt = tf.keras.optimizers.Adam(1e-3)
    variables = [w1, b1, w2, b2]
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as t:
            h = tf.nn.relu(x @ w1 + b1)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(y, h @ w2 + b2))
        opt.apply_gradients(zip(t.gradient(loss, variables), variables))
        losses.append(loss.numpy())
    return losses, [v.numpy() for v in variables]


def test_threads_training_their_own_models_match_one_thread(fast_switching):
    # the MLP step at batch 256, every kernel of it big enough to run
    # without the GIL, in 3 threads at once: bit for bit the results of
    # running them one after another
    expected = [_train(seed) for seed in range(3)]
    results = _all_at_once([lambda seed=seed: _train(seed)
                            for seed in range(3)], timeout=300)
    for (losses, values), (want_losses, want_values) in zip(results,
                                                             expected):
        np.testing.assert_array_equal(losses, want_losses)
        for a, b in zip(values, want_values):
            np.testing.assert_array_equal(a, b)
