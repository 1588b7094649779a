"""Integer arguments (shapes, axes, perms, multiples, k, num...): one
conversion in C (tg_int_list / tg_int_scalar in src/oputil.c) with TF's
checks, for every op that takes one.

A rank-0 float tensor as a shape used to kill the interpreter
(`tf.ones(tf.constant(2.0))`: a double decref in the old shape parser).
Now, in every integer slot: a float, bool, complex or string value is a
TypeError naming the op and the parameter, as TF's "Value passed to
parameter 'shape' has DataType float32 not in list of allowed values:
int32, int64"; a value of the wrong rank is InvalidArgumentError naming
the op; an int beyond int64 is a ValueError; a user's __index__ that raises
propagates its own exception.

The matrix of calls runs in one child process (a crash fails the cases
from the one it stopped at, not the run); each case is its own test.
"""
import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tapegrad as tf

IAE = tf.errors.InvalidArgumentError

# (slot id, call with V as the value, op name in the message, parameter,
#  kind: "list" takes a scalar or a vector, "scalar" only a scalar; the
#  others are checked for dtypes only: "pair" (axes: a scalar or two
#  lists), "vector" (read as a list of any length: split's sizes, diag's
#  k) and "input" (an op input, converted as a tensor first: its errors are
#  the conversion's, naming the op))
SLOTS = [
    ("ones", "tf.ones(V)", "ones", "shape", "list"),
    ("zeros", "tf.zeros(V, dtype=tf.float64)", "zeros", "shape", "list"),
    ("reshape", "tf.reshape(tf.ones(4), V)", "Reshape", "shape", "list"),
    ("broadcast_to", "tf.broadcast_to(tf.ones(3), V)", "BroadcastTo",
     "shape", "list"),
    ("transpose", "tf.transpose(tf.ones((2, 2)), V)", "Transpose", "perm",
     "list"),
    ("reverse", "tf.reverse(tf.ones(3), V)", "ReverseV2", "axis", "list"),
    ("tile", "tf.tile(tf.ones(3), V)", "Tile", "multiples", "list"),
    ("reduce_sum", "tf.reduce_sum(tf.ones((2, 2)), axis=V)", "Sum", "axis",
     "list"),
    ("reduce_max", "tf.reduce_max(tf.ones((2, 2)), axis=V)", "Max", "axis",
     "list"),
    ("reduce_std", "tf.math.reduce_std(tf.ones((2, 2)), axis=V)",
     "ReduceStd", "axis", "list"),
    ("squeeze", "tf.squeeze(tf.ones((1, 2)), V)", "Squeeze", "axis", "list"),
    ("moments", "tf.nn.moments(tf.ones((2, 2)), V)", "Moments", "axes",
     "list"),
    ("clip_by_norm", "tf.clip_by_norm(tf.ones((2, 2)), 1.0, axes=V)",
     "ClipByNorm", "axes", "list"),
    ("norm", "tf.norm(tf.ones((2, 2)), axis=V)", "Norm", "axis", "pair"),
    ("dropout_noise", "tf.nn.dropout(tf.ones((2, 2)), 0.5, noise_shape=V)",
     "Dropout", "noise_shape", "list"),
    ("dropout_seed", "tf.nn.dropout(tf.ones((2, 2)), 0.5, seed=V)",
     "Dropout", "seed", "scalar"),
    ("eye_batch", "tf.eye(2, batch_shape=V)", "Eye", "batch_shape", "list"),
    ("eye_rows", "tf.eye(V)", "Eye", "num_rows", "input"),
    ("fill", "tf.fill(V, 1.0)", "Fill", "dims", "input"),
    ("random_normal", "tf.random.normal(V)", "RandomStandardNormal",
     "shape", "list"),
    ("random_uniform", "tf.random.uniform(V)", "RandomUniform", "shape",
     "list"),
    ("truncated_normal", "tf.random.truncated_normal(V)",
     "TruncatedNormal", "shape", "list"),
    ("expand_dims", "tf.expand_dims(tf.ones(2), V)", "ExpandDims", "axis",
     "scalar"),
    ("concat", "tf.concat([tf.ones(2), tf.ones(2)], V)", "ConcatV2", "axis",
     "scalar"),
    ("stack", "tf.stack([tf.ones(2), tf.ones(2)], axis=V)", "Pack", "axis",
     "scalar"),
    ("unstack", "tf.unstack(tf.ones((2, 2)), axis=V)", "Unpack", "axis",
     "scalar"),
    ("split_axis", "tf.split(tf.ones(4), 2, axis=V)", "Split", "axis",
     "scalar"),
    ("split_num", "tf.split(tf.ones(4), V)", "Split|SplitV",
     "num_or_size_splits",
     "vector"),
    ("gather_axis", "tf.gather(tf.ones((2, 2)), [0], axis=V)", "GatherV2",
     "axis", "scalar"),
    ("gather_batch_dims", "tf.gather(tf.ones((2, 2)), [[0], [1]], "
     "batch_dims=V)", "GatherV2", "batch_dims", "scalar"),
    ("cumsum", "tf.math.cumsum(tf.ones((2, 2)), axis=V)", "Cumsum", "axis",
     "scalar"),
    ("argmax", "tf.argmax(tf.ones((2, 2)), axis=V)", "ArgMax", "axis",
     "scalar"),
    ("sort", "tf.sort(tf.ones((2, 2)), axis=V)", "Sort", "axis", "scalar"),
    ("softmax", "tf.nn.softmax(tf.ones((2, 2)), axis=V)", "Softmax", "axis",
     "scalar"),
    ("one_hot_depth", "tf.one_hot([0, 1], V)", "OneHot", "depth", "scalar"),
    ("top_k", "tf.math.top_k(tf.ones(3), k=V)", "TopKV2", "k", "scalar"),
    ("linspace", "tf.linspace(0.0, 1.0, V)", "LinSpace", "num", "scalar"),
    ("tensordot", "tf.tensordot(tf.ones((2, 2)), tf.ones((2, 2)), V)",
     "Tensordot", "axes", "pair"),
    ("diag_k", "tf.linalg.diag(tf.ones(2), k=V)", "MatrixDiagV3", "k",
     "vector"),
    ("diag_rows", "tf.linalg.diag(tf.ones(2), num_rows=V)", "MatrixDiagV3",
     "num_rows", "scalar"),
]

# (value id, expression, the DataType TF names) for values of a wrong dtype
WRONG_DTYPES = [
    ("f32_scalar_tensor", "tf.constant(2.0)", "float32"),
    ("f64_scalar_tensor", "tf.constant(2.0, dtype=tf.float64)", "float64"),
    ("f16_scalar_tensor", "tf.constant(2.0, dtype=tf.float16)", "float16"),
    ("bool_scalar_tensor", "tf.constant(True)", "bool"),
    ("f32_vector_tensor", "tf.constant([2.0])", "float32"),
    ("f32_matrix_tensor", "tf.constant([[2.0]])", "float32"),
    ("f32_variable", "tf.Variable(2.0)", "float32"),
    ("python_float", "2.0", "float32"),
    ("python_bool", "True", "bool"),
    ("python_complex", "1 + 2j", "complex128"),
    ("python_str", "'2'", "string"),
    ("float_in_list", "[1, 2.0]", "float32"),
    ("f32_tensor_in_list", "[tf.constant(1.0)]", "float32"),
    ("numpy_float_scalar", "np.float32(2)", "float32"),
    ("numpy_bool_scalar", "np.True_", "bool"),
    ("numpy_float_array", "np.array([2.0])", "float64"),
    ("numpy_complex_array", "np.array([1j])", "complex128"),
    ("numpy_object_array", "np.array([object()])", "object"),
    ("numpy_datetime_array",
     "np.array(['2020-01-01'], dtype='datetime64[D]')", "datetime64[D]"),
    ("numpy_byteswapped_float", "np.array([2.0], dtype='>f8')", "float64"),
]

# values of a wrong rank, per slot kind
WRONG_RANKS = [
    ("int_matrix_tensor", "tf.constant([[1]])", ("list", "scalar")),
    ("int_matrix_array", "np.array([[1]])", ("list", "scalar")),
    ("nested_list", "[[1]]", ("list", "scalar")),
    ("int_vector_tensor", "tf.constant([1])", ("scalar",)),
    ("int_list", "[1]", ("scalar",)),
]

CASES = (
    [(s[0], v[0], "dtype") for s in SLOTS for v in WRONG_DTYPES] +
    [(s[0], v[0], "rank") for s in SLOTS for v in WRONG_RANKS
     if s[4] in v[2]] +
    [(s[0], "huge_int", "range") for s in SLOTS if s[4] in ("list", "scalar")] +
    [(s[0], "index_raises", "index") for s in SLOTS if s[4] != "input"] +
    [(s[0], "plain_object", "object") for s in SLOTS])

CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tapegrad as tf

    class IndexRaises:
        def __index__(self):
            raise ZeroDivisionError("IndexRaises.__index__")

    slots = {s[0]: s[1] for s in json.loads(sys.argv[1])}
    values = dict(json.loads(sys.argv[2]))
    values["huge_int"] = "2 ** 64"
    values["index_raises"] = "IndexRaises()"
    values["plain_object"] = "object()"
    for slot, value, _ in json.loads(sys.argv[3]):
        key = slot + "/" + value
        print(json.dumps([key, "started"]), flush=True)
        try:
            eval(slots[slot].replace("V", values[value]))
            out = ["no error", ""]
        except BaseException as e:
            out = [type(e).__name__, str(e)]
        print(json.dumps([key] + out), flush=True)
""")


@pytest.fixture(scope="module")
def outcomes():
    values = [(v[0], v[1]) for v in WRONG_DTYPES + WRONG_RANKS]
    p = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", CHILD, json.dumps(SLOTS),
         json.dumps(values), json.dumps(CASES)],
        capture_output=True, text=True, timeout=600)
    got, last = {}, None
    for line in p.stdout.splitlines():
        key, *rest = json.loads(line)
        if rest == ["started"]:
            last = key
        else:
            got[key] = rest
    if p.returncode != 0:
        got[last] = ["crashed", p.stderr[-2000:]]
    return got


def _slot(slot_id):
    return next(s for s in SLOTS if s[0] == slot_id)


@pytest.mark.parametrize("slot,value,what", CASES,
                         ids=["%s-%s" % c[:2] for c in CASES])
def test_integer_argument_errors(outcomes, slot, value, what):
    _, _, op, param, kind = _slot(slot)
    key = slot + "/" + value
    assert key in outcomes, "not reached: the child stopped earlier"
    exc, msg = outcomes[key]
    assert exc != "crashed", msg
    if what == "dtype":
        dtype = dict((v[0], v[2]) for v in WRONG_DTYPES)[value]
        in_list = value in ("float_in_list", "f32_tensor_in_list")
        if kind == "scalar" and in_list:   # a list is the wrong rank first
            assert exc == "InvalidArgumentError", (exc, msg)
            assert msg == "%s must be a scalar, got a sequence [Op:%s]" % (
                param, op)
            return
        if slot == "tensordot" and value == "f32_tensor_in_list":
            assert exc == "ValueError", (exc, msg)   # not a pair
            assert msg.startswith("tensordot: 'axes' must be an int or a "
                                  "pair of axis lists"), msg
            return
        assert exc == "TypeError", (exc, msg)
        assert re.match("(%s): " % op, msg), msg   # split: Split or SplitV
        if kind not in ("input", "vector") or "cannot convert" not in msg:
            assert ("Value passed to parameter '%s' has DataType %s not in "
                    "list of allowed values: int32, int64" % (param, dtype)
                    ) in msg
    elif what == "rank":
        assert exc == "InvalidArgumentError", (exc, msg)
        want = "a scalar" if kind == "scalar" else "a scalar or a vector"
        assert msg.startswith("%s must be %s" % (param, want)), msg
        assert msg.endswith("[Op:%s]" % op), msg
    elif what == "range":
        assert exc == "ValueError", (exc, msg)
        assert msg == ("%s: a value passed to parameter '%s' is out of the "
                       "int64 range" % (op, param)), msg
    elif what == "index":
        # the user's own exception, unchanged
        assert (exc, msg) == ("ZeroDivisionError", "IndexRaises.__index__")
    elif kind == "input":
        assert exc == "TypeError", (exc, msg)
        assert msg.startswith("%s: cannot convert <object object at " % op)
    else:
        assert exc == "TypeError", (exc, msg)
        assert re.match("(%s): Expected int32 or int64 for parameter '%s', "
                        "got <object object at " % (op, param), msg), msg


# ---- what every slot accepts ------------------------------------------------
GOOD_SHAPES = [
    (3, (3,)), ([2, 3], (2, 3)), ((2, 3), (2, 3)), ([], ()),
    (np.int64(3), (3,)), (np.array([2, 3], dtype=np.uint8), (2, 3)),
    (np.array(3), (3,)), (np.array([2, 3], dtype=">i8"), (2, 3)),
    (np.array([0, 2, 0, 3], dtype=np.int32)[1::2], (2, 3)),
    (tf.constant(3), (3,)), (tf.constant([2, 3], dtype=tf.int64), (2, 3)),
    (tf.Variable([2, 3]), (2, 3)), ([tf.constant(2), np.int32(3)], (2, 3)),
    (range(1, 3), (1, 2)),
]


@pytest.mark.parametrize("value,shape", GOOD_SHAPES,
                         ids=[repr(v[1]) + "-" + type(v[0]).__name__
                              for v in GOOD_SHAPES])
def test_shapes_of_every_integer_kind(value, shape):
    assert tf.zeros(value).shape == shape
    assert tf.reshape(tf.zeros(shape), value).shape == shape
    assert tf.random.normal(value).shape == shape


def test_an_index_object_is_an_integer():
    class Index:
        def __init__(self, v):
            self.v = v

        def __index__(self):
            return self.v
    assert tf.ones(Index(3)).shape == (3,)
    assert tf.ones([Index(3), 2]).shape == (3, 2)
    assert tf.reduce_sum(tf.ones((2, 3)), axis=Index(1)).shape == (2,)
    assert tf.concat([tf.ones((2, 1)), tf.ones((2, 3))], axis=np.int64(1)
                     ).shape == (2, 4)


def test_a_sequence_longer_than_any_shape_is_refused_without_reading_it():
    class Endless:
        """A sequence whose __getitem__ never ends: list() of it would
        never return."""
        def __len__(self):
            return 10 ** 6

        def __getitem__(self, i):
            return 1
    with pytest.raises(IAE, match=r"parameter 'shape' takes at most 32 "
                       r"values \[Op:Reshape\]"):
        tf.reshape(tf.ones(1), Endless())


def test_a_getitem_without_len_is_not_a_shape():
    class Items:
        def __getitem__(self, i):
            return 1
    with pytest.raises(TypeError, match=r"^ones: Expected int32 or int64 for "
                       r"parameter 'shape', got <"):
        tf.ones(Items())


def test_a_list_changed_by_an_items_index_is_read_as_given():
    # __index__ empties the list it sits in: the conversion reads a copy
    lst = []

    class Clears:
        def __index__(self):
            lst.clear()
            return 2
    lst.extend([Clears(), 3])
    assert tf.ones(lst).shape == (2, 3)


# ---- __format__ -------------------------------------------------------------
@pytest.mark.parametrize("spec", [5, (1,), None, b"x", tf.float32,
                                  np.float32(1)], ids=repr)
def test_format_with_a_non_str_spec_is_a_type_error(spec):
    # was: SystemError: Format specifier must be a string
    for obj, name in ((tf.constant(1.0), "Tensor"),
                      (tf.Variable(1.0), "Variable")):
        with pytest.raises(TypeError, match=r"^%s.__format__\(\) argument "
                           r"must be str, not " % name):
            obj.__format__(spec)
    with pytest.raises(TypeError, match="must be str"):
        tf.constant(1.0).__format__(tf.constant(1.0))


def test_format_still_formats_the_value():
    assert f"{tf.constant(2.5):.2f}" == "2.50"
    assert f"{tf.Variable(2.5):.1f}" == "2.5"
    assert format(tf.constant([1.0, 2.0])) == "[1. 2.]"


# ---- boolean_mask reads its mask as booleans ---------------------------------
def test_boolean_mask_with_a_numeric_mask_selects_its_nonzero_entries():
    # the float mask's bytes were read as bools: [1.0, 0.0] selected nothing
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    for mask in (tf.constant([1.0, 0.0]), tf.constant([7, 0]),
                 np.array([0.5, 0.0])):
        np.testing.assert_array_equal(tf.boolean_mask(x, mask).numpy(),
                                      [[1.0, 2.0]])
