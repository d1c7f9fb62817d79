"""Messages a consumer could not apply yet, and the offsets it may commit meanwhile.

A message that failed is parked until its next try, with the later messages of its key waiting
behind it: none of them may overtake it until it is applied or dead-lettered (per-key order), while
everything else flows on. So a poison message costs its own retries, not its partition's time.
Offsets are committed per partition up to the first message not settled, so a crash loses nothing
parked: it is read again, and the inbox skips what was applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from agency_common.contracts.registry import ContractError
from agency_common.logging import get_logger
from agency_common.messaging.incoming import EventsRefused, Incoming, PermanentError

log = get_logger(__name__)

ChainKey = tuple[str, int, Any]  # topic, partition, message key


@dataclass(eq=False)
class Chain:
    """A parked message and the later messages with its key waiting behind it."""

    head: Incoming
    attempts: int
    error: Exception
    due: float  # event-loop time of the next try
    hopeless: bool = False  # out of attempts, or an error retrying cannot help: dead-letter it
    waiting: list[Incoming] = field(default_factory=list)

    @property
    def members(self) -> list[Incoming]:
        return [self.head, *self.waiting]


def chain_key(record: ConsumerRecord[Any, Any]) -> ChainKey:
    return record.topic, record.partition, record.key


def reason_for(incoming: Incoming, error: Exception) -> Exception:
    """The error to retry or dead-letter a message with: its own reason where a handler refused it
    among others (``EventsRefused``), else the error raised."""
    if isinstance(error, EventsRefused) and incoming.envelope is not None:
        return error.reason(incoming.envelope.event_id) or error
    return error


class ParkingLot:
    def __init__(self, max_attempts: int, backoff_seconds: float) -> None:
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.chains: dict[ChainKey, Chain] = {}
        self.consumed_to: dict[TopicPartition, int] = {}  # per partition, the offset after the last record taken

    def __bool__(self) -> bool:
        return bool(self.chains)

    def wait_behind(self, incoming: Incoming) -> bool:
        """A later message whose key has a parked message waits behind it (an earlier one, met again
        when the rest of its batch is applied, goes first)."""
        chain = self.chains.get(chain_key(incoming.record))
        if chain is None or incoming.record.offset < chain.head.record.offset:
            return False
        chain.waiting.append(incoming)
        return True

    def park(self, incoming: Incoming, error: Exception, attempts: int) -> None:
        chain = Chain(incoming, attempts, reason_for(incoming, error), due=0.0)
        self.schedule(chain)
        self.chains[chain_key(incoming.record)] = chain

    def schedule(self, chain: Chain) -> None:
        """Its next try after an exponential backoff, or at once to the dead letters when it is out of
        attempts or its error says retrying cannot help."""
        hopeless = isinstance(chain.error, PermanentError | ContractError) or chain.attempts >= self.max_attempts
        delay = 0.0 if hopeless else self.backoff_seconds * 2 ** (chain.attempts - 1)
        chain.hopeless, chain.due = hopeless, asyncio.get_running_loop().time() + delay
        log.warning("event handling failed", topic=chain.head.topic, attempt=chain.attempts,
                    error=str(chain.error), retry_in=None if hopeless else delay)

    def failed_again(self, chain: Chain, error: Exception) -> None:
        chain.attempts, chain.error = chain.attempts + 1, reason_for(chain.head, error)
        self.schedule(chain)

    def due(self) -> list[Chain]:
        """The chains to try now: those due, and those due within a quarter of the first backoff,
        so that the messages parked by neighbouring batches are tried in one round, not one each."""
        soon = asyncio.get_running_loop().time() + self.backoff_seconds / 4
        return [c for c in self.chains.values() if c.due <= soon]

    def seconds_to_next(self) -> float:
        return max(0.0, min(c.due for c in self.chains.values()) - asyncio.get_running_loop().time())

    def release(self, settled: Iterable[Chain]) -> list[Incoming]:
        """Unpark chains whose head was applied or dead-lettered: what waited behind them, in order."""
        released: list[Incoming] = []
        for chain in settled:
            del self.chains[chain_key(chain.head.record)]
            released += chain.waiting
        return released

    def parked(self) -> set[int]:
        """The ``id`` of every message parked or waiting (neither applied nor a duplicate yet)."""
        return {id(i) for c in self.chains.values() for i in c.members}

    # -- offsets ----------------------------------------------------------------------------------
    def taken(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            self.consumed_to[tp] = max(self.consumed_to.get(tp, 0), record.offset + 1)

    def committable(self) -> dict[TopicPartition, int]:
        """Per partition, the offset up to which everything is settled (applied, a duplicate or
        dead-lettered): the first parked message's, or after the last record taken."""
        offsets = dict(self.consumed_to)
        for chain in self.chains.values():
            tp = TopicPartition(chain.head.topic, chain.head.record.partition)
            offsets[tp] = min(offsets.get(tp, chain.head.record.offset), chain.head.record.offset)
        return offsets

    def read_again_from(self, records: Sequence[ConsumerRecord[Any, Any]]) -> dict[TopicPartition, int]:
        """Forget everything parked and return, per partition, the first offset not settled (of these
        records or parked): where to read again from."""
        firsts: dict[TopicPartition, int] = {}
        for record in [*records, *(i.record for c in self.chains.values() for i in c.members)]:
            tp = TopicPartition(record.topic, record.partition)
            firsts[tp] = min(firsts.get(tp, record.offset), record.offset)
        self.clear()
        return firsts

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drop what is parked for partitions no longer ours or read again: it is rebuilt from the
        records as they come."""
        for tp in partitions:
            self.consumed_to.pop(tp, None)
            for key in [k for k in self.chains if k[:2] == (tp.topic, tp.partition)]:
                del self.chains[key]

    def read_back(self, records: Sequence[ConsumerRecord[Any, Any]]) -> set[TopicPartition]:
        """The partitions these records go back on (read again after a seek or a rebalance)."""
        return {TopicPartition(r.topic, r.partition) for r in records
                if r.offset < self.consumed_to.get(TopicPartition(r.topic, r.partition), 0)}

    def clear(self) -> None:
        self.chains.clear()
        self.consumed_to.clear()
