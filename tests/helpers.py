"""Helpers shared by test modules (import them from here, never from conftest or another test).

Where the real MNIST files are, a server in a thread or as `tilting serve` in a
process of its own, plain HTTP GETs, and a frontend folder with secrets beside it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The installed console script, as a user runs it.
_SCRIPT = Path(sys.executable).with_name("tilting")
TILTING = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "tilting.cli"]
# A safety net against a hung start-up, not an assertion about speed.
STARTUP_DEADLINE = 120.0


def mnist_dir() -> Path | None:
    folder = os.environ.get("TILTING_MNIST_DIR")
    if folder and (Path(folder) / "train-images-idx3-ubyte.gz").is_file():
        return Path(folder)
    shared = ROOT.parent / "shared" / "data" / "mnist"
    return shared if (shared / "train-images-idx3-ubyte.gz").is_file() else None


requires_mnist = pytest.mark.skipif(mnist_dir() is None, reason="real MNIST not available")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, headers: dict | None = None):
    """(status, headers, body) without following anything or decoding gzip."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:  # 304 and 4xx arrive here
        return error.code, error.headers, error.read()


@contextlib.contextmanager
def live_server(app):
    """Run an ASGI app with uvicorn on a free loopback port in a thread; yields the port."""
    import uvicorn

    port = free_port()
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


@contextlib.contextmanager
def running_server(artifacts: Path, *options: str, cwd: Path | None = None, command=None, env=None):
    """Base URL of `tilting serve --artifacts ARTIFACTS OPTIONS…` on a free port, once it answers.

    ``command``: another `tilting` to run (e.g. one installed in another venv), in ``cwd``
    with ``env``."""
    port = free_port()
    process = subprocess.Popen(
        [*(command or TILTING), "serve", "--artifacts", str(artifacts), "--port", str(port),
         "--log-level", "warning", *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env,
        start_new_session=True,  # its own process group: worker processes are stopped with it
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_DEADLINE
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"tilting serve exited with {process.returncode}: {process.stderr.read()}")
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("tilting serve did not answer /healthz")
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # teardown needs no graceful shutdown
        process.communicate()


def frontend_with_secrets(root: Path) -> Path:
    """A small frontend folder in ``root``, with files beside it that must never be served
    and symlinks from inside it to them and to /etc."""
    front = root / "frontend"
    (front / "embed").mkdir(parents=True)
    (front / "index.html").write_text("<!doctype html><title>article</title>")
    (front / "embed" / "teaser.html").write_text("<!doctype html><title>teaser</title>")
    (front / "app.js").write_text("export const x = 1;")
    (root / "secret.txt").write_text("do not serve")
    (root / "secret.txt.html").write_text("do not serve")  # what an /embed/{figure} route might reach
    os.symlink(root / "secret.txt", front / "leak.txt")  # a symlink pointing out of frontend/
    os.symlink("/etc", front / "etc")
    return front
