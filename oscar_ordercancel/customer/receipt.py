"""The PDF receipt of a withdrawal declaration: what the done page shows, to download and keep.

:func:`render_receipt` lays out, on A4 with ReportLab's platypus, the shop, the
declaration's reference, when it was declared (local time and its time zone, as
``services.withdrawal_context`` gives them), who declared it, the order, the withdrawn
lines and what happens to each, the refund, and the SHA-256 digest of the declared
content in full. Every text goes through Django's translations in the active language.

Fonts: the receipt uses ReportLab's built-in Helvetica and Courier (:data:`FONT`,
:data:`BOLD_FONT`, :data:`MONO_FONT`), which cover Latin-1 (and the rest of
Windows-1252): German, French, Spanish, Scandinavian names and the like show
correctly. Other scripts (Greek, Cyrillic, Polish "ł", ...) need a TrueType font
registered with ``reportlab.pdfbase.pdfmetrics.registerFont(TTFont(name, path))`` and
its names assigned to these module attributes, e.g. from a shop's ``AppConfig.ready``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from django.utils import formats, timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from oscar.templatetags.currency_filters import currency
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from oscar_ordercancel.services import withdrawal_context

if TYPE_CHECKING:
    from django.contrib.sites.models import Site
    from django.contrib.sites.requests import RequestSite

    from oscar_ordercancel.abstract_models import AbstractWithdrawalDeclaration

#: The fonts of the receipt: ReportLab's standard fonts (Latin-1); register a TTF for others.
FONT = "Helvetica"
BOLD_FONT = "Helvetica-Bold"
MONO_FONT = "Courier"

#: What happens to a withdrawn line, by its outcome: the done page's wording.
OUTCOME_TEXTS = {
    "cancelled": gettext_lazy("Not yet shipped: cancelled at once and refunded."),
    "awaiting_return": gettext_lazy(
        "Already shipped or being prepared: please send it back to us; we refund it once we "
        "receive it or your proof of sending."),
}

MARGIN = 20 * mm
GRID = colors.HexColor("#999999")
SHADE = colors.HexColor("#eeeeee")


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("receipt", fontName=FONT, fontSize=10, leading=13, alignment=TA_LEFT)
    return {
        "body": base,
        "bold": ParagraphStyle("receipt-bold", parent=base, fontName=BOLD_FONT),
        "shop": ParagraphStyle("receipt-shop", parent=base, fontSize=11, leading=14,
                               textColor=colors.HexColor("#555555")),
        "title": ParagraphStyle("receipt-title", parent=base, fontName=BOLD_FONT, fontSize=17,
                                leading=21, spaceBefore=2 * mm, spaceAfter=5 * mm),
        "heading": ParagraphStyle("receipt-heading", parent=base, fontName=BOLD_FONT, fontSize=12,
                                  leading=15, spaceBefore=6 * mm, spaceAfter=2 * mm),
        "small": ParagraphStyle("receipt-small", parent=base, fontSize=8, leading=10,
                                textColor=colors.HexColor("#555555")),
        "digest": ParagraphStyle("receipt-digest", parent=base, fontName=MONO_FONT, fontSize=8.5,
                                 leading=11),
    }


def _text(value) -> str:
    """``value`` as text for a Paragraph: its markup characters escaped."""
    return escape(str(value if value is not None else ""))


def shop_name(declaration: AbstractWithdrawalDeclaration, site: Site | RequestSite | None = None) -> str:
    """The name of the order's site, else of ``site``, else of the current Site; '' if none."""
    order = declaration.order
    if order.site_id:
        return str(order.site.name)
    if site is None:
        from django.contrib.sites.models import Site

        try:
            site = Site.objects.get_current()
        except Exception:  # noqa: BLE001 - no SITE_ID, no such site: a receipt without a shop name
            return ""
    return str(getattr(site, "name", "") or "")


def declared_on(context: dict) -> str:
    """The declaration's local date and time with its time zone, as the done page shows it."""
    return f"{formats.date_format(context['declared_at'], 'DATETIME_FORMAT')} ({context['time_zone']})"


def _facts_table(declaration, context: dict, styles: dict, width: float) -> Table:
    rows = [
        (_("Reference"), declaration.reference),
        (_("Declared on"), declared_on(context)),
        (_("Name"), declaration.name),
        (_("E-mail address"), declaration.email),
        (_("Order"), context["order"].number),
    ]
    table = Table([[Paragraph(_text(label), styles["bold"]), Paragraph(_text(value), styles["body"])]
                   for label, value in rows], colWidths=[0.3 * width, 0.7 * width], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("BACKGROUND", (0, 0), (0, -1), SHADE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return table


def _lines_table(context: dict, styles: dict, width: float) -> Table:
    data = [[Paragraph(_text(_("Product")), styles["bold"]),
             Paragraph(_text(_("Quantity")), styles["bold"]),
             Paragraph(_text(_("What happens")), styles["bold"])]]
    for withdrawn in context["withdrawn_lines"]:
        outcome = OUTCOME_TEXTS.get(withdrawn.outcome, OUTCOME_TEXTS["awaiting_return"])
        data.append([Paragraph(_text(withdrawn.line.title), styles["body"]),
                     Paragraph(_text(withdrawn.quantity), styles["body"]),
                     Paragraph(_text(outcome), styles["body"])])
    table = Table(data, colWidths=[0.42 * width, 0.13 * width, 0.45 * width], repeatRows=1,
                  hAlign="LEFT")
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return table


def _refund_paragraphs(declaration, order, styles: dict) -> list[Paragraph]:
    paragraphs = []
    cancellation = declaration.cancellation
    if cancellation is not None and cancellation.refund_amount:
        amount = currency(cancellation.refund_amount, order.currency)
        paragraphs.append(Paragraph(_text(
            _("We have refunded %(amount)s to your original payment method.") % {"amount": amount}),
            styles["body"]))
    if declaration.refund_due_by:
        due = formats.date_format(timezone.localtime(declaration.refund_due_by), "DATE_FORMAT")
        paragraphs.append(Paragraph(_text(
            _("We refund the rest to your original payment method by %(due)s at the latest.")
            % {"due": due}), styles["body"]))
    return paragraphs


def render_receipt(declaration: AbstractWithdrawalDeclaration, *,
                   site: Site | RequestSite | None = None) -> bytes:
    """The A4 PDF receipt of ``declaration`` (shop: the order's site, else ``site`` or the current one)."""
    context = withdrawal_context(declaration)
    order = context["order"]
    styles = _styles()
    title = _("Acknowledgement of your withdrawal")
    shop = shop_name(declaration, site)
    reference = declaration.reference

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=MARGIN, title=f"{title} {reference}", subject=reference, author=shop,
        creator="oscar-ordercancel", lang=get_language() or None)
    width = document.width

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(MARGIN, MARGIN / 2, f"{shop} · {reference}" if shop else reference)
        canvas.drawRightString(A4[0] - MARGIN, MARGIN / 2, _("Page %(page)s") % {"page": doc.page})
        canvas.restoreState()

    story = []
    if shop:
        story.append(Paragraph(_text(shop), styles["shop"]))
    story += [
        Paragraph(_text(title), styles["title"]),
        _facts_table(declaration, context, styles, width),
        Paragraph(_text(_("Withdrawn items")), styles["heading"]),
        _lines_table(context, styles, width),
    ]
    refunds = _refund_paragraphs(declaration, order, styles)
    if refunds:
        story.append(Spacer(1, 4 * mm))
        story += refunds
    story += [
        Spacer(1, 6 * mm),
        Paragraph(_text(_("Content digest (SHA-256):")), styles["small"]),
        Paragraph(_text(declaration.content_digest), styles["digest"]),
    ]
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
