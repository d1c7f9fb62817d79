"""The transaction list's filter (``GET /api/transactions``, the Transactions page, closing what matches):
status, state, CoCode, NPN, batch, kind, checked in words and turned into SQL conditions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from appointments import models as m
from appointments.domain import vocabulary as v
from appointments.domain.rows import state_error
from appointments.errors import Invalid

HELD = ""  # the default status filter: Ready to Submit or JIT Held (what can still be closed before NIPR)
ANY = "any"
STATUSES = (v.READY, v.JIT_HELD, v.SUBMITTED, v.NOT_ELIGIBLE, v.APPOINTED, v.TERMINATED, v.REJECTED, v.CLOSED)
KINDS = ("appointment", "termination")


@dataclass(frozen=True)
class TransactionFilter:
    status: str = HELD
    state: str = ""
    cocode: str = ""
    npn: str = ""
    batch_id: str = ""
    kind: str = ""

    @classmethod
    def of(cls, **given: Any) -> TransactionFilter:
        """The filter from a form or query string, tidied (states upper case), every error in words."""
        f = cls(**{k: " ".join(str(given.get(k) or "").split()) for k in cls.__dataclass_fields__})
        f = cls(**(asdict(f) | {"state": f.state.upper()}))
        errors = []
        if f.status not in (HELD, ANY, *STATUSES):
            errors.append(f"status {f.status!r} is not a transaction status: one of {', '.join(STATUSES)}, or any")
        if f.state and (err := state_error(f.state)):
            errors.append(f"state {err}")
        if f.kind and f.kind not in KINDS:
            errors.append(f"kind {f.kind!r} is not appointment or termination")
        if errors:
            raise Invalid("; ".join(errors), errors=errors)
        return f

    def statuses(self) -> tuple[str, ...] | None:
        """The statuses it keeps (None: any)."""
        if self.status == ANY:
            return None
        return v.SENDABLE if self.status == HELD else (self.status,)

    def where(self) -> list[Any]:
        T = m.AppointmentTransaction
        conds: list[Any] = []
        if (statuses := self.statuses()) is not None:
            conds.append(T.status.in_(statuses))
        for value, column in ((self.state, T.state), (self.cocode, T.cocode), (self.npn, T.npn),
                              (self.batch_id, T.batch_id), (self.kind, T.kind)):
            if value:
                conds.append(column == value)
        return conds

    def query(self) -> dict[str, str]:
        """As a page's links keep it (empty ones left out)."""
        return {k: val for k, val in asdict(self).items() if val}
