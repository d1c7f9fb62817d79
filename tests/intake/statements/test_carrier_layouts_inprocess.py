"""A statement in EZLynx's import layout (DOMAIN-FACTS 1.6) imported with the default profile: its
columns and transaction codes recognised, and the policy term picked by the line's effective date
when two policies share a normalised number. Through HTTP, the database and the real broker."""

from __future__ import annotations

from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.support.carriers import register_carriers

EZLYNX_CSV = (
    "Agency ID,Producer Subcode,Policy Number,Transaction Date,Transaction Type Code,Premium,Comm Percent,"
    "Comm Amount,LOB Code,Policy Holder Name,LOB Subcode,Policy Eff Date,Policy Exp Date\r\n"
    "AG1,P07,HO123,07/04/2026,PCH,120.00,15%,18.00,HOME,Jane Roe,,03/01/2026,03/01/2027\r\n"
    "AG1,P07,ho-123,04/01/2025,XLC,(300.00),15%,(45.00),HOME,Jane Roe,,03/01/2025,03/01/2026\r\n"
    "AG1,P07,HO 123,01/02/2024,REI,300.00,15%,45.00,HOME,Jane Roe,,01/01/2024,01/01/2025\r\n"
    "AG1,P07,AU-9,05/05/2026,RWL,800.00,10%,80.00,AUTOP,Sam Poe,,05/05/2026,05/05/2027\r\n"
)


async def test_ezlynx_statement_matches_the_right_policy_term(start_service, token_for, kafka) -> None:
    intake = await start_service("intake", auto_publish_when_matched=False)
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "EZ Mutual")
        ids = {}
        for number, start, end in (("HO-123", "2025-03-01", "2026-03-01"), ("HO 123", "2026-03-01", "2027-03-01")):
            r = await client.post("/api/policies", json={"carrier": "EZ Mutual", "policy_number": number,
                                                         "client_name": "Jane Roe", "effective_date": start,
                                                         "expiration_date": end})
            assert r.status_code == 201, r.text
            ids[number] = r.json()["policy_id"]
        r = await client.post("/api/statements", data={"carrier": "EZ Mutual"},
                              files={"file": ("ezlynx.csv", EZLYNX_CSV.encode(), "text/csv")})
        assert r.status_code == 202, r.text
        sid = r.json()["id"]

        body = await wait_imported(client, sid)
        assert body["status"] == "imported" and (body["valid"], body["invalid"]) == (4, 0), body
        assert (body["matched"], body["unmatched"], body["ambiguous"]) == (2, 1, 1)

        lines = {ln["line_no"]: ln for ln in (await client.get(f"/api/statements/{sid}/lines")).json()["items"]}
        assert [lines[n]["bill_type"] for n in (2, 3, 4, 5)] == ["endorsement", "cancellation", "cancellation",
                                                               "term_policy"]
        assert lines[2]["policy_id"] == ids["HO 123"] and "policy term by effective date" in lines[2]["match_reason"]
        assert lines[3]["policy_id"] == ids["HO-123"]
        assert lines[2]["insured_name"] == "Jane Roe" and lines[2]["producer_code"] == "P07"
        assert lines[2]["effective_date"] == "2026-03-01" and lines[2]["line_of_business"] == "HOME"
        assert lines[4]["match_status"] == "ambiguous" and "HO-123 (2025-03-01 to 2026-03-01)" in lines[4]["match_reason"]
        assert lines[5]["match_status"] == "unmatched"
