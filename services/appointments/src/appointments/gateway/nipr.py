"""The NIPR client interface, NIPR's request form, and the real client.

A batch becomes one request form per (action, state): NIPR's uniform appointment form is all
appointments or all terminations, for one company (CoCode) and one state. Every line carries the
transaction's idempotency key, by which NIPR's answer can be looked up later (after a crash or a
lost answer) instead of submitting the line again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol
from xml.etree import ElementTree as ET

import httpx
from agency_common.contracts.nipr import NiprLicense


class NiprUnavailable(Exception):
    """NIPR could not be reached or did not answer; retrying later may help."""


@dataclass(frozen=True)
class NiprAnswer:
    outcome: Literal["accepted", "rejected"]
    reason: str | None
    reference: str


@dataclass(frozen=True)
class FormLine:
    idempotency_key: str
    transaction_id: str
    npn: str
    line_of_authority: str
    termination_reason_code: str | None = None


@dataclass(frozen=True)
class RequestForm:
    """NIPR's request form for one company, one state and one action."""

    form_id: str
    action: Literal["APPOINT", "TERMINATE"]
    state: str
    cocode: str
    effective_date: date
    lines: tuple[FormLine, ...]

    def to_xml(self) -> str:
        root = ET.Element("GatewayRequest", {"formId": self.form_id, "action": self.action})
        ET.SubElement(root, "CompanyCoCode").text = self.cocode
        ET.SubElement(root, "State").text = self.state
        ET.SubElement(root, "EffectiveDate").text = self.effective_date.strftime("%m/%d/%Y")
        items = ET.SubElement(root, "Transactions")
        for line in self.lines:
            t = ET.SubElement(items, "Transaction", {"key": line.idempotency_key})
            ET.SubElement(t, "NPN").text = line.npn
            ET.SubElement(t, "LineOfAuthority").text = line.line_of_authority
            if line.termination_reason_code:
                ET.SubElement(t, "TerminationReason").text = line.termination_reason_code
        return ET.tostring(root, encoding="unicode")


@dataclass(frozen=True)
class PdbProducer:
    npn: str
    first_name: str
    last_name: str
    active: bool
    licenses: tuple[NiprLicense, ...] = field(default_factory=tuple)


class NiprClient(Protocol):
    async def submit(self, form: RequestForm) -> dict[str, NiprAnswer]: ...

    async def lookup(self, keys: list[str]) -> dict[str, NiprAnswer]:
        """NIPR's answers for lines it already received (keys it never saw are absent)."""
        ...

    async def fetch_producer(self, npn: str) -> PdbProducer | None: ...


def reference_for(key: str) -> str:
    return "GT-" + hashlib.sha256(key.encode()).hexdigest()[:8].upper()


class RealNipr:
    """The NIPR Gateway over HTTPS (deployment). NIPR's Transaction Layout Document is not public;
    this client posts the form as XML and reads per-transaction results keyed like the request, which
    is the shape our integration contract with NIPR (or a reseller) has to provide."""

    def __init__(self, base_url: str, username: str | None, password: str | None, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        auth = (username, password) if username and password else None
        self._client = httpx.AsyncClient(base_url=base_url, auth=auth, timeout=timeout, transport=transport)

    async def _post(self, path: str, body: str) -> ET.Element:
        try:
            r = await self._client.post(path, content=body, headers={"Content-Type": "application/xml"})
        except httpx.HTTPError as exc:
            raise NiprUnavailable(str(exc)) from exc
        if r.status_code >= 500 or r.status_code == 429:
            raise NiprUnavailable(f"NIPR answered HTTP {r.status_code}")
        r.raise_for_status()
        return ET.fromstring(r.text)

    @staticmethod
    def _answers(doc: ET.Element) -> dict[str, NiprAnswer]:
        out = {}
        for t in doc.iter("Result"):
            status = (t.findtext("Status") or "").upper()
            out[t.get("key", "")] = NiprAnswer("accepted" if status in ("ACCEPTED", "APPROVED") else "rejected",
                                               t.findtext("Reason"), t.findtext("Reference") or "")
        return out

    async def submit(self, form: RequestForm) -> dict[str, NiprAnswer]:
        return self._answers(await self._post("/gateway/transactions", form.to_xml()))

    async def lookup(self, keys: list[str]) -> dict[str, NiprAnswer]:
        root = ET.Element("StatusRequest")
        for k in keys:
            ET.SubElement(root, "Key").text = k
        return self._answers(await self._post("/gateway/status", ET.tostring(root, encoding="unicode")))

    async def fetch_producer(self, npn: str) -> PdbProducer | None:
        doc = await self._post("/pdb/entityinfo", f"<PdbRequest><NPN>{int(npn)}</NPN></PdbRequest>")
        if (doc.findtext(".//TRANSACTION_TYPE/TYPE") or "").upper() == "ERROR":
            return None
        bio = doc.find(".//BIOGRAPHIC")
        licenses = []
        for st in doc.iterfind(".//LICENSE_INFORMATION/STATE"):
            for lic in st.iterfind("LICENSE"):
                licenses.append(NiprLicense(
                    state=st.get("name", ""), license_number=lic.findtext("LICENSE_NUM") or "",
                    license_class=lic.findtext("LICENSE_CLASS") or "",
                    lines_of_authority=[d.findtext("LOA") or "" for d in lic.iterfind("DETAILS/DETAIL")
                                        if (d.findtext("STATUS") or "Active").lower() == "active"],
                    active=(lic.findtext("ACTIVE") or "").strip().lower() in ("yes", "y", "true"),
                    expiration_date=_mdy(lic.findtext("DATE_EXPIRE_LICENSE")),
                    effective_date=_mdy(lic.findtext("DATE_ISSUE_LICENSE_ORIG")),
                    resident=(lic.findtext("RESIDENCY_STATUS") or "").lower().startswith("res")))
        first = (bio.findtext("NAME_FIRST") or "") if bio is not None else ""
        last = (bio.findtext("NAME_LAST") or "") if bio is not None else ""
        return PdbProducer(npn, first, last, True, tuple(licenses))


def _mdy(text: str | None) -> date | None:
    if not text:
        return None
    m, d, y = text.strip().split("/")
    return date(int(y), int(m), int(d))


def SimulatedNipr(**kwargs: object) -> NiprClient:
    from appointments.gateway.simulator import NiprSimulator

    return NiprSimulator(**kwargs)  # type: ignore[arg-type]
