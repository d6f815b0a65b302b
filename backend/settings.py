"""What a server runs with: one settings object, from ``tilting serve`` to every worker.

With ``--workers N`` uvicorn starts each worker as a new process that imports
the app factory by name (``tilting.backend.server:app_from_environment``), so the
factory cannot take arguments: the parent serialises these settings once,
as JSON in the one environment variable ``SETTINGS_ENV``, and each worker
reads them back with ``ServeSettings.from_environment``. Nothing else passes
between them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SETTINGS_ENV = "TILTING_SERVE_SETTINGS"


class ServeSettings(BaseModel):
    """Everything ``tilting serve`` needs; built from its options (any object with these
    attributes, e.g. the parsed command line) or from the environment in a worker."""

    model_config = ConfigDict(frozen=True, from_attributes=True, extra="ignore")

    artifacts: Path = Field(description="The artifacts folder: every bundle in it is served, and "
                            "bundles that land in it later are picked up.")
    frontend: Path | None = Field(None, description="The frontend's folder (default: the installed one).")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    rescan_seconds: float = Field(1.0, ge=0, description="Look for new bundles at most this often.")
    parent_pid: int | None = Field(None, description="Set by the parent for its workers: they die with it.")

    def to_environment(self) -> dict[str, str]:
        """The environment entry that hands these settings to worker processes."""
        return {SETTINGS_ENV: self.model_dump_json()}

    @classmethod
    def from_environment(cls) -> "ServeSettings":
        """The settings the parent process handed down (``to_environment``)."""
        return cls.model_validate_json(os.environ[SETTINGS_ENV])
