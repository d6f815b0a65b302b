"""Everything the API serves from disk.

Bundles are read (and validated) with ``precompute.artifacts`` at start-up,
their metadata encoded then, and each array hashed (from its memory map: the
raw bytes' SHA-256 is the array's version and ETag). An array's response
bodies — raw, float16, JSON, and their gzip — are encoded on first request
and kept in one cache of bounded size for the whole store, so that start-up
time and memory do not grow with the number of bundles served: 45 digit
pairs cost what their manifests cost until someone asks for their arrays.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from precompute.artifacts import Bundle, read_all

DTYPE_NAMES = {"<f4": "float32", "<f8": "float64", "<i4": "int32", "|i1": "int8"}


# Encoded array bodies kept per process; the largest (a JSON form with its gzip) is ~15 MB.
PAYLOAD_CACHE_BYTES = 96 * 2**20


@dataclass(frozen=True)
class Payload:
    """One response body, its gzip (made when first asked for), and its strong ETag."""

    body: bytes
    etag: str
    media_type: str
    headers: dict = field(default_factory=dict)

    @classmethod
    def of(cls, body: bytes, media_type: str, headers: dict | None = None, digest: str | None = None) -> "Payload":
        digest = digest or hashlib.sha256(body).hexdigest()
        return cls(body, f'"{digest}"', media_type, headers or {})

    @cached_property
    def gzipped(self) -> bytes:
        # mtime=0 keeps the gzip bytes a function of the body alone.
        return gzip.compress(self.body, compresslevel=6, mtime=0)

    @property
    def size(self) -> int:
        """Bytes held, counting the gzip only once it exists."""
        return len(self.body) + len(self.__dict__.get("gzipped", b""))


class PayloadCache:
    """The encoded array bodies of a whole store, least recently used dropped first."""

    def __init__(self, budget: int | None = None):
        self.budget = PAYLOAD_CACHE_BYTES if budget is None else budget
        self.entries: OrderedDict = OrderedDict()

    def get(self, key, make):
        payload = self.entries.get(key)
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
            "grid_size": len(grid),
            "log10_lambda_min": grid[0],
            "log10_lambda_max": grid[-1],
            "notice": manifest["dataset"].get("notice"),
        }
    detail = {key: value for key, value in manifest.items() if key not in ("arrays", "schema_version")}
    detail["arrays"] = infos
    return Experiment(bundle, summary, detail, Payload.of(json_bytes(detail), "application/json"),
                      ArrayPayloads(bundle, digests, cache), versions)


class Store:
    """All bundles of an artifacts folder, validated, with their API views.

    SVM-path bundles (no ``kind`` in their manifest) are the experiments;
    other kinds (``network``, ``toy``) are data for single figures.
    """

    def __init__(self, source):
        # ``source``: an artifacts folder, or the exact bundle folders to serve
        # (``tilting serve`` pins the versions it found at start-up).
        bundles = read_all(source)
        self.cache = PayloadCache()
        self.experiments = {
            exp_id: load_experiment(bundle, self.cache)
            for exp_id, bundle in bundles.items() if "kind" not in bundle.manifest
        }
        self.figures = {
            exp_id: load_experiment(bundle, self.cache, "figures")
            for exp_id, bundle in bundles.items() if "kind" in bundle.manifest
        }
        self.figures_payload = Payload.of(json_bytes({"figures": [
            {"id": f.id, "kind": f.bundle.manifest["kind"], "title": f.bundle.manifest.get("title", f.id)}
            for f in self.figures.values()
        ]}), "application/json")
        listing = {"experiments": [e.summary for e in self.experiments.values()]}
        self.listing = listing
        self.listing_payload = Payload.of(json_bytes(listing), "application/json")
