"""``tilting serve``: run uvicorn over the bundles of an artifacts folder.

Every bundle is read and validated before the port is bound, so a damaged
bundle stops start-up with its one-sentence ``BundleError`` (printed by
``tilting``'s error handler, exit status 2) and half-valid data is never served.

While it runs, the server picks up bundles that land in the folder (a new
pair from a background ``tilting precompute``, or a newer version of one it
serves) within a second of the next listing or request for an unknown id;
each worker process does so for itself and leases every version it serves
(``tilting.backend.store.Store``). Workers die with the parent, even on SIGKILL, so
that a supervisor can restart the server on the same port.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from tilting.backend.settings import ServeSettings
from tilting.precompute.artifacts import read_all, resolve_bundles

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


def build_app(settings: ServeSettings, strict: bool = True):
    from tilting.backend.app import create_app

    return create_app(settings.artifacts, settings.frontend, rescan_seconds=settings.rescan_seconds, strict=strict)


def app_from_environment():
    """The app for one worker process, from the settings its parent handed down.

    Not strict: the parent validated every bundle before starting it, and a
    worker that uvicorn restarts later must come up even if a bundle that
    landed meanwhile is broken (that one is logged and left out)."""
    settings = ServeSettings.from_environment()
    if settings.parent_pid is not None:
        die_with_parent(settings.parent_pid)
    return build_app(settings, strict=False)


def serve(options) -> int:
    """Run the server until interrupted; the exit status.

    Parameters
    ----------
    options : ServeSettings, or any object with its attributes
        e.g. the parsed ``tilting serve`` command line (``artifacts``, ``host``,
        ``port``, ``workers``, ``log_level``).
    """
    import uvicorn

    from tilting.backend.fastpath import connection_options

    settings = ServeSettings.model_validate(options)
    # connection_options: the parser and the limits on request heads, idle
    # connections and connection count (see tilting.backend.security).
    uvicorn_options = dict(host=settings.host, port=settings.port, log_level=settings.log_level,
                           access_log=settings.log_level in ("info", "debug", "trace"), **connection_options())
    if settings.workers <= 1:
        uvicorn.run(build_app(settings), **uvicorn_options)
        return 0
    # Validate here, once, so that a bad bundle is reported before any worker starts.
    read_all(resolve_bundles(settings.artifacts))
    settings = settings.model_copy(update={"parent_pid": os.getpid()})
    os.environ.update(settings.to_environment())
    uvicorn.run("tilting.backend.server:app_from_environment", factory=True, workers=settings.workers, **uvicorn_options)
    return 0
