"""How the application is put together: the store's policy and post-commit hook are
given at construction."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from bot import keys
from bot.delivery import Handover
from store.core import IntakeLimits, Policy
from tests.conftest import BridgeFactory, open_chat, setup_room


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
    assert isinstance(hook, Handover)
    assert (hook.owner, hook.lease) == (dispatcher.owner, dispatcher.lease)
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-policy", "Hi")  # commits reach the dispatcher
    assert chat.thread


def test_commits_before_the_dispatcher_exists_are_passed_on() -> None:
    handover = Handover(lease=timedelta(seconds=30))
    handover.committed([], {"lane-a"})
    got: list[set[str]] = []
    handover.receive(lambda leased, unleased: got.append(unleased))
    handover.committed([], {"lane-b"})
    assert got == [{"lane-a"}, {"lane-b"}]
    with pytest.raises(RuntimeError):
        handover.receive(lambda leased, unleased: None)
