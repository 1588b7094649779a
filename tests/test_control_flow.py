"""TF's functional control flow, run eagerly: values, TF's argument rules
and structures, and gradients through every construct (each iteration's
ops are recorded like any Python loop's)."""
import collections

import numpy as np
import pytest

import tapegrad as tf


def grad(f, x):
    with tf.GradientTape() as t:
        y = f()
    return float(t.gradient(y, x))


def test_cond_case_switch_case():
    x = tf.Variable(2.0)
    assert grad(lambda: tf.cond(x > 1.0, lambda: x * x, lambda: x), x) == 4.0
    assert grad(lambda: tf.cond(x < 1.0, lambda: x * x, lambda: 3.0 * x),
                x) == 3.0
    with pytest.raises(TypeError, match="true_fn"):
        tf.cond(True, 1, lambda: 2)
    with pytest.raises(ValueError, match="scalar"):
        tf.cond(tf.constant([True, False]), lambda: 1, lambda: 2)
    # case: the first true predicate; no default: the last fn
    assert tf.case([(x > 5.0, lambda: 1), (x > 1.0, lambda: 2)],
                   default=lambda: 3) == 2
    assert tf.case([(x > 5.0, lambda: 1), (x > 9.0, lambda: 2)]) == 2
    assert tf.case({False: lambda: 1}, default=lambda: 3) == 3
    with pytest.raises(tf.errors.InvalidArgumentError, match="exclusive"):
        tf.case([(x > 0.0, lambda: 1), (x > 1.0, lambda: 2)],
                default=lambda: 3, exclusive=True)
    # switch_case: an index with no branch runs default, else the last
    fns = [lambda: "a", lambda: "b", lambda: "c"]
    assert tf.switch_case(tf.constant(1), fns) == "b"
    assert tf.switch_case(7, fns) == "c"
    assert tf.switch_case(-1, fns, default=lambda: "d") == "d"
    assert tf.switch_case(2, {0: lambda: "x", 2: lambda: "y"}) == "y"
    with pytest.raises(TypeError):
        tf.switch_case(tf.constant(1.0), fns)


def test_while_loop_values_structures_and_gradients():
    x = tf.Variable(2.0)
    i, z = tf.while_loop(lambda i, z: i < 3, lambda i, z: (i + 1, z * x),
                         (0, tf.constant(1.0)))
    assert i == 3 and float(z) == 8.0
    assert grad(lambda: tf.while_loop(
        lambda i, z: i < 3, lambda i, z: (i + 1, z * x),
        (0, tf.constant(1.0)))[1], x) == 12.0
    # a single loop variable comes back unpacked; maximum_iterations
    r = tf.while_loop(lambda v: v < 100.0, lambda v: v * 2.0,
                      tf.constant(1.0), maximum_iterations=3)
    assert float(r) == 8.0
    # nested structures, namedtuples kept
    P = collections.namedtuple("P", "a b")
    out = tf.while_loop(lambda p: p.a < 2,
                        lambda p: (P(p.a + 1, {"k": p.b["k"] + 1.0}),),
                        (P(0, {"k": tf.constant(0.0)}),))
    assert isinstance(out[0], P) and out[0].a == 2
    assert float(out[0].b["k"]) == 2.0
    with pytest.raises(ValueError, match="same nested structure"):
        tf.while_loop(lambda a, b: a < 1, lambda a, b: (a + 1,), (0, 1))
    with pytest.raises(TypeError, match="body"):
        tf.while_loop(lambda a: a < 1, None, [0])


def test_map_fn_scan_folds():
    x = tf.Variable(2.0)
    e = tf.constant([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(tf.map_fn(lambda v: v * v, e).numpy(),
                                  [1, 4, 9])
    assert grad(lambda: tf.reduce_sum(tf.map_fn(lambda v: v * x, e)), x) == 6.0
    # structures in and out, fn_output_signature
    pair = tf.map_fn(lambda t: (t[0] + t[1], t[0] * t[1]),
                     (e, e * 2.0), fn_output_signature=(tf.float32,
                                                        tf.float32))
    np.testing.assert_array_equal(pair[0].numpy(), [3, 6, 9])
    np.testing.assert_array_equal(pair[1].numpy(), [2, 8, 18])
    ints = tf.map_fn(lambda v: tf.cast(v, tf.int32), e,
                     fn_output_signature=tf.int32)
    assert ints.dtype == tf.int32
    with pytest.raises(TypeError, match="fn_output_signature"):
        tf.map_fn(lambda v: v, e, fn_output_signature=tf.int32)
    with pytest.raises(TypeError, match="fn_output_signature must hold "
                                        "tf.TensorSpec or tf.DType objects, "
                                        "got 3"):
        tf.map_fn(lambda v: v, e, fn_output_signature=[3])
    assert tf.map_fn(lambda v: v, e,
                     fn_output_signature="float32").dtype == tf.float32
    empty = tf.map_fn(lambda v: v, tf.zeros([0, 2]))
    assert empty.shape == (0, 2)
    np.testing.assert_array_equal(tf.vectorized_map(lambda v: v + 1.0,
                                                    e).numpy(), [2, 3, 4])
    # scan: running results; reverse; initializer
    np.testing.assert_array_equal(tf.scan(lambda a, v: a + v, e).numpy(),
                                  [1, 3, 6])
    np.testing.assert_array_equal(
        tf.scan(lambda a, v: a + v, e, reverse=True).numpy(), [6, 5, 3])
    np.testing.assert_array_equal(
        tf.scan(lambda a, v: a * v, e, initializer=tf.constant(2.0)).numpy(),
        [2, 4, 12])
    assert grad(lambda: tf.reduce_sum(tf.scan(lambda a, v: a + v * x, e)),
                x) == 7.0
    # folds (TF's docstring: foldl(a - b) over [1..6] from 0 is -21)
    xs = tf.constant([1, 2, 3, 4, 5, 6])
    assert int(tf.foldl(lambda a, b: a - b, xs, initializer=0)) == -21
    assert int(tf.foldr(lambda a, b: a - b, xs, initializer=0)) == -21
    assert int(tf.foldl(lambda a, b: a * 10 + b, tf.constant([1, 2, 3]))) == 123
    assert int(tf.foldr(lambda a, b: a * 10 + b, tf.constant([1, 2, 3]))) == 321
    assert grad(lambda: tf.foldl(lambda a, b: a * b, tf.stack([x, x, x])),
                x) == 12.0
    with pytest.raises(ValueError, match="same first dimension"):
        tf.map_fn(lambda t: t, (tf.ones(2), tf.ones(3)))


def test_tensor_array():
    x = tf.Variable(2.0)
    with tf.GradientTape() as t:
        ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        for k in range(3):
            ta = ta.write(k, x * k)
        s = ta.stack()
        r = ta.read(2)
        total = tf.reduce_sum(s) + r
    np.testing.assert_array_equal(s.numpy(), [0, 2, 4])
    assert float(t.gradient(total, x)) == 3.0 + 2.0
    assert int(ta.size()) == 3
    fixed = tf.TensorArray(tf.float32, size=2, element_shape=[2])
    fixed = fixed.unstack(tf.constant([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(fixed.gather([1, 0]).numpy(),
                                  [[3, 4], [1, 2]])
    np.testing.assert_array_equal(fixed.concat().numpy(), [1, 2, 3, 4])
    with pytest.raises(tf.errors.InvalidArgumentError, match="not resizeable"):
        fixed.write(2, tf.constant([0.0, 0.0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="dtype"):
        fixed.write(0, tf.constant([1, 2]))
    with pytest.raises(ValueError, match="incompatible"):
        fixed.write(0, tf.constant([1.0, 2.0, 3.0]))
    z = tf.TensorArray(tf.float32, size=2, element_shape=[3])
    np.testing.assert_array_equal(z.read(1).numpy(), [0, 0, 0])
    assert z.stack().shape == (2, 3)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.TensorArray(tf.float32, size=1).read(0)
