"""``LoggingProcessor``: writes the payload to the log (development, or a shop with no ERP yet)."""

from __future__ import annotations

import json
import logging

from django.core.serializers.json import DjangoJSONEncoder

from oscar_ordercancel.processors.base import CancelProcessor, ProcessorResult

logger = logging.getLogger("oscar_ordercancel.processors")


class LoggingProcessor(CancelProcessor):
    """Logs each cancellation at INFO (option ``logger``: another logger name) and succeeds."""

    def process(self, payload: dict, idempotency_key: str) -> ProcessorResult:
        """Log the payload and succeed."""
        target = logging.getLogger(self.options["logger"]) if "logger" in self.options else logger
        target.info("OrderCancel %s (%s): %s", payload.get("parameters", {}).get("OrderNumber"),
                    idempotency_key, json.dumps(payload, cls=DjangoJSONEncoder, sort_keys=True))
        return self.success()
