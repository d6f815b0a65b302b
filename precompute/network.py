"""Adversarial examples beyond linear models: a small network trained here.

DESIGN.md figure 2 and the article's last section (issue 14). A one-hidden-layer
ReLU network (scikit-learn's ``MLPClassifier``) is trained on the full training
set at a sweep of weight-decay levels, recording its train and test error after
every epoch; one test image of each digit is then pushed to every other digit
by a targeted gradient attack in input space, twice: at the network's own
softmax, and at the temperature that makes its median test score 0.95 (the
original article's protocol). ``tilting.precompute.network_analysis`` measures the
local tilt, the temperature and the cross-entropy histogram. The forward pass
and the input gradients (``tilting.precompute.network_model``) are numpy over the network's
``coefs_`` and ``intercepts_``, so the stored weights are all a reader (or the
browser) needs to check an adversarial image.

Plain functions over arrays. Weights are float64 throughout; images are kept
on float32-representable values during the attack so that the stored float32
adversarial images are exactly the ones the stopping rule was evaluated on.
"""

from __future__ import annotations

import platform
import time

import numpy as np
from threadpoolctl import threadpool_limits

from tilting.precompute.data import Digits
from tilting.precompute.network_model import NetworkError, logits, predict_proba, softmax, target_gradient
from tilting.precompute.schema import NETWORK_VERSION

EXPERIMENT_ID = "network-mnist"

# The weight-decay sweep (MLPClassifier's ``alpha``; sklearn adds alpha/(2·batch)·Σ‖W‖²
# to each mini-batch's mean loss). On MNIST test accuracy is unaffected up to about 0.1
# and clearly lower from 3 on (measured: 97.5 % at 1e-4, 95.4 % at 1, 88 % at 10, 79 % at 30).
SWEEP = {
    "mnist": (1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0),
    "sklearn-digits": (1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0),
}
DEFAULT_SEED = 0
# Hidden units whose input weights are stored as 28×28 images.
FILTER_UNITS = 16

# (hidden units, epochs) per dataset: on MNIST one epoch over all 60,000 images takes
# ~0.6 s of wall time on the quiet 2-core build machine, plus ~0.4 s to record the
# epoch's train and test error, so 9 networks × 12 epochs take about 2 minutes.
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


def train_network(X, y, weight_decay, hidden=128, epochs=12, seed=DEFAULT_SEED, on_epoch=None):
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
    weight_decay : float
        L2 weight decay.
    hidden : int
        Hidden ReLU units.
    epochs : int
        Passes over the data.
    seed : int
        Seeds the weight initialisation and the shuffles.
    on_epoch : callable, optional
        ``on_epoch(epoch, clf)`` after each epoch (to record the training history
        and move a progress bar).

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
        alpha=weight_decay,  # scikit-learn's name for the L2 weight decay
        max_iter=1,  # one epoch per partial_fit call
        shuffle=True,
        random_state=np.random.RandomState(seed),
    )
    for epoch in range(epochs):
        clf.partial_fit(X, y, classes=classes)
        if on_epoch is not None:
            on_epoch(epoch, clf)
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


def targeted_attack(
    X, targets, coefs, intercepts, *, step=ATTACK_STEP, max_steps=ATTACK_MAX_STEPS,
    threshold=TARGET_PROBABILITY, temperature=1.0,
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
    temperature : float
        Softmax temperature of the probability being pushed up (1: the network's own).

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
        grad, p = target_gradient(x[idx], targets[idx], coefs, intercepts, temperature)
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
    temperature = attack_options.get("temperature", 1.0)
    probability = predict_proba(images, coefs, intercepts, temperature)[np.arange(len(images)), target]
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
    digits: Digits, weight_decays=None, *, hidden=None, epochs=None, seed=DEFAULT_SEED,
    attack_options=None, progress=None,
):
    """Train one network per weight decay, attack, measure the local tilt; return bundle contents.

    Parameters
    ----------
    digits : Digits
        The full dataset; every training image is used.
    weight_decays : sequence of float, optional
        Weight-decay levels, weakest first. Default: ``SWEEP[digits.name]``.
    hidden, epochs : int, optional
        Default: ``ARCHITECTURE[digits.name]``.
    seed : int
        Seeds every network's initialisation and shuffles (the same for each
        weight decay, so hidden unit u starts from the same weights in all).
    attack_options : dict, optional
        ``step``, ``max_steps``, ``threshold`` for ``targeted_attack`` (both protocols).
    progress : callable, optional
        ``progress(k, label)`` after each training epoch of network ``k``, then
        ``progress(None, label)`` after each network's attacks and measurements.

    Returns
    -------
    manifest : dict
    arrays : dict of str to ndarray
    """
    # One BLAS thread: the products here are small (mini-batches of 200, attack steps of ≤ 90
    # images), and with two threads on a 2-core machine that others load too they run 4-15×
    # slower (the threads wait on each other); with one they are about as fast on a quiet one.
    with threadpool_limits(1):
        return _build_network_experiment(digits, weight_decays, hidden, epochs, seed, attack_options, progress)


def _build_network_experiment(digits, weight_decays, hidden, epochs, seed, attack_options, progress):
    from tilting.precompute import network_analysis as na

    default_hidden, default_epochs = ARCHITECTURE.get(digits.name, ARCHITECTURE["mnist"])
    hidden = default_hidden if hidden is None else hidden
    epochs = default_epochs if epochs is None else epochs
    weight_decays = tuple(SWEEP.get(digits.name, SWEEP["mnist"]) if weight_decays is None else weight_decays)
    if list(weight_decays) != sorted(set(weight_decays)) or min(weight_decays) <= 0:
        raise NetworkError("The weight decays must be positive, distinct and increasing.")
    options = {"step": ATTACK_STEP, "max_steps": ATTACK_MAX_STEPS, "threshold": TARGET_PROBABILITY}
    options.update(attack_options or {})
    tick = progress or (lambda k, label: None)
    started = time.time()
    X, y = digits.train_images, digits.train_labels
    Xt, yt = digits.test_images, digits.test_labels

    networks = []
    for k, weight_decay in enumerate(weight_decays):
        history = []

        def record(epoch, clf, k=k, weight_decay=weight_decay, history=history):
            # The curves are the errors of the weights as they are after each epoch.
            train_error = float((predict_proba(X, clf.coefs_, clf.intercepts_).argmax(1) != y).mean())
            test_error = float((predict_proba(Xt, clf.coefs_, clf.intercepts_).argmax(1) != yt).mean())
            history.append((clf.loss_, train_error, test_error))
            tick(k, f"α={weight_decay:g} epoch {epoch + 1}: test error {test_error:.4f}")

        t0 = time.time()
        clf = train_network(X, y, weight_decay, hidden=hidden, epochs=epochs, seed=seed, on_epoch=record)
        seconds = time.time() - t0
        coefs = [c.astype(np.float64) for c in clf.coefs_]
        intercepts = [b.astype(np.float64) for b in clf.intercepts_]
        networks.append((weight_decay, clf, coefs, intercepts, seconds, np.array(history)))

    test_scores = [logits(Xt, c, b)[0] for _, _, c, b, _, _ in networks]
    index = select_originals(yt, [z.argmax(axis=1) for z in test_scores])
    originals = Xt[index].astype(np.float32)
    means = na.class_means(X, y)
    sample = min(na.TILT_SAMPLE, len(yt))

    out = {name: [] for name in (
        "adv", "prob", "steps", "reached", "norms", "cal_adv", "cal_prob", "cal_steps", "cal_reached",
        "cal_norms", "tilt_orig", "tilt_adv", "sample_angle", "sample_distance", "ce_counts", "ce_loss",
        "temperature")}
    models = []
    for k, ((weight_decay, clf, coefs, intercepts, seconds, history), z) in enumerate(zip(networks, test_scores)):
        temperature = na.calibrate_temperature(z, yt)
        grids = {}
        for prefix, extra in (("", {}), ("cal_", {"temperature": temperature})):
            adv, prob, steps, reached = attack_grid(originals, coefs, intercepts, **options, **extra)
            norms = np.linalg.norm(adv - originals[:, None, :].astype(np.float64), axis=2)
            grids[prefix] = (adv, prob, steps, reached, norms)
            for name, value in zip(("adv", "prob", "steps", "reached", "norms"), grids[prefix]):
                out[prefix + name].append(value)
        adv, prob, steps, reached, norms = grids[""]
        tilt_orig = na.grid_tilt(np.repeat(originals[:, None, :], 10, axis=1).astype(np.float64),
                                 coefs, intercepts, means)
        tilt_adv = na.grid_tilt(adv, coefs, intercepts, means)
        s_angle, s_distance, s_norm = na.sample_tilt(Xt[:sample], yt[:sample], coefs, intercepts, means)
        p_train = predict_proba(X, coefs, intercepts)[np.arange(len(y)), y]
        ce_counts, ce_loss = na.cross_entropy_histogram(p_train)
        for name, value in (("tilt_orig", tilt_orig), ("tilt_adv", tilt_adv), ("sample_angle", s_angle),
                            ("sample_distance", s_distance), ("ce_counts", ce_counts), ("ce_loss", ce_loss),
                            ("temperature", temperature)):
            out[name].append(value)
        test_pred = z.argmax(axis=1)
        p_test = softmax(z)[np.arange(len(yt)), yt]
        models.append({
            "k": k,
            "weight_decay": float(weight_decay),
            "test_accuracy": float((test_pred == yt).mean()),
            "train_accuracy": float(1.0 - history[-1, 1]),
            "test_error": float(history[-1, 2]),
            "train_error": float(history[-1, 1]),
            "final_training_loss": float(clf.loss_),
            "mean_train_cross_entropy": float(ce_loss.sum()),
            "median_test_score": float(np.median(p_test)),
            "temperature": temperature,
            "training_seconds": round(seconds, 2),
            "weight_norm": float(np.sqrt(sum((c**2).sum() for c in coefs))),
            "rms_weights": [na.rms(c) for c in coefs],
            "attack": na.attack_summary(norms, reached, steps, prob),
            "attack_calibrated": na.attack_summary(*(grids["cal_"][i] for i in (4, 3, 2, 1))),
            "tilt": na.tilt_summary(tilt_orig, tilt_adv, reached, s_angle, s_distance, s_norm),
        })
        tick(None, f"α={weight_decay:g}: attacks and local tilt done")

    stack = {name: np.stack(values) for name, values in out.items()}
    layers = [int(networks[0][2][0].shape[0])] + [int(c.shape[1]) for c in networks[0][2]]
    units = list(range(min(FILTER_UNITS, hidden)))
    manifest = {
        "kind": "network",
        "network_version": NETWORK_VERSION,
        "title": "A small ReLU network trained here at a sweep of weight decays: targeted adversarial "
        "examples, training curves, filters and the local tilt",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.time() - started, 2),
        "dataset": digits.metadata(),
        "digits": list(range(10)),
        "counts": {"train": int(len(y)), "test": int(len(yt)), "features": int(X.shape[1]),
                   "tilt_sample": int(sample), "ce_bins": na.CE_BINS},
        "grid": {"weight_decay": [float(a) for a in weight_decays], "size": len(weight_decays)},
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
        "attack_calibrated": {"median_test_score": na.MEDIAN_TEST_SCORE,
                              "threshold": float(options["threshold"])},
        "filter_units": units,
        "rules": {
            "selection": SELECTION_RULE,
            "attack": ATTACK_RULE.format(**options),
            "attack_calibrated": na.TEMPERATURE_RULE.format(score=na.MEDIAN_TEST_SCORE, **options),
            "forward": "h = relu(x W0 + b0); p = softmax(h W1 + b1); network k's weights are arrays "
            "coef_<l>_k<k> (in, out) and intercept_<l>_k<k> (out,), one per network so that a reader "
            "checking one network fetches only its weights",
            "perturbations": "adversarial − original, stored as float32 for display; norms are "
            "computed from the images in float64",
            "history": "history_loss, history_train_error, history_test_error: after each epoch, sklearn's "
            "running training loss and the error of the weights as they are then on all training and test "
            "images; the last point is the stored network's error",
            "filters": "filters[k, u] = coef_0_k<k>[:, filter_units[u]], the input weights of a fixed set of hidden "
            "units (the first ones): every network starts from the same initial weights (one seed), so unit u "
            "is comparable across weight decays",
            "rms_weights": "per layer, sqrt(mean(W²)) over the layer's weight matrix (biases excluded)",
            "tilt": na.TILT_RULE.format(sample=sample),
            "distance": na.DISTANCE_RULE,
            "cross_entropy": na.CE_RULE.format(bins=na.CE_BINS),
            "next_class": "next_class_l2[c]: ‖δ‖₂ of the attack of digit c towards digit (c + 1) mod 10, "
            "the original article's table",
        },
        "original_index": [int(i) for i in index],
        "models": models,
        "software": {"python": platform.python_version(), "numpy": np.__version__,
                     "scikit-learn": _sklearn_version()},
    }
    arrays = {
        "originals": originals.astype("<f4"),
        "original_index": index.astype("<i4"),
        "adversarials": stack["adv"].astype("<f4"),
        "perturbations": (stack["adv"] - originals[None, :, None, :]).astype("<f4"),
        "target_probability": stack["prob"].astype("<f8"),
        "l2_norms": stack["norms"].astype("<f8"),
        "steps": stack["steps"].astype("<i4"),
        "reached": stack["reached"].astype("i1"),
        "temperature": stack["temperature"].astype("<f8"),
        "cal_adversarials": stack["cal_adv"].astype("<f4"),
        "cal_target_probability": stack["cal_prob"].astype("<f8"),
        "cal_l2_norms": stack["cal_norms"].astype("<f8"),
        "cal_steps": stack["cal_steps"].astype("<i4"),
        "cal_reached": stack["cal_reached"].astype("i1"),
        "loss_curves": np.stack([h[:, 0] for *_, h in networks]).astype("<f8"),
        "history_train_error": np.stack([h[:, 1] for *_, h in networks]).astype("<f8"),
        "history_test_error": np.stack([h[:, 2] for *_, h in networks]).astype("<f8"),
        "filters": np.stack([c[0][:, units].T for _, _, c, *_ in networks]).astype("<f4"),
        "class_means": means.astype("<f8"),
        "tilt_grid_original": stack["tilt_orig"].astype("<f8"),
        "tilt_grid_adversarial": stack["tilt_adv"].astype("<f8"),
        "tilt_sample_angle": stack["sample_angle"].astype("<f4"),
        "tilt_sample_distance": stack["sample_distance"].astype("<f4"),
        "tilt_sample_labels": yt[:sample].astype("<i4"),
        "ce_hist_counts": stack["ce_counts"].astype("<i4"),
        "ce_hist_loss": stack["ce_loss"].astype("<f8"),
    }
    for k, (_, _, coefs, intercepts, *_) in enumerate(networks):
        for layer, (W, b) in enumerate(zip(coefs, intercepts)):
            arrays[f"coef_{layer}_k{k}"] = W.astype("<f8")
            arrays[f"intercept_{layer}_k{k}"] = b.astype("<f8")
    return manifest, arrays


def stored_network(bundle, k):
    """(coefs, intercepts) of network ``k`` of a network bundle."""
    n_layers = len(bundle.manifest["architecture"]["layers"]) - 1
    coefs = [np.asarray(bundle.arrays[f"coef_{layer}_k{k}"]) for layer in range(n_layers)]
    intercepts = [np.asarray(bundle.arrays[f"intercept_{layer}_k{k}"]) for layer in range(n_layers)]
    return coefs, intercepts


def _sklearn_version():
    import sklearn

    return sklearn.__version__
