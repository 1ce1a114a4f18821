"""The one seam between the bridge and the Bot Framework SDK (botbuilder 4.17.1).

This package is the only place that imports ``botbuilder``, ``botframework`` or
``msrest`` (``tests/test_sdk_seam.py`` keeps it so). The SDK is archived and its
successor is the Microsoft 365 Agents SDK: keeping every SDK call behind this package
means moving to it replaces this package and nothing else. The rest of the bridge
imports the names below from ``bot.sdk`` only, and passes plain JSON activities and
references (camelCase, as on the wire).

One module per job:

- :mod:`bot.sdk.adapter`: the inbound turn (authentication and the turn pipeline of
  ``CloudAdapter``), :class:`BridgeAdapter`;
- :mod:`bot.sdk.connector`: the outbound connector (create a thread, send, update) that
  the outbox dispatcher calls, :class:`Connector`, over the shared aiohttp session;
- :mod:`bot.sdk.credentials`: the settings as the SDK's configuration, credentials made
  once per (app id, scope);
- :mod:`bot.sdk.signing_keys`: the signing-key cache that never blocks the event loop.
"""

from __future__ import annotations

from bot.sdk.adapter import (
    FAILED_TURN,
    AuthenticationFailed,
    BridgeAdapter,
    InvokeResult,
    TurnHandler,
    bearer_token_shaped,
)
from bot.sdk.connector import Connector, DeliveryError
from bot.sdk.credentials import CredentialFactory
from bot.sdk.signing_keys import use_non_blocking_signing_keys

__all__ = [
    "FAILED_TURN",
    "AuthenticationFailed",
    "BridgeAdapter",
    "Connector",
    "CredentialFactory",
    "DeliveryError",
    "InvokeResult",
    "TurnHandler",
    "bearer_token_shaped",
    "use_non_blocking_signing_keys",
]
