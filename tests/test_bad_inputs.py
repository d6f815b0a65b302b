"""A catalogue of bad inputs across the CLI and the live API: each gets its one clear
sentence, nothing is written, and the server stays up throughout."""

import gzip
import http.client
import json
import shutil
import struct

import pytest

from tilting.backend.app import create_app
from tilting.cli.main import main
from tests.helpers import live_server, mnist_dir


@pytest.fixture(scope="module")
def port(small_bundle):
    with live_server(create_app(small_bundle.path.parent)) as free:
        yield free


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for key, value in {"content-type": "application/json", **(headers or {})}.items():
        conn.putheader(key, value)
    if body is not None:
        conn.putheader("content-length", str(len(body)))
    conn.endheaders()
    if body is not None:
        conn.send(body)
    response = conn.getresponse()
    return response.status, response.read()


IMAGE = ", 0.5" * 783
API_CASES = [
    ("GET", "/api/experiments/mnist-9-9", None, 404, "Unknown experiment"),
    ("GET", "/api/experiments/mnist-2-3/models/500", None, 404, "no model 500"),
    ("GET", "/api/experiments/mnist-2-3/models/-1", None, 404, "no model -1"),
    ("GET", "/api/experiments/mnist-2-3/images/0?k=abc", None, 422, "query.k"),
    ("GET", "/api/experiments/mnist-2-3/images/999", None, 404, "no 999"),
    ("GET", "/api/experiments/mnist-2-3/arrays/secrets.bin", None, 404, "No array file"),
    ("GET", "/api/experiments/mnist-2-3/arrays/weights.bin?v=deadbeefdeadbeef", None, 404, "is gone"),
    ("GET", "/api/experiments/mnist-2-3/arrays/weights.bin?v=" + "a" * 5000, None, 422, "query.v"),
    ("POST", "/api/experiments/mnist-2-3/analyze", b'{"image": [NaN' + IMAGE.encode() + b"]}", 422, "finite"),
    ("POST", "/api/experiments/mnist-2-3/analyze", b'{"image": [Infinity' + IMAGE.encode() + b"]}", 422, "finite"),
    ("POST", "/api/experiments/mnist-2-3/analyze", b'{"image": [0.5, 0.5]}', 422, "needs 28"),
    ("POST", "/api/experiments/mnist-2-3/analyze", b'{"image": [2' + IMAGE.encode() + b"]}", 422, "less than or equal"),
    ("POST", "/api/experiments/mnist-2-3/analyze", b'{"image": [', 422, "not valid JSON"),
    ("POST", "/api/experiments/mnist-2-3/analyze", b"[" + b"0.5," * 30000 + b"0.5]", 413, "64 KiB"),
    ("DELETE", "/api/experiments", None, 405, "not allowed"),
    ("PUT", "/api/experiments/mnist-2-3/analyze", b"{}", 405, "not allowed"),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", None, 404, "no page"),
    ("GET", "/..%2f..%2fpyproject.toml", None, 404, "no page"),
]


@pytest.mark.parametrize("method, path, body, status, fragment", API_CASES,
                         ids=[f"{c[0]} {c[1][:50]}" for c in API_CASES])
def test_api_bad_inputs(port, method, path, body, status, fragment):
    got, payload = request(port, method, path, body)
    assert got == status
    assert fragment in json.loads(payload)["detail"]
    assert request(port, "GET", "/healthz")[0] == 200  # still up


def test_huge_request_line_is_refused_and_server_survives(port):
    status, _ = request(port, "GET", "/api/experiments?" + "x" * 200_000)
    assert 400 <= status < 500
    assert request(port, "GET", "/healthz")[0] == 200


def _idx(path, magic, shape, payload):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in shape) + payload)


def _mnist_copy(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir(parents=True)
    for f in mnist_dir().glob("*.gz"):
        shutil.copy(f, folder / f.name)
    return folder


def cli_cases(tmp_path):
    def wrong_magic():
        folder = _mnist_copy(tmp_path / "a")
        _idx(folder / "train-labels-idx1-ubyte.gz", 0x803, (1, 1, 1), b"\0")
        return ["precompute", "--mnist-dir", str(folder)], "SHA-256"

    def truncated():
        folder = _mnist_copy(tmp_path / "b")
        raw = (folder / "t10k-images-idx3-ubyte.gz").read_bytes()
        (folder / "t10k-images-idx3-ubyte.gz").write_bytes(raw[:1000])
        return ["precompute", "--mnist-dir", str(folder)], "SHA-256"

    def uncompressed_wrong_magic():
        folder = tmp_path / "c"
        folder.mkdir()
        for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                     "t10k-labels-idx1-ubyte"):
            (folder / name).write_bytes(struct.pack(">IIII", 0x1234, 1, 28, 28))
        return ["precompute", "--mnist-dir", str(folder)], "magic number"

    return [
        wrong_magic,
        truncated,
        uncompressed_wrong_magic,
        lambda: (["precompute", "--pair", "4", "4"], "must differ"),
        lambda: (["precompute", "--pair", "0", "10"], "not one of 0..9"),
        lambda: (["precompute", "--log-lambda", "1:0:0.1"], "must go up"),
        lambda: (["precompute", "--log-lambda", "nan,1"], "finite"),
        lambda: (["precompute", "--mnist-dir", str(tmp_path / "nowhere")], "is missing"),
        lambda: (["verify", str(tmp_path / "no-bundle")], "no-bundle does not exist"),
    ]


@pytest.mark.skipif(mnist_dir() is None, reason="needs real MNIST files to damage")
def test_cli_bad_inputs(tmp_path, capsys, port):
    for make_case in cli_cases(tmp_path):
        args, fragment = make_case()
        out = tmp_path / "out"
        code = main([*args, "--out", str(out)] if args[0] == "precompute" else args)
        err = capsys.readouterr().err
        assert code == 2, args
        assert fragment in err and "Traceback" not in err and err.count("\n") == 1, (args, err)
        assert not out.exists(), args  # nothing written
    assert request(port, "GET", "/healthz")[0] == 200
