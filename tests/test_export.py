"""`tilting export`: a static site, served by a plain static file server under a sub-path."""

import functools
import http.server
import json
import os
import threading
import urllib.request

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.export import export_site
from precompute.cli import main
from precompute.errors import TiltingError


@pytest.fixture(scope="module")
def site(small_bundle, tmp_path_factory):
    """The export of the small bundle, under /blog/explorable/ of a plain static server."""
    docroot = tmp_path_factory.mktemp("docroot")
    count = export_site(small_bundle.path.parent, docroot / "blog" / "explorable")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(docroot))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/blog/explorable/", count, docroot
    server.shutdown()


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_pages_and_assets_are_there(site):
    base, count, _ = site
    assert count > 50
    assert b"<html" in fetch(base + "index.html").lower()
    for figure in ("teaser", "linear", "explorer"):
        assert b"<html" in fetch(base + f"embed/{figure}.html").lower()
    assert len(fetch(base + "vendor/plotly.min.js")) > 1_000_000


def test_data_is_the_bytes_the_api_serves(site, small_bundle):
    base, _, _ = site
    api = TestClient(create_app(small_bundle.path.parent))
    listing = json.loads(fetch(base + "api/experiments.json"))
    assert listing == api.get("/api/experiments").json()
    detail = json.loads(fetch(base + "api/experiments/mnist-2-3.json"))
    assert detail == api.get("/api/experiments/mnist-2-3").json()
    for name in ("weights", "train_v", "train_y"):
        info = detail["arrays"][name]
        static = fetch(base + "api/" + info["url"])  # the ?v= query is ignored by static servers
        assert static == api.get("/api/" + info["url"]).content
        np.testing.assert_array_equal(
            np.frombuffer(static, {"float32": "<f4", "int8": "i1"}[info["dtype"]]).reshape(info["shape"]),
            small_bundle.arrays[name],
        )
    half = fetch(base + "api/" + detail["arrays"]["train_v"]["url_f16"])
    assert len(half) == 2 * np.prod(detail["arrays"]["train_v"]["shape"])


def test_relative_urls_only(site):
    _, _, docroot = site
    for path in (docroot / "blog" / "explorable").rglob("*.html"):
        text = path.read_text()
        assert 'src="/' not in text and 'href="/' not in text, path


def test_export_refuses_to_replace_a_foreign_folder(small_bundle, tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(TiltingError, match="is not a previous export"):
        export_site(small_bundle.path.parent, foreign)
    assert os.listdir(foreign) == ["cat.jpg"]


def test_cli_export_and_reexport(small_bundle, tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["export", "--artifacts", str(small_bundle.path.parent), "--out", str(out)]) == 0
    assert main(["export", "--artifacts", str(small_bundle.path.parent), "--out", str(out)]) == 0
    assert (out / "index.html").is_file() and not (tmp_path / "site.old").exists()
    assert main(["export", "--artifacts", str(tmp_path / "empty"), "--out", str(tmp_path / "x")]) == 2
    assert "No experiment" in capsys.readouterr().err
