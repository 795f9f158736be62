"""Cancel processors: deliver a cancellation to an ERP, a fulfilment partner, a log.

Configure them with ``OSCAR_ORDERCANCEL_PROCESSORS``; write your own by
subclassing :class:`CancelProcessor` (see the docs' "Cancel processors" page).
"""

from oscar_ordercancel.processors.base import (
    CancelProcessor,
    PermanentError,
    ProcessorError,
    ProcessorResult,
    Rejection,
    RetryableError,
    Success,
)
from oscar_ordercancel.processors.log import LoggingProcessor
from oscar_ordercancel.processors.mail import EmailProcessor
from oscar_ordercancel.processors.registry import configured_processors, get_processor
from oscar_ordercancel.processors.webhook import WebhookProcessor

__all__ = [
    "CancelProcessor",
    "EmailProcessor",
    "LoggingProcessor",
    "PermanentError",
    "ProcessorError",
    "ProcessorResult",
    "Rejection",
    "RetryableError",
    "Success",
    "WebhookProcessor",
    "configured_processors",
    "get_processor",
]
