"""The messaging tables every service has in its own database: outbox, inbox, dead letters.

They are declared on the service's own metadata (``messaging_tables(metadata)``), so each service's
Alembic sees them among its own tables and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from agency_common.db.types import UTCDateTime
from agency_common.idempotency import MAX_KEY_LENGTH

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class MessagingTables:
    outbox: Table
    inbox: Table
    dead_letters: Table
    idempotency_keys: Table  # agency_common.idempotency
    audit_log: Table  # agency_common.audit: append-only
    leases: Table | None = None  # agency_common.leases: one owner at a time among a service's replicas


def messaging_tables(metadata: MetaData, *, leases: bool = False) -> MessagingTables:
    """The tables every service has; ``leases`` for a service whose background jobs need one owner."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", AutoId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("payload", Text, nullable=False),
        Column("headers", Text, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("sent_at", UTCDateTime(), nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
    )
    Index(
        "ix_outbox_unsent",
        outbox.c.id,
        sqlite_where=outbox.c.sent_at.is_(None),
        postgresql_where=outbox.c.sent_at.is_(None),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("event_id", String(100), nullable=False),
        Column("consumer", String(100), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("event_type", String(200), nullable=True),
        Column("received_at", UTCDateTime(), nullable=False),
        PrimaryKeyConstraint("event_id", "consumer", name="pk_inbox"),
    )
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", AutoId, primary_key=True, autoincrement=True),
        Column("consumer", String(100), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("key", String(200), nullable=True),
        Column("event_id", String(100), nullable=True),
        Column("event_type", String(200), nullable=True),
        Column("error_type", String(200), nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", Text, nullable=False),
        Column("failed_at", UTCDateTime(), nullable=False),
        Column("replayed_at", UTCDateTime(), nullable=True),
        Column("replayed_by", String(100), nullable=True),
        UniqueConstraint("consumer", "topic", "partition", "offset", "event_id", name="uq_dead_letter_message"),
    )
    return MessagingTables(outbox=outbox, inbox=inbox, dead_letters=dead_letters,
                           idempotency_keys=idempotency_table(metadata), audit_log=audit_table(metadata),
                           leases=leases_table(metadata) if leases else None)


def idempotency_table(metadata: MetaData) -> Table:
    table = Table(
        "idempotency_keys",
        metadata,
        Column("key", String(MAX_KEY_LENGTH), primary_key=True),
        Column("login", String(100), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("method", String(10), nullable=False),
        Column("path", String(500), nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("headers", String(4000), nullable=True),
        Column("body", LargeBinary, nullable=True),
        Column("answered_at", UTCDateTime(), nullable=True),
    )
    Index("ix_idempotency_keys_created_at", table.c.created_at)
    return table



def leases_table(metadata: MetaData) -> Table:
    return Table(
        "leases",
        metadata,
        Column("name", String(200), primary_key=True),  # what is held: "<job kind>:<job id>"
        Column("holder", String(200), nullable=False),  # the instance holding it (ServiceRuntime.instance_id)
        Column("lease_until", UTCDateTime(), nullable=False),
        Column("taken_at", UTCDateTime(), nullable=False),
    )


def audit_table(metadata: MetaData) -> Table:
    table = Table(
        "audit_log",
        metadata,
        Column("id", AutoId, primary_key=True, autoincrement=True),
        Column("at", UTCDateTime(), nullable=False),
        Column("actor", String(100), nullable=False),  # the login (or "system", or the login tried)
        Column("action", String(100), nullable=False),  # login.failed, pii.revealed, invoice.deleted ...
        Column("subject_type", String(100), nullable=True),
        Column("subject_id", String(100), nullable=True),
        Column("detail", Text, nullable=True),  # JSON: values before/after, counts; never PII values
        Column("address", String(100), nullable=True),  # the client's address, where there was one
        Column("correlation_id", String(128), nullable=True),
    )
    Index("ix_audit_log_at", table.c.at)
    Index("ix_audit_log_subject", table.c.subject_type, table.c.subject_id)
    Index("ix_audit_log_actor", table.c.actor)
    return table
