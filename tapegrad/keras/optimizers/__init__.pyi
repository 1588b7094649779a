from . import schedules as schedules
from _typeshed import Incomplete
__all__ = ['Optimizer', 'SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad', 'get', 'schedules']

class Optimizer:
    name: Incomplete
    weight_decay: Incomplete
    clipnorm: Incomplete
    clipvalue: Incomplete
    global_clipnorm: Incomplete
    iterations: Incomplete

    def __init__(self, learning_rate: Incomplete, weight_decay: Incomplete=None, clipnorm: Incomplete=None, clipvalue: Incomplete=None, global_clipnorm: Incomplete=None, use_ema: bool=False, ema_momentum: float=0.99, ema_overwrite_frequency: Incomplete=None, loss_scale_factor: Incomplete=None, gradient_accumulation_steps: Incomplete=None, name: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    @property
    def learning_rate(self) -> Incomplete:
        ...

    @learning_rate.setter
    def learning_rate(self, value: Incomplete) -> None:
        ...

    def build(self, var_list: Incomplete) -> None:
        ...

    @property
    def variables(self) -> Incomplete:
        ...

    def update_step(self, gradient: Incomplete, variable: Incomplete, learning_rate: Incomplete) -> None:
        ...

    def apply_gradients(self, grads_and_vars: Incomplete) -> Incomplete:
        ...

    def apply(self, grads: Incomplete, trainable_variables: Incomplete=None) -> Incomplete:
        ...

    def minimize(self, loss: Incomplete, var_list: Incomplete, tape: Incomplete=None) -> Incomplete:
        ...

    def get_config(self) -> Incomplete:
        ...

    @classmethod
    def from_config(cls, config: Incomplete, custom_objects: Incomplete=None) -> Incomplete:
        ...

class SGD(Optimizer):
    momentum: Incomplete
    nesterov: Incomplete

    def __init__(self, learning_rate: Incomplete=0.01, momentum: float=0.0, nesterov: bool=False, **kwargs: Incomplete) -> None:
        ...

class Adam(Optimizer):
    beta_1: Incomplete
    beta_2: Incomplete
    epsilon: Incomplete
    amsgrad: Incomplete

    def __init__(self, learning_rate: Incomplete=0.001, beta_1: float=0.9, beta_2: float=0.999, epsilon: float=1e-07, amsgrad: bool=False, **kwargs: Incomplete) -> None:
        ...

class AdamW(Adam):

    def __init__(self, learning_rate: Incomplete=0.001, weight_decay: float=0.004, beta_1: float=0.9, beta_2: float=0.999, epsilon: float=1e-07, amsgrad: bool=False, **kwargs: Incomplete) -> None:
        ...

class RMSprop(Optimizer):
    rho: Incomplete
    momentum: Incomplete
    epsilon: Incomplete
    centered: Incomplete

    def __init__(self, learning_rate: Incomplete=0.001, rho: float=0.9, momentum: float=0.0, epsilon: float=1e-07, centered: bool=False, **kwargs: Incomplete) -> None:
        ...

class Adagrad(Optimizer):
    initial_accumulator_value: Incomplete
    epsilon: Incomplete

    def __init__(self, learning_rate: Incomplete=0.001, initial_accumulator_value: float=0.1, epsilon: float=1e-07, **kwargs: Incomplete) -> None:
        ...

def get(identifier: Incomplete) -> Incomplete:
    ...
