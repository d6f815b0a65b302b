"""One experiment: a digit pair, its SVM path, its geometry, as bundle contents."""

from __future__ import annotations

import platform
import time

import numpy as np

from precompute import geometry as geo
from precompute.data import Digits, select_pair
from precompute.solver import svm_path

DEFAULT_PER_CLASS = 3000
HISTOGRAM_BINS = 60
GALLERY_PER_CLASS = 12
ROBUST_RADII = np.round(np.arange(0.0, 5.0001, 0.1), 10)

BIAS_RULE = (
    "The mean hinge loss is piecewise linear in b for fixed w; its minimisers form an "
    "interval [bias_low, bias_high]. b is its midpoint. When every point is inside the "
    "margin (large λ) that puts the boundary halfway between the lowest-scoring J point "
    "and the highest-scoring I point."
)
GALLERY_RULE = (
    f"The first {GALLERY_PER_CLASS} test images of each digit, in the order of the "
    "MNIST test file (class I first)."
)
ADVERSARIAL_RULE = (
    "x_p = x − d(x)ŵ and x_m = x − 2d(x)ŵ (not clipped to [0, 1]). The valid-image "
    "adversarial is the exact minimiser of ‖δ‖ over x + δ ∈ [0, 1]^d crossing the "
    f"boundary by {geo.ADVERSARIAL_OVERSHOOT} (L2, pixel units): clip(x − tσw, 0, 1) with t "
    "found by sorting the pixels' breakpoints. Robustness uses the same search with no "
    "overshoot (the infimum)."
)


def experiment_id(dataset_name: str, digit_i: int, digit_j: int, per_class: int | None) -> str:
    """E.g. ``mnist-2-3``; a non-default subset size is part of the id."""
    prefix = "mnist" if dataset_name == "mnist" else "digits8x8"
    suffix = "" if per_class == DEFAULT_PER_CLASS else f"-{per_class or 'all'}"
    return f"{prefix}-{digit_i}-{digit_j}{suffix}"


def _f4(a):
    return np.asarray(a, dtype="<f4")


def build_experiment(
    digits: Digits,
    digit_i: int,
    digit_j: int,
    log_lambdas,
    per_class: int | None = DEFAULT_PER_CLASS,
    progress=None,
):
    """Train the path and compute every figure's numbers.

    Parameters
    ----------
    digits : Digits
    digit_i, digit_j : int
        Class I (label −1) and class J (label +1).
    log_lambdas : array-like
        log10 λ of each model, ascending.
    per_class : int or None
        Training images per digit (first ones in file order); None for all.
    progress : callable, optional
        ``progress(k, lam)`` after each model is solved.

    Returns
    -------
    manifest : dict
        Everything but the array entries (added by ``artifacts.write_bundle``).
    arrays : dict of str to ndarray
    """
    started = time.time()
    pair = select_pair(digits, digit_i, digit_j, per_class)
    X, y, X_test, y_test = pair.X_train, pair.y_train, pair.X_test, pair.y_test
    log_lambdas = np.asarray(log_lambdas, dtype=np.float64)
    lambdas = 10.0**log_lambdas

    W, B, gaps, info = svm_path(X, y, lambdas, callback=progress)

    mean_i, mean_j = geo.centroids(X, y)
    midpoint = 0.5 * (mean_i + mean_j)
    z_hat = geo.unit(mean_j - mean_i)
    thetas = geo.tilting_angles(W, z_hat)
    normals, inherited = geo.plane_normals(W, z_hat, X)
    train_u, train_v = geo.plane_coordinates(X, midpoint, z_hat, normals)
    test_u, test_v = geo.plane_coordinates(X_test, midpoint, z_hat, normals)

    w_norms = np.linalg.norm(W, axis=1)
    train_scores = W @ X.T + B[:, None]  # (k, n)
    test_scores = W @ X_test.T + B[:, None]
    train_yd = y * train_scores / w_norms[:, None]
    test_yd = y_test * test_scores / w_norms[:, None]

    edges = geo.histogram([np.concatenate([a, b]) for a, b in zip(train_yd, test_yd)], HISTOGRAM_BINS)
    box_dist = np.stack([geo.box_adversarial(X_test, w, b, overshoot=0.0)[1] for w, b in zip(W, B)])
    robust = np.stack(
        [geo.robust_accuracy(y_test, s, dist, ROBUST_RADII) for s, dist in zip(test_scores, box_dist)]
    )

    gallery = np.concatenate(
        [np.flatnonzero(y_test < 0)[:GALLERY_PER_CLASS], np.flatnonzero(y_test > 0)[:GALLERY_PER_CLASS]]
    )

    models = []
    for k in range(len(lambdas)):
        misclassified = train_yd[k] <= 0
        models.append(
            {
                "k": k,
                "log10_lambda": float(log_lambdas[k]),
                "lambda": float(lambdas[k]),
                "theta": float(thetas[k]),
                "theta_deg": float(np.degrees(thetas[k])),
                "w_norm": float(w_norms[k]),
                "b": float(B[k]),
                "b_prime": float(B[k] / w_norms[k]),
                "bias_low": float(info["bias_low"][k]),
                "bias_high": float(info["bias_high"][k]),
                # The boundary in the plane: cos θ·u + sin θ·v + offset = 0.
                "boundary_offset": float(W[k] @ midpoint / w_norms[k] + B[k] / w_norms[k]),
                "d_adv": float(train_yd[k].mean()),
                "d_err": float(-train_yd[k][misclassified].sum() / len(y)),
                "train_error": float(misclassified.mean()),
                "test_error": float((test_yd[k] <= 0).mean()),
                "mean_hinge": float(np.maximum(0.0, 1.0 - y * train_scores[k]).mean()),
                "objective": float(info["objective"][k]),
                "dual_objective": float(info["dual_objective"][k]),
                "duality_gap": float(gaps[k]),
                "relative_gap": float(gaps[k] / info["objective"][k]),
                "n_support": int(np.count_nonzero(info["dual_coef"][k] > 0)),
                "n_margin_support": int(
                    np.count_nonzero((info["dual_coef"][k] > 0) & (info["dual_coef"][k] < 1 / (2 * lambdas[k] * len(y))))
                ),
                "smo_iterations": int(info["n_iter"][k]),
                "polished": bool(info["polished"][k]),
                "normal_inherited": bool(inherited[k]),
                "robust_accuracy_1": float(robust[k][np.argmin(np.abs(ROBUST_RADII - 1.0))]),
            }
        )

    manifest = {
        "title": f"Digit {digit_i} (I, y = −1) vs digit {digit_j} (J, y = +1)",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.time() - started, 2),
        "dataset": digits.metadata(),
        "digits": [int(digit_i), int(digit_j)],
        "per_class": per_class,
        "counts": {
            "train": int(len(y)),
            "test": int(len(y_test)),
            "train_i": int((y < 0).sum()),
            "train_j": int((y > 0).sum()),
            "test_i": int((y_test < 0).sum()),
            "test_j": int((y_test > 0).sum()),
            "features": int(X.shape[1]),
        },
        "grid": {"log10_lambda": [float(a) for a in log_lambdas], "size": int(len(lambdas))},
        "loss": "L(w, b) = (1/n) Σ max(0, 1 − y(w·x + b)) + λ‖w‖²; bias not regularised",
        "solver": {
            "method": "SMO (second-order working set, shrinking) + exact active-set polish",
            "target_relative_gap": 1e-9,
            "max_relative_gap": float(np.max(gaps / info["objective"])),
        },
        "rules": {
            "bias": BIAS_RULE,
            "normal": geo.NORMAL_RULE,
            "gallery": GALLERY_RULE,
            "adversarial": ADVERSARIAL_RULE,
            "prediction": "J when w·x + b > 0, else I",
            "histogram": f"{HISTOGRAM_BINS} bins per model over that model's range of y·d(x) (train and test).",
        },
        "robust_radii": [float(r) for r in ROBUST_RADII],
        "models": models,
        "software": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": _version("scikit-learn"),
            "numba": _version("numba"),
            "tilting": _version("boundary-tilting"),
        },
    }
    arrays = {
        "weights": _f4(W),
        "intercepts": _f4(B),
        "normals": _f4(normals),
        "z_hat": _f4(z_hat),
        "centroids": _f4(np.stack([mean_i, mean_j])),
        "train_u": _f4(train_u),
        "train_v": _f4(train_v),
        "train_y": y.astype("i1"),
        "test_u": _f4(test_u),
        "test_v": _f4(test_v),
        "test_y": y_test.astype("i1"),
        "train_index": pair.train_index.astype("<i4"),
        "test_index": pair.test_index.astype("<i4"),
        "hist_edges": _f4(edges),
        "hist_train": _f4(geo.counts(train_yd, edges)),
        "hist_test": _f4(geo.counts(test_yd, edges)),
        "test_box_distance": _f4(box_dist),
        "robust_accuracy": _f4(robust),
        "gallery_images": _f4(X_test[gallery]),
        "gallery_y": y_test[gallery].astype("i1"),
        "gallery_index": pair.test_index[gallery].astype("<i4"),
    }
    return manifest, arrays


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None
