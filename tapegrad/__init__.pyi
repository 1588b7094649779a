import enum as _enum
from . import autodiff as autodiff, config as config, data as data, debugging as debugging, dtypes as dtypes, errors as errors, experimental as experimental, image as image, keras as keras, linalg as linalg, math as math, nn as nn, random as random, test as test, train as train
from ._array_ops import ensure_shape as ensure_shape, executing_eagerly as executing_eagerly, meshgrid as meshgrid, repeat as repeat, roll as roll, sequence_mask as sequence_mask, slice as slice, unique as unique
from ._clip import clip_by_global_norm as clip_by_global_norm
from ._control_flow import TensorArray as TensorArray, case as case, cond as cond, foldl as foldl, foldr as foldr, map_fn as map_fn, scan as scan, switch_case as switch_case, vectorized_map as vectorized_map, while_loop as while_loop
from ._custom_gradient import custom_gradient as custom_gradient
from ._function import TensorSpec as TensorSpec, device as device, function as function
from ._module import Module as Module
from ._name_scope import get_current_name_scope as get_current_name_scope, name_scope as name_scope
from ._printing import is_tensor as is_tensor, print as print
from ._shape import TensorShape as TensorShape
from ._tapegrad import DType as DType, EagerTensor as EagerTensor, GradientTape as GradientTape, ResourceVariable as ResourceVariable, Tensor as Tensor, Variable as Variable, bool as bool, constant as constant, convert_to_tensor as convert_to_tensor, float16 as float16, float32 as float32, float64 as float64, int16 as int16, int32 as int32, int64 as int64, int8 as int8, ones as ones, ones_like as ones_like, uint16 as uint16, uint32 as uint32, uint64 as uint64, uint8 as uint8, zeros as zeros, zeros_like as zeros_like
from .dtypes import as_dtype as as_dtype, double as double, half as half
from _typeshed import Incomplete
__all__ = ['DType', 'EagerTensor', 'GradientTape', 'Module', 'ResourceVariable', 'Tensor', 'TensorArray', 'TensorShape', 'TensorSpec', 'UnconnectedGradients', 'Variable', 'abs', 'acos', 'acosh', 'add', 'add_n', 'argmax', 'argmin', 'argsort', 'as_dtype', 'asin', 'asinh', 'atan', 'atan2', 'atanh', 'autodiff', 'bool', 'boolean_mask', 'broadcast_to', 'case', 'cast', 'clip_by_global_norm', 'clip_by_norm', 'clip_by_value', 'concat', 'cond', 'config', 'constant', 'convert_to_tensor', 'cos', 'cosh', 'cumsum', 'custom_gradient', 'data', 'debugging', 'device', 'divide', 'double', 'dtypes', 'einsum', 'ensure_shape', 'equal', 'errors', 'executing_eagerly', 'exp', 'expand_dims', 'experimental', 'eye', 'fill', 'float16', 'float32', 'float64', 'floor', 'foldl', 'foldr', 'function', 'gather', 'gather_nd', 'get_current_name_scope', 'greater', 'greater_equal', 'half', 'identity', 'image', 'int16', 'int32', 'int64', 'int8', 'is_tensor', 'keras', 'less', 'less_equal', 'linalg', 'linspace', 'logical_and', 'logical_not', 'logical_or', 'map_fn', 'math', 'matmul', 'maximum', 'meshgrid', 'minimum', 'multiply', 'name_scope', 'negative', 'newaxis', 'nn', 'norm', 'not_equal', 'one_hot', 'ones', 'ones_like', 'pad', 'pow', 'print', 'random', 'range', 'rank', 'reduce_all', 'reduce_any', 'reduce_logsumexp', 'reduce_max', 'reduce_mean', 'reduce_min', 'reduce_prod', 'reduce_std', 'reduce_sum', 'reduce_variance', 'repeat', 'reshape', 'reverse', 'roll', 'round', 'scan', 'scatter_nd', 'searchsorted', 'sequence_mask', 'shape', 'sigmoid', 'sign', 'sin', 'sinh', 'size', 'slice', 'sort', 'split', 'sqrt', 'square', 'squeeze', 'stack', 'stop_gradient', 'subtract', 'switch_case', 'tan', 'tanh', 'tensor_scatter_nd_add', 'tensor_scatter_nd_sub', 'tensor_scatter_nd_update', 'tensordot', 'test', 'tile', 'train', 'transpose', 'truediv', 'uint16', 'uint32', 'uint64', 'uint8', 'unique', 'unstack', 'vectorized_map', 'where', 'while_loop', 'zeros', 'zeros_like']
__version__: str
newaxis: None

class UnconnectedGradients(str, _enum.Enum):
    NONE = 'none'
    ZERO = 'zero'

# --- generated ops: tools/make_stubs.py writes what follows; do not edit ---
from tapegrad._tapegrad import abs as abs
from tapegrad._tapegrad import acos as acos
from tapegrad._tapegrad import acosh as acosh
from tapegrad._tapegrad import add as add
from tapegrad._tapegrad import add_n as add_n
from tapegrad._tapegrad import argmax as argmax
from tapegrad._tapegrad import argmin as argmin
from tapegrad._tapegrad import argsort as argsort
from tapegrad._tapegrad import asin as asin
from tapegrad._tapegrad import asinh as asinh
from tapegrad._tapegrad import atan as atan
from tapegrad._tapegrad import atan2 as atan2
from tapegrad._tapegrad import atanh as atanh
from tapegrad._tapegrad import boolean_mask as boolean_mask
from tapegrad._tapegrad import broadcast_to as broadcast_to
from tapegrad._tapegrad import cast as cast
from tapegrad._tapegrad import clip_by_norm as clip_by_norm
from tapegrad._tapegrad import clip_by_value as clip_by_value
from tapegrad._tapegrad import concat as concat
from tapegrad._tapegrad import cos as cos
from tapegrad._tapegrad import cosh as cosh
from tapegrad._tapegrad import cumsum as cumsum
from tapegrad._tapegrad import divide as divide
from tapegrad._tapegrad import einsum as einsum
from tapegrad._tapegrad import equal as equal
from tapegrad._tapegrad import exp as exp
from tapegrad._tapegrad import expand_dims as expand_dims
from tapegrad._tapegrad import eye as eye
from tapegrad._tapegrad import fill as fill
from tapegrad._tapegrad import floor as floor
from tapegrad._tapegrad import gather as gather
from tapegrad._tapegrad import gather_nd as gather_nd
from tapegrad._tapegrad import greater as greater
from tapegrad._tapegrad import greater_equal as greater_equal
from tapegrad._tapegrad import identity as identity
from tapegrad._tapegrad import less as less
from tapegrad._tapegrad import less_equal as less_equal
from tapegrad._tapegrad import linspace as linspace
from tapegrad._tapegrad import logical_and as logical_and
from tapegrad._tapegrad import logical_not as logical_not
from tapegrad._tapegrad import logical_or as logical_or
from tapegrad._tapegrad import matmul as matmul
from tapegrad._tapegrad import maximum as maximum
from tapegrad._tapegrad import minimum as minimum
from tapegrad._tapegrad import multiply as multiply
from tapegrad._tapegrad import negative as negative
from tapegrad._tapegrad import norm as norm
from tapegrad._tapegrad import not_equal as not_equal
from tapegrad._tapegrad import one_hot as one_hot
from tapegrad._tapegrad import pad as pad
from tapegrad._tapegrad import pow as pow
from tapegrad._tapegrad import range as range
from tapegrad._tapegrad import rank as rank
from tapegrad._tapegrad import reduce_all as reduce_all
from tapegrad._tapegrad import reduce_any as reduce_any
from tapegrad._tapegrad import reduce_logsumexp as reduce_logsumexp
from tapegrad._tapegrad import reduce_max as reduce_max
from tapegrad._tapegrad import reduce_mean as reduce_mean
from tapegrad._tapegrad import reduce_min as reduce_min
from tapegrad._tapegrad import reduce_prod as reduce_prod
from tapegrad._tapegrad import reduce_std as reduce_std
from tapegrad._tapegrad import reduce_sum as reduce_sum
from tapegrad._tapegrad import reduce_variance as reduce_variance
from tapegrad._tapegrad import reshape as reshape
from tapegrad._tapegrad import reverse as reverse
from tapegrad._tapegrad import round as round
from tapegrad._tapegrad import scatter_nd as scatter_nd
from tapegrad._tapegrad import searchsorted as searchsorted
from tapegrad._tapegrad import shape as shape
from tapegrad._tapegrad import sigmoid as sigmoid
from tapegrad._tapegrad import sign as sign
from tapegrad._tapegrad import sin as sin
from tapegrad._tapegrad import sinh as sinh
from tapegrad._tapegrad import size as size
from tapegrad._tapegrad import sort as sort
from tapegrad._tapegrad import split as split
from tapegrad._tapegrad import sqrt as sqrt
from tapegrad._tapegrad import square as square
from tapegrad._tapegrad import squeeze as squeeze
from tapegrad._tapegrad import stack as stack
from tapegrad._tapegrad import stop_gradient as stop_gradient
from tapegrad._tapegrad import subtract as subtract
from tapegrad._tapegrad import tan as tan
from tapegrad._tapegrad import tanh as tanh
from tapegrad._tapegrad import tensor_scatter_nd_add as tensor_scatter_nd_add
from tapegrad._tapegrad import tensor_scatter_nd_sub as tensor_scatter_nd_sub
from tapegrad._tapegrad import tensor_scatter_nd_update as tensor_scatter_nd_update
from tapegrad._tapegrad import tensordot as tensordot
from tapegrad._tapegrad import tile as tile
from tapegrad._tapegrad import transpose as transpose
from tapegrad._tapegrad import truediv as truediv
from tapegrad._tapegrad import unstack as unstack
from tapegrad._tapegrad import where as where
# --- end of generated ops ---
