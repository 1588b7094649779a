from ._function import TensorSpec as TensorSpec
from ._tapegrad import InvalidArgumentError as InvalidArgumentError
from _typeshed import Incomplete

class _Columns:
    structure: Incomplete
    arrays: Incomplete
    n: Incomplete
    def __init__(self, structure: Incomplete, arrays: Incomplete) -> None: ...
    def gather(self, idx: Incomplete) -> Incomplete: ...

class _RangeColumn:
    start: Incomplete
    step: Incomplete
    n: int
    dtype: Incomplete
    def __init__(self, start: Incomplete, step: Incomplete, n: Incomplete, dtype: Incomplete) -> None: ...
    def gather(self, idx: Incomplete) -> Incomplete: ...
