"""What Variables and Tensors need from Python: ``ref()``'s Reference,
the write behind ``v[1:, ::2].assign(x)``, and what pickles name to
rebuild them.  The C core calls these
(registered with ``_tapegrad._set_helper``); neither is per op.
"""
import numpy as np

from . import _tapegrad as C

__all__ = []


class Reference:
    """What ``x.ref()`` returns: hashable, equal to another Reference of
    the same object, and ``deref()`` gives the object back (TF's
    ``ops.Reference``; Tensors and Variables themselves are unhashable)."""

    __slots__ = ("_wrapped",)

    def __init__(self, wrapped):
        self._wrapped = wrapped

    def deref(self):
        return self._wrapped

    def __eq__(self, other):
        if not isinstance(other, Reference):
            return NotImplemented
        return self._wrapped is other._wrapped

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return id(self._wrapped)

    def __repr__(self):
        return "<Reference wrapping %r>" % (self._wrapped,)


def _shape_text(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def slice_assign(variable, key, value, op, read_value=True):
    """Write `value` into variable[key] (op: assign, assign_add,
    assign_sub), in place, as TF's ResourceStridedSliceAssign: the value
    must have the slice's shape exactly (TF does not broadcast here)."""
    new = np.array(variable.numpy())          # a writable copy
    target = new[key]
    v = C.convert_to_tensor(value, dtype=variable.dtype).numpy()
    if np.shape(v) != np.shape(target):
        raise C.InvalidArgumentError(
            "sliced l-value shape %s does not match r-value shape %s. "
            "Automatic broadcasting not yet implemented. "
            "[Op:ResourceStridedSliceAssign]"
            % (_shape_text(np.shape(target)), _shape_text(np.shape(v))))
    if op == "assign":
        new[key] = v
    elif op == "assign_add":
        new[key] = target + v
    else:
        new[key] = target - v
    variable.assign(new)
    return variable if read_value else None


def variable_from_state(value, trainable, name, dtype):
    """What an unpickled Variable is made by (the C ``__reduce__`` names
    it): a new Variable with that value, trainable flag, dtype and exact
    name (``'w:0'``, or a Keras weight's ``'kernel'``)."""
    v = C.Variable(value, trainable=trainable, dtype=dtype)
    C._set_variable_name(v, name)
    return v


C._set_helper("Reference", Reference)
C._set_helper("convert_to_tensor", C.convert_to_tensor)
C._set_helper("variable_from_state", variable_from_state)
C._set_helper("slice_assign", slice_assign)
