"""Database helpers for the layers above: bulk SQL (``bulk``), the engine's transaction (``transactions``)."""
