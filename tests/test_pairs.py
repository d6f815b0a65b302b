"""Building many pairs: in parallel, skipping valid bundles, isolating failures, on Dask."""

import numpy as np
import pytest

from precompute.artifacts import read_bundle
from precompute.pairs import build_pair, build_pairs

GRID = np.array([-3.0, 0.0, 2.0])


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


@pytest.mark.slow
def test_dask_local_cluster(no_mnist):
    distributed = pytest.importorskip("dask.distributed")
    out = no_mnist / "artifacts"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        results = build_pairs(out, GRID, pairs=[(3, 8), (4, 9)], scheduler=cluster.scheduler_address)
    assert [r.status for r in results] == ["built", "built"]
    assert read_bundle(out / "digits8x8-4-9").manifest["digits"] == [4, 9]


@pytest.mark.slow
def test_unreachable_scheduler_is_one_sentence(no_mnist):
    pytest.importorskip("dask.distributed")
    from precompute.errors import TiltingError

    with pytest.raises(TiltingError, match="Could not reach the Dask scheduler"):
        build_pairs(no_mnist / "a", GRID, pairs=[(0, 1)], scheduler="tcp://127.0.0.1:9")
