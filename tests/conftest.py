"""Shared fixtures: real MNIST (via TILTING_MNIST_DIR) and one small bundle.

Shared helpers that are not fixtures live in tests/helpers.py."""

import os

import numpy as np
import pytest

from tilting.precompute.data import load_mnist
from tests.helpers import mnist_dir


@pytest.fixture(scope="session")
def mnist():
    if mnist_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("real MNIST not found: CI runs with ../shared/data/mnist beside the repo")
        pytest.skip("real MNIST not available")
    return load_mnist(mnist_dir())


@pytest.fixture(scope="session")
def small_bundle(tmp_path_factory, mnist):
    """A real MNIST 2-vs-3 bundle, 300 images per class, 9 models: quick to build."""
    from tilting.precompute.artifacts import read_bundle, write_bundle
    from tilting.precompute.experiment import build_experiment

    root = tmp_path_factory.mktemp("artifacts")
    manifest, arrays = build_experiment(mnist, 2, 3, np.arange(-6.0, 2.01, 1.0), per_class=300)
    path = write_bundle(root, "mnist-2-3", manifest, arrays)
    return read_bundle(path)


@pytest.fixture()
def no_mnist(monkeypatch, tmp_path):
    """An environment where no MNIST can be found (so the fallback is used)."""
    monkeypatch.delenv("TILTING_MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path
