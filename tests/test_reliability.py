"""Damage every file of a bundle in turn, anywhere in it: the damage is always caught and named."""

import shutil

import pytest

from tilting.backend.app import create_app
from tilting.precompute.artifacts import BundleError, read_bundle
from tilting.cli.main import main
from tests.bundles import rewrite_manifest

DAMAGES = ("flip", "truncate", "delete")


def flip_positions(name: str, data: bytes) -> dict[str, int]:
    """Deterministic byte positions spread over every part of a file.

    Chosen from the file's own layout, not from its length, so the same kinds
    of damage are tried whatever the machine wrote (versions, timings).
    """
    if name == "manifest.json":
        text = data.decode()
        positions = {
            "first byte": 0,
            "key of a model record": text.index('"k"') + 1,
            "a key": text.index('"models"') + 2,
            "a number": text.index('"log10_lambda"') + len('"log10_lambda": ['),
            "a string": text.index('"title"') + len('"title": "') + 2,
            "a boolean": text.index("false"),
            "a separator": text.index(","),
            "last byte": len(data) - 1,
        }
        for where, at in positions.items():  # each names what it claims to
            assert 0 <= at < len(data), where
        return positions
    if name == "manifest.sha256":
        return {"first hex digit": 0, "last hex digit": 63, "file name": len(data) - 3}
    header_end = 10 + int.from_bytes(data[8:10], "little")  # .npy version 1 header
    shape_at = data.index(b"'shape': (") + len(b"'shape': (")
    return {"magic": 1, "dtype in header": data.index(b"'descr'") + 10, "shape in header": shape_at,
            "first data byte": header_end, "middle data byte": (header_end + len(data)) // 2,
            "last data byte": len(data) - 1}


def damaged_versions(name: str, data: bytes):
    """(label, damaged bytes) for every way a file is damaged in these tests."""
    for where, at in flip_positions(name, data).items():
        for mask in (0x01, 0x5A):
            changed = bytearray(data)
            changed[at] ^= mask
            yield f"flip {mask:#04x} at {where}", bytes(changed)
    for keep in (0, len(data) // 2, len(data) - 1):
        yield f"truncated to {keep} bytes", data[:keep]


@pytest.fixture()
def bundle_copy(small_bundle, tmp_path):
    """A writable copy of the small real bundle (as a plain folder)."""
    root = tmp_path / "artifacts"
    root.mkdir()
    shutil.copytree(small_bundle.path.resolve(), root / "mnist-2-3")
    return root


def bundle_files(small_bundle):
    return ["manifest.json", "manifest.sha256"] + [e["file"] for e in small_bundle.manifest["arrays"].values()]


def assert_named_everywhere(root, name, capsys, fast=False):
    """The reader, the server and `tilting verify` each refuse the bundle naming ``name`` in one sentence."""
    with pytest.raises(BundleError, match=name.replace(".", r"\.")):
        read_bundle(root / "mnist-2-3")
    if fast:
        return
    with pytest.raises(BundleError, match=name.replace(".", r"\.")):
        create_app(root)  # the server refuses to start, naming the file
    assert main(["verify", "--artifacts", str(root)]) == 2
    err = capsys.readouterr().err
    assert name in err and "Traceback" not in err and err.count("\n") == 1


def test_every_file_damaged_anywhere_is_named(small_bundle, bundle_copy, capsys):
    """Every file, flipped at every part of its layout or truncated, is named by reader, server and verify."""
    tried = 0
    for name in bundle_files(small_bundle):
        target = bundle_copy / "mnist-2-3" / name
        original = target.read_bytes()
        for label, damaged in damaged_versions(name, original):
            target.write_bytes(damaged)
            # The reader sees every damage; the slower server and CLI checks one flip and one cut per file.
            thorough = label.startswith("flip 0x5a at first") or label.startswith("flip 0x5a at magic") \
                or label.startswith("truncated to 0")
            try:
                assert_named_everywhere(bundle_copy, name, capsys, fast=not thorough)
            except BaseException as exc:
                raise AssertionError(f"{name}, {label}: not reported") from exc
            tried += 1
        target.write_bytes(original)
        damage_deleted = target.read_bytes()
        target.unlink()
        assert_named_everywhere(bundle_copy, name, capsys)
        target.write_bytes(damage_deleted)
    assert tried > 200
    assert main(["verify", "--artifacts", str(bundle_copy)]) == 0


HAND_EDITS = {
    "a changed key": (lambda m: m["models"][3].update({"1": m["models"][3].pop("k")}), "models.3"),
    "a missing key": (lambda m: m["models"][5].pop("d_adv"), "d_adv"),
    "an extra key": (lambda m: m["models"][0].update(surprise=1), "surprise"),
    "a string for a number": (lambda m: m["models"][2].update(theta="0.5"), "theta"),
    "a boolean for an integer": (lambda m: m["models"][2].update(n_support=True), "n_support"),
    "a wrong count": (lambda m: m["models"].pop(), "grid has 9"),
    "models out of order": (lambda m: m["models"].reverse(), "has k = 8"),
    "models not a list": (lambda m: m.update(models=9), "models"),
    "an integer id": (lambda m: m.update(id=23), "id"),
    "arrays as a list": (lambda m: m.update(arrays=list(m["arrays"].values())), "arrays"),
    "an entry without sha256": (lambda m: m["arrays"]["weights"].pop("sha256"), "sha256"),
    "an integer file name": (lambda m: m["arrays"]["weights"].update(file=7), "file"),
    "a float16 array": (lambda m: m["arrays"]["weights"].update(dtype="<f2"), "dtype"),
    "a big-endian array": (lambda m: m["arrays"]["weights"].update(dtype=">f4"), "dtype"),
    "an uncertified model": (lambda m: m["models"][4].update(relative_gap=2.1e-5), "not certified"),
    "a JSON list": (lambda m: [m], "list"),  # replaces the whole manifest
}


@pytest.mark.parametrize("edit", HAND_EDITS, ids=list(HAND_EDITS))
def test_a_manifest_of_the_wrong_shape_is_refused_in_one_sentence(edit, bundle_copy, capsys):
    """With its digest made to match, a wrong manifest is caught by the schema: by the reader,
    the server and `tilting verify` alike (so what verify passes, serve serves)."""
    change, mention = HAND_EDITS[edit]
    rewrite_manifest(bundle_copy / "mnist-2-3", change, replace=edit == "a JSON list")
    with pytest.raises(BundleError, match="does not fit the bundle schema") as caught:
        read_bundle(bundle_copy / "mnist-2-3")
    assert mention in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(BundleError, match="does not fit the bundle schema"):
        create_app(bundle_copy)
    assert main(["verify", "--artifacts", str(bundle_copy)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.slow
def test_server_serves_a_whole_bundle_after_each_sigkill(tmp_path):
    """Kill precompute at random moments; each time the server starts and every array it
    serves matches its manifest: the old bundle or the new one, never a mix."""
    import hashlib
    import os
    import signal
    import subprocess
    import sys
    import time

    import numpy as np
    from fastapi.testclient import TestClient

    env = {k: v for k, v in os.environ.items() if k != "TILTING_MNIST_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    out = tmp_path / "artifacts"
    args = [sys.executable, "-m", "tilting.cli", "precompute", "--log-lambda", "-4:2:1", "--out", str(out), "--quiet"]
    start = time.monotonic()
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=300)
    duration = time.monotonic() - start
    for delay in np.random.default_rng(1).uniform(0.3, 1.05, size=4) * duration:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        client = TestClient(create_app(out))
        detail = client.get("/api/experiments/digits8x8-2-3").json()
        for info in detail["arrays"].values():
            body = client.get("/api/" + info["url"], headers={"accept-encoding": "identity"}).content
            assert hashlib.sha256(body).hexdigest() == info["sha256"]
        assert len(detail["models"]) == 7


@pytest.mark.slow
def test_three_concurrent_precomputes_of_one_pair_leave_one_valid_version(tmp_path):
    """Three `tilting precompute` runs of one pair at once, with different grids: one of the
    three whole bundles is served afterwards, and no other version or temporary link is left."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TILTING_MNIST_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    out = tmp_path / "artifacts"
    grids = {"-4:2:1": 7, "-4:2:0.5": 13, "-4:2:2": 4}
    runs = [subprocess.Popen([sys.executable, "-m", "tilting.cli", "precompute", "--log-lambda", grid,
                              "--out", str(out), "--quiet"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for grid in grids]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read()
    bundle = read_bundle(out / "digits8x8-2-3")
    assert len(bundle.manifest["models"]) in grids.values()
    assert [p.name for p in (out / ".store").iterdir() if p.is_dir()] == [bundle.path.resolve().name]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".store")) == ["digits8x8-2-3"]


def test_a_path_with_an_uncertified_model_is_not_written(no_mnist, monkeypatch, capsys):
    """A solver that stops short (here: too few iterations allowed) makes `tilting precompute`
    say which model is not certified and exit non-zero; the previous bundle stays."""
    import numpy as np

    import tilting.precompute.experiment as experiment

    out = no_mnist / "artifacts"
    grid = ["--log-lambda", "-4:2:1", "--out", str(out), "--quiet"]
    assert main(["precompute", *grid]) == 0
    before = read_bundle(out / "digits8x8-2-3").manifest["created"]
    solve = experiment.svm_path
    monkeypatch.setattr(experiment, "svm_path", lambda *a, **k: solve(*a, **{**k, "max_iter": 2}))
    capsys.readouterr()
    assert main(["precompute", *grid]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the fallback data's notice
    assert "not certified" in err and "log10 λ = -4" in err and "Traceback" not in err
    bundle = read_bundle(out / "digits8x8-2-3")
    assert bundle.manifest["created"] == before
    assert np.all([m["relative_gap"] <= 1e-9 for m in bundle.manifest["models"]])
