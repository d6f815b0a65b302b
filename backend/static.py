"""The frontend's files, and plotly.js from the installed plotly package.

Files are read once at start-up into memory (with gzip and ETags): a request
can only ever name one of them, so no path from a client reaches the disk.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import plotly
from fastapi import APIRouter, HTTPException, Request
from starlette.routing import Match

try:
    # Recent FastAPI keeps an included router as one entry of app.router.routes;
    # this lists the routes inside, with their prefixed paths.
    from fastapi.routing import iter_route_contexts
except ImportError:  # older FastAPI: app.router.routes holds every route already
    def iter_route_contexts(routes):
        return routes

from backend.api import payload_response
from backend.store import Payload

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
DEFAULT_FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
         ".svg": "image/svg+xml", ".json": "application/json", ".png": "image/png", ".ico": "image/x-icon"}


def load_frontend(frontend_dir: Path) -> dict[str, Payload]:
    """Every regular file under ``frontend_dir`` (symlinks leading outside are skipped), by URL path."""
    files = {}
    root = frontend_dir.resolve()
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            real = path.resolve()
            if not real.is_file() or not real.is_relative_to(root) or any(p.startswith(".") for p in path.parts):
                continue
            media = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            files["/" + path.relative_to(root).as_posix()] = Payload.of(real.read_bytes(), media)
    files["/vendor/plotly.min.js"] = Payload.of(PLOTLY_JS.read_bytes(), TYPES[".js"])
    return files


router = APIRouter(include_in_schema=False)
# The frontend's catch-all route: it matches every path, for GET only.
CATCH_ALL = "/{path:path}"


def allowed_methods(scope) -> list[str]:
    """The methods the app answers at the scope's path (for a 405's Allow header); empty if none.

    The catch-all does not count, or every path would allow GET: only an API
    route whose path matches, or a frontend file, does. HEAD goes with GET
    (backend.security answers HEAD on every GET route).
    """
    app = scope["app"]
    methods = set()
    for route in iter_route_contexts(app.router.routes):
        if getattr(route, "path", None) != CATCH_ALL and getattr(route, "methods", None):
            if route.matches(scope)[0] is not Match.NONE:
                methods |= route.methods
    if scope["path"] in app.state.frontend:
        methods.add("GET")
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def serve_file(request: Request, path: str):
    files = request.app.state.frontend
    payload = files.get(path)
    if payload is None:
        raise HTTPException(404, f"There is no page or file at {path}.")
    cache = "public, max-age=86400" if path.startswith("/vendor/") else "no-cache"
    return payload_response(request, payload, cache)


@router.get("/")
async def index(request: Request):
    return serve_file(request, "/index.html")


@router.get("/embed/{figure}")
async def embed(request: Request, figure: str):
    """A figure alone, for an <iframe>: /embed/teaser or /embed/teaser.html."""
    return serve_file(request, f"/embed/{figure.removesuffix('.html')}.html")


@router.get(CATCH_ALL)
async def frontend_file(request: Request, path: str):
    if "/" + path not in request.app.state.frontend:
        # A GET of a path only other methods have (POST /api/.../analyze) is a 405, not a 404.
        allowed = allowed_methods(request.scope)
        if allowed:
            raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
    return serve_file(request, "/" + path)
