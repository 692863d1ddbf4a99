"""Domain errors: what went wrong, in the API's terms, independent of any protocol.

The store and the services raise these; `server/transport/status.py` is the one place that
turns them into gRPC and Connect codes. Messages are written for the client: they name the
field and the rule, and never another organization's ids.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One broken rule of one request field, e.g. ("max_size", "must be between 1 and 20")."""

    field: str
    description: str

    def __str__(self) -> str:
        return f"{self.field}: {self.description}"


class DomainError(Exception):
    """Base of every error a client may see. `message` is safe to send as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    """The request breaks one or more field rules; all of them are reported at once."""

    def __init__(self, violations: list[FieldViolation] | FieldViolation) -> None:
        self.violations = violations if isinstance(violations, list) else [violations]
        super().__init__("; ".join(str(v) for v in self.violations))


class Unauthenticated(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    pass


class FailedPrecondition(DomainError):
    pass


class ResourceExhausted(DomainError):
    pass


class Unavailable(DomainError):
    """A dependency (the database) cannot be reached; the call may be retried."""


class DeadlineExceeded(DomainError):
    pass


class Unimplemented(DomainError):
    pass
