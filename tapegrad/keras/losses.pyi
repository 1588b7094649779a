from tapegrad._tapegrad import Tensor
from _typeshed import Incomplete
__all__ = ['Loss', 'MeanSquaredError', 'MeanAbsoluteError', 'Huber', 'BinaryCrossentropy', 'CategoricalCrossentropy', 'SparseCategoricalCrossentropy', 'mean_squared_error', 'mse', 'MSE', 'mean_absolute_error', 'mae', 'MAE', 'huber', 'binary_crossentropy', 'categorical_crossentropy', 'sparse_categorical_crossentropy', 'get', 'deserialize', 'serialize']

class Loss:
    name: Incomplete
    reduction: Incomplete

    def __init__(self, name: Incomplete=None, reduction: str='sum_over_batch_size', dtype: Incomplete=None) -> None:
        ...

    @property
    def dtype(self) -> Incomplete:
        ...

    def __call__(self, y_true: Incomplete, y_pred: Incomplete, sample_weight: Incomplete=None) -> Tensor:
        ...

    def call(self, y_true: Incomplete, y_pred: Incomplete) -> Incomplete:
        ...

    def get_config(self) -> Incomplete:
        ...

    @classmethod
    def from_config(cls, config: Incomplete) -> Incomplete:
        ...

class LossFunctionWrapper(Loss):
    fn: Incomplete

    def __init__(self, fn: Incomplete, reduction: str='sum_over_batch_size', name: Incomplete=None, dtype: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

def mean_squared_error(y_true: Incomplete, y_pred: Incomplete) -> Incomplete:
    ...

def mean_absolute_error(y_true: Incomplete, y_pred: Incomplete) -> Incomplete:
    ...
mse = mean_squared_error
MSE = mean_squared_error
mae = mean_absolute_error
MAE = mean_absolute_error

def huber(y_true: Incomplete, y_pred: Incomplete, delta: float=1.0) -> Incomplete:
    ...

def binary_crossentropy(y_true: Incomplete, y_pred: Incomplete, from_logits: bool=False, label_smoothing: float=0.0, axis: Incomplete=-1) -> Incomplete:
    ...

def categorical_crossentropy(y_true: Incomplete, y_pred: Incomplete, from_logits: bool=False, label_smoothing: float=0.0, axis: Incomplete=-1) -> Incomplete:
    ...

def sparse_categorical_crossentropy(y_true: Incomplete, y_pred: Incomplete, from_logits: bool=False, ignore_class: Incomplete=None, axis: Incomplete=-1) -> Incomplete:
    ...

class MeanSquaredError(LossFunctionWrapper):

    def __init__(self, reduction: str='sum_over_batch_size', name: str='mean_squared_error', dtype: Incomplete=None) -> None:
        ...

class MeanAbsoluteError(LossFunctionWrapper):

    def __init__(self, reduction: str='sum_over_batch_size', name: str='mean_absolute_error', dtype: Incomplete=None) -> None:
        ...

class Huber(LossFunctionWrapper):

    def __init__(self, delta: float=1.0, reduction: str='sum_over_batch_size', name: str='huber_loss', dtype: Incomplete=None) -> None:
        ...

class BinaryCrossentropy(LossFunctionWrapper):
    from_logits: Incomplete
    label_smoothing: Incomplete
    axis: Incomplete

    def __init__(self, from_logits: bool=False, label_smoothing: float=0.0, axis: Incomplete=-1, reduction: str='sum_over_batch_size', name: str='binary_crossentropy', dtype: Incomplete=None) -> None:
        ...

class CategoricalCrossentropy(LossFunctionWrapper):
    from_logits: Incomplete
    label_smoothing: Incomplete
    axis: Incomplete

    def __init__(self, from_logits: bool=False, label_smoothing: float=0.0, axis: Incomplete=-1, reduction: str='sum_over_batch_size', name: str='categorical_crossentropy', dtype: Incomplete=None) -> None:
        ...

class SparseCategoricalCrossentropy(LossFunctionWrapper):

    def __init__(self, from_logits: bool=False, ignore_class: Incomplete=None, reduction: str='sum_over_batch_size', axis: Incomplete=-1, name: str='sparse_categorical_crossentropy', dtype: Incomplete=None) -> None:
        ...

def serialize(loss: Incomplete) -> Incomplete:
    ...

def deserialize(name: Incomplete, custom_objects: Incomplete=None) -> Incomplete:
    ...

def get(identifier: Incomplete) -> Incomplete:
    ...
