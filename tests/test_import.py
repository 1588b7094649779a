"""`import tapegrad` stays cheap (issue 15: within 1.2x `import numpy`,
measured by benchmarks/, never here): tapegrad.keras, .data, .random and
.train load on first use, as TF's tf.keras does, and then work as
always."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAZY = ["tapegrad.keras", "tapegrad.data", "tapegrad.random",
        "tapegrad.train"]

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
              "      tf.train.Checkpoint.__name__)\n"
              "print(*[m in sys.modules for m in %r])" % LAZY)
    assert out == ["Dense", "[3]", "Dataset", "Checkpoint"] + \
        ["True"] * len(LAZY)


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
