"""Loading the two-digit datasets: MNIST from IDX files, or sklearn's 8x8 digits.

MNIST is looked for, in order, in ``--mnist-dir``, ``$TILTING_MNIST_DIR`` and
the per-user cache (``$XDG_CACHE_HOME/tilting/mnist``, by default
``~/.cache/tilting/mnist``). ``tilting fetch-mnist`` downloads the four
standard files into that cache. When none of these has MNIST, scikit-learn's
bundled 8x8 digits stand in, loudly, and the bundle records it.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tilting.precompute.defaults import DEFAULT_PER_CLASS
from tilting.precompute.errors import TiltingError
from tilting.precompute.files import sha256_file


class DataError(TiltingError):
    """A dataset is missing, damaged or asked for in a way that cannot work."""


# SHA-256 of the four gzip files as published by the dataset's authors.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# Public mirrors that keep the original file names.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

IMAGE_MAGIC = 0x00000803
LABEL_MAGIC = 0x00000801


@dataclass
class Digits:
    """One dataset split into train and test, all digits.

    Attributes
    ----------
    train_images, test_images : ndarray of shape (n, side * side), float64
        Pixels scaled to [0, 1].
    train_labels, test_labels : ndarray of shape (n,), int64
        Digits 0..9.
    name : {"mnist", "sklearn-digits"}
    side : int
        Image side in pixels (28 for MNIST, 8 for the fallback).
    source : str
        Where the files came from, for the bundle's metadata.
    checksums : dict
        SHA-256 of each file read (empty for the fallback).
    notice : str or None
        A sentence for people when this is not the real MNIST.
    train_positions, test_positions : ndarray of int or None
        Where each held image sits in the dataset's files, when only some
        digits were loaded (``load_mnist(..., classes=...)``); None when the
        arrays hold every image in file order.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    name: str
    side: int
    source: str
    checksums: dict = field(default_factory=dict)
    notice: str | None = None
    train_positions: np.ndarray | None = None
    test_positions: np.ndarray | None = None

    def metadata(self) -> dict:
        """What a bundle's manifest records about the dataset."""
        return {
            "name": self.name,
            "source": self.source,
            "checksums": self.checksums,
            "image_side": self.side,
            "notice": self.notice,
        }


def default_cache_dir() -> Path:
    """The per-user folder where ``tilting fetch-mnist`` puts MNIST."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tilting" / "mnist"


def candidate_dirs(mnist_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for MNIST, in order."""
    dirs = []
    if mnist_dir is not None:
        dirs.append(Path(mnist_dir))
    if os.environ.get("TILTING_MNIST_DIR"):
        dirs.append(Path(os.environ["TILTING_MNIST_DIR"]))
    dirs.append(default_cache_dir())
    return dirs


def _find_file(folder: Path, name: str) -> Path | None:
    """``name`` (gzip) or its uncompressed twin inside ``folder``."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _has_mnist(folder: Path) -> bool:
    return all(_find_file(folder, name) is not None for name in MNIST_FILES)


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path} is not a readable gzip file (truncated or corrupt: {exc}).") from None


def read_idx(path: str | os.PathLike, magic: int) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw) and return its uint8 array.

    Parameters
    ----------
    path : path-like
        The file.
    magic : int
        ``0x803`` for images (returns shape (count, rows, cols)), ``0x801``
        for labels (returns shape (count,)).
    """
    path = Path(path)
    raw = _read_bytes(path)
    kind = "image" if magic == IMAGE_MAGIC else "label"
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        shown = "none" if found is None else f"{found:#010x}"
        raise DataError(
            f"{path} has magic number {shown}, expected {magic:#010x}: it is not an IDX {kind} file."
        )
    header_len = 16 if magic == IMAGE_MAGIC else 8
    if len(raw) < header_len:
        raise DataError(f"{path} is too short to hold an IDX {kind} header ({len(raw)} bytes).")
    header = np.frombuffer(raw[:header_len], dtype=">u4")
    shape = tuple(int(v) for v in header[1:])
    expected = int(np.prod(shape))
    if len(raw) - header_len != expected:
        raise DataError(
            f"{path} declares shape {shape} ({expected} bytes) but holds "
            f"{len(raw) - header_len} bytes of data: it is truncated or malformed."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape)


def load_mnist(folder: str | os.PathLike, classes=None) -> Digits:
    """Load and verify the four MNIST files in ``folder``.

    Gzip files are checked against the published SHA-256; uncompressed files
    (whose checksums are not published) are checked for shape and count.

    Parameters
    ----------
    folder : path-like
    classes : iterable of int, optional
        Keep only the images of these digits (the file positions are kept in
        ``train_positions``/``test_positions``): a pair needs about a fifth of
        MNIST, and pixels become float64 only for the images kept.
    """
    if classes is not None:
        classes = sorted({int(c) for c in classes})
        for c in classes:
            if not 0 <= c <= 9:
                raise DataError(f"Digit {c!r} is not one of 0..9.")
    folder = Path(folder)
    checksums = {}
    arrays = {}
    for name, expected_sha in MNIST_FILES.items():
        path = _find_file(folder, name)
        if path is None:
            raise DataError(f"{folder / name} is missing.")
        sha = sha256_file(path)
        if path.suffix == ".gz" and sha != expected_sha:
            raise DataError(
                f"{path} has SHA-256 {sha[:12]}…, not the published {expected_sha[:12]}…: "
                "the file is damaged or not the original MNIST."
            )
        checksums[path.name] = sha
        magic = IMAGE_MAGIC if "images" in name else LABEL_MAGIC
        arrays[name] = (path, read_idx(path, magic))

    split = {}
    for prefix in ("train", "t10k"):
        img_path, images = arrays[f"{prefix}-images-idx3-ubyte.gz"]
        lab_path, labels = arrays[f"{prefix}-labels-idx1-ubyte.gz"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError(f"{img_path} holds images of shape {images.shape[1:]}, not 28×28.")
        if len(images) != len(labels):
            raise DataError(
                f"{img_path} has {len(images)} images but {lab_path} has {len(labels)} labels."
            )
        if labels.max(initial=0) > 9:
            raise DataError(f"{lab_path} has a label {int(labels.max())}, outside 0..9.")
        positions = None if classes is None else np.flatnonzero(np.isin(labels, classes))
        kept = images if positions is None else images[positions]  # still uint8: the cheap copy
        split[prefix] = (kept.reshape(len(kept), -1) / 255.0, labels.astype(np.int64)[
            slice(None) if positions is None else positions], positions)

    return Digits(
        train_images=split["train"][0],
        train_labels=split["train"][1],
        test_images=split["t10k"][0],
        test_labels=split["t10k"][1],
        name="mnist",
        side=28,
        source=str(folder.resolve()),
        checksums=checksums,
        train_positions=split["train"][2],
        test_positions=split["t10k"][2],
    )


FALLBACK_NOTICE = (
    "MNIST was not found (looked in {where}); using scikit-learn's bundled 8×8 digits "
    "instead. Run `tilting fetch-mnist` or pass --mnist-dir for the real thing."
)


def load_sklearn_digits() -> Digits:
    """scikit-learn's 1,797 8×8 digits, split deterministically 70/30 in file order."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.data / 16.0
    labels = bunch.target.astype(np.int64)
    cut = int(round(0.7 * len(labels)))
    return Digits(
        train_images=images[:cut],
        train_labels=labels[:cut],
        test_images=images[cut:],
        test_labels=labels[cut:],
        name="sklearn-digits",
        side=8,
        source="sklearn.datasets.load_digits",
    )


def load_digits_dataset(mnist_dir: str | os.PathLike | None = None, classes=None) -> Digits:
    """MNIST from the first folder that has it, else the 8×8 fallback.

    A folder given explicitly (``mnist_dir``) must hold MNIST: a missing file
    there is an error, not a reason to fall back. Damaged files are always an
    error. ``classes``: keep only these digits of MNIST (see ``load_mnist``).
    """
    if mnist_dir is not None and not _has_mnist(Path(mnist_dir)):
        missing = [n for n in MNIST_FILES if _find_file(Path(mnist_dir), n) is None]
        raise DataError(f"{Path(mnist_dir) / missing[0]} is missing.")
    dirs = candidate_dirs(mnist_dir)
    for folder in dirs:
        if _has_mnist(folder):
            return load_mnist(folder, classes)
    digits = load_sklearn_digits()
    digits.notice = FALLBACK_NOTICE.format(where=", ".join(str(d) for d in dirs))
    return digits


@dataclass
class PairData:
    """Two digit classes, I (label -1) and J (label +1), train and test."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray  # positions in the dataset's training split
    test_index: np.ndarray


def check_pair(digit_i: int, digit_j: int) -> None:
    """Raise DataError unless (i, j) are two different digits 0..9."""
    for d in (digit_i, digit_j):
        if not isinstance(d, (int, np.integer)) or not 0 <= d <= 9:
            raise DataError(f"Digit {d!r} is not one of 0..9.")
    if digit_i == digit_j:
        raise DataError(f"The two digits must differ (got {digit_i} and {digit_j}).")


def select_pair(digits: Digits, digit_i: int, digit_j: int, per_class: int | None = DEFAULT_PER_CLASS) -> PairData:
    """The first ``per_class`` training images of each digit, in file order, and
    every test image of both.

    Parameters
    ----------
    per_class : int or None
        None keeps every training image of both digits.
    """
    check_pair(digit_i, digit_j)
    if per_class is not None and per_class < 1:
        raise DataError(f"--per-class must be a positive count, got {per_class}.")

    def take(labels, limit):
        idx_i = np.flatnonzero(labels == digit_i)[:limit]
        idx_j = np.flatnonzero(labels == digit_j)[:limit]
        return np.sort(np.concatenate([idx_i, idx_j]))

    train_index = take(digits.train_labels, per_class)
    test_index = take(digits.test_labels, None)
    for split, index in (("training", train_index), ("test", test_index)):
        labels = (digits.train_labels if split == "training" else digits.test_labels)[index]
        if not (labels == digit_i).any() or not (labels == digit_j).any():
            raise DataError(f"The {split} set has no image of digit {digit_i} or {digit_j}.")

    def signs(labels):
        return np.where(labels == digit_j, 1.0, -1.0)

    def in_file(positions, index):  # positions in the dataset's file, for the bundle
        return index if positions is None else positions[index]

    return PairData(
        X_train=digits.train_images[train_index],
        y_train=signs(digits.train_labels[train_index]),
        X_test=digits.test_images[test_index],
        y_test=signs(digits.test_labels[test_index]),
        train_index=in_file(digits.train_positions, train_index),
        test_index=in_file(digits.test_positions, test_index),
    )


def fetch_mnist(dest: str | os.PathLike | None = None, mirrors=MNIST_MIRRORS, timeout: float = 20.0) -> Path:
    """Download the four MNIST files into ``dest`` (default: the user cache).

    Each file is verified against its SHA-256 before it is moved into place,
    so an interrupted or failed download leaves nothing behind.
    """
    dest = Path(dest) if dest is not None else default_cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for name, expected_sha in MNIST_FILES.items():
        target = dest / name
        if target.is_file() and sha256_file(target) == expected_sha:
            continue
        errors = []
        for mirror in mirrors:
            try:
                _download_verified(mirror + name, target, expected_sha, timeout)
                break
            except (urllib.error.URLError, OSError, DataError) as exc:
                errors.append(f"{mirror}: {getattr(exc, 'reason', exc)}")
        else:
            raise DataError(
                f"Could not download {name} from any MNIST mirror ({'; '.join(errors)}); "
                "check the network, or copy the four files into a folder and pass --mnist-dir."
            )
    return dest


def _download_verified(url: str, target: Path, expected_sha: str, timeout: float) -> None:
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, tmp)
            tmp.close()
            sha = sha256_file(Path(tmp.name))
            if sha != expected_sha:
                raise DataError(f"{url} gave a file with the wrong SHA-256.")
            os.replace(tmp.name, target)
        finally:
            if os.path.exists(tmp.name):
                os.unlink(tmp.name)
