from _typeshed import Incomplete
__all__ = ['print', 'is_tensor']

def is_tensor(x: Incomplete) -> Incomplete:
    ...

def print(*inputs: Incomplete, output_stream: Incomplete=None, summarize: int=3, sep: str=' ', end: str='\n', name: Incomplete=None) -> None:
    ...
