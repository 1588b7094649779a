"""tapegrad.experimental: the parts of ``tf.experimental`` tapegrad has."""
from . import dlpack  # noqa: F401

__all__ = ["dlpack"]
