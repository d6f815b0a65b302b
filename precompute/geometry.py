"""The boundary-tilting geometry of linear classifiers (DESIGN.md, "The science").

Plain functions over arrays. Conventions: class I has label -1, class J +1;
a model is (w, b) with score s(x) = w·x + b; a point is predicted J when
s(x) > 0 and I otherwise.
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit

# A computed adversarial image is pushed this far (L2, pixel units) past the
# boundary so that its predicted class flips even after float32 rounding.
ADVERSARIAL_OVERSHOOT = 1e-3

# Below this sin θ the tilting plane's second axis n̂ is numerically undefined.
DEGENERATE_SIN_THETA = 1e-6

NORMAL_RULE = (
    "n̂ = (w − (w·ẑ)ẑ)/‖w − (w·ẑ)ẑ‖. Where sin θ < 1e-6 (the model is, to rounding, "
    "the nearest-centroid classifier) n̂ is undefined; such a model inherits n̂ from its "
    "nearest less regularized neighbour on the grid whose n̂ is defined, so the plane "
    "varies continuously along the path. If no model on the grid defines n̂, every model "
    "uses the top principal direction of the training data orthogonal to ẑ."
)


def centroids(X, y):
    """The class means i (label -1) and j (label +1)."""
    return X[y < 0].mean(axis=0), X[y > 0].mean(axis=0)


def unit(v):
    """v / ‖v‖."""
    return v / np.linalg.norm(v)


def tilting_angles(W, z_hat):
    """Angle in radians between each row of W and ẑ.

    Computed as atan2(‖w⊥‖, w·ẑ), which stays accurate for tiny angles where
    arccos of the cosine would round to 0.
    """
    W = np.atleast_2d(W)
    along = W @ z_hat
    across = np.linalg.norm(W - np.outer(along, z_hat), axis=1)
    return np.arctan2(across, along)


def plane_normals(W, z_hat, X=None):
    """The second axis n̂ of every model's tilting plane span(ẑ, ŵ).

    Parameters
    ----------
    W : ndarray of shape (n_models, n_features)
        Weights ordered from weak to strong regularization (λ ascending).
    z_hat : ndarray of shape (n_features,)
    X : ndarray of shape (n_samples, n_features), optional
        Training data, used only when no model defines n̂.

    Returns
    -------
    normals : ndarray of shape (n_models, n_features)
    inherited : ndarray of bool, shape (n_models,)
        True where n̂ was not defined by the model itself (see ``NORMAL_RULE``).
    """
    W = np.atleast_2d(W)
    residual = W - np.outer(W @ z_hat, z_hat)
    residual_norm = np.linalg.norm(residual, axis=1)
    defined = residual_norm >= DEGENERATE_SIN_THETA * np.linalg.norm(W, axis=1)
    if not defined.any():
        if X is None:
            raise ValueError("No model defines n̂ and no data was given for the fallback.")
        centred = X - X.mean(axis=0)
        centred -= np.outer(centred @ z_hat, z_hat)
        top = np.linalg.svd(centred, full_matrices=False)[2][0]
        return np.tile(unit(top), (len(W), 1)), np.ones(len(W), dtype=bool)
    normals = np.zeros_like(W)
    normals[defined] = residual[defined] / residual_norm[defined, None]
    # Walk from the weak end; a degenerate model copies the last defined one.
    # Degenerate models before the first defined one copy that one.
    source = np.maximum.accumulate(np.where(defined, np.arange(len(W)), -1))
    source[source < 0] = np.argmax(defined)
    return normals[source], ~defined


def plane_coordinates(X, midpoint, z_hat, normals):
    """Coordinates ((x − m)·ẑ, (x − m)·n̂_k) of every point for every model.

    Returns
    -------
    u : ndarray of shape (n_samples,)
        The ẑ coordinate, the same for all models.
    v : ndarray of shape (n_models, n_samples)
    """
    centred = X - midpoint
    return centred @ z_hat, np.atleast_2d(normals) @ centred.T


def signed_distance(X, w, b):
    """d(x) = ŵ·x + b′ for each row of X."""
    return (X @ w + b) / np.linalg.norm(w)


def projected_image(x, w, b):
    """x_p = x − d(x) ŵ, the point of the boundary closest to x (rows of x)."""
    x = np.asarray(x, dtype=np.float64)
    return x - np.multiply.outer(signed_distance(x, w, b), unit(w))


def mirror_image(x, w, b):
    """x_m = x − 2 d(x) ŵ, the reflection of x through the boundary."""
    return 2.0 * projected_image(x, w, b) - x


@njit(cache=True, nogil=True)
def _box_steps(X, w, scores, overshoot):  # pragma: no cover - compiled
    """For each row: the step t* of ``box_adversarial`` and the distance ‖z(t*) − x‖.

    φ(t) = σs(x) − Σ_k w_k² min(t, t_k) decreases and is piecewise linear in t.
    Starting from t₀ = (σs − target)/Σ w² (no pixel saturated), each round
    treats the pixels with t_k < t as saturated and solves the linear piece
    again; t never decreases and stays ≤ t*, and when the saturated set
    stops changing t is exactly t* (no sort, O(d) per round, few rounds).
    t* = inf where even every pixel saturated does not reach the target.
    """
    n, d = X.shape
    target = -overshoot * np.sqrt(np.sum(w * w))
    steps = np.empty(n)
    distances = np.empty(n)
    breaks = np.empty(d)
    for i in range(n):
        sigma = 1.0 if scores[i] > 0 else -1.0
        start = sigma * scores[i]
        total = 0.0
        for k in range(d):
            sw = sigma * w[k]
            if sw > 0:
                t_k = X[i, k] / sw
            elif sw < 0:
                t_k = (X[i, k] - 1.0) / sw
            else:
                t_k = np.inf
            breaks[k] = t_k if t_k > 0.0 else 0.0  # already at the bound it moves to
            total += w[k] * w[k]
        t = (start - target) / total if total > 0 else np.inf
        if start <= target:
            t = 0.0
        while np.isfinite(t) and t > 0.0:
            spent = 0.0
            moving = 0.0
            for k in range(d):
                if breaks[k] < t:
                    spent += w[k] * w[k] * breaks[k]
                else:
                    moving += w[k] * w[k]
            if moving <= 0.0:
                t = np.inf  # every pixel saturates before the boundary
                break
            t_next = (start - target - spent) / moving
            if t_next <= t:
                break
            # Stop when no breakpoint lies in [t, t_next): the piece was the right one.
            crossed = False
            for k in range(d):
                if t <= breaks[k] < t_next:
                    crossed = True
                    break
            t = t_next
            if not crossed:
                break
        steps[i] = t
        if np.isfinite(t):
            squared = 0.0
            for k in range(d):
                moved = min(t, breaks[k]) * w[k]
                squared += moved * moved
            distances[i] = np.sqrt(squared)
        else:
            distances[i] = np.inf
    return steps, distances


def box_adversarial(X, w, b, overshoot=ADVERSARIAL_OVERSHOOT):
    """The smallest L2 change that keeps an image in [0, 1]^d and crosses the boundary.

    For a point predicted on side σ = sign(s(x)) (σ = −1 when s(x) ≤ 0), the
    minimiser of ‖z − x‖ over z ∈ [0, 1]^d with σ s(z) ≤ −overshoot·‖w‖ is
    z(t) = clip(x − σ t w, 0, 1) for the smallest t ≥ 0 meeting the
    constraint (one Lagrange multiplier). σ s(z(t)) = σ s(x) − Σ_k w_k² min(t, t_k)
    is piecewise linear in t with breakpoints t_k where pixel k hits 0 or 1,
    so t is found exactly, piece by piece (``_box_steps``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features) or (n_features,)
    w : ndarray of shape (n_features,)
    b : float
    overshoot : float
        How far past the boundary, in L2 pixel units; 0 gives the infimum.

    Returns
    -------
    images : ndarray like X
        The adversarial images (a copy of x where none exists).
    distances : ndarray of shape (n_samples,) or float
        ‖z − x‖, or inf where no valid image crosses the boundary.
    """
    single = np.ndim(X) == 1
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    w = np.asarray(w, dtype=np.float64)
    scores = X @ w + b
    steps, _ = _box_steps(X, w, scores, float(overshoot))
    feasible = np.isfinite(steps)
    sigma = np.where(scores > 0, 1.0, -1.0)[:, None]
    images = np.clip(X - np.where(feasible, steps, 0.0)[:, None] * sigma * w, 0.0, 1.0)
    distances = np.where(feasible, np.linalg.norm(images - X, axis=1), np.inf)
    images = np.where(feasible[:, None], images, X)
    if single:
        return images[0], float(distances[0])
    return images, distances


def box_distances(X, W, B):
    """The exact minimal L2 distance to each boundary that stays a valid image.

    ``box_adversarial``'s distance with no overshoot (the infimum), for every
    model at once, without forming the images.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    W : ndarray of shape (n_models, n_features)
    B : ndarray of shape (n_models,)

    Returns
    -------
    distances : ndarray of shape (n_models, n_samples)
        inf where no valid image crosses the boundary.
    """
    from concurrent.futures import ThreadPoolExecutor

    X = np.ascontiguousarray(X, dtype=np.float64)
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    scores = W @ X.T + np.asarray(B, dtype=np.float64)[:, None]

    def one(k):
        return _box_steps(X, np.ascontiguousarray(W[k]), scores[k], 0.0)[1]

    # The compiled kernel releases the GIL: one thread per core splits the models.
    with ThreadPoolExecutor(max_workers=min(len(W), os.cpu_count() or 1)) as pool:
        return np.stack(list(pool.map(one, range(len(W)))))


def robust_accuracy(y, scores, box_distances, radii):
    """Fraction of points correctly classified and farther than ε, for each ε."""
    correct = y * scores > 0
    return np.array([(correct & (box_distances > eps)).mean() for eps in radii])


def histogram(values_by_model, bins):
    """Per-model histograms over each model's own range.

    Parameters
    ----------
    values_by_model : list of ndarray
        For each model, the values to bin (e.g. y·d(x) of train and test).

    Returns
    -------
    edges : ndarray of shape (n_models, bins + 1)
    """
    edges = np.empty((len(values_by_model), bins + 1))
    for k, values in enumerate(values_by_model):
        lo, hi = float(values.min()), float(values.max())
        if hi <= lo:
            hi = lo + 1.0
        edges[k] = np.linspace(lo, hi, bins + 1)
    return edges


def counts(values, edges):
    """Histogram counts of ``values`` (n_models, n) in each model's ``edges``."""
    return np.stack([np.histogram(v, bins=e)[0] for v, e in zip(values, edges)])
