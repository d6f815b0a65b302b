"""Helpers for tests that write or edit bundles by hand."""

import hashlib
import json
from pathlib import Path


def minimal_manifest(n_models: int = 2) -> dict:
    """The smallest manifest the schema accepts (a toy-kind bundle), without id and arrays."""
    return {
        "kind": "toy",
        "title": "test",
        "created": "2026-01-01T00:00:00Z",
        "build_seconds": 0.0,
        "dataset": {"name": "toy", "source": "tests", "checksums": {}, "image_shape": [2, 4],
                    "seed": 0, "notice": None},
        "digits": ["I", "J"],
        "counts": {"train": 3},
        "grid": {"log10_lambda": [float(k) for k in range(n_models)], "size": n_models},
        "loss": "hinge",
        "mislabelled": {"index": 0},
        "rules": {},
        "models": [
            {"k": k, "log10_lambda": float(k), "lambda": 10.0**k, "theta": 0.1, "theta_deg": 5.7,
             "w_norm": 1.0, "b": 0.0, "fits_mislabelled": False, "train_error": 0.0, "relative_gap": 0.0}
            for k in range(n_models)
        ],
    }


def rewrite_manifest(bundle_path, change, replace: bool = False) -> None:
    """Apply ``change(manifest)`` (in place, or its result with ``replace``) and write the manifest back with a matching digest,
    as a careless hand edit (or a buggy writer) would: the digest no longer protects it,
    only the schema does."""
    path = Path(bundle_path) / "manifest.json"
    manifest = json.loads(path.read_text())
    result = change(manifest)
    text = json.dumps(result if replace else manifest, indent=1).encode()
    path.write_bytes(text)
    (path.parent / "manifest.sha256").write_text(f"{hashlib.sha256(text).hexdigest()}  manifest.json\n")
