"""Issue 14, "Typed and documented": every public callable of tapegrad has a
signature inspect.signature can read (so help() shows it), TF's parameter
names and defaults where TF documents them, and a real docstring.

The callables are the fuzz harnesses' (fuzz/fuzzlib.py's namespaces()),
the file API the fuzzers skip included, plus every public method of every
class tapegrad defines."""
import inspect
import os
import sys
import types

import pytest

import tapegrad as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "fuzz"))
try:
    import fuzzlib
finally:
    sys.path.remove(os.path.join(ROOT, "fuzz"))


def _public_callables():
    """[(qualified name, object)], each object once: module-level callables
    of every namespace, then the public methods (and __call__) that the
    classes among them define in tapegrad."""
    out, seen = [], set()
    for m in fuzzlib.namespaces():
        for name in sorted(getattr(m, "__all__", None) or dir(m)):
            obj = getattr(m, name, None)
            if (name.startswith("_") or isinstance(obj, types.ModuleType)
                    or not callable(obj) or id(obj) in seen):
                continue
            seen.add(id(obj))
            out.append(("%s.%s" % (m.__name__, name), obj))
    classes = [obj for _, obj in out if isinstance(obj, type)
               and obj.__module__.startswith("tapegrad")]
    classes.append(type(tf.GradientTape().stop_recording()))
    for cls in classes:
        for owner in cls.__mro__:
            if not owner.__module__.startswith("tapegrad"):
                continue
            for name in sorted(vars(owner)):
                if name.startswith("_") and name != "__call__":
                    continue
                try:
                    obj = getattr(cls, name)
                except AttributeError:
                    continue
                if (not callable(obj) or isinstance(obj, type)
                        or id(obj) in seen):
                    continue
                seen.add(id(obj))
                out.append(("%s.%s.%s" % (cls.__module__, cls.__qualname__,
                                          name), obj))
    return out


CALLABLES = _public_callables()
IDS = [q for q, _ in CALLABLES]


def test_the_walk_reaches_every_namespace_and_the_methods():
    names = set(IDS)
    assert len(CALLABLES) > 600
    for q in ("tapegrad.ones", "tapegrad.math.erf", "tapegrad.nn.relu",
              "tapegrad.linalg.det", "tapegrad.random.normal",
              "tapegrad.config.run_functions_eagerly",
              "tapegrad.image.resize", "tapegrad.data.Dataset",
              "tapegrad.train.latest_checkpoint",
              "tapegrad.autodiff.ForwardAccumulator",
              "tapegrad.keras.layers.Dense", "tapegrad.errors.OpError",
              "tapegrad.debugging.enable_none_gradient_warnings",
              "tapegrad.experimental.dlpack.from_dlpack",
              "tapegrad.test.compute_gradient",
              "tapegrad.GradientTape.gradient",
              "tapegrad.ResourceVariable.assign"):
        assert q in names, q


@pytest.mark.parametrize("qual, obj", CALLABLES, ids=IDS)
def test_signature_is_readable(qual, obj):
    sig = inspect.signature(obj)
    # help() shows it: pydoc asks inspect for the same signature
    import pydoc
    text = pydoc.render_doc(obj, renderer=pydoc.plaintext)
    for name in sig.parameters:
        assert name in text, (qual, name, text[:300])


# TF's documented parameter names and defaults (tapegrad's signature may
# add nothing but may drop TF's trailing graph-only or rarely used ones,
# e.g. ones' `layout`, matmul's `adjoint_a`...): a prefix of TF's list.
UG = tf.UnconnectedGradients.NONE
TF_SIGNATURES = [
    (tf.ones, [("shape", None), ("dtype", tf.float32), ("name", None)]),
    (tf.zeros, [("shape", None), ("dtype", tf.float32), ("name", None)]),
    (tf.GradientTape, [("persistent", False),
                       ("watch_accessed_variables", True)]),
    (tf.GradientTape.gradient,
     [("target", None), ("sources", None), ("output_gradients", None),
      ("unconnected_gradients", UG)]),
    (tf.GradientTape.jacobian,
     [("target", None), ("sources", None), ("unconnected_gradients", UG),
      ("parallel_iterations", None), ("experimental_use_pfor", True)]),
    (tf.GradientTape.batch_jacobian,
     [("target", None), ("source", None), ("unconnected_gradients", UG),
      ("parallel_iterations", None), ("experimental_use_pfor", True)]),
    (tf.autodiff.ForwardAccumulator.jvp,
     [("primals", None), ("unconnected_gradients", UG)]),
    (tf.reduce_sum, [("input_tensor", None), ("axis", None),
                     ("keepdims", False), ("name", None)]),
    (tf.math.reduce_mean, [("input_tensor", None), ("axis", None),
                           ("keepdims", False), ("name", None)]),
    (tf.math.square, [("x", None), ("name", None)]),
    (tf.nn.relu, [("features", None), ("name", None)]),
    (tf.matmul, [("a", None), ("b", None), ("transpose_a", False),
                 ("transpose_b", False)]),
    (tf.clip_by_value, [("t", None), ("clip_value_min", None),
                        ("clip_value_max", None), ("name", None)]),
    (tf.random.normal, [("shape", None), ("mean", 0.0), ("stddev", 1.0),
                        ("dtype", tf.float32), ("seed", None),
                        ("name", None)]),
    (tf.argmax, [("input", None), ("axis", None), ("output_type", tf.int64),
                 ("name", None)]),
    (tf.transpose, [("a", None), ("perm", None), ("conjugate", False)]),
    (tf.constant, [("value", None), ("dtype", None), ("shape", None)]),
    (tf.keras.layers.Dense, [("units", None), ("activation", None),
                             ("use_bias", True),
                             ("kernel_initializer", "glorot_uniform"),
                             ("bias_initializer", "zeros")]),
]


def _same_default(ours, theirs):
    if theirs is None:
        return ours in (None, inspect.Parameter.empty)
    if isinstance(theirs, tf.DType):
        return tf.as_dtype(ours) == theirs
    return ours == theirs and type(ours) is type(theirs) or ours is theirs


@pytest.mark.parametrize("obj, expected", TF_SIGNATURES,
                         ids=[getattr(o, "__qualname__", str(o))
                              for o, _ in TF_SIGNATURES])
def test_signature_matches_tf(obj, expected):
    params = [p for p in inspect.signature(obj).parameters.values()
              if p.name != "self"]
    assert [p.name for p in params[:len(expected)]] == \
        [n for n, _ in expected]
    for p, (_, default) in zip(params, expected):
        assert _same_default(p.default, default), (p, default)


def test_unconnected_gradients_default_is_the_enum_and_still_works():
    default = inspect.signature(tf.GradientTape.gradient).parameters[
        "unconnected_gradients"].default
    assert default is tf.UnconnectedGradients.NONE
    x = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y = tf.constant(2.0)
    assert tape.gradient(y, x, unconnected_gradients=default) is None
