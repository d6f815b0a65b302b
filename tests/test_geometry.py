"""Tilting geometry against its definitions and a brute-force search."""

import itertools

import numpy as np
import pytest

from tilting.precompute import geometry as geo


def test_projection_and_mirror_definitions():
    rng = np.random.default_rng(0)
    X = rng.random((20, 9))
    w, b = rng.normal(size=9), 0.3
    d = geo.signed_distance(X, w, b)
    np.testing.assert_allclose(geo.signed_distance(geo.projected_image(X, w, b), w, b), 0, atol=1e-12)
    mirror = geo.mirror_image(X, w, b)
    np.testing.assert_allclose(geo.signed_distance(mirror, w, b), -d, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(mirror - X, axis=1), 2 * np.abs(d), atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_box_adversarial_is_valid_crossing_and_minimal(seed):
    rng = np.random.default_rng(seed)
    grid = np.linspace(0, 1, 41)
    cube = np.array(list(itertools.product(grid, grid, grid)))
    for _ in range(40):
        x = rng.random(3)
        x[rng.integers(3)] = rng.choice([0.0, 1.0])  # pixels at the bounds too
        w, b = rng.normal(size=3), rng.normal(scale=0.6)
        z, dist = geo.box_adversarial(x, w, b, overshoot=0.01)
        side = 1.0 if x @ w + b > 0 else -1.0
        crossing = side * (cube @ w + b) <= -0.01 * np.linalg.norm(w)
        if not crossing.any():
            assert dist == np.inf and np.array_equal(z, x)
            continue
        assert np.isfinite(dist)
        assert ((0 <= z) & (z <= 1)).all()  # a valid image
        assert side * (z @ w + b) <= -0.01 * np.linalg.norm(w) + 1e-12  # crosses
        brute = np.linalg.norm(cube[crossing] - x, axis=1).min()
        assert dist <= brute + 1e-12  # no longer than any valid crossing found
        assert dist == pytest.approx(np.linalg.norm(z - x))


def test_box_adversarial_without_box_effect_equals_projection():
    # Far from the box's faces the box is inactive: the answer is x_p (+ overshoot).
    x = np.full(4, 0.5)
    w, b = np.array([0.1, -0.2, 0.05, 0.1]), 0.01
    z, dist = geo.box_adversarial(x, w, b, overshoot=0.0)
    np.testing.assert_allclose(z, geo.projected_image(x[None], w, b)[0], atol=1e-12)
    assert dist == pytest.approx(abs(geo.signed_distance(x, w, b)))


def test_impossible_crossing_is_infinite():
    x = np.array([1.0, 1.0])
    w, b = np.array([1.0, 1.0]), 5.0  # every valid image scores ≥ 5
    _, dist = geo.box_adversarial(x, w, b)
    assert dist == np.inf


def test_angles_and_normals():
    z = np.array([1.0, 0.0, 0.0])
    W = np.array([[1.0, 1.0, 0.0], [2.0, 1e-9, 0.0], [3.0, 0.0, 0.0]])  # λ ascending: weak → strong
    np.testing.assert_allclose(geo.tilting_angles(W, z), [np.pi / 4, 5e-10, 0.0], atol=1e-12)
    normals, inherited = geo.plane_normals(W, z)
    assert inherited.tolist() == [False, True, True]
    np.testing.assert_allclose(normals, [[0, 1, 0]] * 3)


def test_normals_fallback_when_no_model_defines_one():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * [1.0, 5.0, 0.1]
    normals, inherited = geo.plane_normals(np.array([[1.0, 0, 0]]), np.array([1.0, 0, 0]), X)
    assert inherited.all()
    assert abs(abs(normals[0, 1]) - 1) < 1e-2  # the top variance direction orthogonal to ẑ


def test_plane_coordinates_recover_distance():
    rng = np.random.default_rng(2)
    X = rng.random((50, 6))
    y = np.where(rng.random(50) > 0.5, 1.0, -1.0)
    i, j = geo.centroids(X, y)
    m, z = 0.5 * (i + j), geo.unit(j - i)
    w, b = rng.normal(size=6), 0.2
    normals, _ = geo.plane_normals(w[None], z)
    u, v = geo.plane_coordinates(X, m, z, normals)
    theta = geo.tilting_angles(w[None], z)[0]
    offset = (w @ m + b) / np.linalg.norm(w)
    np.testing.assert_allclose(np.cos(theta) * u + np.sin(theta) * v[0] + offset, geo.signed_distance(X, w, b))


def test_robust_accuracy():
    y = np.array([1.0, 1.0, -1.0, -1.0])
    scores = np.array([2.0, -1.0, -3.0, -0.5])
    dist = np.array([0.5, 0.2, 2.0, 0.1])
    np.testing.assert_allclose(geo.robust_accuracy(y, scores, dist, [0.0, 0.3, 1.0]), [0.75, 0.5, 0.25])
