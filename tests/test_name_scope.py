"""tf.name_scope (tapegrad/_name_scope.py): TF's eager rules for the scope
string and for the names of the Variables made inside it, per thread, and
tf.Module's name_scope and with_name_scope built on it."""
import threading

import pytest

import tapegrad as tf


def test_scopes_nest_and_name_the_variables_made_inside():
    assert tf.Variable(1.0, name="w").name == "w:0"
    with tf.name_scope("foo") as s:
        assert s == "foo/"
        assert tf.Variable(1.0, name="w").name == "foo/w:0"
        assert tf.Variable(1.0).name == "foo/Variable:0"
        with tf.name_scope("bar") as s2:
            assert s2 == "foo/bar/"
            assert tf.get_current_name_scope() == "foo/bar"
            assert tf.Variable(1.0, name="v").name == "foo/bar/v:0"
            with tf.name_scope("top/") as s3:     # a trailing / is whole
                assert s3 == "top/"
                assert tf.Variable(1.0, name="z").name == "top/z:0"
            with tf.name_scope("") as s4:          # "" leaves them all
                assert s4 == ""
                assert tf.Variable(1.0, name="z").name == "z:0"
            assert tf.Variable(1.0, name="v").name == "foo/bar/v:0"
        assert tf.Variable(1.0, name="w").name == "foo/w:0"
    assert tf.Variable(1.0, name="w").name == "w:0"
    assert tf.Variable(1.0).name == "Variable:0"
    assert tf.get_current_name_scope() == ""


def test_a_name_ending_in_slash_is_whole_and_an_empty_one_leaves_scope():
    # TF's eager variable names (a reviewer's comparison with TF 2.21)
    with tf.name_scope("a"):
        assert tf.Variable(1.0, name="w/").name == "w:0"
        assert tf.Variable(1.0, name="").name == ":0"
        assert tf.Variable(1.0, name="x/y").name == "a/x/y:0"
    assert tf.Variable(1.0, name="w/").name == "w:0"


def test_a_scope_is_left_when_its_block_raises_and_takes_only_strings():
    with pytest.raises(RuntimeError):
        with tf.name_scope("boom"):
            raise RuntimeError
    assert tf.Variable(1.0, name="w").name == "w:0"
    with pytest.raises(ValueError, match="name for name_scope must be a "
                                         "string"):
        tf.name_scope(3)
    assert tf.name_scope("x").name == "x"


def test_each_thread_has_its_own_scope():
    names, inside, leave = [], threading.Event(), threading.Event()

    def other():
        with tf.name_scope("other"):
            inside.set()
            leave.wait(10)
            names.append(tf.Variable(1.0, name="a").name)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(10)
    names.append(tf.Variable(1.0, name="main").name)
    leave.set()
    t.join()
    assert names == ["main:0", "other/a:0"]


def test_module_scopes_name_their_variables_as_tfs_do():
    class Dense(tf.Module):
        def __init__(self, n_in, n_out, name=None):
            super().__init__(name=name)
            self.w = tf.Variable(tf.ones([n_in, n_out]), name="w")
            with self.name_scope:
                self.b = tf.Variable(tf.zeros([n_out]), name="b")

        @tf.Module.with_name_scope
        def __call__(self, x):
            if not hasattr(self, "scale"):
                self.scale = tf.Variable(2.0, name="scale")
            return (x @ self.w + self.b) * self.scale

    class MLP(tf.Module):
        def __init__(self, name=None):
            super().__init__(name=name)
            with self.name_scope as scope:
                assert scope == "mlp/"
                self.hidden = Dense(2, 3)
                self.out = Dense(3, 1, name="out")

    m = MLP()
    y = m.out(m.hidden(tf.ones([1, 2])))
    assert y.shape == (1, 1)
    # a module's scope is fixed where it is made: Dense inside mlp's scope
    # is 'mlp/dense/'; w, made in __init__ outside its own scope, takes
    # the scope around it; the decorated __call__ names `scale`
    assert sorted(v.name for v in m.variables) == [
        "mlp/dense/b:0", "mlp/dense/scale:0", "mlp/out/b:0",
        "mlp/out/scale:0", "mlp/w:0", "mlp/w:0"]
    with m.hidden.name_scope as scope:
        assert scope == "mlp/dense/"
    assert MLP.__init__.__name__ == "__init__"
    assert Dense.__call__.__name__ == "__call__"       # functools.wraps
