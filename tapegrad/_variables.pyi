from _typeshed import Incomplete
__all__: list[str]
class Reference:

    def __init__(self, wrapped: Incomplete) -> None:
        ...

    def deref(self) -> Incomplete:
        ...

    def __eq__(self, other: Incomplete) -> Incomplete:
        ...

    def __ne__(self, other: Incomplete) -> Incomplete:
        ...

    def __hash__(self) -> Incomplete:
        ...

def slice_assign(variable: Incomplete, key: Incomplete, value: Incomplete, op: Incomplete, read_value: bool=True) -> Incomplete:
    ...

def variable_from_state(value: Incomplete, trainable: Incomplete, name: Incomplete, dtype: Incomplete) -> Incomplete:
    ...
