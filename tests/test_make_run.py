"""`make run` on a fresh copy of the repository: 2 vs 3 served first, the rest built in the background.

The copy holds the files git would check out (tracked and new, not ignored); it uses
this test run's virtual environment, so nothing is installed.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import ROOT, mnist_dir

pytestmark = [pytest.mark.slow, pytest.mark.skipif(mnist_dir() is None, reason="needs real MNIST")]


def fresh_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(source.read_bytes())
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MakeRun:
    """`make run` in ``repo`` (its own process group, so the test can stop the server it starts)."""

    def __init__(self, repo: Path, port: int):
        venv = Path(sys.prefix)
        self.repo, self.port = repo, port
        env = {**os.environ, "TILTING_MNIST_DIR": str(mnist_dir()), "PYTHONPATH": str(repo)}
        env.pop("TILTING_ARTIFACTS", None)
        self.log = open(repo / f"make-run-{time.monotonic_ns()}.log", "w+")
        # -o: the venv is this test run's, already set up; take it as installed.
        self.proc = subprocess.Popen(["make", "-o", f"{venv}/.installed", "run", f"VENV={venv}", f"PORT={port}"],
                                     cwd=repo, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_until_served(self, timeout=600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                return
            time.sleep(0.5)
        pytest.fail(f"make run did not serve within {timeout} s:\n{self.output()}")

    def experiments(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/experiments", timeout=10) as r:
            return [e["id"] for e in json.load(r)["experiments"]]

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop_server(self):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)


def background_pid(repo: Path) -> int:
    return int((repo / "artifacts" / ".build.pid").read_text())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_make_run_serves_2_3_first_then_builds_the_rest_in_the_background(tmp_path):
    repo = fresh_copy(tmp_path / "clone")
    first = MakeRun(repo, free_port())
    try:
        first.wait_until_served()
        # The server answers while the network and the other pairs are still to be built.
        assert "mnist-2-3" in first.experiments()
        pid = background_pid(repo)
        assert alive(pid)
        assert "background build ==" in (repo / "artifacts" / "build.log").read_text()
        assert "log: artifacts/build.log; stop: make stop." in first.output()
    finally:
        first.stop_server()
    assert alive(pid), "stopping the server leaves the background build running"

    # A second `make run` builds nothing in front and does not start a second background build.
    second = MakeRun(repo, free_port())
    try:
        second.wait_until_served(timeout=120)
        assert "solving" not in second.output()
        assert f"The background build (pid {pid}) is still running" in second.output()
    finally:
        second.stop_server()

    stop = subprocess.run(["make", "stop"], cwd=repo, capture_output=True, text=True, timeout=60)
    assert f"Stopped the background build (pid {pid})" in stop.stdout, stop.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and subprocess.run(["pgrep", "-g", str(pid)], capture_output=True).stdout:
        time.sleep(0.5)
    assert not subprocess.run(["pgrep", "-g", str(pid)], capture_output=True).stdout, "make stop ends the whole build"
    assert "No background build is running." in subprocess.run(["make", "stop"], cwd=repo, capture_output=True,
                                                               text=True).stdout
