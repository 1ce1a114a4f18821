"""``support-bridge zalo connect``: the OA administrator authorizes the bridge's Zalo app
(OAuth v4 with PKCE), and the first access and refresh tokens are stored in the database,
where every replica reads and renews them (``store/tokens.py``).

The administrator opens the printed link, signs in as the OA's admin and allows the
app; Zalo then sends the browser to the app's callback address with ``code=...``. That
address (or the code alone) is pasted back here; the code is exchanged with the
verifier only this process knows, so a code seen elsewhere is worth nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bot.channels.zalo import ZaloConfig, authorization_url, oauth_pair, pkce_pair
from bot.sdk import DeliveryError
from bot.settings import Settings
from store import Store, migrate, tokens
from store.channels import ZALO
from store.core import utc_now
from store.engine import create_engine
from store.tokens import TokenPair


class ConnectFailed(Exception):
    """What went wrong, said to the administrator."""


def code_of(pasted: str, state: str) -> str:
    """The authorization code from the pasted callback address (or the code itself); an
    address whose ``state`` is not this run's is refused."""
    pasted = pasted.strip()
    if "code=" not in pasted:
        if not pasted:
            raise ConnectFailed("nothing was pasted")
        return pasted
    query = parse_qs(urlsplit(pasted).query or pasted)
    if query.get("state", [state])[0] != state:
        raise ConnectFailed("the address is from another authorization (its state differs)")
    code = query.get("code", [""])[0]
    if not code:
        raise ConnectFailed("the address has no code")
    return code


async def connect(
    settings: Settings,
    ask: Callable[[str], str],
    say: Callable[[str], None],
    redirect_uri: str,
) -> TokenPair:
    """Walk the administrator through the authorization and store the first pair."""
    if not settings.zalo_app_id or not settings.zalo_app_secret:
        raise ConnectFailed("set ZALO_APP_ID and ZALO_APP_SECRET first")
    config = ZaloConfig.of(settings)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(12)
    say("1. Open this address, sign in as the Official Account's administrator and allow:")
    say(f"   {authorization_url(config, redirect_uri, challenge, state)}")
    say(f"2. Zalo then opens {redirect_uri}?code=...: copy that whole address.")
    code = code_of(ask("3. Paste it here: "), state)
    form = {
        "code": code,
        "app_id": config.app_id,
        "grant_type": "authorization_code",
        "code_verifier": verifier,
    }
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        try:
            pair = await oauth_pair(session, config, form, utc_now())
        except DeliveryError as error:
            raise ConnectFailed(f"Zalo did not give tokens: {error}") from error
    engine = create_engine(settings.database_url)
    try:
        await migrate.prepare(engine, settings.auto_upgrade)
        async with Store(engine).unit() as tx:
            await tokens.do_connect(tx, ZALO, pair)
    finally:
        await engine.dispose()
    say("Connected: the Official Account's tokens are stored; the bridge renews them itself.")
    return pair
