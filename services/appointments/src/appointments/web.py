"""What appointments' routers share: an upload within the size limit, a CSV download, a missing
thing refused as not found, and one bulk file's view."""

from __future__ import annotations

from typing import Any, TypeVar

from agency_common.web import ServiceRuntime
from fastapi import HTTPException, UploadFile
from fastapi.responses import Response
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
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def found(value: T | None, detail: str) -> T:
    """``value``, or a refusal as not found (404) with ``detail`` when there is none."""
    if value is None:
        raise NotFound(detail)
    return value


async def bulk_file_view(session: AsyncSession, import_id: str, kind: str) -> dict[str, Any]:
    """One bulk file's view (onboarding or terminations), not found when there is no such import of that kind."""
    return found(await load_import(session, import_id, kind), "no such import")
