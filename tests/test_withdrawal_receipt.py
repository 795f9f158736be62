"""The PDF receipt of a withdrawal declaration: linked from the done page, the declaration's facts."""

import io
import re

import pytest
from django.urls import reverse
from oscar.core.loading import get_model
from pypdf import PdfReader

from tests import factories
from tests.withdrawals import CONFIRM, step_one, token_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("withdrawal_on")]

WithdrawalDeclaration = get_model("oscar_ordercancel", "WithdrawalDeclaration")
RECEIPT_LINK = re.compile(r'<a href="([^"]+)" id="withdraw-receipt-link"')


def withdraw(client, order, name="Greta Guest"):
    """Both steps as a guest, then the done page (followed from the confirmation's redirect)."""
    second = step_one(client, order.number, name=name)
    assert second.status_code == 200
    done = client.post(CONFIRM, {"token": token_of(second)}, follow=True)
    assert done.status_code == 200 and done.redirect_chain[-1][1] == 302
    return done


def receipt_url(done) -> str:
    return RECEIPT_LINK.search(done.content.decode()).group(1)


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_done_page_links_to_a_pdf_receipt_of_the_declaration(client, guest_order):
    done = withdraw(client, guest_order)
    declaration = WithdrawalDeclaration.objects.get()
    url = receipt_url(done)
    assert "Download the receipt (PDF)" in done.content.decode()
    token = done.redirect_chain[-1][0].rstrip("/").rsplit("/", 1)[-1]
    assert url == reverse("oscar_ordercancel:withdraw-receipt", kwargs={"token": token})

    receipt = client.get(url)
    assert receipt.status_code == 200
    assert receipt["Content-Type"] == "application/pdf"
    assert receipt["Content-Disposition"] == (
        f'attachment; filename="withdrawal-{declaration.reference}.pdf"')
    assert receipt.content.startswith(b"%PDF")
    assert "no-store" in receipt["Cache-Control"] and "private" in receipt["Cache-Control"]

    text = pdf_text(receipt.content)
    for fact in ("Acknowledgement of your withdrawal", declaration.reference, str(guest_order.number),
                 "Greta Guest", "guest@example.com", "(UTC)", "Linen shirt",
                 f"Content digest (SHA-256):\n{declaration.content_digest}"):
        assert fact in text, fact
    assert "cancelled at once and refunded" in " ".join(text.split())  # nothing had shipped

    metadata = PdfReader(io.BytesIO(receipt.content)).metadata
    assert declaration.reference in metadata.title and metadata.subject == declaration.reference


def test_the_receipt_shows_a_german_name_with_umlauts(client, guest_order):
    done = withdraw(client, guest_order, name="Jürgen Müßig")
    assert WithdrawalDeclaration.objects.get().name == "Jürgen Müßig"
    assert "Jürgen Müßig" in pdf_text(client.get(receipt_url(done)).content)


def test_the_receipt_of_a_shipped_line_says_to_send_it_back(client, guest_order):
    shipped = guest_order.lines.order_by("pk").first()
    factories.ship(guest_order, shipped, shipped.quantity)
    text = " ".join(pdf_text(client.get(receipt_url(withdraw(client, guest_order))).content).split())
    assert "please send it back to us" in text
    assert "cancelled at once and refunded" in text  # the line that had not shipped


@pytest.mark.parametrize("token", ["nonsense", "a" * 300])
def test_a_bad_token_is_a_404(client, guest_order, token):
    withdraw(client, guest_order)
    url = reverse("oscar_ordercancel:withdraw-receipt", kwargs={"token": token})
    assert client.get(url).status_code == 404


def test_the_receipt_takes_only_gets(client, guest_order):
    assert client.post(receipt_url(withdraw(client, guest_order))).status_code == 405


def test_with_the_function_off_the_receipt_is_a_404(client, guest_order, settings):
    url = receipt_url(withdraw(client, guest_order))
    settings.OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = False
    assert client.get(url).status_code == 404
