"""The order fork follows Oscar's own migrations; every model change has a migration."""

from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader


def test_the_order_app_ends_where_oscars_does():
    import oscar.apps.order.migrations as oscar_migrations

    oscar_names = sorted(p.stem for p in Path(oscar_migrations.__path__[0]).glob("0*.py"))
    loader = MigrationLoader(None, ignore_no_migrations=True)
    leaves = loader.graph.leaf_nodes("order")
    assert leaves == [("order", oscar_names[-1])]
    assert {n for app, n in loader.graph.nodes if app == "order"} == set(oscar_names)


def test_the_order_app_is_the_configured_one():
    expected = "oscar_ordercancel.order" if settings.USE_FORKS else "oscar.apps.order"
    assert apps.get_app_config("order").name == expected


def test_order_model_has_the_mixin_only_with_the_fork():
    from oscar_ordercancel.order.mixins import CancellableOrderMixin

    Order = apps.get_model("order", "Order")
    assert issubclass(Order, CancellableOrderMixin) is settings.USE_FORKS


@pytest.mark.django_db
def test_no_missing_migrations():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
