"""Hand-written tests for the reduce family (src/ops_reduce.def): what the
generated table tests cannot see -- TF's gradient choices at ties and
zeros, empty and non-finite inputs, non-float outputs, TF's errors, and the
large-input (NumPy) paths agreeing with the small ones."""
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


# ---- gradients at ties and zeros ----------------------------------------------------
def test_max_min_gradient_is_shared_equally_among_ties():
    x = [[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]
    np.testing.assert_array_equal(grad(lambda v: tf.reduce_max(v, axis=1), x),
                                  [[0, 0.5, 0.5], [0.5, 0, 0.5]])
    np.testing.assert_allclose(grad(tf.reduce_min, [[1.0, 1.0], [4.0, 1.0]]),
                               [[1 / 3, 1 / 3], [0, 1 / 3]], rtol=1e-7)


def test_prod_gradient_is_exact_with_zeros():
    x = [[1.0, 0.0, 3.0], [2.0, 0.0, 0.0], [2.0, 5.0, 3.0]]
    np.testing.assert_array_equal(grad(lambda v: tf.reduce_prod(v, axis=1), x),
                                  [[0, 3, 0], [0, 0, 0], [15, 6, 10]])
    np.testing.assert_array_equal(grad(tf.reduce_prod, [[2.0, 0.0], [3.0, 4.0]]),
                                  [[0, 24], [0, 0]])
    # non-contiguous axes chain the per-run products
    x3 = np.arange(1.0, 13.0).reshape(2, 3, 2)
    x3[1, 1, 0] = 0.0
    g = grad(lambda v: tf.reduce_prod(v, axis=[0, 2]), x3)
    expect = np.zeros_like(x3)
    for j in range(3):
        block = x3[:, j, :]
        for idx in np.ndindex(2, 2):
            others = np.delete(block.reshape(-1), idx[0] * 2 + idx[1])
            expect[idx[0], j, idx[1]] = np.prod(others)
    np.testing.assert_array_equal(g, expect)


def test_logsumexp_is_stable_and_its_gradient_is_softmax():
    assert tf.reduce_logsumexp([1000.0, 1000.0]).numpy() == pytest.approx(1000 + np.log(2))
    assert tf.reduce_logsumexp([-1000.0, -1000.0]).numpy() == pytest.approx(-1000 + np.log(2))
    assert tf.reduce_logsumexp([np.inf, 1.0]).numpy() == np.inf
    assert tf.reduce_logsumexp([-np.inf, -np.inf]).numpy() == -np.inf
    g = grad(tf.reduce_logsumexp, np.array([1000.0, 1000.0, -1000.0]))
    np.testing.assert_allclose(g, [0.5, 0.5, 0.0])


# ---- empty and non-finite inputs -------------------------------------------------------
def test_empty_reductions_give_identities():
    assert tf.reduce_max(tf.zeros([0])).numpy() == -np.inf
    assert tf.reduce_min(tf.zeros([0])).numpy() == np.inf
    assert tf.reduce_prod(tf.zeros([0])).numpy() == 1.0
    assert tf.reduce_max(tf.constant(np.zeros(0, np.int32))).numpy() == np.iinfo(np.int32).min
    assert tf.reduce_logsumexp(tf.zeros([0])).numpy() == -np.inf
    assert bool(tf.reduce_all(tf.constant(np.zeros(0, bool))).numpy()) is True
    assert bool(tf.reduce_any(tf.constant(np.zeros(0, bool))).numpy()) is False
    assert tf.reduce_max(tf.zeros([0, 3]), axis=0).shape == (3,)


def test_nan_propagates():
    x = tf.constant([1.0, np.nan, 3.0])
    assert np.isnan(tf.reduce_max(x).numpy())
    assert np.isnan(tf.reduce_min(x).numpy())
    assert np.isnan(tf.reduce_logsumexp(x).numpy())
    np.testing.assert_array_equal(tf.sort(x).numpy(), [1.0, 3.0, np.nan])
    np.testing.assert_array_equal(tf.sort(x, direction="DESCENDING").numpy(),
                                  [np.nan, 3.0, 1.0])


# ---- non-float outputs and dtypes ---------------------------------------------------------
def test_bool_and_integer_results():
    b = tf.constant([[True, False], [True, True]])
    r = tf.reduce_all(b, axis=1)
    assert r.dtype == tf.bool and r.numpy().tolist() == [False, True]
    assert tf.math.reduce_any(b).numpy()
    n = tf.reduce_prod([5, 8])                       # the guide's n_params
    assert n.dtype == tf.int32 and n.numpy() == 40
    assert tf.math.cumprod(tf.constant([1, 2, 3])).numpy().tolist() == [1, 2, 6]
    assert tf.reduce_max(tf.constant([1, 7], dtype=tf.int64)).dtype == tf.int64


def test_argmax_defaults_to_axis_0_int64_and_first_tie():
    x = tf.constant([[1.0, 5.0], [5.0, 2.0], [5.0, 0.0]])
    a = tf.argmax(x)
    assert a.dtype == tf.int64 and a.numpy().tolist() == [1, 0]
    assert tf.math.argmin(x, axis=1, output_type=tf.int32).dtype == tf.int32
    assert tf.argmin(x, axis=1).numpy().tolist() == [0, 1, 1]


def test_index_rows_are_not_recorded():
    x = tf.constant([3.0, 1.0, 2.0])
    with tf.GradientTape() as t:
        t.watch(x)
        i = tf.argsort(x)
        j = tf.argmax(x)
        b = tf.reduce_any(x > 2.0)
    assert i.dtype == tf.int32 and i.numpy().tolist() == [1, 2, 0]
    assert b.dtype == tf.bool
    assert t.gradient(j, x) is None


def test_float16_accumulates_in_float32():
    h = tf.constant(np.full(70000, 1.0), dtype=tf.float16)
    assert tf.reduce_logsumexp(h).dtype == tf.float16
    assert tf.reduce_variance(h).numpy() == 0.0
    np.testing.assert_array_equal(
        tf.sort(tf.constant([3.0, 1.0, 2.0], dtype=tf.float16)).numpy(), [1, 2, 3])
    v, i = tf.math.top_k(tf.constant([3.0, 1.0, 2.0], dtype=tf.float16), k=2)
    assert v.dtype == tf.float16 and i.dtype == tf.int32


# ---- scans and sorting ------------------------------------------------------------------------
def test_cumsum_exclusive_reverse_as_tf_documents():
    x = tf.constant([1.0, 2.0, 3.0])
    assert tf.cumsum(x).numpy().tolist() == [1, 3, 6]
    assert tf.cumsum(x, exclusive=True).numpy().tolist() == [0, 1, 3]
    assert tf.cumsum(x, reverse=True).numpy().tolist() == [6, 5, 3]
    assert tf.cumsum(x, exclusive=True, reverse=True).numpy().tolist() == [5, 3, 0]
    assert tf.math.cumprod(x, exclusive=True).numpy().tolist() == [1, 1, 2]


def test_sorting_ties_keep_the_lower_index_first():
    x = tf.constant([1.0, 3.0, 3.0, 1.0])
    assert tf.argsort(x).numpy().tolist() == [0, 3, 1, 2]
    assert tf.argsort(x, direction="DESCENDING").numpy().tolist() == [1, 2, 0, 3]
    v, i = tf.math.top_k(x, k=3)
    assert v.numpy().tolist() == [3, 3, 1] and i.numpy().tolist() == [1, 2, 0]


def test_sort_and_top_k_gradients_scatter_back():
    x = tf.constant([3.0, 1.0, 2.0])
    with tf.GradientTape() as t:
        t.watch(x)
        v, _ = tf.math.top_k(x, k=2)
        s = tf.sort(x, direction="DESCENDING")
        loss = (tf.reduce_sum(v * tf.constant([1.0, 10.0]))
                + tf.reduce_sum(s * tf.constant([100.0, 200.0, 300.0])))
    np.testing.assert_array_equal(t.gradient(loss, x).numpy(), [101, 300, 210])


@pytest.mark.parametrize("direction", ["ASCENDING", "DESCENDING"])
def test_large_sorts_match_the_small_path(direction, rng):
    a = rng.integers(0, 4, size=(60, 90)).astype(np.float64)
    a[3, 5] = np.nan
    key = np.where(np.isnan(a), -np.inf, -a) if direction == "DESCENDING" else a
    for axis in (0, 1):
        expect = np.argsort(key, axis=axis, kind="stable")
        got = tf.argsort(tf.constant(a), axis=axis, direction=direction).numpy()
        np.testing.assert_array_equal(got, expect)
        np.testing.assert_array_equal(
            tf.sort(tf.constant(a), axis=axis, direction=direction).numpy(),
            np.take_along_axis(a, expect, axis=axis))


NUMPY = {"reduce_max": np.max, "reduce_prod": np.prod, "reduce_std": np.std,
         "reduce_logsumexp": lambda a, axis: np.log(np.sum(np.exp(a), axis=axis))}


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_large_reductions_match_numpy(name, rng):
    a = rng.uniform(0.99, 1.01, size=(20, 30, 40))      # 24000 > 4096 elements
    for axis in (None, 1, [0, 2]):
        got = getattr(tf, name)(tf.constant(a), axis=axis).numpy()
        ax = tuple(axis) if isinstance(axis, list) else axis
        np.testing.assert_allclose(got, NUMPY[name](a, axis=ax), rtol=1e-10)


@pytest.mark.parametrize("n", [4097, 4127, 4128, 4639, 100003, 10 ** 6])
@pytest.mark.parametrize("data", ["offset", "alternating", "centred"])
def test_large_float32_sums_are_correctly_rounded(n, data, rng):
    # above 4096 elements a full float32 sum runs in 16 double lanes
    # (kernels.c, sum_f32), as smaller ones run in one double: the result
    # is the exact sum rounded to float32, within half an ulp, whatever
    # the cancellation (NumPy's float32 pairwise sum is not: alternating
    # signs lose up to hundreds of ulps) and the length's remainder
    a = rng.standard_normal(n).astype(np.float32)
    if data == "offset":
        a += np.float32(0.25)
    elif data == "alternating":
        a = np.abs(a) * np.where(np.arange(n) % 2, 1, -1).astype(np.float32)
    exact = a.astype(np.float64).sum()
    ulp = float(np.spacing(np.float32(abs(exact))))
    for got in (tf.reduce_sum(a), tf.reduce_sum(tf.constant(a), axis=[0])):
        assert abs(float(got.numpy()) - exact) <= 0.51 * ulp
    # the mean is that sum over n, in float32 as TF computes it
    assert float(tf.reduce_mean(a).numpy()) == pytest.approx(
        exact / n, rel=1e-6, abs=1e-6 * ulp)
    b = a.copy()
    b[n // 2] = np.nan
    assert np.isnan(tf.reduce_sum(b).numpy())
    b[n // 2] = np.inf
    assert tf.reduce_sum(b).numpy() == np.inf
    b[n - 1] = -np.inf       # the last element: past the lanes unless 16 | n
    assert np.isnan(tf.reduce_sum(b).numpy())


# ---- errors ------------------------------------------------------------------------------------
def test_errors_name_the_op_and_the_value():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(IAE, match=r"Invalid reduction dimension 2 .*\[Op:Max\]"):
        tf.reduce_max(x, axis=2)
    with pytest.raises(IAE, match=r"range \[-2, 2\), but got 2 \[Op:ArgMax\]"):
        tf.argmax(x, axis=2)
    with pytest.raises(IAE, match=r"Reduction axis 0 is empty in shape \[0,2\]"):
        tf.argmax(tf.zeros([0, 2]))
    with pytest.raises(IAE, match="output_type"):
        tf.argmax(x, output_type=tf.float32)
    with pytest.raises(IAE, match=r"scan axis .* got 5 \[Op:Cumsum\]"):
        tf.cumsum(x, axis=5)
    with pytest.raises(IAE, match=r"axis must be a scalar, got a sequence "
                       r"\[Op:Cumsum\]"):
        tf.cumsum(x, axis=[0])
    with pytest.raises(ValueError, match="direction should be one of"):
        tf.sort(x, direction="UP")
    with pytest.raises(IAE, match=r"at least k columns. Had 2, needed 5 \[Op:TopKV2\]"):
        tf.math.top_k(x, k=5)
    with pytest.raises(IAE, match=r"Need k >= 0, got -1"):
        tf.math.top_k(x, k=-1)
    with pytest.raises(IAE, match=r">= 1-D"):
        tf.math.top_k(tf.constant(1.0))
    with pytest.raises(IAE, match="ReduceVariance"):
        tf.reduce_variance(tf.constant([1, 2]))


def test_reduce_all_any_take_bool_only():
    from tapegrad.errors import InvalidArgumentError
    for fn, op in ((tf.reduce_all, "All"), (tf.reduce_any, "Any")):
        for x, name in ((tf.constant([1.0, 0.0]), "float"),
                        (tf.constant([1, 0]), "int32"),
                        (tf.constant([1.0], dtype=tf.float16), "half")):
            with pytest.raises(InvalidArgumentError, match=(
                    r"^cannot compute %s as input #0\(zero-based\) was expected to "
                    r"be a bool tensor but is a %s tensor \[Op:%s\]$" % (op, name, op))):
                fn(x)


def test_arg_and_sort_ops_take_integers():
    x = tf.constant([[3, -1, 7, 7], [0, 5, 2, -4]], dtype=tf.int64)
    assert tf.argmax(x, axis=1).numpy().tolist() == [2, 1]
    assert tf.argmin(x, axis=1, output_type=tf.int32).dtype == tf.int32
    assert tf.argsort(x, direction="DESCENDING").numpy().tolist() == [[2, 3, 0, 1], [1, 2, 0, 3]]
    assert tf.sort(x).dtype == tf.int64
    v, i = tf.math.top_k(x, k=2)
    assert (v.dtype, i.dtype) == (tf.int64, tf.int32)
    assert v.numpy().tolist() == [[7, 7], [5, 2]] and i.numpy().tolist() == [[2, 3], [1, 2]]
