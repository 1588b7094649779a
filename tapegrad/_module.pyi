import types
from _typeshed import Incomplete
__all__ = ['Module']

class _NameScope:
    name: Incomplete

    def __init__(self, name: Incomplete) -> None:
        ...

    def __enter__(self) -> Incomplete:
        ...

    def __exit__(self, *exc: Incomplete) -> Incomplete:
        ...

class Module:

    def __init__(self, name: Incomplete=None) -> None:
        ...

    @property
    def name(self) -> Incomplete:
        ...

    @property
    def name_scope(self) -> Incomplete:
        ...

    @property
    def variables(self) -> Incomplete:
        ...

    @property
    def trainable_variables(self) -> Incomplete:
        ...

    @property
    def non_trainable_variables(self) -> Incomplete:
        ...

    @property
    def submodules(self) -> Incomplete:
        ...

    @classmethod
    def with_name_scope(cls, method: Incomplete) -> Incomplete:
        ...
