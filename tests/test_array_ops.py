"""TF's array functions composed of op-table rows (tapegrad/_array_ops.py
and the counts and norms of _composite_ops.py): the values of TF's own
docstring examples, gradients (first and second order) through the rows
they are made of, and TF's errors."""
import numpy as np
import pytest

import tapegrad as tf

IAE = tf.errors.InvalidArgumentError


def grad(f, x):
    x = tf.constant(x)
    with tf.GradientTape() as t:
        t.watch(x)
        y = f(x)
    return t.gradient(y, x).numpy()


# ---- tf.slice ----------------------------------------------------------------------
T = [[[1, 1, 1], [2, 2, 2]], [[3, 3, 3], [4, 4, 4]], [[5, 5, 5], [6, 6, 6]]]


def test_slice_takes_tfs_documented_blocks():
    t = tf.constant(T)
    assert tf.slice(t, [1, 0, 0], [1, 1, 3]).numpy().tolist() == [[[3, 3, 3]]]
    assert tf.slice(t, [1, 0, 0], [1, 2, 3]).numpy().tolist() == \
        [[[3, 3, 3], [4, 4, 4]]]
    assert tf.slice(t, [1, 0, 0], [2, 1, 3]).numpy().tolist() == \
        [[[3, 3, 3]], [[5, 5, 5]]]
    # -1: the rest of the axis; begin and size may be tensors
    assert tf.slice(t, tf.constant([2, 1, 1]), [-1, -1, -1]).numpy() \
        .tolist() == [[[6, 6]]]


def test_slice_gradient_is_ones_on_the_block():
    g = grad(lambda x: tf.reduce_sum(tf.slice(x, [1, 0], [2, 2]) ** 2),
             [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    np.testing.assert_array_equal(g, [[0, 0, 0], [8, 10, 0], [14, 16, 0]])


def test_slice_errors_are_tfs():
    t = tf.constant(T)
    with pytest.raises(IAE, match=r"Expected size\[0\] in \[0, 2\], but "
                                  r"got 3"):
        tf.slice(t, [1, 0, 0], [3, 1, 1])
    with pytest.raises(IAE, match=r"Expected begin\[1\] in \[0, 2\], but "
                                  r"got 3"):
        tf.slice(t, [0, 3, 0], [1, 1, 1])
    with pytest.raises(IAE, match="1-D tensors of size 3, but got shapes "
                                  r"\[2\] and \[3\]"):
        tf.slice(t, [0, 0], [1, 1, 1])
    with pytest.raises(IAE, match=r"input #1\(zero-based\) was expected "
                                  "to be a int32 tensor but is a float32"):
        tf.slice(t, [0.5, 0, 0], [1, 1, 1])


# ---- tf.roll -----------------------------------------------------------------------
def test_roll_shifts_as_tfs_docstring_shows():
    assert tf.roll([0, 1, 2, 3, 4], shift=2, axis=0).numpy().tolist() == \
        [3, 4, 0, 1, 2]
    m = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert tf.roll(m, shift=[1, -2], axis=[0, 1]).numpy().tolist() == \
        [[7, 8, 9, 5, 6], [2, 3, 4, 0, 1]]
    # shifts along a repeated axis add up
    assert tf.roll(m, shift=[2, -3], axis=[1, 1]).numpy().tolist() == \
        [[1, 2, 3, 4, 0], [6, 7, 8, 9, 5]]
    np.testing.assert_array_equal(tf.roll(m, 7, -1).numpy(),
                                  np.roll(m, 7, -1))


def test_roll_gradient_rolls_back_and_second_order_works():
    w = np.arange(5.0)
    g = grad(lambda x: tf.reduce_sum(tf.roll(x, 2, 0) * w), np.ones(5))
    np.testing.assert_array_equal(g, np.roll(w, -2))
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(tf.roll(x, 1, 0) ** 3)
        dy = inner.gradient(y, x)
    np.testing.assert_allclose(outer.gradient(dy, x).numpy(), [6, 12, 18])


def test_roll_errors():
    with pytest.raises(IAE, match="axis 2 is out of range"):
        tf.roll([[1, 2]], 1, 2)
    with pytest.raises(IAE, match="the same size"):
        tf.roll([1, 2], [1, 1], [0])


# ---- tf.repeat ---------------------------------------------------------------------
def test_repeat_as_tfs_docstring_shows():
    assert tf.repeat([1, 2, 3], repeats=[3, 0, 2], axis=0).numpy() \
        .tolist() == [1, 1, 1, 3, 3]
    assert tf.repeat([[1, 2], [3, 4]], repeats=[2, 3], axis=0).numpy() \
        .tolist() == [[1, 2], [1, 2], [3, 4], [3, 4], [3, 4]]
    assert tf.repeat([[1, 2], [3, 4]], repeats=[2, 3], axis=1).numpy() \
        .tolist() == [[1, 1, 2, 2, 2], [3, 3, 4, 4, 4]]
    assert tf.repeat(3, repeats=4).numpy().tolist() == [3, 3, 3, 3]
    assert tf.repeat([[1, 2], [3, 4]], repeats=2).numpy().tolist() == \
        [1, 1, 2, 2, 3, 3, 4, 4]


def test_repeat_gradient_sums_the_copies():
    w = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    g = grad(lambda x: tf.reduce_sum(tf.repeat(x, [2, 0, 3]) * w),
             [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(g, [11, 0, 11100])


def test_repeat_scalars_negative_counts_and_errors():
    # a scalar repeats as [x] along axis 0 or -1; a negative count per
    # slice counts as 0, a negative count for all is an error (TF 2.21)
    assert tf.repeat(3, 4, axis=0).numpy().tolist() == [3, 3, 3, 3]
    assert tf.repeat(3, 4, axis=-1).numpy().tolist() == [3, 3, 3, 3]
    assert tf.repeat([1, 2, 3], [2, -1, 1], axis=0).numpy().tolist() == \
        [1, 1, 3]
    with pytest.raises(IAE, match="non-negative"):
        tf.repeat([1, 2], -1, axis=0)
    with pytest.raises(ValueError, match="Dimensions must be equal, but "
                                         "are 2 and 3"):
        tf.repeat([1, 2, 3], [1, 2], axis=0)
    with pytest.raises(ValueError, match="axis=2 out of bounds"):
        tf.repeat([1, 2, 3], 2, axis=2)


# ---- tf.meshgrid -------------------------------------------------------------------
def test_meshgrid_xy_and_ij():
    X, Y = tf.meshgrid([1, 2, 3], [4, 5, 6])
    assert X.numpy().tolist() == [[1, 2, 3], [1, 2, 3], [1, 2, 3]]
    assert Y.numpy().tolist() == [[4, 4, 4], [5, 5, 5], [6, 6, 6]]
    a, b, c = [1, 2], [3, 4, 5], [6, 7, 8, 9]
    for indexing in ("xy", "ij"):
        got = tf.meshgrid(a, b, c, indexing=indexing)
        want = np.meshgrid(a, b, c, indexing=indexing)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w)
    with pytest.raises(ValueError, match="either 'xy' or 'ij'"):
        tf.meshgrid(a, b, indexing="xx")
    with pytest.raises(TypeError, match="'sparse' is an invalid keyword"):
        tf.meshgrid(a, b, sparse=True)


def test_meshgrid_gradient_sums_over_the_broadcast():
    x = tf.constant([1.0, 2.0])
    y = tf.constant([3.0, 4.0, 5.0])
    with tf.GradientTape() as t:
        t.watch([x, y])
        X, Y = tf.meshgrid(x, y)              # both (3, 2)
        loss = tf.reduce_sum(X * Y)
    gx, gy = t.gradient(loss, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [12, 12])
    np.testing.assert_array_equal(gy.numpy(), [3, 3, 3])


# ---- tf.sequence_mask --------------------------------------------------------------
def test_sequence_mask_as_tfs_docstring_shows():
    assert tf.sequence_mask([1, 3, 2], 5).numpy().tolist() == [
        [True, False, False, False, False],
        [True, True, True, False, False],
        [True, True, False, False, False]]
    m = tf.sequence_mask([[1, 3], [2, 0]])
    assert m.dtype == tf.bool and m.shape.as_list() == [2, 2, 3]
    assert m.numpy().tolist() == [[[True, False, False], [True, True, True]],
                                  [[True, True, False],
                                   [False, False, False]]]
    f = tf.sequence_mask([1, 2], 3, dtype=tf.float32)
    assert f.dtype == tf.float32
    assert f.numpy().tolist() == [[1, 0, 0], [1, 1, 0]]
    # TF's range(maxlen) against the lengths in maxlen's dtype: narrow
    # ints with a wider maxlen, float lengths and a float maxlen work
    assert tf.sequence_mask(tf.constant([100], tf.int8), 200).shape == \
        (1, 200)
    assert tf.sequence_mask([1.5, 2.0], 2.5).numpy().tolist() == \
        [[True, True, False], [True, True, False]]
    assert tf.sequence_mask(tf.constant([], tf.int32)).shape == (0, 0)
    with pytest.raises(ValueError, match="`maxlen` must be scalar"):
        tf.sequence_mask([1], [3])


# ---- tf.ensure_shape and tf.executing_eagerly --------------------------------------
def test_ensure_shape_passes_compatible_tensors_and_their_gradient():
    x = tf.ones([3, 2])
    assert tf.ensure_shape(x, [None, 2]).shape.as_list() == [3, 2]
    assert tf.ensure_shape(x, tf.TensorShape(None)).shape.as_list() == [3, 2]
    g = grad(lambda v: tf.reduce_sum(tf.ensure_shape(v, [2]) * 3.0),
             [1.0, 2.0])
    np.testing.assert_array_equal(g, [3, 3])
    with pytest.raises(IAE, match=r"Shape of tensor x \[3\] is not "
                                  r"compatible with expected shape \[2\]"):
        tf.ensure_shape(tf.ones([3]), [2])
    with pytest.raises(IAE, match=r"expected shape \[\?,3\]"):
        tf.ensure_shape(tf.ones([3, 2]), [None, 3])


def test_executing_eagerly_inside_and_outside_tf_function():
    assert tf.executing_eagerly() is True

    @tf.function
    def f():
        return tf.executing_eagerly()
    assert f() is True                      # tapegrad's functions run eagerly


# ---- tf.math.count_nonzero and reduce_euclidean_norm --------------------------------
def test_count_nonzero_as_tfs_docstring_shows():
    x = tf.constant([[0, 1, 0], [1, 1, 0]])
    c = tf.math.count_nonzero(x)
    assert c.dtype == tf.int64 and int(c) == 3
    assert tf.math.count_nonzero(x, 0).numpy().tolist() == [1, 2, 0]
    assert tf.math.count_nonzero(x, 1).numpy().tolist() == [1, 2]
    assert tf.math.count_nonzero(x, 1, keepdims=True).numpy().tolist() == \
        [[1], [2]]
    assert int(tf.math.count_nonzero(x, [0, 1])) == 3
    assert int(tf.math.count_nonzero([True, False, True])) == 2
    c32 = tf.math.count_nonzero([0.0, 2.5, -0.0, np.nan], dtype=tf.int32)
    assert c32.dtype == tf.int32 and int(c32) == 2


def test_reduce_euclidean_norm_as_tfs_docstring_shows():
    x = tf.constant([[1, 2, 3], [1, 1, 1]])
    n = tf.math.reduce_euclidean_norm(x)
    assert n.dtype == tf.int32 and int(n) == 4         # sqrt(17), truncated
    y = tf.constant([[1, 2, 3], [1, 1, 1]], dtype=tf.float32)
    np.testing.assert_allclose(tf.math.reduce_euclidean_norm(y).numpy(),
                               np.sqrt(17), rtol=1e-7)
    np.testing.assert_allclose(tf.math.reduce_euclidean_norm(y, 0).numpy(),
                               np.sqrt([2, 5, 10]), rtol=1e-7)
    np.testing.assert_allclose(
        tf.math.reduce_euclidean_norm(y, 1, keepdims=True).numpy(),
        np.sqrt([[14], [3]]), rtol=1e-7)
    np.testing.assert_allclose(
        tf.math.reduce_euclidean_norm(y, [0, 1]).numpy(), np.sqrt(17),
        rtol=1e-7)


def test_reduce_euclidean_norm_gradient_is_x_over_the_norm():
    x = np.array([3.0, 4.0])
    g = grad(tf.math.reduce_euclidean_norm, x)
    np.testing.assert_allclose(g, x / 5.0, rtol=1e-7)


def test_forward_mode_goes_through_the_rows_they_are_made_of():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 0.0, 0.0])) \
            as acc:
        rolled = tf.roll(x, 1, 0) * 2.0
        repeated = tf.repeat(x, 2)
        sliced = tf.slice(x, [1], [2])
        norm = tf.math.reduce_euclidean_norm(x)
    assert acc.jvp(rolled).numpy().tolist() == [0, 2, 0]
    assert acc.jvp(repeated).numpy().tolist() == [1, 1, 0, 0, 0, 0]
    assert acc.jvp(sliced).numpy().tolist() == [0, 0]
    np.testing.assert_allclose(acc.jvp(norm).numpy(), 1 / np.sqrt(14),
                               rtol=1e-6)


# ---- tf.unique ---------------------------------------------------------------------
def test_unique_as_tfs_docstring_shows():
    y, idx = tf.unique(tf.constant([1, 1, 2, 4, 4, 4, 7, 8, 8]))
    assert y.numpy().tolist() == [1, 2, 4, 7, 8]
    assert idx.dtype == tf.int32
    assert idx.numpy().tolist() == [0, 0, 1, 2, 2, 2, 3, 4, 4]
    # first-appearance order, out_idx, NaNs each their own, a namedtuple
    u = tf.unique([3.0, 1.0, 3.0, np.nan, np.nan], out_idx=tf.int64)
    assert type(u).__name__ == "Unique" and u.idx.dtype == tf.int64
    assert u.y.numpy()[:2].tolist() == [3.0, 1.0] and u.y.shape == (4,)
    assert u.idx.numpy().tolist() == [0, 1, 0, 2, 3]
    assert repr(u).startswith("Unique(y=<tapegrad.Tensor: shape=(4,)")
    with pytest.raises(IAE, match="unique expects a 1D vector"):
        tf.unique([[1, 2]])
    x = tf.constant([1.0, 2.0, 1.0])
    with tf.GradientTape() as t:
        t.watch(x)
        y, _ = tf.unique(x)
        total = tf.reduce_sum(y) + tf.reduce_sum(x * 0.0)
    # y has no gradient (TF defines none for UniqueV2): only the x term
    np.testing.assert_array_equal(t.gradient(total, x).numpy(), [0, 0, 0])
    with tf.GradientTape() as t:
        t.watch(x)
        s = tf.reduce_sum(tf.unique(x).y)
    assert t.gradient(s, x) is None
