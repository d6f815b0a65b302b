"""Adversarial examples beyond linear models: a small network trained here.

DESIGN.md figure 2. A one-hidden-layer ReLU network (scikit-learn's
``MLPClassifier``) is trained on the full training set at two weight-decay
levels; one test image of each digit is then pushed to every other digit by a
targeted gradient attack in input space. The forward pass and the input
gradient are written here in numpy from the network's ``coefs_`` and
``intercepts_``, so the stored weights are all a reader (or the browser) needs
to check an adversarial image.

Plain functions over arrays. Weights are float64 throughout; images are kept
on float32-representable values during the attack so that the stored float32
adversarial images are exactly the ones the stopping rule was evaluated on.
"""

from __future__ import annotations

import platform
import time

import numpy as np

from precompute.data import Digits
from precompute.errors import TiltingError

EXPERIMENT_ID = "network-mnist"

# Low and high weight decay (MLPClassifier's ``alpha``; sklearn adds
# alpha/(2·batch) · Σ‖W‖² to each mini-batch's mean loss).
DEFAULT_ALPHAS = (1e-4, 1.0)
DEFAULT_SEED = 0
# (hidden units, epochs) per dataset: on MNIST one epoch over 60,000 images
# takes ~8 s on the 2-core build machine, so 12 epochs stay under 2 minutes.
ARCHITECTURE = {"mnist": (128, 12), "sklearn-digits": (32, 150)}

TARGET_PROBABILITY = 0.95
ATTACK_STEP = 0.02  # L2 length of one step, pixel units
ATTACK_MAX_STEPS = 5000

SELECTION_RULE = (
    "For each digit 0..9, the first image in test-file order whose label is that digit "
    "and that every trained network classifies correctly."
)
ATTACK_RULE = (
    "Targeted gradient ascent on log p(target | x) in input space, from the original "
    "image. Each step: the input gradient (exact, by backpropagation through the stored "
    "weights) with the components that would push a pixel already at 0 or 1 out of "
    "[0, 1] set to zero, normalised to L2 length {step}, added, then pixels clipped to "
    "[0, 1] and rounded to float32. The attack stops before a step as soon as "
    "p(target) ≥ {threshold}; after {max_steps} steps it stops and is reported as not "
    "reached. The diagonal (target = the image's own digit) is not attacked: it holds "
    "the original, its probability and 0 steps. Norms are ‖adversarial − original‖₂ "
    "of the stored float32 images, computed in float64."
)


class NetworkError(TiltingError):
    """A network experiment was asked for in a way that cannot work."""


def train_network(X, y, alpha, hidden=128, epochs=12, seed=DEFAULT_SEED, progress=None):
    """Train a one-hidden-layer ReLU network with Adam for a fixed number of epochs.

    ``partial_fit`` is called once per epoch so that a progress bar can follow
    training; the Adam state persists across calls and, with a shared
    ``RandomState``, every epoch gets a fresh (but reproducible) shuffle. There
    is no early stopping: the number of epochs is the budget.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Pixels in [0, 1].
    y : ndarray of shape (n_samples,)
        Digits 0..9 (all ten must occur).
    alpha : float
        L2 weight decay.
    hidden : int
        Hidden ReLU units.
    epochs : int
        Passes over the data.
    seed : int
        Seeds the weight initialisation and the shuffles.
    progress : callable, optional
        ``progress(epoch, loss)`` after each epoch.

    Returns
    -------
    clf : MLPClassifier
    """
    from sklearn.neural_network import MLPClassifier

    classes = np.arange(10)
    if not np.isin(classes, y).all():
        raise NetworkError("The training labels must contain all ten digits.")
    clf = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        activation="relu",
        solver="adam",
        alpha=alpha,
        max_iter=1,  # one epoch per partial_fit call
        shuffle=True,
        random_state=np.random.RandomState(seed),
    )
    for epoch in range(epochs):
        clf.partial_fit(X, y, classes=classes)
        if progress is not None:
            progress(epoch, clf.loss_)
    return clf


def classifier_from_weights(coefs, intercepts):
    """An ``MLPClassifier`` whose ``predict_proba`` uses exactly these weights.

    Used to check stored weights against scikit-learn's own forward pass.
    """
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import LabelBinarizer

    coefs = [np.asarray(c, dtype=np.float64) for c in coefs]
    intercepts = [np.asarray(b, dtype=np.float64) for b in intercepts]
    clf = MLPClassifier(hidden_layer_sizes=tuple(c.shape[1] for c in coefs[:-1]), activation="relu")
    clf.coefs_, clf.intercepts_ = coefs, intercepts
    clf.n_layers_ = len(coefs) + 1
    clf.n_outputs_ = coefs[-1].shape[1]
    clf.out_activation_ = "softmax"
    clf.classes_ = np.arange(clf.n_outputs_)
    clf._label_binarizer = LabelBinarizer().fit(clf.classes_)
    clf.n_features_in_ = coefs[0].shape[0]
    return clf


def _logits(X, coefs, intercepts):
    """Output scores and each hidden layer's pre-activation."""
    activation = np.asarray(X, dtype=np.float64)
    pre = []
    for layer, (W, b) in enumerate(zip(coefs, intercepts)):
        z = activation @ W + b
        if layer == len(coefs) - 1:
            return z, pre
        pre.append(z)
        activation = np.maximum(z, 0.0)


def predict_proba(X, coefs, intercepts):
    """p(class | x), shape (n_samples, n_classes); equals ``MLPClassifier.predict_proba``."""
    return _softmax(_logits(X, coefs, intercepts)[0])


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)  # shift so exp cannot overflow
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def target_gradient(X, targets, coefs, intercepts):
    """The input gradient of log p(target | x), by backpropagation.

    With softmax outputs, ∂ log p_t / ∂z = e_t − p; each ReLU passes the
    gradient where its pre-activation is positive (the subgradient 0 is used
    at exactly 0).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    targets : ndarray of int, shape (n_samples,)
    coefs, intercepts : lists of ndarrays

    Returns
    -------
    grad : ndarray of shape (n_samples, n_features)
    probabilities : ndarray of shape (n_samples, n_classes)
        p(class | x) at X, from the same forward pass.
    """
    z, pre = _logits(X, coefs, intercepts)
    p = _softmax(z)
    delta = -p
    delta[np.arange(len(delta)), targets] += 1.0
    for layer in range(len(coefs) - 1, 0, -1):
        delta = (delta @ coefs[layer].T) * (pre[layer - 1] > 0)
    return delta @ coefs[0].T, p


def targeted_attack(
    X, targets, coefs, intercepts, *, step=ATTACK_STEP, max_steps=ATTACK_MAX_STEPS,
    threshold=TARGET_PROBABILITY,
):
    """Push each image to its target class, all images at once (see ``ATTACK_RULE``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Start images, pixels in [0, 1].
    targets : ndarray of int, shape (n_samples,)
    coefs, intercepts : lists of ndarrays
    step : float
        L2 length of each step.
    max_steps : int
        Steps allowed per image.
    threshold : float
        Stop once p(target) reaches it.

    Returns
    -------
    adversarial : ndarray of shape (n_samples, n_features), float32-representable float64
    probability : ndarray of shape (n_samples,)
        Final p(target).
    steps : ndarray of int, shape (n_samples,)
    reached : ndarray of bool, shape (n_samples,)
        p(target) ≥ threshold at the end.
    """
    x = np.asarray(X, dtype=np.float32).astype(np.float64)
    targets = np.asarray(targets)
    rows = np.arange(len(x))
    steps = np.zeros(len(x), dtype=np.int64)
    active = np.ones(len(x), dtype=bool)
    probability = np.empty(len(x))
    for _ in range(max_steps + 1):
        idx = rows[active]
        grad, p = target_gradient(x[idx], targets[idx], coefs, intercepts)
        probability[idx] = p[np.arange(len(idx)), targets[idx]]
        done = probability[idx] >= threshold
        # Directions that leave the box would be clipped away: drop them so the
        # step keeps its length inside [0, 1]^d.
        xi = x[idx]
        grad[((xi <= 0.0) & (grad < 0)) | ((xi >= 1.0) & (grad > 0))] = 0.0
        norm = np.linalg.norm(grad, axis=1)
        stuck = norm == 0.0  # a local maximum on the box: no step can help
        done |= stuck | (steps[idx] >= max_steps)
        active[idx[done]] = False
        move = ~done
        if not move.any():
            break
        m = idx[move]
        x[m] = np.clip(xi[move] + step * grad[move] / norm[move, None], 0.0, 1.0)
        x[m] = x[m].astype(np.float32)
        steps[m] += 1
    return x, probability, steps, probability >= threshold


def select_originals(test_labels, predictions):
    """Indices of the first test image of each digit that every network gets right.

    Parameters
    ----------
    test_labels : ndarray of shape (n_test,)
    predictions : sequence of ndarrays of shape (n_test,)
        Each network's predicted digits.

    Returns
    -------
    index : ndarray of int, shape (10,)
    """
    correct = np.all([pred == test_labels for pred in predictions], axis=0)
    index = []
    for digit in range(10):
        hits = np.flatnonzero(correct & (test_labels == digit))
        if len(hits) == 0:
            raise NetworkError(f"No test image of digit {digit} is classified correctly by every network.")
        index.append(hits[0])
    return np.array(index)


def attack_grid(originals, coefs, intercepts, **attack_options):
    """Attack every original towards every other digit.

    Returns arrays of shape (10, 10, …) indexed [source digit, target digit]:
    adversarial images, final p(target), steps and reached. The diagonal holds
    the original, p(own digit), 0 steps and whether that p reaches the threshold.
    """
    n_classes = len(originals)
    source, target = np.divmod(np.arange(n_classes * n_classes), n_classes)
    off = source != target
    images = np.repeat(np.asarray(originals, dtype=np.float32).astype(np.float64), n_classes, axis=0)
    probability = predict_proba(images, coefs, intercepts)[np.arange(len(images)), target]
    steps = np.zeros(len(images), dtype=np.int64)
    adv, p_adv, s_adv, _ = targeted_attack(images[off], target[off], coefs, intercepts, **attack_options)
    images[off], probability[off], steps[off] = adv, p_adv, s_adv
    threshold = attack_options.get("threshold", TARGET_PROBABILITY)
    shape = (n_classes, n_classes)
    return (
        images.reshape(*shape, -1),
        probability.reshape(shape),
        steps.reshape(shape),
        (probability >= threshold).reshape(shape),
    )


def build_network_experiment(
    digits: Digits, alphas=DEFAULT_ALPHAS, *, hidden=None, epochs=None, seed=DEFAULT_SEED,
    attack_options=None, progress=None,
):
    """Train one network per weight decay, attack, and return bundle contents.

    Parameters
    ----------
    digits : Digits
        The full dataset; every training image is used.
    alphas : sequence of float
        Weight-decay levels, weakest first.
    hidden, epochs : int, optional
        Default: ``ARCHITECTURE[digits.name]``.
    seed : int
    attack_options : dict, optional
        ``step``, ``max_steps``, ``threshold`` for ``targeted_attack``.
    progress : callable, optional
        ``progress(label)`` after each training epoch and after each network's attack.

    Returns
    -------
    manifest : dict
    arrays : dict of str to ndarray
    """
    default_hidden, default_epochs = ARCHITECTURE.get(digits.name, ARCHITECTURE["mnist"])
    hidden = default_hidden if hidden is None else hidden
    epochs = default_epochs if epochs is None else epochs
    options = {"step": ATTACK_STEP, "max_steps": ATTACK_MAX_STEPS, "threshold": TARGET_PROBABILITY}
    options.update(attack_options or {})
    tick = progress or (lambda label: None)
    started = time.time()

    networks = []
    for alpha in alphas:
        t0 = time.time()
        clf = train_network(
            digits.train_images, digits.train_labels, alpha, hidden=hidden, epochs=epochs, seed=seed,
            progress=lambda epoch, loss, a=alpha: tick(f"α={a:g} epoch {epoch + 1} loss {loss:.3f}"),
        )
        seconds = time.time() - t0
        coefs = [c.astype(np.float64) for c in clf.coefs_]
        intercepts = [b.astype(np.float64) for b in clf.intercepts_]
        networks.append((alpha, clf, coefs, intercepts, seconds))

    test_pred = [predict_proba(digits.test_images, c, b).argmax(axis=1) for _, _, c, b, _ in networks]
    index = select_originals(digits.test_labels, test_pred)
    originals = digits.test_images[index].astype(np.float32)

    grids, models = [], []
    for k, ((alpha, clf, coefs, intercepts, seconds), pred) in enumerate(zip(networks, test_pred)):
        adv, prob, steps, reached = attack_grid(originals, coefs, intercepts, **options)
        tick(f"α={alpha:g} attacks done")
        norms = np.linalg.norm(adv - originals[:, None, :].astype(np.float64), axis=2)
        grids.append((adv, prob, steps, reached, norms))
        off = ~np.eye(10, dtype=bool)
        ok = off & reached
        train_pred = predict_proba(digits.train_images, coefs, intercepts).argmax(axis=1)
        models.append(
            {
                "k": k,
                "alpha": float(alpha),
                "test_accuracy": float((pred == digits.test_labels).mean()),
                "train_accuracy": float((train_pred == digits.train_labels).mean()),
                "final_training_loss": float(clf.loss_),
                "training_seconds": round(seconds, 2),
                "weight_norm": float(np.sqrt(sum((c**2).sum() for c in coefs))),
                "attacks": int(off.sum()),
                "attacks_reached": int(ok.sum()),
                "success_rate": float(ok.sum() / off.sum()),
                "median_l2_reached": float(np.median(norms[ok])) if ok.any() else None,
                "mean_l2_reached": float(np.mean(norms[ok])) if ok.any() else None,
                "median_l2_all": float(np.median(norms[off])),
                "max_l2_reached": float(np.max(norms[ok])) if ok.any() else None,
                "median_steps": float(np.median(steps[off])),
                "min_target_probability": float(prob[off].min()),
            }
        )

    adv, prob, steps, reached, norms = (np.stack(a) for a in zip(*grids))
    layers = [int(networks[0][2][0].shape[0])] + [int(c.shape[1]) for c in networks[0][2]]
    manifest = {
        "kind": "network",
        "title": "A small ReLU network trained here: targeted adversarial examples at two weight decays",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.time() - started, 2),
        "dataset": digits.metadata(),
        "digits": list(range(10)),
        "counts": {"train": int(len(digits.train_labels)), "test": int(len(digits.test_labels)),
                   "features": int(digits.train_images.shape[1])},
        "grid": {"alpha": [float(a) for a in alphas], "size": len(alphas)},
        "architecture": {
            "layers": layers,
            "hidden_activation": "relu",
            "output": "softmax",
            "library": "sklearn.neural_network.MLPClassifier",
            "solver": "adam (learning_rate_init 1e-3, batch 200)",
            "epochs": int(epochs),
            "early_stopping": False,
            "seed": int(seed),
            "weight_decay": "alpha/(2·batch size)·Σ‖W‖² added to each mini-batch's mean "
            "cross-entropy (sklearn's convention; biases not penalised)",
        },
        "attack": {**{k: (float(v) if k != "max_steps" else int(v)) for k, v in options.items()},
                   "norm": "L2"},
        "rules": {
            "selection": SELECTION_RULE,
            "attack": ATTACK_RULE.format(**options),
            "forward": "h = relu(x W0 + b0); p = softmax(h W1 + b1); arrays coef_<l> "
            "(network, in, out) and intercept_<l> (network, out)",
            "perturbations": "adversarial − original, stored as float32 for display; norms are "
            "computed from the images in float64",
        },
        "original_index": [int(i) for i in index],
        "models": models,
        "software": {"python": platform.python_version(), "numpy": np.__version__,
                     "scikit-learn": _sklearn_version()},
    }
    arrays = {
        "originals": originals.astype("<f4"),
        "original_index": index.astype("<i4"),
        "adversarials": adv.astype("<f4"),
        "perturbations": (adv - originals[None, :, None, :]).astype("<f4"),
        "target_probability": prob.astype("<f8"),
        "l2_norms": norms.astype("<f8"),
        "steps": steps.astype("<i4"),
        "reached": reached.astype("i1"),
        "loss_curves": np.array([clf.loss_curve_ for _, clf, *_ in networks], dtype="<f8"),
    }
    for layer in range(len(networks[0][2])):
        arrays[f"coef_{layer}"] = np.stack([n[2][layer] for n in networks]).astype("<f8")
        arrays[f"intercept_{layer}"] = np.stack([n[3][layer] for n in networks]).astype("<f8")
    return manifest, arrays


def stored_network(bundle, k):
    """(coefs, intercepts) of network ``k`` of a network bundle."""
    n_layers = sum(name.startswith("coef_") for name in bundle.arrays)
    coefs = [np.asarray(bundle.arrays[f"coef_{layer}"][k]) for layer in range(n_layers)]
    intercepts = [np.asarray(bundle.arrays[f"intercept_{layer}"][k]) for layer in range(n_layers)]
    return coefs, intercepts


def _sklearn_version():
    import sklearn

    return sklearn.__version__
