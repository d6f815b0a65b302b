"""API load: `tilting serve` against nginx serving the same bytes, on loopback.

Run as ``python -m benchmarks.api_load [--seconds 10] [--artifacts DIR]``.

For three requests — the experiment metadata JSON, one bulk binary array
(``train_v.bin``, 81 × 6,000 float32 = 1.9 MB) and ``POST analyze`` (a gallery
image through every model) — ``wrk`` (Debian package, installed with apt-get
if missing) measures requests/s and p50/p99 latency at 32 keep-alive
connections. The baseline, measured in the same run on the same machine, is
nginx (Debian package) serving the identical bytes from disk with sendfile;
nginx has no ``analyze``. uvicorn runs with 1 and with 2 worker processes.
Neither side compresses (wrk sends no Accept-Encoding), so both move the
same bytes. Results go to stdout and, with ``--write``, to
benchmarks/RESULTS.md under "## API load (issue 3)".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.common import ROOT, machine, mnist_dir, stamp

CONNECTIONS = 32
TARGET_RATIO = 0.30
TARGET_P99_MS = 20.0
SECTION = "## API load (issue 3)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_tool(binary: str, package: str) -> str:
    """The path of ``binary``, installing its Debian package if it is missing."""
    found = shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)
    if found:
        return found
    print(f"installing {package} with apt-get …", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-q", package], check=True, stdout=subprocess.DEVNULL)
    return shutil.which(binary) or f"/usr/sbin/{binary}"


def wait_until_up(url: str, process: subprocess.Popen, deadline_s: float = 120.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(output: str) -> dict:
    """Requests/s, p50/p99 in ms and the error count from ``wrk --latency`` output."""
    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * _UNITS[unit]

    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
    }


def run_wrk(wrk: str, url: str, seconds: int, script: Path | None = None) -> dict:
    command = [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", str(script)]
    # A short warm-up first: page cache, connection set-up, lazy imports.
    subprocess.run([*command[:-3], "-d1s", url], capture_output=True, check=True)
    return parse_wrk(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


NGINX_CONF = """
worker_processes auto;
daemon off;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ application/json json; application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def start_nginx(nginx: str, tmp: Path, files: dict[str, bytes]) -> tuple[subprocess.Popen, str]:
    """nginx serving ``files`` (URL path → bytes) from ``tmp/www``; the process and its base URL."""
    root = tmp / "www"
    for path, body in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    port = free_port()
    # As root, nginx's workers would switch to "nobody", who cannot read a private temp folder.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, root=root))
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)], stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + next(iter(files)), process)
    return process, base


def start_uvicorn(artifacts: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    tilting = Path(sys.executable).with_name("tilting")
    process = subprocess.Popen(
        [str(tilting), "serve", "--artifacts", str(artifacts), "--port", str(port),
         "--workers", str(workers), "--log-level", "warning"],
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/healthz", process)
    return process, base


def build_bundle(tmp: Path) -> Path:
    from precompute.cli import DEFAULT_GRID, precompute_pair

    artifacts = tmp / "artifacts"
    precompute_pair(2, 3, per_class=3000, log_lambda=DEFAULT_GRID, mnist_dir=mnist_dir(),
                    out=artifacts, quiet=True)
    return artifacts


def prepare_requests(base: str, tmp: Path) -> tuple[dict, dict[str, bytes], Path]:
    """The three requests' paths, the bytes nginx must serve, and wrk's POST script for analyze."""
    exp_id = json.loads(fetch(f"{base}/api/experiments"))["experiments"][0]["id"]
    meta_path = f"/api/experiments/{exp_id}.json"
    detail = json.loads(fetch(base + meta_path))
    bulk_path = "/api/" + detail["arrays"]["train_v"]["url"].split("?")[0]
    gallery = json.loads(fetch(f"{base}/api/{detail['arrays']['gallery_images']['url_json']}"))
    body = tmp / "analyze.json"
    body.write_text(json.dumps({"image": gallery["data"][0]}))
    script = tmp / "analyze.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    paths = {"metadata": meta_path, "bulk": bulk_path, "analyze": f"/api/experiments/{exp_id}/analyze"}
    files = {meta_path: fetch(base + meta_path), bulk_path: fetch(base + bulk_path)}
    return paths, files, script


def benchmark(artifacts: Path, seconds: int, rounds: int, tmp: Path) -> dict:
    """Every (server, request) cell measured ``rounds`` times, interleaved; the median run of each.

    All servers are up at once (an idle one costs nothing) and the cells are
    measured in turn, round after round, so that other work on a shared
    machine slows each server alike instead of whichever ran at the time.
    """
    wrk = ensure_tool("wrk", "wrk")
    nginx = ensure_tool("nginx", "nginx-light")
    load_before = os.getloadavg()[0]
    processes, bases = [], {}
    try:
        for workers in (1, 2):
            process, base = start_uvicorn(artifacts, workers)
            processes.append(process)
            bases[f"uvicorn ({workers} worker{'s' if workers > 1 else ''})"] = base
        paths, files, script = prepare_requests(next(iter(bases.values())), tmp)
        process, base = start_nginx(nginx, tmp, files)
        processes.append(process)
        bases["nginx (baseline)"] = base
        runs = {server: {} for server in bases}
        for _ in range(rounds):
            for request, path in paths.items():
                for server, base in bases.items():
                    if server.startswith("nginx") and path not in files:
                        continue  # nginx has no analyze
                    run = run_wrk(wrk, base + path, seconds, script if request == "analyze" else None)
                    runs[server].setdefault(request, []).append(run)
    finally:
        for process in processes:
            stop(process)
    results = {server: {request: sorted(found, key=lambda r: r["rps"])[len(found) // 2]
                        for request, found in cells.items()}
               for server, cells in runs.items()}
    return {"results": results, "sizes": {k: len(v) for k, v in files.items()},
            "load": (load_before, os.getloadavg()[0])}


def report(run: dict, seconds: int, rounds: int) -> str:
    results = run["results"]
    nginx = results["nginx (baseline)"]
    sizes = list(run["sizes"].values())
    names = {"metadata": f"metadata JSON ({sizes[0] / 1e3:.0f} kB)",
             "bulk": f"bulk array train_v.bin ({sizes[1] / 1e6:.2f} MB)",
             "analyze": "POST analyze (784 pixels, all models)"}
    lines = [
        SECTION,
        "",
        f"`python -m benchmarks.api_load` — wrk, {CONNECTIONS} keep-alive connections, 2 threads, "
        f"{seconds} s per cell after a 1 s warm-up, {rounds} interleaved rounds (the median run of each "
        "cell is shown), loopback, no compression on either side. "
        f"Measured {stamp()} on {machine()}; wrk, the server and nginx share the cores.",
        "",
        "| server | request | requests/s | p50 | p99 | errors | vs nginx |",
        "|---|---|---|---|---|---|---|",
    ]
    for server, cells in results.items():
        for name, cell in cells.items():
            ratio = f"{cell['rps'] / nginx[name]['rps']:.0%}" if name in nginx else "—"
            lines.append(
                f"| {server} | {names[name]} | {cell['rps']:,.0f} | {cell['p50_ms']:.2f} ms | "
                f"{cell['p99_ms']:.2f} ms | {cell['errors']} | {ratio} |"
            )
    lines.append("")
    for server, cells in results.items():
        if server.startswith("nginx"):
            continue
        verdicts = []
        for name in ("metadata", "bulk"):
            cell = cells[name]
            ratio = cell["rps"] / nginx[name]["rps"]
            ok = ratio >= TARGET_RATIO and cell["p99_ms"] < TARGET_P99_MS and cell["errors"] == 0
            verdicts.append(f"{name} {ratio:.0%} of nginx, p99 {cell['p99_ms']:.1f} ms (nginx "
                            f"{nginx[name]['p99_ms']:.1f} ms): {'meets' if ok else 'misses'} the target")
        lines.append(f"- {server}: " + "; ".join(verdicts) + ".")
    lines.append(f"- Targets: ≥ {TARGET_RATIO:.0%} of nginx's requests/s, p99 < {TARGET_P99_MS:.0f} ms, "
                 "zero errors.")
    bulk_floor = CONNECTIONS / nginx["bulk"]["rps"] * 1e3
    lines.append(f"- Bulk p99: with {CONNECTIONS} connections always busy, Little's law puts the mean latency "
                 f"at {CONNECTIONS} / requests/s; at nginx's bulk rate that is {bulk_floor:.0f} ms, so no "
                 f"server on this box can answer a {sizes[1] / 1e6:.1f} MB array within {TARGET_P99_MS:.0f} ms "
                 f"at that concurrency (nginx moves {nginx['bulk']['rps'] * sizes[1] / 1e9:.1f} GB/s there, "
                 "uvicorn about as much).")
    lines.append(f"- Load average (1 min) before and after the run: {run['load'][0]:.2f} and {run['load'][1]:.2f} "
                 "(other work on the machine shares the cores).")
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md, leaving the others alone."""
    path = ROOT / "benchmarks" / "RESULTS.md"
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    start = current.find(SECTION)
    if start < 0:
        path.write_text(current.rstrip("\n") + "\n\n" + text)
        return
    end = current.find("\n## ", start + len(SECTION))
    rest = current[end + 1:] if end >= 0 else ""
    path.write_text(current[:start] + text + ("\n" + rest if rest else ""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="measurement time per cell and round (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is kept (default 3)")
    parser.add_argument("--artifacts", type=Path, help="use these bundles (default: build 2 vs 3 afresh)")
    parser.add_argument("--write", action="store_true", help="record the results in benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp:
        tmp = Path(tmp)
        artifacts = args.artifacts or build_bundle(tmp)
        run = benchmark(artifacts, args.seconds, args.rounds, tmp)
    text = report(run, args.seconds, args.rounds)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
