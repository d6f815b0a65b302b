"""One experiment: a digit pair, its SVM path, its geometry, as bundle contents."""

from __future__ import annotations

import platform
import time
import warnings
from dataclasses import dataclass

import numpy as np

from tilting.precompute import geometry as geo
from tilting.precompute.data import Digits, PairData, select_pair
from tilting.precompute.defaults import DEFAULT_PER_CLASS
from tilting.precompute.errors import TiltingError
from tilting.precompute.solver import SVMPath, UncertifiedModelWarning, svm_path

TARGET_RELATIVE_GAP = 1e-9
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


class UncertifiedPathError(TiltingError):
    """A model of the path stopped above the target duality gap: no bundle is written."""


SOLVER_METHOD = (
    "primal-dual active-set steps on the free points (Gram rows of free points only), "
    "exact homotopy in C between grid points, SMO on working sets as the last resort; "
    "every model certified by its duality gap"
)


def build_experiment(
    digits: Digits,
    digit_i: int,
    digit_j: int,
    log10_lambda,
    per_class: int | None = DEFAULT_PER_CLASS,
    progress=None,
):
    """Train the path and compute every figure's numbers: solve, geometry, metrics, pack.

    Parameters
    ----------
    digits : Digits
    digit_i, digit_j : int
        Class I (label −1) and class J (label +1).
    log10_lambda : array-like
        log10 λ of each model, ascending.
    per_class : int or None
        Training images per digit (first ones in file order); None for all.
    progress : callable, optional
        ``progress(k, log10_lambda_k)`` after each model is solved.

    Returns
    -------
    manifest : dict
        Everything but the array entries (added by ``artifacts.write_bundle``).
    arrays : dict of str to ndarray

    Raises
    ------
    UncertifiedPathError
        When a model is not certified; the sentence names it.
    """
    started = time.time()
    pair = select_pair(digits, digit_i, digit_j, per_class)
    path = solve(pair, log10_lambda, progress=progress)
    geometry = plane_geometry(pair, path)
    metrics = model_metrics(pair, path, geometry)
    return pack(digits, (digit_i, digit_j), per_class, pair, path, geometry, metrics, started)


def solve(pair: PairData, log10_lambda, progress=None) -> SVMPath:
    """The exact SVM path of a pair; raises ``UncertifiedPathError`` unless every model is certified."""
    with warnings.catch_warnings():
        # Said once, as the error below, instead of as a warning and then an error.
        warnings.simplefilter("ignore", UncertifiedModelWarning)
        path = svm_path(pair.X_train, pair.y_train, log10_lambda, tol=TARGET_RELATIVE_GAP, callback=progress)
    message = path.uncertified_message()
    if message is not None:
        raise UncertifiedPathError(f"{message[:-1]}; no bundle was written.")
    return path


@dataclass
class PlaneGeometry:
    """Centroids, ẑ, the tilting planes and every image's coordinates in them."""

    mean_i: np.ndarray
    mean_j: np.ndarray
    midpoint: np.ndarray
    z_hat: np.ndarray
    thetas: np.ndarray  # (n_models,)
    normals: np.ndarray  # (n_models, n_features)
    inherited: np.ndarray  # (n_models,) bool
    train_u: np.ndarray
    train_v: np.ndarray
    test_u: np.ndarray
    test_v: np.ndarray


def plane_geometry(pair: PairData, path: SVMPath) -> PlaneGeometry:
    """The tilting plane of every model (DESIGN.md, "The science")."""
    mean_i, mean_j = geo.centroids(pair.X_train, pair.y_train)
    midpoint = 0.5 * (mean_i + mean_j)
    z_hat = geo.unit(mean_j - mean_i)
    normals, inherited = geo.plane_normals(path.weights, z_hat, pair.X_train)
    train_u, train_v = geo.plane_coordinates(pair.X_train, midpoint, z_hat, normals)
    test_u, test_v = geo.plane_coordinates(pair.X_test, midpoint, z_hat, normals)
    return PlaneGeometry(mean_i, mean_j, midpoint, z_hat, geo.tilting_angles(path.weights, z_hat), normals,
                         inherited, train_u, train_v, test_u, test_v)


@dataclass
class ModelMetrics:
    """Per-model numbers: distances, errors, histograms, robustness, defaults and gallery."""

    w_norms: np.ndarray
    train_scores: np.ndarray  # (n_models, n_train), w·x + b
    train_yd: np.ndarray  # y·d(x)
    test_yd: np.ndarray
    hist_edges: np.ndarray
    box_distance: np.ndarray  # (n_models, n_test)
    robust: np.ndarray  # (n_models, len(ROBUST_RADII))
    defaults: dict
    gallery: np.ndarray  # test positions


def model_metrics(pair: PairData, path: SVMPath, geometry: PlaneGeometry) -> ModelMetrics:
    """Everything measured per model on the training and test images."""
    W, B = path.weights, path.intercepts
    y, y_test = pair.y_train, pair.y_test
    w_norms = np.linalg.norm(W, axis=1)
    train_scores = W @ pair.X_train.T + B[:, None]  # (k, n)
    test_scores = W @ pair.X_test.T + B[:, None]
    train_yd = y * train_scores / w_norms[:, None]
    test_yd = y_test * test_scores / w_norms[:, None]
    edges = geo.histogram([np.concatenate([a, b]) for a, b in zip(train_yd, test_yd)], HISTOGRAM_BINS)
    box_distance = geo.box_distances(pair.X_test, W, B)
    robust = np.stack(
        [geo.robust_accuracy(y_test, s, dist, ROBUST_RADII) for s, dist in zip(test_scores, box_distance)]
    )

    log10_lambda = path.log10_lambda
    strongest, weakest = int(np.argmax(log10_lambda)), int(np.argmin(log10_lambda))
    chosen = {label: _typical_test_image(test_yd, y_test, label, strongest, weakest) for label in (-1, 1)}
    gallery = np.concatenate([_gallery_of_class(y_test, label, chosen[label][0]) for label in (-1, 1)])
    return ModelMetrics(w_norms, train_scores, train_yd, test_yd, edges, box_distance, robust,
                        _defaults(pair, chosen, gallery, test_yd, strongest, weakest), gallery)


def _defaults(pair, chosen, gallery, test_yd, strongest, weakest):
    """The manifest's ``defaults``: each class's default test image (``DEFAULTS_RULE``)."""
    defaults = {"rule": DEFAULTS_RULE}
    for key, label in (("x", -1), ("y", 1)):
        position, median, n_candidates = chosen[label]
        defaults[key] = {
            "label": label,
            "test_position": int(position),
            "dataset_index": int(pair.test_index[position]),
            "gallery": int(np.flatnonzero(gallery == position)[0]),
            "y_d_strongest": float(test_yd[strongest, position]),
            "y_d_weakest": float(test_yd[weakest, position]),
            "median_y_d_strongest": median,
            "candidates": int(n_candidates),
        }
    return defaults


def _model_records(pair: PairData, path: SVMPath, geometry: PlaneGeometry, metrics: ModelMetrics) -> list:
    """One manifest record per model (``schema.ModelRecord``)."""
    W, B, y = path.weights, path.intercepts, pair.y_train
    C = path.C(len(y))
    records = []
    for k in range(path.n_models):
        w_norm = metrics.w_norms[k]
        yd = metrics.train_yd[k]
        misclassified = yd <= 0
        alpha = path.dual_coef[k]
        records.append(
            {
                "k": k,
                "log10_lambda": float(path.log10_lambda[k]),
                "lambda": float(path.lambda_[k]),
                "theta": float(geometry.thetas[k]),
                "theta_deg": float(np.degrees(geometry.thetas[k])),
                "w_norm": float(w_norm),
                "b": float(B[k]),
                "b_prime": float(B[k] / w_norm),
                "bias_low": float(path.bias_low[k]),
                "bias_high": float(path.bias_high[k]),
                "bias_midpoint": float(path.bias_midpoint[k]),
                # The boundary in the plane: cos θ·u + sin θ·v + offset = 0.
                "boundary_offset": float(W[k] @ geometry.midpoint / w_norm + B[k] / w_norm),
                "d_adv": float(yd.mean()),
                "d_err": float(-yd[misclassified].sum() / len(y)),
                "train_error": float(misclassified.mean()),
                "test_error": float((metrics.test_yd[k] <= 0).mean()),
                "mean_hinge": float(np.maximum(0.0, 1.0 - y * metrics.train_scores[k]).mean()),
                "objective": float(path.objective[k]),
                "dual_objective": float(path.dual_objective[k]),
                "duality_gap": float(path.duality_gap[k]),
                "relative_gap": float(path.relative_gap[k]),
                "n_support": int(np.count_nonzero(alpha > 0)),
                "n_margin_support": int(np.count_nonzero((alpha > 0) & (alpha < C[k]))),
                "smo_iterations": int(path.n_iter[k]),
                "polished": bool(path.polished[k]),
                "normal_inherited": bool(geometry.inherited[k]),
                "robust_accuracy_1": float(metrics.robust[k][np.argmin(np.abs(ROBUST_RADII - 1.0))]),
            }
        )
    return records


def pack(digits: Digits, pair_digits, per_class, pair: PairData, path: SVMPath, geometry: PlaneGeometry,
         metrics: ModelMetrics, started: float):
    """The bundle's manifest (without array entries) and arrays, in the bundle format."""
    digit_i, digit_j = pair_digits
    y, y_test = pair.y_train, pair.y_test
    defaults = dict(metrics.defaults)
    for key, digit in (("x", digit_i), ("y", digit_j)):
        defaults[key] = {"digit": int(digit), **defaults[key]}
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
            "features": int(pair.X_train.shape[1]),
        },
        "grid": {"log10_lambda": [float(a) for a in path.log10_lambda], "size": int(path.n_models)},
        "loss": "L(w, b) = (1/n) Σ max(0, 1 − y(w·x + b)) + λ‖w‖²; bias not regularised",
        "solver": {
            "method": SOLVER_METHOD,
            "target_relative_gap": path.tol,
            "max_relative_gap": float(np.max(path.relative_gap)),
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
        "models": _model_records(pair, path, geometry, metrics),
        "software": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": _version("scikit-learn"),
            "numba": _version("numba"),
            "tilting": _version("boundary-tilting"),
        },
    }
    gallery = metrics.gallery
    arrays = {
        "weights": _f4(path.weights),
        "intercepts": _f4(path.intercepts),
        "normals": _f4(geometry.normals),
        "z_hat": _f4(geometry.z_hat),
        "centroids": _f4(np.stack([geometry.mean_i, geometry.mean_j])),
        "train_u": _f4(geometry.train_u),
        "train_v": _f4(geometry.train_v),
        "train_y": y.astype("i1"),
        "test_u": _f4(geometry.test_u),
        "test_v": _f4(geometry.test_v),
        "test_y": y_test.astype("i1"),
        "train_index": pair.train_index.astype("<i4"),
        "test_index": pair.test_index.astype("<i4"),
        "hist_edges": _f4(metrics.hist_edges),
        "hist_train": _f4(geo.counts(metrics.train_yd, metrics.hist_edges)),
        "hist_test": _f4(geo.counts(metrics.test_yd, metrics.hist_edges)),
        "test_box_distance": _f4(metrics.box_distance),
        "robust_accuracy": _f4(metrics.robust),
        "gallery_images": _f4(pair.X_test[gallery]),
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
