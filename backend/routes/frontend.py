"""The article, its embeddable figures and their assets (``app.state.frontend``), and the
Allow list of a path (for 405s), which must not count the frontend's catch-all."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.routing import Match

try:
    # Recent FastAPI keeps an included router as one entry of app.router.routes;
    # this lists the routes inside, with their prefixed paths.
    from fastapi.routing import iter_route_contexts
except ImportError:  # older FastAPI: app.router.routes holds every route already
    def iter_route_contexts(routes):
        return routes

from tilting.backend.representation import REVALIDATE, payload_response

router = APIRouter(include_in_schema=False)
# The frontend's catch-all route: it matches every path, for GET only.
CATCH_ALL = "/{path:path}"
VENDOR_CACHE = "public, max-age=86400"


def allowed_methods(scope) -> list[str]:
    """The methods the app answers at the scope's path (for a 405's Allow header); empty if none.

    The catch-all does not count, or every path would allow GET: only an API
    route whose path matches, or a frontend file, does. HEAD goes with GET
    (tilting.backend.security answers HEAD on every GET route).
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


def file_url(path: str) -> str:
    """The frontend file a URL path names: / is the article, /embed/NAME a figure's page."""
    if path == "/":
        return "/index.html"
    if path.startswith("/embed/") and path.count("/") == 2 and not path.endswith(".html"):
        return path + ".html"
    return path


def cache_control(file: str) -> str:
    return VENDOR_CACHE if file.startswith("/vendor/") else REVALIDATE


def serve_file(request: Request, path: str):
    file = file_url(path)
    payload = request.app.state.frontend.get(file)
    if payload is None:
        raise HTTPException(404, f"There is no page or file at {file}.")
    return payload_response(request, payload, cache_control(file))


@router.get("/")
async def index(request: Request):
    return serve_file(request, "/")


@router.get("/embed/{figure}")
async def embed(request: Request, figure: str):
    """A figure alone, for an <iframe>: /embed/teaser or /embed/teaser.html."""
    return serve_file(request, f"/embed/{figure}")


@router.get(CATCH_ALL)
async def frontend_file(request: Request, path: str):
    if "/" + path not in request.app.state.frontend:
        # A GET of a path only other methods have (POST /api/.../analyze) is a 405, not a 404.
        allowed = allowed_methods(request.scope)
        if allowed:
            raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
    return serve_file(request, "/" + path)
