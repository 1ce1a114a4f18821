"""The layers as a test: ``lint-imports`` holds the import-linter contracts of
``pyproject.toml`` (app.py > web > bot > dialogs > cards > store; ``bot.sdk`` the only
importer of the Bot Framework SDK; cards free of SQLAlchemy), so an upward import fails
the build instead of waiting for a reviewer. ``docs/architecture.md`` draws the same."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_architecture_document_names_every_contract() -> None:
    """The page a newcomer reads is drawn from the contracts: each one is named there."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    document = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    contracts = config["tool"]["importlinter"]["contracts"]
    assert len(contracts) >= 4
    for contract in contracts:
        assert f"**{contract['name']}**" in document, contract["name"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    assert " > ".join(layers) in document


def test_each_shared_definition_is_made_once() -> None:
    """A constant, a type or a refusal defined twice drifts apart (``THREAD_MARK`` was
    defined four times, ``TextLookup`` and ``Refused`` twice): one definition each, which
    the others import."""
    import re

    names = ("THREAD_MARK", "TextLookup", "Refused", "Refusal", "ChatEvent", "COMMANDS", "MENU")
    definitions: dict[str, list[str]] = {name: [] for name in names}
    pattern = re.compile(rf"^(?:class ({'|'.join(names)})\b|({'|'.join(names)})\s*[:=])", re.M)
    for package in ("bot", "dialogs", "cards", "store", "web"):
        for path in (ROOT / package).rglob("*.py"):
            for match in pattern.finditer(path.read_text(encoding="utf-8")):
                definitions[match[1] or match[2]].append(str(path.relative_to(ROOT)))
    assert {n: p for n, p in definitions.items() if len(p) > 1} == {}
