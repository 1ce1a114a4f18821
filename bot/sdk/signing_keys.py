"""The Bot Framework's signing keys for inbound token validation, cached without ever
blocking the event loop (the SDK's own cache fetches with a blocking ``requests.get``).

It plugs into the SDK's ``JwtTokenExtractor``, so it belongs to the SDK seam.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _SigningKey:
    """One signing key as the SDK's token validation reads it (``public_key``,
    ``endorsements``): our own type, not the SDK's private one."""

    public_key: Any
    endorsements: list[str]


class _SigningKeys:
    """The Bot Framework's signing keys, fetched without ever blocking the event loop.

    The SDK's own cache fetches with a blocking ``requests.get`` (no time-out) on the
    event loop and forgets failures, so one forged token could freeze the server while
    the key endpoint hangs. Here a fetch runs on aiohttp in the background; a turn waits
    for it at most ``timeout`` seconds; a failure is remembered for ``failure_ttl``
    seconds (tokens are refused at once meanwhile); keys older than ``refresh_after``
    are refreshed in the background while still in use.

    The SDK's validation only calls ``get(key_id)`` on it, so it is a class of its own
    rather than a subclass of the SDK's private cache class.
    """

    timeout = 0.8
    failure_ttl = 30.0
    refresh_after = 12 * 3600.0
    max_age = 24 * 3600.0
    unknown_key_retry = 300.0

    def __init__(self, url: str) -> None:
        self.url = url
        self.keys: list[Any] = []
        self._fetched_at = -math.inf
        self._failed_at = -math.inf
        self._tried_at = -math.inf
        self._download: asyncio.Task[None] | None = None

    async def get(self, key_id: str) -> _SigningKey:
        now = time.monotonic()
        if self.keys and now - self._fetched_at < self.max_age:
            if now - self._fetched_at > self.refresh_after:
                self._start()
            found = self._key(key_id)
            if found is None and now - self._tried_at > self.unknown_key_retry:
                await self._wait()  # keys may have rolled over since the last fetch
                found = self._key(key_id)
        else:
            await self._wait()
            found = self._key(key_id)
        if found is None:
            raise PermissionError("the token's signing key is not one of the Bot Framework's")
        return found

    def _key(self, key_id: str) -> _SigningKey | None:
        for key in self.keys:
            if isinstance(key, dict) and key.get("kid") == key_id:
                return _SigningKey(
                    RSAAlgorithm.from_jwk(json.dumps(key)), key.get("endorsements", [])
                )
        return None

    def _start(self) -> asyncio.Task[None]:
        running = self._download
        if (
            running is None
            or running.done()
            or running.get_loop() is not asyncio.get_running_loop()
        ):
            self._tried_at = time.monotonic()
            running = asyncio.get_running_loop().create_task(self._fetch())
            self._download = running
        return running

    async def _wait(self) -> None:
        if time.monotonic() - self._failed_at < self.failure_ttl:
            raise PermissionError("the signing keys could not be fetched recently")
        try:
            await asyncio.wait_for(asyncio.shield(self._start()), self.timeout)
        except Exception as error:
            self._failed_at = time.monotonic()
            log.warning("signing keys from %s unavailable: %r", self.url, error)
            raise PermissionError("the signing keys could not be fetched") from error

    async def _fetch(self) -> None:
        limit = aiohttp.ClientTimeout(total=10 * self.timeout + 5)
        async with aiohttp.ClientSession(timeout=limit) as session:
            async with session.get(self.url) as response:
                response.raise_for_status()
                keys_url = (await response.json(content_type=None))["jwks_uri"]
            async with session.get(keys_url) as response:
                response.raise_for_status()
                keys = (await response.json(content_type=None))["keys"]
        if not isinstance(keys, list):
            raise ValueError("the key set has no list of keys")
        self.keys = keys
        self._fetched_at = time.monotonic()


def _signing_keys(metadata_url: str) -> _SigningKeys:
    """Replaces ``JwtTokenExtractor.get_open_id_metadata``: one non-blocking key cache per
    endpoint, in the SDK's own cache dict."""
    cache = JwtTokenExtractor.metadataCache
    found = cache.get(metadata_url)
    if not isinstance(found, _SigningKeys):
        found = cache[metadata_url] = _SigningKeys(metadata_url)
    return found


def use_non_blocking_signing_keys(timeout: float, failure_ttl: float) -> None:
    """Make the SDK's token validation use :class:`_SigningKeys` (process-wide: the SDK
    keeps its key cache on a class)."""
    _SigningKeys.timeout = timeout
    _SigningKeys.failure_ttl = failure_ttl
    JwtTokenExtractor.get_open_id_metadata = staticmethod(_signing_keys)
