"""The API's documentation pages, Swagger UI at /docs and Redoc at /redoc, with no network.

Their scripts and styles come from an installed package and are served from
this origin (``tilting.backend.static``); the pages start them with a same-origin
script, so their Content-Security-Policy allows no inline script and no
other host. Every URL in a page is relative: ``/docs`` is the page for the
server, ``/docs/index.html`` (also ``/docs/``) the same page one folder down,
which is what ``tilting export`` writes, so that a static host's ``docs``
folder serves it wherever the site lives.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Request

from tilting.backend.representation import REVALIDATE, Payload, payload_response
from tilting.backend.static import DOCS_ASSET_URL, TYPES

router = APIRouter(include_in_schema=False)

# Page URL -> (which UI, the prefix from the page's folder to the site's root).
PAGES = {"/docs": ("swagger", ""), "/docs/": ("swagger", "../"), "/docs/index.html": ("swagger", "../"),
         "/redoc": ("redoc", ""), "/redoc/": ("redoc", "../"), "/redoc/index.html": ("redoc", "../")}

# The start-up scripts: each reads the schema's URL from its element, relative to the page.
SWAGGER_INIT = """// Swagger UI over the schema named by #swagger-ui's data-spec (relative to this page).
const element = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: new URL(element.dataset.spec, document.baseURI).href,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""
REDOC_INIT = """// Redoc over the schema named by #redoc's data-spec (relative to this page).
const element = document.getElementById("redoc");
Redoc.init(new URL(element.dataset.spec, document.baseURI).href, {}, element);
"""
UI = {
    "swagger": {"title": "Swagger UI", "css": "swagger-ui.css", "js": "swagger-ui-bundle.js",
                "init": "swagger-init.js", "element": "swagger-ui"},
    "redoc": {"title": "Redoc", "css": None, "js": "redoc.standalone.js", "init": "redoc-init.js",
              "element": "redoc"},
}
INIT_SCRIPTS = {"swagger-init.js": SWAGGER_INIT, "redoc-init.js": REDOC_INIT}


def page(ui: str, prefix: str, title: str) -> bytes:
    spec = UI[ui]
    assets = prefix + DOCS_ASSET_URL.lstrip("/")
    style = f'<link rel="stylesheet" href="{assets}{spec["css"]}">\n' if spec["css"] else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} — {spec["title"]}</title>
<link rel="icon" href="{assets}favicon.png">
{style}</head>
<body>
<div id="{spec["element"]}" data-spec="{prefix}openapi.json"></div>
<script src="{assets}{spec["js"]}"></script>
<script src="{assets}{spec["init"]}"></script>
</body>
</html>
""".encode()


def docs_pages(title: str) -> dict[str, Payload]:
    """The docs pages, by URL path (served by this router)."""
    return {url: Payload.of(page(ui, prefix, title), TYPES[".html"]) for url, (ui, prefix) in PAGES.items()}


def docs_scripts() -> dict[str, Payload]:
    """The pages' start-up scripts, by URL path (static files, served with the frontend's)."""
    return {DOCS_ASSET_URL + name: Payload.of(script.encode(), TYPES[".js"]) for name, script in INIT_SCRIPTS.items()}


async def docs_page(request: Request):
    return payload_response(request, request.app.state.docs[request.url.path], REVALIDATE)


for _url in PAGES:
    router.add_api_route(_url, docs_page, methods=["GET"])
