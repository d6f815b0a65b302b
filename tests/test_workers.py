"""`tilting serve` with several workers: every worker moves to a rebuilt bundle's version,
workers die with their parent, and broken or ambiguous bundle folders stop start-up with
one sentence."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tilting.cli import main as cli
from tests.helpers import TILTING, free_port, get

pytestmark = pytest.mark.slow


def children(pid: int) -> set[int]:
    """Live worker processes of the server ``pid`` (from /proc).

    Its other child, multiprocessing's resource tracker, is not a worker.
    """
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in command:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def start_server(artifacts: Path, port: int, workers: int = 2) -> subprocess.Popen:
    process = subprocess.Popen(
        [*TILTING, "serve", "--artifacts", str(artifacts), "--port", str(port), "--log-level", "warning",
         "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )

    def answers():
        if process.poll() is not None:
            pytest.fail(f"tilting serve exited with {process.returncode}: {process.stderr.read()}")
        try:
            return get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        except OSError:
            return False

    wait_for(answers, 120, "tilting serve to answer")
    wait_for(lambda: len(children(process.pid)) >= workers, 60, "the workers to start")
    return process


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()


def model_counts(port: int, requests: int) -> set[int]:
    """Model counts in the experiment list over many fresh connections (they reach every worker)."""
    counts = set()
    for _ in range(requests):
        status, _, body = get(f"http://127.0.0.1:{port}/api/experiments", {"accept-encoding": "identity"})
        assert status == 200
        counts.update(e["grid_size"] for e in json.loads(body)["experiments"])
    return counts


@pytest.fixture()
def fallback_artifacts(no_mnist):
    """A folder with the 8×8-digits 2-vs-3 path on 7 models (seconds to build)."""
    out = no_mnist / "artifacts"
    assert cli.main(["precompute", "--log-lambda", "-4:2:1", "--out", str(out), "--quiet"]) == 0
    return out


def test_workers_move_to_a_rebuilt_bundle_and_a_restarted_worker_serves_it_too(fallback_artifacts, capsys):
    out = fallback_artifacts
    port = free_port()
    server = start_server(out, port)
    try:
        assert model_counts(port, 10) == {7}
        old_version = (out / "digits8x8-2-3").resolve()
        # A rebuild with another grid replaces the bundle under the running server.
        assert cli.main(["precompute", "--log-lambda", "-4:2:0.5", "--out", str(out), "--quiet"]) == 0
        assert (out / "digits8x8-2-3").resolve() != old_version
        assert old_version.is_dir(), "the version a server still serves was deleted"
        # Each worker looks for new versions at most once a second, when asked for the list.
        wait_for(lambda: model_counts(port, 20) == {13}, 60, "every worker to serve the new version")
        # A worker dies and uvicorn starts another: it loads the version the others serve.
        victim = min(children(server.pid))
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in children(server.pid) and len(children(server.pid)) == 2, 60,
                 "uvicorn to replace the killed worker")
        wait_for(lambda: model_counts(port, 1), 60, "the new worker to answer")
        assert model_counts(port, 40) == {13}
    finally:
        stop(server)
    # Once no server holds it, the next write removes the old version.
    assert cli.main(["precompute", "--log-lambda", "-4:2:0.5", "--out", str(out), "--quiet"]) == 0
    assert not old_version.exists()
    capsys.readouterr()


def test_workers_die_with_a_killed_parent_and_free_the_port(fallback_artifacts):
    port = free_port()
    server = start_server(fallback_artifacts, port)
    workers = children(server.pid)
    assert len(workers) == 2
    try:
        server.send_signal(signal.SIGKILL)  # the master only, as an OOM killer or `kill -9` would
        server.wait()
        wait_for(lambda: not any(alive(pid) for pid in workers), 20, "the orphaned workers to exit")
        with socket.socket() as s:  # a supervisor's restart can listen on the port again
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            s.bind(("127.0.0.1", port))
            s.listen()
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        stop(server)


@pytest.mark.parametrize("target", ["nowhere", "loop"])
def test_a_broken_bundle_link_stops_serve_and_nothing_is_built(target, no_mnist, capsys):
    out = no_mnist / "artifacts"
    out.mkdir()
    link = out / "mnist-2-3"
    link.symlink_to(link if target == "loop" else out / ".store" / "mnist-2-3.gone")
    # A subprocess with a deadline: a server that starts anyway must fail the test, not hang it.
    env = {**os.environ, "XDG_CACHE_HOME": str(no_mnist / "cache")}
    env.pop("TILTING_MNIST_DIR", None)
    try:
        done = subprocess.run([*TILTING, "serve", "--artifacts", str(out), "--port", str(free_port())],
                              env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("tilting serve started despite the broken link")
    assert done.returncode == 2
    assert str(link) in done.stderr and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mnist-2-3"], "other data was built in its place"
    assert cli.main(["verify", "--artifacts", str(out)]) == 2
    assert str(link) in capsys.readouterr().err


def test_two_bundles_of_one_experiment_are_refused_naming_both(fallback_artifacts, capsys):
    out = fallback_artifacts
    shutil.copytree((out / "digits8x8-2-3").resolve(), out / "copy-of-2-3")
    for command in (["serve", "--artifacts", str(out), "--port", str(free_port())],
                    ["verify", "--artifacts", str(out)]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err
        assert "copy-of-2-3" in err and "digits8x8-2-3" in err and err.count("\n") == 1
