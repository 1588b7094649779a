"""tf.nn's convolutions as users call them (tapegrad/_conv.py in front of
the C rows of src/ops_conv.def, which the generated table tests check
row by row): data_format agreement, TF's output shapes (SAME, VALID,
conv2d_transpose's documented shape), depthwise and grouped forms,
bias_add, gradients through the public API, and TF's errors."""
import numpy as np
import pytest

import refs_conv
import tapegrad as tf


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _same_pads(sizes, ks, strides, dils):
    pads = []
    for n, k, s, d in zip(sizes, ks, strides, dils):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append([total // 2, total - total // 2])
    return pads


# ---- forward against the NumPy reference, every rank ------------------------
@pytest.mark.parametrize("fn,nsp", [(tf.nn.conv1d, 1), (tf.nn.conv2d, 2),
                                    (tf.nn.conv3d, 3)])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_matches_reference(rng, fn, nsp, padding, stride):
    sizes = [7, 6, 5][:nsp]
    ks = [3, 2, 3][:nsp]
    x = rng.standard_normal([2] + sizes + [3])
    w = rng.standard_normal(ks + [3, 4])
    got = fn(x, w, stride, padding)
    pads = (_same_pads(sizes, ks, [stride] * nsp, [1] * nsp)
            if padding == "SAME" else None)
    want = refs_conv.conv(x, w, [stride] * nsp, pads)
    assert got.shape == want.shape
    if padding == "SAME":
        assert list(got.shape[1:-1]) == [-(-n // stride) for n in sizes]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


def test_convolution_picks_the_rank_from_the_filters(rng):
    for nsp, fn in [(1, tf.nn.conv1d), (2, tf.nn.conv2d), (3, tf.nn.conv3d)]:
        x = rng.standard_normal([2] + [5] * nsp + [2])
        w = rng.standard_normal([2] * nsp + [2, 3])
        np.testing.assert_allclose(
            tf.nn.convolution(x, w, padding="SAME", dilations=2).numpy(),
            fn(x, w, 1, "SAME", dilations=2).numpy(), rtol=1e-12)


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_channels_first_agrees_with_channels_last(rng, nsp):
    last, first = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"),
                   3: ("NDHWC", "NCDHW")}[nsp]
    fn = {1: tf.nn.conv1d, 2: tf.nn.conv2d, 3: tf.nn.conv3d}[nsp]
    x = rng.standard_normal([2] + [6] * nsp + [4])
    w = rng.standard_normal([3] * nsp + [2, 6])      # two groups
    perm = [0, nsp + 1] + list(range(1, nsp + 1))
    back = [0] + list(range(2, nsp + 2)) + [1]
    xt = tf.constant(x)
    xf = tf.constant(np.transpose(x, perm))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([xt, xf])
        a = fn(xt, w, 2, "SAME", data_format=last)
        b = fn(xf, w, [1, 1] + [2] * nsp, "SAME", data_format=first)
        la = tf.reduce_sum(a * a)
        lb = tf.reduce_sum(b * b)
    np.testing.assert_allclose(np.transpose(b.numpy(), back), a.numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        np.transpose(tape.gradient(lb, xf).numpy(), back),
        tape.gradient(la, xt).numpy(), rtol=1e-12, atol=1e-12)


def test_explicit_padding_in_either_format(rng):
    x = rng.standard_normal((1, 4, 5, 2))
    w = rng.standard_normal((2, 3, 2, 3))
    want = refs_conv.conv(x, w, [1, 2], [[1, 0], [2, 1]])
    got = tf.nn.conv2d(x, w, [1, 2], [[0, 0], [1, 0], [2, 1], [0, 0]])
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    got = tf.nn.conv2d(np.transpose(x, (0, 3, 1, 2)), w, [1, 1, 1, 2],
                       [[0, 0], [0, 0], [1, 0], [2, 1]], data_format="NCHW")
    np.testing.assert_allclose(np.transpose(got.numpy(), (0, 2, 3, 1)), want,
                               rtol=1e-12)


# ---- depthwise, grouped, transposed ----------------------------------------
def test_depthwise_conv2d_is_per_channel(rng):
    x = rng.standard_normal((2, 6, 5, 3))
    f = rng.standard_normal((3, 2, 3, 2))             # multiplier 2
    got = tf.nn.depthwise_conv2d(x, f, [1, 2, 1, 1], "SAME",
                                 dilations=[1, 2]).numpy()
    pads = _same_pads([6, 5], [3, 2], [2, 1], [1, 2])
    for c in range(3):
        for m in range(2):
            want = refs_conv.conv(x[..., c:c + 1], f[:, :, c:c + 1, m:m + 1],
                                  [2, 1], pads, [1, 2])
            np.testing.assert_allclose(got[..., c * 2 + m], want[..., 0],
                                       rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding,stride,out", [
    ("SAME", 2, (2, 8, 7, 3)), ("VALID", 2, (2, 9, 7, 3)),
    ("SAME", 1, (2, 4, 4, 3)), ("VALID", 3, (2, 8, 11, 3))])
def test_conv2d_transpose_output_shape_and_values(rng, padding, stride, out):
    # TF's documented shapes: the input is what conv2d of `output_shape`
    # gives, ceil(n / s) for SAME and (n - k) // s + 1 for VALID
    k = (3, 2)
    if padding == "SAME":
        sp = [-(-n // stride) for n in out[1:3]]
    else:
        sp = [(n - kk) // stride + 1 for n, kk in zip(out[1:3], k)]
    x = rng.standard_normal([2] + sp + [4])
    f = rng.standard_normal(k + (3, 4))
    y = tf.nn.conv2d_transpose(x, f, list(out), stride, padding)
    assert y.shape == out
    pads = (_same_pads(out[1:3], k, [stride] * 2, [1, 1])
            if padding == "SAME" else None)
    want = refs_conv.conv_backprop_input(f, x, out, [stride] * 2, pads)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)
    # it is conv2d's input gradient
    xin = tf.constant(rng.standard_normal(out))
    with tf.GradientTape() as tape:
        tape.watch(xin)
        z = tf.nn.conv2d(xin, f, stride, padding)
    np.testing.assert_allclose(
        tape.gradient(z, xin, output_gradients=x).numpy(), y.numpy(),
        rtol=1e-12, atol=1e-12)


def test_conv_transpose_other_ranks_and_nchw(rng):
    x = rng.standard_normal((1, 3, 2))
    f = rng.standard_normal((3, 5, 2))
    y = tf.nn.conv1d_transpose(x, f, [1, 6, 5], 2)
    assert y.shape == (1, 6, 5)
    y3 = tf.nn.conv_transpose(rng.standard_normal((1, 2, 2, 2, 1)),
                              rng.standard_normal((2, 2, 2, 3, 1)),
                              [1, 4, 4, 4, 3], 2)
    assert y3.shape == (1, 4, 4, 4, 3)
    x2 = rng.standard_normal((2, 3, 3, 4))
    f2 = rng.standard_normal((3, 3, 5, 4))
    a = tf.nn.conv2d_transpose(x2, f2, [2, 6, 6, 5], 2).numpy()
    b = tf.nn.conv2d_transpose(np.transpose(x2, (0, 3, 1, 2)), f2,
                               [2, 5, 6, 6], [1, 1, 2, 2],
                               data_format="NCHW").numpy()
    np.testing.assert_allclose(np.transpose(b, (0, 2, 3, 1)), a, rtol=1e-12)


def test_gradients_through_the_api_match_finite_differences(rng):
    x = rng.standard_normal((1, 5, 4, 2))
    k = rng.standard_normal((3, 2, 2, 3))
    d = rng.standard_normal((2, 2, 2, 2))

    def f(x, k, d):
        y = tf.nn.conv2d(x, k, [2, 1], "SAME", dilations=[1, 1])
        z = tf.nn.depthwise_conv2d(x, d, [1, 1, 1, 1], "VALID")
        t = tf.nn.conv2d_transpose(y, k, [1, 5, 4, 2], [2, 1], "SAME")
        return tf.reduce_sum(z * z) + tf.reduce_sum(t * x)
    theoretical, numerical = tf.test.compute_gradient(f, [x, k, d])
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-6)


def test_float16_and_float32_and_int32(rng):
    x = rng.standard_normal((1, 4, 4, 2))
    w = rng.standard_normal((2, 2, 2, 2))
    want = refs_conv.conv(x, w)
    for dt, tol in [(np.float32, 1e-5), (np.float16, 2e-2)]:
        got = tf.nn.conv2d(x.astype(dt), w.astype(dt), 1, "VALID")
        assert got.dtype == tf.as_dtype(dt)
        np.testing.assert_allclose(got.numpy(), want, rtol=tol, atol=tol)
    xi = rng.integers(-3, 4, (1, 4, 4, 2)).astype(np.int32)
    wi = rng.integers(-3, 4, (2, 2, 2, 2)).astype(np.int32)
    got = tf.nn.conv2d(xi, wi, 1, "VALID")
    assert got.dtype == tf.int32
    np.testing.assert_array_equal(got.numpy(), refs_conv.conv(
        xi.astype(float), wi.astype(float)).astype(np.int32))


# ---- bias_add -------------------------------------------------------------
def test_bias_add_formats(rng):
    x = rng.standard_normal((2, 3, 4))
    b = rng.standard_normal(4)
    np.testing.assert_allclose(tf.nn.bias_add(x, b).numpy(), x + b)
    b3 = rng.standard_normal(3)
    np.testing.assert_allclose(
        tf.nn.bias_add(x, b3, data_format="NCHW").numpy(),
        x + b3[:, None])
    with tf.GradientTape() as tape:
        bt = tf.constant(b)
        tape.watch(bt)
        y = tf.nn.bias_add(x, bt)
    np.testing.assert_allclose(tape.gradient(y, bt).numpy(), [6.0] * 4)


def test_bias_add_errors():
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Biases must be 1D: \[2,2\] \[Op:BiasAdd\]"):
        tf.nn.bias_add(tf.zeros([3, 2]), tf.zeros([2, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Must provide as many biases as the last "
                             r"dimension of the input tensor: \[3\] vs. "
                             r"\[3,2\]"):
        tf.nn.bias_add(tf.zeros([3, 2]), tf.zeros([3]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="at least 2D"):
        tf.nn.bias_add(tf.zeros([3]), tf.zeros([3]))


# ---- TF's errors -----------------------------------------------------------
def test_errors_name_the_op_and_shapes():
    x = tf.zeros([1, 4, 4, 3])
    with pytest.raises(ValueError, match="must be a 4-D tensor"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 3]), 1, "VALID")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="input depth must be evenly divisible by "
                             r"filter depth: 3 vs 2 \[Op:Conv2D\]"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 2, 1]), 1, "VALID")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="output depth must be evenly divisible by "
                             r"number of groups: 3 vs 2 \[Op:Conv2D\]"):
        tf.nn.conv2d(tf.zeros([1, 4, 4, 2]), tf.zeros([1, 1, 1, 3]), 1,
                     "VALID")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"strides and dilations must be > 0"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 3, 1]), 0, "VALID")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"strides and dilations must be > 0"):
        tf.nn.conv3d(tf.zeros([1, 2, 2, 2, 1]), tf.zeros([1, 1, 1, 1, 1]),
                     1, "VALID", dilations=[1, -1, 1])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Computed output size would be negative: -1 "
                             r"\[input_size: 4, effective_filter_size: 6, "
                             r"stride: 1\] \[Op:Conv2D\]"):
        tf.nn.conv2d(x, tf.zeros([6, 1, 3, 1]), 1, "VALID")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Computed output size would be negative"):
        tf.nn.conv2d(x, tf.zeros([3, 1, 3, 1]), 1, "VALID", dilations=2)
    with pytest.raises(ValueError, match="padding"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 3, 1]), 1, "FULL")
    with pytest.raises(ValueError, match="data_format"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 3, 1]), 1, "SAME",
                     data_format="NWHC")
    with pytest.raises(ValueError, match="data_format"):
        tf.nn.conv1d(tf.zeros([1, 4, 3]), tf.zeros([1, 3, 1]), 1, "SAME",
                     data_format="NHWC")
    with pytest.raises(ValueError, match="strides should be of length 1, "
                                         "2 or 4"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 3, 1]), [1, 1, 1], "SAME")
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="Explicit padding in the batch or depth"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 3, 1]), 1,
                     [[1, 0], [0, 0], [0, 0], [0, 0]])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="nonnegative"):
        tf.nn.conv2d(x, tf.zeros([1, 1, 3, 1]), 1,
                     [[0, 0], [-1, 0], [0, 0], [0, 0]])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"input and filter must have the same depth: "
                             r"3 vs 2"):
        tf.nn.depthwise_conv2d(x, tf.zeros([1, 1, 2, 1]), [1, 1, 1, 1],
                               "SAME")


def test_row_errors_name_the_rank():
    from tapegrad import _tapegrad as C
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"filter must be 5-dimensional: \[1,1,1,1\] "
                             r"\[Op:Conv3D\]"):
        C._call("conv", tf.zeros([1, 2, 2, 2, 1]), tf.zeros([1, 1, 1, 1]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Size of out_backprop doesn't match computed: "
                             r"actual = \[1,2,2,1\], computed = \[1,3,3,1\] "
                             r"\[Op:Conv2DBackpropInput\]"):
        C._call("conv_backprop_input", tf.zeros([2, 2, 1, 1]),
                tf.zeros([1, 2, 2, 1]), input_sizes=[1, 4, 4, 1])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Sliding window strides field must specify"):
        C._call("conv", tf.zeros([1, 2, 2, 1]), tf.zeros([1, 1, 1, 1]),
                strides=[1])


def test_fuzz_findings():
    # an input of depth 0 made 0 groups (a division by zero in the row)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="input depth must be evenly divisible"):
        tf.nn.convolution(tf.zeros([1, 2, 2, 0]), tf.zeros([1, 1, 0, 2]))
    from tapegrad import _tapegrad as C
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="input depth must be evenly divisible"):
        C._call("conv", tf.zeros([1, 2, 2, 0]), tf.zeros([1, 1, 2, 2]))
    # a data_format that is not a string is a TypeError, as TF's attr check
    with pytest.raises(TypeError, match="data_format"):
        tf.nn.conv_transpose(tf.zeros([1, 2, 2, 1]), tf.zeros([1, 1, 1, 1]),
                             [1, 2, 2, 1], 1, data_format=tf.constant(1))
    with pytest.raises(TypeError, match="data_format"):
        tf.nn.bias_add(tf.zeros([1, 2]), tf.zeros([2]), data_format=3)
    # window arithmetic that overflows int64 is an error, not a wrap
    with pytest.raises(tf.errors.InvalidArgumentError, match="too large"):
        C._call("conv", tf.zeros([1, 3, 3, 1]), tf.zeros([2, 2, 1, 1]),
                padding=[[2 ** 62, 2 ** 62], [0, 0]])


def test_threads_run_the_rows_concurrently(rng):
    # the rows release the GIL around their products: threads that
    # convolve at once get the single-threaded results, bit for bit
    import threading
    x = rng.standard_normal((8, 16, 16, 8))
    w = rng.standard_normal((3, 3, 8, 8))
    xt = tf.constant(x)

    def grads():
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.nn.conv2d(xt, w, 1, "SAME")
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, xt).numpy()
    want_y = tf.nn.conv2d(x, w, 1, "SAME").numpy()
    want_g = grads()
    bad = []

    def run():
        for _ in range(4):
            if not np.array_equal(tf.nn.conv2d(x, w, 1, "SAME").numpy(),
                                  want_y):
                bad.append("forward")
            if not np.array_equal(grads(), want_g):
                bad.append("gradient")
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


@pytest.mark.parametrize("groups", [1, 2])
def test_chunks_that_split_images(rng, groups):
    # patch rows past the row kernel's 16 MB scratch bound: chunks end
    # mid-image (3640 rows of 4096 per image here), in all three rows
    from tapegrad import _tapegrad as C
    x = rng.standard_normal((2, 64, 64, 64))
    w = rng.standard_normal((3, 3, 64 // groups, 8))
    g = rng.standard_normal((2, 64, 64, 8))
    at = dict(strides=[1, 1], padding=[[1, 1], [1, 1]], dilations=[1, 1])
    np.testing.assert_allclose(C._call("conv", x, w, **at).numpy(),
                               refs_conv.conv(x, w, **at), rtol=1e-10,
                               atol=1e-10)
    np.testing.assert_allclose(
        C._call("conv_backprop_input", w, g, input_sizes=x.shape,
                **at).numpy(),
        refs_conv.conv_backprop_input(w, g, x.shape, **at), rtol=1e-10,
        atol=1e-10)
    np.testing.assert_allclose(
        C._call("conv_backprop_filter", x, g, filter_sizes=w.shape,
                **at).numpy(),
        refs_conv.conv_backprop_filter(x, g, w.shape, **at), rtol=1e-10,
        atol=1e-9)


# ---- the direct kernel for few channels (src/conv_small.c) -------------------
# Taken for one group, stride 1 along the last spatial axis, at most 4
# input and 32 output channels, padding within the kernel's reach.  Rows
# of 19 positions give full vector blocks and a scalar end for float32 (8
# per block) and float64 (4); 6 and 17 output channels a part-filled
# register block; strides and dilations on the other axes.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nsp,sizes,ks,strides,dils,cin,cout,pads", [
    (1, [19], [5], [1], [1], 1, 6, [[2, 2]]),
    (1, [23], [3], [1], [2], 3, 17, [[0, 4]]),
    (2, [9, 19], [3, 5], [2, 1], [1, 1], 1, 6, None),
    (2, [10, 21], [3, 3], [1, 1], [2, 1], 4, 17, [[2, 2], [1, 1]]),
    (2, [8, 12], [5, 5], [1, 1], [1, 1], 2, 32, [[2, 2], [2, 2]]),
    (3, [4, 5, 19], [2, 3, 2], [2, 1, 1], [1, 1, 2], 2, 5, None),
])
def test_direct_kernel_matches_reference(rng, dtype, nsp, sizes, ks,
                                         strides, dils, cin, cout, pads):
    from tapegrad import _tapegrad as C
    x = rng.standard_normal([3] + sizes + [cin]).astype(dtype)
    w = rng.standard_normal(ks + [cin, cout]).astype(dtype)
    at = dict(strides=strides, padding=pads, dilations=dils)
    y = refs_conv.conv(x, w, **at)
    g = rng.standard_normal(y.shape).astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else \
        dict(rtol=1e-12, atol=1e-12)
    got = C._call("conv", x, w, **at).numpy()
    assert got.dtype == dtype
    np.testing.assert_allclose(got, y, **tol)
    np.testing.assert_allclose(
        C._call("conv_backprop_input", w, g, input_sizes=x.shape,
                **at).numpy(),
        refs_conv.conv_backprop_input(w, g, x.shape, **at), **tol)
    np.testing.assert_allclose(
        C._call("conv_backprop_filter", x, g, filter_sizes=w.shape,
                **at).numpy(),
        refs_conv.conv_backprop_filter(x, g, w.shape, **at), **tol)


def test_direct_kernel_keeps_infinities_where_they_belong(rng):
    # an inf read only by some kernel offsets must reach only what those
    # offsets produce: the vector blocks' lanes past a row's end are
    # never mixed into a sum (a lane of 0 * inf would be NaN)
    from tapegrad import _tapegrad as C
    x = rng.standard_normal((1, 3, 21, 1))
    x[0, 1, 20, 0] = np.inf          # only the last kernel column sees it
    w = rng.standard_normal((1, 3, 1, 2))
    g = rng.standard_normal((1, 3, 19, 2))
    at = dict(strides=[1, 1], padding=None, dilations=[1, 1])
    for dtype in (np.float32, np.float64):
        xd, wd, gd = x.astype(dtype), w.astype(dtype), g.astype(dtype)
        dw = C._call("conv_backprop_filter", xd, gd, filter_sizes=w.shape,
                     **at).numpy()
        assert np.isinf(dw[0, 2]).all()
        assert np.isfinite(dw[0, :2]).all()
        y = C._call("conv", xd, wd, **at).numpy()
        assert np.isinf(y[0, 1, 18]).all()
        assert np.isfinite(np.delete(y[0, 1], 18, axis=0)).all()
        winf = wd.copy()
        winf[0, 0, 0, 0] = np.inf
        dx = C._call("conv_backprop_input", winf, gd, input_sizes=x.shape,
                     **at).numpy()
        # offset 0 reaches input columns 0..18, never 19 or 20
        assert np.isfinite(dx[0, :, 19:]).all()
        assert not np.isfinite(dx[0, :, :19]).any()


def test_direct_and_im2col_kernels_agree(rng):
    # the same convolution through both kernels: 4 input channels take the
    # direct one, and a 5th channel of zeros (im2col's) must not change
    # the sums; explicit padding past the kernel's reach also takes im2col
    from tapegrad import _tapegrad as C
    x = rng.standard_normal((2, 9, 17, 4))
    w = rng.standard_normal((3, 3, 4, 6))
    x5 = np.concatenate([x, np.zeros((2, 9, 17, 1))], -1)
    w5 = np.concatenate([w, np.zeros((3, 3, 1, 6))], -2)
    at = dict(strides=[1, 1], padding=[[1, 1], [1, 1]], dilations=[1, 1])
    np.testing.assert_allclose(C._call("conv", x, w, **at).numpy(),
                               C._call("conv", x5, w5, **at).numpy(),
                               rtol=1e-12, atol=1e-12)
    far = dict(strides=[1, 1], padding=[[4, 0], [0, 5]], dilations=[1, 1])
    np.testing.assert_allclose(C._call("conv", x, w, **far).numpy(),
                               refs_conv.conv(x, w, **far), rtol=1e-12,
                               atol=1e-12)
