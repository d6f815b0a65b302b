"""Soak: `tilting serve` under 64 concurrent connections on a mix of endpoints.

Run as ``python -m benchmarks.soak [--seconds 60] [--artifacts DIR]``.

wrk (Debian package) keeps 64 keep-alive connections busy for the whole run,
cycling through the listing, an experiment's metadata, a bulk array, a model,
a gallery image and POST analyze. Reported: requests, errors (socket errors
and non-2xx), p50/p99 latency, and the server's resident memory after a
warm-up and at the end. Target: zero errors, memory growth under 10 %.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from benchmarks.api_load import build_bundle, ensure_tool, fetch, parse_wrk, start_uvicorn, stop
from benchmarks.common import machine, stamp

CONNECTIONS = 64

MIX_SCRIPT = """
local paths = {{ {paths} }}
local body = '{body}'
local i = 0
request = function()
  i = i + 1
  local path = paths[(i % #paths) + 1]
  if path == "ANALYZE" then
    return wrk.format("POST", "/api/experiments/{exp_id}/analyze", {{["Content-Type"] = "application/json"}}, body)
  end
  return wrk.format("GET", path)
end
"""


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--artifacts", type=Path, help="a folder with the 2-vs-3 bundle (default: build one)")
    args = parser.parse_args(argv)
    wrk = ensure_tool("wrk", "wrk")
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = args.artifacts or build_bundle(Path(tmp))
        server, base = start_uvicorn(artifacts, workers=1)
        try:
            exp_id = json.loads(fetch(base + "/api/experiments"))["experiments"][0]["id"]
            detail = json.loads(fetch(f"{base}/api/experiments/{exp_id}"))
            image = json.loads(fetch(f"{base}/api/experiments/{exp_id}/images/0"))["image"]
            paths = ["/api/experiments", f"/api/experiments/{exp_id}.json",
                     "/api/" + detail["arrays"]["weights"]["url"], f"/api/experiments/{exp_id}/models/40",
                     f"/api/experiments/{exp_id}/images/5?k=30", "ANALYZE", "/healthz"]
            script = Path(tmp) / "mix.lua"
            script.write_text(MIX_SCRIPT.format(paths=", ".join(f'"{p}"' for p in paths), exp_id=exp_id,
                                                body=json.dumps({"image": image, "k": 40})))
            command = [wrk, "-t2", f"-c{CONNECTIONS}", "--latency", "-s", str(script)]
            subprocess.run([*command, "-d5s", base], capture_output=True, check=True)  # warm-up
            before = resident_mib(server.pid)
            result = parse_wrk(subprocess.run([*command, f"-d{args.seconds}s", base], capture_output=True,
                                              text=True, check=True).stdout)
            after = resident_mib(server.pid)
            alive = json.loads(fetch(base + "/healthz"))["status"] == "ok"
        finally:
            stop(server)
    growth = (after - before) / before
    print(f"Soak, {stamp()}, {machine()}: {args.seconds} s at {CONNECTIONS} connections, mixed endpoints")
    print(f"  {result['requests']} requests ({result['rps']:.0f}/s), {result['errors']} errors, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms")
    print(f"  resident memory {before:.0f} MiB after warm-up → {after:.0f} MiB at the end "
          f"({growth:+.1%}); server alive afterwards: {alive}")
    ok = result["errors"] == 0 and growth < 0.10 and alive
    print("  targets (zero errors, memory growth < 10 %):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
