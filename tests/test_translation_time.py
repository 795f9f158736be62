"""No text is translated when a module is imported: it would stay in the language of whoever
started the process. Module constants, class attributes and default arguments use
``gettext_lazy``; ``gettext`` runs inside functions, once per request."""

import ast
from pathlib import Path

import pytest
from django.urls import reverse

import oscar_ordercancel
from oscar_ordercancel.models import OrderStatusMapping
from tests import factories

PACKAGE = Path(oscar_ordercancel.__file__).resolve().parent
EAGER = {"gettext", "ngettext", "pgettext", "npgettext"}
LAZY = {"gettext_lazy", "ngettext_lazy", "pgettext_lazy", "npgettext_lazy"}


def _names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """The local names of django.utils.translation's eager and lazy functions."""
    eager, lazy = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
            for alias in node.names:
                if alias.name in EAGER:
                    eager.add(alias.asname or alias.name)
                elif alias.name in LAZY:
                    lazy.add(alias.asname or alias.name)
    return eager, lazy


def _calls(node: ast.AST, names: set[str]) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names


def import_time_translations(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for every text translated while the module is imported."""
    tree = ast.parse(source)
    eager, lazy = _names(tree)
    found = []

    def expression(node: ast.AST) -> None:
        stack = [node]
        while stack:
            sub = stack.pop()
            if isinstance(sub, ast.Lambda):
                continue  # runs when called
            if _calls(sub, eager):
                found.append((sub.lineno, f"{sub.func.id}() runs at import"))
            elif isinstance(sub, ast.BinOp) and (_calls(sub.left, lazy) or _calls(sub.right, lazy)):
                found.append((sub.lineno, "a lazy text is made a string by an operator"))
            elif isinstance(sub, ast.JoinedStr) and any(
                    isinstance(part, ast.FormattedValue) and _calls(part.value, lazy | eager)
                    for part in sub.values):
                found.append((sub.lineno, "an f-string of a translated text"))
            elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) \
                    and _calls(sub.func.value, lazy):
                found.append((sub.lineno, f"a lazy text's .{sub.func.attr}() runs at import"))
            elif _calls(sub, {"str"}) and sub.args and _calls(sub.args[0], lazy):
                found.append((sub.lineno, "str() of a lazy text"))
            stack.extend(ast.iter_child_nodes(sub))

    def body(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                args = statement.args
                for node in [*statement.decorator_list, *args.defaults,
                             *(d for d in args.kw_defaults if d is not None)]:
                    expression(node)
            elif isinstance(statement, ast.ClassDef):
                for node in [*statement.decorator_list, *statement.bases,
                             *(k.value for k in statement.keywords)]:
                    expression(node)
                body(statement.body)
            else:
                for child in ast.iter_child_nodes(statement):
                    if isinstance(child, ast.stmt):
                        body([child])
                    else:
                        expression(child)

    body(tree.body)
    return found


def test_the_scanner_finds_each_kind_of_import_time_translation():
    source = '''
from django.utils.translation import gettext as _, gettext_lazy, ngettext
TITLE = _("now")
PLURAL = ngettext("a", "b", 2)
JOINED = gettext_lazy("a") + "b"
FORMATTED = f"{gettext_lazy('a')}"
UPPER = gettext_lazy("a").upper()
AS_TEXT = str(gettext_lazy("a"))
CHOICES = [("a", gettext_lazy("fine"))]
LATER = lambda: _("fine")
class View:
    success_message = _("now")
    label = gettext_lazy("fine")
    def get(self, request, title=_("now")):
        return _("fine")
'''
    lines = [line for line, __ in import_time_translations(source)]
    assert lines == [3, 4, 5, 6, 7, 8, 12, 14]


def test_no_module_of_the_package_translates_at_import():
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for line, what in import_time_translations(path.read_text(encoding="utf-8"))]
    assert found == []


@pytest.mark.django_db
def test_a_german_manager_is_told_in_german_that_a_mapping_was_saved(client):
    manager = factories.create_user(
        "manager@example.com", is_staff=True,
        perms=[f"oscar_ordercancel.{action}_orderstatusmapping" for action in ("view", "add")])
    client.force_login(manager)
    response = client.post(reverse("ordercancel_dashboard:ordercancel-mapping-create"),
                           {"status": "Being processed", "display_name": "In Arbeit"},
                           HTTP_ACCEPT_LANGUAGE="de", follow=True)
    assert response.status_code == 200
    assert OrderStatusMapping.objects.filter(status="Being processed").exists()
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["Die Zuordnung von „Being processed“ wurde angelegt."]
