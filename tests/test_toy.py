"""The toy problem: closed forms checked by hand-built images, and the trained tilt."""

import numpy as np
import pytest

from tilting.precompute import toy
from tilting.precompute.artifacts import read_bundle, write_bundle


@pytest.mark.parametrize("h", [1, 3, 20, 50])
def test_basis_is_orthonormal_and_matches_the_halves(h):
    e1, e2 = toy.basis(h)
    assert e1.shape == (2 * h * h,)
    np.testing.assert_allclose([e1 @ e1, e2 @ e2, e1 @ e2], [1.0, 1.0, 0.0], atol=1e-12)
    image = e1.reshape(h, 2 * h)
    assert (image[:, :h] > 0).all() and (image[:, h:] == 0).all()


def test_toy_images_hold_the_levels_pixel_by_pixel():
    X = toy.toy_images([-0.5, 0.3], 3, right_levels=[0.0, 0.2]).reshape(2, 3, 6)
    assert (X[0, :, :3] == -0.5).all() and (X[0, :, 3:] == 0).all()
    np.testing.assert_allclose(X[1, :, :3], 0.3)
    np.testing.assert_allclose(X[1, :, 3:], 0.2)


def test_sampled_levels_lie_in_their_class_intervals():
    levels, y = toy.sample_levels(500, np.random.default_rng(1))
    assert ((levels[y < 0] >= -1) & (levels[y < 0] <= -0.1)).all()
    assert ((levels[y > 0] >= 0.1) & (levels[y > 0] <= 1)).all()


@pytest.mark.parametrize("h", [1, 2, 20, 50])  # d = 2 … 5,000
@pytest.mark.parametrize("theta_deg", [0.0, 30.0, 80.0, 89.9])
def test_mirror_distance_closed_form(h, theta_deg):
    theta = np.radians(theta_deg)
    X = toy.toy_images([-1.0, -0.4, 0.1, 0.75], h)
    X_m = toy.mirror(X, theta, h)
    measured = np.linalg.norm(X_m - X, axis=1)
    np.testing.assert_allclose(measured, toy.mirror_distance(X, theta, h), rtol=1e-12, atol=1e-14)
    # By hand: x = level·h·e₁, so 2|x·ê_θ| = 2|level|·h·cos θ.
    np.testing.assert_allclose(measured, 2 * np.abs([-1.0, -0.4, 0.1, 0.75]) * h * np.cos(theta),
                               rtol=1e-12, atol=1e-14)
    # The mirror image is on the other side, at the same distance from the boundary.
    normal = toy.tilted_normal(theta, h)
    np.testing.assert_allclose(X_m @ normal, -(X @ normal), atol=1e-12)


@pytest.mark.parametrize("theta_deg", [10.0, 60.0, 89.0])
def test_relative_perturbation_does_not_depend_on_dimension(theta_deg):
    theta = np.radians(theta_deg)
    ratios, planes = [], []
    for h in (1, 2, 7, 20, 50):
        X = toy.toy_images([-0.3, 0.6], h)
        X_m = toy.mirror(X, theta, h)
        ratios.append(np.linalg.norm(X_m - X, axis=1) / np.linalg.norm(X, axis=1))
        planes.append(toy.plane_coordinates(X_m, h) / h)
    np.testing.assert_allclose(ratios, np.full((5, 2), 2 * np.cos(theta)), rtol=1e-12)
    np.testing.assert_allclose(planes, np.broadcast_to(planes[0], (5, 2, 2)), atol=1e-12)


def test_strong_tilt_makes_a_small_class_flipping_change():
    h, theta = 20, np.radians(89.0)
    x = toy.toy_images([0.5], h)
    x_m = toy.mirror(x, theta, h)
    normal = toy.tilted_normal(theta, h)
    assert (x @ normal > 0) and (x_m @ normal < 0)
    assert np.linalg.norm(x_m - x) < 0.04 * np.linalg.norm(x)


def test_bad_height_is_an_error():
    with pytest.raises(toy.ToyError, match="positive integer"):
        toy.basis(0)


@pytest.fixture(scope="module")
def trained():
    return toy.train_toy(h=3)


def test_trained_toy_tilts_with_weak_regularization_only(trained):
    theta = np.degrees(trained["theta"])
    assert (np.diff(theta) <= 1e-9).all(), "θ must not grow as λ grows"
    assert theta[0] > 60.0 and trained["fits_mislabelled"][0]
    assert theta[-1] < 0.5 and not trained["fits_mislabelled"][-1]
    assert trained["relative_gap"].max() < 1e-9


def test_trained_theta_is_measured_from_z_hat_as_for_mnist(trained):
    """θ is the angle between ŵ and ẑ (DESIGN.md), not between ŵ and e₁: the mislabelled
    point leans ẑ away from e₁, and the strongly regularized w is parallel to ẑ, not to e₁."""
    X, y, W, h = trained["X"], trained["y"], trained["weights"], 3
    z = X[y > 0].mean(axis=0) - X[y < 0].mean(axis=0)
    z /= np.linalg.norm(z)
    cosine = W @ z / np.linalg.norm(W, axis=1)
    np.testing.assert_allclose(np.cos(trained["theta"]), cosine, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trained["z_hat"], z, atol=1e-15)
    e1, e2 = toy.basis(h)
    z_tilt = np.degrees(np.arctan2(z @ e2, z @ e1))
    assert 0.12 < z_tilt < 0.14  # the mislabelled image's pull on the J mean
    # Strong regularization: the boundary ignores the mislabelled point and θ is 0, to rounding.
    assert np.degrees(trained["theta"][-1]) < 1e-6
    # The weak end's θ differs from its angle to e₁ by about ẑ's own tilt.
    to_e1 = np.degrees(np.arctan2(W[0] @ e2, W[0] @ e1))
    assert to_e1 - np.degrees(trained["theta"][0]) == pytest.approx(z_tilt, abs=1e-3)


def test_trained_weak_end_is_the_hard_margin_svm(trained):
    """At the weak end the SVM separates all points: compare with sklearn's hard-margin SVC."""
    from sklearn.svm import SVC

    X, y = trained["X"], trained["y"]
    ref = SVC(kernel="linear", C=1e8, tol=1e-10).fit(X, y)
    w_ref = ref.coef_.ravel()
    cos = trained["weights"][0] @ w_ref / np.linalg.norm(trained["weights"][0]) / np.linalg.norm(w_ref)
    assert cos > 1 - 1e-6
    assert trained["train_error"][0] == 0.0


def test_tilt_is_the_same_in_every_dimension(trained):
    other = toy.train_toy(h=12)
    np.testing.assert_allclose(other["theta"], trained["theta"], atol=1e-6)


def test_toy_bundle_round_trip(tmp_path):
    manifest, arrays = toy.build_toy_experiment(h=2, log10_lambdas=[-7.0, -3.0, 0.0])
    bundle = read_bundle(write_bundle(tmp_path, toy.EXPERIMENT_ID, manifest, arrays))
    assert bundle.manifest["kind"] == "toy"
    assert [m["theta"] for m in bundle.manifest["models"]] == list(bundle.arrays["theta"])
    assert bundle.arrays["train_plane"].shape == (2 * toy.DEFAULT_PER_CLASS, 2)
    assert bundle.manifest["mislabelled"]["index"] == 2 * toy.DEFAULT_PER_CLASS - 1
    z1, z2 = bundle.arrays["z_hat_plane"]
    assert bundle.manifest["mislabelled"]["z_hat_tilt_deg"] == pytest.approx(np.degrees(np.arctan2(z2, z1)))
    assert "ẑ" in bundle.manifest["rules"]["theta"]
    # The stored plane weights are the full weights projected on e₁ and e₂.
    e1, e2 = toy.basis(2)
    np.testing.assert_allclose(bundle.arrays["plane_weights"], bundle.arrays["weights"] @ np.stack([e1, e2]).T)


def test_cli_writes_the_toy_bundle(tmp_path, capsys):
    from tilting.cli.main import main

    assert main(["precompute", "--toy", "--out", str(tmp_path), "--quiet"]) == 0
    bundle = read_bundle(tmp_path / toy.EXPERIMENT_ID)
    assert len(bundle.manifest["models"]) == len(toy.DEFAULT_LOG10_LAMBDAS)
    assert "θ from 71" in capsys.readouterr().out
