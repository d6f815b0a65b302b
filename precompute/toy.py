"""The toy problem: dimensionality is not the cause, the tilt is (DESIGN.md figures 4, 5).

Images of h×2h pixels (d = 2h², row-major). Class I (label −1) has its left
half at one level drawn uniformly in [−1, −0.1], class J (+1) at one level in
[0.1, 1]; the right half is 0. With e₁ and e₂ the normalised indicator images
of the left and right halves, every such image is x = level·h·e₁: the data
lie on a line, in any dimension.

A boundary through the origin with normal ê_θ = cos θ e₁ + sin θ e₂ (θ = 0
bisects the classes) sends x to its mirror image x_m = x − 2(x·ê_θ)ê_θ, at
distance ‖x_m − x‖ = 2|x·ê_θ| = 2|level|·h·|cos θ|. Relative to the image,
‖x_m − x‖/‖x‖ = 2|cos θ|: for a given θ and level the picture is the same for
every h. Strong tilt (θ near 90°) makes x_m a tiny, meaningless change of x
that flips its class — an adversarial example — in 2 dimensions as in 5,000.

The trained version: a real linear SVM (``solver.svm_path``) on toy data with
one mislabelled point near the boundary, an I-looking image labelled J whose
right half is faintly lit. Fitting it needs the otherwise unused direction e₂:
weak regularization tilts the boundary to fit it, strong regularization
ignores it.

The trained boundary's tilt θ is, as everywhere else (DESIGN.md), the angle
between ŵ and ẑ = (j − i)/‖j − i‖, the direction between the training set's
class means. The mislabelled point (labelled J, right half lit) moves the J
mean a little along e₂, so ẑ itself leans from e₁ by a small angle, recorded
in the manifest (``mislabelled.z_hat_tilt_deg``); θ → 0 at strong
regularization, where w is parallel to ẑ.
"""

from __future__ import annotations

import time

import numpy as np

from tilting.precompute import geometry as geo
from tilting.precompute.errors import TiltingError
from tilting.precompute.solver import svm_path

EXPERIMENT_ID = "toy"
LEVEL_RANGE = (0.1, 1.0)  # |level| of class J; class I is the mirror interval

# The trained toy's defaults: 2×4 images (d = 32; any h gives the same
# angles once λ is scaled by h², see ``train_toy``), 40 images per class.
DEFAULT_H = 4
DEFAULT_PER_CLASS = 40
DEFAULT_SEED = 0
# The mislabelled point: left level −0.15 (on I's side, close to the bisecting
# boundary), right level 0.1, label J.
MISLABELLED = (-0.15, 0.1)
# log10 λ for h = 1, 81 values; ``train_toy`` multiplies λ by h².
DEFAULT_LOG10_LAMBDAS = np.round(np.arange(-7.0, 1.0001, 0.1), 10)


class ToyError(TiltingError):
    """The toy problem was asked for with impossible parameters."""


def _check_h(h):
    if int(h) != h or h < 1:
        raise ToyError(f"The image height h must be a positive integer, got {h!r}.")
    return int(h)


def basis(h):
    """e₁ and e₂: the normalised left-half and right-half indicator images.

    Parameters
    ----------
    h : int
        Image height; images are h×2h, flattened row-major (d = 2h²).

    Returns
    -------
    e1, e2 : ndarrays of shape (2h²,)
    """
    h = _check_h(h)
    left = np.zeros((h, 2 * h))
    left[:, :h] = 1.0 / h  # ‖indicator of h² pixels‖ = h
    return left.ravel(), left[:, ::-1].ravel()


def toy_images(levels, h, right_levels=None):
    """Images whose left half is at ``levels`` and right half at ``right_levels`` (default 0).

    Returns
    -------
    X : ndarray of shape (n, 2h²)
    """
    levels = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    right = np.zeros_like(levels) if right_levels is None else np.broadcast_to(right_levels, levels.shape)
    e1, e2 = basis(h)
    # e₁ = indicator/h, so a left half at level a is a·h·e₁.
    return _check_h(h) * (np.outer(levels, e1) + np.outer(right, e2))


def sample_levels(n_per_class, rng):
    """Levels of n I images then n J images, uniform in [−1, −0.1] and [0.1, 1].

    Returns
    -------
    levels : ndarray of shape (2n,)
    y : ndarray of shape (2n,), −1 then +1
    """
    magnitudes = rng.uniform(*LEVEL_RANGE, size=2 * n_per_class)
    y = np.repeat([-1.0, 1.0], n_per_class)
    return y * magnitudes, y


def tilted_normal(theta, h):
    """ê_θ = cos θ e₁ + sin θ e₂, the unit normal of the boundary tilted by θ (radians)."""
    e1, e2 = basis(h)
    return np.cos(theta) * e1 + np.sin(theta) * e2


def mirror(X, theta, h):
    """Mirror images x_m = x − 2(x·ê_θ)ê_θ through the boundary {x : x·ê_θ = 0}."""
    return geo.mirror_image(X, tilted_normal(theta, h), 0.0)


def mirror_distance(X, theta, h):
    """‖x_m − x‖ = 2|x·ê_θ| for each row of X (the closed form)."""
    return 2.0 * np.abs(np.atleast_2d(X) @ tilted_normal(theta, h))


def plane_coordinates(X, h):
    """(x·e₁, x·e₂) of each row: the plane every toy image lives in. Shape (n, 2)."""
    return np.atleast_2d(X) @ np.stack(basis(h)).T


def toy_training_set(h=DEFAULT_H, n_per_class=DEFAULT_PER_CLASS, seed=DEFAULT_SEED, mislabelled=MISLABELLED):
    """The trained toy's data: clean I and J images plus one mislabelled point (last row).

    Returns
    -------
    X : ndarray of shape (2n, 2h²)
    y : ndarray of shape (2n,)
        n labels −1 then n labels +1; the last one (J) is wrong for its left-half level.
    levels : ndarray of shape (2n, 2)
        Left and right levels of each image.

    Notes
    -----
    The mislabelled point takes the place of the last J image so that the
    classes stay balanced: with one more J than I, at strong λ (every point
    inside the margin) the hinge loss would keep falling as b grows and the
    optimal bias would call nearly every image J.
    """
    levels, y = sample_levels(n_per_class, np.random.default_rng(seed))
    left = levels.copy()
    right = np.zeros_like(levels)
    left[-1], right[-1] = mislabelled
    return toy_images(left, h, right), y, np.column_stack([left, right])


def train_toy(h=DEFAULT_H, log10_lambdas=DEFAULT_LOG10_LAMBDAS, n_per_class=DEFAULT_PER_CLASS, seed=DEFAULT_SEED):
    """Train the exact SVM path on the toy data and measure the tilt.

    Images at height h are h times those at h = 1 in the (e₁, e₂) plane, so
    the solution at λ·h² is the h = 1 solution scaled by 1/h: the same
    boundary. We therefore use λ = 10^log10_lambdas · h², which makes θ per grid
    point independent of the dimension.

    Parameters
    ----------
    h : int
    log10_lambdas : array-like
        log10 λ at h = 1, ascending.
    n_per_class : int
    seed : int

    Returns
    -------
    result : dict
        ``X``, ``y``, ``levels``, ``lambdas`` (as used), ``weights`` (k, d),
        ``intercepts`` (k,), ``plane_weights`` (k, 2) = (w·e₁, w·e₂),
        ``z_hat`` (d,) = (j − i)/‖j − i‖ of the training set, ``z_hat_plane`` (2,)
        = (ẑ·e₁, ẑ·e₂), ``theta`` (k,) in radians, the angle between w and ẑ
        (``geometry.tilting_angles``, as for MNIST), ``fits_mislabelled`` (k,)
        bool, ``train_error`` (k,), ``relative_gap`` (k,).
    """
    h = _check_h(h)
    log10_lambdas = np.asarray(log10_lambdas, dtype=np.float64)
    X, y, levels = toy_training_set(h, n_per_class, seed)
    lambdas = 10.0**log10_lambdas * h**2
    path = svm_path(X, y, np.log10(lambdas))
    W, B = path.weights, path.intercepts
    plane_w = plane_coordinates(W, h)
    z_hat = geo.unit(np.subtract(*geo.centroids(X, y)[::-1]))
    scores = W @ X.T + B[:, None]
    return {
        "X": X,
        "y": y,
        "levels": levels,
        "lambdas": lambdas,
        "weights": W,
        "intercepts": B,
        "plane_weights": plane_w,
        "z_hat": z_hat,
        "z_hat_plane": plane_coordinates(z_hat, h)[0],
        "theta": geo.tilting_angles(W, z_hat),
        "fits_mislabelled": scores[:, -1] > 0,
        "train_error": (y * scores <= 0).mean(axis=1),
        "relative_gap": path.relative_gap,
    }


def build_toy_experiment(h=DEFAULT_H, log10_lambdas=DEFAULT_LOG10_LAMBDAS, n_per_class=DEFAULT_PER_CLASS,
                         seed=DEFAULT_SEED):
    """Bundle contents for the toy figures: the trained path in the (e₁, e₂) plane.

    Returns
    -------
    manifest : dict
    arrays : dict of str to ndarray
    """
    started = time.time()
    log10_lambdas = np.asarray(log10_lambdas, dtype=np.float64)
    r = train_toy(h, log10_lambdas, n_per_class, seed)
    w_norm = np.linalg.norm(r["weights"], axis=1)
    z_tilt = float(np.degrees(np.arctan2(r["z_hat_plane"][1], r["z_hat_plane"][0])))
    models = [
        {
            "k": k,
            "log10_lambda": float(log10_lambdas[k]),
            "lambda": float(r["lambdas"][k]),
            "theta": float(r["theta"][k]),
            "theta_deg": float(np.degrees(r["theta"][k])),
            "w_norm": float(w_norm[k]),
            "b": float(r["intercepts"][k]),
            "fits_mislabelled": bool(r["fits_mislabelled"][k]),
            "train_error": float(r["train_error"][k]),
            "relative_gap": float(r["relative_gap"][k]),
        }
        for k in range(len(log10_lambdas))
    ]
    manifest = {
        "kind": "toy",
        "title": "The toy problem: an SVM path on h×2h images with one mislabelled point",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.time() - started, 2),
        "dataset": {
            "name": "toy",
            "source": "tilting.precompute.toy.toy_training_set (synthetic, seeded)",
            "checksums": {},
            "image_shape": [h, 2 * h],
            "seed": int(seed),
            "notice": None,
        },
        "digits": ["I", "J"],
        "counts": {"train": int(len(r["y"])), "per_class": int(n_per_class), "features": int(2 * h * h)},
        "grid": {"log10_lambda": [float(a) for a in log10_lambdas], "size": int(len(log10_lambdas)),
                 "lambda_scale": f"λ = 10^log10_lambda · h² (h = {h}), so the angles do not depend on h"},
        "loss": "L(w, b) = (1/n) Σ max(0, 1 − y(w·x + b)) + λ‖w‖²; bias not regularised",
        "mislabelled": {"index": int(len(r["y"]) - 1), "left_level": MISLABELLED[0],
                        "right_level": MISLABELLED[1], "label": 1, "z_hat_tilt_deg": z_tilt},
        "rules": {
            "images": "Row-major h×2h; class I (y = −1) left half at a level uniform in [−1, −0.1], "
            "class J (y = +1) in [0.1, 1]; right half 0. The mislabelled point is last.",
            "basis": "e₁, e₂ = the left-half and right-half indicator images divided by h (unit norm).",
            "theta": "The angle between ŵ and ẑ = (j − i)/‖j − i‖ (class means of the training set, "
            "the mislabelled point included), as for MNIST bundles. The mislabelled point tilts ẑ "
            f"from e₁ by {z_tilt:.3f}° (mislabelled.z_hat_tilt_deg); θ is 0 where w is parallel to ẑ.",
            "mirror": "x_m = x − 2(x·ê_θ)ê_θ, ‖x_m − x‖ = 2|x·ê_θ|, for a boundary through the origin.",
            "bias": "The optimal bias; where it is an interval (strong λ), its point closest to −w·m, "
            "m = the midpoint of the class means (as for MNIST bundles).",
        },
        "models": models,
    }
    arrays = {
        "train_plane": plane_coordinates(r["X"], h).astype("<f8"),
        "train_levels": r["levels"].astype("<f8"),
        "train_y": r["y"].astype("i1"),
        "plane_weights": r["plane_weights"].astype("<f8"),
        "weights": r["weights"].astype("<f8"),
        "intercepts": r["intercepts"].astype("<f8"),
        "theta": r["theta"].astype("<f8"),
        "z_hat_plane": r["z_hat_plane"].astype("<f8"),
    }
    return manifest, arrays
