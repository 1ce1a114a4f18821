"""Configuration from the environment (a ``.env`` file is read too)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from dotenv import load_dotenv

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/bridge.db"
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
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def parse_bool(raw: str) -> bool | None:
    """``true``/``false`` (and the usual spellings); empty: None (the default applies)."""
    word = raw.strip().lower()
    if not word:
        return None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{raw!r} is not true or false")


def _or(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _unless_off(name: str) -> bool:
    """A switch that is on unless set to 0/false/no/off."""
    return os.environ.get(name, "").strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """Every knob of the bridge. Empty ``app_id`` means local mode (Emulator and tests)."""

    app_id: str = ""
    app_password: str = ""
    app_type: str = "MultiTenant"
    app_tenant_id: str = ""
    database_url: str = DEFAULT_DATABASE_URL
    public_url: str = "http://localhost:3978"
    transcript_secret: str = ""
    transcript_ttl_days: float = 30.0
    default_language: str = "en"
    port: int = 3978
    allowed_service_hosts: frozenset[str] = field(
        default_factory=lambda: frozenset({"localhost", "127.0.0.1", "::1"})
    )
    max_body_bytes: int = 256 * 1024
    send_timeout: float = 15.0
    outbox_lease: float = 30.0
    connections_per_host: int = 64
    retry_base_delay: float = 0.5
    retry_max_delay: float = 60.0
    sweep_interval: float = 0.5
    backpressure_wait: float = 3.0
    flood_messages: int = 10
    flood_window: float = 10.0
    max_text_length: int = 4000
    timer_interval: float = 1.0
    offer_timeout: float = 120.0
    unanswered_seconds: float = 120.0
    max_open_chats: int = 0
    # Tenants whose Teams may act as agents (ALLOWED_TENANTS); empty: MicrosoftAppTenantId
    # when set, else the tenant of the first setup, stored.
    allowed_tenant_ids: frozenset[str] = frozenset()
    # Direct Line's enhanced authentication is on, so ``dl_`` user ids are token-bound.
    direct_line_enhanced_auth: bool = False
    # New chats that reach the room per minute, from one conversation and one channel.
    new_chats_per_conversation: int = 3
    new_chats_per_channel: int = 60
    # Where the server listens; empty: 127.0.0.1 in local mode, every interface otherwise.
    host: str = ""
    # A client that has not sent a whole request by then is cut (slow or idle).
    client_timeout: float = 15.0
    # How long the keys of handled activities are kept (re-deliveries come within minutes).
    inbound_retention_hours: float = 72.0
    # A delivery still failing after this long is given up, marked failed and logged.
    outbox_max_age_hours: float = 24.0
    failed_retention_days: float = 30.0
    # Bot Framework signing keys: how long a fetch may take, how long a failure is kept.
    signing_keys_timeout: float = 0.8
    signing_keys_failure_ttl: float = 30.0
    # Where the signing keys are published (empty: the Bot Framework's public cloud).
    openid_metadata_url: str = ""
    # None: upgrade by itself on SQLite (one process owns the file), never on PostgreSQL,
    # where replicas share the database and a deployment migrates once, before starting.
    db_auto_upgrade: bool | None = None
    log_format: str = "text"
    teams_app_name: str = "Support Bridge"
    teams_accent_color: str = "#2F6FDE"
    teams_developer_name: str = ""
    teams_app_version: str = ""
    metrics_token: str = ""
    privacy_url: str = ""
    terms_url: str = ""
    # The website front door (``web/``).
    direct_line_secret: str = ""
    direct_line_endpoint: str = DIRECT_LINE_ENDPOINT
    allowed_origins: frozenset[str] = frozenset()
    webchat_script_url: str = WEBCHAT_SCRIPT_URL
    # The pre-chat form: "offline" asks only when nobody is online (a contact to answer to).
    prechat_form: str = "offline"
    widget_color: str = WIDGET_COLOR
    widget_title: str = ""
    widget_greeting: str = ""
    token_rate_limit: int = 30  # token requests per client address and minute
    visitor_cookie_days: float = 365.0
    # How long the website keeps a visitor's conversation (history, resumed token).
    chat_remember_days: float = 7.0
    # The widget plays a short sound on an agent's reply while its panel is closed.
    widget_sound: bool = False
    # Pixels the widget's button sits above the page's bottom (above sticky buttons).
    widget_offset: int = 0
    # Photos and files a visitor may send: at most this size (the local Direct Line).
    upload_max_bytes: int = 4 * 1024 * 1024
    # "Chat on Zalo" (a Zalo Official Account's id) and "Chat on Messenger" (a page name).
    zalo_oa_id: str = ""
    messenger_page: str = ""
    # Ask customers to rate each chat when it closes.
    csat_enabled: bool = True
    # The team's time zone (IANA name, TIME_ZONE): transcripts and lists show local times.
    time_zone: str = "UTC"
    # AI help for agents through an OpenAI-compatible chat completions API (empty: off).
    # Azure OpenAI: the deployment's base URL (``https://<res>.openai.azure.com/openai/v1``).
    ai_base_url: str = ""
    ai_api_key: str = ""
    ai_model: str = ""
    ai_timeout: float = 20.0  # seconds a call may take before it is given up
    ai_mask_contacts: bool = True  # e-mail addresses and phone numbers masked before sending
    # Keys of the departments that have AI help (none by default: it is off everywhere).
    ai_departments: frozenset[str] = frozenset()
    ai_calls_per_chat: int = 20  # calls one chat may make
    ai_calls_per_day: int = 500  # calls one department may make per day (UTC)
    # Availability follows Teams presence read from Microsoft Graph (PRESENCE_SYNC=graph).
    presence_sync: str = ""
    presence_interval: float = 30.0
    graph_url: str = "https://graph.microsoft.com"
    # Where the app's Graph token comes from (empty: the tenant's Microsoft identity platform).
    graph_token_url: str = ""
    # Teams' documented limits, kept before every send instead of learnt from 429s:
    # sends/seconds per conversation (a reply thread, a chat; with ``pace_per_channel``
    # also a channel with all its threads) and per app in a tenant. Card updates and
    # notices leave ``pace_headroom`` of each window to customers' words.
    pace_deliveries: bool = True
    pace_thread_limits: str = "7/1,8/2,60/30,1800/3600"
    pace_tenant_limits: str = "50/1"
    pace_per_channel: bool = True
    pace_headroom: float = 0.25
    # Seconds added to every window of a thread: sends claimed in order may arrive a
    # little apart.
    pace_margin: float = 0.1
    # Lines of one author waiting in one lane go as one post up to this size (0: never).
    coalesce_bytes: int = 64_000
    # Zalo Official Account (its own channel, ``bot/channels/zalo.py``): the Zalo app's id
    # and secret key (OAuth), the OA's secret key (webhook signatures), the OA's id, and
    # the API's base URLs (tests point them at a fake).
    zalo_app_id: str = ""
    zalo_app_secret: str = ""
    zalo_oa_secret: str = ""
    zalo_api_url: str = ZALO_API_URL
    zalo_oauth_url: str = ZALO_OAUTH_URL
    # Largest file the bridge passes from an agent to a Zalo customer (Zalo's own limit).
    zalo_max_file_bytes: int = 5 * 1024 * 1024

    @property
    def zalo_enabled(self) -> bool:
        """A Zalo OA is configured: its webhook verifies and its replies can be sent."""
        return bool(self.zalo_app_id and self.zalo_oa_secret)

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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the environment (and ``.env``); a malformed number raises ValueError,
        which ``support-bridge check-config`` reports per variable."""
        if environ is None:
            load_dotenv()
            environ = os.environ
        env = environ.get

        def _float(name: str, default: float) -> float:
            raw = env(name, "")
            return float(raw) if raw.strip() else default

        hosts = env("ALLOWED_SERVICE_HOSTS", "")
        tenants = env("ALLOWED_TENANTS", "")
        defaults = cls()
        local = not env("MicrosoftAppId", "")
        prechat = env("PRECHAT_FORM", "").strip().lower()
        return cls(
            app_id=env("MicrosoftAppId", ""),
            app_password=env("MicrosoftAppPassword", ""),
            app_type=env("MicrosoftAppType", "") or defaults.app_type,
            app_tenant_id=env("MicrosoftAppTenantId", ""),
            database_url=env("DATABASE_URL", "") or DEFAULT_DATABASE_URL,
            public_url=(env("PUBLIC_URL", "") or f"http://localhost:{env('PORT', '3978')}"),
            transcript_secret=env("TRANSCRIPT_SECRET", ""),
            transcript_ttl_days=_float("TRANSCRIPT_TTL_DAYS", defaults.transcript_ttl_days),
            default_language=env("DEFAULT_LANGUAGE", "") or defaults.default_language,
            send_timeout=_float("SEND_TIMEOUT_SECONDS", defaults.send_timeout),
            outbox_lease=_float("OUTBOX_LEASE_SECONDS", defaults.outbox_lease),
            flood_messages=int(_float("FLOOD_MESSAGES", defaults.flood_messages)),
            flood_window=_float("FLOOD_WINDOW_SECONDS", defaults.flood_window),
            timer_interval=_float("TIMER_INTERVAL_SECONDS", defaults.timer_interval),
            offer_timeout=_float("TRANSFER_TIMEOUT_SECONDS", defaults.offer_timeout),
            unanswered_seconds=_float("UNANSWERED_SECONDS", defaults.unanswered_seconds),
            max_open_chats=int(_float("MAX_OPEN_CHATS", defaults.max_open_chats)),
            # The local Direct Line enforces the token's user id itself.
            direct_line_enhanced_auth=_or(
                parse_bool(env("DIRECT_LINE_ENHANCED_AUTH", "")),
                local and not env("DIRECT_LINE_SECRET", ""),
            ),
            new_chats_per_conversation=int(
                _float("NEW_CHATS_PER_CONVERSATION", defaults.new_chats_per_conversation)
            ),
            new_chats_per_channel=int(
                _float("NEW_CHATS_PER_CHANNEL", defaults.new_chats_per_channel)
            ),
            host=env("HOST", ""),
            client_timeout=_float("CLIENT_TIMEOUT_SECONDS", defaults.client_timeout),
            inbound_retention_hours=_float(
                "INBOUND_RETENTION_HOURS", defaults.inbound_retention_hours
            ),
            outbox_max_age_hours=_float("OUTBOX_MAX_AGE_HOURS", defaults.outbox_max_age_hours),
            failed_retention_days=_float("FAILED_RETENTION_DAYS", defaults.failed_retention_days),
            openid_metadata_url=env("BOT_OPENID_METADATA_URL", ""),
            port=int(env("PORT", "") or defaults.port),
            allowed_tenant_ids=frozenset(t.strip() for t in tenants.split(",") if t.strip()),
            allowed_service_hosts=(
                frozenset(h.strip().lower() for h in hosts.split(",") if h.strip())
                or defaults.allowed_service_hosts
            ),
            db_auto_upgrade=parse_bool(env("DB_AUTO_UPGRADE", "")),
            log_format=(env("LOG_FORMAT", "") or defaults.log_format).strip().lower(),
            teams_app_name=env("TEAMS_APP_NAME", "") or defaults.teams_app_name,
            teams_accent_color=env("TEAMS_ACCENT_COLOR", "") or defaults.teams_accent_color,
            teams_developer_name=env("TEAMS_DEVELOPER_NAME", ""),
            teams_app_version=env("TEAMS_APP_VERSION", ""),
            metrics_token=env("METRICS_TOKEN", ""),
            privacy_url=env("PRIVACY_URL", ""),
            terms_url=env("TERMS_URL", ""),
            direct_line_secret=env("DIRECT_LINE_SECRET", ""),
            direct_line_endpoint=(env("DIRECT_LINE_ENDPOINT", "") or DIRECT_LINE_ENDPOINT).rstrip(
                "/"
            ),
            allowed_origins=frozenset(
                o.strip().rstrip("/") for o in env("ALLOWED_ORIGINS", "").split(",") if o.strip()
            ),
            webchat_script_url=env("WEBCHAT_SCRIPT_URL", "") or WEBCHAT_SCRIPT_URL,
            prechat_form=prechat if prechat in PRECHAT_MODES else defaults.prechat_form,
            widget_color=env("WIDGET_COLOR", "") or defaults.widget_color,
            widget_title=env("WIDGET_TITLE", ""),
            widget_greeting=env("WIDGET_GREETING", ""),
            token_rate_limit=int(_float("TOKEN_RATE_LIMIT", defaults.token_rate_limit)),
            chat_remember_days=_float("CHAT_REMEMBER_DAYS", defaults.chat_remember_days),
            widget_sound=parse_bool(env("WIDGET_SOUND", "")) is True,
            widget_offset=int(_float("WIDGET_OFFSET", defaults.widget_offset)),
            upload_max_bytes=int(_float("UPLOAD_MAX_BYTES", defaults.upload_max_bytes)),
            zalo_oa_id=env("ZALO_OA_ID", "").strip(),
            messenger_page=env("MESSENGER_PAGE", "").strip(),
            csat_enabled=parse_bool(env("CSAT_ENABLED", "")) is not False,
            time_zone=env("TIME_ZONE", "").strip() or defaults.time_zone,
            ai_base_url=env("AI_BASE_URL", "").strip().rstrip("/"),
            ai_api_key=env("AI_API_KEY", "").strip(),
            ai_model=env("AI_MODEL", "").strip(),
            ai_timeout=_float("AI_TIMEOUT", defaults.ai_timeout),
            ai_mask_contacts=_unless_off("AI_MASK_CONTACTS"),
            ai_departments=frozenset(
                d.strip() for d in env("AI_DEPARTMENTS", "").split(",") if d.strip()
            ),
            ai_calls_per_chat=int(_float("AI_CALLS_PER_CHAT", defaults.ai_calls_per_chat)),
            ai_calls_per_day=int(_float("AI_CALLS_PER_DAY", defaults.ai_calls_per_day)),
            presence_sync=env("PRESENCE_SYNC", "").strip().lower(),
            presence_interval=_float("PRESENCE_INTERVAL_SECONDS", defaults.presence_interval),
            graph_url=env("GRAPH_URL", "").strip() or defaults.graph_url,
            graph_token_url=env("GRAPH_TOKEN_URL", "").strip(),
            pace_deliveries=_unless_off("PACE_DELIVERIES"),
            pace_thread_limits=env("PACE_THREAD_LIMITS", "") or defaults.pace_thread_limits,
            pace_tenant_limits=env("PACE_TENANT_LIMITS", "") or defaults.pace_tenant_limits,
            pace_per_channel=_unless_off("PACE_PER_CHANNEL"),
            pace_headroom=_float("PACE_HEADROOM", defaults.pace_headroom),
            pace_margin=_float("PACE_MARGIN_SECONDS", defaults.pace_margin),
            coalesce_bytes=int(_float("COALESCE_BYTES", defaults.coalesce_bytes)),
            zalo_app_id=env("ZALO_APP_ID", "").strip(),
            zalo_app_secret=env("ZALO_APP_SECRET", "").strip(),
            zalo_oa_secret=env("ZALO_OA_SECRET_KEY", "").strip(),
            zalo_api_url=(env("ZALO_API_URL", "").strip() or ZALO_API_URL).rstrip("/"),
            zalo_oauth_url=(env("ZALO_OAUTH_URL", "").strip() or ZALO_OAUTH_URL).rstrip("/"),
            zalo_max_file_bytes=int(
                _float("ZALO_MAX_FILE_BYTES", defaults.zalo_max_file_bytes)
            ),
        )
