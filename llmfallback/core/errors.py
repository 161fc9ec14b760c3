"""Failure classes. Adapters raise these; the engine and the cooldown policy only read their attributes."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    RATE_LIMIT = "rate_limit"
    QUOTA = "quota"
    TIMEOUT = "timeout"
    AUTH = "auth"
    UNAVAILABLE = "unavailable"
    INVALID_RESPONSE = "invalid_response"
    CONTENT_FILTER = "content_filter"
    BAD_REQUEST = "bad_request"
    UNKNOWN = "unknown"


# Classes that belong to one API key: the engine rotates to the provider's next key.
KEY_SCOPED = frozenset({ErrorKind.RATE_LIMIT, ErrorKind.QUOTA, ErrorKind.AUTH})
# Classes worth retrying on the same provider before moving on.
TRANSIENT = frozenset(
    {ErrorKind.TIMEOUT, ErrorKind.UNAVAILABLE, ErrorKind.INVALID_RESPONSE, ErrorKind.UNKNOWN}
)


class ProviderError(Exception):
    """A provider call failed. `retry_after` is the provider's own hint, in seconds from now."""

    kind: ErrorKind = ErrorKind.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.code = code

    @property
    def falls_back(self) -> bool:
        """Whether another provider may answer where this one failed."""
        return True

    @property
    def cools_down(self) -> bool:
        """Whether the provider (or key) should rest after this failure."""
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status}, retry_after={self.retry_after})"


class RateLimited(ProviderError):
    kind = ErrorKind.RATE_LIMIT


class QuotaExceeded(ProviderError):
    """Daily/monthly quota, billing (402), spend caps, a request larger than the tier allows."""

    kind = ErrorKind.QUOTA


class ProviderTimeout(ProviderError):
    kind = ErrorKind.TIMEOUT


class AuthFailed(ProviderError):
    """Bad, revoked or unauthorised key, unsupported region, decommissioned model."""

    kind = ErrorKind.AUTH


class Unavailable(ProviderError):
    kind = ErrorKind.UNAVAILABLE


class InvalidResponse(ProviderError):
    kind = ErrorKind.INVALID_RESPONSE


class ContentFiltered(ProviderError):
    kind = ErrorKind.CONTENT_FILTER

    @property
    def cools_down(self) -> bool:
        return False


class BadRequest(ProviderError):
    """The caller's own request is wrong. A context-length overflow may fit a later provider."""

    kind = ErrorKind.BAD_REQUEST

    def __init__(self, message: str, *, context_length: bool = False, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.context_length = context_length

    @property
    def falls_back(self) -> bool:
        return self.context_length

    @property
    def cools_down(self) -> bool:
        return False


class UnknownError(ProviderError):
    kind = ErrorKind.UNKNOWN


class ChatFailed(Exception):
    """Base for failures the engine reports to its caller."""


class AllProvidersFailed(ChatFailed):
    """No provider answered. `retry_after` is the earliest moment one may (seconds from now)."""

    def __init__(
        self, attempts, *, retry_after: float | None, reason: str = "all providers failed"
    ):
        super().__init__(reason)
        self.attempts = tuple(attempts)
        self.retry_after = retry_after
        self.reason = reason


class CallerError(ChatFailed):
    """The caller's request was refused by a provider for the caller's own fault (4xx to the caller)."""

    def __init__(self, error: ProviderError, attempts):
        super().__init__(error.message)
        self.error = error
        self.attempts = tuple(attempts)
