"""KerasTensor: the symbolic placeholder of Keras' functional API (a shape
with None for unknown dimensions, and a dtype), what keras.Input returns
and what a layer called on one returns.  Layer.__call__ checks for it on
every call, so it lives apart from the rest of the functional API
(_functional.py)."""
from ..dtypes import as_dtype as _as_dtype

__all__ = ["KerasTensor", "is_symbolic"]

_counts = {}


def _auto_name(base):
    n = _counts.get(base, 0)
    _counts[base] = n + 1
    return base if n == 0 else "%s_%d" % (base, n)


_SYMBOLIC_MESSAGE = (
    "A KerasTensor cannot be used as input to a TensorFlow function. A "
    "KerasTensor is a symbolic placeholder for a shape and dtype, used when "
    "constructing Keras Functional models or Keras Functions. You can only "
    "use it as input to a Keras layer or a Keras operation (from the "
    "namespaces `keras.layers` and `keras.ops`). You are likely doing "
    "something like:\n\n```\nx = Input(...)\n...\ntf_fn(x)  # Invalid.\n```"
    "\n\nWhat you should do instead is wrap `tf_fn` in a layer:\n\n```\n"
    "class MyLayer(Layer):\n    def call(self, x):\n        return tf_fn(x)"
    "\n\nx = MyLayer()(x)\n```\n")


class KerasTensor:
    """A symbolic tensor: `shape` (a tuple, None where unknown), `dtype`
    (its name, as Keras 3 gives it) and `name`.  `_keras_history` is
    (layer, node index, tensor index) of the call that made it."""

    def __init__(self, shape, dtype="float32", sparse=False, ragged=False,
                 name=None):
        self._shape = tuple(None if d is None else int(d) for d in shape)
        self._dtype = _as_dtype(dtype).name
        if sparse or ragged:
            raise ValueError("tapegrad has no sparse or ragged tensors "
                             "(sparse=%r, ragged=%r)" % (sparse, ragged))
        self.sparse = False
        self.ragged = False
        self.name = name or _auto_name("keras_tensor")
        self._keras_history = None

    @property
    def shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def ndim(self):
        return len(self._shape)

    def __repr__(self):
        return ("<KerasTensor shape=%s, dtype=%s, sparse=%s, ragged=%s, "
                "name=%s>" % (self._shape, self._dtype, self.sparse,
                              self.ragged, self.name))

    def __iter__(self):
        raise NotImplementedError(
            "Iterating over a symbolic KerasTensor is not supported.")

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor cannot be used as a boolean.")

    def __array__(self, *args, **kwargs):
        raise ValueError(_SYMBOLIC_MESSAGE)

    def numpy(self):
        """Raises ValueError: a symbolic KerasTensor has no value until the
        model is called on real data."""
        raise ValueError(_SYMBOLIC_MESSAGE)


def is_symbolic(x):
    """Whether `x` is a KerasTensor or a list, tuple or dict holding one."""
    if type(x) is KerasTensor:
        return True
    if isinstance(x, (list, tuple)):
        return any(is_symbolic(v) for v in x)
    if isinstance(x, dict):
        return any(is_symbolic(v) for v in x.values())
    return False
