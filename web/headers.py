"""The security headers of every page the bridge renders, set in one place.

A page says to the browser what it may load (Content-Security-Policy), that it sends no
``Referer`` to another site (a transcript link's token stays out of other sites' logs),
who may frame it, and not to guess content types. The transcript page and the console load
nothing third party, so a customer never learns when, or from where, an agent reads.
"""

from __future__ import annotations

from aiohttp import web

# The console: its own scripts, styles, pictures and event stream; frames only itself
# (its chat page shows the transcript in a frame).
CONSOLE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)


def secure(
    response: web.StreamResponse,
    policy: str,
    *,
    frame_options: str | None = "DENY",
    referrer: str = "no-referrer",
) -> web.StreamResponse:
    """Set the page's policy and the headers every page has; ``frame_options``: the
    legacy ``X-Frame-Options`` (None where other origins may frame the page, which only
    the policy's ``frame-ancestors`` can say); ``referrer``: ``same-origin`` on pages
    that post forms or fetch to the bridge (under ``no-referrer`` browsers send
    ``Origin: null``, which the bridge's origin checks rightly refuse), which also sends
    nothing to another site."""
    response.headers["Content-Security-Policy"] = policy
    response.headers["Referrer-Policy"] = referrer
    response.headers["X-Content-Type-Options"] = "nosniff"
    if frame_options:
        response.headers["X-Frame-Options"] = frame_options
    return response
