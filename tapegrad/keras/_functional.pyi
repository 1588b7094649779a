from ._keras_tensor import KerasTensor
from .layers import Layer
from _typeshed import Incomplete
__all__ = ['Input', 'InputLayer', 'Node', 'symbolic_call']

class Node:
    layer: Incomplete
    args: Incomplete
    kwargs: Incomplete
    outputs: Incomplete
    serial: Incomplete
    flat_outputs: Incomplete
    input_tensors: Incomplete
    def __init__(self, layer: Incomplete, args: Incomplete, kwargs: Incomplete, outputs: Incomplete) -> None: ...

class InputLayer(Layer):
    sparse: Incomplete
    ragged: Incomplete
    optional: Incomplete
    built: bool
    def __init__(self, shape: Incomplete=None, batch_size: Incomplete=None, dtype: Incomplete=None, sparse: Incomplete=None, ragged: Incomplete=None, batch_shape: Incomplete=None, input_tensor: Incomplete=None, optional: bool=False, name: Incomplete=None, **kwargs: Incomplete) -> None: ...
    def call(self) -> None:  # type: ignore[override]
        ...
    @property
    def batch_shape(self) -> Incomplete: ...
    @property
    def output(self) -> Incomplete: ...
    def get_config(self) -> Incomplete: ...

def Input(shape: Incomplete=None, batch_size: Incomplete=None, dtype: Incomplete=None, sparse: Incomplete=None, ragged: Incomplete=None, batch_shape: Incomplete=None, name: Incomplete=None, tensor: Incomplete=None, optional: bool=False) -> KerasTensor: ...

def symbolic_call(layer: Incomplete, inputs: Incomplete, args: Incomplete, kwargs: Incomplete) -> Incomplete: ...

class _Spec:
    shape: Incomplete
    dtype: Incomplete
    def __init__(self, shape: Incomplete, dtype: Incomplete) -> None: ...
