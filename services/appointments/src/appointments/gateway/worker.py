"""The submission side of the gateway: batches in, NIPR request forms out, answers published.

1. ``on_batch`` (inside the consumer's inbox transaction) records every transaction of the batch as
   a ``pending`` submission, by idempotency key; a redelivered batch records nothing new.
2. ``SubmissionWorker`` claims due submissions and groups them into NIPR request forms (one per
   batch, action and state). The claim is a database-level one, committed *before* NIPR is called:
   one transaction selects the due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's single
   writer serialises it) and a conditional ``UPDATE ... WHERE <still due> RETURNING`` marks them
   ``submitting``, records the instance in ``claimed_by`` and leases them until
   ``now + submit_lease_seconds``. So when several gateway instances run on one database, each
   transaction is claimed by exactly one of them; another instance touches it again only after the
   lease ran out (its holder crashed), and then looks it up first. Rows that were already
   ``submitting`` (a crash, a timeout, a lost answer) are first looked up at NIPR by key: only what
   NIPR never received is submitted again.
3. Answers are stored and published on ``nipr.transaction-results.v1`` through the outbox, in one
   transaction. Failures back off exponentially; after ``submit_max_attempts`` a form is ``failed``
   and waits for an operator's retry (which again looks up before submitting).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

from agency_common.contracts.appointments import LicenseSyncRequested, TransactionBatchSubmitted
from agency_common.contracts.envelope import Envelope
from agency_common.contracts.nipr import LicensesFetched, TransactionResultReceived
from agency_common.db.engine import insert_ignoring_conflicts
from agency_common.logging import get_logger
from agency_common.outbox import Transaction
from agency_common.timeutil import utcnow
from sqlalchemy import and_, or_, select, update

from appointments.gateway.models import LicenseLookup, Submission
from appointments.gateway.nipr import FormLine, NiprClient, NiprUnavailable, RequestForm

log = get_logger(__name__)

PENDING, SUBMITTING, ANSWERED, FAILED = "pending", "submitting", "answered", "failed"


def result_event(row: Submission) -> TransactionResultReceived:
    return TransactionResultReceived(
        batch_id=row.batch_id, transaction_id=row.transaction_id, idempotency_key=row.idempotency_key,
        outcome=row.outcome, reason=row.reason, nipr_reference=row.nipr_reference,  # type: ignore[arg-type]
        processed_at=row.answered_at or row.submitted_at or utcnow())


def make_batch_handler(worker: SubmissionWorker | None = None) -> Any:
    async def on_batch(tx: Transaction, event: Envelope[Any]) -> None:
        batch: TransactionBatchSubmitted = event.payload
        if not batch.transactions:
            return
        now = utcnow()
        await tx.session.execute(insert_ignoring_conflicts(tx.session, Submission.__table__), [
            {"idempotency_key": t.idempotency_key, "transaction_id": t.transaction_id, "batch_id": batch.batch_id,
             "state": t.state, "kind": t.kind, "npn": t.npn, "line_of_authority": t.line_of_authority,
             "cocode": t.cocode, "termination_reason_code": t.termination_reason_code, "for_cause": t.for_cause, "status": PENDING,
             "attempts": 0, "received_at": now, "next_attempt_at": now}
            for t in batch.transactions])
        # A batch delivered again after it was answered: publish the stored answers again (NIPR is
        # never asked twice; appointments applies an answer once).
        answered = (await tx.session.execute(select(Submission).where(
            Submission.idempotency_key.in_([t.idempotency_key for t in batch.transactions]),
            Submission.status == ANSWERED))).scalars().all()
        if answered:
            await tx.emit_many(result_event(r) for r in answered)
        if worker is not None:
            worker.wake_soon()

    return on_batch


def make_license_handler(client: NiprClient) -> Any:
    async def on_sync(tx: Transaction, event: Envelope[Any]) -> None:
        req: LicenseSyncRequested = event.payload
        # A read: retried here a few times (bounded) so one hiccup does not replay a whole batch of
        # look-ups; past that the consumer's own retries and dead-letter topic take over.
        for attempt in range(3):
            try:
                producer = await client.fetch_producer(req.npn)
                break
            except NiprUnavailable:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.1 * 2 ** attempt)
        await tx.session.execute(insert_ignoring_conflicts(tx.session, LicenseLookup.__table__), {
            "request_id": req.request_id, "npn": req.npn, "found": producer is not None,
            "licenses": len(producer.licenses) if producer else 0, "fetched_at": utcnow()})
        await tx.emit(LicensesFetched(
            request_id=req.request_id, npn=req.npn, found=producer is not None,
            active=bool(producer and producer.active),
            first_name=producer.first_name if producer else None, last_name=producer.last_name if producer else None,
            licenses=list(producer.licenses) if producer else [], fetched_at=utcnow()))

    return on_sync


def due(now: Any) -> Any:
    """Waiting to be sent, or sent without an answer, and not leased to a worker (or its lease ran out)."""
    return and_(Submission.status.in_((PENDING, SUBMITTING)),
                or_(Submission.next_attempt_at.is_(None), Submission.next_attempt_at <= now))


class SubmissionWorker:
    def __init__(self, runtime: Any, client: NiprClient, instance: str | None = None) -> None:
        self.runtime = runtime
        self.client = client
        s = runtime.settings
        self.poll = s.worker_poll_seconds
        self.max_attempts = s.submit_max_attempts
        self.backoff = s.submit_backoff_seconds
        self.lease = timedelta(seconds=s.submit_lease_seconds)
        self.instance = (instance or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")[:100]
        self._wake = asyncio.Event()

    def wake_soon(self, delay: float = 0.05) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self._wake.set)

    async def run(self) -> None:
        while True:
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("submission worker round failed")
                worked = False
            if not worked:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll)
                except TimeoutError:
                    pass

    async def run_once(self, limit: int = 500) -> bool:
        rows = await self.claim(limit)
        if not rows:
            return False
        forms: dict[tuple[str, str, str], list[Submission]] = defaultdict(list)
        for r in rows:
            forms[(r.batch_id, r.kind, r.state)].append(r)
        for group in forms.values():
            await self.process_form(group)
        return True

    async def claim(self, limit: int = 500) -> list[Submission]:
        """Due rows, claimed for this instance in one committed transaction (see the module's notes).
        The rows come back as they were before the claim: their status says which are uncertain."""
        now = utcnow()
        async with self.runtime.db.transaction() as session:
            stmt = select(Submission).where(due(now)).order_by(
                Submission.received_at, Submission.idempotency_key).limit(limit)
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list((await session.execute(stmt)).scalars())
            if not rows:
                return []
            table = Submission.__table__
            won = set((await session.execute(
                update(table).where(table.c.idempotency_key.in_([r.idempotency_key for r in rows]), due(now))
                .values(status=SUBMITTING, attempts=table.c.attempts + 1, submitted_at=now,
                        next_attempt_at=now + self.lease, claimed_by=self.instance)
                .returning(table.c.idempotency_key))).scalars())
            session.expunge_all()
        return [r for r in rows if r.idempotency_key in won]

    async def process_form(self, rows: list[Submission]) -> None:
        db = self.runtime.db
        keys = [r.idempotency_key for r in rows]
        uncertain = [r.idempotency_key for r in rows if r.status in (SUBMITTING, FAILED)]
        attempts = max(r.attempts for r in rows) + 1
        now = utcnow()
        mine = and_(Submission.idempotency_key.in_(keys), Submission.claimed_by == self.instance)
        first = rows[0]
        answers = {}
        try:
            if uncertain:
                answers.update(await self.client.lookup(uncertain))
            to_send = [r for r in rows if r.idempotency_key not in answers]
            if to_send:
                form = RequestForm(
                    form_id=f"{first.batch_id}:{first.state}:{attempts}",
                    action="TERMINATE" if first.kind == "termination" else "APPOINT",
                    state=first.state, cocode=first.cocode or "", effective_date=now.date(),
                    lines=tuple(FormLine(r.idempotency_key, r.transaction_id, r.npn or "", r.line_of_authority or "",
                                         r.termination_reason_code, r.for_cause) for r in to_send))
                answers.update(await self.client.submit(form))
        except Exception as exc:  # noqa: BLE001 - any failure leaves the lines uncertain: looked up next time
            failed = attempts >= self.max_attempts
            log.warning("NIPR call failed", batch_id=first.batch_id, state=first.state, attempt=attempts,
                        error=str(exc), gave_up=failed)
            backoff = self.backoff * 2 ** (attempts - 1)
            async with db.transaction() as session:
                await session.execute(update(Submission).where(mine).values(
                    status=FAILED if failed else SUBMITTING, last_error=f"{type(exc).__name__}: {exc}"[:1000],
                    next_attempt_at=utcnow() + timedelta(seconds=backoff)))
            if not failed:
                self.wake_soon(backoff)  # the retry is due then: no need to poll for it
            return
        answered_at = utcnow()
        async with self.runtime.uow(actor="nipr-gateway", correlation_id=first.batch_id) as tx:
            events = []
            for r in rows:
                a = answers.get(r.idempotency_key)
                if a is None:  # NIPR did not answer for this line: look it up again after a pause
                    await tx.session.execute(update(Submission).where(
                        Submission.idempotency_key == r.idempotency_key, Submission.claimed_by == self.instance).values(
                        next_attempt_at=answered_at + timedelta(seconds=self.backoff * 2 ** (attempts - 1)),
                        status=FAILED if attempts >= self.max_attempts else SUBMITTING,
                        last_error="NIPR returned no answer for this transaction"))
                    self.wake_soon(self.backoff * 2 ** (attempts - 1))
                    continue
                values = {"status": ANSWERED, "outcome": a.outcome, "reason": a.reason,
                          "nipr_reference": a.reference, "answered_at": answered_at, "last_error": None}
                stored = await tx.session.execute(update(Submission).where(
                    Submission.idempotency_key == r.idempotency_key, Submission.claimed_by == self.instance,
                    Submission.status != ANSWERED).values(**values))
                if stored.rowcount != 1:
                    continue  # our lease ran out and another instance has taken the row over
                for k, val in values.items():
                    setattr(r, k, val)
                events.append(result_event(r))
            await tx.emit_many(events)


async def retry_failed(runtime: Any) -> int:
    async with runtime.db.transaction() as session:
        result = await session.execute(update(Submission).where(Submission.status == FAILED).values(
            status=SUBMITTING, attempts=0, next_attempt_at=utcnow()))
    return int(result.rowcount or 0)
