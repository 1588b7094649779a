from _typeshed import Incomplete
__all__ = ['Checkpoint', 'CheckpointManager', 'get_checkpoint_state', 'latest_checkpoint', 'list_variables', 'load_variable']

class _NonStringKey:
    key: Incomplete

    def __init__(self, key: Incomplete) -> None:
        ...

class _LoadStatus:

    def __init__(self, path: Incomplete, unused: Incomplete, restored: Incomplete) -> None:
        ...

    def assert_consumed(self) -> Incomplete:
        ...

    def assert_existing_objects_matched(self) -> Incomplete:
        ...

    def assert_nontrivial_match(self) -> Incomplete:
        ...

    def expect_partial(self) -> Incomplete:
        ...

    def run_restore_ops(self, session: Incomplete=None) -> None:
        ...

    def initialize_or_restore(self, session: Incomplete=None) -> None:
        ...

    def __del__(self) -> None:
        ...

class _NothingRestored:

    def assert_consumed(self) -> None:
        ...

    def assert_existing_objects_matched(self) -> None:
        ...

    def assert_nontrivial_match(self) -> None:
        ...

    def expect_partial(self) -> Incomplete:
        ...

    def run_restore_ops(self, session: Incomplete=None) -> None:
        ...

    def initialize_or_restore(self, session: Incomplete=None) -> None:
        ...

class Checkpoint:

    def __init__(self, root: Incomplete=None, **kwargs: Incomplete) -> None:
        ...

    @property
    def save_counter(self) -> Incomplete:
        ...

    def write(self, file_prefix: Incomplete, options: Incomplete=None) -> Incomplete:
        ...

    def save(self, file_prefix: Incomplete, options: Incomplete=None) -> Incomplete:
        ...

    def read(self, save_path: Incomplete, options: Incomplete=None) -> Incomplete:
        ...

    def restore(self, save_path: Incomplete, options: Incomplete=None) -> Incomplete:
        ...

def get_checkpoint_state(checkpoint_dir: Incomplete, latest_filename: Incomplete=None) -> Incomplete:
    ...

def latest_checkpoint(checkpoint_dir: Incomplete, latest_filename: Incomplete=None) -> Incomplete:
    ...

class CheckpointManager:

    def __init__(self, checkpoint: Incomplete, directory: Incomplete, max_to_keep: Incomplete, keep_checkpoint_every_n_hours: Incomplete=None, checkpoint_name: str='ckpt', step_counter: Incomplete=None, checkpoint_interval: Incomplete=None, init_fn: Incomplete=None) -> None:
        ...

    @property
    def checkpoint(self) -> Incomplete:
        ...

    @property
    def directory(self) -> Incomplete:
        ...

    @property
    def checkpoint_interval(self) -> Incomplete:
        ...

    @property
    def latest_checkpoint(self) -> Incomplete:
        ...

    @property
    def checkpoints(self) -> Incomplete:
        ...

    def save(self, checkpoint_number: Incomplete=None, check_interval: bool=True, options: Incomplete=None) -> Incomplete:
        ...

    def restore_or_initialize(self) -> Incomplete:
        ...

def list_variables(ckpt_dir_or_file: Incomplete) -> Incomplete:
    ...

def load_variable(ckpt_dir_or_file: Incomplete, name: Incomplete) -> Incomplete:
    ...
