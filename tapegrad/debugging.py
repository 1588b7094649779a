"""tapegrad.debugging: switches and views that help find out what a tape
recorded and why a gradient is None.

    tf.debugging.enable_none_gradient_warnings()
    ...  # every GradientTape.gradient that returns None for a source now
    ...  # warns (NoneGradientWarning) with tape.explain's paragraph for it
    tf.debugging.disable_none_gradient_warnings()

    tf.debugging.enable_op_locations()
    ...  # every op recorded from now on keeps the file:line that ran it,
    ...  # shown by tape.operations(), tape.to_dot() and draw_tape()
    tf.debugging.disable_op_locations()

While off, each switch is one C flag test (per gradient call, per recorded
op); op locations cost a walk up the Python frames per recorded op while
on.
"""
from . import _tapegrad as _C


def __getattr__(name):
    # _explain and _tape_view load when first needed (a gradient's None
    # explained, a tape looked inside), not with `import tapegrad`
    if name == "NoneGradientWarning":
        from ._explain import NoneGradientWarning
        return NoneGradientWarning
    if name == "RecordedOp":
        from ._tape_view import RecordedOp
        return RecordedOp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"NoneGradientWarning", "RecordedOp"})


def enable_none_gradient_warnings():
    """Warn (NoneGradientWarning) whenever a gradient comes back None,
    saying why, as tape.explain would."""
    _C._none_gradient_warnings(True)


def disable_none_gradient_warnings():
    """Stop the warnings enable_none_gradient_warnings() started."""
    _C._none_gradient_warnings(False)


def enable_op_locations():
    """Keep, with every op recorded from now on, the file:line of your code
    that ran it (tape.operations(), tape.to_dot(), draw_tape())."""
    _C._op_locations(True)


def disable_op_locations():
    """Stop keeping op locations (ops already recorded keep theirs)."""
    _C._op_locations(False)


def draw_tape(tape, target=None):
    """Draw what `tape` recorded, the ops `target`'s gradient flows through
    in red: an SVG from Graphviz's `dot` when it is installed (notebooks
    display it), else a matplotlib Figure of the same graph."""
    from ._tape_view import draw
    return draw(tape, target)


__all__ = ["NoneGradientWarning", "RecordedOp", "disable_none_gradient_warnings",
           "disable_op_locations", "draw_tape", "enable_none_gradient_warnings",
           "enable_op_locations"]
