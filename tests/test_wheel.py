"""The container's install steps, without Docker: build the wheel, install it into a clean
virtualenv, and start the server from it, outside the source tree.

The ``Dockerfile`` does the same (``pip wheel``, then ``pip install`` of the wheel into a
slim image, ``support-bridge run``); this proves that the package carries everything it
needs at run time (migrations, locale files) and that the console script works.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import aiohttp
import pytest

from store import migrate
from tests.processes import ROOT, free_port

# Pip is slow the first time it fills its cache; later runs reuse it.
INSTALL_TIMEOUT = 600


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def _copy_sources(into: Path) -> None:
    """What the build stage's COPY lines copy (a Docker build context has nothing else)."""
    for line in _dockerfile():
        if line.startswith("COPY ") and "--from" not in line:
            *sources, destination = line.split()[1:]
            for source in sources:
                target = into / (source if destination.endswith("/") else destination)
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__py*"))
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ROOT / source, target)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with only the wheel (and its dependencies) installed; returns its bin/."""
    work = tmp_path_factory.mktemp("wheel")
    # The build stage: the sources its COPY lines name, and the wheel alone.
    _copy_sources(work / "src")
    packages = {p.relative_to(work / "src").as_posix() for p in (work / "src").rglob("__init__.py")}
    python = sys.executable
    _run(python, "-m", "pip", "wheel", "--no-deps", "-q", "--wheel-dir", work / "wheels", ".",
         cwd=work / "src")  # fmt: skip
    [wheel] = (work / "wheels").glob("support_bridge-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "store/migrations/env.py" in names
    assert any(n.startswith("store/migrations/versions/0001") for n in names)
    assert {"dialogs/locales/en.json", "dialogs/locales/vi.json", "app.py"} <= set(names)
    assert {"web/console/templates/live.html", "web/console/static/console.css"} <= set(names)
    assert "bot/templates/transcript.html" in names
    assert not any(n.startswith("tests/") for n in names)
    # Every package of the sources, subpackages too (pyproject lists them one by one).
    assert packages <= set(names), f"not in the wheel: {sorted(packages - set(names))}"
    # The image: a clean environment and the wheel installed into it.
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    _run(bin_dir / "python", "-m", "pip", "install", "-q", wheel, cwd=work)
    return bin_dir


def _healthcheck() -> list[str]:
    [line] = [line for line in _dockerfile() if line.startswith("HEALTHCHECK")]
    return json.loads(line[line.index("CMD") + 3 :])


def _environment(data: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "PYTHON"))}
    return {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{data}/bridge.db", **values}


def test_the_installed_wheel_migrates_and_makes_a_teams_package(
    installed: Path, tmp_path: Path
) -> None:
    env = _environment(tmp_path)
    upgraded = _run(installed / "support-bridge", "db", "upgrade", cwd=tmp_path, env=env)
    assert f"revision {migrate.head()}" in upgraded
    current = _run(installed / "support-bridge", "db", "current", cwd=tmp_path, env=env)
    assert "up to date" in current
    env.update(MicrosoftAppId="0c6a3b2e-1234-4abc-9def-0123456789ab")
    env.update(PUBLIC_URL="https://support.example.vn")
    _run(installed / "support-bridge", "teams-package", "--out", "app.zip", cwd=tmp_path, env=env)
    assert "manifest.json" in zipfile.ZipFile(tmp_path / "app.zip").namelist()


def test_the_installed_server_refuses_a_database_behind_it(installed: Path, tmp_path: Path) -> None:
    """As on PostgreSQL by default: no upgrade at start, an exit with the command to run."""
    env = _environment(tmp_path, DB_AUTO_UPGRADE="false", PORT=str(free_port()))
    done = subprocess.run(
        [installed / "support-bridge", "run"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Run `support-bridge db upgrade`" in done.stderr


async def test_the_installed_wheel_serves(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    env = _environment(tmp_path, PORT=str(port), LOG_FORMAT="json")
    log = (tmp_path / "server.log").open("wb")
    # Started from a folder without the sources: only the installed package can be imported.
    server = subprocess.Popen(  # noqa: ASYNC220 - started once; waited for below
        [installed / "support-bridge", "run"], cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    try:
        ready = await _wait_ready(f"http://127.0.0.1:{port}", server)
        assert ready == {"database": "ok", "delivery": "ok"}, (tmp_path / "server.log").read_text()
        # The image's HEALTHCHECK, run with the image's Python.
        python, *check = _healthcheck()
        _run(installed / python, *check, cwd=tmp_path, env=env)
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
    first = (tmp_path / "server.log").read_text().splitlines()[0]
    assert first.startswith("{") and '"level"' in first, "LOG_FORMAT=json writes JSON lines"


async def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> dict[str, str]:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            assert server.poll() is None, "the server exited"
            try:
                async with http.get(f"{url}/healthz") as health:
                    if health.status == 200:
                        async with http.get(f"{url}/readyz") as ready:
                            body = await ready.json()
                            if ready.status == 200:
                                return body["checks"]
            except aiohttp.ClientError:
                pass  # not listening yet
            await asyncio.sleep(0.2)
    raise AssertionError("the installed server did not become ready in 60 s")
