"""The reliability table: tests record each fault or bad input they tried and its outcome.

At the end of a green run of the whole suite, ``build/reliability.md`` (git-ignored)
is written from them (see ``pytest_sessionfinish`` in conftest), so the table is
produced by the tests rather than by hand. Tests never write tracked files: the
document ``docs/reliability.md`` is refreshed from that table by an explicit command,

    python -m tests.reliability --write-docs

which refuses a table that lacks an engine (a run without ``TEST_DATABASE_URL`` has no
PostgreSQL rows, and must not delete them from the document).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "build" / "reliability.md"
DOC = ROOT / "docs" / "reliability.md"
# The engines every end-to-end test runs on; the document shows both.
ENGINES = ("postgresql", "sqlite")
WRITE_DOCS = "python -m tests.reliability --write-docs"


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
        "A green run of the whole suite writes this table to `build/reliability.md`;",
        f"`{WRITE_DOCS}` copies it here. Run the suite with",
        "`TEST_DATABASE_URL` set: the command refuses a table without PostgreSQL rows.",
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


def engines_in(table: str) -> set[str]:
    """The engines a written table has rows for (its third column)."""
    found = set()
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 6 and cells[2] in ENGINES:
            found.add(cells[2])
    return found


def write_docs(source: Path = TABLE, target: Path = DOC) -> str | None:
    """Copy the table of the last green run to the document; the reason if it cannot be."""
    if not source.is_file():
        return f"{source} does not exist: run the whole suite first (python -m pytest)"
    table = source.read_text(encoding="utf-8")
    missing = sorted(set(ENGINES) - engines_in(table))
    if missing:
        return (
            f"{source} has no rows for {', '.join(missing)}: run the whole suite with "
            "TEST_DATABASE_URL set, so the document keeps both engines"
        )
    target.write_text(table, encoding="utf-8")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability",
        description="Refresh docs/reliability.md from the table the last green run wrote.",
    )
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help=f"copy {TABLE.relative_to(ROOT)} to {DOC.relative_to(ROOT)}",
    )
    options = parser.parse_args(argv)
    if not options.write_docs:
        parser.print_help()
        return 2
    problem = write_docs()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    print(f"wrote {DOC.relative_to(ROOT)} from {TABLE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
