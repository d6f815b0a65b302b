"""The artifact bundle: the one module that writes and reads it.

A bundle is a folder ``<root>/<experiment id>/`` holding ``manifest.json`` and
one ``.npy`` file per array. The manifest records the schema version, the
dataset and its checksums, the grid, a per-model table of scalar metrics and,
for each array, its file, dtype, shape and SHA-256.

Writing is atomic. ``<root>/<id>`` is a symbolic link to a versioned folder
``<root>/.store/<id>.<stamp>``; a new bundle is written in full into a fresh
versioned folder, then the link is replaced with one ``rename`` (atomic on
POSIX). A process killed at any moment leaves either the old bundle or the
new one behind the link, never a mix. Stale versions are removed afterwards.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from precompute.errors import TiltingError
from precompute.files import sha256_file

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
STORE = ".store"
ALLOWED_DTYPES = ("<f4", "<f8", "<i4", "|i1")


class BundleError(TiltingError):
    """A bundle is missing, incomplete or does not match its manifest."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bundle(root, experiment_id: str, manifest: dict, arrays: dict) -> Path:
    """Write a bundle atomically and return its path (``root/experiment_id``).

    Parameters
    ----------
    root : path-like
        The artifacts folder.
    experiment_id : str
        Folder name, e.g. ``"mnist-2-3"``.
    manifest : dict
        JSON-serialisable metadata; ``schema_version``, ``id`` and ``arrays``
        are filled in here.
    arrays : dict of str to ndarray
        Saved as ``<name>.npy`` with a little-endian dtype from ``ALLOWED_DTYPES``.
    """
    root = Path(root)
    store = root / STORE
    store.mkdir(parents=True, exist_ok=True)
    # One writer per experiment at a time; writers of other experiments run freely.
    with open(store / f"{experiment_id}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        link = _write_version(root, store, experiment_id, manifest, arrays)
        remove_stale_versions(root, experiment_id)
    return link


def _write_version(root: Path, store: Path, experiment_id: str, manifest: dict, arrays: dict) -> Path:
    stamp = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    version = store / f"{experiment_id}.{stamp}"
    version.mkdir()
    try:
        entries = {}
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
            if dtype.str not in ALLOWED_DTYPES:
                raise BundleError(f"Array {name!r} has dtype {dtype.str}, not one of {ALLOWED_DTYPES}.")
            path = version / f"{name}.npy"
            with open(path, "wb") as f:
                np.save(f, array.astype(dtype, copy=False))
                f.flush()
                os.fsync(f.fileno())
            entries[name] = {
                "file": path.name,
                "dtype": dtype.str,
                "shape": list(array.shape),
                "sha256": sha256_file(path),
            }
        full = {"schema_version": SCHEMA_VERSION, "id": experiment_id, **manifest, "arrays": entries}
        with open(version / MANIFEST, "w") as f:
            json.dump(full, f, indent=1, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(version)

        link = root / experiment_id
        if link.exists() and not link.is_symlink():
            raise BundleError(f"{link} exists and is not a bundle link; move it away first.")
        tmp_link = root / f".{experiment_id}.link-{stamp}"
        os.symlink(Path(STORE) / version.name, tmp_link)
        os.replace(tmp_link, link)  # the atomic switch
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    return link


def remove_stale_versions(root, experiment_id: str) -> None:
    """Delete this experiment's versions and temporary links that its link does not use.

    Call it holding the experiment's lock: another writer's version of the
    same experiment, still being written, would otherwise look stale.
    """
    root = Path(root)
    store = root / STORE
    link = root / experiment_id
    live = Path(os.readlink(link)).name if link.is_symlink() else None
    for version in store.glob(f"{experiment_id}.*"):
        if version.is_dir() and version.name != live:
            shutil.rmtree(version, ignore_errors=True)
    for tmp_link in root.glob(f".{experiment_id}.link-*"):
        tmp_link.unlink(missing_ok=True)


@dataclass
class Bundle:
    """A validated bundle: its manifest and its arrays (memory-mapped, read-only)."""

    path: Path
    manifest: dict
    arrays: dict

    @property
    def id(self) -> str:
        return self.manifest["id"]

    def array_info(self, name: str) -> dict:
        return self.manifest["arrays"][name]

    def raw_bytes(self, name: str) -> bytes:
        """The array's data as little-endian bytes, in C order (no .npy header)."""
        return np.ascontiguousarray(self.arrays[name]).tobytes()


def read_bundle(path, verify: bool = True) -> Bundle:
    """Open a bundle folder, validating schema, files, shapes and checksums.

    Raises BundleError naming the first bad file.
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{manifest_path} is missing: {path} is not a complete bundle.")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{manifest_path} is not valid JSON ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("schema_version") != SCHEMA_VERSION:
        found = manifest.get("schema_version") if isinstance(manifest, dict) else None
        raise BundleError(
            f"{manifest_path} has schema version {found!r}; this program reads version "
            f"{SCHEMA_VERSION}. Rebuild it with `tilting precompute`."
        )
    for key in ("id", "arrays", "models", "grid", "digits", "dataset"):
        if key not in manifest:
            raise BundleError(f"{manifest_path} lacks the field {key!r}.")
    arrays = {}
    for name, entry in manifest["arrays"].items():
        file = path / entry["file"]
        if Path(entry["file"]).name != entry["file"]:
            raise BundleError(f"{manifest_path} names an array file outside the bundle: {entry['file']!r}.")
        if not file.is_file():
            raise BundleError(f"{file} is missing.")
        if verify and sha256_file(file) != entry["sha256"]:
            raise BundleError(f"{file} does not match the SHA-256 in its manifest: it is damaged.")
        try:
            array = np.load(file, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise BundleError(f"{file} is not a readable .npy file ({exc}).") from None
        if list(array.shape) != entry["shape"] or array.dtype.str != entry["dtype"]:
            raise BundleError(
                f"{file} holds {array.dtype.str} {list(array.shape)}, but the manifest says "
                f"{entry['dtype']} {entry['shape']}."
            )
        arrays[name] = array
    return Bundle(path=path, manifest=manifest, arrays=arrays)


def list_bundles(root) -> list[Path]:
    """The bundle links (or folders) under ``root``, sorted by name.

    Every visible folder counts, complete or not, so that a damaged bundle is
    reported rather than silently skipped.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and p.is_dir())


def read_all(root, verify: bool = True) -> dict:
    """Every bundle under ``root``, validated, keyed by experiment id."""
    bundles = {}
    for path in list_bundles(root):
        bundle = read_bundle(path, verify=verify)
        bundles[bundle.id] = bundle
    return bundles
