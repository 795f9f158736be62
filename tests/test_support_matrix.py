"""The support matrix is stated once and told the same everywhere: pyproject, nox, README, checks."""

from __future__ import annotations

import importlib.util
import re
import shlex
import tomllib
from pathlib import Path

from django.core import checks
from packaging.requirements import Requirement

from oscar_ordercancel import compat
from oscar_ordercancel.checks import version_messages

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirement(name: str) -> Requirement:
    return next(Requirement(dep) for dep in PROJECT["dependencies"]
                if Requirement(dep).name.lower() == name.lower())


def noxfile():
    spec = importlib.util.spec_from_file_location("noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dotted(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def test_pyproject_admits_every_supported_release_and_nothing_after():
    oscar, django = requirement("django-oscar").specifier, requirement("Django").specifier
    assert all(oscar.contains(f"{dotted(release)}.0") for release in compat.SUPPORTED)
    assert oscar.contains("4.2.1") and not oscar.contains("3.2.6") and not oscar.contains("4.3")
    djangos = {version for versions in compat.SUPPORTED.values() for version in versions}
    assert all(django.contains(f"{dotted(version)}.0") for version in djangos)
    assert not django.contains("4.1.13") and not django.contains("6.2")
    classifiers = set(PROJECT["classifiers"])
    assert {f"Framework :: Django :: {dotted(v)}" for v in djangos} <= classifiers
    assert {f"Programming Language :: Python :: 3.{minor}" for minor in (11, 12, 13)} <= classifiers
    assert PROJECT["requires-python"] == ">=3.11"


def test_the_nox_matrix_is_the_supported_matrix_with_each_djangos_pythons():
    nox_matrix = noxfile()
    assert {tuple(map(int, oscar.split("."))): tuple(tuple(map(int, d.split("."))) for d in djangos)
            for oscar, djangos in nox_matrix.OSCAR_DJANGO.items()} == compat.SUPPORTED
    # Django 4.2 ends at Python 3.12; Django 6.0 starts at 3.12.
    assert ("3.13", "4.0", "4.2") not in nox_matrix.MATRIX and ("3.11", "4.2", "6.0") not in nox_matrix.MATRIX
    assert len(nox_matrix.MATRIX) == 19


def test_ci_runs_every_oscar_django_and_python_at_least_once_with_the_oldest_and_newest_pair():
    nox_matrix = noxfile()
    subset = nox_matrix.CI_SUBSET
    assert set(subset) <= set(nox_matrix.MATRIX)
    assert {oscar for __, oscar, __ in subset} == set(nox_matrix.OSCAR_DJANGO)
    assert {django for __, __, django in subset} == set(nox_matrix.DJANGO_PYTHON)
    assert {python for python, __, __ in subset} == {"3.11", "3.12", "3.13"}
    assert ("3.11", "4.0", "4.2") in subset  # the oldest pair
    assert any(oscar == "4.2" and django == "6.0" for __, oscar, django in subset)


def test_the_readme_table_says_the_same():
    readme = (ROOT / "README.md").read_text()
    for oscar, djangos in compat.SUPPORTED.items():
        row = re.search(rf"^\| *django-oscar {re.escape(dotted(oscar))}\S* *\|(?P<djangos>[^|]*)\|",
                        readme, re.MULTILINE)
        assert row, f"no README row for Oscar {dotted(oscar)}"
        assert re.findall(r"\d+\.\d+", row["djangos"]) == [dotted(d) for d in djangos]


def test_the_installed_pair_is_supported_and_an_untested_pair_is_warned_of():
    assert compat.is_supported()  # this test run's own Oscar and Django
    assert version_messages(compat.OSCAR_VERSION, compat.DJANGO_VERSION) == []
    [warning] = version_messages((4, 0), (6, 0))  # Oscar 4.0 admits no Django 6
    assert warning.level == checks.WARNING and warning.id == "ordercancel.W008"
    assert "django-oscar 4.0 and Django 6.0" in warning.msg
    assert "Oscar 4.2 with Django 4.2, 5.2, 6.0, 6.1" in warning.hint


def test_oscar_40_and_41_beside_treebeard_6_are_an_error_with_the_pin_to_install():
    from oscar_ordercancel.checks import treebeard_messages

    assert compat.treebeard_fits()  # this run's Oscar works with its treebeard
    assert treebeard_messages((4, 2), (7, 0)) == []
    assert treebeard_messages((4, 1), (5, 3)) == []
    [error] = treebeard_messages((4, 0), (6, 0))
    assert error.level == checks.ERROR and error.id == "ordercancel.E013"
    assert "django-oscar 4.0 does not work with django-treebeard 6.0" in error.msg
    assert "pip install 'django-treebeard<5.3'" in error.hint


def test_dashboard_permissions_are_written_as_the_installed_oscar_takes_them():
    from oscar.core.loading import get_class

    permission = get_class("dashboard.permissions", "DashboardPermission")
    assert compat.dashboard_permissions("order", "view_order") == ["order.view_order"]
    if compat.OSCAR_VERSION >= (4, 2):
        assert compat.ORDER_PAGE_PERMISSIONS == ("order.view_order",)
    else:  # Oscar 4.0 / 4.1 ask every order permission for their order pages
        assert set(compat.ORDER_PAGE_PERMISSIONS) == set(permission.get("order"))


def test_ci_runs_the_subsets_sessions_against_its_wheel():
    nox_matrix = noxfile()
    names = shlex.split(nox_matrix.ci_sessions())
    assert names == [nox_matrix.session_name(*triple) for triple in nox_matrix.CI_SUBSET]
    assert "tests(py3.11, oscar4.0, django4.2)" in names
    ci = (ROOT / ".ci" / "run").read_text()
    assert "noxfile.ci_session_names()" in ci and 'MATRIX_WHEEL="$WHEEL"' in ci
    assert nox_matrix.ci_session_names() == names
    assert "twine check --strict" in ci
