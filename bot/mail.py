"""Mail to customers: an agent's replies to a customer who left, and a chat's transcript.

The dispatcher hands each ``email`` outbox row here instead of to a connector. What the
mail carries is read from the transcript when it is sent (``store/mail.py``), then the
last line mailed is kept, so that a reply is in the conversation and in one mail: a
retry after a failed send carries the same lines, a mail with nothing new is not sent.
A mail the SMTP server refuses for good (a 5xx) is logged, marked failed, and the
agents are told in the chat's thread; a server that cannot be reached is tried again
with the outbox's back-off, and given up (and told) after ``OUTBOX_MAX_AGE_HOURS``.
A crash between the server's "250" and the mark can still send one mail twice (the
outbox is at least once); its ``Message-ID`` is the same both times, so a mail client
that folds duplicates shows one.
"""

from __future__ import annotations

import logging
import ssl
from email.message import EmailMessage
from email.utils import formataddr

import aiosmtplib

from bot.sdk import DeliveryError
from bot.settings import Settings
from bot.transcript import TranscriptLinks
from cards.markdown import message_text
from cards.times import local_time
from dialogs.i18n import Texts, department_name, pick_language
from dialogs.replies import text_activity, to_thread
from store import Store
from store.mail import MailContent, do_mark_mailed, mail_content
from store.models import MessageKind, OutboxItem
from store.vocabulary import Email, MailPurpose, read_payload

log = logging.getLogger(__name__)

# Not a connector status: the HTTP meaning of "refused for good" (a 4xx is never retried).
REFUSED = 422


def _one_line(value: str) -> str:
    """A header's value on one line (a department's name could hold a line break)."""
    return " ".join(value.split())


class Mailer:
    """Sends the outbox's mails through one SMTP server (``SMTP_*``, ``MAIL_FROM``)."""

    def __init__(self, store: Store, settings: Settings, links: TranscriptLinks) -> None:
        self._store = store
        self._settings = settings
        self._links = links

    @property
    def enabled(self) -> bool:
        return self._settings.mail_enabled

    def compose(self, content: MailContent, purpose: str) -> EmailMessage:
        """The mail, in the customer's language, as plain text (nothing in it is markup)."""
        t = Texts(pick_language(content.locale, self._settings.default_language))
        department = department_name(content.department, content.department_names, t)
        zone = self._settings.time_zone

        def said(kind: MessageKind, author: str) -> str:
            if kind == MessageKind.INCOMING:
                return t("mail.you")
            if kind == MessageKind.BOT:
                return t("mail.notice_author")
            return author

        lines = "\n\n".join(
            f"{said(line.kind, line.author)} ({local_time(line.created_at, zone, t.language)}):"
            f"\n{line.text}"
            for line in content.lines
        )
        if purpose == MailPurpose.TRANSCRIPT:
            subject = t("mail.transcript_subject", department=department)
            intro = t("mail.transcript_intro", department=department)
            link = t("mail.transcript_link", url=self._links.url(content.chat_ref))
        else:
            subject = t("mail.replies_subject", department=department)
            intro = t("mail.replies_intro", department=department)
            link = t("mail.replies_link", url=self._links.resume_url(content.chat_ref))
        message = EmailMessage()
        message["Subject"] = _one_line(subject)
        message["From"] = formataddr((_one_line(department), self._settings.mail_from))
        message["To"] = content.address
        domain = self._settings.mail_from.rpartition("@")[2] or "localhost"
        message["Message-ID"] = f"<{purpose}.{content.chat_ref}.{content.through}@{domain}>"
        footer = t("mail.footer")
        message.set_content(f"{intro}\n\n{lines}\n\n{link}\n\n-- \n{footer}\n")
        return message

    async def deliver(self, item: OutboxItem) -> None:
        """Send one ``email`` row's mail (nothing, when there is nothing new to mail);
        raises :class:`DeliveryError` as a connector would (retryable or not)."""
        payload = read_payload(item.kind, item.payload)
        assert isinstance(payload, Email)
        if not self.enabled:
            raise DeliveryError(REFUSED, "mail is not configured (SMTP_HOST is empty)")
        async with self._store.reading() as tx:
            content = await mail_content(tx, payload.chat_id, payload.purpose)
        if content is None:
            return
        await self._send(self.compose(content, payload.purpose))
        log.info(
            "mailed %s of chat %s (%d lines) to the customer",
            payload.purpose,
            content.chat_ref,
            len(content.lines),
        )
        if payload.purpose == MailPurpose.REPLIES:
            async with self._store.unit() as tx:
                await do_mark_mailed(tx, payload.chat_id, content.through)

    async def _send(self, message: EmailMessage) -> None:
        s = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user or None,
                password=s.smtp_password or None,
                use_tls=s.smtp_tls == "tls",
                start_tls=s.smtp_tls == "starttls",
                tls_context=ssl.create_default_context(),
                timeout=s.send_timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            permanent = all(code >= 500 for code in codes)
            raise DeliveryError(REFUSED if permanent else None, f"smtp: {error}") from error
        except aiosmtplib.SMTPResponseException as error:
            permanent = error.code >= 500
            reason = f"smtp {error.code}: {error.message}"
            raise DeliveryError(REFUSED if permanent else None, reason) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryError(None, f"smtp: {error!r}"[:300]) from error

    async def failed(self, item: OutboxItem, error: str) -> None:
        """A mail given up for good: a clear log line, and the agents told in the thread."""
        payload = read_payload(item.kind, item.payload)
        assert isinstance(payload, Email)
        async with self._store.unit() as tx:
            content = await mail_content(tx, payload.chat_id, MailPurpose.TRANSCRIPT)
            address = content.address if content is not None else "-"
            log.error(
                "mail (%s) to the customer of chat %s failed for good: %s",
                payload.purpose,
                content.chat_ref if content is not None else payload.chat_id,
                error,
            )
            t = Texts(self._settings.default_language)
            reason = message_text(error[:200])
            text = t("agent.mail_failed", address=message_text(address), reason=reason)
            tx.enqueue([to_thread(payload.chat_id, text_activity(text))])

