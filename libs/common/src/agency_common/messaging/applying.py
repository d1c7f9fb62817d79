"""Applying consumed messages: each batch in one transaction with its inbox rows, and when that fails,
again in another that leaves out only what fails.

The runs of a failed batch are tried together in one savepoint; the run an attempt fails in is the
last it reached, so the runs before it are applied again together, the failing run is isolated, and
the next attempt starts after it: a poison among single events costs two attempts, not one per event.
A batch handler may name the events it refuses (``EventsRefused``): those are parked and the rest of
its run applied at once; a run that fails blind is tried in chunks, and a failing chunk bisected in
savepoints down to the messages that fail alone. What is left out is parked (``parking``) with the
later messages of its key waiting behind it, to be retried alone (``retry_heads``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import structlog

from agency_common.logging import correlation_id_var, get_logger
from agency_common.messaging import inbox
from agency_common.messaging.incoming import BatchHandler, EventsRefused, Handler, Incoming, RawHandler
from agency_common.messaging.parking import Chain, ParkingLot
from agency_common.metrics import ServiceMetrics
from agency_common.outbox.tables import MessagingTables
from agency_common.outbox.unit_of_work import Transaction, UnitOfWork

log = get_logger(__name__)

ISOLATION_CHUNK = 32  # messages a failed batch handler's run is tried in, before bisecting a failing chunk


class Applier:
    def __init__(self, name: str, uow: UnitOfWork, parking: ParkingLot, metrics: ServiceMetrics, *,
                 handlers: dict[tuple[str, str], Handler], batch_handlers: dict[tuple[str, str], BatchHandler],
                 raw_handlers: dict[str, RawHandler]) -> None:
        self.name = name
        self.uow = uow
        self.tables: MessagingTables = uow.tables
        self.parking = parking
        self.metrics = metrics
        self.handlers, self.batch_handlers, self.raw_handlers = handlers, batch_handlers, raw_handlers

    async def settle(self, items: list[Incoming]) -> None:
        """Apply messages in order in one transaction; if that fails, apply them again in another,
        leaving out only the failing ones (parked, ``_isolate_runs``) and committing the rest at once."""
        if not items:
            return
        tried: list[Incoming] = []  # the messages the failed batch reached: that was their first try
        try:
            await self._apply(items, tried)
            return
        except Exception as exc:  # noqa: BLE001 - any handler error is isolated, retried, then dead-lettered
            if len(items) == 1:
                self.parking.park(items[0], exc, attempts=1)
                return
            error = exc
            log.info("batch failed, isolating the failing messages", size=len(items), error=str(exc))
        async with self._transaction(items[0]) as tx:
            fresh = await inbox.claim(tx, self.tables.inbox, self.name, items)
            applied: list[Incoming] = []
            # the run the batch failed in (the last one it reached) is known to fail, and why
            failed = (id(tried[-1]), error) if tried else None
            await self._isolate_runs(tx, _runs(fresh, self.batch_handlers), applied, {id(i) for i in tried}, failed)
            await inbox.unclaim(tx, self.tables.inbox, self.name, fresh, applied)
        self._count(items, applied)

    async def _isolate_runs(self, tx: Transaction, runs: list[list[Incoming]], applied: list[Incoming],
                            tried: set[int], failed: tuple[int, Exception] | None) -> None:
        """Apply handler runs, leaving out only what fails. The runs are tried together in one
        savepoint; the one an attempt fails in is the last it reached, so the runs before it are
        applied again together, the failing run is isolated (``_isolate_run``) and the next attempt
        starts after it: a poison among single events costs two attempts, not one per event.
        ``failed``: a message whose run is already known to fail, and the error (not tried again)."""
        while runs := self._not_waiting(runs):
            known = next(((n, failed[1]) for n, run in enumerate(runs)
                          if failed and any(id(i) == failed[0] for i in run)), None)
            failure = known or await self._attempt(tx, runs)
            if failure is None:
                applied.extend(i for run in runs for i in run)
                return
            at, error = failure
            failed = None
            if at:  # they did not fail: again at once (isolated in turn if they do now)
                await self._isolate_runs(tx, runs[:at], applied, tried, None)
            await self._isolate_run(tx, runs[at], applied, tried, error)
            runs = runs[at + 1:]

    async def _attempt(self, tx: Transaction, runs: list[list[Incoming]]) -> tuple[int, Exception] | None:
        """Apply runs in one savepoint: ``None`` if all went, else (rolled back) the index of the run
        it failed in and the error."""
        at = 0
        try:
            async with tx.session.begin_nested():
                for at, run in enumerate(runs):  # ``at`` is read after a failure
                    await self._run(tx, run)
        except Exception as exc:  # noqa: BLE001 - any handler error is isolated, retried, then dead-lettered
            return at, exc
        return None

    async def _isolate_run(self, tx: Transaction, run: list[Incoming], applied: list[Incoming], tried: set[int],
                           error: Exception) -> None:
        """A run known to fail with ``error``: the events a handler refused by name are parked and the
        rest applied again at once; a single message is parked; a batch handler's run is bisected."""
        rest = self._without_refused(run, error)
        if rest is not None:
            await self._isolate_runs(tx, [rest], applied, tried, None)
        elif len(run) == 1:
            self.parking.park(run[0], error, attempts=1)
        elif len(run) > 2 * ISOLATION_CHUNK:
            # long runs in chunks, each bisected only if it fails: as few probes as halving at 1 %
            # poison, and each good message applied about twice instead of five times
            for start in range(0, len(run), ISOLATION_CHUNK):
                await self._isolate(tx, run[start:start + ISOLATION_CHUNK], applied, tried)
        else:
            await self._isolate(tx, run, applied, tried, fails=True)

    def _not_waiting(self, runs: list[list[Incoming]]) -> list[list[Incoming]]:
        """The runs less the messages that must wait behind a parked one with their key."""
        return [r for r in ([i for i in run if not self.parking.wait_behind(i)] for run in runs) if r]

    async def _isolate(self, tx: Transaction, run: list[Incoming], applied: list[Incoming], tried: set[int],
                       fails: bool = False) -> bool:
        """Apply a run in a savepoint; if it fails, bisect it (a batch handler's run) down to the
        messages that fail alone, and park those. ``fails``: the run is known to fail, so it is split
        without trying it whole (a single message is always tried). Returns whether all was applied."""
        run = [incoming for incoming in run if not self.parking.wait_behind(incoming)]
        if not run:
            return True
        if not (fails and len(run) > 1):
            try:
                async with tx.session.begin_nested():
                    await self._run(tx, run)
                applied.extend(run)
                return True
            except Exception as exc:  # noqa: BLE001 - any handler error is isolated, retried, then dead-lettered
                rest = self._without_refused(run, exc)
                if rest is not None:
                    await self._isolate(tx, rest, applied, tried)
                    return False
                if len(run) == 1:
                    self.parking.park(run[0], exc, attempts=2 if id(run[0]) in tried else 1)
                    return False
        middle = len(run) // 2
        left = await self._isolate(tx, run[:middle], applied, tried)
        # the whole failed and its left half did not: the right half fails (unless the cause has passed)
        await self._isolate(tx, run[middle:], applied, tried, fails=left)
        return False

    def _without_refused(self, items: list[Incoming], error: Exception) -> list[Incoming] | None:
        """Park the messages a handler refused by name and return the rest (less what waits behind
        the parked ones with their keys); ``None`` if the error names none of these messages."""
        if not isinstance(error, EventsRefused):
            return None
        refused = {id(i) for i in items if i.envelope is not None and error.reason(i.envelope.event_id)}
        if not refused:
            return None
        rest = []
        for incoming in items:
            if id(incoming) in refused:
                self.parking.park(incoming, error, attempts=1)
            elif not self.parking.wait_behind(incoming):
                rest.append(incoming)
        return rest

    async def retry_heads(self, chains: list[Chain]) -> list[Chain]:
        if not chains:
            return []
        settled: list[Chain] = []
        async with self._transaction(chains[0].head) as tx:
            claimed = await inbox.claim(tx, self.tables.inbox, self.name, [c.head for c in chains])
            fresh = {id(i) for i in claimed}
            applied: list[Incoming] = []
            for chain in chains:
                if id(chain.head) in fresh:
                    try:
                        async with tx.session.begin_nested():
                            await self._run(tx, [chain.head])
                    except Exception as exc:  # noqa: BLE001 - retried until out of attempts
                        self.parking.failed_again(chain, exc)
                        continue
                    applied.append(chain.head)
                settled.append(chain)
            await inbox.unclaim(tx, self.tables.inbox, self.name, claimed, applied)
        done = {id(i) for i in applied}
        for chain in settled:
            outcome = "applied" if id(chain.head) in done else "duplicate"
            self.metrics.events_consumed.labels(chain.head.topic, outcome).inc()
        return settled

    def _transaction(self, first: Incoming) -> Any:
        env = first.envelope
        return self.uow(
            actor=env.actor if env else "system",
            correlation_id=env.correlation_id if env else first.headers.get("correlation_id"),
            causation_id=str(env.event_id) if env else None,
        )

    async def _apply(self, batch: list[Incoming], tried: list[Incoming]) -> None:
        async with self._transaction(batch[0]) as tx:
            to_apply = await inbox.claim(tx, self.tables.inbox, self.name, batch)
            for run in _runs(to_apply, self.batch_handlers):
                tried.extend(run)
                await self._run(tx, run)
        self._count(batch, to_apply)

    async def _run(self, tx: Transaction, run: list[Incoming]) -> None:
        key = _type_key(run[0])
        if key in self.batch_handlers:
            await self.batch_handlers[key](tx, [i.envelope for i in run])  # type: ignore[misc]
        else:
            await self._handle(tx, run[0])

    def _count(self, batch: list[Incoming], applied: list[Incoming]) -> None:
        """Metrics for settled messages: applied, or skipped as a duplicate (parked ones are neither)."""
        done = {id(i) for i in applied}
        parked = self.parking.parked()
        counts = Counter((i.topic, "applied" if id(i) in done else "duplicate") for i in batch if id(i) not in parked)
        for (topic, outcome), n in counts.items():  # one labels() look-up per topic, not per message
            self.metrics.events_consumed.labels(topic, outcome).inc(n)

    async def _handle(self, tx: Transaction, incoming: Incoming) -> None:
        env = incoming.envelope
        token = correlation_id_var.set(env.correlation_id if env else incoming.headers.get("correlation_id"))
        try:
            with structlog.contextvars.bound_contextvars(topic=incoming.topic):
                if env is None:
                    await self.raw_handlers[incoming.topic](tx, incoming)
                    return
                tx.actor, tx.correlation_id, tx.causation_id = env.actor, env.correlation_id, str(env.event_id)
                await self.handlers[(incoming.topic, env.type)](tx, env)
        finally:
            correlation_id_var.reset(token)


def _type_key(incoming: Incoming) -> tuple[str, str] | None:
    return (incoming.topic, incoming.envelope.type) if incoming.envelope is not None else None


def _runs(items: list[Incoming], batched: dict[tuple[str, str], BatchHandler]) -> list[list[Incoming]]:
    """Split into runs: consecutive events of one batch-handled type together, others alone."""
    runs: list[list[Incoming]] = []
    for item in items:
        key = _type_key(item)
        if runs and key in batched and _type_key(runs[-1][0]) == key:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs
