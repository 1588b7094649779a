"""TensorShape: what ``.shape`` returns, as TF's.

A tuple subclass, so that it costs what a tuple costs (the C core builds
it directly: src/tensor.c), indexes to ints, iterates, unpacks and
converts to NumPy like one, and still has TF's API: ``as_list()``,
``rank``, ``num_elements()``, ``dims``, ``is_fully_defined()``,
``concatenate``, ``with_rank_at_least``..., ``==`` with tuples and lists,
and TF's printing (``print(s)`` gives ``(7, 10)``, ``repr(s)``
``TensorShape([7, 10])``).  A shape of unknown rank (a ``TensorSpec``
with ``shape=None``) is ``TensorShape(None)``.
"""

__all__ = ["TensorShape"]


def _dim(d):
    if d is None:
        return None
    if hasattr(d, "value"):          # TF's Dimension, or a wrapped int
        d = d.value
        if d is None:
            return None
    try:
        v = int(d.__index__()) if hasattr(d, "__index__") else None
    except TypeError:
        v = None
    if v is None:
        if hasattr(d, "shape") and tuple(getattr(d, "shape", ())) == ():
            v = int(d)               # a rank-0 integer tensor
        else:
            raise TypeError("Dimension value must be integer or None or have "
                            "an __index__ method, got value '%r' with type "
                            "'%s'" % (d, type(d).__name__))
    if v < 0:
        raise ValueError("Dimension %d must be >= 0" % v)
    return v


class TensorShape(tuple):
    """The shape of a tensor: a tuple of ints (``None`` for an unknown
    dimension), with TF's TensorShape API."""

    __slots__ = ()

    def __new__(cls, dims=()):
        if dims is None:
            return tuple.__new__(_UnknownShape)
        if isinstance(dims, TensorShape):
            return dims
        if isinstance(dims, int) or hasattr(dims, "__index__") and not \
                hasattr(dims, "__len__"):
            dims = (dims,)
        return tuple.__new__(cls, (_dim(d) for d in dims))

    # ---- TF's API --------------------------------------------------------
    @property
    def rank(self):
        return len(self)

    @property
    def ndims(self):
        return len(self)

    @property
    def dims(self):
        return list(self)

    def as_list(self):
        """The dimensions as a list (None for unknown ones)."""
        return list(self)

    def num_elements(self):
        """The number of elements, or None if a dimension is unknown."""
        n = 1
        for d in self:
            if d is None:
                return None
            n *= d
        return n

    def is_fully_defined(self):
        """Whether every dimension is known."""
        return None not in self

    def assert_is_fully_defined(self):
        """Raise ValueError unless every dimension is known."""
        if not TensorShape.is_fully_defined(self):
            raise ValueError("Shape %s is not fully defined" % self)

    def is_compatible_with(self, other):
        """Whether the two shapes could describe the same tensor: same rank,
        and equal dimensions wherever both are known."""
        other = TensorShape(other)
        if other.rank is None:
            return True
        return len(self) == len(other) and all(
            a is None or b is None or a == b for a, b in zip(self, other))

    def assert_is_compatible_with(self, other):
        """Raise ValueError unless the shapes are compatible."""
        if not TensorShape.is_compatible_with(self, other):
            raise ValueError("Shapes %s and %s are incompatible"
                             % (self, TensorShape(other)))

    def merge_with(self, other):
        """The shape combining what both know; ValueError if they are
        incompatible."""
        other = TensorShape(other)
        if other.rank is None:
            return self
        TensorShape.assert_is_compatible_with(self, other)
        return TensorShape([a if a is not None else b
                            for a, b in zip(self, other)])

    def concatenate(self, other):
        """This shape's dimensions followed by `other`'s."""
        other = TensorShape(other)
        if other.rank is None:
            return TensorShape(None)
        return TensorShape(tuple(self) + tuple(other))

    def with_rank(self, rank):
        """This shape, if its rank is `rank`; ValueError otherwise."""
        if len(self) != rank:
            raise ValueError("Shape %s must have rank %d" % (self, rank))
        return self

    def with_rank_at_least(self, rank):
        """This shape, if its rank is at least `rank`; ValueError otherwise."""
        if len(self) < rank:
            raise ValueError("Shape %s must have rank at least %d"
                             % (self, rank))
        return self

    def with_rank_at_most(self, rank):
        """This shape, if its rank is at most `rank`; ValueError otherwise."""
        if len(self) > rank:
            raise ValueError("Shape %s must have rank at most %d"
                             % (self, rank))
        return self

    # ---- sequence behaviour --------------------------------------------------
    # __getitem__ (an int for an index, a TensorShape for a slice) is set
    # in C by _tapegrad._set_shape_type: shape[0] is an inner-loop idiom.

    def __add__(self, other):
        return TensorShape.concatenate(self, other)

    def __radd__(self, other):
        return TensorShape(other).concatenate(self)

    def __mul__(self, other):
        return NotImplemented   # TF's TensorShape has no repetition

    __rmul__ = __mul__

    def __eq__(self, other):
        if isinstance(other, _UnknownShape):
            return False
        if isinstance(other, (tuple, list)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = tuple.__hash__

    def __bool__(self):
        return True    # TF: a shape is truthy even when it is ()

    def __reduce__(self):
        return (TensorShape, (list(self),))

    def __repr__(self):
        return "TensorShape(%s)" % list(self)

    def __str__(self):
        if len(self) == 1:
            return "(%s,)" % self._text(self[0])
        return "(%s)" % ", ".join(self._text(d) for d in self)

    @staticmethod
    def _text(d):
        return "None" if d is None else str(d)


class _UnknownShape(TensorShape):
    """TensorShape(None): nothing is known, not even the rank."""

    __slots__ = ()

    @property
    def rank(self):
        return None

    @property
    def ndims(self):
        return None

    @property
    def dims(self):
        return None

    def as_list(self):
        raise ValueError("as_list() is not defined on an unknown TensorShape.")

    def num_elements(self):
        return None

    def is_fully_defined(self):
        return False

    def is_compatible_with(self, other):
        return True

    def concatenate(self, other):
        return self

    def __len__(self):
        raise ValueError("Cannot take the length of shape with unknown rank.")

    def __iter__(self):
        raise ValueError("Cannot iterate over a shape with unknown rank.")

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = tuple.__hash__

    def __repr__(self):
        return "TensorShape(None)"

    def __str__(self):
        return "<unknown>"
