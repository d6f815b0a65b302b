"""The fast form of benchmarks/soak.py: concurrent mixed traffic, zero errors, server stays up."""

import pytest
import http.client
import json
import threading
import time

from tilting.backend.app import create_app
from tests.helpers import live_server


@pytest.mark.slow
def test_concurrent_mixed_traffic_has_no_errors(small_bundle):
    with live_server(create_app(small_bundle.path.parent)) as port:
        errors, ok, alive = mixed_traffic(port, small_bundle)
    assert errors == []
    assert ok > 100 and alive


def mixed_traffic(port, small_bundle):
    image = json.dumps({"image": small_bundle.arrays["gallery_images"][0].astype(float).tolist(), "k": 3})
    requests = [("GET", "/api/experiments", None), ("GET", "/api/experiments/mnist-2-3.json", None),
                ("GET", "/api/experiments/mnist-2-3/arrays/train_v.bin", None),
                ("GET", "/api/experiments/mnist-2-3/models/4", None),
                ("GET", "/api/experiments/mnist-2-3/images/7?k=2", None),
                ("POST", "/api/experiments/mnist-2-3/analyze", image), ("GET", "/healthz", None)]
    results = {"ok": 0, "errors": []}
    lock = threading.Lock()
    deadline = time.monotonic() + 3.0

    def client(offset):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # one keep-alive connection
        i = offset
        while time.monotonic() < deadline:
            method, path, body = requests[i % len(requests)]
            i += 1
            try:
                conn.request(method, path, body=body, headers={"content-type": "application/json"})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                status = repr(exc)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                if status == 200:
                    results["ok"] += 1
                else:
                    results["errors"].append((path, status))

    workers = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/healthz")
    return results["errors"], results["ok"], conn.getresponse().status == 200
