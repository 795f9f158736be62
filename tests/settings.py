"""Test settings: the sandbox shop on PostgreSQL when reachable, else SQLite.

``ORDERCANCEL_FORKS=0`` runs the suite against plain Oscar apps (no forks).
``ORDERCANCEL_STRICT=1`` makes a missing PostgreSQL an error instead of a fallback.
"""

import os
import tempfile

from sandbox.settings import *  # noqa: F401,F403


def _postgres_reachable() -> bool:
    try:
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
    raise RuntimeError("ORDERCANCEL_STRICT=1 but PostgreSQL at 127.0.0.1:5432 is not reachable.")

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
elif DB_MODE == "sqlite-file":
    _path = os.path.join(tempfile.gettempdir(), f"ordercancel-test-{os.getpid()}.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _path,
            "TEST": {"NAME": _path},
            # as the sandbox: lock at BEGIN; a short wait keeps the busy test quick
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 3},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
SILENCED_SYSTEM_CHECKS = ["ordercancel.W003"]
