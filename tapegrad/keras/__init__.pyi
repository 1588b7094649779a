from . import activations as activations, initializers as initializers, layers as layers, losses as losses, metrics as metrics, models as models, optimizers as optimizers, saving as saving
from ._keras_tensor import KerasTensor as KerasTensor
from .layers import Input as Input
from .models import Model as Model, Sequential as Sequential
__all__ = ['activations', 'initializers', 'layers', 'losses', 'metrics', 'models', 'optimizers', 'saving', 'Input', 'KerasTensor', 'Model', 'Sequential']
