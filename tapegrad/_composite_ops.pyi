from _typeshed import Incomplete
__all__ = ['embedding_lookup', 'unsorted_segment_mean', 'segment_sum', 'segment_mean', 'segment_max']

def embedding_lookup(params: Incomplete, ids: Incomplete, max_norm: Incomplete=None, name: Incomplete=None) -> Incomplete:
    ...

def unsorted_segment_mean(data: Incomplete, segment_ids: Incomplete, num_segments: Incomplete, name: Incomplete=None) -> Incomplete:
    ...

def segment_sum(data: Incomplete, segment_ids: Incomplete, name: Incomplete=None) -> Incomplete:
    ...

def segment_mean(data: Incomplete, segment_ids: Incomplete, name: Incomplete=None) -> Incomplete:
    ...

def segment_max(data: Incomplete, segment_ids: Incomplete, name: Incomplete=None) -> Incomplete:
    ...
