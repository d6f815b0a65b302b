"""Building many digit pairs: across this machine's cores (joblib) or on a Dask cluster.

The process that runs ``tilting precompute`` (the client) reads the dataset
once, and sends each task only the images of its two digits. A worker trains
the path and computes the geometry from those arrays alone, and returns the
bundle's contents; the client writes every bundle into its own ``--out``
(atomically, with ``artifacts.write_bundle``) as the results land. So a
worker needs the package and nothing else: no MNIST, no shared disk, no
fallback data of its own, and after Ctrl-C nothing more is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import itertools
import os
import time
import traceback
import uuid
from collections import deque
from concurrent.futures import CancelledError
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tilting.precompute.artifacts import BundleError, read_bundle, write_bundle
from tilting.precompute.data import Digits, check_pair, load_digits_dataset
from tilting.precompute.defaults import DEFAULT_PER_CLASS
from tilting.precompute.errors import TiltingError
from tilting.precompute.experiment import build_experiment, experiment_id

ALL_PAIRS = tuple(itertools.combinations(range(10), 2))  # 45 pairs, i < j
WORKER_TIMEOUT = 60.0  # seconds a Dask run waits with no worker before it gives up
LOCK_FILE = ".pairs.lock"
_NO_IMAGES, _NO_LABELS = np.zeros((0, 0)), np.zeros(0, dtype=np.int64)


@dataclass
class PairResult:
    """What happened to one pair: 'built', 'skipped' (already valid) or 'failed'."""

    pair: tuple
    experiment_id: str | None
    status: str
    message: str = ""
    seconds: float = 0.0


def parse_pairs(text: str) -> list[tuple[int, int]]:
    """``"2-3,4-9"`` as ``[(2, 3), (4, 9)]``; a bad list is a TiltingError of one sentence.

    ``I-J`` is the tail of the experiment id (``mnist-I-J``): I gets label −1,
    J label +1, so ``3-2`` is a different experiment from ``2-3``.
    """
    pairs = []
    for part in text.split(","):
        digits = part.strip().split("-")
        if len(digits) != 2 or not all(d.strip().isdigit() for d in digits):
            raise TiltingError(
                f"--pairs {text!r} is not a comma-separated list of digit pairs I-J (e.g. 2-3,4-9)."
            )
        pair = (int(digits[0]), int(digits[1]))
        try:
            check_pair(*pair)
        except TiltingError as exc:
            raise TiltingError(f"--pairs {part.strip()}: {exc}") from None
        if pair in pairs:
            raise TiltingError(f"--pairs names {pair[0]}-{pair[1]} twice.")
        pairs.append(pair)
    return pairs


def digits_of(pairs) -> list[int] | None:
    """The digits the pairs use, for loading only those; None when that is all ten."""
    used = sorted({int(d) for pair in pairs for d in pair if 0 <= int(d) <= 9})
    return None if len(used) == 10 else used


# --- what travels to a worker ----------------------------------------------------------------


@dataclass
class PairTask:
    """One pair's inputs: the dataset cut down to the images the pair can use.

    ``shell`` is the dataset's metadata (its arrays emptied); per split,
    ``positions`` are the images' places in the dataset's files (so the bundle
    records file positions as if the whole dataset had been read), ``labels``
    their digits and ``images`` their pixels. Pixels travel as 8-bit codes
    when that reproduces them exactly (MNIST's k/255), which makes a task 8×
    smaller than float64.
    """

    pair: tuple
    log10_lambda: np.ndarray
    per_class: int | None
    shell: Digits
    positions: dict
    labels: dict
    images: dict
    dtype: str  # the images' dtype in the dataset
    codes: bool  # images are 8-bit codes k of the pixels k / 255

    @classmethod
    def from_dataset(cls, digits: Digits, pair, log10_lambda, per_class) -> "PairTask":
        positions, labels, images = {}, {}, {}
        for split, limit in (("train", per_class), ("test", None)):
            held = getattr(digits, f"{split}_labels")
            # The first `per_class` of each digit, in file order: what select_pair will take.
            rows = np.sort(np.concatenate([np.flatnonzero(held == d)[:limit] for d in pair]))
            in_file = getattr(digits, f"{split}_positions", None)
            positions[split] = rows if in_file is None else in_file[rows]
            labels[split] = held[rows]
            images[split] = getattr(digits, f"{split}_images")[rows]
        dtype = digits.train_images.dtype
        codes = all(_pixels_are_codes(a) for a in images.values())
        if codes:
            images = {split: np.rint(a * 255.0).astype(np.uint8) for split, a in images.items()}
        shell = dataclasses.replace(digits, train_images=_NO_IMAGES, test_images=_NO_IMAGES,
                                    train_labels=_NO_LABELS, test_labels=_NO_LABELS)
        return cls(tuple(pair), np.asarray(log10_lambda, dtype=float), per_class, shell, positions, labels,
                   images, dtype.str, codes)

    def dataset(self) -> Digits:
        """The dataset as the build sees it: the pair's images, with their places in the dataset's files."""
        parts = {}
        for split in ("train", "test"):
            parts[f"{split}_images"] = _decode(self.images[split], self.dtype) if self.codes else self.images[split]
            parts[f"{split}_labels"] = self.labels[split]
            parts[f"{split}_positions"] = self.positions[split]
        return dataclasses.replace(self.shell, **parts)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.images.values())


def _decode(codes: np.ndarray, dtype) -> np.ndarray:
    return (codes / 255.0).astype(dtype, copy=False)


def _pixels_are_codes(values: np.ndarray) -> bool:
    """Whether ``values`` are exactly what ``_decode`` makes of their 8-bit codes."""
    if values.dtype.kind != "f" or values.size == 0:
        return False
    scaled = np.rint(values * 255.0)
    if not ((scaled >= 0) & (scaled <= 255)).all():
        return False
    return bool(np.array_equal(_decode(scaled.astype(np.uint8), values.dtype), values))


@dataclass
class PairOutput:
    """A worker's answer: the bundle's manifest and arrays, or why there are none."""

    pair: tuple
    manifest: dict | None = None
    arrays: dict | None = None
    message: str = ""
    seconds: float = 0.0


def solve_pair(task: PairTask) -> PairOutput:
    """Build one pair's experiment from the task's arrays alone (runs on a worker); never raises."""
    start = time.perf_counter()
    try:
        manifest, arrays = build_experiment(
            task.dataset(), task.pair[0], task.pair[1], task.log10_lambda, per_class=task.per_class
        )
        return PairOutput(task.pair, manifest, arrays, seconds=time.perf_counter() - start)
    except TiltingError as exc:
        return PairOutput(task.pair, message=str(exc), seconds=time.perf_counter() - start)
    except Exception as exc:  # one pair's bug must not lose the others
        return PairOutput(task.pair, message=_describe(exc), seconds=time.perf_counter() - start)


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


# --- the client ------------------------------------------------------------------------------


def bundle_is_current(path: Path, log10_lambda, per_class) -> bool:
    """True when ``path`` holds a valid bundle built with this grid and subset."""
    try:
        manifest = read_bundle(path).manifest
    except BundleError:
        return False
    grid = manifest["grid"]["log10_lambda"]
    return (
        manifest.get("per_class") == per_class
        and len(grid) == len(log10_lambda)
        and np.allclose(grid, log10_lambda)
    )


def build_pair(pair, out, log10_lambda, per_class, mnist_dir=None, force=False, digits=None) -> PairResult:
    """Build (or skip) one pair's bundle in this process; never raises, reports instead."""
    return build_pairs(out, log10_lambda, per_class, [tuple(pair)], mnist_dir, n_jobs=1, force=force,
                       digits=digits)[0]


def build_pairs(
    out,
    log10_lambda,
    per_class=DEFAULT_PER_CLASS,
    pairs=ALL_PAIRS,
    mnist_dir=None,
    n_jobs=-1,
    scheduler=None,
    progress=None,
    *,
    digits=None,
    force=False,
    worker_timeout=None,
):
    """Build the pairs' bundles in parallel, each written into ``out`` as it lands; one PairResult per pair.

    Parameters
    ----------
    out : path-like
        Artifacts folder, on this machine (workers never write).
    log10_lambda : array-like
        log10 λ of each model, ascending.
    per_class : int or None
    pairs : iterable of (int, int)
        Each is checked; an invalid pair fails alone.
    mnist_dir : path-like, optional
        Where to read the dataset, as for ``tilting precompute`` (ignored when ``digits`` is given).
    n_jobs : int
        joblib processes on this machine (-1: one per core). Ignored with a scheduler.
    scheduler : str or distributed.Client, optional
        A Dask scheduler's address (``tcp://host:8786``), or a client of one (see ``connect``);
        its workers need the package only.
    progress : callable, optional
        Called with each PairResult as it is settled (skipped, written or failed).
    digits : Digits, optional
        The dataset, already loaded.
    force : bool
        Rebuild bundles that are already valid for this grid and subset.
    worker_timeout : float, optional
        With a scheduler: give up after this many seconds without any worker (default: ``WORKER_TIMEOUT``).

    Raises
    ------
    TiltingError
        The scheduler cannot be reached or is lost, or every worker is gone for ``worker_timeout``.
    KeyboardInterrupt
        Work still queued or running is cancelled first; nothing is written after it.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log10_lambda = np.asarray(log10_lambda, dtype=float)
    report = progress or (lambda result: None)
    results = {}

    def settle(result):
        results[result.pair] = result
        report(result)

    with exclusive_builder(out):
        if digits is None:
            digits = load_digits_dataset(None if mnist_dir is None else str(mnist_dir), digits_of(pairs))
        todo = []
        for pair in (tuple(p) for p in pairs):
            try:
                check_pair(*pair)
            except TiltingError as exc:
                settle(PairResult(pair, None, "failed", str(exc)))
                continue
            exp_id = experiment_id(digits.name, pair[0], pair[1], per_class)
            if not force and bundle_is_current(out / exp_id, log10_lambda, per_class):
                settle(PairResult(pair, exp_id, "skipped"))
            else:
                todo.append((pair, exp_id))

        ids = dict(todo)
        tasks = (PairTask.from_dataset(digits, pair, log10_lambda, per_class) for pair, _ in todo)

        def land(output: PairOutput):
            exp_id = ids[output.pair]
            if output.manifest is None:
                settle(PairResult(output.pair, exp_id, "failed", output.message, output.seconds))
                return
            try:
                write_bundle(out, exp_id, output.manifest, output.arrays)
            except (TiltingError, OSError) as exc:
                message = str(exc) if isinstance(exc, TiltingError) else f"cannot write it: {exc.strerror or exc}"
                settle(PairResult(output.pair, exp_id, "failed", message, output.seconds))
                return
            settle(PairResult(output.pair, exp_id, "built", seconds=output.seconds))

        if todo:
            if scheduler is None:
                _run_local(tasks, len(todo), n_jobs, land)
            else:
                _run_dask(scheduler, tasks, land, worker_timeout or WORKER_TIMEOUT)
    return sorted(results.values(), key=lambda r: r.pair)


@contextlib.contextmanager
def exclusive_builder(out: Path):
    """One multi-pair build per artifacts folder at a time (a second would only repeat the first's work)."""
    path = out / LOCK_FILE
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise TiltingError(
                f"Another `tilting precompute` (pid {holder}) is already building pairs into {out}; "
                "wait for it to finish or stop it (`make stop`)."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield  # closing the file releases the lock, even if this process is killed


def _run_local(tasks, count, n_jobs, land):
    """joblib processes; each result is written here as soon as it arrives."""
    from joblib import Parallel, delayed

    if count == 1 or n_jobs == 1:
        for task in tasks:  # no process start-up for one pair
            land(solve_pair(task))
        return
    # loky limits each worker's BLAS (and numba) threads to cores // n_jobs, so two jobs
    # on two cores do not oversubscribe them.
    parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered", pre_dispatch="n_jobs")
    for output in parallel(delayed(solve_pair)(task) for task in tasks):
        land(output)


def connect(scheduler: str):
    """A Dask client of the scheduler at ``scheduler``, or a TiltingError of one sentence."""
    try:
        from distributed import Client
    except ImportError:
        raise TiltingError("--scheduler needs Dask: pip install 'boundary-tilting[cluster]'.") from None
    try:
        return Client(scheduler, timeout=10, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise TiltingError(f"Could not reach the Dask scheduler at {scheduler} ({exc}).") from None


def _run_dask(scheduler, tasks, land, worker_timeout):
    """Dask futures named by pair, at most two per worker thread in flight, written here as they land."""
    owned = isinstance(scheduler, str)
    client = connect(scheduler) if owned else scheduler
    scheduler = client.scheduler.address
    run = uuid.uuid4().hex[:8]  # a fresh key per run: a long-lived scheduler may remember old ones
    queue = deque(tasks)
    in_flight = {}  # future -> (pair, its scattered inputs)
    lost_since = None
    checked = -1.0
    try:
        while queue or in_flight:
            if time.monotonic() - checked >= 1.0:  # the cluster's size, once a second
                checked = time.monotonic()
                threads = _worker_threads(client, scheduler)
                lost_since = None if threads else (lost_since or checked)
                if lost_since is not None and checked - lost_since > worker_timeout:
                    left = len(queue) + len(in_flight)
                    raise TiltingError(
                        f"The Dask scheduler at {scheduler} has had no worker for {worker_timeout:g} s; "
                        f"stopping with {left} pair{'s' if left != 1 else ''} not built."
                    )
                while queue and threads and len(in_flight) < 2 * threads:
                    task = queue.popleft()
                    try:
                        [data] = client.scatter([task], hash=False)
                    except (OSError, TimeoutError):
                        # The workers it was going to died under it (the scheduler drops that
                        # connection, or finds none in time): back in the queue, unless the
                        # scheduler is gone as well. No worker for long ends the run above.
                        _worker_threads(client, scheduler)
                        queue.appendleft(task)
                        break
                    future = client.submit(solve_pair, data, key=f"pair-{task.pair[0]}-{task.pair[1]}-{run}")
                    in_flight[future] = (task.pair, data)
            done = [future for future in in_flight if future.done()]
            if not done:
                time.sleep(0.1)
            for future in done:
                pair, data = in_flight.pop(future)
                land(_output_of(future, pair))
                future.release()
                data.release()
    except BaseException as exc:
        # Ctrl-C, a lost cluster: take back what is queued and running; nothing more is written.
        with contextlib.suppress(Exception):
            client.cancel([f for future, (_, data) in in_flight.items() for f in (future, data)], force=True)
        if isinstance(exc, (OSError, TimeoutError)):  # distributed's CommClosedError is an OSError
            raise TiltingError(f"Lost the Dask scheduler at {scheduler} ({type(exc).__name__}).") from None
        raise
    finally:
        if owned:
            with contextlib.suppress(Exception):
                client.close(timeout=5)


def _worker_threads(client, scheduler) -> int:
    try:
        return sum(client.nthreads().values())
    except Exception as exc:  # the connection to the scheduler is gone
        raise TiltingError(f"Lost the Dask scheduler at {scheduler} ({type(exc).__name__}).") from None


def _output_of(future, pair) -> PairOutput:
    """The task's output, or its failure (a worker that died running it, say) as a PairOutput."""
    if future.status == "finished":
        # The result lives on a worker until fetched: if that worker dies first, and with it the
        # scattered input the scheduler would recompute from, the fetch is cancelled instead.
        with contextlib.suppress(CancelledError):
            return future.result()
    if future.status != "error":  # cancelled or lost: by the scheduler going away, or by someone else
        if future.client.status not in ("running", "connecting"):
            raise TiltingError(f"Lost the Dask scheduler at {future.client.scheduler.address}.")
        return PairOutput(pair, message=f"its Dask task was {future.status} before its result reached this machine")
    exc = future.exception()
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, ImportError):
        message += " (each Dask worker needs this package installed: pip install 'boundary-tilting[cluster]')"
    return PairOutput(pair, message=message)
