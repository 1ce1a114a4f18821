"""``support-bridge check-config``: every setting checked, with the reason for each bad one.

The server would start with many of these mistakes and fail later, in front of a
customer (a 401 from the Bot Connector, a transcript link on http that Teams will not
open); this says so before the first start, one line per setting.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from bot.settings import (
    APP_TYPES,
    COLOR,
    GUID,
    LOG_FORMATS,
    PRECHAT_MODES,
    VERSION,
    Settings,
    parse_bool,
)
from dialogs.i18n import languages
from store import migrate
from store.engine import create_engine

DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Problem:
    setting: str
    reason: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.reason}"


def _number(minimum: float, whole: bool = False) -> Callable[[str], str | None]:
    def check(raw: str) -> str | None:
        try:
            value = int(raw) if whole else float(raw)
        except ValueError:
            return f"{raw!r} is not {'a whole number' if whole else 'a number'}"
        return None if value >= minimum else f"must be at least {minimum:g}"

    return check


def _boolean(raw: str) -> str | None:
    try:
        parse_bool(raw)
    except ValueError as error:
        return str(error)
    return None


def _one_of(choices: tuple[str, ...], lower: bool = True) -> Callable[[str], str | None]:
    def check(raw: str) -> str | None:
        value = raw.strip().lower() if lower else raw.strip()
        return None if value in choices else f"{raw!r} is not one of {', '.join(choices)}"

    return check


def _https(raw: str) -> str | None:
    parts = urlsplit(raw)
    return None if parts.scheme == "https" and parts.hostname else f"{raw!r} is not an https URL"


# Variables whose value alone decides (a number, a word from a list); empty means default.
FORMATS: dict[str, Callable[[str], str | None]] = {
    "PORT": _number(1, whole=True),
    "TRANSCRIPT_TTL_DAYS": _number(0.01),
    "SEND_TIMEOUT_SECONDS": _number(0.1),
    "OUTBOX_LEASE_SECONDS": _number(1),
    "TRANSFER_TIMEOUT_SECONDS": _number(1),
    "TIMER_INTERVAL_SECONDS": _number(0.05),
    "FLOOD_MESSAGES": _number(1, whole=True),
    "FLOOD_WINDOW_SECONDS": _number(0.1),
    "UNANSWERED_SECONDS": _number(1),
    "MAX_OPEN_CHATS": _number(0, whole=True),
    "DB_AUTO_UPGRADE": _boolean,
    "LOG_FORMAT": _one_of(LOG_FORMATS),
    "MicrosoftAppType": _one_of(APP_TYPES, lower=False),
    "TEAMS_ACCENT_COLOR": lambda raw: None if COLOR.match(raw) else f"{raw!r} is not #RRGGBB",
    "TEAMS_APP_VERSION": lambda raw: None if VERSION.match(raw) else f"{raw!r} is not like 1.2.3",
    "PRIVACY_URL": _https,
    "TERMS_URL": _https,
    "CSAT_ENABLED": _boolean,
    # http too: a local server (Ollama) is a fine provider.
    "AI_BASE_URL": lambda raw: (
        None
        if urlsplit(raw).scheme in ("http", "https") and urlsplit(raw).hostname
        else f"{raw!r} is not a web address"
    ),
    "AI_TIMEOUT": _number(0.1),
    "AI_MASK_CONTACTS": _boolean,
    "AI_CALLS_PER_CHAT": _number(0, whole=True),
    "AI_CALLS_PER_DAY": _number(0, whole=True),
    "ZALO_API_URL": _https,
    "ZALO_OAUTH_URL": _https,
    "ZALO_MAX_FILE_BYTES": _number(1, whole=True),
    "PRECHAT_FORM": _one_of(PRECHAT_MODES),
    "CHAT_REMEMBER_DAYS": _number(0),
    "WIDGET_SOUND": _boolean,
    "WIDGET_OFFSET": _number(0, whole=True),
    "UPLOAD_MAX_BYTES": _number(1024, whole=True),
    "ZALO_OA_ID": lambda raw: None if raw.strip().isdigit() else f"{raw!r} is not an OA id",
    "MESSENGER_PAGE": lambda raw: (
        None if re.fullmatch(r"[A-Za-z0-9.\-]+", raw.strip()) else f"{raw!r} is not a page name"
    ),
}


def _identity(settings: Settings) -> list[Problem]:
    """The Bot Framework identity: what the SDK needs for each ``MicrosoftAppType``."""
    problems = []
    if settings.app_id and not GUID.match(settings.app_id):
        problems.append(Problem("MicrosoftAppId", f"{settings.app_id!r} is not a GUID"))
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
    parts = urlsplit(settings.public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [Problem("PUBLIC_URL", f"{settings.public_url!r} is not an http(s) URL")]
    if not settings.local_mode and parts.scheme != "https":
        return [
            Problem(
                "PUBLIC_URL",
                "must be https outside local mode (MicrosoftAppId is set): Teams and "
                "browsers refuse the transcript links otherwise",
            )
        ]
    return []


def _plain(settings: Settings) -> list[Problem]:
    problems = []
    if settings.default_language not in languages():
        problems.append(
            Problem(
                "DEFAULT_LANGUAGE",
                f"{settings.default_language!r} has no texts; one of {', '.join(languages())}",
            )
        )
    if settings.transcript_secret and len(settings.transcript_secret) < 32:
        problems.append(Problem("TRANSCRIPT_SECRET", "shorter than 32 characters: guessable"))
    if settings.ai_departments and not (settings.ai_base_url and settings.ai_model):
        problems.append(
            Problem("AI_DEPARTMENTS", "AI help needs AI_BASE_URL and AI_MODEL set too")
        )
    if not settings.teams_app_name.strip() or len(settings.teams_app_name) > 30:
        problems.append(Problem("TEAMS_APP_NAME", "must have 1 to 30 characters (Teams' limit)"))
    return problems


def _zalo(settings: Settings) -> list[Problem]:
    """A Zalo OA needs all of its keys or none: with only some, its webhook would refuse
    every event or its replies could never be sent."""
    given = {
        "ZALO_APP_ID": settings.zalo_app_id,
        "ZALO_APP_SECRET": settings.zalo_app_secret,
        "ZALO_OA_SECRET_KEY": settings.zalo_oa_secret,
    }
    if not any(given.values()):
        return []
    return [
        Problem(name, "empty, but the other Zalo keys are set: the OA needs all three")
        for name, value in given.items()
        if not value
    ]


async def _database(settings: Settings) -> list[Problem]:
    try:
        url = make_url(settings.database_url)
    except Exception:  # SQLAlchemy raises ArgumentError, and ValueError for a bad port
        return [Problem("DATABASE_URL", "is not a database URL")]
    if url.drivername not in DRIVERS:
        return [Problem("DATABASE_URL", f"driver {url.drivername!r}; use one of {DRIVERS}")]
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
    """Every problem of the configuration ``env`` describes; none: ready to start."""
    problems = [
        Problem(name, reason)
        for name, check in FORMATS.items()
        if (raw := env.get(name, "")).strip() and (reason := check(raw)) is not None
    ]
    # The rest reads the settings: a malformed value stands aside (its default applies) so
    # that every other setting is still checked.
    bad = {problem.setting for problem in problems}
    settings = Settings.from_env({k: v for k, v in env.items() if k not in bad})
    problems += _identity(settings)
    tenant = unknown_tenant(settings)
    if tenant is not None and "MicrosoftAppTenantId" not in {p.setting for p in problems}:
        problems.append(tenant)
    problems += _public_url(settings)
    problems += _plain(settings)
    problems += _zalo(settings)
    problems += await _database(settings)
    return problems


def notes(env: Mapping[str, str]) -> list[Problem]:
    """Settings that are valid but close something (the server starts and says so too)."""
    try:
        settings = Settings.from_env(dict(env))
    except ValueError:  # a malformed value: ``check_config`` names it
        return []
    note = metrics_closed(settings)
    return [note] if note is not None else []
