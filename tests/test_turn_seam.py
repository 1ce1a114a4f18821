"""The wire is read once: ``dialogs/turn.py`` reads an inbound activity into a ``Turn``,
and nothing below the seam reads the raw activity again.

Read from the source with ``ast`` (nothing is imported): in ``dialogs/`` and in ``bot/``
outside the seam files named below, no module reads an attribute ``.activity`` (the
raw activity a ``Turn`` once carried), calls a reader of the raw activity
(``dialogs/activity.py``'s functions that take one, ``cards.actions.card_data``), or
looks up a key only an inbound activity has (``membersAdded``, ``replyToId``...).
A flow that needs another fact of the activity adds a typed field to the ``Turn``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.processes import ROOT

# Where the raw activity may be read, and why.
SEAM = {
    ROOT / "dialogs" / "turn.py": "builds the Turn from the activity",
    ROOT / "dialogs" / "activity.py": "the readers the Turn is built with",
    ROOT / "bot" / "sdk": "the Bot Framework SDK's side: the wire itself",
    ROOT / "bot" / "channels": "a channel's webhook turns its events into activity JSON",
    # The company's bot is another Bot Framework bot read over Direct Line: its
    # activities (and its Transcript attachment) are that bot's words, not a turn of ours.
    ROOT / "bot" / "firstbot.py": "the Direct Line client reads the company bot's activities",
    ROOT / "dialogs" / "firstbot.py": "the company bot's activities shown to the customer",
}
# Keys that only an inbound activity has (an outgoing one, or a reference, never does).
INBOUND_KEYS = frozenset(
    {
        "membersAdded",
        "membersRemoved",
        "replyToId",
        "conversationType",
        "clientActivityID",
        "aadObjectId",
        "prechat",
        "offlineShown",
        "recipient",
        "from",
    }
)
READERS_ELSEWHERE = frozenset({"card_data", "card_input"})


def _readers() -> frozenset[str]:
    """The functions of ``dialogs/activity.py`` whose first parameter is a raw activity."""
    tree = ast.parse((ROOT / "dialogs" / "activity.py").read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and node.args.args
        and node.args.args[0].arg in ("activity", "value")
    )


def _below_the_seam() -> Iterator[Path]:
    for folder in ("dialogs", "bot"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if not any(path == seam or seam in path.parents for seam in SEAM):
                yield path


def _key(node: ast.AST) -> str | None:
    """The literal key a subscript (``x["k"]``, read) or ``x.get("k")`` looks up."""
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        index = node.slice
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and node.args
    ):
        index = node.args[0]
    else:
        return None
    return index.value if isinstance(index, ast.Constant) and isinstance(index.value, str) else None


def _reads(path: Path, readers: frozenset[str], name: str) -> list[str]:
    """What in one module reads the raw activity, as ``name:line what``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Attribute) and node.attr == "activity":
            found.append(f"{name}:{node.lineno} .activity")
        elif isinstance(node, ast.ImportFrom) and node.module in (
            "dialogs.activity",
            "cards.actions",
        ):
            used = {alias.name for alias in node.names} & (readers | READERS_ELSEWHERE)
            found.extend(f"{name}:{node.lineno} imports {reader}" for reader in sorted(used))
        elif _key(node) in INBOUND_KEYS:
            found.append(f"{name}:{node.lineno} [{_key(node)!r}]")
    return found


def test_nothing_below_the_seam_reads_the_raw_activity() -> None:
    readers = _readers()
    assert {"customer_key", "person_of", "tenant_of", "field"} <= readers
    found = [
        read
        for path in _below_the_seam()
        for read in _reads(path, readers, str(path.relative_to(ROOT)))
    ]
    assert not found, "read the Turn's fields instead:\n" + "\n".join(found)


def test_the_check_sees_a_raw_read(tmp_path: Path) -> None:
    """The walk above finds each kind of read it forbids (so it cannot pass by seeing nothing)."""
    module = tmp_path / "flow.py"
    module.write_text(
        "from dialogs.activity import customer_key, offered_contact\n"
        "def flow(turn):\n"
        "    added = turn.activity.get('membersAdded')\n"
        "    return turn.value['replyToId'], customer_key(turn)\n",
        encoding="utf-8",
    )
    reads = {read.split(" ", 1)[1] for read in _reads(module, _readers(), "flow.py")}
    assert reads == {"imports customer_key", ".activity", "['membersAdded']", "['replyToId']"}
