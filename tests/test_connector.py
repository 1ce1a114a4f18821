"""The outbound fast path: one shared session, a token on every call with an app id (fetched
once, off the event loop), none in local mode."""

from __future__ import annotations

import asyncio
import threading

import aiohttp

from bot.sdk import Connector, DeliveryError
from bot.settings import Settings
from tests.connector_emulator import ConnectorEmulator, Fault


class CountingCredentials:
    """Stands in for the AAD token service, which this machine cannot reach."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[int] = set()

    def get_access_token(self, force_refresh: bool = False) -> str:
        self.calls += 1
        self.threads.add(threading.get_ident())
        return f"token-{self.calls}"


class Factory:
    def __init__(self, credentials: CountingCredentials) -> None:
        self.credentials = credentials
        self.made: list[tuple[str, str]] = []

    async def create_credentials(self, app_id: str, scope: str, *_: object) -> object:
        self.made.append((app_id, scope))
        return self.credentials


def reference(url: str, conversation: str) -> dict:
    return {
        "serviceUrl": url,
        "channelId": "webchat",
        "conversation": {"id": conversation},
        "bot": {"id": "bot"},
        "user": {"id": "user"},
    }


async def test_with_an_app_id_every_call_carries_one_cached_token(
    connector: ConnectorEmulator,
) -> None:
    credentials = CountingCredentials()
    factory = Factory(credentials)
    async with aiohttp.ClientSession() as session:
        # The real factory would call Entra ID.
        app = Settings(app_id="0c6a3b2e-1234-4abc-9def-0123456789ab", app_password="secret")
        outbound = Connector(app, session, credential_factory=factory)
        await asyncio.gather(
            *(
                outbound.send(
                    reference(connector.url, f"c-{n % 3}"), {"type": "message", "text": f"m{n}"}
                )
                for n in range(30)
            )
        )
    sends = [c for c in connector.calls if c.method == "POST"]
    assert len(sends) == 30
    assert {c.headers.get("Authorization") for c in sends} == {"Bearer token-1"}
    assert credentials.calls == 1 and len(factory.made) == 1
    assert threading.get_ident() not in credentials.threads


async def test_local_mode_sends_no_token_and_errors_are_typed(
    connector: ConnectorEmulator,
) -> None:
    async with aiohttp.ClientSession() as session:
        outbound = Connector(Settings(), session)
        await outbound.send(reference(connector.url, "c-local"), {"type": "message", "text": "hi"})
        connector.add_fault(Fault(status=429, retry_after=7))
        try:
            await outbound.send(reference(connector.url, "c-local"), {"text": "again"})
        except DeliveryError as error:
            assert (error.status, error.retry_after, error.retryable) == (429, 7.0, True)
        else:
            raise AssertionError("a 429 must raise")
    [first, _] = connector.calls
    assert "Authorization" not in first.headers
    assert connector.texts("c-local") == ["hi"]
