"""The path solver against closed forms, brute force and sklearn's SVC."""

import numpy as np
import pytest
from sklearn.svm import SVC

from precompute.solver import SolverError, lambda_grid, optimal_intercept, primal_objective, svm_path


def test_two_points_closed_form():
    # x = -1 (y = -1) and x = +1 (y = +1): L = max(0, 1 - w) + λw² at b = 0,
    # so w* = min(1, 1/(2λ)); b* = 0 (when w < 1 the optimal b is the interval
    # [-(1 - w), 1 - w]; its midpoint and the point closest to -w·m, m = 0, are both 0).
    X = np.array([[-1.0], [1.0]])
    y = np.array([-1.0, 1.0])
    lambdas = np.array([0.01, 0.3, 0.5, 2.0, 10.0])
    W, B, gaps, info = svm_path(X, y, lambdas)
    np.testing.assert_allclose(W[:, 0], np.minimum(1.0, 1.0 / (2 * lambdas)), rtol=1e-9)
    np.testing.assert_allclose(B, 0.0, atol=1e-12)
    assert (np.abs(gaps) <= 1e-12).all()
    w = W[-1, 0]
    np.testing.assert_allclose([info["bias_low"][-1], info["bias_high"][-1]], [-(1 - w), 1 - w])


def test_optimal_intercept_matches_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = rng.integers(2, 12)
        y = rng.choice([-1.0, 1.0], size=n)
        y[0], y[1] = -1.0, 1.0
        scores = rng.normal(scale=rng.choice([0.1, 1.0, 3.0]), size=n)
        b, (lo, hi) = optimal_intercept(scores, y)
        grid = np.linspace(-8, 8, 160001)
        losses = np.maximum(0, 1 - y[:, None] * (scores[:, None] + grid)).sum(axis=0)
        best = losses.min()
        argmin = grid[losses <= best + 1e-9]
        assert np.maximum(0, 1 - y * (scores + b)).sum() <= best + 1e-9
        assert lo == pytest.approx(argmin.min(), abs=2e-4) and hi == pytest.approx(argmin.max(), abs=2e-4)
        assert b == pytest.approx(0.5 * (lo + hi))
        # With a target: the optimal bias closest to it.
        for target in (lo - 1.0, 0.3 * lo + 0.7 * hi, hi + 1.0):
            b_t, interval = optimal_intercept(scores, y, target=target)
            assert interval == (lo, hi)
            assert b_t == pytest.approx(min(max(target, lo), hi), abs=1e-15)


def _objective_along_interval(X, y, w, lo, hi, lam):
    """Primal objectives at 101 biases spread over [lo, hi], and at the midpoint."""
    mid = primal_objective(X, y, w, 0.5 * (lo + hi), lam)
    return np.array([primal_objective(X, y, w, b, lam) for b in np.linspace(lo, hi, 101)]), mid


def test_wide_interval_rule_every_bias_is_optimal_and_the_chosen_one_is_nearest_the_centre():
    # Balanced classes and strong regularization: every point inside the margin.
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(-0.5, 1.0, size=(40, 6)), rng.normal(0.5, 1.0, size=(40, 6))])
    y = np.repeat([-1.0, 1.0], 40)
    # One far J image: it sets the interval's upper end, so the midpoint leaves m.
    X[-1] += 8.0
    lambdas = 10.0 ** np.array([-2.0, 1.0, 2.0])
    W, B, gaps, info = svm_path(X, y, lambdas)
    m = 0.5 * (X[y < 0].mean(axis=0) + X[y > 0].mean(axis=0))
    for k in range(len(lambdas)):
        lo, hi, mid = info["bias_low"][k], info["bias_high"][k], info["bias_midpoint"][k]
        assert lo <= B[k] <= hi
        assert mid == pytest.approx(0.5 * (lo + hi), abs=1e-15)
        assert B[k] == pytest.approx(min(max(-W[k] @ m, lo), hi), abs=1e-12)
        objectives, at_mid = _objective_along_interval(X, y, W[k], lo, hi, lambdas[k])
        np.testing.assert_allclose(objectives, at_mid, rtol=1e-12, atol=0)
        assert info["objective"][k] == pytest.approx(at_mid, rel=1e-12)
        svc = SVC(kernel="linear", C=1 / (2 * lambdas[k] * len(y)), tol=1e-10).fit(X, y)
        assert svc.intercept_[0] == pytest.approx(mid, abs=1e-6)
    # At the strongest λ the interval is wide and holds -w·m: the boundary goes through m.
    assert info["bias_high"][-1] - info["bias_low"][-1] > 0.5
    assert B[-1] == pytest.approx(-W[-1] @ m, rel=1e-12)
    assert abs(B[-1] - info["bias_midpoint"][-1]) > 0.5 * abs(B[-1])  # the rule changed something


def test_wide_interval_ends_are_the_extreme_points_of_each_class():
    # Every point inside the margin (|s| < 1 around any optimal b): the interval is
    # [-1 - min_I s, 1 - max_J s] and its midpoint -(min_I s + max_J s)/2 puts the
    # boundary halfway, in score, between the lowest-scoring I and highest-scoring J point.
    rng = np.random.default_rng(4)
    for _ in range(20):
        n = int(rng.integers(2, 30))
        y = np.repeat([-1.0, 1.0], n)
        scores = rng.uniform(-0.4, 0.4, size=2 * n) + 0.1 * y
        b, (lo, hi) = optimal_intercept(scores, y)
        s_i, s_j = scores[y < 0], scores[y > 0]
        assert lo == pytest.approx(-1.0 - s_i.min(), abs=1e-15)
        assert hi == pytest.approx(1.0 - s_j.max(), abs=1e-15)
        assert b == pytest.approx(-(s_i.min() + s_j.max()) / 2, abs=1e-15)
        # and not the other pair of extremes the old docstring named
        if not np.isclose(s_i.max() + s_j.min(), s_i.min() + s_j.max()):
            assert b != pytest.approx(-(s_i.max() + s_j.min()) / 2, abs=1e-12)


def test_random_problems_against_svc():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=120) > 0, 1.0, -1.0)
    lambdas = 10.0 ** np.array([-4.0, -2.0, 0.0, 1.0])
    W, B, gaps, info = svm_path(X, y, lambdas)
    for k, lam in enumerate(lambdas):
        svc = SVC(kernel="linear", C=1 / (2 * lam * len(y)), tol=1e-10).fit(X, y)
        ref = primal_objective(X, y, svc.coef_.ravel(), svc.intercept_[0], lam)
        assert info["objective"][k] <= ref * (1 + 1e-9)
        assert info["objective"][k] == pytest.approx(ref, rel=1e-6)
        assert gaps[k] <= 1e-9 * info["objective"][k]
        # libsvm takes the midpoint of the optimal interval; we keep it as bias_midpoint.
        # (Here the bias is pinned; SVC's own w is 1e-5 off at the smallest λ.)
        assert svc.intercept_[0] == pytest.approx(info["bias_midpoint"][k], abs=1e-5)


def _svc_certificate(X, y, lam):
    """SVC's primal objective and the dual objective of its α, both in float64."""
    n = len(y)
    svc = SVC(kernel="linear", C=1 / (2 * lam * n), tol=1e-3, cache_size=2000).fit(X, y)
    w = svc.dual_coef_.ravel() @ X[svc.support_]
    primal = primal_objective(X, y, w, svc.intercept_[0], lam)
    dual = 2 * lam * (np.abs(svc.dual_coef_).sum() - 0.5 * w @ w)
    return w, primal, dual


@pytest.mark.slow
def test_mnist_path_matches_svc_across_the_grid(mnist):
    from precompute.data import select_pair

    pair = select_pair(mnist, 2, 3)
    X, y = pair.X_train, pair.y_train
    alphas = np.array([-6.0, -4.0, -2.0, 0.0, 2.0])
    W, B, gaps, info = svm_path(X, y, 10.0**alphas)
    for k, alpha in enumerate(alphas):
        lam = 10.0**alpha
        ours = info["objective"][k]
        assert gaps[k] <= 1e-9 * ours, f"not certified at log10 λ = {alpha}"
        w_svc, p_svc, d_svc = _svc_certificate(X, y, lam)
        # Never worse than SVC, and above SVC's own dual bound (weak duality).
        assert ours <= p_svc * (1 + 1e-6)
        assert d_svc <= ours * (1 + 1e-12)
        # Where SVC's α certifies itself to 1e-7, the two objectives agree to 1e-6.
        # (At small λ libsvm, which keeps its kernel in float32, stops farther
        # from the optimum than that; its own duality gap shows it.)
        if p_svc - d_svc <= 1e-7 * p_svc:
            assert ours == pytest.approx(p_svc, rel=1e-6)
        cosine = W[k] @ w_svc / np.linalg.norm(W[k]) / np.linalg.norm(w_svc)
        assert cosine >= 0.9999
    # Strong regularization: every point inside the margin, the bias is an interval.
    # libsvm takes its midpoint (kept as bias_midpoint); we take the optimal bias
    # closest to -w·m, which here is -w·m itself: the nearest-centroid classifier.
    lo, hi = info["bias_low"][-1], info["bias_high"][-1]
    assert hi - lo > 1.0
    assert info["bias_midpoint"][-1] == pytest.approx(0.5 * (lo + hi))
    svc = SVC(kernel="linear", C=1 / (2 * 10.0**alphas[-1] * len(y)), tol=1e-10).fit(X, y)
    assert svc.intercept_[0] == pytest.approx(info["bias_midpoint"][-1], abs=1e-6)
    m = 0.5 * (X[y < 0].mean(axis=0) + X[y > 0].mean(axis=0))
    assert lo <= B[-1] <= hi
    assert B[-1] == pytest.approx(-W[-1] @ m, rel=1e-12)
    z = X[y > 0].mean(axis=0) - X[y < 0].mean(axis=0)
    assert W[-1] @ z / np.linalg.norm(W[-1]) / np.linalg.norm(z) == pytest.approx(1.0, abs=1e-12)
    objectives, at_mid = _objective_along_interval(X, y, W[-1], lo, hi, 10.0**alphas[-1])
    np.testing.assert_allclose(objectives, at_mid, rtol=1e-12, atol=0)


def test_lambda_grid_default_has_81_values():
    grid = lambda_grid()
    assert len(grid) == 81 and grid[0] == -6.0 and grid[-1] == 2.0
    assert np.allclose(np.diff(grid), 0.1)


@pytest.mark.parametrize(
    "args, message",
    [((0, -1, 0.1), "must go up"), ((-6, 2, 0), "step must be positive"), ((np.nan, 2, 0.1), "finite")],
)
def test_bad_grids(args, message):
    with pytest.raises(SolverError, match=message):
        lambda_grid(*args)


def test_bad_inputs():
    X = np.zeros((4, 2))
    with pytest.raises(SolverError, match="both must occur"):
        svm_path(X, np.ones(4), [1.0])
    with pytest.raises(SolverError, match="positive finite"):
        svm_path(X, np.array([-1.0, 1, -1, 1]), [0.0])
    with pytest.raises(SolverError, match="empty"):
        svm_path(X, np.array([-1.0, 1, -1, 1]), [])
