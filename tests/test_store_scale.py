"""Serving many bundles: start-up encodes nothing, and encoded arrays are held within a budget."""

import shutil
import tracemalloc

from fastapi.testclient import TestClient

from tilting.backend.app import create_app
from tilting.backend.store import Store
from tests.bundles import rewrite_manifest

COPIES = 20


def test_start_up_encodes_no_array(small_bundle, tmp_path):
    """Start-up costs metadata per bundle, not the arrays' encoded forms (which, made eagerly,
    took about 1.9 s and 37 MB per real bundle)."""
    for i in range(COPIES):
        target = tmp_path / f"mnist-2-3-c{i}"
        shutil.copytree(small_bundle.path.resolve(), target)
        rewrite_manifest(target, lambda m, i=i: m.update(id=f"mnist-2-3-c{i}"))
    tracemalloc.start()
    store = Store(tmp_path)  # the app's data, without the frontend files it also loads
    allocated, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(store.experiments) == COPIES
    assert not store.cache.entries, "array bodies were encoded before anyone asked for them"
    encoded_size = sum(len(p.body) for p in (store.experiments["mnist-2-3-c0"].arrays[f]
                                             for f in store.experiments["mnist-2-3-c0"].arrays))
    # Per bundle, start-up keeps less than a tenth of what its arrays' encoded forms take.
    assert allocated / COPIES < encoded_size / 10, (allocated / COPIES, encoded_size)


def test_encoded_arrays_stay_within_the_cache_budget(small_bundle, monkeypatch):
    budget = 256 * 1024
    monkeypatch.setattr("tilting.backend.store.PAYLOAD_CACHE_BYTES", budget)
    client = TestClient(create_app(small_bundle.path.parent))
    cache = client.app.state.store.cache
    detail = client.get("/api/experiments/mnist-2-3").json()
    urls = [info[key] for info in detail["arrays"].values() for key in ("url", "url_f16", "url_json") if info[key]]
    first = [client.get("/api/" + url).content for url in urls]
    assert sum(len(body) for body in first) > 4 * budget  # the budget really binds here
    held = [p.size for p in cache.entries.values()]
    assert sum(held) <= budget or len(held) == 1  # one body larger than the budget is kept alone
    # Evicted bodies are made again, byte for byte.
    assert [client.get("/api/" + url).content for url in urls] == first
