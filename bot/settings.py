"""Configuration: one typed model (pydantic-settings) is every setting of the bridge.

Each field names its environment variable, type, default, range and description in one
line; the same model reads the environment (and ``.env``) at start, is what
``support-bridge check-config`` checks, and prints the README's table
(``support-bridge settings-table``). A bad value stops the start with the variable's name
and what it accepts: a typo must not become a default nobody chose.

To add a setting, add one field here (``docs/architecture.md``, "Add a setting").
"""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import annotated_types
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url

from cards.times import valid_zone
from dialogs.i18n import languages
from store.engine import DEFAULT_DATABASE_URL
from store.pacing import Limits

__all__ = ["DEFAULT_DATABASE_URL", "BadSettings", "Problem", "Settings"]

DIRECT_LINE_ENDPOINT = "https://directline.botframework.com/v3/directline"
WEBCHAT_VERSION = "4.18.1"
WEBCHAT_SCRIPT_URL = (
    f"https://cdn.botframework.com/botframework-webchat/{WEBCHAT_VERSION}/webchat.js"
)
PRECHAT_MODES = ("off", "offline", "optional", "required")
WIDGET_COLOR = "#0b62a4"
ZALO_API_URL = "https://openapi.zalo.me"
ZALO_OAUTH_URL = "https://oauth.zaloapp.com"


APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")
LOG_FORMATS = ("text", "json")
DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+$")


# -- the kinds of value a variable takes: what each accepts, in words and in code ----------


@dataclass(frozen=True)
class Accepts:
    """What a text setting accepts, in words (errors and the README), and one value it
    refuses (the test that tries a wrong value for every variable uses it)."""

    words: str
    refused: str


def _check(test: Callable[[str], bool], words: str) -> AfterValidator:
    """Refuse a value ``test`` rejects; the empty value is the default and always passes."""

    def check(value: str) -> str:
        if value and not test(value):
            raise ValueError(f"is not {words}")
        return value

    return AfterValidator(check)


def _url(value: str, schemes: tuple[str, ...] = ("http", "https")) -> bool:
    parts = urlsplit(value)
    return parts.scheme in schemes and bool(parts.hostname)


def _database(value: str) -> bool:
    try:
        return make_url(value).drivername in DRIVERS
    except Exception:  # SQLAlchemy raises ArgumentError, and ValueError for a bad port
        return False


def _limits(value: str) -> bool:
    try:
        return bool(Limits.parse(value).windows)
    except ValueError:
        return False


def _words(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _items(lower: bool = False, trim: str = "") -> BeforeValidator:
    """A comma-separated list (``a, b``) as a set; blanks dropped."""

    def split(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        items = (i.strip().rstrip(trim) for i in value.split(","))
        return frozenset(i.lower() if lower else i for i in items if i)

    return BeforeValidator(split)


Text = str  # any text
Url = Annotated[str, _check(_url, "an http(s) URL"), Accepts("an http(s) URL", "example.vn")]
HttpsUrl = Annotated[
    str,
    _check(lambda v: _url(v, ("https",)), "an https URL"),
    Accepts("an https URL", "http://example.vn/p"),
]
Endpoint = Annotated[Url, AfterValidator(lambda v: v.rstrip("/"))]
Guid = Annotated[str, _check(GUID.match, "a GUID"), Accepts("a GUID", "my-bot")]
Color = Annotated[str, _check(COLOR.match, "#RRGGBB"), Accepts("`#RRGGBB`", "blue")]
Version = Annotated[
    str, _check(VERSION.match, "like 1.2.3"), Accepts("`major.minor.patch`", "v2")
]
Zone = Annotated[
    str,
    BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v),
    _check(valid_zone, "an IANA time zone"),
    Accepts("an IANA time zone (`Asia/Ho_Chi_Minh`)", "Mars/Olympus"),
]
Language = Annotated[
    str,
    _check(lambda v: v in languages(), "a language with texts"),
    Accepts("a language with texts (`en`, `vi`)", "fr"),
]
Database = Annotated[
    str,
    _check(_database, "a database URL of " + " or ".join(DRIVERS)),
    Accepts("`sqlite+aiosqlite:///...` or `postgresql+asyncpg://...`", "mysql://db/bridge"),
]
PaceLimits = Annotated[
    str,
    _check(_limits, "sends/seconds pairs"),
    Accepts("sends/seconds pairs (`7/1,60/30`)", "fast"),
]
Secret = Annotated[
    str,
    _check(lambda v: len(v) >= 32, "32 characters or more (shorter is guessable)"),
    Accepts("32 characters or more", "short"),
]
AppName = Annotated[
    str,
    _check(lambda v: bool(v.strip()) and len(v) <= 30, "1 to 30 characters (Teams' limit)"),
    Accepts("1 to 30 characters (Teams' limit)", "x" * 31),
]
Hosts = Annotated[frozenset[str], NoDecode, _items(lower=True)]
Names = Annotated[frozenset[str], NoDecode, _items()]
Origins = Annotated[frozenset[str], NoDecode, _items(trim="/")]
Word = BeforeValidator(_words)
OaId = Annotated[
    str,
    _check(lambda v: re.fullmatch(r"[A-Za-z0-9_\-]+", v) is not None, "an OA id"),
    Accepts("an OA id (its digits, as Zalo shows it)", "my oa!"),
]
PageName = Annotated[
    str,
    _check(lambda v: re.fullmatch(r"[A-Za-z0-9.\-]+", v) is not None, "a page name"),
    Accepts("a page name (letters, digits, `.`, `-`)", "my page!"),
]


def _env(
    variable: str,
    default: Any,
    description: str,
    *,
    shown: str = "",
    factory: Callable[[dict[str, Any]], Any] | None = None,
    **limits: Any,
) -> Any:
    """One setting: its environment variable, default, description and range (``ge``,
    ``gt``, ``le``, ``lt``). ``shown``: how the README shows a default that is not a plain
    value; ``factory``: a default made from the settings before it."""
    extra = {"variable": variable, "shown": shown}
    if factory is not None:
        return Field(
            default_factory=factory,
            validation_alias=variable,
            description=description,
            json_schema_extra=extra,
            **limits,
        )
    return Field(
        default,
        validation_alias=variable,
        description=description,
        json_schema_extra=extra,
        **limits,
    )


def _knob(default: Any, description: str, **limits: Any) -> Any:
    """A setting the code and tests give, with no environment variable."""
    return Field(default, description=description, **limits)


# -- the model -------------------------------------------------------------------------------


class Settings(BaseSettings):
    """Every knob of the bridge. Empty ``app_id`` means local mode (Emulator and tests).

    ``Settings(...)`` takes the attributes by name and nothing else (tests build it so);
    ``Settings.from_env()`` reads the environment by variable name.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        case_sensitive=True,
        extra="ignore",
        allow_inf_nan=False,
        env_file=".env",
    )

    # The Bot Framework's identity (its usual names).
    app_id: Guid = _env("MicrosoftAppId", "", "Bot's app id; empty = local mode (Emulator, tests)")
    app_password: Text = _env("MicrosoftAppPassword", "", "Bot's client secret")
    app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = _env(
        "MicrosoftAppType", "MultiTenant", "The bot's identity kind"
    )
    app_tenant_id: Text = _env("MicrosoftAppTenantId", "", "Tenant, for `SingleTenant`")
    database_url: Database = _env(
        "DATABASE_URL",
        DEFAULT_DATABASE_URL,
        "SQLite file (folder created) or PostgreSQL",
    )
    port: int = _env("PORT", 3978, "HTTP port", ge=1, le=65535)
    public_url: Url = _env(
        "PUBLIC_URL",
        None,
        "Base of transcript links",
        shown="`http://localhost:$PORT`",
        factory=lambda data: f"http://localhost:{data['port']}",
    )
    transcript_secret: Secret = _env(
        "TRANSCRIPT_SECRET",
        "",
        "Key of transcript link tokens",
        shown="generated once, kept in the database",
    )
    transcript_ttl_days: float = _env(
        "TRANSCRIPT_TTL_DAYS", 30.0, "How long a transcript link is valid", ge=0.01
    )
    default_language: Language = _env(
        "DEFAULT_LANGUAGE", "en", "Language of the team side and fallback for customers"
    )
    allowed_service_hosts: Hosts = _env(
        "ALLOWED_SERVICE_HOSTS",
        frozenset({"localhost", "127.0.0.1", "::1"}),
        "Local mode only: allowed `serviceUrl` hosts",
        shown="`localhost,127.0.0.1,::1`",
    )
    max_body_bytes: int = _knob(256 * 1024, "Largest request body taken", ge=1)
    send_timeout: float = _env(
        "SEND_TIMEOUT_SECONDS",
        15.0,
        "Time-out of one call to the Bot Connector; then it is retried",
        ge=0.1,
    )
    outbox_lease: float = _env(
        "OUTBOX_LEASE_SECONDS",
        30.0,
        "How long a replica holds a delivery before another may take it over "
        "(at least twice the send time-out)",
        ge=1,
    )
    connections_per_host: int = _knob(64, "Pooled connections per host", ge=1)
    retry_base_delay: float = _knob(0.5, "First retry's back-off", gt=0)
    retry_max_delay: float = _knob(60.0, "Longest retry back-off", gt=0)
    sweep_interval: float = _knob(0.5, "How often the dispatcher looks for due rows", gt=0)
    backpressure_wait: float = _knob(3.0, "How long a turn waits for a busy lane", ge=0)
    flood_messages: int = _env(
        "FLOOD_MESSAGES",
        10,
        "More customer messages than this within the window get one polite "
        '"slow down" (nothing is dropped)',
        ge=1,
    )
    flood_window: float = _env(
        "FLOOD_WINDOW_SECONDS", 10.0, "The window of `FLOOD_MESSAGES`", ge=0.1
    )
    max_text_length: int = _knob(4000, "Longest customer message kept whole", ge=1)
    timer_interval: float = _env(
        "TIMER_INTERVAL_SECONDS",
        1.0,
        "The shortest time between two looks for due timers; with nothing due, a replica "
        "looks every 15 intervals (woken earlier by its own commits)",
        ge=0.01,
    )
    offer_timeout: float = _env(
        "TRANSFER_TIMEOUT_SECONDS",
        120.0,
        "An invitation or transfer not answered within this is withdrawn",
        ge=1,
    )
    unanswered_seconds: float = _env(
        "UNANSWERED_SECONDS",
        120.0,
        "A chat not accepted within this time is announced again (once)",
        ge=1,
    )
    assignment_offer_seconds: float = _env(
        "ASSIGNMENT_OFFER_SECONDS",
        30.0,
        "Automatic assignment: seconds an agent has to accept an offered chat before it goes "
        "to the next",
        ge=1,
    )
    queue_notice_seconds: float = _env(
        "QUEUE_NOTICE_SECONDS",
        30.0,
        "The least time between two notices of a queued customer's place",
        ge=0,
    )
    max_open_chats: int = _env(
        "MAX_OPEN_CHATS",
        0,
        "Most open chats an agent may own, where the department set no `capacity`",
        shown="`0` (no limit)",
        ge=0,
    )
    allowed_tenant_ids: Names = _env(
        "ALLOWED_TENANTS",
        frozenset(),
        "Comma-separated Teams tenants whose people may act as agents; empty: "
        "`MicrosoftAppTenantId`. With `MicrosoftAppId` set one of the two is required: "
        "until then every `@Bot setup` is refused (`check-config` and the start-up log say "
        "so). Local mode: the tenant of the first setup",
    )
    direct_line_enhanced_auth: bool = _env(
        "DIRECT_LINE_ENHANCED_AUTH",
        False,
        'Direct Line enforces token-bound `dl_` user ids (see "Azure settings"): such a '
        "visitor is the same customer in every conversation; otherwise a customer is "
        "bound to their conversation",
        shown="`false` (`true` with the local Direct Line)",
    )
    new_chats_per_conversation: int = _env(
        "NEW_CHATS_PER_CONVERSATION",
        3,
        "New chats per minute that reach the room from one conversation; more are kept "
        "and answered, their cards posted later at that pace (`0`: no limit)",
        ge=0,
    )
    new_chats_per_channel: int = _env(
        "NEW_CHATS_PER_CHANNEL",
        60,
        "New chats per minute that reach the room from one channel (`0`: no limit)",
        ge=0,
    )
    host: Text = _env(
        "HOST", "", "Address to listen on", shown="`127.0.0.1` in local mode, else `0.0.0.0`"
    )
    client_timeout: float = _env(
        "CLIENT_TIMEOUT_SECONDS",
        15.0,
        "A connection that has not sent a whole request by then is closed "
        "(408 for a slow body)",
        gt=0,
    )
    inbound_retention_hours: float = _env(
        "INBOUND_RETENTION_HOURS",
        72.0,
        "How long keys of handled activities are kept for de-duplication",
        gt=0,
    )
    outbox_max_age_hours: float = _env(
        "OUTBOX_MAX_AGE_HOURS",
        24.0,
        "A delivery still failing after this is given up, marked failed and logged",
        gt=0,
    )
    failed_retention_days: float = _env(
        "FAILED_RETENTION_DAYS", 30.0, "How long failed deliveries are kept for inspection", gt=0
    )
    signing_keys_timeout: float = _knob(0.8, "How long a fetch of signing keys may take", gt=0)
    signing_keys_failure_ttl: float = _knob(30.0, "How long a failed fetch is kept", ge=0)
    openid_metadata_url: Url = _env(
        "BOT_OPENID_METADATA_URL",
        "",
        "Where signing keys are published (tests point it at a local server)",
        shown="the Bot Framework's",
    )
    db_auto_upgrade: bool | None = _env(
        "DB_AUTO_UPGRADE",
        None,
        "Migrate the database at start; when off, a database behind the code stops the "
        "start (run `support-bridge db upgrade`)",
        shown="`true` for SQLite, `false` otherwise",
    )
    log_format: Annotated[Literal["text", "json"], Word] = _env(
        "LOG_FORMAT", "text", "`json`: one JSON object per line, with `activity_id` and `chat_id`"
    )
    teams_app_name: AppName = _env(
        "TEAMS_APP_NAME", "Support Bridge", "Name of the Teams app; its initials make the icons"
    )
    teams_accent_color: Color = _env(
        "TEAMS_ACCENT_COLOR", "#2F6FDE", "Background of the colour icon and Teams' accent"
    )
    teams_developer_name: Text = _env(
        "TEAMS_DEVELOPER_NAME",
        "",
        "Publisher shown in Teams' app details",
        shown="`TEAMS_APP_NAME`",
    )
    teams_app_version: Version = _env(
        "TEAMS_APP_VERSION",
        "",
        "Version of the Teams app package; raise it for every re-upload",
        shown="the bridge's version",
    )
    metrics_token: Text = _env(
        "METRICS_TOKEN",
        "",
        "`/metrics` answers only `Authorization: Bearer <token>`. Empty: open in local "
        "mode, refused (403) with `MicrosoftAppId` set",
    )
    privacy_url: HttpsUrl = _env(
        "PRIVACY_URL", "", "Privacy statement linked from the Teams app", shown="`PUBLIC_URL`"
    )
    terms_url: HttpsUrl = _env(
        "TERMS_URL", "", "Terms of use linked from the Teams app", shown="`PUBLIC_URL`"
    )
    # The website front door (``web/``).
    direct_line_secret: Text = _env(
        "DIRECT_LINE_SECRET",
        "",
        "Direct Line secret the token endpoint exchanges (never sent to a browser)",
    )
    direct_line_endpoint: Endpoint = _env(
        "DIRECT_LINE_ENDPOINT", DIRECT_LINE_ENDPOINT, "Direct Line service of the token endpoint"
    )
    allowed_origins: Origins = _env(
        "ALLOWED_ORIGINS",
        frozenset(),
        "Sites (`https://shop.example`, comma-separated) that may embed the widget and "
        "ask for tokens",
    )
    webchat_script_url: Url = _env(
        "WEBCHAT_SCRIPT_URL",
        WEBCHAT_SCRIPT_URL,
        "Where the chat page loads `webchat.js` from",
        shown=f"Microsoft's CDN, Web Chat {WEBCHAT_VERSION}",
    )
    prechat_form: Annotated[Literal["off", "offline", "optional", "required"], Word] = _env(
        "PRECHAT_FORM",
        "offline",
        "The pre-chat form: not shown, `offline` (asked only when nobody is online: a contact "
        "to answer to), skippable, or required",
    )
    widget_color: Color = _env("WIDGET_COLOR", WIDGET_COLOR, "The chat's colour")
    widget_title: Text = _env(
        "WIDGET_TITLE", "", "The chat's title", shown="from the locale files"
    )
    widget_greeting: Text = _env(
        "WIDGET_GREETING", "", "The chat's invitation greeting", shown="from the locale files"
    )
    token_rate_limit: int = _env(
        "TOKEN_RATE_LIMIT", 30, "Token requests per client address and minute", ge=1
    )
    visitor_cookie_days: float = _knob(365.0, "How long the widget remembers a visitor", gt=0)
    chat_remember_days: float = _env(
        "CHAT_REMEMBER_DAYS",
        7.0,
        "How long the website keeps a visitor's conversation (history and token, across "
        "pages, tabs and days)",
        ge=0,
    )
    widget_sound: bool = _env(
        "WIDGET_SOUND",
        False,
        "A short sound when an agent answers while the widget's panel is closed",
    )
    widget_offset: int = _env(
        "WIDGET_OFFSET",
        0,
        "Pixels the widget's button sits higher (above a page's own sticky buttons; "
        "`data-offset` per page)",
        ge=0,
    )
    upload_max_bytes: int = _env(
        "UPLOAD_MAX_BYTES",
        4 * 1024 * 1024,
        "Largest photo or file a visitor may send (JPEG, PNG, GIF, WebP, PDF)",
        ge=1024,
    )
    zalo_oa_id: OaId = _env(
        "ZALO_OA_ID",
        "",
        "A Zalo Official Account's id: the chat offers \"Chat on Zalo\" (`zalo.me/<id>`) with "
        "a QR code",
    )
    messenger_page: PageName = _env(
        "MESSENGER_PAGE",
        "",
        "A Facebook page's name: the chat offers \"Chat on Messenger\" (`m.me/<page>`) with a "
        "QR code",
    )
    csat_enabled: bool = _env(
        "CSAT_ENABLED", True, "Ask customers to rate each chat when it closes"
    )
    time_zone: Zone = _env(
        "TIME_ZONE",
        "UTC",
        "Time zone of transcripts' times (a supervisor gives a department its own with "
        "`@Bot timezone <zone>`)",
    )
    # AI help for agents through an OpenAI-compatible chat completions API (``bot/ai.py``).
    ai_base_url: Endpoint = _env(
        "AI_BASE_URL",
        "",
        "OpenAI-compatible API for AI help (Azure: `https://<res>.openai.azure.com/openai/v1`; "
        "a local Ollama); empty: off",
    )
    ai_api_key: Text = _env("AI_API_KEY", "", "The provider's key")
    ai_model: Text = _env("AI_MODEL", "", "The model (Azure: the deployment's name)")
    ai_timeout: float = _env(
        "AI_TIMEOUT", 20.0, "Seconds a call may take before it is given up", ge=0.1
    )
    ai_mask_contacts: bool = _env(
        "AI_MASK_CONTACTS", True, "Email addresses and phone numbers masked before sending"
    )
    ai_departments: Names = _env(
        "AI_DEPARTMENTS",
        frozenset(),
        "Keys of the departments that have AI help (comma-separated; none: off everywhere)",
    )
    ai_calls_per_chat: int = _env("AI_CALLS_PER_CHAT", 20, "Calls one chat may make", ge=0)
    ai_calls_per_day: int = _env(
        "AI_CALLS_PER_DAY", 500, "Calls one department may make per day (UTC)", ge=0
    )
    # A company bot answers first (``bot/firstbot.py``): a Direct Line client of its own.
    first_bot_secret: Text = _env(
        "FIRST_BOT_SECRET",
        "",
        "Direct Line secret of the bot that answers first (Copilot Studio: Settings, "
        "Security, Web channel security); empty: off",
    )
    first_bot_endpoint: Endpoint = _env(
        "FIRST_BOT_ENDPOINT",
        DIRECT_LINE_ENDPOINT,
        "Direct Line base URL of that bot (a regional one, e.g. "
        "`https://europe.directline.botframework.com/v3/directline`)",
    )
    first_bot_timeout: float = _env(
        "FIRST_BOT_TIMEOUT_SECONDS",
        30.0,
        "A customer's line the bot leaves unanswered this long hands the chat to people",
        ge=1,
    )
    first_bot_poll_max: float = _knob(
        5.0, "Longest pause between two reads of the bot's activities", gt=0
    )
    presence_sync: Annotated[Literal["", "graph"], Word] = _env(
        "PRESENCE_SYNC", "", "`graph`: availability follows Teams presence"
    )
    presence_interval: float = _env(
        "PRESENCE_INTERVAL_SECONDS", 30.0, "How often presence is read", gt=0
    )
    graph_url: Url = _env(
        "GRAPH_URL", "https://graph.microsoft.com", "Where presence is read from"
    )
    graph_token_url: Url = _env(
        "GRAPH_TOKEN_URL",
        "",
        "Where the app's Graph token comes from",
        shown="the tenant's Microsoft identity platform",
    )
    # Teams' documented limits, kept before every send instead of learnt from 429s.
    pace_deliveries: bool = _env(
        "PACE_DELIVERIES",
        True,
        "Keep Teams' rate limits before each send instead of learning them from 429s",
    )
    pace_thread_limits: PaceLimits = _env(
        "PACE_THREAD_LIMITS",
        "7/1,8/2,60/30,1800/3600",
        "Sends/seconds per conversation (a reply thread, a chat)",
    )
    pace_tenant_limits: PaceLimits = _env(
        "PACE_TENANT_LIMITS", "50/1", "Sends/seconds per app in a tenant"
    )
    pace_per_channel: bool = _env(
        "PACE_PER_CHANNEL",
        True,
        "A channel's threads share the channel's budget too (Teams counts a channel as "
        "one thread)",
    )
    pace_headroom: float = _env(
        "PACE_HEADROOM",
        0.25,
        "Share of each window kept for customers' and agents' lines",
        ge=0,
        lt=1,
    )
    pace_margin: float = _env(
        "PACE_MARGIN_SECONDS",
        0.1,
        "Seconds added to thread windows (sends claimed in order may arrive a little apart)",
        ge=0,
    )
    coalesce_bytes: int = _env(
        "COALESCE_BYTES",
        64_000,
        "Lines of one author waiting in one lane go as one post up to this size (`0`: never)",
        ge=0,
    )
    # Replies by email to a customer who left (``bot/mail.py``).
    smtp_host: Text = _env(
        "SMTP_HOST", "", "Mail server for replies to customers who left; empty: no mail"
    )
    smtp_port: int = _env("SMTP_PORT", 587, "The mail server's port", ge=1, le=65535)
    smtp_tls: Annotated[Literal["none", "starttls", "tls"], Word] = _env(
        "SMTP_TLS",
        "starttls",
        "How the mail connection is protected (`tls`: implicit TLS, usually port 465)",
    )
    smtp_user: Text = _env("SMTP_USER", "", "User name at the mail server (empty: none)")
    smtp_password: Text = _env("SMTP_PASSWORD", "", "Password at the mail server")
    mail_from: Text = _env(
        "MAIL_FROM", "", "Sender address of the mails (required when `SMTP_HOST` is set)"
    )
    email_after_minutes: float = _env(
        "EMAIL_AFTER_MINUTES",
        5.0,
        "A website customer silent this long is taken as gone: an agent's reply also goes "
        "by mail",
        ge=0,
    )
    email_batch_seconds: float = _env(
        "EMAIL_BATCH_SECONDS", 60.0, "Replies written within this go in one mail", ge=0
    )

    @property
    def mail_enabled(self) -> bool:
        """Mail is configured: replies to customers who left also go by mail."""
        return bool(self.smtp_host)
    # Zalo Official Account (its own channel, ``bot/channels/zalo.py``).
    zalo_app_id: Text = _env(
        "ZALO_APP_ID",
        "",
        "The Zalo app linked to the OA: its id (OAuth; see \"Connect a Zalo Official Account\")",
    )
    zalo_app_secret: Text = _env(
        "ZALO_APP_SECRET", "", "The Zalo app's secret key (OAuth)"
    )
    zalo_oa_secret: Text = _env(
        "ZALO_OA_SECRET_KEY",
        "",
        "The OA's secret key: webhook signatures are checked with it (Zalo is on when this "
        "and `ZALO_APP_ID` are set)",
    )
    zalo_api_url: Endpoint = _env(
        "ZALO_API_URL", ZALO_API_URL, "Zalo's OA API (tests point it at a fake)"
    )
    zalo_oauth_url: Endpoint = _env(
        "ZALO_OAUTH_URL", ZALO_OAUTH_URL, "Zalo's OAuth server (tests point it at a fake)"
    )
    zalo_max_file_bytes: int = _env(
        "ZALO_MAX_FILE_BYTES",
        5 * 1024 * 1024,
        "Largest image or file passed from an agent to a Zalo customer (larger: sent as a link)",
        ge=1,
    )

    @property
    def zalo_enabled(self) -> bool:
        """A Zalo OA is configured: its webhook verifies and its replies can be sent."""
        return bool(self.zalo_app_id and self.zalo_oa_secret)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """``Settings(...)`` is what its caller says, never the environment of the machine
        that runs it (tests must not depend on a developer's shell); ``from_env`` reads it."""
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the environment (and ``.env``; ``environ``: that mapping instead); an empty
        variable takes the default. A bad value raises ``BadSettings`` naming every bad
        variable with what it accepts."""
        values = _read(cls, environ)
        # The local Direct Line enforces the token's user id itself.
        values.setdefault(
            "DIRECT_LINE_ENHANCED_AUTH",
            not values.get("MicrosoftAppId") and not values.get("DIRECT_LINE_SECRET"),
        )
        try:
            return cls(**values)
        except ValidationError as error:
            raise BadSettings(_problems(error, values)) from None

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Environment variable -> attribute, for every setting read from the environment."""
        return {variable(f): name for name, f in cls.model_fields.items() if variable(f)}

    @property
    def local_mode(self) -> bool:
        return not self.app_id

    @property
    def listen_host(self) -> str:
        """Unauthenticated local mode answers this machine only unless HOST says otherwise."""
        return self.host or ("127.0.0.1" if self.local_mode else "0.0.0.0")

    @property
    def allowed_tenants(self) -> frozenset[str]:
        """The configured tenants (empty: the one bound by the first setup)."""
        if self.allowed_tenant_ids:
            return self.allowed_tenant_ids
        return frozenset({self.app_tenant_id}) if self.app_tenant_id else frozenset()

    @property
    def auto_upgrade(self) -> bool:
        if self.db_auto_upgrade is not None:
            return self.db_auto_upgrade
        return self.database_url.startswith("sqlite")

    @property
    def local_direct_line(self) -> bool:
        """The bridge serves Direct Line itself: local mode with no real Direct Line secret."""
        return self.local_mode and not self.direct_line_secret


# -- reading, refusing, documenting -----------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One bad setting: the variable's name and why (with what it accepts)."""

    setting: str
    reason: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.reason}"


class BadSettings(ValueError):
    """The environment has bad values: the server does not start on them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class _Variables(EnvSettingsSource):
    """The model's variables from ``environ`` (empty ones left to their defaults)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        known = settings_variables(self.settings_cls)
        return {k: v for k, v in self._environ.items() if k in known and v.strip()}


def _read(cls: type[Settings], environ: Mapping[str, str] | None) -> dict[str, Any]:
    if environ is not None:
        return dict(_Variables(cls, environ)())
    # The process's environment wins over ``.env``, as python-dotenv does.
    found = dict(_Variables(cls, os.environ)())
    dotenv = DotEnvSettingsSource(cls, env_file=".env", env_ignore_empty=True)()
    known = settings_variables(cls)
    return {**{k: v for k, v in dotenv.items() if k in known}, **found}


def settings_variables(cls: type[BaseSettings] = Settings) -> frozenset[str]:
    return frozenset(v for f in cls.model_fields.values() if (v := variable(f)))


def variable(field: FieldInfo) -> str:
    """The environment variable of a field ("": a knob the code gives)."""
    return field.validation_alias if isinstance(field.validation_alias, str) else ""


def _problems(error: ValidationError, values: Mapping[str, Any]) -> list[Problem]:
    by_name = {name: variable(f) or name for name, f in Settings.model_fields.items()}
    problems = []
    for item in error.errors():
        if item["type"] == "default_factory_not_called" or not item["loc"]:
            continue  # a default made from a bad value: that value is named already
        name = str(item["loc"][0])
        shown = by_name.get(name, name)
        field = Settings.model_fields[Settings.variables().get(shown, name)]
        given = values.get(shown, item.get("input"))
        reason = str(item["msg"]).removeprefix("Value error, ")
        problems.append(Problem(shown, f"{given!r} refused ({reason}); accepts {accepts(field)}"))
    return problems


def _metadata(field: FieldInfo) -> Iterator[Any]:
    yield from field.metadata
    annotation = field.annotation
    if typing.get_origin(annotation) is Annotated:
        yield from annotation.__metadata__
        for inner in typing.get_args(annotation)[:1]:
            if typing.get_origin(inner) is Annotated:
                yield from inner.__metadata__


def _base(annotation: Any) -> Any:
    """The annotation without ``Annotated`` and without ``| None``."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def kind(field: FieldInfo) -> Accepts | None:
    """The ``Accepts`` a text field's type declares (None: any text)."""
    return next((m for m in _metadata(field) if isinstance(m, Accepts)), None)


def bounds(field: FieldInfo) -> dict[str, float]:
    """A number's range: ``ge``, ``gt``, ``le``, ``lt``, as declared."""
    found = {}
    for item in _metadata(field):
        for key in ("ge", "gt", "le", "lt"):
            if isinstance(item, getattr(annotated_types, key.capitalize())):
                found[key] = getattr(item, key)
    return found


def accepts(field: FieldInfo) -> str:
    """What a field accepts, in words: the same words for errors and for the README."""
    base = _base(field.annotation)
    if typing.get_origin(base) is Literal:
        return ", ".join(f"`{v}`" if v else "empty" for v in typing.get_args(base))
    if base is bool:
        return "`true` or `false`"
    if base in (int, float):
        symbols = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
        limits = [f"{symbols[k]} {v:g}" for k, v in bounds(field).items()]
        noun = "a whole number" if base is int else "a number"
        return " ".join([noun, ", ".join(limits)]).strip()
    if typing.get_origin(base) is frozenset:
        return "comma-separated list"
    found = kind(field)
    return found.words if found else "any text"


def _shown_default(field: FieldInfo) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if extra.get("shown"):
        return str(extra["shown"])
    value = field.default
    if value in ("", None, frozenset()):
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


@cache
def settings_table() -> str:
    """The README's configuration table, made from the model (a test holds them equal)."""
    rows = ["| variable | default | accepts | meaning |", "| --- | --- | --- | --- |"]
    for field in Settings.model_fields.values():
        if name := variable(field):
            meaning = field.description or ""
            rows.append(f"| `{name}` | {_shown_default(field)} | {accepts(field)} | {meaning} |")
    return "\n".join(rows) + "\n"
