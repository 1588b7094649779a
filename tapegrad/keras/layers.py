"""Keras layers on tapegrad: Dense and BatchNormalization, as Keras 3
computes them (keras_semantics.md).  A layer builds its variables on its
first call, from the input's last dimension; layers are tapegrad Modules,
so a Module holding one finds them."""
from .. import _tapegrad as C
from .. import math as _math
from .. import nn as _nn
from .._module import Module, _camel_to_snake
from . import activations as _activations
from . import initializers as _initializers

__all__ = ["Layer", "Dense", "BatchNormalization"]

_name_counts = {}


def _unique_name(base):
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else "%s_%d" % (base, n)


class Layer(Module):
    """The base of the layers: build on first call, then call."""

    def __init__(self, name=None, trainable=True, dtype=None):
        super().__init__(name=name or _unique_name(
            _camel_to_snake(type(self).__name__)))
        self.built = False
        self.trainable = trainable
        self._dtype = C.float32 if dtype is None else dtype
        self._own_weights = []       # in creation order, as Keras lists them

    def build(self, input_shape):
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(
            "%s has no call(): a Layer subclass defines call(inputs)"
            % type(self).__name__)

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, (C.Tensor, C.Variable)):
            inputs = C.convert_to_tensor(inputs, dtype=self._dtype)
        if not self.built:
            self.build(inputs.shape)
            self.built = True
        return self.call(inputs, *args, **kwargs)

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
        self.units = units
        self.activation = _activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
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
            raise ValueError(
                'Input 0 of layer "%s" is incompatible with the layer: '
                "expected axis -1 of input shape to have value %d, but "
                "received input with shape %s" % (
                    self.name, self.kernel.shape[0], inputs.shape))
        if len(inputs.shape) == 2:
            y = C.matmul(inputs, self.kernel)
        else:
            y = C.tensordot(inputs, self.kernel, 1)
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)


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
