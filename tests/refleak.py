"""Refleak guard: a small pytest plugin (reliability plan C1), loaded by
tests/conftest.py.

After a test's call phase passes, its body (``item.runtest()``, with the
same fixture values) runs again: WARMUPS times to fill caches, then RUNS
measured times.  After each run it collects garbage and reads
``sys.getallocatedblocks()`` (CPython's memory blocks: Python objects and
``PyMem``/``PyObject`` buffers, tapegrad's included) and the sum of
``tapegrad._tapegrad._live_counts()``.  The test fails only when EVERY
measured run grew (CPython regrtest's rule, ``all(delta >= 1)``): isolated
noise such as ``[3, 0]`` passes, a steady ``[5, 5]`` fails.  When all RUNS
grew, CONFIRM more measured runs follow and must all grow too, so chance
allocations cannot fail a test: a test that starts threads sees CPython's
threading bookkeeping move the block count by -1, 0 or +1 per run (a
quarter of runs +1, measured over 300 runs of test_conv_api's threaded
test), and with 2 confirming runs four chance +1s in a row failed it about
once in 300 suite runs per such test; 8 in a row is ~1e-5.  A repetition that raises
fails the test as well: a test that cannot run twice hides its leaks.

Exemptions: ``@pytest.mark.no_refleak_check(reason="...")``, for tests that
cannot be repeated meaningfully; the reason is required.  Their leaks are
covered otherwise: subprocess tests check the child's exit status and
counters themselves; soak tests measure RSS over 1e4..1e5 iterations of the
same step; Hypothesis tests run many examples per call and end with the
live-counter check of conftest.py; every test, exempt or not, still gets
conftest.py's exact live-object comparison.

Options: ``--refleak=WARMUPS:RUNS`` (default 1:2, CONFIRM 6 more on a
suspected leak); ``--refleak=0:0`` turns the repetitions off (the freezing
below stays), ``-p no:refleak`` the whole plugin.

Speed: gc.collect() over the whole heap of a collected suite (NumPy,
Hypothesis, ~5000 items) costs tens of ms; the guard freezes (gc.freeze)
what existed before each test's setup, so each collection walks only the
objects the test made.  What was alive before the test is by definition not
the test's leak.
"""
import gc
import sys
import warnings

import pytest

DEFAULT = "1:2"
CONFIRM = 6

_state = {"warmups": 1, "runs": 2}


def pytest_addoption(parser):
    group = parser.getgroup("refleak", "refleak guard (tests/refleak.py)")
    group.addoption(
        "--refleak", action="store", default=DEFAULT, metavar="WARMUPS:RUNS",
        help="re-run each passing test WARMUPS + RUNS times and fail when "
             "every measured run grows the allocated blocks or tapegrad's "
             "live objects (default %s; 0:0 turns the guard off)" % DEFAULT)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "no_refleak_check(reason): do not re-run this test under the "
        "refleak guard (tests/refleak.py); reason= is required and says "
        "why the test cannot be repeated and what covers its leaks")
    spec = config.getoption("--refleak", DEFAULT)
    try:
        w, r = (int(p) for p in spec.split(":"))
        if w < 0 or r < 0:
            raise ValueError
    except ValueError:
        raise pytest.UsageError("--refleak wants WARMUPS:RUNS, got %r" % spec)
    _state["warmups"], _state["runs"] = w, r


def pytest_collection_modifyitems(config, items):
    for item in items:
        m = item.get_closest_marker("no_refleak_check")
        if m is not None and not (m.kwargs.get("reason") or m.args):
            raise pytest.UsageError(
                "%s: no_refleak_check needs reason=\"...\"" % item.nodeid)


def _live_counts():
    try:
        from tapegrad import _tapegrad
    except ImportError:       # the plugin's own tests may run without it
        return {}
    return dict(_tapegrad._live_counts())


def _collect():
    # The method cache holds a reference to each attribute name it caches:
    # a test that looks attributes up by names it builds (getattr(mod,
    # s.split(".")[0])) fills it with new str objects for hundreds of runs
    # (regrtest clears it too).  Then three passes: freeing one cycle can
    # orphan another (weakref callbacks, finalizers); stop early when
    # nothing more is found.  A full collection also empties the free lists.
    sys._clear_type_cache()
    for _ in range(3):
        if not gc.collect():
            break


def _generator_states(item):
    """The test's random Generators (the ``rng`` fixture) and their states
    before its first run.  "The same fixture values" must mean the same
    draws: a re-run that continued the stream would test other inputs
    (an ill-conditioned matrix for solve's float32 case, once)."""
    return [(v, v.bit_generator.state)
            for v in getattr(item, "funcargs", {}).values()
            if hasattr(v, "bit_generator")]


def _run_once(item, generators):
    for g, state in generators:
        g.bit_generator.state = state
    # Warnings a repetition raises go to a throw-away list, not to pytest's
    # per-test record (which would grow by one entry per repetition).  The
    # filters are kept: catch_warnings restores them afterwards.
    with warnings.catch_warnings(record=True):
        item.runtest()


def _check(item, generators):
    warmups, runs = _state["warmups"], _state["runs"]
    # Everything the measurement keeps between two readings is allocated
    # up front (as regrtest does): the delta lists hold small ints, which
    # CPython caches, and each new reading replaces the previous one.
    block_deltas = [0] * (runs + CONFIRM)
    live_deltas = [0] * (runs + CONFIRM)
    total = measured = 0
    try:
        for _ in range(warmups):
            total += 1
            _run_once(item, generators)
        _collect()
        live0 = _live_counts()
        blocks = sys.getallocatedblocks()
        live = sum(live0.values())
        n = runs
        while n:
            for _ in range(n):
                total += 1
                _run_once(item, generators)
                _collect()
                b = sys.getallocatedblocks()
                lv = sum(_live_counts().values())
                block_deltas[measured] = b - blocks
                live_deltas[measured] = lv - live
                measured += 1
                blocks, live = b, lv
            grew_blocks = all(d >= 1 for d in block_deltas[:measured])
            grew_live = all(d >= 1 for d in live_deltas[:measured])
            if not (grew_blocks or grew_live):
                return
            # suspected: confirm with more measured runs, once
            n = CONFIRM if measured == runs else 0
    except Exception as e:
        raise AssertionError(
            "refleak guard: repetition %d of this passing test raised %s: %s"
            " -- a test the guard re-runs must be repeatable with the same "
            "fixture values; make it so, or mark it "
            "no_refleak_check(reason=...)" % (total, type(e).__name__, e)
        ) from e
    what = []
    if grew_blocks:
        what.append("allocated blocks deltas %r" % block_deltas[:measured])
    if grew_live:
        end = _live_counts()
        what.append("tapegrad live-object deltas %r (in all: %r)" % (
            live_deltas[:measured],
            {k: end[k] - live0.get(k, 0) for k in end
             if end[k] != live0.get(k, 0)}))
    raise AssertionError(
        "refleak guard: memory grew on every one of %d measured repetitions "
        "(after %d warm-up): %s" % (measured, warmups, "; ".join(what)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Freeze what exists before the test (the collected suite, earlier
    # reports): every later gc.collect() -- the guard's, conftest.py's live
    # count check, the tests' own -- walks only the test's objects.
    gc.collect()
    gc.freeze()


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item):
    # trylast: the innermost wrapper, so the repetitions run inside pytest's
    # own call-phase wrappers (capsys/capfd capture, logging, warnings)
    generators = _generator_states(item)
    result = yield                 # a failing test raises here: no check
    if (_state["runs"] and isinstance(item, pytest.Function)
            and item.get_closest_marker("no_refleak_check") is None):
        _check(item, generators)
    return result
