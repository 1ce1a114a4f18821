"""Functions small enough to read at once: cyclomatic complexity (radon) and length
limits over the bridge's code, with the few exceptions named and why (each one a debt to
pay down: split it, then strike it from the list)."""

from __future__ import annotations

import ast
from pathlib import Path

from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "dialogs", "cards", "store", "web")
MAX_COMPLEXITY = 15  # radon's rank C ends here
MAX_LINES = 80

# "path:function" (methods as "Class.method") -> why it is allowed to be larger.
COMPLEX = {
    "app.py:validate_activity": "the body's shape, field by field, before the SDK sees it",
    "store/intake.py:do_customer_message": "the hot path's one SELECT and its outcomes",
    "dialogs/intake.py:customer_message": "intake's two units of work and its closures",
    "bot/delivery.py:Dispatcher._paced": "Teams' pace per lane, per channel and tenant",
    "store/views.py:chat_view": "the chat as cards see it, in two statements",
    "app.py:_turn": "one inbound activity through the SDK seam",
    "bot/bridge.py:Bridge._room": "every kind of activity in a room, past the gate",
    "dialogs/attachments.py:read_files": "each file a customer sends, checked",
    "store/tags.py:do_tag_chat": "add, remove or set a chat's tags in one claim",
    "store/reports.py:report": "a report's figures in one pass",
}
LONG = {
    "app.py:create_app": "the wiring of every resource and route",
    "dialogs/intake.py:customer_message": "intake's two units of work and its closures",
    "app.py:validate_activity": "the body's shape, field by field",
    "bot/teams_package.py:manifest": "the Teams manifest, one literal",
}


def _files() -> list[Path]:
    files = [ROOT / "app.py"]
    for package in PACKAGES:
        files += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return files


def _name(path: Path, function: str) -> str:
    return f"{path.relative_to(ROOT)}:{function}"


def test_complexity_stays_under_the_limit() -> None:
    over = {}
    for path in _files():
        for block in cc_visit(path.read_text(encoding="utf-8")):
            name = _name(path, block.fullname)
            if block.complexity > MAX_COMPLEXITY and name not in COMPLEX:
                over[name] = block.complexity
    assert over == {}, f"split these (at most {MAX_COMPLEXITY}), or name why in COMPLEX"


def test_functions_stay_short() -> None:
    over = {}
    for path in _files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        classes = {
            id(item): node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            for item in node.body
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                owner = classes.get(id(node))
                name = _name(path, f"{owner}.{node.name}" if owner else node.name)
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES and name not in LONG:
                    over[name] = lines
    assert over == {}, f"split these (at most {MAX_LINES} lines), or name why in LONG"
