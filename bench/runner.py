"""The whole benchmark in one run: echo bot, bridge on SQLite and PostgreSQL, scale, race.

One connector emulator (in this process, not recording, finding markers in texts and cards)
serves every throughput run, so every server talks to the same connector with the same latency.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import tempfile
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.databases import postgres_problem, reset_postgres, sqlite_url
from bench.load import MARKER_PATTERN
from bench.options import ROOT, Options
from bench.pace import PaceFigures, pace_runs
from bench.profiling import render_profile
from bench.race import RaceResult, run_race
from bench.scenarios import measure, progress, setup_room
from bench.seed import seed_open_chats
from bench.servers import (
    ServerProcess,
    bridge_server,
    echo_server,
    placement,
    running,
)
from bench.stats import Figures, RunShape
from tests.connector_emulator import ConnectorEmulator

# Every phase is bounded as a whole, on top of the bounded waits inside it.
PHASE_TIMEOUT = 180.0
REQUEST_TIMEOUT = 30.0


@dataclass
class Report:
    """Everything one run measured, for the table and for the JSON file."""

    options: Options
    started_at: str
    machine: dict[str, Any]
    runs: list[Figures] = field(default_factory=list)
    scale: dict[str, list[Figures]] = field(default_factory=dict)
    race: RaceResult | None = None
    pace: list[PaceFigures] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Every phase ran, no lost message or failed POST, and the race kept its promise."""
        every = self.runs + [f for runs in self.scale.values() for f in runs]
        race_ok = self.race is None or self.race.ok
        pace_ok = all(p.delivered == p.lines and p.once_in_order for p in self.pace)
        return (
            not self.failures
            and race_ok
            and pace_ok
            and all(f.missing == 0 and f.errors == 0 for f in every)
        )


@dataclass(frozen=True)
class Context:
    """What every phase shares."""

    options: Options
    http: aiohttp.ClientSession
    emulator: ConnectorEmulator
    workdir: Path
    # Where throughput and scale servers run (``--pin``); None: where the kernel puts them.
    server_cpus: frozenset[int] | None = None


def _shown(path: Path) -> str:
    """A path relative to the project when it is inside it (no machine folders in output)."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def _room_setup(ctx: Context, server: ServerProcess) -> Callable[[], Awaitable[None]]:
    """The bridge needs its room bound (``@Bot setup``) before customers can be relayed."""

    async def prepare() -> None:
        await setup_room(ctx.http, server, ctx.emulator)

    return prepare


async def _measure_on(ctx: Context, server: ServerProcess, shape: RunShape) -> Figures:
    """Start the server, measure it, always stop it."""
    async with running(server), asyncio.timeout(PHASE_TIMEOUT):
        prepare = _room_setup(ctx, server) if shape.server == "bridge" else None
        result = await measure(ctx.http, server, ctx.emulator, ctx.options, shape, prepare)
    progress(
        f"  {result.label:<22} open={result.open_chats:<6} {result.throughput:8.1f} msg/s  "
        f"p99 {result.p99_ms:7.1f} ms  rss {result.peak_rss_mb:6.1f} MB  "
        f"missing {result.missing}  errors {result.errors}"
    )
    return result


async def echo_run(ctx: Context) -> Figures:
    shape = RunShape("echo", "-", 0, ctx.options.chats, ctx.options.messages)
    return await _measure_on(ctx, echo_server(ctx.workdir, ctx.server_cpus), shape)


async def bridge_run(ctx: Context, engine: str, database_url: str) -> Figures:
    """The bridge on an empty database, optionally under pyinstrument."""
    session = ctx.workdir / f"bridge-{engine}.pyisession" if ctx.options.profile else None
    server = bridge_server(database_url, ctx.workdir, engine, session, cpus=ctx.server_cpus)
    shape = RunShape(
        "bridge", engine, 0, ctx.options.chats, ctx.options.messages, profiled=bool(session)
    )
    result = await _measure_on(ctx, server, shape)
    if session is not None:
        # Next to the JSON: a smoke run written elsewhere leaves the committed profiles alone.
        out_prefix = ctx.options.output.parent / f"profile-bridge-{engine}"
        for path in await render_profile(session, out_prefix):
            progress(f"  profile: {_shown(path)}")
    return result


async def _fresh_database(ctx: Context, engine: str, name: str, postgres_url: str) -> str:
    if engine == "sqlite":
        return sqlite_url(str(ctx.workdir), name)
    await reset_postgres(postgres_url)
    return postgres_url


async def scale_runs(ctx: Context, engine: str, postgres_url: str, into: list[Figures]) -> None:
    """The same load with 10 ... 10,000 open chats already in the database.

    Results go into ``into`` as they come, so a failure at the largest size keeps the others.
    """
    for size in ctx.options.scale_sizes:
        url = await _fresh_database(ctx, engine, f"scale-{size}", postgres_url)
        await seed_open_chats(url, ctx.emulator.url, size)
        server = bridge_server(url, ctx.workdir, f"{engine}-scale-{size}", cpus=ctx.server_cpus)
        shape = RunShape("bridge", engine, size, ctx.options.scale_chats, ctx.options.messages)
        into.append(await _measure_on(ctx, server, shape))


async def _postgres(options: Options, report: Report) -> str | None:
    if options.skip_postgres:
        report.skipped["postgresql"] = "--skip-postgres"
        return None
    problem = await postgres_problem(options.postgres_url)
    if problem:
        report.skipped["postgresql"] = problem
        progress(f"SKIPPING PostgreSQL rows: {problem}")
        return None
    return options.postgres_url


async def _phase(
    report: Report, name: str, work: Awaitable[None], bound: float = PHASE_TIMEOUT
) -> None:
    """Run one phase within its time bound; a failure is reported and the next phase runs."""
    try:
        async with asyncio.timeout(bound):
            await work
    except Exception as error:  # any failure: keep the other phases' figures
        report.failures[name] = f"{type(error).__name__}: {error}"[:2000]
        progress(f"\n!!!!! phase {name} FAILED: {report.failures[name]}")
        traceback.print_exc()


async def _main_runs(ctx: Context, report: Report, postgres_url: str | None) -> None:
    async def echo() -> None:
        report.runs.append(await echo_run(ctx))

    async def bridge(engine: str, url: str) -> None:
        if engine == "postgresql":
            await reset_postgres(url)
        report.runs.append(await bridge_run(ctx, engine, url))

    o = ctx.options
    progress(f"load: {o.chats} chats x {o.messages} messages, latency {o.latency_ms:g} ms")
    await _phase(report, "echo", echo())
    await _phase(report, "bridge-sqlite", bridge("sqlite", sqlite_url(str(ctx.workdir), "main")))
    if postgres_url:
        await _phase(report, "bridge-postgresql", bridge("postgresql", postgres_url))


async def _scale(ctx: Context, report: Report, postgres_url: str | None) -> None:
    if ctx.options.skip_scale:
        report.skipped["scale"] = "--skip-scale"
        return
    progress(f"scale: {ctx.options.scale_chats} chats x {ctx.options.messages} messages per size")
    for engine in ["sqlite"] + (["postgresql"] if postgres_url else []):
        into = report.scale.setdefault(engine, [])
        await _phase(report, f"scale-{engine}", scale_runs(ctx, engine, postgres_url or "", into))


async def _race(ctx: Context, report: Report, postgres_url: str | None) -> None:
    if ctx.options.skip_race:
        report.skipped["race"] = "--skip-race"
        return
    if postgres_url is None:
        reason = "needs PostgreSQL: " + report.skipped.get("postgresql", "not available")
        report.skipped["race"] = reason
        progress(f"SKIPPING the accept race: {reason}")
        return

    async def race() -> None:
        report.race = await run_race(ctx.options, postgres_url, ctx.workdir)
        progress(
            f"  race: {report.race.claims_per_second:.0f} claims/s, "
            f"{report.race.cards_with_one_winner}/{report.race.cards} cards with one winner, "
            f"ok={report.race.ok}"
        )

    await _phase(report, "race", race())


async def _pace(ctx: Context, report: Report, postgres_url: str | None) -> None:
    if ctx.options.skip_pace:
        report.skipped["pace"] = "--skip-pace"
        return
    progress("pace: burst and steady load under Teams' limits (429 above them)")
    for engine in ["sqlite"] + (["postgresql"] if postgres_url else []):

        async def database(name: str, engine: str = engine) -> str:
            return await _fresh_database(ctx, engine, f"pace-{name}", postgres_url or "")

        work = pace_runs(ctx.options, ctx.http, ctx.workdir, database, report.pace)
        # Repeated plans take as much longer.
        bound = PHASE_TIMEOUT * ctx.options.pace_repeat
        await _phase(report, f"pace-{engine}", work, bound)


async def run(options: Options) -> Report:
    """Run every phase asked for; servers and the emulator are stopped whatever happens."""
    report = Report(options, datetime.now(UTC).isoformat(timespec="seconds"), machine())
    server_cpus = None
    own_cpus = os.sched_getaffinity(0) if options.pin else None
    if options.pin:
        server_cpus, bench_cpus = placement()
        os.sched_setaffinity(0, bench_cpus)
        report.machine["pinned"] = {"servers": sorted(server_cpus), "bench": sorted(bench_cpus)}
    workdir = Path(tempfile.mkdtemp(prefix="support-bridge-bench-"))
    emulator = ConnectorEmulator(
        latency=options.latency, record=False, marker_pattern=MARKER_PATTERN
    )
    await emulator.start()
    try:
        postgres_url = await _postgres(options, report)
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            ctx = Context(options, http, emulator, workdir, server_cpus)
            if not options.pace_only:
                await _main_runs(ctx, report, postgres_url)
                await _scale(ctx, report, postgres_url)
                await _race(ctx, report, postgres_url)
            await _pace(ctx, report, postgres_url)
    finally:
        await emulator.stop()
        if own_cpus is not None:
            os.sched_setaffinity(0, own_cpus)
        if report.clean:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            progress(f"server logs and databases kept in {workdir}")
    return report
