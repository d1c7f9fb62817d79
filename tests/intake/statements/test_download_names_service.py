"""A statement's downloads keep the file's own name, whatever its letters (issue 20: a statement named
``保单.csv`` answered its errors.csv with a 500): an ASCII ``filename`` for old clients and the exact
UTF-8 name in ``filename*`` (RFC 6266), through ``agency_common.web.downloads.attachment``."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from tests.intake.statements.test_statements_inprocess import wait_imported
from tests.support.carriers import register_carriers

CSV = ("Policy #,Named Insured,Trans Type,Premium,Comm Amt\r\n"
       "N-1,Holder One,NBS,100.00,10.00\r\n"
       "N-2,Holder Two,NBS,not money,10.00\r\n")


def exact_name(disposition: str) -> str:
    found = re.search(r"filename\*=UTF-8''([^;]+)", disposition)
    assert found, disposition
    return unquote(found.group(1))


@pytest.mark.parametrize("file_name", ["Prämien März.csv", "保单.csv"])
async def test_downloads_of_a_statement_with_any_file_name(start_service, token_for, file_name: str) -> None:
    intake = await start_service("intake")
    async with intake.as_user(token_for("clerk")) as client:
        await register_carriers(client, "Names Mutual")
        # each case its own content: the second upload is no duplicate of the first
        body = CSV.replace("N-", f"N{len(file_name)}-").encode()
        r = await client.post("/api/statements", files={"file": (file_name, body, "text/csv")},
                              data={"carrier": "Names Mutual"})
        assert r.status_code in (200, 201, 202), r.text
        st = await wait_imported(client, r.json()["id"])
        assert (st["status"], st["file_name"], st["invalid"]) == ("imported", file_name, 1), st

        errors = await client.get(f"/api/statements/{st['id']}/errors.csv")
        assert errors.status_code == 200, errors.text
        disposition = errors.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="') and disposition.isascii()
        assert exact_name(disposition) == f"{file_name.rsplit('.', 1)[0]}-errors.csv"
        assert "not money" in errors.content.decode("utf-8-sig")

        original = await client.get(f"/api/statements/{st['id']}/file")
        assert original.status_code == 200 and original.content == body
        assert exact_name(original.headers["content-disposition"]) == file_name
