"""The support matrix: one nox session per supported (Python, Oscar, Django) triple.

``make test-matrix`` runs every session and prints one line per triple;
``nox -l`` lists them, ``nox -s "tests(py3.12, oscar4.2, django6.0)"`` runs one.
Each session makes its own virtualenv (with uv when it is installed), installs
the package's wheel with its extras and the triple's Oscar and Django, then checks
the migrations with and without the forks and runs the suite against the wheel. ``MATRIX_MARKERS``
chooses the tests (default: everything but the browser tests, which drive
Chromium on the default triple in ``make test``); ``MATRIX_FORKS`` the fork
configurations (default ``1 0``); ``MATRIX_WHEEL`` a wheel to install (default:
one built from this tree at the start of the run).
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
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

DEFAULT_MARKERS = "not browser"
EXTRAS = "api,celery,xlsx,test"


def interpreter(version: str) -> str:
    """The path of Python ``version``: ``pythonX.Y`` on PATH, or one that pyenv installed."""
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:
        return found
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
    return candidates[-1] if candidates else version  # nox then says it is missing


def oscar_requirements(oscar: str) -> list[str]:
    """The pip requirements of an Oscar release (4.2 means its newest 4.2.x).

    Oscar 4.0 and 4.1 fail with django-treebeard 6 and newer and 5.3 warns
    (docs/versions.rst, ``compat.OSCAR_LEGACY_TREEBEARD_PIN``, system check
    ``ordercancel.E013``); their own metadata does not say so.
    """
    pins = ["django-treebeard<5.3"] if oscar in ("4.0", "4.1") else []
    return [f"django-oscar=={oscar}.*", *pins]


def triple_id(python: str, oscar: str, django: str) -> str:
    """The id of one triple in its session's name, e.g. ``py3.11, oscar4.0, django4.2``."""
    return f"py{python}, oscar{oscar}, django{django}"


def session_name(python: str, oscar: str, django: str) -> str:
    """The nox session of one triple, e.g. ``tests(py3.11, oscar4.0, django4.2)``."""
    return f"tests({triple_id(python, oscar, django)})"


def ci_session_names() -> list[str]:
    """The sessions of ``CI_SUBSET`` (``.ci/run`` passes them to nox)."""
    return [session_name(*triple) for triple in CI_SUBSET]


def ci_sessions() -> str:
    """The sessions of ``CI_SUBSET``, quoted for a shell (``make test-matrix MATRIX=...``)."""
    return " ".join(shlex.quote(name) for name in ci_session_names())


_built: list[Path] = []


def package_wheel(session: nox.Session) -> Path:
    """The wheel the sessions install: ``MATRIX_WHEEL``, or one built once per nox run."""
    if os.environ.get("MATRIX_WHEEL"):
        return Path(os.environ["MATRIX_WHEEL"]).resolve()
    if not _built:
        dist = ROOT / ".nox" / "dist"
        shutil.rmtree(dist, ignore_errors=True)
        session.run(sys.executable, "-m", "build", "--wheel", "--outdir", str(dist),
                    external=True, silent=True)
        _built.extend(dist.glob("oscar_ordercancel-*.whl"))
    return _built[0]


@nox.session
@nox.parametrize(
    ("python", "oscar", "django"),
    [nox.param(interpreter(py), oscar, django, id=triple_id(py, oscar, django))
     for py, oscar, django in MATRIX],
)
def tests(session: nox.Session, oscar: str, django: str) -> None:
    """Install the wheel for one triple, check its migrations, run the suite against it.

    The suite runs in a directory of its own (``.ci/wheel_workdir.py``: the tests, the
    sandbox and the docs, not the package source), so what is tested is the installed
    wheel, as a shop installs it. The installation guide's tests (``install_docs``) build
    shops that cancel an order from the customer page, the REST API and the dashboard.
    """
    session.env["UV_PYTHON_DOWNLOADS"] = "never"  # the interpreters found above, never a download
    session.install(f"{package_wheel(session)}[{EXTRAS}]", *oscar_requirements(oscar),
                    f"Django=={django}.*")
    session.run("python", "-c", "import django, oscar; print('Django', django.get_version(), "
                "'/ django-oscar', oscar.get_version())")
    workdir = Path(session.create_tmp()) / "run"
    session.run("python", str(ROOT / ".ci" / "wheel_workdir.py"), str(ROOT), str(workdir),
                silent=True)
    session.chdir(workdir)
    markers = os.environ.get("MATRIX_MARKERS", DEFAULT_MARKERS)

    def env(forks: str) -> dict:
        return {"ORDERCANCEL_FORKS": forks, "ORDERCANCEL_WHEEL_TEST": "1", "PYTHONPATH": ""}

    for forks in ("1", "0"):  # migrations are checked with and without the forks, always
        session.run("python", "sandbox/manage.py", "makemigrations", "--check", "--dry-run",
                    env=env(forks))
    for forks in os.environ.get("MATRIX_FORKS", "1 0").split():
        # The guide's shops are built with the forks and without: once is enough.
        deselect = ["--deselect=tests/test_install_docs.py"] if forks == "0" else []
        session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", markers,
                    *deselect, *session.posargs, env=env(forks))
    session.run("python", "-m", "django", "makemigrations", "--check", "--dry-run",
                "--settings=tests.settings", env={"ORDERCANCEL_MODEL_FORK": "1",
                                                  "ORDERCANCEL_DB": "sqlite", "PYTHONPATH": ""})
