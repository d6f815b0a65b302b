"""Exact regularization path of the linear SVM with an unregularized bias.

For every λ of a grid we minimise

    L(w, b) = (1/n) Σ max(0, 1 − y_i (w·x_i + b)) + λ‖w‖²,

which is sklearn's ``SVC(kernel="linear", C=1/(2λn))``. We solve the SVC dual

    min_α ½ αᵀQα − Σα,  0 ≤ α ≤ C,  yᵀα = 0,  Q_ij = y_i y_j x_i·x_j,

going from strong to weak regularization. Each λ starts from the previous
solution (scaled by the ratio of the C values, which keeps it feasible):

1. a few primal-dual active-set steps: for a guessed partition of the points
   into free / at-C / at-0, the KKT conditions are one linear system; when the
   partition changed little since the previous λ this is exact at once;
2. otherwise SMO with second-order working-set selection (Fan, Chen & Lin,
   JMLR 2005) and shrinking, on a precomputed Gram matrix, to a loose
   tolerance, then the same exact active-set polish, tightening until the
   duality gap certifies the result.

Each model carries its duality gap: the primal objective at (w(α), b*) minus
the dual objective at α.

Where the optimal bias is not unique (large λ: every point inside the margin)
b* is the optimal bias closest to −w·m, m the midpoint of the two class means,
and libsvm's choice, the interval's midpoint, is returned beside it
(``optimal_intercept``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from precompute.errors import TiltingError


class SolverError(TiltingError):
    """The solver was given something it cannot solve."""


@njit(cache=True, nogil=True)
def _smo(K, y, alpha, G, C, eps, max_iter, active):  # pragma: no cover - compiled
    """SMO on 0 ≤ α ≤ C, yᵀα = 0, over the indices in ``active`` only.

    ``alpha`` and ``G = Qα − 1`` are updated in place (G only on ``active``).
    Stops when the maximal KKT violation over ``active`` is below ``eps``.
    Returns the number of iterations and that violation.
    """
    tau = 1e-12
    it = 0
    gap = np.inf
    while it < max_iter:
        # i: the most violating index of I_up (largest −y G).
        gmax = -np.inf
        i = -1
        for t in active:
            if (y[t] > 0 and alpha[t] < C) or (y[t] < 0 and alpha[t] > 0):
                v = -y[t] * G[t]
                if v >= gmax:
                    gmax = v
                    i = t
        # j: from I_low, the one that decreases the objective most (2nd order).
        gmax2 = -np.inf
        j = -1
        best = np.inf
        for t in active:
            if (y[t] > 0 and alpha[t] > 0) or (y[t] < 0 and alpha[t] < C):
                v = y[t] * G[t]
                if v >= gmax2:
                    gmax2 = v
                if i >= 0:
                    diff = gmax + v
                    if diff > 0:
                        a = K[i, i] + K[t, t] - 2.0 * K[i, t]
                        if a <= 0:
                            a = tau
                        score = -(diff * diff) / a
                        if score <= best:
                            best = score
                            j = t
        gap = gmax + gmax2
        if gap < eps or i < 0 or j < 0:
            break
        it += 1

        # Two-variable subproblem, clipped to the box (as in LIBSVM).
        a = K[i, i] + K[j, j] - 2.0 * K[i, j]
        if a <= 0:
            a = tau
        old_i = alpha[i]
        old_j = alpha[j]
        if y[i] != y[j]:
            delta = (-G[i] - G[j]) / a
            diff = alpha[i] - alpha[j]
            alpha[i] += delta
            alpha[j] += delta
            if diff > 0:
                if alpha[j] < 0:
                    alpha[j] = 0.0
                    alpha[i] = diff
                if alpha[i] > C:
                    alpha[i] = C
                    alpha[j] = C - diff
            else:
                if alpha[i] < 0:
                    alpha[i] = 0.0
                    alpha[j] = -diff
                if alpha[j] > C:
                    alpha[j] = C
                    alpha[i] = C + diff
        else:
            delta = (G[i] - G[j]) / a
            total = alpha[i] + alpha[j]
            alpha[i] -= delta
            alpha[j] += delta
            if total > C:
                if alpha[i] > C:
                    alpha[i] = C
                    alpha[j] = total - C
                if alpha[j] > C:
                    alpha[j] = C
                    alpha[i] = total - C
            else:
                if alpha[j] < 0:
                    alpha[j] = 0.0
                    alpha[i] = total
                if alpha[i] < 0:
                    alpha[i] = 0.0
                    alpha[j] = total

        # G_t += Q_ti Δα_i + Q_tj Δα_j, with Q_ts = y_t y_s K_ts (K symmetric:
        # reading rows i and j keeps memory access contiguous).
        di = y[i] * (alpha[i] - old_i)
        dj = y[j] * (alpha[j] - old_j)
        for t in active:
            G[t] += y[t] * (K[i, t] * di + K[j, t] * dj)
    return it, gap


def optimal_intercept(scores, y, target=None):
    """The bias minimising the mean hinge loss for fixed scores ``s = w·x``.

    The loss is convex and piecewise linear in b, with a breakpoint at
    b = y_i − s_i for each point (a J point's hinge is active for
    b < 1 − s_i, an I point's for b > −1 − s_i). Its minimisers form an
    interval [lo, hi]: lo is the breakpoint where the slope
    #{I active} − #{J active} stops being negative, hi the one where it
    becomes positive. It is a single point when free support vectors pin b.

    **Rule:** b is the point of [lo, hi] closest to ``target``, i.e.
    clip(target, lo, hi); without a target, the midpoint (lo + hi)/2, which
    is what libsvm (sklearn's ``SVC``) returns when no point pins b.
    ``svm_path`` passes target = −w·m, m the midpoint of the two class means,
    so that where b is free the boundary passes as close to m as the optimum
    allows (at the strongest regularization, the nearest-centroid classifier).
    Every b in [lo, hi] has the same objective.

    Where the interval is wide (large λ, balanced classes) every point is
    inside the margin for every optimal b, so lo = −1 − min_I s and
    hi = 1 − max_J s: the interval's ends are set by the most extreme point
    of each class, and the midpoint −(min_I s + max_J s)/2 puts the boundary
    halfway (in score) between the lowest-scoring I point and the
    highest-scoring J point.

    Parameters
    ----------
    scores : array-like of shape (n,)
        w·x_i, without the bias.
    y : array-like of shape (n,)
        Labels in {−1, +1}.
    target : float, optional
        The preferred bias (see the rule).

    Returns
    -------
    b : float
        The chosen optimal bias.
    interval : (float, float)
        The optimal interval (lo, hi); its midpoint is libsvm's choice.
    """
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    # Term i is active (non-zero) for b < 1 - s_i (y=+1) or b > -1 - s_i (y=-1);
    # the slope is #{I active} - #{J active}. Breakpoints b = y_i - s_i.
    breaks = y - scores
    order = np.argsort(breaks, kind="stable")
    bk = breaks[order]
    yk = y[order]
    n_j = np.count_nonzero(y > 0)
    # Slope just right of breakpoint k: I points with break <= b are active,
    # J points with break <= b are no longer active.
    passed_i = np.cumsum(yk < 0)
    passed_j = np.cumsum(yk > 0)
    slope_after = passed_i - (n_j - passed_j)
    # First breakpoint after which the slope is >= 0 starts the argmin set.
    k_lo = int(np.argmax(slope_after >= 0))
    lo = float(bk[k_lo])
    if slope_after[k_lo] > 0:
        return lo, (lo, lo)
    k_hi = int(np.argmax(slope_after > 0)) if (slope_after > 0).any() else len(bk) - 1
    hi = float(bk[k_hi])
    if target is None or not np.isfinite(target):
        return float(0.5 * (lo + hi)), (lo, hi)
    return float(min(max(float(target), lo), hi)), (lo, hi)


def primal_objective(X, y, w, b, lam):
    """Mean hinge loss + λ‖w‖²."""
    margins = y * (X @ w + b)
    return float(np.maximum(0.0, 1.0 - margins).mean() + lam * (w @ w))


def lambda_grid(start=-6.0, stop=2.0, step=0.1):
    """λ = 10^α for α = start, start + step, …, stop (inclusive)."""
    if not (np.isfinite(start) and np.isfinite(stop) and np.isfinite(step)):
        raise SolverError("The λ grid needs finite numbers.")
    if step <= 0:
        raise SolverError(f"The λ grid step must be positive, got {step}.")
    if stop < start:
        raise SolverError(f"The λ grid must go up: start {start} is above stop {stop}.")
    count = int(np.floor((stop - start) / step + 1e-9)) + 1
    if count > 10_000:
        raise SolverError(f"The λ grid has {count} values; at most 10,000 are allowed.")
    return np.round(start + step * np.arange(count), 10)


def _kkt_violation(G, alpha, y, C):
    """Maximal KKT violation m − M of the dual, and the bias estimate (m + M)/2."""
    up = ((y > 0) & (alpha < C)) | ((y < 0) & (alpha > 0))
    low = ((y > 0) & (alpha > 0)) | ((y < 0) & (alpha < C))
    m = np.max(-y[up] * G[up]) if up.any() else -np.inf
    M = np.min(-y[low] * G[low]) if low.any() else np.inf
    if not (np.isfinite(m) and np.isfinite(M)):
        return 0.0, 0.0
    return m - M, 0.5 * (m + M)


def _smo_shrinking(X, K, y, alpha, C, tol, max_iter):
    """SMO to a violation < tol, on a shrunk active set, checked on all points.

    Points at a bound whose margin lies well on the right side of the current
    bias estimate are left out of the inner loop (LIBSVM's shrinking idea);
    after each inner solve the full gradient is recomputed (through X, which
    is far smaller than K), and the loop repeats until every point satisfies
    the KKT conditions.
    ``alpha`` is updated in place. Returns (iterations, violation).
    """
    n_iter = 0
    while True:
        G = y * (X @ (X.T @ (alpha * y))) - 1.0
        violation, b_hat = _kkt_violation(G, alpha, y, C)
        if violation < tol or n_iter >= max_iter:
            return n_iter, max(violation, 0.0)
        slack = G + y * b_hat
        margin = max(violation, 10.0 * tol)
        shrunk = ((alpha <= 0) & (slack > margin)) | ((alpha >= C) & (slack < -margin))
        active = np.flatnonzero(~shrunk)
        it, _ = _smo(K, y, alpha, G, C, tol, max_iter - n_iter, active)
        n_iter += it


def _partition(alpha, C):
    """Free and upper-bound indices of a dual point (lower bound: the rest)."""
    eps = 1e-10 * C
    free = (alpha > eps) & (alpha < C - eps)
    return free, alpha >= C - eps


def _active_set(X, K, y, free, upper, C, rounds):
    """Primal-dual active-set iterations from a guessed partition.

    For a partition (free F, upper U, lower L) the KKT conditions are linear:
    free points lie on the margin, Σ_j Q_ij α_j + y_i b = 1 (i ∈ F), with
    α_U = C, α_L = 0 and yᵀα = 0. We solve that (|F|+1)-square system, move
    free points that left [0, C] to their bound and bound points on the
    wrong side of the margin to F, and repeat. A partition that needs no
    move gives the exact optimum. Returns α, or None after ``rounds``.
    """
    free = free.copy()
    upper = upper.copy()
    for _ in range(rounds):
        f_idx = np.flatnonzero(free)
        u_idx = np.flatnonzero(upper)
        alpha = np.zeros(len(y))
        alpha[u_idx] = C
        if len(f_idx) == 0:
            return None  # b is not pinned by any free point: leave it to SMO
        yf = y[f_idx]
        A = np.zeros((len(f_idx) + 1, len(f_idx) + 1))
        A[:-1, :-1] = np.outer(yf, yf) * K[np.ix_(f_idx, f_idx)]
        A[:-1, -1] = yf
        A[-1, :-1] = yf
        rhs = np.empty(len(f_idx) + 1)
        rhs[:-1] = 1.0 - C * yf * (X[f_idx] @ (X[u_idx].T @ y[u_idx]))
        rhs[-1] = -C * y[u_idx].sum()
        try:
            solution = np.linalg.solve(A, rhs)
        except np.linalg.LinAlgError:
            # Rank-deficient data (e.g. always-black pixels): any exact solution will do.
            solution = np.linalg.lstsq(A, rhs, rcond=None)[0]
        alpha[f_idx] = solution[:-1]
        slack = y * (X @ (X.T @ (alpha * y)) + solution[-1]) - 1.0
        lower = ~free & ~upper
        to_lower = free & (alpha < -1e-9 * C)
        to_upper = free & (alpha > C * (1 + 1e-9))
        to_free = (lower & (slack < -1e-9)) | (upper & (slack > 1e-9))
        if not (to_lower.any() or to_upper.any() or to_free.any()):
            return np.clip(alpha, 0.0, C)
        free = (free & ~to_lower & ~to_upper) | to_free
        upper = (upper & ~to_free) | to_upper
    return None


def _certificate(X, y, alpha, lam, centre):
    """Primal objective at (w(α), b*), dual objective at α, b* and its interval.

    b* is the optimal bias closest to −w·centre (``optimal_intercept``'s rule).
    """
    w = X.T @ (alpha * y)
    scores = X @ w
    b, interval = optimal_intercept(scores, y, target=-float(w @ centre))
    w_sq = float(w @ w)
    primal = float(np.maximum(0.0, 1.0 - y * (scores + b)).mean() + lam * w_sq)
    dual = 2.0 * lam * (float(alpha.sum()) - 0.5 * w_sq)
    return primal, dual, b, interval


def svm_path(X, y, lambdas, *, tol=1e-9, max_iter=10_000_000, gram=None, callback=None):
    """Compute the exact linear-SVM solution for every λ of a grid.

    Each λ is solved by SMO to a loose tolerance, then "polished": the
    free/bound partition SMO found is solved exactly as a linear system.
    If the polished point certifies (relative duality gap ≤ ``tol``) it is
    kept; otherwise SMO tightens its tolerance tenfold and tries again.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training data.
    y : ndarray of shape (n_samples,)
        Labels in {-1, +1}; both must occur.
    lambdas : array-like of shape (n_lambdas,)
        Positive regularization strengths, in any order.
    tol : float, default=1e-9
        Target relative duality gap, (primal − dual) / primal.
    max_iter : int, default=10_000_000
        SMO iterations allowed per λ.
    gram : ndarray of shape (n_samples, n_samples), optional
        A precomputed ``X @ X.T`` to reuse.
    callback : callable, optional
        Called as ``callback(k, lam)`` after the model of ``lambdas[k]``.

    Returns
    -------
    coefs : ndarray of shape (n_lambdas, n_features)
    intercepts : ndarray of shape (n_lambdas,)
        The optimal bias closest to −w·m, m = midpoint of the two class means
        of X (see ``optimal_intercept``); the bias is unique except at large λ.
    dual_gaps : ndarray of shape (n_lambdas,)
        Primal minus dual objective, in the units of L; ≥ 0 up to rounding.
    info : dict of ndarrays
        ``objective``, ``dual_objective``, ``bias_low``, ``bias_high``,
        ``bias_midpoint`` ((bias_low + bias_high)/2, libsvm's choice),
        ``n_iter`` (SMO iterations), ``polished`` (bool), ``dual_coef``
        (α, shape (n_lambdas, n_samples)).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    lambdas = np.asarray(lambdas, dtype=np.float64)
    n, d = X.shape
    if y.shape != (n,):
        raise SolverError(f"y has shape {y.shape}, expected ({n},).")
    if not np.isin(y, (-1.0, 1.0)).all() or len(np.unique(y)) != 2:
        raise SolverError("Labels must be -1 and +1, and both must occur.")
    if lambdas.ndim != 1 or len(lambdas) == 0:
        raise SolverError("The λ grid is empty.")
    if not (np.isfinite(lambdas).all() and (lambdas > 0).all()):
        raise SolverError("Every λ must be a positive finite number.")
    if not np.isfinite(X).all():
        raise SolverError("The data contains NaN or infinite values.")

    K = X @ X.T if gram is None else gram
    centre = 0.5 * (X[y < 0].mean(axis=0) + X[y > 0].mean(axis=0))
    k_count = len(lambdas)
    coefs = np.empty((k_count, d))
    intercepts = np.empty(k_count)
    gaps = np.empty(k_count)
    info = {key: np.empty(k_count) for key in ("objective", "dual_objective", "bias_low", "bias_high", "bias_midpoint")}
    info["n_iter"] = np.zeros(k_count, dtype=np.int64)
    info["polished"] = np.zeros(k_count, dtype=bool)
    info["dual_coef"] = np.empty((k_count, n))

    alpha = np.zeros(n)
    C_prev = None
    for k in np.argsort(-lambdas, kind="stable"):  # strong → weak regularization
        lam = lambdas[k]
        C = 1.0 / (2.0 * lam * n)
        if C_prev is not None:
            alpha *= C / C_prev  # stays feasible: a warm start
        C_prev = C

        # First try the previous partition: exact in a few linear solves when
        # the active set changed little. Otherwise SMO, polished the same way.
        exact = _active_set(X, K, y, *_partition(alpha, C), C, rounds=12)
        smo_tol = 1e-2
        while True:
            if exact is not None:
                candidate = _certificate(X, y, exact, lam, centre)
                if candidate[0] - candidate[1] <= tol * abs(candidate[0]):
                    alpha = exact
                    primal, dual, b, interval = candidate
                    info["polished"][k] = True
                    break
            it, violation = _smo_shrinking(X, K, y, alpha, C, smo_tol, max_iter - info["n_iter"][k])
            info["n_iter"][k] += it
            primal, dual, b, interval = _certificate(X, y, alpha, lam, centre)
            if primal - dual <= tol * abs(primal):
                break
            if smo_tol < 1e-12 or info["n_iter"][k] >= max_iter:
                break  # the gap recorded below says how far from exact we stopped
            exact = _active_set(X, K, y, *_partition(alpha, C), C, rounds=2)
            smo_tol /= 10.0

        coefs[k] = X.T @ (alpha * y)
        intercepts[k] = b
        gaps[k] = primal - dual
        info["objective"][k] = primal
        info["dual_objective"][k] = dual
        info["bias_low"][k], info["bias_high"][k] = interval
        info["bias_midpoint"][k] = 0.5 * (interval[0] + interval[1])
        info["dual_coef"][k] = alpha
        if callback is not None:
            callback(k, lam)
    return coefs, intercepts, gaps, info
