"""`tilting export`: a static site, served by a plain static file server under a sub-path."""

import functools
import html.parser
import http.server
import json
import os
import shutil
import threading
import urllib.request

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tilting.backend.app import create_app
from tilting.backend.export import export_site, meta_csp
from tilting.backend.security import DOCS_CSP, PAGE_CSP
from tilting.cli.main import main
from tilting.precompute.errors import TiltingError


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


def test_the_source_archive_is_exported_as_served(site, small_bundle):
    """The article's "source code" link (a relative source.tar.gz) finds the archive under the
    sub-path, in the bytes the server sends."""
    base, _, _ = site
    served = TestClient(create_app(small_bundle.path.parent)).get("/source.tar.gz").content
    assert served[:2] == b"\x1f\x8b" and fetch(base + "source.tar.gz") == served


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


# --- What export may replace, and what it leaves alone ----------------------------------

def export(small_bundle, out, capsys):
    """`tilting export` through the CLI: (exit status, stderr)."""
    code = main(["export", "--artifacts", str(small_bundle.path.parent), "--out", str(out)])
    return code, capsys.readouterr().err


def snapshot(folder):
    """Every file under ``folder`` with its bytes, to show that nothing changed."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_one_sentence(code, err, fragment):
    assert code == 2, err
    assert fragment in err and "Traceback" not in err, err
    assert err.count("\n") == 1, err


def test_a_folder_with_an_index_html_is_not_an_export(small_bundle, tmp_path, capsys):
    blog = tmp_path / "b"
    (blog / "photos").mkdir(parents=True)
    (blog / "index.html").write_text("x")
    (blog / "photos" / "cat.jpg").write_text("y")
    before = snapshot(blog)
    assert_one_sentence(*export(small_bundle, blog, capsys), "is not a previous export")
    assert snapshot(blog) == before
    assert os.listdir(tmp_path) == ["b"]  # no staging folder left behind


def test_reexport_refuses_a_previous_export_with_files_added_since(small_bundle, tmp_path, capsys):
    site = tmp_path / "site"
    assert export(small_bundle, site, capsys)[0] == 0
    (site / "photos").mkdir()
    (site / "photos" / "cat.jpg").write_text("y")
    before = snapshot(site)
    assert_one_sentence(*export(small_bundle, site, capsys), "photos")
    assert snapshot(site) == before
    # Once the user's files are moved out, the export is replaced as usual.
    shutil.rmtree(site / "photos")
    assert export(small_bundle, site, capsys)[0] == 0


def test_an_empty_folder_is_a_fine_target(small_bundle, tmp_path, capsys):
    site = tmp_path / "site"
    site.mkdir()
    assert export(small_bundle, site, capsys)[0] == 0
    assert (site / "index.html").is_file()


def test_the_marker_lists_every_file_written(small_bundle, tmp_path, capsys):
    site = tmp_path / "site"
    assert export(small_bundle, site, capsys)[0] == 0
    marker = json.loads((site / ".tilting-export").read_text())
    assert marker["tool"] == "tilting export"
    assert sorted(marker["files"]) == sorted(set(snapshot(site)) - {".tilting-export"})


def test_siblings_are_never_touched(small_bundle, tmp_path, capsys):
    (tmp_path / "blog.old").mkdir()
    (tmp_path / "blog.old" / "IMPORTANT.txt").write_text("k")
    (tmp_path / "notes.txt").write_text("n")
    for _ in range(2):  # a first export, then a replacement
        assert export(small_bundle, tmp_path / "blog", capsys)[0] == 0
        assert sorted(os.listdir(tmp_path)) == ["blog", "blog.old", "notes.txt"]
    assert (tmp_path / "blog.old" / "IMPORTANT.txt").read_text() == "k"


@pytest.mark.parametrize("umask, folder_mode, file_mode", [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)])
def test_permissions_follow_the_umask(small_bundle, tmp_path, capsys, umask, folder_mode, file_mode):
    """A web server running as another user must be able to read the export (umask 022)."""
    site = tmp_path / "site"
    old = os.umask(umask)
    try:
        assert export(small_bundle, site, capsys)[0] == 0  # first export
        assert export(small_bundle, site, capsys)[0] == 0  # and a replacement
    finally:
        os.umask(old)
    modes = {p: p.stat().st_mode & 0o777 for p in [site, *site.rglob("*")]}
    assert {oct(m) for p, m in modes.items() if p.is_dir()} == {oct(folder_mode)}
    assert {oct(m) for p, m in modes.items() if p.is_file()} == {oct(file_mode)}


def test_bad_targets_get_one_sentence(small_bundle, tmp_path, capsys, monkeypatch):
    site = tmp_path / "site"
    assert export(small_bundle, site, capsys)[0] == 0
    before = snapshot(site)
    # Inside a previous export, `--out .` would have to replace the current folder.
    monkeypatch.chdir(site)
    assert_one_sentence(*export(small_bundle, ".", capsys), "current folder")
    monkeypatch.chdir(site / "js")
    assert_one_sentence(*export(small_bundle, "..", capsys), "current folder")
    monkeypatch.chdir(tmp_path)
    # A path under a regular file, and a regular file itself.
    (tmp_path / "afile").write_text("a")
    assert_one_sentence(*export(small_bundle, "afile/sub", capsys), "afile is a file")
    assert_one_sentence(*export(small_bundle, "afile", capsys), "afile is a file")
    assert (tmp_path / "afile").read_text() == "a"
    assert snapshot(site) == before
    assert sorted(os.listdir(tmp_path)) == ["afile", "site"]


# --- The server's Content-Security-Policy, as a <meta> in every exported page ------------

class _Head(html.parser.HTMLParser):
    """The CSP <meta> elements of a page, and whether each came before any other element that loads something."""

    def __init__(self):
        super().__init__()
        self.policies, self.loaded_before = [], []
        self.loads = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy":
            self.policies.append(attrs["content"])
            self.loaded_before.append(self.loads)
        elif tag in ("script", "link", "style", "img", "iframe"):
            self.loads += 1


def test_every_page_carries_the_servers_csp(site, small_bundle):
    _, _, docroot = site
    root = docroot / "blog" / "explorable"
    api = TestClient(create_app(small_bundle.path.parent))
    pages = sorted(root.rglob("*.html"))
    assert len(pages) >= 8  # the article and every embed
    for page in pages:
        head = _Head()
        head.feed(page.read_text())
        assert len(head.policies) == 1 and head.loaded_before == [0], page
        served = api.get("/" + page.relative_to(root).as_posix()).headers["content-security-policy"]
        # frame-ancestors is ignored in a <meta> policy (a static host has to send it as a header).
        expected = "; ".join(d for d in served.split("; ") if not d.startswith("frame-ancestors"))
        # The API docs have their own policy (no eval; see tilting.backend.security.DOCS_CSP).
        policy = DOCS_CSP if page.parent.name in ("docs", "redoc") else PAGE_CSP
        assert head.policies[0] == expected == meta_csp(policy), page
