"""Fork of ``oscar.apps.dashboard.orders``: cancel orders and lines, bulk cancel, history."""
