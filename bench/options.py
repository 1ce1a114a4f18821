"""What one benchmark run is asked to do, resolved from the command line.

Kept apart from the argument parser so the smoke test and the phases can build and read it
without going through ``argparse``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"
PACE_PLANS = ("burst-thread", "burst-channel", "steady-thread")


@dataclass(frozen=True)
class Options:
    """Every knob of a run; the defaults are the documented full run."""

    chats: int = 200
    messages: int = 5
    latency_ms: float = 20.0
    skip_postgres: bool = False
    skip_scale: bool = False
    skip_race: bool = False
    skip_pace: bool = False
    pace_only: bool = False
    pace_plans: tuple[str, ...] = PACE_PLANS
    # Each pace plan this many times (unpaced, paced, unpaced, ...): the steady runs are
    # short, so their p99 moves a lot on a shared machine and one pair proves little.
    pace_repeat: int = 1
    profile: bool = False
    # Throughput and scale servers on the first CPU, the bench process on the others: the
    # figures then move less from run to run (see ``bench.servers.placement``).
    pin: bool = False
    postgres_url: str = DEFAULT_POSTGRES_URL
    output: Path = RESULTS / "latest.json"
    scale_sizes: tuple[int, ...] = (10, 1_000, 10_000)
    scale_chats: int = 50
    race_chats: int = 100
    race_agents: int = 50
    race_inflight: int = 200
    warmup_chats: int = 10
    arrival_timeout: float = 60.0
    command: list[str] = field(default_factory=list)

    @property
    def latency(self) -> float:
        """The connector emulator's per-request latency, in seconds."""
        return self.latency_ms / 1000.0


QUICK = {
    "chats": 10,
    "messages": 2,
    "scale_sizes": (10, 200),
    "scale_chats": 10,
    "race_chats": 5,
    "race_agents": 4,
    "warmup_chats": 2,
    "pace_plans": ("burst-thread",),
    "arrival_timeout": 20.0,
}
