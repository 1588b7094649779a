"""Keras 3 losses (keras.losses), as classes and as functions, composed
of recorded tapegrad ops: gradients, second order and forward mode come
from the op table's rows.

Function forms give per-sample losses (the mean over the last axis where
Keras takes it); a Loss instance converts both arguments to its dtype,
computes them, weights them by `sample_weight` and reduces them
(`reduction`, "sum_over_batch_size" by default), as keras/src/losses/
loss.py does.  From logits the crossentropies use TF's fused rows
(sigmoid_/softmax_/sparse_softmax_cross_entropy_with_logits); from
probabilities they clip to [1e-7, 1 - 1e-7] (Keras' epsilon) first.
"""
import operator as _operator
import re as _re
import warnings as _warnings

from .. import _tapegrad as C
from .. import dtypes as _dtypes
from .. import math as _math
from .. import nn as _nn

__all__ = [
    "Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber",
    "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "mean_squared_error", "mse", "MSE", "mean_absolute_error", "mae", "MAE",
    "huber", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "get", "deserialize", "serialize",
]

EPSILON = 1e-7          # keras.config.epsilon()

_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean",
               "mean_with_sample_weight")


# ---- shared pieces (keras/src/losses/loss.py) -------------------------------
_name_uids = {}


def _to_snake_case(name):
    name = _re.sub(r"\W+", "", name)
    name = _re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return _re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _auto_name(class_name):
    """Keras' auto_name: the class's snake_case name, _1, _2... after the
    first (for instances made with name=None)."""
    base = _to_snake_case(class_name)
    n = _name_uids.get(base, 0)
    _name_uids[base] = n + 1
    return base if n == 0 else "%s_%d" % (base, n)


def _standardize_dtype(dtype):
    """A Loss's or Metric's compute dtype: floatx (float32) by default,
    a name or a DType; "mixed_float16" computes in float16."""
    if dtype is None:
        return C.float32
    if isinstance(dtype, str) and dtype == "mixed_float16":
        return C.float16
    return _dtypes.as_dtype(dtype)


def _tensor(x, dtype=None):
    """x as a tensor (a Variable is kept: ops read it), cast to `dtype`
    when one is given, as Keras' convert_to_tensor(x, dtype) does."""
    if isinstance(x, (C.Tensor, C.Variable)):
        if dtype is not None and x.dtype != dtype:
            return C.cast(x, dtype)
        return x
    if dtype is None:
        return C.convert_to_tensor(x)
    return C.convert_to_tensor(x, dtype=dtype)


def _prediction(y_pred):
    """The function forms' y_pred: a tensor, computed in float32 when it
    holds integers (the dtype Keras' mean gives them)."""
    y_pred = _tensor(y_pred)
    if not y_pred.dtype.is_floating:
        y_pred = C.cast(y_pred, C.float32)
    return y_pred


def _canonicalize_axis(axis, num_dims):
    axis = _operator.index(axis)
    if not -num_dims <= axis < num_dims:
        raise ValueError("axis %d is out of bounds for an array with "
                         "dimension %d." % (axis, num_dims))
    return axis + num_dims if axis < 0 else axis


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras' rank matching: when the ranks differ by one and the longer
    one ends in 1, squeeze that axis (or, for a rank-1 partner, expand
    the partner instead)."""
    x1, x2 = _tensor(x1), _tensor(x2)
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = C.expand_dims(x2, -1)
        else:
            x1 = C.squeeze(x1, -1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = C.expand_dims(x1, -1)
        else:
            x2 = C.squeeze(x2, -1)
    return x1, x2


def standardize_reduction(reduction):
    if not (reduction is None or (isinstance(reduction, str)
                                  and reduction in _REDUCTIONS)):
        raise ValueError(
            "Invalid value for argument `reduction`. Expected one of %s. "
            "Received: reduction=%s" % ("{%s}" % ", ".join(
                repr(r) for r in _REDUCTIONS), reduction))
    return reduction


def _apply_mask(sample_weight, mask, dtype, reduction):
    """Folds a loss's mask (ignore_class) into the sample weights; for the
    mean reductions, valid entries weigh total/valid, so the mean is over
    the valid ones."""
    if mask is None:
        return sample_weight
    mask = C.cast(mask, dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        total = C.constant(float(mask.shape.num_elements()), dtype=dtype)
        mask = mask * _math.divide_no_nan(total, C.reduce_sum(mask))
    if sample_weight is None:
        return mask
    sample_weight = _tensor(sample_weight, dtype)
    mask, sample_weight = squeeze_or_expand_to_same_rank(mask, sample_weight)
    return sample_weight * mask


def reduce_values(values, sample_weight=None,
                  reduction="sum_over_batch_size"):
    if (reduction is None or reduction == "none"
            or tuple(values.shape) in ((), (0,))):
        return values
    loss = C.reduce_sum(values)
    if reduction in ("sum_over_batch_size", "mean",
                     "mean_with_sample_weight"):
        if reduction == "mean_with_sample_weight" and \
                sample_weight is not None:
            divisor = C.cast(C.reduce_sum(sample_weight), loss.dtype)
            loss = _math.divide_no_nan(loss, divisor)
        else:
            n = values.shape.num_elements()
            if n > 0:
                loss = loss / n
            else:
                loss = _math.divide_no_nan(loss, C.zeros([], loss.dtype))
    return loss


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction="sum_over_batch_size", dtype=None):
    reduction = standardize_reduction(reduction)
    values = _tensor(values, dtype)
    if sample_weight is not None:
        sample_weight = _tensor(sample_weight, values.dtype)
    sample_weight = _apply_mask(sample_weight, mask, values.dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(
            values, sample_weight)
        values = values * sample_weight
    return reduce_values(values, sample_weight, reduction)


# ---- the base classes -------------------------------------------------------
class Loss:
    """The base of the losses: a subclass defines call(y_true, y_pred),
    the per-sample losses; calling the instance converts, weights and
    reduces them."""

    def __init__(self, name=None, reduction="sum_over_batch_size",
                 dtype=None):
        self.name = name or _auto_name(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = _standardize_dtype(dtype)

    @property
    def dtype(self):
        """The compute dtype's name ('float32'), as Keras 3 gives it."""
        return self._dtype.name

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = _tensor(y_pred, self._dtype)
        y_true = _tensor(y_true, self._dtype)
        losses, mask = self._call_with_mask(y_true, y_pred)
        return reduce_weighted_values(losses, sample_weight=sample_weight,
                                      mask=mask, reduction=self.reduction,
                                      dtype=self._dtype)

    def _call_with_mask(self, y_true, y_pred):
        return self.call(y_true, y_pred), None

    def call(self, y_true, y_pred):
        """The per-example loss of `y_pred` against `y_true`, before reduction
        and sample weights; a subclass defines it."""
        raise NotImplementedError(
            "%s is abstract: a Loss subclass defines call(y_true, y_pred)"
            % type(self).__name__)

    def get_config(self):
        """The loss's constructor arguments, as a dict (from_config rebuilds
        it)."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        """A new loss from the dict get_config() returned."""
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A Loss whose call() is a loss function, after Keras' rank
    matching of its arguments."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None,
                 dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = Loss.get_config(self)
        config.update(self._fn_kwargs)
        return config

    def __repr__(self):
        return "<LossFunctionWrapper(%r, kwargs=%r)>" % (self.fn,
                                                         self._fn_kwargs)


# ---- the functions ----------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    """mean(square(y_true - y_pred), axis=-1)."""
    y_pred = _prediction(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return C.reduce_mean(C.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(abs(y_true - y_pred), axis=-1)."""
    y_pred = _prediction(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return C.reduce_mean(C.abs(y_true - y_pred), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


def huber(y_true, y_pred, delta=1.0):
    """mean over the last axis of 0.5 x^2 where |x| <= delta, else
    delta |x| - 0.5 delta^2, with x = y_pred - y_true."""
    y_pred = _prediction(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    delta = _tensor(delta, y_pred.dtype)
    error = y_pred - y_true
    abs_error = C.abs(error)
    half = C.constant(0.5, dtype=y_pred.dtype)
    return C.reduce_mean(
        C.where(abs_error <= delta, half * C.square(error),
                delta * abs_error - half * C.square(delta)), axis=-1)


def _check_same_shape(target, output):
    if len(target.shape) != len(output.shape):
        raise ValueError(
            "Arguments `target` and `output` must have the same rank "
            "(ndim). Received: target.shape=%s, output.shape=%s"
            % (target.shape, output.shape))
    if tuple(target.shape) != tuple(output.shape):
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. "
            "Received: target.shape=%s, output.shape=%s"
            % (target.shape, output.shape))


def binary_crossentropy(y_true, y_pred, from_logits=False,
                        label_smoothing=0.0, axis=-1):
    """mean over `axis` of -(z log p + (1 - z) log(1 - p)); from logits
    TF's stable max(x, 0) - x z + log(1 + exp(-|x|)).  label_smoothing
    moves the labels toward 0.5."""
    y_pred = _prediction(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    _check_same_shape(y_true, y_pred)
    if from_logits:
        bce = _nn.sigmoid_cross_entropy_with_logits(labels=y_true,
                                                    logits=y_pred)
    else:
        p = C.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON)
        bce = -(y_true * _math.log(p) + (1 - y_true) * _math.log(1 - p))
    return C.reduce_mean(bce, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False,
                             label_smoothing=0.0, axis=-1):
    """-sum(y_true * log(p), axis): p is y_pred normalized to sum 1 along
    `axis`, then clipped to [1e-7, 1 - 1e-7]; from logits, TF's
    softmax_cross_entropy_with_logits.  label_smoothing mixes the labels
    with the uniform distribution."""
    if isinstance(axis, bool):
        raise ValueError("`axis` must be of type `int`. Received: axis=%s "
                         "of type %s" % (axis, type(axis)))
    y_pred = _prediction(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    axis = _canonicalize_axis(axis, len(y_pred.shape))
    if y_pred.shape[axis] == 1:
        _warnings.warn(
            "In loss categorical_crossentropy, expected y_pred.shape to be "
            "(batch_size, num_classes) with num_classes > 1. Received: "
            "y_pred.shape=%s. Consider using 'binary_crossentropy' if you "
            "only have 2 classes." % (y_pred.shape,), SyntaxWarning,
            stacklevel=2)
    if label_smoothing and y_pred.shape[axis]:
        # (no classes: nothing to smooth; Keras' tensor division by 0
        # gives inf over an empty axis)
        num_classes = float(y_pred.shape[axis])
        y_true = (y_true * (1.0 - label_smoothing)
                  + label_smoothing / num_classes)
    if len(y_true.shape) < 1:
        raise ValueError(
            "Arguments `target` and `output` must be at least rank 1. "
            "Received: target.shape=%s, output.shape=%s"
            % (y_true.shape, y_pred.shape))
    _check_same_shape(y_true, y_pred)
    if from_logits:
        return _nn.softmax_cross_entropy_with_logits(
            labels=y_true, logits=y_pred, axis=axis)
    p = y_pred / C.reduce_sum(y_pred, axis, keepdims=True)
    p = C.clip_by_value(p, EPSILON, 1.0 - EPSILON)
    return -C.reduce_sum(y_true * _math.log(p), axis)


def _sparse_categorical_crossentropy(y_true, y_pred, from_logits=False,
                                     ignore_class=None, axis=-1):
    """(per-sample losses, the mask of valid labels or None)."""
    y_pred = _prediction(y_pred)
    y_true = _tensor(y_true)
    if len(y_true.shape) == len(y_pred.shape) and len(y_true.shape) and \
            y_true.shape[_canonicalize_axis(axis, len(y_true.shape))] == 1:
        y_true = C.squeeze(y_true, axis)
    valid = None
    if ignore_class is not None:
        class_axis = _canonicalize_axis(axis, len(y_pred.shape))
        res_shape = [d for i, d in enumerate(y_pred.shape) if i != class_axis]
        valid = C.not_equal(y_true, C.cast(_tensor(ignore_class),
                                           y_true.dtype))
        y_true = C.where(valid, y_true, C.zeros_like(y_true))
        y_pred = C.where(C.expand_dims(valid, axis), y_pred,
                         C.zeros_like(y_pred))
    if axis != -1 and axis != len(y_pred.shape) - 1:
        raise ValueError("Only axis=-1 is currently supported. Received: "
                         "axis=%s" % (axis,))
    target = C.cast(y_true, C.int64)
    if len(target.shape) == len(y_pred.shape) and target.shape[-1] == 1:
        target = C.squeeze(target, -1)
    if len(y_pred.shape) < 1:
        raise ValueError("Argument `output` must be at least rank 1. "
                         "Received: output.shape=%s" % (y_pred.shape,))
    if len(target.shape) != len(y_pred.shape) - 1:
        raise ValueError(
            "Argument `output` must have rank (ndim) `target.ndim - 1`. "
            "Received: target.shape=%s, output.shape=%s"
            % (target.shape, y_pred.shape))
    if tuple(target.shape) != tuple(y_pred.shape)[:-1]:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape up "
            "until the last dimension: target.shape=%s, output.shape=%s"
            % (target.shape, y_pred.shape))
    logits = y_pred
    if not from_logits:
        logits = _math.log(C.clip_by_value(y_pred, EPSILON, 1 - EPSILON))
    res = _nn.sparse_softmax_cross_entropy_with_logits(labels=target,
                                                       logits=logits)
    if valid is not None:
        valid = C.reshape(valid, res_shape)
        res = C.where(valid, res, C.zeros_like(res))
    return res, valid


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False,
                                    ignore_class=None, axis=-1):
    """-log p[label] for integer labels (a trailing axis of 1 squeezed):
    from logits TF's sparse_softmax_cross_entropy_with_logits, from
    probabilities the same row over log(clip(p, 1e-7, 1 - 1e-7)).  With
    ignore_class, the losses of that label are 0 (and a Loss instance
    leaves them out of its mean)."""
    return _sparse_categorical_crossentropy(
        y_true, y_pred, from_logits, ignore_class, axis)[0]


# ---- the classes ------------------------------------------------------------
class MeanSquaredError(LossFunctionWrapper):
    """mean(square(y_true - y_pred)) over the last axis, then reduced."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction,
                         dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """mean(abs(y_true - y_pred)) over the last axis, then reduced."""

    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name,
                         reduction=reduction, dtype=dtype)


class Huber(LossFunctionWrapper):
    """Quadratic within `delta` of the target, linear beyond it."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size",
                 name="huber_loss", dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype,
                         delta=delta)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary crossentropy of labels in [0, 1] and probabilities (or
    logits, from_logits=True)."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy",
                 dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy of one-hot (or soft) labels and probabilities (or
    logits, from_logits=True) along `axis`."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, name=name,
                         reduction=reduction, dtype=dtype,
                         from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy of integer labels and probabilities (or logits,
    from_logits=True); labels equal to `ignore_class` count neither in
    the sum nor in the mean."""

    def __init__(self, from_logits=False, ignore_class=None,
                 reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name,
                         reduction=reduction, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)

    def _call_with_mask(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return _sparse_categorical_crossentropy(y_true, y_pred,
                                                **self._fn_kwargs)


# ---- lookup by name (keras.losses.get) --------------------------------------
ALL_OBJECTS = [
    Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, Huber,
    BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, mean_squared_error, mean_absolute_error,
    huber, binary_crossentropy, categorical_crossentropy,
    sparse_categorical_crossentropy,
]
ALL_OBJECTS_DICT = {obj.__name__: obj for obj in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mse": mean_squared_error, "MSE": mean_squared_error,
})


def _deserialize(config, objects, kind):
    """A name, or {"class_name": ..., "config": {...}}, to its object."""
    if isinstance(config, str):
        name, cfg = config, None
    elif isinstance(config, dict) and isinstance(config.get("class_name"),
                                                 str):
        name, cfg = config["class_name"], config.get("config")
    else:
        raise ValueError("Could not interpret %s identifier: %s"
                         % (kind, config))
    obj = objects.get(name)
    if obj is None:
        raise TypeError(
            "Could not locate class '%s'. Make sure custom classes and "
            "functions are decorated with "
            "`@keras.saving.register_keras_serializable()`. If they are "
            "already decorated, make sure they are all imported so that the "
            "decorator is run before trying to load them. Full object "
            "config: %s" % (name, config))
    if isinstance(obj, type) and cfg is not None:
        if not isinstance(cfg, dict):
            raise TypeError("the config of %s must be a dict, got %r"
                            % (name, cfg))
        return obj.from_config(cfg)
    return obj


def serialize(loss):
    """A Loss's {"class_name", "config"}, or a loss function's name."""
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__,
                "config": loss.get_config()}
    return getattr(loss, "__name__", loss)


def deserialize(name, custom_objects=None):
    """A loss from its name or its {"class_name", "config"} dict (the
    inverse of serialize); `custom_objects` adds classes by name."""
    objects = dict(ALL_OBJECTS_DICT)
    objects.update(custom_objects or {})
    return _deserialize(name, objects, "loss")


def _get(identifier, objects, kind, deserialize_fn):
    """keras.losses.get / keras.metrics.get: a name (from `objects`; a
    class becomes an instance), a config dict, or the object itself if
    callable; None for None."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize_fn(identifier)
    elif isinstance(identifier, str):
        obj = objects.get(identifier, None)
    else:
        obj = identifier
    if callable(obj):
        return obj() if isinstance(obj, type) else obj
    raise ValueError("Could not interpret %s identifier: %s"
                     % (kind, identifier))


def get(identifier):
    """The loss for a name ('mse', 'categorical_crossentropy' give the
    functions, 'MeanSquaredError' an instance), a config dict, a Loss or
    a callable; None for None."""
    return _get(identifier, ALL_OBJECTS_DICT, "loss", deserialize)
