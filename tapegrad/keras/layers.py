"""Keras layers on tapegrad, as Keras 3 computes them
(keras_semantics.md): Dense, BatchNormalization, LayerNormalization,
Dropout, Embedding, Flatten, Activation, ReLU and Softmax.  A layer builds
its variables on its first call, from the input's shape; layers are
tapegrad Modules, so a Module holding one finds them.  Every layer
computes with tapegrad ops, so gradients, higher orders and forward mode
come from the op table."""
import inspect as _inspect
import math as _pymath
import numbers as _numbers
import operator as _operator
import threading as _threading
import warnings as _warnings

from .. import _tapegrad as C
from .. import math as _math
from .. import nn as _nn
from .. import random as _random
from .._module import Module, _camel_to_snake
from ..dtypes import as_dtype as _as_dtype
from . import activations as _activations
from . import initializers as _initializers

__all__ = ["Layer", "Dense", "BatchNormalization", "LayerNormalization",
           "Dropout", "Embedding", "Flatten", "Activation", "ReLU",
           "Softmax"]

_name_counts = {}

# The `training` flag of the layer calls in progress on this thread:
# Keras' call context, so a layer called inside another one's call without
# `training=` inherits it.
_context = _threading.local()


def _unique_name(base):
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else "%s_%d" % (base, n)


def _training_slot(cls):
    """How `cls.call` takes `training`: (takes it, its index among the
    positional arguments after `inputs` or None, its default), read from
    the signature once per class and kept on the class."""
    slot = cls.__dict__.get("_tg_training_slot")
    if slot is None:
        slot = (False, None, None)
        try:
            params = _inspect.signature(cls.call).parameters
        except (TypeError, ValueError):
            params = {}
        p = params.get("training")
        if p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                        p.KEYWORD_ONLY):
            pos = None
            if p.kind is p.POSITIONAL_OR_KEYWORD:
                pos = list(params).index("training") - 2   # self, inputs
            slot = (True, pos if pos is not None and pos >= 0 else None,
                    None if p.default is p.empty else p.default)
        setattr(cls, "_tg_training_slot", slot)
    return slot


def _incompatible(layer, what, shape):
    return ValueError('Input 0 of layer "%s" is incompatible with the layer: '
                      "%s%s" % (layer.name, what, shape))


def _shape_tuple(layer, shape):
    """An input shape (TensorShape, tuple, list) as a tuple of ints and
    Nones; anything else is a TypeError naming the layer."""
    try:
        dims = tuple(shape)
        return tuple(None if d is None else _operator.index(d) for d in dims)
    except TypeError:
        raise TypeError('Layer "%s" expects a shape: a tuple of ints (or '
                        "None), received %r" % (layer.name, shape)) from None


def _refuse(layer, **options):
    """Regularizers and constraints: tapegrad's layers have none."""
    for key, value in options.items():
        if value is not None:
            raise NotImplementedError(
                "%s: tapegrad's layers take no regularizers or constraints; "
                "add the penalty to the loss (or assign the constrained "
                "value after the step). Received: %s=%r"
                % (type(layer).__name__, key, value))


class Layer(Module):
    """The base of the layers: build on first call, then call.

    `layer(x, training=...)` hands `training` to `call` when its signature
    has that argument and drops it otherwise, as Keras does; without one,
    the enclosing layer call's value is used, then `call`'s default."""

    _autocast = True    # floating inputs are cast to the layer's dtype

    def __init__(self, name=None, trainable=True, dtype=None):
        super().__init__(name=name or _unique_name(
            _camel_to_snake(type(self).__name__)))
        self.built = False
        self.trainable = trainable
        self._dtype = C.float32 if dtype is None else _as_dtype(dtype)
        self._own_weights = []       # in creation order, as Keras lists them

    def build(self, input_shape):
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(
            "%s has no call(): a Layer subclass defines call(inputs)"
            % type(self).__name__)

    def _convert_input(self, inputs):
        if not isinstance(inputs, (C.Tensor, C.Variable)):
            return C.convert_to_tensor(inputs, dtype=self._dtype)
        if (self._autocast and inputs.dtype != self._dtype
                and inputs.dtype.is_floating and self._dtype.is_floating):
            return C.cast(inputs, self._dtype)
        return inputs

    def __call__(self, inputs, *args, **kwargs):
        takes, pos, default = _training_slot(type(self))
        positional = takes and pos is not None and len(args) > pos
        if "training" in kwargs:
            if positional:
                raise TypeError("%s.call() got multiple values for argument "
                                "'training'" % type(self).__name__)
            training = kwargs.pop("training")
        else:
            training = args[pos] if positional else None
        if training is None:
            training = getattr(_context, "training", None)
            if training is None and takes:
                training = default
        if positional:
            args = args[:pos] + (training,) + args[pos + 1:]
        elif takes and training is not None:
            kwargs["training"] = training
        inputs = self._convert_input(inputs)
        if not self.built:
            self.build(inputs.shape)
            self.built = True
        outer = getattr(_context, "training", None)
        _context.training = training
        try:
            return self.call(inputs, *args, **kwargs)
        finally:
            _context.training = outer

    def _require_built(self):
        if not self.built:
            raise ValueError(
                "Layer %r has not been built: call the layer itself "
                "(layer(inputs)), which builds it, not its call()" % self.name)

    def add_weight(self, name, shape, initializer, trainable=True):
        init = _initializers.get(initializer)
        value = init(shape, dtype=self._dtype)
        v = C.Variable(value, name=name, trainable=trainable and
                       self.trainable)
        C._set_variable_name(v, name)   # Keras 3: 'kernel', not 'kernel:0'
        self._own_weights.append(v)
        return v

    def compute_output_shape(self, input_shape):
        raise NotImplementedError(
            "Method `compute_output_shape()` of layer %s is not implemented."
            % type(self).__name__)

    def get_config(self):
        """The constructor's arguments (initializers and activations as
        they were given, names or objects)."""
        return {"name": self.name, "trainable": self.trainable,
                "dtype": self._dtype.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @property
    def variables(self):
        """This layer's weights in the order it created them (Keras'
        order: kernel, bias), then those of the layers and modules it
        holds."""
        out = list(self._own_weights)
        seen = {id(v) for v in out}
        for v in Module.variables.fget(self):
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return tuple(out)

    @property
    def weights(self):
        return list(self.variables)

    @property
    def trainable_weights(self):
        return list(self.trainable_variables)

    @property
    def non_trainable_weights(self):
        return list(self.non_trainable_variables)

    def get_weights(self):
        return [v.numpy() for v in self.variables]

    def set_weights(self, weights):
        for v, w in zip(self.variables, weights):
            v.assign(w)


class Dense(Layer):
    """activation(inputs @ kernel + bias); the kernel has shape
    (input's last dimension, units)."""

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                "Received an invalid value for `units`, expected a positive "
                "integer. Received: units=%r" % (units,))
        _refuse(self, kernel_regularizer=kernel_regularizer,
                bias_regularizer=bias_regularizer,
                activity_regularizer=activity_regularizer,
                kernel_constraint=kernel_constraint,
                bias_constraint=bias_constraint)
        self.units = units
        self.activation = _activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self._config = {"units": units,
                        "activation": _activations.serialize(self.activation),
                        "use_bias": use_bias,
                        "kernel_initializer": kernel_initializer,
                        "bias_initializer": bias_initializer}
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        last = input_shape[-1]
        self.kernel = self.add_weight("kernel", [last, self.units],
                                      self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", [self.units],
                                        self.bias_initializer)
        self.built = True

    def call(self, inputs):
        self._require_built()
        if inputs.shape[-1] != self.kernel.shape[0]:
            raise _incompatible(
                self, "expected axis -1 of input shape to have value %d, but "
                "received input with shape " % self.kernel.shape[0],
                inputs.shape)
        if len(inputs.shape) == 2:
            y = C.matmul(inputs, self.kernel)
        else:
            y = C.tensordot(inputs, self.kernel, 1)
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return _shape_tuple(self, input_shape)[:-1] + (self.units,)

    def get_config(self):
        return {**super().get_config(), **self._config}


class BatchNormalization(Layer):
    """Normalizes over every axis but `axis`: with the batch's statistics
    when training (and moves the moving ones toward them by `momentum`),
    with the moving statistics otherwise."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True,
                 scale=True, beta_initializer="zeros",
                 gamma_initializer="ones",
                 moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self._inits = (beta_initializer, gamma_initializer,
                       moving_mean_initializer, moving_variance_initializer)
        self.gamma = self.beta = None
        self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        rank = len(input_shape)
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 0 <= axis < rank:
            raise ValueError("Invalid axis: %r for input of rank %d"
                             % (self.axis, rank))
        self._axis = axis
        self._rank = rank
        dim = [input_shape[axis]]
        beta, gamma, mmean, mvar = self._inits
        if self.scale:
            self.gamma = self.add_weight("gamma", dim, gamma)
        if self.center:
            self.beta = self.add_weight("beta", dim, beta)
        self.moving_mean = self.add_weight("moving_mean", dim, mmean,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", dim, mvar,
                                               trainable=False)
        self.built = True

    def call(self, inputs, training=None):
        self._require_built()
        rank = len(inputs.shape)
        if rank != self._rank:
            raise _incompatible(
                self, "expected ndim=%d, found ndim=%d. Full shape received: "
                % (self._rank, rank), inputs.shape)
        dim = self.moving_mean.shape[0]
        if inputs.shape[self._axis] != dim:
            raise _incompatible(
                self, "expected axis %d of input shape to have value %d, but "
                "received input with shape " % (self.axis, dim), inputs.shape)
        reduce = [a for a in range(rank) if a != self._axis]
        shape = [1] * rank
        shape[self._axis] = inputs.shape[self._axis]
        if training:
            mean, var = _nn.moments(inputs, reduce)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1 - m))
            self.moving_variance.assign(self.moving_variance * m +
                                        var * (1 - m))
        else:
            mean, var = self.moving_mean, self.moving_variance
        mean = C.reshape(mean, shape)
        var = C.reshape(var, shape)
        y = (inputs - mean) * _math.rsqrt(var + self.epsilon)
        if self.scale:
            y = y * C.reshape(self.gamma, shape)
        if self.center:
            y = y + C.reshape(self.beta, shape)
        return y

    def compute_output_shape(self, input_shape):
        return _shape_tuple(self, input_shape)

    def get_config(self):
        beta, gamma, mmean, mvar = self._inits
        return {**super().get_config(), "axis": self.axis,
                "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": beta, "gamma_initializer": gamma,
                "moving_mean_initializer": mmean,
                "moving_variance_initializer": mvar}


class LayerNormalization(Layer):
    """Normalizes each sample over `axis` (an int or a list) with its own
    mean and biased variance: (x - mean) * rsqrt(var + epsilon) * gamma +
    beta, gamma and beta of the normalized axes' shape (Keras' algebra:
    x * inv + (beta - mean * inv), inv = rsqrt(var + epsilon) * gamma).
    `rms_scaling=True`: x * rsqrt(var + epsilon) * gamma, no beta."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 rms_scaling=False, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        _refuse(self, beta_regularizer=beta_regularizer,
                gamma_regularizer=gamma_regularizer,
                beta_constraint=beta_constraint,
                gamma_constraint=gamma_constraint)
        try:
            if isinstance(axis, bool):
                raise TypeError
            if isinstance(axis, (list, tuple)):
                axis = [_operator.index(a) for a in axis]
                if any(isinstance(a, bool) for a in axis):
                    raise TypeError
            else:
                axis = _operator.index(axis)
        except TypeError:
            raise TypeError(
                "Expected an int or a list/tuple of ints for the argument "
                "'axis', but received: %r" % (axis,)) from None
        self.axis = axis
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        self._inits = (beta_initializer, gamma_initializer)
        self.gamma = self.beta = None

    def _axes(self, shape):
        """The normalized axes for an input of `shape`, in `axis`' order,
        as non-negative indices."""
        rank = len(shape)
        out = []
        for a in (self.axis if isinstance(self.axis, list) else [self.axis]):
            if a >= rank or a < -rank:
                raise ValueError(
                    'Axis %d is out of bounds for input shape %s of layer '
                    '"%s". Ensure axis is within the range of input '
                    "dimensions." % (a, tuple(shape), self.name))
            a %= rank
            if a in out:
                raise ValueError('Layer "%s": duplicate axis %d in axis=%r'
                                 % (self.name, a, self.axis))
            out.append(a)
        return out

    def build(self, input_shape):
        shape = _shape_tuple(self, input_shape)
        dims = tuple(shape[a] for a in self._axes(shape))
        if None in dims:
            raise ValueError(
                'Layer "%s" needs the normalized axes of its input to be '
                "known; received input shape %s" % (self.name, shape))
        self._dims = dims
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight("gamma", dims,
                                         self.gamma_initializer)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight("beta", dims, self.beta_initializer)
        self.built = True

    def call(self, inputs):
        self._require_built()
        shape = inputs.shape
        axes = self._axes(shape)
        for a, want in zip(axes, self._dims):
            if shape[a] != want:
                raise _incompatible(
                    self, "expected axis %d of input shape to have value %d, "
                    "but received input with shape " % (a, want), shape)
        # gamma and beta, in `axis`' order, reshaped (as Keras does) to
        # broadcast against the input
        bshape = [1] * len(shape)
        for a in axes:
            bshape[a] = shape[a]
        mean, var = _nn.moments(inputs, axes, keepdims=True)
        inv = _math.rsqrt(var + self.epsilon)
        if self.rms_scaling:
            return inputs * inv * C.reshape(self.gamma, bshape)
        if self.gamma is not None:
            inv = inv * C.reshape(self.gamma, bshape)
        res = -mean * inv
        if self.beta is not None:
            res = res + C.reshape(self.beta, bshape)
        return inputs * inv + res

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)):
            raise TypeError("Invalid input shape type: expected tuple or "
                            "list. Received: %s" % type(input_shape))
        self._axes(input_shape)
        return tuple(input_shape)

    def get_config(self):
        beta, gamma = self._inits
        return {**super().get_config(), "axis": self.axis,
                "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": beta, "gamma_initializer": gamma}


_M64 = (1 << 64) - 1


def _mix64(z):
    """splitmix64's finalizer: a well-spread 64-bit value."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _noise_shape_arg(noise_shape):
    """Keras' checks of Dropout's `noise_shape`: a tuple of positive ints
    or Nones."""
    if noise_shape is None:
        return None
    if isinstance(noise_shape, str):
        raise ValueError(
            "Invalid value received for argument `noise_shape`. Expected a "
            "tuple or list of integers. Received: noise_shape=%s"
            % (noise_shape,))
    try:
        noise_shape = tuple(noise_shape)
    except TypeError:
        raise ValueError(
            "Invalid value received for argument `noise_shape`. Expected an "
            "iterable of integers (e.g., a tuple or list). Received: "
            "noise_shape=%s" % (noise_shape,)) from None
    out = []
    for i, dim in enumerate(noise_shape):
        if dim is not None:
            try:
                if isinstance(dim, bool):
                    raise TypeError
                dim = _operator.index(dim)
            except TypeError:
                raise ValueError(
                    "Invalid value received for argument `noise_shape`. "
                    "Expected all elements to be integers or None. Received "
                    "element at index %d: %s (type: %s)"
                    % (i, dim, type(dim).__name__)) from None
            if dim <= 0:
                raise ValueError(
                    "Invalid value received for argument `noise_shape`. "
                    "Expected all dimensions to be positive integers or "
                    "None. Received negative or zero value at index %d: %d"
                    % (i, dim))
        out.append(dim)
    return tuple(out)


class Dropout(Layer):
    """In training, keeps each unit with probability 1 - rate and scales
    the kept ones by 1 / (1 - rate) (tf.nn.dropout); the identity
    otherwise.  Each training call draws a new mask: the layer's seed (or,
    without one, a seed drawn from tapegrad.random when the layer is made,
    so tf.random.set_seed makes it repeatable) and a call counter key
    tf.nn.dropout, as Keras' SeedGenerator advances."""

    def __init__(self, rate, noise_shape=None, seed=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if (not isinstance(rate, _numbers.Real) or isinstance(rate, bool)
                or not 0 <= rate <= 1):
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a "
                "float value between 0 and 1. Received: rate=%s" % (rate,))
        self.rate = rate
        self.noise_shape = _noise_shape_arg(noise_shape)
        if seed is None:
            self._seed = int(_random._rng(None).integers(0, 1 << 63))
        else:
            self._seed = _random._seed(seed, "Dropout")
        self.seed = seed
        self._calls = 0
        self.built = True

    def _concrete_noise_shape(self, shape):
        if self.noise_shape is None:
            return None
        ns = self.noise_shape
        out = [shape[i] if i < len(shape) and d is None else d
               for i, d in enumerate(ns)]
        if len(ns) != len(shape) or any(
                d != s and d != 1 for d, s in zip(out, shape)):
            raise _incompatible(
                self, "noise_shape=%s does not broadcast to the input shape "
                % (ns,), shape)
        return out

    def call(self, inputs, training=False):
        inputs = self._convert_input(inputs)
        if not training or self.rate == 0:
            return inputs
        ns = self._concrete_noise_shape(inputs.shape)
        if self.rate == 1:     # everything dropped (tf.nn.dropout refuses 1)
            return inputs * C.zeros_like(inputs)
        key = _mix64((self._seed * 0x9E3779B97F4A7C15 + self._calls) & _M64)
        self._calls += 1
        return _nn.dropout(inputs, rate=self.rate, noise_shape=ns,
                           seed=key >> 1)

    def compute_output_shape(self, input_shape):
        return _shape_tuple(self, input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class Embedding(Layer):
    """Rows of the (input_dim, output_dim) weight `embeddings` for integer
    indices (tf.gather, so the gradient scatter-adds rows).  Non-integer
    indices are cast to int32, as Keras does."""

    _autocast = False

    def __init__(self, input_dim, output_dim,
                 embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None,
                 mask_zero=False, weights=None, name=None, **kwargs):
        input_length = kwargs.pop("input_length", None)
        if input_length is not None:
            _warnings.warn("Argument `input_length` is deprecated. Just "
                           "remove it.", stacklevel=2)
        super().__init__(name=name, **kwargs)
        for arg, value in (("input_dim", input_dim),
                           ("output_dim", output_dim)):
            if (not isinstance(value, int) or isinstance(value, bool)
                    or value <= 0):
                raise ValueError(
                    "`%s` must be a positive integer. Received: %s=%s (of "
                    "type %s)." % (arg, arg, value, type(value).__name__))
        _refuse(self, embeddings_regularizer=embeddings_regularizer,
                embeddings_constraint=embeddings_constraint)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = _initializers.get(
            embeddings_initializer)
        self._init_arg = embeddings_initializer
        self.mask_zero = mask_zero
        self.embeddings = None
        if weights is not None:
            self.build()
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def _convert_input(self, inputs):
        if not isinstance(inputs, (C.Tensor, C.Variable)):
            return C.convert_to_tensor(inputs)
        return inputs

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(
            "embeddings", [self.input_dim, self.output_dim],
            self.embeddings_initializer)
        self.built = True

    def call(self, inputs):
        self._require_built()
        if inputs.dtype not in (C.int32, C.int64):
            inputs = C.cast(inputs, C.int32)
        try:
            return C.gather(self.embeddings, inputs)
        except C.InvalidArgumentError as e:
            raise C.InvalidArgumentError(
                'Exception encountered when calling layer "%s" (type '
                "Embedding): an index is out of the vocabulary [0, %d) "
                "(input_dim=%d): %s" % (self.name, self.input_dim,
                                        self.input_dim, e)) from None

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return C.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return _shape_tuple(self, input_shape) + (self.output_dim,)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": self._init_arg,
                "mask_zero": self.mask_zero}


class Flatten(Layer):
    """(batch, ...) -> (batch, product of the rest); (batch,) -> (batch,
    1).  `data_format="channels_first"` moves the channels last first."""

    def __init__(self, data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        fmt = "channels_last" if data_format is None else str(
            data_format).lower()
        if fmt not in ("channels_first", "channels_last"):
            raise ValueError(
                'The `data_format` argument must be one of {"channels_first", '
                '"channels_last"}. Received: data_format=%s' % (data_format,))
        self.data_format = fmt

    def call(self, inputs):
        inputs = self._convert_input(inputs)
        shape = inputs.shape
        rank = len(shape)
        if rank == 0:
            raise _incompatible(self, "expected min_ndim=1, found ndim=0. "
                                "Full shape received: ", shape)
        if self.data_format == "channels_first" and rank > 1:
            inputs = C.transpose(inputs, [0] + list(range(2, rank)) + [1])
        return C.reshape(inputs, self.compute_output_shape(shape))

    def compute_output_shape(self, input_shape):
        shape = _shape_tuple(self, input_shape)
        if not shape:
            raise _incompatible(self, "expected min_ndim=1, found ndim=0. "
                                "Full shape received: ", shape)
        rest = shape[1:]
        if None in rest:
            return (shape[0], None)
        return (shape[0], _pymath.prod(rest))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Activation(Layer):
    """activation(inputs), the activation by name or callable."""

    def __init__(self, activation, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.activation = _activations.get(activation)
        self.built = True

    def call(self, inputs):
        return self.activation(self._convert_input(inputs))

    def compute_output_shape(self, input_shape):
        return _shape_tuple(self, input_shape)

    def get_config(self):
        return {**super().get_config(),
                "activation": _activations.serialize(self.activation)}


def _nonnegative(value):
    return isinstance(value, _numbers.Real) and not value < 0.0


class ReLU(Layer):
    """Keras' relu: max_value where x >= max_value, x where threshold < x
    < max_value, negative_slope * (x - threshold) where x < threshold (0
    at x == threshold)."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0,
                 name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if max_value is not None and not _nonnegative(max_value):
            raise ValueError(
                "max_value of a ReLU layer cannot be a negative value. "
                "Received: max_value=%s" % (max_value,))
        if not _nonnegative(negative_slope):
            raise ValueError(
                "negative_slope of a ReLU layer cannot be None or a negative "
                "value. Received: negative_slope=%s" % (negative_slope,))
        if not _nonnegative(threshold):
            raise ValueError(
                "threshold of a ReLU layer cannot be None or a negative "
                "value. Received: threshold=%s" % (threshold,))
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold
        self.built = True

    def call(self, x):
        x = self._convert_input(x)
        slope, top, thr = self.negative_slope, self.max_value, self.threshold
        if slope != 0 and top is None and thr == 0:
            return _nn.leaky_relu(x, alpha=slope)
        if slope != 0:
            negative = _nn.relu(thr - x if thr != 0 else -x)
        clip = top is not None
        if thr != 0:
            x = x * C.cast(C.greater(x, thr), x.dtype)
        elif top == 6:
            x = _nn.relu6(x)
            clip = False
        else:
            x = _nn.relu(x)
        if clip:
            x = C.clip_by_value(x, 0.0, top)
        if slope != 0:
            x = x - slope * negative
        return x

    def compute_output_shape(self, input_shape):
        return _shape_tuple(self, input_shape)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class Softmax(Layer):
    """softmax over `axis` (an int or a list: exp(x - logsumexp(x))); a
    `mask` (1 keeps, 0 masks) adds a large negative number to the masked
    logits."""

    def __init__(self, axis=-1, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.axis = axis
        self.built = True

    def call(self, inputs, mask=None):
        inputs = self._convert_input(inputs)
        if mask is not None:
            big = -3e4 if inputs.dtype == C.float16 else -1e9
            inputs = inputs + (1.0 - C.cast(mask, inputs.dtype)) * big
        axis = self.axis
        if isinstance(axis, (tuple, list)):
            if len(axis) != 1:
                return _math.exp(inputs - C.reduce_logsumexp(
                    inputs, list(axis), keepdims=True))
            axis = axis[0]
        return _nn.softmax(inputs, axis=axis)

    def compute_output_shape(self, input_shape):
        return _shape_tuple(self, input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
