"""The one seam between the bridge and the Bot Framework SDK (botbuilder 4.17.1).

Everything that imports ``botbuilder`` or ``botframework`` lives here: the inbound
turn (authentication and the turn pipeline of ``CloudAdapter``) and the outbound
connector (create a thread, send, update) that the outbox dispatcher calls. The
rest of the bridge passes plain JSON activities and references (camelCase, as on
the wire), so moving to the Microsoft 365 Agents SDK touches this module only.

Outbound calls do not use the SDK's default transport (``requests`` in a thread
pool, a new client and TCP connection per turn): the generated ConnectorClient's
msrest pipeline sends through one shared ``aiohttp.ClientSession``, with
credentials made once per (app id, scope) and tokens fetched off the event loop.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urljoin

import aiohttp
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    InvokeResponse,
)
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from jwt.algorithms import RSAAlgorithm
from msrest.authentication import Authentication
from msrest.exceptions import ClientRequestError, DeserializationError
from msrest.pipeline import AsyncHTTPPolicy, AsyncPipeline, Request, Response
from msrest.pipeline.aiohttp import AioHTTPSender
from msrest.universal_http import ClientRequest
from msrest.universal_http.aiohttp import AioHttpClientResponse
from msrest.universal_http.async_abc import AsyncHTTPSender as AsyncDriver

from bot.settings import Settings

log = logging.getLogger(__name__)


class InvokeResult(Protocol):
    """What the bridge answers to an invoke: an HTTP status and a JSON body."""

    status: int
    body: dict[str, Any]


TurnHandler = Callable[[dict[str, Any]], Awaitable[InvokeResult | None]]

_TOKEN_LIFETIME = 20 * 60.0
THREAD_MARK = ";messageid="


class MalformedActivity(Exception):
    """The body has the right shape but a field the SDK cannot read (a date, a flag)."""


class AuthenticationFailed(Exception):
    """The request's Authorization header is missing, malformed or not valid."""


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


def _sdk_config(settings: Settings) -> Any:
    """The attribute names the SDK's configuration classes read.

    A signing-key endpoint of one's own (``openid_metadata_url``) switches the SDK to its
    parameterized authentication, which then needs every other endpoint spelled out:
    they are the public cloud's.
    """
    values: dict[str, Any] = {
        "APP_ID": settings.app_id,
        "APP_PASSWORD": settings.app_password,
        "APP_TYPE": settings.app_type,
        "APP_TENANTID": settings.app_tenant_id,
    }
    if settings.openid_metadata_url:
        values.update(
            TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.openid_metadata_url,
            TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=(
                AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
            ),
            TO_CHANNEL_FROM_BOT_LOGIN_URL=AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL,
            TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
            TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
            OAUTH_URL=AuthenticationConstants.OAUTH_URL,
        )
    return type("SdkConfig", (), values)()


@dataclass(frozen=True)
class _SigningKey:
    """One signing key as the SDK's token validation reads it (``public_key``,
    ``endorsements``): our own type, not the SDK's private one."""

    public_key: Any
    endorsements: list[str]


class _SigningKeys:
    """The Bot Framework's signing keys, fetched without ever blocking the event loop.

    The SDK's own cache fetches with a blocking ``requests.get`` (no time-out) on the
    event loop and forgets failures, so one forged token could freeze the server while
    the key endpoint hangs. Here a fetch runs on aiohttp in the background; a turn waits
    for it at most ``timeout`` seconds; a failure is remembered for ``failure_ttl``
    seconds (tokens are refused at once meanwhile); keys older than ``refresh_after``
    are refreshed in the background while still in use.

    The SDK's validation only calls ``get(key_id)`` on it, so it is a class of its own
    rather than a subclass of the SDK's private cache class.
    """

    timeout = 0.8
    failure_ttl = 30.0
    refresh_after = 12 * 3600.0
    max_age = 24 * 3600.0
    unknown_key_retry = 300.0

    def __init__(self, url: str) -> None:
        self.url = url
        self.keys: list[Any] = []
        self._fetched_at = -math.inf
        self._failed_at = -math.inf
        self._tried_at = -math.inf
        self._download: asyncio.Task[None] | None = None

    async def get(self, key_id: str) -> _SigningKey:
        now = time.monotonic()
        if self.keys and now - self._fetched_at < self.max_age:
            if now - self._fetched_at > self.refresh_after:
                self._start()
            found = self._key(key_id)
            if found is None and now - self._tried_at > self.unknown_key_retry:
                await self._wait()  # keys may have rolled over since the last fetch
                found = self._key(key_id)
        else:
            await self._wait()
            found = self._key(key_id)
        if found is None:
            raise PermissionError("the token's signing key is not one of the Bot Framework's")
        return found

    def _key(self, key_id: str) -> _SigningKey | None:
        for key in self.keys:
            if isinstance(key, dict) and key.get("kid") == key_id:
                return _SigningKey(
                    RSAAlgorithm.from_jwk(json.dumps(key)), key.get("endorsements", [])
                )
        return None

    def _start(self) -> asyncio.Task[None]:
        running = self._download
        if (
            running is None
            or running.done()
            or running.get_loop() is not asyncio.get_running_loop()
        ):
            self._tried_at = time.monotonic()
            running = asyncio.get_running_loop().create_task(self._fetch())
            self._download = running
        return running

    async def _wait(self) -> None:
        if time.monotonic() - self._failed_at < self.failure_ttl:
            raise PermissionError("the signing keys could not be fetched recently")
        try:
            await asyncio.wait_for(asyncio.shield(self._start()), self.timeout)
        except Exception as error:
            self._failed_at = time.monotonic()
            log.warning("signing keys from %s unavailable: %r", self.url, error)
            raise PermissionError("the signing keys could not be fetched") from error

    async def _fetch(self) -> None:
        limit = aiohttp.ClientTimeout(total=10 * self.timeout + 5)
        async with aiohttp.ClientSession(timeout=limit) as session:
            async with session.get(self.url) as response:
                response.raise_for_status()
                keys_url = (await response.json(content_type=None))["jwks_uri"]
            async with session.get(keys_url) as response:
                response.raise_for_status()
                keys = (await response.json(content_type=None))["keys"]
        if not isinstance(keys, list):
            raise ValueError("the key set has no list of keys")
        self.keys = keys
        self._fetched_at = time.monotonic()


def _signing_keys(metadata_url: str) -> _SigningKeys:
    """Replaces ``JwtTokenExtractor.get_open_id_metadata``: one non-blocking key cache per
    endpoint, in the SDK's own cache dict."""
    cache = JwtTokenExtractor.metadataCache
    found = cache.get(metadata_url)
    if not isinstance(found, _SigningKeys):
        found = cache[metadata_url] = _SigningKeys(metadata_url)
    return found


def use_non_blocking_signing_keys(timeout: float, failure_ttl: float) -> None:
    """Make the SDK's token validation use :class:`_SigningKeys` (process-wide: the SDK
    keeps its key cache on a class)."""
    _SigningKeys.timeout = timeout
    _SigningKeys.failure_ttl = failure_ttl
    JwtTokenExtractor.get_open_id_metadata = staticmethod(_signing_keys)


class _CachedCredentialFactory(ServiceClientCredentialsFactory):
    """Makes credentials once per (app id, scope) instead of on every turn.

    Each SDK credential object owns an MSAL client whose creation and first token
    are blocking network calls; reusing it keeps them off the hot path.
    """

    def __init__(self, inner: ServiceClientCredentialsFactory) -> None:
        self._inner = inner
        self._made: dict[tuple[str, str, str, bool], Authentication] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return await self._inner.is_valid_app_id(app_id)

    async def is_authentication_disabled(self) -> bool:
        return await self._inner.is_authentication_disabled()

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Authentication:
        key = (app_id or "", oauth_scope or "", login_endpoint or "", validate_authority)
        if key not in self._made:
            self._made[key] = await self._inner.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority
            )
        return self._made[key]


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


class CredentialFactory(Protocol):
    """What makes the bot's outbound credentials (the SDK's factory, or a test's)."""

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any: ...


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
            credential_factory or ConfigurationServiceClientCredentialFactory(_sdk_config(settings))
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
        body["from"] = reference["bot"]
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


class _SharedConnectorFactory(ConnectorFactory):
    """Hands every turn the connector's long-lived client instead of building a new one."""

    def __init__(self, connector: Connector) -> None:
        self._connector = connector

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        return await self._connector.client(service_url)


class _ReusingAuthentication(BotFrameworkAuthentication):
    """The SDK's authentication, minus the clients it would build on every turn.

    ``CloudAdapter`` asks for a ConnectorClient and a UserTokenClient per inbound
    activity; each is a fresh msrest client costing milliseconds of CPU, and the
    bridge uses neither (it answers invokes in the turn and sends from the outbox).
    Authentication itself is the SDK's, unchanged.
    """

    def __init__(self, inner: BotFrameworkAuthentication, connector: Connector) -> None:
        self._inner = inner
        self._connectors = _SharedConnectorFactory(connector)
        self._token_clients: dict[str, UserTokenClient] = {}

    def _reusing(self, result: AuthenticateRequestResult) -> AuthenticateRequestResult:
        result.connector_factory = self._connectors
        return result

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        return self._reusing(await self._inner.authenticate_request(activity, auth_header))

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return self._reusing(
            await self._inner.authenticate_streaming_request(auth_header, channel_id_header)
        )

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._connectors

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        key = str(claims_identity.claims.get(AuthenticationConstants.AUDIENCE_CLAIM, ""))
        if key not in self._token_clients:
            self._token_clients[key] = await self._inner.create_user_token_client(claims_identity)
        return self._token_clients[key]

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)


_BEARER = re.compile(r"Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def bearer_token_shaped(auth_header: str) -> bool:
    """Whether a header can hold a Bot Framework token at all (checked before the body
    is read: a request without one costs nothing more)."""
    return bool(_BEARER.fullmatch(auth_header)) and len(auth_header) <= 16 * 1024


def _probe(body: dict[str, Any]) -> Activity:
    """What the SDK's authentication reads of an activity, and nothing more."""
    recipient = body.get("recipient") if isinstance(body.get("recipient"), dict) else {}
    return Activity(
        channel_id=body.get("channelId"),
        service_url=body.get("serviceUrl"),
        recipient=ChannelAccount(id=recipient.get("id"), role=recipient.get("role")),
    )


# A turn whose handler raised: the error handler leaves this mark in the turn's state.
_TURN_FAILED = "supportBridge.turnFailed"
# What the channel is told then: a 5xx makes it deliver the activity again.
FAILED_TURN: tuple[int, dict[str, Any]] = (
    500,
    {"error": "the bot could not handle this activity; deliver it again"},
)


class BridgeAdapter(CloudAdapter):
    """CloudAdapter with clients and credentials reused, explicit 401s and an error handler.

    Built with the application's HTTP session: its :class:`Connector` (``connector``),
    which the turns' authentication and the outbox share, exists from construction on.
    """

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        config = _sdk_config(settings)
        self._settings = settings
        self.connector = Connector(settings, session)
        configured = ConfigurationBotFrameworkAuthentication(
            config,
            credentials_factory=_CachedCredentialFactory(
                ConfigurationServiceClientCredentialFactory(config)
            ),
        )
        super().__init__(_ReusingAuthentication(configured, self.connector))
        use_non_blocking_signing_keys(
            settings.signing_keys_timeout, settings.signing_keys_failure_ttl
        )
        self.on_turn_error = self._on_turn_error

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        """Log the failure and mark the turn failed; never raise.

        ``handle`` then answers the channel with a 500 and a JSON reason
        (:data:`FAILED_TURN`), so the channel delivers the activity again: nothing was
        committed for a failed turn (each transition is one transaction) and inbound
        handling is idempotent, so that is safe. Raising instead would leave the answer
        to whatever is above the adapter (an HTML 500 from aiohttp, or a Direct Line
        turn that never ends).
        """
        context.turn_state[_TURN_FAILED] = True
        log.error("turn failed for activity %s", context.activity.id, exc_info=error)

    async def handle(
        self, auth_header: str, body: dict[str, Any], handler: TurnHandler
    ) -> tuple[int, dict[str, Any]] | None:
        """Authenticate and run one inbound activity; returns the invoke answer, if any,
        or :data:`FAILED_TURN` for a turn whose handler failed.

        The invoke body is serialized here as plain JSON: the SDK's own serializer
        fails on a dict body (``'dict' object has no attribute 'is_xml_model'``).
        """
        if not self._settings.local_mode and not bearer_token_shaped(auth_header):
            raise AuthenticationFailed("no Bearer token")
        try:
            # Authentication reads only these fields: the rest of the body is turned into
            # SDK objects (costly for a large one) only once the sender is known.
            authenticated = await self.bot_framework_authentication.authenticate_request(
                _probe(body), auth_header
            )
        except Exception as error:
            raise AuthenticationFailed(str(error) or type(error).__name__) from error
        try:
            activity = Activity().deserialize(body)
        except DeserializationError as error:
            raise MalformedActivity(str(error).split(",", 1)[0][:200]) from error

        turns: list[TurnContext] = []

        async def logic(context: TurnContext) -> None:
            turns.append(context)
            answer = await handler(body)
            if answer is not None:
                await context.send_activity(
                    Activity(
                        type=ActivityTypes.invoke_response,
                        value=InvokeResponse(status=answer.status, body=answer.body),
                    )
                )

        response = await self.process_activity(authenticated, activity, logic)
        # A turn that failed, or never reached the bridge, is answered as failed (the
        # adapter has no middleware, so ``logic`` is the first thing a turn runs).
        if not turns or turns[0].turn_state.get(_TURN_FAILED):
            return FAILED_TURN
        return (response.status, response.body) if response else None
