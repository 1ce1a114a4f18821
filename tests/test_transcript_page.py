"""The transcript as a document worth forwarding: a header in the team's time zone and
language, the two sides of the conversation, notes apart, pictures as links, the
bridge's own words to the customer, a phone layout and a print stylesheet."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from bot import keys
from tests import activities as act
from tests.conftest import BridgeFactory, ManualClock, accept, open_chat, setup_room

PICTURE = "https://files.example/don-hang-A1234.png"
SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


async def test_the_transcript_reads_as_a_document(
    start_bridge: BridgeFactory, clock: ManualClock
) -> None:
    bridge = await start_bridge(clock, time_zone="Asia/Ho_Chi_Minh", default_language="vi")
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-doc", "Chào shop, đơn hàng #A1234 chưa giao", name="Lan")
    await bridge.post(
        act.webchat_message(
            bridge.service_url,
            "cust-doc",
            "Ảnh đơn hàng đây ạ",
            attachments=[{"contentType": "image/png", "contentUrl": PICTURE, "name": "don.png"}],
        )
    )
    await bridge.settled()
    # Text and picture of one message are one post in the thread.
    posts = bridge.connector.activities(chat.thread)
    [post] = [a for a in posts if "Ảnh đơn hàng" in a.get("text", "")]
    assert post["attachments"][0]["contentUrl"] == PICTURE
    clock.advance(75)
    owner, colleague = act.agent(2, "Minh Anh"), act.agent(3, "Long")
    await accept(bridge, chat, owner)
    for who, words in ((owner, "Dạ em kiểm tra ngay ạ"), (colleague, "Đơn này kho HN nhé")):
        await bridge.post(
            act.room_message(bridge.service_url, who, words, thread=chat.thread, mention_bot=False)
        )
        await bridge.settled()
    clock.advance(12 * 60)
    await bridge.post(
        act.room_message(bridge.service_url, owner, "/close", thread=chat.thread, mention_bot=False)
    )
    await bridge.settled()
    url = bridge.app[keys.LINKS].url(chat.chat_id).removeprefix("http://bridge.test")
    page = await (await bridge.get(url)).text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "transcript.html").write_text(page, encoding="utf-8")
    header = page[: page.index("</header>")]
    assert "Lan · Support" in header and "Đã kết thúc" in header
    assert "Minh Anh (phụ trách)" in header
    assert "Thời gian chờ</dt><dd>1 phút" in header and "Thời lượng</dt><dd>13 phút" in header
    assert "Giờ Việt Nam, TP Hồ Chí Minh (GMT+07:00)" in header and "UTC" not in header
    opened = clock() - timedelta(seconds=75 + 12 * 60)
    local_hour = (opened.hour + 7) % 24
    assert re.search(rf"\b{local_hour:02d}:{opened.minute:02d}\b", header)
    log = page[page.index("<main>") :]
    # Two sides, the bridge's own words included, the note apart, the picture linked.
    assert re.search(r'<li class="customer">.*Chào shop', log)
    assert re.search(r'<li class="team">.*Dạ em kiểm tra ngay ạ', log)
    assert re.search(r'<li class="bot">.*Cảm ơn', log)
    assert re.search(r'<li class="note">.*Ghi chú nội bộ · Long.*Đơn này kho HN nhé', log)
    # The picture is a link (never loaded by the page: its server learns nothing).
    assert f'href="{PICTURE}"' in log and "<img" not in page
    assert 'name="viewport"' in page and "@media print" in page


async def test_a_department_has_its_own_time_zone(start_bridge: BridgeFactory) -> None:
    bridge = await start_bridge(time_zone="Asia/Ho_Chi_Minh")
    room = await setup_room(bridge)
    stranger = act.agent(5, "Phong")

    async def say(who: act.Agent, text: str) -> str:
        await bridge.post(act.room_message(bridge.service_url, who, text))
        await bridge.settled()
        return bridge.connector.texts(act.ROOM)[-1]

    assert "IANA time zone" in await say(room.supervisor, "timezone Mars/Olympus")
    assert "only a supervisor" in await say(stranger, "timezone Asia/Tokyo")
    assert "now show times in Asia/Tokyo" in await say(room.supervisor, "timezone Asia/Tokyo")
    chat = await open_chat(bridge, "cust-tokyo", "Hello", locale="en-US")
    url = bridge.app[keys.LINKS].url(chat.chat_id).removeprefix("http://bridge.test")
    assert "Japan Time, Tokyo (GMT+09:00)" in await (await bridge.get(url)).text()
    assert "Asia/Ho_Chi_Minh" in await say(room.supervisor, "timezone default")
    assert "Vietnam Time, Ho Chi Minh City (GMT+07:00)" in await (await bridge.get(url)).text()
