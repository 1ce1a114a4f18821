"""The plainest bot botbuilder can run, as the SDK's echo sample has it (the yardstick).

Run as its own process (``PORT=3978 python -m bench.echo_bot``) so that it gets its own
interpreter and event loop, exactly like the bridge; nothing of the bridge is imported.
"""

from __future__ import annotations

import os

from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.core.integration import aiohttp_error_middleware
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)


def _env(name: str, default: str = "") -> str:
    """The Bot Framework's own (mixed-case) variable names, as the SDK samples read them."""
    return os.environ.get(name, default)


class DefaultConfig:
    """The SDK's configuration attributes; no app id means local mode, as in the sample."""

    PORT = int(_env("PORT", "3978"))
    APP_ID = _env("MicrosoftAppId")
    APP_PASSWORD = _env("MicrosoftAppPassword")
    APP_TYPE = _env("MicrosoftAppType", "MultiTenant")
    APP_TENANTID = _env("MicrosoftAppTenantId")


class EchoBot(ActivityHandler):
    """Answers every message with its text, sent during the turn like the sample does."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(f"Echo: {turn_context.activity.text}")


def create_app(config: DefaultConfig) -> web.Application:
    """POST /api/messages hands the raw request to ``CloudAdapter.process``, nothing else."""
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    app = web.Application(middlewares=[aiohttp_error_middleware])
    app.router.add_post("/api/messages", messages)
    return app


def main() -> None:
    config = DefaultConfig()
    web.run_app(create_app(config), host="127.0.0.1", port=config.PORT)


if __name__ == "__main__":
    main()
