"""Every API endpoint, success and failure, checked against the bundle and numpy."""

import gzip

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tilting.backend.app import create_app
from tilting.precompute.geometry import box_adversarial


@pytest.fixture(scope="module")
def client(small_bundle):
    return TestClient(create_app(small_bundle.path.parent))


@pytest.fixture(scope="module")
def detail(client):
    return client.get("/api/experiments/mnist-2-3").json()


def test_health(client):
    assert client.get("/healthz").json() == {"status": "ok", "experiments": 1}


def test_list(client, small_bundle):
    body = client.get("/api/experiments").json()
    assert body == client.get("/api/experiments.json").json()
    (summary,) = body["experiments"]
    assert summary["id"] == "mnist-2-3" and summary["digits"] == [2, 3]
    assert summary["n_models"] == summary["grid_size"] == 9 and summary["counts"]["train"] == 600
    assert summary["log10_lambda_min"] == -6.0 and summary["notice"] is None


def test_detail_matches_manifest(detail, small_bundle, client):
    assert client.get("/api/experiments/mnist-2-3.json").json() == detail
    assert detail["models"] == small_bundle.manifest["models"]
    assert detail["grid"] == small_bundle.manifest["grid"]
    assert set(detail["arrays"]) == set(small_bundle.manifest["arrays"])
    assert detail["arrays"]["train_y"]["url_f16"] is None  # int arrays have no float16 form


@pytest.mark.parametrize("name", ["weights", "train_v", "train_y", "test_box_distance", "gallery_index"])
def test_binary_arrays_equal_bundle(client, detail, small_bundle, name):
    info = detail["arrays"][name]
    response = client.get("/api/" + info["url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    shape = [int(s) for s in response.headers["x-array-shape"].split(",")]
    dtype = {"float32": "<f4", "int32": "<i4", "int8": "i1"}[response.headers["x-array-dtype"]]
    array = np.frombuffer(response.content, dtype=dtype).reshape(shape)
    np.testing.assert_array_equal(array, small_bundle.arrays[name])
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_float16_and_json_forms(client, detail, small_bundle):
    info = detail["arrays"]["train_v"]
    half = np.frombuffer(client.get("/api/" + info["url_f16"]).content, "<f2").reshape(info["shape"])
    np.testing.assert_allclose(half, small_bundle.arrays["train_v"], rtol=1e-3, atol=1e-3)
    body = client.get("/api/" + detail["arrays"]["test_box_distance"]["url_json"]).json()
    data = np.array(body["data"], dtype=float)  # None (inf) becomes nan
    expected = np.asarray(small_bundle.arrays["test_box_distance"], dtype=float)
    np.testing.assert_allclose(data[np.isfinite(expected)], expected[np.isfinite(expected)])
    assert body["shape"] == list(expected.shape)


def test_etag_304_and_gzip(client, detail):
    url = "/api/" + detail["arrays"]["weights"]["url"]
    first = client.get(url, headers={"accept-encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip" and first.headers["vary"] == "Accept-Encoding"
    raw = client.get(url, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert first.content == raw.content  # httpx decodes gzip transparently
    assert gzip.decompress(gzip.compress(raw.content)) == raw.content
    again = client.get(url, headers={"if-none-match": first.headers["etag"], "accept-encoding": "gzip"})
    assert again.status_code == 304 and again.content == b""
    meta = client.get("/api/experiments/mnist-2-3")
    assert meta.headers["cache-control"] == "no-cache"
    assert client.get("/api/experiments/mnist-2-3", headers={"if-none-match": meta.headers["etag"]}).status_code == 304


def test_array_errors(client, detail):
    response = client.get("/api/experiments/mnist-2-3/arrays/nothing.bin")
    assert response.status_code == 404 and "arrays are" in response.json()["detail"]
    assert client.get("/api/experiments/mnist-2-3/arrays/train_y.f16.bin").status_code == 404
    stale = client.get("/api/experiments/mnist-2-3/arrays/weights.bin?v=0000000000000000")
    assert stale.status_code == 404 and "is gone" in stale.json()["detail"]


def test_model(client, small_bundle):
    body = client.get("/api/experiments/mnist-2-3/models/3").json()
    np.testing.assert_allclose(body["w"], small_bundle.arrays["weights"][3])
    np.testing.assert_allclose(body["normal"], small_bundle.arrays["normals"][3])
    assert body["cos_theta"] == pytest.approx(np.cos(small_bundle.manifest["models"][3]["theta"]))
    assert body["d_adv"] == small_bundle.manifest["models"][3]["d_adv"]


def test_gallery_image_against_numpy(client, small_bundle):
    body = client.get("/api/experiments/mnist-2-3/images/14?k=2").json()
    a = small_bundle.arrays
    x = a["gallery_images"][14].astype(float)
    w, b = a["weights"][2].astype(float), float(a["intercepts"][2])
    d = (x @ w + b) / np.linalg.norm(w)
    assert body["digit"] == 3 and body["y"] == 1 and body["test_index"] == int(a["gallery_index"][14])
    np.testing.assert_allclose(body["projected"], x - d * w / np.linalg.norm(w), atol=1e-12)
    np.testing.assert_allclose(body["mirror"], x - 2 * d * w / np.linalg.norm(w), atol=1e-12)
    assert body["distances"]["to_boundary"] == pytest.approx(d)
    assert body["distances"]["mirror"] == pytest.approx(2 * abs(d))
    adv, dist = box_adversarial(x, w, b)
    np.testing.assert_allclose(body["adversarial"], adv)
    assert body["distances"]["adversarial"] == pytest.approx(dist)
    assert body["predicted"]["original"] != body["predicted"]["adversarial"]
    assert min(body["adversarial"]) >= 0 and max(body["adversarial"]) <= 1


def test_analyze_against_bundle(client, small_bundle, mnist):
    a = small_bundle.arrays
    x = a["gallery_images"][0].astype(float)
    body = client.post("/api/experiments/mnist-2-3/analyze", json={"image": x.tolist(), "k": 4}).json()
    scores = a["weights"].astype(float) @ x + a["intercepts"]
    np.testing.assert_allclose(body["models"]["score"], scores, rtol=1e-6)
    norms = np.linalg.norm(a["weights"].astype(float), axis=1)
    np.testing.assert_allclose(body["models"]["distance"], scores / norms, rtol=1e-6)
    assert body["models"]["predicted"] == [3 if s > 0 else 2 for s in scores]
    m = a["centroids"].astype(float).mean(axis=0)
    assert body["u"] == pytest.approx((x - m) @ a["z_hat"], abs=1e-6)
    np.testing.assert_allclose(body["models"]["v"], a["normals"].astype(float) @ (x - m), atol=1e-6)
    assert body["k"] == 4


def test_analyze_default_k_is_mid_grid(client):
    body = client.post("/api/experiments/mnist-2-3/analyze", json={"image": [0.0] * 784}).json()
    assert body["k"] == 4


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ('{"image": [0.5]}', "needs 28×28 = 784"),
        ('{"image": [NaN' + ", 0.5" * 783 + "]}", "finite number"),
        ('{"image": [Infinity' + ", 0.5" * 783 + "]}", "finite number"),
        ('{"image": [-Infinity' + ", 0.5" * 783 + "]}", "finite number"),
        ('{"image": [1.5' + ", 0.5" * 783 + "]}", "less than or equal to 1"),
        ('{"image": [-0.1' + ", 0.5" * 783 + "]}", "greater than or equal to 0"),
        ('{"image": "zeros"}', "image"),
        ('{"pixels": []}', "image"),
        ("{not json", "not valid JSON"),
        ('{"image": [0.5' + ", 0.5" * 783 + '], "k": 99}', "no model 99"),
    ],
)
def test_analyze_rejects_bad_images(client, payload, fragment):
    response = client.post("/api/experiments/mnist-2-3/analyze", content=payload,
                           headers={"content-type": "application/json"})
    assert response.status_code in (404, 422)
    assert fragment in response.json()["detail"]


def test_oversized_body_is_413(client):
    response = client.post("/api/experiments/mnist-2-3/analyze", content=b"[" + b"0," * 40000 + b"0]",
                           headers={"content-type": "application/json"})
    assert response.status_code == 413 and "64 KiB" in response.json()["detail"]


def test_chunked_oversized_body_is_413(client):
    def chunks():
        for _ in range(100):
            yield b"0" * 1024

    response = client.post("/api/experiments/mnist-2-3/analyze", content=chunks(),
                           headers={"content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "url",
    ["/api/experiments/nope", "/api/experiments/nope.json", "/api/experiments/nope/models/0",
     "/api/experiments/mnist-2-3/models/9", "/api/experiments/mnist-2-3/models/-1",
     "/api/experiments/mnist-2-3/images/24", "/api/experiments/nope/arrays/weights.bin"],
)
def test_not_found(client, url):
    response = client.get(url)
    assert response.status_code == 404 and response.json()["detail"].endswith(".")


def test_bad_parameters_are_422_naming_the_field(client):
    response = client.get("/api/experiments/mnist-2-3/images/0?k=abc")
    assert response.status_code == 422 and response.json()["detail"].startswith("query.k")


def test_wrong_method_is_405(client):
    for method, url in (("delete", "/api/experiments"), ("put", "/api/experiments/mnist-2-3"),
                        ("get", "/api/experiments/mnist-2-3/analyze"), ("post", "/")):
        response = client.request(method, url)
        assert response.status_code == 405 and "not allowed" in response.json()["detail"]


def test_openapi_documents_every_endpoint(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/experiments", "/api/experiments/{exp_id}", "/api/experiments/{exp_id}/arrays/{file}",
                 "/api/experiments/{exp_id}/models/{k}", "/api/experiments/{exp_id}/images/{index}",
                 "/api/experiments/{exp_id}/analyze", "/healthz"):
        assert path in paths, path
    assert "AnalyzeRequest" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_internal_errors_never_leak(small_bundle):
    app = create_app(small_bundle.path.parent)

    def boom():
        raise RuntimeError("secret internals")

    app.add_api_route("/api/boom", boom)
    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the frontend's catch-all

    response = TestClient(app, raise_server_exceptions=False).get("/api/boom")
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text


def test_bad_bundle_stops_start_up(small_bundle, tmp_path):
    import shutil

    from tilting.precompute.artifacts import BundleError

    root = tmp_path / "artifacts"
    shutil.copytree(small_bundle.path.resolve(), root / "mnist-2-3")
    (root / "mnist-2-3" / "train_v.npy").write_bytes(b"\x93NUMPY broken")
    with pytest.raises(BundleError, match="train_v.npy"):
        create_app(root)


def test_figure_bundles_are_served_apart_from_experiments(small_bundle, tmp_path):
    import os

    from tilting.precompute.artifacts import write_bundle
    from tilting.precompute.toy import build_toy_experiment

    root = tmp_path / "artifacts"
    root.mkdir()
    os.symlink(small_bundle.path.resolve(), root / "mnist-2-3")
    manifest, arrays = build_toy_experiment()
    write_bundle(root, "toy", manifest, arrays)
    client = TestClient(create_app(root))
    assert [e["id"] for e in client.get("/api/experiments").json()["experiments"]] == ["mnist-2-3"]
    detail = client.get("/api/figures/toy.json").json()
    assert detail["kind"] == "toy" and detail == client.get("/api/figures/toy").json()
    response = client.get("/api/" + detail["arrays"]["theta"]["url"])
    dtype = {"float32": "<f4", "float64": "<f8"}[response.headers["x-array-dtype"]]
    theta = np.frombuffer(response.content, dtype)
    np.testing.assert_array_equal(theta, arrays["theta"])
    assert client.get("/api/figures.json").json() == {"figures": [{"id": "toy", "kind": "toy", "title": manifest["title"]}]}
    assert client.get("/api/figures/nope.json").status_code == 404
    assert client.get("/api/experiments/toy").status_code == 404


def test_figures_listing(client):
    assert client.get("/api/figures").json() == {"figures": []}  # the small bundle folder has none
    assert client.get("/api/figures.json").json() == {"figures": []}
