"""CPU and memory of a server process while it is under load (psutil).

CPU is a delta of user+system seconds over the measured window, so start-up and warm-up do not
count; memory is the peak resident set, sampled often enough (every 50 ms) to catch bursts.
"""

from __future__ import annotations

import asyncio
import contextlib

import psutil

SAMPLE_INTERVAL = 0.05
MB = 1024 * 1024


def _tree(pid: int) -> list[psutil.Process]:
    """The process and its live children (a profiler or a worker may own the real work)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu(process: psutil.Process, *, with_reaped_children: bool) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    total = times.user + times.system
    if with_reaped_children:
        total += times.children_user + times.children_system
    return total


def tree_cpu_seconds(pid: int) -> float:
    """User+system seconds of the process, its live children and its exited children."""
    tree = _tree(pid)
    return sum(_cpu(p, with_reaped_children=p.pid == pid) for p in tree)


def tree_rss(pid: int) -> int:
    total = 0
    for process in _tree(pid):
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


def _own_cpu_seconds() -> float:
    """The bench process's own CPU (load generator and emulator), which shares the cores."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


def postgres_cpu_seconds() -> float:
    """CPU of the local PostgreSQL server's processes, which share the machine's two cores.

    Backends that exit during the window are counted through the postmaster's reaped children.
    """
    total = 0.0
    for process in psutil.process_iter(["name"]):
        name = process.info.get("name") or ""
        if name.startswith("postgres"):
            total += _cpu(process, with_reaped_children=True)
    return total


class ResourceMonitor:
    """Samples one server's process tree from ``start()`` to ``stop()`` in the bench's loop."""

    def __init__(self, pid: int, *, watch_postgres: bool = False) -> None:
        self.pid = pid
        self.watch_postgres = watch_postgres
        self.peak_rss = 0
        self.cpu_seconds = 0.0
        self.db_cpu_seconds: float | None = None
        self.bench_cpu_seconds = 0.0
        self._cpu_start = 0.0
        self._bench_cpu_start = 0.0
        self._db_cpu_start = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._cpu_start = tree_cpu_seconds(self.pid)
        self._bench_cpu_start = _own_cpu_seconds()
        if self.watch_postgres:
            self._db_cpu_start = postgres_cpu_seconds()
        self.peak_rss = tree_rss(self.pid)
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_INTERVAL)
            self.peak_rss = max(self.peak_rss, tree_rss(self.pid))

    async def stop(self) -> None:
        """End the window: CPU deltas are taken now, the sampler is cancelled."""
        self.cpu_seconds = tree_cpu_seconds(self.pid) - self._cpu_start
        self.bench_cpu_seconds = _own_cpu_seconds() - self._bench_cpu_start
        if self.watch_postgres:
            self.db_cpu_seconds = postgres_cpu_seconds() - self._db_cpu_start
        self.peak_rss = max(self.peak_rss, tree_rss(self.pid))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss / MB
