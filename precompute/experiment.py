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
    "interval [bias_low, bias_high], a single point except at large λ. b is the point of "
    "that interval closest to −w·m, m = the midpoint of the two class means of the "
    "training set: where b is free the boundary passes as near m as the optimum allows, "
    "and at the strongest regularization (every point inside the margin, w parallel to "
    "j − i) the model is the nearest-centroid classifier. Every b in the interval has the "
    "same objective. bias_midpoint is the interval's midpoint, which is what libsvm "
    "(sklearn SVC) returns; with every point inside the margin it equals "
    "−(min_I s + max_J s)/2, s = w·x, halfway in score between the lowest-scoring I "
    "training image and the highest-scoring J training image. Everything derived from the "
    "bias (b_prime, boundary_offset, d(x), errors, d_adv, d_err, histograms, box "
    "distances, robust accuracy) uses b."
)
DEFAULTS_GROWTH = 5.0
DEFAULTS_RULE = (
    "For each class, take its test images classified correctly by every model of the path "
    "(if none: all its test images) and the median of their y·d(x) under the most "
    "regularized model (largest λ, the nearest-centroid classifier). The default image is "
    "the one whose y·d(x) there is nearest that median (ties: the earlier test image), "
    f"among those whose y·d(x) under the most regularized model is at least {DEFAULTS_GROWTH:g} "
    "times their y·d(x) under the least regularized model (smallest λ), if any is. So it is "
    "a typical image of its class whose mirror image x_m = x − 2d(x)ŵ stays close to x at "
    "weak regularization and lands far on the other class's side at strong regularization. "
    "x is class I's, y is class J's. test_position indexes the bundle's test arrays, "
    "dataset_index the dataset's test file, gallery the gallery arrays."
)
GALLERY_RULE = (
    f"{GALLERY_PER_CLASS} test images of each digit (class I first): the class's default "
    f"image (see defaults) first, then the first {GALLERY_PER_CLASS - 1} other test images "
    "of the digit in the order of the dataset's test file."
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

    strongest, weakest = int(np.argmax(log_lambdas)), int(np.argmin(log_lambdas))
    chosen = {label: _typical_test_image(test_yd, y_test, label, strongest, weakest) for label in (-1, 1)}
    gallery = np.concatenate([_gallery_of_class(y_test, label, chosen[label][0]) for label in (-1, 1)])
    defaults = {"rule": DEFAULTS_RULE}
    for key, label, digit in (("x", -1, digit_i), ("y", 1, digit_j)):
        position, median, n_candidates = chosen[label]
        defaults[key] = {
            "digit": int(digit),
            "label": label,
            "test_position": int(position),
            "dataset_index": int(pair.test_index[position]),
            "gallery": int(np.flatnonzero(gallery == position)[0]),
            "y_d_strongest": float(test_yd[strongest, position]),
            "y_d_weakest": float(test_yd[weakest, position]),
            "median_y_d_strongest": median,
            "candidates": int(n_candidates),
        }

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
                "bias_midpoint": float(info["bias_midpoint"][k]),
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
            "defaults": DEFAULTS_RULE,
            "adversarial": ADVERSARIAL_RULE,
            "prediction": "J when w·x + b > 0, else I",
            "histogram": f"{HISTOGRAM_BINS} bins per model over that model's range of y·d(x) (train and test).",
        },
        "robust_radii": [float(r) for r in ROBUST_RADII],
        "defaults": defaults,
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


def _typical_test_image(test_yd, y_test, label, strongest, weakest):
    """The default test image of class ``label`` (``DEFAULTS_RULE``).

    Parameters
    ----------
    test_yd : ndarray of shape (n_models, n_test)
        y·d(x) of every test image under every model.
    y_test : ndarray of shape (n_test,)
    label : {-1, 1}
    strongest, weakest : int
        Indices of the most and the least regularized model.

    Returns
    -------
    position : int
        Index into the test arrays.
    median : float
        The median of y·d(x) under the strongest model over the class's correctly classified images.
    candidates : int
        How many images the choice was made among (those passing the growth condition).
    """
    members = np.flatnonzero(y_test == label)
    pool = members[(test_yd[:, members] > 0).all(axis=0)]
    if len(pool) == 0:
        pool = members
    strong = test_yd[strongest, pool]
    median = float(np.median(strong))
    grows = pool[strong >= DEFAULTS_GROWTH * test_yd[weakest, pool]]
    among = grows if len(grows) else pool
    return int(among[np.argmin(np.abs(test_yd[strongest, among] - median))]), median, len(among)


def _gallery_of_class(y_test, label, first):
    """Test positions of one class's gallery: ``first``, then the class's first others in file order."""
    others = [p for p in np.flatnonzero(y_test == label) if p != first]
    return np.array([first, *others[: GALLERY_PER_CLASS - 1]], dtype=np.int64)


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None
