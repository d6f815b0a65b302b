"""Building many pairs: the pair list, the tasks' contents, local processes, and a real Dask cluster.

The Dask tests start a real ``dask scheduler`` and two ``dask worker`` processes in
another working folder, with no MNIST anywhere they could look (no
TILTING_MNIST_DIR, an empty HOME): the client reads MNIST and writes every bundle.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tilting.precompute.artifacts import list_bundles, read_bundle
from tilting.cli.main import main
from tilting.precompute.data import load_digits_dataset, load_sklearn_digits, select_pair
from tilting.precompute.errors import TiltingError
from tilting.precompute.pairs import PairTask, _output_of, _run_dask, build_pair, build_pairs, parse_pairs, solve_pair
from tests.helpers import ROOT, mnist_dir, requires_mnist

GRID = np.array([-3.0, 0.0, 2.0])
SMALL = ["--per-class", "200", "--log10-lambda", "-2,0", "--quiet"]


def test_parse_pairs():
    assert parse_pairs("2-3,4-9") == [(2, 3), (4, 9)]
    assert parse_pairs(" 3-2 , 0-1") == [(3, 2), (0, 1)]  # I-J is ordered: 3-2 is its own experiment
    for text, says in [("2-3,", "is not a comma-separated list"), ("2:3", "is not a comma-separated list"),
                       ("2-3-4", "is not a comma-separated list"), ("a-b", "is not a comma-separated list"),
                       ("-1-2", "is not a comma-separated list"), ("5-5", "must differ"),
                       ("2-12", "not one of 0..9"), ("2-3,2-3", "names 2-3 twice")]:
        with pytest.raises(TiltingError, match=says):
            parse_pairs(text)


def test_a_task_carries_two_digits_with_their_file_positions():
    digits = load_sklearn_digits()
    task = PairTask.from_dataset(digits, (3, 8), GRID, 40)
    assert not task.codes  # 8×8 pixels are k/16, not k/255: sent as they are
    sent = task.dataset()
    assert set(sent.train_labels) == set(sent.test_labels) == {3, 8}  # other digits never travel
    assert len(sent.train_labels) == 80
    # the pair the build selects from what was sent is the one it selects from the whole dataset
    here, whole = select_pair(sent, 3, 8, 40), select_pair(digits, 3, 8, 40)
    for field in ("X_train", "y_train", "X_test", "y_test", "train_index", "test_index"):
        assert np.array_equal(getattr(here, field), getattr(whole, field)), field
    assert task.nbytes() == (80 + np.isin(digits.test_labels, (3, 8)).sum()) * 64 * 8


@requires_mnist
def test_mnist_travels_as_exact_8_bit_codes(mnist):
    task = PairTask.from_dataset(mnist, (4, 9), GRID, 200)
    assert task.codes and task.images["train"].dtype == np.uint8
    sent = task.dataset()
    assert np.array_equal(sent.test_images, mnist.test_images[sent.test_positions])
    assert sent.test_images.dtype == mnist.test_images.dtype
    assert task.nbytes() == (400 + len(sent.test_labels)) * 784  # one byte a pixel
    # from a dataset that holds only some digits, positions still name places in the files
    some = load_digits_dataset(mnist_dir(), classes=[4, 7, 9])
    again = PairTask.from_dataset(some, (4, 9), GRID, 200).dataset()
    assert np.array_equal(again.test_positions, sent.test_positions)
    assert np.array_equal(again.train_images, sent.train_images)


def test_parallel_build_skip_and_failure(no_mnist):
    out = no_mnist / "artifacts"
    pairs = [(0, 1), (2, 3), (5, 5)]  # the last is invalid and must fail alone
    seen = []
    results = build_pairs(out, GRID, pairs=pairs, n_jobs=2, progress=seen.append)
    assert len(seen) == 3
    status = {r.pair: r.status for r in results}
    assert status == {(0, 1): "built", (2, 3): "built", (5, 5): "failed"}
    assert "must differ" in results[-1].message
    for exp_id in ("digits8x8-0-1", "digits8x8-2-3"):
        assert read_bundle(out / exp_id).manifest["grid"]["size"] == 3
    again = build_pairs(out, GRID, pairs=pairs[:2], n_jobs=2)
    assert [r.status for r in again] == ["skipped", "skipped"]
    # a different grid is not "already valid"
    assert build_pair((0, 1), out, np.array([-1.0, 1.0]), 3000).status == "built"


def test_a_worker_failure_is_reported_not_raised(no_mnist):
    task = PairTask.from_dataset(load_sklearn_digits(), (0, 1), np.array([np.nan]), 40)
    output = solve_pair(task)
    assert output.manifest is None and output.message


def test_a_result_lost_with_its_worker_is_a_failed_pair_not_a_traceback():
    """A future can be "finished" when looked at and cancelled when fetched, if the worker holding its
    result (and the scattered input it would be recomputed from) dies in between: CI met this once."""
    FutureCancelledError = pytest.importorskip("distributed.client").FutureCancelledError

    class Client:
        status = "running"

    class Future:
        client = Client()

        def __init__(self):
            self.status = "finished"

        def result(self):
            self.status = "cancelled"
            raise FutureCancelledError("pair-4-9-0", reason="already forgotten")

    output = _output_of(Future(), (4, 9))
    assert output.pair == (4, 9) and output.manifest is None
    assert output.message == "its Dask task was cancelled before its result reached this machine"
    Client.status = "closed"  # the scheduler itself went away: that ends the run, in one sentence
    Client.scheduler = type("Rpc", (), {"address": "tcp://127.0.0.1:1"})
    with pytest.raises(TiltingError, match=r"^Lost the Dask scheduler at tcp://127\.0\.0\.1:1\.$"):
        _output_of(Future(), (4, 9))


@pytest.mark.parametrize("scheduler_too", [False, True])
def test_a_scatter_cut_by_dying_workers_is_not_a_lost_scheduler(scheduler_too):
    """Workers that die while a pair's data is being sent to them cut the scheduler's connection
    (CommClosedError): the pair goes back in the queue and the worker timeout decides, unless the
    scheduler no longer answers either. CI met the first as "Lost the Dask scheduler"."""
    CommClosedError = pytest.importorskip("distributed.comm.core").CommClosedError

    class Client:
        scheduler = type("Rpc", (), {"address": "tcp://127.0.0.1:1"})
        workers = {"tcp://127.0.0.1:2": 1}

        def nthreads(self):
            if scheduler_too and not self.workers:
                raise CommClosedError("in <TCP ConnectionPool.ncores>: Stream is closed")
            return dict(self.workers)

        def scatter(self, data, hash):
            self.workers = {}
            raise CommClosedError("in <TCP ConnectionPool.scatter>: Stream is closed")

        def submit(self, *args, **kwargs):
            raise AssertionError("a task is never submitted without its data")

        def cancel(self, futures, force):
            pass

    tasks = [PairTask.from_dataset(load_sklearn_digits(), pair, GRID, 40) for pair in [(0, 1), (2, 3)]]
    says = (r"^Lost the Dask scheduler at tcp://127\.0\.0\.1:1 \(CommClosedError\)\.$" if scheduler_too
            else r"^The Dask scheduler at tcp://127\.0\.0\.1:1 has had no worker for 0\.2 s; stopping with 2 pairs not built\.$")
    with pytest.raises(TiltingError, match=says):
        _run_dask(Client(), tasks, land=None, worker_timeout=0.2)


def test_one_build_per_artifacts_folder(no_mnist):
    from tilting.precompute.pairs import exclusive_builder

    out = no_mnist / "artifacts"
    out.mkdir()
    with exclusive_builder(out):
        with pytest.raises(TiltingError, match=rf"pid {os.getpid()}\) is already building pairs into"):
            build_pairs(out, GRID, pairs=[(0, 1)], n_jobs=1)
    assert not list_bundles(out)


def test_cli_pairs_without_a_scheduler(no_mnist, capsys):
    out = no_mnist / "artifacts"
    code = main(["precompute", "--pairs", "1-7,7-1", "--log10-lambda", "-3,0", "--jobs", "2", "--out", str(out)])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Building 2 pairs on this machine into")
    assert sorted(line.split()[1] for line in lines[1:3]) == ["digits8x8-1-7", "digits8x8-7-1"]
    assert lines[-1].startswith("2 built, 0 already valid, 0 failed")
    assert read_bundle(out / "digits8x8-7-1").manifest["digits"] == [7, 1]


def test_cli_names_each_failed_pair_and_exits_non_zero(no_mnist, capsys):
    # A file where 2-5's link goes: that pair cannot be written, 2-6 is built all the same.
    out = no_mnist / "artifacts"
    out.mkdir()
    (out / "digits8x8-2-5").write_text("not a bundle")
    code = main(["precompute", "--pairs", "2-5,2-6", "--log10-lambda", "-3,0", "--out", str(out), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "digits8x8-2-5 failed:" in err and "is not a bundle link" in err
    assert "failed: 2-5 (reasons above)" in err
    assert read_bundle(out / "digits8x8-2-6").manifest["digits"] == [2, 6]


# --- a real Dask cluster ----------------------------------------------------------------------


def _dask(*args):
    return [sys.executable, "-m", "dask", *args]


class Cluster:
    """A `dask scheduler` and `dask worker`s, each in its own process group, in ``folder``."""

    def __init__(self, folder: Path, workers: int):
        self.folder = folder
        (folder / "home").mkdir(parents=True)
        self.file = folder / "scheduler.json"
        # Workers see the package (PYTHONPATH) and nothing else: no MNIST, an empty HOME.
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("TILTING_MNIST_DIR", "XDG_CACHE_HOME", "TILTING_ARTIFACTS")}
        self.env.update(HOME=str(folder / "home"), PYTHONPATH=str(ROOT), DASK_DISTRIBUTED__WORKER__DAEMON="False")
        self.procs = [self._start("scheduler", "--scheduler-file", str(self.file), "--port", "0",
                                  "--dashboard-address", "127.0.0.1:0", "--host", "127.0.0.1")]
        deadline = time.monotonic() + 60
        while not self.file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        info = json.loads(self.file.read_text())
        self.address = info["address"]
        self.dashboard = info["services"].get("dashboard")
        self.workers = [self._start("worker", "--scheduler-file", str(self.file), "--nthreads", "1",
                                    "--no-dashboard", "--host", "127.0.0.1") for _ in range(workers)]
        self.wait_for_workers(workers)

    def _start(self, *args):
        return subprocess.Popen(_dask(*args), cwd=self.folder, env=self.env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=open(self.folder / f"{args[0]}.log", "ab"))

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def wait_for_workers(self, n):
        with self.client() as client:
            client.wait_for_workers(n, timeout=90)

    def kill_workers(self):
        for proc in self.workers:  # the nanny and its worker: the whole process group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def close(self):
        self.kill_workers()
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


@pytest.fixture()
def cluster(tmp_path):
    pytest.importorskip("distributed")
    cluster = Cluster(tmp_path / "cluster", workers=2)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture()
def client_folder(tmp_path, monkeypatch):
    """The client's working folder, with MNIST (the workers have none)."""
    folder = tmp_path / "client"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("TILTING_MNIST_DIR", str(mnist_dir()))
    return folder


@pytest.mark.slow
@requires_mnist
def test_dask_workers_need_only_the_package(cluster, client_folder, capsys):
    """Relative --out lands in the client's folder; bundles equal a local build bit for bit; tasks
    are named by pair; the dashboard is served."""
    from distributed import get_task_stream

    with cluster.client() as watcher, get_task_stream(client=watcher) as stream:
        code = main(["precompute", "--pairs", "4-9,3-8,0-1", *SMALL, "--scheduler", cluster.address,
                     "--out", "artifacts"])
    assert code == 0, capsys.readouterr()
    assert "3 built, 0 already valid, 0 failed" in capsys.readouterr().out
    keys = {t["key"] for t in stream.data}
    assert {k.rsplit("-", 1)[0] for k in keys if k.startswith("pair-")} == {"pair-4-9", "pair-3-8", "pair-0-1"}
    names = {p.name for p in list_bundles(client_folder / "artifacts")}
    assert names == {"mnist-4-9-200", "mnist-3-8-200", "mnist-0-1-200"}
    assert not list((cluster.folder).glob("**/mnist-*"))  # nothing written where the workers run
    remote = read_bundle(client_folder / "artifacts" / "mnist-4-9-200")
    assert remote.manifest["dataset"]["name"] == "mnist"

    assert main(["precompute", "--pairs", "4-9", *SMALL, "--jobs", "1", "--out", "local"]) == 0
    local = read_bundle(client_folder / "local" / "mnist-4-9-200")
    for name, array in local.arrays.items():
        assert np.array_equal(array, remote.arrays[name]), name
    for key in ("x", "y"):  # the same images; their y·d(x) to float64 rounding (BLAS threads differ)
        here, there = local.manifest["defaults"][key], remote.manifest["defaults"][key]
        assert here.keys() == there.keys()
        for field, value in here.items():
            assert value == pytest.approx(there[field], rel=1e-9), field

    # a second run keeps the valid bundles
    assert main(["precompute", "--pairs", "4-9,3-8,0-1", *SMALL, "--scheduler", cluster.address,
                 "--out", "artifacts"]) == 0
    assert "0 built, 3 already valid" in capsys.readouterr().out

    # the `cluster` extra's bokeh draws the dashboard
    page = urllib.request.urlopen(f"http://127.0.0.1:{cluster.dashboard}/status", timeout=30).read().decode()
    assert "Bokeh" in page or "bokeh" in page


@pytest.mark.slow
@requires_mnist
def test_losing_every_worker_ends_the_run_with_one_sentence(cluster, client_folder):
    """The workers die after the first pair lands: the run stops after --worker-timeout, names what is
    left, and the first bundle stays valid."""
    landed = []

    def kill_on_first(result):
        landed.append(result)
        if len(landed) == 1:
            cluster.kill_workers()

    started = time.monotonic()
    pairs = [(0, 1), (2, 3), (4, 9), (3, 8), (1, 7), (5, 6), (6, 8), (7, 9), (0, 6), (2, 7)]
    with pytest.raises(TiltingError, match=r"has had no worker for 3 s; stopping with \d+ pairs? not built\.$"):
        build_pairs("artifacts", np.array([-2.0, 0.0]), 200, pairs, scheduler=cluster.address,
                    progress=kill_on_first, worker_timeout=3)
    assert time.monotonic() - started < 120
    built = [r for r in landed if r.status == "built"]
    assert len(list_bundles(client_folder / "artifacts")) == len(built) >= 1


@pytest.mark.slow
@requires_mnist
def test_losing_the_scheduler_ends_the_run_with_one_sentence(cluster, client_folder):
    def kill_scheduler(result):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cluster.procs[0].pid, signal.SIGKILL)

    pairs = [(0, 1), (2, 3), (4, 9), (3, 8), (1, 7), (5, 6), (6, 8), (7, 9)]
    with pytest.raises(TiltingError, match=r"^Lost the Dask scheduler at tcp://127\.0\.0\.1:\d+"):
        build_pairs("artifacts", np.array([-2.0, 0.0]), 200, pairs, scheduler=cluster.address,
                    progress=kill_scheduler)
    for path in list_bundles(client_folder / "artifacts"):
        read_bundle(path)  # what was written is whole


@pytest.mark.slow
def test_unreachable_scheduler_is_one_sentence(no_mnist, capsys):
    pytest.importorskip("distributed")
    code = main(["precompute", "--pairs", "0-1", "--scheduler", "tcp://127.0.0.1:9", "--out", str(no_mnist / "a")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("tilting: error: Could not reach the Dask scheduler at tcp://127.0.0.1:9")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
@requires_mnist
@pytest.mark.parametrize("where", ["dask", "local"])
def test_ctrl_c_cancels_and_nothing_is_written_afterwards(where, tmp_path, request):
    """SIGINT after the first bundle: exit 130, no task left on the cluster, no bundle appears later."""
    env = {**os.environ, "TILTING_MNIST_DIR": str(mnist_dir()), "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "tilting.cli", "precompute", "--pairs", "0-1,2-3,4-9,3-8,1-7,5-6",
            "--per-class", "300", "--log10-lambda", "-3:0:0.5", "--out", str(tmp_path / "artifacts")]
    if where == "dask":
        cluster = request.getfixturevalue("cluster")
        args += ["--scheduler", cluster.address]
    else:
        args += ["--jobs", "2"]
    # A shell that starts tests in the background ignores SIGINT for them, and Python keeps an
    # ignored SIGINT ignored: the child starts with the default, as from a terminal.
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stdout:
            if " built in " in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted; the work left was cancelled and nothing more is written" in err
    assert "Traceback" not in err
    written = {p.name for p in list_bundles(tmp_path / "artifacts")}
    assert 1 <= len(written) < 6
    if where == "dask":
        with cluster.client() as client:  # the cancellation reaches the scheduler within moments
            deadline = time.monotonic() + 20
            while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and \
                    time.monotonic() < deadline:
                time.sleep(0.5)
            assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0
    time.sleep(5)  # anything still running would land now
    assert {p.name for p in list_bundles(tmp_path / "artifacts")} == written
    for name in written:
        read_bundle(tmp_path / "artifacts" / name)
