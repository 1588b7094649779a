"""`import tapegrad` stays cheap (issue 15: within 1.2x `import numpy`,
measured by benchmarks/, never here): tapegrad.keras, .data, .random,
.train, .image and .test, control flow, custom_gradient, Module, the
Python convolutions and poolings of tf.nn and the tape views of
tf.debugging load on first use, as TF's tf.keras does, and then work as
always."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAZY = ["tapegrad.keras", "tapegrad.data", "tapegrad.random",
        "tapegrad.train", "tapegrad.image", "tapegrad.test",
        "tapegrad._control_flow", "tapegrad._custom_gradient",
        "tapegrad._module", "tapegrad._conv", "tapegrad._pool",
        "tapegrad._explain", "tapegrad._tape_view"]

pytestmark = pytest.mark.no_refleak_check(reason="runs child processes")


def run(code):
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-c", code], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_import_leaves_the_heavy_namespaces_for_later():
    out = run("import sys, tapegrad\n"
              "print(*[m in sys.modules for m in %r])\n"
              "print('numpy.random' in sys.modules)" % LAZY)
    assert out == ["False"] * len(LAZY) + ["False"]


def test_lazy_namespaces_load_on_first_use():
    out = run("import sys, tapegrad as tf\n"
              "print(tf.keras.layers.Dense.__name__,\n"
              "      tf.random.normal([3]).shape.as_list(),\n"
              "      tf.data.Dataset.__name__,\n"
              "      tf.train.Checkpoint.__name__,\n"
              "      tf.image.resize.__name__,\n"
              "      tf.test.check_gradients.__name__,\n"
              "      int(tf.cond(tf.constant(True), lambda: 1, lambda: 2)),\n"
              "      tf.custom_gradient.__name__, tf.Module.__name__,\n"
              "      tf.nn.conv2d(tf.ones([1, 3, 3, 1]),\n"
              "                   tf.ones([2, 2, 1, 1]), 1, 'VALID')\n"
              "      .shape.as_list(),\n"
              "      tf.nn.max_pool2d(tf.ones([1, 2, 2, 1]), 2, 2, 'VALID')\n"
              "      .shape.as_list(),\n"
              "      tf.debugging.NoneGradientWarning.__name__,\n"
              "      tf.debugging.RecordedOp.__name__)\n"
              "print(*[m in sys.modules for m in %r])" % LAZY)
    assert out == ["Dense", "[3]", "Dataset", "Checkpoint",
                   "resize", "check_gradients", "1",
                   "custom_gradient", "Module", "[1,", "2,", "2,", "1]",
                   "[1,", "1,", "1,", "1]", "NoneGradientWarning",
                   "RecordedOp"] + ["True"] * len(LAZY)


def test_lazy_names_are_listed_before_they_load():
    # __all__ and dir() name them all; nn's list matches the modules'
    import tapegrad as tf
    from tapegrad import _conv, _pool
    for name in ("cond", "while_loop", "TensorArray", "image", "test",
                 "custom_gradient", "Module"):
        assert name in tf.__all__ and name in dir(tf)
    assert set(tf.nn.__all__) >= set(_conv.__all__) | set(_pool.__all__)
    from tapegrad import _composite_ops
    assert sorted(tf.nn._LAZY) == sorted(_conv.__all__ + _pool.__all__ +
                                         ["embedding_lookup"])
    assert sorted(tf.math._LAZY) == sorted(
        set(_composite_ops.__all__) - {"embedding_lookup"})
    assert tf.nn.conv2d is _conv.conv2d and tf.nn.avg_pool is _pool.avg_pool
    assert {"conv2d", "max_pool", "relu"} <= set(dir(tf.nn))
    assert tf.while_loop is tf._control_flow.while_loop
    with pytest.raises(AttributeError, match="no attribute 'conv9d'"):
        tf.nn.conv9d


def test_submodule_imports_and_star_import_work():
    out = run("import tapegrad.keras as K\n"
              "from tapegrad.keras import layers\n"
              "from tapegrad import *\n"
              "print(K.layers is layers, keras is K, random.__name__,\n"
              "      'keras' in dir(__import__('tapegrad')))")
    assert out == ["True", "True", "tapegrad.random", "True"]


def test_unknown_attribute_is_still_an_attribute_error():
    import tapegrad
    with pytest.raises(AttributeError, match="no attribute 'kerass'"):
        tapegrad.kerass


def test_the_build_leaves_bytecode_for_what_import_loads():
    # setup.py byte-compiles the package when it builds in place (an
    # editable install), as pip does for a regular one: where Python
    # writes no cache itself (PYTHONDONTWRITEBYTECODE) every import would
    # compile these modules again, a fifth of `import numpy`
    out = run("import importlib.util, os, sys, tapegrad\n"
              "mods = [m for n, m in sys.modules.items()\n"
              "        if n.startswith('tapegrad')\n"
              "        and getattr(m, '__file__', '').endswith('.py')]\n"
              "print(len(mods), *sorted(m.__name__ for m in mods\n"
              "      if not os.path.exists(\n"
              "          importlib.util.cache_from_source(m.__file__))))")
    assert int(out[0]) >= 10 and out[1:] == []
