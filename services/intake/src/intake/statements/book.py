"""The carrier's book for matching (``load_book``), and re-matching a statement's lines against it
after new policies, a changed profile or a carrier registered later."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update

from intake.carriers.registry import find_carrier
from intake.chunking import CHUNK
from intake.models import Policy, PolicyTerm, Statement, StatementLineRow
from intake.statements.domain.columnar import Book
from intake.statements.domain.mapping import MappingProfile
from intake.statements.queries import load_profile
from intake.statements.usecases import refresh_match_counts

LINES = StatementLineRow.__table__
STATEMENTS = Statement.__table__


async def load_book(session: Any, carrier: str, profile: MappingProfile) -> Book:
    """The carrier's policies for matching (numbers only; the terms of the few policies that share
    a normalised number, which a line's date tells apart)."""
    p = Policy.__table__.c
    conn = await session.connection()
    # the driver's own rows (plain tuples): the whole book is read, a row object each would cost a third more
    driver = (await conn.get_raw_connection()).driver_connection
    if conn.dialect.name == "sqlite":
        cursor = await driver.execute("SELECT id, policy_number FROM policies WHERE carrier = ?", (carrier,))
        rows = await cursor.fetchall()
        await cursor.close()
    elif conn.dialect.name == "postgresql":
        rows = await driver.fetch("SELECT id, policy_number FROM policies WHERE carrier = $1", carrier)
    else:
        rows = (await conn.execute(select(p.id, p.policy_number).where(p.carrier == carrier))).all()
    ids, numbers = zip(*rows, strict=True) if rows else ((), ())
    del rows
    book = Book(profile, ids, numbers)
    shared, spans = book.shared_ids(), {}
    pt = PolicyTerm.__table__.c
    for i in range(0, len(shared), 500):
        found = await session.execute(select(pt.policy_id, pt.effective_date, pt.expiration_date).where(
            pt.policy_id.in_(shared[i:i + 500])))
        for pid, start, stop in found.all():
            spans.setdefault(pid, []).append((start, stop))
    book.set_terms({pid: policy_span(terms) for pid, terms in spans.items()})
    return book


def policy_span(terms: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    """From its first term's start to its last term's end (a missing date leaves that side open),
    so a line dated in any of a policy's terms is covered by it."""
    starts, ends = [t[0] for t in terms], [t[1] for t in terms]
    return (None if None in starts else min(starts)), (None if None in ends else max(ends))


async def rematch(session: Any, statement_id: str, carrier: str) -> None:
    """Match the statement's valid lines that are not matched yet (after new policies, or a changed
    profile), in chunks; then recount."""
    carrier = await adopt_registered_carrier(session, statement_id, carrier)
    profile = await load_profile(session, carrier)
    book = await load_book(session, carrier, profile)
    rows = (await session.execute(select(LINES.c.id, LINES.c.policy_number, LINES.c.effective_date).where(
        LINES.c.statement_id == statement_id, LINES.c.valid.is_(True),
        (LINES.c.match_status != "matched") | LINES.c.match_status.is_(None)))).all()
    normalised = [profile.normalise(number) for _, number, _ in rows]
    index = book.index_for(normalised)
    upd = update(LINES).where(LINES.c.id == bindparam("_id")).values(
        match_status=bindparam("_status"), match_reason=bindparam("_reason"), policy_id=bindparam("_policy_id"),
        normalised_number=bindparam("_norm"))
    params = []
    for (line_id, number, effective), norm in zip(rows, normalised, strict=True):
        status, policy_id, reason = index.match_fields(number, norm, effective)
        params.append({"_id": line_id, "_status": status, "_reason": reason, "_policy_id": policy_id,
                       "_norm": norm})
    for i in range(0, len(params), CHUNK):
        await session.execute(upd, params[i:i + CHUNK], execution_options={"synchronize_session": False})
    await refresh_match_counts(session, statement_id)


async def adopt_registered_carrier(session: Any, statement_id: str, carrier: str) -> str:
    """A feed's statement named a carrier the registry did not know: once it does (registered, or the name
    added as an alias), the statement takes the registered name, and its lines can match that carrier's book."""
    registered = await find_carrier(session, carrier)
    if registered is None or registered.name == carrier:
        return carrier
    await session.execute(update(STATEMENTS).where(STATEMENTS.c.id == statement_id).values(
        carrier=registered.name, error=None))
    return registered.name

