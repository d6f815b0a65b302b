"""A built wheel, installed in a fresh venv, serves the article, every embed, the API docs and
its own source (issue 11): the frontend travels as package data, not as a folder beside the
source tree. The wheel is built from the source archive the article links, as its SOURCE.txt says."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tilting.backend.source import source_archive
from tilting.backend.static import frontend_dir
from tests.helpers import ROOT, get, running_server

pytestmark = pytest.mark.slow


def run(command: list, **options) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, **options)
    assert done.returncode == 0, f"{command[:3]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The `tilting` script of a fresh venv (no system site-packages) holding only the wheel
    and its dependencies from the package index."""
    tmp = tmp_path_factory.mktemp("wheel")
    # The checkout's /source.tar.gz, unpacked (so the build also leaves nothing in the work tree).
    with tarfile.open(fileobj=io.BytesIO(source_archive(frontend_dir().resolve()))) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    [source] = (tmp / "unpacked").iterdir()
    run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(tmp / "dist"), "-q"])
    [wheel] = (tmp / "dist").glob("*.whl")
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)])
    return venv / "bin" / "tilting"


def test_an_installed_wheel_serves_the_article_every_embed_the_docs_and_its_source(installed, small_bundle,
                                                                                    tmp_path):
    outside = tmp_path / "elsewhere"  # not the repository: nothing can be found beside the sources
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    files = sorted(p.relative_to(ROOT / "frontend").as_posix() for p in (ROOT / "frontend").rglob("*") if p.is_file())
    pages = ["/", *(f"/{name}" for name in files)]  # the article, every embed, script and style sheet
    assert len([p for p in pages if p.startswith("/embed/")]) > 5
    with running_server(small_bundle.path.parent, command=[str(installed)], cwd=outside, env=env) as base:
        for page in pages:
            status, headers, body = get(base + page, {"accept-encoding": "identity"})
            assert status == 200, page
            assert headers["content-type"].split(";")[0] in ("text/html", "text/javascript", "text/css"), page
            file = "index.html" if page == "/" else page.lstrip("/")
            assert body == (ROOT / "frontend" / file).read_bytes(), page
        for url in ("/docs", "/docs-assets/swagger-ui-bundle.js", "/api/experiments", "/vendor/plotly.min.js"):
            assert get(base + url)[0] == 200, url
        status, headers, body = get(base + "/source.tar.gz", {"accept-encoding": "gzip"})
    assert status == 200 and headers["content-type"] == "application/gzip" and "content-encoding" not in headers
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = tar.getnames()
        top = names[0] + "/"
        assert top.startswith("boundary-tilting-")
        # The installed packages' files, laid out as the source tree is.
        for file in ("precompute/solver.py", "backend/app.py", "cli/main.py", *(f"frontend/{name}" for name in files)):
            assert tar.extractfile(top + file).read() == (ROOT / file).read_bytes(), file
        guide = tar.extractfile(top + "SOURCE.txt").read().decode()
    # A wheel carries no build files or tests (and SOURCE.txt says so), and its frontend goes
    # under frontend/ only.
    assert not [n for n in names if n.startswith(top + "tests") or "_frontend" in n or n == top + "pyproject.toml"]
    assert "installed package" in guide and "pip install ." not in guide


def test_the_wheel_installs_under_one_namespace(installed, tmp_path):
    """`tilting.precompute`, `tilting.backend` and `tilting.cli`; the source tree's plain folder
    names are not claimed as global modules."""
    python = str(installed.parent / "python")
    probe = ("import importlib.util as u; "
             "print([n for n in ('precompute', 'backend', 'cli', 'tilting.precompute', 'tilting.backend', "
             "'tilting.cli') if u.find_spec(n)])")
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['tilting.precompute', 'tilting.backend', 'tilting.cli']"
