"""tf.function, tf.TensorSpec and tf.device for code ported from TF 2.

tapegrad is eager: there is no graph to trace.  ``@tf.function`` (with or
without arguments) returns a callable that runs the Python function
itself, so results, gradients and printing are the eager ones, which is
what TF gives under ``tf.config.run_functions_eagerly(True)``.  An
``input_signature`` is checked as TF checks it (count, dtype, shape).
``tf.device`` accepts every device string and runs on the CPU, as TF's
soft placement does on a machine without accelerators.
"""
import functools

__all__ = ["function", "TensorSpec", "device"]

_run_eagerly = [False]   # tf.config.run_functions_eagerly's flag


def run_functions_eagerly(run_eagerly):
    """TF's switch between tracing and eager execution.  tapegrad always
    runs eagerly; the flag is kept so that code reading it back works."""
    _run_eagerly[0] = bool(run_eagerly)


def functions_run_eagerly():
    """Whether tf.function runs its functions eagerly: always in effect in
    tapegrad; this reports the flag run_functions_eagerly set."""
    return _run_eagerly[0]


class TensorSpec:
    """The shape and dtype a tensor argument must have (TF's TensorSpec).
    ``None`` as the shape, or as a dimension, matches anything."""

    __slots__ = ("_shape", "_dtype", "_name")

    def __init__(self, shape, dtype=None, name=None):
        from . import _tapegrad as C
        if dtype is None:
            dtype = C.float32
        elif not isinstance(dtype, C.DType):
            # the one dtype= parser (names, NumPy dtypes, tapegrad DTypes)
            dtype = C.zeros((), dtype=dtype).dtype
        if shape is None:
            dims = None
        else:
            dims = tuple(None if d is None else int(d) for d in _dims(shape))
        self._shape = dims
        self._dtype = dtype
        self._name = name

    @property
    def shape(self):
        from ._shape import TensorShape
        return TensorShape(self._shape)

    @property
    def dtype(self):
        return self._dtype

    @property
    def name(self):
        return self._name

    def is_compatible_with(self, value):
        """True if `value` (a Tensor, Variable or TensorSpec) could be
        passed where this spec is expected."""
        dtype = getattr(value, "dtype", None)
        shape = getattr(value, "shape", None)
        if dtype != self._dtype:
            return False
        return _shape_compatible(self._shape, _dims_or_none(shape))

    def __eq__(self, other):
        return (isinstance(other, TensorSpec) and self._shape == other._shape
                and self._dtype == other._dtype and self._name == other._name)

    def __hash__(self):
        return hash((self._shape, self._dtype, self._name))

    def __repr__(self):
        return "TensorSpec(shape=%s, dtype=tapegrad.%s, name=%r)" % (
            self.shape, self._dtype.name, self._name)


def _dims(shape):
    if hasattr(shape, "as_list"):
        shape = shape.as_list()
    if isinstance(shape, int):
        return (shape,)
    return tuple(shape)


def _dims_or_none(shape):
    if shape is None:
        return None
    if hasattr(shape, "rank") and shape.rank is None:
        return None
    return tuple(None if d is None else int(d) for d in _dims(shape))


def _shape_compatible(want, got):
    if want is None or got is None:
        return True
    if len(want) != len(got):
        return False
    return all(a is None or b is None or a == b for a, b in zip(want, got))


class Function:
    """What ``tf.function`` returns: calls the wrapped Python function
    eagerly.  ``python_function`` and ``input_signature`` are TF's
    attributes; used on a method, it binds like one."""

    def __init__(self, python_function, input_signature=None, **options):
        if input_signature is not None:
            input_signature = list(input_signature)
            from ._control_flow import _flatten
            for spec in _flatten(input_signature):
                if not isinstance(spec, TensorSpec):
                    raise TypeError(
                        "input_signature must be a possibly nested sequence "
                        "of TensorSpec objects, got invalid args %r with "
                        "types %r." % (spec, type(spec).__name__))
        self._python_function = python_function
        self._input_signature = input_signature
        self._options = options
        functools.update_wrapper(self, python_function)

    @property
    def python_function(self):
        return self._python_function

    @property
    def input_signature(self):
        return self._input_signature

    def __call__(self, *args, **kwargs):
        if self._input_signature is not None:
            args = self._check_signature(args, kwargs)
        return self._python_function(*args, **kwargs)

    def _check_signature(self, args, kwargs):
        """The arguments as the function gets them: Python values become
        tensors of their spec's dtype, as TF converts them."""
        from . import _tapegrad as C
        sig = self._input_signature
        if kwargs or len(args) != len(sig):
            raise TypeError(
                "%s() got %d positional and %d keyword arguments, but its "
                "input_signature has %d: %r" % (
                    self.__name__, len(args), len(kwargs), len(sig), sig))
        out = list(args)
        for i, (arg, spec) in enumerate(zip(args, sig)):
            if isinstance(spec, TensorSpec):
                value = arg
                if not isinstance(arg, (C.Tensor, C.Variable)):
                    try:
                        value = C.convert_to_tensor(arg, dtype=spec.dtype)
                    except (TypeError, ValueError) as e:
                        raise TypeError(
                            "%s(): argument %d, %r, does not match its "
                            "input_signature %r: %s" % (
                                self.__name__, i, arg, spec, e)) from None
                if not spec.is_compatible_with(value):
                    raise TypeError(
                        "%s(): argument %d (shape %s, dtype tapegrad.%s) is "
                        "not compatible with its input_signature %r" % (
                            self.__name__, i, tuple(value.shape),
                            value.dtype.name, spec))
                out[i] = value
        return out

    def __get__(self, instance, owner=None):
        """On a method: bound to the instance, the input_signature
        describing the arguments after `self` (as TF's)."""
        if instance is None:
            return self

        def bound(*args, **kwargs):
            if self._input_signature is not None:
                args = self._check_signature(args, kwargs)
            return self._python_function(instance, *args, **kwargs)
        functools.update_wrapper(bound, self._python_function)
        return bound

    def __repr__(self):
        return "<tapegrad.function %s (runs eagerly)>" % getattr(
            self._python_function, "__qualname__", self._python_function)


def function(func=None, input_signature=None, autograph=True,
             jit_compile=None, reduce_retracing=False,
             experimental_implements=None, experimental_autograph_options=None,
             experimental_attributes=None, experimental_relax_shapes=None,
             experimental_compile=None, experimental_follow_type_hints=None):
    """TF's ``tf.function``, as a decorator with or without arguments.
    tapegrad is eager: the decorated function runs as plain Python (TF's
    values, recorded by any active tape); the tracing options are accepted
    and have nothing to do."""
    options = dict(autograph=autograph, jit_compile=jit_compile,
                   reduce_retracing=reduce_retracing)

    def wrap(f):
        if isinstance(f, Function):
            f = f.python_function
        return Function(f, input_signature=input_signature, **options)

    if func is None:
        return wrap
    return wrap(func)


class device:
    """``with tf.device('/GPU:0'):`` -- every device string is accepted and
    the work runs on the CPU (TF's soft placement on a CPU-only machine)."""

    def __init__(self, device_name):
        if device_name is not None and not isinstance(device_name, str):
            raise TypeError("tf.device does not support functions when "
                            "eager execution is enabled.")
        self._name = device_name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
