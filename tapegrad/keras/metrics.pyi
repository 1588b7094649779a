from tapegrad._tapegrad import Variable
from .losses import MAE as MAE, MSE as MSE, binary_crossentropy as binary_crossentropy, categorical_crossentropy as categorical_crossentropy, huber as huber, mae as mae, mean_absolute_error as mean_absolute_error, mean_squared_error as mean_squared_error, mse as mse, sparse_categorical_crossentropy as sparse_categorical_crossentropy
from _typeshed import Incomplete
__all__ = ['Metric', 'Mean', 'Sum', 'MeanMetricWrapper', 'Accuracy', 'BinaryAccuracy', 'CategoricalAccuracy', 'SparseCategoricalAccuracy', 'MeanSquaredError', 'MeanAbsoluteError', 'binary_accuracy', 'categorical_accuracy', 'sparse_categorical_accuracy', 'mean_squared_error', 'mse', 'MSE', 'mean_absolute_error', 'mae', 'MAE', 'binary_crossentropy', 'categorical_crossentropy', 'sparse_categorical_crossentropy', 'huber', 'get', 'deserialize', 'serialize']

class Metric:
    name: Incomplete

    def __init__(self, dtype: Incomplete=None, name: Incomplete=None) -> None:
        ...

    @property
    def dtype(self) -> Incomplete:
        ...

    def add_variable(self, shape: Incomplete, initializer: Incomplete, dtype: Incomplete=None, aggregation: str='sum', name: Incomplete=None) -> Variable:
        ...

    def add_weight(self, shape: Incomplete=(), initializer: Incomplete=None, dtype: Incomplete=None, name: Incomplete=None) -> Variable:
        ...

    @property
    def variables(self) -> Incomplete:
        ...

    def reset_state(self) -> None:
        ...

    def update_state(self, *args: Incomplete, **kwargs: Incomplete) -> None:
        ...

    def result(self) -> None:
        ...

    def __call__(self, *args: Incomplete, **kwargs: Incomplete) -> Incomplete:
        ...

    def get_config(self) -> Incomplete:
        ...

    @classmethod
    def from_config(cls, config: Incomplete) -> Incomplete:
        ...

class Sum(Metric):
    total: Incomplete

    def __init__(self, name: str='sum', dtype: Incomplete=None) -> None:
        ...

    def update_state(self, values: Incomplete, sample_weight: Incomplete=None) -> None:
        ...

    def result(self) -> Incomplete:
        ...

class Mean(Metric):
    total: Incomplete
    count: Incomplete

    def __init__(self, name: str='mean', dtype: Incomplete=None) -> None:
        ...

    def update_state(self, values: Incomplete, sample_weight: Incomplete=None) -> None:
        ...

    def result(self) -> Incomplete:
        ...

class MeanMetricWrapper(Mean):

    def __init__(self, fn: Incomplete, name: Incomplete=None, dtype: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def update_state(self, y_true: Incomplete, y_pred: Incomplete, sample_weight: Incomplete=None) -> Incomplete:  # type: ignore[override]
        ...

def binary_accuracy(y_true: Incomplete, y_pred: Incomplete, threshold: float=0.5) -> Incomplete:
    ...

def categorical_accuracy(y_true: Incomplete, y_pred: Incomplete) -> Incomplete:
    ...

def sparse_categorical_accuracy(y_true: Incomplete, y_pred: Incomplete) -> Incomplete:
    ...

class Accuracy(MeanMetricWrapper):

    def __init__(self, name: str='accuracy', dtype: Incomplete=None) -> None:
        ...

class BinaryAccuracy(MeanMetricWrapper):
    threshold: Incomplete

    def __init__(self, name: str='binary_accuracy', dtype: Incomplete=None, threshold: float=0.5) -> None:
        ...

class CategoricalAccuracy(MeanMetricWrapper):

    def __init__(self, name: str='categorical_accuracy', dtype: Incomplete=None) -> None:
        ...

class SparseCategoricalAccuracy(MeanMetricWrapper):

    def __init__(self, name: str='sparse_categorical_accuracy', dtype: Incomplete=None) -> None:
        ...

class MeanSquaredError(MeanMetricWrapper):

    def __init__(self, name: str='mean_squared_error', dtype: Incomplete=None) -> None:
        ...

class MeanAbsoluteError(MeanMetricWrapper):

    def __init__(self, name: str='mean_absolute_error', dtype: Incomplete=None) -> None:
        ...

def serialize(metric: Incomplete) -> Incomplete:
    ...

def deserialize(config: Incomplete, custom_objects: Incomplete=None) -> Incomplete:
    ...

def get(identifier: Incomplete) -> Incomplete:
    ...
