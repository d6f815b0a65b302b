"""HTTP as RFC 9110 has it: HEAD, 404 against 405 (with Allow), validators and 304 on
every GET, If-None-Match and Accept-Encoding parsed properly, strict request types,
and errors that are always one JSON sentence."""

import http.client
import json

import pytest
from fastapi.testclient import TestClient

from tilting.backend.representation import etag_matches, use_gzip
from tilting.backend.app import create_app
from tests.helpers import live_server

EXP = "/api/experiments/mnist-2-3"
IMAGE = [0.5] * 784


@pytest.fixture(scope="module")
def app(small_bundle):
    return create_app(small_bundle.path.parent)


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app)


@pytest.fixture(scope="module")
def array_urls(client):
    arrays = client.get(EXP).json()["arrays"]
    return ["/api/" + arrays["weights"]["url"], "/api/" + arrays["train_v"]["url_f16"],
            "/api/" + arrays["gallery_y"]["url_json"]]


def get_routes(array_urls):
    """One URL for every GET route: API, docs, health and frontend."""
    return ["/healthz", "/api/experiments", "/api/experiments.json", EXP, EXP + ".json", *array_urls,
            EXP + "/models/3", EXP + "/images/0", EXP + "/images/0?k=2", "/api/figures", "/api/figures.json",
            "/openapi.json", "/docs", "/redoc", "/", "/embed/teaser", "/index.html", "/vendor/plotly.min.js"]


# --- HEAD --------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_head_answers_every_get_route_with_the_get_headers(client, array_urls, encoding):
    for url in get_routes(array_urls):
        got = client.get(url, headers={"accept-encoding": encoding})
        head = client.head(url, headers={"accept-encoding": encoding})
        assert got.status_code == 200, url
        assert head.status_code == 200, url
        assert head.content == b"", url
        assert dict(head.headers) == dict(got.headers), url


def test_head_over_a_socket_sends_no_body(app):
    """On the wire: Content-Length is the GET's, and no body byte follows the headers."""
    with live_server(app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", EXP + "/models/3")
        got = conn.getresponse()
        length = len(got.read())
        conn.request("HEAD", EXP + "/models/3")
        head = conn.getresponse()
        assert head.status == 200 and int(head.headers["content-length"]) == length
        assert head.read() == b""
        conn.request("GET", "/healthz")  # the same connection is still in step: nothing was left over
        assert json.loads(conn.getresponse().read())["status"] == "ok"
        conn.close()


def test_head_preflight_advertises_what_works(client):
    preflight = client.options(EXP, headers={"origin": "https://blog.example", "access-control-request-method": "HEAD"})
    assert preflight.status_code == 204 and "HEAD" in preflight.headers["access-control-allow-methods"]
    assert client.head(EXP, headers={"origin": "https://blog.example"}).status_code == 200


# --- 404 against 405 ---------------------------------------------------------------------

UNKNOWN = ["/nope", "/nope.html", "/api/nope", "/api/experiments/mnist-2-3/nope", "/embed/teaser/extra",
           "/vendor/nope.js"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", UNKNOWN)
def test_other_methods_on_unknown_paths_are_404(client, method, path):
    response = client.request(method, path)
    assert response.status_code == 404
    assert "allow" not in response.headers
    assert response.json()["detail"] == f"There is no page or file at {path}."


WRONG_METHOD = [
    ("POST", "/api/experiments", "GET, HEAD"),
    ("PUT", EXP, "GET, HEAD"),
    ("DELETE", EXP + "/models/0", "GET, HEAD"),
    ("POST", EXP + "/arrays/weights.bin", "GET, HEAD"),
    ("PATCH", EXP + "/images/0", "GET, HEAD"),
    ("GET", EXP + "/analyze", "POST"),
    ("HEAD", EXP + "/analyze", "POST"),
    ("PUT", EXP + "/analyze", "POST"),
    ("POST", "/healthz", "GET, HEAD"),
    ("POST", "/openapi.json", "GET, HEAD"),
    ("POST", "/", "GET, HEAD"),
    ("DELETE", "/index.html", "GET, HEAD"),
    ("POST", "/embed/teaser", "GET, HEAD"),
    ("PUT", "/vendor/plotly.min.js", "GET, HEAD"),
]


@pytest.mark.parametrize("method, path, allow", WRONG_METHOD, ids=[f"{m} {p}" for m, p, _ in WRONG_METHOD])
def test_wrong_method_on_a_known_path_is_405_with_allow(client, method, path, allow):
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    if method != "HEAD":
        assert response.json()["detail"] == f"{method} is not allowed on {path}."


def test_refused_preflight_carries_allow(client):
    preflight = {"origin": "https://blog.example", "access-control-request-method": "POST"}
    response = client.options(EXP + "/analyze", headers=preflight)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json() == {"detail": "Cross-origin pages may only GET from the API."}
    assert client.options(EXP, headers=preflight).headers["allow"] == "GET, HEAD"
    unknown = client.options("/api/nope", headers=preflight)
    assert unknown.status_code == 404 and "allow" not in unknown.headers


# --- validators --------------------------------------------------------------------------

COMPUTED = [EXP + "/models/3", EXP + "/images/0", EXP + "/images/0?k=2", "/openapi.json"]


@pytest.mark.parametrize("url", COMPUTED)
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_computed_responses_have_etags_and_304(client, url, encoding):
    first = client.get(url, headers={"accept-encoding": encoding})
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert first.headers["cache-control"] == "no-cache" and first.headers["vary"] == "Accept-Encoding"
    assert client.get(url, headers={"accept-encoding": encoding}).headers["etag"] == etag  # stable
    again = client.get(url, headers={"accept-encoding": encoding, "if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == "no-cache"
    assert client.get(url, headers={"accept-encoding": encoding, "if-none-match": '"other"'}).status_code == 200


def test_computed_etags_follow_the_content(client):
    tags = {url: client.get(url, headers={"accept-encoding": "identity"}).headers["etag"]
            for url in [EXP + "/models/3", EXP + "/models/4", EXP + "/images/0", EXP + "/images/0?k=2",
                        EXP + "/images/1"]}
    assert len(set(tags.values())) == len(tags)
    # gzip and identity bytes are different representations: different strong tags.
    zipped = client.get(EXP + "/models/3", headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["etag"] != tags[EXP + "/models/3"]
    plain = client.get(EXP + "/models/3", headers={"accept-encoding": "gzip", "if-none-match": tags[EXP + "/models/3"]})
    assert plain.status_code == 200


def test_computed_etag_changes_with_the_bundle(small_bundle, tmp_path):
    """Another bundle under the same id (a rebuild) gives other bytes, so another tag."""
    import numpy as np

    from tilting.precompute.artifacts import write_bundle

    arrays = {name: np.array(array) for name, array in small_bundle.arrays.items()}
    arrays["weights"] = arrays["weights"] * np.float32(2)
    manifest = {k: v for k, v in small_bundle.manifest.items() if k not in ("arrays", "schema_version", "id")}
    write_bundle(tmp_path, "mnist-2-3", manifest, arrays)
    old = TestClient(create_app(small_bundle.path.parent)).get(EXP + "/models/3").headers["etag"]
    new = TestClient(create_app(tmp_path)).get(EXP + "/models/3").headers["etag"]
    assert old != new


IF_NONE_MATCH = [
    ("{tag}", 304), ("W/{tag}", 304), ('"zzz", {tag}', 304), ('"zzz",W/{tag} , "yyy"', 304), ("*", 304),
    ("  *  ", 304), ('"zzz"', 200), ("W/\"zzz\"", 200), ("{bare}", 200), ("", 200), ("garbage", 200),
]


@pytest.mark.parametrize("header, status", IF_NONE_MATCH, ids=[h for h, _ in IF_NONE_MATCH])
def test_if_none_match_forms(client, array_urls, header, status):
    """Weak comparison (RFC 9110 13.1.2), lists, and * — on precomputed and computed responses."""
    for url in [array_urls[0], EXP, EXP + "/models/3"]:
        tag = client.get(url, headers={"accept-encoding": "gzip"}).headers["etag"]
        value = header.format(tag=tag, bare=tag.strip('"'))
        response = client.get(url, headers={"accept-encoding": "gzip", "if-none-match": value})
        assert response.status_code == status, (url, value)


def test_if_none_match_in_two_header_lines(app):
    """Repeated header lines are one comma list: the second line's tag counts too."""
    with live_server(app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", EXP + "/models/3")
        response = conn.getresponse()
        response.read()
        etag = response.headers["etag"]
        conn.putrequest("GET", EXP + "/models/3", skip_accept_encoding=True)
        conn.putheader("If-None-Match", '"zzz"')
        conn.putheader("If-None-Match", etag)
        conn.endheaders()
        assert conn.getresponse().status == 304
        conn.close()


# --- Accept-Encoding ---------------------------------------------------------------------

ACCEPT = [
    ("gzip", True), ("GZIP", True), ("x-gzip", True), ("gzip, deflate, br", True), ("*", True),
    ("br;q=1.0, gzip;q=0.8, *;q=0.1", True), ("gzip;q=0", False), ("gzip; q=0.000", False),
    ("gzip;Q=0", False), ("*;q=0", False), ("gzip;q=0, *", False), ("deflate, br", False), ("identity", False),
    ("", False), ("gzip;q=abc", False), ("gzip;q=2", False), ("identity;q=1, gzip;q=0.5", False),
    ("gzip;q=0.5, identity;q=0.5", True), ("gzip;q=0.5", True),
]


@pytest.mark.parametrize("header, zipped", ACCEPT, ids=[h or "empty" for h, _ in ACCEPT])
def test_accept_encoding_q_values(client, array_urls, header, zipped):
    for url in [array_urls[0], EXP + "/models/3"]:
        response = client.get(url, headers={"accept-encoding": header})
        assert response.status_code == 200
        assert (response.headers.get("content-encoding") == "gzip") is zipped, (url, header)


def test_identity_refused():
    """identity;q=0 forces gzip when gzip is acceptable, even for a small body; if nothing we
    have is acceptable the body goes as it is (identity is always understood)."""
    assert use_gzip("gzip, identity;q=0", 10, threshold=512)
    assert use_gzip("*;q=0.5, identity;q=0", 10, threshold=512)
    assert use_gzip("gzip;q=0.1, *;q=0", 10, threshold=512)
    assert not use_gzip("identity;q=0", 10_000, threshold=512)  # gzip not listed and no *
    assert not use_gzip("identity;q=0, *;q=0", 10_000, threshold=512)
    assert not use_gzip(None, 10_000, threshold=512)
    assert not use_gzip("gzip", 100, threshold=512)  # too small to be worth it


def test_etag_matches_unit():
    assert etag_matches('W/"a"', '"a"') and etag_matches('"a"', 'W/"a"')
    assert etag_matches('"x,y", "a"', '"a"')  # a comma inside a tag does not split it
    assert not etag_matches('"x,y"', '"x"') and not etag_matches('"ab"', '"a"')
    assert not etag_matches(None, '"a"') and not etag_matches("a", '"a"')


# --- strict request types ----------------------------------------------------------------

STRICT = [
    ({"image": [True] + IMAGE[1:]}, "image.0: Input should be a valid number."),
    ({"image": [False] * 784}, "image.0: Input should be a valid number."),
    ({"image": IMAGE[:5] + ["0.5"] + IMAGE[6:]}, "image.5: Input should be a valid number."),
    ({"image": [None] + IMAGE[1:]}, "image.0: Input should be a valid number."),
    ({"image": IMAGE, "k": True}, "k: Input should be a valid integer."),
    ({"image": IMAGE, "k": "3"}, "k: Input should be a valid integer."),
    ({"image": IMAGE, "k": 3.0}, "k: Input should be a valid integer."),
    ({"image": IMAGE, "k": 3.5}, "k: Input should be a valid integer."),
]


@pytest.mark.parametrize("body, detail", STRICT, ids=[d for _, d in STRICT])
def test_analyze_refuses_booleans_and_strings(client, body, detail):
    response = client.post(EXP + "/analyze", json=body)
    assert response.status_code == 422
    assert response.json() == {"detail": detail}


def test_analyze_accepts_integer_pixels_and_k(client):
    response = client.post(EXP + "/analyze", json={"image": [0, 1] * 392, "k": 2})
    assert response.status_code == 200
    assert response.json()["image"][:2] == [0.0, 1.0] and response.json()["k"] == 2


# --- errors are one JSON sentence --------------------------------------------------------

ERRORS = [
    ("GET", "/nope", None, 404), ("POST", "/nope", None, 404), ("GET", "/api/experiments/zzz", None, 404),
    ("GET", EXP + "/models/99", None, 404), ("DELETE", "/api/experiments", None, 405),
    ("GET", EXP + "/analyze", None, 405), ("POST", EXP + "/analyze", b"[" + b"0.5," * 30000 + b"0.5]", 413),
    ("POST", EXP + "/analyze", b'{"image": [true]}', 422), ("POST", EXP + "/analyze", b"{", 422),
    ("GET", EXP + "/images/x", None, 422),
]


@pytest.mark.parametrize("method, path, body, status", ERRORS, ids=[f"{m} {p[:40]} {s}" for m, p, _, s in ERRORS])
def test_error_bodies_are_one_json_sentence(client, method, path, body, status):
    response = client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert list(payload) == ["detail"]
    detail = payload["detail"]
    assert isinstance(detail, str) and detail.endswith(".") and "\n" not in detail


def test_gzip_error_body_is_still_json(client):
    """A computed route's error passes the gzip layer untouched."""
    response = client.get(EXP + "/models/99", headers={"accept-encoding": "gzip"})
    assert response.status_code == 404 and "content-encoding" not in response.headers
    assert "no model 99" in response.json()["detail"]
