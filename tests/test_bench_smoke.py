"""Smoke test of the benchmark (``python -m bench``): a tiny run, end to end, in seconds.

It starts the real echo bot and the real bridge (SQLite) as processes, so a change that breaks
the benchmark, or makes the bridge lose a message under concurrent load, shows up in the suite
and not only when someone runs the full benchmark.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import aiohttp
import psutil
import pytest

from bench.cli import main
from bench.servers import echo_server, placement, running
from tests.conftest import drop_postgres, scratch_postgres
from tests.connector_emulator import ConnectorEmulator


def test_quick_run_relays_every_message(tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    code = main(
        ["--quick", "--skip-postgres", "--skip-scale", "--skip-race", "--output", str(output)]
    )
    report = json.loads(output.read_text())
    assert code == 0, report
    runs = {(run["server"], run["engine"]): run for run in report["runs"]}
    assert set(runs) == {("echo", "-"), ("bridge", "sqlite")}
    for run in runs.values():
        assert run["errors"] == 0
        assert run["missing"] == 0
        assert run["relayed"] == run["chats"] * run["messages"] > 0
        assert run["throughput"] > 0
        assert 0 < run["posted_per_second"] < 1e6
        assert run["p99_ms"] >= run["p50_ms"] > 0
        assert run["cpu_seconds"] > 0
        assert run["peak_rss_mb"] > 0
    sqlite = report["ratios"]["sqlite"]
    assert sqlite["throughput_ratio"] > 0
    assert sqlite["redesign_met"] == (sqlite["throughput_ratio"] >= sqlite["redesign_target"])
    expected = sqlite["echo_cpu_ms_per_message"] / sqlite["cpu_ms_per_message"]
    assert sqlite["cpu_ratio"] == pytest.approx(expected)
    pace = {run["delivery"]: run for run in report["pace"]}
    assert set(pace) == {"paced", "unpaced"}
    for run in pace.values():
        assert run["delivered"] == run["lines"] > 0
        assert run["once_in_order"] is True
        assert run["calls"] > 0
    assert report["clean"] is True


def test_quick_accept_race_has_one_winner_per_card(tmp_path: Path) -> None:
    """The race phase reads the cards as agents see them: a change of what a card says
    must not leave the benchmark unable to tell the winner (it did once, silently)."""
    url = asyncio.run(scratch_postgres("bench"))
    output = tmp_path / "latest.json"
    try:
        argv = ["--quick", "--skip-scale", "--skip-pace", "--postgres-url", url]
        code = main([*argv, "--output", str(output)])
    finally:
        asyncio.run(drop_postgres(url))
    report = json.loads(output.read_text())
    race = report["race"]
    assert code == 0, race
    assert race["ok"] is True and race["errors"] == 0
    assert race["cards_with_one_winner"] == race["cards"] > 0
    assert race["answered"] == race["presses"]


async def test_emulator_finds_markers_in_text_and_cards() -> None:
    """The bench counts a relayed message by the marker in its text or in a card's text."""
    emulator = ConnectorEmulator(record=False, marker_pattern=re.compile(r"bm-\d+"))
    await emulator.start()
    card = {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "First: bm-2"}]}
    try:
        async with aiohttp.ClientSession() as http:
            url = emulator.url + "v3/conversations/conv-1/activities"
            await http.post(url, json={"type": "message", "text": "**Lan:** hi bm-1"})
            await http.post(
                url,
                json={
                    "type": "message",
                    "attachments": [
                        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
                    ],
                },
            )
            first = emulator.arrival_times()["bm-1"]
            await http.post(url, json={"type": "message", "text": "again bm-1"})
    finally:
        await emulator.stop()
    arrivals = emulator.arrival_times()
    assert sorted(arrivals) == ["bm-1", "bm-2"]
    assert arrivals["bm-1"] == first  # the first arrival counts


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="--pin needs 2 CPUs")
def test_pinned_run_puts_the_servers_on_their_own_cpu(tmp_path: Path) -> None:
    """``--pin``: every thread of a server under test runs on the first CPU only, the bench
    on the others during the run, and the bench gets its CPUs back afterwards."""
    servers, bench = placement()
    before = os.sched_getaffinity(0)

    async def start_and_look() -> list[set[int]]:
        async with running(echo_server(tmp_path, servers)) as (server,):
            return [os.sched_getaffinity(t.id) for t in psutil.Process(server.pid).threads()]

    assert all(cpus == set(servers) for cpus in asyncio.run(start_and_look()))
    output = tmp_path / "latest.json"
    argv = ["--quick", "--pin", "--skip-postgres", "--skip-scale", "--skip-race", "--skip-pace"]
    assert main([*argv, "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    assert report["machine"]["pinned"] == {"servers": sorted(servers), "bench": sorted(bench)}
    assert all(run["missing"] == 0 for run in report["runs"])
    assert os.sched_getaffinity(0) == before
