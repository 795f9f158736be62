"""The cancellation report: figures aggregated in the database (``figures``) and SVG charts (``charts``).

Surfaces (the dashboard's report page and CSV, the dashboard home's panel) ask
``figures.build_report`` / ``figures.summary`` for a date range and a scope (every order,
or a partner user's); nothing here reads the request.
"""
