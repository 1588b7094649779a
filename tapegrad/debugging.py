"""tapegrad.debugging: switches that help find out why a gradient is None.

    tf.debugging.enable_none_gradient_warnings()
    ...  # every GradientTape.gradient that returns None for a source now
    ...  # warns (NoneGradientWarning) with tape.explain's paragraph for it
    tf.debugging.disable_none_gradient_warnings()

While off, GradientTape.gradient checks one C flag and nothing else.
"""
from . import _tapegrad as _C
from ._explain import NoneGradientWarning


def enable_none_gradient_warnings():
    """Warn (NoneGradientWarning) whenever a gradient comes back None,
    saying why, as tape.explain would."""
    _C._none_gradient_warnings(True)


def disable_none_gradient_warnings():
    """Stop the warnings enable_none_gradient_warnings() started."""
    _C._none_gradient_warnings(False)


__all__ = ["NoneGradientWarning", "enable_none_gradient_warnings",
           "disable_none_gradient_warnings"]
