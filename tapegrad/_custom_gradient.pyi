from _typeshed import Incomplete
def custom_gradient(f: Incomplete=None) -> Incomplete:
    ...

class _Decorated:

    def __init__(self, f: Incomplete) -> None:
        ...

    def __call__(self, *args: Incomplete, **kwargs: Incomplete) -> Incomplete:
        ...

    def __get__(self, instance: Incomplete, owner: Incomplete=None) -> Incomplete:
        ...
