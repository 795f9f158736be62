"""Dashboard apps of oscar-ordercancel."""
