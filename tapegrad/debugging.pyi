from _typeshed import Incomplete
from ._explain import NoneGradientWarning as NoneGradientWarning
from ._tape_view import RecordedOp as RecordedOp
__all__ = ['NoneGradientWarning', 'RecordedOp', 'disable_none_gradient_warnings', 'disable_op_locations', 'draw_tape', 'enable_none_gradient_warnings', 'enable_op_locations']

def enable_none_gradient_warnings() -> None:
    ...

def disable_none_gradient_warnings() -> None:
    ...

def enable_op_locations() -> None:
    ...

def disable_op_locations() -> None:
    ...

def draw_tape(tape: Incomplete, target: Incomplete=None) -> Incomplete:
    ...
