"""tape.explain(target, sources) and tapegrad.debugging's None-gradient
warnings (tapegrad/_explain.py over src/explain.c's record): one scenario
per cause the report names, each checked for the cause and, where there
is one, this file's line; a connected source; persistent tapes at any
time and non-persistent ones after their gradient."""
import inspect
import warnings

import numpy as np
import pytest

import tapegrad as tf

HERE = __file__


def _next_line():
    """the line after the caller's: where the statement under test is"""
    return inspect.currentframe().f_back.f_lineno + 1


def _at(line):
    return "%s:%d" % (HERE, line)


def test_connected_source_says_so():
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = v * v
    assert tape.gradient(y, v) is not None
    report = tape.explain(y, v)
    assert report == ("Source, Variable 'Variable:0' (float32, shape ()): "
                      "connected: its gradient is computed.")


def test_constant_never_watched():
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None
    report = tape.explain(y, x)
    assert "a Tensor the tape never watched" in report
    assert "tape.watch(x)" in report


def test_integer_source():
    x = tf.Variable(2)
    with tf.GradientTape() as tape:
        y = x * 3
    assert tape.gradient(y, x) is None
    assert "its dtype is int32" in tape.explain(y, x)


def test_non_trainable_variable():
    v = tf.Variable(2.0, trainable=False)
    with tf.GradientTape() as tape:
        y = v * 3
    assert tape.gradient(y, v) is None
    assert "non-trainable Variable (trainable=False)" in tape.explain(y, v)


def test_watch_accessed_variables_false():
    v = tf.Variable(2.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        y = v * 3
    assert tape.gradient(y, v) is None
    assert "watch_accessed_variables=False" in tape.explain(y, v)


def test_target_computed_before_the_tape():
    v = tf.Variable(2.0)
    y = v * 3
    with tf.GradientTape(persistent=True) as tape:
        v * 1.0
    assert tape.gradient(y, v) is None
    assert "computed before the tape started recording" in \
        tape.explain(y, v)


def test_target_computed_after_the_tape():
    v = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        v * 1.0
    y = v * 3
    assert tape.gradient(y, v) is None
    assert "computed after the tape stopped recording" in \
        tape.explain(y, v)


def test_numpy_escape_names_the_line():
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = v * v
        line = _next_line()
        z = tf.constant(y.numpy()) * 2
    assert tape.gradient(z, v) is None
    # the tape is used up: the report reads what it kept
    report = tape.explain(z, v)
    assert "left tapegrad at %s through .numpy()" % _at(line) in report


@pytest.mark.parametrize("escape,how", [
    (lambda y: np.sin(y), "__array__"),
    (lambda y: np.asarray(y) * 2, "__array__"),
    (lambda y: float(y), "float()"),
])
def test_other_escapes(escape, how):
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = v * v
        z = tf.constant(escape(y)) * 2
    assert tape.gradient(z, v) is None
    report = tape.explain(z, v)
    # the user's line is the lambda's, where the conversion ran
    assert "left tapegrad at %s" % _at(escape.__code__.co_firstlineno) \
        in report
    assert how in report


def test_stop_gradient_names_the_line():
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        line = _next_line()
        y = tf.stop_gradient(v * v) * 2
    assert tape.gradient(y, v) is None
    assert "tf.stop_gradient at %s" % _at(line) in tape.explain(y, v)


def test_stop_recording_block_names_the_line():
    v = tf.Variable(2.0)
    w = tf.Variable(1.0)
    with tf.GradientTape(persistent=True) as tape:
        u = w * 1.0          # the tape is recording and reads w
        line = _next_line()
        with tape.stop_recording():
            y = v * u
        z = y * 2
    assert tape.gradient(z, v) is None
    assert "stop_recording() block at %s" % _at(line) in tape.explain(z, v)
    assert tape.gradient(z, w) is None
    assert "stop_recording() block at %s" % _at(line) in tape.explain(z, w)


def test_variable_replaced_by_a_tensor():
    # TF's autodiff guide: `x = x + 1` where x.assign_add(1) was meant
    x = tf.Variable(2.0)
    grads, reports = [], []
    for _ in range(2):
        with tf.GradientTape() as tape:
            y = x + 1
        grads.append(tape.gradient(y, x))
        reports.append(tape.explain(y, x))
        x = x + 1
    assert grads[0] is not None and grads[1] is None
    assert "connected" in reports[0]
    assert "computed from a Variable" in reports[1]
    assert "x.assign_add(1)" in reports[1]
    # the mark is one step deep: tf.add and other ops called on a
    # Variable mark their results too, operators on those results do not
    v = tf.Variable(1.0)
    assert tf.add(v, 1)._from_variable == 1
    assert (v * 2 + 1)._from_variable == 0


@pytest.mark.parametrize("fn,op", [
    (lambda v: tf.round(v * 1.5) * 2, "Round"),
    (lambda v: tf.cast(tf.argmax(tf.stack([v, 2 * v])), tf.float32), "ArgMax"),
    (lambda v: tf.cast(v > 1.0, tf.float32) * 3, "Greater"),
])
def test_ops_without_gradient(fn, op):
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = fn(v)
    report = tape.explain(y, v)
    line = fn.__code__.co_firstlineno     # where the op ran
    assert tape.gradient(y, v) is None
    assert "goes through %s at %s" % (op, _at(line)) in report
    assert "has no gradient" in report


def test_integer_cast_on_the_path():
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.cast(tf.cast(v, tf.int32), tf.float32) * 2
    assert tape.gradient(y, v) is None
    assert "integer tensor (Cast gives int32)" in tape.explain(y, v)


def test_unrelated_target_and_several_sources_in_a_structure():
    a, b = tf.Variable(1.0), tf.Variable(2.0)
    c = tf.constant(1.0)
    with tf.GradientTape(persistent=True) as tape:
        y = a * 3
        z = b * 2
    report = tape.explain(y, {"a": a, "b": b, "c": c})
    paras = report.split("\n\n")
    assert len(paras) == 3
    assert paras[0].startswith("Source 1 of 3, Variable") and \
        "connected: its gradient" in paras[0]
    assert "does not depend on this source" in paras[1]
    assert "never watched" in paras[2]
    # persistent: the same answers after gradient, and with z as target
    assert tape.gradient(y, [a, b])[1] is None
    assert tape.explain(y, {"a": a, "b": b, "c": c}) == report
    assert "connected: its gradient" in tape.explain(z, b)


def test_re_entered_tape_knows_the_gap():
    v = tf.Variable(2.0)
    tape = tf.GradientTape(persistent=True)
    with tape:
        y = v * 2
    gap = y * 3              # between the two with blocks
    with tape:
        z = gap * 1.0
    assert tape.gradient(z, v) is None
    assert "entered again: values computed in between are not on the " \
        "tape" in tape.explain(z, v)


def test_nested_tape_explains_its_own_record():
    x = tf.Variable(1.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = x * x * x
        dy = inner.gradient(y, x)
    assert "connected" in outer.explain(dy, x)
    assert outer.gradient(dy, x) is not None


def test_none_gradient_warnings_switch():
    x = tf.constant(3.0)
    tf.debugging.enable_none_gradient_warnings()
    try:
        with tf.GradientTape() as tape:
            y = x * x
        with pytest.warns(tf.debugging.NoneGradientWarning,
                          match="never watched") as caught:
            line = _next_line()
            assert tape.gradient(y, [x]) == [None]
        assert caught[0].filename == HERE and caught[0].lineno == line
        # arguments by name reach the warning too (one per None source)
        w, u = tf.constant(2.0), tf.constant(5.0)
        with tf.GradientTape() as tape:
            tape.watch(w)
            y = x * w
        with pytest.warns(tf.debugging.NoneGradientWarning,
                          match="never watched") as caught:
            g = tape.gradient(target=y, sources=[w, u])
        assert float(g[0]) == 3.0 and g[1] is None
        assert len(caught) == 1
        v = tf.Variable(1.0)
        with tf.GradientTape() as tape:
            y = v * 2
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert tape.gradient(y, v) is not None   # no warning
    finally:
        tf.debugging.disable_none_gradient_warnings()
    with tf.GradientTape() as tape:
        y = x * x
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tape.gradient(y, x) is None          # off again: silent


def test_printing_inside_the_tape_is_not_an_escape():
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = v * v
        str(y), repr(y), "%s" % y, "{:.2f}".format(y)
    rec = tape._explain_record()
    assert [n for n in rec["notes"] if n[0] == "escape"] == []


def test_notes_are_bounded():
    v = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        y = v * v
        for _ in range(300):
            y.numpy()
    assert len(tape._explain_record()["notes"]) == 256


def test_explain_checks_its_arguments():
    with tf.GradientTape() as tape:
        y = tf.constant(1.0)
    assert "not a Tensor or Variable" in tape.explain(y, "x")
    with pytest.raises(TypeError):
        tape.explain(y)


def test_a_numpy_python_function_reports_the_users_line():
    # np.mean is Python code inside NumPy: the line reported is the
    # caller's, never a frame inside NumPy (or tapegrad)
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = v * v
        line = _next_line()
        z = tf.constant(np.mean(y)) * 2
    assert tape.gradient(z, v) is None
    assert "left tapegrad at %s" % _at(line) in tape.explain(z, v)
