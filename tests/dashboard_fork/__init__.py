"""A shop's fork of the ``ordercancel_dashboard`` app, as the loading tests see it."""
