"""Hand-written tests for the array family (src/ops_array.def): only what
the generated op-table tests cannot cover -- TF's error types and messages,
TF's gradient choices (repeated indices accumulate, stop_gradient blocks),
list results and non-float outputs."""
import re

import numpy as np
import pytest

import tapegrad as tf

IAE = tf.errors.InvalidArgumentError


def _raises(exc, pattern, fn, *args, **kw):
    with pytest.raises(exc) as ei:
        fn(*args, **kw)
    assert not isinstance(ei.value, SystemError)
    assert re.search(pattern, str(ei.value)), str(ei.value)


X = np.arange(6, dtype=np.float32).reshape(2, 3)


@pytest.mark.parametrize("exc,pattern,call", [
    (IAE, re.escape("indices[1] = 7 is not in [0, 3) [Op:GatherV2]"),
     lambda: tf.gather(tf.constant([1., 2., 3.]), [1, 7])),
    (IAE, re.escape("indices[0,1] = -1 is not in [0, 3)"),
     lambda: tf.gather(X, [[0, -1]], axis=1)),
    (IAE, r"Expected axis in the range \[-2, 2\), but got 2",
     lambda: tf.gather(X, [0], axis=2)),
    (TypeError, r"'indices' has DataType float32",
     lambda: tf.gather(X, [0.5])),
    (IAE, re.escape("indices[1] = [2, 0] does not index into param shape "
                    "[2,3] [Op:GatherNd]"),
     lambda: tf.gather_nd(X, [[0, 1], [2, 0]])),
    (IAE, r"innermost dimension length must be <= params rank",
     lambda: tf.gather_nd(X, [[0, 1, 0]])),
    (IAE, re.escape("1 is missing from {0,0}. [Op:Transpose]"),
     lambda: tf.transpose(X, [0, 0])),
    (IAE, re.escape("2 is out of range [0 .. 2) [Op:Transpose]"),
     lambda: tf.transpose(X, [0, 2])),
    (IAE, r"transpose expects a vector of size 2\. But input\(1\) is a "
          r"vector of size 3",
     lambda: tf.transpose(X, [0, 1, 2])),
    (IAE, re.escape("Shapes of all inputs must match: values[0].shape = "
                    "[2,3] != values[1].shape = [2,4] [Op:Pack]"),
     lambda: tf.stack([X, np.ones((2, 4), np.float32)])),
    (ValueError, re.escape("Argument `axis` = 3 not in range [-3, 3)"),
     lambda: tf.stack([X, X], axis=3)),
    (IAE, r"cannot compute Pack as input #1\(zero-based\) was expected to "
          r"be a float tensor but is a double tensor",
     lambda: tf.stack([tf.constant(1.0), tf.constant(1.0, tf.float64)])),
    (ValueError, re.escape("Argument `axis` = 2 not in range [-2, 2)"),
     lambda: tf.unstack(X, axis=2)),
    (IAE, r"Input shape axis 0 must equal 3, got shape \[2,3\] \[Op:Unpack\]",
     lambda: tf.unstack(X, num=3)),
    (IAE, r"should evenly divide the split dimension, but got split_dim 1 "
          r"\(size = 3\) and num_split 2 \[Op:Split\]",
     lambda: tf.split(X, 2, axis=1)),
    (IAE, r"Determined shape must either match .*Got: 2 \[Op:SplitV\]",
     lambda: tf.split(X, [1, 1], axis=1)),
    (IAE, r"Only one dimensions can have a value of -1",
     lambda: tf.split(X, [-1, -1, 1], axis=1)),
    (IAE, r"Expected multiples argument to be a vector of length 2 but got "
          r"length 1 \[Op:Tile\]",
     lambda: tf.tile(X, [2])),
    (IAE, re.escape("Expected multiples[1] >= 0, but got -1 [Op:Tile]"),
     lambda: tf.tile(X, [2, -1])),
    (IAE, r"The first dimension of paddings must be the rank of inputs",
     lambda: tf.pad(X, [[1, 1]])),
    (IAE, r"Paddings must be non-negative: -1 0 \[Op:Pad\]",
     lambda: tf.pad(X, [[1, 1], [-1, 0]])),
    (IAE, r"paddings must be less than the dimension size: 2, 2 not less "
          r"than 2 \[Op:MirrorPad\]",
     lambda: tf.pad(X, [[2, 2], [0, 0]], mode="REFLECT")),
    (IAE, r"paddings must be no greater than the dimension size",
     lambda: tf.pad(X, [[3, 0], [0, 0]], mode="SYMMETRIC")),
    (ValueError, r"Value of argument `mode` expected to be one of",
     lambda: tf.pad(X, [[1, 0], [0, 0]], mode="wrap")),
    (TypeError, r"Cannot convert 1.5 to EagerTensor of dtype int32",
     lambda: tf.pad(tf.constant([1, 2]), [[1, 0]], constant_values=1.5)),
    (IAE, r"Can not squeeze dim\[0\], expected a dimension of 1, got 2 "
          r"\[Op:Squeeze\]",
     lambda: tf.squeeze(X, 0)),
    (IAE, r"Tried to squeeze dim index 4 for tensor with 2 dimensions",
     lambda: tf.squeeze(X, [4])),
    (IAE, r"Tried to expand dim index 3 for tensor with 2 dimensions\. "
          r"\[Op:ExpandDims\]",
     lambda: tf.expand_dims(X, 3)),
    (TypeError, r"missing required argument 'axis'",
     lambda: tf.expand_dims(X)),
    (IAE, re.escape("'axis'[0] = 2 is out of valid range [-2, 2) "
                    "[Op:ReverseV2]"),
     lambda: tf.reverse(X, [2])),
    (IAE, r"axis 0 specified more than once",
     lambda: tf.reverse(X, [0, -2])),
    (ValueError, r"Shapes \(2,\) and \(3,\) are incompatible",
     lambda: tf.boolean_mask(X, [True, False, True])),
    (ValueError, r"mask cannot be scalar",
     lambda: tf.boolean_mask(X, True)),
    (IAE, r"Requires delta != 0: 0 \[Op:Range\]",
     lambda: tf.range(1, 2, 0)),
    (IAE, r"Requires start <= limit when delta > 0: 5/1 \[Op:Range\]",
     lambda: tf.range(5, 1)),
    (IAE, r"Requires num >= 0: -1 \[Op:LinSpace\]",
     lambda: tf.linspace(0.0, 1.0, -1)),
    (TypeError, r"Value for attr 'out_type' of float32",
     lambda: tf.shape(X, out_type=tf.float32)),
])
def test_errors(exc, pattern, call):
    _raises(exc, pattern, call)


def test_gather_repeated_indices_accumulate_gradients():
    p = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(p)
        y = tf.reduce_sum(tf.gather(p, [2, 0, 2, 2]))
    np.testing.assert_array_equal(tape.gradient(y, p).numpy(), [1, 0, 3])


def test_gather_nd_and_boolean_mask_gradients_scatter_back():
    p = tf.constant(X)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(p)
        a = tf.reduce_sum(tf.gather_nd(p, [[0, 1], [0, 1], [1, 2]]))
        b = tf.reduce_sum(tf.boolean_mask(p, [[True, False, True],
                                              [False, True, False]]))
    np.testing.assert_array_equal(tape.gradient(a, p).numpy(),
                                  [[0, 2, 0], [0, 0, 1]])
    np.testing.assert_array_equal(tape.gradient(b, p).numpy(),
                                  [[1, 0, 1], [0, 1, 0]])
    del tape


def test_stop_gradient_blocks_the_gradient():
    x = tf.constant(3.0)
    y = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        z = x ** 2 + tf.stop_gradient(y ** 2)
    assert tape.gradient(z, x).numpy() == 6.0
    assert tape.gradient(z, y) is None
    del tape


def test_unstack_and_split_return_lists_with_gradients():
    x = tf.constant(X)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        rows = tf.unstack(x)
        parts = tf.split(x, [2, -1], axis=1)
        row3 = rows[1] * 3.0
    assert isinstance(rows, list) and len(rows) == 2
    assert [p.shape for p in parts] == [(2, 2), (2, 1)]
    g = tape.gradient(row3, x)
    np.testing.assert_array_equal(g.numpy(), [[0, 0, 0], [3, 3, 3]])
    g = tape.gradient(parts[1], x)
    np.testing.assert_array_equal(g.numpy(), [[0, 0, 1], [0, 0, 1]])
    del tape


def test_pad_constant_values_are_not_differentiated():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.pad(x, [[1, 2]], constant_values=7.0)
    np.testing.assert_array_equal(y.numpy(), [7, 1, 2, 7, 7])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1, 1])


def test_integer_and_bool_inputs_keep_their_dtype():
    i = tf.constant([[1, 2], [3, 4]])
    assert tf.transpose(i).dtype == tf.int32
    assert tf.gather(i, [1]).numpy().tolist() == [[3, 4]]
    b = tf.stack([tf.constant(True), tf.constant(False)])
    assert b.dtype == tf.bool and b.numpy().tolist() == [True, False]
    assert tf.tile(tf.constant([True]), [3]).numpy().tolist() == [True] * 3
    assert tf.pad(i, [[0, 1], [0, 0]]).numpy().tolist() == [
        [1, 2], [3, 4], [0, 0]]


def test_shape_size_rank_are_int_tensors():
    x = tf.ones((2, 3, 4))
    assert tf.shape(x).dtype == tf.int32
    assert tf.shape(x).numpy().tolist() == [2, 3, 4]
    assert tf.size(x, out_type=tf.int64).dtype == tf.int64
    assert int(tf.size(x).numpy()) == 24
    assert int(tf.rank(x).numpy()) == 3
    assert tf.shape(tf.constant(1.0)).shape == (0,)
    b = tf.constant([[True, False, True]])
    assert tf.shape(b).numpy().tolist() == [1, 3]
    assert int(tf.size(tf.constant([1, 2], dtype=tf.int64)).numpy()) == 2
    assert tf.rank(b).dtype == tf.int32


def test_unstack_and_split_take_integers_and_bools():
    b = tf.constant([[True, False], [False, False]])
    assert [r.numpy().tolist() for r in tf.unstack(b)] == [[True, False], [False, False]]
    parts = tf.split(tf.constant([1, 2, 3]), [2, 1])
    assert [p.dtype for p in parts] == [tf.int32, tf.int32]
    assert [p.numpy().tolist() for p in parts] == [[1, 2], [3]]


def test_range_dtypes_follow_tf():
    assert tf.range(5).dtype == tf.int32
    assert tf.range(0, 1, 0.25).numpy().tolist() == [0, 0.25, 0.5, 0.75]
    assert tf.range(3, dtype=tf.float64).dtype == tf.float64
    assert tf.range(tf.constant(4, tf.int64)).dtype == tf.int64
    assert tf.range(5, 0, -2).numpy().tolist() == [5, 3, 1]
    assert tf.range(2, 2).shape == (0,)


def test_range_converts_python_values_to_dtype():
    # TF: start, limit and delta that are not tensors go through
    # convert_to_tensor(v, dtype=dtype); a non-integral float can't be int32
    for call in (lambda: tf.range(3.5, dtype=tf.int32),
                 lambda: tf.range(start=3.5, dtype=tf.int32),
                 lambda: tf.range(0, 7.5, dtype=tf.int32),
                 lambda: tf.range(0, 3, 0.5, dtype=tf.int64)):
        with pytest.raises(TypeError) as ei:
            call()
        assert re.fullmatch(r"Cannot convert [0-9.]+ to EagerTensor of "
                            r"dtype int(32|64)", str(ei.value)), str(ei.value)
    r = tf.range(3, dtype=tf.float32)
    assert r.dtype == tf.float32 and r.numpy().tolist() == [0.0, 1.0, 2.0]
    r = tf.range(1.0, 5.0, 0.5)
    assert r.dtype == tf.float32
    assert r.numpy().tolist() == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
    r = tf.range(5)
    assert r.dtype == tf.int32 and r.numpy().tolist() == [0, 1, 2, 3, 4]
    r = tf.range(2, 9, 3, dtype=tf.int64)
    assert r.dtype == tf.int64 and r.numpy().tolist() == [2, 5, 8]
    # tensors are cast to dtype, not converted: 3.5 -> 3
    r = tf.range(tf.constant(3.5), dtype=tf.int32)
    assert r.dtype == tf.int32 and r.numpy().tolist() == [0, 1, 2]


def test_linspace_values_and_dtypes():
    y = tf.linspace(-10.0, 10.0, 201)
    assert y.dtype == tf.float32 and y.shape == (201,)
    assert y.numpy()[0] == -10.0 and y.numpy()[-1] == 10.0
    # integer inputs give float64, as TF's true division
    assert tf.linspace(0, 1, 3).dtype == tf.float64
    assert tf.linspace(0.0, 1.0, 0).shape == (0,)
    assert tf.linspace(2.0, 1.0, 1).numpy().tolist() == [2.0]


def test_linspace_gradient_wrt_start_and_stop():
    s, e = tf.constant(1.0), tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch([s, e])
        y = tf.reduce_sum(tf.linspace(s, e, 5))
    gs, ge = tape.gradient(y, [s, e])
    # weights 1, 3/4, 1/2, 1/4, 0 on start and the complement on stop
    assert gs.numpy() == pytest.approx(2.5)
    assert ge.numpy() == pytest.approx(2.5)


def test_tile_to_zero_size_and_its_gradient():
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.tile(x, [0, 2])
    assert y.shape == (0, 6)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.zeros((2, 3)))


def test_fill_eye_one_hot_follow_tf():
    IAE = tf.errors.InvalidArgumentError
    with pytest.raises(IAE, match=r"dims must be a vector, got shape \[2,1\] \[Op:Fill\]"):
        tf.fill([[2], [1]], 1.0)
    with pytest.raises(IAE, match=r"value must be a scalar, got shape \[2\] \[Op:Fill\]"):
        tf.fill([2], [1.0, 2.0])
    assert tf.fill([2], True).dtype == tf.bool
    assert tf.eye(2, 3).numpy().tolist() == [[1, 0, 0], [0, 1, 0]]
    assert tf.linalg.eye(2, batch_shape=[3], dtype=tf.float64).shape == (3, 2, 2)
    y = tf.one_hot([1, -1], 3, on_value=7, off_value=-7)
    assert y.dtype == tf.int32 and y.numpy().tolist() == [[-7, 7, -7], [-7, -7, -7]]
    assert tf.one_hot([0, 1], 2, axis=0, dtype=tf.float64).dtype == tf.float64
    with pytest.raises(TypeError, match=r"dtype <dtype: 'float32'> of on_value does "
                       r"not match dtype parameter <dtype: 'int32'>"):
        tf.one_hot([0], 2, on_value=1.5, dtype=tf.int32)
    with pytest.raises(TypeError, match=r"dtype <dtype: 'int32'> of off_value does "
                       r"not match dtype <dtype: 'float32'> of on_value"):
        tf.one_hot([0], 2, on_value=1.0, off_value=0)
    with pytest.raises(IAE, match=r"Value for attr 'TI' of float32 .*\[Op:OneHot\]"):
        tf.one_hot([0.0], 2)
    with pytest.raises(IAE, match=r"Expected axis to be -1 or between \[0, 2\)\.  "
                       r"But received: 3 \[Op:OneHot\]"):
        tf.one_hot([0], 2, axis=3)


def test_range_of_a_float_too_large_for_an_integer_dtype():
    # (int64_t)1e30 and (int64_t)NaN are undefined in C: an error instead
    for v in (1e30, float("nan"), float("inf")):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"Range: limit = .* does not fit an integer "
                           r"range \[Op:Range\]"):
            tf.range(tf.constant(v), dtype=tf.int32)
    assert tf.range(tf.constant(5.5), dtype=tf.int32).numpy().tolist() == [
        0, 1, 2, 3, 4]


def test_range_float_message_shows_the_values():
    # the message printed a literal "%g/%g" (PyErr_Format has no %g)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Requires start <= limit when delta > 0: 5/1 "
                       r"\[Op:Range\]"):
        tf.range(5.0, 1.0, 1.0)
