"""Portal invitations by mail (issue 18): sent to a real SMTP server in this process (aiosmtpd on a free
port), a recipient the server refuses for good dead-lettered with the reason in words, a refused or
unreachable server an ordinary (retried) error, STARTTLS to a relay of a private CA, and the file
transport of the embedded run."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from agency_common.contracts.appointments import PortalInviteRequested
from agency_common.messaging.consumer import PermanentError
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from appointments.portals.mail import compose_invitation, file_sender, smtp_sender
from appointments.settings import AppointmentsSettings
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from tests.appointments.helpers import add_producer
from tests.support.inprocess import eventually

TX_LH = "Life;Health"
LINK = "https://portal.test/register?invite={invite_id}"


class Mailbox:
    """An SMTP server's handler: keeps what it accepts, answers ``refuse[address]`` to a recipient."""

    def __init__(self) -> None:
        self.refuse: dict[str, str] = {}
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # aiosmtpd names its hooks
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd names its hooks
        msg = email.message_from_bytes(envelope.content, policy=default_policy)
        self.received.append((list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    def to(self, address: str) -> EmailMessage | None:
        return next((msg for rcpt, msg in self.received if address in rcpt), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=box.authenticate,
                            auth_required=False, auth_require_tls=False)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def server_certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as a private relay's would be."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test smtp relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "relay.pem", tmp_path / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def smtp_settings(port: int, **extra: object) -> dict[str, object]:
    return {"mail_transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False,
            "portal_invite_url": LINK, "mail_from": "invites@agency.test", **extra}


def invitation(address: str = "pat@example.com") -> PortalInviteRequested:
    return PortalInviteRequested(invite_id=str(uuid.uuid4()), portal="Recruiting Portal", producer_npn="7000001",
                                 email=address, first_name="Pat", last_name="O'Lee")


def parts(msg: EmailMessage) -> tuple[str, str]:
    plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and rich is not None
    return plain.get_content(), rich.get_content()


async def test_invitations_are_sent_over_smtp_and_a_refused_recipient_is_dead_lettered(
        start_service, token_for, smtp) -> None:
    box, port = smtp
    box.refuse["gone@example.com"] = "550 5.1.1 <gone@example.com>: mailbox unavailable"
    svc = await start_service("appointments", **smtp_settings(port))
    rt = svc.runtime
    ok = await add_producer(rt, "6100001", [("TX", TX_LH, True)], email="pat@example.com", first="Pat", last="Lee")
    gone = await add_producer(rt, "6100002", [("TX", TX_LH, True)], email="gone@example.com", first="Sam")
    client = svc.as_user(token_for("licensing"))
    portal = next(p for p in (await client.get("/api/portals")).json() if p["name"] == "Recruiting Portal")
    r = (await client.post("/api/portal-invites", json={"portal_id": portal["id"], "producer_ids": [ok, gone]})).json()
    invite = {x["producer_id"]: x["invite_id"] for x in r["results"] if x["ok"]}
    assert set(invite) == {ok, gone}

    msg = await eventually(lambda: box.to("pat@example.com"), timeout=45, message="the invitation delivered")
    assert msg["Subject"] == "You are invited to the Recruiting Portal"
    assert msg["From"] == "invites@agency.test" and msg["To"] == "pat@example.com"
    link = LINK.format(invite_id=invite[ok])
    plain, rich = parts(msg)
    assert "Hello Pat Lee" in plain and link in plain
    assert f'href="{link}"' in rich and "Pat Lee" in rich
    assert "6100001" not in msg.as_string()  # no licence number, let alone an SSN

    dl = rt.tables.dead_letters

    async def refusal():
        async with rt.db.session() as s:
            return (await s.execute(select(dl).where(dl.c.error_type == "MailRefused"))).mappings().first()

    row = await eventually(refusal, timeout=45, message="the refused invitation dead-lettered")
    assert "refused the recipient" in row["error"] and invite[gone] in row["error"] and "550" in row["error"]
    assert "gone@example.com" not in row["error"]  # the address masked
    assert box.to("gone@example.com") is None and len(box.received) == 1


async def test_the_sender_logs_in_and_tells_permanent_from_passing_refusals(smtp) -> None:
    box, port = smtp
    send = smtp_sender(AppointmentsSettings(**smtp_settings(port, smtp_username="agency",
                                                            smtp_password="s3cret")))
    inv = invitation()
    await send(compose_invitation(inv, sender="invites@agency.test", link_template=LINK), inv)
    assert box.logins == [(b"agency", b"s3cret")] and box.to("pat@example.com") is not None

    box.refuse["later@example.com"] = "451 4.3.0 try again later"
    box.refuse["never@example.com"] = "550 5.1.1 no such user"
    plain_send = smtp_sender(AppointmentsSettings(**smtp_settings(port)))
    later, never = invitation("later@example.com"), invitation("never@example.com")
    with pytest.raises(Exception) as passing:  # a 4xx: an ordinary error, retried by the consumer
        await plain_send(compose_invitation(later, sender="a@agency.test", link_template=LINK), later)
    assert not isinstance(passing.value, PermanentError)
    with pytest.raises(PermanentError, match="refused the recipient n\\*+@example.com"):
        await plain_send(compose_invitation(never, sender="a@agency.test", link_template=LINK), never)

    unreachable = smtp_sender(AppointmentsSettings(**smtp_settings(free_port(), smtp_timeout_seconds=5)))
    with pytest.raises(Exception) as down:  # nothing listening: retried too
        await unreachable(compose_invitation(inv, sender="a@agency.test", link_template=LINK), inv)
    assert not isinstance(down.value, PermanentError)


async def test_the_file_transport_writes_each_invitation_once(tmp_path: Path) -> None:
    send = file_sender(tmp_path / "outbox-mail")
    inv = invitation()
    await send(compose_invitation(inv, sender="no-reply@agency.example", link_template=LINK), inv)
    path = tmp_path / "outbox-mail" / f"{inv.invite_id}.eml"
    first = path.read_bytes()
    other = compose_invitation(inv.model_copy(update={"first_name": "Changed"}), sender="x@agency.example",
                               link_template=LINK)
    await send(other, inv)  # a redelivered event writes nothing twice
    assert path.read_bytes() == first and [p.name for p in path.parent.iterdir()] == [path.name]
    msg = email.message_from_bytes(first, policy=default_policy)
    plain, rich = parts(msg)  # type: ignore[arg-type]
    assert msg["To"] == "pat@example.com" and LINK.format(invite_id=inv.invite_id) in plain
    assert "O&#x27;Lee" in rich  # names escaped in the HTML part


async def test_starttls_with_a_private_ca_and_an_untrusted_certificate_retried(tmp_path: Path) -> None:
    cert, key = server_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
    controller.start()
    try:
        inv = invitation()
        msg = compose_invitation(inv, sender="a@agency.test", link_template=LINK)
        trusted = smtp_sender(AppointmentsSettings(**smtp_settings(port, smtp_starttls=True, smtp_ca_file=str(cert))))
        await trusted(msg, inv)
        assert box.to("pat@example.com") is not None
        untrusted = smtp_sender(AppointmentsSettings(**smtp_settings(port, smtp_starttls=True)))
        with pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs do not know it: an ordinary error
            await untrusted(msg, inv)
        assert len(box.received) == 1
    finally:
        controller.stop()
