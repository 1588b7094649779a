"""tapegrad.autodiff: TF's ``tf.autodiff`` namespace.

``ForwardAccumulator`` computes Jacobian-vector products in forward mode
(src/forward.c); ``GradientTape`` is the same class as
``tapegrad.GradientTape``, as in TF.
"""
from ._tapegrad import ForwardAccumulator, GradientTape  # noqa: F401

__all__ = ["ForwardAccumulator", "GradientTape"]
