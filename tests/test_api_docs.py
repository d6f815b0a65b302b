"""The API docs (/docs, /redoc) need no network: every asset is same-origin and served, the
policy names no other host, and `tilting export` carries working docs pages."""

from __future__ import annotations

import html.parser
import json
import urllib.parse

import pytest
from fastapi.testclient import TestClient

from tilting.backend.app import create_app
from tilting.backend.export import export_site

TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}
PAGES = ["/docs", "/docs/", "/docs/index.html", "/redoc", "/redoc/index.html"]


class References(html.parser.HTMLParser):
    """Every src and href of a page, and the data-spec (the schema's URL) of the docs element."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href", "data-spec") and value]


def references(page: bytes) -> list[str]:
    parser = References()
    parser.feed(page.decode())
    return parser.urls


@pytest.fixture(scope="module")
def client(small_bundle):
    return TestClient(create_app(small_bundle.path.parent))


@pytest.mark.parametrize("page", PAGES)
def test_docs_reference_only_same_origin_assets_and_all_are_served(client, page):
    response = client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    urls = references(response.content)
    assert len(urls) >= 3
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        assert not parts.scheme and not parts.netloc and not url.startswith("/"), url  # relative, same origin
        target = urllib.parse.urljoin("http://testserver" + page, url)
        asset = client.get(target)
        assert asset.status_code == 200, target
        suffix = "." + target.rsplit(".", 1)[-1]
        assert asset.headers["content-type"].startswith(TYPES[suffix]), target
    [spec] = [u for u in urls if u.endswith("openapi.json")]
    assert client.get(urllib.parse.urljoin("http://testserver" + page, spec)).json()["paths"]


def test_docs_policy_allows_this_origin_only_and_no_inline_script(client):
    policy = client.get("/docs").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert "http" not in policy and "*" not in policy.replace("frame-ancestors 'none'", "")
    page = client.get("/docs").text
    assert "<script>" not in page and "<style" not in page  # only same-origin files


def test_the_export_carries_the_docs_and_the_schema(small_bundle, tmp_path):
    site = tmp_path / "site"
    export_site(small_bundle.path.parent, site)
    schema = json.loads((site / "openapi.json").read_text())
    assert "/api/experiments/{exp_id}" in schema["paths"]
    for page in ("docs/index.html", "redoc/index.html"):
        text = (site / page).read_bytes()
        assert b'http-equiv="Content-Security-Policy"' in text
        for url in references(text):
            target = (site / page).parent / urllib.parse.urlsplit(url).path
            assert target.resolve().is_file() and target.resolve().is_relative_to(site.resolve()), (page, url)
