"""Configuration from the environment (a ``.env`` file is read too)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dotenv import load_dotenv

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/bridge.db"
DIRECT_LINE_ENDPOINT = "https://directline.botframework.com/v3/directline"
WEBCHAT_VERSION = "4.18.1"
WEBCHAT_SCRIPT_URL = (
    f"https://cdn.botframework.com/botframework-webchat/{WEBCHAT_VERSION}/webchat.js"
)
PRECHAT_MODES = ("off", "optional", "required")
WIDGET_COLOR = "#0b62a4"


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw.strip() else default


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return raw in ("1", "true", "yes", "on") if raw else default


def _set(name: str) -> frozenset[str]:
    return frozenset(v.strip() for v in os.environ.get(name, "").split(",") if v.strip())


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
    # Where to listen; local mode defaults to loopback only (see ``from_env``).
    host: str = "127.0.0.1"
    # The website front door (``web/``).
    direct_line_secret: str = ""
    direct_line_endpoint: str = DIRECT_LINE_ENDPOINT
    # True when Azure's Direct Line enforces the user id bound in a token ("Enhanced
    # authentication options"); only then is a ``dl_`` id proof of a returning visitor.
    direct_line_enhanced_auth: bool = False
    allowed_origins: frozenset[str] = frozenset()
    webchat_script_url: str = WEBCHAT_SCRIPT_URL
    prechat_form: str = "optional"
    widget_color: str = WIDGET_COLOR
    widget_title: str = ""
    widget_greeting: str = ""
    token_rate_limit: int = 30  # token requests per client address and minute
    visitor_cookie_days: float = 365.0

    @property
    def local_mode(self) -> bool:
        return not self.app_id

    @property
    def local_direct_line(self) -> bool:
        """The bridge serves Direct Line itself: local mode with no real Direct Line secret."""
        return self.local_mode and not self.direct_line_secret

    @classmethod
    def from_env(cls) -> Settings:
        load_dotenv()
        env = os.environ.get
        hosts = env("ALLOWED_SERVICE_HOSTS", "")
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
            port=int(env("PORT", "") or defaults.port),
            allowed_service_hosts=(
                frozenset(h.strip().lower() for h in hosts.split(",") if h.strip())
                or defaults.allowed_service_hosts
            ),
            host=env("HOST", "") or ("127.0.0.1" if local else "0.0.0.0"),
            direct_line_secret=env("DIRECT_LINE_SECRET", ""),
            direct_line_endpoint=(env("DIRECT_LINE_ENDPOINT", "") or DIRECT_LINE_ENDPOINT).rstrip(
                "/"
            ),
            # The local Direct Line enforces the token's user id itself.
            direct_line_enhanced_auth=_flag(
                "DIRECT_LINE_ENHANCED_AUTH", local and not env("DIRECT_LINE_SECRET", "")
            ),
            allowed_origins=frozenset(o.rstrip("/") for o in _set("ALLOWED_ORIGINS")),
            webchat_script_url=env("WEBCHAT_SCRIPT_URL", "") or WEBCHAT_SCRIPT_URL,
            prechat_form=prechat if prechat in PRECHAT_MODES else defaults.prechat_form,
            widget_color=env("WIDGET_COLOR", "") or defaults.widget_color,
            widget_title=env("WIDGET_TITLE", ""),
            widget_greeting=env("WIDGET_GREETING", ""),
            token_rate_limit=int(_float("TOKEN_RATE_LIMIT", defaults.token_rate_limit)),
        )
