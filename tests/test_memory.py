"""Memory: tapes hold only what the gradient needs and release it on time;
tensors, variables and tapes take part in Python's cyclic GC."""
import gc
import os
import sys
import weakref

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _tapegrad as C


def counts():
    return dict(C._live_counts())


def collect():
    for _ in range(3):
        gc.collect()


def test_live_counts_shape():
    c = counts()
    assert set(c) >= {"Tensor", "Variable", "GradientTape", "TapeEntry"}
    assert all(isinstance(n, int) and n >= 0 for n in c.values())


def test_live_counts_track_objects():
    collect()
    base = counts()
    t = tf.constant([1.0, 2.0])
    v = tf.Variable(1.0)
    g = tf.GradientTape()
    c = counts()
    assert c["Tensor"] >= base["Tensor"] + 1
    assert c["Variable"] == base["Variable"] + 1
    assert c["GradientTape"] == base["GradientTape"] + 1
    del t, v, g
    collect()
    assert counts() == base


def test_weakrefs_are_supported():
    t = tf.constant(1.0)
    v = tf.Variable(1.0)
    g = tf.GradientTape()
    refs = [weakref.ref(o) for o in (t, v, g)]
    assert [r() for r in refs] == [t, v, g]
    del t, v, g
    collect()
    assert [r() for r in refs] == [None, None, None]


def test_objects_take_part_in_gc():
    # Variables and tapes can sit in reference cycles: the collector tracks
    # them.  A Tensor refers only to its type and to the buffer it views (an
    # ndarray tapegrad made, or another Tensor) and has no __dict__, so it can
    # never be part of a cycle: like CPython's tuples of atoms it supports the
    # GC protocol (get_referents works) but is left untracked, which keeps
    # collector work off the per-op path (src/tensor.c says why).
    t = tf.constant([1.0, 2.0, 3.0, 4.0])
    view = tf.reshape(t, (2, 2))
    v = tf.Variable([1.0])
    g = tf.GradientTape()
    assert gc.is_tracked(v)
    assert gc.is_tracked(g)
    assert not gc.is_tracked(t)
    assert t in gc.get_referents(view)
    assert type(view) in gc.get_referents(view)
    with pytest.raises(AttributeError):
        t.anything = g  # no way to hang a cycle on a tensor


def test_non_persistent_tape_drops_saved_tensors_after_gradient():
    x = tf.constant([0.5, 1.0, 2.0])
    collect()
    entries_base = C._live_counts()["TapeEntry"]
    with tf.GradientTape() as tape:
        tape.watch(x)
        a = tf.math.exp(x)          # exp's vjp needs its output: a is saved
        y = a * a                   # mul's vjp needs both inputs: a is saved
    r = weakref.ref(a)
    del a
    collect()
    assert r() is not None, "the tape needs exp(x) for the gradient"
    assert C._live_counts()["TapeEntry"] == entries_base + 2     # exp and mul
    g = tape.gradient(y, x)
    assert C._live_counts()["TapeEntry"] == entries_base
    collect()
    assert r() is None, "the used-up tape still holds a saved tensor"
    np.testing.assert_allclose(g.numpy(), 2 * np.exp(2 * np.array([0.5, 1.0, 2.0], np.float32)),
                               rtol=1e-6)
    assert tape is not None         # the tape object itself is still alive


def test_persistent_tape_keeps_saved_tensors_until_del():
    x = tf.constant([0.5, 1.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a = tf.math.exp(x)
        y = a * a
    r = weakref.ref(a)
    rt = weakref.ref(tape)
    del a
    tape.gradient(y, x)
    tape.gradient(y, x)
    collect()
    assert r() is not None
    del tape
    collect()
    assert rt() is None
    assert r() is None


def test_tape_keeps_only_what_the_gradient_needs():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        b = tf.math.sin(x)          # sin's vjp needs x, not its output b
        c = b + x                   # add's vjp needs no values
        y = -c                      # neither does negation
    rb = weakref.ref(b)
    rc = weakref.ref(c)
    del b, c
    collect()
    assert rb() is None, "the tape keeps sin's output, which no vjp needs"
    assert rc() is None, "the tape keeps add's output, which no vjp needs"
    np.testing.assert_allclose(tape.gradient(y, x).numpy(),
                               -(np.cos([1.0, 2.0]) + 1.0), rtol=1e-6)
    del tape


def test_unrecorded_results_die_immediately():
    x = tf.constant([1.0, 2.0])
    r = weakref.ref(x * 2.0)
    assert r() is None            # plain refcounting, no tape involved
    with tf.GradientTape() as tape:
        r2 = weakref.ref(x * 3.0)     # x not watched: not recorded
    assert r2() is None


def test_watched_source_is_not_kept_by_a_used_up_tape():
    x = tf.constant([1.0, 2.0])
    rx = weakref.ref(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    del x, y
    collect()
    assert rx() is None


def test_cycle_through_a_frame_holding_a_persistent_tape_is_collected():
    def make():
        x = tf.constant([1.0, 2.0])
        tape = tf.GradientTape(persistent=True)
        with tape:
            tape.watch(x)
            a = tf.math.exp(x)
            y = a * x
        try:
            raise RuntimeError("keep the frame")
        except RuntimeError as e:
            err = e                  # frame -> err -> traceback -> frame
        return weakref.ref(tape), weakref.ref(a), weakref.ref(y)

    gc.disable()
    try:
        refs = make()
    finally:
        gc.enable()
    collect()
    assert [r() for r in refs] == [None, None, None]


def test_cycle_through_containers_is_collected():
    base = counts()
    holder = {"tensors": [tf.constant(1.0)], "vars": [tf.Variable(2.0)]}
    tape = tf.GradientTape(persistent=True)
    with tape:
        tape.watch(holder["tensors"])
        holder["y"] = holder["tensors"][0] * holder["vars"][0]
    holder["tape"] = tape
    holder["self"] = holder
    rt = weakref.ref(tape)
    del tape, holder
    collect()
    assert rt() is None
    assert counts() == base


def test_variable_assign_releases_the_old_value():
    v = tf.Variable(np.ones(1000, np.float32))
    old = v.read_value()
    r = weakref.ref(old)
    v.assign(np.zeros(1000, np.float32))
    del old
    collect()
    assert r() is None


def test_loop_of_tapes_does_not_grow():
    w = tf.Variable(np.ones((4, 4), np.float32))
    x = tf.constant(np.ones((2, 4), np.float32))

    def step():
        with tf.GradientTape() as t2:
            with tf.GradientTape() as t1:
                y = tf.reduce_sum(tf.nn.sigmoid(x @ w) ** 2)
            g = t1.gradient(y, w)
            s = tf.reduce_sum(g * g)
        t2.gradient(s, w)
        with tf.GradientTape(persistent=True) as tp:
            z = tf.reduce_mean(tf.math.sin(x @ w))
        tp.gradient(z, w)
        tp.gradient(z, [w, x])
        del tp

    for _ in range(20):
        step()
    collect()
    base = counts()
    blocks = sys.getallocatedblocks()
    for _ in range(300):
        step()
    collect()
    assert counts() == base
    assert sys.getallocatedblocks() - blocks < 200


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.no_refleak_check(
    reason="20 rounds of 8 MB buffers bounded by RSS; NumPy's data buffers "
           "are not pymalloc blocks, so a rerun adds seconds and no signal")
def test_big_saved_buffers_are_freed():
    # each round saves ~4 arrays of 8 MB; 20 leaked rounds would be 640 MB
    x = tf.constant(np.full((1_000_000,), 0.5))

    def round_():
        with tf.GradientTape() as t:
            t.watch(x)
            y = tf.reduce_sum(tf.math.exp(x) * tf.math.sin(x))
        g = t.gradient(y, x)
        assert g.shape == x.shape

    round_()
    collect()
    start = _rss_bytes()
    for _ in range(20):
        round_()
    collect()
    assert _rss_bytes() - start < 100 * 2 ** 20


def test_deep_chain_gradient_and_release():
    x = tf.constant(1.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x
        for _ in range(20000):
            y = y * 1.0
    g = t.gradient(y, x)
    assert g.numpy() == 1.0
    del y
    collect()


def test_deep_persistent_chain_released_on_del():
    x = tf.constant(1.0)
    t = tf.GradientTape(persistent=True)
    with t:
        t.watch(x)
        y = x
        for _ in range(20000):
            y = y + 0.0
    del y, t
    collect()


def test_block_cache_is_bounded_and_releasable():
    # large tensors recycle their data blocks through a cache of at most
    # 16 blocks and 64 MB (9e6 float64, 72 MB, is never cached); releasing
    # it leaves live tensors intact
    keep = None
    for n in (70_000, 300_000, 1_000_000, 2_500_000, 9_000_000, 300_000):
        x = tf.constant(np.linspace(0.0, 1.0, n))
        with tf.GradientTape() as t:
            t.watch(x)
            y = tf.tanh(x) * x
        g = t.gradient(y, x)
        if n == 1_000_000:
            keep = x, g
        blocks, nbytes = C._block_cache()
        assert blocks <= 16 and nbytes <= 64 * 2 ** 20
    x, g = keep
    want = g.numpy().copy()
    C._release_blocks()
    assert C._block_cache() == (0, 0)
    np.testing.assert_array_equal(g.numpy(), want)
    t2 = tf.tanh(x)                         # caching goes on
    del t2
    assert C._block_cache()[0] == 1
