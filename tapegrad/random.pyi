from tapegrad._tapegrad import Tensor, TensorLike
from _typeshed import Incomplete
__all__ = ['normal', 'set_seed', 'shuffle', 'truncated_normal', 'uniform', 'categorical', 'stateless_normal', 'stateless_uniform', 'Generator', 'get_global_generator', 'set_global_generator']

def set_seed(seed: Incomplete) -> None:
    ...

def normal(shape: Incomplete, mean: Incomplete=0.0, stddev: Incomplete=1.0, dtype: Incomplete=..., seed: Incomplete=None, name: str | None=None) -> Tensor:
    ...

def uniform(shape: Incomplete, minval: Incomplete=0, maxval: Incomplete=None, dtype: Incomplete=..., seed: Incomplete=None, name: str | None=None) -> Tensor:
    ...

def truncated_normal(shape: Incomplete, mean: Incomplete=0.0, stddev: Incomplete=1.0, dtype: Incomplete=..., seed: Incomplete=None, name: str | None=None) -> Tensor:
    ...

def shuffle(value: TensorLike, seed: Incomplete=None, name: str | None=None) -> Tensor:
    ...

def categorical(logits: TensorLike, num_samples: Incomplete, dtype: Incomplete=None, seed: Incomplete=None, name: str | None=None) -> Tensor:
    ...

def stateless_normal(shape: Incomplete, seed: Incomplete, mean: Incomplete=0.0, stddev: Incomplete=1.0, dtype: Incomplete=..., name: str | None=None, alg: str='auto_select') -> Tensor:
    ...

def stateless_uniform(shape: Incomplete, seed: Incomplete, minval: Incomplete=0, maxval: Incomplete=None, dtype: Incomplete=..., name: str | None=None, alg: str='auto_select') -> Tensor:
    ...

class Generator:

    def __init__(self, copy_from: Incomplete=None, state: Incomplete=None, alg: Incomplete=None) -> None:
        ...

    @classmethod
    def from_seed(cls, seed: Incomplete, alg: Incomplete=None) -> Generator:
        ...

    @classmethod
    def from_non_deterministic_state(cls, alg: Incomplete=None) -> Generator:
        ...

    def reset_from_seed(self, seed: Incomplete) -> None:
        ...

    def normal(self, shape: Incomplete, mean: Incomplete=0.0, stddev: Incomplete=1.0, dtype: Incomplete=..., name: str | None=None) -> Tensor:
        ...

    def uniform(self, shape: Incomplete, minval: Incomplete=0, maxval: Incomplete=None, dtype: Incomplete=..., name: str | None=None) -> Tensor:
        ...

    def truncated_normal(self, shape: Incomplete, mean: Incomplete=0.0, stddev: Incomplete=1.0, dtype: Incomplete=..., name: str | None=None) -> Tensor:
        ...

    def split(self, count: int=1) -> list[Generator]:
        ...

def get_global_generator() -> Generator:
    ...

def set_global_generator(generator: Incomplete) -> None:
    ...
