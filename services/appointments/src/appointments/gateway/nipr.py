"""The NIPR client interface, NIPR's request form, and the real client.

A batch becomes one request form per (action, state): NIPR's uniform appointment form is all
appointments or all terminations, for one company (CoCode) and one state. Every line carries the
transaction's idempotency key, by which NIPR's answer can be looked up later (after a crash or a
lost answer) instead of submitting the line again.

What is and is not NIPR's real format:
- The Gateway **transaction layout is not public**: NIPR hands its Transaction Layout Document
  only to companies that program to it, on request (DOMAIN-FACTS §1.3). ``RequestForm.to_xml``
  and the ``<Results>`` answer read by ``RealNipr`` are therefore *our* shape, modelled on the
  NAIC uniform appointment form (NPN, line(s) of authority, NAIC CoCode, state, effective date
  MM/DD/YYYY; a form is all appointments or all terminations). Deploying against NIPR (or a
  reseller) means mapping this form to the layout they provide; the rest of the gateway
  (claims, look-up before resubmission, answers) does not change.
- The **PDB entity report** (license sync) follows the structure three independent open-source
  parsers agree on; see ``gateway/pdb.py``. The request is the ``entityinfo_xml.cgi`` report by
  NPN those clients call (``customer_number``/``pin_number`` are the username and password).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol
from xml.etree import ElementTree as ET

import httpx
from defusedxml import ElementTree as SafeET

from appointments.gateway.pdb import PdbProducer, check_npn, parse_entity_report

__all__ = ["FormLine", "NiprAnswer", "NiprClient", "NiprUnavailable", "PdbProducer", "RealNipr", "RequestForm"]


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
    for_cause: bool = False


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
            if line.for_cause:
                ET.SubElement(t, "ForCause").text = "Y"
        return ET.tostring(root, encoding="unicode")


class NiprClient(Protocol):
    async def submit(self, form: RequestForm) -> dict[str, NiprAnswer]: ...

    async def lookup(self, keys: list[str]) -> dict[str, NiprAnswer]:
        """NIPR's answers for lines it already received (keys it never saw are absent)."""
        ...

    async def fetch_producer(self, npn: str) -> PdbProducer | None: ...


def reference_for(key: str) -> str:
    return "GT-" + hashlib.sha256(key.encode()).hexdigest()[:8].upper()


class RealNipr:
    """NIPR over HTTPS (deployment). NIPR's Transaction Layout Document is not public: this client
    posts the form as XML and reads per-transaction results keyed like the request, which is the
    shape our integration contract with NIPR (or a reseller) has to provide. License sync reads the
    PDB entity report (``gateway/pdb.py``)."""

    PDB_REPORT = "/pdb-xml-reports/entityinfo_xml.cgi"

    def __init__(self, base_url: str, username: str | None, password: str | None, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        auth = (username, password) if username and password else None
        self._username, self._password = username, password
        self._client = httpx.AsyncClient(base_url=base_url, auth=auth, timeout=timeout, transport=transport)

    async def _post(self, path: str, body: str) -> ET.Element:
        try:
            r = await self._client.post(path, content=body, headers={"Content-Type": "application/xml"})
        except httpx.HTTPError as exc:
            raise NiprUnavailable(str(exc)) from exc
        if r.status_code >= 500 or r.status_code == 429:
            raise NiprUnavailable(f"NIPR answered HTTP {r.status_code}")
        r.raise_for_status()
        return SafeET.fromstring(r.text)  # NIPR's answer is outside input: no entity expansion

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
        check_npn(npn)  # a string of digits, sent as it is (leading zeros kept)
        try:
            r = await self._client.get(self.PDB_REPORT, params={
                "customer_number": self._username or "", "pin_number": self._password or "",
                "report_type": "1", "id_entity": npn})
        except httpx.HTTPError as exc:
            raise NiprUnavailable(str(exc)) from exc
        if r.status_code >= 500 or r.status_code == 429:
            raise NiprUnavailable(f"the PDB answered HTTP {r.status_code}")
        r.raise_for_status()
        return parse_entity_report(r.content, npn)

