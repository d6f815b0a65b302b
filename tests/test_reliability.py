"""Damage every file of a bundle in turn: the damage is always caught and named."""

import shutil

import pytest

from backend.app import create_app
from precompute.artifacts import BundleError, read_bundle
from precompute.cli import main

DAMAGES = ("flip", "truncate", "delete")


def damage(path, how):
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])
    else:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x5A
        path.write_bytes(bytes(data))


@pytest.fixture()
def bundle_copy(small_bundle, tmp_path):
    """A writable copy of the small real bundle (as a plain folder)."""
    root = tmp_path / "artifacts"
    root.mkdir()
    shutil.copytree(small_bundle.path.resolve(), root / "mnist-2-3")
    return root


def bundle_files(small_bundle):
    return ["manifest.json"] + [e["file"] for e in small_bundle.manifest["arrays"].values()]


@pytest.mark.parametrize("how", DAMAGES)
def test_every_file_damaged_is_named_by_reader_and_verify(how, small_bundle, bundle_copy, capsys):
    for name in bundle_files(small_bundle):
        target = bundle_copy / "mnist-2-3" / name
        original = target.read_bytes()
        damage(target, how)
        with pytest.raises(BundleError, match=name.replace(".", r"\.")):
            read_bundle(bundle_copy / "mnist-2-3")
        with pytest.raises(BundleError, match=name.replace(".", r"\.")):
            create_app(bundle_copy)  # the server refuses to start, naming the file
        assert main(["verify", "--artifacts", str(bundle_copy)]) == 2
        err = capsys.readouterr().err
        assert name in err and "Traceback" not in err and err.count("\n") == 1
        target.write_bytes(original)
    assert main(["verify", "--artifacts", str(bundle_copy)]) == 0


def test_server_serves_a_whole_bundle_after_each_sigkill(tmp_path):
    """Kill precompute at random moments; each time the server starts and every array it
    serves matches its manifest: the old bundle or the new one, never a mix."""
    import hashlib
    import os
    import signal
    import subprocess
    import sys
    import time

    import numpy as np
    from fastapi.testclient import TestClient

    env = {k: v for k, v in os.environ.items() if k != "TILTING_MNIST_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    out = tmp_path / "artifacts"
    args = [sys.executable, "-m", "precompute.cli", "precompute", "--log-lambda", "-4:2:1", "--out", str(out), "--quiet"]
    start = time.monotonic()
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=300)
    duration = time.monotonic() - start
    for delay in np.random.default_rng(1).uniform(0.3, 1.05, size=4) * duration:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        client = TestClient(create_app(out))
        detail = client.get("/api/experiments/digits8x8-2-3").json()
        for info in detail["arrays"].values():
            body = client.get("/api/" + info["url"], headers={"accept-encoding": "identity"}).content
            assert hashlib.sha256(body).hexdigest() == info["sha256"]
        assert len(detail["models"]) == 7
