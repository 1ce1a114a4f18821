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
PRECHAT_MODES = ("off", "optional", "required")
SMTP_TLS_MODES = ("none", "starttls", "tls")
WIDGET_COLOR = "#0b62a4"


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
    prechat_form: str = "optional"
    widget_color: str = WIDGET_COLOR
    widget_title: str = ""
    widget_greeting: str = ""
    token_rate_limit: int = 30  # token requests per client address and minute
    visitor_cookie_days: float = 365.0
    # Ask customers to rate each chat when it closes.
    csat_enabled: bool = True
    # The team's time zone (IANA name, TIME_ZONE): transcripts and lists show local times.
    time_zone: str = "UTC"
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
    # Replies by email to a customer who left (``bot/mail.py``); off while SMTP_HOST is empty.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_tls: str = "starttls"  # none, starttls or tls (implicit TLS, usually port 465)
    smtp_user: str = ""
    smtp_password: str = ""
    mail_from: str = ""
    # A web customer silent this long is "not connected": an agent's reply also goes by mail.
    email_after_minutes: float = 5.0
    # Replies of one absence written within this many seconds go in one mail.
    email_batch_seconds: float = 60.0

    @property
    def mail_enabled(self) -> bool:
        return bool(self.smtp_host)

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
            csat_enabled=parse_bool(env("CSAT_ENABLED", "")) is not False,
            time_zone=env("TIME_ZONE", "").strip() or defaults.time_zone,
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
            smtp_host=env("SMTP_HOST", "").strip(),
            smtp_port=int(_float("SMTP_PORT", defaults.smtp_port)),
            smtp_tls=(env("SMTP_TLS", "") or defaults.smtp_tls).strip().lower(),
            smtp_user=env("SMTP_USER", ""),
            smtp_password=env("SMTP_PASSWORD", ""),
            mail_from=env("MAIL_FROM", "").strip(),
            email_after_minutes=_float("EMAIL_AFTER_MINUTES", defaults.email_after_minutes),
            email_batch_seconds=_float("EMAIL_BATCH_SECONDS", defaults.email_batch_seconds),
        )
