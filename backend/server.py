"""``tilting serve``: run uvicorn over the bundles of an artifacts folder.

Every bundle is read and validated before the port is bound, so a damaged
bundle stops start-up with its one-sentence ``BundleError`` (printed by
``tilting``'s error handler, exit status 2) and half-valid data is never served.

All workers serve the bundle versions found at start-up: the parent resolves
each bundle link to its version folder, leases it (so ``tilting precompute``
does not delete it), and hands the exact paths to every worker, including
one uvicorn restarts later. Workers die with the parent, even on SIGKILL, so
that a supervisor can restart the server on the same port.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from pathlib import Path

from precompute.artifacts import ReadLease, read_all, resolve_bundles

# How the parent hands the pinned bundle folders and its own pid to worker
# processes (uvicorn imports the app factory by name in each worker, so it
# cannot receive arguments).
BUNDLES_ENV = "TILTING_SERVE_BUNDLES"
PARENT_ENV = "TILTING_SERVE_PARENT"
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux).

    Without it, a worker outlives a SIGKILLed parent and keeps the listening
    socket, so the next start fails with "Address already in use".
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above ran
        os.kill(os.getpid(), signal.SIGTERM)


def app_from_environment():
    """The app for one worker process, over the bundle folders pinned by its parent."""
    from backend.app import create_app

    die_with_parent(int(os.environ[PARENT_ENV]))
    return create_app([Path(p) for p in json.loads(os.environ[BUNDLES_ENV])])


def serve(args) -> int:
    """Run the server until interrupted; the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        ``artifacts``, ``host``, ``port``, ``mnist_dir``, ``workers``, ``log_level``
        (see ``tilting serve --help``).
    """
    import uvicorn

    from backend.security import connection_options

    artifacts = Path(args.artifacts)
    # connection_options: the parser and the limits on request heads, idle
    # connections and connection count (see backend.security).
    options = dict(host=args.host, port=args.port, log_level=args.log_level,
                   access_log=args.log_level in ("info", "debug"), **connection_options())
    bundles = resolve_bundles(artifacts)
    if args.workers <= 1:
        from backend.app import create_app

        uvicorn.run(create_app(bundles), **options)
        return 0
    # Validate here, once, so that a bad bundle is reported before any worker
    # starts; the workers then build the app themselves from the same folders.
    read_all(bundles)
    lease = ReadLease(bundles)
    os.environ[BUNDLES_ENV] = json.dumps([str(p) for p in bundles])
    os.environ[PARENT_ENV] = str(os.getpid())
    try:
        uvicorn.run("backend.server:app_from_environment", factory=True, workers=args.workers, **options)
    finally:
        lease.release()
    return 0
