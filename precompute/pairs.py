"""Building many digit pairs at once: across local cores, or on a Dask cluster.

Each pair is one joblib task that loads the dataset itself (cached per worker
process) rather than receiving it pickled: a task's arguments stay a few
bytes, which also suits remote Dask workers that see the same data folder.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from precompute.artifacts import BundleError, read_bundle, write_bundle
from precompute.data import load_digits_dataset
from precompute.errors import TiltingError
from precompute.experiment import build_experiment, experiment_id

ALL_PAIRS = tuple(itertools.combinations(range(10), 2))  # 45 pairs, i < j


@dataclass
class PairResult:
    """What happened to one pair: 'built', 'skipped' (already valid) or 'failed'."""

    pair: tuple
    experiment: str | None
    status: str
    message: str = ""
    seconds: float = 0.0


@functools.lru_cache(maxsize=2)
def _dataset(mnist_dir):
    return load_digits_dataset(mnist_dir)


def bundle_is_current(path: Path, log_lambdas, per_class) -> bool:
    """True when ``path`` holds a valid bundle built with this grid and subset."""
    try:
        manifest = read_bundle(path).manifest
    except BundleError:
        return False
    grid = manifest["grid"]["log10_lambda"]
    return (
        manifest.get("per_class") == per_class
        and len(grid) == len(log_lambdas)
        and np.allclose(grid, log_lambdas)
    )


def build_pair(pair, out, log_lambdas, per_class, mnist_dir=None, force=False) -> PairResult:
    """Build (or skip) one pair's bundle; never raises, reports instead."""
    start = time.perf_counter()
    exp_id = None
    try:
        digits = _dataset(None if mnist_dir is None else str(mnist_dir))
        exp_id = experiment_id(digits.name, pair[0], pair[1], per_class)
        if not force and bundle_is_current(Path(out) / exp_id, log_lambdas, per_class):
            return PairResult(pair, exp_id, "skipped")
        manifest, arrays = build_experiment(digits, pair[0], pair[1], log_lambdas, per_class=per_class)
        write_bundle(out, exp_id, manifest, arrays)
        return PairResult(pair, exp_id, "built", seconds=time.perf_counter() - start)
    except TiltingError as exc:
        return PairResult(pair, exp_id, "failed", str(exc), time.perf_counter() - start)
    except Exception as exc:  # one pair's bug must not lose the others
        last = traceback.extract_tb(exc.__traceback__)[-1]
        message = f"{type(exc).__name__}: {exc} (at {Path(last.filename).name}:{last.lineno})"
        return PairResult(pair, exp_id, "failed", message, time.perf_counter() - start)


def build_pairs(
    out,
    log_lambdas,
    per_class=3000,
    pairs=ALL_PAIRS,
    mnist_dir=None,
    n_jobs=-1,
    scheduler=None,
    progress=None,
):
    """Build every pair's bundle in parallel; return one PairResult per pair.

    Parameters
    ----------
    out : path-like
        Artifacts folder.
    log_lambdas : array-like
    per_class : int or None
    pairs : iterable of (int, int)
    mnist_dir : path-like, optional
        As for ``tilting precompute``; remote workers must see the same path.
    n_jobs : int
        joblib workers on this machine (-1: one per core). Ignored with a scheduler.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``): the tasks run on
        its workers through joblib's dask backend.
    progress : callable, optional
        Called with each PairResult as it completes.
    """
    Path(out).mkdir(parents=True, exist_ok=True)
    tasks = [
        delayed(build_pair)(tuple(p), str(out), np.asarray(log_lambdas), per_class,
                            None if mnist_dir is None else str(mnist_dir))
        for p in pairs
    ]
    with _backend(scheduler):
        parallel = Parallel(n_jobs=n_jobs if scheduler is None else -1, return_as="generator_unordered")
        results = []
        for result in parallel(tasks):
            results.append(result)
            if progress is not None:
                progress(result)
    return sorted(results, key=lambda r: r.pair)


@contextlib.contextmanager
def _backend(scheduler):
    if scheduler is None:
        yield
        return
    try:
        from dask.distributed import Client
    except ImportError:
        raise TiltingError(
            "--scheduler needs Dask: pip install 'boundary-tilting[cluster]'."
        ) from None
    from joblib import parallel_backend

    try:
        client = Client(scheduler, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise TiltingError(f"Could not reach the Dask scheduler at {scheduler} ({exc}).") from None
    with client, parallel_backend("dask"):
        yield
