"""Bad input raises the right Python exception, whose message names the op
and the offending shapes/dtypes; never a crash, never SystemError."""
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tapegrad as tf

IAE = tf.errors.InvalidArgumentError


def shape_re(shape):
    """A shape as TF ([2,3]) or Python ((2, 3)) would print it."""
    inner = r",\s*".join(str(int(n)) for n in shape)
    if len(shape) == 1:
        inner += ",?"
    return r"[\[(]" + inner + r"[\])]"


def assert_message(exc, op_names, *shapes, dtypes=()):
    msg = str(exc)
    assert msg, "empty message"
    assert re.search("|".join(re.escape(n) for n in op_names), msg), (
        "message does not name the op (%s): %r" % (op_names, msg))
    for s in shapes:
        assert re.search(shape_re(s), msg), "message does not name shape %s: %r" % (s, msg)
    for d in dtypes:
        assert d in msg, "message does not name dtype %s: %r" % (d, msg)


def _f32(shape):
    return tf.constant(np.ones(shape, np.float32))


# ---- shapes ---------------------------------------------------------------------------
@pytest.mark.parametrize("fn,names", [
    (tf.add, ["AddV2", "add"]), (tf.subtract, ["Sub", "subtract"]),
    (tf.multiply, ["Mul", "multiply"]), (tf.divide, ["RealDiv", "divide"]),
    (tf.pow, ["Pow", "pow"]),
    (lambda a, b: a + b, ["AddV2", "add"]), (lambda a, b: a - b, ["Sub", "sub"]),
    (lambda a, b: a * b, ["Mul", "mul"]), (lambda a, b: a / b, ["RealDiv", "div"]),
    (lambda a, b: a ** b, ["Pow", "pow"]), (lambda a, b: a < b, ["Less", "less"]),
], ids=["add", "subtract", "multiply", "divide", "pow", "+", "-", "*", "/", "**", "<"])
def test_shapes_that_do_not_broadcast(fn, names):
    with pytest.raises(IAE) as ei:
        fn(_f32((2, 3)), _f32((3, 2)))
    assert_message(ei.value, names, (2, 3), (3, 2))


def test_broadcast_error_against_list_and_ndarray():
    with pytest.raises(IAE) as ei:
        _f32((2, 3)) + [1.0, 2.0]
    assert_message(ei.value, ["AddV2", "add"], (2, 3), (2,))
    with pytest.raises(IAE) as ei:
        np.ones((4,), np.float32) * _f32((2, 3))
    assert_message(ei.value, ["Mul", "mul"], (2, 3), (4,))


def test_matmul_mismatched_shapes():
    with pytest.raises(IAE) as ei:
        tf.matmul(_f32((2, 3)), _f32((4, 5)))
    assert_message(ei.value, ["MatMul", "matmul"], (2, 3), (4, 5))
    with pytest.raises(IAE) as ei:
        _f32((2, 3)) @ _f32((2, 3))
    assert_message(ei.value, ["MatMul", "matmul"], (2, 3))
    with pytest.raises(IAE) as ei:
        tf.matmul(_f32((2, 3)), _f32((2, 3)), transpose_a=True, transpose_b=True)
    assert_message(ei.value, ["MatMul", "matmul"], (2, 3))


def test_matmul_needs_matrices():
    with pytest.raises(ValueError) as ei:
        tf.matmul(_f32((3,)), _f32((3, 2)))
    assert_message(ei.value, ["MatMul", "matmul"], (3,))
    with pytest.raises(ValueError) as ei:
        tf.matmul(tf.constant(2.0), _f32((3, 2)))
    assert_message(ei.value, ["MatMul", "matmul"])


def test_reduction_axis_out_of_range():
    with pytest.raises(IAE) as ei:
        tf.reduce_sum(_f32((2, 3)), axis=2)
    assert_message(ei.value, ["Sum", "reduce_sum"])
    assert "2" in str(ei.value)
    with pytest.raises(IAE) as ei:
        tf.reduce_mean(_f32((2, 3)), axis=-3)
    assert_message(ei.value, ["Mean", "reduce_mean"])
    assert "-3" in str(ei.value)


def test_reduction_axis_wrong_type():
    with pytest.raises(TypeError):
        tf.reduce_sum(_f32((2, 3)), axis="a")
    with pytest.raises(TypeError):
        tf.reduce_sum(_f32((2, 3)), axis=1.5)


# ---- dtypes ---------------------------------------------------------------------------
@pytest.mark.parametrize("fn,op", [
    (lambda a, b: a + b, "AddV2"), (lambda a, b: a - b, "Sub"), (lambda a, b: a * b, "Mul"),
    (lambda a, b: a / b, "RealDiv"), (lambda a, b: a ** b, "Pow"), (lambda a, b: a @ b, "MatMul"),
], ids=["+", "-", "*", "/", "**", "@"])
def test_mixed_dtype_operators(fn, op):
    a = _f32((2, 2))
    b = tf.constant(np.ones((2, 2)))
    msg = ("cannot compute %s as input #1(zero-based) was expected to be a float tensor "
           "but is a double tensor [Op:%s]" % (op, op))
    with pytest.raises(IAE, match=re.escape(msg)):
        fn(a, b)


def test_mixed_dtype_with_variable():
    v = tf.Variable(np.ones(2))              # float64
    msg = ("cannot compute AddV2 as input #1(zero-based) was expected to be a double tensor "
           "but is a float tensor [Op:AddV2]")
    with pytest.raises(IAE, match=re.escape(msg)):
        v + _f32((2,))


@pytest.mark.parametrize("bad", [1 + 2j, np.array([1 + 2j]), np.array(["a", "b"]),
                                 np.array([object()]), np.array(["2020-01-01"], dtype="M8[D]"),
                                 object(), {"a": 1}, "abc", b"abc"],
                         ids=["complex", "complex-array", "str-array", "object-array",
                              "datetime-array", "object", "dict", "str", "bytes"])
def test_unsupported_values(bad):
    with pytest.raises((TypeError, ValueError)) as ei:
        tf.constant(bad)
    assert str(ei.value)
    with pytest.raises((TypeError, ValueError)) as ei:
        tf.math.sin(bad)
    assert str(ei.value)
    with pytest.raises((TypeError, ValueError)) as ei:
        _f32((1,)) + bad
    assert str(ei.value)


def test_unknown_dtype_argument():
    for bad in ("banana", "complex64", object(), 3):
        with pytest.raises((TypeError, ValueError)):
            tf.constant(1.0, dtype=bad)
        with pytest.raises((TypeError, ValueError)):
            tf.zeros((2,), dtype=bad)


def test_ragged_input_to_ops():
    with pytest.raises(ValueError):
        tf.add([[1.0, 2.0], [3.0]], 1.0)
    with pytest.raises(ValueError):
        _f32((2,)) * [[1.0], [1.0, 2.0]]


def test_float_ops_reject_ints_where_tf_does():
    # sin/exp/log/sigmoid/softplus are float-only in TF
    for fn in (tf.math.sin, tf.math.cos, tf.math.exp, tf.math.log, tf.nn.sigmoid,
               tf.nn.softplus):
        with pytest.raises((TypeError, IAE)) as ei:
            fn(tf.constant([1, 2]))
        assert "int32" in str(ei.value), str(ei.value)
        assert re.search(r"(?i)sin|cos|exp|log|sigmoid|softplus", str(ei.value)), str(ei.value)


# ---- argument lists ---------------------------------------------------------------------
def test_wrong_argument_counts_and_names():
    x = _f32((2,))
    with pytest.raises(TypeError):
        tf.add(x)
    with pytest.raises(TypeError):
        tf.math.sin(x, x, x)
    with pytest.raises(TypeError, match="foo"):
        tf.add(x, x, foo=1)
    with pytest.raises(TypeError):
        tf.reduce_sum()
    with pytest.raises(TypeError):
        tf.GradientTape(1, 2, 3)


def test_bad_shapes_for_creation():
    for bad in ((-1, 2), (2, -3)):
        with pytest.raises(ValueError):
            tf.ones(bad)
        with pytest.raises(ValueError):
            tf.zeros(bad)
    with pytest.raises((TypeError, ValueError)):
        tf.ones("abc")
    with pytest.raises((TypeError, ValueError)):
        tf.ones((2.5, 2))


@pytest.mark.parametrize("shape", [(2 ** 32, 2 ** 32), (2 ** 62, 4)])
def test_huge_shapes_fail_cleanly(shape):
    with pytest.raises((ValueError, MemoryError, OverflowError)):
        tf.zeros(shape)
    with pytest.raises((ValueError, MemoryError, OverflowError)):
        tf.ones(shape)
    with pytest.raises((ValueError, MemoryError, OverflowError)):
        tf.random.normal(shape)


def test_empty_tensor_with_huge_dims_works_or_fails_cleanly():
    # zero elements, but the other dims overflow any byte count or stride
    try:
        t = tf.zeros((0, 2 ** 62, 2 ** 62))
    except (ValueError, MemoryError, OverflowError) as e:
        assert str(e)
        return
    assert t.shape == (0, 2 ** 62, 2 ** 62)
    for f in (lambda: t.numpy(), lambda: str(t), lambda: tf.reduce_sum(t, axis=0),
              lambda: t + 1.0, lambda: t[0:0]):
        try:
            f()
        except (ValueError, MemoryError, OverflowError) as e:
            assert str(e)


def _value_error_msg(f, *args):
    with pytest.raises(ValueError) as ei:
        f(*args)
    assert str(ei.value).strip()
    return str(ei.value)


def test_pad_whose_result_overflows_is_a_value_error():
    # before + dim + after wrapped around to a negative size (signed
    # overflow) and the message blamed a negative dimension
    msg = _value_error_msg(tf.pad, tf.constant([1.0, 2.0]), [[2 ** 62, 2 ** 62]])
    assert "too large" in msg, msg
    # a zero-size result still checks its shape before building index maps
    msg = _value_error_msg(tf.pad, tf.zeros((0, 2 ** 58)), [[0, 0], [2 ** 62, 2 ** 62]])
    assert "too large" in msg, msg
    msg = _value_error_msg(tf.pad, tf.zeros((3, 4)), [[2 ** 40, 2 ** 40], [2 ** 40, 0]])
    assert "too large" in msg, msg


def test_matmul_whose_result_overflows_names_the_size_not_the_batch():
    a = tf.zeros((2 ** 58, 0))
    b = tf.zeros((0, 2 ** 58))
    msg = _value_error_msg(tf.matmul, a, b)
    assert "batch" not in msg and "too large" in msg, msg
    with pytest.raises(IAE, match="compatible batch dimensions"):
        tf.matmul(tf.zeros((2, 3, 4)), tf.zeros((3, 4, 5)))
    assert tf.matmul(tf.zeros((1, 3, 4)), tf.zeros((2, 4, 5))).shape == (2, 3, 5)
    assert tf.matmul(tf.zeros((2, 0, 4)), tf.zeros((4, 5))).shape == (2, 0, 5)


def test_many_dimensions_work_or_fail_cleanly():
    for ndim in (32, 33, 70):
        try:
            t = tf.zeros((1,) * ndim)
        except ValueError as e:
            assert str(e)
        else:
            assert t.shape == (1,) * ndim
            assert t.numpy().shape == (1,) * ndim


def test_bad_indices():
    t = _f32((3, 4))
    with pytest.raises(TypeError) as ei:
        t[1.5]
    assert "1.5" in str(ei.value)
    with pytest.raises((TypeError, ValueError, IndexError)):
        t["a"]
    with pytest.raises((IndexError, ValueError)):
        t[3]
    with pytest.raises((IndexError, ValueError)):
        t[0, 4]


def test_scalar_conversions_on_arrays():
    with pytest.raises(TypeError):
        float(_f32((2,)))
    with pytest.raises(TypeError):
        int(_f32((2, 2)))


def test_variable_bad_initial_values():
    with pytest.raises((TypeError, ValueError)):
        tf.Variable(None)
    with pytest.raises(ValueError):
        tf.Variable([[1.0], [2.0, 3.0]])
    with pytest.raises(TypeError):
        tf.Variable(2.5, dtype=tf.int32)


def test_variable_assign_wrong_shape_names_shapes():
    v = tf.Variable(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError) as ei:
        v.assign(np.ones((3, 2), np.float32))
    msg = str(ei.value)
    assert re.search(shape_re((2, 3)), msg) and re.search(shape_re((3, 2)), msg), msg
    # TF: "Cannot update variable with shape [2,3] using a Tensor with shape [3],
    # shapes must be equal." -- assign_add does not broadcast either
    with pytest.raises(ValueError) as ei:
        v.assign_add(np.ones((3,), np.float32))
    msg = str(ei.value)
    assert re.search(shape_re((2, 3)), msg) and re.search(shape_re((3,)), msg), msg


# ---- gradient() misuse -----------------------------------------------------------------
def test_gradient_with_non_tensor_sources_or_targets():
    x = _f32(())
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
    with pytest.raises((TypeError, ValueError)):
        t.gradient(y, 3.0)
    with pytest.raises((TypeError, ValueError)):
        t.gradient(y, [x, "abc"])
    with pytest.raises((TypeError, ValueError)):
        t.gradient("abc", x)
    assert t.gradient(y, x).numpy() == 2.0       # the tape still works
    del t


def test_output_gradients_count_mismatch():
    x = _f32(())
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y0 = x * 2.0
        y1 = x * 3.0
    with pytest.raises(ValueError):
        t.gradient([y0, y1], x, output_gradients=[1.0])
    with pytest.raises(ValueError):
        t.gradient(y0, x, output_gradients=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        t.gradient([y0, y1], x, output_gradients=[])
    assert t.gradient([y0, y1], x, output_gradients=[1.0, 1.0]).numpy() == 5.0
    del t


def test_output_gradients_wrong_shape_or_dtype():
    x = _f32((3,))
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
    with pytest.raises(ValueError) as ei:
        t.gradient(y, x, output_gradients=_f32((2,)))
    assert re.search(shape_re((3,)), str(ei.value)) and re.search(shape_re((2,)), str(ei.value))
    with pytest.raises((TypeError, ValueError)):
        t.gradient(y, x, output_gradients=tf.constant(np.ones(3)))
    with pytest.raises((TypeError, ValueError)):
        t.gradient(y, x, output_gradients=_f32((0,)))
    del t


def test_unconnected_gradients_not_a_valid_value():
    x = _f32(())
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
    with pytest.raises(ValueError, match=re.escape("Unknown value for unconnected_gradients: 5")):
        t.gradient(y, x, unconnected_gradients=5)


def test_error_inside_tape_leaves_it_usable():
    x = _f32((2,))
    with tf.GradientTape() as t:
        t.watch(x)
        with pytest.raises(IAE):
            x + _f32((3,))
        y = x * 3.0
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), [3.0, 3.0])


# ---- sweep: junk into every public function and every op row, in a subprocess ----------------
SWEEP = textwrap.dedent(r'''
    import json, sys, itertools
    import numpy as np
    import tapegrad as tf
    from tapegrad import _tapegrad as C
    OK = (TypeError, ValueError, RuntimeError, IndexError, LookupError,
          OverflowError, MemoryError)
    junk = [None, "x", b"x", object(), 1 + 2j, [[1.0, 2.0], [3.0]], [None], {},
            np.array(["a"]), np.array([object()]), np.array([1 + 1j]),
            np.zeros((2, 0)), np.ones((2, 3))[:, ::2], np.ones(3, ">f4"),
            np.ones((3, 2), np.float32).T, np.array([np.nan, np.inf], np.float32),
            tf.constant([[1.0, 2.0]]), tf.constant([1, 2]), tf.constant([True]),
            tf.Variable([1.0]), tf.GradientTape(), float("nan"), 10 ** 30, -1]
    problems = []
    skip, skipfns = json.loads(sys.argv[1])
    def attempt(label, f, *a, **k):
        label = " ".join(label.split())
        if label in skip or label.split("(")[0] in skipfns:
            return
        sys.stderr.write("CALL " + label + "\n")
        sys.stderr.flush()
        try:
            f(*a, **k)
        except OK as e:
            if not str(e):
                problems.append("%s: %s with empty message" % (label, type(e).__name__))
        except BaseException as e:
            problems.append("%s: %s: %s" % (label, type(e).__name__, e))
    fns = {"constant": tf.constant, "convert_to_tensor": tf.convert_to_tensor,
           "ones": tf.ones, "zeros": tf.zeros, "ones_like": tf.ones_like,
           "zeros_like": tf.zeros_like, "identity": tf.identity,
           "reduce_sum": tf.reduce_sum, "reduce_mean": tf.reduce_mean,
           "random.normal": tf.random.normal, "random.uniform": tf.random.uniform,
           "Variable": tf.Variable, "GradientTape": tf.GradientTape}
    for r in C._ops():
        if r["api"]:
            obj = tf
            for p in r["api"].split()[0].split("."):
                obj = getattr(obj, p)
            fns[r["api"]] = obj
        else:
            fns["_call:" + r["name"]] = (lambda n: lambda *a, **k: C._call(n, *a, **k))(r["name"])
    good = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    for name, f in fns.items():
        for j in junk:
            attempt("%s(%r)" % (name, j), f, j)
            attempt("%s(good, %r)" % (name, j), f, good, j)
            attempt("%s(%r, good)" % (name, j), f, j, good)
        for kw in ({"axis": 7}, {"axis": "a"}, {"shape": (-5,)}, {"shape": "s"},
                   {"key": "bad"}, {"key": (0, 0, 0, 0)}, {"dtype": "banana"},
                   {"transpose_a": None}, {"keepdims": []}, {"nonsense": 1}):
            attempt("%s(good, **%r)" % (name, kw), f, good, **kw)
            attempt("%s(good, good, **%r)" % (name, kw), f, good, good, **kw)
    x = tf.constant(1.0)
    for j in junk:
        t = tf.GradientTape(persistent=True)
        with t:
            t.watch(x)
            y = x * x
        attempt("watch(%r)" % (j,), t.watch, j)
        attempt("gradient(%r, x)" % (j,), t.gradient, j, x)
        attempt("gradient(y, %r)" % (j,), t.gradient, y, j)
        attempt("gradient(y, x, output_gradients=%r)" % (j,), t.gradient, y, x,
                output_gradients=j)
        attempt("gradient(y, x, unconnected_gradients=%r)" % (j,), t.gradient, y, x,
                unconnected_gradients=j)
        attempt("__exit__ twice", t.__exit__, None, None, None)
        del t
    print(json.dumps(problems))
''')


@pytest.mark.no_refleak_check(
    reason="the sweep runs in child processes, which check themselves")
def test_junk_never_crashes_or_raises_system_error():
    """Each crash is recorded and the sweep rerun without that call (and
    without a function once it crashed twice), so one run lists the crashing
    calls (up to 16)."""
    env = dict(os.environ)
    env["PYTHONFAULTHANDLER"] = "1"
    crashes = []
    for _ in range(16):
        fns = [c.split("(")[0] for c in crashes]
        skipfns = sorted({f for f in fns if fns.count(f) >= 2})   # one bug, many calls
        p = subprocess.run([sys.executable, "-X", "faulthandler", "-c", SWEEP,
                            json.dumps([crashes, skipfns])],
                           capture_output=True, text=True, timeout=300, env=env,
                           cwd=os.path.dirname(os.path.abspath(__file__)))
        if p.returncode == 0:
            break
        calls = [ln[5:] for ln in p.stderr.splitlines() if ln.startswith("CALL ")]
        assert calls, p.stderr[-3000:]
        crashes.append(calls[-1])
    assert crashes == [], "calls that crashed the interpreter:\n" + "\n".join(crashes)
    assert p.returncode == 0
    problems = json.loads(p.stdout.strip().splitlines()[-1])
    assert problems == [], "\n".join(problems[:40])


# ---- flags TF's kernels take as bools ---------------------------------------
@pytest.mark.parametrize("call,op,param", [
    (lambda v: tf.matmul(tf.ones((2, 2)), tf.ones((2, 2)), transpose_a=v),
     "MatMul", "transpose_a"),
    (lambda v: tf.matmul(tf.ones((2, 2)), tf.ones((2, 2)), transpose_b=v),
     "MatMul", "transpose_b"),
    (lambda v: tf.math.cumsum(tf.ones(3), exclusive=v), "Cumsum",
     "exclusive"),
    (lambda v: tf.math.cumprod(tf.ones(3), reverse=v), "Cumprod", "reverse"),
    (lambda v: tf.math.top_k(tf.ones(3), sorted=v), "TopKV2", "sorted"),
    (lambda v: tf.linalg.svd(tf.ones((2, 2)), full_matrices=v), "Svd",
     "full_matrices"),
    (lambda v: tf.linalg.inv(tf.eye(2), adjoint=v), "MatrixInverse",
     "adjoint"),
    (lambda v: tf.linalg.solve(tf.eye(2), tf.ones((2, 1)), adjoint=v),
     "MatrixSolve", "adjoint"),
    (lambda v: tf.linalg.matvec(tf.eye(2), tf.ones(2), transpose_a=v),
     "MatVec", "transpose_a"),
])
def test_bool_flags_take_only_bools(call, op, param):
    # a truth test read "no" and "False" as True
    for v in ("no", "False", 1, tf.constant(True), [True]):
        with pytest.raises(TypeError, match=r"^%s: Expected bool for argument "
                           r"'%s' not " % (op, param)):
            call(v)
    call(True)
    call(np.False_)


# ---- TF's error classes (tapegrad/errors.py) ---------------------------------
def test_every_tf_error_class_is_an_op_error_with_tfs_code():
    codes = {"CancelledError": 1, "UnknownError": 2,
             "InvalidArgumentError": 3, "DeadlineExceededError": 4,
             "NotFoundError": 5, "AlreadyExistsError": 6,
             "PermissionDeniedError": 7, "ResourceExhaustedError": 8,
             "FailedPreconditionError": 9, "AbortedError": 10,
             "OutOfRangeError": 11, "UnimplementedError": 12,
             "InternalError": 13, "UnavailableError": 14,
             "DataLossError": 15, "UnauthenticatedError": 16}
    for name, code in codes.items():
        cls = getattr(tf.errors, name)
        assert issubclass(cls, tf.errors.OpError)
        e = cls(None, None, "what went wrong")   # TF's constructor
        assert e.error_code == code == getattr(
            tf.errors, re.sub(r"(?<!^)(?=[A-Z])", "_", name[:-5]).upper())
        assert e.message == str(e) == "what went wrong"
        assert e.op is None and e.node_def is None
    assert tf.errors.OK == 0
    assert tf.errors.OpError(None, None, "m", 9).error_code == 9


def test_raised_errors_are_caught_as_op_errors_and_value_errors():
    with pytest.raises(tf.errors.OpError) as info:
        tf.reshape(tf.ones(3), [2])
    assert info.value.error_code == tf.errors.INVALID_ARGUMENT
    assert info.value.message == str(info.value)
    assert "[Op:Reshape]" in info.value.message
    assert isinstance(info.value, ValueError)


def test_op_errors_pickle_with_their_fields():
    import pickle
    e = pickle.loads(pickle.dumps(tf.errors.OpError("nd", None, "m", 14)))
    assert (type(e), e.node_def, e.message, e.error_code) == (
        tf.errors.OpError, "nd", "m", 14)
    e = pickle.loads(pickle.dumps(IAE("bad shape")))
    assert type(e) is IAE and e.message == "bad shape"


def test_iterator_get_next_raises_out_of_range_at_the_end():
    it = iter(tf.data.Dataset.range(2))
    assert [int(it.get_next()), int(it.get_next())] == [0, 1]
    with pytest.raises(tf.errors.OutOfRangeError, match="End of sequence"):
        it.get_next()
    with pytest.raises(StopIteration):   # the Python protocol is unchanged
        next(it)


def test_the_first_error_of_a_process_has_its_message():
    # while tf.errors loaded on first use, the C module's first
    # InvalidArgumentError was made before the `except tf.errors...`
    # clause imported it, with BaseException's constructor: a reviewer
    # found e.message == '' the first time.  tf.errors is imported with
    # the package now, and the message property reads the error's one
    # argument when the constructor did not set it
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import pickle, tapegrad as tf\n"
            "try:\n"
            "    tf.reshape(tf.ones([3]), [2])\n"
            "except tf.errors.InvalidArgumentError as e:\n"
            "    copy = pickle.loads(pickle.dumps(e))\n"
            "    print(e.message == str(e) == copy.message != '',\n"
            "          type(copy).__name__, e.error_code, e.op)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=root))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "InvalidArgumentError", "3", "None"]
