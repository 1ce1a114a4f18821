"""A local fake of Zalo's OA API and OAuth server, on 127.0.0.1 (tests only).

It keeps one valid access token and one unspent refresh token, as Zalo does: a refresh
spends the refresh token and issues a new pair; spending a spent one is an error the
fake counts (``reused``), which is what two replicas must never do. Users whose reply
window has closed are refused with Zalo's code. Files the bridge uploads are kept.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.channels.zalo import signature

APP_ID = "zalo-app-1"
APP_SECRET = "zalo-app-secret"
OA_SECRET = "zalo-oa-secret"
OA_ID = "zalo-oa-9"
WINDOW_CLOSED = -230


@dataclass
class ZaloFake:
    access_token: str = "access-1"
    refresh_token: str = "refresh-1"
    # Seconds a refresh takes: long enough that two replicas' refreshes would overlap.
    refresh_delay: float = 0.3
    refreshes: int = 0
    reused: int = 0
    closed_users: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    server: TestServer | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def settings(self) -> dict[str, Any]:
        """The bridge's settings that point at this fake."""
        return {
            "zalo_app_id": APP_ID,
            "zalo_app_secret": APP_SECRET,
            "zalo_oa_secret": OA_SECRET,
            "zalo_oa_id": OA_ID,
            "zalo_api_url": self.url,
            "zalo_oauth_url": self.url,
        }

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._message)
        app.router.add_get("/v3.0/oa/user/detail", self._user)
        app.router.add_post("/v2.0/oa/upload/image", self._upload)
        app.router.add_post("/v2.0/oa/upload/file", self._upload)
        app.router.add_post("/v4/oa/access_token", self._token)
        app.router.add_get("/files/{name}", self._file)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    def expire(self) -> None:
        """The access token the bridge holds stops working (Zalo answers -216)."""
        self.access_token = f"access-fresh-{next(self._ids)}"

    def texts_to(self, user: str) -> list[str]:
        return [
            m["body"]["message"]["text"]
            for m in self.messages
            if m["body"]["recipient"]["user_id"] == user and "text" in m["body"]["message"]
        ]

    async def _message(self, request: web.Request) -> web.Response:
        body = await request.json()
        if request.headers.get("access_token") != self.access_token:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        user = body["recipient"]["user_id"]
        if user in self.closed_users:
            return web.json_response(
                {"error": WINDOW_CLOSED, "message": "User has not interacted with the OA"}
            )
        self.messages.append({"token": request.headers["access_token"], "body": body})
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"message_id": f"oa-{next(self._ids)}"}}
        )

    async def _user(self, request: web.Request) -> web.Response:
        if request.headers.get("access_token") != self.access_token:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        user = json.loads(request.query["data"])["user_id"]
        name = self.names.get(user, f"Zalo user {user}")
        return web.json_response({"error": 0, "data": {"user_id": user, "display_name": name}})

    async def _upload(self, request: web.Request) -> web.Response:
        if request.headers.get("access_token") != self.access_token:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        data = upload.file.read()
        kind = "image" if request.path.endswith("/image") else "file"
        self.uploads.append({"kind": kind, "name": upload.filename, "size": len(data)})
        token = f"{kind}-{next(self._ids)}"
        answer = {"attachment_id": token} if kind == "image" else {"token": token}
        return web.json_response({"error": 0, "data": answer})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.headers.get("secret_key") != APP_SECRET or form.get("app_id") != APP_ID:
            return web.json_response({"error": -14002, "error_name": "Invalid app"})
        if form.get("grant_type") == "authorization_code":
            if form.get("code") != "the-code" or not form.get("code_verifier"):
                return web.json_response({"error": -14019, "error_name": "Invalid code"})
        elif form.get("grant_type") == "refresh_token":
            spent = form.get("refresh_token")
            await asyncio.sleep(self.refresh_delay)
            if spent != self.refresh_token:
                self.reused += 1
                return web.json_response({"error": -14014, "error_name": "Invalid refresh token"})
        else:
            return web.json_response({"error": -14001, "error_name": "Invalid grant"})
        self.refreshes += 1
        n = next(self._ids)
        self.access_token, self.refresh_token = f"access-{n}", f"refresh-{n}"
        return web.json_response(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_in": "90000",
            }
        )

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.files:
            raise web.HTTPNotFound()
        return web.Response(body=self.files[name], content_type="image/png")


def event(
    name: str,
    user: str,
    message: dict[str, Any],
    timestamp: str = "1765000000000",
    recipient: str = OA_ID,
) -> bytes:
    """A webhook event's raw body, as Zalo sends it (``user`` is the sender)."""
    return json.dumps(
        {
            "app_id": APP_ID,
            "oa_id": OA_ID,
            "event_name": name,
            "timestamp": timestamp,
            "sender": {"id": user},
            "recipient": {"id": recipient},
            "message": message,
            "user_id_by_app": f"app-{user}",
        },
        ensure_ascii=False,
    ).encode()


def signed(body: bytes) -> dict[str, str]:
    """The headers of a genuine delivery of ``body``."""
    timestamp = str(json.loads(body)["timestamp"])
    return {
        "X-ZEvent-Signature": signature(APP_ID, body, timestamp, OA_SECRET),
        "Content-Type": "application/json",
    }
