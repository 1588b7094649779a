from _typeshed import Incomplete
__all__ = ['normal', 'set_seed', 'shuffle', 'truncated_normal', 'uniform', 'categorical', 'stateless_normal', 'stateless_uniform', 'Generator', 'get_global_generator', 'set_global_generator']

def set_seed(seed: Incomplete) -> None:
    ...

def normal(shape: Incomplete, mean: float=0.0, stddev: float=1.0, dtype: Incomplete=..., seed: Incomplete=None, name: Incomplete=None) -> Incomplete:
    ...

def uniform(shape: Incomplete, minval: int=0, maxval: Incomplete=None, dtype: Incomplete=..., seed: Incomplete=None, name: Incomplete=None) -> Incomplete:
    ...

def truncated_normal(shape: Incomplete, mean: float=0.0, stddev: float=1.0, dtype: Incomplete=..., seed: Incomplete=None, name: Incomplete=None) -> Incomplete:
    ...

def shuffle(value: Incomplete, seed: Incomplete=None, name: Incomplete=None) -> Incomplete:
    ...

def categorical(logits: Incomplete, num_samples: Incomplete, dtype: Incomplete=None, seed: Incomplete=None, name: Incomplete=None) -> Incomplete:
    ...

def stateless_normal(shape: Incomplete, seed: Incomplete, mean: float=0.0, stddev: float=1.0, dtype: Incomplete=..., name: Incomplete=None, alg: str='auto_select') -> Incomplete:
    ...

def stateless_uniform(shape: Incomplete, seed: Incomplete, minval: int=0, maxval: Incomplete=None, dtype: Incomplete=..., name: Incomplete=None, alg: str='auto_select') -> Incomplete:
    ...

class Generator:

    def __init__(self, copy_from: Incomplete=None, state: Incomplete=None, alg: Incomplete=None) -> None:
        ...

    @classmethod
    def from_seed(cls, seed: Incomplete, alg: Incomplete=None) -> Incomplete:
        ...

    @classmethod
    def from_non_deterministic_state(cls, alg: Incomplete=None) -> Incomplete:
        ...

    def reset_from_seed(self, seed: Incomplete) -> None:
        ...

    def normal(self, shape: Incomplete, mean: float=0.0, stddev: float=1.0, dtype: Incomplete=..., name: Incomplete=None) -> Incomplete:
        ...

    def uniform(self, shape: Incomplete, minval: int=0, maxval: Incomplete=None, dtype: Incomplete=..., name: Incomplete=None) -> Incomplete:
        ...

    def truncated_normal(self, shape: Incomplete, mean: float=0.0, stddev: float=1.0, dtype: Incomplete=..., name: Incomplete=None) -> Incomplete:
        ...

    def split(self, count: int=1) -> Incomplete:
        ...

def get_global_generator() -> Incomplete:
    ...

def set_global_generator(generator: Incomplete) -> None:
    ...
