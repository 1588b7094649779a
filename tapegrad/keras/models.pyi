from typing import Any
from typing_extensions import Self
from .layers import Layer
from _typeshed import Incomplete
__all__ = ['Model', 'Sequential', 'Functional', 'load_model', 'save_model']

class _ArrayBatches:
    x: Incomplete
    y: Incomplete
    sw: Incomplete
    n: Incomplete
    batch_size: Incomplete
    shuffle: Incomplete

    def __init__(self, x: Incomplete, y: Incomplete, sample_weight: Incomplete, batch_size: Incomplete, shuffle: Incomplete) -> None:
        ...

    def __len__(self) -> int:
        ...
    CHUNK_BATCHES: int

    def __iter__(self) -> Incomplete:
        ...

class _DatasetBatches:
    ds: Incomplete

    def __init__(self, ds: Incomplete) -> None:
        ...

    def __len__(self) -> int:
        ...

    def __iter__(self) -> Incomplete:
        ...

class _Progbar:
    WIDTH: int
    total: Incomplete
    verbose: Incomplete
    start: Incomplete
    last_draw: float
    tty: Incomplete

    def __init__(self, total: Incomplete, verbose: Incomplete) -> None:
        ...

    def due(self) -> Incomplete:
        ...

    def update(self, step: Incomplete, logs: Incomplete) -> None:
        ...

    def finish(self, step: Incomplete, logs: Incomplete) -> None:
        ...

class History:
    model: Model
    params: dict[str, Any]
    epoch: list[int]
    history: dict[str, list[float]]

    def __init__(self, model: Incomplete, params: Incomplete) -> None:
        ...

class Model(Layer):

    def __new__(cls, *args: Incomplete, **kwargs: Incomplete) -> Self:
        ...
    optimizer: Incomplete
    loss: Incomplete
    compiled: bool
    stop_training: bool
    history: Incomplete

    def __init__(self, *args: Incomplete, name: Incomplete=None, trainable: bool=True, **kwargs: Incomplete) -> None:
        ...

    def call(self, inputs: Incomplete, /) -> Incomplete:
        ...
    built: bool

    def build(self, input_shape: Incomplete=None) -> None:
        ...

    def get_config(self) -> Incomplete:
        ...

    def build_from_config(self, config: Incomplete) -> None:
        ...

    def save(self, filepath: Incomplete, overwrite: bool=True, zipped: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    def compile(self, optimizer: Incomplete='rmsprop', loss: Incomplete=None, loss_weights: Incomplete=None, metrics: Incomplete=None, weighted_metrics: Incomplete=None, run_eagerly: bool=False, steps_per_execution: int=1, jit_compile: Incomplete='auto', **kwargs: Incomplete) -> None:
        ...

    def get_compile_config(self) -> Incomplete:
        ...

    def compile_from_config(self, config: Incomplete) -> None:
        ...

    @property
    def metrics(self) -> Incomplete:
        ...

    @property
    def metrics_names(self) -> Incomplete:
        ...

    def reset_metrics(self) -> None:
        ...

    def compute_loss(self, x: Incomplete=None, y: Incomplete=None, y_pred: Incomplete=None, sample_weight: Incomplete=None, training: bool=True) -> Incomplete:
        ...

    def train_step(self, x: Incomplete, y: Incomplete, sample_weight: Incomplete=None) -> Incomplete:
        ...

    def test_step(self, x: Incomplete, y: Incomplete, sample_weight: Incomplete=None) -> Incomplete:
        ...

    def fit(self, x: Incomplete=None, y: Incomplete=None, batch_size: Incomplete=None, epochs: int=1, verbose: Incomplete='auto', callbacks: Incomplete=None, validation_split: float=0.0, validation_data: Incomplete=None, shuffle: bool=True, class_weight: Incomplete=None, sample_weight: Incomplete=None, initial_epoch: int=0, steps_per_epoch: Incomplete=None, validation_steps: Incomplete=None, validation_batch_size: Incomplete=None, validation_freq: int=1) -> History:
        ...

    def evaluate(self, x: Incomplete=None, y: Incomplete=None, batch_size: Incomplete=None, verbose: Incomplete='auto', sample_weight: Incomplete=None, steps: Incomplete=None, callbacks: Incomplete=None, return_dict: bool=False) -> Incomplete:
        ...

    def predict(self, x: Incomplete, batch_size: Incomplete=None, verbose: Incomplete='auto', steps: Incomplete=None, callbacks: Incomplete=None) -> Incomplete:
        ...

    def train_on_batch(self, x: Incomplete, y: Incomplete=None, sample_weight: Incomplete=None, class_weight: Incomplete=None, return_dict: bool=False) -> Incomplete:
        ...

    def test_on_batch(self, x: Incomplete, y: Incomplete=None, sample_weight: Incomplete=None, return_dict: bool=False) -> Incomplete:
        ...

    def predict_on_batch(self, x: Incomplete) -> Incomplete:
        ...

    def save_weights(self, filepath: Incomplete, overwrite: bool=True) -> None:
        ...

    def load_weights(self, filepath: Incomplete, skip_mismatch: bool=False) -> None:
        ...

    @property
    def layers(self) -> Incomplete:
        ...

    @layers.setter
    def layers(self, _: Incomplete) -> None:
        ...

    def summary(self, line_length: Incomplete=None, positions: Incomplete=None, print_fn: Incomplete=None, expand_nested: bool=False, show_trainable: bool=False, layer_range: Incomplete=None) -> Incomplete:
        ...

class Sequential(Model):

    def __init__(self, layers: Incomplete=None, trainable: bool=True, name: Incomplete=None) -> None:
        ...

    def add(self, layer: Incomplete, rebuild: bool=True) -> None:
        ...

    def pop(self, rebuild: bool=True) -> Incomplete:
        ...

    @classmethod
    def from_config(cls, config: Incomplete, custom_objects: Incomplete=None) -> Incomplete:
        ...

    def call(self, inputs: Incomplete, training: Incomplete=None) -> Incomplete:
        ...

class Functional(Model):

    def __init__(self, inputs: Incomplete, outputs: Incomplete, name: Incomplete=None, trainable: bool=True, **kwargs: Incomplete) -> None:
        ...

    @property
    def inputs(self) -> Incomplete:
        ...

    @property
    def outputs(self) -> Incomplete:
        ...

    @property
    def input_shape(self) -> Incomplete:
        ...

    @property
    def output_shape(self) -> Incomplete:
        ...

    def call(self, inputs: Incomplete, training: Incomplete=None) -> Incomplete:
        ...

    def compute_output_shape(self, input_shape: Incomplete) -> Incomplete:
        ...

    def get_build_config(self) -> None:
        ...

    @classmethod
    def from_config(cls, config: Incomplete, custom_objects: Incomplete=None) -> Incomplete:
        ...

def save_model(model: Incomplete, filepath: Incomplete, overwrite: bool=True, zipped: Incomplete=None, **kwargs: Incomplete) -> Incomplete:
    ...

def load_model(filepath: Incomplete, custom_objects: Incomplete=None, compile: bool=True, safe_mode: bool=True) -> Incomplete:
    ...
