"""Failure classes. Adapters raise these; the engine and the cooldown policy only read their attributes."""

from __future__ import annotations

import math
from enum import StrEnum

# No provider hint is believed beyond a day: a daily quota resets within one, and anything longer
# ("Retry-After: inf", "try again in 99999999999h") is a broken or hostile header, not a plan.
MAX_WAIT_S = 86400.0


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
# Classes worth retrying on the same provider before moving on. Not timeouts: a provider that
# just used a whole attempt budget without answering would only double the caller's wait.
TRANSIENT = frozenset({ErrorKind.UNAVAILABLE, ErrorKind.INVALID_RESPONSE, ErrorKind.UNKNOWN})


def sane_wait(seconds) -> float | None:
    """A provider's wait as finite seconds in [0, MAX_WAIT_S]; None when it names none."""
    try:
        seconds = float(seconds)
    except (TypeError, ValueError, OverflowError):
        return None
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_WAIT_S)


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
        self.retry_after = None if retry_after is None else sane_wait(retry_after)
        self.code = code

    @property
    def falls_back(self) -> bool:
        """Whether another provider may answer where this one failed."""
        return True

    @property
    def cools_down(self) -> bool:
        """Whether the provider (or key) should rest after this failure."""
        return True

    @property
    def refuses_request(self) -> bool:
        """The request itself was refused (its size, its content): the provider is not at fault.

        Such failures never cool a provider down for other callers and never escalate.
        """
        return False

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
    """An answer we cannot use. `request_only`: only this request's answer was unusable (JSON
    mode answered with text that is not JSON, max_tokens ran out before any text): the next
    provider is tried and this one is not cooled down.
    """

    kind = ErrorKind.INVALID_RESPONSE

    def __init__(self, message: str, *, request_only: bool = False, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.request_only = request_only

    @property
    def cools_down(self) -> bool:
        return not self.request_only

    @property
    def refuses_request(self) -> bool:
        return self.request_only


class ContentFiltered(ProviderError):
    kind = ErrorKind.CONTENT_FILTER

    @property
    def cools_down(self) -> bool:
        return False

    @property
    def refuses_request(self) -> bool:
        return True


class BadRequest(ProviderError):
    """The caller's own request is wrong for this provider.

    `too_large`: longer than this provider's context window, or larger than its tier takes (413):
    a later provider may take it. Otherwise the request is malformed and no provider would.
    """

    kind = ErrorKind.BAD_REQUEST

    def __init__(self, message: str, *, too_large: bool = False, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.too_large = too_large

    @property
    def falls_back(self) -> bool:
        return self.too_large

    @property
    def cools_down(self) -> bool:
        return False

    @property
    def refuses_request(self) -> bool:
        return True


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


class RequestUnsendable(ChatFailed):
    """The request could not be built or encoded (a lone surrogate, a NaN): no provider was
    called, so none is at fault. Never a ProviderError: it cannot cool, count or escalate one.

    `caller_fault`: the request's own content would not encode (a 400); otherwise building it
    failed in our own code (a 500).
    """

    def __init__(self, message: str, *, caller_fault: bool):
        super().__init__(message)
        self.message, self.caller_fault = message, caller_fault
        self.attempts = ()


class CallerError(ChatFailed):
    """Refused for the request's own sake: a malformed request (`error` says why), or every
    provider tried refused it (too large, blocked, no usable answer); a 4xx to the caller.
    """

    def __init__(self, error: ProviderError, attempts, *, refusals=()):
        super().__init__(error.message)
        self.error = error
        self.attempts = tuple(attempts)
        self.refusals = tuple(refusals)  # (provider, ProviderError), one per provider tried

    @property
    def http_status(self) -> int:
        """413 when any provider found the request too large, else the provider's 4xx or 400."""
        errors = [e for _, e in self.refusals] or [self.error]
        if any(getattr(e, "too_large", False) for e in errors):
            return 413
        status = self.error.status
        return status if status and 400 <= status < 500 and status != 413 else 400
