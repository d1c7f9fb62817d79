"""The dashboard pages: upload, statement page, create-policies form, sessions, update by carrier,
carrier profiles."""

from __future__ import annotations

from tests.support.inprocess import eventually


async def test_dashboard_flow(start_service, token_for) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as c:
        r = await c.post("/statements", files={"file": ("a.csv", b"Policy #,Named Insured,Premium\nX1,Ann Lee,10\n", "text/csv")},
                         data={"carrier": "Acme"})
        assert r.status_code == 303, r.text
        url = r.headers["location"]
        sid = url.rsplit("/", 1)[1]

        async def imported() -> bool:
            return (await c.get(f"/api/statements/{sid}")).json()["status"] == "imported"
        await eventually(imported, timeout=20)
        for page in ["/", "/statements", url, url + "?validity=valid&match=unmatched", "/policy-sessions",
                     "/policies/update", "/carrier-profiles", "/carrier-profiles?carrier=Acme", url + "/create-policies"]:
            r = await c.get(page)
            assert r.status_code == 200, (page, r.text[:2000])
        r = await c.post(url + "/create-policies", data={"idempotency_key": "k1", "line_of_business": "Auto",
                                                         "ov_2_client_name": "Bob Stone"})
        assert r.status_code == 303, r.text[:2000]
        r = await c.get(r.headers["location"])
        assert r.status_code == 200 and "Bob Stone" in r.text and "X1" in r.text
        r = await c.post("/policies/update", data={"f_carrier": "Acme", "c_status": "lapsed"})
        assert "1 policies updated" in r.text
        r = await c.post("/carrier-profiles", data={"carrier": "Acme", "col_premium": "Prem", "bill_types": "ZZ=audit",
                                                    "prefixes": "AC"})
        assert "saved" in r.text
        r = await c.post("/carrier-profiles", data={"carrier": "Acme", "bill_types": "ZZ=nonsense"})
        assert "unknown bill type" in r.text
        r = await c.get("/policy-sessions?login=clerk&sort=count")
        assert "#1" in r.text
    async with intake.as_user(token_for("viewer")) as c:
        assert (await c.get("/statements")).status_code == 403
