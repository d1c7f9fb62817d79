"""What appointments' routers share: an upload within the size limit, a CSV download, a missing
thing refused as not found, one bulk file's view, and the audit rows of what shows or exports
producers' personal data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from agency_common import audit
from agency_common.auth import User
from agency_common.web import ServiceRuntime
from agency_common.web.downloads import attachment
from fastapi import HTTPException, UploadFile
from fastapi.responses import Response
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from appointments.bulk_files import load_import
from appointments.errors import NotFound

T = TypeVar("T")


async def read_upload(runtime: ServiceRuntime, file: UploadFile) -> bytes:
    limit = runtime.settings.max_upload_bytes  # type: ignore[attr-defined]
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise HTTPException(413, f"file larger than {limit} bytes")
    return content


def csv_response(text: str, filename: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8", headers=attachment(filename))


def found(value: T | None, detail: str) -> T:
    """``value``, or a refusal as not found (404) with ``detail`` when there is none."""
    if value is None:
        raise NotFound(detail)
    return value


async def bulk_file_view(session: AsyncSession, import_id: str, kind: str) -> dict[str, Any]:
    """One bulk file's view (onboarding or terminations), not found when there is no such import of that kind."""
    return found(await load_import(session, import_id, kind), "no such import")


async def record_reveals(runtime: ServiceRuntime, user: User, npns: Sequence[str], fields: Sequence[str]) -> None:
    """Producers' PII shown in clear (issue 19 item 6): one ``pii.revealed`` row per producer, so who
    saw a producer's SSN is found by its NPN (the audit trail's subject filter). Names the fields, never
    their values."""
    if not npns:
        return
    log = runtime.tables.audit_log
    async with runtime.db.transaction() as session:
        await session.execute(insert(log), [
            audit.audit_row("pii.revealed", user.login, subject_type="producer", subject_id=npn,
                            detail={"fields": list(fields)}) for npn in npns])


async def record_export(runtime: ServiceRuntime, user: User, export: str, rows: int, columns: Sequence[str],
                        pii_columns: Sequence[str], **detail: Any) -> None:
    """A download that carries producers' PII (issue 19 item 6): ``pii.exported`` with how many rows
    and which columns (those holding PII named apart); one with no rows carries none and is not recorded."""
    if rows:
        await audit.record(runtime.db, runtime.tables.audit_log, "pii.exported", user.login, subject_type="export",
                           subject_id=export, detail={"rows": rows, "columns": list(columns),
                                                      "pii_columns": list(pii_columns), **detail})
