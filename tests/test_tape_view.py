"""A tape you can look inside (tapegrad/_tape_view.py): tape.operations(),
tape.to_dot(), tapegrad.debugging.draw_tape and the op-location switch."""
import inspect
import os
import stat

import pytest

import tapegrad as tf

HERE = __file__


def _model_tape(persistent=True):
    w = tf.Variable([[1.0, 2.0]], name="w")
    b = tf.Variable([0.5], name="b")
    x = tf.constant([[1.0], [2.0]])
    with tf.GradientTape(persistent=persistent) as tape:
        line = inspect.currentframe().f_lineno + 1
        h = tf.matmul(x, w) + b
        y = tf.reduce_sum(tf.tanh(h))
        z = tf.reduce_sum(w * 3.0)
    return tape, (w, b, x, h, y, z), line


@pytest.fixture
def locations():
    tf.debugging.enable_op_locations()
    yield
    tf.debugging.disable_op_locations()


def test_operations_in_order_with_specs(locations):
    tape, (w, b, x, h, y, z), line = _model_tape()
    ops = tape.operations()
    assert [op.type for op in ops] == ["MatMul", "AddV2", "Tanh", "Sum",
                                       "Mul", "Sum"]
    mm = ops[0]
    assert mm.inputs == (tf.TensorSpec([2, 1], tf.float32),
                         tf.TensorSpec([1, 2], tf.float32))
    assert mm.outputs == (tf.TensorSpec([2, 2], tf.float32),)
    assert mm.input_ids == (x._id, w._id)
    assert ops[1].output_ids == (h._id,)
    assert [op.location for op in ops] == [
        "%s:%d" % (HERE, n) for n in (line, line, line + 1, line + 1,
                                      line + 2, line + 2)]
    assert repr(mm) == ("<RecordedOp MatMul(float32[2, 1], float32[1, 2]) "
                        "-> (float32[2, 2]) at %s:%d>" % (HERE, line))


def test_locations_are_off_by_default_and_survive_a_used_up_tape(locations):
    tf.debugging.disable_op_locations()
    tape, _, _ = _model_tape()
    assert {op.location for op in tape.operations()} == {None}
    tf.debugging.enable_op_locations()
    tape, (w, b, x, h, y, z), line = _model_tape(persistent=False)
    tape.gradient(y, [w, b])          # used up: the skeleton stays
    ops = tape.operations()
    assert len(ops) == 6 and ops[0].location == "%s:%d" % (HERE, line)


def test_to_dot_draws_the_record_and_highlights_the_cone():
    tape, (w, b, x, h, y, z), _ = _model_tape()
    dot = tape.to_dot(y)
    assert dot.startswith("digraph tape {") and dot.endswith("}\n")
    lines = dot.splitlines()
    node = {l.split()[0]: l for l in lines if "[" in l and "->" not in l}
    # watched variables by name, filled; the constant x is plain
    assert 'label="w:0\\nfloat32 [1, 2]"' in node["t%d" % w._id]
    assert "fillcolor" in node["t%d" % w._id]
    assert "fillcolor" not in node["t%d" % x._id]
    # y's cone: MatMul, AddV2, Tanh, Sum (op0..op3) red, and not z's ops
    red = "#d62728"
    assert all(red in node["op%d" % i] for i in range(4))
    assert red not in node["op4"] and red not in node["op5"]
    assert red not in node["t%d" % x._id]      # no gradient to a constant
    assert "peripheries=2" in node["t%d" % y._id]
    assert "t%d -> op0 [color" % w._id in dot
    assert "t%d -> op4;" % w._id in dot        # w feeds z, outside the cone
    # without a target nothing is red
    assert red not in tape.to_dot()


@pytest.mark.no_refleak_check(reason="matplotlib keeps per-figure caches "
                               "(fonts, text layouts) that grow by a block "
                               "or two per new figure")
def test_draw_tape_without_graphviz_is_a_matplotlib_figure(monkeypatch):
    import shutil
    from matplotlib.figure import Figure
    monkeypatch.setattr(shutil, "which", lambda name: None)
    tape, (w, b, x, h, y, z), _ = _model_tape()
    fig = tf.debugging.draw_tape(tape, y)
    assert isinstance(fig, Figure)
    texts = sorted(t.get_text() for t in fig.axes[0].texts if t.get_text())
    assert texts == ["AddV2", "MatMul", "Mul", "Sum", "Sum", "Tanh", "b:0",
                     "w:0"]


@pytest.mark.no_refleak_check(reason="subprocess and shutil.which keep "
                               "per-call state (a new tmp_path each run)")
def test_draw_tape_uses_dot_when_installed(tmp_path, monkeypatch):
    # a stand-in `dot` that answers with the SVG it would make: the
    # plumbing (the DOT text on stdin, -Tsvg, the SVG displayed) is ours
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\n[ \"$1\" = -Tsvg ] || exit 2\n"
                    "n=$(grep -c -- '->')\n"
                    "echo \"<svg><!-- $n edges --></svg>\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep +
                       os.environ["PATH"])
    tape, (w, b, x, h, y, z), _ = _model_tape()
    svg = tf.debugging.draw_tape(tape, y)
    assert svg._repr_svg_() == svg.data == "<svg><!-- 15 edges --></svg>\n"


def test_draw_tape_wants_a_tape():
    # found by fuzz_ops: a tensor where the tape goes was an AttributeError
    with pytest.raises(TypeError, match="draw_tape expects a GradientTape, "
                                        "got EagerTensor"):
        tf.debugging.draw_tape(tf.constant(1.0))
