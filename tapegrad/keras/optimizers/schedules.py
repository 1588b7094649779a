"""tapegrad.keras.optimizers.schedules: learning rates as functions of the
step (Keras 3's formulas, computed in float32 tapegrad ops as Keras
does)."""
import math

from ... import _tapegrad as C

__all__ = ["LearningRateSchedule", "ExponentialDecay",
           "PiecewiseConstantDecay", "InverseTimeDecay", "CosineDecay"]


def _f32(x):
    return C.cast(x, C.float32) if isinstance(x, (C.Tensor, C.Variable)) \
        else C.constant(float(x), dtype=C.float32)


class LearningRateSchedule:
    """The base: `schedule(step)` gives the learning rate at `step`."""

    def __call__(self, step):
        raise NotImplementedError(
            "Learning rate schedule '%s' must override `__call__(self, "
            "step)`." % type(self).__name__)

    def get_config(self):
        """The schedule's constructor arguments, as a dict (from_config
        rebuilds it); a subclass defines it."""
        raise NotImplementedError(
            "Learning rate schedule '%s' must override `get_config()`."
            % type(self).__name__)


class _StepDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments,
    the progress step / decay_steps (floored when staircase), the
    config."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate,
                 staircase, name):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def _progress(self, step):
        p = _f32(step) / _f32(self.decay_steps)
        return C.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase,
                "name": self.name}


class ExponentialDecay(_StepDecay):
    """initial_learning_rate * decay_rate ** (step / decay_steps), the
    exponent floored when staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate,
                 staircase=False, name="ExponentialDecay"):
        if decay_steps <= 0:
            raise ValueError("Argument `decay_steps` must be > 0. Received: "
                             "decay_steps=%s" % (decay_steps,))
        super().__init__(initial_learning_rate, decay_steps, decay_rate,
                         staircase, name)

    def __call__(self, step):
        return _f32(self.initial_learning_rate) * C.pow(
            _f32(self.decay_rate), self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[i] while
    boundaries[i-1] < step <= boundaries[i], values[-1] after."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length "
                "of values. Received: boundaries=%s of length %d, and "
                "values=%s of length %d." % (boundaries, len(boundaries),
                                             values, len(values)))
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def __call__(self, step):
        s = float(step)
        for b, v in zip(self.boundaries, self.values):
            if s <= b:
                return _f32(v)
        return _f32(self.values[-1])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values,
                "name": self.name}


class InverseTimeDecay(_StepDecay):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps), the
    ratio floored when staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate,
                 staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate,
                         staircase, name)

    def __call__(self, step):
        return _f32(self.initial_learning_rate) / (
            _f32(1.0) + _f32(self.decay_rate) * self._progress(step))


class CosineDecay(LearningRateSchedule):
    """initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * f)) +
    alpha), f = min(step, decay_steps) / decay_steps (no warmup)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0,
                 name="CosineDecay", warmup_target=None, warmup_steps=0):
        if warmup_target is not None or warmup_steps:
            raise NotImplementedError("CosineDecay's warmup is not "
                                      "implemented in tapegrad")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        f = C.minimum(_f32(step), _f32(self.decay_steps)) / _f32(
            self.decay_steps)
        cosine = _f32(0.5) * (_f32(1.0) + C.cos(_f32(math.pi) * f))
        decayed = _f32(1.0 - self.alpha) * cosine + _f32(self.alpha)
        return _f32(self.initial_learning_rate) * decayed

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha,
                "name": self.name}
