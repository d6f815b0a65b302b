"""The path solver against closed forms, brute force and sklearn's SVC."""

import numpy as np
import pytest
from sklearn.svm import SVC

from tilting.precompute.solver import (
    SolverError,
    UncertifiedModelWarning,
    log10_lambda_grid,
    optimal_intercept,
    primal_objective,
    svm_path,
)


def test_two_points_closed_form():
    # x = -1 (y = -1) and x = +1 (y = +1): L = max(0, 1 - w) + λw² at b = 0,
    # so w* = min(1, 1/(2λ)); b* = 0 (when w < 1 the optimal b is the interval
    # [-(1 - w), 1 - w]; its midpoint and the point closest to -w·m, m = 0, are both 0).
    X = np.array([[-1.0], [1.0]])
    y = np.array([-1.0, 1.0])
    lambdas = np.array([0.01, 0.3, 0.5, 2.0, 10.0])
    path = svm_path(X, y, np.log10(lambdas))
    np.testing.assert_allclose(path.log10_lambda, np.log10(lambdas))
    np.testing.assert_allclose(path.weights[:, 0], np.minimum(1.0, 1.0 / (2 * lambdas)), rtol=1e-9)
    np.testing.assert_allclose(path.intercepts, 0.0, atol=1e-12)
    assert (np.abs(path.duality_gap) <= 1e-12).all() and path.certified.all()
    w = path.weights[-1, 0]
    np.testing.assert_allclose([path.bias_low[-1], path.bias_high[-1]], [-(1 - w), 1 - w])


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
    path = svm_path(X, y, np.log10(lambdas))
    W, B = path.weights, path.intercepts
    m = 0.5 * (X[y < 0].mean(axis=0) + X[y > 0].mean(axis=0))
    for k in range(len(lambdas)):
        lo, hi, mid = path.bias_low[k], path.bias_high[k], path.bias_midpoint[k]
        assert lo <= B[k] <= hi
        assert mid == pytest.approx(0.5 * (lo + hi), abs=1e-15)
        assert B[k] == pytest.approx(min(max(-W[k] @ m, lo), hi), abs=1e-12)
        objectives, at_mid = _objective_along_interval(X, y, W[k], lo, hi, lambdas[k])
        np.testing.assert_allclose(objectives, at_mid, rtol=1e-12, atol=0)
        assert path.objective[k] == pytest.approx(at_mid, rel=1e-12)
        svc = SVC(kernel="linear", C=1 / (2 * lambdas[k] * len(y)), tol=1e-10).fit(X, y)
        assert svc.intercept_[0] == pytest.approx(mid, abs=1e-6)
    # At the strongest λ the interval is wide and holds -w·m: the boundary goes through m.
    assert path.bias_high[-1] - path.bias_low[-1] > 0.5
    assert B[-1] == pytest.approx(-W[-1] @ m, rel=1e-12)
    assert abs(B[-1] - path.bias_midpoint[-1]) > 0.5 * abs(B[-1])  # the rule changed something


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
    path = svm_path(X, y, np.log10(lambdas))
    for k, lam in enumerate(lambdas):
        svc = SVC(kernel="linear", C=1 / (2 * lam * len(y)), tol=1e-10).fit(X, y)
        ref = primal_objective(X, y, svc.coef_.ravel(), svc.intercept_[0], lam)
        assert path.objective[k] <= ref * (1 + 1e-9)
        assert path.objective[k] == pytest.approx(ref, rel=1e-6)
        assert path.duality_gap[k] <= 1e-9 * path.objective[k]
        # libsvm takes the midpoint of the optimal interval; we keep it as bias_midpoint.
        # (Here the bias is pinned; SVC's own w is 1e-5 off at the smallest λ.)
        assert svc.intercept_[0] == pytest.approx(path.bias_midpoint[k], abs=1e-5)


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
    from tilting.precompute.data import select_pair

    pair = select_pair(mnist, 2, 3)
    X, y = pair.X_train, pair.y_train
    grid = np.array([-6.0, -4.0, -2.0, 0.0, 2.0])
    path = svm_path(X, y, grid)
    W, B = path.weights, path.intercepts
    for k, log10_lambda in enumerate(grid):
        lam = 10.0**log10_lambda
        ours = path.objective[k]
        assert path.duality_gap[k] <= 1e-9 * ours, f"not certified at log10 λ = {log10_lambda}"
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
    lo, hi = path.bias_low[-1], path.bias_high[-1]
    assert hi - lo > 1.0
    assert path.bias_midpoint[-1] == pytest.approx(0.5 * (lo + hi))
    svc = SVC(kernel="linear", C=1 / (2 * 10.0**grid[-1] * len(y)), tol=1e-10).fit(X, y)
    assert svc.intercept_[0] == pytest.approx(path.bias_midpoint[-1], abs=1e-6)
    m = 0.5 * (X[y < 0].mean(axis=0) + X[y > 0].mean(axis=0))
    assert lo <= B[-1] <= hi
    assert B[-1] == pytest.approx(-W[-1] @ m, rel=1e-12)
    z = X[y > 0].mean(axis=0) - X[y < 0].mean(axis=0)
    assert W[-1] @ z / np.linalg.norm(W[-1]) / np.linalg.norm(z) == pytest.approx(1.0, abs=1e-12)
    objectives, at_mid = _objective_along_interval(X, y, W[-1], lo, hi, 10.0**grid[-1])
    np.testing.assert_allclose(objectives, at_mid, rtol=1e-12, atol=0)


def test_lambda_grid_default_has_81_values():
    grid = log10_lambda_grid()
    assert len(grid) == 81 and grid[0] == -6.0 and grid[-1] == 2.0
    assert np.allclose(np.diff(grid), 0.1)


@pytest.mark.parametrize(
    "args, message",
    [((0, -1, 0.1), "must go up"), ((-6, 2, 0), "step must be positive"), ((np.nan, 2, 0.1), "finite")],
)
def test_bad_grids(args, message):
    with pytest.raises(SolverError, match=message):
        log10_lambda_grid(*args)


def test_bad_inputs():
    X = np.zeros((4, 2))
    with pytest.raises(SolverError, match="both must occur"):
        svm_path(X, np.ones(4), [1.0])
    with pytest.raises(SolverError, match="finite number"):
        svm_path(X, np.array([-1.0, 1, -1, 1]), [np.nan])
    with pytest.raises(SolverError, match="positive finite"):
        svm_path(X, np.array([-1.0, 1, -1, 1]), [400.0])  # λ = 10^400 overflows
    with pytest.raises(SolverError, match="empty"):
        svm_path(X, np.array([-1.0, 1, -1, 1]), [])
    with pytest.raises(SolverError, match="tol"):
        svm_path(X, np.array([-1.0, 1, -1, 1]), [0.0], tol=0)
    with pytest.raises(SolverError, match="max_iter"):
        svm_path(X, np.array([-1.0, 1, -1, 1]), [0.0], max_iter=0)
    with pytest.raises(SolverError, match="2-D"):
        svm_path(np.zeros(4), np.array([-1.0, 1, -1, 1]), [0.0])


def _brute_force_qp(X, y, lam):
    """The exact optimum by enumerating every partition (free / at C / at 0) of a tiny dual.

    Independent of the solver: for each partition the KKT conditions are one linear
    system; the optimum is the feasible solution with the lowest primal objective.
    """
    import itertools

    n = len(y)
    C = 1 / (2 * lam * n)
    Q = (y[:, None] * y[None, :]) * (X @ X.T)
    best = np.inf
    for labels in itertools.product((0, 1, 2), repeat=n):  # 0: α = 0, 1: free, 2: α = C
        labels = np.array(labels)
        free, upper = labels == 1, labels == 2
        f = np.flatnonzero(free)
        alpha = np.where(upper, C, 0.0)
        if len(f):
            A = np.block([[Q[np.ix_(f, f)], y[f, None]], [y[None, f], np.zeros((1, 1))]])
            rhs = np.append(1 - Q[np.ix_(f, np.flatnonzero(upper))].sum(axis=1) * C, -C * y[upper].sum())
            solution = np.linalg.lstsq(A, rhs, rcond=None)[0]
            alpha[f] = solution[:-1]
        elif abs(y[upper].sum()) > 0:
            continue
        if (alpha < -1e-12).any() or (alpha > C * (1 + 1e-12)).any() or abs(y @ alpha) > 1e-9:
            continue
        w = (alpha * y) @ X
        b = optimal_intercept(X @ w, y)[0]
        best = min(best, primal_objective(X, y, w, b, lam))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_path_matches_an_exact_qp_by_enumeration(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(7, 3))
    y = np.array([-1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0])
    X[y > 0] += 0.7
    grid = np.array([-3.0, -1.5, -0.5, 0.0, 1.0])
    path = svm_path(X, y, grid)
    assert path.certified.all()
    for k, log10_lambda in enumerate(grid):
        exact = _brute_force_qp(X, y, 10.0**log10_lambda)
        assert path.objective[k] == pytest.approx(exact, rel=1e-9)


def test_an_uncertified_model_is_named_in_a_warning():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 10))
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=200) > 0, 1.0, -1.0)
    grid = np.array([-4.0, -2.0, 0.0])
    with pytest.warns(UncertifiedModelWarning, match=r"not certified \(log10 λ = -4") as caught:
        path = svm_path(X, y, grid, max_iter=1)
    assert not path.certified[0] and path.relative_gap[0] > 1e-9
    assert path.uncertified_message() == str(caught[0].message)
    # The same problem with the default budget is exact everywhere, and silent.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UncertifiedModelWarning)
        full = svm_path(X, y, grid)
    assert full.certified.all() and full.uncertified_message() is None


def test_each_model_is_the_same_with_or_without_the_path_warm_start():
    """Solving one λ alone (a cold start) and inside the fine grid give the same optimum."""
    rng = np.random.default_rng(6)
    X = rng.random((300, 20))
    y = np.where(X[:, :3].sum(axis=1) + 0.2 * rng.normal(size=300) > 1.5, 1.0, -1.0)
    path = svm_path(X, y, np.round(np.arange(-5.0, 1.01, 0.1), 10))
    for log10_lambda in (-5.0, -3.0, -1.0, 0.5):
        alone = svm_path(X, y, [log10_lambda])
        k = int(np.argmin(np.abs(path.log10_lambda - log10_lambda)))
        assert alone.objective[0] == pytest.approx(path.objective[k], rel=1e-9)
        np.testing.assert_allclose(alone.weights[0], path.weights[k], atol=1e-6 * np.abs(path.weights[k]).max())


def test_svm_path_result_is_named_and_in_grid_order():
    X = np.array([[-1.0], [1.0], [-2.0], [2.0]])
    y = np.array([-1.0, 1.0, -1.0, 1.0])
    grid = np.array([1.0, -2.0, 0.0])  # any order: solved strong to weak, returned as given
    path = svm_path(X, y, grid)
    assert path.n_models == 3 and list(path.log10_lambda) == [1.0, -2.0, 0.0]
    np.testing.assert_allclose(path.weights[:, 0], [svm_path(X, y, [g]).weights[0, 0] for g in grid], rtol=1e-9)
    np.testing.assert_allclose(path.C(), 1 / (2 * 10.0**grid * 4))
    assert path.dual_coef.shape == (3, 4) and path.n_iter.dtype.kind == "i"
