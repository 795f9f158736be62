"""CSV batch pages of the own dashboard app: upload, preview, start, progress, results, history."""
