"""What the reference docs state: every setting and every code the REST API answers."""

from pathlib import Path

import pytest

pytest.importorskip("oscarapi")  # the API's error codes are read from oscar_ordercancel.api

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_docs_state_the_customer_reasons_setting_and_every_api_code():
    from oscar_ordercancel.api.errors import STATUS_BY_CODE
    from oscar_ordercancel.policy.decision import MESSAGES

    settings_doc = (DOCS / "settings.rst").read_text()
    assert "OSCAR_ORDERCANCEL_CUSTOMER_REASONS" in settings_doc
    assert "OSCAR_ORDERCANCEL_LOCK_TIMEOUT" in settings_doc
    rest = (DOCS / "rest-api.rst").read_text()
    # every code a cancel endpoint can answer: the status table's, and the policy's and
    # engine's (the resubmit codes and message variants are not cancellation answers)
    not_api = {"not_resubmittable", "already_resubmitted", "product_unavailable",
               "insufficient_stock", "use_cancel_form"}
    codes = set(STATUS_BY_CODE) | {c for c in MESSAGES if not c.startswith("status_")} - not_api
    missing = sorted(code for code in codes if f"``{code}``" not in rest)
    assert missing == []
    assert "JSON list" in rest
