"""A real MNIST bundle checked against DESIGN.md's definitions, recomputed with numpy."""

import numpy as np
import pytest

from precompute.data import select_pair
from precompute.geometry import box_adversarial


@pytest.fixture(scope="module")
def data(small_bundle, mnist):
    pair = select_pair(mnist, 2, 3, per_class=300)
    return small_bundle, pair


def test_counts_and_grid(data):
    bundle, pair = data
    m = bundle.manifest
    assert m["counts"]["train"] == 600 and m["counts"]["test"] == 2042
    assert m["grid"]["size"] == 9 and len(m["models"]) == 9
    assert bundle.arrays["weights"].shape == (9, 784)
    assert m["dataset"]["name"] == "mnist" and len(m["dataset"]["checksums"]) == 4


def test_metrics_follow_definitions(data):
    bundle, pair = data
    X, y = pair.X_train, pair.y_train
    i, j = X[y < 0].mean(0), X[y > 0].mean(0)
    z = (j - i) / np.linalg.norm(j - i)
    for model, w, b in zip(bundle.manifest["models"], bundle.arrays["weights"], bundle.arrays["intercepts"]):
        w = w.astype(float)
        d = (X @ w + b) / np.linalg.norm(w)
        assert model["d_adv"] == pytest.approx(np.mean(y * d), rel=1e-4, abs=1e-6)
        # balanced classes: d_adv = ½‖j − i‖ cos θ
        assert model["d_adv"] == pytest.approx(0.5 * np.linalg.norm(j - i) * np.cos(model["theta"]), rel=1e-4)
        assert model["theta"] == pytest.approx(np.arccos(np.clip(w @ z / np.linalg.norm(w), -1, 1)), abs=1e-3)
        assert model["train_error"] == pytest.approx(np.mean(y * d <= 0))
        assert model["d_err"] == pytest.approx(-np.sum((y * d)[y * d <= 0]) / len(y), abs=1e-6)
        assert model["relative_gap"] <= 1e-9


def test_plane_coordinates_and_boundary(data):
    bundle, pair = data
    a = bundle.arrays
    X = pair.X_train
    m = a["centroids"].mean(axis=0)
    for k, model in enumerate(bundle.manifest["models"]):
        w, b = a["weights"][k].astype(float), float(a["intercepts"][k])
        d = (X @ w + b) / np.linalg.norm(w)
        u, v = a["train_u"].astype(float), a["train_v"][k].astype(float)
        np.testing.assert_allclose(u, (X - m) @ a["z_hat"], atol=1e-4)
        from_plane = np.cos(model["theta"]) * u + np.sin(model["theta"]) * v + model["boundary_offset"]
        np.testing.assert_allclose(from_plane, d, atol=2e-4)


def test_robustness_arrays(data):
    bundle, pair = data
    a = bundle.arrays
    k = 4
    w, b = a["weights"][k].astype(float), float(a["intercepts"][k])
    _, dist = box_adversarial(pair.X_test[:50], w, b, overshoot=0.0)
    np.testing.assert_allclose(a["test_box_distance"][k][:50], dist, rtol=1e-4)
    correct = pair.y_test * (pair.X_test @ w + b) > 0
    radii = bundle.manifest["robust_radii"]
    expected = (correct & (a["test_box_distance"][k] > radii[10])).mean()
    assert a["robust_accuracy"][k][10] == pytest.approx(expected)
    assert a["robust_accuracy"][k][0] == pytest.approx(1 - bundle.manifest["models"][k]["test_error"])


def test_gallery_is_the_first_test_images_of_each_digit(data, mnist):
    bundle, _ = data
    a = bundle.arrays
    twos = np.flatnonzero(mnist.test_labels == 2)[:12]
    threes = np.flatnonzero(mnist.test_labels == 3)[:12]
    assert a["gallery_index"].tolist() == twos.tolist() + threes.tolist()
    np.testing.assert_allclose(a["gallery_images"][0], mnist.test_images[twos[0]], atol=1e-7)
    assert a["gallery_y"].tolist() == [-1] * 12 + [1] * 12


def test_histograms_cover_every_point(data):
    bundle, _ = data
    a = bundle.arrays
    assert (a["hist_train"].sum(axis=1) == 600).all()
    assert (a["hist_test"].sum(axis=1) == 2042).all()
