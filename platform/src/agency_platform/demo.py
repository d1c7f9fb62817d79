"""The demo dataset: what ``make run`` loads on its first start so that every dashboard shows work.

Everything goes through the services' own public APIs (and, for the upstream systems, through Kafka
with the platform's envelope), never into their databases:

- intake: a carrier mapping profile, a book of policies (their clients become individuals), a few
  individuals from the CRM with their details, a messy carrier statement (invalid and blank rows,
  unmatched lines) with a Create-Policies session for its unmatched lines, which hands the statement
  over to invoicing (a reconciliation opens there), a second statement left with unmatched lines to
  try Create Policies on, and a saved search;
- appointments: an extra company with its state settings (the dev reference data is loaded by the
  service itself), producers onboarded from a CSV (some rows with errors), a bulk appointment;
- reporting: upstream policy jobs and activities published on their topics, then a Team Screens
  calculation.

``python -m agency_platform.demo`` loads it into a running platform (``--intake URL`` ... see ``--help``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from agency_platform.demo_dataset import (
    BOOK,
    CRM_DETAILS,
    DEMO_CARRIER,
    DEMO_CARRIERS,
    DEMO_COMPANY,
    DEMO_COMPANY_STATES,
    PRODUCERS_CSV,
    PROSPECTS,
    SECOND_CARRIER,
    publish_upstream,
    second_statement_csv,
    statement_csv,
    upstream_events,
)


class DemoError(RuntimeError):
    pass


def run_coroutine(coro: Any) -> Any:
    """``asyncio.run``, in a thread of its own when this thread already runs an event loop (as it does
    under Playwright's sync API)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _wait(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def _ok(r: httpx.Response, *allowed: int) -> httpx.Response:
    if r.status_code >= 400 and r.status_code not in allowed:
        raise DemoError(f"{r.request.method} {r.request.url} → {r.status_code}: {r.text[:500]}")
    return r


class DemoLoader:
    """Loads the demo dataset into running services. ``urls`` maps service name → base URL."""

    def __init__(self, urls: dict[str, str], token: str, bootstrap: str | None = None,
                 log: Callable[[str], None] = print, timeout: float = 60.0) -> None:
        self.urls = urls
        self.bootstrap = bootstrap
        self.log = log
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {token}"}
        self.http = {name: httpx.Client(base_url=url, headers=headers, timeout=30.0) for name, url in urls.items()}

    def close(self) -> None:
        for client in self.http.values():
            client.close()

    # -- intake -----------------------------------------------------------------------------------
    def wait_imported(self, statement_id: str) -> dict[str, Any]:
        c = self.http["intake"]

        def done() -> dict[str, Any] | None:
            body = _ok(c.get(f"/api/statements/{statement_id}")).json()
            return body if body["status"] not in ("queued", "processing", "receiving") else None
        return _wait(done, self.timeout, f"statement {statement_id} imported")

    def load_intake(self) -> dict[str, Any]:
        c = self.http["intake"]
        for carrier in DEMO_CARRIERS:
            _ok(c.post("/api/carriers", json=carrier), 409)
        _ok(c.put(f"/api/carrier-profiles/{DEMO_CARRIER}", json={"prefixes": [], "bill_types": {"AUD": "audit"}}))
        _ok(c.put(f"/api/carrier-profiles/{SECOND_CARRIER}", json={"prefixes": ["HP"], "bill_types": {"NEW": "term_policy"}}))
        created = 0
        for number, client, lob, eff, premium in BOOK:
            start = date.fromisoformat(eff)
            r = _ok(c.post("/api/policies", json={
                "carrier": DEMO_CARRIER, "policy_number": number, "client_name": client, "line_of_business": lob,
                "effective_date": eff, "expiration_date": start.replace(year=start.year + 1).isoformat(),
                "estimated_premium": premium}), 409)
            created += r.status_code == 201
        # the CRM's details for some clients, and prospects with no policy yet
        for name, details in CRM_DETAILS.items():
            found = _ok(c.post("/api/individuals/search", json={"name": name.split()[-1], "limit": 5})).json()["items"]
            for ind in found:
                if f"{ind.get('first_name') or ''} {ind.get('last_name') or ''}".strip() == name:
                    _ok(c.patch(f"/api/individuals/{ind['id']}", json=details))
        for person in PROSPECTS:  # a retry after a failed first start creates nobody twice
            known = _ok(c.post("/api/individuals/search", json={
                "first_name": person["first_name"], "last_name": person["last_name"], "limit": 1})).json()["total"]
            if not known:
                _ok(c.post("/api/individuals", json=person))
        files = {"file": ("acme-statement-2026-10.csv", statement_csv().encode("utf-8-sig"), "text/csv")}
        st = _ok(c.post("/api/statements", files=files, data={"carrier": DEMO_CARRIER}), 409)
        if st.status_code == 409:
            statement_id = st.json()["first_import_id"]
        else:
            statement_id = st.json()["id"]
        body = self.wait_imported(statement_id)
        session: dict[str, Any] = {}
        if body["unmatched"]:
            session = _ok(c.post(f"/api/statements/{statement_id}/create-policies", json={
                "idempotency_key": f"demo-{statement_id}",
                "defaults": {"status": "active", "business_type": "New business", "branch": "Austin"}})).json()
        body = _ok(c.get(f"/api/statements/{statement_id}")).json()
        if body["status"] == "imported" and not body["unmatched"] and not body["ambiguous"]:
            _ok(c.post(f"/api/statements/{statement_id}/publish", json={"exclude_unmatched": True}), 409)
        files2 = {"file": ("harbor-2026-11.csv", second_statement_csv().encode("cp1252"), "text/csv")}
        st2 = _ok(c.post("/api/statements", files=files2, data={"carrier": SECOND_CARRIER}), 409)
        if st2.status_code != 409:
            self.wait_imported(st2.json()["id"])
        _ok(c.post("/api/saved-searches", json={"name": "Texas clients with Personal Auto",
                                                 "criteria": {"state": "TX", "policy_line_of_business": "Personal Auto"}}))
        return {"policies_created": created, "statement": statement_id, "statement_counts": {
            k: body[k] for k in ("total", "valid", "invalid", "blank", "matched", "unmatched")},
            "session_count": session.get("count", 0)}

    # -- appointments -----------------------------------------------------------------------------
    def load_appointments(self) -> dict[str, Any]:
        c = self.http["appointments"]
        _ok(c.post("/api/reference-data/companies/rows", json=[DEMO_COMPANY]), 422)
        _ok(c.post("/api/reference-data/company_state_settings/rows", json=DEMO_COMPANY_STATES), 422)
        parsed = _ok(c.post("/api/producer-imports",
                            files={"file": ("agents.csv", PRODUCERS_CSV.encode(), "text/csv")})).json()
        processed = _ok(c.post(f"/api/producer-imports/{parsed['id']}/process")).json()

        def synced() -> bool:
            producers = _ok(c.get("/api/producers")).json()
            wanted = {"1234567", "4455667"}
            return wanted <= {p["npn"] for p in producers if p.get("sync_status") != "pending"}
        try:
            _wait(synced, self.timeout, "producers synced with NIPR")
        except DemoError as exc:
            self.log(f"demo: {exc}; bulk appointment skipped")
            return {"producer_import": processed}
        appointed = _ok(c.post("/api/appointments/bulk", headers={"Idempotency-Key": "demo-bulk-appoint-1"}, json={
            "requests": [
                {"npn": "1234567", "states": ["CA", "TX", "FL"], "loa_category": "Life & Health",
                 "cocodes": ["60054"], "submit": True, "submitJustInTime": False},
                {"npn": "4455667", "states": ["TX", "FL", "GA"], "loa_category": "Life & Health",
                 "cocodes": ["60054"], "submit": True, "submitJustInTime": True},
                {"npn": "7788990", "states": ["TX"], "loa_category": "Life & Health", "cocodes": ["60054"]},
            ]}), 409).json()
        return {"producer_import": processed, "appointment_transactions": appointed.get("transactions", 0)}

    # -- reporting --------------------------------------------------------------------------------
    def load_reporting(self) -> dict[str, Any]:
        if not self.bootstrap:
            self.log("demo: no Kafka bootstrap servers given: upstream jobs and activities skipped")
            return {}
        events = upstream_events()
        run_coroutine(publish_upstream(self.bootstrap, events))
        c = self.http["reporting"]

        def ingested() -> bool:
            counts = {row["event_type"]: row["count"] for row in _ok(c.get("/api/operations/events")).json()}
            return (counts.get("upstream.policy-job.upserted", 0) >= 28
                    and counts.get("upstream.activity.upserted", 0) >= 24)
        _wait(ingested, self.timeout, "reporting ingested the upstream jobs and activities")
        snap = _ok(c.post("/api/team-screens/calculate"), 409).json()
        return {"upstream_events": len(events), "team_screens": snap.get("snapshot_id")}

    def load(self) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        for name, step in (("intake", self.load_intake), ("appointments", self.load_appointments),
                           ("reporting", self.load_reporting)):
            if name not in self.http:
                continue
            summary[name] = step()
        return summary


def load_demo(urls: dict[str, str], token: str, bootstrap: str | None = None,
              log: Callable[[str], None] = print, timeout: float = 60.0) -> dict[str, Any]:
    """Load the demo dataset into the running services (``urls``: service name → base URL) as the
    user of ``token`` (an admin's: it touches every service). Returns what was loaded."""
    loader = DemoLoader(urls, token, bootstrap, log=log, timeout=timeout)
    try:
        return loader.load()
    finally:
        loader.close()


def token(url: str, username: str, password: str) -> str:
    r = _ok(httpx.post(f"{url}/api/auth/token", data={"username": username, "password": password}, timeout=30))
    return str(r.json()["access_token"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, port in (("intake", 8001), ("invoicing", 8002), ("appointments", 8003), ("reporting", 8004)):
        parser.add_argument(f"--{name}", default=f"http://127.0.0.1:{port}")
    parser.add_argument("--kafka", default=None, help="bootstrap servers (upstream events skipped without it)")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", required=True)
    args = parser.parse_args(argv)
    urls = {n: getattr(args, n) for n in ("intake", "invoicing", "appointments", "reporting")}
    print(load_demo(urls, token(urls["intake"], args.user, args.password), args.kafka))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


MARKER = "demo-data-loaded"


def load_on_first_start(data_dir: Path, urls: dict[str, str], admin_password: str, bootstrap: str | None,
                        setting: str | None = None) -> bool:
    """``make run``'s hook: load the demo dataset once, on the first start of an empty data folder
    (remembered by a marker file in it), unless ``AGENCY_DEMO_DATA=0``. A failure is reported, not
    fatal: the platform keeps running, and the next start tries again."""
    setting = os.environ.get("AGENCY_DEMO_DATA", "1") if setting is None else setting
    marker = data_dir / MARKER
    if setting.strip().lower() in ("0", "false", "no", "off") or marker.exists():
        return False
    print("loading the demo dataset (first start; AGENCY_DEMO_DATA=0 starts empty)...")
    try:
        summary = load_demo(urls, token(urls["intake"], "admin", admin_password), bootstrap)
    except Exception as exc:  # noqa: BLE001 - the platform runs without its demo data
        print(f"demo dataset not loaded: {type(exc).__name__}: {exc}")
        return False
    marker.write_text(json.dumps(summary, indent=2, default=str))
    print(f"demo dataset loaded (remembered in {marker})")
    return True
