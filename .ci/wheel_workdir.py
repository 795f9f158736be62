"""Make a directory to run the suite against an installed wheel, away from the source.

Copies what the tests read (``.ci``, ``tests``, ``sandbox``, ``docs``, the ``Makefile``,
``pyproject.toml``, ``noxfile.py``, ``README.md``) into DEST, without the package
itself, and writes pyproject's pytest configuration there as ``pytest.ini``, so that
``python -m pytest`` run in DEST imports ``oscar_ordercancel`` from site-packages.
``.ci/run`` (the wheel run) and ``noxfile.py`` (every matrix session) use it.

Usage: wheel_workdir.py SOURCE DEST
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

COPIED = (".ci", "tests", "sandbox", "docs", "Makefile", "pyproject.toml", "noxfile.py", "README.md")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3", "media", "static_root",
                                 "_build", "broker")


def pytest_ini(pyproject: Path) -> str:
    """pyproject.toml's ``[tool.pytest.ini_options]``, written as a pytest.ini file."""
    with pyproject.open("rb") as handle:
        options = tomllib.load(handle)["tool"]["pytest"]["ini_options"]
    lines = ["[pytest]"]
    for key, value in options.items():
        if isinstance(value, list):
            lines.append(f"{key} =")
            lines.extend(f"    {item}" for item in value)
        else:
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def make_workdir(source: Path, dest: Path) -> Path:
    """Fill ``dest`` (emptied first) with the test files of ``source`` and a pytest.ini."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in COPIED:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, dest / name, ignore=IGNORED)
        else:
            shutil.copy2(path, dest / name)
    (dest / "pytest.ini").write_text(pytest_ini(source / "pyproject.toml"))
    if (dest / "oscar_ordercancel").exists():
        raise SystemExit(f"package source leaked into {dest}")
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(make_workdir(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()))
