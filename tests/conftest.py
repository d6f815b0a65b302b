"""Shared fixtures: real MNIST (via TILTING_MNIST_DIR) and one small bundle."""

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest

from precompute.data import load_mnist

ROOT = Path(__file__).resolve().parents[1]


def mnist_dir() -> Path | None:
    folder = os.environ.get("TILTING_MNIST_DIR")
    if folder and (Path(folder) / "train-images-idx3-ubyte.gz").is_file():
        return Path(folder)
    shared = ROOT.parent / "shared" / "data" / "mnist"
    return shared if (shared / "train-images-idx3-ubyte.gz").is_file() else None


requires_mnist = pytest.mark.skipif(mnist_dir() is None, reason="real MNIST not available")


@pytest.fixture(scope="session")
def mnist():
    if mnist_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("real MNIST not found: CI runs with ../shared/data/mnist beside the repo")
        pytest.skip("real MNIST not available")
    return load_mnist(mnist_dir())


@pytest.fixture(scope="session")
def small_bundle(tmp_path_factory, mnist):
    """A real MNIST 2-vs-3 bundle, 300 images per class, 9 models: quick to build."""
    from precompute.artifacts import read_bundle, write_bundle
    from precompute.experiment import build_experiment

    root = tmp_path_factory.mktemp("artifacts")
    manifest, arrays = build_experiment(mnist, 2, 3, np.arange(-6.0, 2.01, 1.0), per_class=300)
    path = write_bundle(root, "mnist-2-3", manifest, arrays)
    return read_bundle(path)


@pytest.fixture()
def no_mnist(monkeypatch, tmp_path):
    """An environment where no MNIST can be found (so the fallback is used)."""
    monkeypatch.delenv("TILTING_MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


@contextlib.contextmanager
def live_server(app):
    """Run an ASGI app with uvicorn on a free loopback port in a thread; yields the port."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(5)
