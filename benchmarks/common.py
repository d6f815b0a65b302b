"""Helpers shared by the benchmarks: the machine, and real MNIST."""

import os
import platform
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}"


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def mnist_dir() -> Path:
    """TILTING_MNIST_DIR, else ../shared/data/mnist: benchmarks need the real data."""
    folder = os.environ.get("TILTING_MNIST_DIR") or ROOT.parent / "shared" / "data" / "mnist"
    if not (Path(folder) / "train-images-idx3-ubyte.gz").is_file():
        raise SystemExit("Benchmarks need real MNIST: set TILTING_MNIST_DIR.")
    return Path(folder)


def baseline_code(rev: str, tmp: Path) -> Path:
    """The files of git revision ``rev`` in ``tmp/baseline`` (``git archive``: the work tree,
    the index and the repository's worktree list are not touched)."""
    code = tmp / "baseline"
    code.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    return code


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages: timings on a shared machine need them beside."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


def timed(fn, *args, **kwargs):
    """(result, CPU seconds of this process, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.process_time() - cpu, time.perf_counter() - wall
