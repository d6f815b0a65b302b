"""All 45 MNIST digit pairs (81 models each, 3,000 images per digit) on this machine's cores.

Run: python -m benchmarks.all_pairs_bench [--out DIR] [--jobs N] [--svc-lambdas -2]

Ours: ``tilting.precompute.pairs.build_pairs`` (what ``tilting precompute --all-pairs``
runs), wall and CPU seconds (this process and its joblib workers).

Baseline, measured in the same run (never extrapolated): sklearn's
SVC(kernel="linear", C=1/(2λn)) fitted on every pair at the sampled λ only
(default: log10 λ = −2, one model per pair against our 81), at its default
tolerance with warnings on, one fit at a time. The load average is printed
beside each figure: the machine is shared.
"""

import argparse
import resource
import tempfile
import time
import warnings

import numpy as np
from sklearn.svm import SVC

from benchmarks.common import load_average, machine, mnist_dir, stamp
from tilting.precompute.data import load_mnist, select_pair
from tilting.precompute.pairs import ALL_PAIRS, build_pairs
from tilting.precompute.solver import log10_lambda_grid


def cpu_seconds() -> float:
    """CPU of this process and of its finished children (the joblib workers, once shut down)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def svc_all_pairs(digits, log10_lambdas):
    """SVC on every pair at each λ: (CPU seconds, wall seconds, fits, fits that warned)."""
    cpu, wall, warned = time.process_time(), time.perf_counter(), 0
    for i, j in ALL_PAIRS:
        pair = select_pair(digits, i, j)
        for log10_lambda in log10_lambdas:
            C = 1 / (2 * 10.0**log10_lambda * len(pair.y_train))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                SVC(kernel="linear", C=C, cache_size=1000).fit(pair.X_train, pair.y_train)
            warned += bool(caught)
    return time.process_time() - cpu, time.perf_counter() - wall, len(ALL_PAIRS) * len(log10_lambdas), warned


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="artifacts folder (default: a temporary one)")
    parser.add_argument("--jobs", type=int, default=-1, help="joblib processes (default: one per core)")
    parser.add_argument("--svc-lambdas", default="-2", help="log10 λ values for the SVC baseline, comma-separated")
    args = parser.parse_args()
    grid = log10_lambda_grid()
    out = args.out or tempfile.mkdtemp(prefix="all-pairs-")
    digits = load_mnist(mnist_dir())

    print(f"All-pairs benchmark, {stamp()}, {machine()}; {load_average()}")
    cpu, start = cpu_seconds(), time.perf_counter()
    results = build_pairs(out, grid, n_jobs=args.jobs, digits=digits, force=True)
    total = time.perf_counter() - start
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # so that the workers' CPU is counted
    total_cpu = cpu_seconds() - cpu
    failed = [r for r in results if r.status == "failed"]
    slowest = max(results, key=lambda r: r.seconds)
    print(f"  ours, 45 pairs × 81 models: {total:.0f} s wall ({total / 60:.1f} min), {total_cpu:.0f} s CPU; "
          f"{sum(r.status == 'built' for r in results)} built, {len(failed)} failed  ({load_average()})")
    print(f"  per pair: median {np.median([r.seconds for r in results]):.1f} s, "
          f"slowest {slowest.pair[0]}-{slowest.pair[1]} {slowest.seconds:.1f} s (wall, one worker each)")
    for r in failed:
        print(f"  FAILED {r.pair}: {r.message}")

    svc_lambdas = [float(v) for v in args.svc_lambdas.split(",")]
    svc_cpu, svc_wall, fits, warned = svc_all_pairs(digits, svc_lambdas)
    per_model_ours = total_cpu / (len(ALL_PAIRS) * len(grid))
    print(f"  SVC, measured: {fits} fits (45 pairs × log10 λ {svc_lambdas}) in {svc_cpu:.0f} s CPU, "
          f"{svc_wall:.0f} s wall, one at a time; {warned} warned  ({load_average()})")
    print(f"  per model, CPU: ours {per_model_ours:.3f} s (whole bundle: path, geometry, metrics, writing) "
          f"vs SVC {svc_cpu / fits:.2f} s (the fit alone) = {svc_cpu / fits / per_model_ours:.0f}×")


if __name__ == "__main__":
    main()
