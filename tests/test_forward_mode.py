"""tapegrad.autodiff.ForwardAccumulator: TF's documented values
(forwardprop.py's docstring, tf_semantics.md §1.12), nesting with tapes and
other accumulators, custom gradients, errors, threads.

Each op row's forward rule is checked by the tests generated from the op
table (test_ops_table_modes.py); this file tests the accumulator itself.
"""
import threading

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _tapegrad as C

FA = tf.autodiff.ForwardAccumulator


# ---- documented values --------------------------------------------------------
def test_nested_accumulators_give_the_documented_values():
    primal = tf.constant(1.1)
    with FA(primal, tf.constant(1.0)) as outer:
        with FA(primal, tf.constant(1.0)) as inner:
            primal_out = primal ** tf.constant(3.5)
    inner_jvp = inner.jvp(primal_out)
    assert repr(inner_jvp) == (
        "<tapegrad.Tensor: shape=(), dtype=float32, numpy=4.4417057>")
    assert repr(outer.jvp(inner_jvp)) == (
        "<tapegrad.Tensor: shape=(), dtype=float32, numpy=10.094786>")
    # the other order does not work, as TF says: the inner accumulator
    # never saw the outer one's computation
    assert inner.jvp(outer.jvp(primal_out)) is None


def test_forward_over_backward_hessian_vector_product():
    v = tf.Variable([1.0, 2.0])
    with FA(v, tf.constant([1.0, 0.0])) as acc:
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(v ** 3.0)
        backward = tape.gradient(y, v)
    assert str(backward) == (
        "tapegrad.Tensor([ 3. 12.], shape=(2,), dtype=float32)")
    assert str(acc.jvp(backward)) == (
        "tapegrad.Tensor([6. 0.], shape=(2,), dtype=float32)")


def test_variable_primal_like_tf_forwardprop_test():
    v = tf.Variable([1.0, 2.0, 3.0])
    with FA(v, tf.constant([0.1, -0.2, 0.3])) as acc:
        np.testing.assert_allclose(acc.jvp(v).numpy(), [0.1, -0.2, 0.3])
        x = v * 2.0
        np.testing.assert_allclose(acc.jvp(x).numpy(), [0.2, -0.4, 0.6])
        x2 = v + 0.1
        np.testing.assert_allclose(acc.jvp(x2).numpy(), [0.1, -0.2, 0.3])


def test_jvp_values_of_a_small_network(rng):
    x = tf.constant(rng.standard_normal((4, 3)))
    w = tf.constant(rng.standard_normal((3, 2)))
    tw = rng.standard_normal((3, 2))
    with FA(w, tf.constant(tw)) as acc:
        y = tf.reduce_sum(tf.tanh(x @ w) ** 2, axis=0)
    z = x.numpy() @ w.numpy()
    want = np.sum(2 * np.tanh(z) * (1 - np.tanh(z) ** 2) * (x.numpy() @ tw),
                  axis=0)
    np.testing.assert_allclose(acc.jvp(y).numpy(), want, rtol=1e-12)


def test_forward_mode_jacobian_equals_reverse_mode(rng):
    x = tf.constant(rng.standard_normal(3))
    f = lambda x: tf.stack([tf.reduce_prod(x), tf.reduce_logsumexp(x),
                            tf.sin(x[0]) * x[2]])
    cols = []
    for k in range(3):
        with FA(x, tf.constant(np.eye(3)[k])) as acc:
            y = f(x)
        cols.append(acc.jvp(y).numpy())
    with tf.GradientTape() as g:
        g.watch(x)
        y = f(x)
    np.testing.assert_allclose(np.stack(cols, axis=1), g.jacobian(y, x).numpy(),
                               rtol=1e-12)


# ---- composition ---------------------------------------------------------------------
def test_back_over_forward_hessian_vector_product(rng):
    x = tf.constant(rng.standard_normal(4))
    v = rng.standard_normal(4)
    f = lambda x: tf.reduce_sum(tf.exp(x) * tf.sin(x) ** 2)
    with tf.GradientTape() as tape:
        tape.watch(x)
        with FA(x, tf.constant(v)) as acc:
            y = f(x)
        jv = acc.jvp(y)
    hv = tape.gradient(jv, x)
    with tf.GradientTape() as t2:
        t2.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            y = f(x)
        g = t1.gradient(y, x)
    h = t2.jacobian(g, x)
    np.testing.assert_allclose(hv.numpy(), h.numpy() @ v, rtol=1e-12)


def test_a_tape_inside_an_accumulator_keeps_none_of_its_tangents():
    x = tf.constant([0.5, 1.5])
    with tf.GradientTape() as plain:
        plain.watch(x)
        tf.reduce_sum(tf.sin(x) * x)
    with FA(x, tf.constant([1.0, 1.0])):
        with tf.GradientTape() as tape:
            tape.watch(x)
            tf.reduce_sum(tf.sin(x) * x)
    assert tape._num_entries == plain._num_entries == 3


def test_jvps_stop_at_exit_and_survive_it():
    x = tf.constant(2.0)
    with FA(x, tf.constant(1.0)) as acc:
        y = x * x
    z = x * x
    assert float(acc.jvp(y)) == 4.0          # still readable after exit
    assert acc.jvp(z) is None                 # not computed outside
    assert float(acc.jvp(z, unconnected_gradients="zero")) == 0.0


def test_structures_and_unconnected():
    a = tf.constant([1.0, 2.0])
    b = tf.constant(3.0)
    c = tf.constant(4.0)
    with FA({"a": a, "b": [b]}, {"a": tf.constant([1.0, 0.0]),
                                 "b": [tf.constant(2.0)]}) as acc:
        y = a * b
        w = c * 2.0
    out = acc.jvp({"y": y, "w": [w]})
    np.testing.assert_allclose(out["y"].numpy(), [3.0 + 2.0, 0.0 + 4.0])
    assert out["w"] == [None]
    z = acc.jvp([y, w], unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert z[1].shape == () and float(z[1]) == 0.0


def test_numpy_and_python_tangents_are_converted():
    x = tf.constant([1.0, 2.0], dtype=tf.float64)
    with FA(x, np.array([1.0, 1.0], np.float32)) as acc:
        y = x * x
    assert acc.jvp(y).dtype == tf.float64
    np.testing.assert_array_equal(acc.jvp(y).numpy(), [2.0, 4.0])
    s = tf.constant(3.0)
    with FA(s, 2) as acc:
        y = s * s
    assert float(acc.jvp(y)) == 12.0
    # a list is a structure, not a tangent (TF's nest says the same)
    with pytest.raises(ValueError, match="same nested structure"):
        FA(x, [1.0, 1.0])


def test_custom_gradient_jvp_goes_through_grad_fn():
    @tf.custom_gradient
    def f(x):
        def grad(dy):
            return dy * 3.0           # claims a derivative of 3
        return tf.identity(x), grad

    x = tf.constant([1.0, 2.0])
    with FA(x, tf.constant([1.0, -1.0])) as acc:
        y = f(x)
    np.testing.assert_array_equal(acc.jvp(y).numpy(), [3.0, -3.0])


def test_integer_ops_get_no_tangent():
    x = tf.constant([1.0, 2.0])
    with FA(x, tf.constant([1.0, 1.0])) as acc:
        i = tf.argmax(x)
        y = tf.cast(x, tf.int32) * 2
        r = tf.round(x)
    assert acc.jvp(i) is None and acc.jvp(y) is None and acc.jvp(r) is None


def test_gradient_tape_is_the_same_class():
    assert tf.autodiff.GradientTape is tf.GradientTape


# ---- errors -----------------------------------------------------------------------------
def test_a_primal_given_twice_raises():
    x = tf.constant(1.0)
    with pytest.raises(ValueError, match="specified as a primal multiple times"):
        FA([x, x], [tf.constant(1.0), tf.constant(2.0)])


def test_mismatched_structures_raise():
    x = tf.constant(1.0)
    with pytest.raises(ValueError, match="same nested structure"):
        FA([x], [tf.constant(1.0), tf.constant(2.0)])
    with pytest.raises(ValueError, match="same nested structure"):
        FA({"a": x}, [tf.constant(1.0)])


def test_tangents_of_the_wrong_shape_or_dtype_raise():
    x = tf.constant([1.0, 2.0])
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        FA(x, tf.constant([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="float32.*float64"):
        FA(x, tf.constant([1.0, 2.0], dtype=tf.float64))


def test_non_tensor_primals_raise():
    with pytest.raises(TypeError, match="primal"):
        FA(3.0, 1.0)
    acc = FA(tf.constant(1.0), tf.constant(1.0))
    with pytest.raises(TypeError, match="primal"):
        acc.jvp("x")
    with pytest.raises(ValueError, match="unconnected_gradients"):
        acc.jvp(tf.constant(1.0), unconnected_gradients="maybe")


def test_entering_twice_raises():
    acc = FA(tf.constant(1.0), tf.constant(1.0))
    with acc:
        with pytest.raises(ValueError, match="already recording"):
            acc.__enter__()
    assert not acc._recording


def test_integer_primal_warns_and_gets_no_tangent():
    x = tf.constant([1, 2])
    with pytest.warns(UserWarning, match="must be floating"):
        acc = FA(x, tf.constant([1, 1]))
    with acc:
        y = x * 2
    assert acc.jvp(x) is None and acc.jvp(y) is None


def test_an_error_in_a_jvp_leaves_the_stacks_clean():
    class Boom(Exception):
        pass

    @tf.custom_gradient
    def f(x):
        def grad(dy):
            raise Boom()
        return tf.identity(x), grad

    x = tf.constant([1.0, 2.0])
    with pytest.raises(Boom):
        with FA(x, tf.constant([1.0, 1.0])):
            f(x)
    # nothing left recording: a new op on x is plain again
    with tf.GradientTape() as t:
        y = x * 2.0
    assert t._num_entries == 0
    assert C._live_counts()["GradientTape"] >= 0
    with FA(x, tf.constant([1.0, 1.0])) as acc:
        y = x * 2.0
    np.testing.assert_array_equal(acc.jvp(y).numpy(), [2.0, 2.0])


def test_accumulators_are_per_thread():
    x = tf.constant(2.0)
    seen = []

    def other():
        seen.append(x * x)

    with FA(x, tf.constant(1.0)) as acc:
        th = threading.Thread(target=other)
        th.start()
        th.join()
        y = x * x
    assert acc.jvp(seen[0]) is None
    assert float(acc.jvp(y)) == 4.0


def test_accumulator_is_garbage_collected():
    import gc
    import weakref
    acc = FA(tf.constant(1.0), tf.constant(1.0))
    r = weakref.ref(acc)
    del acc
    gc.collect()
    assert r() is None


def test_exit_from_another_thread_takes_it_off_its_own_thread():
    # found by fuzzing: the exit looked on the exiting thread's list, so
    # the accumulator stayed on its own thread's, still computing JVPs
    x = tf.constant(2.0)
    acc = FA(x, tf.constant(1.0))
    acc.__enter__()
    th = threading.Thread(target=acc.__exit__, args=(None, None, None))
    th.start()
    th.join()
    assert not acc._recording
    y = x * x
    assert acc.jvp(y) is None


def test_sign_has_no_tangent_as_in_tf():
    # TF's double-vjp finds sign's gradient unconnected: None, not zeros
    x = tf.constant([1.0, -2.0])
    with FA(x, tf.constant([1.0, 1.0])) as acc:
        y = tf.sign(x)
    assert acc.jvp(y) is None
    np.testing.assert_array_equal(
        acc.jvp(y, unconnected_gradients="zero").numpy(), [0.0, 0.0])


def test_a_grad_fn_that_exits_an_accumulator_does_not_hide_the_others():
    # review: the per-op walk skipped the next accumulator when user code
    # in a jvp changed the list under it
    x = tf.constant([1.0, 2.0])
    state = {}

    @tf.custom_gradient
    def f(x):
        def grad(dy):
            if state.pop("go", False):
                state["A"].__exit__(None, None, None)
            return [dy * 3.0]
        return x * 3.0, grad

    a = FA(x, tf.constant([1.0, 1.0]))
    b = FA(x, tf.constant([1.0, 1.0]))
    state["A"] = a
    with a:
        with b:
            state["go"] = True
            y = f(x)
    np.testing.assert_array_equal(a.jvp(y).numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(b.jvp(y).numpy(), [3.0, 3.0])


def test_diag_padding_jvp_leaves_the_recorded_attributes_alone():
    import sys
    x = tf.constant([1.0, 2.0])
    pad = float("2.5")
    base = sys.getrefcount(pad)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        with FA(x, tf.constant([1.0, 1.0])) as acc:
            y = tf.linalg.diag(x, padding_value=pad)
    assert sys.getrefcount(pad) - base == 1       # the tape's attribute
    np.testing.assert_array_equal(acc.jvp(y).numpy(), np.eye(2))
    del t


def test_many_input_rows_under_allocation_failure_do_not_crash():
    # review: a forward rule's scratch for more than 8 inputs was freed
    # through a NULL pointer when its own allocation failed
    import subprocess
    import sys
    code = (
        "import numpy as np, tapegrad as tg, _testcapi\n"
        "from tapegrad.autodiff import ForwardAccumulator as FA\n"
        "xs = [tg.constant(np.ones(2)) for _ in range(9)]\n"
        "acc = FA(xs[0], tg.constant(np.ones(2)))\n"
        "acc.__enter__()\n"
        "for start in range(0, 200):\n"
        "    tg.concat(xs, 0)\n"
        "    _testcapi.set_nomemory(start, start + 1)\n"
        "    try:\n"
        "        tg.concat(xs, 0); tg.add_n(xs); tg.stack(xs)\n"
        "    except MemoryError:\n"
        "        pass\n"
        "    finally:\n"
        "        _testcapi.remove_mem_hooks()\n"
        "print('ok')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]


def test_a_tangent_dies_with_its_tensor():
    # TF frees a JVP when its primal dies: a long loop under one
    # accumulator keeps only what is still referenced
    x = tf.constant(np.full(100, 0.5))
    base = C._live_counts()["Tensor"]
    with FA(x, tf.ones_like(x)) as acc:
        y = x
        for _ in range(500):
            y = tf.sin(y) * 0.5
        t = acc.jvp(y)
    assert C._live_counts()["Tensor"] - base <= 4     # y, its tangent, t
    want = np.ones(100)
    v = np.full(100, 0.5)
    for _ in range(500):
        want = np.cos(v) * 0.5 * want
        v = np.sin(v) * 0.5
    np.testing.assert_allclose(t.numpy(), want, rtol=1e-12, atol=1e-300)
    # the primal's own tangent stays (a Variable's reads come and go)
    np.testing.assert_array_equal(acc.jvp(x).numpy(), np.ones(100))
    w = tf.Variable([1.0, 2.0])
    with FA(w, tf.constant([1.0, 0.0])) as acc2:
        for _ in range(3):
            r = w * 1.0
    np.testing.assert_array_equal(acc2.jvp(w).numpy(), [1.0, 0.0])
    np.testing.assert_array_equal(acc2.jvp(r).numpy(), [1.0, 0.0])
