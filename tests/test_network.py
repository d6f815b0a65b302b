"""The network experiment: forward pass and gradient against sklearn and finite
differences, and a small real bundle whose adversarial images are re-checked
through the stored weights."""

import numpy as np
import pytest

from precompute import network as net
from precompute.artifacts import read_bundle, write_bundle
from precompute.data import Digits

SUBSET = 2000


@pytest.fixture(scope="module")
def small_mnist(mnist):
    """The first 2,000 training images of real MNIST, with the full test set."""
    return Digits(
        train_images=mnist.train_images[:SUBSET], train_labels=mnist.train_labels[:SUBSET],
        test_images=mnist.test_images, test_labels=mnist.test_labels,
        name=mnist.name, side=mnist.side, source=mnist.source, checksums=mnist.checksums,
    )


@pytest.fixture(scope="module")
def clf(small_mnist):
    return net.train_network(small_mnist.train_images, small_mnist.train_labels, 1e-4, hidden=32, epochs=5)


def test_forward_pass_matches_sklearn(clf, small_mnist):
    X = small_mnist.test_images[:500]
    p = net.predict_proba(X, clf.coefs_, clf.intercepts_)
    np.testing.assert_allclose(p, clf.predict_proba(X), rtol=0, atol=1e-10)
    # and the rebuilt classifier is the same function
    rebuilt = net.classifier_from_weights(clf.coefs_, clf.intercepts_)
    np.testing.assert_allclose(rebuilt.predict_proba(X), clf.predict_proba(X), rtol=0, atol=1e-12)


def test_gradient_matches_finite_differences(clf, small_mnist):
    rng = np.random.default_rng(0)
    x = np.clip(small_mnist.test_images[:3] + rng.normal(0, 0.05, (3, 784)), 0, 1)
    targets = np.array([3, 7, 0])
    grad, p = net.target_gradient(x, targets, clf.coefs_, clf.intercepts_)
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
    with pytest.raises(net.NetworkError, match="digit 4"):
        net.select_originals(labels, [np.where(labels == 4, 0, labels)])


@pytest.fixture(scope="module")
def bundle(small_mnist, tmp_path_factory):
    manifest, arrays = net.build_network_experiment(small_mnist, alphas=(1e-4, 1.0), hidden=32, epochs=5)
    return read_bundle(write_bundle(tmp_path_factory.mktemp("artifacts"), net.EXPERIMENT_ID, manifest, arrays))


def test_stored_adversarials_fool_the_stored_networks(bundle):
    adv = np.asarray(bundle.arrays["adversarials"], dtype=np.float64)
    reached = bundle.arrays["reached"].astype(bool)
    off = ~np.eye(10, dtype=bool)
    assert reached[:, off].mean() > 0.9  # a real network, not a vacuous check
    for k in range(2):
        coefs, intercepts = net.stored_network(bundle, k)
        sk = net.classifier_from_weights(coefs, intercepts)
        for source in range(10):
            p_ours = net.predict_proba(adv[k, source], coefs, intercepts)
            p_sk = sk.predict_proba(adv[k, source])
            np.testing.assert_allclose(p_ours, p_sk, rtol=0, atol=1e-10)
            p_target = p_sk[np.arange(10), np.arange(10)]
            np.testing.assert_allclose(p_target, bundle.arrays["target_probability"][k, source], atol=1e-10)
            ok = reached[k, source] & off[source]
            assert (p_target[ok] >= net.TARGET_PROBABILITY).all()
            assert (p_sk[ok].argmax(axis=1) == np.flatnonzero(ok)).all()
            assert (p_target[off[source] & ~reached[k, source]] < net.TARGET_PROBABILITY).all()


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
    for k in range(2):
        np.testing.assert_array_equal(adv[k, np.arange(10), np.arange(10)], originals)
        assert (bundle.arrays["steps"][k][np.eye(10, dtype=bool)] == 0).all()
    models = bundle.manifest["models"]
    off = ~np.eye(10, dtype=bool)
    for k, m in enumerate(models):
        ok = off & bundle.arrays["reached"][k].astype(bool)
        assert m["success_rate"] == pytest.approx(ok.sum() / 90)
        assert m["median_l2_reached"] == pytest.approx(np.median(norms[k][ok]))
        coefs, intercepts = net.stored_network(bundle, k)
        acc = (net.predict_proba(small_mnist.test_images, coefs, intercepts).argmax(1) == small_mnist.test_labels).mean()
        assert m["test_accuracy"] == pytest.approx(acc)
    assert bundle.manifest["architecture"]["layers"] == [784, 32, 10]
    assert bundle.manifest["dataset"]["name"] == "mnist"


def test_fallback_dataset_runs_with_the_small_network():
    from precompute.data import load_sklearn_digits

    digits = load_sklearn_digits()
    manifest, arrays = net.build_network_experiment(digits, alphas=(1e-4, 1.0), epochs=30)
    assert manifest["architecture"]["layers"] == [64, net.ARCHITECTURE["sklearn-digits"][0], 10]
    assert manifest["dataset"]["image_side"] == 8
    assert arrays["adversarials"].shape == (2, 10, 10, 64)
    assert min(m["test_accuracy"] for m in manifest["models"]) > 0.8


def test_cli_network_without_mnist_uses_the_fallback_and_says_so(no_mnist, capsys):
    from precompute.cli import main

    out = no_mnist / "artifacts"
    assert main(["precompute", "--network", "--out", str(out), "--quiet"]) == 0
    bundle = read_bundle(out / net.EXPERIMENT_ID)
    assert bundle.manifest["dataset"]["name"] == "sklearn-digits"
    assert "MNIST was not found" in bundle.manifest["dataset"]["notice"]
    assert "NOTICE" in capsys.readouterr().err
