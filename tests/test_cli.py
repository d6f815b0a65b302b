"""The tilting command line: happy path, bad input, and SIGKILL safety."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tilting.precompute.artifacts import read_bundle
from tilting.cli.main import main, parse_grid
from tests.helpers import mnist_dir, requires_mnist

FAST_GRID = ["--log-lambda", "-4:2:1"]


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "tilting.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def offline_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TILTING_MNIST_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env


def test_parse_grid():
    assert len(parse_grid("-6:2:0.1")) == 81
    assert parse_grid("-3,-1,2").tolist() == [-3.0, -1.0, 2.0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pair", "3", "3"], "must differ"),
        (["--pair", "2", "11"], "not one of 0..9"),
        (["--log-lambda", "a:b:c"], "is not START:STOP:STEP"),
        (["--log-lambda", ""], "empty grid"),
        (["--log-lambda", "2:-6:0.1"], "must go up"),
        (["--log-lambda", "1,0"], "distinct and increasing"),
        (["--log-lambda", "-6:2:0"], "step must be positive"),
        (["--pairs", "2-3,"], "is not a comma-separated list of digit pairs I-J"),
        (["--pairs", "2_3"], "is not a comma-separated list of digit pairs I-J"),
        (["--pairs", "4-4"], "--pairs 4-4: The two digits must differ"),
        (["--pairs", "2-10"], "--pairs 2-10: Digit 10 is not one of 0..9"),
        (["--pairs", "2-3,4-9,2-3"], "--pairs names 2-3 twice"),
        (["--pairs", "2-3", "--all-pairs"], "Give --all-pairs or --pairs, not both"),
        (["--pairs", "2-3", "--pair", "4", "9"], "Give --pair or --pairs/--all-pairs, not both"),
        (["--pairs", "2-3", "--jobs", "0"], "--jobs must be a number of processes"),
        (["--pairs", "2-3", "--worker-timeout", "0"], "--worker-timeout must be a positive number"),
        (["--pair", "2", "3", "--jobs", "2"], "--jobs and --scheduler go with --all-pairs or --pairs"),
        (["--scheduler", "tcp://127.0.0.1:9"], "--jobs and --scheduler go with --all-pairs or --pairs"),
        (["--pairs", "2-3", "--log10-lambda", "1,0"], "--log10-lambda values must be distinct and increasing"),
    ],
)
def test_bad_input_exits_non_zero_with_one_sentence(args, message, tmp_path, capsys):
    code = main(["precompute", "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()  # nothing written


def test_log10_lambda_is_the_grid_option_and_log_lambda_its_alias(capsys):
    from tilting.cli.main import build_parser

    parser = build_parser()
    for name in ("--log10-lambda", "--log-lambda"):
        args = parser.parse_args(["precompute", f"{name}=-3,0"])
        assert args.log10_lambda == "-3,0"
    with pytest.raises(SystemExit):
        parser.parse_args(["precompute", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--log10-lambda START:STOP:STEP, --log-lambda START:STOP:STEP" in help_text
    assert "--log-lambda is an older name for it" in help_text
    assert "--pairs I-J,…" in help_text


def test_missing_mnist_dir_is_an_error(tmp_path, capsys):
    code = main(["precompute", "--mnist-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert code == 2 and "train-images-idx3-ubyte.gz is missing" in capsys.readouterr().err


def test_fallback_precompute_and_verify(tmp_path):
    out = tmp_path / "artifacts"
    result = run_cli("precompute", "--pair", "2", "3", *FAST_GRID, "--out", str(out), env=offline_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "NOTICE: MNIST was not found" in result.stderr
    assert "log10 λ" in result.stdout and "Wrote" in result.stdout
    bundle = read_bundle(out / "digits8x8-2-3")
    assert bundle.manifest["dataset"]["name"] == "sklearn-digits"
    assert "MNIST was not found" in bundle.manifest["dataset"]["notice"]
    assert bundle.arrays["weights"].shape == (7, 64)
    verify = run_cli("verify", "--artifacts", str(out))
    assert verify.returncode == 0 and "valid" in verify.stdout
    (out / "digits8x8-2-3" / "weights.npy").write_bytes(b"garbage")
    verify = run_cli("verify", "--artifacts", str(out))
    assert verify.returncode == 2 and "weights.npy" in verify.stderr and "Traceback" not in verify.stderr


@requires_mnist
def test_precompute_real_mnist_subset(tmp_path):
    out = tmp_path / "artifacts"
    result = run_cli("precompute", "--pair", "4", "9", "--per-class", "200", "--log-lambda", "-3,0",
                     "--mnist-dir", str(mnist_dir()), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    manifest = read_bundle(out / "mnist-4-9-200").manifest
    assert manifest["digits"] == [4, 9] and manifest["counts"]["train"] == 400


def test_fetch_mnist_offline_is_one_sentence(tmp_path):
    env = offline_env(tmp_path)
    # Point the cache somewhere empty; every public mirror is unreachable here.
    result = subprocess.run(
        [sys.executable, "-c",
         "import sys; from tilting.precompute import data; data.MNIST_MIRRORS = ('http://127.0.0.1:9/',);"
         "from tilting.cli.main import main; sys.exit(main(['fetch-mnist']))"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 2
    assert "Could not download" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_sigkill_never_leaves_a_broken_bundle(tmp_path):
    """Kill precompute at several moments; the bundle stays valid (old or new)."""
    env = offline_env(tmp_path)
    out = tmp_path / "artifacts"
    args = [sys.executable, "-m", "tilting.cli", "precompute", *FAST_GRID, "--out", str(out), "--quiet"]
    start = time.monotonic()
    assert subprocess.run(args, env=env, capture_output=True, timeout=300).returncode == 0
    duration = time.monotonic() - start
    first = read_bundle(out / "digits8x8-2-3").manifest["created"]
    assert first
    rng = np.random.default_rng(0)
    for delay in np.sort(rng.uniform(0.2, 1.1, size=5)) * duration:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        bundle = read_bundle(out / "digits8x8-2-3")  # validates every checksum
        assert bundle.arrays["weights"].shape == (7, 64)
