"""Keras activations, by name or callable (keras.activations.get)."""
from .. import math as _math
from .. import nn as _nn


def linear(x):
    """The identity activation: returns x unchanged."""
    return x


def exponential(x):
    """The exponential activation, exp(x)."""
    return _math.exp(x)


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid, relu6(x + 3) / 6: 0 below -3, 1
    above 3."""
    # Keras 3: relu6(x + 3) / 6
    return _nn.relu6(x + 3.0) / 6.0


_BY_NAME = {
    "linear": linear,
    "relu": _nn.relu,
    "relu6": _nn.relu6,
    "elu": _nn.elu,
    "selu": _nn.selu,
    "sigmoid": _nn.sigmoid,
    "tanh": _math.tanh,
    "softmax": _nn.softmax,
    "log_softmax": _nn.log_softmax,
    "softplus": _nn.softplus,
    "softsign": _nn.softsign,
    "gelu": _nn.gelu,
    "silu": _nn.silu,
    "swish": _nn.silu,
    "leaky_relu": _nn.leaky_relu,
    "exponential": exponential,
    "hard_sigmoid": hard_sigmoid,
}


def get(identifier):
    """The activation for a name, a callable, or None (linear)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError("Could not interpret activation function identifier: %r"
                     % (identifier,))


def serialize(fn):
    """The name an activation is known by (its registered name, else its
    __name__)."""
    for name, f in _BY_NAME.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", repr(fn))
