"""``tilting export``: the whole explorable as static files, for any static host.

Every file is fetched from the real application in-process, so the export
holds exactly the bytes the server would send (decoded from gzip), except that
each HTML page gets the server's Content-Security-Policy as a ``<meta>``
element (a static host sends no such header). All URLs the pages use are
relative, and the API's JSON forms end in ``.json``, so the folder works under
any sub-path, from a CDN, or opened from a file server.

The target folder is replaced as a whole, so export is careful about what it
will replace: only a folder that does not exist, an empty folder, or an
earlier export (recognised by its marker file, and holding nothing besides the
files that export wrote). Anything else is refused before a byte is written.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # Starlette's notice about the test client's httpx dependency (a UserWarning
    # subclass in newer Starlette); the in-process client works as documented.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

from tilting.backend.app import create_app
from tilting.precompute.errors import TiltingError

# Written into every export; its list of files is what a later export may replace.
MARKER = ".tilting-export"
TOOL = "tilting export"


def export_urls(app) -> list[str]:
    """Every URL path the static site needs: pages, assets, and all API data."""
    store = app.state.store
    urls = list(app.state.frontend)  # "/index.html", "/js/…", "/vendor/plotly.min.js", the docs' assets, …
    # The API docs as folder pages (a static host answers `docs` with docs/index.html), and
    # the schema they read; the JSON API's .json forms follow.
    urls.extend(["/docs/index.html", "/redoc/index.html", "/openapi.json", "/api/experiments.json", "/api/figures.json"])
    for section, bundles in (("experiments", store.experiments), ("figures", store.figures)):
        for exp_id, exp in bundles.items():
            urls.append(f"/api/{section}/{exp_id}.json")
            urls.extend(f"/api/{section}/{exp_id}/arrays/{file}" for file in exp.arrays)
    return urls


def export_site(artifacts_dir, out_dir, frontend_dir=None) -> int:
    """Write the static site into ``out_dir``, replacing an earlier export there; the file count.

    Raises ``TiltingError`` (one sentence) when ``out_dir`` holds anything
    that is not ours to replace, and when writing fails (e.g. a full or
    read-only disk); an earlier export is then left as it was.
    """
    out = Path(out_dir)
    # Work on the real location: `--out .` or a symlinked folder must not
    # fool the checks below, and the staging folder must be its sibling.
    try:
        target = out.resolve()
        check_target(out, target)
    except OSError as exc:
        raise TiltingError(f"Cannot check what {out} holds: {exc.strerror or exc}.") from None
    app = create_app(artifacts_dir, frontend_dir=frontend_dir)
    if not app.state.store.experiments:
        raise TiltingError(f"No experiment in {artifacts_dir}; run `tilting precompute` first.")
    try:
        return _write_site(app, target)
    except OSError as exc:
        raise TiltingError(
            f"Cannot write the export to {out}: {exc.strerror or exc}; any earlier export there is unchanged."
        ) from None


def check_target(out: Path, target: Path) -> None:
    """Refuse (``TiltingError``) a target that export cannot replace without losing someone's files.

    ``out`` is the path as the user gave it (for messages), ``target`` its resolved form.
    """
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise TiltingError(
            f"--out {out} is the current folder or holds it, and export replaces the whole folder; "
            "run it from elsewhere, e.g. with --out ../site."
        )
    # The nearest existing path on the way up must be a folder (`--out notes.txt/site`).
    existing = next(p for p in [target, *target.parents] if p.exists())
    if not existing.is_dir():
        raise TiltingError(f"Cannot export to {out}: {existing} is a file, not a folder.")
    if existing != target:
        return  # a new folder
    present = _tree(target)
    if not present:
        return  # an empty folder
    written = _marker_files(target)
    if written is None:
        raise TiltingError(
            f"{out} is not empty and is not a previous export (it has no {MARKER} file); "
            "choose a new or empty folder."
        )
    # Every folder on the way to a file export wrote is export's too.
    ours = {MARKER} | written
    ours |= {parent.as_posix() for f in written for parent in Path(f).parents if parent != Path(".")}
    foreign = sorted(present - ours)
    if foreign:
        raise TiltingError(
            f"{out} is a previous export but also holds {len(foreign)} file(s) or folder(s) it did not write "
            f"(e.g. {foreign[0]}); move them out of it, or export to a new folder."
        )


def _tree(folder: Path) -> set[str]:
    """Every file, folder and link under ``folder``, as relative POSIX paths."""
    def fail(exc):  # a folder we cannot list may hold anything: refuse rather than guess
        raise exc

    found = set()
    for root, dirs, files in os.walk(folder, onerror=fail):
        rel = Path(root).relative_to(folder)
        found.update((rel / name).as_posix() for name in dirs + files)
    return found


def _marker_files(folder: Path) -> set[str] | None:
    """The files an earlier export wrote into ``folder``, or None if it has no valid marker."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):  # no marker, or not one of ours (UnicodeDecodeError is a ValueError)
        return None
    if not isinstance(marker, dict) or marker.get("tool") != TOOL or not isinstance(marker.get("files"), list):
        return None
    return {f for f in marker["files"] if isinstance(f, str)}


def _write_site(app, target: Path) -> int:
    """Write every file into a private folder beside ``target``, then swap it in."""
    client = TestClient(app)
    target.parent.mkdir(parents=True, exist_ok=True)
    # One fresh, uniquely named folder beside the target (same disk, so the
    # renames are atomic) holds the new site and, briefly, the old one; apart
    # from the target (and missing parents), it is all this run creates or removes.
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.tilting-export-", dir=target.parent))
    try:
        # Not `work` itself: mkdtemp makes it 0700, while the site must get the
        # umask's permissions so that a web server running as another user can read it.
        staging = work / "site"
        staging.mkdir()
        urls = export_urls(app)
        for url in urls:
            response = client.get(url, headers={"accept-encoding": "identity"})
            if response.status_code != 200:
                raise TiltingError(f"Exporting {url} failed: {response.status_code} {response.text[:200]}")
            body = response.content
            if url.endswith(".html"):
                body = with_meta_csp(body, response.headers["content-security-policy"], url)
            path = staging / url.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        files = sorted(url.lstrip("/") for url in urls)
        marker = {"tool": TOOL, "version": _version(), "files": files}
        (staging / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        _swap_in(staging, target, work / "previous")
    finally:
        # If the swap failed half-way and could not be undone, the old export
        # is lost with this folder; it was export's own output, and re-running
        # export rebuilds it.
        shutil.rmtree(work, ignore_errors=True)
    return len(urls)


def _swap_in(staging: Path, target: Path, previous: Path) -> None:
    """Put ``staging`` at ``target``, moving an existing ``target`` to ``previous``."""
    if not target.exists():
        os.rename(staging, target)
        return
    os.rename(target, previous)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(previous, target)  # put the old export back
        raise


def meta_csp(policy: str) -> str:
    """``policy`` without the directives a ``<meta>`` policy ignores (frame-ancestors)."""
    directives = [d.strip() for d in policy.split(";")]
    return "; ".join(d for d in directives if d and not d.startswith("frame-ancestors"))


# Where the policy goes: after <meta charset> (which must stay first), else at the
# start of <head>. The embed pages leave <head> implicit, but all pages declare a charset.
_ANCHORS = (re.compile(rb"<meta\s+charset[^>]*>", re.IGNORECASE), re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE))


def with_meta_csp(page: bytes, policy: str, url: str) -> bytes:
    """``page`` with the server's ``policy`` as a <meta> before anything the page loads.

    Before, because a <meta> policy governs only what comes after it.
    """
    anchor = next((m for m in (a.search(page) for a in _ANCHORS) if m), None)
    if anchor is None:
        # The page would go out without its policy: better to stop.
        raise TiltingError(f"Exporting {url} failed: it has no <meta charset> or <head> to put its policy after.")
    meta = f'\n<meta http-equiv="Content-Security-Policy" content="{_attribute(meta_csp(policy))}">'
    return page[: anchor.end()] + meta.encode() + page[anchor.end() :]


def _attribute(text: str) -> str:
    """``text`` for a double-quoted attribute (the policy's single quotes stay readable)."""
    return html.escape(text, quote=False).replace('"', "&quot;")


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("boundary-tilting")
    except PackageNotFoundError:
        return None
