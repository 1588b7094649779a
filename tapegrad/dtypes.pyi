from _typeshed import Incomplete
from ._tapegrad import DType as DType, bool as bool, float16 as float16, float32 as float32, float64 as float64, int16 as int16, int32 as int32, int64 as int64, int8 as int8, uint16 as uint16, uint32 as uint32, uint64 as uint64, uint8 as uint8
__all__ = ['DType', 'as_dtype', 'bool', 'float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'half', 'double']
half = float16
double = float64

def as_dtype(type_value: Incomplete) -> Incomplete: ...
