"""The errors Haven reports to a caller, each with a whole-sentence message safe to show.

HavenError
 ├── BadRequest          400  malformed or invalid input
 ├── Unauthorized        401  not signed in, or a bad token
 ├── Forbidden           403  signed in, but not allowed
 ├── NotFound            404
 ├── Conflict            409  the request does not fit the current state
 ├── Gone                410  an expired, used or revoked invite
 ├── PayloadTooLarge     413
 ├── TooManyRequests     429  carries ``retry_after``
 └── Unavailable         503  a dependency (database, relay) is down; try again
"""

from __future__ import annotations


class HavenError(Exception):
    """A request Haven refuses; ``str(exc)`` is a whole sentence safe to show the caller."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(HavenError):
    """The input is malformed or invalid."""


class Unauthorized(HavenError):
    """The caller is not signed in, or presented a bad token."""

    status = 401
    code = "unauthorized"


class Forbidden(HavenError):
    """The caller is known but not allowed to do this."""

    status = 403
    code = "forbidden"


class NotFound(HavenError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    status = 404
    code = "not_found"


class Conflict(HavenError):
    """The request does not fit the current state."""

    status = 409
    code = "conflict"


class Gone(HavenError):
    """An invite that expired, was used, or was revoked."""

    status = 410
    code = "gone"


class PayloadTooLarge(HavenError):
    """The request is larger than Haven accepts."""

    status = 413
    code = "too_large"


class TooManyRequests(HavenError):
    """Too many attempts; ``retry_after`` says how many seconds to wait."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(HavenError):
    """A dependency is down; the caller should try again."""

    status = 503
    code = "unavailable"
