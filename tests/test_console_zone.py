"""Issue 26, "everything in the team's time and language": the console and ``@Bot report``
over real HTTP on both engines, in the department's time zone (history, CSV, report
days, chats by hour, quick ranges beside the previous period), with durations in words,
channels by name and the hours form showing what is stored; and every console page read
in Vietnamese, failing on an English word or a term ``docs/glossary.md`` forbids."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

from cards.times import exact_duration, zone_choices
from store.report_days import DayFigures
from store.reports import _zone_hours, local_hour
from tests import activities as act
from tests.conftest import Bridge, ManualClock, accept, go_online, open_chat, setup_room
from tests.test_console import ask_for_link, browser, close, get, reply, say_in_room, sign_in
from tests.test_glossary import ADDRESS_ROW, glossary

HANOI = "Asia/Ho_Chi_Minh"
# Friday 27 November 2026, 10:00 UTC: 17:00 in Hanoi, still the 27th there.
FRIDAY_EVENING_IN_HANOI = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
# The same Friday, 23:30 UTC: already Saturday 28th, 06:30, in Hanoi.
SATURDAY_MORNING_IN_HANOI = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)


def at(moment: datetime) -> ManualClock:
    clock = ManualClock()
    clock.advance((moment - clock()).total_seconds())
    return clock


def test_durations_are_said_in_words_in_two_units() -> None:
    assert exact_duration(355, "vi") == "5 phút 55 giây"
    assert exact_duration(355, "en") == "5 minutes 55 seconds"
    assert exact_duration(timedelta(hours=1, minutes=5, seconds=9), "en") == "1 hour 5 minutes"
    assert exact_duration(0, "vi") == "0 giây"
    assert exact_duration(None, "vi") == "-"


def test_a_utc_hour_falls_in_the_zones_hour() -> None:
    assert local_hour("2026-11-27 23", ZoneInfo(HANOI)) == 6
    # Half an hour off UTC: counted in the hour most of it falls in.
    assert local_hour("2026-11-27 10", ZoneInfo("Asia/Kolkata")) == 16
    # Daylight saving: 12:00 UTC is 08:00 in New York in July, 07:00 in January.
    assert local_hour("2026-07-01 12", ZoneInfo("America/New_York")) == 8
    assert local_hour("2026-01-05 12", ZoneInfo("America/New_York")) == 7


def test_days_hours_fall_in_the_zones_hours_as_each_hour_does() -> None:
    """A year's report turns its days' UTC hours into the zone's a day at a time; every
    hour lands where ``local_hour`` puts it, on the days daylight saving starts and ends
    too (New York's hour, Lord Howe's half hour, Chatham's 45 minutes)."""
    days = []
    for n in range(800):
        figures = DayFigures()
        figures.hours = [1 + (n + hour) % 5 for hour in range(24)]
        days.append((datetime(2025, 1, 1, tzinfo=UTC).date() + timedelta(days=n), figures))
    for name in (
        HANOI,
        "Asia/Kolkata",
        "America/New_York",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "America/St_Johns",
        "UTC",
    ):
        zone = ZoneInfo(name)
        hours = [0] * 24
        for day, figures in days:
            for utc, n in enumerate(figures.hours):
                hours[local_hour(f"{day.isoformat()} {utc:02d}", zone)] += n
        assert _zone_hours(days, zone) == tuple(hours), name


def test_the_zone_picker_names_places_not_iana_ids() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    choices = dict(zone_choices("vi", now, HANOI))
    assert choices[HANOI] == "Giờ Việt Nam, TP Hồ Chí Minh (GMT+07:00)"
    assert "Asia/Saigon" not in choices  # an alias: one entry per place
    assert not any(name.startswith("Etc/") for name in choices)
    # An alias stored earlier is still offered, so the form shows what is stored.
    assert "Asia/Saigon" in dict(zone_choices("vi", now, "Asia/Saigon"))


async def seed_two_days(bridge: Bridge, clock: ManualClock) -> dict[str, Any]:
    """One chat on Friday 27th (Hanoi), two on Saturday 28th (Hanoi): all three on the
    27th in UTC. The first of Saturday waits 5 min 55 s, then lasts 1 min more."""
    room = await setup_room(bridge)
    mai, binh = room.supervisor, act.agent(5, "Trần Bình")
    await say_in_room(bridge, mai, f"timezone {HANOI}")
    await go_online(bridge, mai)
    await go_online(bridge, binh)
    friday = await open_chat(bridge, "c-fri", "thứ sáu", name="Hoa")
    await accept(bridge, friday, binh)
    await close(bridge, binh, friday.thread)
    clock.advance((SATURDAY_MORNING_IN_HANOI - clock()).total_seconds())
    saturday = await open_chat(bridge, "c-sat", "thứ bảy", name="Lan")
    clock.advance(355)
    await accept(bridge, saturday, binh)
    await reply(bridge, binh, saturday.thread, "Chào Quý khách")
    clock.advance(60)
    await close(bridge, binh, saturday.thread)
    later = await open_chat(bridge, "c-sat-2", "cần hỗ trợ", name="Minh")
    return {"mai": mai, "binh": binh, "chats": (friday, saturday, later)}


async def test_history_csv_and_reports_are_in_the_departments_zone(start_bridge: Any) -> None:
    clock = at(FRIDAY_EVENING_IN_HANOI)
    bridge = await start_bridge(clock)
    seeded = await seed_two_days(bridge, clock)
    token = await ask_for_link(bridge, seeded["mai"])
    async with browser() as http:
        assert await sign_in(bridge, http, token) == 302
        page = await (await get(http, bridge, "/console/history", text="thứ bảy")).text()
        # Closed at 23:36:55 UTC: 06:36 on the 28th in Hanoi; 415 s in words; by channel name.
        assert "11/28/26, 6:36" in page and "UTC" not in page
        assert "6 minutes 55 seconds" in page and "Website" in page and "webchat" not in page
        assert "Times in Vietnam Time, Ho Chi Minh City (GMT+07:00)." in page
        # A day of the search is a Hanoi day: the 28th holds the Saturday chats only.
        page = await (
            await get(http, bridge, "/console/history", since="2026-11-28", until="2026-11-28")
        ).text()
        assert "thứ sáu" not in page and "Lan" in page and "Hoa" not in page
        csv = (await (await get(http, bridge, "/console/history.csv")).text()).splitlines()
        saturday = next(line for line in csv if ",Lan," in line)
        assert ",Website," in saturday
        assert "2026-11-28T06:30:00+07:00,2026-11-28T06:36:55+07:00" in saturday
        # Today (Saturday in Hanoi, still Friday in UTC): the two Saturday chats, the
        # Friday one as the previous period; the chart puts them at 06 o'clock.
        report = await (await get(http, bridge, "/console/reports")).text()
        today = re.search(r'href="([^"]+)"[^>]*>Today</a>', report)
        assert today is not None
        assert "since=2026-11-28&amp;until=2026-11-28" in today[1]
        report = await (
            await get(http, bridge, "/console/reports", since="2026-11-28", until="2026-11-28")
        ).text()
    received = re.search(
        r"<dt>Chats received</dt><dd>(\d+)</dd><dd class=\"previous\">previous period: (\d+)<",
        report,
    )
    assert received is not None and received.groups() == ("2", "1")
    assert "<title>06: 2</title>" in report
    assert "Chats by hour of day, Vietnam Time, Ho Chi Minh City (GMT+07:00)" in report
    assert "median 5 minutes 55 seconds / 90th percentile 5 minutes 55 seconds" in report
    # The room's report: today is Hanoi's Saturday, and the card says which zone.
    clock.advance(1)  # "today" runs to now: the last chat, opened this second, is in it
    await say_in_room(bridge, seeded["mai"], "report today")
    card = bridge.connector.activities(act.ROOM)[-1]["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Chats received"] == "2"
    assert "Days and hours in Vietnam Time" in card["body"][2]["text"]
    assert "since=2026-11-28" in card["actions"][0]["url"]


async def test_the_hours_form_picks_a_zone_and_shows_what_is_stored(start_bridge: Any) -> None:
    bridge = await start_bridge(at(FRIDAY_EVENING_IN_HANOI))
    room = await setup_room(bridge)
    token = await ask_for_link(bridge, room.supervisor)
    async with browser() as http:
        assert await sign_in(bridge, http, token) == 302
        page = await (await get(http, bridge, "/console/settings")).text()
        # Nothing stored: said so; the picker offers the bridge's zone (UTC here).
        assert "No hours are set" in page
        assert '<option value="UTC" selected>' in page
        form = re.search(r'name="csrf" value="([^"]+)"', page)
        assert form is not None
        saved = await http.post(
            bridge.server.make_url("/console/settings/hours"),
            data=[
                ("csrf", form[1]),
                ("time_zone", "Asia/Bangkok"),
                ("days", "1"),
                ("days", "3"),
                ("opens", "09:00"),
                ("closes", "18:30"),
            ],
            allow_redirects=False,
        )
        assert saved.status == 302
        page = await (await get(http, bridge, "/console/settings")).text()
    assert '<option value="Asia/Bangkok" selected>Thailand Time, Bangkok (GMT+07:00)' in page
    assert "Stored: open 09:00 to 18:30 on Mon, Wed (Thailand Time, Bangkok (GMT+07:00))" in page
    assert page.count(" selected>") == 2  # the zone and the assignment mode
    assert '<input name="time_zone"' not in page


# English that leaks into Vietnamese pages (words, units, raw ids), beyond the glossary's.
LEAKS = re.compile(
    r"(?<!\w)(webchat|directline|online|offline|away|waiting|active|closed|UTC|"
    r"median|percentile|ratings?|chats?|agents?|\d+\s?[hms])(?!\w)",
    re.IGNORECASE,
)


class PageText(HTMLParser):
    """What a reader sees and hears of a page: its text and the labels of its controls,
    not its scripts, styles, links or form values."""

    SAID = ("title", "aria-label", "placeholder", "alt", "data-label")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        self.parts += [value for name, value in attrs if name in self.SAID and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def words_of(html: str) -> str:
    reader = PageText()
    reader.feed(html)
    return " ".join(" ".join(reader.parts).split())


def problems(text: str, data: list[str]) -> list[str]:
    """English leaks and glossary-forbidden terms in ``text`` (the seeded data, which is
    the customers' and agents' own words, taken out first)."""
    for given in data:
        text = text.replace(given, " ")
    found = [m[0] for m in LEAKS.finditer(text)]
    for english, vietnamese, avoid in glossary():
        if english == ADDRESS_ROW:  # agents are addressed as "bạn"; customers never see these
            continue
        rest = re.sub(re.escape(vietnamese), " ", text, flags=re.IGNORECASE)
        for word in avoid:
            if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", rest, re.IGNORECASE):
                found.append(word)
    return found


async def seed_vietnamese(bridge: Bridge, clock: ManualClock) -> dict[str, Any]:
    """A few chats of each state, with a tag and a rating."""
    seeded = await seed_two_days(bridge, clock)
    await say_in_room(bridge, seeded["mai"], "tags add hóa-đơn")
    friday = seeded["chats"][0]
    rate = {"action": "rate", "chat": friday.chat_id, "score": 5}
    rated = await bridge.post(act.webchat_message(bridge.service_url, "c-fri", "", value=rate))
    assert rated.status == 201
    waiting = await open_chat(bridge, "c-wait", "xin chào", name="Tú")
    await accept(bridge, seeded["chats"][2], seeded["binh"])
    await bridge.settled()
    return {**seeded, "waiting": waiting}


CONSOLE_PAGES = (
    "/console/live",
    "/console/history",
    "/console/reports",
    "/console/reports?since=2026-11-27&until=2026-11-28",
    "/console/settings",
)
# The seeded names and words (the team's and customers' own), and the names of products.
DATA = ["Trần Bình", "Supervisor Mai", "Support", "hóa-đơn", "Teams", "@Bot setup", "CSV"]


async def test_every_console_page_reads_in_vietnamese(start_bridge: Any) -> None:
    clock = at(FRIDAY_EVENING_IN_HANOI)
    bridge = await start_bridge(clock, default_language="vi")
    seeded = await seed_vietnamese(bridge, clock)
    token = await ask_for_link(bridge, seeded["mai"])
    friday = seeded["chats"][0]
    chat = f"/console/chats/{friday.chat_id}"
    pages = [*CONSOLE_PAGES, chat, f"{chat}/transcript"]
    async with browser() as http:
        assert await sign_in(bridge, http, token) == 302
        read = {}
        for path in pages:
            response = await http.get(bridge.server.make_url(path), allow_redirects=False)
            assert response.status == 200, path
            read[path] = words_of(await response.text())
    live, history = read["/console/live"], read["/console/history"]
    assert "Đang hỗ trợ" in live and "Đang chờ nhân viên" in live and "1 đang hỗ trợ" in live
    assert "Website" in history and "giây" in history
    settings = read["/console/settings"]
    assert "Trạng thái trực tuyến" in settings and "Đã thêm nhãn: hóa-đơn" in settings
    assert "Múi giờ: Giờ Việt Nam, TP Hồ Chí Minh (GMT+07:00)" in settings
    assert "Điểm trung bình 5,00" in read["/console/reports"]
    for path, text in read.items():
        assert problems(text, DATA) == [], f"{path}: {text}"


def test_the_reader_fails_on_english_and_forbidden_terms() -> None:
    page = (
        '<p title="online">5m 55s</p><script>var online = 1;</script>'
        "<td>webchat</td><td>09:47 UTC</td><p>3 đang xử lý</p><p>Trần Bình</p>"
    )
    found = problems(words_of(page), ["Trần Bình"])
    assert found == ["online", "5m", "55s", "webchat", "UTC", "đang xử lý"]
