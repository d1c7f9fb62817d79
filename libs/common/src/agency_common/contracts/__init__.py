"""Event contracts: the single source of what travels between services.

Importing this package registers every event type, so ``decode`` knows them all.
"""

from agency_common.contracts import appointments, intake, invoicing, nipr, reporting, topics, upstream
from agency_common.contracts.envelope import Envelope, EventPayload, make_envelope
from agency_common.contracts.registry import ContractError, decode, event, event_types, payload_type

__all__ = [
    "ContractError",
    "Envelope",
    "EventPayload",
    "appointments",
    "decode",
    "event",
    "event_types",
    "intake",
    "invoicing",
    "make_envelope",
    "nipr",
    "payload_type",
    "reporting",
    "topics",
    "upstream",
]
