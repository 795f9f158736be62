"""Test settings: the sandbox shop on PostgreSQL when reachable, else SQLite.

``ORDERCANCEL_FORKS=0`` runs the suite against plain Oscar apps (no forks).
``ORDERCANCEL_STRICT=1`` makes a missing PostgreSQL an error instead of a fallback.
``ORDERCANCEL_PG_DRIVER=psycopg2`` makes Django use psycopg2 although psycopg 3 is installed
(Django prefers psycopg 3 whenever it can import it); the default, ``psycopg``, is psycopg 3.
``ORDERCANCEL_PG_SERVER_BINDING=1`` turns on psycopg 3's server-side binding (Django's
``server_side_binding`` option).
``ORDERCANCEL_MODEL_FORK=1`` installs a shop's fork of the core app that replaces a model
(``tests/ordercancel_fork``) in place of ``oscar_ordercancel``; ``make test`` runs
``tests/model_fork_tests.py`` with it.
"""

import importlib.abc
import os
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path

import django

from sandbox.settings import *  # noqa: F401,F403

#: Which PostgreSQL driver Django uses in this process: ``psycopg`` (3) or ``psycopg2``.
PG_DRIVER = os.environ.get("ORDERCANCEL_PG_DRIVER", "psycopg")
if PG_DRIVER not in ("psycopg", "psycopg2"):
    raise RuntimeError(f"ORDERCANCEL_PG_DRIVER must be 'psycopg' or 'psycopg2', not {PG_DRIVER!r}.")
PG_SERVER_BINDING = os.environ.get("ORDERCANCEL_PG_SERVER_BINDING") == "1"
if PG_SERVER_BINDING and PG_DRIVER != "psycopg":
    raise RuntimeError("ORDERCANCEL_PG_SERVER_BINDING=1 needs psycopg 3 (ORDERCANCEL_PG_DRIVER=psycopg).")


class _NoPsycopg3(importlib.abc.MetaPathFinder):
    """Makes ``import psycopg`` fail, so that Django's PostgreSQL backend falls back to psycopg2."""

    def find_spec(self, name, path, target=None):
        if name == "psycopg" or name.startswith("psycopg."):
            raise ImportError(f"ORDERCANCEL_PG_DRIVER=psycopg2: {name} is hidden from this process")
        return None


if PG_DRIVER == "psycopg2":
    if "psycopg" in sys.modules:
        raise RuntimeError("ORDERCANCEL_PG_DRIVER=psycopg2: psycopg 3 was imported before the test "
                           "settings, so Django already chose it.")
    sys.meta_path.insert(0, _NoPsycopg3())


def _postgres_reachable() -> bool:
    try:
        if PG_DRIVER == "psycopg2":
            import psycopg2 as psycopg
        else:
            import psycopg
    except ImportError:
        return False
    try:
        psycopg.connect(
            host=os.environ.get("PGHOST", "127.0.0.1"), port=os.environ.get("PGPORT", "5432"),
            user=os.environ.get("PGUSER", "postgres"), dbname=os.environ.get("PGDATABASE", "test"),
            connect_timeout=2,
        ).close()
        return True
    except Exception:  # noqa: BLE001
        return False


STRICT = os.environ.get("ORDERCANCEL_STRICT") == "1"
#: ``auto`` (PostgreSQL when reachable, else in-memory SQLite), ``sqlite`` (in memory) or
#: ``sqlite-file`` (a file, as the sandbox uses: threads share it, so concurrency tests run).
DB_MODE = os.environ.get("ORDERCANCEL_DB", "auto")
USE_POSTGRES = DB_MODE == "auto" and _postgres_reachable()
if STRICT and DB_MODE == "auto" and not USE_POSTGRES:
    raise RuntimeError(f"ORDERCANCEL_STRICT=1 but PostgreSQL at 127.0.0.1:5432 is not reachable "
                       f"with {PG_DRIVER} (is it installed?).")

if USE_POSTGRES:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "NAME": os.environ.get("PGDATABASE", "test"),
            # one database per test process, so parallel runs never collide
            "TEST": {"NAME": f"test_ordercancel_{'forks' if USE_FORKS else 'plain'}_{os.getpid()}"},  # noqa: F405
        }
    }
    if PG_SERVER_BINDING:
        DATABASES["default"]["OPTIONS"] = {"server_side_binding": True}
elif DB_MODE == "sqlite-file":
    _path = os.path.join(tempfile.gettempdir(), f"ordercancel-test-{os.getpid()}.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _path,
            "TEST": {"NAME": _path},
            # as the sandbox: lock at BEGIN; a short wait keeps the busy test quick
            "OPTIONS": {"timeout": 3, **({"transaction_mode": "IMMEDIATE"}
                                         if django.VERSION >= (5, 1) else {})},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

#: A shop's fork of the core app in place of the package's (``tests/ordercancel_fork``).
MODEL_FORK = os.environ.get("ORDERCANCEL_MODEL_FORK") == "1"
if MODEL_FORK:
    INSTALLED_APPS = [  # noqa: F405
        "tests.ordercancel_fork.apps.OrderCancelConfig" if app == "oscar_ordercancel.apps.OrderCancelConfig"
        else app for app in INSTALLED_APPS  # noqa: F405
    ]
    # The package's folder is no longer an installed app: its templates (which must still
    # override Oscar's, as template DIRS do), static files and translations are named here.
    _PACKAGE = Path(find_spec("oscar_ordercancel").origin).parent
    TEMPLATES = [{**TEMPLATES[0], "DIRS": [*TEMPLATES[0]["DIRS"], _PACKAGE / "templates"]}]  # noqa: F405
    STATICFILES_DIRS = [_PACKAGE / "static"]
    LOCALE_PATHS = [_PACKAGE / "locale"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if django.VERSION >= (6, 1):  # MAILERS (sandbox/settings.py)
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
SILENCED_SYSTEM_CHECKS = ["ordercancel.W003"]
# The package's defaults, not the sandbox's: tests that need the withdrawal function turn it on.
OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED = False
OSCAR_ORDERCANCEL_WITHDRAWAL_EXCLUDED_PRODUCT_CLASSES = ()
# The package's expiry defaults (the sandbox expires bank transfers); tests turn it on.
OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER_BY_SOURCE = {}
OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE = None
