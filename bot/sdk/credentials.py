"""Who the bot is to the SDK: the bridge's settings as the SDK's configuration, and the
bot's outbound credentials made once instead of on every turn.

Both the adapter (inbound authentication) and the connector (outbound calls) start from
these, so they live apart from either.
"""

from __future__ import annotations

from typing import Any, Protocol

from botframework.connector.auth import AuthenticationConstants, ServiceClientCredentialsFactory
from msrest.authentication import Authentication

from bot.settings import Settings


def sdk_config(settings: Settings) -> Any:
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


class CachedCredentialFactory(ServiceClientCredentialsFactory):
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


class CredentialFactory(Protocol):
    """What makes the bot's outbound credentials (the SDK's factory, or a test's)."""

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any: ...
