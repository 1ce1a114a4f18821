"""The Teams app package from ``support-bridge teams-package``: valid against the schema it
declares (the offline copy in the npm package ``@microsoft/app-manifest``, which
``.ci/run`` installs), with the RSC consent, both languages and icons Teams accepts."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from PIL import Image

from bot import cli
from bot.teams_package import RSC_PERMISSION, initials
from dialogs.extension import SEARCH_COMMAND
from dialogs.table import MENU, WORDS

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "build/npm/node_modules/@microsoft/app-manifest/build/json-schemas/teams"
INSTALL = "npm install --prefix build/npm @microsoft/app-manifest@1.1.2"
APP_ID = "0c6a3b2e-1234-4abc-9def-0123456789ab"
ENVIRONMENT = {
    "MicrosoftAppId": APP_ID,
    "MicrosoftAppPassword": "secret",
    "PUBLIC_URL": "https://support.example.vn",
    "TEAMS_APP_NAME": "Hỗ trợ khách hàng",
    "TEAMS_ACCENT_COLOR": "#0A7D5A",
}


@pytest.fixture
def package(environment: Callable[..., None], tmp_path: Path) -> dict[str, bytes]:
    environment(**ENVIRONMENT)
    out = tmp_path / "out" / "support-bridge.zip"
    assert cli.main(["teams-package", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _validator(schema_url: str) -> Draft4Validator:
    """The schema a file names in ``$schema``, read from the offline copy."""
    version, name = schema_url.split("/")[-2:]
    path = SCHEMAS / version / name
    assert path.exists(), f"the Teams schemas are missing: run `{INSTALL}` (in .ci/run)"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def _valid(document: dict[str, Any]) -> None:
    errors = sorted(_validator(document["$schema"]).iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_package_is_valid_against_the_schema_it_declares(package: dict[str, bytes]) -> None:
    assert set(package) == {"manifest.json", "en.json", "vi.json", "color.png", "outline.png"}
    manifest = json.loads(package["manifest.json"])
    version = manifest["manifestVersion"]
    assert manifest["$schema"].endswith(f"/v{version}/MicrosoftTeams.schema.json")
    assert tuple(int(n) for n in manifest["manifestVersion"].split(".")) >= (1, 12)
    _valid(manifest)
    for language in ("en", "vi"):
        _valid(json.loads(package[f"{language}.json"]))


def test_the_manifest_asks_for_channel_messages_without_a_mention(
    package: dict[str, bytes],
) -> None:
    manifest = json.loads(package["manifest.json"])
    assert manifest["id"] == APP_ID
    # RSC on manifests 1.12 and later needs webApplicationInfo beside the permission.
    assert manifest["webApplicationInfo"] == {"id": APP_ID, "resource": f"api://botid-{APP_ID}"}
    assert manifest["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": RSC_PERMISSION, "type": "Application"}
    ]
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID and bot["scopes"] == ["team", "personal"]
    [commands] = bot["commandLists"]
    assert [c["title"] for c in commands["commands"]] == list(MENU)
    [extension] = manifest["composeExtensions"]
    assert extension["botId"] == APP_ID
    assert [c["id"] for c in extension["commands"]] == [SEARCH_COMMAND]
    assert manifest["validDomains"] == ["support.example.vn"]
    assert manifest["accentColor"] == "#0A7D5A"
    assert manifest["name"]["short"] == "Hỗ trợ khách hàng"


def test_both_languages_translate_the_same_strings(package: dict[str, bytes]) -> None:
    manifest = json.loads(package["manifest.json"])
    info = manifest["localizationInfo"]
    assert info["defaultLanguageFile"] == "en.json"
    assert info["additionalLanguages"] == [{"languageTag": "vi", "file": "vi.json"}]
    english, vietnamese = (json.loads(package[f"{n}.json"]) for n in ("en", "vi"))
    assert english.keys() == vietnamese.keys()
    assert english["description.short"] == manifest["description"]["short"]
    assert english["description.full"] != vietnamese["description.full"]
    assert vietnamese["composeExtensions[0].commands[0].title"] == "Câu trả lời mẫu"


def test_the_icons_have_the_sizes_and_colours_teams_wants(package: dict[str, bytes]) -> None:
    color = Image.open(io.BytesIO(package["color.png"])).convert("RGBA")
    assert color.size == (192, 192)
    assert color.getpixel((0, 0)) == (0x0A, 0x7D, 0x5A, 255)
    assert color.getchannel("A").getextrema() == (255, 255), "the colour icon is opaque"
    outline = Image.open(io.BytesIO(package["outline.png"]))
    assert outline.size == (32, 32) and outline.mode == "RGBA"
    raw = outline.tobytes()
    pixels = [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]
    drawn = [p for p in pixels if p[3] > 0]
    assert drawn and len(drawn) < len(pixels) / 2, "initials drawn on a transparent ground"
    assert all(p[:3] == (255, 255, 255) for p in drawn), "only white is drawn"
    assert all(outline.getpixel(corner)[3] == 0 for corner in ((0, 0), (31, 0), (0, 31), (31, 31)))
    assert initials("Hỗ trợ khách hàng") == "HT" and initials("Acme") == "AC"
    # The font has no Vietnamese marks: letters are drawn without them, never as boxes.
    assert initials("Đội ứng cứu") == "DU" and initials("客服") == "SB"


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"PUBLIC_URL": "https://support.example.vn"}, "MicrosoftAppId is empty"),
        ({"MicrosoftAppId": APP_ID}, "PUBLIC_URL 'http://localhost:3978' is not a public https"),
        ({"MicrosoftAppId": APP_ID, "PUBLIC_URL": "http://support.example.vn"}, "not a public"),
    ],
)
def test_the_package_is_refused_without_app_id_or_public_url(
    environment: Callable[..., None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    values: dict[str, str],
    reason: str,
) -> None:
    environment(**values)
    assert cli.main(["teams-package", "--out", str(tmp_path / "p.zip")]) == 2
    assert reason in capsys.readouterr().err
    assert not (tmp_path / "p.zip").exists()


def test_the_command_menu_is_the_command_tables() -> None:
    """The menu offers commands the bridge runs (``dialogs/table.py``), ten at most."""
    assert set(MENU) <= WORDS and len(MENU) <= 10
