"""Sphinx configuration of the oscar-ordercancel documentation.

The reference is written by hand (no autodoc), so building the docs needs
neither Django settings nor a database.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_init = (ROOT / "oscar_ordercancel" / "__init__.py").read_text(encoding="utf-8")

project = "oscar-ordercancel"
author = "oscar-ordercancel contributors"
copyright = "oscar-ordercancel contributors"  # noqa: A001
release = re.search(r'__version__\s*=\s*"([^"]+)"', _init).group(1)
version = ".".join(release.split(".")[:2])

extensions = []
templates_path = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
default_role = "code"
highlight_language = "python"
nitpicky = False

html_theme = "alabaster"
html_theme_options = {
    "description": "Real order cancellation for django-oscar",
    "fixed_sidebar": True,
}
html_static_path = ["_static"]
html_title = f"{project} {release}"
