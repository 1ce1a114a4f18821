"""A real SMTP server for the tests (aiosmtpd, in the test's own event loop, on 127.0.0.1
and a port the system picks) that keeps every mail it accepts, and can be told to
refuse the next ones for a while or for good."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP


class Mailbox:
    """What the server accepted, and what it answers next."""

    def __init__(self) -> None:
        self.port = 0
        self.mails: list[EmailMessage] = []
        # Answers to give to the next DATA commands instead of accepting (e.g. "451 ...").
        self.refusals: list[str] = []
        self.refuse_all: str | None = None
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = self.refuse_all or (self.refusals.pop(0) if self.refusals else None)
        if answer is not None:
            self.refused += 1
            return answer
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(parsed)
        return "250 OK"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:  # noqa: ASYNC109
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.mails) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(self.mails)} mails arrived, {count} expected")
            await asyncio.sleep(0.02)
        return self.mails

    @staticmethod
    def body(mail: EmailMessage) -> str:
        part = mail.get_body(("plain",))
        assert part is not None
        return part.get_content()


@asynccontextmanager
async def smtp_server() -> AsyncIterator[Mailbox]:
    mailbox = Mailbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(mailbox, enable_SMTPUTF8=True, hostname="mail.test"), "127.0.0.1", 0
    )
    mailbox.port = server.sockets[0].getsockname()[1]
    try:
        yield mailbox
    finally:
        server.close()
        await server.wait_closed()
