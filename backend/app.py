"""The FastAPI application: its routers, error handling and the layers around them.

From the outside in: ``FastPath`` (precomputed GETs, answered before
anything else), ``SecurityMiddleware`` (headers, CORS, HEAD, body limit),
``ComputedResponses`` (ETag, 304 and gzip for per-request bodies), then the
routers of ``tilting.backend.routes``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tilting.backend import static
from tilting.backend.fastpath import FastPath
from tilting.backend.representation import ComputedResponses
from tilting.backend.routes import ROUTERS
from tilting.backend.routes.docs import docs_pages, docs_scripts
from tilting.backend.routes.frontend import allowed_methods
from tilting.backend.security import HEAD_KEY, SecurityMiddleware
from tilting.backend.store import Store

log = logging.getLogger("tilting")

TITLE = "Boundary Tilting API"
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


def create_app(artifacts, frontend_dir: str | Path | None = None, *, rescan_seconds: float = 1.0,
               strict: bool = True) -> FastAPI:
    """The app over ``artifacts``: a folder (whose new and replaced bundles are picked up
    while serving) or a list of bundle folders.

    Every bundle is read and validated first; a bad one raises its ``BundleError``
    unless ``strict`` is false (then it is logged and left out, see ``Store``).
    """
    app = FastAPI(
        title=TITLE,
        version="1.0",
        description=DESCRIPTION,
        openapi_tags=[{"name": "experiments", "description": "SVM paths on MNIST digit pairs."}],
        docs_url=None,  # tilting.backend.routes.docs serves them with no CDN
        redoc_url=None,
    )
    app.state.store = Store(artifacts, rescan_seconds=rescan_seconds, strict=strict)
    app.state.frontend = {**static.load_frontend(Path(frontend_dir) if frontend_dir else None), **docs_scripts()}
    app.state.docs = docs_pages(TITLE)
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = exc.headers
        if exc.status_code == 405:
            # Starlette's Allow names one matching route's methods, and the frontend's
            # catch-all matches every path for GET: list what this path really has.
            allowed = allowed_methods(request.scope)
            path = request.url.path
            if not allowed:
                return JSONResponse({"detail": f"There is no page or file at {path}."}, status_code=404)
            method = "HEAD" if request.scope.get(HEAD_KEY) else request.method
            detail = f"{method} is not allowed on {path}."
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not even text: a bad parameter like any other.
            return JSONResponse({"detail": "The request body is not valid JSON."}, status_code=422)
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        return JSONResponse({"detail": _sentence(errors[0]) if errors else "Invalid request."}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal error; it has been logged."}, status_code=500)

    # add_middleware wraps: the last added is the outermost.
    app.add_middleware(ComputedResponses)
    app.add_middleware(SecurityMiddleware)
    app.add_middleware(FastPath, state=app.state)
    return app
