"""Long forms of the reliability checks, on the real MNIST 2-vs-3 bundle.

Run: python -m benchmarks.reliability [--kills 10]

1. SIGKILL `tilting precompute --pair 2 3` at N random moments of its run;
   after each, the app starts on the artifacts folder and every array it
   serves matches the manifest (the previous bundle or the new one).
2. Flip a byte in, truncate, and delete each file of the bundle in turn; each
   time the app refuses to start and `tilting verify` fails, both naming the file.
"""

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.common import machine, mnist_dir, stamp
from tilting.precompute.artifacts import BundleError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

from tilting.backend.app import create_app

TILTING = [sys.executable, "-m", "tilting.cli"]


def served_bundle_is_whole(artifacts: Path) -> bool:
    client = TestClient(create_app(artifacts))
    detail = client.get("/api/experiments/mnist-2-3").json()
    return len(detail["models"]) == 81 and all(
        hashlib.sha256(client.get("/api/" + info["url"], headers={"accept-encoding": "identity"}).content)
        .hexdigest() == info["sha256"]
        for info in detail["arrays"].values()
    )


def kills(artifacts: Path, count: int) -> list[str]:
    args = [*TILTING, "precompute", "--pair", "2", "3", "--mnist-dir", str(mnist_dir()), "--out", str(artifacts),
            "--quiet"]
    start = time.monotonic()
    subprocess.run(args, check=True, capture_output=True)
    duration = time.monotonic() - start
    outcomes = []
    for delay in np.random.default_rng(0).uniform(0.05, 1.0, size=count) * duration:
        before = os.readlink(artifacts / "mnist-2-3")
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        version = "new" if os.readlink(artifacts / "mnist-2-3") != before else "previous"
        outcomes.append(f"{delay:5.1f} s: {version} bundle, {'whole' if served_bundle_is_whole(artifacts) else 'BROKEN'}")
    return outcomes


def damages(artifacts: Path) -> tuple[int, int]:
    bundle = (artifacts / "mnist-2-3").resolve()
    total = caught = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "artifacts"
        shutil.copytree(bundle, root / "mnist-2-3")
        for path in sorted((root / "mnist-2-3").iterdir()):
            original = path.read_bytes()
            for how in ("flip", "truncate", "delete"):
                total += 1
                if how == "delete":
                    path.unlink()
                elif how == "truncate":
                    path.write_bytes(original[: len(original) // 2])
                else:
                    path.write_bytes(original[:-7] + bytes([original[-7] ^ 0x01]) + original[-6:])
                try:
                    create_app(root)
                    refused = False
                except BundleError as exc:
                    refused = path.name in str(exc)
                verify = subprocess.run([*TILTING, "verify", "--artifacts", str(root)], capture_output=True, text=True)
                if refused and verify.returncode == 2 and path.name in verify.stderr:
                    caught += 1
                else:
                    print(f"  NOT CAUGHT: {how} {path.name}")
                path.write_bytes(original)
    return caught, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = Path(tmp) / "artifacts"
        outcomes = kills(artifacts, args.kills)
        caught, total = damages(artifacts)
    print(f"Reliability, {stamp()}, {machine()}")
    print(f"  SIGKILL of precompute at {args.kills} random moments:")
    for line in outcomes:
        print("   ", line)
    print(f"  damaged files caught and named by both the server and `tilting verify`: {caught}/{total}")


if __name__ == "__main__":
    main()
