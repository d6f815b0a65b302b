"""The boundary-tilting geometry of linear classifiers (DESIGN.md, "The science").

Plain functions over arrays. Conventions: class I has label -1, class J +1;
a model is (w, b) with score s(x) = w·x + b; a point is predicted J when
s(x) > 0 and I otherwise.
"""

from __future__ import annotations

import numpy as np

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


def box_adversarial(X, w, b, overshoot=ADVERSARIAL_OVERSHOOT):
    """The smallest L2 change that keeps an image in [0, 1]^d and crosses the boundary.

    For a point predicted on side σ = sign(s(x)) (σ = −1 when s(x) ≤ 0), the
    minimiser of ‖z − x‖ over z ∈ [0, 1]^d with σ s(z) ≤ −overshoot·‖w‖ is
    z(t) = clip(x − σ t w, 0, 1) for the smallest t ≥ 0 meeting the
    constraint (one Lagrange multiplier). σ s(z(t)) = σ s(x) − Σ_k w_k² min(t, t_k)
    is piecewise linear in t with breakpoints t_k where pixel k hits 0 or 1,
    so t is found exactly by sorting the breakpoints.

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
    sigma = np.where(scores > 0, 1.0, -1.0)[:, None]
    sw = sigma * w  # pixel k moves at rate −σw_k
    w_sq = w * w
    with np.errstate(divide="ignore", invalid="ignore"):
        breaks = np.where(sw > 0, X / sw, np.where(sw < 0, (X - 1.0) / sw, np.inf))
    breaks = np.maximum(breaks, 0.0)  # pixels already at the bound they move to
    order = np.argsort(breaks, axis=1)
    t_sorted = np.take_along_axis(breaks, order, axis=1)
    finite = np.isfinite(t_sorted)  # w_k = 0: the pixel never moves
    w_sorted = np.where(finite, w_sq[order], 0.0)
    t_sorted = np.where(finite, t_sorted, 0.0)
    start = sigma[:, 0] * scores
    # φ(t_m) = σs − Σ_{l≤m} w_l² t_l − t_m Σ_{l>m} w_l², flat after the last break.
    spent = np.cumsum(w_sorted * t_sorted, axis=1)
    remaining = w_sq.sum() - np.cumsum(w_sorted, axis=1)
    phi = start[:, None] - spent - t_sorted * remaining
    floor = start - spent[:, -1]
    target = -overshoot * np.linalg.norm(w)
    feasible = floor <= target
    m = np.argmax(phi <= target, axis=1)  # first breakpoint at or past the target
    rows = np.arange(len(X))
    before = np.maximum(m - 1, 0)
    t_prev = np.where(m > 0, t_sorted[rows, before], 0.0)
    phi_prev = np.where(m > 0, phi[rows, before], start)
    slope = np.where(m > 0, remaining[rows, before], w_sq.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = t_prev + (phi_prev - target) / slope
    t_star = np.where(feasible, t_star, 0.0)
    images = np.clip(X - t_star[:, None] * sigma * w, 0.0, 1.0)
    distances = np.linalg.norm(images - X, axis=1)
    images = np.where(feasible[:, None], images, X)
    distances = np.where(feasible, distances, np.inf)
    if single:
        return images[0], float(distances[0])
    return images, distances


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
