from tapegrad._tapegrad import Tensor, TensorLike
from _typeshed import Incomplete
__all__ = ['max_pool', 'max_pool1d', 'max_pool2d', 'max_pool3d', 'avg_pool', 'avg_pool1d', 'avg_pool2d', 'avg_pool3d']

def max_pool(input: TensorLike, ksize: Incomplete, strides: Incomplete, padding: Incomplete, data_format: Incomplete=None, name: str | None=None) -> Tensor:
    ...

def avg_pool(input: TensorLike, ksize: Incomplete, strides: Incomplete, padding: Incomplete, data_format: Incomplete=None, name: str | None=None) -> Tensor:
    ...

def max_pool1d(input: TensorLike, ksize: Incomplete, strides: Incomplete, padding: Incomplete, data_format: str='NWC', name: str | None=None) -> Tensor:
    ...

def max_pool2d(input: TensorLike, ksize: Incomplete, strides: Incomplete, padding: Incomplete, data_format: str='NHWC', name: str | None=None) -> Tensor:
    ...

def max_pool3d(input: TensorLike, ksize: Incomplete, strides: Incomplete, padding: Incomplete, data_format: str='NDHWC', name: str | None=None) -> Tensor:
    ...

def avg_pool1d(input: TensorLike, ksize: Incomplete, strides: Incomplete, padding: Incomplete, data_format: str='NWC', name: str | None=None) -> Tensor:
    ...

def avg_pool2d(input: TensorLike, ksize: Incomplete, strides: Incomplete, padding: Incomplete, data_format: str='NHWC', name: str | None=None) -> Tensor:
    ...

def avg_pool3d(input: TensorLike, ksize: Incomplete, strides: Incomplete, padding: Incomplete, data_format: str='NDHWC', name: str | None=None) -> Tensor:
    ...
