"""Server start-up and memory against the number of bundles it serves (issue 13).

Run as ``python -m benchmarks.server_scale [--counts 1,10,45] [--baseline-rev REV]``.

One real 2-vs-3 bundle (81 models, 3,000 images per digit) is built by each
revision measured, then copied under N experiment ids (each copy a whole bundle with its own manifest
and digest, as 45 digit pairs would be). For each N, a real
``tilting serve --workers 1`` is started and timed from launch to its first
``/healthz`` answer; its resident memory is read then, and again after every
array of one experiment has been requested once. With ``--baseline-rev`` the
same measurement runs, in the same session, against the code of that git
revision (``git archive``d into a temporary folder), e.g. the revision before a change.
``--bundle DIR`` measures every revision on that bundle instead of building one with each.
Targets: start-up ≤ 3 s and ≤ 300 MB per worker with all 45 bundles.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.common import ROOT, baseline_code, machine, mnist_dir, stamp
from benchmarks.soak import resident_mib


def copy_as(bundle: Path, root: Path, exp_id: str) -> None:
    """A whole copy of ``bundle`` whose manifest says ``exp_id`` (digest rewritten to match)."""
    target = root / exp_id
    shutil.copytree(bundle.resolve(), target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["id"] = exp_id
    text = json.dumps(manifest, indent=1).encode()
    (target / "manifest.json").write_bytes(text)
    (target / "manifest.sha256").write_text(f"{hashlib.sha256(text).hexdigest()}  manifest.json\n")


def build_bundle(code: Path, out: Path) -> Path:
    """The default 2-vs-3 bundle, built by the code at ``code`` (bundle formats may differ between revisions)."""
    subprocess.run([sys.executable, "-m", "tilting.cli", "precompute", "--pair", "2", "3", "--out", str(out),
                    "--mnist-dir", str(mnist_dir()), "--quiet"], cwd=code, env={**os.environ, "PYTHONPATH": str(code)},
                   check=True, capture_output=True)
    return out / "mnist-2-3"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.read()


def measure(root: Path, code: Path, port: int) -> dict:
    """Start-up seconds and resident MiB of `tilting serve` over ``root``, run from ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "tilting.cli", "serve", "--artifacts", str(root),
                               "--port", str(port), "--log-level", "warning"], cwd=code, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if server.poll() is not None:
                raise SystemExit(f"tilting serve exited: {server.stderr.read()[-2000:]}")
            try:
                fetch(base + "/healthz")
                break
            except OSError:
                time.sleep(0.02)
        seconds = time.perf_counter() - started
        at_start = resident_mib(server.pid)
        first = json.loads(fetch(base + "/api/experiments"))["experiments"][0]["id"]
        detail = json.loads(fetch(f"{base}/api/experiments/{first}"))
        for info in detail["arrays"].values():
            for key in ("url", "url_f16", "url_json"):
                if info[key]:
                    fetch(f"{base}/api/{info[key]}")
        return {"startup_s": seconds, "rss_start_mib": at_start, "rss_used_mib": resident_mib(server.pid)}
    finally:
        server.terminate()
        server.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,10,45", help="numbers of bundles to serve")
    parser.add_argument("--baseline-rev", help="git revision whose server to measure alongside")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--bundle", type=Path, help="measure every revision on this bundle (default: build one with each)")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        codes = {"this tree": ROOT}
        if args.baseline_rev:
            codes[f"baseline {args.baseline_rev}"] = baseline_code(args.baseline_rev, tmp)
        rows = []
        sources = {label: args.bundle or build_bundle(code, tmp / f"source-{i}")
                   for i, (label, code) in enumerate(codes.items())}
        for count in counts:
            for label, code in codes.items():
                root = tmp / f"n{count}"
                root.mkdir()
                for i in range(count):
                    copy_as(sources[label], root, f"mnist-2-3-c{i}")
                rows.append((count, label, measure(root, code, args.port)))
                shutil.rmtree(root)

    print(f"\nServer start-up and memory by bundles served ({machine()}, {stamp()}, "
          f"load average {os.getloadavg()[0]:.1f})")
    print(f"{'bundles':>8}  {'code':<28} {'start-up':>9} {'RSS at start':>13} {'RSS after one pair':>19}")
    for count, label, r in rows:
        print(f"{count:>8}  {label:<28} {r['startup_s']:>8.2f}s {r['rss_start_mib']:>10.0f} MiB "
              f"{r['rss_used_mib']:>15.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
