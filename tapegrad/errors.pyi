from ._tapegrad import InvalidArgumentError as InvalidArgumentError, OpError as OpError
from _typeshed import Incomplete
__all__ = ['OpError', 'CancelledError', 'UnknownError', 'InvalidArgumentError', 'DeadlineExceededError', 'NotFoundError', 'AlreadyExistsError', 'PermissionDeniedError', 'UnauthenticatedError', 'ResourceExhaustedError', 'FailedPreconditionError', 'AbortedError', 'OutOfRangeError', 'UnimplementedError', 'InternalError', 'UnavailableError', 'DataLossError', 'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED']
OK: int
CANCELLED: int
UNKNOWN: int
INVALID_ARGUMENT: int
DEADLINE_EXCEEDED: int
NOT_FOUND: int
ALREADY_EXISTS: int
PERMISSION_DENIED: int
RESOURCE_EXHAUSTED: int
FAILED_PRECONDITION: int
ABORTED: int
OUT_OF_RANGE: int
UNIMPLEMENTED: int
INTERNAL: int
UNAVAILABLE: int
DATA_LOSS: int
UNAUTHENTICATED: int
CancelledError: Incomplete
UnknownError: Incomplete
DeadlineExceededError: Incomplete
NotFoundError: Incomplete
AlreadyExistsError: Incomplete
PermissionDeniedError: Incomplete
UnauthenticatedError: Incomplete
ResourceExhaustedError: Incomplete
FailedPreconditionError: Incomplete
AbortedError: Incomplete
OutOfRangeError: Incomplete
UnimplementedError: Incomplete
InternalError: Incomplete
UnavailableError: Incomplete
DataLossError: Incomplete
