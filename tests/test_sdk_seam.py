"""The Bot Framework SDK is imported in ``bot/sdk/`` and nowhere else.

The SDK (botbuilder, with botframework-connector and msrest under it) is archived; its
successor is the Microsoft 365 Agents SDK. Moving to it should replace one package, so
no other module may import the SDK, not even for a type. Read from the source with
``ast``: nothing is imported, and an import inside a function or behind
``TYPE_CHECKING`` counts as well.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

from tests.processes import ROOT

SDK_PACKAGES = frozenset({"botbuilder", "botframework", "msrest"})
SEAM = ROOT / "bot" / "sdk"
MODULE_LINES = 400
# Modules allowed to use the SDK although they are outside the seam, and why.
EXEMPT = {
    # The yardstick of ``python -m bench``: the SDK's own echo sample, with nothing of
    # the bridge in it, so that the bench compares the bridge with the plain SDK.
    ROOT / "bench" / "echo_bot.py": "the SDK's echo sample, the bench's yardstick",
}
# Not the project's source: environments, build output, caches.
SKIPPED_DIRECTORIES = frozenset({"build", "dist", "node_modules", "__pycache__"})


def _sources() -> Iterator[Path]:
    """Every Python file of the project (app, packages, tests, bench), no virtualenv."""
    for folder, directories, files in os.walk(ROOT):
        # Pruned in place, so that os.walk never descends into .venv or .git.
        directories[:] = sorted(
            d for d in directories if not d.startswith(".") and d not in SKIPPED_DIRECTORIES
        )
        yield from (Path(folder) / name for name in sorted(files) if name.endswith(".py"))


def _imported(path: Path) -> set[str]:
    """The top-level package of every absolute import in a file, including
    ``importlib.import_module("...")`` and ``__import__("...")`` with a literal name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".", 1)[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".", 1)[0])
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            found.add(node.args[0].value.split(".", 1)[0])
    return found


def _in_seam(path: Path) -> bool:
    return path.is_relative_to(SEAM)


def test_only_the_seam_imports_the_sdk() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported(path) & SDK_PACKAGES)
        for path in _sources()
        if not _in_seam(path) and path not in EXEMPT
    }
    offenders = {path: packages for path, packages in offenders.items() if packages}
    assert not offenders, (
        f"the SDK is imported outside bot/sdk/: {offenders}; "
        "add what is needed to bot/sdk/ and import it from there"
    )


def test_the_scan_sees_the_seam_and_the_exemptions() -> None:
    """The scan is not vacuous: it finds the SDK where it is, and every exemption still
    uses the SDK (a stale one would hide a new offender of the same name)."""
    seam = [path for path in _sources() if _in_seam(path)]
    assert {"botbuilder", "botframework", "msrest"} <= set().union(*map(_imported, seam))
    for path, why in EXEMPT.items():
        assert _imported(path) & SDK_PACKAGES, f"{path} no longer uses the SDK ({why})"


def test_the_seam_is_split_by_job() -> None:
    """One package, but no module of it grows past the budget of every module of bot/."""
    lines = {path.name: len(path.read_text().splitlines()) for path in SEAM.glob("*.py")}
    assert {"__init__.py", "adapter.py", "connector.py"} <= set(lines)
    assert not (ROOT / "bot" / "sdk.py").exists(), "bot/sdk.py would shadow the package"
    assert max(lines.values()) <= MODULE_LINES, lines
