from typing import Any
from ._function import TensorSpec as TensorSpec
from _typeshed import Incomplete
from typing import NamedTuple

class RecordedOp(NamedTuple):
    type: str
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]
    input_ids: tuple[int, ...]
    output_ids: tuple[int, ...]
    location: str | None

def operations(tape: Incomplete) -> Incomplete: ...

def to_dot(tape: Incomplete, target: Incomplete=None) -> Incomplete: ...

class SVG:
    data: Incomplete
    def __init__(self, data: Incomplete) -> None: ...

def draw(tape: Incomplete, target: Incomplete=None) -> Incomplete: ...
