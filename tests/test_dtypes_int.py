"""The integer dtypes beyond int32/int64: int8, int16, uint8, uint16, uint32,
uint64, as TF has them.

Conversion (ranges, NumPy arrays keep their dtype), the DType attributes
(min, max, is_unsigned), cast (wrapping, as a C cast), the integer ops
(wrapping arithmetic, TF's true division table, comparisons, reductions,
data movement), rows whose `dtype` attribute names one (range, eye,
one_hot), Variables, printing, and what is refused: uint64 values past
2**63 - 1 where order matters, and the ops that take no integers.  The op
table's generated tests run every 'int_ok' row in all eight integer dtypes
besides (tests/test_ops_table.py).
"""
import numpy as np
import pytest

import tapegrad as tf

NARROW = [tf.int8, tf.int16, tf.uint8, tf.uint16, tf.uint32, tf.uint64]
NP = {tf.int8: np.int8, tf.int16: np.int16, tf.uint8: np.uint8,
      tf.uint16: np.uint16, tf.uint32: np.uint32, tf.uint64: np.uint64}


# ---- DType ----------------------------------------------------------------------
@pytest.mark.parametrize("dt", NARROW)
def test_dtype_attributes_are_numpys(dt):
    info = np.iinfo(NP[dt])
    assert dt.name == np.dtype(NP[dt]).name
    assert repr(dt) == "tapegrad.%s" % dt.name     # TF: tf.uint8
    assert dt.is_integer and not dt.is_floating and not dt.is_bool
    assert dt.is_unsigned == (info.min == 0)
    assert (dt.min, dt.max) == (info.min, info.max)
    assert dt.as_numpy_dtype is NP[dt]
    assert tf.as_dtype(NP[dt]) == dt and tf.as_dtype(dt.name) == dt


def test_as_dtype_names_numpy_types_and_refuses_others():
    assert tf.as_dtype("half") is tf.float16 and tf.dtypes.double is tf.float64
    assert tf.as_dtype(float) == tf.float32 and tf.as_dtype(int) == tf.int32
    assert tf.dtypes.as_dtype(np.dtype("uint16")) == tf.uint16
    with pytest.raises(TypeError, match=r"Cannot convert the argument "
                       r"`type_value`: 'foo' to a TensorFlow DType."):
        tf.as_dtype("foo")


def test_signed_dtypes_are_not_unsigned_and_bool_has_no_minimum():
    for dt in (tf.int8, tf.int16, tf.int32, tf.int64, tf.float32):
        assert not dt.is_unsigned
    with pytest.raises(TypeError,
                       match=r"Cannot find minimum value of <dtype: 'bool'>"):
        tf.bool.min


# ---- conversion -----------------------------------------------------------------
@pytest.mark.parametrize("dt", NARROW)
def test_constants_hold_the_whole_range(dt):
    info = np.iinfo(NP[dt])
    t = tf.constant([int(info.min), 0, int(info.max)], dt)
    assert t.dtype == dt
    np.testing.assert_array_equal(
        t.numpy(), np.array([info.min, 0, info.max], NP[dt]))
    assert t.numpy().dtype == NP[dt]


@pytest.mark.parametrize("dt", NARROW)
def test_values_outside_the_range_are_refused(dt):
    info = np.iinfo(NP[dt])
    for bad in (int(info.min) - 1, int(info.max) + 1):
        with pytest.raises(ValueError, match=r"Can't convert %d to a tensor "
                           r"of dtype %s: out of range" % (bad, dt.name)):
            tf.constant(bad, dt)


def test_floats_do_not_convert_to_integer_dtypes():
    with pytest.raises(TypeError,
                       match="Cannot convert 1.5 to EagerTensor of dtype int8"):
        tf.constant([1.5], tf.int8)


@pytest.mark.parametrize("dt", NARROW)
def test_numpy_arrays_keep_their_dtype(dt):
    a = np.arange(4, dtype=NP[dt])
    t = tf.constant(a)
    assert t.dtype == dt
    np.testing.assert_array_equal(t.numpy(), a)
    assert tf.convert_to_tensor(a).dtype == dt


def test_printing_follows_tf():
    assert str(tf.constant([1, 2], tf.uint8)) == \
        "tapegrad.Tensor([1 2], shape=(2,), dtype=uint8)"
    assert repr(tf.constant(-3, tf.int16)) == \
        "<tapegrad.Tensor: shape=(), dtype=int16, numpy=-3>"


def test_python_scalars_of_integer_tensors():
    assert int(tf.constant(-3, tf.int8)) == -3
    assert float(tf.constant(200, tf.uint8)) == 200.0
    assert int(tf.constant(2 ** 64 - 1, tf.uint64)) == 2 ** 64 - 1
    assert bool(tf.constant(0, tf.uint16)) is False
    assert [int(v) for v in tf.constant([7, 9], tf.uint32)] == [7, 9]


# ---- cast -----------------------------------------------------------------------
def test_cast_wraps_integers_and_truncates_floats():
    got = tf.cast(tf.constant([300, -1, 127]), tf.uint8)
    assert got.dtype == tf.uint8
    np.testing.assert_array_equal(got.numpy(), [44, 255, 127])
    got = tf.cast(tf.constant([255, 128], tf.uint8), tf.int8)
    np.testing.assert_array_equal(got.numpy(), [-1, -128])
    got = tf.cast(tf.constant([2.7, -2.7]), tf.int16)
    np.testing.assert_array_equal(got.numpy(), [2, -2])
    got = tf.cast(tf.constant([2 ** 64 - 1], tf.uint64), tf.float64)
    assert got.numpy()[0] == float(2 ** 64 - 1)


@pytest.mark.parametrize("dt", NARROW)
def test_cast_round_trips_through_every_dtype(dt):
    a = np.array([0, 1, 100], NP[dt])
    for to in (tf.float32, tf.float64, tf.int32, tf.int64) + tuple(NARROW):
        back = tf.cast(tf.cast(tf.constant(a), to), dt)
        assert back.dtype == dt
        np.testing.assert_array_equal(back.numpy(), a)


# ---- the integer ops ------------------------------------------------------------
def test_arithmetic_wraps_as_tfs_kernels():
    a = tf.constant([1, 2, 3], tf.uint8)
    b = tf.constant([200, 100, 255], tf.uint8)
    np.testing.assert_array_equal((a + b).numpy(), [201, 102, 2])
    np.testing.assert_array_equal((a - b).numpy(), [57, 158, 4])
    np.testing.assert_array_equal((a * b).numpy(), [200, 200, 253])
    assert (a + b).dtype == tf.uint8
    c = tf.constant([100, -128], tf.int8)
    np.testing.assert_array_equal((c + c).numpy(), [-56, 0])
    np.testing.assert_array_equal((-c).numpy(), [-100, -128])
    np.testing.assert_array_equal(tf.abs(c).numpy(), [100, -128])
    np.testing.assert_array_equal(tf.square(tf.constant([20], tf.int8)).numpy(),
                                  [-112])


def test_python_numbers_take_the_tensors_dtype():
    t = tf.constant([3], tf.uint8)
    for r in (t * 2, 2 * t, t ** 2, t + 250):
        assert r.dtype == tf.uint8
    np.testing.assert_array_equal((t + 250).numpy(), [253])
    with pytest.raises(ValueError, match="Can't convert -1 to a tensor of "
                                         "dtype uint8: out of range"):
        t + (-1)


@pytest.mark.parametrize("dt,want", [
    (tf.int8, tf.float32), (tf.int16, tf.float32), (tf.uint8, tf.float32),
    (tf.uint16, tf.float32), (tf.uint32, tf.float64),
    (tf.uint64, tf.float64), (tf.int32, tf.float64), (tf.int64, tf.float64)])
def test_true_division_follows_tfs_truediv_table(dt, want):
    x = tf.constant([1, 2, 7], dt)
    y = tf.constant([3, 4, 7], dt)
    for r in (x / y, tf.math.truediv(x, y), tf.math.divide(x, y)):
        assert r.dtype == want
        np.testing.assert_allclose(
            r.numpy(), np.array([1, 2, 7], want.as_numpy_dtype) /
            np.array([3, 4, 7], want.as_numpy_dtype), rtol=0)


def test_floor_division_modulo_and_comparisons():
    x = tf.constant([7, 200, 9], tf.uint8)
    y = tf.constant([2, 7, 3], tf.uint8)
    np.testing.assert_array_equal((x // y).numpy(), [3, 28, 3])
    np.testing.assert_array_equal((x % y).numpy(), [1, 4, 0])
    assert (x // y).dtype == tf.uint8
    np.testing.assert_array_equal((x > y).numpy(), [True, True, True])
    np.testing.assert_array_equal(tf.equal(x, 200).numpy(),
                                  [False, True, False])
    s = tf.constant([-7, 7], tf.int16)
    np.testing.assert_array_equal((s // 2).numpy(), [-4, 3])
    np.testing.assert_array_equal(tf.maximum(s, 0).numpy(), [0, 7])


def test_reductions_keep_the_dtype_and_wrap():
    b = tf.constant([200, 100, 255], tf.uint8)
    assert tf.reduce_sum(b).dtype == tf.uint8
    assert int(tf.reduce_sum(b)) == (200 + 100 + 255) % 256
    assert int(tf.reduce_max(b)) == 255 and int(tf.reduce_min(b)) == 100
    assert int(tf.reduce_prod(tf.constant([16, 16], tf.uint8))) == 0
    # TF's integer mean truncates, in the dtype
    assert int(tf.reduce_mean(tf.constant([1, 2, 4], tf.uint8))) == 2
    np.testing.assert_array_equal(
        tf.math.cumsum(tf.constant([100, 100, 100], tf.int8)).numpy(),
        [100, -56, 44])
    # argmax's indices are int64 whatever the input's dtype
    am = tf.argmax(b)
    assert am.dtype == tf.int64 and int(am) == 2


def test_data_movement_keeps_the_dtype():
    u = tf.constant([[1, 2], [3, 4]], tf.uint16)
    for r in (tf.reshape(u, [4]), tf.transpose(u), tf.concat([u, u], 0),
              tf.stack([u, u]), tf.gather(u, [1]), tf.tile(u, [1, 2]),
              u[1], u[:, ::-1], tf.where(u > 2, u, tf.zeros_like(u)),
              tf.sort(tf.reshape(u, [4]), direction="DESCENDING")):
        assert r.dtype == tf.uint16
    np.testing.assert_array_equal(
        tf.sort(tf.reshape(u, [4]), direction="DESCENDING").numpy(),
        [4, 3, 2, 1])
    np.testing.assert_array_equal(
        tf.matmul(tf.constant([[1, 2]], tf.int8),
                  tf.constant([[3], [4]], tf.int8)).numpy(), [[11]])


def test_rows_whose_dtype_attribute_names_a_narrow_integer():
    r = tf.range(1, 10, 3, dtype=tf.uint8)
    assert r.dtype == tf.uint8
    np.testing.assert_array_equal(r.numpy(), [1, 4, 7])
    np.testing.assert_array_equal(tf.range(3, dtype=tf.int16).numpy(),
                                  [0, 1, 2])
    e = tf.eye(2, dtype=tf.uint8)
    assert e.dtype == tf.uint8
    np.testing.assert_array_equal(e.numpy(), [[1, 0], [0, 1]])
    oh = tf.one_hot([0, 2], 3, dtype=tf.int8)
    assert oh.dtype == tf.int8
    np.testing.assert_array_equal(oh.numpy(), [[1, 0, 0], [0, 0, 1]])
    oh = tf.one_hot([0, 2], 3, on_value=tf.constant(7, tf.uint16),
                    off_value=tf.constant(1, tf.uint16))
    assert oh.dtype == tf.uint16
    np.testing.assert_array_equal(oh.numpy(), [[7, 1, 1], [1, 1, 7]])
    # uint8 indices give one_hot's float32 default
    assert tf.one_hot(tf.constant([1], tf.uint8), 2).dtype == tf.float32
    for f in (tf.zeros, tf.ones):
        z = f([2], tf.uint32)
        assert z.dtype == tf.uint32
    assert tf.fill([2], tf.constant(3, tf.uint8)).dtype == tf.uint8


def test_uint64_keeps_its_upper_half_where_the_answer_is_exact():
    big = tf.constant([2 ** 64 - 1, 2 ** 63 + 5], tf.uint64)
    np.testing.assert_array_equal((big + 1).numpy(),
                                  np.array([0, 2 ** 63 + 6], np.uint64))
    np.testing.assert_array_equal(tf.reshape(big, [2, 1]).numpy()[:, 0],
                                  big.numpy())
    assert tf.concat([big, big], 0).dtype == tf.uint64


def test_uint64_upper_half_is_refused_where_order_matters():
    big = tf.constant([2 ** 63 + 5], tf.uint64)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Less: uint64 values above 2\*\*63-1 are not "
                             r"supported by this op"):
        big < 3
    with pytest.raises(tf.errors.InvalidArgumentError, match="Max"):
        tf.reduce_max(big)
    # below 2**63 they compare as any integer
    assert bool(tf.constant(5, tf.uint64) < 7)


def test_float_only_ops_name_the_dtype():
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Value for attr 'T' of uint8 is not in the list "
                             r"of allowed values: half, float, double "
                             r"\[Op:Sin\]"):
        tf.sin(tf.constant([1], tf.uint8))


def test_shapes_take_int32_and_int64_only_as_tf():
    with pytest.raises(TypeError, match=r"Fill: Value passed to parameter "
                       r"'dims' has DataType int8 not in list of allowed "
                       r"values: int32, int64"):
        tf.fill(np.int8(2), 1.0)


# ---- Variables and gradients ----------------------------------------------------
def test_variables_of_narrow_integers_assign_in_place():
    v = tf.Variable([1, 2], dtype=tf.uint8)
    v.assign([3, 250])
    v.assign_add([0, 10])
    np.testing.assert_array_equal(v.numpy(), [3, 4])
    assert v.dtype == tf.uint8
    v[0].assign(9)
    np.testing.assert_array_equal(v.numpy(), [9, 4])
    w = tf.Variable([1, 2], dtype=tf.int16)
    w.assign_sub([3, 4])
    np.testing.assert_array_equal(w.numpy(), [-2, -2])


def test_integer_inputs_get_no_gradient():
    x = tf.constant([1, 2], tf.uint8)
    with tf.GradientTape() as tape:
        with pytest.warns(UserWarning, match="dtype of the watched tensor "
                                             "must be floating"):
            tape.watch(x)
        y = tf.cast(x * x, tf.float32)
    assert tape.gradient(y, x) is None


def test_the_watch_warning_points_at_the_watch_call():
    import inspect
    import warnings
    x = tf.constant([1, 2], tf.int16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with tf.GradientTape() as tape:
            line = inspect.currentframe().f_lineno + 1
            tape.watch(x)
    assert len(caught) == 1
    assert "got tapegrad.int16" in str(caught[0].message)
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)


def test_image_contrast_of_uint8_images():
    img = np.array([[[10], [20]]], np.uint8)
    got = tf.image.adjust_contrast(img, 2.0)
    assert got.dtype == tf.uint8
    np.testing.assert_array_equal(got.numpy(), [[[5], [25]]])


def test_composite_rows_read_narrow_integers():
    # where(condition) and boolean_mask read a numeric condition themselves
    u = tf.constant([[1, 0], [3, 4]], tf.uint8)
    np.testing.assert_array_equal(tf.where(u).numpy(),
                                  [[0, 0], [1, 0], [1, 1]])
    got = tf.boolean_mask(tf.constant([1.0, 2.0, 3.0]),
                          tf.constant([0, 3, 255], tf.uint8))
    np.testing.assert_array_equal(got.numpy(), [2.0, 3.0])
    assert int(tf.linalg.trace(u)) == 5
    np.testing.assert_array_equal(tf.clip_by_value(u, 1, 3).numpy(),
                                  [[1, 1], [3, 3]])
