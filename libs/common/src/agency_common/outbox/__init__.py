from agency_common.outbox.relay import OutboxRelay, PendingEvent
from agency_common.outbox.tables import MessagingTables, messaging_tables
from agency_common.outbox.unit_of_work import Transaction, UnitOfWork

__all__ = ["MessagingTables", "OutboxRelay", "PendingEvent", "Transaction", "UnitOfWork", "messaging_tables"]
