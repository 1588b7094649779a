from _typeshed import Incomplete
__all__ = ['KerasTensor', 'is_symbolic']

class KerasTensor:
    sparse: bool
    ragged: bool
    name: Incomplete

    def __init__(self, shape: Incomplete, dtype: Incomplete='float32', sparse: bool=False, ragged: bool=False, name: Incomplete=None) -> None:
        ...

    @property
    def shape(self) -> Incomplete:
        ...

    @property
    def dtype(self) -> Incomplete:
        ...

    @property
    def ndim(self) -> Incomplete:
        ...

    def __iter__(self) -> Incomplete:
        ...

    def __bool__(self) -> bool:
        ...

    def __array__(self, *args: Incomplete, **kwargs: Incomplete) -> None:
        ...

    def numpy(self) -> None:
        ...

def is_symbolic(x: Incomplete) -> Incomplete:
    ...
