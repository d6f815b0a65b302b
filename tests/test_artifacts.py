"""The bundle format: round trip, validation, atomic replacement."""

import os

import numpy as np
import pytest

from tilting.precompute.artifacts import BundleError, list_bundles, read_bundle, write_bundle
from tests.bundles import minimal_manifest, rewrite_manifest

META = minimal_manifest()


def _write(root, value=1.0):
    return write_bundle(root, "exp-2-3", dict(META), {"a": np.full((3, 2), value, "<f4"), "y": np.ones(3, "i1")})


def test_round_trip(tmp_path):
    path = _write(tmp_path)
    bundle = read_bundle(path)
    assert bundle.id == "exp-2-3" and bundle.manifest["schema_version"] == 2
    assert bundle.array_info("a") == {
        "file": "a.npy", "dtype": "<f4", "shape": [3, 2], "sha256": bundle.array_info("a")["sha256"]
    }
    np.testing.assert_array_equal(bundle.arrays["a"], 1.0)
    assert bundle.raw_bytes("a") == np.full((3, 2), 1.0, "<f4").tobytes()
    assert list_bundles(tmp_path) == [path]


def test_replacement_keeps_one_version(tmp_path):
    _write(tmp_path, 1.0)
    path = _write(tmp_path, 2.0)
    np.testing.assert_array_equal(read_bundle(path).arrays["a"], 2.0)
    assert len([p for p in (tmp_path / ".store").iterdir() if p.is_dir()]) == 1


def test_corrupt_file_is_named(tmp_path):
    path = _write(tmp_path)
    target = path / "a.npy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"a\.npy does not match the SHA-256"):
        read_bundle(path)


def test_missing_file_is_named(tmp_path):
    path = _write(tmp_path)
    (path / "y.npy").unlink()
    with pytest.raises(BundleError, match=r"y\.npy is missing"):
        read_bundle(path)


def test_truncated_file_is_named(tmp_path):
    path = _write(tmp_path)
    target = path / "a.npy"
    target.write_bytes(target.read_bytes()[:-4])
    with pytest.raises(BundleError, match=r"a\.npy"):
        read_bundle(path)


def test_wrong_schema_version(tmp_path):
    path = _write(tmp_path)
    rewrite_manifest(path, lambda m: m.update(schema_version=99))
    with pytest.raises(BundleError, match="schema version 99"):
        read_bundle(path)


def test_array_file_outside_bundle_is_refused(tmp_path):
    path = _write(tmp_path)
    rewrite_manifest(path, lambda m: m["arrays"]["a"].update(file="../../etc/passwd"))
    with pytest.raises(BundleError, match=r"arrays\.a\.file"):
        read_bundle(path)


def test_failed_write_leaves_previous_bundle(tmp_path):
    path = _write(tmp_path, 1.0)
    with pytest.raises(BundleError, match="dtype"):
        write_bundle(tmp_path, "exp-2-3", dict(META), {"a": np.zeros(2, dtype=complex)})
    np.testing.assert_array_equal(read_bundle(path).arrays["a"], 1.0)
    assert len([p for p in (tmp_path / ".store").iterdir() if p.is_dir()]) == 1


def test_plain_folder_is_not_clobbered(tmp_path):
    (tmp_path / "exp-2-3").mkdir()
    with pytest.raises(BundleError, match="is not a bundle link"):
        _write(tmp_path)
    assert os.listdir(tmp_path / "exp-2-3") == []


def test_concurrent_writers_of_different_experiments(tmp_path):
    """A writer's clean-up must not delete another experiment's version in progress."""
    from concurrent.futures import ThreadPoolExecutor

    def write_many(exp_id):
        for value in range(15):
            write_bundle(tmp_path, exp_id, dict(META), {"a": np.full((50, 50), value, "<f4")})
        return read_bundle(tmp_path / exp_id)

    with ThreadPoolExecutor(3) as pool:
        bundles = list(pool.map(write_many, ["p-0-1", "p-2-3", "p-4-5"]))
    assert [float(b.arrays["a"][0, 0]) for b in bundles] == [14.0] * 3
    assert len([p for p in (tmp_path / ".store").iterdir() if p.is_dir()]) == 3
