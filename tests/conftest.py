"""Shared fixtures for the tapegrad test suite.

* ``rng``: a seeded NumPy Generator, so every random input is reproducible.
* an autouse leak check: after each passing test and a ``gc.collect()``,
  ``tapegrad._tapegrad._live_counts()`` (live Tensor, Variable, GradientTape
  and TapeEntry objects) must be back at the value it had before the test.
  Tests marked ``@pytest.mark.no_leak_check`` skip only that comparison.
* the refleak guard (tests/refleak.py): each passing test runs again, a
  warm-up and measured repetitions, and fails when every measured one
  grows the allocated blocks or the live counts.  Tests that cannot be
  repeated carry ``@pytest.mark.no_refleak_check(reason=...)``.
"""
import gc
import sys

import numpy as np
import pytest

import tapegrad

SEED = 20240611

pytest_plugins = ["refleak"]


def pytest_configure(config):
    # pyproject.toml runs pytest with --strict-markers.
    config.addinivalue_line(
        "markers",
        "no_leak_check: do not compare tapegrad._tapegrad._live_counts() "
        "before and after this test")
    # also registered here, so that -p no:refleak (the guard plugin off)
    # still accepts the marks under --strict-markers
    config.addinivalue_line(
        "markers",
        "no_refleak_check(reason): not re-run by the refleak guard "
        "(tests/refleak.py)")
    config.addinivalue_line(
        "markers",
        "fp_status_flags: asserts NumPy's floating-point warnings, which come "
        "from the CPU's status flags; valgrind does not emulate them, so "
        "tools/run_valgrind.sh deselects these")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Make the outcome of each phase visible to fixtures (item.rep_call),
    # so the leak check runs only after a test that passed: a failing test's
    # traceback legitimately keeps its tensors alive.
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def rng():
    """A freshly seeded NumPy random Generator."""
    return np.random.default_rng(SEED)


def live_counts():
    return dict(tapegrad._tapegrad._live_counts())


def _settle():
    # pytest keeps the previous failure in sys.last_* (for post-mortem
    # debugging) until the next test's call phase: drop it, or the failed
    # test's tensors would count as "before" and vanish during this test.
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)
    for _ in range(3):
        if not gc.collect():
            break


@pytest.fixture(autouse=True)
def _check_live_counts(request):
    if request.node.get_closest_marker("no_leak_check"):
        yield
        return
    _settle()
    before = live_counts()
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is None or not rep.passed:
        return
    _settle()
    after = live_counts()
    assert after == before, (
        "tapegrad objects leaked by this test (live counts before -> after "
        "gc.collect()): %r -> %r" % (before, after))
