"""Static files cannot escape frontend/; headers, framing and CORS are as documented."""

import http.client

import pytest
from fastapi.testclient import TestClient

from tilting.backend.app import create_app
from tests.helpers import frontend_with_secrets, live_server


@pytest.fixture(scope="module")
def frontend(tmp_path_factory):
    return frontend_with_secrets(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def app(small_bundle, frontend):
    return create_app(small_bundle.path.parent, frontend_dir=frontend)


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app)


@pytest.fixture(scope="module")
def raw_server(app):
    """The app on a real socket, so that paths reach it exactly as sent (no client normalisation)."""
    with live_server(app) as port:
        yield port


def raw_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.putrequest("GET", path, skip_host=False, skip_accept_encoding=True)
    conn.endheaders()
    response = conn.getresponse()
    return response.status, response.read()


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/%252e%252e%252fsecret.txt",
        "/..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/etc/passwd",
        "/leak.txt",
        "/embed/..%2f..%2fsecret",
        "/embed/%2e%2e%2fsecret",
        "/.%2e/secret.txt",
        "/\\..\\secret.txt",
    ],
)
def test_static_files_cannot_escape(raw_server, path):
    status, body = raw_get(raw_server, path)
    assert status in (400, 404)
    assert b"do not serve" not in body and b"root:" not in body


def test_frontend_files_are_served(client):
    assert client.get("/").text.startswith("<!doctype html><title>article")
    assert client.get("/embed/teaser").status_code == 200
    assert client.get("/embed/teaser.html").text == client.get("/embed/teaser").text
    js = client.get("/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert client.get("/vendor/plotly.min.js").headers["content-type"].startswith("text/javascript")


def test_security_headers_everywhere(client):
    for url in ("/", "/app.js", "/api/experiments", "/healthz", "/nope"):
        headers = client.get(url).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_only_embeds_may_be_framed(client):
    article = client.get("/").headers
    assert article["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in article["content-security-policy"]
    embed = client.get("/embed/teaser").headers
    assert "x-frame-options" not in embed and "frame-ancestors *" in embed["content-security-policy"]


def test_cors_allows_get_on_the_api_only(client):
    api = client.get("/api/experiments", headers={"origin": "https://blog.example"})
    assert api.headers["access-control-allow-origin"] == "*"
    assert "X-Array-Shape" in api.headers["access-control-expose-headers"]
    page = client.get("/", headers={"origin": "https://blog.example"})
    assert "access-control-allow-origin" not in page.headers
    preflight = {"origin": "https://blog.example", "access-control-request-method": "GET"}
    ok = client.options("/api/experiments/mnist-2-3", headers=preflight)
    assert ok.status_code == 204 and ok.headers["access-control-allow-methods"] == "GET, HEAD"
    post = client.options("/api/experiments/mnist-2-3/analyze",
                          headers={**preflight, "access-control-request-method": "POST"})
    assert post.status_code == 405
    assert "access-control-allow-origin" not in client.options("/", headers=preflight).headers


def test_error_bodies_are_json_sentences(client):
    for url in ("/nope.html", "/api/experiments/zzz"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert response.json()["detail"].endswith(".")
