"""Everything the API serves from disk, and keeping it current while serving.

Bundles are read (and validated) with ``tilting.precompute.artifacts``, their
metadata encoded then, and each array hashed (from its file: the raw bytes'
SHA-256 is the array's version and ETag). An array's response bodies — raw,
float16, JSON, and their gzip — are encoded on first request and kept in one
cache of bounded size for the whole store, so that start-up time and memory
do not grow with the number of bundles served: 45 digit pairs cost what their
manifests cost until someone asks for their arrays.

A store over an artifacts folder picks up bundles that land while it serves
(``Store.refresh``): a new link, or a link that a newer ``tilting
precompute`` switched to a new version. It looks at most once per
``rescan_seconds``, when someone lists the experiments or asks for one it
does not know, and then only stats the folder unless its mtime changed.
Every version it serves is leased (``ReadLease``), so precompute never
deletes it under the server; the version a bundle replaced is kept one
generation longer, so that a page which read the old metadata (perhaps from
another worker) still gets the arrays it names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tilting.backend.representation import Payload
from tilting.precompute.artifacts import Bundle, BundleError, ReadLease, list_bundles, read_bundle

log = logging.getLogger("tilting")

DTYPE_NAMES = {"<f4": "float32", "<f8": "float64", "<i4": "int32", "|i1": "int8"}


# Encoded array bodies kept per process; the largest (a JSON form with its gzip) is ~15 MB.
PAYLOAD_CACHE_BYTES = 96 * 2**20
# A folder modified less than this long before a scan may change again within the same
# mtime tick: it is scanned again next time even if its mtime looks unchanged.
MTIME_SLACK_NS = 2 * 10**9


class PayloadCache:
    """The encoded array bodies of a whole store, least recently used dropped first."""

    def __init__(self, budget: int | None = None):
        self.budget = PAYLOAD_CACHE_BYTES if budget is None else budget
        self.entries: OrderedDict = OrderedDict()

    def get(self, key, make):
        payload = self.entries.get(key)
        if payload is not None and key == next(reversed(self.entries)):
            return payload  # the most recent already: nothing to reorder or evict (the hot path)
        if payload is None:
            payload = self.entries[key] = make()
        self.entries.move_to_end(key)
        # Sizes are read again here: a gzip made since the last call counts now.
        while len(self.entries) > 1 and sum(p.size for p in self.entries.values()) > self.budget:
            self.entries.popitem(last=False)
        return payload


class ArrayPayloads(Mapping):
    """file name ("train_v.bin", "train_v.f16.bin", "train_v.json") -> Payload, encoded on demand."""

    def __init__(self, bundle: Bundle, digests: dict, cache: PayloadCache):
        self.bundle, self.digests, self.cache = bundle, digests, cache
        self.files = {}
        for name in bundle.manifest["arrays"]:
            self.files[f"{name}.bin"] = (name, "raw")
            if bundle.arrays[name].dtype.kind == "f":
                self.files[f"{name}.f16.bin"] = (name, "f16")
            self.files[f"{name}.json"] = (name, "json")

    def __getitem__(self, file: str) -> Payload:
        name, form = self.files[file]
        return self.cache.get((self.bundle.path, file), lambda: self._encode(name, form))

    def __iter__(self):
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def _encode(self, name: str, form: str) -> Payload:
        data = np.ascontiguousarray(self.bundle.arrays[name])
        dtype = DTYPE_NAMES[self.bundle.manifest["arrays"][name]["dtype"]]
        shape = ",".join(str(s) for s in data.shape)
        if form == "raw":
            return Payload.of(data.tobytes(), "application/octet-stream",
                              {"X-Array-Dtype": dtype, "X-Array-Shape": shape}, digest=self.digests[name])
        if form == "f16":
            return Payload.of(data.astype("<f2").tobytes(), "application/octet-stream",
                              {"X-Array-Dtype": "float16", "X-Array-Shape": shape})
        return Payload.of(json_bytes({"name": name, "dtype": dtype, "shape": list(data.shape),
                                      "data": _json_safe(data)}), "application/json")


def json_bytes(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def _json_safe(array: np.ndarray):
    """Nested lists with inf and nan as None (JSON has neither)."""
    if array.dtype.kind == "f":
        values = array.astype(object)
        values[~np.isfinite(array)] = None
        return values.tolist()
    return array.tolist()


@dataclass
class Experiment:
    """One bundle, with its API views and encoded arrays."""

    bundle: Bundle
    summary: dict | None  # for the experiments list; None for figure bundles
    detail: dict
    detail_payload: Payload
    arrays: ArrayPayloads
    versions: dict  # array name -> the short version string used in URLs
    float64: dict = field(default_factory=dict, repr=False)  # array name -> float64 copy, made once

    @property
    def id(self) -> str:
        return self.bundle.id

    @property
    def models(self) -> list:
        return self.bundle.manifest["models"]

    def array(self, name: str) -> np.ndarray:
        return np.asarray(self.bundle.arrays[name])

    def f64(self, name: str) -> np.ndarray:
        """The array as float64 for per-request maths, converted on first use only."""
        if name not in self.float64:
            self.float64[name] = np.asarray(self.bundle.arrays[name], dtype=np.float64)
        return self.float64[name]


def data_digest(array: np.ndarray) -> str:
    """SHA-256 of an array's bytes in C order.

    A memory-mapped array is hashed by reading its file: hashing the map would
    page every bundle's data into this process (about 4 MB a bundle, all
    resident from start-up on) before anyone asked for it.
    """
    if isinstance(array, np.memmap) and array.filename and array.flags.c_contiguous:
        digest = hashlib.sha256()
        with open(array.filename, "rb") as f:
            f.seek(array.offset)
            remaining = array.nbytes
            while remaining:
                chunk = f.read(min(remaining, 2**20))
                if not chunk:
                    raise OSError(f"{array.filename} ended early")
                digest.update(chunk)
                remaining -= len(chunk)
        return digest.hexdigest()
    return hashlib.sha256(np.ascontiguousarray(array)).hexdigest()


def array_url(section: str, exp_id: str, name: str, suffix: str, version: str) -> str:
    """Relative to the API root, so pages under any prefix can resolve it."""
    return f"{section}/{exp_id}/arrays/{name}{suffix}?v={version}"


def load_experiment(bundle: Bundle, cache: PayloadCache, section: str = "experiments") -> Experiment:
    """A bundle's API views, its arrays' versions and their (lazy) bodies; ``section`` is its
    URL folder under /api/."""
    manifest = bundle.manifest
    infos, versions, digests = {}, {}, {}
    for name, entry in manifest["arrays"].items():
        data = bundle.arrays[name]
        digests[name] = data_digest(data)
        version = versions[name] = digests[name][:16]
        infos[name] = {
            "dtype": DTYPE_NAMES[entry["dtype"]],
            "shape": list(data.shape),
            "sha256": digests[name],
            "url": array_url(section, bundle.id, name, ".bin", version),
            "url_json": array_url(section, bundle.id, name, ".json", version),
            "url_f16": array_url(section, bundle.id, name, ".f16.bin", version) if data.dtype.kind == "f" else None,
        }

    summary = None
    if section == "experiments":
        grid = manifest["grid"]["log10_lambda"]
        summary = {
            "id": bundle.id,
            "title": manifest["title"],
            "dataset": manifest["dataset"]["name"],
            "digits": manifest["digits"],
            "counts": manifest["counts"],
            "n_models": len(grid),
            "grid_size": len(grid),  # n_models' older name, kept for existing clients
            "log10_lambda_min": grid[0],
            "log10_lambda_max": grid[-1],
            "notice": manifest["dataset"].get("notice"),
        }
    detail = {key: value for key, value in manifest.items() if key not in ("arrays", "schema_version")}
    detail["arrays"] = infos
    return Experiment(bundle, summary, detail, Payload.of(json_bytes(detail), "application/json"),
                      ArrayPayloads(bundle, digests, cache), versions)


class Store:
    """The bundles a server serves, validated, with their API views.

    SVM-path bundles (no ``kind`` in their manifest) are the experiments;
    other kinds (``network``, ``toy``) are data for single figures.

    ``source``: an artifacts folder (then new and replaced bundles are picked up,
    see ``refresh``), or the exact bundle folders to serve (then the set is fixed).
    At start-up every bundle must be valid (``BundleError`` otherwise) unless
    ``strict`` is false: then a bad one is logged and left out, as a bundle that
    lands broken while serving is.
    """

    def __init__(self, source, rescan_seconds: float = 1.0, strict: bool = True):
        self.root = Path(source) if isinstance(source, (str, os.PathLike)) else None
        self.rescan_seconds = rescan_seconds
        self.cache = PayloadCache()
        self.experiments: dict[str, Experiment] = {}
        self.figures: dict[str, Experiment] = {}
        # Replaced versions, kept one generation for the array URLs they handed out.
        self.previous: dict[str, Experiment] = {}
        self._served: dict[Path, Experiment] = {}  # entry (link or folder) -> what it serves
        self._leases: dict[Path, ReadLease] = {}  # version folder -> our shared lock on it
        self._refusals: set[tuple] = set()  # broken versions already logged (see _stamp)
        self._lock = threading.Lock()
        self._next_look = 0.0
        self._seen_mtime: tuple[int, int] | None = None  # (folder mtime, when we scanned), ns
        # Leases are file descriptors: give them back when the store goes, not at exit.
        weakref.finalize(self, _release_all, self._leases)
        if self.root is None:
            self._load_all([Path(p) for p in source])
        elif strict:
            self._note_mtime()
            self._load_all(list_bundles(self.root))
        else:
            self._scan()
        self._publish()
        self._next_look = time.monotonic() + rescan_seconds  # start-up was a look

    # --- reading -------------------------------------------------------------------------

    def _lease(self, version: Path) -> None:
        if version not in self._leases:
            self._leases[version] = ReadLease([version])

    def _release(self, version: Path) -> None:
        lease = self._leases.pop(version, None)
        if lease is not None:
            lease.release()

    def _open(self, entry: Path) -> Bundle:
        """The bundle an entry names now, leased before it is read.

        Leasing first, then checking that the entry still names that version,
        closes the window in which ``tilting precompute`` could switch the link
        and delete the version between our resolving and our reading it.
        """
        for _attempt in range(3):
            version = entry.resolve() if entry.exists() else entry
            try:
                self._lease(version)
            except OSError:
                return read_bundle(version)  # raises its one-sentence BundleError
            if not entry.is_symlink() or entry.resolve() == version:
                try:
                    return read_bundle(version)
                except BaseException:
                    self._release(version)
                    raise
            self._release(version)  # switched meanwhile: read the new one
        raise BundleError(f"{entry} keeps changing while it is read; try again once `tilting precompute` is done.")

    def _load_all(self, entries: list) -> None:
        """Every entry, or the first bad one's ``BundleError`` (as ``read_all`` would name it)."""
        for entry in entries:
            bundle = self._open(entry)
            _refuse_clash(self._served.values(), bundle, entry)
            self._served[entry] = self._load(bundle)

    def _load(self, bundle: Bundle) -> Experiment:
        section = "figures" if "kind" in bundle.manifest else "experiments"
        return load_experiment(bundle, self.cache, section)

    # --- keeping current -----------------------------------------------------------------

    def _note_mtime(self) -> bool:
        """Record the folder's mtime; whether it may have changed since the last scan."""
        try:
            mtime = os.stat(self.root).st_mtime_ns
        except OSError:
            mtime = -1
        seen = self._seen_mtime
        self._seen_mtime = (mtime, time.time_ns())
        return seen is None or seen[0] != mtime or seen[1] - mtime < MTIME_SLACK_NS

    def refresh(self) -> bool:
        """Pick up bundles that landed or were replaced since the last look; whether any did.

        Costs one clock read when called within ``rescan_seconds`` of the last
        look, one ``stat`` of the folder when its mtime is unchanged, and the
        reading of the new bundles only (tens of ms each) otherwise. Safe to call
        from several threads: one looks, the others go on with what is served.
        """
        now = time.monotonic()
        if self.root is None or now < self._next_look or not self._lock.acquire(blocking=False):
            return False
        try:
            self._next_look = now + self.rescan_seconds
            if not self._note_mtime():
                return False
            return self._scan()
        finally:
            self._lock.release()

    def _scan(self) -> bool:
        """Bring ``_served`` in line with the folder's entries; whether anything changed."""
        served = dict(self._served)
        changed = False
        entries = list_bundles(self.root)
        for gone in set(served) - set(entries):
            self._retire(served.pop(gone), keep=False, served=served)
            changed = True
        for entry in entries:
            current = served.get(entry)
            version = entry.resolve() if entry.exists() else entry
            if current is not None and current.bundle.path == version:
                continue
            stamp = _stamp(version)
            if stamp in self._refusals:
                continue
            try:
                bundle = self._open(entry)
                try:
                    _refuse_clash((e for e in served.values() if e is not current), bundle, entry)
                except BundleError:
                    self._release(bundle.path)
                    raise
                loaded = self._load(bundle)
            except (BundleError, OSError) as exc:
                self._refusals.add(stamp)  # logged once, tried again when it changes
                log.warning("Not serving %s: %s", entry, exc)
                continue
            served[entry] = loaded
            if current is not None:
                self._retire(current, keep=current.id == loaded.id, served=served)
            changed = True
            log.info("Serving %s from %s.", loaded.id, loaded.bundle.path)
        if changed:
            self._served = served
            self._publish()
        return changed

    def _retire(self, old: Experiment, keep: bool, served: dict) -> None:
        """Stop serving ``old``; with ``keep``, hold it as its id's previous version. A version
        still in ``served`` (a link switched back to it) keeps its lease."""
        dropped = self.previous.pop(old.id, None)
        if keep:
            self.previous[old.id] = old
        in_use = {e.bundle.path for e in served.values()} | {e.bundle.path for e in self.previous.values()}
        for gone in ([] if keep else [old]) + ([dropped] if dropped is not None else []):
            if gone.bundle.path not in in_use:
                self._release(gone.bundle.path)

    def _publish(self) -> None:
        """The id tables and listings of what is served, swapped in whole (readers never see half)."""
        served = sorted(self._served.values(), key=lambda e: e.id)
        experiments = {e.id: e for e in served if e.summary is not None}
        figures = {e.id: e for e in served if e.summary is None}
        self.figures_payload = Payload.of(json_bytes({"figures": [
            {"id": f.id, "kind": f.bundle.manifest["kind"], "title": f.bundle.manifest.get("title", f.id)}
            for f in figures.values()
        ]}), "application/json")
        self.listing = {"experiments": [e.summary for e in experiments.values()]}
        self.listing_payload = Payload.of(json_bytes(self.listing), "application/json")
        self.experiments, self.figures = experiments, figures

    # --- lookups -------------------------------------------------------------------------

    def find(self, section: str, exp_id: str) -> Experiment | None:
        """The experiment (``section`` "experiments") or figure data with this id, after a
        look for bundles that landed (``refresh``: mostly a clock read)."""
        self.refresh()
        return (self.experiments if section == "experiments" else self.figures).get(exp_id)

    def close(self) -> None:
        """Give back the leases (the store serves nothing afterwards)."""
        _release_all(self._leases)


def _refuse_clash(served, bundle: Bundle, entry: Path) -> None:
    """``BundleError`` if a served experiment has ``bundle``'s id: which one a server
    served would otherwise depend on the order of a folder listing."""
    clash = next((e for e in served if e.id == bundle.id), None)
    if clash is not None:
        raise BundleError(f"{clash.bundle.path} and {entry} are both bundles of {bundle.id!r}; "
                          "move one of them away.")


def _stamp(version: Path) -> tuple:
    """A version folder (or broken link) and when it last changed: a refused bundle is
    tried again once it changes."""
    try:
        return version, os.stat(version).st_mtime_ns
    except OSError:
        try:
            return version, os.lstat(version).st_mtime_ns
        except OSError:
            return version, None


def _release_all(leases: dict) -> None:
    for lease in leases.values():
        lease.release()
    leases.clear()
