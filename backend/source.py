"""The project's own source as one ``.tar.gz``: what the article's "source code" link downloads.

There is no public repository to link (a deployment may name one, see
``<meta name="tilting:source-code">`` in the article), so the code travels with
the package that serves the page: the three packages and the frontend as they
are installed, and, in a source checkout (or an editable install), what
``pip install .`` and the tests need besides. In a git checkout only the files git
tracks go in (as they are on disk, edits included): a file left in the tree, notes or a
key, is not published because it sits beside the code. The archive is built once per
process from the files on disk and is deterministic (sorted, fixed times,
owners and modes, gzip mtime 0): its bytes, and so its ETag and a static
export's copy, change only when a file does.
"""

from __future__ import annotations

import functools
import gzip
import io
import logging
import subprocess
import tarfile
import tomllib
from importlib import metadata
from pathlib import Path

log = logging.getLogger("tilting")

DISTRIBUTION = "boundary-tilting"
FALLBACK_VERSION = "0.1.0"
ARCHIVE_URL = "/source.tar.gz"
# The packages' folders, named as in the source tree. Installed they are tilting/precompute,
# tilting/backend and tilting/cli; in a checkout, the tree's own folders: siblings either way.
PACKAGES = ("precompute", "backend", "cli")
PACKAGES_PARENT = Path(__file__).resolve().parents[1]
# Beside the packages only in a checkout (a wheel carries none of them): what `pip install .`,
# `make` and the tests need (tests/test_docker.py reads the Dockerfile and docker/).
CHECKOUT_FILES = ("pyproject.toml", "README.md", "Makefile", "Dockerfile")
CHECKOUT_DIRS = ("tests", "benchmarks", "docker")
# Never source: caches, data and what builds and test runs leave behind (docker/mnist: the
# MNIST files an image build may be given; dot-folders such as .venv go by their dot).
SKIPPED_NAMES = frozenset({"__pycache__", "artifacts", "test-artifacts", "node_modules", "build", "mnist"})
MAX_FILE_BYTES = 1 << 20  # the largest source file is ~40 KB: a file over 1 MiB is data that strayed in
# 1980-01-01, the earliest time a zip holds: `pip install .` of the unpacked folder builds a wheel.
MTIME = 315532800


def tree_files(root: Path, skip: tuple[Path, ...] = ()) -> list[tuple[str, Path]]:
    """(path relative to ``root`` in POSIX form, real path) of every regular file under ``root``,
    sorted: no dot-file or dot-folder, no cache (``SKIPPED_NAMES``, ``*.pyc``), nothing under
    the folders ``skip``, and nothing a symlink leads to outside ``root``."""
    root = root.resolve()
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        # Only the parts below root: the root itself may well sit in a dot-folder (.venv).
        if path.suffix == ".pyc" or any(p.startswith(".") or p in SKIPPED_NAMES for p in relative.parts):
            continue
        real = path.resolve()
        if real.is_file() and real.is_relative_to(root) and not any(real.is_relative_to(s) for s in skip):
            found.append((relative.as_posix(), real))
    return found


def project_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return FALLBACK_VERSION


def checkout_root(packages_parent: Path) -> Path | None:
    """``packages_parent`` if it is this project's source checkout (its pyproject.toml names
    this distribution), else None (an installed wheel: the packages sit in tilting/, alone)."""
    try:
        project = tomllib.loads((packages_parent / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no such file, or not TOML (tomllib's error is a ValueError)
        return None
    return packages_parent if project.get("project", {}).get("name") == DISTRIBUTION else None


def tracked_files(checkout: Path) -> frozenset[str] | None:
    """The paths (POSIX, relative to ``checkout``) that git tracks there, or None where git
    cannot say: not a git checkout, no git installed, or git refusing the folder."""
    if not (checkout / ".git").exists():
        return None
    try:
        listed = subprocess.run(["git", "-C", str(checkout), "ls-files", "-z"], capture_output=True,
                                timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("git could not list the files of %s (%s): %s holds every file of its folders.",
                    checkout, type(exc).__name__, ARCHIVE_URL)
        return None
    return frozenset(name for name in listed.decode("utf-8", "surrogateescape").split("\0") if name)


def source_files(frontend: Path, checkout: Path | None) -> dict[str, Path]:
    """Each file of the archive, by its path in the source tree (``frontend/``: the folder served;
    ``checkout``: the source checkout, if the packages are in one). Of the files in a git
    checkout, only those git tracks."""
    frontend = frontend.resolve()
    files = {}
    for package in PACKAGES:
        # An installed backend carries the frontend inside it: that goes under frontend/ only.
        files.update((f"{package}/{name}", real) for name, real in tree_files(PACKAGES_PARENT / package, (frontend,)))
    files.update((f"frontend/{name}", real) for name, real in tree_files(frontend))
    if checkout is not None:
        files.update((name, checkout / name) for name in CHECKOUT_FILES if (checkout / name).is_file())
        for folder in CHECKOUT_DIRS:
            if (checkout / folder).is_dir():
                files.update((f"{folder}/{name}", real) for name, real in tree_files(checkout / folder))
        tracked = tracked_files(checkout)
        if tracked is not None:
            root = checkout.resolve()
            files = {name: real for name, real in files.items()
                     if not real.is_relative_to(root) or real.relative_to(root).as_posix() in tracked}
    return files


def guide(version: str, checkout: bool) -> str:
    """SOURCE.txt: what the archive is and how to use it."""
    how = ("Install it with `pip install .` in this folder (Python 3.11 or later); README.md says how to\n"
           "build the data (`tilting precompute`), serve the page (`tilting serve`) and run the tests (tests/).\n"
           if checkout else
           "It was taken from an installed package, which carries the code but not its build files,\n"
           "README or tests. Installed, the folders are tilting/precompute, tilting/backend (with\n"
           "frontend/ as tilting/backend/_frontend) and tilting/cli; `tilting --help` lists the commands.\n")
    return (f"boundary-tilting {version}: the source of the page this archive was downloaded from.\n\n"
            "precompute/  the solver: MNIST, the exact SVM regularization path, the geometry of the figures\n"
            "backend/     the server: the JSON API and the page's files\n"
            "cli/         the `tilting` command\n"
            "frontend/    the page and its embeddable figures\n\n" + how)


def _member(name: str, size: int = 0, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.uid, info.gid, info.uname, info.gname = size, MTIME, 0, 0, "", ""
    info.type, info.mode = (tarfile.DIRTYPE, 0o755) if directory else (tarfile.REGTYPE, 0o644)
    return info


@functools.cache
def source_archive(frontend: Path) -> bytes:
    """The ``.tar.gz`` of the source, with ``frontend`` as its frontend/ (once per process and folder).

    Everything is under one folder, ``boundary-tilting-<version>/``, laid out as the source tree."""
    version = project_version()
    top = f"boundary-tilting-{version}"
    checkout = checkout_root(PACKAGES_PARENT)
    contents = {}
    for name, real in source_files(frontend, checkout).items():
        if real.stat().st_size > MAX_FILE_BYTES:
            log.warning("Left %s out of %s: over %d bytes, so not source.", real, ARCHIVE_URL, MAX_FILE_BYTES)
            continue
        contents[f"{top}/{name}"] = real.read_bytes()
    contents[f"{top}/SOURCE.txt"] = guide(version, checkout is not None).encode()
    folders = {parent.as_posix() for name in contents for parent in Path(name).parents if parent != Path(".")}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(folders | set(contents)):  # a folder sorts before what it holds
            if name in folders:
                tar.addfile(_member(name, directory=True))
            else:
                tar.addfile(_member(name, len(contents[name])), io.BytesIO(contents[name]))
    # Not tarfile's "w:gz": that stamps the gzip header with the time of the build.
    return gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0)
