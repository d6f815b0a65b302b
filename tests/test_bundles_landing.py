"""Bundles that land while the server runs (issue 13): new pairs appear in the list, a
rebuilt pair is served in its new version, without a restart and at a bounded cost."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tilting.backend.app import create_app
from tilting.precompute.artifacts import write_bundle
from tests.helpers import get, running_server


def publish(root, bundle, exp_id: str, title: str | None = None, shift: float = 0.0):
    """Write ``bundle`` again under ``exp_id`` as `tilting precompute` does (a new version
    folder, then the link switched); ``title`` and ``shift`` (added to train_v) change it."""
    manifest = {k: v for k, v in bundle.manifest.items() if k not in ("arrays", "schema_version")}
    manifest["id"] = exp_id
    if title is not None:
        manifest["title"] = title
    arrays = {name: np.array(array) for name, array in bundle.arrays.items()}
    arrays["train_v"] = arrays["train_v"] + np.float32(shift)
    return write_bundle(root, exp_id, manifest, arrays)


def ids(client) -> list[str]:
    return [e["id"] for e in client.get("/api/experiments").json()["experiments"]]


@pytest.fixture()
def root(tmp_path, small_bundle):
    publish(tmp_path, small_bundle, "mnist-2-3")
    return tmp_path


def test_a_new_bundle_appears_in_the_list_without_restart(root, small_bundle):
    client = TestClient(create_app(root, rescan_seconds=0))
    assert ids(client) == ["mnist-2-3"]
    publish(root, small_bundle, "mnist-4-9")
    assert ids(client) == ["mnist-2-3", "mnist-4-9"]
    detail = client.get("/api/experiments/mnist-4-9").json()
    weights = client.get("/api/" + detail["arrays"]["weights"]["url"])
    assert weights.status_code == 200 and weights.content == small_bundle.raw_bytes("weights")
    assert client.get("/healthz").json()["experiments"] == 2


def test_an_unknown_id_looks_for_it_before_answering_404(root, small_bundle):
    client = TestClient(create_app(root, rescan_seconds=0))
    assert client.get("/api/experiments/mnist-4-9").status_code == 404
    publish(root, small_bundle, "mnist-4-9")
    assert client.get("/api/experiments/mnist-4-9.json").status_code == 200  # no listing needed first


def test_the_folder_is_looked_at_no_more_than_once_per_interval(root, small_bundle):
    client = TestClient(create_app(root, rescan_seconds=3600))
    assert ids(client) == ["mnist-2-3"]
    publish(root, small_bundle, "mnist-4-9")
    assert ids(client) == ["mnist-2-3"]  # looked at start-up; the next look is an hour away
    assert client.get("/api/experiments/mnist-4-9").status_code == 404


def test_a_rebuilt_bundle_is_served_in_its_new_version_and_the_old_urls_still_work(root, small_bundle):
    client = TestClient(create_app(root, rescan_seconds=0))
    first = client.get("/api/experiments/mnist-2-3").json()
    publish(root, small_bundle, "mnist-2-3", title="rebuilt", shift=1.0)
    second = client.get("/api/experiments/mnist-2-3").json()
    assert second["title"] == "rebuilt"
    old_url, new_url = first["arrays"]["train_v"]["url"], second["arrays"]["train_v"]["url"]
    assert old_url != new_url
    new = client.get("/api/" + new_url)
    assert np.array_equal(np.frombuffer(new.content, "<f4"), small_bundle.arrays["train_v"].ravel() + 1)
    # A page that read the first metadata (perhaps from another worker) still gets its arrays.
    old = client.get("/api/" + old_url)
    assert old.status_code == 200 and old.content == small_bundle.raw_bytes("train_v")
    assert "immutable" in old.headers["cache-control"]
    # One generation only: after another rebuild the first version is gone, and its folder with it.
    first_version = client.app.state.store.previous["mnist-2-3"].bundle.path
    publish(root, small_bundle, "mnist-2-3", title="third", shift=2.0)
    assert client.get("/api/experiments/mnist-2-3").json()["title"] == "third"
    gone = client.get("/api/" + old_url)
    assert gone.status_code == 404 and "is gone" in gone.json()["detail"]
    assert client.get("/api/" + new_url).status_code == 200
    publish(root, small_bundle, "mnist-2-3", title="third", shift=2.0)  # precompute's clean-up runs here
    assert not first_version.exists(), "a version no one serves any more was kept"


def test_versions_served_are_leased_so_precompute_keeps_them(root, small_bundle):
    client = TestClient(create_app(root, rescan_seconds=3600))  # it will not look again
    served = client.app.state.store.experiments["mnist-2-3"].bundle.path
    publish(root, small_bundle, "mnist-2-3", shift=1.0)
    publish(root, small_bundle, "mnist-2-3", shift=2.0)
    assert served.is_dir()
    url = client.get("/api/experiments/mnist-2-3").json()["arrays"]["train_v"]["url"]
    assert client.get("/api/" + url).content == small_bundle.raw_bytes("train_v")
    client.app.state.store.close()
    publish(root, small_bundle, "mnist-2-3", shift=3.0)
    assert not served.exists()


def test_a_broken_bundle_landing_is_logged_and_the_rest_still_served(root, small_bundle, caplog):
    client = TestClient(create_app(root, rescan_seconds=0))
    (root / "mnist-4-9").symlink_to(root / ".store" / "mnist-4-9.missing")
    with caplog.at_level(logging.WARNING, logger="tilting"):
        assert ids(client) == ["mnist-2-3"]
        assert ids(client) == ["mnist-2-3"]
    warnings = [r.getMessage() for r in caplog.records if "mnist-4-9" in r.getMessage()]
    assert len(warnings) == 1 and "does not exist" in warnings[0]  # once, not at every look
    (root / "mnist-4-9").unlink()
    publish(root, small_bundle, "mnist-4-9")
    assert ids(client) == ["mnist-2-3", "mnist-4-9"]


def test_a_removed_bundle_leaves_the_list(root, small_bundle):
    publish(root, small_bundle, "mnist-4-9")
    client = TestClient(create_app(root, rescan_seconds=0))
    assert ids(client) == ["mnist-2-3", "mnist-4-9"]
    (root / "mnist-4-9").unlink()
    assert ids(client) == ["mnist-2-3"]
    assert client.get("/api/experiments/mnist-4-9").status_code == 404


@pytest.mark.slow
def test_tilting_serve_with_two_workers_picks_up_a_new_bundle(root, small_bundle):
    with running_server(root, "--workers", "2") as base:
        publish(root, small_bundle, "mnist-4-9")
        deadline = time.monotonic() + 30
        seen = []
        # Fresh connections land on either worker; each looks for itself, within a second.
        while time.monotonic() < deadline:
            status, _, body = get(f"{base}/api/experiments", {"accept-encoding": "identity"})
            assert status == 200
            seen.append([e["id"] for e in json.loads(body)["experiments"]])
            if len(seen) >= 20 and all(s == ["mnist-2-3", "mnist-4-9"] for s in seen[-20:]):
                break
            time.sleep(0.1)
        assert seen[-20:] == [["mnist-2-3", "mnist-4-9"]] * 20, seen[-20:]
        status, _, _ = get(f"{base}/api/experiments/mnist-4-9")
        assert status == 200
