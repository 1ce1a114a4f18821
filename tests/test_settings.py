"""The settings are one typed model: every variable refuses a wrong value by its name and
what it accepts (at start and in ``support-bridge check-config``), and the README's table
is the model's."""

from __future__ import annotations

import subprocess
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest
from pydantic.fields import FieldInfo

from bot import cli
from bot.settings import (
    BadSettings,
    Settings,
    accepts,
    bounds,
    kind,
    settings_table,
    variable,
)

ROOT = Path(__file__).resolve().parent.parent
FIELDS = {variable(f): f for f in Settings.model_fields.values() if variable(f)}


def _plain(field: FieldInfo) -> object:
    annotation = field.annotation
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if typing.get_origin(annotation) is not Literal and args else annotation


def wrong_values(field: FieldInfo) -> list[str]:
    """Values the variable must refuse, from its type and range alone: a new setting is
    tried without anyone listing it here."""
    base = _plain(field)
    if typing.get_origin(base) is Literal:
        return ["sometimes"]
    if base is bool:
        return ["maybe"]
    if base in (int, float):
        wrong = ["abc" if base is int else "soon"]
        limits = bounds(field)
        if "ge" in limits or "gt" in limits:
            low = limits.get("ge", limits.get("gt", 0))
            wrong.append(str(low - 1 if "ge" in limits else low))
        if "le" in limits or "lt" in limits:
            high = limits.get("le", limits.get("lt", 0))
            wrong.append(str(high + 1 if "le" in limits else high))
        return wrong
    found = kind(field)
    return [found.refused] if found else []


FREE = sorted(name for name, field in FIELDS.items() if not wrong_values(field))
CHECKED = sorted(name for name in FIELDS if name not in FREE)
WRONG = [(name, value) for name in CHECKED for value in wrong_values(FIELDS[name])]


def test_the_readme_table_is_the_models() -> None:
    """`support-bridge settings-table` printed into the README: edit the model, then paste."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- settings-table")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- /settings-table -->")
    assert readme[start:end] == settings_table(), "run `support-bridge settings-table`"


def test_free_text_settings_take_any_text() -> None:
    """What is not tried below has no format: any text is a value (secrets, names, hosts)."""
    assert set(FREE) <= {n for n, f in FIELDS.items() if accepts(f).endswith(("text", "list"))}
    odd = "ổn, ; đâu/ #1 x"
    settings = Settings.from_env(dict.fromkeys(FREE, odd))
    for name in FREE:
        assert getattr(settings, Settings.variables()[name]), name


@pytest.mark.parametrize(("name", "value"), WRONG)
def test_a_wrong_value_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(BadSettings) as refused:
        Settings.from_env({name: value})
    [problem] = refused.value.problems
    assert problem.setting == name
    assert repr(value) in problem.reason
    assert accepts(FIELDS[name]) in problem.reason


@pytest.mark.parametrize("name", CHECKED)
def test_check_config_names_each_wrong_variable(
    name: str,
    environment: Callable[..., None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    environment(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/config.db")
    environment(**{name: wrong_values(FIELDS[name])[0]})
    assert cli.main(["check-config"]) == 1
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("bad ")] == [
        f"bad  {name}"
    ]
    assert accepts(FIELDS[name]) in out


def test_the_documented_cases() -> None:
    """The issue's two: a rate limit that is not a number is named; an unknown pre-chat
    mode is refused, not silently taken as ``optional``."""
    with pytest.raises(BadSettings, match="TOKEN_RATE_LIMIT: 'abc'"):
        Settings.from_env({"TOKEN_RATE_LIMIT": "abc"})
    with pytest.raises(BadSettings, match=r"PRECHAT_FORM: 'sometimes'.*`optional`"):
        Settings.from_env({"PRECHAT_FORM": "sometimes"})
    assert Settings.from_env({"PRECHAT_FORM": " Required "}).prechat_form == "required"


def test_a_bad_value_stops_the_start_without_a_traceback(tmp_path: Path) -> None:
    """The real command, as an administrator runs it: the names, no Python traceback."""
    env = {"PATH": "", "TOKEN_RATE_LIMIT": "abc", "PRECHAT_FORM": "sometimes"}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/config.db"
    for command, code in (("check-config", 1), ("run", 2)):
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", command],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == code, done
        shown = done.stdout + done.stderr
        assert "TOKEN_RATE_LIMIT" in shown and "PRECHAT_FORM" in shown
        assert "Traceback" not in shown


def test_settings_take_attributes_by_name_and_variables_by_env() -> None:
    """Code and tests build ``Settings(attribute=...)``; the machine's environment never
    leaks into it, and ``from_env`` reads the variables (empty: the default)."""
    assert Settings(port=8080, app_id="").port == 8080
    environ = {"PORT": "8080", "ALLOWED_TENANTS": " a , b,", "MicrosoftAppType": ""}
    settings = Settings.from_env(environ)
    assert (settings.port, settings.public_url) == (8080, "http://localhost:8080")
    assert settings.allowed_tenant_ids == frozenset({"a", "b"})
    assert settings.app_type == "MultiTenant"
    assert Settings.from_env({}).direct_line_enhanced_auth, "the local Direct Line binds ids"
    assert not Settings.from_env({"DIRECT_LINE_SECRET": "s"}).direct_line_enhanced_auth
    assert not Settings().direct_line_enhanced_auth
