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
REQ = inspect.Parameter.empty
TF_SIGNATURES = [
    (tf.ones, [("shape", REQ), ("dtype", tf.float32), ("name", None)]),
    (tf.zeros, [("shape", REQ), ("dtype", tf.float32), ("name", None)]),
    (tf.GradientTape, [("persistent", False),
                       ("watch_accessed_variables", True)]),
    (tf.GradientTape.gradient,
     [("target", REQ), ("sources", REQ), ("output_gradients", None),
      ("unconnected_gradients", UG)]),
    (tf.GradientTape.jacobian,
     [("target", REQ), ("sources", REQ), ("unconnected_gradients", UG),
      ("parallel_iterations", None), ("experimental_use_pfor", True)]),
    (tf.GradientTape.batch_jacobian,
     [("target", REQ), ("source", REQ), ("unconnected_gradients", UG),
      ("parallel_iterations", None), ("experimental_use_pfor", True)]),
    (tf.autodiff.ForwardAccumulator.jvp,
     [("primals", REQ), ("unconnected_gradients", UG)]),
    (tf.reduce_sum, [("input_tensor", REQ), ("axis", None),
                     ("keepdims", False), ("name", None)]),
    (tf.math.reduce_mean, [("input_tensor", REQ), ("axis", None),
                           ("keepdims", False), ("name", None)]),
    (tf.math.square, [("x", REQ), ("name", None)]),
    (tf.nn.relu, [("features", REQ), ("name", None)]),
    (tf.matmul, [("a", REQ), ("b", REQ), ("transpose_a", False),
                 ("transpose_b", False)]),
    (tf.clip_by_value, [("t", REQ), ("clip_value_min", REQ),
                        ("clip_value_max", REQ), ("name", None)]),
    (tf.random.normal, [("shape", REQ), ("mean", 0.0), ("stddev", 1.0),
                        ("dtype", tf.float32), ("seed", None),
                        ("name", None)]),
    (tf.argmax, [("input", REQ), ("axis", None), ("output_type", tf.int64),
                 ("name", None)]),
    (tf.transpose, [("a", REQ), ("perm", None), ("conjugate", False)]),
    (tf.constant, [("value", REQ), ("dtype", None), ("shape", None)]),
    # arguments TF requires have no default here either
    (tf.cast, [("x", REQ), ("dtype", REQ), ("name", None)]),
    (tf.concat, [("values", REQ), ("axis", REQ)]),
    (tf.reshape, [("tensor", REQ), ("shape", REQ), ("name", None)]),
    (tf.expand_dims, [("input", REQ), ("axis", REQ), ("name", None)]),
    (tf.gather, [("params", REQ), ("indices", REQ),
                 ("validate_indices", None), ("axis", None),
                 ("batch_dims", 0)]),
    (tf.one_hot, [("indices", REQ), ("depth", REQ), ("on_value", None),
                  ("off_value", None), ("axis", None), ("dtype", None)]),
    (tf.pad, [("tensor", REQ), ("paddings", REQ), ("mode", "CONSTANT"),
              ("constant_values", 0)]),
    (tf.split, [("value", REQ), ("num_or_size_splits", REQ), ("axis", 0),
                ("num", None)]),
    (tf.tensordot, [("a", REQ), ("b", REQ), ("axes", REQ), ("name", None)]),
    (tf.nn.dropout, [("x", REQ), ("rate", REQ), ("noise_shape", None),
                     ("seed", None), ("name", None)]),
    (tf.nn.moments, [("x", REQ), ("axes", REQ), ("shift", None),
                     ("keepdims", False), ("name", None)]),
    (tf.keras.layers.Dense, [("units", REQ), ("activation", None),
                             ("use_bias", True),
                             ("kernel_initializer", "glorot_uniform"),
                             ("bias_initializer", "zeros")]),
]


def _same_default(ours, theirs):
    if theirs is REQ:
        return ours is REQ
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


def test_a_required_attribute_left_out_is_a_type_error():
    with pytest.raises(TypeError,
                       match=r"expand_dims\(\) missing required argument "
                             r"'axis' \(pos 2\)"):
        tf.expand_dims([1.0])
    with pytest.raises(TypeError, match="missing required argument 'dtype'"):
        tf.cast([1.0])
    assert tf.cast([1.5], dtype="int32").numpy().tolist() == [1]


def test_unconnected_gradients_default_is_the_enum_and_still_works():
    default = inspect.signature(tf.GradientTape.gradient).parameters[
        "unconnected_gradients"].default
    assert default is tf.UnconnectedGradients.NONE
    x = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y = tf.constant(2.0)
    assert tape.gradient(y, x, unconnected_gradients=default) is None


# ---- docstrings -------------------------------------------------------------

OPS = tf._tapegrad._ops()
PUBLIC_OPS = [o for o in OPS if o["api"]]


def _op_function(row):
    obj = tf
    for part in row["api"].split()[0].split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("qual, obj", CALLABLES, ids=IDS)
def test_docstring_is_real(qual, obj):
    # inspect.getdoc is what help() shows: a method without its own
    # docstring shows its base class's
    doc = inspect.getdoc(obj)
    assert doc and doc.strip(), qual
    assert "TensorFlow's documentation" not in doc, qual


def test_every_row_has_a_summary_and_every_public_row_an_example():
    for row in OPS:
        assert row["summary"].endswith("."), row["name"]
        assert bool(row["example"]) == bool(row["api"]), row["name"]
        assert bool(row["output"]) == bool(row["api"]), row["name"]


@pytest.mark.parametrize("row", PUBLIC_OPS, ids=[o["name"] for o in
                                                  PUBLIC_OPS])
def test_op_docstring_is_composed_from_its_row(row):
    f = _op_function(row)
    doc = f.__doc__
    flags = row["flags"]
    assert doc.startswith(" ".join(row["summary"].split()[:3]))
    for p in inspect.signature(f).parameters:
        assert "\n  %s: " % p.lstrip("*") in doc or \
            "\n  *%s: " % p in doc, (row["name"], p)
    gradient = doc[doc.index("Gradient: "):].split(".")[0]
    if "nondiff" in flags:
        assert gradient == "Gradient: none"
    else:
        assert gradient.startswith(("Gradient: defined", "Gradient: that"))
    dtypes = doc[doc.index("Dtypes: "):].split("\n\n")[0]
    assert ("integer" in dtypes.split("refused")[0].split(";")[0]) == \
        ("int_ok" in flags), dtypes
    assert ("bool" in dtypes.split(";")[0].split("(not bool)")[0]
            .replace("integer and bool inputs are refused", "")) == \
        ("bool_ok" in flags), dtypes
    assert ">>> " + row["example"] in doc


def _docstring_examples():
    out = []
    for qual, obj in CALLABLES:
        doc = getattr(obj, "__doc__", None)
        if isinstance(doc, str) and ">>>" in doc:
            out.append((qual, doc))
    return out


EXAMPLES = _docstring_examples()


def test_every_public_op_has_a_runnable_example():
    names = {q for q, _ in EXAMPLES}
    for row in PUBLIC_OPS:
        f = _op_function(row)
        assert any(obj is f for q, obj in CALLABLES if q in names), \
            row["name"]


@pytest.mark.parametrize("qual, doc", EXAMPLES, ids=[q for q, _ in EXAMPLES])
def test_docstring_examples_print_what_they_say(qual, doc):
    import doctest
    parser = doctest.DocTestParser()
    test = parser.get_doctest(doc, {"tf": tf, "tapegrad": tf}, qual,
                              None, 0)
    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE)
    out = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)
    assert runner.tries >= 1


# The op docstrings' paragraphs are filled in C (importing tapegrad ran
# textwrap ~900 times before); the filler gives what textwrap gives.
FILL_TEXTS = [
    "",
    "one",
    "Elementwise sum x + y, broadcasting the two shapes.",
    "a  b   c    double spaces are kept inside a line, and " * 4,
    " leading space kept on the first line only, trailing dropped ",
    "x" * 80 + " a word longer than a line is cut",
    "short " + "y" * 150,
    "non-ASCII counts by code point: \u2264 \u00d7 \u03c3 " * 6,
    "line\nbreaks\tand tabs-like whitespace\r\nbecome spaces " * 3,
    # a line filled exactly before a word too long for any line: textwrap
    # keeps that line's trailing space
    "x" * 71 + " " + "w" * 90,
]


@pytest.mark.parametrize("text", FILL_TEXTS)
@pytest.mark.parametrize("indent", ["", "  ", "    "])
def test_docstring_filler_is_textwraps(text, indent):
    import textwrap
    more = indent + "  " if indent else ""
    if "\t" in text:
        text = text.replace("\t", " ")   # the op table has no tabs
    want = textwrap.fill(text, 72, initial_indent=indent,
                         subsequent_indent=more, break_on_hyphens=False)
    assert tf._tapegrad._fill(text, indent, more) == want


@pytest.mark.no_refleak_check(reason="hypothesis drives many examples")
def test_docstring_filler_is_textwraps_on_any_text():
    import textwrap
    from hypothesis import given, settings, strategies as st

    words = st.one_of(st.sampled_from([" ", "  ", "\n", " \u2264 "]),
                      st.text("abc\u00d7", min_size=1, max_size=90))

    @settings(max_examples=400, deadline=None)
    @given(st.lists(words, max_size=40),
           st.sampled_from(["", "  ", "    ", " " * 17, " " * 34]))
    def check(parts, indent):
        text = "".join(parts)
        more = indent + "  " if indent else ""
        want = textwrap.fill(text, 72, initial_indent=indent,
                             subsequent_indent=more, break_on_hyphens=False)
        assert tf._tapegrad._fill(text, indent, more) == want

    check()


def test_docstring_filler_refuses_indents_it_is_not_held_to():
    with pytest.raises(ValueError, match="indents of at most 36"):
        tf._tapegrad._fill("text", " " * 40, " " * 42)
