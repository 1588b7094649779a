from _typeshed import Incomplete

def location_text(loc: Incomplete, short: bool=False) -> Incomplete:
    ...

class _Record:
    rec: Incomplete
    watched: Incomplete
    entries: Incomplete
    producer: Incomplete
    readers: Incomplete
    dtype: Incomplete
    pauses: Incomplete
    outside: Incomplete
    nondiff: Incomplete
    escapes: Incomplete

    def __init__(self, rec: Incomplete) -> None:
        ...

    def tracked(self, tid: Incomplete) -> Incomplete:
        ...

    def downstream(self, sid: Incomplete) -> Incomplete:
        ...

    def upstream(self, tids: Incomplete) -> Incomplete:
        ...

    def when(self, tid: Incomplete) -> Incomplete:
        ...

def explain(tape: Incomplete, target: Incomplete, sources: Incomplete) -> Incomplete:
    ...

class NoneGradientWarning(UserWarning):

    def __init__(self, message: Incomplete) -> None:
        ...

def warn_none(tape: Incomplete, args: Incomplete, kwargs: Incomplete, result: Incomplete) -> None:
    ...
