"""The cancel-processor contract: what a processor gets, and what it may answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass
class ProcessorResult:
    """What a processor answered; ``http_status`` and ``response`` go to the attempt log."""

    http_status: int | None = None
    response: str = ""


@dataclass
class Success(ProcessorResult):
    """The receiving system accepted (or had already accepted) the cancellation."""


@dataclass
class Rejection(ProcessorResult):
    """The receiving system refuses the cancellation, e.g. the parcel has left."""

    reason: str = ""


class ProcessorError(Exception):
    """A failed call; ``http_status`` and ``response`` go to the attempt log."""

    def __init__(self, message: str, *, http_status: int | None = None, response: str = "") -> None:
        super().__init__(message)
        self.http_status = http_status
        self.response = response


class RetryableError(ProcessorError):
    """Try again later (timeout, 5xx, 429…); ``retry_after`` seconds if the receiver said so."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PermanentError(ProcessorError):
    """Trying again cannot help (bad request, wrong credentials): the job fails at once."""


class CancelProcessor:
    """Base class: deliver one cancellation payload to one external system.

    ``process`` returns :class:`Success` or :class:`Rejection`, or raises
    :class:`RetryableError` / :class:`PermanentError`. Any other exception counts
    as retryable. It is called outside any database transaction, possibly more
    than once for one job (a worker may die after the call): the receiver must
    treat the idempotency key as "already done".
    """

    #: Seconds a call may take at most; the job's lease must be longer.
    default_timeout: ClassVar[float] = 30.0

    def __init__(self, name: str, options: dict | None = None) -> None:
        self.name = name
        self.options = dict(options or {})

    @classmethod
    def check_options(cls, options: dict) -> list[str]:
        """Problems with ``options`` as human messages (for the system checks)."""
        return []

    @property
    def timeout(self) -> float:
        """The configured ``timeout`` option, else the class default."""
        return float(self.options.get("timeout", self.default_timeout))

    def process(self, payload: dict, idempotency_key: str) -> ProcessorResult:
        """Deliver ``payload``; return Success/Rejection or raise Retryable/PermanentError."""
        raise NotImplementedError

    def success(self, **kwargs: Any) -> Success:
        """A :class:`Success` (shortcut for subclasses)."""
        return Success(**kwargs)

    def reject(self, reason: str, **kwargs: Any) -> Rejection:
        """A :class:`Rejection` with ``reason`` (shortcut for subclasses)."""
        return Rejection(reason=reason, **kwargs)
