"""Command line of the benchmark: ``python -m bench [--quick] [--skip-...]``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bench.options import DEFAULT_POSTGRES_URL, PACE_PLANS, QUICK, RESULTS, Options
from bench.report import render, write_json
from bench.runner import run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Support Bridge vs the stock botbuilder echo bot, on one machine.",
    )
    add = parser.add_argument
    # None = not given, so --quick can fill in small numbers without overriding explicit ones.
    add("--chats", type=int, help="concurrent chats (default 200)")
    add("--messages", type=int, help="messages per chat, each after the last answer (default 5)")
    add("--latency-ms", type=float, help="connector emulator latency per call (default 20)")
    add("--skip-postgres", action="store_true", help="SQLite only")
    add("--skip-scale", action="store_true", help="no runs with pre-seeded open chats")
    add("--skip-race", action="store_true", help="no accept race")
    add("--skip-pace", action="store_true", help="no burst and steady runs under Teams' limits")
    add("--pace-only", action="store_true", help="only the burst and steady runs")
    add(
        "--pace-plans",
        type=lambda text: tuple(part for part in text.split(",") if part),
        help=f"which pace runs, comma-separated (default {','.join(PACE_PLANS)})",
    )
    add("--pace-repeat", type=int, help="run each pace plan this many times (default 1)")
    add("--quick", action="store_true", help="small numbers for a smoke run")
    add("--profile", action="store_true", help="run the main bridge runs under pyinstrument")
    add(
        "--pin",
        action="store_true",
        help="throughput and scale servers on CPU 0, the load generator on the others (Linux)",
    )
    add("--scale-chats", type=int, help="chats of the load in scale runs (default 50)")
    add("--race-chats", type=int, help="cards in the accept race (default 100)")
    add("--race-agents", type=int, help="agents pressing every card (default 50)")
    add("--race-inflight", type=int, help="presses in flight at once (default 200)")
    add("--postgres-url", default=DEFAULT_POSTGRES_URL, help="SQLAlchemy URL of the bench db")
    add("--output", type=Path, default=RESULTS / "latest.json", help="where the JSON goes")
    return parser


def parse(argv: Sequence[str] | None = None) -> Options:
    """Options from the command line: explicit flags, then --quick's numbers, then defaults."""
    args = _parser().parse_args(argv)
    chosen = dict(QUICK) if args.quick else {}
    for name in ("chats", "messages", "latency_ms", "scale_chats", "race_chats", "race_agents"):
        if getattr(args, name) is not None:
            chosen[name] = getattr(args, name)
    for name in ("race_inflight", "pace_plans", "pace_repeat"):
        if getattr(args, name) is not None:
            chosen[name] = getattr(args, name)
    unknown = set(chosen.get("pace_plans", ())) - set(PACE_PLANS)
    if unknown:
        _parser().error(f"unknown pace plans: {', '.join(sorted(unknown))}")
    shown = list(argv) if argv is not None else sys.argv[1:]
    return dataclasses.replace(
        Options(),
        **chosen,
        skip_postgres=args.skip_postgres,
        skip_scale=args.skip_scale,
        skip_race=args.skip_race,
        skip_pace=args.skip_pace,
        pace_only=args.pace_only,
        profile=args.profile,
        pin=args.pin,
        postgres_url=args.postgres_url,
        output=args.output,
        command=["python", "-m", "bench", *shown],
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends the run like Ctrl-C, so the servers it started are stopped too."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print, write the JSON; exit 1 only for lost messages, failed POSTs or a bad race."""
    options = parse(argv)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = asyncio.run(run(options))
    except KeyboardInterrupt:
        print("\ninterrupted; the servers were stopped", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(render(report))
    write_json(report, options.output)
    print(f"\nwrote {options.output}")
    return 0 if report.clean else 1
