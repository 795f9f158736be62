"""Fork of ``oscar.apps.order`` adding cancellation to Order and EventHandler (no schema change)."""
