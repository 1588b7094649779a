"""tapegrad.keras: the parts of tf.keras (Keras 3) that code around the
tape uses: layers (Dense, Conv2D, BatchNormalization, LayerNormalization,
Dropout, Embedding, Flatten, Activation, ReLU, Softmax, the pooling
layers, Reshape), activations and
initializers by name, losses and metrics, optimizers (their updates in C,
src/optim.c), Model and Sequential with compile / fit, the functional API
(keras.Input, Model(inputs, outputs)), keras.saving's registry and the
`.keras` model file (model.save, keras.models.load_model).  Layers
are tapegrad Modules, so a Module holding one finds its variables."""
from . import (activations, initializers, layers, losses,  # noqa: F401
               metrics, models, optimizers, saving)
from ._keras_tensor import KerasTensor  # noqa: F401
from .layers import Input, InputLayer  # noqa: F401
from .models import Model, Sequential  # noqa: F401

__all__ = ["activations", "initializers", "layers", "losses", "metrics",
           "models", "optimizers", "saving", "Input", "KerasTensor", "Model",
           "Sequential"]
