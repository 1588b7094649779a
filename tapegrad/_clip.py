"""clip_by_global_norm and linalg.global_norm, composed of op-table rows
as TF's clip_ops.py composes them (l2_loss per tensor, stack, sum, sqrt;
scale = clip_norm * minimum(1 / norm, 1 / clip_norm), plus norm - norm so
an infinite or NaN norm makes every clipped tensor NaN), so gradients,
second order and forward mode are the rows' and match TF's.
"""
from collections import abc as _abc

from . import _tapegrad as C
from . import nn as _nn

__all__ = ["clip_by_global_norm", "global_norm"]


def _sequence(t_list):
    if not isinstance(t_list, _abc.Sequence) or isinstance(t_list, str):
        raise TypeError("`t_list` should be a sequence of tensors. "
                        "Received %s." % type(t_list))
    return [None if t is None else
            t if isinstance(t, (C.Tensor, C.Variable)) else
            C.convert_to_tensor(t) for t in t_list]


def global_norm(t_list, name=None):
    """sqrt(sum of squares of every element of every tensor), None
    entries ignored (0.0 when there is no tensor)."""
    values = [t for t in _sequence(t_list) if t is not None]
    if not values:
        return C.zeros([], C.float32)      # TF: the sum of an empty stack
    half_squared = C.reduce_sum(C.stack([_nn.l2_loss(v) for v in values]))
    return C.sqrt(half_squared * C.constant(2.0, dtype=half_squared.dtype))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """(list_clipped, global_norm): each tensor times
    clip_norm / max(global_norm, clip_norm); None entries stay None; an
    infinite or NaN norm gives NaN tensors.  `use_norm`, when given, is
    the norm used."""
    values = _sequence(t_list)
    if use_norm is None:
        use_norm = global_norm(values)
    elif not isinstance(use_norm, (C.Tensor, C.Variable)):
        use_norm = C.convert_to_tensor(use_norm, dtype_hint=C.float32)
    scale_for_finite = clip_norm * C.minimum(
        1.0 / use_norm, C.constant(1.0, dtype=use_norm.dtype) / clip_norm)
    scale = scale_for_finite + (use_norm - use_norm)
    clipped = [None if v is None else C.identity(v * C.cast(scale, v.dtype))
               for v in values]
    return clipped, use_norm


