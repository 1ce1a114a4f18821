"""A local stand-in for the Bot Framework Connector REST API (v3).

End-to-end tests and the benchmark point an activity's ``serviceUrl`` at this server, so every
outbound call the bot makes (send, reply, update, delete, create conversation, member look-ups)
lands here instead of on Microsoft's service. The emulator answers like the real Connector
closely enough for the botbuilder client, records what it received so tests can assert on it,
and can inject faults (error statuses, ``Retry-After``, delays, dropped connections) so retry and
time-out handling can be exercised without a network.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web

from tests.connector_limits import ThreadLimits

# Activity ids look like Teams message ids (epoch milliseconds), which also keeps them numeric
# strings that sort in creation order.
_FIRST_ACTIVITY_ID = 1_700_000_000_000
# How many recent calls a wait_for time-out message shows.
_CALLS_IN_TIMEOUT_MESSAGE = 10
# Handlers still sleeping in a delay fault at stop() are cancelled after this many seconds,
# so a test that provoked a client time-out does not wait for the full delay at tear-down.
_SHUTDOWN_TIMEOUT = 1.0


@dataclass
class Call:
    """One HTTP request the emulator answered (or dropped), kept so tests can assert on traffic."""

    method: str
    path: str
    conversation_id: str | None
    activity_id: str | None
    body: dict | None
    status: int
    at: float
    headers: dict[str, str]


@dataclass
class Fault:
    """A failure to inject into matching requests, so retry and time-out paths can be tested.

    ``times`` is decremented on every use; once it reaches 0 the fault no longer applies.
    """

    method: str | None = None
    path_contains: str = ""
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault is still armed and targets a request with this method and path."""
        return (
            self.times > 0
            and (self.method is None or self.method.upper() == method)
            and self.path_contains in path
        )


class _MalformedBodyError(Exception):
    """Raised by a route that needs a JSON object body and did not get one (answered with 400)."""


@dataclass(slots=True)
class _Exchange:
    """What a route needs to know about one request, parsed once by the common request path."""

    request: web.Request
    body: dict | None
    at: float

    def route(self, name: str) -> str:
        """A decoded path parameter; aiohttp's match_info already undoes the percent-encoding."""
        return self.request.match_info[name]

    def json_object(self) -> dict:
        """The body as a JSON object, or a 400 for routes that cannot work without one."""
        if self.body is None:
            raise _MalformedBodyError
        return self.body


@dataclass(slots=True)
class _Outcome:
    """A route's answer plus the ids the emulator assigned, which end up in the recorded Call."""

    status: int
    payload: Any = None
    conversation_id: str | None = None
    activity_id: str | None = None
    headers: dict[str, str] | None = None


_Route = Callable[[_Exchange], _Outcome]


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> _Outcome:
    """An error answer shaped like the Connector's ``ErrorResponse`` so the client can parse it."""
    return _Outcome(status, {"error": {"code": code, "message": message}}, headers=headers)


def _response(outcome: _Outcome) -> web.Response:
    """The HTTP answer; no payload means an empty body, as the Connector sends for deletes."""
    status = outcome.status or 500  # 0 marks a dropped connection; nothing is written then
    if outcome.payload is None:
        return web.Response(status=status, headers=outcome.headers)
    return web.json_response(outcome.payload, status=status, headers=outcome.headers)


def _error_code(status: int) -> str:
    """A Connector-style error code for a status, e.g. 429 -> ``TooManyRequests``."""
    try:
        return HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        return "InjectedFault"


def _parse_json_object(raw: bytes) -> dict | None:
    """The body as a JSON object, or None when it is empty, not JSON, or not an object."""
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _bench_marker(activity: dict) -> str | None:
    """The benchmark's per-message marker (``channelData.benchMarker``), if the activity has one."""
    channel_data = activity.get("channelData")
    if not isinstance(channel_data, dict):
        return None
    marker = channel_data.get("benchMarker")
    return marker if isinstance(marker, str) else None


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value (cards nest their texts at any depth)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _text_markers(activity: dict, pattern: re.Pattern[str]) -> list[str]:
    """Markers found by ``pattern`` in the activity's text and in its attachments' content.

    A bot that relays a message does not copy the sender's channelData, but the text it
    relays (as is, quoted, or inside a card) still carries the marker.
    """
    found: list[str] = []
    text = activity.get("text")
    if isinstance(text, str):
        found += pattern.findall(text)
    attachments = activity.get("attachments")
    if isinstance(attachments, list):
        for attachment in attachments:
            if isinstance(attachment, dict):
                for string in _strings(attachment.get("content")):
                    found += pattern.findall(string)
    return found


def _channel_id(body: dict) -> str | None:
    """The Teams channel a create call targets (``channelData.channel.id``), if any."""
    channel_data = body.get("channelData")
    if not isinstance(channel_data, dict):
        return None
    channel = channel_data.get("channel")
    if not isinstance(channel, dict):
        return None
    channel_id = channel.get("id")
    return channel_id if isinstance(channel_id, str) and channel_id else None


def _base_url(host: str, port: int) -> str:
    """The URL the bot should use as ``serviceUrl``; IPv6 literals need brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class ConnectorEmulator:
    """An in-process Bot Connector v3 server with recording, fault injection and waiting helpers.

    With ``record=False`` only counters and benchmark arrival times are kept (no Call objects,
    activities or updates), so a long benchmark does not grow memory with every message.

    ``marker_pattern`` (optional) also finds benchmark markers with a regex in an activity's
    text and in the strings of its attachments' content, for bots that do not pass
    ``channelData.benchMarker`` through; the pattern must have no groups (or exactly one, which
    is then the marker).
    """

    def __init__(
        self,
        latency: float = 0.0,
        record: bool = True,
        marker_pattern: re.Pattern[str] | None = None,
        limits: ThreadLimits | None = None,
    ) -> None:
        self.latency = latency
        # Teams' rate limits (None: none); ``requests`` counts every request, even unrecorded.
        self.limits = limits
        self.requests = 0
        self.record = record
        self.marker_pattern = marker_pattern
        self.url = ""
        self.calls: list[Call] = []
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None
        self._faults: list[Fault] = []
        self._members: dict[str, list[dict]] = {}
        self._activities: dict[str, list[dict]] = {}
        self._updates: dict[str, list[tuple[str, dict]]] = {}
        self._created: list[Call] = []
        self._arrivals: dict[str, float] = {}
        self._delivered = 0
        self._last_activity_id = _FIRST_ACTIVITY_ID
        self._last_conversation = 0
        self._changed = asyncio.Condition()
        self._waiting = 0

    # ----------------------------------------------------------------- lifecycle

    def _build_app(self) -> web.Application:
        """Route table of the v3 API; the catch-all last turns everything else into a JSON 404."""
        app = web.Application()
        conversation = "/v3/conversations/{conversationId:[^/]+}"
        activity = conversation + "/activities/{activityId:[^/]+}"
        routes: list[tuple[str, str, _Route]] = [
            ("POST", "/v3/conversations", self._create_conversation),
            ("POST", conversation + "/activities", self._send_to_conversation),
            ("POST", activity, self._reply_to_activity),
            ("PUT", activity, self._update_activity),
            ("DELETE", activity, self._delete_activity),
            ("GET", conversation + "/members", self._get_members),
            ("GET", conversation + "/members/{memberId:[^/]+}", self._get_member),
            ("GET", conversation + "/pagedmembers", self._get_paged_members),
            ("GET", "/v3/teams/{teamId:[^/]+}/conversations", self._get_team_conversations),
            ("*", "/{tail:.*}", self._not_found),
        ]
        for method, path, route in routes:
            app.router.add_route(method, path, self._handler(route))
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port) and return the base URL with trailing slash."""
        # Waiters must bind to the loop that serves requests, which may differ between tests.
        self._changed = asyncio.Condition()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1]
        self.url = _base_url(host, bound_port)
        return self.url

    async def stop(self) -> None:
        """Close the listener and any open connections; safe to call twice."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # ----------------------------------------------------------------- test controls

    def add_fault(self, fault: Fault) -> None:
        """Arm a fault; faults are tried in the order they were added."""
        self._faults.append(fault)

    def clear_faults(self) -> None:
        """Disarm all faults, e.g. before checking that a recovered bot delivers normally."""
        self._faults.clear()

    def set_members(self, conversation_or_team_id: str, members: list[dict]) -> None:
        """Set the roster the member routes answer for a conversation or team id."""
        self._members[conversation_or_team_id] = list(members)

    # ----------------------------------------------------------------- queries

    def activities(self, conversation_id: str) -> list[dict]:
        """Activities delivered to a conversation (2xx only), in arrival order, with their ids."""
        return list(self._activities.get(conversation_id, ()))

    def texts(self, conversation_id: str) -> list[str]:
        """The texts the bot sent to a conversation, which is what most tests assert on."""
        return [a["text"] for a in self._activities.get(conversation_id, ()) if a.get("text")]

    def updates(self, conversation_id: str, activity_id: str | None = None) -> list[dict]:
        """Bodies of successful updates in a conversation, optionally of one activity only."""
        return [
            body
            for updated_id, body in self._updates.get(conversation_id, ())
            if activity_id is None or updated_id == activity_id
        ]

    def created(self) -> list[Call]:
        """Successful create-conversation calls (the proactive posts to an agents channel)."""
        return list(self._created)

    def delivered_count(self) -> int:
        """Successful sends, replies and creates; kept even when not recording."""
        return self._delivered

    def arrival_times(self) -> dict[str, float]:
        """Marker -> monotonic arrival time, for the benchmark's end-to-end latency.

        Markers come from ``channelData.benchMarker`` and, when ``marker_pattern`` is set, from
        the text and attachments of delivered activities.
        """
        return dict(self._arrivals)

    # The timeout parameters are part of the interface tests and the benchmark call. The
    # default outlasts the dispatcher's idle sweep (15 s) and a send's time-out (15 s): a
    # test waits for delivery, it does not time it (the benchmark does, and
    # tests/test_lost_wakeups.py asks for promptness where that is the point). Under CI's
    # load a wait of 10 s once ran out on a row that was sent later.
    WAIT = 30.0

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = WAIT,  # noqa: ASYNC109
    ) -> None:
        """Wait until predicate() holds, re-checking after each handled request (no polling)."""
        self._waiting += 1
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            raise AssertionError(self._timeout_message(predicate, timeout)) from None
        finally:
            self._waiting -= 1

    async def wait_for_texts(
        self,
        conversation_id: str,
        count: int,
        timeout: float = WAIT,  # noqa: ASYNC109
    ) -> list[str]:
        """Wait until a conversation has at least count texts and return them all."""
        try:
            await self.wait_for(lambda: len(self.texts(conversation_id)) >= count, timeout)
        except AssertionError as exc:
            got = self.texts(conversation_id)
            raise AssertionError(
                f"expected {count} texts in {conversation_id!r}, got {len(got)}: {got!r}\n{exc}"
            ) from None
        return self.texts(conversation_id)

    def _timeout_message(self, predicate: Callable[[], bool], timeout: float) -> str:
        """Explain a wait_for time-out with the latest traffic, which usually shows the cause."""
        name = getattr(predicate, "__qualname__", repr(predicate))
        if not self.record:
            recent = "  (not recording calls)"
        elif not self.calls:
            recent = "  (no calls received)"
        else:
            recent = "\n".join(
                f"  {c.method} {c.path} -> {c.status}"
                for c in self.calls[-_CALLS_IN_TIMEOUT_MESSAGE:]
            )
        return (
            f"condition {name} not met within {timeout}s "
            f"({self._delivered} delivered); last calls:\n{recent}"
        )

    # ----------------------------------------------------------------- request pipeline

    def _handler(self, route: _Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap a route in the shared pipeline (latency, faults, recording, notifying waiters)."""

        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, route)

        return handle

    async def _serve(self, request: web.Request, route: _Route) -> web.StreamResponse:
        """Answer one request: read it, wait, apply a fault or the route, then record it."""
        at = time.monotonic()
        self.requests += 1
        body = _parse_json_object(await request.read()) if request.body_exists else None
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self._take_fault(request.method, request.path) if self._faults else None
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.drop:
            self._drop(request)
            outcome = _Outcome(0)
        elif fault is not None and fault.status is not None:
            outcome = self._fault_outcome(fault)
        elif self._throttled(request, body):
            assert self.limits is not None
            outcome = self._fault_outcome(Fault(status=429, retry_after=self.limits.retry_after))
        else:
            outcome = self._run_route(route, _Exchange(request, body, at))
        self._record_call(request, body, at, outcome)
        if self._waiting:
            async with self._changed:
                self._changed.notify_all()
        return _response(outcome)

    def _throttled(self, request: web.Request, body: dict | None) -> bool:
        """Whether a send, update or new thread is over the limits (only admitted sends
        count against a budget)."""
        if self.limits is None or request.method not in ("POST", "PUT"):
            return False
        target = request.match_info.get("conversationId")
        if target is None and request.path == "/v3/conversations" and body is not None:
            target = _channel_id(body)
        return target is not None and not self.limits.admit(target, time.monotonic())

    def _take_fault(self, method: str, path: str) -> Fault | None:
        """Use up one application of the first armed fault matching this request, if any."""
        for index, fault in enumerate(self._faults):
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[index]
                return fault
        return None

    @staticmethod
    def _drop(request: web.Request) -> None:
        """Close the connection without answering, like a crashed proxy or a reset.

        aiohttp then fails to write the response and discards it quietly.
        """
        transport = request.transport
        if transport is not None:
            transport.close()

    @staticmethod
    def _fault_outcome(fault: Fault) -> _Outcome:
        """The injected error answer, with Retry-After in whole seconds like real throttling."""
        status = fault.status if fault.status is not None else 500
        headers = None
        if fault.retry_after is not None:
            headers = {"Retry-After": str(math.ceil(fault.retry_after))}
        return _error(status, _error_code(status), f"Injected fault ({status})", headers)

    @staticmethod
    def _run_route(route: _Route, exchange: _Exchange) -> _Outcome:
        """Run a route, turning a missing or malformed JSON body into the Connector's 400."""
        try:
            return route(exchange)
        except _MalformedBodyError:
            return _error(400, "BadArgument", "Request body must be a JSON object")

    def _record_call(
        self, request: web.Request, body: dict | None, at: float, outcome: _Outcome
    ) -> None:
        """Keep the Call (when recording); successful creates are also indexed for created()."""
        if not self.record:
            return
        match_info = request.match_info
        call = Call(
            method=request.method,
            path=request.path,
            conversation_id=match_info.get("conversationId") or outcome.conversation_id,
            activity_id=match_info.get("activityId") or outcome.activity_id,
            body=body,
            status=outcome.status,
            at=at,
            headers=dict(request.headers),
        )
        self.calls.append(call)
        if request.method == "POST" and request.path == "/v3/conversations" and call.status < 300:
            self._created.append(call)

    # ----------------------------------------------------------------- state changes

    def _new_activity_id(self) -> str:
        """A fresh, increasing, numeric activity id."""
        self._last_activity_id += 1
        return str(self._last_activity_id)

    def _deliver(self, conversation_id: str, activity: dict, activity_id: str, at: float) -> None:
        """Count a delivered activity, note its benchmark marker and keep it when recording."""
        self._delivered += 1
        marker = _bench_marker(activity)
        if marker is not None:
            self._arrivals[marker] = at
        if self.marker_pattern is not None:
            # The first arrival counts: a later activity quoting the same text (a summary, a
            # re-posted card) is not when the message reached the connector.
            for found in _text_markers(activity, self.marker_pattern):
                self._arrivals.setdefault(found, at)
        if self.record:
            stored = {**activity, "id": activity_id}
            self._activities.setdefault(conversation_id, []).append(stored)

    def _roster(self, conversation_or_team_id: str) -> list[dict]:
        """Members of a conversation; a Teams thread id (``...;messageid=N``) uses its channel's."""
        members = self._members.get(conversation_or_team_id)
        if members is None:
            members = self._members.get(conversation_or_team_id.split(";", 1)[0], [])
        return members

    # ----------------------------------------------------------------- routes

    def _create_conversation(self, exchange: _Exchange) -> _Outcome:
        """POST /v3/conversations: a new channel thread (Teams) or a fresh 1:1 conversation."""
        body = exchange.json_object()
        activity = body.get("activity")
        activity_id = self._new_activity_id() if isinstance(activity, dict) else None
        channel_id = _channel_id(body)
        if channel_id is None:
            self._last_conversation += 1
            conversation_id = f"a:conv-{self._last_conversation}"
        elif activity_id is None:
            conversation_id = channel_id
        else:
            conversation_id = f"{channel_id};messageid={activity_id}"
        payload: dict[str, Any] = {"id": conversation_id, "serviceUrl": self.url}
        if isinstance(activity, dict) and activity_id is not None:
            payload["activityId"] = activity_id
            self._deliver(conversation_id, activity, activity_id, exchange.at)
        else:
            self._delivered += 1
        return _Outcome(201, payload, conversation_id=conversation_id, activity_id=activity_id)

    def _send_to_conversation(self, exchange: _Exchange) -> _Outcome:
        """POST .../activities: a new message in the conversation."""
        activity = exchange.json_object()
        activity_id = self._new_activity_id()
        self._deliver(exchange.route("conversationId"), activity, activity_id, exchange.at)
        return _Outcome(200, {"id": activity_id}, activity_id=activity_id)

    def _reply_to_activity(self, exchange: _Exchange) -> _Outcome:
        """POST .../activities/{activityId}: a reply, stored in the same conversation."""
        return self._send_to_conversation(exchange)

    def _update_activity(self, exchange: _Exchange) -> _Outcome:
        """PUT .../activities/{activityId}: an edit of an earlier message (a refreshed card)."""
        activity = exchange.json_object()
        activity_id = exchange.route("activityId")
        if self.record:
            updates = self._updates.setdefault(exchange.route("conversationId"), [])
            updates.append((activity_id, activity))
        return _Outcome(200, {"id": activity_id})

    def _delete_activity(self, exchange: _Exchange) -> _Outcome:
        """DELETE .../activities/{activityId}: accepted; the Call records that it happened."""
        return _Outcome(200)

    def _get_members(self, exchange: _Exchange) -> _Outcome:
        """GET .../members: the roster set with set_members(), else empty."""
        return _Outcome(200, self._roster(exchange.route("conversationId")))

    def _get_member(self, exchange: _Exchange) -> _Outcome:
        """GET .../members/{memberId}: one member by channel id or AAD object id, else 404."""
        member_id = exchange.route("memberId")
        for member in self._roster(exchange.route("conversationId")):
            if member_id in (member.get("id"), member.get("aadObjectId")):
                return _Outcome(200, member)
        return _error(404, "MemberNotFound", f"No member {member_id!r} in this conversation")

    def _get_paged_members(self, exchange: _Exchange) -> _Outcome:
        """GET .../pagedmembers: the whole roster in one page."""
        return _Outcome(200, {"members": self._roster(exchange.route("conversationId"))})

    def _get_team_conversations(self, exchange: _Exchange) -> _Outcome:
        """GET /v3/teams/{teamId}/conversations: Teams asks for channels; none is enough here."""
        return _Outcome(200, {"conversations": []})

    def _not_found(self, exchange: _Exchange) -> _Outcome:
        """Anything the real Connector would not route, so unexpected calls fail loudly."""
        request = exchange.request
        return _error(404, "NotFound", f"No route for {request.method} {request.path}")


__all__ = ["Call", "ConnectorEmulator", "Fault"]
