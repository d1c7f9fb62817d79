"""appointments' subscriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agency_common.contracts.appointments import PortalInviteRequested
from agency_common.contracts.envelope import Envelope
from agency_common.contracts.nipr import LicensesFetched, TransactionResultReceived
from agency_common.messaging.consumer import EventConsumer
from agency_common.outbox import Transaction

from appointments.batches.results import apply_nipr_results
from appointments.portals.mail import mail_adapter
from appointments.producers.license_sync import apply_licenses

if TYPE_CHECKING:
    from agency_common.web.runtime import ServiceRuntime


async def on_nipr_results(tx: Transaction, events: list[Envelope[Any]]) -> None:
    await apply_nipr_results(tx, [e.payload for e in events])


async def on_licenses(tx: Transaction, event: Envelope[Any]) -> None:
    await apply_licenses(tx, event.payload)


def subscribe(consumer: EventConsumer, runtime: ServiceRuntime) -> None:
    consumer.on_batch(TransactionResultReceived, on_nipr_results)
    consumer.on(LicensesFetched, on_licenses)
    consumer.on(PortalInviteRequested, mail_adapter(runtime.settings))  # type: ignore[arg-type]
