"""tapegrad.errors: TF's exception classes and error codes.

`OpError` and `InvalidArgumentError` are made by the C module (it raises
the latter); this module gives OpError TF's constructor and properties and
derives the rest of TF's classes from it, so ported code that catches
`tf.errors.OpError`, `OutOfRangeError` (a dataset iterator's end) or any
other of TF's names works unchanged.  InvalidArgumentError is also a
ValueError (a Python-side choice: see the README's Choices).

Both of TF's constructor forms work: `InvalidArgumentError(message)` (how
tapegrad raises them) and TF's `InvalidArgumentError(node_def, op,
message)`; `str(e)` and `e.message` are the message either way.
"""
from ._tapegrad import InvalidArgumentError, OpError

# TF's error codes (tf.errors.OK ... tf.errors.UNAUTHENTICATED)
OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16


def _op_error_init(self, *args, **kwargs):
    """OpError(message) or TF's OpError(node_def, op, message,
    error_code) (subclasses: (node_def, op, message), their code fixed)."""
    names = ("node_def", "op", "message", "error_code")
    given = dict(zip(names, args))
    if len(args) > len(names) or set(given) & set(kwargs) or \
            set(kwargs) - set(names):
        raise TypeError("%s() takes (message) or (node_def, op, message"
                        "%s)" % (type(self).__name__,
                                 ", error_code" if type(self) is OpError
                                 else ""))
    given.update(kwargs)
    if len(args) == 1 and not kwargs:
        given = {"message": args[0]}
    self._node_def = given.get("node_def")
    self._op = given.get("op")
    self._message = given.get("message", "")
    if "error_code" in given and type(self) is OpError:
        self._error_code = given["error_code"]
    # str(e), repr(e) and pickling go through args: the message alone
    self.args = (self._message,)


def _op_error_reduce(self):
    """pickled with its fields, so a copy keeps node_def, op and code"""
    if type(self) is OpError:
        return OpError, (self._node_def, self._op, self.message,
                         self._error_code)
    return type(self), (self._node_def, self._op, self.message)


OpError.__init__ = _op_error_init
OpError.__reduce__ = _op_error_reduce
def _op_error_message(self):
    # an error made by BaseException's constructor (one the C module
    # raised before this module was imported): its message is its one
    # argument
    own = self.__dict__
    if "_message" in own:
        return own["_message"]
    return str(self.args[0]) if self.args else ""


OpError.message = property(_op_error_message,
                           doc="The error message that describes the "
                               "error.")
OpError.op = property(lambda self: self._op,
                      doc="The operation that failed, or None (eager).")
OpError.node_def = property(lambda self: self._node_def,
                            doc="The NodeDef of the failed op, or None.")
OpError.error_code = property(lambda self: self._error_code,
                              doc="The integer error code (tf.errors.*).")
OpError._error_code = UNKNOWN
OpError._node_def = OpError._op = None
InvalidArgumentError._error_code = INVALID_ARGUMENT


def _error_class(name, code, doc):
    return type(name, (OpError,), {"__doc__": doc, "__module__": __name__,
                                   "_error_code": code})


CancelledError = _error_class(
    "CancelledError", CANCELLED, "An operation was cancelled.")
UnknownError = _error_class("UnknownError", UNKNOWN, "Unknown error.")
DeadlineExceededError = _error_class(
    "DeadlineExceededError", DEADLINE_EXCEEDED,
    "A deadline expired before the operation could complete.")
NotFoundError = _error_class(
    "NotFoundError", NOT_FOUND,
    "A requested entity (a file, a checkpoint) was not found.")
AlreadyExistsError = _error_class(
    "AlreadyExistsError", ALREADY_EXISTS,
    "An entity that an operation tried to create already exists.")
PermissionDeniedError = _error_class(
    "PermissionDeniedError", PERMISSION_DENIED,
    "The caller does not have permission to run an operation.")
UnauthenticatedError = _error_class(
    "UnauthenticatedError", UNAUTHENTICATED,
    "The request does not have valid authentication credentials.")
ResourceExhaustedError = _error_class(
    "ResourceExhaustedError", RESOURCE_EXHAUSTED,
    "Some resource (memory, a quota) has been exhausted.")
FailedPreconditionError = _error_class(
    "FailedPreconditionError", FAILED_PRECONDITION,
    "The system is not in a state to run an operation (an uninitialized "
    "variable...).")
AbortedError = _error_class(
    "AbortedError", ABORTED, "An operation was aborted.")
OutOfRangeError = _error_class(
    "OutOfRangeError", OUT_OF_RANGE,
    "An operation iterated past the valid range (a dataset iterator's "
    "get_next() at the end of its data).")
UnimplementedError = _error_class(
    "UnimplementedError", UNIMPLEMENTED,
    "An operation has not been implemented or is not supported.")
InternalError = _error_class(
    "InternalError", INTERNAL, "An internal invariant was broken.")
UnavailableError = _error_class(
    "UnavailableError", UNAVAILABLE, "The runtime is unavailable.")
DataLossError = _error_class(
    "DataLossError", DATA_LOSS, "Unrecoverable data loss or corruption.")

__all__ = [
    "OpError", "CancelledError", "UnknownError", "InvalidArgumentError",
    "DeadlineExceededError", "NotFoundError", "AlreadyExistsError",
    "PermissionDeniedError", "UnauthenticatedError",
    "ResourceExhaustedError", "FailedPreconditionError", "AbortedError",
    "OutOfRangeError", "UnimplementedError", "InternalError",
    "UnavailableError", "DataLossError",
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]
