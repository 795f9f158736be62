"""The policy's answer: allowed or not, a machine code and a human message."""

from __future__ import annotations

from dataclasses import dataclass, field

from oscar_ordercancel.exceptions import CancellationError
from oscar_ordercancel.messages import CUSTOMER_MESSAGES, MESSAGES, SILENT_CODES, message_for

__all__ = ["CUSTOMER_MESSAGES", "MESSAGES", "SILENT_CODES", "Decision", "message_for"]


@dataclass(frozen=True)
class Decision:
    """Whether a cancellation may happen; truthy when allowed.

    ``quantities`` maps line ids to the quantity that would be cancelled and
    ``full`` says whether that cancels everything left in the order.
    """

    allowed: bool
    code: str = "ok"
    message: str = ""
    quantities: dict[int, int] = field(default_factory=dict)
    full: bool = False
    #: Machine-readable details of a refusal, e.g. ``{"line": 12, "available": 1}``.
    params: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.allowed

    @classmethod
    def deny(cls, code: str, message: str | None = None, *, details: dict | None = None,
             **params) -> Decision:
        """A refusal with ``code``, its message and optional machine-readable ``details``."""
        return cls(False, code, message or message_for(code, **params), params=details or {})

    def error(self):
        """This refusal as a ``CancellationError``."""
        return CancellationError(self.code, self.message, self.params)

    @property
    def explains(self) -> bool:
        """Whether a customer page should show this refusal (the history already says the rest)."""
        return not self.allowed and self.code not in SILENT_CODES

    def for_customer(self) -> Decision:
        """The same decision worded for a customer."""
        if self.allowed:
            return self
        code = "unknown_line" if self.code == "line_not_in_order" else self.code  # no probing
        if code not in CUSTOMER_MESSAGES or self.params:  # a specific message stays
            return Decision(False, code, message_for(code) if code != self.code else self.message,
                            params=self.params)
        return Decision(False, code, message_for(code, customer=True), params=self.params)

    @classmethod
    def allow(cls, quantities: dict[int, int], full: bool) -> Decision:
        """An approval covering ``quantities``."""
        return cls(True, "ok", "", dict(quantities), full)
