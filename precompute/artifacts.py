"""The artifact bundle: the one module that writes and reads it.

A bundle is a folder ``<root>/<experiment id>/`` holding ``manifest.json`` and
one ``.npy`` file per array. The manifest records the schema version, the
dataset and its checksums, the grid, a per-model table of scalar metrics and,
for each array, its file, dtype, shape and SHA-256.

The manifest's exact bytes are covered by ``manifest.sha256`` (the format of
``sha256sum``), and the manifest itself is checked against the typed schema of
``tilting.precompute.schema`` on write and on read, so any damage to any file, or a
hand-edited manifest, is named in one sentence.

Writing is atomic. ``<root>/<id>`` is a symbolic link to a versioned folder
``<root>/.store/<id>.<stamp>``; a new bundle is written in full into a fresh
versioned folder, then the link is replaced with one ``rename`` (atomic on
POSIX). A process killed at any moment leaves either the old bundle or the
new one behind the link, never a mix. Stale versions are removed afterwards, except those a server still reads:
a server holds a shared lock on each version it serves (``ReadLease``), so
that a worker it starts later loads the same version as the others.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tilting.precompute.errors import TiltingError
from tilting.precompute.files import sha256_file
from tilting.precompute.schema import ALLOWED_DTYPES, SCHEMA_VERSION, manifest_problem

MANIFEST = "manifest.json"
MANIFEST_DIGEST = "manifest.sha256"
STORE = ".store"
REMEDY = "remove it or rebuild it with `tilting precompute`."


class BundleError(TiltingError):
    """A bundle is missing, incomplete or does not match its manifest."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _digest_line(manifest_bytes: bytes) -> bytes:
    """The whole of ``manifest.sha256``, as ``sha256sum`` writes it (so ``sha256sum -c`` checks it too)."""
    return f"{hashlib.sha256(manifest_bytes).hexdigest()}  {MANIFEST}\n".encode()


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


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
        problem = manifest_problem(full)
        if problem:
            raise BundleError(f"Not writing {experiment_id}: its manifest does not fit the bundle schema ({problem}).")
        text = json.dumps(full, indent=1, allow_nan=False).encode()
        _write_durably(version / MANIFEST, text)
        _write_durably(version / MANIFEST_DIGEST, _digest_line(text))
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
    same experiment, still being written, would otherwise look stale. A
    version that a server still reads (it holds a ``ReadLease``) is kept; the
    next write after that server stops removes it.
    """
    root = Path(root)
    store = root / STORE
    link = root / experiment_id
    live = Path(os.readlink(link)).name if link.is_symlink() else None
    for version in store.glob(f"{experiment_id}.*"):
        if version.is_dir() and version.name != live and not _leased(version):
            shutil.rmtree(version, ignore_errors=True)
    for tmp_link in root.glob(f".{experiment_id}.link-*"):
        tmp_link.unlink(missing_ok=True)


def _leased(version: Path) -> bool:
    """Whether a reader holds a shared lock on this version's manifest."""
    try:
        fd = os.open(version / MANIFEST, os.O_RDONLY)
    except OSError:
        return False  # a version without a manifest was never complete: nobody serves it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases our probe lock, if we got it


class ReadLease:
    """Shared locks on bundle versions, held while a server serves them.

    ``remove_stale_versions`` never deletes a leased version, so a worker
    that a server starts (or restarts) after ``tilting precompute`` replaced
    a bundle still finds the version the other workers serve.
    """

    def __init__(self, paths):
        self.fds = []
        for path in paths:
            fd = os.open(Path(path) / MANIFEST, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_SH)
            self.fds.append(fd)

    def release(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


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


def _broken_link(path: Path) -> str | None:
    """Why ``path`` (a bundle entry) cannot be opened as a folder, as a sentence, or None."""
    try:
        path.stat()
    except FileNotFoundError:
        if not path.is_symlink():
            return f"{path} does not exist."
        return f"{path} is a link to {os.readlink(path)}, which does not exist; {REMEDY}"
    except OSError as exc:  # ELOOP for a link that points back at itself
        return f"{path} cannot be opened ({exc.strerror}); {REMEDY}"
    if not path.is_dir():
        return f"{path} is not a bundle folder."
    return None


def _read_manifest(path: Path) -> dict:
    manifest_path = path / MANIFEST
    digest_path = path / MANIFEST_DIGEST
    if not manifest_path.is_file():
        raise BundleError(f"{manifest_path} is missing: {path} is not a complete bundle.")
    if not digest_path.is_file():
        raise BundleError(f"{digest_path} is missing: {path} is not a complete bundle "
                          "(bundles written before schema version 2 lack it; rebuild with `tilting precompute`).")
    data = manifest_path.read_bytes()
    if digest_path.read_bytes() != _digest_line(data):
        raise BundleError(f"{manifest_path} does not match the SHA-256 in {digest_path.name}: "
                          "one of the two is damaged.")
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{manifest_path} is not valid JSON ({exc}).") from None
    found = manifest.get("schema_version") if isinstance(manifest, dict) else SCHEMA_VERSION
    if found != SCHEMA_VERSION:
        raise BundleError(
            f"{manifest_path} has schema version {found!r}; this program reads version "
            f"{SCHEMA_VERSION}. Rebuild it with `tilting precompute`."
        )
    problem = manifest_problem(manifest)
    if problem:
        raise BundleError(f"{manifest_path} does not fit the bundle schema: {problem}.")
    return manifest


def read_bundle(path, verify: bool = True) -> Bundle:
    """Open a bundle folder, validating its manifest, files, shapes and checksums.

    Raises BundleError naming the first bad file. With ``verify=False`` the
    arrays' SHA-256 are not recomputed (the manifest's always is).
    """
    path = Path(path)
    broken = _broken_link(path)
    if broken:
        raise BundleError(broken)
    manifest = _read_manifest(path)
    arrays = {}
    for name, entry in manifest["arrays"].items():
        file = path / entry["file"]
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
    """The bundle entries (links or folders) under ``root``, sorted by name.

    Every visible folder or link counts, complete or not, broken or not, so
    that a damaged bundle or a dangling link is reported rather than skipped.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and (p.is_symlink() or p.is_dir()))


def resolve_bundles(root) -> list[Path]:
    """Each bundle entry of ``root`` as the folder it names now (its version in ``.store``).

    A server reads these paths, not the links, so that every worker it
    starts serves the same versions however the links change meanwhile.
    Broken entries are returned as they are, for ``read_bundle`` to report.
    """
    return [p.resolve() if _broken_link(p) is None else p for p in list_bundles(root)]


def read_all(paths, verify: bool = True) -> dict:
    """The bundles at ``paths`` (or every bundle under a folder), validated, keyed by experiment id.

    Two bundles with the same id are refused, naming both: which one a
    server served would otherwise depend on the order of a folder listing.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = list_bundles(paths)
    bundles = {}
    for path in paths:
        bundle = read_bundle(path, verify=verify)
        if bundle.id in bundles:
            raise BundleError(f"{bundles[bundle.id].path} and {path} are both bundles of {bundle.id!r}; "
                              "move one of them away.")
        bundles[bundle.id] = bundle
    return bundles
