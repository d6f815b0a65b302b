"""The API docs render in a real browser with no network beyond this machine: Swagger UI at
/docs of the server, and the article's `docs` link in `tilting export`'s static site."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
import urllib.parse

import pytest

from tilting.backend.app import create_app
from tilting.backend.export import export_site
from tests.helpers import live_server

pytestmark = pytest.mark.browser


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def static_site(artifacts, docroot):
    """The export under /blog/explorable/ of Python's plain static server; yields its base URL."""
    export_site(artifacts, docroot / "blog" / "explorable")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(docroot)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/blog/explorable/"
    finally:
        server.shutdown()


@contextlib.contextmanager
def served(artifacts):
    with live_server(create_app(artifacts)) as port:
        yield f"http://127.0.0.1:{port}/"


@contextlib.contextmanager
def docs_page(kind, chromium, artifacts, docroot, path):
    """A page at ``path`` of the server or of the static export, allowed no other host; yields
    it with the lists the test checks last: requests to other hosts, console errors and warnings."""
    site = served(artifacts) if kind == "serve" else static_site(artifacts, docroot)
    with site as base:
        context = chromium.new_context()
        elsewhere, problems = [], []

        def only_this_machine(route):
            if urllib.parse.urlsplit(route.request.url).hostname == "127.0.0.1":
                return route.continue_()
            elsewhere.append(route.request.url)
            return route.abort()

        context.route("**/*", only_this_machine)
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
        page.goto(base + path)
        try:
            yield page, elsewhere, problems
        finally:
            context.close()


@pytest.mark.parametrize("kind", ["serve", "static"])
def test_redoc_renders_offline_without_a_console_error(kind, chromium, small_bundle, tmp_path):
    """Redoc's footer logo comes from Redocly's CDN unless the server rewrites it (static.py)."""
    with docs_page(kind, chromium, small_bundle.path.parent, tmp_path, "redoc") as (page, elsewhere, problems):
        page.locator("h2", has_text="Analyse an image").first.wait_for(timeout=30000)
        page.wait_for_timeout(500)  # the footer renders after the operations
        footer = page.locator("a[href*='redocly.com/redoc']").count()
    assert footer == 1  # the footer is there, its credit kept
    assert not elsewhere, f"Redoc asked for other hosts: {elsewhere}"
    assert not problems, problems


@pytest.mark.parametrize("kind", ["serve", "static"])
def test_docs_render_every_operation_offline(kind, chromium, small_bundle, tmp_path):
    # "docs": the article's link (a static host answers with docs/index.html)
    with docs_page(kind, chromium, small_bundle.path.parent, tmp_path, "docs") as (page, elsewhere, problems):
        page.wait_for_selector(".opblock-summary", timeout=30000)
        summaries = page.locator(".opblock-summary-description").all_inner_texts()
        paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "List the experiments" in summaries and "Analyse an image" in summaries
    assert any("/api/experiments/{exp_id}/arrays/{file}" in p.replace("\u200b", "") for p in paths)
    assert len(summaries) >= 10
    assert not elsewhere, f"the docs asked for other hosts: {elsewhere}"
    assert not problems, problems
