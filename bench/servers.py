"""The servers under test as real processes: the echo bot and ``python app.py``.

Each runs in its own interpreter, as in production, so its CPU and memory can be measured apart
from the load generator and the connector emulator (which live in the bench process).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import aiohttp

from bench.options import ROOT
from tests.processes import free_port

# How long a server may take to import botbuilder and open its database.
START_TIMEOUT = 60.0
# How long SIGINT gets (pyinstrument writes its report then) before SIGKILL.
STOP_TIMEOUT = 30.0
BRIDGE_SECRET = "bench-transcript-secret-of-at-least-32-characters"


def _open_log(path: Path) -> IO[bytes]:
    """A log file per server, kept for post-mortems (opened outside the event loop's code)."""
    return path.open("ab")


def placement() -> tuple[frozenset[int], frozenset[int]]:
    """Where a pinned run puts the server under test and the bench process: the server
    alone on the first CPU this process may use, the bench on the rest.

    Unpinned, the server, its database and the load generator share the cores as the kernel
    sees fit, and a single-process server pays for every hop between its event loop and a
    driver thread that the kernel put on the other core; its CPU per message then moves by
    a third between identical runs. PostgreSQL's processes are not moved.
    """
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise RuntimeError("--pin needs at least 2 CPUs")
    if shutil.which("taskset") is None:
        raise RuntimeError("--pin needs taskset (util-linux)")
    return frozenset(allowed[:1]), frozenset(allowed[1:])


class ServerProcess:
    """One server on its own port; started with ``start()``, always ended with ``stop()``."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        ready_path: str,
        ready_status: int,
        cpus: frozenset[int] | None = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # taskset sets the CPUs and then becomes the server (same process), so every thread
        # the interpreter makes inherits them; a preexec_fn would not be safe beside the
        # bench's own threads.
        cpu_list = ",".join(str(cpu) for cpu in sorted(cpus or ()))
        self._args = ["taskset", "--cpu-list", cpu_list, *args] if cpus else args
        self._env = {**os.environ, **env, "PORT": str(self.port)}
        self.log_path = log_path
        self._ready_path = ready_path
        self._ready_status = ready_status
        self._log: IO[bytes] | None = None
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "server not started"
        return self.process.pid

    @property
    def messages_url(self) -> str:
        return f"{self.url}/api/messages"

    async def start(self, timeout: float = START_TIMEOUT) -> None:  # noqa: ASYNC109
        """Spawn and wait until the server answers HTTP (its startup is then complete)."""
        self._log = _open_log(self.log_path)
        self.process = await asyncio.create_subprocess_exec(
            *self._args,
            cwd=ROOT,
            env=self._env,
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
                if await self._answers(http):
                    return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start within {timeout:.0f}s:\n{self.output()}")

    async def _answers(self, http: aiohttp.ClientSession) -> bool:
        try:
            async with http.get(self.url + self._ready_path) as response:
                return response.status == self._ready_status
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:  # noqa: ASYNC109
        """SIGINT (a clean shutdown, which also lets a profiler write), SIGKILL if it hangs."""
        process = self.process
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        """The end of the server's log, for error messages."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-3000:]


@contextlib.asynccontextmanager
async def running(*servers: ServerProcess) -> AsyncIterator[tuple[ServerProcess, ...]]:
    """Start servers together and stop every one of them, whatever happens in between."""
    try:
        await asyncio.gather(*(server.start() for server in servers))
        yield servers
    finally:
        await asyncio.gather(*(server.stop() for server in servers), return_exceptions=True)


def echo_server(log_dir: Path, cpus: frozenset[int] | None = None) -> ServerProcess:
    """The stock echo bot (bench/echo_bot.py), local mode; it has no health route, so the
    405 of GET /api/messages says it is up."""
    return ServerProcess(
        "echo",
        [sys.executable, "-m", "bench.echo_bot"],
        {"MicrosoftAppId": "", "MicrosoftAppPassword": ""},
        log_dir / "echo.log",
        ready_path="/api/messages",
        ready_status=405,
        cpus=cpus,
    )


def bridge_server(
    database_url: str,
    log_dir: Path,
    label: str,
    profile_to: Path | None = None,
    env: dict[str, str] | None = None,
    cpus: frozenset[int] | None = None,
) -> ServerProcess:
    """``python app.py`` in local mode on the given database, optionally under pyinstrument.

    A profile is saved as a pyinstrument session, so that it can be rendered in several views
    afterwards (see ``render_profile``) from one and the same recording.
    """
    script = [str(ROOT / "app.py")]
    if profile_to is not None:
        script = [
            "-m",
            "pyinstrument",
            "--target-description",
            f"python app.py (bridge on {label})",
            "-r",
            "pyisession",
            "-o",
            str(profile_to),
            *script,
        ]
    return ServerProcess(
        f"bridge-{label}",
        [sys.executable, *script],
        {
            "DATABASE_URL": database_url,
            "PUBLIC_URL": "http://bridge.bench",
            "TRANSCRIPT_SECRET": BRIDGE_SECRET,
            "MicrosoftAppId": "",
            "MicrosoftAppPassword": "",
            "DB_AUTO_UPGRADE": "true",
            # The throughput load puts every chat in one room; Teams' per-channel budget
            # (2 posts a second over 30 s) would be the whole measurement. Per reply
            # thread, the load stays within the limits and pacing is measured at work.
            "PACE_PER_CHANNEL": "off",
            # The load opens every chat at once from one channel: with the flood limit on
            # new chats per channel (60 a minute), most cards would be held back by design
            # and the run would measure the limit. It is off here (0).
            "NEW_CHATS_PER_CHANNEL": "0",
            **(env or {}),
        },
        log_dir / f"bridge-{label}.log",
        ready_path="/healthz",
        ready_status=200,
        cpus=cpus,
    )
