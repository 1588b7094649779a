"""Regressions for defects the fuzzers (fuzz/, tools/run_fuzz.sh) found.

Each test names its reproducer in fuzz/corpus/, which tests/test_fuzz_seeds.py
replays through the harness as well.  Cases that crashed the interpreter
run in a subprocess, so a regression fails one test instead of the run.
"""
import subprocess
import os
import sys
import textwrap


def run_isolated(code, limit_gib=None, timeout=300):
    prefix = ""
    # An address-space cap and AddressSanitizer's shadow memory cannot
    # coexist (ASan fails to mmap); under tools/run_asan.sh ASan's own
    # allocator turns absurd sizes into MemoryError instead.
    if limit_gib and "libasan" not in os.environ.get("LD_PRELOAD", ""):
        prefix = ("import resource; resource.setrlimit(resource.RLIMIT_AS, "
                  "(%d << 30, %d << 30))\n" % (limit_gib, limit_gib))
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c",
                        prefix + textwrap.dedent(code)],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


# crash-scatter-shape-message: the scatter rows' shape check formatted its
# message with the op name where the first %U went (a char * read as a
# PyObject *): a segfault instead of InvalidArgumentError.
def test_scatter_with_a_wrong_gradient_shape_raises():
    out = run_isolated("""
        import numpy as np
        import tapegrad as tf
        from tapegrad import _tapegrad as C
        for name, attrs in [
                ("gather_nd_grad", dict(indices=[[0, 1], [2, 3], [0, 1]],
                                        shape=(3, 4, 2))),
                ("gather_grad", dict(indices=[2, 0, 2, 1], axis=0,
                                     shape=(3, 3)))]:
            try:
                C._call(name, np.zeros((3, 1), np.float32), **attrs)
            except tf.errors.InvalidArgumentError as e:
                print(e)
    """)
    assert out.splitlines() == [
        "the gradient has shape [3,1], expected [3,2] [Op:ScatterNd]",
        "the gradient has shape [3,1], expected [4,3] "
        "[Op:UnsortedSegmentSum]"]


# crash-oom-message: a tensor too large to allocate raised a MemoryError
# with no message at all; it now says which tensor, as TF's OOM error does.
def test_tensor_too_large_to_allocate_says_which():
    out = run_isolated("""
        import tapegrad as tf
        try:
            tf.range(-2 ** 31, 9, 2, dtype=tf.float64)
        except MemoryError as e:
            print(e)
    """, limit_gib=4)
    assert out.strip() == ("OOM when allocating tensor with "
                           "shape[1073741829] and type float64")


# crash-int-pow-under-tape (fuzz_tape): NumPy's integer power loop, called
# directly as a fast path, reports a negative exponent by setting
# ValueError and returning normally; the result came back with the error
# still set: SystemError, whenever a tape was recording.
def test_int_pow_negative_exponent_raises_value_error_under_a_tape():
    import numpy as np
    import tapegrad as tf
    a = tf.constant(-1)
    big = tf.constant(np.arange(40, dtype=np.int64).reshape(4, 10))
    exps = tf.constant(np.arange(10, dtype=np.int64) - 3)
    with tf.GradientTape():
        for x, y in [(a, a), (big, exps)]:
            try:
                tf.pow(x, y)
            except ValueError as e:
                assert "negative integer powers" in str(e)
            else:
                raise AssertionError("no error")


# timeout-eye-empty-huge-batch (fuzz_ops): eye with num_rows 0 and
# batch_shape [2**31 - 1, 3, 3, 3] is an empty tensor, but eye's diagonal
# loop still walked all 58e9 batch indices (an -O3 build drops the empty
# loop; the fuzzer's ASan build spent minutes in it).
def test_eye_with_no_rows_and_a_huge_batch_returns_at_once():
    out = run_isolated("""
        import tapegrad as tf
        t = tf.eye(tf.constant(0, dtype=tf.int64),
                   batch_shape=[2147483647, 3, 3, 3])
        print(t.shape, t.dtype.name)
    """, timeout=60)
    assert out.strip() == "(2147483647, 3, 3, 3, 0, 0) float32"


# crash-split-2-32-ways (fuzz_ops): an empty dimension divides into any
# number of pieces, and split(zeros([0]), 2**32) raised a MemoryError with
# no message (and would have cast 2**32 to an int count of 0 pieces had the
# allocation succeeded).  TF's num_split is an int32: more is an error.
def test_split_into_more_pieces_than_an_int32_counts():
    import pytest
    import tapegrad as tf
    for n in (2 ** 31, 2 ** 32, 2 ** 32 + 3):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match="split: num_or_size_splits = %d is more "
                           "pieces than an int32 can count" % n):
            tf.split(tf.zeros([0]), n)
    assert [p.shape for p in tf.split(tf.zeros([0, 2]), 3)] == [(0, 2)] * 3


# Found by fuzz_ops' Keras models (no reproducer file: they came from the
# in-process smoke runs): a list subclass with its own constructor as
# fit/predict data was rebuilt by calling that constructor; label
# smoothing over zero classes divided by zero.
def test_keras_data_in_a_list_subclass_and_smoothing_over_no_classes():
    import collections

    import numpy as np

    import tapegrad as tf

    class Tagged(list):
        def __init__(self, items, tag):
            super().__init__(items)
            self.tag = tag

    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)),
                                 tf.keras.layers.Dense(1)])
    x = np.ones((2, 3), np.float32)
    assert model.predict(Tagged([x], "t"), verbose=0).shape == (2, 1)
    from tapegrad.keras.models import _nest_map
    pair = collections.namedtuple("pair", "a b")
    assert _nest_map(lambda v: v * 2, pair(1, 2)) == pair(2, 4)
    assert _nest_map(lambda v: v * 2, Tagged([1, 2], "t")) == [2, 4]
    empty = np.zeros((2, 0), np.float32)
    loss = tf.keras.losses.categorical_crossentropy(empty, empty,
                                                    label_smoothing=0.1)
    np.testing.assert_array_equal(loss.numpy(), [0.0, 0.0])
