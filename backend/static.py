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


def serve_file(request: Request, path: str):
    files = request.app.state.frontend
    payload = files.get(path)
    if payload is None:
        raise HTTPException(404, f"There is no page or file at {path}.")
    cache = "public, max-age=86400" if path.startswith("/vendor/") else "no-cache"
    return payload_response(request, payload, cache)


@router.api_route("/", methods=["GET", "HEAD"])
async def index(request: Request):
    return serve_file(request, "/index.html")


@router.api_route("/embed/{figure}", methods=["GET", "HEAD"])
async def embed(request: Request, figure: str):
    """A figure alone, for an <iframe>: /embed/teaser or /embed/teaser.html."""
    return serve_file(request, f"/embed/{figure.removesuffix('.html')}.html")


@router.api_route("/{path:path}", methods=["GET", "HEAD"])
async def frontend_file(request: Request, path: str):
    # This catch-all also sees GETs of POST-only API paths: those are 405, not 404.
    # (Only /api paths can be such; frontend files skip the route scan.)
    if path.startswith("api/") and any(
        route.matches(request.scope)[0] == Match.PARTIAL for route in request.app.router.routes
    ):
        raise HTTPException(405, f"GET is not allowed on /{path}.")
    return serve_file(request, "/" + path)
