from typing_extensions import Self
from tapegrad._tapegrad import Variable
from .._module import Module
from ._functional import Input as Input, InputLayer as InputLayer
from _typeshed import Incomplete
__all__ = ['Layer', 'Input', 'InputLayer', 'Dense', 'Conv1D', 'Conv2D', 'Conv3D', 'Conv2DTranspose', 'DepthwiseConv2D', 'BatchNormalization', 'LayerNormalization', 'Dropout', 'Embedding', 'Flatten', 'Activation', 'ReLU', 'Softmax', 'MaxPooling1D', 'MaxPooling2D', 'MaxPooling3D', 'AveragePooling1D', 'AveragePooling2D', 'AveragePooling3D', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalAveragePooling3D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'GlobalMaxPooling3D', 'Reshape', 'MaxPool1D', 'MaxPool2D', 'MaxPool3D', 'AvgPool1D', 'AvgPool2D', 'AvgPool3D', 'GlobalAvgPool1D', 'GlobalAvgPool2D', 'GlobalAvgPool3D', 'GlobalMaxPool1D', 'GlobalMaxPool2D', 'GlobalMaxPool3D']

class Layer(Module):

    def __new__(cls, *args: Incomplete, **kwargs: Incomplete) -> Self:
        ...
    built: bool
    trainable: Incomplete
    autocast: Incomplete

    def __init__(self, *, activity_regularizer: Incomplete=None, trainable: bool=True, dtype: Incomplete=None, autocast: bool=True, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    @property
    def dtype(self) -> Incomplete:
        ...

    @property
    def compute_dtype(self) -> Incomplete:
        ...

    @property
    def variable_dtype(self) -> Incomplete:
        ...

    def build(self, input_shape: Incomplete) -> None:
        ...

    # Keras' contract, so that a subclass's call may take its own
    # arguments (training=, mask=, more inputs); see the stubtest allowlist
    def call(self, inputs: Incomplete, /) -> Incomplete:
        ...

    def __call__(self, inputs: Incomplete, *args: Incomplete, **kwargs: Incomplete) -> Incomplete:
        ...

    def add_weight(self, *args: Incomplete, shape: Incomplete=None, initializer: Incomplete=None, dtype: Incomplete=None, trainable: bool=True, autocast: bool=True, regularizer: Incomplete=None, constraint: Incomplete=None, aggregation: str='none', overwrite_with_gradient: bool=False, name: Incomplete=None) -> Variable:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> None:
        ...

    def count_params(self) -> Incomplete:
        ...

    def get_config(self) -> Incomplete:
        ...

    @classmethod
    def from_config(cls, config: Incomplete) -> Incomplete:
        ...

    def get_build_config(self) -> Incomplete:
        ...

    def build_from_config(self, config: Incomplete) -> None:
        ...

    @property
    def variables(self) -> list[Variable]:
        ...

    @property
    def trainable_variables(self) -> list[Variable]:
        ...

    @property
    def non_trainable_variables(self) -> list[Variable]:
        ...

    @property
    def weights(self) -> list[Variable]:
        ...

    @property
    def trainable_weights(self) -> list[Variable]:
        ...

    @property
    def non_trainable_weights(self) -> list[Variable]:
        ...

    def get_weights(self) -> Incomplete:
        ...

    def set_weights(self, weights: Incomplete) -> None:
        ...

class Dense(Layer):
    units: Incomplete
    activation: Incomplete
    use_bias: Incomplete
    kernel_initializer: Incomplete
    bias_initializer: Incomplete
    kernel: Incomplete
    bias: Incomplete

    def __init__(self, units: Incomplete, activation: Incomplete=None, use_bias: bool=True, kernel_initializer: Incomplete='glorot_uniform', bias_initializer: Incomplete='zeros', kernel_regularizer: Incomplete=None, bias_regularizer: Incomplete=None, activity_regularizer: Incomplete=None, kernel_constraint: Incomplete=None, bias_constraint: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def call(self, inputs: Incomplete) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class _ConvBase(Layer):
    rank: Incomplete
    kernel_size: Incomplete
    strides: Incomplete
    dilation_rate: Incomplete
    padding: Incomplete
    data_format: Incomplete
    activation: Incomplete
    use_bias: Incomplete
    kernel_initializer: Incomplete
    bias_initializer: Incomplete
    kernel: Incomplete
    bias: Incomplete

    def __init__(self, kernel_size: Incomplete, strides: Incomplete, padding: Incomplete, data_format: Incomplete, dilation_rate: Incomplete, activation: Incomplete, use_bias: Incomplete, kernel_initializer: Incomplete, bias_initializer: Incomplete, activity_regularizer: Incomplete, name: Incomplete, refused: Incomplete, kwargs: Incomplete) -> None:
        ...

class _Conv(_ConvBase):
    filters: Incomplete
    groups: Incomplete

    def __init__(self, filters: Incomplete, kernel_size: Incomplete, strides: Incomplete=1, padding: str='valid', data_format: Incomplete=None, dilation_rate: Incomplete=1, groups: int=1, activation: Incomplete=None, use_bias: bool=True, kernel_initializer: Incomplete='glorot_uniform', bias_initializer: Incomplete='zeros', kernel_regularizer: Incomplete=None, bias_regularizer: Incomplete=None, activity_regularizer: Incomplete=None, kernel_constraint: Incomplete=None, bias_constraint: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def call(self, inputs: Incomplete) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class Conv1D(_Conv):
    rank: int

class Conv2D(_Conv):
    rank: int

    def __init__(self, filters: Incomplete, kernel_size: Incomplete, strides: Incomplete=(1, 1), padding: str='valid', data_format: Incomplete=None, dilation_rate: Incomplete=(1, 1), groups: int=1, **kwargs: Incomplete) -> None:
        ...

class Conv3D(_Conv):
    rank: int

    def __init__(self, filters: Incomplete, kernel_size: Incomplete, strides: Incomplete=(1, 1, 1), padding: str='valid', data_format: Incomplete=None, dilation_rate: Incomplete=(1, 1, 1), groups: int=1, **kwargs: Incomplete) -> None:
        ...

class Conv2DTranspose(_ConvBase):
    rank: int
    filters: Incomplete
    output_padding: Incomplete

    def __init__(self, filters: Incomplete, kernel_size: Incomplete, strides: Incomplete=(1, 1), padding: str='valid', output_padding: Incomplete=None, data_format: Incomplete=None, dilation_rate: Incomplete=(1, 1), activation: Incomplete=None, use_bias: bool=True, kernel_initializer: Incomplete='glorot_uniform', bias_initializer: Incomplete='zeros', kernel_regularizer: Incomplete=None, bias_regularizer: Incomplete=None, activity_regularizer: Incomplete=None, kernel_constraint: Incomplete=None, bias_constraint: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def call(self, inputs: Incomplete) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class DepthwiseConv2D(_ConvBase):
    rank: int
    depth_multiplier: Incomplete

    def __init__(self, kernel_size: Incomplete, strides: Incomplete=(1, 1), padding: str='valid', depth_multiplier: int=1, data_format: Incomplete=None, dilation_rate: Incomplete=(1, 1), activation: Incomplete=None, use_bias: bool=True, depthwise_initializer: Incomplete='glorot_uniform', bias_initializer: Incomplete='zeros', depthwise_regularizer: Incomplete=None, bias_regularizer: Incomplete=None, activity_regularizer: Incomplete=None, depthwise_constraint: Incomplete=None, bias_constraint: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    @property
    def depthwise_initializer(self) -> Incomplete:
        ...

    def call(self, inputs: Incomplete) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class BatchNormalization(Layer):
    axis: Incomplete
    momentum: Incomplete
    epsilon: Incomplete
    center: Incomplete
    scale: Incomplete
    gamma: Incomplete
    moving_mean: Incomplete

    def __init__(self, axis: Incomplete=-1, momentum: float=0.99, epsilon: float=0.001, center: bool=True, scale: bool=True, beta_initializer: Incomplete='zeros', gamma_initializer: Incomplete='ones', moving_mean_initializer: Incomplete='zeros', moving_variance_initializer: Incomplete='ones', name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...
    beta: Incomplete
    moving_variance: Incomplete

    def call(self, inputs: Incomplete, training: Incomplete=None) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class LayerNormalization(Layer):
    axis: Incomplete
    epsilon: Incomplete
    center: Incomplete
    scale: Incomplete
    rms_scaling: Incomplete
    beta_initializer: Incomplete
    gamma_initializer: Incomplete
    gamma: Incomplete

    def __init__(self, axis: Incomplete=-1, epsilon: float=0.001, center: bool=True, scale: bool=True, rms_scaling: bool=False, beta_initializer: Incomplete='zeros', gamma_initializer: Incomplete='ones', beta_regularizer: Incomplete=None, gamma_regularizer: Incomplete=None, beta_constraint: Incomplete=None, gamma_constraint: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...
    beta: Incomplete

    def call(self, inputs: Incomplete) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class Dropout(Layer):
    rate: Incomplete
    noise_shape: Incomplete
    seed: Incomplete

    def __init__(self, rate: Incomplete, noise_shape: Incomplete=None, seed: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def call(self, inputs: Incomplete, training: bool=False) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class Embedding(Layer):
    input_dim: Incomplete
    output_dim: Incomplete
    embeddings_initializer: Incomplete
    mask_zero: Incomplete
    embeddings: Incomplete

    def __init__(self, input_dim: Incomplete, output_dim: Incomplete, embeddings_initializer: Incomplete='uniform', embeddings_regularizer: Incomplete=None, embeddings_constraint: Incomplete=None, mask_zero: bool=False, weights: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def build(self, input_shape: Incomplete=None) -> None:
        ...

    def call(self, inputs: Incomplete) -> Incomplete:
        ...

    def compute_mask(self, inputs: Incomplete, mask: Incomplete=None) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class Flatten(Layer):
    data_format: Incomplete

    def __init__(self, data_format: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def call(self, inputs: Incomplete) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class Activation(Layer):
    activation: Incomplete

    def __init__(self, activation: Incomplete, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def call(self, inputs: Incomplete) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class ReLU(Layer):
    max_value: Incomplete
    negative_slope: Incomplete
    threshold: Incomplete

    def __init__(self, max_value: Incomplete=None, negative_slope: float=0.0, threshold: float=0.0, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def call(self, x: Incomplete) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class Softmax(Layer):
    axis: Incomplete

    def __init__(self, axis: Incomplete=-1, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def call(self, inputs: Incomplete, mask: Incomplete=None) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class _Pooling(Layer):
    pool_size: Incomplete
    strides: Incomplete
    padding: Incomplete
    data_format: Incomplete

    def __init__(self, pool_size: Incomplete, strides: Incomplete=None, padding: str='valid', data_format: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def call(self, inputs: Incomplete) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class MaxPooling1D(_Pooling):

    def __init__(self, pool_size: Incomplete=2, strides: Incomplete=None, padding: str='valid', data_format: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

class MaxPooling2D(_Pooling):

    def __init__(self, pool_size: Incomplete=(2, 2), strides: Incomplete=None, padding: str='valid', data_format: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

class MaxPooling3D(_Pooling):

    def __init__(self, pool_size: Incomplete=(2, 2, 2), strides: Incomplete=None, padding: str='valid', data_format: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

class AveragePooling1D(_Pooling):
    ...

class AveragePooling2D(_Pooling):
    ...

class AveragePooling3D(_Pooling):
    ...

class _GlobalPooling(Layer):
    data_format: Incomplete
    keepdims: Incomplete

    def __init__(self, data_format: Incomplete=None, keepdims: bool=False, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def call(self, inputs: Incomplete) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

class GlobalAveragePooling1D(_GlobalPooling):

    def call(self, inputs: Incomplete, mask: Incomplete=None) -> Incomplete:
        ...

class GlobalAveragePooling2D(_GlobalPooling):
    ...

class GlobalAveragePooling3D(_GlobalPooling):
    ...

class GlobalMaxPooling1D(_GlobalPooling):
    ...

class GlobalMaxPooling2D(_GlobalPooling):
    ...

class GlobalMaxPooling3D(_GlobalPooling):
    ...

class Reshape(Layer):
    target_shape: Incomplete

    def __init__(self, target_shape: Incomplete, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def call(self, inputs: Incomplete) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...
MaxPool1D: Incomplete
MaxPool2D: Incomplete
MaxPool3D: Incomplete
AvgPool1D: Incomplete
AvgPool2D: Incomplete
AvgPool3D: Incomplete
GlobalAvgPool1D: Incomplete
GlobalAvgPool2D: Incomplete
GlobalAvgPool3D: Incomplete
GlobalMaxPool1D: Incomplete
GlobalMaxPool2D: Incomplete
GlobalMaxPool3D: Incomplete
