"""A real MNIST bundle checked against DESIGN.md's definitions, recomputed with numpy."""

import numpy as np
import pytest

from tilting.precompute.data import select_pair
from tilting.precompute.geometry import box_adversarial


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


def test_bias_is_the_optimal_bias_nearest_the_centre(data):
    """b is the point of [bias_low, bias_high] closest to −w·m; bias_midpoint is libsvm's midpoint;
    every number derived from the bias uses b."""
    bundle, pair = data
    X, y = pair.X_train, pair.y_train
    m = 0.5 * (X[y < 0].mean(axis=0) + X[y > 0].mean(axis=0))
    models = bundle.manifest["models"]
    wide = 0
    for k, model in enumerate(models):
        w = bundle.arrays["weights"][k].astype(float)
        lo, hi = model["bias_low"], model["bias_high"]
        assert lo <= model["b"] <= hi
        assert model["bias_midpoint"] == pytest.approx(0.5 * (lo + hi), abs=1e-15)
        assert model["b"] == pytest.approx(min(max(-w @ m, lo), hi), rel=1e-5, abs=1e-7)
        assert float(bundle.arrays["intercepts"][k]) == pytest.approx(model["b"], rel=1e-6)
        assert model["b_prime"] == pytest.approx(model["b"] / model["w_norm"], rel=1e-12)
        assert model["boundary_offset"] == pytest.approx((w @ m + model["b"]) / model["w_norm"], rel=1e-4, abs=1e-6)
        if hi - lo > 1e-6:
            wide += 1
            # Every point inside the margin: the interval's ends are set by each class's most
            # extreme training image, and its midpoint lies halfway (in score) between the
            # lowest-scoring I image and the highest-scoring J image.
            s = X @ w
            assert (y * (s + lo) <= 1 + 1e-5).all() and (y * (s + hi) <= 1 + 1e-5).all()
            assert lo == pytest.approx(-1 - s[y < 0].min(), rel=1e-5)
            assert hi == pytest.approx(1 - s[y > 0].max(), rel=1e-5)
            assert model["bias_midpoint"] == pytest.approx(-(s[y < 0].min() + s[y > 0].max()) / 2, abs=1e-6)
            # The boundary passes through m: the nearest-centroid classifier.
            assert model["b"] == pytest.approx(-w @ m, rel=1e-5)
            assert model["theta_deg"] < 1e-6
    assert wide >= 2  # λ = 10 and 100
    assert models[-1]["b"] != pytest.approx(models[-1]["bias_midpoint"], rel=0.1)
    assert "closest to −w·m" in bundle.manifest["rules"]["bias"]


def _defaults_by_the_rule(bundle, pair, label):
    """The manifest's stated rule, recomputed from the bundle's weights and the raw test images."""
    W = bundle.arrays["weights"].astype(float)
    B = np.array([model["b"] for model in bundle.manifest["models"]])
    yd = pair.y_test * (W @ pair.X_test.T + B[:, None]) / np.linalg.norm(W, axis=1)[:, None]
    grid = np.array(bundle.manifest["grid"]["log10_lambda"])
    strongest, weakest = int(np.argmax(grid)), int(np.argmin(grid))
    members = np.flatnonzero(pair.y_test == label)
    correct = members[(yd[:, members] > 0).all(axis=0)]
    median = np.median(yd[strongest, correct])
    grows = correct[yd[strongest, correct] >= 5 * yd[weakest, correct]]
    best = grows[np.argmin(np.abs(yd[strongest, grows] - median))]
    return best, yd[:, best], median, len(grows)


def test_default_images_follow_the_stated_rule(data):
    bundle, pair = data
    defaults = bundle.manifest["defaults"]
    a = bundle.arrays
    grid = np.array(bundle.manifest["grid"]["log10_lambda"])
    assert "nearest that median" in defaults["rule"] and "at least 5 times" in defaults["rule"]
    assert defaults["rule"] == bundle.manifest["rules"]["defaults"]
    for key, label, digit in (("x", -1, 2), ("y", 1, 3)):
        chosen = defaults[key]
        position, yd, median, count = _defaults_by_the_rule(bundle, pair, label)
        assert count > 0
        assert chosen["test_position"] == position and chosen["label"] == label and chosen["digit"] == digit
        assert chosen["dataset_index"] == int(pair.test_index[position])
        assert chosen["candidates"] == count
        assert chosen["median_y_d_strongest"] == pytest.approx(median, rel=1e-5)
        assert chosen["y_d_strongest"] == pytest.approx(yd[np.argmax(grid)], rel=1e-5)
        assert chosen["y_d_weakest"] == pytest.approx(yd[np.argmin(grid)], rel=1e-4, abs=1e-6)
        assert (yd > 0).all()  # correct under every model
        # In the gallery, first among its class.
        g = chosen["gallery"]
        assert a["gallery_index"][g] == chosen["dataset_index"] and a["gallery_y"][g] == label
        assert g == int(np.flatnonzero(a["gallery_y"] == label)[0])
        np.testing.assert_allclose(a["gallery_images"][g], pair.X_test[position], atol=1e-7)
        # The point of the rule: the mirror image moves ≥ 3× farther at λ = 1 than at λ = 1e-6.
        k1, k6 = int(np.argmin(np.abs(grid - 0.0))), int(np.argmin(np.abs(grid + 6.0)))
        assert yd[k1] >= 3 * yd[k6]


def test_gallery_is_the_default_then_the_first_test_images_of_each_digit(data, mnist):
    bundle, _ = data
    a = bundle.arrays
    defaults = bundle.manifest["defaults"]
    expected = []
    for digit, key in ((2, "x"), (3, "y")):
        first = defaults[key]["dataset_index"]
        others = [int(i) for i in np.flatnonzero(mnist.test_labels == digit) if i != first][:11]
        expected += [first, *others]
    assert a["gallery_index"].tolist() == expected
    np.testing.assert_allclose(a["gallery_images"][1], mnist.test_images[expected[1]], atol=1e-7)
    assert a["gallery_y"].tolist() == [-1] * 12 + [1] * 12


def test_histograms_cover_every_point(data):
    bundle, _ = data
    a = bundle.arrays
    assert (a["hist_train"].sum(axis=1) == 600).all()
    assert (a["hist_test"].sum(axis=1) == 2042).all()


def test_an_uncertified_path_is_refused_with_one_sentence_naming_the_model(mnist, monkeypatch):
    """The solve step turns an uncertified model into an error before geometry is computed."""
    import tilting.precompute.experiment as experiment

    solve = experiment.svm_path
    monkeypatch.setattr(experiment, "svm_path", lambda *a, **k: solve(*a, **{**k, "max_iter": 1}))
    pair = select_pair(mnist, 2, 3, per_class=100)
    with pytest.raises(experiment.UncertifiedPathError, match=r"not certified \(log10 λ = .*-4") as caught:
        experiment.solve(pair, [-4.0, 0.0])
    assert str(caught.value).count(".") <= 3 and "\n" not in str(caught.value)


def test_build_steps_compose_to_the_bundle(data, mnist):
    """solve → plane_geometry → model_metrics → pack gives the bundle build_experiment gives."""
    import tilting.precompute.experiment as experiment

    bundle, pair = data
    grid = bundle.manifest["grid"]["log10_lambda"]
    path = experiment.solve(pair, grid)
    geometry = experiment.plane_geometry(pair, path)
    metrics = experiment.model_metrics(pair, path, geometry)
    manifest, arrays = experiment.pack(mnist, (2, 3), 300, pair, path, geometry, metrics, 0.0)
    assert set(arrays) == set(bundle.arrays)
    for name, array in arrays.items():
        np.testing.assert_allclose(array, bundle.arrays[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert [m["relative_gap"] <= 1e-9 for m in manifest["models"]] == [True] * len(grid)
    assert manifest["defaults"] == bundle.manifest["defaults"]
