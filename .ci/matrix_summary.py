"""Print one line per (Python, Oscar, Django) triple of a ``make test-matrix`` run.

Reads nox's JSON report (``nox --report``) for each session's result and nox's log for
the pytest closing lines and the session's time. Usage: matrix_summary.py REPORT LOG
"""

from __future__ import annotations

import json
import re
import sys

SESSION = re.compile(r"nox > Running session (?P<name>\S.*)$")
PYTEST = re.compile(r"^=*\s*(?P<counts>(\d+ \w+(, )?)+) in (?P<seconds>[\d.]+)s")
DONE = re.compile(r"nox > Session (?P<name>\S.*) (was successful|failed|was skipped)"
                  r"(?: in (?P<time>.+?))?:?\s*$")


def parse_log(text: str) -> dict[str, dict]:
    """For each session: its pytest closing lines and the time nox reports."""
    sessions: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        if match := SESSION.search(line):
            current = sessions.setdefault(match["name"], {"pytest": [], "time": ""})
        elif current is not None and (match := PYTEST.search(line)):
            current["pytest"].append(f"{match['counts']} in {float(match['seconds']):.0f} s")
        elif match := DONE.search(line):
            sessions.setdefault(match["name"], {"pytest": [], "time": ""})["time"] = match["time"] or ""
    return sessions


def main(report_path: str, log_path: str) -> int:
    """Print the table; the exit status is 1 when a session failed."""
    try:
        with open(report_path) as handle:
            report = json.load(handle)["sessions"]
    except (OSError, ValueError, KeyError):
        report = []
    with open(log_path, errors="replace") as handle:
        log = parse_log(handle.read())
    print("\n==> test matrix: one line per (Python, Oscar, Django)")
    failed = 0
    for session in report:
        name = (session.get("signatures") or [session["name"]])[0]  # tests(py…, oscar…, django…)
        result = session["result"]
        failed += result == "failed"
        facts = log.get(name, {"pytest": [], "time": ""})
        passes = "; ".join(facts["pytest"]) or "no pytest run"
        duration = f"{session['duration'] / 60:.1f} min" if session.get("duration") else facts["time"]
        print(f"{result.upper():8} {name:40} {duration:>9}  {passes}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
