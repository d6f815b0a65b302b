"""API load: `tilting serve` against nginx serving the same bytes, on loopback.

Run as ``python -m benchmarks.api_load [--seconds 5] [--artifacts DIR] [--baseline-rev REV]``.

For three requests — the experiment metadata JSON, one bulk binary array
(``train_v.bin``, 81 × 6,000 float32 = 1.9 MB) and ``POST analyze`` (a gallery
image through every model) — ``wrk`` (Debian package, installed with apt-get
if missing) measures requests/s and p50/p99 latency at 32 keep-alive
connections. The baseline, measured in the same run on the same machine, is
nginx (Debian package) serving the identical bytes from disk with sendfile;
nginx has no ``analyze``. uvicorn runs with 1 and with 2 worker processes;
with ``--baseline-rev`` the server of that git revision (``git archive``d
into a temporary folder) runs too, with 2 workers, in the same rounds.
Neither side compresses (wrk sends no Accept-Encoding), so both move the
same bytes. Targets (issue 13): metadata ≥ 50 % and bulk ≥ 90 % of nginx's
requests/s, zero errors. Results go to stdout and, with ``--write``, to
benchmarks/RESULTS.md, replacing its "## API load" section.

Without wrk or nginx (and no way to install them: apt-get needs root and
Debian's archive), the benchmark says so and exits 0 without measuring.
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

from benchmarks.common import ROOT, baseline_code, machine, mnist_dir, stamp

CONNECTIONS = 32
TARGETS = {"metadata": 0.50, "bulk": 0.90}  # of nginx's requests/s (issue 13)
SECTION = "## API load (issues 3 and 13)"
SECTION_PREFIX = "## API load"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_tool(binary: str) -> str | None:
    return shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)


def ensure_tool(binary: str, package: str) -> str | None:
    """The path of ``binary``, installing its Debian package if it is missing; None if that fails."""
    found = find_tool(binary)
    if found:
        return found
    print(f"installing {package} with apt-get …", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "install", "-y", "-q", package], ["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", package]):  # the package lists may be missing at first
        try:
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        except (OSError, subprocess.CalledProcessError):
            continue
        if find_tool(binary):
            break
    return find_tool(binary)


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


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and all its descendants, from /proc."""
    parents, times = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
            times[int(entry.name)] = int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    tree, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return sum(times.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def run_wrk(wrk: str, url: str, seconds: int, script: Path | None = None, server_pid: int | None = None) -> dict:
    """wrk's figures for ``url``; with ``server_pid``, also the server's CPU µs per request
    (a figure that other work on the machine disturbs much less than requests/s)."""
    command = [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", str(script)]
    # A short warm-up first: page cache, connection set-up, lazy imports.
    subprocess.run([*command[:-3], "-d1s", url], capture_output=True, check=True)
    cpu = tree_cpu_seconds(server_pid) if server_pid else None
    result = parse_wrk(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    if server_pid:
        result["cpu_us"] = (tree_cpu_seconds(server_pid) - cpu) / max(result["requests"], 1) * 1e6
    return result


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


def start_uvicorn(artifacts: Path, workers: int, code: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """`tilting serve` as the code in ``code`` has it (this tree, or a baseline revision's copy)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tilting.cli", "serve", "--artifacts", str(artifacts), "--port", str(port),
         "--workers", str(workers), "--log-level", "warning"],
        cwd=code, env={**os.environ, "PYTHONPATH": str(code)},
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/healthz", process)
    return process, base


def build_bundle(tmp: Path) -> Path:
    from tilting.cli.main import precompute_pair
    from tilting.precompute.defaults import DEFAULT_LOG10_LAMBDA_GRID, DEFAULT_PER_CLASS

    artifacts = tmp / "artifacts"
    precompute_pair(2, 3, per_class=DEFAULT_PER_CLASS, log10_lambda=DEFAULT_LOG10_LAMBDA_GRID, mnist_dir=mnist_dir(),
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


def benchmark(artifacts: Path, seconds: int, rounds: int, tmp: Path, baseline: tuple[str, Path] | None) -> dict:
    """Every (server, request) cell measured ``rounds`` times, interleaved; the median run of each.

    All servers are up at once (an idle one costs nothing) and the cells are
    measured in turn, round after round, so that other work on a shared
    machine slows each server alike instead of whichever ran at the time.
    """
    wrk = ensure_tool("wrk", "wrk")
    nginx = ensure_tool("nginx", "nginx-light")
    if not (wrk and nginx):
        return None
    load_before = os.getloadavg()[0]
    cpu_before = os.times()
    processes, bases, pids = [], {}, {}
    try:
        for workers in (1, 2):
            process, base = start_uvicorn(artifacts, workers)
            processes.append(process)
            bases[f"uvicorn ({workers} worker{'s' if workers > 1 else ''})"] = base
            pids[f"uvicorn ({workers} worker{'s' if workers > 1 else ''})"] = process.pid
        if baseline:
            process, base = start_uvicorn(artifacts, 2, baseline[1])
            processes.append(process)
            bases[f"baseline {baseline[0]} (2 workers)"] = base
            pids[f"baseline {baseline[0]} (2 workers)"] = process.pid
        paths, files, script = prepare_requests(next(iter(bases.values())), tmp)
        process, base = start_nginx(nginx, tmp, files)
        processes.append(process)
        bases["nginx (baseline)"] = base
        pids["nginx (baseline)"] = process.pid
        runs = {server: {} for server in bases}
        for _ in range(rounds):
            for request, path in paths.items():
                for server, base in bases.items():
                    if server.startswith("nginx") and path not in files:
                        continue  # nginx has no analyze
                    run = run_wrk(wrk, base + path, seconds, script if request == "analyze" else None,
                                  pids[server])
                    runs[server].setdefault(request, []).append(run)
    finally:
        for process in processes:
            stop(process)
    results = {server: {request: sorted(found, key=lambda r: r["rps"])[len(found) // 2]
                        for request, found in cells.items()}
               for server, cells in runs.items()}
    cpu = os.times()
    return {"results": results, "sizes": {k: len(v) for k, v in files.items()},
            "load": (load_before, os.getloadavg()[0]),
            # Children's CPU: every server, wrk and nginx, reaped by the end of the run.
            "cpu_s": (cpu.children_user + cpu.children_system) - (cpu_before.children_user + cpu_before.children_system),
            "wall_s": cpu.elapsed - cpu_before.elapsed}


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
        f"Measured {stamp()} on {machine()}; wrk, the servers and nginx share the cores.",
        "",
        "| server | request | requests/s | p50 | p99 | errors | vs nginx | server CPU per request |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for server, cells in results.items():
        for name, cell in cells.items():
            ratio = f"{cell['rps'] / nginx[name]['rps']:.0%}" if name in nginx else "—"
            lines.append(
                f"| {server} | {names[name]} | {cell['rps']:,.0f} | {cell['p50_ms']:.2f} ms | "
                f"{cell['p99_ms']:.2f} ms | {cell['errors']} | {ratio} | {cell['cpu_us']:.0f} µs |"
            )
    lines.append("")
    for server, cells in results.items():
        if server.startswith("nginx"):
            continue
        verdicts = []
        for name, target in TARGETS.items():
            cell = cells[name]
            ratio = cell["rps"] / nginx[name]["rps"]
            ok = ratio >= target and cell["errors"] == 0
            verdicts.append(f"{name} {ratio:.0%} of nginx ({cell['errors']} errors): "
                            f"{'meets' if ok else 'misses'} ≥ {target:.0%}")
        lines.append(f"- {server}: " + "; ".join(verdicts) + ".")
    lines.append("- Targets (issue 13): metadata ≥ 50 % and bulk ≥ 90 % of nginx's requests/s in the same run, "
                 "zero errors.")
    lines.append(f"- Load average (1 min) before and after the run: {run['load'][0]:.2f} and {run['load'][1]:.2f}; "
                 f"CPU of all servers, nginx and wrk together {run['cpu_s']:.0f} s over {run['wall_s']:.0f} s "
                 "wall (other work on the machine shares the cores).")
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md, leaving the others alone."""
    path = ROOT / "benchmarks" / "RESULTS.md"
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    start = current.find(SECTION_PREFIX)
    if start < 0:
        path.write_text(current.rstrip("\n") + "\n\n" + text)
        return
    end = current.find("\n## ", start + len(SECTION_PREFIX))
    rest = current[end + 1:] if end >= 0 else ""
    path.write_text(current[:start] + text + ("\n" + rest if rest else ""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="measurement time per cell and round (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is kept (default 3)")
    parser.add_argument("--artifacts", type=Path, help="use these bundles (default: build 2 vs 3 afresh)")
    parser.add_argument("--baseline-rev", help="git revision whose server to measure alongside (2 workers)")
    parser.add_argument("--write", action="store_true", help="record the results in benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp:
        tmp = Path(tmp)
        baseline = (args.baseline_rev, baseline_code(args.baseline_rev, tmp)) if args.baseline_rev else None
        artifacts = args.artifacts or build_bundle(tmp)
        run = benchmark(artifacts, args.seconds, args.rounds, tmp, baseline)
    if run is None:
        print("api_load: skipped — wrk and nginx are needed (Debian packages wrk and nginx-light), and "
              "apt-get could not install them here.", file=sys.stderr)
        return 0
    text = report(run, args.seconds, args.rounds)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
