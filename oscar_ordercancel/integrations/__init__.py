"""Integrations: receivers of the cancellation signals (customer e-mail, processors)."""
