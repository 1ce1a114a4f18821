"""Tags in Vietnamese ("hóa-đơn"), found from a keyboard without marks ("hoa-don")."""

from __future__ import annotations

import pytest

from store.tagkeys import tag_key, tag_name, valid_tag
from tests import activities as act
from tests.conftest import Bridge, setup_room
from tests.test_agent_tools import card_of, chat_with_owner, facts, last_text, say


@pytest.mark.parametrize(
    ("typed", "key"),
    [("hóa-đơn", "hoa-don"), ("Hóa-Đơn", "hoa-don"), ("giao_hàng", "giao_hang"), ("vip", "vip")],
)
def test_a_tag_has_a_key_without_marks_or_case(typed: str, key: str) -> None:
    assert valid_tag(tag_name(typed)) and tag_key(tag_name(typed)) == key


@pytest.mark.parametrize("typed", ["no#pe", "a b", "", "x" * 33, "đơn/hàng"])
def test_what_cannot_be_a_tag(typed: str) -> None:
    assert not valid_tag(tag_name(typed))


def test_a_decomposed_name_is_stored_composed() -> None:
    decomposed = "hóa-đơn".replace("ó", "o\u0301")
    assert tag_name(decomposed) == "hóa-đơn"


async def test_vietnamese_tags_by_command_and_by_their_key(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    owner = act.agent(2, "Minh")
    await say(bridge, room.supervisor, "tags add hóa-đơn giao-hàng")
    assert "tags added: hóa-đơn, giao-hàng" in last_text(bridge, act.ROOM)
    # The same tag without marks is not a second tag.
    await say(bridge, room.supervisor, "tags add hoa-don")
    assert "Already there: hoa-don" in last_text(bridge, act.ROOM)
    chat = await chat_with_owner(bridge, "cust-vi-tags", owner)
    await say(bridge, owner, "/tag hoa-don", thread=chat.thread)
    assert facts(card_of(bridge.connector.updates(chat.thread)[-1]))["Tags"] == "hóa-đơn"
    await say(bridge, owner, "/untag HÓA-ĐƠN", thread=chat.thread)
    await say(bridge, owner, "/tag Giao-Hàng", thread=chat.thread)
    assert facts(card_of(bridge.connector.updates(chat.thread)[-1]))["Tags"] == "giao-hàng"
    await say(bridge, room.supervisor, "tags remove giao-hang")
    assert "tag **giao-hàng** removed" in last_text(bridge, act.ROOM)
    await say(bridge, room.supervisor, "tags list")
    assert "hóa-đơn" in last_text(bridge, act.ROOM) and "giao" not in last_text(bridge, act.ROOM)
