"""``tilting export``: the whole explorable as static files, for any static host.

Every file is fetched from the real application in-process, so the export
holds exactly the bytes the server would send (decoded from gzip). All URLs
the pages use are relative, and the API's JSON forms end in ``.json``, so the
folder works under any sub-path, from a CDN, or opened from a file server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # Starlette's notice about httpx's future; the in-process client works as documented.
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

from backend.app import create_app
from precompute.errors import TiltingError


def export_urls(app) -> list[str]:
    """Every URL path the static site needs: pages, assets, and all API data."""
    store = app.state.store
    urls = list(app.state.frontend)  # "/index.html", "/js/…", "/vendor/plotly.min.js", …
    urls.extend(["/api/experiments.json", "/api/figures.json"])
    for section, bundles in (("experiments", store.experiments), ("figures", store.figures)):
        for exp_id, exp in bundles.items():
            urls.append(f"/api/{section}/{exp_id}.json")
            urls.extend(f"/api/{section}/{exp_id}/arrays/{file}" for file in exp.arrays)
    return urls


def export_site(artifacts_dir, out_dir, frontend_dir=None) -> int:
    """Write the static site into ``out_dir`` (replaced atomically); return the file count."""
    out = Path(out_dir)
    if out.exists() and not (out / "index.html").is_file():
        raise TiltingError(f"{out} exists and is not a previous export; choose an empty or new folder.")
    app = create_app(artifacts_dir, frontend_dir=frontend_dir)
    if not app.state.store.experiments:
        raise TiltingError(f"No experiment in {artifacts_dir}; run `tilting precompute` first.")
    client = TestClient(app)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))  # same disk: atomic rename
    try:
        urls = export_urls(app)
        for url in urls:
            response = client.get(url, headers={"accept-encoding": "identity"})
            if response.status_code != 200:
                raise TiltingError(f"Exporting {url} failed: {response.status_code} {response.text[:200]}")
            target = staging / url.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(response.content)
        if out.exists():
            old = out.with_name(out.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(urls)
