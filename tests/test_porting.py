"""What ported TF 2 code meets around the tape (issue 11, first part):
TensorShape, tf.function, tf.TensorSpec, tf.device and tf.config's device
lists, tf.is_tensor, tf.print.  Values are TF's (tf_semantics.md §2 and
TF's own docstrings)."""
import pickle

import numpy as np
import pytest

import tapegrad as tf


# ---- TensorShape ------------------------------------------------------------------
def test_shape_is_a_tensorshape_with_tf_printing():
    x = tf.constant(np.zeros((7, 10), np.float32))
    s = x.shape
    assert isinstance(s, tf.TensorShape) and isinstance(s, tuple)
    assert repr(s) == "TensorShape([7, 10])"
    assert str(s) == "(7, 10)"
    assert str(tf.constant([1.0]).shape) == "(1,)"
    assert str(tf.constant(1.0).shape) == "()"
    assert repr(tf.constant(1.0).shape) == "TensorShape([])"
    v = tf.Variable(np.zeros((5, 10), np.float32))
    assert repr(v.shape) == "TensorShape([5, 10])"


def test_shape_api():
    s = tf.zeros([2, 3, 4]).shape
    assert s.as_list() == [2, 3, 4] and s.rank == 3 and s.ndims == 3
    assert s.num_elements() == 24 and s.is_fully_defined()
    assert s[0] * s[1] == 6 and isinstance(s[0], int)
    assert s[1:] == (3, 4) and isinstance(s[1:], tf.TensorShape)
    assert list(s) == [2, 3, 4] and len(s) == 3
    a, b, c = s
    assert (a, b, c) == (2, 3, 4)
    assert s == (2, 3, 4) and s == [2, 3, 4] and s != [2, 3]
    assert s.concatenate([5]) == [2, 3, 4, 5]
    assert (s + (5,)).as_list() == [2, 3, 4, 5]
    assert ((1,) + s).as_list() == [1, 2, 3, 4]
    assert s.with_rank_at_least(2) is s
    with pytest.raises(ValueError, match="must have rank at least 4"):
        s.with_rank_at_least(4)
    assert bool(tf.constant(1.0).shape)          # TF: () is truthy too
    with pytest.raises(TypeError):
        s * 2                                     # no repetition, as TF
    assert pickle.loads(pickle.dumps(s)) == s


def test_shapes_with_unknown_dimensions():
    s = tf.TensorShape([None, 3])
    assert str(s) == "(None, 3)" and repr(s) == "TensorShape([None, 3])"
    assert s.num_elements() is None and not s.is_fully_defined()
    assert s.is_compatible_with([7, 3]) and not s.is_compatible_with([7, 4])
    assert s.merge_with([7, None]) == [7, 3]
    u = tf.TensorShape(None)
    assert u.rank is None and str(u) == "<unknown>"
    assert repr(u) == "TensorShape(None)" and u.is_compatible_with([1, 2])
    with pytest.raises(ValueError):
        u.as_list()
    with pytest.raises(TypeError):
        tf.TensorShape(["a"])
    with pytest.raises(ValueError):
        tf.TensorShape([-1])


def test_shapes_go_where_shapes_go():
    v = tf.Variable(np.ones((2, 3), np.float32))
    t = tf.reshape(tf.range(6.0), v.shape)
    assert t.shape == (2, 3)
    assert np.zeros(v.shape).shape == (2, 3)
    n = tf.reduce_prod(v.shape)          # the guide's n_params
    assert int(n) == 6
    assert tf.zeros(v.shape[1:]).shape == (3,)


# ---- tf.function ---------------------------------------------------------------------
def test_function_runs_eagerly_and_records():
    calls = []

    @tf.function
    def f(x):
        calls.append(1)
        return x * x

    x = tf.Variable(3.0)
    with tf.GradientTape() as t:
        y = f(x)
    assert float(y) == 9.0 and float(t.gradient(y, x)) == 6.0
    assert len(calls) == 1
    assert f.python_function(2.0) == 4.0
    assert f.__name__ == "f"


def test_function_with_arguments_and_on_methods():
    class M:
        def __init__(self):
            self.w = tf.Variable(2.0)

        @tf.function(reduce_retracing=True, jit_compile=True)
        def __call__(self, x):
            return self.w * x

    m = M()
    assert float(m(tf.constant(3.0))) == 6.0
    g = tf.function(lambda a, b: a + b, autograph=False)
    assert float(g(1.0, tf.constant(2.0))) == 3.0


def test_input_signature_is_checked():
    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.float32)])
    def f(x):
        return x * 2.0

    np.testing.assert_array_equal(f(tf.constant([1.0, 2.0])).numpy(), [2, 4])
    np.testing.assert_array_equal(f([1.0, 2.0]).numpy(), [2, 4])
    with pytest.raises(TypeError, match="not compatible"):
        f(tf.constant([[1.0]]))
    with pytest.raises(TypeError, match="not compatible"):
        f(tf.constant([1.0], dtype=tf.float64))
    with pytest.raises(TypeError):
        f(tf.constant([1.0]), tf.constant([1.0]))
    with pytest.raises(TypeError, match="TensorSpec"):
        tf.function(lambda x: x, input_signature=[3])


def test_the_guides_clip_gradients_module_cell():
    # advanced guide cells 19-20: tf.Module-free part (saving is out of scope)
    @tf.custom_gradient
    def clip_gradients(y):
        def backward(dy):
            return tf.clip_by_norm(dy, 0.5)
        return y, backward

    @tf.function(input_signature=[tf.TensorSpec(None)])
    def call_custom_grad(x):
        return clip_gradients(x)

    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        output = call_custom_grad(x)
    assert str(tape.gradient(output, x)) == (
        "tapegrad.Tensor(0.5, shape=(), dtype=float32)")


def test_run_functions_eagerly_flag():
    assert tf.config.functions_run_eagerly() is False
    tf.config.run_functions_eagerly(True)
    try:
        assert tf.config.functions_run_eagerly() is True
    finally:
        tf.config.run_functions_eagerly(False)


def test_tensor_spec():
    s = tf.TensorSpec([None, 2], tf.float64, name="x")
    assert repr(s) == ("TensorSpec(shape=(None, 2), dtype=tapegrad.float64, "
                       "name='x')")
    assert s.shape == [None, 2] and s.dtype == tf.float64
    assert s.is_compatible_with(tf.zeros([5, 2], dtype=tf.float64))
    assert not s.is_compatible_with(tf.zeros([5, 3], dtype=tf.float64))
    assert repr(tf.TensorSpec(None)) == (
        "TensorSpec(shape=<unknown>, dtype=tapegrad.float32, name=None)")
    assert tf.TensorSpec([2], "float64").dtype == tf.float64
    assert tf.TensorSpec([2]) == tf.TensorSpec((2,))


# ---- devices --------------------------------------------------------------------------
def test_device_is_soft_placement_on_the_cpu():
    with tf.device("/GPU:0"):
        y = tf.constant([1.0]) * 2.0
    np.testing.assert_array_equal(y.numpy(), [2.0])
    with tf.device(None):
        pass
    with pytest.raises(TypeError):
        tf.device(lambda op: "/CPU:0")
    cpus = tf.config.list_physical_devices("CPU")
    assert [d.device_type for d in cpus] == ["CPU"]
    assert cpus[0].name == "/physical_device:CPU:0"
    assert tf.config.list_physical_devices("GPU") == []
    assert tf.config.list_logical_devices()[0].name == "/device:CPU:0"


def test_tensor_and_variable_device_name_the_host_cpu():
    # TF's full device name; the basics guide checks .endswith("CPU:0")
    cpu = "/job:localhost/replica:0/task:0/device:CPU:0"
    with tf.device("GPU:0"):
        x = tf.random.uniform([3, 3])
    assert x.device == cpu
    assert (x @ x).device == cpu
    assert tf.Variable([1.0, 2.0]).device == cpu
    with pytest.raises(AttributeError):
        x.device = "/GPU:0"


# ---- is_tensor, print ---------------------------------------------------------------
def test_is_tensor():
    assert tf.is_tensor(tf.constant(1.0)) and tf.is_tensor(tf.Variable(1.0))
    assert not tf.is_tensor(1.0) and not tf.is_tensor(np.ones(2))


def test_print_formats_as_tf(capsys):
    tf.print(tf.range(10))
    tf.print(tf.constant([[1.5, 2.0], [3.0, 4.0]]), "and", 7)
    tf.print({"a": tf.constant(1 / 3)}, [tf.constant(True), "s"])
    tf.print(tf.range(10), summarize=-1, sep=",", end="!\n")
    tf.print(tf.zeros([8, 2]))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[0 1 2 ... 7 8 9]"
    assert out[1:3] == ["[[1.5 2]", " [3 4]] and 7"]
    assert out[3] == "{'a': 0.333333} [1, 's']"
    assert out[4] == "[0 1 2 3 4 5 6 7 8 9]!"
    assert out[5:] == ["[[0 0]", " [0 0]", " [0 0]", " ...", " [0 0]",
                       " [0 0]", " [0 0]]"]


def test_print_to_a_stream_and_a_file(tmp_path):
    import io
    buf = io.StringIO()
    tf.print(tf.constant(2.5), output_stream=buf)
    assert buf.getvalue() == "2.5\n"
    path = tmp_path / "out.txt"
    path.write_text("")
    tf.print("x", tf.constant([1, 2]), output_stream="file://%s" % path)
    assert path.read_text() == "x [1 2]\n"
    with pytest.raises(ValueError):
        tf.print(1, output_stream="nowhere")
    with pytest.raises(TypeError):
        tf.print(1, sep=3)


# ---- ref(), sliced assignment --------------------------------------------------------
def test_ref_and_deref_as_dict_and_set_keys():
    v = tf.Variable([1.0, 2.0])
    t = tf.constant(3.0)
    d = {v.ref(): "v", t.ref(): "t"}
    assert d[v.ref()] == "v" and d[t.ref()] == "t"
    assert v.ref() == v.ref() and v.ref() != tf.Variable([1.0, 2.0]).ref()
    assert {t.ref(), t.ref()} == {t.ref()}
    assert v.ref().deref() is v and t.ref().deref() is t
    assert repr(t.ref()).startswith("<Reference wrapping <tapegrad.Tensor")
    with pytest.raises(TypeError, match="ref"):
        {v: 1}                    # the message says what to use instead


def test_sliced_variable_assignment_as_tf():
    v = tf.Variable([1.0, 2.0, 3.0])
    r = v[0].assign(5.0)
    assert r is v
    np.testing.assert_array_equal(v.numpy(), [5.0, 2.0, 3.0])
    w = tf.Variable(np.arange(12.0).reshape(3, 4))
    w[1:, ::2].assign([[0.0, 0.0], [-1.0, -1.0]])
    np.testing.assert_array_equal(w.numpy(), [[0, 1, 2, 3], [0, 5, 0, 7],
                                              [-1, 9, -1, 11]])
    w[0].assign_add(tf.ones(4, dtype=tf.float64))
    w[:, -1].assign_sub([1.0, 1.0, 1.0])
    np.testing.assert_array_equal(w.numpy()[0], [1, 2, 3, 3])
    np.testing.assert_array_equal(w.numpy()[:, -1], [3, 6, 10])
    assert w[2, 1].assign(4.0, read_value=False) is None
    assert float(w[2, 1]) == 4.0


def test_sliced_assignment_errors():
    v = tf.Variable([1.0, 2.0, 3.0])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"sliced l-value shape \[2\] does not match "
                             r"r-value shape \[3\]"):
        v[1:].assign([1.0, 2.0, 3.0])
    with pytest.raises(AttributeError, match="slices of a Variable"):
        tf.constant([1.0]).assign(2.0)
    with pytest.raises(AttributeError):
        (v[0] * 2.0).assign(1.0)          # a computed tensor, not a slice
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0, 3.0])


def test_sliced_assignment_is_not_recorded():
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as t:
        y = v * v
        v[0].assign(10.0)
    np.testing.assert_array_equal(t.gradient(y, v).numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(v.numpy(), [10.0, 2.0])


def test_print_takes_any_array(capsys):
    # found by fuzzing: an object array's elements have no .item()
    tf.print(np.array(["a", 3], dtype=object), np.array(2.5),
             np.array([True, False]))
    assert capsys.readouterr().out == "[a 3] 2.5 [1 0]\n"
