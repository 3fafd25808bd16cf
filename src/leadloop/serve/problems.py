"""leadloop's errors as HTTP statuses, in the one place the API decides them.

A route raises ``HTTPException`` for what only HTTP knows (a missing key, a body too large); any
``LeadloopError`` that escapes a route is answered here, with the status its class names in
``errors.py`` (the tree the CLI reads exit codes from). The sender's fault is a 4xx; a store or
a registry the service cannot use right now is 503 (retry later), never 500: the request was
fine.

Answers are ``SafeJSONResponse``: whatever a request held (a lone surrogate, NaN) and an answer
echoes, the answer can still be written.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from leadloop.data.store import redact
from leadloop.errors import LeadloopError

log = logging.getLogger(__name__)


class SafeJSONResponse(JSONResponse):
    """JSON that is always valid UTF-8: a lone surrogate echoed from a request is written as its
    ``\\uXXXX`` escape (what JSON means by it) instead of failing the answer."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


def status_of(err: LeadloopError) -> int:
    """The HTTP status that answers ``err``: the one its class names in ``errors.py``."""
    return err.http_status


def install(app: FastAPI) -> None:
    """Answer every ``LeadloopError`` a route lets escape with its status and its message."""

    @app.exception_handler(LeadloopError)
    async def _answer(_request: Request, err: LeadloopError) -> JSONResponse:
        status = status_of(err)
        detail = redact(str(err))
        if status >= 500:
            log.error("%s", detail)
        if status == 503:
            detail += "; retry later"
        return SafeJSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        """FastAPI's 422, without echoing the input (it may be the whole body, or NaN)."""
        fields = ("type", "loc", "msg")
        errors = [{k: e[k] for k in fields if k in e} for e in err.errors()]
        return SafeJSONResponse({"detail": errors}, status_code=422)
