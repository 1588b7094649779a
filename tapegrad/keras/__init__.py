"""tapegrad.keras: the parts of tf.keras (Keras 3) that code around the
tape uses: layers (Dense, BatchNormalization), activations and
initializers by name, losses and metrics.  Layers are tapegrad Modules,
so a Module holding one finds its variables."""
from . import activations, initializers, layers, losses, metrics  # noqa: F401

__all__ = ["activations", "initializers", "layers", "losses", "metrics"]
