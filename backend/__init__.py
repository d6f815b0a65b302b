"""FastAPI service over the artifact bundles (read-only)."""
