"""The OpenAPI document, typed from the champion, and the docs page from packaged assets.

``/openapi.json`` is FastAPI's document with two additions: the ``Lead`` schema built from the
current champion's fields (rebuilt when the champion changes) and a bearer security scheme on
the keyed routes (when an API key is configured). ``/docs`` is Swagger UI served from the
``swagger-ui-bundle-v2`` package under ``/docs/assets``: nothing is loaded from the network.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from leadloop.serve.deps import BEARER, Service

ASSETS = "/docs/assets"
OPENAPI_URL = "/openapi.json"


def install(app: FastAPI) -> None:
    """Add ``/openapi.json``, ``/docs`` and the packaged Swagger UI assets to ``app``."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    cache: dict[str | None, dict[str, Any]] = {}

    @app.get(OPENAPI_URL, include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        service: Service = request.app.state.service
        loaded = service.watcher.current
        version = loaded.scorer.version if loaded else None
        if version not in cache:
            cache.clear()
            cache[version] = document(app, service)
        return JSONResponse(cache[version])

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )


def document(app: FastAPI, service: Service) -> dict[str, Any]:
    """The OpenAPI document for the champion being served now."""
    spec = copy.deepcopy(
        get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
    )
    serve = service.settings.serve
    loaded = service.watcher.current
    if loaded is not None:
        spec["components"]["schemas"]["Lead"] = loaded.fields.json_schema(
            strict=serve.strict_fields
        )
        example = loaded.fields.example()
        body = spec["paths"]["/v1/score"]["post"]["requestBody"]["content"]["application/json"]
        body["examples"] = {
            "one": {"summary": "One lead", "value": example},
            "batch": {"summary": "A batch", "value": [example, {**example, "lead_id": "L-2"}]},
        }
    if serve.api_key is not None:
        spec["components"]["securitySchemes"] = {
            BEARER: {
                "type": "http",
                "scheme": "bearer",
                "description": "The API key (LEADLOOP_SERVE__API_KEY), as "
                "`Authorization: Bearer <key>`.",
            }
        }
    else:  # served with --no-auth: say so rather than document a key nobody checks
        for operations in spec["paths"].values():
            for operation in operations.values():
                operation.pop("security", None)
    return spec
