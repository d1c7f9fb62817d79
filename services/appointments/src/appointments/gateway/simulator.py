"""A NIPR simulator: answers like the Gateway and the PDB would, by realistic per-state rules,
with delays and occasional failures (some of them after NIPR already received the form, so only a
look-up by idempotency key keeps a retry from submitting twice).

The PDB it answers from is deterministic: a few fixed producers, and for any other NPN a producer
generated from the NPN (licenses in a resident state and some other states, lines of authority
taken from the states' gateway business rules). NPNs starting with 9 are unknown to the PDB.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import random
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from agency_common.contracts.nipr import NiprLicense

from appointments.gateway.nipr import NiprAnswer, NiprUnavailable, PdbProducer, RequestForm, reference_for

REFDATA = Path(__file__).resolve().parent.parent / "reference_data" / "refdata"

# Per-state behaviour of the simulated Gateway.
STATE_DELAY_FACTOR = {"FL": 2.0, "NY": 1.5, "CA": 1.2}
FOR_CAUSE_ON_PAPER = {"TX"}  # for-cause terminations cannot be filed electronically (TDI)

FIRST = ["Avery", "Jordan", "Morgan", "Riley", "Casey", "Quinn", "Harper", "Rowan", "Emerson", "Parker"]
LAST = ["Nguyen", "Patel", "Garcia", "Okafor", "Schmidt", "Kowalski", "Haddad", "Moreau", "Silva", "Larsen"]


def _state_lines() -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    with open(REFDATA / "business_rules.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["active"].lower() == "true":
                out.setdefault(row["state"], {}).setdefault(row["loa_category"], []).append(row["line_of_authority"])
    return out


def _valid_terminations() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with open(REFDATA / "termination_reasons.csv", newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["state"], set()).add(row["code"])
    return out


def _lic(state: str, number: str, lines: list[str], *, resident: bool, active: bool = True,
         expires: date | None = None) -> NiprLicense:
    return NiprLicense(state=state, license_number=number, license_class="Insurance Producer",
                       lines_of_authority=lines, active=active, resident=resident,
                       effective_date=date(2020, 1, 15), expiration_date=expires or date(2030, 12, 31))


def fixtures(lines: dict[str, dict[str, list[str]]]) -> dict[str, PdbProducer]:
    lh = {st: cats.get("Life & Health", []) for st, cats in lines.items()}
    return {
        # Licensed in Texas (resident) and California.
        "1234567": PdbProducer("1234567", "Dana", "Whitfield", True, (
            _lic("TX", "2345678", lh["TX"], resident=True), _lic("CA", "0H12345", lh["CA"] + ["Health"], resident=False))),
    }


class NiprSimulator:
    def __init__(self, *, delay_seconds: float = 0.2, failure_rate: float = 0.05, seed: int | None = None,
                 today: date | None = None) -> None:
        self.delay_seconds = delay_seconds
        self.failure_rate = failure_rate
        self._rng = random.Random(seed)
        self.today = today
        self.lines = _state_lines()
        self.valid_terminations = _valid_terminations()
        self.pdb = fixtures(self.lines)
        self.received: dict[str, NiprAnswer] = {}  # what NIPR holds, by idempotency key
        self.submissions: Counter[str] = Counter()  # how often each key was submitted (must stay 1)
        self.forms: list[RequestForm] = []
        self._fail_next: list[str] = []  # "before" | "after" (after = NIPR got it, the answer is lost)

    # -- test and demo hooks ------------------------------------------------------------------------
    def fail_next(self, count: int = 1, *, after_receipt: bool = False) -> None:
        self._fail_next += ["after" if after_receipt else "before"] * count

    def add_producer(self, producer: PdbProducer) -> None:
        self.pdb[producer.npn] = producer

    @property
    def double_submissions(self) -> list[str]:
        return [k for k, n in self.submissions.items() if n > 1]

    # -- the PDB -------------------------------------------------------------------------------------
    def _today(self) -> date:
        return self.today or date.today()

    def producer(self, npn: str) -> PdbProducer | None:
        if npn in self.pdb:
            return self.pdb[npn]
        if npn.startswith("9"):
            return None
        rng = random.Random(int(hashlib.sha256(npn.encode()).hexdigest()[:12], 16))
        states = sorted(self.lines)
        resident = rng.choice(states)
        others = rng.sample([s for s in states if s != resident], k=rng.randint(1, 4))
        today = self._today()
        licenses = []
        for st in [resident, *others]:
            cats = self.lines[st]
            held: list[str] = []
            for cat, p in (("Life & Health", 0.85), ("Property & Casualty", 0.35), ("Personal Lines", 0.3),
                           ("Variable Products", 0.2)):
                if cat in cats and rng.random() < p:
                    held += cats[cat]
            if not held:
                held = list(cats.get("Life & Health", []))
            expired = rng.random() < 0.03
            expires = today - timedelta(days=rng.randint(1, 200)) if expired else today + timedelta(days=rng.randint(30, 700))
            licenses.append(_lic(st, f"{st}{rng.randint(100000, 999999)}", held, resident=st == resident,
                                 active=rng.random() > 0.05, expires=expires))
        return PdbProducer(npn, rng.choice(FIRST), rng.choice(LAST), rng.random() > 0.02, tuple(licenses))

    async def fetch_producer(self, npn: str) -> PdbProducer | None:
        await asyncio.sleep(self.delay_seconds / 4)
        self._maybe_fail("before")
        return self.producer(npn)

    # -- the Gateway ---------------------------------------------------------------------------------
    def _maybe_fail(self, when: str) -> None:
        if self._fail_next and self._fail_next[0] == when:
            self._fail_next.pop(0)
            raise NiprUnavailable("NIPR Gateway: 503 Service Unavailable" if when == "before"
                                  else "connection reset before NIPR's answer arrived")
        if when == "before" and self.failure_rate and self._rng.random() < self.failure_rate:
            raise NiprUnavailable("NIPR Gateway: 503 Service Unavailable (simulated)")

    def _decide(self, form: RequestForm, npn: str, line: str, code: str | None) -> tuple[bool, str | None]:
        st = form.state
        if form.action == "TERMINATE":
            if code not in self.valid_terminations.get(st, set()):
                return False, f"Termination reason {code} is not valid in {st}"
            if st in FOR_CAUSE_ON_PAPER and code == "CANCELLED_FOR_CAUSE":
                return False, f"For-cause terminations in {st} must be filed in writing with the state"
            return True, None
        producer = self.producer(npn)
        if producer is None:
            return False, "NPN not found in the PDB"
        if not producer.active:
            return False, "Producer is not active in the PDB"
        today = self._today()
        in_force = [lic for lic in producer.licenses if lic.active and
                    (lic.expiration_date is None or lic.expiration_date >= today)]
        if not any(lic.state == st for lic in in_force):
            return False, f"No active license in {st}"
        if not any(lic.resident for lic in in_force):
            return False, "No active resident license"
        if int(hashlib.sha256(f"{npn}{st}".encode()).hexdigest()[:4], 16) % 97 == 0:
            return False, "Outstanding regulatory action (RIRS)"
        return True, None

    async def submit(self, form: RequestForm) -> dict[str, NiprAnswer]:
        self._maybe_fail("before")
        await asyncio.sleep(self.delay_seconds * STATE_DELAY_FACTOR.get(form.state, 1.0))
        self.forms.append(form)
        answers = {}
        for line in form.lines:
            self.submissions[line.idempotency_key] += 1
            ok, reason = self._decide(form, line.npn, line.line_of_authority, line.termination_reason_code)
            answer = NiprAnswer("accepted" if ok else "rejected", reason, reference_for(line.idempotency_key))
            self.received[line.idempotency_key] = answer
            answers[line.idempotency_key] = answer
        self._maybe_fail("after")
        return answers

    async def lookup(self, keys: list[str]) -> dict[str, NiprAnswer]:
        await asyncio.sleep(self.delay_seconds / 4)
        return {k: self.received[k] for k in keys if k in self.received}
