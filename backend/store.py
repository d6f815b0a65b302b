"""Everything the API serves from disk, prepared once at start-up.

Bundles are read (and validated) with ``precompute.artifacts``; each array's
response bodies — raw, float16, JSON, and their gzip — are encoded here once,
with their ETags, so that a request only looks a payload up.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from precompute.artifacts import Bundle, read_all

DTYPE_NAMES = {"<f4": "float32", "<f8": "float64", "<i4": "int32", "|i1": "int8"}


@dataclass(frozen=True)
class Payload:
    """One response body, its gzip, and its strong ETag."""

    body: bytes
    gzipped: bytes
    etag: str
    media_type: str
    headers: dict = field(default_factory=dict)

    @classmethod
    def of(cls, body: bytes, media_type: str, headers: dict | None = None) -> "Payload":
        digest = hashlib.sha256(body).hexdigest()
        # mtime=0 keeps the gzip bytes a function of the body alone.
        return cls(body, gzip.compress(body, compresslevel=6, mtime=0), f'"{digest}"', media_type, headers or {})


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
    arrays: dict  # file name ("train_v.bin", "train_v.f16.bin", "train_v.json") -> Payload
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


def array_url(section: str, exp_id: str, name: str, suffix: str, version: str) -> str:
    """Relative to the API root, so pages under any prefix can resolve it."""
    return f"{section}/{exp_id}/arrays/{name}{suffix}?v={version}"


def load_experiment(bundle: Bundle, section: str = "experiments") -> Experiment:
    """Encode a bundle's arrays and views; ``section`` is its URL folder under /api/."""
    manifest = bundle.manifest
    arrays, infos, versions = {}, {}, {}
    for name, entry in manifest["arrays"].items():
        data = np.ascontiguousarray(bundle.arrays[name])
        dtype = DTYPE_NAMES[entry["dtype"]]
        shape_header = ",".join(str(s) for s in data.shape)
        raw = Payload.of(data.tobytes(), "application/octet-stream",
                         {"X-Array-Dtype": dtype, "X-Array-Shape": shape_header})
        version = raw.etag.strip('"')[:16]
        versions[name] = version
        arrays[f"{name}.bin"] = raw
        info = {
            "dtype": dtype,
            "shape": list(data.shape),
            "sha256": raw.etag.strip('"'),
            "url": array_url(section, bundle.id, name, ".bin", version),
            "url_json": array_url(section, bundle.id, name, ".json", version),
            "url_f16": None,
        }
        if data.dtype.kind == "f":
            arrays[f"{name}.f16.bin"] = Payload.of(
                data.astype("<f2").tobytes(), "application/octet-stream",
                {"X-Array-Dtype": "float16", "X-Array-Shape": shape_header},
            )
            info["url_f16"] = array_url(section, bundle.id, name, ".f16.bin", version)
        arrays[f"{name}.json"] = Payload.of(
            json_bytes({"name": name, "dtype": dtype, "shape": list(data.shape), "data": _json_safe(data)}),
            "application/json",
        )
        infos[name] = info

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
    return Experiment(bundle, summary, detail, Payload.of(json_bytes(detail), "application/json"), arrays, versions)


class Store:
    """All bundles of an artifacts folder, validated and encoded.

    SVM-path bundles (no ``kind`` in their manifest) are the experiments;
    other kinds (``network``, ``toy``) are data for single figures.
    """

    def __init__(self, source):
        # ``source``: an artifacts folder, or the exact bundle folders to serve
        # (``tilting serve`` pins the versions it found at start-up).
        bundles = read_all(source)
        self.experiments = {
            exp_id: load_experiment(bundle) for exp_id, bundle in bundles.items() if "kind" not in bundle.manifest
        }
        self.figures = {
            exp_id: load_experiment(bundle, "figures") for exp_id, bundle in bundles.items() if "kind" in bundle.manifest
        }
        self.figures_payload = Payload.of(json_bytes({"figures": [
            {"id": f.id, "kind": f.bundle.manifest["kind"], "title": f.bundle.manifest.get("title", f.id)}
            for f in self.figures.values()
        ]}), "application/json")
        listing = {"experiments": [e.summary for e in self.experiments.values()]}
        self.listing = listing
        self.listing_payload = Payload.of(json_bytes(listing), "application/json")
