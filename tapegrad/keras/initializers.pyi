from _typeshed import Incomplete

class Initializer:

    def __call__(self, shape: Incomplete, dtype: Incomplete=None) -> None:
        ...

    def get_config(self) -> Incomplete:
        ...

class Zeros(Initializer):

    def __call__(self, shape: Incomplete, dtype: Incomplete=None) -> Incomplete:
        ...

class Ones(Initializer):

    def __call__(self, shape: Incomplete, dtype: Incomplete=None) -> Incomplete:
        ...

class Constant(Initializer):
    value: Incomplete

    def __init__(self, value: Incomplete=0.0) -> None:
        ...

    def __call__(self, shape: Incomplete, dtype: Incomplete=None) -> Incomplete:
        ...

class RandomNormal(Initializer):

    def __init__(self, mean: Incomplete=0.0, stddev: Incomplete=0.05, seed: Incomplete=None) -> None:
        ...

    def __call__(self, shape: Incomplete, dtype: Incomplete=None) -> Incomplete:
        ...

class RandomUniform(Initializer):

    def __init__(self, minval: Incomplete=-0.05, maxval: Incomplete=0.05, seed: Incomplete=None) -> None:
        ...

    def __call__(self, shape: Incomplete, dtype: Incomplete=None) -> Incomplete:
        ...

class TruncatedNormal(Initializer):

    def __init__(self, mean: Incomplete=0.0, stddev: Incomplete=0.05, seed: Incomplete=None) -> None:
        ...

    def __call__(self, shape: Incomplete, dtype: Incomplete=None) -> Incomplete:
        ...

class VarianceScaling(Initializer):

    def __init__(self, scale: float=1.0, mode: str='fan_in', distribution: str='truncated_normal', seed: Incomplete=None) -> None:
        ...

    def __call__(self, shape: Incomplete, dtype: Incomplete=None) -> Incomplete:
        ...

def GlorotUniform(seed: Incomplete=None) -> Incomplete:
    ...

def GlorotNormal(seed: Incomplete=None) -> Incomplete:
    ...

def HeNormal(seed: Incomplete=None) -> Incomplete:
    ...

def HeUniform(seed: Incomplete=None) -> Incomplete:
    ...

def LecunNormal(seed: Incomplete=None) -> Incomplete:
    ...

def LecunUniform(seed: Incomplete=None) -> Incomplete:
    ...

def get(identifier: Incomplete) -> Incomplete:
    ...
