"""TF's conversion and dtype rules (tf_semantics.md section 3.3)."""
import re
import warnings

import numpy as np
import pytest

import tapegrad as tf


def _err(exc_type, text):
    """pytest.raises for an exact TF message (searched, so TF's optional
    trailing ' name: ...' suffix is allowed)."""
    return pytest.raises(exc_type, match=re.escape(text))


# ---- Python values ---------------------------------------------------------------
@pytest.mark.parametrize("value,dtype,numpy", [
    (3.0, "float32", np.float32(3.0)),
    (3, "int32", np.int32(3)),
    (True, "bool", np.bool_(True)),
    (-2 ** 31, "int32", np.int32(-2 ** 31)),
    (2 ** 31 - 1, "int32", np.int32(2 ** 31 - 1)),
    (2 ** 40, "int64", np.int64(2 ** 40)),
    ([1, 3.0], "float32", np.array([1.0, 3.0], np.float32)),
    ([[1, 2], [3, 4]], "int32", np.array([[1, 2], [3, 4]], np.int32)),
    ([[1.0, 2.0]], "float32", np.array([[1.0, 2.0]], np.float32)),
    ([True, False], "bool", np.array([True, False])),
    ((1.5, 2), "float32", np.array([1.5, 2.0], np.float32)),
    ([[1, 2.5], [3, 4]], "float32", np.array([[1, 2.5], [3, 4]], np.float32)),
])
def test_python_values(value, dtype, numpy):
    for make in (tf.constant, tf.convert_to_tensor):
        t = make(value)
        assert t.dtype == getattr(tf, dtype), (make, t.dtype)
        got = t.numpy()
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, numpy)


def test_convert_to_tensor_2_0_is_float32():
    assert tf.convert_to_tensor(2.0).dtype == tf.float32


# ---- NumPy values keep their dtype ---------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32,
                                   np.int64, np.bool_])
def test_numpy_arrays_keep_their_dtype(dtype):
    a = np.array([[1, 0, 1], [0, 1, 1]]).astype(dtype)
    t = tf.constant(a)
    assert t.dtype.name == np.dtype(dtype).name
    assert t.numpy().dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), a)
    assert tf.convert_to_tensor(a).dtype.name == np.dtype(dtype).name


def test_default_numpy_int_array_is_int64():
    t = tf.constant(np.array([[1, 2, 3], [4, 5, 6]]))
    assert t.dtype == tf.int64


def test_numpy_scalars_keep_their_dtype():
    assert tf.constant(np.float64(1.5)).dtype == tf.float64
    assert tf.constant(np.float32(1.5)).dtype == tf.float32
    assert tf.constant(np.int64(3)).dtype == tf.int64


def test_reduce_mean_follows_numpy_dtype():
    r = tf.reduce_mean(np.array([1.0, 2.0, 4.0]))
    assert r.dtype == tf.float64
    assert r.numpy() == np.float64(7.0 / 3.0)


# ---- dtype= argument ---------------------------------------------------------------
def test_dtype_float_means_float32():
    t = tf.constant([[1, 1]], dtype=float)
    assert t.dtype == tf.float32
    np.testing.assert_array_equal(t.numpy(), np.array([[1.0, 1.0]], np.float32))
    assert tf.zeros(2, dtype=float).dtype == tf.float32
    assert tf.ones(2, dtype=int).dtype == tf.int32
    assert tf.constant(True, dtype=bool).dtype == tf.bool


@pytest.mark.parametrize("spec", [tf.float64, "float64", np.float64, np.dtype("float64")],
                         ids=["DType", "str", "type", "np.dtype"])
def test_dtype_argument_forms_cast_values(spec):
    t = tf.constant([1, 2, 3, 4, 5, 6], dtype=spec)
    assert t.dtype == tf.float64
    np.testing.assert_array_equal(t.numpy(), np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))


def test_float_value_with_int_dtype_is_a_type_error():
    with _err(TypeError, "Cannot convert 2.2 to EagerTensor of dtype int32"):
        tf.constant(2.2, dtype=tf.int32)
    with _err(TypeError, "Cannot convert 5.0 to EagerTensor of dtype int32"):
        tf.constant(5.0, dtype=tf.int32)


def test_tensor_with_other_dtype_in_constant_is_a_type_error():
    t = tf.constant(5.0)
    # TF formats the tensor with str(); the reference sheet abbreviates it to 5.0
    with pytest.raises(TypeError, match=r"Expected tensor (tapegrad\.Tensor\()?5\.0"
                       r"(, shape=\(\), dtype=float32\))? with dtype tapegrad\.int32, "
                       r"but got dtype tapegrad\.float32\."):
        tf.constant(t, dtype=tf.int32)


def test_constant_shape_argument():
    t = tf.constant(0.0, shape=(2, 3))
    assert t.shape == (2, 3) and t.dtype == tf.float32
    np.testing.assert_array_equal(t.numpy(), np.zeros((2, 3)))
    t = tf.constant([1, 2, 3, 4], shape=(2, 2))
    np.testing.assert_array_equal(t.numpy(), [[1, 2], [3, 4]])


def test_convert_to_tensor_dtype_and_hint():
    assert tf.convert_to_tensor([1, 2], dtype=tf.float64).dtype == tf.float64
    h = tf.convert_to_tensor(1, dtype_hint=tf.float32)
    assert h.dtype == tf.float32 and h.numpy() == 1.0
    # a hint that cannot apply has no effect
    assert tf.convert_to_tensor(1.5, dtype_hint=tf.int32).dtype == tf.float32


def test_convert_to_tensor_of_tensor_and_variable():
    t = tf.constant([1.0, 2.0])
    c = tf.convert_to_tensor(t)
    assert isinstance(c, tf.Tensor)
    np.testing.assert_array_equal(c.numpy(), [1.0, 2.0])
    v = tf.Variable([3.0, 4.0])
    cv = tf.convert_to_tensor(v)
    assert isinstance(cv, tf.Tensor)
    assert cv.dtype == tf.float32
    np.testing.assert_array_equal(cv.numpy(), [3.0, 4.0])
    v.assign([5.0, 6.0])
    np.testing.assert_array_equal(tf.convert_to_tensor(v).numpy(), [5.0, 6.0])
    np.testing.assert_array_equal(cv.numpy(), [3.0, 4.0])  # a snapshot


# ---- Python values meeting tensors ---------------------------------------------------
def test_python_scalars_take_the_tensor_dtype():
    f32 = tf.constant([1.0, 2.0])
    assert (f32 * 2).dtype == tf.float32
    assert (2 * f32).dtype == tf.float32
    assert (1 / f32).dtype == tf.float32
    np.testing.assert_array_equal((f32 * [3.0, 4.0]).numpy(), [3.0, 8.0])
    f64 = tf.constant(np.array([1.0, 2.0]))
    assert (f64 + 1.5).dtype == tf.float64
    assert (f64 + 1).dtype == tf.float64
    i64 = tf.constant(np.array([1, 2], dtype=np.int64))
    assert (i64 + 2).dtype == tf.int64
    i32 = tf.constant([1, 2])
    assert (i32 * 3).dtype == tf.int32
    f16 = tf.constant(1.0, dtype=tf.float16)
    assert (f16 * 2.0).dtype == tf.float16
    assert ([1, 2] + f32).dtype == tf.float32
    assert tf.multiply(f64, 2).dtype == tf.float64
    assert tf.add(3, f64).dtype == tf.float64


def test_no_tensor_first_argument_decides():
    r = tf.multiply(1.0, 2)
    assert r.dtype == tf.float32
    assert r.numpy() == np.float32(2.0)
    r = tf.add(1, 2)
    assert r.dtype == tf.int32 and r.numpy() == 3
    with _err(TypeError, "Cannot convert 1.0 to EagerTensor of dtype int32"):
        tf.multiply(2, 1.0)
    with pytest.raises(TypeError, match=r"Cannot convert .* to EagerTensor of dtype int32"):
        tf.add([1, 2], [1.5, 2.5])


def test_python_float_meeting_int_tensor_is_a_type_error():
    with _err(TypeError, "Cannot convert 1.5 to EagerTensor of dtype int32"):
        tf.constant(2) * 1.5
    with _err(TypeError, "Cannot convert 1.5 to EagerTensor of dtype int32"):
        1.5 * tf.constant(2)


# ---- tensors of different dtypes are never promoted ----------------------------------------
def test_invalid_argument_error_is_a_value_error():
    assert issubclass(tf.errors.InvalidArgumentError, ValueError)


def test_float32_times_float64_tensor():
    a = tf.constant(1.0)
    b = tf.constant(np.float64(2.0))
    with _err(tf.errors.InvalidArgumentError,
              "cannot compute Mul as input #1(zero-based) was expected to be a "
              "float tensor but is a double tensor [Op:Mul]"):
        tf.multiply(a, b)
    with _err(tf.errors.InvalidArgumentError,
              "cannot compute Mul as input #1(zero-based) was expected to be a "
              "double tensor but is a float tensor [Op:Mul]"):
        b * a


def test_float32_plus_int32_tensor():
    with _err(tf.errors.InvalidArgumentError,
              "cannot compute AddV2 as input #1(zero-based) was expected to be a "
              "float tensor but is a int32 tensor [Op:AddV2]"):
        tf.constant(1.0) + tf.constant(1)
    with _err(tf.errors.InvalidArgumentError,
              "cannot compute AddV2 as input #1(zero-based) was expected to be a "
              "float tensor but is a int32 tensor [Op:AddV2]"):
        tf.add(tf.constant([1.0, 2.0]), tf.constant([1, 2]))


def test_variable_and_tensor_of_other_dtype_are_not_promoted():
    v = tf.Variable(1.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Mul.*double|double.*Mul"):
        v * tf.constant(np.float64(2.0))


def test_float64_ndarray_with_float64_tensor():
    a = np.array([1.0, 2.0])
    r = tf.constant(a) * a
    assert r.dtype == tf.float64
    np.testing.assert_array_equal(r.numpy(), a * a)


# ---- integers and division ---------------------------------------------------------
def test_integer_ops_stay_integer():
    r = tf.reduce_mean(tf.constant([1, 2]))
    assert r.dtype == tf.int32
    assert r.numpy() == 1
    assert tf.reduce_sum(tf.constant([1, 2])).dtype == tf.int32
    assert (tf.constant([1, 2]) * tf.constant([3, 4])).dtype == tf.int32
    assert tf.matmul(tf.constant([[1, 2]]), tf.constant([[3], [4]])).numpy()[0, 0] == 11


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_true_division_of_integers_gives_float64(dtype):
    a = tf.constant([1, 3], dtype=dtype)
    b = tf.constant([2, 2], dtype=dtype)
    for r in (a / b, tf.divide(a, b), a / 2):
        assert r.dtype == tf.float64
        np.testing.assert_array_equal(r.numpy(), [0.5, 1.5])


# ---- bad values --------------------------------------------------------------------------
def test_ragged_lists_raise_value_error():
    for bad in ([[1, 2], [3]], [[1.0], [2.0, 3.0]], [1, [2]]):
        with pytest.raises(ValueError) as ei:
            tf.constant(bad)
        assert re.search(r"(?i)rectangular|ragged|shape|sequence", str(ei.value)), str(ei.value)


def test_none_in_list_raises():
    with pytest.raises((ValueError, TypeError)) as ei:
        tf.constant([1.0, None])
    assert "None" in str(ei.value)


# ---- variables -----------------------------------------------------------------------------
def test_variable_dtype_rules():
    assert tf.Variable(3.0).dtype == tf.float32
    assert tf.Variable(3).dtype == tf.int32
    assert tf.Variable(np.array([1.0, 2.0])).dtype == tf.float64
    assert tf.Variable([1, 3.0]).dtype == tf.float32
    v = tf.Variable(1, dtype=tf.float32)
    assert v.dtype == tf.float32 and v.numpy() == 1.0
    assert tf.Variable([[1.0, 2.0]], dtype=tf.float64).dtype == tf.float64
    assert tf.Variable(tf.zeros(2, dtype=tf.float32)).dtype == tf.float32


# ---- values out of a dtype's range: rounded or wrapped as TF does, no warning -------
def _numpy_cast(values, src, dst):
    """What a C cast gives on this CPU (NumPy's and TF's Cast kernel's
    value: INT_MIN for a float out of an integer's range or NaN on x86)."""
    with np.errstate(all="ignore"):
        return np.asarray(values, src).astype(dst)


@pytest.mark.parametrize("make,expected", [
    (lambda: tf.constant(1e300, dtype=tf.float32), np.float32(np.inf)),
    (lambda: tf.constant(-1e300, dtype=tf.float32), np.float32(-np.inf)),
    (lambda: tf.constant([1e300, -1e10], dtype=tf.float16),
     np.array([np.inf, -np.inf], np.float16)),
    (lambda: tf.constant(np.array([1e300, 1.0])), np.array([1e300, 1.0])),
    (lambda: tf.constant(np.array([1e300, 1.0]), dtype=tf.float32),
     np.array([np.inf, 1.0], np.float32)),
    (lambda: tf.constant(np.float64(-1e300), dtype=tf.float32), np.float32(-np.inf)),
    (lambda: tf.convert_to_tensor(np.array([7e4]), dtype=tf.float16),
     np.array([np.inf], np.float16)),
    (lambda: tf.constant(np.array([2 ** 62]), dtype=tf.float16),
     np.array([np.inf], np.float16)),
    (lambda: tf.constant(np.array([2 ** 40 + 5]), dtype=tf.int32),
     np.array([5], np.int32)),                       # wraps, as NumPy's cast
    (lambda: tf.cast(tf.constant(np.float64(1e300)), tf.float32), np.float32(np.inf)),
    (lambda: tf.cast(tf.constant([1e30, -1e30, 1.5]), tf.float16),
     np.array([np.inf, -np.inf, 1.5], np.float16)),
    (lambda: tf.cast(np.array([1e300]), tf.float32), np.array([np.inf], np.float32)),
    (lambda: tf.cast(1e10, tf.int32), _numpy_cast(1e10, np.float32, np.int32)),
    (lambda: tf.cast([np.nan, np.inf, -np.inf, 3e9, -2.5], tf.int32),
     _numpy_cast([np.nan, np.inf, -np.inf, 3e9, -2.5], np.float32, np.int32)),
    (lambda: tf.cast(tf.constant([1e30, np.nan], dtype=tf.float64), tf.int64),
     _numpy_cast([1e30, np.nan], np.float64, np.int64)),
    (lambda: tf.cast(tf.constant([7e4], dtype=tf.float32), tf.float16),
     np.array([np.inf], np.float16)),
    (lambda: tf.cast(tf.constant(np.array([2 ** 40 + 5])), tf.int32),
     np.array([5], np.int32)),
    (lambda: tf.Variable(np.array([1e300]), dtype=tf.float32).read_value(),
     np.array([np.inf], np.float32)),
    (lambda: tf.constant([1.0]) + np.float64(1e300), np.array([np.inf], np.float32)),
    (lambda: tf.random.normal((3,), mean=1e10, dtype=tf.float16),
     np.full(3, np.inf, np.float16)),
], ids=["py-f32", "py-f32-neg", "py-list-f16", "np-keeps-f64", "np-f32", "np-scalar-f32",
        "convert-f16", "int64-f16", "int64-int32-wraps", "cast-f64-f32", "cast-f32-f16",
        "cast-np", "cast-1e10-int32", "cast-specials-int32", "cast-f64-int64",
        "cast-7e4-f16", "cast-int64-int32", "variable", "np-scalar-operand",
        "random-normal-f16"])
def test_out_of_range_values_convert_without_warnings(make, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # TF never warns here
        got = make().numpy()
    assert got.dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(got, expected)


def test_assign_out_of_range_values_without_warnings():
    v = tf.Variable([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v.assign(np.array([1e300, -1e300]))
        np.testing.assert_array_equal(v.numpy(), [np.inf, -np.inf])
        v.assign_add(np.array([1e300, 1.0]))
        assert np.isinf(v.numpy()).all()
        i = tf.Variable([1, 2])
        i.assign(np.array([2 ** 40 + 1, 3]))
        np.testing.assert_array_equal(i.numpy(), [1, 3])


@pytest.mark.fp_status_flags
def test_quiet_casts_leave_numpys_own_error_state_alone():
    before = np.geterr()
    tf.cast(tf.constant([1e30]), tf.float16)
    tf.constant(np.array([1e300]), dtype=tf.float32)
    assert np.geterr() == before
    with pytest.warns(RuntimeWarning, match="overflow"):
        np.array([1e300]).astype(np.float32)         # the user's NumPy still warns
    with np.errstate(over="raise"):                  # and the user's errstate
        tf.constant(np.array([1e300]), dtype=tf.float32)   # does not leak in
        with pytest.raises(FloatingPointError):
            np.array([1e300]).astype(np.float32)


@pytest.mark.no_refleak_check(reason="runs a child process")
def test_without_numpys_private_errstate_api_casts_still_work():
    # tapegrad silences NumPy through numpy._core.umath._extobj_contextvar, a
    # private name: if a NumPy release moves it, tapegrad must still import
    # and compute (NumPy may then warn), not fail
    import subprocess
    import sys
    code = ("import numpy._core.umath as um\n"
            "del um._extobj_contextvar\n"
            "import warnings, numpy as np, tapegrad as tf\n"
            "warnings.simplefilter('ignore')\n"
            "print(tf.cast(tf.constant([1e30, 2.0]), tf.float16).numpy(),\n"
            "      tf.reduce_sum(tf.ones((2, 3)), axis=0).numpy())\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["[inf", "2.]", "[2.", "2.", "2.]"], p.stdout


# ---- list leaves are read exactly, and checked ----------------------------
def test_integer_leaves_keep_their_width_and_are_range_checked():
    # int64 tensors and NumPy int64s in a list make it int64, as in TF; they
    # were read through a double (2**53 + 1 lost its last bit) and, into an
    # int32 tensor, wrapped to -2**31
    t = tf.constant([tf.constant(2 ** 53 + 1, dtype=tf.int64)])
    assert t.dtype == tf.int64 and t.numpy()[0] == 2 ** 53 + 1
    assert tf.constant([np.int64(2 ** 40)]).dtype == tf.int64
    assert tf.constant([np.int32(3)]).dtype == tf.int32
    with pytest.raises(ValueError, match=r"^Const: Can't convert 1099511627776 "
                       r"to a tensor of dtype int32: out of range$"):
        tf.constant([2 ** 40], dtype=tf.int32)
    with pytest.raises(ValueError, match=r"^AddV2: Can't convert "
                       r"18446744073709551616 to a tensor of dtype int64"):
        tf.constant(1) + 2 ** 64
    with pytest.raises(ValueError, match="to a tensor of dtype float32"):
        tf.constant([2 ** 1024, 1.0])
    # a float is never silently made an integer
    with pytest.raises(TypeError, match="Cannot convert .* to EagerTensor of "
                       "dtype int32"):
        tf.constant([tf.constant(1e10)], dtype=tf.int32)
    assert tf.constant([np.True_, 2]).numpy().tolist() == [1, 2]


def test_only_booleans_become_bool_tensors():
    for v in (5, [2, 0], [0.5], 1):
        with pytest.raises(TypeError, match="to EagerTensor of dtype bool"):
            tf.constant(v, dtype=tf.bool)
    assert tf.constant([True, np.False_], dtype=tf.bool).numpy().tolist() == [
        True, False]
