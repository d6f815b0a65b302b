"""All 45 MNIST digit pairs (81 models each) on this machine's cores.

Run: python -m benchmarks.all_pairs_bench [--out DIR]

Baseline, measured in the same run: sklearn SVC fitted on every 10th λ of the
grid for two pairs (2-3 and 4-9), scaled to 81 models and 45 pairs spread
over the same cores — an estimate of what an SVC loop would take.
"""

import argparse
import os
import tempfile
import time

import numpy as np
from sklearn.svm import SVC

from benchmarks.common import machine, mnist_dir, stamp
from precompute.data import load_mnist, select_pair
from precompute.pairs import ALL_PAIRS, build_pairs
from precompute.solver import lambda_grid


def svc_estimate(grid, cores):
    digits = load_mnist(mnist_dir())
    per_pair = []
    for i, j in ((2, 3), (4, 9)):
        pair = select_pair(digits, i, j)
        start = time.perf_counter()
        for alpha in grid[::10]:
            SVC(kernel="linear", C=1 / (2 * 10.0**alpha * len(pair.y_train)), cache_size=1000).fit(
                pair.X_train, pair.y_train
            )
        per_pair.append((time.perf_counter() - start) * len(grid) / len(grid[::10]))
    return float(np.mean(per_pair)), float(np.mean(per_pair)) * len(ALL_PAIRS) / cores


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="artifacts folder (default: a temporary one)")
    args = parser.parse_args()
    grid = lambda_grid()
    out = args.out or tempfile.mkdtemp(prefix="all-pairs-")
    cores = os.cpu_count()

    start = time.perf_counter()
    results = build_pairs(out, grid, mnist_dir=mnist_dir(), n_jobs=-1)
    total = time.perf_counter() - start
    failed = [r for r in results if r.status == "failed"]
    slowest = max(results, key=lambda r: r.seconds)

    per_pair_svc, all_svc = svc_estimate(grid, cores)
    print(f"All-pairs benchmark, {stamp()}, {machine()}")
    print(f"  45 pairs × 81 models: {total:.0f} s wall ({total / 60:.1f} min); "
          f"{sum(r.status == 'built' for r in results)} built, {len(failed)} failed")
    print(f"  per pair: median {np.median([r.seconds for r in results]):.1f} s, "
          f"slowest {slowest.pair[0]}-{slowest.pair[1]} {slowest.seconds:.1f} s (on one core each)")
    print(f"  SVC baseline (estimated from 2 pairs × 9 λ in this run): {per_pair_svc:.0f} s per pair, "
          f"{all_svc / 60:.0f} min for 45 pairs on {cores} cores")
    print(f"  speed-up: {all_svc / total:.0f}×")
    for r in failed:
        print(f"  FAILED {r.pair}: {r.message}")


if __name__ == "__main__":
    main()
