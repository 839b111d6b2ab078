"""The end of ``make bench``: every report's figures in one table, with the
benchmarks that failed to run, and an exit status that says whether all ran.

    .venv/bin/python bench/_summary.py SUMMARY_FILE

``SUMMARY_FILE`` holds JSON lines: ``{"report": title, "row": [name, value,
goal, verdict]}`` from ``_report.Report.print`` and ``{"failed": script}`` from
the Makefile for a benchmark that exited with an error."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> int:
    lines = Path(sys.argv[1]).read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    failed = [e["failed"] for e in entries if "failed" in e]
    rows = [(e["report"], *e["row"]) for e in entries if "row" in e]
    url = os.environ.get("WAGATE_DATABASE_URL", "")
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"\n== Summary: every figure beside its baseline and goal ({database})")
    if rows:
        widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
        report_seen = None
        for report, name, value, goal, verdict in rows:
            if report != report_seen:
                print(f"\n{report}")
                report_seen = report
            line = f"  {name:<{widths[1]}}  {value:<{widths[2]}}  {goal:<{widths[3]}}  {verdict}"
            print(line.rstrip())
    goals = [row for row in rows if row[4]]
    missed = [row for row in goals if row[4] == "MISS"]
    print(f"\n{len(goals) - len(missed)} of {len(goals)} goals met ({len(missed)} MISS)")
    for script in failed:
        print(f"FAILED to run: {script}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
