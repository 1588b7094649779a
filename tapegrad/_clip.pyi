from _typeshed import Incomplete
__all__ = ['clip_by_global_norm', 'global_norm']

def global_norm(t_list: Incomplete, name: Incomplete=None) -> Incomplete:
    ...

def clip_by_global_norm(t_list: Incomplete, clip_norm: Incomplete, use_norm: Incomplete=None, name: Incomplete=None) -> Incomplete:
    ...
