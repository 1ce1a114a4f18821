"""Reading a profile of the bridge: its call tree, and where the CPU time really goes.

The bridge runs under pyinstrument (``python -m bench --profile``) and saves a session; these
views are rendered from that one recording, so they always agree with each other.
"""

from __future__ import annotations

import asyncio
import pstats
import sys
from pathlib import Path

from bench.options import ROOT

RENDER_TIMEOUT = 120.0
TOP_FUNCTIONS = 40


async def _pyinstrument(*args: str) -> bool:
    """Run the pyinstrument command line (bounded); True if it finished."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyinstrument", *args, cwd=ROOT
    )
    try:
        await asyncio.wait_for(process.wait(), RENDER_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        return False
    return process.returncode == 0


def _short(filename: str) -> str:
    """A profile's file name without this machine's folders (site-packages, project, stdlib)."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    if "/lib/python3." in filename:
        return "stdlib/" + filename.split("/lib/python3.", 1)[1].split("/", 1)[-1]
    return filename.removeprefix(str(ROOT) + "/")


_BRIDGE_CODE = ("app.py", "bot/", "dialogs/", "cards/", "store/")


def _package(short: str, function: str) -> str:
    """Where own time belongs: a library, the bridge's code, or the idle wait for events."""
    if short.startswith("<built-in>"):
        return "idle (waiting for events)" if function == "epoll.poll" else "built-ins"
    if short.startswith(_BRIDGE_CODE):
        return "bridge code"
    if short.startswith("stdlib/"):
        return "stdlib " + short.split("/")[1].removesuffix(".py")
    return short.split("/", 1)[0]


def _top_lines(rows: list[tuple[str, float, float]], total: float, count: int) -> list[str]:
    lines = [f"{'own s':>8} {'own %':>6} {'total s':>8}  function", "-" * 72]
    for where, own, cumulative in rows[:count]:
        lines.append(f"{own:8.3f} {own / total * 100:5.1f}% {cumulative:8.3f}  {where}")
    return lines


def write_top_functions(pstats_file: Path, target: Path, count: int = TOP_FUNCTIONS) -> None:
    """Own time per package, then the functions with the most own time (all frames shown).

    The call tree folds library frames into the bridge's; these lists say where the CPU
    really goes.
    """
    stats = pstats.Stats(str(pstats_file)).stats
    rows = []
    packages: dict[str, float] = {}
    for (filename, line, function), (_, _, own, cumulative, _) in stats.items():
        short = _short(filename)
        rows.append((f"{short}:{line}({function})", own, cumulative))
        package = _package(short, function)
        packages[package] = packages.get(package, 0.0) + own
    rows.sort(key=lambda row: row[1], reverse=True)
    total = sum(packages.values()) or 1.0
    lines = [f"{'own s':>8} {'own %':>6}  package", "-" * 40]
    for package, own in sorted(packages.items(), key=lambda item: item[1], reverse=True):
        lines.append(f"{own:8.3f} {own / total * 100:5.1f}%  {package}")
    lines += ["", *_top_lines(rows, total, count)]
    target.write_text("\n".join(lines) + "\n")


async def render_profile(session: Path, out_prefix: Path) -> list[Path]:
    """Render a saved pyinstrument session: the call tree, and the top functions by own time.

    A view that cannot be written is skipped with a note: the run's figures matter more.
    """
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    written = []
    tree = out_prefix.with_name(f"{out_prefix.name}-tree.txt")
    if await _pyinstrument("--load", str(session), "-r", "text", "-o", str(tree)):
        written.append(tree)
    pstats_file = session.with_suffix(".pstats")
    pstats_args = ["--load", str(session), "--show-all", "-r", "pstats", "-o", str(pstats_file)]
    if await _pyinstrument(*pstats_args):
        top = out_prefix.with_name(f"{out_prefix.name}-top.txt")
        try:
            write_top_functions(pstats_file, top)
            written.append(top)
        except (OSError, ValueError, KeyError) as error:
            print(f"  profile: could not write {top.name}: {error}", flush=True)
    return written
