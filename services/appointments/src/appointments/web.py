"""What appointments' routers share: the runtime, an upload within the size limit, a CSV download
and a missing thing as 404."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import HTTPException, Request, UploadFile
from fastapi.responses import Response

from appointments.bulk_files import load_import

T = TypeVar("T")


def runtime(request: Request) -> Any:
    return request.app.state.runtime


async def read_upload(request: Request, file: UploadFile) -> bytes:
    limit = runtime(request).settings.max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise HTTPException(413, f"file larger than {limit} bytes")
    return content


def csv_response(text: str, filename: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def found(value: T | None, detail: str) -> T:
    """``value``, or 404 with ``detail`` when there is none."""
    if value is None:
        raise HTTPException(404, detail)
    return value


async def bulk_file_view(request: Request, import_id: str, kind: str) -> dict[str, Any]:
    """One bulk file's view (onboarding or terminations), 404 when there is no such import of that kind."""
    async with runtime(request).db.session() as session:
        return found(await load_import(session, import_id, kind), "no such import")
