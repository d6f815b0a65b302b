"""What the network experiment measures besides the attacks themselves.

- The softmax temperature at which a network's median test score is 0.95 (the
  original article's calibration before attacking).
- The network's *local tilt*: at an image x and for a source and target class,
  the local boundary normal n = ∇ₓ(z_target − z_source) and its angle to the
  direction between the two class means, μ_target − μ_source (means of the
  training images of each class). It is the network's counterpart of the SVM's
  tilting angle θ between ŵ and ẑ: for a linear model the gradient is w itself.
- The linearised distance (z_source − z_target)/‖n‖: in the linear region
  around x, the score difference is s(x) = ‖∇ₓs‖·d(x), so this is the
  distance d(x) to the local boundary.
- The histogram of p_y(x) over the training set, and how much of the
  cross-entropy −log p_y each bin carries.

Plain functions over arrays, using the forward pass and gradients of
``tilting.precompute.network_model``.
"""

from __future__ import annotations

import numpy as np

from tilting.precompute.network_model import NetworkError, score_gradient, softmax

MEDIAN_TEST_SCORE = 0.95
CE_BINS = 50
TILT_SAMPLE = 1000

TILT_RULE = (
    "Local tilting angle, in degrees: for an image x, a source class s and a target class t, the angle "
    "between the local boundary normal n = ∇ₓ(z_t − z_s) (z the network's output scores before the softmax, "
    "gradient by backpropagation through the stored weights) and the class-mean direction μ_t − μ_s, where "
    "μ_c is the mean of the training images of digit c (array class_means). 0° is the nearest-class-mean "
    "boundary; 90° is a boundary that ignores the difference between the two class means. Arrays "
    "tilt_grid_original and tilt_grid_adversarial hold it for each attack of the grid (source = the row's "
    "digit, target = the column's), at the original image and at the stored adversarial image; the diagonal "
    "holds −1 (no attack). tilt_sample_angle holds it for the first {sample} test images in file order "
    "(source = the true label) and every other digit: column c is target (label + 1 + c) mod 10."
)
DISTANCE_RULE = (
    "Linearised distance to the local boundary: (z_s − z_t)/‖∇ₓ(z_t − z_s)‖ at x, the same images and "
    "columns as tilt_sample_angle (negative where the network prefers t). Inside the linear region around x "
    "the score difference is s(x) = ‖∇ₓs‖·d(x), so this is d(x) there."
)
TEMPERATURE_RULE = (
    "The softmax temperature T at which the median over the test set of p_T(true label | x) = "
    "softmax(z/T)[label] is {score}, by bisection on log T. The calibrated attack (arrays cal_*) is the same "
    "attack as the other one, ascending log p_T(target) and stopping at p_T(target) ≥ {threshold}."
)
CE_RULE = (
    "Histogram of p_y(x), the probability the network (temperature 1) gives each training image's own "
    "label, in {bins} equal bins of [0, 1] (the last bin includes 1): ce_hist_counts counts the images, "
    "ce_hist_loss sums their cross-entropy −log p_y(x) divided by the number of training images, so a row "
    "of ce_hist_loss sums to the mean training cross-entropy."
)


def calibrate_temperature(scores, labels, target=MEDIAN_TEST_SCORE, iterations=80):
    """The temperature T at which median_x softmax(z(x)/T)[label] equals ``target``.

    Parameters
    ----------
    scores : ndarray of shape (n_samples, n_classes)
        Output scores z (before the softmax).
    labels : ndarray of int, shape (n_samples,)
    target : float
    iterations : int
        Bisection steps on log T over [1e-4, 1e4].

    Returns
    -------
    temperature : float
    """
    rows = np.arange(len(labels))

    def median_score(log_t):
        return np.median(softmax(scores / np.exp(log_t))[rows, labels])

    lo, hi = np.log(1e-4), np.log(1e4)
    # A hotter softmax (larger T) is less confident: the median falls as T grows.
    if median_score(lo) < target or median_score(hi) > target:
        raise NetworkError(f"No temperature in [1e-4, 1e4] gives a median test score of {target}.")
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if median_score(mid) >= target:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))


def class_means(images, labels, n_classes=10):
    """μ_c, the mean training image of each class, shape (n_classes, n_features)."""
    return np.stack([images[labels == c].mean(axis=0) for c in range(n_classes)])


def local_tilt(X, sources, targets, coefs, intercepts, means):
    """Angle (degrees) of ∇ₓ(z_t − z_s) to μ_t − μ_s, and the linearised distance (z_s − z_t)/‖∇ₓ(z_t − z_s)‖.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sources, targets : ndarrays of int, shape (n_samples,)
    coefs, intercepts : lists of ndarrays
    means : ndarray of shape (n_classes, n_features)

    Returns
    -------
    angle : ndarray of shape (n_samples,)
    distance : ndarray of shape (n_samples,)
    gradient_norm : ndarray of shape (n_samples,)
    """
    grad, z = score_gradient(X, sources, targets, coefs, intercepts)
    direction = means[targets] - means[sources]
    norm = np.linalg.norm(grad, axis=1)
    cosine = (grad * direction).sum(axis=1) / (np.maximum(norm, 1e-300) * np.linalg.norm(direction, axis=1))
    rows = np.arange(len(z))
    with np.errstate(divide="ignore"):
        distance = (z[rows, sources] - z[rows, targets]) / norm
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))), distance, norm


def sample_pairs(labels, n_classes=10):
    """Source and target of every (image, other class) pair: column c is target (label + 1 + c) mod n."""
    offsets = np.arange(1, n_classes)
    targets = (labels[:, None] + offsets[None, :]) % n_classes
    sources = np.repeat(labels[:, None], n_classes - 1, axis=1)
    return sources, targets


def sample_tilt(images, labels, coefs, intercepts, means):
    """``local_tilt`` for each image and every other class: arrays of shape (n_images, n_classes − 1)."""
    sources, targets = sample_pairs(labels, len(means))
    X = np.repeat(images, targets.shape[1], axis=0)
    angle, distance, norm = local_tilt(X, sources.ravel(), targets.ravel(), coefs, intercepts, means)
    shape = targets.shape
    return angle.reshape(shape), distance.reshape(shape), norm.reshape(shape)


def grid_tilt(images, coefs, intercepts, means):
    """``local_tilt``'s angle for a 10×10 grid of images indexed [source, target]; the diagonal is −1."""
    n = images.shape[0]
    source, target = np.divmod(np.arange(n * n), n)
    off = source != target
    angle = np.full(n * n, -1.0)
    angle[off], _, _ = local_tilt(images.reshape(n * n, -1)[off], source[off], target[off], coefs, intercepts, means)
    return angle.reshape(n, n)


def cross_entropy_histogram(probability, n_bins=CE_BINS):
    """Counts of p_y in equal bins of [0, 1], and each bin's share of the mean cross-entropy."""
    index = np.minimum((probability * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    loss = np.bincount(index, weights=-np.log(np.maximum(probability, 1e-300)), minlength=n_bins) / len(probability)
    return counts, loss


def rms(array):
    return float(np.sqrt(np.mean(np.square(array))))


def attack_summary(norms, reached, steps, probability):
    """The scalars of one attack grid (10×10, diagonal = originals) that the manifest records."""
    n = norms.shape[0]
    off = ~np.eye(n, dtype=bool)
    ok = off & reached
    nxt = (np.arange(n), (np.arange(n) + 1) % n)  # each digit towards the next, as in the original's table
    maybe = lambda f, v: float(f(v)) if len(v) else None  # noqa: E731 - None when nothing was reached
    return {
        "attacks": int(off.sum()),
        "attacks_reached": int(ok.sum()),
        "success_rate": float(ok.sum() / off.sum()),
        "median_l2_reached": maybe(np.median, norms[ok]),
        "mean_l2_reached": maybe(np.mean, norms[ok]),
        "min_l2_reached": maybe(np.min, norms[ok]),
        "max_l2_reached": maybe(np.max, norms[ok]),
        "median_l2_all": float(np.median(norms[off])),
        "median_steps": float(np.median(steps[off])),
        "min_target_probability": float(probability[off].min()),
        "next_class_l2": [float(v) for v in norms[nxt]],
        "next_class_reached": int(reached[nxt].sum()),
    }


def tilt_summary(angle_original, angle_adversarial, reached, sample_angle, sample_distance, sample_norm):
    """Medians and quartiles of the local tilt for one network."""
    off = ~np.eye(angle_original.shape[0], dtype=bool)
    ok = off & reached
    q25, q50, q75 = np.percentile(sample_angle, [25, 50, 75])
    return {
        "median_angle_grid": float(np.median(angle_original[off])),
        "median_angle_adversarial": float(np.median(angle_adversarial[ok])) if ok.any() else None,
        "median_angle_sample": float(q50),
        "q25_angle_sample": float(q25),
        "q75_angle_sample": float(q75),
        # Per image, the nearest of the nine local boundaries (negative for a mistake).
        "median_distance_sample": float(np.median(np.min(sample_distance, axis=1))),
        "median_gradient_norm_sample": float(np.median(sample_norm)),
    }
