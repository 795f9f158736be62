"""The support matrix: one nox session per supported (Python, Oscar, Django) triple.

``make test-matrix`` runs every session and prints one line per triple;
``nox -l`` lists them, ``nox -s "tests(py3.12, oscar4.2, django6.0)"`` runs one.
Each session makes its own virtualenv (with uv when it is installed), installs
the package with its extras and the triple's Oscar and Django, then checks the
migrations with and without the forks and runs the suite. ``MATRIX_MARKERS``
chooses the tests (default: everything but the browser tests and the tested
installation guide, which build shops and drive Chromium on the default triple
in ``make test``); ``MATRIX_FORKS`` the fork configurations (default ``1 0``).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True

#: Each Oscar 4 release with the Django versions it supports (its wheel's metadata).
OSCAR_DJANGO = {
    "4.0": ("4.2", "5.2"),
    "4.1": ("4.2", "5.2"),
    "4.2": ("4.2", "5.2", "6.0", "6.1"),  # Oscar 4.2.1: django>=4.2,<6.2
}
#: The Python versions (3.11+) each Django version supports.
DJANGO_PYTHON = {
    "4.2": ("3.11", "3.12"),
    "5.2": ("3.11", "3.12", "3.13"),
    "6.0": ("3.12", "3.13"),
    "6.1": ("3.12", "3.13"),
}
MATRIX = [(python, oscar, django) for oscar, djangos in OSCAR_DJANGO.items()
          for django in djangos for python in DJANGO_PYTHON[django]]

#: The pairs CI runs (.ci/run): every Oscar release, Django and Python at least once,
#: the oldest pair and the newest among them.
CI_SUBSET = [("3.11", "4.0", "4.2"), ("3.12", "4.1", "5.2"), ("3.13", "4.2", "6.0"),
             ("3.12", "4.2", "6.1")]

DEFAULT_MARKERS = "not browser and not install_docs"
EXTRAS = "api,celery,xlsx,test"


def interpreter(version: str) -> str:
    """The path of Python ``version``: ``pythonX.Y`` on PATH, or one that pyenv installed."""
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:
        return found
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
    return candidates[-1] if candidates else version  # nox then says it is missing


def oscar_requirement(oscar: str) -> str:
    """The pip requirement of an Oscar release (4.2 means its newest 4.2.x)."""
    return f"django-oscar=={oscar}.*"


@nox.session
@nox.parametrize(
    ("python", "oscar", "django"),
    [nox.param(interpreter(py), oscar, django, id=f"py{py}, oscar{oscar}, django{django}")
     for py, oscar, django in MATRIX],
)
def tests(session: nox.Session, oscar: str, django: str) -> None:
    """Install the package for one triple, check its migrations, run the suite."""
    session.env["UV_PYTHON_DOWNLOADS"] = "never"  # the interpreters found above, never a download
    session.install("-e", f".[{EXTRAS}]", oscar_requirement(oscar), f"Django=={django}.*")
    session.run("python", "-c", "import django, oscar; print('Django', django.get_version(), "
                "'/ django-oscar', oscar.get_version())")
    markers = os.environ.get("MATRIX_MARKERS", DEFAULT_MARKERS)
    for forks in os.environ.get("MATRIX_FORKS", "1 0").split():
        env = {"ORDERCANCEL_FORKS": forks}
        session.run("python", "sandbox/manage.py", "makemigrations", "--check", "--dry-run", env=env)
        session.run("python", "-m", "pytest", "-q", "-m", markers, *session.posargs, env=env)
    session.run("python", "-m", "django", "makemigrations", "--check", "--dry-run",
                "--settings=tests.settings", env={"ORDERCANCEL_MODEL_FORK": "1", "ORDERCANCEL_DB": "sqlite"})
