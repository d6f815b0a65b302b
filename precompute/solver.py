"""Exact regularization path of the linear SVM with an unregularized bias.

For every λ of a grid we minimise

    L(w, b) = (1/n) Σ max(0, 1 − y_i (w·x_i + b)) + λ‖w‖²,

which is sklearn's ``SVC(kernel="linear", C=1/(2λn))``. We solve the SVC dual

    min_α ½ αᵀQα − Σα,  0 ≤ α ≤ C,  yᵀα = 0,  Q_ij = y_i y_j x_i·x_j,

going from strong to weak regularization, and never form the n × n Gram
matrix: a linear SVM has few margin points (0 < α < C; at most d + 1
generically, a few hundred on MNIST), and every step below costs O(nd)
passes over X plus dense algebra on those few points.

Each λ starts from the previous solution (scaled by the ratio of the C
values, which keeps it feasible); models more than 0.1 decade apart get
warm-up models in between, and the first starts from λ large enough that
every point is inside the margin (``_cold_start``):

1. primal-dual active-set steps: for a guessed partition of the points into
   free / at-C / at-0, the KKT conditions are one linear system in the free
   points' α and b; its matrix needs the Gram block of the free points only,
   taken from a cache that grows as points become free. When the partition
   changed little since the previous λ this is exact in a few steps;
2. where those steps oscillate and many points are free (weak
   regularization), the exact homotopy in C from the previous model: the
   solution is affine in C while the partition holds, so it is followed from
   one partition change to the next (``_homotopy``);
3. otherwise SMO with second-order working-set selection (Fan, Chen & Lin,
   JMLR 2005) on a working set of the most violating points (a
   decomposition method: the Gram block of the working set only, the whole
   gradient refreshed by two passes over X between working sets), to a loose
   tolerance, then the same exact active-set polish, tightening until the
   duality gap certifies the result.

Each model carries its duality gap: the primal objective at (w(α), b*) minus
the dual objective at α, both in float64. A model whose relative gap is above
the target is reported (``UncertifiedModelWarning``, ``SVMPath.certified``).

The dense algebra runs with one BLAS thread: on matrices of a few hundred
rows, threads cost more than they gain, and much more on a loaded machine.

Where the optimal bias is not unique (large λ: every point inside the margin)
b* is the optimal bias closest to −w·m, m the midpoint of the two class means,
and libsvm's choice, the interval's midpoint, is returned beside it
(``optimal_intercept``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.linalg import cho_factor, cho_solve
from threadpoolctl import threadpool_limits

from tilting.precompute.errors import TiltingError

# Active-set steps tried from the previous λ's partition before the fallbacks, and after
# each SMO stage. (On MNIST 2 vs 3's default grid: 4-11 steps where they converge; where
# they oscillate, they stop as soon as the number of moves stops falling.)
ACTIVE_SET_STEPS = 12
POLISH_STEPS = 4
# The path-following fallback: at most this many partition changes per model.
HOMOTOPY_EVENTS = 2000
# ... and only from at least this many free points: with few free points and many at C
# (moderate λ), hundreds of points cross the margin between grid points, one event each,
# and SMO is quicker (measured on MNIST 2 vs 3: the path 3.6 s → 2.5 s).
HOMOTOPY_MIN_FREE = 100
# Largest step in log10 λ between models solved in a row: wider grids get warm-up models.
CONTINUATION_STEP = 0.1
# SMO working sets: at least this many points, and at most this many Gram rows cached.
MIN_WORKING_SET = 256
MAX_CACHED_ROWS = 2500


class SolverError(TiltingError):
    """The solver was given something it cannot solve."""


class UncertifiedModelWarning(UserWarning):
    """A model of the path stopped above the target duality gap (like sklearn's ConvergenceWarning)."""


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


def log10_lambda_grid(start=-6.0, stop=2.0, step=0.1):
    """The exponents log10 λ = start, start + step, …, stop (inclusive), rounded to 10 decimals."""
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


@dataclass(frozen=True)
class SVMPath:
    """The solution of ``svm_path`` along its grid (arrays indexed like ``log10_lambda``).

    Attributes
    ----------
    log10_lambda : ndarray of shape (n_models,)
        The grid, as given.
    weights : ndarray of shape (n_models, n_features)
        w of each model.
    intercepts : ndarray of shape (n_models,)
        The optimal bias closest to −w·m (``optimal_intercept``'s rule).
    bias_low, bias_high, bias_midpoint : ndarray of shape (n_models,)
        The interval of optimal biases and its midpoint (libsvm's choice).
    objective, dual_objective, duality_gap, relative_gap : ndarray of shape (n_models,)
        Primal objective L(w, b), dual objective at α, their difference (≥ 0 up
        to rounding, in the units of L) and the difference over the primal.
    certified : ndarray of bool, shape (n_models,)
        relative_gap ≤ tol.
    n_iter : ndarray of int, shape (n_models,)
        SMO iterations (0 where the active-set steps alone were exact).
    n_active_set_steps : ndarray of int, shape (n_models,)
        Linear solves of the active-set method.
    polished : ndarray of bool, shape (n_models,)
        True where the certified α came from an exact active-set solve.
    dual_coef : ndarray of shape (n_models, n_samples)
        α of each model (0 ≤ α ≤ C, C = 1/(2λn)).
    tol : float
        The target relative duality gap.
    """

    log10_lambda: np.ndarray
    weights: np.ndarray
    intercepts: np.ndarray
    bias_low: np.ndarray
    bias_high: np.ndarray
    bias_midpoint: np.ndarray
    objective: np.ndarray
    dual_objective: np.ndarray
    duality_gap: np.ndarray
    relative_gap: np.ndarray
    certified: np.ndarray
    n_iter: np.ndarray
    n_active_set_steps: np.ndarray
    polished: np.ndarray
    dual_coef: np.ndarray
    tol: float

    @property
    def n_models(self) -> int:
        return len(self.log10_lambda)

    @property
    def lambda_(self) -> np.ndarray:
        """λ = 10^log10_lambda."""
        return 10.0**self.log10_lambda

    def C(self, n_samples: int | None = None) -> np.ndarray:
        """SVC's C = 1/(2λn) of each model."""
        n = self.dual_coef.shape[1] if n_samples is None else n_samples
        return 1.0 / (2.0 * self.lambda_ * n)

    def uncertified_message(self) -> str | None:
        """One sentence naming the models above the target gap, or None when all are certified."""
        late = np.flatnonzero(~self.certified)
        if len(late) == 0:
            return None
        worst = late[np.argmax(np.where(np.isfinite(self.relative_gap[late]), self.relative_gap[late], np.inf))]
        which = ", ".join(f"{self.log10_lambda[k]:g}" for k in late[:8]) + (", …" if len(late) > 8 else "")
        return (
            f"{len(late)} model(s) are not certified (log10 λ = {which}): the worst, at log10 λ = "
            f"{self.log10_lambda[worst]:g}, stopped at relative duality gap {self.relative_gap[worst]:.2g}, "
            f"above the target {self.tol:g}."
        )


class _GramCache:
    """Rows and columns of X Xᵀ for the points met so far, grown on demand.

    Free sets and working sets change a little from λ to λ; a point's Gram
    entries with the other cached points are computed once. When more than
    ``capacity`` points would be cached, the cache restarts from the points asked for.
    """

    def __init__(self, X, capacity):
        self.X = X
        self.capacity = capacity
        self.slot = np.full(len(X), -1, dtype=np.int64)  # row of each point in ``store``
        self.points = np.empty(0, dtype=np.int64)
        self.store = np.empty((0, 0))
        self.rows = np.empty((0, X.shape[1]))

    def block(self, idx):
        """K[idx][:, idx], a new array."""
        missing = idx[self.slot[idx] < 0]
        if len(missing):
            if len(self.points) + len(missing) > self.capacity:
                self.slot[self.points] = -1
                self.points = np.empty(0, dtype=np.int64)
                missing = idx
            self._add(missing)
        where = self.slot[idx]
        return self.store[np.ix_(where, where)]

    def _add(self, new):
        m, k = len(self.points), len(new)
        if m + k > len(self.store):
            size = min(max(2 * (m + k), 256), max(self.capacity, m + k))
            grown = np.empty((size, size))
            grown[:m, :m] = self.store[:m, :m]
            self.store = grown
            rows = np.empty((size, self.X.shape[1]))
            rows[:m] = self.rows[:m]
            self.rows = rows
        # The cached points' images are kept contiguous: no gather of X[points] per call.
        self.rows[m : m + k] = self.X[new]
        block = self.rows[m : m + k] @ self.rows[: m + k].T  # (k, m + k)
        self.store[m : m + k, : m + k] = block
        self.store[: m + k, m : m + k] = block.T
        self.slot[new] = np.arange(m, m + k)
        self.points = np.concatenate([self.points, new])


@dataclass
class _Problem:
    X: np.ndarray
    y: np.ndarray
    centre: np.ndarray  # midpoint of the class means: the bias rule's target is −w·centre
    cache: _GramCache

    def weights(self, alpha):
        return (alpha * self.y) @ self.X

    def scores(self, w):
        return self.X @ w


def _partition(alpha, C):
    """Free and upper-bound masks of a dual point (lower bound: the rest)."""
    eps = 1e-10 * C
    free = (alpha > eps) & (alpha < C - eps)
    return free, alpha >= C - eps


def _solve_bordered(Q, yf, r, s, rank_limit):
    """Solve [[Q, y], [yᵀ, 0]] [a; b] = [r; s] for the free points' α (a) and the bias b.

    Q = Y K_FF Y is positive definite when the free points' images are linearly
    independent (generic, and the case on MNIST: far fewer free points than
    pixels): then a = Q⁻¹(r − b y) with b from yᵀa = s, by one Cholesky
    factorisation, half the work of an LU of the bordered matrix.
    Returns (a, b), or (None, None) when Q is singular and larger than ``rank_limit``.
    """
    try:
        factor = cho_factor(Q, lower=True, check_finite=False)
        along_y = cho_solve(factor, yf, check_finite=False)

        def solve(r, s):
            u = cho_solve(factor, r, check_finite=False)
            b = (yf @ u - s) / (yf @ along_y)
            return u - b * along_y, b

        a, b = solve(r, s)
        # One step of iterative refinement: Q can be ill-conditioned (nearly dependent
        # images), and the path's later models inherit these digits.
        da, db = solve(r - Q @ a - b * yf, s - yf @ a)
        a, b = a + da, b + db
        if np.isfinite(b) and np.isfinite(a).all():
            return a, b
    except np.linalg.LinAlgError:
        pass
    m = len(yf)
    if m > rank_limit:
        return None, None  # more free points than features + 1: not the partition of an optimum
    # Rank-deficient free set (e.g. duplicated images): the bordered system by
    # least squares; any exact solution will do.
    A = np.zeros((m + 1, m + 1))
    A[:m, :m] = Q
    A[:m, m] = yf
    A[m, :m] = yf
    solution = np.linalg.lstsq(A, np.append(r, s), rcond=None)[0]
    return solution[:m], solution[m]


def _cold_start(prob, C):
    """A feasible α for the most regularized model, close to its optimum.

    With λ large every point lies inside the margin, so every point of the
    smaller class is at C and, of the larger class, as many as the smaller
    class has (yᵀα = 0), those scoring lowest along the centroid direction.
    With balanced classes that is α = C everywhere, the optimum itself.
    """
    y = prob.y
    minority = -1.0 if np.count_nonzero(y < 0) <= np.count_nonzero(y > 0) else 1.0
    majority = np.flatnonzero(y != minority)
    n_minority = len(y) - len(majority)
    centroid_direction = prob.X[y > 0].mean(axis=0) - prob.X[y < 0].mean(axis=0)
    margin = y[majority] * prob.scores(centroid_direction)[majority]
    alpha = np.where(y == minority, C, 0.0)
    alpha[majority[np.argsort(margin, kind="stable")[:n_minority]]] = C
    return alpha


def _free_set_solution(prob, f_idx, u_idx, C):
    """The free points' α and the bias that put every free point on the margin.

    With α_U = C, α_L = 0 fixed, the conditions Σ_j Q_ij α_j + y_i b = 1 (i ∈ F)
    and yᵀα = 0 are one (|F|+1)-square linear system.

    Returns (a, b, w): a None when the system cannot be solved (see
    ``_solve_bordered``); w = Σ_F a_i y_i x_i + C Σ_U y_i x_i, the candidate's weights.
    """
    X, y = prob.X, prob.y
    w_upper = _upper_weights(prob, u_idx, C)
    if len(f_idx) > X.shape[1] + 1 and len(f_idx) > prob.cache.capacity:
        return None, None, w_upper  # far more free points than an optimum has
    yf = y[f_idx]
    Q = prob.cache.block(f_idx)
    Q *= yf[:, None]
    Q *= yf[None, :]
    X_free = X[f_idx]
    a, b = _solve_bordered(Q, yf, 1.0 - yf * (X_free @ w_upper), -C * y[u_idx].sum(), X.shape[1] + 1)
    if a is not None:
        w_upper = w_upper + (a * yf) @ X_free  # now w of the whole candidate
    return a, b, w_upper


def _upper_weights(prob, u_idx, C):
    """C Σ_U y_i x_i: through the rows of U when they are few, else one pass over X."""
    y = prob.y
    if 8 * len(u_idx) < len(y):
        return C * (y[u_idx] @ prob.X[u_idx])
    coef = np.zeros(len(y))
    coef[u_idx] = C
    return prob.weights(coef)


def _active_set(prob, alpha, C, steps):
    """Primal-dual active-set steps from the partition of ``alpha``.

    For a partition (free F, upper U, lower L) the KKT conditions are linear
    (``_free_set_solution``). We solve them, move free points that left
    [0, C] to their bound and bound points on the wrong side of the margin to
    F, and repeat. A partition that needs no move gives the exact optimum.
    Fast (all changes at once) but not monotone: it can oscillate, so it is
    given a few steps only.

    Returns (α, steps used); α is None when ``steps`` were not enough.
    """
    X, y = prob.X, prob.y
    n = len(y)
    free, upper = _partition(alpha, C)
    last_moves = n
    for step in range(1, steps + 1):
        f_idx = np.flatnonzero(free)
        u_idx = np.flatnonzero(upper)
        candidate = np.zeros(n)
        candidate[u_idx] = C
        if len(f_idx) == 0:
            if y[u_idx].sum() != 0:
                return None, step  # yᵀα ≠ 0: this partition has no feasible point
            scores = prob.scores(prob.weights(candidate))
            b = optimal_intercept(scores, y)[0]
        else:
            a, b, w = _free_set_solution(prob, f_idx, u_idx, C)
            if a is None:
                return None, step
            candidate[f_idx] = a
            scores = prob.scores(w)
        slack = y * (scores + b) - 1.0
        lower = ~free & ~upper
        to_lower = free & (candidate < -1e-9 * C)
        to_upper = free & (candidate > C * (1 + 1e-9))
        to_free = (lower & (slack < -1e-9)) | (upper & (slack > 1e-9))
        moves = int(np.count_nonzero(to_lower | to_upper | to_free))
        if moves == 0:
            return np.clip(candidate, 0.0, C), step
        if step >= 3 and moves >= last_moves:
            return None, step  # not settling: oscillating, leave it to the safe methods
        last_moves = moves
        free = (free & ~to_lower & ~to_upper) | to_free
        upper = (upper & ~to_free) | to_upper
    return None, steps


def _homotopy(prob, alpha, C_from, C, events):
    """Follow the exact solution from C_from (where ``alpha`` is optimal) to C.

    For a fixed partition the KKT system's right-hand side is affine in C, so
    α_F(C) = a₀ + C a₁ and b(C) = b₀ + C b₁ (one factorisation, two
    solves), and every point's margin slack is affine in C too. The next
    event is the first C where a free α reaches 0 or C, or a bound point's
    slack reaches 0; that point changes set and the walk goes on. Events are
    partition changes, so from a nearby grid point they are few; each is one
    Cholesky factorisation and two passes over X. Unlike ``_active_set`` it
    cannot oscillate; it needs the previous model to be exact.

    Returns (α at C, events used); α is None when ``events`` were not enough.
    """
    X, y = prob.X, prob.y
    n = len(y)
    free, upper = _partition(alpha, C_from)
    current = C_from
    u = None  # Σ_U y_i x_i, kept up to date as points enter and leave U
    for event in range(1, events + 1):
        f_idx = np.flatnonzero(free)
        u_idx = np.flatnonzero(upper)
        if len(f_idx) == 0 or len(f_idx) > X.shape[1] + 1:
            return None, event
        yf = y[f_idx]
        Q = prob.cache.block(f_idx)
        Q *= yf[:, None]
        Q *= yf[None, :]
        if u is None:
            u = y[u_idx] @ X[u_idx] if 8 * len(u_idx) < n else prob.weights(upper * 1.0)
        # Constant and C-proportional parts of the right-hand side.
        X_free = X[f_idx]  # gathered once per event
        a0, b0 = _solve_bordered(Q, yf, np.ones(len(f_idx)), 0.0, X.shape[1] + 1)
        a1, b1 = _solve_bordered(Q, yf, -yf * (X_free @ u), -float(y[u_idx].sum()), X.shape[1] + 1)
        if a0 is None or a1 is None:
            return None, event
        w_parts = X_free.T @ np.column_stack([a0 * yf, a1 * yf])
        w_parts[:, 1] += u
        s0, s1 = (X @ w_parts).T  # both score vectors in one pass over X
        slack0, slack1 = y * (s0 + b0) - 1.0, y * (s1 + b1)  # slack(C) = slack0 + C·slack1
        with np.errstate(divide="ignore", invalid="ignore"):
            to_zero = np.where(a1 < 0, -a0 / a1, np.inf)  # α_i(C) = 0
            to_cap = np.where(a1 > 1, a0 / (1.0 - a1), np.inf)  # α_i(C) = C (α − C rising to 0)
            crossing = -slack0 / slack1  # slack_i(C) = 0
        lower = ~free & ~upper
        leaving_lower = lower & (slack1 < 0)  # slack falling towards 0
        leaving_upper = upper & (slack1 > 0)  # slack rising towards 0
        floor = current * (1 + 1e-12)
        # An event already passed (by rounding) happens now, or it would be missed.
        now_free = a0 + current * a1
        to_zero = np.where(to_zero > floor, to_zero, np.where((a1 < 0) & (now_free <= 0), current, np.inf))
        to_cap = np.where(to_cap > floor, to_cap, np.where((a1 > 1) & (now_free >= current), current, np.inf))
        hits = np.full(n, np.inf)
        hits[f_idx] = np.minimum(to_zero, to_cap)
        moving = leaving_lower | leaving_upper
        passed = (slack0 + current * slack1) * np.where(leaving_lower, 1.0, -1.0) <= 0
        hits[moving] = np.where(crossing[moving] > floor, crossing[moving],
                                np.where(passed[moving], current, np.inf))
        nxt = float(hits.min())
        if nxt >= C:
            result = np.zeros(n)
            result[u_idx] = C
            result[f_idx] = np.clip(a0 + C * a1, 0.0, C)
            return result, event
        changing = hits <= max(nxt, floor)
        at_event = a0 + nxt * a1  # free α at the event: the one that changes is at 0 or at C
        becomes_lower = np.zeros(n, dtype=bool)
        becomes_lower[f_idx] = changing[f_idx] & (np.abs(at_event) <= np.abs(at_event - nxt))
        becomes_upper = changing & free & ~becomes_lower
        free = (free & ~changing) | (changing & ~free)
        leaving = np.flatnonzero(upper & changing)
        upper = (upper & ~changing) | becomes_upper
        u += y[becomes_upper] @ X[becomes_upper] - y[leaving] @ X[leaving]
        free &= ~becomes_lower & ~becomes_upper
        current = nxt
    return None, events


def _working_set(G, alpha, y, C, size):
    """The ``size``/2 most violating points of each side of the KKT conditions (SMO's I_up and I_low)."""
    up = ((y > 0) & (alpha < C)) | ((y < 0) & (alpha > 0))
    low = ((y > 0) & (alpha > 0)) | ((y < 0) & (alpha < C))
    half = min(size // 2, len(y))
    chosen = []
    for mask, value in ((up, -y * G), (low, y * G)):
        candidates = np.flatnonzero(mask)
        if len(candidates) > half:
            candidates = candidates[np.argpartition(-value[candidates], half - 1)[:half]]
        chosen.append(candidates)
    return np.unique(np.concatenate(chosen))


def _smo_decomposition(prob, alpha, C, tol, max_iter):
    """SMO to a maximal KKT violation < ``tol``, one working set at a time.

    Each working set S holds the most violating points and the free ones; SMO
    runs on S with the other α fixed (their effect is in the gradient), using
    the Gram block of S only. Between working sets the whole gradient is
    recomputed by two passes over X, and the loop ends when every point
    satisfies the KKT conditions to ``tol``. ``alpha`` is updated in place.

    Returns (iterations, violation).
    """
    X, y = prob.X, prob.y
    size = min(len(y), max(MIN_WORKING_SET, 2 * int(np.count_nonzero(_partition(alpha, C)[0]))))
    n_iter = 0
    while True:
        G = y * prob.scores(prob.weights(alpha)) - 1.0
        violation, _ = _kkt_violation(G, alpha, y, C)
        if violation < tol or n_iter >= max_iter:
            return n_iter, max(violation, 0.0)
        S = _working_set(G, alpha, y, C, min(size, prob.cache.capacity))
        K = prob.cache.block(S)
        a, g = alpha[S], G[S]  # copies, updated by SMO
        it, _ = _smo(K, y[S], a, g, C, tol, max_iter - n_iter, np.arange(len(S)))
        alpha[S] = a
        n_iter += it
        if it == 0:
            if size >= min(len(y), prob.cache.capacity):
                return n_iter, violation  # no progress possible within the cache's reach
            size *= 2


def _make_feasible(alpha, y):
    """Restore yᵀα = 0 in place by shrinking one class's α (rounding and clipping move it a little).

    The dual objective bounds the optimum from below only at a feasible α;
    shrinking keeps 0 ≤ α ≤ C.
    """
    excess = float(y @ alpha)
    side = y > 0 if excess > 0 else y < 0
    total = float(alpha[side].sum())
    if excess != 0 and total > 0:
        alpha[side] *= max(0.0, 1.0 - abs(excess) / total)


def _certificate(prob, alpha, lam):
    """Primal objective at (w(α), b*), dual objective at α, b* and its interval.

    ``alpha`` is first made exactly feasible (``_make_feasible``, in place), so
    that the dual objective is a true lower bound. b* is the optimal bias
    closest to −w·centre (``optimal_intercept``'s rule).
    """
    _make_feasible(alpha, prob.y)
    w = prob.weights(alpha)
    scores = prob.scores(w)
    b, interval = optimal_intercept(scores, prob.y, target=-float(w @ prob.centre))
    w_sq = float(w @ w)
    primal = float(np.maximum(0.0, 1.0 - prob.y * (scores + b)).mean() + lam * w_sq)
    dual = 2.0 * lam * (float(alpha.sum()) - 0.5 * w_sq)
    return w, primal, dual, b, interval


def _certified(certificate, tol):
    _, primal, dual, _, _ = certificate
    return primal - dual <= tol * abs(primal)


def _solve_one(prob, alpha, C, lam, tol, max_iter, C_from=None):
    """The model at one λ from the warm start ``alpha`` (updated in place).

    ``C_from``: the C of the previous model when ``alpha`` is its exact
    solution scaled to C (then the homotopy can start from it).

    Returns (certificate, SMO iterations, active-set steps, polished).
    """
    exact, steps = _active_set(prob, alpha, C, min(ACTIVE_SET_STEPS, max_iter))
    if exact is None and C_from is not None and np.count_nonzero(_partition(alpha, C)[0]) >= HOMOTOPY_MIN_FREE:
        # Worth it where many points are free (weak regularization: the active-set
        # steps oscillate, SMO crawls); see HOMOTOPY_MIN_FREE.
        events = min(HOMOTOPY_EVENTS, int(np.count_nonzero(_partition(alpha, C)[0])) // 2 + 10)
        exact, used = _homotopy(prob, alpha * (C_from / C), C_from, C, min(events, max_iter - steps))
        steps += used
    if exact is not None:
        certificate = _certificate(prob, exact, lam)
        if _certified(certificate, tol):
            alpha[:] = exact
            return certificate, 0, steps, True
    smo_iter, smo_tol = 0, 1e-2
    while True:
        it, _ = _smo_decomposition(prob, alpha, C, smo_tol, max_iter - steps - smo_iter)
        smo_iter += it
        certificate = _certificate(prob, alpha, lam)
        if _certified(certificate, tol) or smo_tol < 1e-12 or steps + smo_iter >= max_iter:
            # The gap recorded says how far from exact we stopped.
            return certificate, smo_iter, steps, False
        exact, used = _active_set(prob, alpha, C, min(POLISH_STEPS, max_iter - steps - smo_iter))
        steps += used
        if exact is not None:
            polished = _certificate(prob, exact, lam)
            if _certified(polished, tol):
                alpha[:] = exact
                return polished, smo_iter, steps, True
        smo_tol /= 10.0


def _log10_lambda_all_inside(X, y):
    """A log10 λ above which the cold start is (nearly) the optimum: every point inside the margin.

    With α = C everywhere (balanced classes) w = (1/2λ) v, v = (1/n) Σ y_i x_i,
    so |w·x_i| ≤ 1/2 for every i once λ ≥ max_i |x_i·v|.
    """
    v = (y @ X) / len(y)
    top = float(np.max(np.abs(X @ v)))
    return np.ceil(np.log10(top) / CONTINUATION_STEP) * CONTINUATION_STEP if top > 0 else -np.inf


def _solve_order(log10_lambda, top):
    """(k, log10 λ) in the order solved: the grid from strong to weak regularization, with
    warm-up models (k = −1) from ``top`` down and wherever grid points are more than
    ``CONTINUATION_STEP`` decades apart, so that each model starts near its optimum
    (a continuation: a lone small λ costs a coarse path, not a cold SMO)."""
    order = []
    previous = max(top, float(log10_lambda.max()))
    for k in np.argsort(-log10_lambda, kind="stable"):
        gap = previous - log10_lambda[k]
        extra = int(np.ceil(gap / CONTINUATION_STEP - 1e-9)) - 1
        order += [(-1, previous - gap * (i + 1) / (extra + 1)) for i in range(extra)]
        order.append((int(k), float(log10_lambda[k])))
        previous = float(log10_lambda[k])
    if top > log10_lambda.max():
        order.insert(0, (-1, float(top)))
    return order


def _validate(X, y, log10_lambda, tol, max_iter):
    """The arrays as float64, or one sentence on what is wrong."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise SolverError(f"X must be a 2-D array with at least two rows and one column, got shape {X.shape}.")
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    log10_lambda = np.array(log10_lambda, dtype=np.float64, ndmin=1)
    n = X.shape[0]
    if y.shape != (n,):
        raise SolverError(f"y has shape {y.shape}, expected ({n},).")
    if not np.isin(y, (-1.0, 1.0)).all() or len(np.unique(y)) != 2:
        raise SolverError("Labels must be -1 and +1, and both must occur.")
    if log10_lambda.ndim != 1 or len(log10_lambda) == 0:
        raise SolverError("The λ grid is empty.")
    if not np.isfinite(log10_lambda).all():
        raise SolverError("Every log10 λ must be a finite number.")
    with np.errstate(over="ignore", under="ignore"):
        extremes = 10.0 ** np.array([log10_lambda.min(), log10_lambda.max()])
    if not (extremes[0] > 0 and np.isfinite(extremes[1])):
        raise SolverError("Every λ = 10^log10_lambda must be a positive finite number.")
    if not np.isfinite(X).all():
        raise SolverError("The data contains NaN or infinite values.")
    if not (np.isfinite(tol) and tol > 0):
        raise SolverError(f"tol must be a positive number, got {tol}.")
    if int(max_iter) != max_iter or max_iter < 1:
        raise SolverError(f"max_iter must be a positive integer, got {max_iter}.")
    return X, y, log10_lambda


def svm_path(X, y, log10_lambda, *, tol=1e-9, max_iter=10_000_000, callback=None):
    """Compute the exact linear-SVM solution for every λ = 10^log10_lambda of a grid.

    Minimises L(w, b) = (1/n) Σ max(0, 1 − y_i (w·x_i + b)) + λ‖w‖² (the bias is
    not regularised) for each λ, certifying each model by its duality gap.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training data (used in float64).
    y : array-like of shape (n_samples,)
        Labels in {-1, +1}; both must occur.
    log10_lambda : array-like of shape (n_models,)
        log10 λ of each model, in any order (solved from the largest λ down,
        each model warm-starting the next).
    tol : float, default=1e-9
        Target relative duality gap, (primal − dual) / primal.
    max_iter : int, default=10_000_000
        SMO iterations plus active-set steps allowed per model.
    callback : callable, optional
        Called as ``callback(k, log10_lambda[k])`` after model k is solved.

    Returns
    -------
    path : SVMPath
        Weights, biases (with the optimal interval and libsvm's midpoint),
        objectives, duality gaps, certificates and iteration counts, indexed
        like ``log10_lambda``.

    Warns
    -----
    UncertifiedModelWarning
        When a model stops above the target gap (``path.certified`` is False
        there; ``path.uncertified_message()`` names them).

    Raises
    ------
    SolverError
        On invalid input, with one sentence.

    Notes
    -----
    SVC's C is 1/(2λn). The method (see the module docstring): primal-dual
    active-set steps on the free points from the previous model's partition,
    with SMO on working sets of violating points as the fallback; no n × n
    matrix is formed, so memory is O(nd + m²) for m cached Gram rows. Where the
    bias is not unique, ``intercepts`` holds the optimal bias nearest −w·m,
    m the midpoint of the class means, and ``bias_midpoint`` libsvm's choice.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[-1.0], [1.0]])
    >>> y = np.array([-1.0, 1.0])
    >>> path = svm_path(X, y, [-2.0, 0.0, 1.0])
    >>> path.weights[:, 0]  # min(1, 1/(2λ))
    array([1.  , 0.5 , 0.05])
    >>> bool(path.certified.all())
    True
    """
    X, y, log10_lambda = _validate(X, y, log10_lambda, tol, max_iter)
    n, d = X.shape
    k_count = len(log10_lambda)
    lambdas = 10.0**log10_lambda
    prob = _Problem(
        X, y, 0.5 * (X[y < 0].mean(axis=0) + X[y > 0].mean(axis=0)), _GramCache(X, min(n, MAX_CACHED_ROWS))
    )
    out = {key: np.empty(k_count) for key in ("intercepts", "bias_low", "bias_high", "objective", "dual_objective")}
    weights = np.empty((k_count, d))
    dual_coef = np.empty((k_count, n))
    n_iter = np.zeros(k_count, dtype=np.int64)
    steps = np.zeros(k_count, dtype=np.int64)
    polished = np.zeros(k_count, dtype=bool)

    alpha = np.zeros(n)
    C_prev = C_exact = None
    spent_iter = spent_steps = 0  # by warm-up models, charged to the next model of the grid
    with threadpool_limits(limits=1, user_api="blas"):
        for k, log10_lam in _solve_order(log10_lambda, _log10_lambda_all_inside(X, y)):
            lam = 10.0**log10_lam
            C = 1.0 / (2.0 * lam * n)
            if C_prev is None:
                alpha = _cold_start(prob, C)
            else:
                alpha *= C / C_prev  # stays feasible: a warm start
            C_prev = C
            (w, primal, dual, b, interval), it, used, exact = _solve_one(
                prob, alpha, C, lam, tol, max_iter, C_from=C_exact
            )
            # The homotopy may start from the previous model only if it was solved exactly.
            C_exact = C if exact else None
            spent_iter, spent_steps = spent_iter + it, spent_steps + used
            if k < 0:
                continue  # a warm-up model between grid points
            n_iter[k], steps[k], polished[k] = spent_iter, spent_steps, exact
            spent_iter = spent_steps = 0
            weights[k] = w
            dual_coef[k] = alpha
            out["intercepts"][k] = b
            out["bias_low"][k], out["bias_high"][k] = interval
            out["objective"][k], out["dual_objective"][k] = primal, dual
            if callback is not None:
                callback(int(k), float(log10_lambda[k]))

    gap = out["objective"] - out["dual_objective"]
    relative = gap / np.abs(out["objective"])
    path = SVMPath(
        log10_lambda=log10_lambda,
        weights=weights,
        intercepts=out["intercepts"],
        bias_low=out["bias_low"],
        bias_high=out["bias_high"],
        bias_midpoint=0.5 * (out["bias_low"] + out["bias_high"]),
        objective=out["objective"],
        dual_objective=out["dual_objective"],
        duality_gap=gap,
        relative_gap=relative,
        certified=relative <= tol,
        n_iter=n_iter,
        n_active_set_steps=steps,
        polished=polished,
        dual_coef=dual_coef,
        tol=float(tol),
    )
    message = path.uncertified_message()
    if message is not None:
        warnings.warn(message, UncertifiedModelWarning, stacklevel=2)
    return path
