"""Customer surface: account and guest order pages (cancel button, confirmation step)."""
