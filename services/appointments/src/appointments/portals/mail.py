"""The email adapter of portal invitations: each ``PortalInviteRequested`` becomes one message, written
to a folder (``mail_transport=file``, the embedded run) or sent to an SMTP server (``smtp``).

Delivery is at least once. The consumer applies the good events of a failed batch again, so the adapter
remembers the invite ids it sent (in this process) and sends none twice; after a restart, a message sent
just before its transaction failed is sent again (its Message-ID, built from the invite id, lets a
mailbox tell). A refused or unreachable server raises an ordinary error (the consumer retries it); a server
that refuses the recipient for good (5xx) raises ``MailRefused`` and the event is dead-lettered."""

from __future__ import annotations

import html
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
from agency_common.contracts.appointments import PortalInviteRequested
from agency_common.contracts.envelope import Envelope
from agency_common.logging import get_logger
from agency_common.messaging.consumer import PermanentError
from agency_common.outbox import Transaction

from appointments.settings import AppointmentsSettings

log = get_logger(__name__)

# How many sent invite ids a process remembers (far more than a consumed batch holds).
REMEMBERED = 10_000

Send = Callable[[EmailMessage, PortalInviteRequested], Awaitable[None]]


class MailRefused(PermanentError):
    """The mail server refused the message for good: retrying cannot help."""


def masked_address(address: str) -> str:
    """``pat@example.com`` → ``p**@example.com``: enough to tell mailboxes apart in a log, no more."""
    local, at, domain = address.partition("@")
    return f"{local[:1]}{'*' * max(len(local) - 1, 2)}{at}{domain}"


def _masked(address: str, text: str) -> str:
    """A server's reply without the address in clear (servers quote it)."""
    return re.sub(re.escape(address), masked_address(address), text, flags=re.IGNORECASE)


def compose_invitation(inv: PortalInviteRequested, *, sender: str, link_template: str) -> EmailMessage:
    """The invitation: a plain-text and an HTML part with the producer's name and the registration
    link. Only what an invitation needs (name, portal, link), never an SSN or a licence number."""
    link = link_template.format(invite_id=inv.invite_id)
    name = f"{inv.first_name} {inv.last_name}".strip()
    msg = EmailMessage()
    msg["To"] = inv.email
    msg["From"] = sender
    msg["Subject"] = f"You are invited to the {inv.portal}"
    msg["Message-ID"] = f"<{inv.invite_id}@{sender.rpartition('@')[2] or 'agency.example'}>"
    msg.set_content(f"Hello {name},\n\nYou have been invited to the {inv.portal}. "
                    f"Follow the registration link to create your account:\n\n{link}\n")
    e_name, e_portal, e_link = html.escape(name), html.escape(inv.portal), html.escape(link, quote=True)
    msg.add_alternative(
        f"<html><body><p>Hello {e_name},</p><p>You have been invited to the {e_portal}. "
        f"Follow the registration link to create your account:</p>"
        f'<p><a href="{e_link}">{e_link}</a></p></body></html>\n', subtype="html")
    return msg


def file_sender(outbox_dir: Path) -> Send:
    """Each message becomes ``<outbox_dir>/<invite id>.eml`` (a redelivered event writes nothing twice)."""

    async def send(msg: EmailMessage, inv: PortalInviteRequested) -> None:
        outbox_dir.mkdir(parents=True, exist_ok=True)
        path = outbox_dir / f"{inv.invite_id}.eml"
        if path.exists():
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(msg))
        tmp.replace(path)

    return send


def smtp_sender(settings: AppointmentsSettings) -> Send:
    """Each message sent to the configured SMTP server, one connection per message (invitations are few)."""

    async def send(msg: EmailMessage, inv: PortalInviteRequested) -> None:
        try:
            await aiosmtplib.send(
                msg, hostname=settings.smtp_host, port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password.get_secret_value() or None,
                use_tls=settings.smtp_tls, start_tls=settings.smtp_starttls and not settings.smtp_tls,
                cert_bundle=settings.smtp_ca_file or None, timeout=settings.smtp_timeout_seconds)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(500 <= c < 600 for c in codes):
                words = _masked(inv.email, "; ".join(f"{r.code} {r.message}" for r in exc.recipients))
                raise MailRefused(f"the mail server refused the recipient {masked_address(inv.email)} of "
                                  f"invitation {inv.invite_id} for good: {words}") from None
            raise  # 4xx: the server may take it later
        except aiosmtplib.SMTPDataError as exc:
            if 500 <= exc.code < 600:
                raise MailRefused(f"the mail server refused invitation {inv.invite_id} for good: "
                                  f"{exc.code} {_masked(inv.email, exc.message)}") from None
            raise

    return send


def mail_adapter(settings: AppointmentsSettings) -> Any:
    """The ``PortalInviteRequested`` handler of the configured transport."""
    transport = settings.mail_transport
    send = smtp_sender(settings) if transport == "smtp" else file_sender(Path(settings.data_dir) / "outbox-mail")
    sent: OrderedDict[str, None] = OrderedDict()

    async def on_invite(_tx: Transaction, event: Envelope[Any]) -> None:
        inv: PortalInviteRequested = event.payload
        if inv.invite_id in sent:
            return
        await send(compose_invitation(inv, sender=settings.mail_from, link_template=settings.portal_invite_url),
                   inv)
        log.info("portal invitation sent", invite_id=inv.invite_id, recipient=masked_address(inv.email),
                 portal=inv.portal, transport=transport)
        sent[inv.invite_id] = None
        if len(sent) > REMEMBERED:
            sent.popitem(last=False)

    return on_invite
