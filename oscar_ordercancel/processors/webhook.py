"""``WebhookProcessor``: a JSON POST signed as the Standard Webhooks specification says."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from django.core.serializers.json import DjangoJSONEncoder
from standardwebhooks.webhooks import Webhook

from oscar_ordercancel.processors.base import (
    CancelProcessor,
    PermanentError,
    ProcessorResult,
    RetryableError,
)

RETRYABLE_STATUSES = frozenset({408, 429})
USER_AGENT = "oscar-ordercancel webhook"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(tz=UTC)).total_seconds())


def _rejection_reason(response: requests.Response) -> str | None:
    """The ``reason`` of a ``{"status": "rejected", "reason": ...}`` body, else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("status") == "rejected":
        return str(body.get("reason") or "")
    return None


class WebhookProcessor(CancelProcessor):
    """POSTs the payload to ``url``, signed with ``secret`` (``whsec_…``); ``timeout`` seconds.

    Response rules: a JSON body ``{"status": "rejected", "reason": ...}`` with a 2xx
    or 409 status is a rejection; any other 2xx is success; 408, 429 and 5xx (with
    ``Retry-After`` honoured) and connection errors are retried; any other status
    is a permanent failure.
    """

    default_timeout = 10.0

    @classmethod
    def check_options(cls, options: dict) -> list[str]:
        """``url`` (http/https) and a ``whsec_`` base64 ``secret`` are required."""
        problems = []
        url = options.get("url")
        if not url or not str(url).startswith(("http://", "https://")):
            problems.append("WebhookProcessor needs an http(s) 'url' option.")
        secret = options.get("secret")
        if not secret:
            problems.append("WebhookProcessor needs a 'secret' option (whsec_<base64>).")
        elif not str(secret).startswith("whsec_"):
            problems.append("WebhookProcessor 'secret' must be a Standard Webhooks secret: "
                            "'whsec_' followed by base64.")
        else:
            try:
                if not base64.b64decode(str(secret)[6:] + "==", validate=False):
                    problems.append("WebhookProcessor 'secret' is empty after 'whsec_'.")
            except (binascii.Error, ValueError):
                problems.append("WebhookProcessor 'secret' is not valid base64 after 'whsec_'.")
        timeout = options.get("timeout", cls.default_timeout)
        if not isinstance(timeout, int | float) or timeout <= 0:
            problems.append("WebhookProcessor 'timeout' must be a positive number of seconds.")
        return problems

    def body(self, payload: dict) -> str:
        """The exact JSON text that is signed and sent."""
        return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True)

    def headers(self, body: str, idempotency_key: str, now: datetime | None = None) -> dict[str, str]:
        """Standard Webhooks headers (``webhook-id`` = the idempotency key) plus ``Idempotency-Key``."""
        now = now or datetime.now(tz=UTC)
        signature = Webhook(self.options["secret"]).sign(idempotency_key, now, body)
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": idempotency_key,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
            "Idempotency-Key": idempotency_key,
        }

    def process(self, payload: dict, idempotency_key: str) -> ProcessorResult:
        """POST, then map the response to success, rejection, retry or permanent failure."""
        body = self.body(payload)
        try:
            response = requests.post(
                self.options["url"], data=body.encode(), timeout=self.timeout,
                headers=self.headers(body, idempotency_key), allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
        status, text = response.status_code, response.text
        if 200 <= status < 300 or status == 409:
            reason = _rejection_reason(response)
            if reason is not None:
                return self.reject(reason, http_status=status, response=text)
            if status != 409:
                return self.success(http_status=status, response=text)
        if status in RETRYABLE_STATUSES or status >= 500:
            raise RetryableError(
                f"HTTP {status}", http_status=status, response=text,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        raise PermanentError(f"HTTP {status}", http_status=status, response=text)
