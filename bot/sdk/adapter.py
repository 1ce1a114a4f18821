"""The inbound turn: authenticate a request and run one activity through the SDK's
``CloudAdapter``, answering invokes and failed turns as plain JSON.

Authentication is the SDK's own, with its per-turn clients replaced by the connector's
long-lived one, the signing keys fetched without blocking, and a header that cannot
hold a token refused before the body is read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

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
    ConversationAccount,
    InvokeResponse,
)
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)

from bot.sdk.connector import Connector
from bot.sdk.credentials import CachedCredentialFactory, sdk_config
from bot.sdk.signing_keys import use_non_blocking_signing_keys
from bot.settings import Settings

log = logging.getLogger(__name__)


class InvokeResult(Protocol):
    """What the bridge answers to an invoke: an HTTP status and a JSON body."""

    status: int
    body: dict[str, Any]


TurnHandler = Callable[[dict[str, Any]], Awaitable[InvokeResult | None]]


class AuthenticationFailed(Exception):
    """The request's Authorization header is missing, malformed or not valid."""


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


def _account(value: Any) -> ChannelAccount:
    account = value if isinstance(value, dict) else {}
    return ChannelAccount(
        id=account.get("id"),
        name=account.get("name"),
        aad_object_id=account.get("aadObjectId"),
        role=account.get("role"),
    )


def _sdk_activity(body: dict[str, Any]) -> Activity:
    """The activity as the SDK's authentication and turn read it: its kind, addressing and
    delivery mode, and nothing more.

    The bridge reads the JSON body itself (``dialogs.turn``), after the app has checked the
    fields it relies on. msrest's ``Activity().deserialize`` of the whole body cost about
    0.15 ms a message, more than the SDK's turn itself, for fields nobody here reads.
    """
    conversation = body.get("conversation") if isinstance(body.get("conversation"), dict) else {}
    return Activity(
        type=body.get("type"),
        id=body.get("id"),
        channel_id=body.get("channelId"),
        service_url=body.get("serviceUrl"),
        from_property=_account(body.get("from")),
        recipient=_account(body.get("recipient")),
        conversation=ConversationAccount(
            id=conversation.get("id"),
            name=conversation.get("name"),
            is_group=conversation.get("isGroup"),
            conversation_type=conversation.get("conversationType"),
            tenant_id=conversation.get("tenantId"),
        ),
        locale=body.get("locale"),
        delivery_mode=body.get("deliveryMode"),
        name=body.get("name"),
        reply_to_id=body.get("replyToId"),
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
        config = sdk_config(settings)
        self._settings = settings
        self.connector = Connector(settings, session)
        configured = ConfigurationBotFrameworkAuthentication(
            config,
            credentials_factory=CachedCredentialFactory(
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
        activity = _sdk_activity(body)
        try:
            authenticated = await self.bot_framework_authentication.authenticate_request(
                activity, auth_header
            )
        except Exception as error:
            raise AuthenticationFailed(str(error) or type(error).__name__) from error

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
