"""Teams presence from Microsoft Graph, read with the app's own credentials.

``POST /v1.0/communications/getPresencesByUserId`` answers for up to 650 users at a
time (application permission ``Presence.Read.All``); the token comes from the client
credentials flow of the bot's app registration. Nothing here knows the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import ClientSession

from bot.settings import Settings

log = logging.getLogger(__name__)

BATCH = 650  # Graph's limit of ids per getPresencesByUserId request
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class GraphPresence:
    """Reads the presence (``Available``, ``Busy``, ``Away``, ``Offline``...) of users by
    their Azure AD object id."""

    def __init__(self, session: ClientSession, settings: Settings) -> None:
        self._session = session
        self._settings = settings
        self._token: str | None = None
        self._expires = 0.0

    @property
    def _token_url(self) -> str:
        tenant = self._settings.app_tenant_id or "organizations"
        return self._settings.graph_token_url or (
            f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
        )

    async def _bearer(self) -> dict[str, str]:
        """The app's token, fetched again a minute before it expires."""
        if self._token is None or time.monotonic() > self._expires:
            form = {
                "grant_type": "client_credentials",
                "client_id": self._settings.app_id,
                "client_secret": self._settings.app_password,
                "scope": GRAPH_SCOPE,
            }
            async with self._session.post(self._token_url, data=form) as response:
                response.raise_for_status()
                answer = await response.json()
            self._token = str(answer["access_token"])
            self._expires = time.monotonic() + float(answer.get("expires_in", 3600)) - 60
        return {"Authorization": f"Bearer {self._token}"}

    async def presences(self, ids: Sequence[str]) -> dict[str, str]:
        """Each user's availability as Graph says it; users Graph does not answer for
        are left out (they keep what they have)."""
        found: dict[str, str] = {}
        url = f"{self._settings.graph_url.rstrip('/')}/v1.0/communications/getPresencesByUserId"
        for start in range(0, len(ids), BATCH):
            batch = list(ids[start : start + BATCH])
            async with self._session.post(
                url, json={"ids": batch}, headers=await self._bearer()
            ) as response:
                response.raise_for_status()
                answer: dict[str, Any] = await response.json()
            for item in answer.get("value") or []:
                if isinstance(item, dict) and item.get("id") in batch:
                    found[str(item["id"])] = str(item.get("availability") or "")
        return found
