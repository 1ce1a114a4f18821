"""``support-bridge check-config``: every setting checked, with the reason for each bad one.

The server would start with many of these mistakes and fail later, in front of a
customer (a 401 from the Bot Connector, a transcript link on http that Teams will not
open); this says so before the first start, one line per setting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from bot.settings import BadSettings, Problem, Settings
from store import migrate
from store.engine import create_engine

__all__ = ["Problem", "check_config"]

CONNECT_TIMEOUT = 10.0


def _identity(settings: Settings) -> list[Problem]:
    """The Bot Framework identity: what the SDK needs for each ``MicrosoftAppType``."""
    problems = []
    if not settings.app_id:
        return problems
    if settings.app_type != "UserAssignedMSI" and not settings.app_password:
        problems.append(
            Problem("MicrosoftAppPassword", f"empty, but {settings.app_type} needs the secret")
        )
    if settings.app_type in ("SingleTenant", "UserAssignedMSI") and not settings.app_tenant_id:
        problems.append(
            Problem("MicrosoftAppTenantId", f"empty, but {settings.app_type} needs the tenant")
        )
    return problems


def unknown_tenant(settings: Settings) -> Problem | None:
    """With an app id set, the bridge must know its company's tenant before it binds a room:
    the first setup would otherwise bind whichever tenant came first (a stranger's)."""
    if settings.local_mode or settings.allowed_tenants:
        return None
    return Problem(
        "ALLOWED_TENANTS",
        "empty, and so is MicrosoftAppTenantId: with MicrosoftAppId set, every `@Bot setup` "
        "is refused until the bridge knows its tenant. Set ALLOWED_TENANTS (or "
        "MicrosoftAppTenantId) to your Microsoft 365 tenant id "
        "(`az account show --query tenantId -o tsv`)",
    )


def metrics_closed(settings: Settings) -> Problem | None:
    """A note, not a fault: with an app id set and no token, ``/metrics`` answers nobody."""
    if settings.local_mode or settings.metrics_token:
        return None
    return Problem(
        "METRICS_TOKEN",
        "empty, so /metrics is refused (403) with MicrosoftAppId set; set it and scrape "
        "with `Authorization: Bearer <token>`",
    )


def start_warnings(settings: Settings) -> list[Problem]:
    """What the server says loudly when it starts (``check-config`` says it too)."""
    return [p for p in (unknown_tenant(settings), metrics_closed(settings)) if p is not None]


def _public_url(settings: Settings) -> list[Problem]:
    if not settings.local_mode and urlsplit(settings.public_url).scheme != "https":
        return [
            Problem(
                "PUBLIC_URL",
                "must be https outside local mode (MicrosoftAppId is set): Teams and "
                "browsers refuse the transcript links otherwise",
            )
        ]
    return []


def _zalo(settings: Settings) -> list[Problem]:
    """A Zalo OA needs all of its keys or none: with only some, its webhook would refuse
    every event or its replies could never be sent. Outside local mode its API is https."""
    urls = {"ZALO_API_URL": settings.zalo_api_url, "ZALO_OAUTH_URL": settings.zalo_oauth_url}
    problems = [
        Problem(name, f"{url!r} is not an https URL")
        for name, url in urls.items()
        if settings.app_id and urlsplit(url).scheme != "https"
    ]
    given = {
        "ZALO_APP_ID": settings.zalo_app_id,
        "ZALO_APP_SECRET": settings.zalo_app_secret,
        "ZALO_OA_SECRET_KEY": settings.zalo_oa_secret,
    }
    if any(given.values()):
        problems += [
            Problem(name, "empty, but the other Zalo keys are set: the OA needs all three")
            for name, value in given.items()
            if not value
        ]
    return problems


async def _database(settings: Settings) -> list[Problem]:
    url = make_url(settings.database_url)  # its form is the model's: a URL of a driver we use
    try:
        engine = create_engine(settings.database_url)
    except Exception as error:  # a folder that cannot be made, an unknown option
        return [Problem("DATABASE_URL", f"unusable: {error}")]
    try:
        found = await asyncio.wait_for(migrate.status(engine), CONNECT_TIMEOUT)
    except Exception as error:  # any failure to connect and read means: unreachable
        shown = url.render_as_string(hide_password=True)
        reason = str(getattr(error, "orig", None) or error or type(error).__name__)
        return [Problem("DATABASE_URL", f"{shown} is unreachable: {reason.splitlines()[0][:300]}")]
    finally:
        await engine.dispose()
    if not found.up_to_date and not settings.auto_upgrade:
        return [Problem("DATABASE_URL", str(migrate.SchemaBehind(found)))]
    return []


async def check_config(env: Mapping[str, str]) -> list[Problem]:
    """Every problem of the configuration ``env`` describes; none: ready to start.

    Each value is read by the same model the server starts with (``bot/settings.py``);
    what is checked here beyond it needs several settings together, or the database."""
    try:
        settings = Settings.from_env(env)
        problems: list[Problem] = []
    except BadSettings as refusal:
        # A bad value stands aside (its default applies) so that every other setting,
        # and the database, are still checked.
        problems = refusal.problems
        settings = Settings.from_env({k: v for k, v in env.items() if k not in _named(problems)})
    together = _identity(settings)
    tenant = unknown_tenant(settings)
    if tenant is not None and "MicrosoftAppTenantId" not in _named(together):
        together.append(tenant)
    together += _public_url(settings) + _zalo(settings) + _mail(settings) + _ai(settings)
    together += _first_bot(settings)
    together += await _database(settings)
    return problems + [p for p in together if p.setting not in _named(problems)]


def _mail(settings: Settings) -> list[Problem]:
    """Mail needs a sender once it has a server."""
    if settings.smtp_host and "@" not in settings.mail_from:
        return [Problem("MAIL_FROM", "SMTP_HOST is set: the sender's address is needed")]
    return []


def _ai(settings: Settings) -> list[Problem]:
    """AI help for departments needs a provider and a model."""
    if settings.ai_departments and not (settings.ai_base_url and settings.ai_model):
        return [Problem("AI_DEPARTMENTS", "AI help needs AI_BASE_URL and AI_MODEL set too")]
    return []


def _first_bot(settings: Settings) -> list[Problem]:
    """A bot that answers first is given up on after its time-out, which the timers see
    only every ``TIMER_INTERVAL_SECONDS``: a shorter time-out could not be kept."""
    if settings.first_bot_secret and settings.first_bot_timeout < settings.timer_interval:
        return [
            Problem(
                "FIRST_BOT_TIMEOUT_SECONDS",
                "shorter than TIMER_INTERVAL_SECONDS: the timers would not see it in time",
            )
        ]
    return []


def _named(problems: list[Problem]) -> set[str]:
    return {problem.setting for problem in problems}


def notes(env: Mapping[str, str]) -> list[Problem]:
    """Settings that are valid but close something (the server starts and says so too)."""
    try:
        settings = Settings.from_env(dict(env))
    except BadSettings:  # a malformed value: ``check_config`` names it
        return []
    note = metrics_closed(settings)
    return [note] if note is not None else []
