"""Real order cancellation for django-oscar."""

__version__ = "0.1.0"
