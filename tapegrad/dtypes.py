"""tapegrad.dtypes: TF's tf.dtypes namespace: the DType objects and
as_dtype, which turns a name, a NumPy dtype or type, or a Python type into
one (tf.as_dtype too)."""
import builtins as _builtins

import numpy as _np

from ._tapegrad import (DType, bool, float16, float32, float64,  # noqa: A004
                        int8, int16, int32, int64, uint8, uint16, uint32,
                        uint64)

__all__ = ["DType", "as_dtype", "bool", "float16", "float32", "float64",
           "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
           "uint64", "half", "double"]

half = float16
double = float64

_BY_NAME = {d.name: d for d in (bool, float16, float32, float64, int8, int16,
                                int32, int64, uint8, uint16, uint32, uint64)}
_BY_NAME.update(half=float16, float=float32, double=float64)
# TF maps Python's own types as its conversion does
_BY_PYTYPE = {_builtins.float: float32, _builtins.int: int32,
              _builtins.bool: bool}


def as_dtype(type_value):
    """The DType for `type_value`: a DType, a name ("float32", "half"), a
    NumPy dtype or scalar type, or float, int, bool.  TypeError otherwise,
    with TF's message."""
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str) and type_value in _BY_NAME:
        return _BY_NAME[type_value]
    if isinstance(type_value, type) and type_value in _BY_PYTYPE:
        return _BY_PYTYPE[type_value]
    try:
        name = _np.dtype(type_value).name
    except (TypeError, ValueError, SyntaxError):
        # NumPy parses some strings as Python literals (SyntaxError)
        name = None
    if name in _BY_NAME and not isinstance(type_value, str):
        return _BY_NAME[name]
    raise TypeError("Cannot convert the argument `type_value`: %r to a "
                    "TensorFlow DType." % (type_value,))
