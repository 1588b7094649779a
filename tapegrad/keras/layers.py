"""Keras layers on tapegrad, as Keras 3 computes them
(keras_semantics.md): Dense, BatchNormalization, LayerNormalization,
Dropout, Embedding, Flatten, Activation, ReLU, Softmax, the pooling
layers (MaxPooling1D..3D, AveragePooling1D..3D, the global ones) and
Reshape.  A layer builds its variables on its first call, from the
input's shape; layers are tapegrad Modules, so a Module holding one finds
them.  Every layer computes with tapegrad ops, so gradients, higher
orders and forward mode come from the op table."""
import inspect as _inspect
import math as _pymath
import numbers as _numbers
import operator as _operator
import re as _re
import threading as _threading
import warnings as _warnings

import numpy as _np

from .. import _tapegrad as C
from .. import math as _math
from .. import nn as _nn
from .. import random as _random
from .._module import _ATOMS, Module, _is_variable, _leaves
from ..dtypes import as_dtype as _as_dtype
from . import activations as _activations
from . import initializers as _initializers
from ._keras_tensor import KerasTensor, is_symbolic

# attributes that hold graph bookkeeping, not sublayers
_NOT_LAYERS = frozenset(("_inbound_nodes", "_nodes", "_keras_history",
                         "_own_weights", "_build_shape", "_output_shape",
                         "_input_shape_arg", "_auto_config"))

# the argument values an auto-config may hold (Keras 3's rule: anything
# else could not be written to JSON and read back as itself)
_PLAIN = (str, int, float, bool, type(None))

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Conv1D", "Conv2D",
           "Conv3D", "Conv2DTranspose", "DepthwiseConv2D",
           "BatchNormalization", "LayerNormalization",
           "Dropout", "Embedding", "Flatten", "Activation", "ReLU",
           "Softmax", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
           "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D",
           "GlobalAveragePooling3D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "GlobalMaxPooling3D", "Reshape"]

_name_counts = {}

# The `training` flag of the layer calls in progress on this thread:
# Keras' call context, so a layer called inside another one's call without
# `training=` inherits it.
_context = _threading.local()


def _snake_case(name):
    """Keras' to_snake_case, which names layers (Conv2D -> conv2d;
    tf.Module's rule gives conv2_d)."""
    name = _re.sub(r"\W+", "", name)
    name = _re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return _re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


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


def _holds_arrays(x):
    """Whether a list, tuple or dict holds tensors or arrays (a structure
    of inputs) rather than only Python numbers (one tensor's values)."""
    for v in (x.values() if isinstance(x, dict) else x):
        if isinstance(v, (C.Tensor, C.Variable, _np.ndarray)):
            return True
        if isinstance(v, (list, tuple, dict)) and _holds_arrays(v):
            return True
    return False


def _input_leaves(x):
    """The tensors and arrays of a structure of inputs, in order."""
    if isinstance(x, (list, tuple, dict)) and _holds_arrays(x):
        for v in (x.values() if isinstance(x, dict) else x):
            yield from _input_leaves(v)
    else:
        yield x


def _rebuild(x, items):
    """A list or tuple like `x` holding `items`: a namedtuple stays one (as
    Keras' tree does); other subclasses become plain lists and tuples,
    since their constructors may take other arguments."""
    items = list(items)
    if isinstance(x, tuple):
        if hasattr(type(x), "_fields"):
            return type(x)(*items)
        return tuple(items)
    return items


def _map_leaves(fn, x):
    if isinstance(x, (list, tuple)):
        if _holds_arrays(x):
            return _rebuild(x, (_map_leaves(fn, v) for v in x))
        return fn(x)
    if isinstance(x, dict):
        return {k: _map_leaves(fn, v) for k, v in x.items()}
    return fn(x)


def _plain_values(x):
    if isinstance(x, (list, tuple)):
        return all(_plain_values(v) for v in x)
    if isinstance(x, dict):
        return all(isinstance(k, str) and _plain_values(v)
                   for k, v in x.items())
    return isinstance(x, _PLAIN)


def _auto_config(cls, args, kwargs):
    """The constructor's arguments as a dict (defaults filled in, `name`
    and `self` left out), or None when they cannot make a config: Keras 3's
    Operation.__new__, so that a subclass without get_config() can still be
    saved and rebuilt by cls(**config)."""
    try:
        sig = cls.__dict__.get("_tg_init_signature")
        if sig is None:
            sig = _inspect.signature(cls.__init__)
            setattr(cls, "_tg_init_signature", sig)
        bound = sig.bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if any(p.kind is p.POSITIONAL_ONLY for p in params[1:]):
        return None
    bound.apply_defaults()
    out = {}
    for p in params[1:]:
        if p.name not in bound.arguments:
            continue
        value = bound.arguments[p.name]
        if p.kind is p.VAR_POSITIONAL:
            if value:
                return None     # *args cannot be passed back by name
        elif p.kind is p.VAR_KEYWORD:
            out.update(value)
        else:
            out[p.name] = value
    out.pop("name", None)       # get_config gives the layer's own name
    return out if _plain_values(out) else None


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


def _build_in_call(layer, shape):
    """layer.build(shape) as a call's first step, marked so that a build
    which would run the layer itself (Model.build) knows the call is
    about to do that."""
    outer = getattr(_context, "building", None)
    _context.building = layer
    try:
        layer.build(shape)
    finally:
        _context.building = outer
    layer.built = True


def _building_in_call(layer):
    return getattr(_context, "building", None) is layer


def _shape_to_config(shape):
    """A shape (TensorShape, tuple; or a list or dict of them) as JSON
    lists of ints and Nones."""
    if isinstance(shape, dict):
        return {k: _shape_to_config(v) for k, v in shape.items()}
    dims = list(shape)
    if dims and all(isinstance(d, (list, tuple, dict)) or
                    hasattr(d, "as_list") for d in dims):
        return [_shape_to_config(d) for d in dims]      # several inputs
    return [None if d is None else _operator.index(d) for d in dims]


def _shape_from_config(shape):
    """_shape_to_config's lists back as tuples."""
    if isinstance(shape, dict):
        return {k: _shape_from_config(v) for k, v in shape.items()}
    if shape and all(isinstance(d, (list, tuple, dict)) for d in shape):
        return [_shape_from_config(d) for d in shape]
    return tuple(shape)


def _with_auto_config(layer, config, base):
    """`config` (the base class's keys) plus the auto-config when
    type(layer).get_config is `base` itself, as Keras 3 does; keys the
    constructor cannot take are dropped so that cls(**config) works."""
    cls = type(layer)
    if cls.get_config is not base or cls.__module__ == __name__ or \
            cls.__module__.startswith(__package__ + "."):
        return config
    auto = layer.__dict__.get("_auto_config")
    if auto is None:
        raise NotImplementedError(
            "Object %s was created by passing non-serializable argument "
            "values in `__init__()` (or positional-only or variadic "
            "positional arguments), and therefore the object must override "
            "`get_config()` in order to be serializable. Please implement "
            "`get_config()` (returning the constructor's arguments) and, "
            "if needed, `from_config()`." % cls.__name__)
    params = _inspect.signature(cls.__init__).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        config = {k: v for k, v in config.items() if k in params}
    config.update(auto)
    return config


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
    the enclosing layer call's value is used, then `call`'s default.
    Called on KerasTensors (keras.Input) it records a functional-graph
    node instead (_functional.py)."""

    # the built-in layers take one tensor (Keras' InputSpec); a user's
    # layer may take any structure
    _single_input = False

    _autocast = True    # floating inputs are cast to the layer's dtype

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self._auto_config = _auto_config(cls, args, kwargs)
        return self

    def __init__(self, *, activity_regularizer=None, trainable=True,
                 dtype=None, autocast=True, name=None, **kwargs):
        # Keras 3's rule for names (any string without "/"), not tf.Module's
        if name is None:
            name = _unique_name(_snake_case(type(self).__name__))
        elif not isinstance(name, str) or "/" in name:
            raise ValueError(
                "Argument `name` must be a string and cannot contain "
                "character `/`. Received: name=%s (of type %s)"
                % (name, type(name)))
        self._name = name
        input_dim = kwargs.pop("input_dim", None)
        input_shape = ((input_dim,) if input_dim is not None
                       else kwargs.pop("input_shape", None))
        if input_shape is not None:
            _warnings.warn(
                "Do not pass an `input_shape`/`input_dim` argument to a "
                "layer. When using Sequential models, prefer using an "
                "`Input(shape)` object as the first layer in the model "
                "instead.", stacklevel=2)
            self._input_shape_arg = tuple(input_shape)
        if kwargs:
            raise ValueError("Unrecognized keyword arguments passed to %s: %s"
                             % (type(self).__name__, kwargs))
        if not isinstance(trainable, bool):
            raise ValueError(
                "Expected `trainable` to be a boolean. Received: trainable=%s "
                "(of type %s)" % (trainable, type(trainable)))
        _refuse(self, activity_regularizer=activity_regularizer)
        self.built = False
        self.trainable = trainable
        self.autocast = autocast
        self._dtype = C.float32 if dtype is None else _as_dtype(dtype)
        self._own_weights = []       # in creation order, as Keras lists them
        self._inbound_nodes = []     # functional-graph calls (KerasTensors)

    @property
    def dtype(self):
        """The layer's dtype name (Keras 3: its variables' dtype)."""
        return self._dtype.name

    @property
    def compute_dtype(self):
        return self._dtype.name

    @property
    def variable_dtype(self):
        return self._dtype.name

    def build(self, input_shape):
        """Create the layer's weights for inputs of `input_shape`; the first
        call does it. The base marks the layer built."""
        self.built = True

    def call(self, inputs, *args, **kwargs):
        """The layer's computation on `inputs`, which a subclass defines;
        calling the layer builds it first and then calls this."""
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
        if type(inputs) is KerasTensor or (
                isinstance(inputs, (list, tuple, dict)) and
                is_symbolic(inputs)):
            from . import _functional
            return _functional.symbolic_call(self, inputs, args, kwargs)
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
        if (self._single_input and isinstance(inputs, (list, tuple, dict))
                and _holds_arrays(inputs)):
            inputs = self._one_input(inputs)
        if isinstance(inputs, (list, tuple, dict)) and _holds_arrays(inputs):
            # a structure of tensors (Keras converts each one)
            inputs = _map_leaves(self._convert_input, inputs)
            shape = _map_leaves(lambda t: t.shape, inputs)
        else:
            inputs = self._convert_input(inputs)
            shape = inputs.shape
        if not self.built:
            self._build_shape = shape
            _build_in_call(self, shape)
        outer = getattr(_context, "training", None)
        _context.training = training
        try:
            return self.call(inputs, *args, **kwargs)
        finally:
            _context.training = outer

    def _one_input(self, inputs):
        """A one-tensor layer given a structure: Keras' input check (its
        InputSpec) refuses more or fewer than one tensor; a structure of
        exactly one is unwrapped, as Keras' models unwrap it."""
        leaves = list(_input_leaves(inputs))
        if len(leaves) != 1:
            raise ValueError(
                'Layer "%s" expects 1 input(s), but it received %d input '
                "tensors. Inputs received: %r"
                % (self.name, len(leaves), inputs))
        return leaves[0]

    def _require_built(self):
        if not self.built:
            raise ValueError(
                "Layer %r has not been built: call the layer itself "
                "(layer(inputs)), which builds it, not its call()" % self.name)

    def add_weight(self, *args, shape=None, initializer=None, dtype=None,
                   trainable=True, autocast=True, regularizer=None,
                   constraint=None, aggregation="none",
                   overwrite_with_gradient=False, name=None):
        """A new weight of this layer, Keras 3's signature: `shape` (default
        ``()``), `initializer` (a name, an Initializer or a callable;
        glorot_uniform for floats, zeros otherwise), `dtype` (the layer's),
        `trainable`, `name`, all by keyword.  As Keras 3.14+, up to three
        positional arguments are read as (shape, initializer, dtype), and a
        name given first (Keras 2's ``add_weight("kernel", ...)``) is a
        ValueError saying to pass it as ``name=``."""
        if args:
            if len(args) > 3:
                raise TypeError("add_weight() takes at most 3 positional "
                                "arguments but %d were given." % len(args))
            if isinstance(args[0], str):
                raise ValueError(
                    "`name` must be passed as a keyword argument. Received: "
                    "add_weight('%s', ...). Use: add_weight(shape=..., "
                    "name='%s')." % (args[0], args[0]))
            if shape is not None:
                raise ValueError("`shape` was passed both positionally and as "
                                 "a keyword argument.")
            shape = args[0]
            if len(args) > 1:
                if initializer is not None:
                    raise ValueError("`initializer` was passed both "
                                     "positionally and as a keyword "
                                     "argument.")
                initializer = args[1]
            if len(args) > 2:
                if dtype is not None:
                    raise ValueError("`dtype` was passed both positionally "
                                     "and as a keyword argument.")
                dtype = args[2]
        shape = () if shape is None else tuple(shape)
        if any(d is None for d in shape):
            raise ValueError(
                "Shapes used to initialize variables must be fully-defined "
                "(no `None` dimensions). Received: shape=%s for variable "
                "path='%s/%s'" % (shape, self.name, name))
        shape = tuple(_operator.index(d) for d in shape)
        dtype = self._dtype if dtype is None else _as_dtype(dtype)
        if initializer is None:
            initializer = ("glorot_uniform" if dtype.is_floating
                           else "zeros")
        _refuse(self, regularizer=regularizer, constraint=constraint)
        if overwrite_with_gradient:
            raise NotImplementedError(
                "add_weight(overwrite_with_gradient=True) (float8 training) "
                "is not supported")
        if name is None:
            name = _unique_name("variable")
        init = _initializers.get(initializer)
        value = init(list(shape), dtype=dtype)
        v = C.Variable(value, name=name, trainable=trainable and
                       self.trainable)
        C._set_variable_name(v, name)   # Keras 3: 'kernel', not 'kernel:0'
        self._own_weights.append(v)
        return v

    def compute_output_shape(self, input_shape):
        """The output shape for inputs of `input_shape`, without running the
        layer."""
        raise NotImplementedError(
            "Method `compute_output_shape()` of layer %s is not implemented."
            % type(self).__name__)

    def count_params(self):
        """The number of scalars in this layer's weights."""
        if not self.built:
            raise ValueError(
                "You tried to call `count_params` on layer '%s', but the "
                "layer isn't built. You can build it manually via: "
                "`layer.build(input_shape)`." % self.name)
        return sum(_pymath.prod(v.shape) for v in self.variables)

    def get_config(self):
        """The constructor's arguments (initializers and activations as
        they were given, names or objects).  A subclass that does not
        define get_config() gets the arguments its constructor was called
        with (Keras 3's auto-config), when they are plain values."""
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": self._dtype.name}
        return _with_auto_config(self, config, Layer.get_config)

    @classmethod
    def from_config(cls, config):
        """A new layer from the dict get_config() returned."""
        return cls(**config)

    def get_build_config(self):
        """{"input_shape": the shape the layer was built with}, or None
        (not built, or built without a recorded shape)."""
        shape = getattr(self, "_build_shape", None)
        if not self.built or shape is None:
            return None
        return {"input_shape": _shape_to_config(shape)}

    def build_from_config(self, config):
        """Create the layer's variables from get_build_config()'s dict,
        as load_model does before it reads the weights."""
        if config and "input_shape" in config:
            shape = _shape_from_config(config["input_shape"])
            self._build_shape = shape
            self.build(shape)
            self.built = True

    def __repr__(self):
        return "<%s name=%s, built=%s>" % (type(self).__name__, self.name,
                                           self.built)

    # ---- what the layer holds ----------------------------------------------
    def _direct_layers(self):
        """The layers this one holds in its attributes (and in lists,
        tuples and dicts there), in the order they were set, each once:
        Keras' tracking order."""
        out, seen = [], {id(self)}
        for key, value in vars(self).items():
            if type(value) in _ATOMS or key in _NOT_LAYERS:
                continue
            if isinstance(value, Layer):
                found = (value,)
            elif isinstance(value, (list, tuple, dict)):
                found = [x for x in _leaves(value, set())
                         if isinstance(x, Layer)]
            else:
                continue
            for layer in found:
                if id(layer) not in seen:
                    seen.add(id(layer))
                    out.append(layer)
        return out

    def _collect_weights(self, out, seen, seen_layers):
        """Append Keras' tracked weights to `out`: this layer's, then, in
        the order its attributes were set, its layers' (depth first).
        Returns whether some layer also holds a Variable or a Module Keras
        would not track (a tf.Variable attribute, a plain Module)."""
        seen_layers.add(id(self))
        for v in self._own_weights:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        foreign = False
        for key, value in vars(self).items():
            if type(value) in _ATOMS or key in _NOT_LAYERS:
                continue
            if isinstance(value, (list, tuple, dict)):
                leaves = _leaves(value, set())
            else:
                leaves = (value,)
            for leaf in leaves:
                if isinstance(leaf, Layer):
                    if id(leaf) not in seen_layers:
                        foreign |= leaf._collect_weights(out, seen,
                                                         seen_layers)
                elif isinstance(leaf, Module) or (
                        _is_variable(leaf) and id(leaf) not in seen):
                    foreign = True
        return foreign

    @property
    def variables(self):
        """The weights of this layer and of the layers it holds, in Keras'
        order (each layer's in creation order: kernel, bias; the layers in
        the order they were set), then any other Variable it holds
        (tf.Variable attributes, plain Modules: Keras 3 does not track
        those; tapegrad's layers are Modules, as tf.keras' were before
        Keras 3) in tf.Module's order.  A list, as Keras'."""
        out, seen = [], set()
        if self._collect_weights(out, seen, set()):
            for v in Module.variables.fget(self):
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def trainable_variables(self):
        return [v for v in self.variables if v.trainable]

    @property
    def non_trainable_variables(self):
        return [v for v in self.variables if not v.trainable]

    @property
    def weights(self):
        return self.variables

    @property
    def trainable_weights(self):
        return self.trainable_variables

    @property
    def non_trainable_weights(self):
        return self.non_trainable_variables

    def get_weights(self):
        """The values of the layer's variables, as NumPy arrays in `variables`
        order."""
        return [v.numpy() for v in self.variables]

    def set_weights(self, weights):
        """Assign the given arrays to the layer's variables, in `variables`
        order."""
        for v, w in zip(self.variables, weights):
            v.assign(w)


class Dense(Layer):
    """activation(inputs @ kernel + bias); the kernel has shape
    (input's last dimension, units)."""

    _single_input = True

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
        self.kernel = self.add_weight(shape=[last, self.units],
                                      initializer=self.kernel_initializer,
                                      name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=[self.units],
                                        initializer=self.bias_initializer,
                                        name="bias")
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


def _standardize_tuple(value, n, name):
    """Keras' standardize_tuple: an int or n ints, each > 0."""
    msg = ("The `%s` argument must be a tuple of %d integers. Received "
           "%s=%s" % (name, n, name, value))
    if isinstance(value, int) and not isinstance(value, bool):
        out = (value,) * n
    else:
        try:
            out = tuple(value)
        except TypeError:
            raise ValueError(msg) from None
        if len(out) != n:
            raise ValueError(msg)
        for v in out:
            try:
                _operator.index(v)
            except TypeError:
                raise ValueError(msg + "including element %s of type %s"
                                 % (v, type(v))) from None
        out = tuple(_operator.index(v) for v in out)
    bad = {v for v in out if v <= 0}
    if bad:
        raise ValueError(msg + ", including values %s that do not satisfy "
                         "`value > 0`" % (bad,))
    return out


def _conv_output_shape(input_shape, filters, kernel_size, strides, padding,
                       data_format, dilation_rate):
    """Keras' compute_conv_output_shape (None stays None)."""
    shape = tuple(input_shape)
    if len(shape) != len(kernel_size) + 2:
        raise ValueError(
            "Kernel shape must have the same length as input, but received "
            "kernel of shape %s and input of shape %s."
            % (kernel_size + (shape[-1] if shape else None, filters), shape))
    spatial = shape[1:-1] if data_format == "channels_last" else shape[2:]
    out = []
    for size, k, s, d in zip(spatial, kernel_size, strides, dilation_rate):
        if size is None:
            out.append(None)
        elif padding == "valid":
            n = (size - d * (k - 1) - 1) // s + 1
            if n <= 0:
                raise ValueError(
                    "Computed output size would be zero or negative. "
                    "Received `inputs shape=%s`, `kernel shape=%s`, "
                    "`dilation_rate=%s`, `strides=%s`, `padding=%s`."
                    % (shape, kernel_size, dilation_rate, strides, padding))
            out.append(n)
        else:
            out.append((size - 1) // s + 1)
    if data_format == "channels_last":
        return (shape[0],) + tuple(out) + (filters,)
    return (shape[0], filters) + tuple(out)


def _conv_padding(layer_name, padding, allow_causal):
    """Keras' standardize_padding: 'valid', 'same' (and 'causal' for
    Conv1D), any case."""
    if isinstance(padding, (list, tuple)):
        raise NotImplementedError("%s takes padding 'valid' or 'same'; "
                                  "received %r" % (layer_name, padding))
    pad = str(padding).lower()
    allowed = ("valid", "same", "causal") if allow_causal else ("valid",
                                                                "same")
    if pad not in allowed:
        raise ValueError("The `padding` argument must be a list/tuple or "
                         "one of %s. Received: %s"
                         % ("{%s}" % ", ".join("'%s'" % a for a in allowed),
                            pad))
    return pad


def _conv_data_format(data_format):
    fmt = "channels_last" if data_format is None else str(
        data_format).lower()
    if fmt not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of "
                         "{'channels_first', 'channels_last'}. Received: "
                         "data_format=%s" % fmt)
    return fmt


# TF's data_format names per spatial rank: channels_last, channels_first
_TF_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


class _ConvBase(Layer):
    """What Keras' convolution layers share: the kernel_size / strides /
    dilation_rate tuples, padding and data_format, activation, bias and
    initializers, with Keras' checks; the channel axis, the input check,
    the bias; the weights made in build.  Subclasses give the kernel's
    shape and the convolution."""

    _single_input = True
    rank = None

    def __init__(self, kernel_size, strides, padding, data_format,
                 dilation_rate, activation, use_bias, kernel_initializer,
                 bias_initializer, activity_regularizer, name,
                 refused, kwargs):
        super().__init__(activity_regularizer=activity_regularizer,
                         name=name, **kwargs)
        _refuse(self, **refused)
        n = self.rank
        self.kernel_size = _standardize_tuple(kernel_size, n, "kernel_size")
        self.strides = _standardize_tuple(strides, n, "strides")
        self.dilation_rate = _standardize_tuple(dilation_rate, n,
                                                "dilation_rate")
        self.padding = _conv_padding(type(self).__name__, padding, n == 1)
        self.data_format = _conv_data_format(data_format)
        self.activation = _activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self._inits = (kernel_initializer, bias_initializer)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` not supported in conjunction with "
                "`dilation_rate > 1`. Received: strides=%s and "
                "dilation_rate=%s" % (self.strides, self.dilation_rate))
        self.kernel = None
        self.bias = None

    @staticmethod
    def _positive(what, value):
        if value is None or value <= 0:
            raise ValueError("Invalid value for argument `%s`. Expected a "
                             "strictly positive value. Received %s=%s."
                             % (what, what, value))

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _tf_format(self):
        return _TF_FORMATS[self.rank][self.data_format == "channels_first"]

    def _kernel_shape(self, channels):
        raise NotImplementedError

    def _units(self, channels):
        """the output channels: the bias' length"""
        raise NotImplementedError

    def _check_channels(self, channels, input_shape):
        """Keras' build-time check of the input channels"""

    def build(self, input_shape):
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise ValueError(
                "The channel dimension of the inputs should be defined. "
                "Received input shape %s" % (tuple(input_shape),))
        self._check_channels(channels, input_shape)
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(
            shape=self._kernel_shape(channels),
            initializer=self.kernel_initializer, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self._units(channels),),
                                        initializer=self.bias_initializer,
                                        name="bias")
        self.built = True

    def _check_input(self, inputs, channels):
        rank = len(inputs.shape)
        if rank != self.rank + 2:
            raise _incompatible(self, "expected ndim=%d, found ndim=%d. Full "
                                "shape received: " % (self.rank + 2, rank),
                                inputs.shape)
        axis = self._channel_axis()
        if inputs.shape[axis] != channels:
            raise _incompatible(
                self, "expected axis %d of input shape to have value %d, but "
                "received input with shape " % (axis, channels),
                inputs.shape)

    def _finish(self, y, units):
        """activation(y + bias), the bias along the channel axis"""
        if self.use_bias:
            ones = [1] * (self.rank + 1)
            shape = (ones + [units] if self.data_format == "channels_last"
                     else [1, units] + ones[1:])
            y = y + C.reshape(self.bias, shape)
        return self.activation(y)

    def get_config(self):
        kernel_init, bias_init = self._inits
        return {**super().get_config(), "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": _activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": kernel_init,
                "bias_initializer": bias_init}


class _Conv(_ConvBase):
    """N-d convolution (Keras' BaseConv): activation(convolution(inputs,
    kernel) + bias), the kernel of shape kernel_size + (input channels //
    groups, filters).  The convolution is tf.nn.convolution (the op
    table's conv rows), with TF's "same" padding; `groups` splits the
    channels into independent convolutions.  Conv1D, Conv2D and Conv3D fix
    the rank."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, name=None,
                 **kwargs):
        super().__init__(kernel_size, strides, padding, data_format,
                         dilation_rate, activation, use_bias,
                         kernel_initializer, bias_initializer,
                         activity_regularizer, name,
                         dict(kernel_regularizer=kernel_regularizer,
                              bias_regularizer=bias_regularizer,
                              kernel_constraint=kernel_constraint,
                              bias_constraint=bias_constraint), kwargs)
        self.filters = filters
        self.groups = groups
        self._positive("filters", filters)
        if groups <= 0:
            raise ValueError("The number of groups must be a positive "
                             "integer. Received: groups=%s." % (groups,))
        if filters % groups:
            raise ValueError("The number of filters must be evenly divisible "
                             "by the number of groups. Received: groups=%s, "
                             "filters=%s." % (groups, filters))

    def _kernel_shape(self, channels):
        return self.kernel_size + (channels // self.groups, self.filters)

    def _units(self, channels):
        return self.filters

    def _check_channels(self, channels, input_shape):
        if channels % self.groups:
            raise ValueError(
                "The number of input channels must be evenly divisible by "
                "the number of groups. Received groups=%s, but the input has "
                "%s channels (full input shape is %s)."
                % (self.groups, channels, tuple(input_shape)))

    def call(self, inputs):
        self._require_built()
        self._check_input(inputs, self.kernel.shape[-2] * self.groups)
        padding = self.padding
        if padding == "causal":
            # Keras: pad dilation * (kernel - 1) steps before, then "valid"
            left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
            pads = [[0, 0], [0, 0], [0, 0]]
            pads[1 if self.data_format == "channels_last" else 2] = [left, 0]
            inputs = C.pad(inputs, pads)
            padding = "valid"
        y = _nn.convolution(inputs, self.kernel, strides=list(self.strides),
                            padding=padding.upper(),
                            data_format=self._tf_format(),
                            dilations=list(self.dilation_rate))
        return self._finish(y, self.filters)

    def compute_output_shape(self, input_shape):
        shape = _shape_tuple(self, input_shape)
        if self.padding == "causal":
            # causal is "valid" on the input padded on the left
            axis = 1 if self.data_format == "channels_last" else 2
            if len(shape) > axis and shape[axis] is not None:
                left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
                shape = shape[:axis] + (shape[axis] + left,) + \
                    shape[axis + 1:]
        return _conv_output_shape(shape, self.filters, self.kernel_size,
                                  self.strides, "valid" if self.padding ==
                                  "causal" else self.padding,
                                  self.data_format, self.dilation_rate)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "groups": self.groups}


class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels); padding may also be
    "causal" (output[t] sees input[:t + 1] only)."""

    rank = 1


class Conv2D(_Conv):
    """2-D convolution over (batch, height, width, channels)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), groups=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides,
                         padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, groups=groups,
                         **kwargs)


class Conv3D(_Conv):
    """3-D convolution over (batch, depth, height, width, channels)."""

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1),
                 padding="valid", data_format=None, dilation_rate=(1, 1, 1),
                 groups=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides,
                         padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, groups=groups,
                         **kwargs)


def _transpose_output_size(size, k, stride, padding, output_padding,
                           dilation):
    """Keras' output length of a transposed convolution along one axis
    (TF's padding rules; None stays None)."""
    if size is None:
        return None
    k = (k - 1) * dilation + 1
    if padding == "valid":
        extra = max(k, stride) - k if output_padding is None \
            else output_padding
        return (size - 1) * stride + k + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + k % 2 + output_padding


class Conv2DTranspose(_ConvBase):
    """The transpose of Conv2D (the gradient of a convolution with respect
    to its input, tf.nn.conv2d_transpose): the kernel has shape
    kernel_size + (filters, input channels); output sizes by Keras' rule
    (size * stride with "same"; output_padding adds rows after)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1),
                 activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, name=None,
                 **kwargs):
        super().__init__(kernel_size, strides, padding, data_format,
                         dilation_rate, activation, use_bias,
                         kernel_initializer, bias_initializer,
                         activity_regularizer, name,
                         dict(kernel_regularizer=kernel_regularizer,
                              bias_regularizer=bias_regularizer,
                              kernel_constraint=kernel_constraint,
                              bias_constraint=bias_constraint), kwargs)
        self.filters = filters
        self._positive("filters", filters)
        if output_padding is None:
            self.output_padding = None
        else:
            op = ((output_padding,) * 2 if isinstance(output_padding, int)
                  else tuple(output_padding))
            if len(op) != 2 or any(not isinstance(v, int) or v < 0
                                   for v in op):
                raise ValueError(
                    "The `output_padding` argument must be a tuple of 2 "
                    "integers. Received output_padding=%s"
                    % (output_padding,))
            for i, (v, s) in enumerate(zip(op, self.strides)):
                if v >= s:
                    raise ValueError(
                        "`output_padding` must be strictly less than "
                        "`strides` for all dimensions. At dimension %d, "
                        "`output_padding` is %d but `strides` is %d. "
                        "Received: output_padding=%s, strides=%s"
                        % (i, v, s, op, self.strides))
            self.output_padding = op

    def _kernel_shape(self, channels):
        return self.kernel_size + (self.filters, channels)

    def _units(self, channels):
        return self.filters

    def call(self, inputs):
        self._require_built()
        self._check_input(inputs, self.kernel.shape[-1])
        out = self.compute_output_shape(inputs.shape)
        y = _nn.conv2d_transpose(inputs, self.kernel, list(out),
                                 strides=list(self.strides),
                                 padding=self.padding.upper(),
                                 data_format=self._tf_format(),
                                 dilations=list(self.dilation_rate))
        return self._finish(y, self.filters)

    def compute_output_shape(self, input_shape):
        shape = _shape_tuple(self, input_shape)
        if len(shape) != 4:
            raise ValueError(
                "Kernel shape must have the same length as input, but "
                "received kernel of shape %s and input of shape %s."
                % (self.kernel_size + (self.filters, shape[-1] if shape
                                       else None), shape))
        spatial = shape[1:3] if self.data_format == "channels_last" \
            else shape[2:]
        pads = self.output_padding or (None, None)
        out = tuple(_transpose_output_size(n, k, s, self.padding, p, d)
                    for n, k, s, p, d in zip(spatial, self.kernel_size,
                                             self.strides, pads,
                                             self.dilation_rate))
        if self.data_format == "channels_last":
            return (shape[0],) + out + (self.filters,)
        return (shape[0], self.filters) + out

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "output_padding": self.output_padding}


class DepthwiseConv2D(_ConvBase):
    """Each input channel convolved with its own depth_multiplier filters
    (tf.nn.depthwise_conv2d): the kernel has shape kernel_size + (input
    channels, depth_multiplier), the output input channels *
    depth_multiplier channels."""

    rank = 2

    def __init__(self, kernel_size, strides=(1, 1), padding="valid",
                 depth_multiplier=1, data_format=None, dilation_rate=(1, 1),
                 activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, name=None,
                 **kwargs):
        super().__init__(kernel_size, strides, padding, data_format,
                         dilation_rate, activation, use_bias,
                         depthwise_initializer, bias_initializer,
                         activity_regularizer, name,
                         dict(depthwise_regularizer=depthwise_regularizer,
                              bias_regularizer=bias_regularizer,
                              depthwise_constraint=depthwise_constraint,
                              bias_constraint=bias_constraint), kwargs)
        self.depth_multiplier = depth_multiplier
        self._positive("depth_multiplier", depth_multiplier)

    @property
    def depthwise_initializer(self):
        return self.kernel_initializer

    def _kernel_shape(self, channels):
        return self.kernel_size + (channels, self.depth_multiplier)

    def _units(self, channels):
        return channels * self.depth_multiplier

    def call(self, inputs):
        self._require_built()
        channels = self.kernel.shape[-2]
        self._check_input(inputs, channels)
        fmt = self._tf_format()
        s = list(self.strides)
        strides = [1] + s + [1] if fmt == "NHWC" else [1, 1] + s
        y = _nn.depthwise_conv2d(inputs, self.kernel, strides=strides,
                                 padding=self.padding.upper(),
                                 data_format=fmt,
                                 dilations=list(self.dilation_rate))
        return self._finish(y, self._units(channels))

    def compute_output_shape(self, input_shape):
        shape = _shape_tuple(self, input_shape)
        channels = shape[self._channel_axis()] if shape else None
        filters = None if channels is None else self._units(channels)
        return _conv_output_shape(shape, filters, self.kernel_size,
                                  self.strides, self.padding,
                                  self.data_format, self.dilation_rate)

    def get_config(self):
        config = super().get_config()
        config["depthwise_initializer"] = config.pop("kernel_initializer")
        return {**config, "depth_multiplier": self.depth_multiplier}


class BatchNormalization(Layer):
    """Normalizes over every axis but `axis`: with the batch's statistics
    when training (and moves the moving ones toward them by `momentum`),
    with the moving statistics otherwise."""

    _single_input = True

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
            self.gamma = self.add_weight(shape=dim, initializer=gamma,
                                         name="gamma")
        if self.center:
            self.beta = self.add_weight(shape=dim, initializer=beta,
                                        name="beta")
        self.moving_mean = self.add_weight(shape=dim, initializer=mmean,
                                           trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight(shape=dim, initializer=mvar,
                                               trainable=False,
                                               name="moving_variance")
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

    _single_input = True

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
            self.gamma = self.add_weight(shape=dims,
                                         initializer=self.gamma_initializer,
                                         name="gamma")
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(shape=dims,
                                        initializer=self.beta_initializer,
                                        name="beta")
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

    _single_input = True

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

    def _get_rng_state(self):
        """[seed, calls]: what the model file saves, as Keras saves its
        SeedGenerator's state variable, so that training resumed from a
        loaded model draws the masks the original would have."""
        return _np.array([self._seed, self._calls], dtype=_np.uint64)

    def _set_rng_state(self, state):
        self._seed, self._calls = int(state[0]), int(state[1])

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class Embedding(Layer):
    """Rows of the (input_dim, output_dim) weight `embeddings` for integer
    indices (tf.gather, so the gradient scatter-adds rows).  Non-integer
    indices are cast to int32, as Keras does."""

    _single_input = True

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
            shape=[self.input_dim, self.output_dim],
            initializer=self.embeddings_initializer, name="embeddings")
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
        """The mask of the output: where the input differs from 0, when
        mask_zero is set; None otherwise."""
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

    _single_input = True

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

    _single_input = True

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

    _single_input = True

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

    _single_input = True

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


from ._functional import Input, InputLayer  # noqa: E402  (they subclass Layer)


# ---- pooling and reshaping --------------------------------------------------
def _data_format(value):
    """Keras' standardize_data_format (None: channels_last)."""
    fmt = "channels_last" if value is None else str(value).lower()
    if fmt not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of "
                         "{'channels_first', 'channels_last'}. Received: "
                         "data_format=%s" % fmt)
    return fmt


def _pool_padding(value):
    pad = str(value).lower()
    if pad not in ("valid", "same"):
        raise ValueError("The `padding` argument must be a list/tuple or one "
                         "of {'valid', 'same'}. Received: %s" % pad)
    return pad


class _Pooling(Layer):
    """Max or average pooling over `_rank` spatial axes: Keras 3's
    BasePooling.  Computed by tf.nn.max_pool / avg_pool (the op-table rows
    of src/ops_pool.c), whose SAME average divides by the in-bounds count
    as Keras' TF backend does."""

    _single_input = True
    _rank = 2
    _mode = "max"

    def __init__(self, pool_size, strides=None, padding="valid",
                 data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        n = self._rank
        self.pool_size = _standardize_tuple(pool_size, n, "pool_size")
        self.strides = (self.pool_size if strides is None
                        else _standardize_tuple(strides, n, "strides"))
        self.padding = _pool_padding(padding)
        self.data_format = _data_format(data_format)
        self.built = True

    def _check_rank(self, shape):
        if len(shape) != self._rank + 2:
            raise _incompatible(self, "expected ndim=%d, found ndim=%d. Full "
                                "shape received: " % (self._rank + 2,
                                                      len(shape)), shape)

    def call(self, inputs):
        inputs = self._convert_input(inputs)
        self._check_rank(inputs.shape)
        formats = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"),
                   3: ("NDHWC", "NCDHW")}[self._rank]
        fmt = formats[self.data_format == "channels_first"]
        pool = _nn.max_pool if self._mode == "max" else _nn.avg_pool
        return pool(inputs, list(self.pool_size), list(self.strides),
                    self.padding.upper(), data_format=fmt)

    def compute_output_shape(self, input_shape):
        shape = _shape_tuple(self, input_shape)
        self._check_rank(shape)
        last = self.data_format == "channels_last"
        spatial = shape[1:-1] if last else shape[2:]
        out = []
        for size, k, s in zip(spatial, self.pool_size, self.strides):
            if size is None:
                out.append(None)
            elif self.padding == "valid":
                n = (size - k) // s + 1
                if n < 0:
                    raise ValueError(
                        "Computed output size would be negative. Received: "
                        "`inputs.shape=%s` and `pool_size=%s`."
                        % (_np.array(shape), _np.array(self.pool_size)))
                out.append(n)
            else:
                out.append((size - 1) // s + 1)
        if last:
            return (shape[0],) + tuple(out) + (shape[-1],)
        return (shape[0], shape[1]) + tuple(out)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size,
                "padding": self.padding, "strides": self.strides,
                "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    """The maximum of each window of `pool_size` steps (batch, steps,
    features)."""

    _rank, _mode = 1, "max"

    def __init__(self, pool_size=2, strides=None, padding="valid",
                 data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name,
                         **kwargs)


class MaxPooling2D(_Pooling):
    """The maximum of each `pool_size` window of (batch, rows, cols,
    channels)."""

    _rank, _mode = 2, "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid",
                 data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name,
                         **kwargs)


class MaxPooling3D(_Pooling):
    """The maximum of each `pool_size` window of (batch, d1, d2, d3,
    channels)."""

    _rank, _mode = 3, "max"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid",
                 data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name,
                         **kwargs)


class AveragePooling1D(_Pooling):
    """The mean of each window of `pool_size` steps; with "same" padding,
    over the window's in-bounds steps."""

    _rank, _mode = 1, "avg"

    def __init__(self, pool_size, strides=None, padding="valid",
                 data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name,
                         **kwargs)


class AveragePooling2D(_Pooling):
    """The mean of each `pool_size` window (in-bounds elements only)."""

    _rank, _mode = 2, "avg"

    def __init__(self, pool_size, strides=None, padding="valid",
                 data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name,
                         **kwargs)


class AveragePooling3D(_Pooling):
    """The mean of each `pool_size` window (in-bounds elements only)."""

    _rank, _mode = 3, "avg"

    def __init__(self, pool_size, strides=None, padding="valid",
                 data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name,
                         **kwargs)


class _GlobalPooling(Layer):
    """The max or mean over every spatial axis: (batch, ..., channels) ->
    (batch, channels), or with `keepdims` the spatial axes kept as 1s."""

    _single_input = True
    _rank = 2
    _mode = "avg"

    def __init__(self, data_format=None, keepdims=False, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.data_format = _data_format(data_format)
        self.keepdims = keepdims
        self.built = True

    def _axes(self):
        first = 1 if self.data_format == "channels_last" else 2
        return list(range(first, first + self._rank))

    def call(self, inputs):
        inputs = self._convert_input(inputs)
        if len(inputs.shape) != self._rank + 2:
            raise _incompatible(self, "expected ndim=%d, found ndim=%d. Full "
                                "shape received: " % (self._rank + 2,
                                                      len(inputs.shape)),
                                inputs.shape)
        reduce = _math.reduce_max if self._mode == "max" else \
            _math.reduce_mean
        return reduce(inputs, axis=self._axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        shape = _shape_tuple(self, input_shape)
        if len(shape) != self._rank + 2:
            raise _incompatible(self, "expected ndim=%d, found ndim=%d. Full "
                                "shape received: " % (self._rank + 2,
                                                      len(shape)), shape)
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(shape))
        return tuple(d for i, d in enumerate(shape) if i not in axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over the steps: (batch, steps, features) -> (batch,
    features); with a (batch, steps) `mask`, over the unmasked steps
    only (Keras' weighted mean)."""

    _rank, _mode = 1, "avg"

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        inputs = self._convert_input(inputs)
        last = self.data_format == "channels_last"
        m = C.cast(C.convert_to_tensor(mask), inputs.dtype)
        m = C.expand_dims(m, 2 if last else 1)
        axis = 1 if last else 2
        total = _math.reduce_sum(inputs * m, axis=axis,
                                 keepdims=self.keepdims)
        return total / _math.reduce_sum(m, axis=axis, keepdims=self.keepdims)


class GlobalAveragePooling2D(_GlobalPooling):
    """The mean over rows and columns."""

    _rank, _mode = 2, "avg"


class GlobalAveragePooling3D(_GlobalPooling):
    """The mean over the three spatial axes."""

    _rank, _mode = 3, "avg"


class GlobalMaxPooling1D(_GlobalPooling):
    """The maximum over the steps."""

    _rank, _mode = 1, "max"


class GlobalMaxPooling2D(_GlobalPooling):
    """The maximum over rows and columns."""

    _rank, _mode = 2, "max"


class GlobalMaxPooling3D(_GlobalPooling):
    """The maximum over the three spatial axes."""

    _rank, _mode = 3, "max"


def _reshape_output_shape(input_shape, target):
    """Keras' compute_reshape_output_shape for the axes after the batch:
    the one -1 takes what the others leave."""
    if None in input_shape:
        return tuple(None if d == -1 else d for d in target)
    size = _pymath.prod(input_shape)
    if -1 not in target:
        if size != _pymath.prod(target):
            raise ValueError("The total size of the tensor must be unchanged. "
                             "Received: input_shape=%s, target_shape=%s"
                             % (input_shape, target))
        return target
    known = _pymath.prod(d for d in target if d != -1)
    if known == 0 or size % known:
        raise ValueError(
            "The total size of the tensor must be unchanged, however, the "
            "input size cannot by divided by the specified dimensions in "
            "target_shape. Received: input_shape=%s, target_shape=%s"
            % (input_shape, target))
    return tuple(size // known if d == -1 else d for d in target)


class Reshape(Layer):
    """(batch, ...) -> (batch,) + target_shape; one entry may be -1."""

    _single_input = True

    def __init__(self, target_shape, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        target = tuple(target_shape)
        if target.count(-1) > 1:
            raise ValueError("The `target_shape` argument must not contain "
                             "more than one `-1` value. Received: "
                             "target_shape=%s" % (target,))
        self.target_shape = target
        self.built = True

    def call(self, inputs):
        inputs = self._convert_input(inputs)
        shape = tuple(inputs.shape)
        rest = _reshape_output_shape(shape[1:], self.target_shape)
        return C.reshape(inputs, (shape[0],) + rest)

    def compute_output_shape(self, input_shape):
        shape = _shape_tuple(self, input_shape)
        return (shape[0],) + _reshape_output_shape(shape[1:],
                                                   self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


# Keras' short names for the pooling layers (the same classes)
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = (AveragePooling1D, AveragePooling2D,
                                   AveragePooling3D)
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D)
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = (
    GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D)
__all__ += ["MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D",
            "AvgPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D",
            "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D",
            "GlobalMaxPool3D"]
