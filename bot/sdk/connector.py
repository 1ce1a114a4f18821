"""Outbound calls to Bot Connector services (create a thread, send, update, members),
as the outbox dispatcher makes them.

They do not use the SDK's default transport (``requests`` in a thread pool, a new client
and TCP connection per turn): the generated ConnectorClient's msrest pipeline sends
through one shared ``aiohttp.ClientSession``, with credentials made once and tokens
fetched off the event loop. Bodies are plain JSON activities and references (camelCase,
as on the wire).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin

import aiohttp
from botbuilder.integration.aiohttp import ConfigurationServiceClientCredentialFactory
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import AuthenticationConstants
from msrest.authentication import Authentication
from msrest.exceptions import ClientRequestError
from msrest.pipeline import AsyncHTTPPolicy, AsyncPipeline, Request, Response
from msrest.pipeline.aiohttp import AioHTTPSender
from msrest.universal_http import ClientRequest
from msrest.universal_http.aiohttp import AioHttpClientResponse
from msrest.universal_http.async_abc import AsyncHTTPSender as AsyncDriver

from bot.sdk.credentials import CredentialFactory, sdk_config
from bot.settings import Settings
from store.vocabulary import THREAD_MARK

_TOKEN_LIFETIME = 20 * 60.0


@dataclass
class DeliveryError(Exception):
    """An outbound call the connector did not accept.

    ``status`` is None for a network failure (refused, reset, time-out);
    ``retry_after`` is the server's ``Retry-After`` in seconds, if it sent one.
    """

    status: int | None
    reason: str
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500

    def __str__(self) -> str:
        return f"{self.status or 'network'}: {self.reason}"


class _TokenPolicy(AsyncHTTPPolicy):
    """Adds the bot's bearer token, fetched in a worker thread and kept for a while."""

    def __init__(self, credentials: Authentication) -> None:
        super().__init__()
        self._credentials = credentials
        self._token: str | None = None
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def _current(self) -> str:
        if self._token and time.monotonic() - self._fetched < _TOKEN_LIFETIME:
            return self._token
        async with self._lock:
            if not self._token or time.monotonic() - self._fetched >= _TOKEN_LIFETIME:
                self._token = await asyncio.to_thread(self._credentials.get_access_token)
                self._fetched = time.monotonic()
            return self._token

    async def send(self, request: Request, **kwargs: Any) -> Response:
        token = await self._current()
        request.http_request.headers["Authorization"] = f"Bearer {token}"
        return await self.next.send(request, **kwargs)


class _SharedSessionDriver(AsyncDriver):
    """msrest's aiohttp driver, but over a session owned by the application."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> _SharedSessionDriver:
        return self

    async def __aexit__(self, *exc_details: object) -> None:
        return None

    async def send(self, request: Any, **config: Any) -> AioHttpClientResponse:
        result = await self._session.request(
            request.method, request.url, headers=request.headers, data=request.data
        )
        response = AioHttpClientResponse(request, result)
        await response.load_body()
        return response


@dataclass(frozen=True)
class _Service:
    """One Bot Connector service: the SDK's client of it (for turns) and the pipeline that
    client sends through, which the bridge built and so may use itself."""

    client: ConnectorClient
    pipeline: AsyncPipeline


class Connector:
    """Outbound calls to Bot Connector services: one client per service URL, reused."""

    def __init__(
        self,
        settings: Settings,
        session: aiohttp.ClientSession,
        *,
        credential_factory: CredentialFactory | None = None,
    ) -> None:
        """``session``: the application's HTTP session, which this connector uses and never
        closes; ``credential_factory``: where credentials come from (default: the SDK's,
        from the settings; tests give one that does not call Entra ID)."""
        self._settings = settings
        self._session = session
        self._credential_factory: CredentialFactory = (
            credential_factory or ConfigurationServiceClientCredentialFactory(sdk_config(settings))
        )
        self._services: dict[str, _Service] = {}
        self._credentials: Authentication | None = None

    async def client(self, service_url: str) -> ConnectorClient:
        """The SDK's client of one service URL, made once; it sends over the shared session."""
        return (await self._service(service_url)).client

    async def _service(self, service_url: str) -> _Service:
        service = self._services.get(service_url)
        if service is None:
            if self._credentials is None:
                self._credentials = await self._credential_factory.create_credentials(
                    self._settings.app_id,
                    AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
                    AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL,
                    True,
                )
            credentials = self._credentials
            driver = _SharedSessionDriver(self._session)
            made: list[AsyncPipeline] = []

            def pipeline(config: Any) -> AsyncPipeline:
                policies: list[Any] = [config.user_agent_policy]
                if self._settings.app_id:
                    policies.append(_TokenPolicy(credentials))
                made.append(AsyncPipeline(policies, AioHTTPSender(driver)))
                return made[-1]

            client = ConnectorClient(credentials, base_url=service_url, pipeline_type=pipeline)
            service = self._services[service_url] = _Service(client, made[0])
        return service

    async def _request(
        self, service_url: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> Any:
        """One Connector REST call through the client's pipeline, with a JSON body as is.

        The generated operations would first turn the body into msrest models, which
        drops what the models do not declare (the ``mentioned`` of a mention entity)
        and costs a serialization round trip. The request goes through the pipeline
        this connector built for the service's client (same policies, same session),
        so nothing is read from inside the SDK's client.
        """
        pipeline = (await self._service(service_url)).pipeline
        # Joined as the generated client joins its base URL and an operation's path.
        request = ClientRequest(method, urljoin(service_url.rstrip("/") + "/", path.lstrip("/")))
        request.headers["Accept"] = "application/json"
        if body is not None:
            request.add_content(body)
            request.headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            response = (await pipeline.run(request, stream=False)).http_response
        except (ClientRequestError, aiohttp.ClientError, TimeoutError, OSError) as error:
            raise DeliveryError(None, f"{type(error).__name__}: {error}"[:300]) from error
        if response.status_code not in (200, 201, 202):
            raise DeliveryError(
                response.status_code,
                (response.text() or "")[:300],
                _retry_after(response.headers.get("Retry-After")),
            )
        try:
            return json.loads(response.text() or "{}")
        except ValueError:
            return {}

    async def _object(
        self, service_url: str, method: str, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        answer = await self._request(service_url, method, path, body)
        return answer if isinstance(answer, dict) else {}

    async def members(self, service_url: str, conversation_id: str) -> list[dict[str, Any]]:
        """The roster of a team (its id) or a conversation, as the members API lists it."""
        conversation = quote(conversation_id, safe="")
        answer = await self._request(
            service_url, "GET", f"/v3/conversations/{conversation}/members"
        )
        return [m for m in answer if isinstance(m, dict)] if isinstance(answer, list) else []

    async def send(self, reference: dict[str, Any], activity: dict[str, Any]) -> str:
        """Post an activity to the conversation of a stored reference; returns its id."""
        conversation = quote(reference["conversation"]["id"], safe="")
        answer = await self._object(
            reference["serviceUrl"],
            "POST",
            f"/v3/conversations/{conversation}/activities",
            _addressed(reference, activity),
        )
        return str(answer.get("id") or "")

    async def update(
        self, reference: dict[str, Any], activity_id: str, activity: dict[str, Any]
    ) -> None:
        conversation = quote(reference["conversation"]["id"], safe="")
        await self._object(
            reference["serviceUrl"],
            "PUT",
            f"/v3/conversations/{conversation}/activities/{quote(activity_id, safe='')}",
            _addressed(reference, {**activity, "id": activity_id}),
        )

    async def open_personal(self, room: dict[str, Any], member: dict[str, Any]) -> dict[str, Any]:
        """Open (or find again: Teams answers with the same id) the 1:1 conversation of the
        bot with a member of the room's tenant; returns its reference."""
        tenant_id = room["conversation"].get("tenantId")
        parameters = {
            "isGroup": False,
            "bot": room.get("bot"),
            "members": [{"id": member["id"]}],
            "tenantId": tenant_id,
            "channelData": {"tenant": {"id": tenant_id}},
        }
        answer = await self._object(room["serviceUrl"], "POST", "/v3/conversations", parameters)
        conversation = str(answer.get("id") or "")
        if not conversation:
            raise DeliveryError(502, f"create conversation answered without an id: {answer}")
        return {
            "serviceUrl": room["serviceUrl"],
            "channelId": room.get("channelId") or "msteams",
            "conversation": {"id": conversation, "tenantId": tenant_id, "isGroup": False},
            "bot": room.get("bot"),
            "user": member,
        }

    async def create_thread(
        self, room: dict[str, Any], activity: dict[str, Any]
    ) -> tuple[str, str]:
        """Post ``activity`` as a new thread in a Teams channel; returns (thread id, activity id).

        Uses the room's stored service URL and tenant, so it works while handling a
        customer who wrote from another channel.
        """
        channel_id = room["conversation"]["id"].split(";", 1)[0]
        tenant_id = room["conversation"].get("tenantId")
        parameters = {
            "isGroup": True,
            "bot": room.get("bot"),
            "channelData": {"channel": {"id": channel_id}, "tenant": {"id": tenant_id}},
            "tenantId": tenant_id,
            "activity": activity,
        }
        answer = await self._object(room["serviceUrl"], "POST", "/v3/conversations", parameters)
        created = str(answer.get("id") or "")
        activity_id = str(answer.get("activityId") or created.rsplit("=", 1)[-1])
        if not created or not activity_id:
            raise DeliveryError(502, f"create conversation answered without ids: {answer}")
        thread_id = created if THREAD_MARK in created else f"{channel_id}{THREAD_MARK}{activity_id}"
        return thread_id, activity_id


def _addressed(reference: dict[str, Any], activity: dict[str, Any]) -> dict[str, Any]:
    """Address an activity to a stored reference (the wire fields a connector expects)."""
    body = dict(activity)
    body.setdefault("type", "message")
    body["channelId"] = reference.get("channelId")
    body["serviceUrl"] = reference["serviceUrl"]
    body["conversation"] = reference["conversation"]
    if reference.get("bot"):
        # An agent's line keeps the agent's name (the widget shows who answers).
        named = activity.get("from")
        name = named.get("name") if isinstance(named, dict) else None
        body["from"] = {**reference["bot"], **({"name": name} if name else {})}
    if reference.get("user"):
        body["recipient"] = reference["user"]
    return body


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None
