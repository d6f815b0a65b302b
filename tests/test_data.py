"""Reading MNIST and the fallback, and every way the input can be bad."""

import gzip
import shutil
import struct

import numpy as np
import pytest

from tilting.precompute.data import (
    DataError,
    MNIST_FILES,
    fetch_mnist,
    load_digits_dataset,
    load_mnist,
    read_idx,
    select_pair,
)
from tests.helpers import mnist_dir, requires_mnist


def test_real_mnist_shapes_and_scaling(mnist):
    assert mnist.train_images.shape == (60000, 784)
    assert mnist.test_images.shape == (10000, 784)
    assert mnist.train_images.min() == 0.0 and mnist.train_images.max() == 1.0
    assert np.bincount(mnist.test_labels).tolist()[2:4] == [1032, 1010]
    assert set(mnist.checksums) == set(MNIST_FILES)


def test_default_pair_subset(mnist):
    pair = select_pair(mnist, 2, 3)
    assert pair.X_train.shape == (6000, 784)
    assert (pair.y_train == -1).sum() == 3000 and (pair.y_train == 1).sum() == 3000
    assert len(pair.y_test) == 2042
    # the first 3,000 of each digit, in file order
    first_twos = np.flatnonzero(mnist.train_labels == 2)[:3000]
    assert np.array_equal(pair.train_index[pair.y_train < 0], first_twos)


def _write_idx(path, magic, shape, payload, compress=True):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in shape)
    data = header + payload
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def test_read_idx_raw_and_gzip(tmp_path):
    pixels = bytes(range(2 * 3 * 3))
    _write_idx(tmp_path / "a.gz", 0x803, (2, 3, 3), pixels)
    _write_idx(tmp_path / "a", 0x803, (2, 3, 3), pixels, compress=False)
    for name in ("a.gz", "a"):
        arr = read_idx(tmp_path / name, 0x803)
        assert arr.shape == (2, 3, 3) and arr[1, 2, 2] == 17


def test_wrong_magic_is_one_sentence(tmp_path):
    _write_idx(tmp_path / "labels.gz", 0x801, (3,), b"\x01\x02\x03")
    with pytest.raises(DataError, match="magic number 0x00000801, expected 0x00000803"):
        read_idx(tmp_path / "labels.gz", 0x803)


def test_wrong_length_is_reported(tmp_path):
    _write_idx(tmp_path / "x.gz", 0x803, (2, 3, 3), bytes(10))
    with pytest.raises(DataError, match="truncated or malformed"):
        read_idx(tmp_path / "x.gz", 0x803)


def test_truncated_gzip(tmp_path):
    _write_idx(tmp_path / "x.gz", 0x803, (20, 28, 28), bytes(20 * 784))
    raw = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "x.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="not a readable gzip file"):
        read_idx(tmp_path / "x.gz", 0x803)


@requires_mnist
def test_checksum_mismatch_names_the_file(tmp_path):
    for name in MNIST_FILES:
        shutil.copy(mnist_dir() / name, tmp_path / name)
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(bad.read_bytes())
    raw[-5] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz has SHA-256"):
        load_mnist(tmp_path)


def _fake_mnist(folder, n_train_labels=60, n_train_images=60, side=28):
    rng = np.random.default_rng(0)
    for prefix, n_img, n_lab in (("train", n_train_images, n_train_labels), ("t10k", 20, 20)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", 0x803, (n_img, side, side),
                   rng.integers(0, 256, n_img * side * side, dtype=np.uint8).tobytes(), compress=False)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", 0x801, (n_lab,),
                   (np.arange(n_lab) % 10).astype(np.uint8).tobytes(), compress=False)


def test_uncompressed_files_are_accepted(tmp_path):
    _fake_mnist(tmp_path)
    digits = load_mnist(tmp_path)
    assert digits.train_images.shape == (60, 784)


def test_count_mismatch(tmp_path):
    _fake_mnist(tmp_path, n_train_labels=59)
    with pytest.raises(DataError, match="has 60 images but .* has 59 labels"):
        load_mnist(tmp_path)


def test_wrong_image_shape(tmp_path):
    _fake_mnist(tmp_path, side=27)
    with pytest.raises(DataError, match="not 28×28"):
        load_mnist(tmp_path)


def test_missing_file_in_explicit_folder(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz is missing"):
        load_digits_dataset(tmp_path)


@pytest.mark.parametrize("pair", [(2, 2), (3, 10), (-1, 4)])
def test_bad_pairs(pair, mnist):
    with pytest.raises(DataError):
        select_pair(mnist, *pair)


def test_fallback_to_sklearn_digits(no_mnist):
    digits = load_digits_dataset()
    assert digits.name == "sklearn-digits" and digits.side == 8
    assert "MNIST was not found" in digits.notice
    pair = select_pair(digits, 2, 3)
    assert pair.X_train.shape[1] == 64 and 0 <= pair.X_train.min() and pair.X_train.max() <= 1


def test_env_var_is_searched(monkeypatch, tmp_path):
    _fake_mnist(tmp_path)
    monkeypatch.setenv("TILTING_MNIST_DIR", str(tmp_path))
    assert load_digits_dataset().source == str(tmp_path.resolve())


def test_fetch_fails_offline_with_one_sentence(tmp_path):
    # No mirror is reachable from this machine (and an unroutable one is added).
    with pytest.raises(DataError, match="Could not download .* from any MNIST mirror") as info:
        fetch_mnist(tmp_path / "dl", mirrors=("http://127.0.0.1:9/",), timeout=2)
    assert "\n" not in str(info.value)
    assert not any((tmp_path / "dl").iterdir())  # nothing half-written


def test_loading_one_pairs_digits_keeps_only_those_images(mnist):
    """`tilting precompute --pair I J` reads only the two digits' images (about a fifth of
    MNIST), and the pair built from them is the one built from the whole dataset."""
    two = load_mnist(mnist_dir(), classes=(3, 2))
    counts = np.bincount(mnist.train_labels)
    assert two.train_images.shape == (counts[2] + counts[3], 784) and two.train_images.dtype == np.float64
    assert two.test_images.shape == (1032 + 1010, 784)
    assert set(np.unique(two.train_labels)) == {2, 3} and set(np.unique(two.test_labels)) == {2, 3}
    np.testing.assert_array_equal(mnist.train_images[two.train_positions], two.train_images)
    np.testing.assert_array_equal(mnist.test_labels[two.test_positions], two.test_labels)
    for per_class in (3000, None):
        full, part = select_pair(mnist, 2, 3, per_class), select_pair(two, 2, 3, per_class)
        np.testing.assert_array_equal(full.X_train, part.X_train)
        np.testing.assert_array_equal(full.X_test, part.X_test)
        np.testing.assert_array_equal(full.y_train, part.y_train)
        # Indices still point into the dataset's files, as the bundle records them.
        np.testing.assert_array_equal(full.train_index, part.train_index)
        np.testing.assert_array_equal(full.test_index, part.test_index)
    with pytest.raises(DataError, match="not one of 0..9"):
        load_mnist(mnist_dir(), classes=(2, 11))
