"""The project's source at /source.tar.gz (tilting.backend.source): the files on disk in one
deterministic archive, served like the frontend's files (never gzip'd twice) and exported."""

import io
import subprocess
import tarfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tilting.backend import source
from tilting.backend.app import create_app
from tilting.backend.static import frontend_dir, load_frontend
from tests.helpers import ROOT, frontend_with_secrets

TOP = f"boundary-tilting-{source.project_version()}/"
# A file of each part, as the source tree names it; this checkout adds what `pip install .` needs.
SAMPLES = ["precompute/solver.py", "backend/app.py", "backend/source.py", "cli/main.py", "frontend/index.html",
           "frontend/js/article.js", "frontend/embed/teaser.html", "pyproject.toml", "README.md",
           "tests/test_source_archive.py"]


@pytest.fixture(scope="module")
def client(small_bundle):
    return TestClient(create_app(small_bundle.path.parent))


@pytest.fixture(scope="module")
def served(client):
    response = client.get("/source.tar.gz", headers={"accept-encoding": "gzip, deflate"})
    assert response.status_code == 200
    return response


def unpack(body: bytes) -> dict[str, tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


def test_it_is_a_gzip_tar_of_the_files_on_disk(served):
    assert served.headers["content-type"] == "application/gzip"
    # Compressed already: gzip'd again it would download as a .tar.gz holding a .tar.gz.
    assert "content-encoding" not in served.headers and served.content[:2] == b"\x1f\x8b"
    members = unpack(served.content)
    for name in SAMPLES:
        assert members[TOP + name][1] == (ROOT / name).read_bytes(), name
    guide = members[TOP + "SOURCE.txt"][1].decode()
    assert "pip install ." in guide and "frontend/" in guide
    assert 100_000 < len(served.content) < 2_000_000, len(served.content)  # a few hundred KB


def test_every_member_is_a_plain_file_or_folder_inside_one_top_folder(served):
    for name, (info, _) in unpack(served.content).items():
        assert name == TOP.rstrip("/") or name.startswith(TOP), name
        parts = Path(name).parts
        assert not name.startswith("/") and ".." not in parts, name
        assert not [p for p in parts if p.startswith(".") or p in ("__pycache__", "artifacts", "test-artifacts")], name
        assert not name.endswith(".pyc"), name
        assert info.isfile() or info.isdir(), name
        assert info.mode == (0o755 if info.isdir() else 0o644), name
        assert (info.uid, info.gid, info.uname, info.gname, info.mtime) == (0, 0, "", "", source.MTIME), name


def test_two_builds_give_the_same_bytes():
    build = source.source_archive.__wrapped__  # past the once-per-process cache
    first = build(frontend_dir().resolve())
    assert build(frontend_dir().resolve()) == first
    assert first[4:8] == b"\0\0\0\0"  # gzip's own time stamp


@pytest.mark.parametrize("accept", ["gzip", "identity", "gzip, identity;q=0"])
def test_head_and_not_modified(client, served, accept):
    head = client.head("/source.tar.gz", headers={"accept-encoding": accept})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(served.content))
    assert head.headers["etag"] == served.headers["etag"]  # one representation, whatever is accepted
    again = client.get("/source.tar.gz", headers={"accept-encoding": accept, "if-none-match": served.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_the_frontend_served_is_the_one_archived_and_nothing_beside_it(tmp_path):
    """A frontend folder of its own: its files go in, the secrets beside it and the symlinks
    out of it (to them and to /etc) do not."""
    front = frontend_with_secrets(tmp_path)
    members = unpack(load_frontend(front)["/source.tar.gz"].body)
    archived = sorted(n.removeprefix(TOP + "frontend/") for n, (info, _) in members.items()
                      if n.startswith(TOP + "frontend/") and info.isfile())
    assert archived == ["app.js", "embed/teaser.html", "index.html"]
    secret = (tmp_path / "secret.txt").read_bytes()
    assert not [n for n, (_, body) in members.items() if body == secret]


def test_a_frontend_inside_a_dot_folder_is_served(tmp_path):
    """As a wheel's is when installed into .venv: only dot-names below the folder are skipped."""
    front = tmp_path / ".venv" / "frontend"
    (front / ".cache").mkdir(parents=True)
    (front / "index.html").write_text("<!doctype html><title>article</title>")
    (front / ".cache" / "x.html").write_text("not served")
    files = load_frontend(front)
    assert "/index.html" in files and not [url for url in files if ".cache" in url]


def _checkout(tmp_path: Path, *, git: bool) -> Path:
    """A folder laid out as a checkout: a tracked test file and an untracked note beside it."""
    root = tmp_path / "checkout"
    (root / "tests").mkdir(parents=True)
    (root / "README.md").write_text("readme")
    (root / "tests" / "test_a.py").write_text("def test_a(): pass\n")
    if git:
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "add", "README.md", "tests/test_a.py"], check=True)
    (root / "tests" / "notes.txt").write_text("my password is hunter2")  # never added
    (root / "README.md").write_text("readme, edited since it was added")
    return root


def test_in_a_git_checkout_only_tracked_files_go_in_as_they_are_on_disk(tmp_path):
    root = _checkout(tmp_path, git=True)
    files = source.source_files(frontend_dir(), root)
    assert files["tests/test_a.py"] == (root / "tests" / "test_a.py").resolve()
    assert "tests/notes.txt" not in files
    assert files["README.md"].read_text() == "readme, edited since it was added"
    # The packages and the frontend (outside this checkout) are not filtered by its index.
    assert "precompute/solver.py" in files and "frontend/index.html" in files


def test_without_git_every_file_of_the_folders_goes_in(tmp_path, monkeypatch, caplog):
    root = _checkout(tmp_path, git=False)
    assert source.tracked_files(root) is None  # not a git checkout
    assert "tests/notes.txt" in source.source_files(frontend_dir(), root)
    (root / ".git").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))  # a checkout, but no git to ask
    with caplog.at_level("WARNING", logger="tilting"):
        assert source.tracked_files(root) is None
    assert "git could not list the files of" in caplog.text
