from pathlib import Path
from tests.invoicing.helpers import entries, open_rec, policy, publish, wait_policies

CSS = Path("libs/common/src/agency_common/web/static/app.css").resolve()

def save(name, html):
    Path(f"/tmp/snap_{name}.html").write_text(html.replace('href="/static/common/app.css"', f'href="file://{CSS}"'))

async def test_snap(start_service, token_for, kafka):
    svc = await start_service("invoicing")
    await publish(kafka, [policy(i, bill_to_name="Payer %d" % i if i % 2 else None) for i in range(1, 8)])
    async with svc.as_user(token_for("clerk")) as c:
        await wait_policies(c, 7)
        rec = await open_rec(c, description="March statement")
        rid = rec["id"]
        rows = await entries(c, rid)
        await c.post(f"/api/reconciliations/{rid}/entries/{rows[0]['id']}/other-commissions", json={"employee": "Pat", "production_role": "producer", "rate_type": "percent", "rate": "40%", "production_credit": "90.00"})
        await c.post(f"/api/reconciliations/{rid}/entries/select", json={"ids": [rows[0]["id"], rows[1]["id"], rows[2]["id"]]})
        bad = await c.post(f"/reconciliations/{rid}/entries/save", data={"page": "1", f"version-{rows[3]['id']}": str(rows[3]['version']), f"orig-{rows[3]['id']}-premium_paid": "1000.00", f"row-{rows[3]['id']}-premium_paid": "abc"})
        save("entries_err", bad.text)
        save("entries", (await c.get(f"/reconciliations/{rid}/entries")).text)
        save("rec", (await c.get(f"/reconciliations/{rid}")).text)
        popup = await c.post(f"/reconciliations/{rid}/create-pay-all", data={"idempotency_key": "k"})
        save("popup", popup.text)
        await c.post(f"/api/reconciliations/{rid}/create-invoices")
        save("invoices", (await c.get(f"/reconciliations/{rid}/invoices")).text)
        await c.post(f"/api/reconciliations/{rid}/post", json={})
        await c.post(f"/api/reconciliations/{rid}/transactions/select-all")
        save("transactions", (await c.get(f"/reconciliations/{rid}/transactions")).text)
        save("report", (await c.get(f"/reconciliations/{rid}/reports/remittance")).text)
        save("list", (await c.get(f"/reconciliations")).text)
