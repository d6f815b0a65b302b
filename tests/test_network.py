"""The network experiment: forward pass and gradient against sklearn and finite
differences, and a small real bundle whose adversarial images are re-checked
through the stored weights."""

import numpy as np
import pytest

from tilting.precompute import network as net
from tilting.precompute import network_model as nm
from tilting.precompute.artifacts import read_bundle, write_bundle
from tilting.precompute.data import Digits

SUBSET = 2000


@pytest.fixture(scope="module")
def small_mnist(mnist):
    """The first 2,000 training and 2,000 test images of real MNIST (fast, and still every digit)."""
    return Digits(
        train_images=mnist.train_images[:SUBSET], train_labels=mnist.train_labels[:SUBSET],
        test_images=mnist.test_images[:SUBSET], test_labels=mnist.test_labels[:SUBSET],
        name=mnist.name, side=mnist.side, source=mnist.source, checksums=mnist.checksums,
    )


@pytest.fixture(scope="module")
def clf(small_mnist):
    return net.train_network(small_mnist.train_images, small_mnist.train_labels, 1e-4, hidden=32, epochs=5)


def test_forward_pass_matches_sklearn(clf, small_mnist):
    X = small_mnist.test_images[:500]
    p = nm.predict_proba(X, clf.coefs_, clf.intercepts_)
    np.testing.assert_allclose(p, clf.predict_proba(X), rtol=0, atol=1e-10)
    # and the rebuilt classifier is the same function
    rebuilt = net.classifier_from_weights(clf.coefs_, clf.intercepts_)
    np.testing.assert_allclose(rebuilt.predict_proba(X), clf.predict_proba(X), rtol=0, atol=1e-12)


def test_gradient_matches_finite_differences(clf, small_mnist):
    rng = np.random.default_rng(0)
    x = np.clip(small_mnist.test_images[:3] + rng.normal(0, 0.05, (3, 784)), 0, 1)
    targets = np.array([3, 7, 0])
    grad, p = nm.target_gradient(x, targets, clf.coefs_, clf.intercepts_)
    np.testing.assert_allclose(p, clf.predict_proba(x), atol=1e-12)

    def log_p(z):
        return np.log(clf.predict_proba(z)[np.arange(len(z)), targets])

    eps = 1e-6
    for i in rng.choice(784, size=40, replace=False):
        dx = np.zeros_like(x)
        dx[:, i] = eps
        numeric = (log_p(x + dx) - log_p(x - dx)) / (2 * eps)
        np.testing.assert_allclose(grad[:, i], numeric, rtol=1e-4, atol=1e-7)
    # and along a random direction (all pixels at once)
    v = rng.normal(size=x.shape)
    numeric = (log_p(x + eps * v) - log_p(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose((grad * v).sum(axis=1), numeric, rtol=1e-4)


def test_attack_reaches_target_and_stays_in_box(clf, small_mnist):
    X = small_mnist.test_images[:4]
    targets = np.array([1, 2, 3, 4])
    adv, prob, steps, reached = net.targeted_attack(X, targets, clf.coefs_, clf.intercepts_)
    assert reached.all() and (steps > 0).all()
    assert adv.min() >= 0 and adv.max() <= 1
    np.testing.assert_array_equal(adv, adv.astype(np.float32))
    np.testing.assert_allclose(prob, clf.predict_proba(adv)[np.arange(4), targets], atol=1e-12)
    assert (clf.predict(adv) == targets).all()


def test_attack_reports_failure_at_the_step_limit(clf, small_mnist):
    X = small_mnist.test_images[:2]
    adv, prob, steps, reached = net.targeted_attack(X, np.array([5, 6]), clf.coefs_, clf.intercepts_, max_steps=3)
    assert not reached.any() and (steps == 3).all() and (prob < 0.95).all()
    assert np.linalg.norm(adv - X, axis=1).max() <= 3 * net.ATTACK_STEP + 1e-6


def test_select_originals_rule():
    labels = np.array([1, 0, 0, 2, 1, 0] + list(range(3, 10)))
    a = labels.copy()
    b = labels.copy()
    a[1] = 5  # the first 0 is wrong for network a
    b[2] = 7  # the second 0 is wrong for network b
    index = net.select_originals(labels, [a, b])
    assert index[0] == 5 and index[1] == 0 and index[2] == 3
    with pytest.raises(nm.NetworkError, match="digit 4"):
        net.select_originals(labels, [np.where(labels == 4, 0, labels)])


WEIGHT_DECAYS = (1e-4, 1.0, 10.0)
EPOCHS = 5


@pytest.fixture(scope="module")
def bundle(small_mnist, tmp_path_factory):
    manifest, arrays = net.build_network_experiment(small_mnist, weight_decays=WEIGHT_DECAYS, hidden=32, epochs=EPOCHS)
    return read_bundle(write_bundle(tmp_path_factory.mktemp("artifacts"), net.EXPERIMENT_ID, manifest, arrays))


def _sklearn(bundle, k):
    return net.classifier_from_weights(*net.stored_network(bundle, k))


def test_stored_adversarials_fool_the_stored_networks(bundle):
    """Both protocols: each stored adversarial has the stored p(target) under the stored weights
    (sklearn's own forward pass; the calibrated one at the stored temperature), and those
    marked reached are at or above the threshold and classified as the target."""
    off = ~np.eye(10, dtype=bool)
    for prefix in ("", "cal_"):
        adv = np.asarray(bundle.arrays[f"{prefix}adversarials"], dtype=np.float64)
        reached = bundle.arrays[f"{prefix}reached"].astype(bool)
        assert reached[:, off].mean() > 0.9  # a real network, not a vacuous check
        for k in range(len(WEIGHT_DECAYS)):
            temperature = bundle.arrays["temperature"][k] if prefix else 1.0
            assert bundle.manifest["models"][k]["temperature"] == temperature or prefix == ""
            coefs, intercepts = net.stored_network(bundle, k)
            sk = net.classifier_from_weights(coefs, intercepts)
            for source in range(10):
                # sklearn's probabilities give z up to a constant: log p = z − logsumexp(z).
                z = np.log(sk.predict_proba(adv[k, source]))
                p = nm.softmax(z / temperature)
                np.testing.assert_allclose(p, nm.predict_proba(adv[k, source], coefs, intercepts, temperature),
                                           rtol=0, atol=1e-9)
                p_target = p[np.arange(10), np.arange(10)]
                np.testing.assert_allclose(p_target, bundle.arrays[f"{prefix}target_probability"][k, source],
                                           atol=1e-9)
                ok = reached[k, source] & off[source]
                assert (p_target[ok] >= net.TARGET_PROBABILITY).all()
                assert (p[ok].argmax(axis=1) == np.flatnonzero(ok)).all()
                assert (p_target[off[source] & ~reached[k, source]] < net.TARGET_PROBABILITY).all()


def test_calibrated_temperature_gives_median_test_score_095(bundle, small_mnist):
    for k, m in enumerate(bundle.manifest["models"]):
        p = _sklearn(bundle, k).predict_proba(small_mnist.test_images)
        z = np.log(p)
        p_y = nm.softmax(z / m["temperature"])[np.arange(len(z)), small_mnist.test_labels]
        assert np.median(p_y) == pytest.approx(0.95, abs=1e-6)
        assert m["median_test_score"] == pytest.approx(np.median(p[np.arange(len(z)), small_mnist.test_labels]))
        # The calibrated attacks' norms are the stored images' distances, as for the other protocol.
        adv = np.asarray(bundle.arrays["cal_adversarials"][k], dtype=np.float64)
        originals = np.asarray(bundle.arrays["originals"], dtype=np.float64)
        np.testing.assert_allclose(bundle.arrays["cal_l2_norms"][k],
                                   np.linalg.norm(adv - originals[:, None, :], axis=-1), rtol=1e-12)
        assert m["attack_calibrated"]["next_class_l2"] == pytest.approx(
            [bundle.arrays["cal_l2_norms"][k, c, (c + 1) % 10] for c in range(10)])


def test_stored_norms_images_and_diagonal(bundle, small_mnist):
    adv = np.asarray(bundle.arrays["adversarials"], dtype=np.float64)
    originals = np.asarray(bundle.arrays["originals"], dtype=np.float64)
    index = bundle.arrays["original_index"]
    np.testing.assert_array_equal(small_mnist.test_labels[index], np.arange(10))
    np.testing.assert_allclose(originals, small_mnist.test_images[index], atol=1e-7)
    assert adv.min() >= 0 and adv.max() <= 1
    norms = np.sqrt(((adv - originals[None, :, None, :]) ** 2).sum(axis=-1))
    np.testing.assert_allclose(bundle.arrays["l2_norms"], norms, rtol=1e-12)
    np.testing.assert_allclose(bundle.arrays["perturbations"], adv - originals[None, :, None, :], atol=1e-7)
    for k in range(len(WEIGHT_DECAYS)):
        np.testing.assert_array_equal(adv[k, np.arange(10), np.arange(10)], originals)
        assert (bundle.arrays["steps"][k][np.eye(10, dtype=bool)] == 0).all()
    models = bundle.manifest["models"]
    off = ~np.eye(10, dtype=bool)
    for k, m in enumerate(models):
        ok = off & bundle.arrays["reached"][k].astype(bool)
        assert m["attack"]["success_rate"] == pytest.approx(ok.sum() / 90)
        assert m["attack"]["median_l2_reached"] == pytest.approx(np.median(norms[k][ok]))
        acc = (_sklearn(bundle, k).predict(small_mnist.test_images) == small_mnist.test_labels).mean()
        assert m["test_accuracy"] == pytest.approx(acc)
    assert bundle.manifest["architecture"]["layers"] == [784, 32, 10]
    assert bundle.manifest["dataset"]["name"] == "mnist"
    assert bundle.manifest["grid"]["weight_decay"] == list(WEIGHT_DECAYS)


def _finite_difference_gradient(sk, x, source, target, eps=1e-6):
    """∇ₓ(z_t − z_s) by central differences of sklearn's log-probabilities (log p_t − log p_s = z_t − z_s)."""
    steps = np.eye(len(x)) * eps
    def margin(X):  # noqa: E306
        logp = np.log(sk.predict_proba(X))
        return logp[:, target] - logp[:, source]
    return (margin(x + steps) - margin(x - steps)) / (2 * eps)


def _angle(u, v):
    return np.degrees(np.arccos(np.clip(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)), -1, 1)))


def test_local_tilt_angles_match_finite_differences(bundle, small_mnist):
    """The stored local tilting angles, recomputed from a finite-difference gradient through
    sklearn's forward pass and class means recomputed from the training images."""
    X, y = small_mnist.train_images, small_mnist.train_labels
    means = np.stack([X[y == c].mean(axis=0) for c in range(10)])
    np.testing.assert_allclose(bundle.arrays["class_means"], means, rtol=1e-12)
    labels = bundle.arrays["tilt_sample_labels"]
    np.testing.assert_array_equal(labels, small_mnist.test_labels[: len(labels)])
    originals = np.asarray(bundle.arrays["originals"], dtype=np.float64)
    for k in (0, len(WEIGHT_DECAYS) - 1):
        sk = _sklearn(bundle, k)
        for i, column in ((0, 0), (7, 4), (123, 8)):
            source = labels[i]
            target = (source + 1 + column) % 10
            x = small_mnist.test_images[i]
            grad = _finite_difference_gradient(sk, x, source, target)
            angle = _angle(grad, means[target] - means[source])
            assert bundle.arrays["tilt_sample_angle"][k, i, column] == pytest.approx(angle, abs=1e-3)
            logp = np.log(sk.predict_proba(x[None]))[0]
            distance = (logp[source] - logp[target]) / np.linalg.norm(grad)
            assert bundle.arrays["tilt_sample_distance"][k, i, column] == pytest.approx(distance, rel=1e-4)
        for source, target in ((2, 0), (7, 1)):
            for name, x in (("original", originals[source]),
                            ("adversarial", np.asarray(bundle.arrays["adversarials"][k, source, target], np.float64))):
                grad = _finite_difference_gradient(sk, x, source, target)
                stored = bundle.arrays[f"tilt_grid_{name}"][k, source, target]
                assert stored == pytest.approx(_angle(grad, means[target] - means[source]), abs=1e-3)
        assert (bundle.arrays["tilt_grid_original"][k][np.eye(10, dtype=bool)] == -1).all()
        tilt = bundle.manifest["models"][k]["tilt"]
        assert tilt["median_angle_sample"] == pytest.approx(np.median(bundle.arrays["tilt_sample_angle"][k]), abs=1e-4)


def test_curves_come_from_the_training_history(bundle, small_mnist):
    """The last point of each curve is the stored network's error, and retraining with the same
    seed reproduces the first epochs' points (the curves are the training's own history)."""
    train_err = bundle.arrays["history_train_error"]
    test_err = bundle.arrays["history_test_error"]
    assert train_err.shape == test_err.shape == bundle.arrays["loss_curves"].shape == (len(WEIGHT_DECAYS), EPOCHS)
    for k, m in enumerate(bundle.manifest["models"]):
        sk = _sklearn(bundle, k)
        assert test_err[k, -1] == pytest.approx((sk.predict(small_mnist.test_images) != small_mnist.test_labels).mean())
        assert train_err[k, -1] == pytest.approx((sk.predict(small_mnist.train_images) != small_mnist.train_labels).mean())
        assert m["test_error"] == test_err[k, -1] and m["train_error"] == train_err[k, -1]
    seen = []

    def record(epoch, clf):
        seen.append((clf.loss_, (clf.predict(small_mnist.test_images) != small_mnist.test_labels).mean()))

    net.train_network(small_mnist.train_images, small_mnist.train_labels, WEIGHT_DECAYS[-1], hidden=32, epochs=2,
                      on_epoch=record)
    np.testing.assert_allclose([s[0] for s in seen], bundle.arrays["loss_curves"][-1, :2], rtol=1e-12)
    np.testing.assert_allclose([s[1] for s in seen], test_err[-1, :2], rtol=0, atol=0)


def test_filters_rms_and_cross_entropy_histogram(bundle, small_mnist):
    units = bundle.manifest["filter_units"]
    assert units == list(range(16))
    X, y = small_mnist.train_images, small_mnist.train_labels
    for k, m in enumerate(bundle.manifest["models"]):
        coefs, _ = net.stored_network(bundle, k)
        np.testing.assert_allclose(bundle.arrays["filters"][k], coefs[0][:, units].T, rtol=1e-6)
        assert m["rms_weights"] == pytest.approx([np.sqrt((c**2).mean()) for c in coefs])
        p_y = _sklearn(bundle, k).predict_proba(X)[np.arange(len(y)), y]
        counts, _ = np.histogram(p_y, bins=np.linspace(0, 1, 51))
        np.testing.assert_array_equal(bundle.arrays["ce_hist_counts"][k], counts)
        assert bundle.arrays["ce_hist_loss"][k].sum() == pytest.approx(-np.log(p_y).mean(), rel=1e-9)
        assert m["mean_train_cross_entropy"] == pytest.approx(-np.log(p_y).mean(), rel=1e-9)
    # Stronger weight decay, smaller weights: the filters' RMS falls along the sweep.
    rms0 = [m["rms_weights"][0] for m in bundle.manifest["models"]]
    assert rms0 == sorted(rms0, reverse=True)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda m: m.pop("network_version"), "older layout"),
    (lambda m: m.update(network_version=1), "rebuild it with `tilting precompute --network`"),
    (lambda m: m["models"][1]["tilt"].pop("q25_angle_sample"), "q25_angle_sample"),
    (lambda m: m["models"][0]["attack_calibrated"].update(attacks_reached="90"), "attacks_reached"),
    (lambda m: m["grid"]["weight_decay"].reverse(), "weight decay"),
    (lambda m: m["models"][2]["rms_weights"].pop(), "RMS weights"),
    (lambda m: m["models"].pop(), "models"),
])
def test_schema_refuses_damaged_network_bundles(bundle, tmp_path, damage, message):
    import shutil

    from tilting.precompute.artifacts import BundleError
    from tests.bundles import rewrite_manifest

    copy = tmp_path / "network-mnist"
    shutil.copytree(bundle.path, copy)
    rewrite_manifest(copy, damage)
    with pytest.raises(BundleError, match="does not fit the bundle schema") as info:
        read_bundle(copy)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_fallback_dataset_runs_with_the_small_network():
    from tilting.precompute.data import load_sklearn_digits

    digits = load_sklearn_digits()
    manifest, arrays = net.build_network_experiment(digits, weight_decays=(1e-4, 1.0), epochs=30)
    assert manifest["architecture"]["layers"] == [64, net.ARCHITECTURE["sklearn-digits"][0], 10]
    assert manifest["dataset"]["image_side"] == 8
    assert arrays["adversarials"].shape == (2, 10, 10, 64)
    assert arrays["filters"].shape == (2, 16, 64)
    assert min(m["test_accuracy"] for m in manifest["models"]) > 0.8


def test_weight_decays_must_increase(small_mnist):
    with pytest.raises(nm.NetworkError, match="increasing"):
        net.build_network_experiment(small_mnist, weight_decays=(1.0, 1e-4), hidden=8, epochs=1)


@pytest.mark.slow
def test_cli_network_without_mnist_uses_the_fallback_and_says_so(no_mnist, capsys):
    from tilting.cli.main import main

    out = no_mnist / "artifacts"
    assert main(["precompute", "--network", "--out", str(out), "--quiet"]) == 0
    bundle = read_bundle(out / net.EXPERIMENT_ID)
    assert bundle.manifest["dataset"]["name"] == "sklearn-digits"
    assert "MNIST was not found" in bundle.manifest["dataset"]["notice"]
    assert "NOTICE" in capsys.readouterr().err
    assert bundle.manifest["grid"]["weight_decay"] == list(net.SWEEP["sklearn-digits"])
