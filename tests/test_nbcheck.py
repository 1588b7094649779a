"""Unit tests of tools/nbcheck.py's comparison rules, on synthetic cell outputs.

No tapegrad needed: cells are built with nbformat, and one small notebook of
plain Python/NumPy goes through the real kernel path (run_notebook + probe).
Also checks that the committed notebooks agree with the expectations table.
"""
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import nbcheck  # noqa: E402

# Notebooks run in a separate kernel process: the host-side leak check of
# tests/conftest.py has nothing to measure here.
pytestmark = pytest.mark.no_leak_check


def cell(*outputs):
    return new_code_cell("pass", outputs=list(outputs))


def out(text, name="stdout"):
    return new_output("stream", name=name, text=text)


def result(text):
    return new_output("execute_result", data={"text/plain": text}, execution_count=1)


def error(ename, evalue):
    return new_output("error", ename=ename, evalue=evalue, traceback=[])


def expect(output="", check="exact", **extra):
    return {"label": "In [1]", "output": output, "stderr_noise": "", "check": check, **extra}


def problems(exp, c, values=None):
    return nbcheck.compare_cell(3, exp, c, values)


# R1, R2: trailing newline and tf. -> tapegrad.
def test_stream_matches_after_rename():
    seed = "tf.Tensor(\n[[8. 8.]\n [8. 8.]], shape=(2, 2), dtype=float32)"
    shown = "tapegrad.Tensor(\n[[8. 8.]\n [8. 8.]], shape=(2, 2), dtype=float32)\n"
    assert problems(expect(seed), cell(out(shown))) == []


def test_stream_chunks_are_joined():
    assert problems(expect("y:  4.0\nz:  16.0"), cell(out("y:  4.0\n"), out("z:  16.0\n"))) == []


def test_value_difference_is_reported():
    got = problems(expect("tf.Tensor(8.0, shape=(), dtype=float32)"),
                   cell(out("tapegrad.Tensor(8.00, shape=(), dtype=float32)\n")))
    assert len(got) == 1 and got[0].startswith("cell 3 (In [1]) output differs")


def test_tapegrad_must_use_its_own_name():
    seed = "<tf.Tensor: shape=(), dtype=float32, numpy=9.0>"
    assert problems(expect(seed), cell(result(seed)))
    assert problems(expect(seed), cell(result("<tapegrad.Tensor: shape=(), dtype=float32, numpy=9.0>"))) == []
    var = "<tf.Variable 'w:0' shape=() dtype=float32, numpy=3.0>"
    assert problems(expect(var), cell(result(var.replace("tf.", "tapegrad.")))) == []


def test_whitespace_is_not_normalised():
    assert problems(expect("[  4. 108.]"), cell(out("[4. 108.]\n")))
    assert problems(expect("a"), cell(out("a \n")))


# R3: NumPy 2 scalar reprs of displayed values.
@pytest.mark.parametrize("shown,seed", [("np.float32(6.0)", "6.0"), ("np.int32(3)", "3"),
                                        ("np.float64(-0.25)", "-0.25"), ("np.True_", "True")])
def test_numpy_scalar_repr(shown, seed):
    assert problems(expect(seed), cell(result(shown))) == []


def test_numpy_scalar_rule_keeps_the_value_and_applies_to_displayed_values_only():
    assert problems(expect("6.0"), cell(result("np.float32(6.5)")))
    assert problems(expect("6.0"), cell(out("np.float32(6.0)\n")))
    assert problems(expect("array([1., 1.], dtype=float32)"),
                    cell(result("array([1., 1.], dtype=float32)"))) == []


# R4: GradientTape repr by shape.
def test_gradient_tape_repr_address_ignored():
    seed = "<tensorflow.python.eager.backprop.GradientTape object at 0x0000020733007240>\ntf.Tensor(4.0, shape=(), dtype=float32)"
    ok = "<tapegrad.GradientTape object at 0x7f3a2c1d5e40>\ntapegrad.Tensor(4.0, shape=(), dtype=float32)\n"
    assert problems(expect(seed), cell(out(ok))) == []
    wrong_module = ok.replace("tapegrad.GradientTape", "tapegrad._tapegrad.GradientTape")
    assert problems(expect(seed), cell(out(wrong_module)))


# R5: random values by layout and derived values.
SEED_W = ("<tf.Variable 'w:0' shape=(3, 2) dtype=float32, numpy=\n"
          "array([[ 1.03333   ,  0.42647403],\n"
          "       [ 1.036649  , -1.5083102 ],\n"
          "       [ 0.96885073, -0.66818607]], dtype=float32)>")
SHOWN_W = ("<tapegrad.Variable 'w:0' shape=(3, 2) dtype=float32, numpy=\n"
           "array([[-0.5,  2. ],\n"
           "       [ 1.25, -3. ],\n"
           "       [ 0. , 10. ]], dtype=float32)>")
W_VALUES = [-0.5, 2.0, 1.25, -3.0, 0.0, 10.0]


def test_random_cell_passes_on_layout_and_values():
    exp = expect(SEED_W, "random", values="w.numpy()")
    assert problems(exp, cell(result(SHOWN_W)), {"cell 3": W_VALUES}) == []


def test_random_cell_checks_values():
    exp = expect(SEED_W, "random", values="w.numpy()")
    got = problems(exp, cell(result(SHOWN_W)), {"cell 3": W_VALUES[:-1] + [9.0]})
    assert got and "values" in got[0]
    assert problems(exp, cell(result(SHOWN_W)), {"cell 3": "error: NameError: w"})
    assert problems(exp, cell(result(SHOWN_W)), {})


@pytest.mark.parametrize("change", [("shape=(3, 2)", "shape=(2, 3)"), ("dtype=float32)>", ")>"),
                                    ("'w:0'", "'Variable:0'"), ("numpy=\n", "numpy="),
                                    ("[ 1.25, -3. ],", "[ 1.25, -3., 7. ],")])
def test_random_cell_checks_layout(change):
    exp = expect(SEED_W, "random", values="w.numpy()")
    assert problems(exp, cell(result(SHOWN_W.replace(*change))), {"cell 3": W_VALUES})


def test_layout_and_numbers():
    assert nbcheck.layout("array([ 6.0131803, -4.5947046], dtype=float32)>") == "array([N,N],dtype=float32)>"
    assert nbcheck.numbers("array([[1.e-08, -2.5e+03], [nan, 3.]], dtype=float32)") == \
        pytest.approx([1e-8, -2500.0, float("nan"), 3.0], nan_ok=True)


# R6: version.
def test_version_cell():
    exp = expect("2.0.0-alpha0", "version")
    assert problems(exp, cell(out("0.1.0\n"))) == []
    assert problems(exp, cell(out("0.1.0.dev3+g1234\n"))) == []
    assert problems(exp, cell(out("")))
    assert problems(exp, cell(out("0.1.0\nextra\n")))


# R7: stderr.
def test_stderr_noise_not_expected_and_any_stderr_fails():
    exp = expect("", stderr_noise="  from ._conv import register_converters as _register_converters")
    assert problems(exp, cell()) == []
    got = problems(exp, cell(out("warning\n", name="stderr")))
    assert got and "stderr" in got[0]


# R7 with a "stderr" regex: the warning must be there, and be the only stderr.
WARNING = ("/x/interactiveshell.py:3508: UserWarning: The dtype of the watched tensor must be "
           "floating (e.g. tapegrad.float32), got tapegrad.int32\n  exec(code_obj)\n")
WARNING_RE = (r"[^\n]*:\d+: UserWarning: The dtype of the watched tensor must be floating "
              r"\(e\.g\. tapegrad\.float32\), got tapegrad\.int32\n(?:  [^\n]*\n)?")


def test_stderr_regex_matches_the_whole_stderr():
    exp = expect("None", stderr=WARNING_RE)
    assert problems(exp, cell(out("None\n"), out(WARNING, "stderr"))) == []
    missing = problems(exp, cell(out("None\n")))
    assert missing and "stderr does not match" in missing[0]
    twice = problems(exp, cell(out("None\n"), out(WARNING * 2, "stderr")))
    assert twice and "stderr does not match" in twice[0]
    other = problems(exp, cell(out("None\n"), out(WARNING.replace("watched", "target"), "stderr")))
    assert other and "stderr does not match" in other[0]
    # the rule is about stderr only: stdout is still compared
    assert problems(exp, cell(out("0\n"), out(WARNING, "stderr")))


# R8: regex over what the cell shows.
def test_regex_check():
    exp = expect("<Figure size 432x288 with 1 Axes>", "regex",
                 pattern=r"<Figure size \d+x\d+ with 1 Axes>")
    assert problems(exp, cell(result("<Figure size 640x480 with 1 Axes>"))) == []
    got = problems(exp, cell(result("<Figure size 640x480 with 2 Axes>")))
    assert got and "does not match" in got[0]
    assert problems(exp, cell(result("<Figure size 640x480 with 1 Axes>"), out("more\n")))
    assert problems(exp, cell())


def test_regex_check_sees_normalised_text():
    exp = expect("6.0", "regex", pattern=r"0\.0|6\.0")
    assert problems(exp, cell(result("np.float32(6.0)"))) == []          # R3
    exp = expect("", "regex", pattern=r"<tapegrad\.GradientTape object at 0x\.\.\.>")
    assert problems(exp, cell(out("<tapegrad.GradientTape object at 0x7f00>\n"))) == []  # R4


# R5 without "values": layout only.
def test_random_cell_without_values_checks_layout_only():
    exp = expect(SEED_W, "random")
    assert problems(exp, cell(result(SHOWN_W))) == []
    assert problems(exp, cell(result(SHOWN_W.replace("shape=(3, 2)", "shape=(2, 3)"))))
    assert nbcheck.probe_exprs({"cells": {"3": exp}}) == {}


# R9: edits to the documented text, made before R2.
def test_edits_are_applied_to_the_documented_output():
    seed = "dense/kernel:0, shape: (3, 2)\ndense/bias:0, shape: (2,)"
    exp = expect(seed, edits=[["dense/kernel:0", "kernel"], ["dense/bias:0", "bias"]])
    assert problems(exp, cell(out("kernel, shape: (3, 2)\nbias, shape: (2,)\n"))) == []
    assert problems(exp, cell(out(seed + "\n")))
    logs = "INFO:tensorflow:Assets written\n"
    exp = expect(logs * 2 + "tf.Tensor(2.0, shape=(), dtype=float32)", edits=[[logs, ""]])
    assert problems(exp, cell(out("tapegrad.Tensor(2.0, shape=(), dtype=float32)\n"))) == []


def test_an_edit_that_does_not_apply_is_reported():
    exp = expect("kernel", edits=[["dense/kernel:0", "kernel"]])
    got = problems(exp, cell(out("kernel\n")))
    assert got and "does not apply" in got[0]
    with pytest.raises(ValueError):
        nbcheck.apply_edits("a", [["b", "c"]])


def test_unknown_check_is_reported():
    got = problems(expect("x", "exactly"), cell(out("x\n")))
    assert got and "unknown check" in got[0]


def test_unexpected_output_fails():
    assert problems(expect(""), cell(out("hello\n")))


def test_error_is_reported_first():
    got = problems(expect("tf.Tensor(8.0, shape=(), dtype=float32)"),
                   cell(error("AssertionError", "")))
    assert got == ["cell 3 (In [1]) raised AssertionError:"]


def test_kernel_checks_and_sync():
    nb = new_notebook(cells=[new_markdown_cell("# t"), cell()])
    entry = {"cells": {"1": expect()},
             "kernel_checks": [{"name": "a == b", "actual": "a", "expected": "b"}]}
    assert nbcheck.compare(nb, entry, {"actual a == b": [1.0, 2.0], "expected a == b": [1.0, 2.0]}) == []
    assert nbcheck.compare(nb, entry, {"actual a == b": [1.0, 2.0], "expected a == b": [1.0, 2.5]})
    assert nbcheck.compare(nb, entry, {"actual a == b": "error: x", "expected a == b": [1.0]})
    assert "out of sync" in nbcheck.compare(nb, {"cells": {"0": expect()}})[0]


@pytest.mark.no_refleak_check(
    reason="starts a Jupyter kernel process; a rerun measures the kernel "
           "client, not tapegrad")
def test_run_notebook_in_a_real_kernel(tmp_path):
    cells = [
        new_code_cell("import numpy as np\nw = np.array([[1.5, -2.25]], np.float32)"),
        new_code_cell("print('tapegrad.Tensor(4.0, shape=(), dtype=float32)')"),
        new_code_cell("np.float32(6.0)"),
        new_code_cell("print('<tapegrad.Variable ' + repr(\"'w:0'\")[1:-1] + ' shape=(1, 2) dtype=float32, numpy=' + repr(w) + '>')"),
        new_code_cell("import os\nprint(os.getcwd())"),
        new_code_cell("assert 1 == 2"),
    ]
    path = tmp_path / "synthetic.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    entry = {"cells": {
        "0": expect(),
        "1": expect("tf.Tensor(4.0, shape=(), dtype=float32)"),
        "2": expect("6.0"),
        "3": expect("<tf.Variable 'w:0' shape=(1, 2) dtype=float32, numpy=array([[ 0.1, -0.2]], dtype=float32)>",
                    "random", values="w * 1"),
        "4": expect(str(nbcheck.ROOT)),
        "5": expect(),
    }, "kernel_checks": [{"name": "sum", "actual": "w.sum()", "expected": "-0.75"}]}
    res = nbcheck.run_notebook(path, entry, timeout=60)
    assert res.problems == ["cell 5 (In [1]) raised AssertionError:"]
    assert res.n_code == 6 and res.nb.cells[2].outputs[0]["output_type"] == "execute_result"
    assert nbformat.read(path, as_version=4).cells[1].outputs == []  # file untouched


def test_committed_notebooks_match_expectations():
    table = nbcheck.load_expectations()
    for name, entry in table.items():
        nb = nbformat.read(ROOT / entry["notebook"], as_version=4)
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        assert [str(i) for i in code] == sorted(entry["cells"], key=int), name
        sources = "\n".join(nb.cells[i].source for i in code)
        # `tf` is tapegrad everywhere (the training notebook imports the
        # real TF under another name, to time it beside tapegrad)
        assert sources.count("import tapegrad as tf") == 1, name
        assert "import tensorflow as tf" not in sources, name


def test_stable_outputs_read_the_same_on_every_rerun():
    def executed(address, pid, counts):
        warn = f"/tmp/ipykernel_{pid}/2596988951.py:4: UserWarning: int\n"
        a = new_code_cell("print(t)", id="a", execution_count=counts[0], outputs=[
            new_output("stream", name="stdout", text=f"<tapegrad.GradientTape object at {address}>\n"),
            new_output("stream", name="stdout", text="Resource"),
            new_output("stream", name="stdout", text="Variable\n"),
            new_output("stream", name="stderr", text=warn)])
        b = new_code_cell("t", id="b", execution_count=counts[1], outputs=[
            new_output("execute_result", execution_count=counts[1],
                       data={"text/plain": f"<Foo object at {address}>"})])
        return new_notebook(cells=[new_markdown_cell("# t", id="m"), a, b])

    one = executed("0x7f0efcbbae60", 14559, (5, 9))
    other = executed("0x7fc4c67386c0", 17809, (1, 2))
    stable = nbcheck.stable_outputs(one)
    assert stable == nbcheck.stable_outputs(other)
    a, b = stable.cells[1], stable.cells[2]
    assert (a.execution_count, b.execution_count, b.outputs[0]["execution_count"]) == (1, 2, 2)
    assert [o["text"] for o in a.outputs] == [
        "<tapegrad.GradientTape object at 0x...>\nResourceVariable\n",
        "/tmp/ipykernel_<pid>/2596988951.py:4: UserWarning: int\n"]
    assert b.outputs[0]["data"]["text/plain"] == "<Foo object at 0x...>"
    assert one.cells[1].execution_count == 5 and len(one.cells[1].outputs) == 4  # a copy
    # what the checks compare is unchanged by it
    assert nbcheck.shown_text(a) == nbcheck.shown_text(nbcheck.stable_outputs(one).cells[1])
