"""CSV / XLSX batches: read a file, preview every row against the policy, run it in the background.

``reader`` streams rows out of a file (refusing bad files before any row is
processed), ``preview`` turns rows into a ``CancellationBatch`` with one policy
decision per row, ``runner`` cancels the valid rows through the batch engine
(resumable, exactly once) and ``exports`` writes templates and error CSVs.
"""
