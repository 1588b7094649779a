"""The ops ported code reaches for: the scatter and segment-sum rows and
what is composed from rows (embedding_lookup, segment means and maxima,
searchsorted).  TF's documented values (their docstrings' examples),
errors, and gradients to second order (tapegrad.test.check_gradients),
forward mode included; the rows' generated tests are in
tests/test_ops_table.py."""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad.test import check_gradients


def test_embedding_lookup(rng):
    p = rng.standard_normal((5, 3))
    e = tf.nn.embedding_lookup(tf.constant(p), [[0, 2], [4, 4]])
    np.testing.assert_array_equal(e.numpy(), p[[[0, 2], [4, 4]]])
    shards = tf.nn.embedding_lookup([tf.constant(p[:2]), tf.constant(p[2:])],
                                    [3, 0])
    np.testing.assert_array_equal(shards.numpy(), p[[3, 0]])
    clipped = tf.nn.embedding_lookup(tf.constant(p * 10), [1], max_norm=1.0)
    np.testing.assert_allclose(np.linalg.norm(clipped.numpy()), 1.0)
    check_gradients(lambda t: tf.nn.embedding_lookup(t, [[0, 2], [2, 3]]), p)


def test_scatter_nd_and_tensor_scatter(rng):
    # TF's docstring examples
    np.testing.assert_array_equal(
        tf.scatter_nd([[4], [3], [1], [7]], [9, 10, 11, 12], [8]).numpy(),
        [0, 11, 0, 10, 9, 0, 0, 12])
    np.testing.assert_array_equal(
        tf.tensor_scatter_nd_update([1, 2, 3, 4, 5, 6, 7, 8],
                                    [[1], [3], [4], [7]],
                                    [9, 10, 11, 12]).numpy(),
        [1, 9, 3, 10, 11, 6, 7, 12])
    np.testing.assert_array_equal(
        tf.tensor_scatter_nd_add([1, 2, 3, 4, 5, 6, 7, 8],
                                 [[4], [3], [1], [7]],
                                 [9, 10, 11, 12]).numpy(),
        [1, 13, 3, 14, 14, 6, 7, 20])
    np.testing.assert_array_equal(
        tf.tensor_scatter_nd_sub(tf.ones([3]), [[0], [0]], [1.0, 1.0]).numpy(),
        [-1, 1, 1])
    # duplicates in an update: the last one wins
    np.testing.assert_array_equal(
        tf.tensor_scatter_nd_update(tf.zeros([3]), [[1], [1]],
                                    [5.0, 7.0]).numpy(), [0, 7, 0])
    # slices
    s = tf.scatter_nd([[0], [2]], tf.ones([2, 3]), [4, 3])
    np.testing.assert_array_equal(s.numpy().sum(1), [3, 0, 3, 0])
    t0, u0 = rng.standard_normal(5), rng.standard_normal(2)
    check_gradients(lambda u: tf.scatter_nd([[1], [1]], u, [4]), u0)
    check_gradients(lambda t, u: tf.tensor_scatter_nd_update(
        t, [[0], [3]], u), t0, u0)
    check_gradients(lambda t, u: tf.tensor_scatter_nd_add(
        t, [[0], [3]], u) ** 2, t0, u0)


def test_segment_ops(rng):
    c = tf.constant([[1, 2, 3, 4], [5, 6, 7, 8], [4, 3, 2, 1]])
    np.testing.assert_array_equal(
        tf.math.unsorted_segment_sum(c, [0, 1, 0], 2).numpy(),
        [[5, 5, 5, 5], [5, 6, 7, 8]])
    c2 = tf.constant([[1, 2, 3, 4], [4, 3, 2, 1], [5, 6, 7, 8]])
    np.testing.assert_array_equal(tf.math.segment_sum(c2, [0, 0, 1]).numpy(),
                                  [[5, 5, 5, 5], [5, 6, 7, 8]])
    x = tf.constant([1.0, 5.0, 3.0, 2.0])
    np.testing.assert_array_equal(
        tf.math.unsorted_segment_mean(x, [0, 0, 1, -1], 3).numpy(), [3, 3, 0])
    m = tf.math.unsorted_segment_max(x, [0, 0, 1, -1], 3).numpy()
    np.testing.assert_array_equal(m[:2], [5, 3])
    assert m[2] == np.finfo(np.float32).min            # empty: the lowest
    np.testing.assert_array_equal(tf.math.segment_max(x, [0, 0, 1, 1]).numpy(),
                                  [5, 3])
    np.testing.assert_allclose(tf.math.segment_mean(x, [0, 1, 1, 1]).numpy(),
                               [1, 10 / 3.0], rtol=1e-7)
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        tf.math.unsorted_segment_sum(x, [0, 5, 0, 0], 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="increasing"):
        tf.math.segment_sum(x, [1, 0, 0, 0])
    with pytest.raises(TypeError, match="segment_ids"):
        tf.math.unsorted_segment_sum(x, [0.0, 1.0, 0.0, 0.0], 2)
    d = rng.standard_normal((4, 2))
    check_gradients(lambda t: tf.math.unsorted_segment_sum(t, [2, 0, 2, 1],
                                                           3), d)
    check_gradients(lambda t: tf.math.unsorted_segment_mean(t, [2, 0, 2, 1],
                                                            3), d)
    check_gradients(lambda t: tf.math.unsorted_segment_max(t, [2, 0, 2, 1],
                                                           3), d)


def test_scatter_and_segment_sum_are_single_recorded_rows():
    u = tf.constant([1.0, 2.0])
    t = tf.constant([0.0, 0.0, 0.0])
    for f in (lambda: tf.scatter_nd([[0], [2]], u, [3]),
              lambda: tf.tensor_scatter_nd_update(t, [[0], [2]], u),
              lambda: tf.tensor_scatter_nd_add(t, [[0], [2]], u),
              lambda: tf.tensor_scatter_nd_sub(t, [[0], [2]], u),
              lambda: tf.math.unsorted_segment_sum(u, [1, 0], 2)):
        with tf.GradientTape() as tape:
            tape.watch([u, t])
            f()
            assert tape._num_entries == 1


def test_scatter_errors_name_the_op_and_shapes():
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"^indices\[0\] = \[5\] does not index into "
                             r"shape \[4\] \[Op:ScatterNd\]$"):
        tf.scatter_nd([[5]], [1.0], [4])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"updates has shape \[2\], expected \[1\] "
                             r".*\[Op:ScatterNd\]"):
        tf.scatter_nd([[1]], [1.0, 2.0], [4])
    with pytest.raises(TypeError, match="ScatterNd: Value passed to parameter "
                       "'indices' has DataType float32 not in list of "
                       "allowed values: int32, int64"):
        tf.scatter_nd([1.0], [1.0], [4])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Indices must have rank >= 1 "
                             r"\[Op:TensorScatterUpdate\]"):
        tf.tensor_scatter_nd_update([1.0, 2.0], 0, [1.0])
    # Python updates take the tensor's dtype (TF's shared T); a tensor of
    # another dtype is TF's mixed-dtype error
    got = tf.tensor_scatter_nd_update([1.0, 2.0], [[0]], [5])
    assert got.dtype == tf.float32
    np.testing.assert_array_equal(got.numpy(), [5.0, 2.0])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"input #2\(zero-based\) was expected to be a "
                             r"float tensor but is a int32 tensor "
                             r"\[Op:TensorScatterAdd\]"):
        tf.tensor_scatter_nd_add(tf.ones([3]), [[1]], tf.constant([5]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"data.shape = \[2\] does not start with "
                             r"segment_ids.shape = \[1\] "
                             r"\[Op:UnsortedSegmentSum\]"):
        tf.math.unsorted_segment_sum([1.0, 2.0], [0], 2)


def test_segment_max_of_every_dtype_and_its_tied_gradient():
    for dt, low in ((tf.int32, np.iinfo(np.int32).min),
                    (tf.int64, np.iinfo(np.int64).min),
                    (tf.float16, np.finfo(np.float16).min),
                    (tf.float64, np.finfo(np.float64).min),
                    (tf.int8, -128), (tf.uint8, 0), (tf.uint64, 0)):
        m = tf.math.unsorted_segment_max(tf.constant([3, 7, 5], dt),
                                         [1, 1, 0], 3)
        assert m.dtype == dt
        np.testing.assert_array_equal(m.numpy(), np.array([5, 7, low],
                                                          m.numpy().dtype))
    # a tie shares its segment's gradient, as reduce_max's does
    x = tf.constant([2.0, 2.0, 1.0, 4.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.math.unsorted_segment_max(x, [0, 0, 0, 1], 2)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(),
                                  [0.5, 0.5, 0.0, 1.0])


def test_negative_segment_ids_are_dropped_and_get_no_gradient():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.math.unsorted_segment_sum(x, [1, -1, 1], 2)
    np.testing.assert_array_equal(y.numpy(), [[0, 0], [6, 8]])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(),
                                  [[1, 1], [0, 0], [1, 1]])


def test_forward_mode_through_the_composites(rng):
    d = tf.constant(rng.standard_normal((4, 2)))
    v = rng.standard_normal((4, 2))
    with tf.autodiff.ForwardAccumulator(d, tf.constant(v)) as acc:
        y = tf.math.unsorted_segment_sum(d * d, [2, 0, 2, 1], 3)
    want = np.zeros((3, 2))
    np.add.at(want, [2, 0, 2, 1], 2 * d.numpy() * v)
    np.testing.assert_allclose(acc.jvp(y).numpy(), want, rtol=1e-12)


def test_searchsorted():
    seq = [[0, 3, 9, 9, 10], [1, 2, 3, 4, 5]]
    vals = [[2, 4, 9], [0, 2, 6]]
    left = tf.searchsorted(seq, vals)
    assert left.dtype == tf.int32
    np.testing.assert_array_equal(left.numpy(), [[1, 2, 2], [0, 1, 5]])
    np.testing.assert_array_equal(tf.searchsorted(seq, vals,
                                                  side="right").numpy(),
                                  [[1, 2, 4], [0, 2, 5]])
    assert tf.searchsorted(seq, vals, out_type=tf.int64).dtype == tf.int64
    with pytest.raises(ValueError, match="side"):
        tf.searchsorted(seq, vals, side="middle")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Leading dim"):
        tf.searchsorted(seq, [[1]])


def test_random_categorical_stateless_and_generators():
    tf.random.set_seed(7)
    s = tf.random.categorical(tf.math.log([[0.5, 0.5], [0.0, 1.0]]), 200)
    assert s.shape == (2, 200) and s.dtype == tf.int64
    assert set(np.unique(s.numpy()[0])) == {0, 1}
    assert (s.numpy()[1] == 1).all()                   # p(0) = 0
    tf.random.set_seed(7)
    np.testing.assert_array_equal(tf.random.categorical(
        tf.math.log([[0.5, 0.5], [0.0, 1.0]]), 200).numpy(), s.numpy())
    a = tf.random.stateless_normal([3], seed=[1, 2])
    tf.random.normal([5])                              # other draws between
    b = tf.random.stateless_normal([3], seed=[1, 2])
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(),
                              tf.random.stateless_normal([3], [1, 3]).numpy())
    u = tf.random.stateless_uniform([1000], seed=[3, 4], minval=2.0,
                                    maxval=3.0)
    assert 2.0 <= u.numpy().min() and u.numpy().max() < 3.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="seed"):
        tf.random.stateless_normal([2], seed=[1])
    g1, g2 = tf.random.Generator.from_seed(5), tf.random.Generator.from_seed(5)
    np.testing.assert_array_equal(g1.normal([4]).numpy(), g2.normal([4]).numpy())
    assert not np.array_equal(g1.uniform([4]).numpy(), g1.uniform([4]).numpy())
    x, y = g1.split(2)
    assert not np.array_equal(x.normal([4]).numpy(), y.normal([4]).numpy())
    t = g1.truncated_normal([1000])
    assert np.abs(t.numpy()).max() <= 2.0
    assert isinstance(tf.random.get_global_generator(), tf.random.Generator)
