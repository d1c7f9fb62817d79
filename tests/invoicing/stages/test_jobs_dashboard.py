"""The dashboard's job page names each background job's kind and shows the figures of that kind;
flash messages count in words ("1 invoice", "2 invoices")."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from invoicing.web import plural

from tests.invoicing.helpers import entries, open_rec, policy, publish, wait_policies
from tests.support.inprocess import eventually


def _message(response: Any) -> str:
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["message"][0]


async def _job_page(c: Any, response: Any) -> str:
    """Follow the redirect to the job page once the job is done; its HTML."""
    assert response.status_code == 303 and "/jobs/" in response.headers["location"], response.text
    job_id = response.headers["location"].rsplit("/", 1)[1].split("?")[0]

    async def finished() -> bool:
        return (await c.get(f"/api/jobs/{job_id}")).json()["status"] in ("done", "failed")
    await eventually(finished, message=f"job {job_id} finished")
    page = await c.get(response.headers["location"])
    assert page.status_code == 200
    return page.text


def test_plural() -> None:
    assert [plural(n, "invoice") for n in (0, 1, 2)] == ["0 invoices", "1 invoice", "2 invoices"]


async def test_create_invoices_message_counts_in_words(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing")
    await publish(kafka, [policy(i) for i in range(1, 4)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 3)
        rid = (await open_rec(c))["id"]
        first, *others = await entries(c, rid)
        await c.post(f"/api/reconciliations/{rid}/entries/select", json={"ids": [first["id"]]})
        r = await c.post(f"/reconciliations/{rid}/create-invoices", data={"idempotency_key": "one"})
        assert _message(r).startswith("1 invoice created; 0 exceptions; 0 selected rows with errors")
        await c.post(f"/api/reconciliations/{rid}/entries/select", json={"ids": [o["id"] for o in others]})
        r = await c.post(f"/reconciliations/{rid}/create-invoices", data={"idempotency_key": "two"})
        assert _message(r).startswith("2 invoices created; 0 exceptions;")
        r = await c.post(f"/reconciliations/{rid}/post-invoices", data={"idempotency_key": "post"})
        assert _message(r) == "3 invoices posted."
        r = await c.post(f"/reconciliations/{rid}/abort", data={"idempotency_key": "abort"})
        assert _message(r).endswith(": 0 unposted invoices removed; 3 posted invoices ($300.00) stay posted and "
                                    "will be offered to the next reconciliation of Acme Mutual.")


async def test_job_page_names_the_kind_and_shows_its_figures(start_service, token_for, kafka) -> None:
    svc = await start_service("invoicing", background_threshold=1, background_chunk=2)
    await publish(kafka, [policy(i) for i in range(1, 4)]
                  + [policy(i, carrier="Beta Co") for i in (11, 12)]
                  + [policy(i, carrier="Gamma Co") for i in (21, 22)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 7)
        rid = (await open_rec(c))["id"]
        await c.post(f"/api/reconciliations/{rid}/entries/select", json={"all_matching": True})
        page = await _job_page(c, await c.post(f"/reconciliations/{rid}/create-invoices",
                                               data={"idempotency_key": "create"}))
        assert "<h1>Create Invoices: done</h1>" in page
        assert "3 invoices created, 0 exceptions, 0 rows with errors." in page
        assert f'href="/reconciliations/{rid}/invoices">Unposted invoices<' in page

        page = await _job_page(c, await c.post(f"/reconciliations/{rid}/post-invoices",
                                               data={"idempotency_key": "post"}))
        assert "<h1>Post Invoices: done</h1>" in page and "3 invoices posted." in page
        assert "Create Invoices" not in page and "Unposted invoices" not in page
        assert f'href="/reconciliations/{rid}/transactions">' in page

        assert (await c.post(f"/api/reconciliations/{rid}/transactions/select-all")).json()["changed"] == 3
        page = await _job_page(c, await c.post(f"/reconciliations/{rid}/transactions/save",
                                               data={"action": "pay", "idempotency_key": "pay"}))
        assert "<h1>Pay All Selected: done</h1>" in page and "3 invoices paid: 300.00 received." in page
        assert f'href="/reconciliations/{rid}/transactions">' in page

        beta = (await open_rec(c, carrier="Beta Co"))["id"]
        await c.post(f"/api/reconciliations/{beta}/entries/select", json={"all_matching": True})
        page = await _job_page(c, await c.post(f"/reconciliations/{beta}/create-pay-all",
                                               data={"idempotency_key": "cpa"}))
        assert "<h1>Create/Pay Invoices: done</h1>" in page
        assert "2 invoices created, 2 posted, 2 paid: 200.00 received; 0 exceptions left" in page
        assert f'href="/reconciliations/{beta}/transactions">' in page

        gamma = (await open_rec(c, carrier="Gamma Co"))["id"]
        await c.post(f"/api/reconciliations/{gamma}/entries/select", json={"all_matching": True})
        page = await _job_page(c, await c.post(f"/reconciliations/{gamma}/create-pay-all",
                                               data={"idempotency_key": "cpp", "decision": "create_pay_post"}))
        assert "<h1>Create/Pay Invoices - Post: done</h1>" in page
        assert "2 invoices created, 2 posted, 2 paid: 200.00 received;" in page
        assert f'href="/reconciliations/{gamma}?popup=post">Post the reconciliation<' in page
