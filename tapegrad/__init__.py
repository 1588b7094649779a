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

from . import (autodiff, config, debugging, dtypes,  # noqa: E402,F401
               errors, experimental, image, linalg, math, nn, test)
from .dtypes import as_dtype, double, half  # noqa: E402,F401
from ._custom_gradient import custom_gradient  # noqa: E402,F401
from ._function import TensorSpec, device, function  # noqa: E402,F401
from ._module import Module  # noqa: E402,F401
from ._control_flow import (TensorArray, case, cond, foldl,  # noqa: E402,F401
                            foldr, map_fn, scan, switch_case,
                            vectorized_map, while_loop)
from ._printing import is_tensor, print  # noqa: E402,F401


def _install_ops():
    """Put every op-table row under its public names: a row's `api` lists
    its paths (\"add math.add\"), so the table is the one place that names
    an op."""
    for row in _tapegrad._ops():
        if not row["api"]:
            continue
        fn = getattr(_tapegrad, row["name"])
        for path in row["api"].split():
            *package, attr = path.split(".")
            module = _sys.modules[__name__]
            if package:
                module = _importlib.import_module(
                    ".".join([__name__, *package]))
            setattr(module, attr, fn)
            if hasattr(module, "__all__") and attr not in module.__all__:
                module.__all__.append(attr)


_install_ops()

from . import _composite_ops  # noqa: E402
from ._clip import clip_by_global_norm  # noqa: E402,F401


def _install_composites():
    """TF's other paths for the composite ops."""
    names = {"nn": ["embedding_lookup"],
             "math": ["unsorted_segment_mean", "segment_sum", "segment_mean",
                      "segment_max"]}
    for ns, fns in names.items():
        module = _sys.modules[__name__ + "." + ns]
        for fn in fns:
            setattr(module, fn, getattr(_composite_ops, fn))
            if hasattr(module, "__all__") and fn not in module.__all__:
                module.__all__.append(fn)
    from . import _conv, _pool
    for module_ in (_conv, _pool):
        for fn in module_.__all__:
            setattr(nn, fn, getattr(module_, fn))
            nn.__all__.append(fn)
    top = _sys.modules[__name__]
    for fn in ("scatter_nd", "tensor_scatter_nd_update",
               "tensor_scatter_nd_add", "tensor_scatter_nd_sub",
               "searchsorted"):
        setattr(_sys.modules[__name__ + ".math"], fn, getattr(top, fn))


_install_composites()

# Imported on first use, as TF's own tf.keras is: together they were
# two thirds of `import tapegrad` past NumPy (keras 45 ms, data 26 ms,
# random 13 ms, which loads numpy.random; train 8 ms, which loads
# zipfile and json).  `tf.keras`, `tf.data`, `tf.random`, `tf.train` and
# `import tapegrad.keras` work as before.
_LAZY_SUBMODULES = ("data", "keras", "random", "train")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return _importlib.import_module("." + name, __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


__all__ = sorted({name for name in dir() if not name.startswith("_")} |
                 set(_LAZY_SUBMODULES))
