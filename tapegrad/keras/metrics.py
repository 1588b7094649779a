"""Keras 3 metrics (keras.metrics): stateful accumulators whose state
lives in non-trainable Variables (`variables`), updated by
`update_state(...)`, read by `result()`, zeroed by `reset_state()`.

Values as keras/src/metrics/ computes them: Mean keeps a weighted total
and count of per-sample values (a value of rank > 1 is first averaged
over its other axes); the accuracies and the MeanSquaredError metric are
Means of their per-sample functions.
"""
from .. import _tapegrad as C
from .. import math as _math
from . import initializers as _initializers
from . import losses as _losses
from .losses import (  # noqa: F401  (keras.metrics names them too)
    MAE, MSE, binary_crossentropy, categorical_crossentropy, huber, mae,
    mean_absolute_error, mean_squared_error, mse,
    sparse_categorical_crossentropy)
from .losses import _auto_name, _standardize_dtype, _tensor
from .losses import squeeze_or_expand_to_same_rank as _same_rank

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy",
    "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "MeanSquaredError", "MeanAbsoluteError",
    "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "mean_squared_error", "mse", "MSE", "mean_absolute_error", "mae", "MAE",
    "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "huber", "get", "deserialize",
    "serialize",
]


class Metric:
    """The base of the metrics: a subclass creates its state with
    add_variable() in __init__ and defines update_state() and result()."""

    def __init__(self, dtype=None, name=None):
        self.name = name or _auto_name(type(self).__name__)
        self._dtype = _standardize_dtype(dtype)
        self._variables = []

    @property
    def dtype(self):
        """The compute dtype's name ('float32'), as Keras 3 gives it."""
        return self._dtype.name

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum",
                     name=None):
        """A non-trainable state Variable, tracked in `variables`."""
        dtype = self._dtype if dtype is None else _standardize_dtype(dtype)
        init = _initializers.get(initializer)
        if init is None:
            raise ValueError("add_variable needs an initializer, got None")
        v = C.Variable(init(shape, dtype=dtype), trainable=False)
        if name is not None:
            C._set_variable_name(v, str(name))   # Keras 3: 'total'
        self._variables.append(v)
        return v

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """A state Variable of the metric (Keras 3's name for add_variable)."""
        return self.add_variable(shape, initializer, dtype=dtype, name=name)

    @property
    def variables(self):
        """The state Variables, in creation order, then those of the
        metrics this one holds."""
        out = list(self._variables)
        for value in vars(self).values():
            if isinstance(value, Metric) and value is not self:
                out.extend(value.variables)
        return out

    def reset_state(self):
        """Set every state variable back to zero."""
        for v in self.variables:
            v.assign(C.zeros(v.shape, dtype=v.dtype))

    def update_state(self, *args, **kwargs):
        """Accumulate a batch into the metric's state; a subclass defines
        it."""
        raise NotImplementedError(
            "%s is abstract: a Metric subclass defines update_state()"
            % type(self).__name__)

    def result(self):
        """The metric's value from its state, a scalar tensor; a subclass
        defines it."""
        raise NotImplementedError(
            "%s is abstract: a Metric subclass defines result()"
            % type(self).__name__)

    def __call__(self, *args, **kwargs):
        """update_state(*args, **kwargs), then the result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        """The metric's constructor arguments, as a dict (from_config rebuilds
        it)."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        """A new metric from the dict get_config() returned."""
        return cls(**config)

    def __repr__(self):
        return "<%s name=%s>" % (type(self).__name__, self.name)

    __str__ = __repr__


def _reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """Keras' per-sample reduction: weights matched to the values' rank,
    the values reduced to the weights' rank and weighted, then both
    reduced to one value per sample."""
    values = _tensor(values, dtype)
    if sample_weight is not None:
        sample_weight = _tensor(sample_weight, dtype)
        values, sample_weight = _same_rank(values, sample_weight)
        weight_ndim = len(sample_weight.shape)
        values_ndim = len(values.shape)
        if values_ndim > weight_ndim:
            values = reduce_fn(values, list(range(weight_ndim, values_ndim)))
        sample_weight = C.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight,
                                      list(range(1, weight_ndim)))
    values_ndim = len(values.shape)
    if values_ndim > 1:
        values = reduce_fn(values, list(range(1, values_ndim)))
    return values, sample_weight


class Sum(Metric):
    """The running (weighted) sum of the values."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = _reduce_to_samplewise_values(
            values, sample_weight, C.reduce_sum, self._dtype)
        self.total.assign_add(C.reduce_sum(values))

    def reset_state(self):
        self.total.assign(C.zeros([], self._dtype))

    def result(self):
        return C.identity(self.total)


class Mean(Metric):
    """The (weighted) mean of the per-sample values: total / count, where
    count is the number of samples or the sum of their weights."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, values, sample_weight=None):
        values, sample_weight = _reduce_to_samplewise_values(
            values, sample_weight, C.reduce_mean, self._dtype)
        self.total.assign_add(C.reduce_sum(values))
        if sample_weight is not None:
            num_samples = C.reduce_sum(sample_weight)
        elif len(values.shape) >= 1:
            num_samples = C.constant(values.shape[0], dtype=self._dtype)
        else:
            num_samples = C.ones([], self._dtype)
        self.count.assign_add(C.cast(num_samples, self._dtype))

    def reset_state(self):
        self.total.assign(C.zeros([], self._dtype))
        self.count.assign(C.zeros([], self._dtype))

    def result(self):
        return _math.divide_no_nan(self.total, self.count)


class MeanMetricWrapper(Mean):
    """The Mean of fn(y_true, y_pred, **kwargs), a per-sample function."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        config = Metric.get_config(self)
        config.update(self._fn_kwargs)
        return config


# ---- per-sample functions (keras/src/metrics/accuracy_metrics.py) -----------
def accuracy(y_true, y_pred):
    """1.0 where y_true == y_pred, else 0.0 (float32)."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    y_true, y_pred = _same_rank(y_true, y_pred)
    return C.cast(C.equal(y_true, y_pred), C.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals y_true, else 0.0."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true)
    if not y_pred.dtype.is_floating:    # Keras compares them as float32
        y_pred = C.cast(y_pred, C.float32)
    threshold = _tensor(threshold, y_pred.dtype)
    y_true, y_pred = _same_rank(y_true, y_pred)
    y_pred = C.cast(C.greater(y_pred, threshold), y_true.dtype)
    return C.cast(C.equal(y_true, y_pred), C.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_true, -1) == argmax(y_pred, -1), else 0.0."""
    y_true = C.argmax(_tensor(y_true), axis=-1)
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    y_true_shape = y_true.shape
    reshape_matches = False
    if len(y_true.shape) == len(y_pred.shape):
        y_true = C.squeeze(y_true, -1)
        reshape_matches = True
    y_pred = C.argmax(y_pred, axis=-1)
    y_pred = C.cast(y_pred, y_true.dtype)
    matches = C.cast(C.equal(y_true, y_pred), C.float32)
    if reshape_matches:
        matches = C.reshape(matches, y_true_shape)
    return matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred, -1) == y_true (a trailing axis of 1
    squeezed), else 0.0."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    y_true_shape = y_true.shape
    reshape_matches = False
    if len(y_true.shape) == len(y_pred.shape) and len(y_true.shape) and \
            y_true.shape[-1] == 1:
        y_true = C.squeeze(y_true, -1)
        reshape_matches = True
    y_pred = C.cast(C.argmax(y_pred, axis=-1), y_true.dtype)
    matches = C.cast(C.equal(y_true, y_pred), C.float32)
    if reshape_matches:
        matches = C.reshape(matches, y_true_shape)
    if len(matches.shape) > 1 and matches.shape[-1] == 1:
        matches = C.squeeze(matches, -1)
    return matches


# ---- the metric classes -----------------------------------------------------
class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) equals the binary label."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype,
                         threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the largest prediction is at the one-hot label's 1."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the largest prediction is at the integer label."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    """The mean of mean_squared_error's per-sample values."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of mean_absolute_error's per-sample values."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


# ---- lookup by name (keras.metrics.get) -------------------------------------
ALL_OBJECTS = [Metric, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy,
               CategoricalAccuracy, SparseCategoricalAccuracy,
               MeanSquaredError, MeanAbsoluteError]
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({_losses._to_snake_case(cls.__name__): cls
                         for cls in ALL_OBJECTS})
ALL_OBJECTS_DICT.update({
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
})


def serialize(metric):
    """A Metric's {"class_name", "config"}, or a function's name."""
    if isinstance(metric, Metric):
        return {"class_name": type(metric).__name__,
                "config": metric.get_config()}
    return getattr(metric, "__name__", metric)


def deserialize(config, custom_objects=None):
    """A metric from its name or its {"class_name", "config"} dict (the
    inverse of serialize); `custom_objects` adds classes by name."""
    objects = dict(ALL_OBJECTS_DICT)
    objects.update(custom_objects or {})
    return _losses._deserialize(config, objects, "metric")


def get(identifier):
    """The metric for a name ('accuracy', 'sparse_categorical_accuracy',
    'mse', 'MeanSquaredError': a new instance), a config dict, a Metric or
    a callable; None for None.  ('accuracy' is Accuracy here: choosing
    the accuracy that fits the loss is compile's business.)"""
    return _losses._get(identifier, ALL_OBJECTS_DICT, "metric", deserialize)
