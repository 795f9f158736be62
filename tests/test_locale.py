"""The German translation: complete, compiled, and used by the policy and the customer pages."""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

import oscar_ordercancel
from oscar_ordercancel.policy import message_for

LC_MESSAGES = Path(oscar_ordercancel.__file__).resolve().parent / "locale" / "de" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|<[^>]+>")


def _unquote(line: str) -> str:
    return ast.literal_eval(line[line.index('"'):])


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: msgid, msgstr(s) and flags (enough for checking, not a full parser)."""
    entries = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        entry, key = {"flags": set(), "msgid": "", "msgstr": {}}, None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif line.startswith(("msgid ", "msgid_plural ", "msgctxt ")):
                key = line.split()[0]
                entry[key] = _unquote(line)
            elif line.startswith("msgstr"):
                key = ("msgstr", line.split()[0])
                entry["msgstr"][key[1]] = _unquote(line)
            elif line.startswith('"') and key is not None:
                if isinstance(key, tuple):
                    entry["msgstr"][key[1]] += _unquote(line)
                else:
                    entry[key] += _unquote(line)
        if entry["msgstr"]:
            entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def catalogue():
    entries = po_entries(LC_MESSAGES / "django.po")
    header = [e for e in entries if e["msgid"] == ""]
    assert len(header) == 1, "the .po needs exactly one header"
    return header[0], [e for e in entries if e["msgid"] != ""]


def test_the_policy_messages_are_translated():
    with translation.override("de"):
        assert message_for("already_cancelled") == "Diese Bestellung wurde bereits storniert."
        assert message_for("window_passed", window="30 Minuten") == (
            "Bestellungen können bis 30 Minuten nach dem Kauf storniert werden.")
    with translation.override("en"):
        assert message_for("already_cancelled") == "This order has already been cancelled."


@pytest.mark.django_db
def test_the_confirmation_page_speaks_german(client, customer, order):
    client.force_login(customer)
    url = reverse("oscar_ordercancel:order-cancel", kwargs={"order_number": order.number})
    with translation.override("de"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="de")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Bestellung stornieren" in html and "Bestellung behalten" in html
    assert "Warum möchten Sie stornieren?" in html and "Kundenwunsch" in html
    assert "Keep order" not in html and "Why do you want to cancel?" not in html


def test_the_catalogue_is_complete(catalogue):
    header, entries = catalogue
    assert "fuzzy" not in header["flags"]
    assert "Language: de\n" in header["msgstr"]["msgstr"]
    assert len(entries) > 100
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == [] and fuzzy == []


def test_placeholders_and_markup_are_kept(catalogue):
    __, entries = catalogue
    def source(entry, key):  # msgstr[0] translates msgid; the other plural forms msgid_plural
        return entry.get("msgid_plural") if key not in ("msgstr", "msgstr[0]") and \
            entry.get("msgid_plural") else entry["msgid"]

    wrong = [
        e["msgid"] for e in entries
        if any(sorted(PLACEHOLDER.findall(source(e, key))) != sorted(PLACEHOLDER.findall(text))
               for key, text in e["msgstr"].items())
    ]
    assert wrong == []


def test_the_compiled_catalogue_matches_the_po(catalogue):
    """A stale or missing .mo would ship old (or no) translations in the wheel."""
    __, entries = catalogue
    with open(LC_MESSAGES / "django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)._catalog
    expected = {}
    for e in entries:
        msgid = f"{e['msgctxt']}\x04{e['msgid']}" if "msgctxt" in e else e["msgid"]
        if "msgid_plural" in e:
            expected.update({(msgid, int(k[7:-1])): v for k, v in e["msgstr"].items()})
        else:
            expected[msgid] = e["msgstr"]["msgstr"]
    assert {k: v for k, v in compiled.items() if k} == expected


@pytest.mark.gettext
def test_every_string_of_the_package_is_in_the_catalogue(tmp_path, catalogue):
    """makemessages over a copy of the package finds no msgid the committed .po lacks."""
    import shutil
    import subprocess
    import sys

    package = Path(oscar_ordercancel.__file__).resolve().parent
    copy = tmp_path / "oscar_ordercancel"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    (copy / "locale" / "de" / "LC_MESSAGES" / "django.po").unlink()
    subprocess.run([sys.executable, "-P", "-m", "django", "makemessages", "-l", "de", "--no-location",
                    "--settings=tests.settings"], cwd=copy, check=True, capture_output=True,
                   env={**__import__("os").environ,
                        "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    found = {e["msgid"] for e in po_entries(copy / "locale" / "de" / "LC_MESSAGES" / "django.po")
             if e["msgid"]}
    __, entries = catalogue
    missing = sorted(found - {e["msgid"] for e in entries})
    assert missing == [], "run makemessages -l de in oscar_ordercancel/ and translate"
