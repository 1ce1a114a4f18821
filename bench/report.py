"""The printed table and bench/results/latest.json, with the targets next to the figures.

Targets are shown, never asserted: a missed target is a finding to report, not a crash; only
lost messages, failed POSTs and a broken race make the exit status non-zero.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.runner import Report
from bench.stats import Figures

THROUGHPUT_TARGETS = {"sqlite": 1.0, "postgresql": 0.8}
# The redesign's (issue 12) targets for the same ratio, shown beside the first ones.
REDESIGN_TARGETS = {"sqlite": 2.5, "postgresql": 3.0}
SCALE_RATIO_TARGET = 0.9
RSS_TARGET_MB = 200.0

_COLUMNS = (
    ("server", 22),
    ("open chats", 10),
    ("load", 9),
    ("msg/s", 8),
    ("POST/s", 7),
    ("p50 ms", 8),
    ("p95 ms", 8),
    ("p99 ms", 8),
    ("CPU s", 7),
    ("DB CPU s", 8),
    ("bench CPU s", 11),
    ("RSS MB", 7),
    ("errors", 6),
    ("missing", 7),
)


def _number(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _row(f: Figures) -> list[str]:
    return [
        f.label + (" *" if f.profiled else ""),
        f"{f.open_chats:,}",
        f"{f.chats}x{f.messages}",
        _number(f.throughput),
        _number(f.posted_per_second),
        _number(f.p50_ms),
        _number(f.p95_ms),
        _number(f.p99_ms),
        _number(f.cpu_seconds, 2),
        _number(f.db_cpu_seconds, 2),
        _number(f.bench_cpu_seconds, 2),
        _number(f.peak_rss_mb),
        str(f.errors),
        str(f.missing),
    ]


def table(rows: list[Figures]) -> str:
    """A fixed-width table (also pasted as is into docs/performance.md)."""
    header = " | ".join(name.rjust(width) for name, width in _COLUMNS)
    lines = [header, "-" * len(header)]
    for figures in rows:
        cells = _row(figures)
        lines.append(" | ".join(c.rjust(w) for c, (_, w) in zip(cells, _COLUMNS, strict=True)))
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _cpu_per_message(f: Figures) -> float:
    return f.cpu_seconds / f.relayed if f.relayed else math.nan


def ratios(report: Report) -> dict[str, dict[str, Any]]:
    """Bridge vs echo per engine: throughput (higher is better), p99 (lower is better),
    and the server CPU each spends on a message (echo's over the bridge's, higher is better).

    Both servers are single processes near a full core under this load, so the throughput
    ratio is close to the CPU ratio; where they part, the bridge waited (for PostgreSQL or
    the load generator on the other core) rather than worked.
    """
    echo = next((f for f in report.runs if f.server == "echo"), None)
    out: dict[str, dict[str, Any]] = {}
    if echo is None:
        return out
    for bridge in (f for f in report.runs if f.server == "bridge"):
        throughput = bridge.throughput / echo.throughput if echo.throughput else math.nan
        p99 = bridge.p99_ms / echo.p99_ms if echo.p99_ms else math.nan
        target = THROUGHPUT_TARGETS[bridge.engine]
        redesign = REDESIGN_TARGETS[bridge.engine]
        out[bridge.engine] = {
            "throughput_ratio": throughput,
            "throughput_target": target,
            "throughput_met": throughput >= target,
            "redesign_target": redesign,
            "redesign_met": throughput >= redesign,
            "cpu_ms_per_message": _cpu_per_message(bridge) * 1000.0,
            "echo_cpu_ms_per_message": _cpu_per_message(echo) * 1000.0,
            "cpu_ratio": _cpu_per_message(echo) / _cpu_per_message(bridge),
            "p99_ratio": p99,
            "p99_ms": bridge.p99_ms,
            "echo_p99_ms": echo.p99_ms,
            "p99_met": bridge.p99_ms <= echo.p99_ms,
        }
    return out


def scale_summary(report: Report) -> dict[str, dict[str, Any]]:
    """Largest vs smallest seeded size per engine, and memory at the largest."""
    out: dict[str, dict[str, Any]] = {}
    for engine, runs in report.scale.items():
        if not runs:
            continue
        small, large = runs[0], runs[-1]
        ratio = large.throughput / small.throughput if small.throughput else math.nan
        out[engine] = {
            "smallest": small.open_chats,
            "largest": large.open_chats,
            "throughput_ratio": ratio,
            "ratio_target": SCALE_RATIO_TARGET,
            "ratio_met": ratio >= SCALE_RATIO_TARGET,
            "peak_rss_mb_largest": large.peak_rss_mb,
            "rss_target_mb": RSS_TARGET_MB,
            "rss_met": large.peak_rss_mb < RSS_TARGET_MB,
        }
    return out


def _ratio_lines(report: Report) -> list[str]:
    lines = []
    for engine, r in ratios(report).items():
        lines.append(
            f"  throughput bridge ({engine}) / echo = {r['throughput_ratio']:.2f}   "
            f"target >= {r['throughput_target']:.1f}   {_met(r['throughput_met'])}   "
            f"redesign target >= {r['redesign_target']:.1f}   {_met(r['redesign_met'])}"
        )
        lines.append(
            f"  CPU per message bridge ({engine}) = {r['cpu_ms_per_message']:.2f} ms vs echo "
            f"{r['echo_cpu_ms_per_message']:.2f} ms (echo / bridge {r['cpu_ratio']:.2f})"
        )
        lines.append(
            f"  p99 bridge ({engine}) = {r['p99_ms']:.1f} ms vs echo {r['echo_p99_ms']:.1f} ms "
            f"(ratio {r['p99_ratio']:.2f})   target <= echo   {_met(r['p99_met'])}"
        )
    return lines


def _scale_lines(report: Report) -> list[str]:
    lines = []
    for engine, s in scale_summary(report).items():
        sizes = ", ".join(
            f"{f.open_chats:,} -> {f.throughput:.1f} msg/s" for f in report.scale[engine]
        )
        lines.append(f"  {engine}: {sizes}")
        lines.append(
            f"  {engine}: {s['largest']:,} vs {s['smallest']:,} open chats = "
            f"{s['throughput_ratio']:.2f}   target >= {SCALE_RATIO_TARGET}   "
            f"{_met(s['ratio_met'])}"
        )
        lines.append(
            f"  {engine}: peak RSS with {s['largest']:,} open chats = "
            f"{s['peak_rss_mb_largest']:.1f} MB   target < {RSS_TARGET_MB:.0f} MB   "
            f"{_met(s['rss_met'])}"
        )
    return lines


def _race_lines(report: Report) -> list[str]:
    race = report.race
    if race is None:
        return []
    lines = [
        f"  {race.agents} agents x {race.cards} cards = {race.presses} presses over 2 replicas: "
        f"{race.answered} answered in {race.seconds:.2f} s = {race.claims_per_second:.0f} "
        "claims/s",
        f"  cards with exactly one winner: {race.cards_with_one_winner}/{race.cards}; "
        f"every loser told the winner: {race.losers_told_winner}; "
        f"database owner = winner: {race.database_agrees}; errors: {race.errors}",
    ]
    lines += [f"  PROBLEM: {p}" for p in race.problems]
    return lines


def _pace_lines(report: Report) -> list[str]:
    header = (
        f"{'run':>44} | {'engine':>10} | {'lines':>5} | {'429s':>4} | {'calls/msg':>9} | "
        f"{'last line ms':>12} | {'p50 ms':>6} | {'p99 ms':>8} | once, in order"
    )
    lines = [header, "-" * len(header)]
    for p in report.pace:
        lines.append(
            f"{p.label:>44} | {p.engine:>10} | {p.delivered:>5} | {p.throttled:>4} | "
            f"{p.calls_per_message:>9.2f} | {_number(p.last_line_ms, 0):>12} | "
            f"{_number(p.p50_ms, 0):>6} | {_number(p.p99_ms, 0):>8} | "
            f"{'yes' if p.once_in_order else 'NO'}"
        )
    return lines


def render(report: Report) -> str:
    """The whole printed report."""
    o = report.options
    parts = [
        "",
        f"Support Bridge benchmark, {report.started_at}, {report.machine['cpus']} CPUs, "
        f"connector latency {o.latency_ms:g} ms",
        "",
        table(report.runs + [f for runs in report.scale.values() for f in runs]),
    ]
    pinned = report.machine.get("pinned")
    if pinned:
        parts.append(
            f"  --pin: throughput and scale servers on CPU {pinned['servers']}, the bench on "
            f"{pinned['bench']}; PostgreSQL where the kernel puts it"
        )
    if any(f.profiled for f in report.runs):
        parts.append("  * under pyinstrument: slower than unprofiled, do not compare")
    parts += ["", "Targets (shown, not asserted):", *_ratio_lines(report)]
    if report.scale:
        parts += ["", "Scale:", *_scale_lines(report)]
    if report.race is not None:
        parts += ["", "Accept race:", *_race_lines(report)]
    if report.pace:
        parts += ["", "Under Teams' limits (burst and steady):", *_pace_lines(report)]
    parts += [f"  skipped {what}: {why}" for what, why in report.skipped.items()]
    parts += [f"  FAILED {what}: {why}" for what, why in report.failures.items()]
    if not report.clean:
        parts += [
            "",
            "!!!!! FAILED PHASES, LOST MESSAGES, FAILED POSTS OR A BROKEN RACE: see above !!!!!",
        ]
    return "\n".join(parts)


def to_json(report: Report) -> dict[str, Any]:
    o = report.options
    return {
        "started_at": report.started_at,
        "command": " ".join(o.command) or "python -m bench",
        "machine": report.machine,
        "options": {
            "chats": o.chats,
            "messages": o.messages,
            "latency_ms": o.latency_ms,
            "scale_sizes": list(o.scale_sizes),
            "scale_chats": o.scale_chats,
            "race_chats": o.race_chats,
            "race_agents": o.race_agents,
            "race_inflight": o.race_inflight,
            "warmup_chats": o.warmup_chats,
            "profile": o.profile,
        },
        "runs": [f.as_json() for f in report.runs],
        "ratios": ratios(report),
        "scale": {
            engine: {"runs": [f.as_json() for f in runs], **scale_summary(report).get(engine, {})}
            for engine, runs in report.scale.items()
        },
        "race": report.race.as_json() if report.race else None,
        "pace": [p.as_json() for p in report.pace],
        "skipped": report.skipped,
        "failures": report.failures,
        "clean": report.clean,
    }


def write_json(report: Report, path: Path) -> None:
    """NaN (no arrivals at all) is written as null so the file stays valid JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_no_nan(to_json(report)), indent=2)
    path.write_text(text + "\n")


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value
