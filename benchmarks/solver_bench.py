"""The exact path solver against sklearn, on MNIST 2 vs 3, measured in one run.

Run: python -m benchmarks.solver_bench [--sizes 3000,all] [--skip-linearsvc] [--skip-baseline]

For each training-set size (images per digit; ``all`` = every 2 and 3, n = 12,089):

- our 81-model path (the default grid), CPU and wall seconds, with BLAS limited
  to one thread and with its default threads, peak memory, worst duality gap;
- the same λ without the path: each sampled λ solved alone (a cold start);
- sklearn's SVC(kernel="linear", C=1/(2λn)), the exact reference, at its default
  tolerance with warnings on, measured (never extrapolated) on the sampled λ;
  its objective against ours and its own duality gap;
- LinearSVC (hinge loss; it regularises the bias, so it solves another problem)
  with max_iter=100,000 and its warnings on: time and how far above our optimum
  (not at ``all``, where it takes minutes per λ).
- at n = 6,000 the solver of git HEAD (``--baseline REV``) on the same path, in a
  subprocess, as the before figure.

Every time is printed with the load average: the machine is shared.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC, LinearSVC
from threadpoolctl import threadpool_limits

from benchmarks.common import baseline_code, load_average, machine, mnist_dir, stamp, timed
from tilting.precompute.data import load_mnist, select_pair
from tilting.precompute.solver import log10_lambda_grid, primal_objective, svm_path

SAMPLED = {3000: [-6.0, -4.0, -2.0, 0.0, 2.0], None: [-6.0, -3.0, 0.0]}

# The baseline's path, run by the baseline's own code (its API: λ values, a tuple back).
BASELINE_SCRIPT = """
import json, sys, time
import numpy as np
from tilting.precompute.data import load_mnist, select_pair
from tilting.precompute.solver import log10_lambda_grid, svm_path
pair = select_pair(load_mnist(sys.argv[1]), 2, 3)
svm_path(pair.X_train[:40], pair.y_train[:40], [1.0, 0.1])  # compile outside the timing
cpu, wall = time.process_time(), time.perf_counter()
W, B, gaps, info = svm_path(pair.X_train, pair.y_train, 10.0 ** log10_lambda_grid())
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                  "worst_gap": float(np.max(gaps / info["objective"]))}))
"""


def svc_fit(X, y, lam):
    """SVC at its default tolerance, warnings on: (primal objective, its relative duality gap, warned)."""
    n = len(y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        svc = SVC(kernel="linear", C=1 / (2 * lam * n), cache_size=1000).fit(X, y)
    w = svc.dual_coef_.ravel() @ X[svc.support_]
    primal = primal_objective(X, y, w, svc.intercept_[0], lam)
    dual = 2 * lam * (np.abs(svc.dual_coef_).sum() - 0.5 * w @ w)
    return primal, (primal - dual) / primal, any(issubclass(c.category, ConvergenceWarning) for c in caught)


def linear_svc_fit(X, y, lam):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lin = LinearSVC(C=1 / (2 * lam * len(y)), loss="hinge", dual=True, max_iter=100_000).fit(X, y)
    warned = any(issubclass(c.category, ConvergenceWarning) for c in caught)
    return primal_objective(X, y, lin.coef_.ravel(), lin.intercept_[0], lam), warned


def bench_size(digits, per_class, args):
    pair = select_pair(digits, 2, 3, per_class)
    X, y = pair.X_train, pair.y_train
    n = len(y)
    grid = log10_lambda_grid()
    print(f"\n== n = {n} ({per_class or 'all'} per digit), 81-model path; {load_average()}")

    for label, limit in (("one BLAS thread", 1), ("default BLAS threads", None)):
        with threadpool_limits(limits=limit):
            tracemalloc.start()
            path, cpu, wall = timed(svm_path, X, y, grid)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        print(f"  ours, path, {label:>20}: {cpu:7.2f} s CPU {wall:7.2f} s wall; peak traced memory {peak:.0f} MiB; "
              f"worst relative gap {path.relative_gap.max():.1e}; all certified: {bool(path.certified.all())}; "
              f"SMO iterations {int(path.n_iter.sum())}, active-set/homotopy steps {int(path.n_active_set_steps.sum())}")
        print(f"    ({load_average()})")

    sampled = SAMPLED.get(per_class, SAMPLED[None])
    ours_cpu = ours_wall = svc_cpu = svc_wall = 0.0
    print(f"  sampled log10 λ {sampled}: each solved alone (no warm start) vs SVC (default tol, warnings on)")
    for log10_lambda in sampled:
        lam = 10.0**log10_lambda
        alone, cpu, wall = timed(svm_path, X, y, [log10_lambda])
        ours_cpu, ours_wall = ours_cpu + cpu, ours_wall + wall
        (svc_obj, svc_gap, warned), s_cpu, s_wall = timed(svc_fit, X, y, lam)
        svc_cpu, svc_wall = svc_cpu + s_cpu, svc_wall + s_wall
        print(f"    log10 λ = {log10_lambda:+.0f}: ours alone {cpu:6.2f} s CPU (gap {alone.relative_gap[0]:.0e}); "
              f"SVC {s_cpu:6.2f} s CPU {s_wall:6.2f} s wall, objective (SVC − ours)/ours = "
              f"{(svc_obj - alone.objective[0]) / alone.objective[0]:+.1e}, SVC's own gap {svc_gap:.0e}"
              f"{', ConvergenceWarning' if warned else ''}")
    print(f"  same λ, no warm start: ours {ours_cpu:.2f} s CPU vs SVC {svc_cpu:.2f} s CPU "
          f"(SVC / ours = {svc_cpu / ours_cpu:.1f}); SVC per λ {svc_cpu / len(sampled):.1f} s CPU "
          f"({svc_wall / len(sampled):.1f} s wall) vs our whole 81-model path above")
    print(f"    ({load_average()})")

    if not args.skip_linearsvc and per_class is not None:  # at n ≈ 12,000 it takes minutes per λ
        for log10_lambda in sampled:
            lam = 10.0**log10_lambda
            opt = svm_path(X, y, [log10_lambda]).objective[0]
            (lin_obj, warned), cpu, wall = timed(linear_svc_fit, X, y, lam)
            print(f"    LinearSVC log10 λ = {log10_lambda:+.0f}: {cpu:6.2f} s CPU, objective {lin_obj / opt - 1:+.1e} "
                  f"above the optimum{' (ConvergenceWarning at 100,000 iterations)' if warned else ''}")


def bench_baseline(rev):
    with tempfile.TemporaryDirectory() as tmp:
        code = baseline_code(rev, Path(tmp))
        env = {**os.environ, "PYTHONPATH": str(code)}
        out = subprocess.run([sys.executable, "-c", BASELINE_SCRIPT, str(mnist_dir())], env=env, cwd=code,
                             capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(f"  baseline solver ({rev}), n = 6000 path: {result['cpu']:.2f} s CPU {result['wall']:.2f} s wall, "
          f"worst relative gap {result['worst_gap']:.1e}  ({load_average()})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3000,all", help="images per digit, comma-separated ('all' for every one)")
    parser.add_argument("--skip-linearsvc", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--baseline", default="HEAD", help="git revision of the before solver (default: HEAD)")
    args = parser.parse_args()

    print(f"Solver benchmark, {stamp()}, {machine()}; {load_average()}")
    digits = load_mnist(mnist_dir(), classes=(2, 3))
    svm_path(digits.train_images[:40], np.where(digits.train_labels[:40] == 3, 1.0, -1.0), [0.0, -1.0])  # compile
    if not args.skip_baseline:
        bench_baseline(args.baseline)
    for size in args.sizes.split(","):
        bench_size(digits, None if size == "all" else int(size), args)


if __name__ == "__main__":
    main()
