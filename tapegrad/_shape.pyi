from _typeshed import Incomplete
__all__ = ['TensorShape']

class TensorShape(tuple[int | None, ...]):

    def __new__(cls, dims: Incomplete=()) -> Incomplete:
        ...

    @property
    def rank(self) -> Incomplete:
        ...

    @property
    def ndims(self) -> Incomplete:
        ...

    @property
    def dims(self) -> Incomplete:
        ...

    def as_list(self) -> Incomplete:
        ...

    def num_elements(self) -> Incomplete:
        ...

    def is_fully_defined(self) -> Incomplete:
        ...

    def assert_is_fully_defined(self) -> None:
        ...

    def is_compatible_with(self, other: Incomplete) -> Incomplete:
        ...

    def assert_is_compatible_with(self, other: Incomplete) -> None:
        ...

    def merge_with(self, other: Incomplete) -> Incomplete:
        ...

    def concatenate(self, other: Incomplete) -> Incomplete:
        ...

    def with_rank(self, rank: Incomplete) -> Incomplete:
        ...

    def with_rank_at_least(self, rank: Incomplete) -> Incomplete:
        ...

    def with_rank_at_most(self, rank: Incomplete) -> Incomplete:
        ...

    def __add__(self, other: Incomplete) -> Incomplete:
        ...

    def __radd__(self, other: Incomplete) -> Incomplete:
        ...

    def __mul__(self, other: Incomplete) -> Incomplete:
        ...
    __rmul__ = __mul__

    def __eq__(self, other: Incomplete) -> Incomplete:
        ...

    def __ne__(self, other: Incomplete) -> Incomplete:
        ...
    __hash__: Incomplete

    def __bool__(self) -> bool:
        ...

    def __reduce__(self) -> Incomplete:
        ...

class _UnknownShape(TensorShape):

    @property
    def rank(self) -> None:
        ...

    @property
    def ndims(self) -> None:
        ...

    @property
    def dims(self) -> None:
        ...

    def as_list(self) -> None:
        ...

    def num_elements(self) -> None:
        ...

    def is_fully_defined(self) -> Incomplete:
        ...

    def is_compatible_with(self, other: Incomplete) -> Incomplete:
        ...

    def concatenate(self, other: Incomplete) -> Incomplete:
        ...

    def __len__(self) -> int:
        ...

    def __iter__(self) -> Incomplete:
        ...

    def __eq__(self, other: Incomplete) -> Incomplete:
        ...

    def __ne__(self, other: Incomplete) -> Incomplete:
        ...
    __hash__: Incomplete
