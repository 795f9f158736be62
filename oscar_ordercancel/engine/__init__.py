"""Engine: the transaction that applies a cancellation (locks, stock, payment, record, signals)."""
