"""The reliability table: tests record each fault or bad input they tried and its outcome.

At the end of a green run of the whole suite, ``build/reliability.md`` (git-ignored)
is written from them (see ``pytest_sessionfinish`` in conftest), so the table is
produced by the tests rather than by hand. Tests never write tracked files:
``docs/reliability.md`` is refreshed by the explicit command
``REFRESH_RELIABILITY_DOC=1 python -m pytest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "build" / "reliability.md"
DOC = ROOT / "docs" / "reliability.md"


@dataclass(frozen=True)
class Row:
    area: str
    case: str
    engine: str
    outcome: str
    lost: int = 0
    twice: int = 0


ROWS: list[Row] = []


def record(
    area: str, case: str, engine: str, outcome: str, *, lost: int = 0, twice: int = 0
) -> None:
    """Add a row; ``lost`` and ``twice`` count messages lost and handled twice."""
    ROWS.append(Row(area, case, engine, outcome, lost, twice))


def write_table(rows: list[Row], target: Path = TABLE) -> None:
    lines = [
        "# Reliability: faults and bad input, and what happened",
        "",
        "Produced by the test suite (`tests/reliability.py`); each row is one test's",
        "observation. *Lost* counts messages that never reached the other side,",
        "*twice* counts messages handled or relayed more than once.",
        "",
        "| area | case | engine | outcome | lost | twice |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in sorted(set(rows), key=lambda r: (r.area, r.case, r.engine)):
        lines.append(
            f"| {row.area} | {row.case} | {row.engine} | {row.outcome} | {row.lost} | {row.twice} |"
        )
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
