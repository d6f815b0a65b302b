"""Helpers shared by the benchmarks: the machine, and real MNIST."""

import os
import platform
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
