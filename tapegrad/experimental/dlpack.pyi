from _typeshed import Incomplete
__all__ = ['to_dlpack', 'from_dlpack']

def to_dlpack(tf_tensor: Incomplete) -> Incomplete:
    ...

def from_dlpack(dlcapsule: Incomplete) -> Incomplete:
    ...
