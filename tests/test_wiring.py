"""How the application is put together: resources, injected policy and hook, the error
answer of a failed turn, and a test run that writes no tracked file."""

from __future__ import annotations

import dataclasses
import inspect
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from app import create_app
from bot import keys
from bot.hook import CommitHook
from bot.settings import Settings
from store.handover import Handover
from store.unit import IntakeLimits, Policy
from tests import activities as act
from tests import conftest, reliability
from tests.conftest import Bridge, BridgeFactory, open_chat, setup_room


async def test_a_failed_turn_is_answered_500_with_a_reason_and_its_redelivery_counts(
    bridge: Bridge,
) -> None:
    """The error handler answers (a 500 whose JSON body says why), so the channel delivers
    the activity again; nothing of the failed turn was kept, so the repeat is handled once."""
    room = await setup_room(bridge)
    with pytest.MonkeyPatch.context() as patch:

        async def broken(activity: dict[str, Any]) -> None:
            raise RuntimeError("the database went away")

        patch.setattr(bridge.app[keys.BRIDGE], "handle", broken)
        message = act.webchat_message(bridge.service_url, "cust-fail", "Hello")
        response = await bridge.post(message)
        assert response.status == 500
        assert response.content_type == "application/json"
        assert "deliver it again" in (await response.json())["error"]
        press = act.invoke_action(
            bridge.service_url, room.supervisor, act.ROOM, "accept", {"chat": "x", "v": 1}
        )
        response = await bridge.post(press)
        assert response.status == 500 and "error" in await response.json()
    assert not bridge.connector.created()
    response = await bridge.post(message)
    assert response.status == 201
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) == 1)
    await bridge.settled()
    assert len(bridge.connector.created()) == 1


async def test_the_store_gets_a_frozen_policy_from_the_settings(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge(
        unanswered_seconds=45,
        max_open_chats=3,
        new_chats_per_conversation=2,
        new_chats_per_channel=20,
    )
    policy = bridge.app[keys.STORE].policy
    assert policy == Policy(
        unanswered_after=timedelta(seconds=45),
        default_capacity=3,
        intake_limits=IntakeLimits(per_conversation=2, per_channel=20),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.default_capacity = None  # type: ignore[misc]
    # The post-commit hook is the dispatcher's hand-over, given at construction.
    dispatcher = bridge.app[keys.DISPATCHER]
    hook = bridge.app[keys.STORE].delivery
    assert isinstance(hook, CommitHook)
    assert (hook.owner, hook.lease) == (dispatcher.owner, dispatcher.lease)
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-policy", "Hi")  # commits reach the dispatcher
    assert chat.thread


async def test_each_resource_is_made_and_closed_by_its_own_context(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/bridge.db"))
    names = [context.__name__ for context in app.cleanup_ctx]
    ours = ["database", "links", "client_session", "adapter", "bridge", "delivery", "timers"]
    assert [name for name in names if name in ours] == ours
    assert keys.ADAPTER not in app  # nothing is built before the app starts
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    session = app[keys.CLIENT_SESSION]
    assert app[keys.CONNECTOR] is app[keys.ADAPTER].connector
    assert not session.closed
    await server.close()
    assert session.closed


class _Receiver:
    """A dispatcher as the hook sees it: what it was handed, in order."""

    budgets = None

    def __init__(self) -> None:
        self.got: list[set[str]] = []

    def committed(self, handover: Handover) -> None:
        self.got.append(handover.unleased)

    def take_marks(self) -> list[tuple[int, str]]:
        return []

    def give_back_marks(self, marks: list[tuple[int, str]]) -> None:
        raise AssertionError(f"marks {marks} given back: no unit failed")


def test_commits_before_the_dispatcher_exists_are_passed_on() -> None:
    hook = CommitHook(lease=timedelta(seconds=30))
    hook.committed(Handover([], {"lane-a"}))
    receiver = _Receiver()
    hook.attach(receiver)
    hook.committed(Handover([], {"lane-b"}))
    assert receiver.got == [{"lane-a"}, {"lane-b"}]
    with pytest.raises(RuntimeError):
        hook.attach(_Receiver())


def test_the_suite_writes_its_table_under_build_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table goes to the git-ignored build folder, whatever the environment says;
    only ``python -m tests.reliability --write-docs`` writes the document."""
    target = inspect.signature(reliability.write_table).parameters["target"].default
    assert target == reliability.TABLE
    assert reliability.TABLE.is_relative_to(reliability.ROOT / "build")
    if (reliability.ROOT / ".git").exists() and shutil.which("git"):
        ignored = subprocess.run(
            ["git", "-C", str(reliability.ROOT), "check-ignore", "-q", str(reliability.TABLE)],
            check=False,
        )
        assert ignored.returncode == 0, "build/reliability.md must be git-ignored"
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(reliability, "write_table", lambda *args, **kw: calls.append((args, kw)))
    monkeypatch.setattr(reliability, "ROWS", [reliability.Row("a", "b", "sqlite", "ok")])
    monkeypatch.setenv("REFRESH_RELIABILITY_DOC", "1")  # the old switch is gone
    config = SimpleNamespace(
        args_source=pytest.Config.ArgsSource.TESTPATHS,
        option=SimpleNamespace(keyword="", markexpr=""),
    )
    conftest.pytest_sessionfinish(SimpleNamespace(config=config), 0)  # type: ignore[arg-type]
    assert calls == [((reliability.ROWS,), {})]


def test_the_document_is_refreshed_only_from_a_table_of_both_engines(tmp_path: Path) -> None:
    table, doc = tmp_path / "table.md", tmp_path / "doc.md"
    doc.write_text("the document as it was\n")
    assert "does not exist" in (reliability.write_docs(table, doc) or "")
    reliability.write_table([reliability.Row("a", "b", "sqlite", "ok")], table)
    assert "postgresql" in (reliability.write_docs(table, doc) or "")
    assert doc.read_text() == "the document as it was\n"
    rows = [reliability.Row("a", "b", engine, "ok") for engine in ("sqlite", "postgresql")]
    reliability.write_table(rows, table)
    assert reliability.write_docs(table, doc) is None
    assert doc.read_text() == table.read_text()
    assert reliability.engines_in(doc.read_text()) == {"sqlite", "postgresql"}


def test_the_document_is_what_the_writer_writes() -> None:
    """docs/reliability.md has the writer's header and layout, so the command that
    refreshes it changes rows only."""
    text = reliability.DOC.read_text(encoding="utf-8")
    assert reliability.WRITE_DOCS in text.replace("\n", " ")
    assert reliability.engines_in(text) == set(reliability.ENGINES)
