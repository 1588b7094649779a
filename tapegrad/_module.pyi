from collections.abc import Sequence
from tapegrad._tapegrad import Variable
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
    def name(self) -> str:
        ...

    @property
    def name_scope(self) -> Incomplete:
        ...

    @property
    def variables(self) -> Sequence[Variable]:
        ...

    @property
    def trainable_variables(self) -> Sequence[Variable]:
        ...

    @property
    def non_trainable_variables(self) -> Sequence[Variable]:
        ...

    @property
    def submodules(self) -> Sequence[Module]:
        ...

    @classmethod
    def with_name_scope(cls, method: Incomplete) -> Incomplete:
        ...
