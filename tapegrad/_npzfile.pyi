import types
from _typeshed import Incomplete

class _Reader:
    path: Incomplete

    def __init__(self, path: Incomplete, fileobj: Incomplete=None) -> None:
        ...

    def load(self, key: Incomplete) -> Incomplete:
        ...

    def close(self) -> None:
        ...

    def __enter__(self) -> Incomplete:
        ...

    def __exit__(self, *exc: Incomplete) -> Incomplete:
        ...
