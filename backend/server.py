"""``tilting serve``: build the default experiment if there is none, then run uvicorn.

Every bundle is read and validated before the port is bound, so a damaged
bundle stops start-up with its one-sentence ``BundleError`` (printed by
``tilting``'s error handler, exit status 2) and half-valid data is never served.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from precompute.artifacts import list_bundles, read_all

DEFAULT_PAIR = (2, 3)
# How the parent hands its options to worker processes (uvicorn imports the
# app factory by name in each worker, so it cannot receive arguments).
ARTIFACTS_ENV = "TILTING_SERVE_ARTIFACTS"


def ensure_default_bundle(artifacts: Path, mnist_dir: str | None) -> None:
    """Build the default pair with ``tilting precompute``'s code when ``artifacts`` holds no bundle."""
    if list_bundles(artifacts):
        return
    from precompute.cli import DEFAULT_GRID, precompute_pair
    from precompute.experiment import DEFAULT_PER_CLASS

    print(f"No bundle in {artifacts}: building the default experiment (digits "
          f"{DEFAULT_PAIR[0]} vs {DEFAULT_PAIR[1]}) first.", file=sys.stderr)
    precompute_pair(*DEFAULT_PAIR, per_class=DEFAULT_PER_CLASS, log_lambda=DEFAULT_GRID,
                    mnist_dir=mnist_dir, out=artifacts)


def app_from_environment():
    """The app for one worker process, over the folder named by ``TILTING_SERVE_ARTIFACTS``."""
    from backend.app import create_app

    return create_app(os.environ[ARTIFACTS_ENV])


def serve(args) -> int:
    """Run the server until interrupted; the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        ``artifacts``, ``host``, ``port``, ``mnist_dir``, ``workers``, ``log_level``
        (see ``tilting serve --help``).
    """
    import uvicorn

    artifacts = Path(args.artifacts)
    ensure_default_bundle(artifacts, args.mnist_dir)
    options = dict(host=args.host, port=args.port, log_level=args.log_level,
                   access_log=args.log_level in ("info", "debug"))
    if args.workers <= 1:
        from backend.app import create_app

        uvicorn.run(create_app(artifacts), **options)
        return 0
    # Validate here, once, so that a bad bundle is reported before any worker
    # starts; the workers then build the app themselves.
    read_all(artifacts)
    os.environ[ARTIFACTS_ENV] = str(artifacts.resolve())
    uvicorn.run("backend.server:app_from_environment", factory=True, workers=args.workers, **options)
    return 0
