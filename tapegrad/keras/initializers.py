"""Keras initializers by name (keras.initializers.get), drawn through
tapegrad.random, so tf.random.set_seed makes them repeatable."""
import math as _pymath

import numpy as _np

from .. import _tapegrad as C
from .. import random as _random


def _fans(shape):
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(_np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """The base of the initializers: a subclass defines
    __call__(shape, dtype)."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(
            "%s is abstract: an Initializer subclass defines "
            "__call__(shape, dtype)" % type(self).__name__)

    def get_config(self):
        """The initializer's constructor arguments, as a dict (from_config
        rebuilds it)."""
        return {}


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return C.zeros(shape, dtype=dtype or C.float32)


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return C.ones(shape, dtype=dtype or C.float32)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return C.ones(shape, dtype=dtype or C.float32) * self.value


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=None):
        return _random.normal(shape, self.mean, self.stddev,
                              dtype=dtype or C.float32, seed=self.seed)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=None):
        return _random.uniform(shape, self.minval, self.maxval,
                               dtype=dtype or C.float32, seed=self.seed)


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=None):
        return _random.truncated_normal(shape, self.mean, self.stddev,
                                        dtype=dtype or C.float32,
                                        seed=self.seed)


class VarianceScaling(Initializer):
    """Keras' VarianceScaling: scale / fan (fan_in, fan_out or their
    mean), from a truncated normal, a normal or a uniform."""

    def __init__(self, scale=1.0, mode="fan_in",
                 distribution="truncated_normal", seed=None):
        self.scale, self.mode = scale, mode
        self.distribution, self.seed = distribution, seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out,
               "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        dtype = dtype or C.float32
        if self.distribution == "truncated_normal":
            # the stddev of a normal truncated at 2 sigma
            std = _pymath.sqrt(scale) / 0.87962566103423978
            return _random.truncated_normal(shape, 0.0, std, dtype=dtype,
                                            seed=self.seed)
        if self.distribution in ("normal", "untruncated_normal"):
            return _random.normal(shape, 0.0, _pymath.sqrt(scale),
                                  dtype=dtype, seed=self.seed)
        limit = _pymath.sqrt(3.0 * scale)
        return _random.uniform(shape, -limit, limit, dtype=dtype,
                               seed=self.seed)


def GlorotUniform(seed=None):
    """Glorot (Xavier) uniform initializer: variance 1 / mean(fan_in,
    fan_out)."""
    return VarianceScaling(1.0, "fan_avg", "uniform", seed)


def GlorotNormal(seed=None):
    """Glorot (Xavier) normal initializer, truncated: variance 1 / mean(fan_in,
    fan_out)."""
    return VarianceScaling(1.0, "fan_avg", "truncated_normal", seed)


def HeNormal(seed=None):
    """He normal initializer, truncated: variance 2 / fan_in (for relu
    layers)."""
    return VarianceScaling(2.0, "fan_in", "truncated_normal", seed)


def HeUniform(seed=None):
    """He uniform initializer: variance 2 / fan_in (for relu layers)."""
    return VarianceScaling(2.0, "fan_in", "uniform", seed)


def LecunNormal(seed=None):
    """LeCun normal initializer, truncated: variance 1 / fan_in (for selu
    layers)."""
    return VarianceScaling(1.0, "fan_in", "truncated_normal", seed)


def LecunUniform(seed=None):
    """LeCun uniform initializer: variance 1 / fan_in."""
    return VarianceScaling(1.0, "fan_in", "uniform", seed)


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
    # Keras 3's aliases (Embedding's default is "uniform")
    "uniform": RandomUniform, "normal": RandomNormal, "one": Ones,
    "zero": Zeros,
}


def get(identifier):
    """An initializer for a Keras name, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _BY_NAME:
            return _BY_NAME[key]()
        raise ValueError("Could not interpret initializer identifier: %r"
                         % (identifier,))
    if callable(identifier):
        return identifier
    raise ValueError("Could not interpret initializer identifier: %r"
                     % (identifier,))
