"""`tilting serve` as people run it: a real process on a loopback port, spoken to over HTTP."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tilting.cli import main as cli
from tests.helpers import STARTUP_DEADLINE, TILTING, free_port, get, running_server


@pytest.fixture(scope="module")
def server(small_bundle):
    with running_server(small_bundle.path.parent) as base:
        yield base


def test_health_and_listing(server, small_bundle):
    status, _, body = get(f"{server}/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok", "experiments": 1}
    status, headers, body = get(f"{server}/api/experiments")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert [e["id"] for e in json.loads(body)["experiments"]] == [small_bundle.id]


def test_array_gzip_and_304_round_trip(server, small_bundle):
    _, _, body = get(f"{server}/api/experiments/{small_bundle.id}.json")
    info = json.loads(body)["arrays"]["train_v"]
    url = f"{server}/api/{info['url']}"

    status, headers, packed = get(url, {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed) == small_bundle.raw_bytes("train_v")
    assert headers["X-Array-Dtype"] == "float32"
    assert headers["X-Array-Shape"] == ",".join(map(str, small_bundle.arrays["train_v"].shape))
    assert "immutable" in headers["Cache-Control"]
    etag = headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    status, headers304, body304 = get(url, {"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert status == 304 and body304 == b""
    assert headers304["ETag"] == etag

    # Without gzip: the identity bytes, a different validator, and its own 304.
    status, plain_headers, plain = get(url)
    assert status == 200 and "Content-Encoding" not in plain_headers
    assert plain == small_bundle.raw_bytes("train_v")
    assert get(url, {"If-None-Match": plain_headers["ETag"]})[0] == 304


def test_errors_are_json_sentences_over_http(server):
    status, headers, body = get(f"{server}/api/experiments/no-such-experiment")
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    assert "no-such-experiment" in json.loads(body)["detail"]


def test_two_workers_serve_the_same_bytes(small_bundle):
    with running_server(small_bundle.path.parent, "--workers", "2") as base:
        _, _, body = get(f"{base}/api/experiments/{small_bundle.id}")
        url = json.loads(body)["arrays"]["weights"]["url"]
        for _ in range(4):  # connections land on either worker
            status, _, data = get(f"{base}/api/{url}")
            assert status == 200 and data == small_bundle.raw_bytes("weights")


def _copy_bundle(small_bundle, root: Path) -> Path:
    """A private, writable copy of the small bundle (the fixture's is shared)."""
    target = root / small_bundle.id
    shutil.copytree(small_bundle.path.resolve(), target)
    return target


def _damage_flip(bundle: Path) -> Path:
    path = bundle / "weights.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _damage_delete(bundle: Path) -> Path:
    path = bundle / "train_v.npy"
    path.unlink()
    return path


def _damage_truncate(bundle: Path) -> Path:
    path = bundle / "manifest.json"
    path.write_text(path.read_text()[:100])
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("damage", [_damage_flip, _damage_delete, _damage_truncate])
def test_damaged_bundle_stops_startup(small_bundle, tmp_path, damage, workers):
    bad_file = damage(_copy_bundle(small_bundle, tmp_path))
    port = free_port()
    result = subprocess.run(
        [*TILTING, "serve", "--artifacts", str(tmp_path), "--port", str(port), "--workers", workers],
        capture_output=True, text=True, timeout=STARTUP_DEADLINE,
    )
    assert result.returncode != 0
    message = result.stderr.strip()
    assert "Traceback" not in message
    assert len(message.splitlines()) == 1, message
    assert message.startswith("tilting: error:") and str(bad_file) in message
    # It never bound the port.
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_empty_folder_builds_default_pair_then_serves(no_mnist, tmp_path, monkeypatch):
    """With no bundle, serve first builds 2 vs 3 (here on the 8×8 fallback data), then runs uvicorn on loopback."""
    import uvicorn
    from fastapi.testclient import TestClient

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    artifacts = tmp_path / "artifacts"
    assert cli.main(["serve", "--artifacts", str(artifacts), "--port", "8123"]) == 0

    [(app, options)] = calls
    assert options["host"] == "127.0.0.1" and options["port"] == 8123
    assert [p.name for p in artifacts.iterdir() if not p.name.startswith(".")] == ["digits8x8-2-3"]
    listing = TestClient(app).get("/api/experiments").json()["experiments"]
    assert [(e["id"], e["digits"], e["grid_size"]) for e in listing] == [("digits8x8-2-3", [2, 3], 81)]
    assert listing[0]["notice"]  # the reader is told this is not MNIST


def test_serve_help_lists_options():
    result = subprocess.run([*TILTING, "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--artifacts", "--host", "--port", "--mnist-dir", "--workers"):
        assert option in result.stdout
