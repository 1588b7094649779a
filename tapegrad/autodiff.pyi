from ._tapegrad import ForwardAccumulator as ForwardAccumulator, GradientTape as GradientTape
__all__ = ['ForwardAccumulator', 'GradientTape']
