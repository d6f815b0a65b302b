"""The FastAPI application: the API, the frontend, health, and error handling."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend import api, static
from backend.models import Health
from backend.security import SecurityMiddleware
from backend.store import Store

log = logging.getLogger("tilting")

DESCRIPTION = """
Linear SVMs trained on two MNIST digits along an exact L2-regularization path,
and the *boundary tilting* geometry of each model (Tanay & Griffin, 2016).

* `GET /api/experiments`: the digit pairs; `GET /api/experiments/{id}`: one
  pair's metadata and per-model metrics, with the URLs of its bulk arrays.
* Bulk arrays are raw little-endian bytes (dtype and shape in the
  `X-Array-Dtype` and `X-Array-Shape` headers), or JSON. URLs carrying
  `?v=` are content-addressed and cacheable forever.
* `POST /api/experiments/{id}/analyze`: your own image through every model.

Distances are L2 distances in pixel units, pixels in [0, 1]. Errors are JSON
`{"detail": "<one sentence>"}`.
"""


def _sentence(error: dict) -> str:
    if error.get("type") == "json_invalid":
        return "The request body is not valid JSON."
    where = ".".join(str(p) for p in error["loc"] if p != "body")
    message = error["msg"]
    if error.get("type") == "finite_number":
        message = "must be a finite number (not NaN or ±Inf)"
    return f"{where}: {message}." if where else f"{message}."


def create_app(artifacts_dir: str | Path, frontend_dir: str | Path | None = None) -> FastAPI:
    """Load and validate every bundle (raising BundleError on a bad one), then build the app."""
    app = FastAPI(
        title="Boundary Tilting API",
        version="1.0",
        description=DESCRIPTION,
        openapi_tags=[{"name": "experiments", "description": "SVM paths on MNIST digit pairs."}],
    )
    app.state.store = Store(artifacts_dir)
    app.state.frontend = static.load_frontend(Path(frontend_dir) if frontend_dir else static.DEFAULT_FRONTEND)

    @app.get("/healthz", tags=["health"], summary="Liveness", response_model=Health)
    def healthz():
        return {"status": "ok", "experiments": len(app.state.store.experiments)}

    app.include_router(api.router)
    app.include_router(static.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not even text: a bad parameter like any other.
            return JSONResponse({"detail": "The request body is not valid JSON."}, status_code=422)
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        return JSONResponse({"detail": _sentence(errors[0]) if errors else "Invalid request."}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal error; it has been logged."}, status_code=500)

    app.add_middleware(DynamicGZip)
    app.add_middleware(SecurityMiddleware)
    return app


class DynamicGZip:
    """Gzip only the responses computed per request.

    Precomputed payloads (bundle metadata, arrays, frontend files) carry their
    own gzip; sending them through GZipMiddleware as well would only cost time.
    """

    DYNAMIC = re.compile(r"^/api/experiments/[^/]+/(models|images)/|/analyze$|^/(openapi\.json|docs|redoc)$")

    def __init__(self, app):
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1024)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.DYNAMIC.search(scope["path"]):
            return await self.gzip(scope, receive, send)
        return await self.app(scope, receive, send)
