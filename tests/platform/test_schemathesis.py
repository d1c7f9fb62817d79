"""No operation of any service answers 5xx (issue 19, item 9): schemathesis generates requests for every
operation of each service's own OpenAPI, valid ones and ones that break the schema, a bounded number per
operation, and sends them in-process (ASGI) with an administrator's token to the app on a real broker and
a real database. The ``not_a_server_error`` check fails on any 5xx, and so does an exception raised by
the app (httpx's ASGI transport re-raises it: that is the traceback to read)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

# Examples per operation and generation mode; the five services' ~140 operations stay within a few
# minutes on a loaded machine. AGENCY_SCHEMATHESIS_EXAMPLES raises it for a deeper local run.
EXAMPLES = int(os.environ.get("AGENCY_SCHEMATHESIS_EXAMPLES", "6"))

# Logging out (and the token it might revoke) would end the run's session; logging in is argon2 work
# that the login guard's own tests cover.
SKIPPED = {("POST", "/logout"), ("POST", "/api/auth/token")}


def _text(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """schemathesis serialises a case for ``requests``; the same request for httpx. Cookies are left out:
    the only one is the login cookie, and the administrator's bearer token stands for it."""
    out = {k: kwargs[k] for k in ("method", "url", "params") if k in kwargs}
    out["headers"] = {k: v for k, v in kwargs.get("headers", {}).items() if k.lower() != "connection"}
    if "json" in kwargs:
        out["json"] = kwargs["json"]
    data = kwargs.get("data")
    if kwargs.get("files"):  # multipart: plain fields as form data, files as bytes
        fields: dict[str, list[bytes]] = {}
        files = []
        for name, (filename, value, *_) in kwargs["files"]:
            if filename is None:
                fields.setdefault(name, []).append(_text(value))
            else:
                files.append((name, (filename, _text(value))))
        out["data"] = {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in fields.items()}
        out["files"] = files
    elif isinstance(data, dict):
        out["data"] = data
    elif data is not None:
        out["content"] = _text(data)
    return out


def _fuzz(operation: Any, mode: GenerationMode, send: Any) -> None:
    """Runs in a worker thread (hypothesis is synchronous); ``send`` hands each request to the loop."""

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        response = send(_httpx_kwargs(case.as_transport_kwargs(base_url="http://testserver")))
        case.validate_response(response, checks=[not_a_server_error])

    check()


async def server_errors(openapi: dict[str, Any], client: httpx.AsyncClient) -> list[str]:
    """Every operation of ``openapi`` fuzzed through ``client``: what answered 5xx, in words."""
    schema = schemathesis.openapi.from_dict(openapi)
    loop = asyncio.get_running_loop()

    async def request(kwargs: dict[str, Any]) -> httpx.Response:
        # the caller's token in place of any the case made up (it would be refused: 401, nothing tested)
        headers = {k: v for k, v in kwargs["headers"].items() if k.lower() != "authorization"}
        kwargs["headers"] = headers | {k: v for k, v in client.headers.items() if k.lower() == "authorization"}
        built = client.build_request(**kwargs)
        built.read()  # a multipart body streams; the check reads the request again
        return await client.send(built)

    def send(kwargs: dict[str, Any]) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(request(kwargs), loop).result(120)

    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                await asyncio.to_thread(_fuzz, operation, mode, send)
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing to break: an operation without parameters has no negative case
            except (Exception, BaseExceptionGroup) as e:  # noqa: BLE001 -- one operation's failure must not hide the others'
                failures.append(f"{operation.method.upper()} {operation.path} ({mode}): "
                                f"{type(e).__name__}: {str(e)[:1500]}")
    return failures


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")  # schemathesis' own
@pytest.mark.parametrize("service", ["intake", "invoicing", "appointments", "gateway", "reporting"])
async def test_no_operation_answers_a_server_error(service: str, start_service, token_for) -> None:
    svc = await start_service(service)
    async with svc.as_user(token_for("admin")) as client:
        failures = await server_errors(svc.app.openapi(), client)
    assert not failures, f"{len(failures)} server errors in {service}:\n\n" + "\n\n".join(failures)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_the_fuzzing_sees_a_server_error_and_an_exception() -> None:
    app = FastAPI()

    @app.get("/api/refused")
    async def refused(n: int) -> JSONResponse:
        return JSONResponse({"detail": "no"}, status_code=422)

    @app.get("/api/broken")
    async def broken() -> JSONResponse:
        return JSONResponse({"detail": "broken"}, status_code=503)

    @app.post("/api/raises")
    async def raises(body: dict[str, Any]) -> None:
        raise RuntimeError("a bug")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        failures = await server_errors(app.openapi(), c)
    assert {f.split(" (")[0] for f in failures} == {"GET /api/broken", "POST /api/raises"}
    assert any("RuntimeError: a bug" in f for f in failures)
