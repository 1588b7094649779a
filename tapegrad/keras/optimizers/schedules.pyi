from _typeshed import Incomplete
__all__ = ['LearningRateSchedule', 'ExponentialDecay', 'PiecewiseConstantDecay', 'InverseTimeDecay', 'CosineDecay']

class LearningRateSchedule:
    def __call__(self, step: Incomplete) -> Incomplete: ...
    def get_config(self) -> Incomplete: ...

class _StepDecay(LearningRateSchedule):
    initial_learning_rate: Incomplete
    decay_steps: Incomplete
    decay_rate: Incomplete
    staircase: Incomplete
    name: Incomplete
    def __init__(self, initial_learning_rate: Incomplete, decay_steps: Incomplete, decay_rate: Incomplete, staircase: Incomplete, name: Incomplete) -> None: ...

class ExponentialDecay(_StepDecay):
    def __init__(self, initial_learning_rate: Incomplete, decay_steps: Incomplete, decay_rate: Incomplete, staircase: bool=False, name: str='ExponentialDecay') -> None: ...

class PiecewiseConstantDecay(LearningRateSchedule):
    boundaries: Incomplete
    values: Incomplete
    name: Incomplete
    def __init__(self, boundaries: Incomplete, values: Incomplete, name: str='PiecewiseConstant') -> None: ...

class InverseTimeDecay(_StepDecay):
    def __init__(self, initial_learning_rate: Incomplete, decay_steps: Incomplete, decay_rate: Incomplete, staircase: bool=False, name: str='InverseTimeDecay') -> None: ...

class CosineDecay(LearningRateSchedule):
    initial_learning_rate: Incomplete
    decay_steps: Incomplete
    alpha: Incomplete
    name: Incomplete
    def __init__(self, initial_learning_rate: Incomplete, decay_steps: Incomplete, alpha: float=0.0, name: str='CosineDecay', warmup_target: Incomplete=None, warmup_steps: int=0) -> None: ...
