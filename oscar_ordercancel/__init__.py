"""Real order cancellation for django-oscar."""

__version__ = "0.2.0"
