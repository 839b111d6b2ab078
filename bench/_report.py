"""Every figure printed beside its baseline and the issue's goal, PASS or MISS.

With ``WAGATE_BENCH_SUMMARY`` naming a file (``make bench`` does), each report
also appends its rows there as JSON lines, for ``bench/_summary.py`` to print
one table of every benchmark's figures at the end of the run."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field


@dataclass
class Report:
    title: str
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    missed: int = 0

    def figure(self, name: str, value: str) -> None:
        """A figure shown for reference (a baseline, a latency), with no goal."""
        self.rows.append((name, value, "", ""))

    def ratio(self, name: str, value: float, baseline: float, goal: float, unit: str) -> None:
        """``value / baseline`` must reach ``goal``."""
        ratio = value / baseline if baseline else 0.0
        self._goal(
            name, f"{value:,.1f} {unit} = {ratio:.3f} x baseline", f"≥ {goal:g} x", ratio >= goal
        )

    def at_least(self, name: str, value: float, goal: float, unit: str) -> None:
        self._goal(name, f"{value:,.1f} {unit}", f"≥ {goal:,g} {unit}", value >= goal)

    def at_most(self, name: str, value: float, goal: float, unit: str) -> None:
        self._goal(name, f"{value:,.1f} {unit}", f"≤ {goal:,g} {unit}", value <= goal)

    def _goal(self, name: str, shown: str, goal: str, met: bool) -> None:
        self.missed += not met
        self.rows.append((name, shown, goal, "PASS" if met else "MISS"))

    def print(self) -> None:
        width = max(len(r[0]) for r in self.rows)
        value_width = max(len(r[1]) for r in self.rows)
        print(f"\n{self.title}")
        for name, value, goal, verdict in self.rows:
            print(f"  {name:<{width}}  {value:<{value_width}}  {goal:<14} {verdict}".rstrip())
        summary = os.environ.get("WAGATE_BENCH_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as file:
                for row in self.rows:
                    file.write(json.dumps({"report": self.title, "row": row}) + "\n")
