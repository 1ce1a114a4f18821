"""``support-bridge check-config`` and ``db``: each bad setting named with its reason, and
the schema commands an administrator runs before starting the server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app import create_app
from bot import cli
from bot.config_check import check_config
from bot.settings import Settings

APP_ID = "0c6a3b2e-1234-4abc-9def-0123456789ab"
PRODUCTION = {
    "MicrosoftAppId": APP_ID,
    "MicrosoftAppPassword": "secret",
    "MicrosoftAppType": "MultiTenant",
    "PUBLIC_URL": "https://support.example.vn",
    "ALLOWED_TENANTS": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "METRICS_TOKEN": "scrape-me",
}
# A port nothing listens on: the connection is refused at once.
UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/bridge"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/config.db"


async def test_a_good_configuration_passes(sqlite_url: str) -> None:
    assert await check_config({**PRODUCTION, "DATABASE_URL": sqlite_url}) == []
    assert await check_config({"DATABASE_URL": sqlite_url}) == [], "local mode needs nothing"


@pytest.mark.parametrize(
    ("changes", "setting", "reason"),
    [
        ({"MicrosoftAppType": "Multitenant"}, "MicrosoftAppType", "accepts `MultiTenant`"),
        ({"MicrosoftAppType": "SingleTenant"}, "MicrosoftAppTenantId", "SingleTenant needs"),
        ({"MicrosoftAppType": "UserAssignedMSI"}, "MicrosoftAppTenantId", "needs the tenant"),
        ({"MicrosoftAppPassword": ""}, "MicrosoftAppPassword", "needs the secret"),
        ({"ALLOWED_TENANTS": ""}, "ALLOWED_TENANTS", "every `@Bot setup` is refused"),
        ({"MicrosoftAppId": "my-bot"}, "MicrosoftAppId", "is not a GUID"),
        ({"PUBLIC_URL": "http://support.example.vn"}, "PUBLIC_URL", "must be https"),
        ({"PUBLIC_URL": "support.example.vn"}, "PUBLIC_URL", "not an http(s) URL"),
        ({"DATABASE_URL": UNREACHABLE}, "DATABASE_URL", "unreachable"),
        ({"DATABASE_URL": "mysql://db/bridge"}, "DATABASE_URL", "postgresql+asyncpg"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL", "is not a database URL"),
        ({"DEFAULT_LANGUAGE": "fr"}, "DEFAULT_LANGUAGE", "'fr' refused"),
        ({"PORT": "http"}, "PORT", "accepts a whole number"),
        ({"PORT": "0"}, "PORT", "≥ 1"),
        ({"SEND_TIMEOUT_SECONDS": "soon"}, "SEND_TIMEOUT_SECONDS", "accepts a number"),
        ({"MAX_OPEN_CHATS": "-1"}, "MAX_OPEN_CHATS", "≥ 0"),
        ({"DB_AUTO_UPGRADE": "maybe"}, "DB_AUTO_UPGRADE", "`true` or `false`"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT", "`text`, `json`"),
        ({"TRANSCRIPT_SECRET": "short"}, "TRANSCRIPT_SECRET", "32 characters or more"),
        ({"TEAMS_ACCENT_COLOR": "blue"}, "TEAMS_ACCENT_COLOR", "is not #RRGGBB"),
        ({"TEAMS_APP_NAME": "x" * 31}, "TEAMS_APP_NAME", "1 to 30 characters"),
        ({"PRIVACY_URL": "http://example.vn/p"}, "PRIVACY_URL", "is not an https URL"),
        ({"TEAMS_APP_VERSION": "v2"}, "TEAMS_APP_VERSION", "is not like 1.2.3"),
        ({"ZALO_API_URL": "http://openapi.zalo.me"}, "ZALO_API_URL", "not an https URL"),
        (
            {"ZALO_APP_ID": "123", "ZALO_OA_SECRET_KEY": "s"},
            "ZALO_APP_SECRET",
            "the OA needs all three",
        ),
        (
            {
                "FIRST_BOT_SECRET": "s",
                "FIRST_BOT_TIMEOUT_SECONDS": "2",
                "TIMER_INTERVAL_SECONDS": "5",
            },
            "FIRST_BOT_TIMEOUT_SECONDS",
            "shorter than TIMER_INTERVAL_SECONDS",
        ),
    ],
)
async def test_each_bad_setting_is_named_with_its_reason(
    sqlite_url: str, changes: dict[str, str], setting: str, reason: str
) -> None:
    problems = await check_config({**PRODUCTION, "DATABASE_URL": sqlite_url, **changes})
    assert [p.setting for p in problems] == [setting], problems
    assert reason in problems[0].reason


async def test_a_postgresql_database_behind_the_code_is_a_problem(sqlite_url: str) -> None:
    """Without DB_AUTO_UPGRADE (the default off SQLite), an old schema would stop the start."""
    problems = await check_config({"DATABASE_URL": sqlite_url, "DB_AUTO_UPGRADE": "false"})
    assert [p.setting for p in problems] == ["DATABASE_URL"]
    assert "support-bridge db upgrade" in problems[0].reason


def test_check_config_prints_every_problem_and_fails(
    environment: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    environment(
        MicrosoftAppId=APP_ID,
        MicrosoftAppType="SingleTenant",
        PUBLIC_URL="http://support.example.vn",
        DATABASE_URL=UNREACHABLE,
    )
    assert cli.main(["check-config"]) == 1
    out = capsys.readouterr().out
    for setting in ("MicrosoftAppPassword", "MicrosoftAppTenantId", "PUBLIC_URL", "DATABASE_URL"):
        assert f"bad  {setting}:" in out
    assert "4 setting(s) to fix" in out


def test_db_current_and_upgrade(
    environment: Callable[..., None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environment(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    assert cli.main(["db", "current"]) == 1
    assert "support-bridge db upgrade" in capsys.readouterr().out
    assert cli.main(["db", "upgrade"]) == 0
    assert cli.main(["db", "current"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_an_unknown_tenant_and_closed_metrics_are_said_loudly(
    environment: Callable[..., None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Issue 23 (6, 10): with an app id, no tenant is a fault (setup would bind nothing);
    no METRICS_TOKEN is a note (/metrics is refused), and the exit code ignores notes."""
    environment(**{**PRODUCTION, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db"})
    environment(ALLOWED_TENANTS="", METRICS_TOKEN="")
    assert cli.main(["check-config"]) == 1
    out = capsys.readouterr().out
    assert "bad  ALLOWED_TENANTS: empty, and so is MicrosoftAppTenantId" in out
    assert "note METRICS_TOKEN: empty, so /metrics is refused (403)" in out
    assert "1 setting(s) to fix" in out
    # The Teams package is made from the same settings: it says so too.
    assert cli.main(["teams-package", "--out", str(tmp_path / "p.zip")]) == 0
    assert "warning: ALLOWED_TENANTS: empty" in capsys.readouterr().err
    environment(MicrosoftAppTenantId="72f988bf-86f1-41af-91ab-2d7cd011db47")
    assert cli.main(["check-config"]) == 0
    assert "note METRICS_TOKEN" in capsys.readouterr().out


def test_the_start_up_log_says_it_too(caplog: pytest.LogCaptureFixture) -> None:
    create_app(Settings(app_id=APP_ID, app_password="secret"))
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("ALLOWED_TENANTS: empty" in line for line in said), said
    assert any("METRICS_TOKEN: empty" in line for line in said), said
    caplog.clear()
    create_app(Settings(app_id=APP_ID, app_tenant_id="t", metrics_token="m"))
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
