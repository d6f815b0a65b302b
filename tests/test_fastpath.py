"""The hot GETs (tilting.backend.fastpath) answer exactly as the routes do, and really are answered
before routing: by the ASGI layer in any server, and by `tilting serve`'s protocol itself."""

from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient

from tilting.backend.app import create_app
from tests.helpers import running_server

EXP = "/api/experiments/mnist-2-3"


@pytest.fixture(scope="module")
def client(small_bundle):
    return TestClient(create_app(small_bundle.path.parent))


def hot_urls(client) -> list[str]:
    arrays = client.get(EXP).json()["arrays"]
    urls = ["/api/experiments", "/api/experiments.json", EXP, EXP + ".json", "/api/figures", "/api/figures.json",
            "/", "/index.html", "/embed/teaser", "/embed/teaser.html", "/vendor/plotly.min.js",
            "/docs-assets/swagger-ui.css", "/source.tar.gz"]
    for info in arrays.values():
        for key in ("url", "url_f16", "url_json"):
            if info[key]:
                urls += ["/api/" + info[key], "/api/" + info[key].split("?")[0]]
    return urls


def routed(url: str) -> str:
    """The same URL with a query parameter the fast path does not know: the router answers it
    (and ignores the parameter)."""
    return url + ("&" if "?" in url else "?") + "via=router"


def answer(client, method: str, url: str, headers: dict):
    response = client.request(method, url, headers=headers)
    return response.status_code, dict(response.headers), response.content


@pytest.mark.parametrize("headers", [{"accept-encoding": "identity"}, {"accept-encoding": "gzip"}, {},
                                     {"accept-encoding": "gzip;q=0, identity"}],
                         ids=["identity", "gzip", "no-header", "gzip-refused"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_hot_urls_answer_as_the_routes_do(client, method, headers):
    for url in hot_urls(client):
        fast = answer(client, method, url, headers)
        assert fast[0] == 200, url
        assert fast == answer(client, method, routed(url), headers), url


def test_not_modified_answers_as_the_routes_do(client):
    for url in hot_urls(client):
        for encoding in ("gzip", "identity"):
            etag = client.get(url, headers={"accept-encoding": encoding}).headers["etag"]
            conditional = {"accept-encoding": encoding, "if-none-match": f'"other", {etag}'}
            fast = answer(client, "GET", url, conditional)
            assert fast[0] == 304 and fast[2] == b"", url
            assert fast == answer(client, "GET", routed(url), conditional), url


def test_hot_urls_are_answered_before_routing(small_bundle):
    """With every route gone, the hot URLs still answer (the fast path's own work) and the
    others do not: so the hot URLs never reach routing or the middleware."""
    client = TestClient(create_app(small_bundle.path.parent))
    urls = hot_urls(client)
    client.app.router.routes.clear()
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert client.get(routed(EXP)).status_code == 404
    assert client.get(EXP + "/models/0").status_code == 404


def test_what_the_fast_path_is_unsure_of_goes_to_the_app(client):
    """Errors, bodies and unknown names keep the app's answers (one JSON sentence each)."""
    assert client.get("/api/experiments/nope").json()["detail"].startswith("Unknown experiment 'nope'")
    assert "No array file" in client.get(EXP + "/arrays/nope.bin").json()["detail"]
    assert "is gone" in client.get(EXP + "/arrays/weights.bin?v=0000").json()["detail"]
    assert client.get(EXP + "/arrays/weights.bin?v=" + "0" * 65).status_code == 422
    big = client.request("GET", EXP, headers={"content-length": str(10**6)}, content=b"")
    assert big.status_code == 413
    assert client.post("/api/experiments").status_code == 405


# --- on the wire: `tilting serve`'s protocol answers hot GETs itself -----------------------


@pytest.fixture(scope="module")
def server(small_bundle):
    with running_server(small_bundle.path.parent) as base:
        yield base.removeprefix("http://127.0.0.1:")


def exchange(port: str, raw: bytes) -> bytes:
    """Send raw request bytes, read until the server closes (the last request says close)."""
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks)


def responses(data: bytes, bodiless: bool = False) -> list[tuple[bytes, dict, bytes]]:
    """(status line, headers but Date, body) of each response in ``data`` (Content-Length framed;
    answers to HEAD have none)."""
    found = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        status, *lines = head.split(b"\r\n")
        headers = dict(line.split(b": ", 1) for line in lines)
        length = 0 if bodiless or status.split()[1] == b"304" else int(headers.get(b"content-length", b"0"))
        headers.pop(b"date")
        found.append((status, headers, data[:length]))
        data = data[length:]
    return found


def request(method: str, url: str, *extra: str, close: bool = False) -> bytes:
    lines = [f"{method} {url} HTTP/1.1", "Host: 127.0.0.1", *extra] + (["Connection: close"] if close else [])
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("extra", [(), ("Accept-Encoding: gzip",), ("Accept-Encoding: br;q=1, gzip;q=0.5",)])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_protocol_answers_as_the_routes_do(server, client, method, extra):
    for url in hot_urls(client):
        # One connection, both requests pipelined: the fast answer, then the routed one.
        data = exchange(server, request(method, url, *extra) + request(method, routed(url), *extra, close=True))
        fast, slow = responses(data, bodiless=method == "HEAD")
        assert fast[0] == b"HTTP/1.1 200 OK", url
        slow[1].pop(b"connection")
        assert fast == slow, url


def test_pipelined_requests_keep_their_order_and_conditionals_work(server, client):
    etag = client.get(EXP, headers={"accept-encoding": "identity"}).headers["etag"]
    data = exchange(server, request("GET", EXP) + request("GET", EXP + "/models/0") + request("GET", "/api/nope")
                    + request("GET", EXP, f"If-None-Match: {etag}") + request("GET", "/healthz", close=True))
    statuses = [status.split()[1] for status, _, _ in responses(data)]
    assert statuses == [b"200", b"200", b"404", b"304", b"200"]
    [*_, last] = responses(data)
    assert last[1][b"connection"] == b"close" and b'"status":"ok"' in last[2]
