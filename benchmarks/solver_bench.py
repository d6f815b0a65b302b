"""The exact path solver against per-λ sklearn fits, on MNIST 2 vs 3 (n = 6,000).

Run: python -m benchmarks.solver_bench [--skip-linearsvc]

Prints, for the default 81-model grid: the path's time and peak memory, the
time of a loop of SVC(kernel="linear", C=1/(2λn)) fits over the same grid (the
exact reference), their ratio, the worst relative objective difference
(ours − SVC's, negative where ours is lower), and how far LinearSVC (which
regularises the bias) lands from the optimum.
"""

import argparse
import resource
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC, LinearSVC

from benchmarks.common import machine, mnist_dir, stamp
from precompute.data import load_mnist, select_pair
from precompute.solver import lambda_grid, primal_objective, svm_path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-linearsvc", action="store_true")
    args = parser.parse_args()

    pair = select_pair(load_mnist(mnist_dir()), 2, 3)
    X, y = pair.X_train, pair.y_train
    n = len(y)
    lambdas = 10.0 ** lambda_grid()
    svm_path(X[:40], y[:40], lambdas[:2])  # compile the SMO kernel outside the timing

    tracemalloc.start()
    start = time.perf_counter()
    W, B, gaps, info = svm_path(X, y, lambdas)
    path_seconds = time.perf_counter() - start
    peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    ours = info["objective"]

    svc_seconds, svc_obj = [], []
    for lam in lambdas:
        start = time.perf_counter()
        svc = SVC(kernel="linear", C=1 / (2 * lam * n), cache_size=1000).fit(X, y)
        svc_seconds.append(time.perf_counter() - start)
        svc_obj.append(primal_objective(X, y, svc.coef_.ravel(), svc.intercept_[0], lam))
    svc_obj = np.array(svc_obj)
    rel = (ours - svc_obj) / svc_obj

    print(f"Solver benchmark, {stamp()}, {machine()}")
    print(f"  path (81 models, ours): {path_seconds:8.2f} s   peak traced memory {peak_mib:.0f} MiB, "
          f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"  SVC loop (81 fits):     {sum(svc_seconds):8.2f} s   (slowest fit {max(svc_seconds):.1f} s)")
    print(f"  speed-up: {sum(svc_seconds) / path_seconds:.1f}×")
    print(f"  objective, ours vs SVC: worst (ours − SVC)/SVC = {rel.max():+.2e}; "
          f"best = {rel.min():+.2e} (ours lower)")
    print(f"  our worst relative duality gap: {np.max(gaps / ours):.1e}")

    if not args.skip_linearsvc:
        lin_seconds, lin_rel = 0.0, []
        for lam, opt in zip(lambdas, ours):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                lin = LinearSVC(C=1 / (2 * lam * n), loss="hinge", dual=True, max_iter=10000).fit(X, y)
            lin_seconds += time.perf_counter() - start
            lin_rel.append(primal_objective(X, y, lin.coef_.ravel(), lin.intercept_[0], lam) / opt - 1)
        lin_rel = np.array(lin_rel)
        print(f"  LinearSVC loop:         {lin_seconds:8.2f} s   objective above the optimum: "
              f"median {np.median(lin_rel):.1e}, worst {lin_rel.max():.1e} "
              f"(at log10 λ = {np.log10(lambdas[np.argmax(lin_rel)]):.1f}); "
              f"at log10 λ = -6: {lin_rel[0]:.1f}")


if __name__ == "__main__":
    main()
