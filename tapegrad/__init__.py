"""tapegrad: TensorFlow's GradientTape as a small, fast CPython extension.

``import tapegrad as tf`` and eager TensorFlow code that uses tensors,
variables and ``tf.GradientTape`` runs unchanged.  Everything per op runs in
C (``tapegrad._tapegrad``); this package only arranges the namespaces.
"""
import enum as _enum

import importlib as _importlib
import sys as _sys

from . import _tapegrad
from ._tapegrad import (  # noqa: F401
    DType,
    EagerTensor,
    GradientTape,
    ResourceVariable,
    Tensor,
    Variable,
    bool,
    constant,
    convert_to_tensor,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    ones,
    ones_like,
    uint8,
    uint16,
    uint32,
    uint64,
    zeros,
    zeros_like,
)

__version__ = "0.1.0"

newaxis = None


class UnconnectedGradients(str, _enum.Enum):
    """What ``gradient`` returns for a source the target does not reach.

    A str enum, so that C signatures can name ``UnconnectedGradients.NONE``
    as a default inspect.signature can evaluate; ``'none'``/``'zero'``
    strings work wherever a member does."""

    NONE = "none"
    ZERO = "zero"


from ._shape import TensorShape  # noqa: E402
from . import _variables  # noqa: E402,F401  (registers ref() and slices)

_tapegrad._set_shape_type(TensorShape)

# errors now, not on first use: it gives the C module's OpError TF's
# properties (e.message ...), which an error raised before it would lack
from . import (autodiff, config, debugging, dtypes,  # noqa: E402,F401
               errors, experimental, linalg, math, nn)
from .dtypes import as_dtype, double, half  # noqa: E402,F401


def _install_ops():
    """Put every op-table row under its public names: a row's `api` lists
    its paths (\"add math.add\"), so the table is the one place that names
    an op."""
    modules = {"": _sys.modules[__name__]}
    for row in _tapegrad._ops():
        if not row["api"]:
            continue
        fn = getattr(_tapegrad, row["name"])
        for path in row["api"].split():
            package, _, attr = path.rpartition(".")
            module = modules.get(package)
            if module is None:
                module = modules[package] = _importlib.import_module(
                    __name__ + "." + package)
            setattr(module, attr, fn)
            if hasattr(module, "__all__") and attr not in module.__all__:
                module.__all__.append(attr)


_install_ops()


def _install_composites():
    """TF's tf.math paths for rows the table names at the top level.
    (The Python-composed ops, tapegrad/_composite_ops.py, are lazy names
    of nn and math.)"""
    top = _sys.modules[__name__]
    for fn in ("scatter_nd", "tensor_scatter_nd_update",
               "tensor_scatter_nd_add", "tensor_scatter_nd_sub",
               "searchsorted"):
        setattr(_sys.modules[__name__ + ".math"], fn, getattr(top, fn))


_install_composites()

# tf.keras, tf.data, tf.random, tf.train, tf.image and tf.test are
# imported on first use, as TF's own tf.keras is; the Python-written names
# of this namespace and of math, nn, linalg and config are read from
# their modules now that the names those modules import exist
# (tapegrad/_lazy.py says why not on first use).
from . import _lazy  # noqa: E402

_lazy.lazy_submodules(_sys.modules[__name__],
                      ("data", "image", "keras", "random", "test", "train"))
_FROM_MODULES = dict.fromkeys(
    ("TensorArray", "case", "cond", "foldl", "foldr", "map_fn", "scan",
     "switch_case", "vectorized_map", "while_loop"), __name__ + "._control_flow")
_FROM_MODULES.update(dict.fromkeys(("TensorSpec", "device", "function"),
                                   __name__ + "._function"))
_FROM_MODULES.update(dict.fromkeys(("is_tensor", "print"),
                                   __name__ + "._printing"))
_FROM_MODULES.update(dict.fromkeys(
    ("slice", "roll", "repeat", "meshgrid", "sequence_mask", "ensure_shape",
     "executing_eagerly", "unique"), __name__ + "._array_ops"))
_FROM_MODULES.update(custom_gradient=__name__ + "._custom_gradient",
                     name_scope=__name__ + "._name_scope",
                     get_current_name_scope=__name__ + "._name_scope",
                     Module=__name__ + "._module",
                     clip_by_global_norm=__name__ + "._clip")
_lazy.install_names(_sys.modules[__name__], _FROM_MODULES)
for _namespace in (config, linalg, math, nn):
    _lazy.install_names(_namespace, _namespace._FROM_MODULES)
del _namespace

__all__ = sorted(name for name in globals() if not name.startswith("_"))
