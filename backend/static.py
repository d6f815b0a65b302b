"""The frontend's files, plotly.js from the installed plotly package, and the API docs' assets.

Files are read once at start-up into memory (with gzip and ETags): a request
can only ever name one of them, so no path from a client reaches the disk.
"""

from __future__ import annotations

import mimetypes
from importlib import resources
from pathlib import Path

import plotly

from tilting.backend.representation import Payload
from tilting.backend.source import ARCHIVE_URL, source_archive, tree_files

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# Where a wheel carries the frontend: package data of this package (see pyproject.toml).
PACKAGED_FRONTEND = "_frontend"
TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
         ".svg": "image/svg+xml", ".json": "application/json", ".png": "image/png", ".ico": "image/x-icon",
         ".gz": "application/gzip"}
# Swagger UI 5 and Redoc, from the fastapi-offline package (swagger-ui-bundle on PyPI ships
# Swagger UI 4, which cannot read the OpenAPI 3.1 that FastAPI writes). URL name -> file.
DOCS_PACKAGE = "fastapi_offline"
DOCS_ASSETS = {"swagger-ui-bundle.js": "swagger-ui-bundle.js", "swagger-ui.css": "swagger-ui.css",
               "redoc.standalone.js": "redoc.standalone.js", "favicon.png": "favicon.png"}
DOCS_ASSET_URL = "/docs-assets/"
# Redoc's footer shows a logo from Redocly's CDN: a request to another host, which the pages'
# Content-Security-Policy blocks (one console error per visit). Its image hides itself when it
# fails to load, so the address becomes an empty data: URL, and the footer keeps its text link.
DOCS_ASSET_PATCHES = {"redoc.standalone.js": (b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"', b'src:"data:,"')}


def frontend_dir() -> Path:
    """The frontend's folder: the copy an installed wheel carries inside this package, else
    ``frontend/`` beside the package in a source checkout (or an editable install)."""
    packaged = Path(__file__).resolve().parent / PACKAGED_FRONTEND
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[1] / "frontend"


def media_type(path: Path) -> str:
    return TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def load_frontend(root: Path | None = None) -> dict[str, Payload]:
    """Every regular file under ``root`` (default ``frontend_dir()``; dot-files, caches and
    symlinks leading outside are skipped), plotly.js, the docs' assets and the project's source
    (``tilting.backend.source``, with this frontend in it), by URL path."""
    files = {}
    root = (root or frontend_dir()).resolve()
    if root.is_dir():
        for name, real in tree_files(root):
            files["/" + name] = Payload.of(real.read_bytes(), media_type(Path(name)))
    files[ARCHIVE_URL] = Payload.of(source_archive(root), TYPES[".gz"])
    files["/vendor/plotly.min.js"] = Payload.of(PLOTLY_JS.read_bytes(), TYPES[".js"])
    assets = resources.files(DOCS_PACKAGE) / "static"
    for url_name, file in DOCS_ASSETS.items():
        body = (assets / file).read_bytes()
        if url_name in DOCS_ASSET_PATCHES:
            body = body.replace(*DOCS_ASSET_PATCHES[url_name])
        files[DOCS_ASSET_URL + url_name] = Payload.of(body, media_type(Path(file)))
    return files
