"""Real headless Chromium against the real backend (`tilting serve`, else tilting.backend.app under
uvicorn), with two small real bundles.

Set TILTING_BROWSER_URL to run the tests against an already running server instead
(it must serve the 2-vs-3 and at least one other experiment).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("TILTING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]
# Chromium's software GL reports its own performance notes to the console
# ("GL Driver Message ... GPU stall due to ReadPixels"); they come from the browser's
# GL layer, not from the page, and a hardware GPU does not emit them.
BROWSER_NOISE = ("GL Driver Message",)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_command(artifacts: Path, port: int) -> list[str]:
    """`tilting serve`, or the same FastAPI app under uvicorn when the CLI lacks `serve`."""
    exe = Path(sys.executable).parent / "tilting"
    tilting = str(exe) if exe.exists() else shutil.which("tilting")
    if tilting and subprocess.run([tilting, "serve", "--help"], capture_output=True).returncode == 0:
        return [tilting, "serve", "--artifacts", str(artifacts), "--port", str(port), "--log-level", "warning"]
    app = (f"import uvicorn; from tilting.backend.app import create_app; "
           f"uvicorn.run(create_app({str(artifacts)!r}), host='127.0.0.1', port={port}, log_level='warning')")
    return [sys.executable, "-c", app]


def _wait_for(url: str, proc=None, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="session", params=["serve", "static"])
def browser_kind(request):
    """Every browser test runs twice: against `tilting serve`, and against `tilting export`'s
    static site served by a plain static file server under a sub-path."""
    if os.environ.get("TILTING_BROWSER_URL") and request.param == "static":
        pytest.skip("TILTING_BROWSER_URL names one server")
    return request.param


@pytest.fixture(scope="session")
def browser_artifacts(tmp_path_factory, request):
    """Real 2-vs-3 and 4-vs-9 bundles (300 images per digit, 17 models; 2-vs-3 also with 100 per
    digit, as mnist-2-3-100), and the network and
    toy figures' bundles (a small network on 2,000 images with short attacks, so some attacks
    honestly fail): everything the article shows."""
    mnist = request.getfixturevalue("mnist")
    from tilting.precompute import network as net
    from tilting.precompute import toy
    from tilting.precompute.artifacts import write_bundle
    from tilting.precompute.data import Digits
    from tilting.precompute.experiment import build_experiment

    root = tmp_path_factory.mktemp("browser-artifacts")
    grid = np.arange(-6.0, 2.01, 0.5)  # 17 models: quick, and enough to scrub
    for i, j in ((2, 3), (4, 9)):
        manifest, arrays = build_experiment(mnist, i, j, grid, per_class=300)
        write_bundle(root, f"mnist-{i}-{j}", manifest, arrays)
    # A second experiment of the same digits (fewer images): chosen by its id, never by its digits.
    manifest, arrays = build_experiment(mnist, 2, 3, grid, per_class=100)
    write_bundle(root, "mnist-2-3-100", manifest, arrays)
    small = Digits(train_images=mnist.train_images[:2000], train_labels=mnist.train_labels[:2000],
                   test_images=mnist.test_images, test_labels=mnist.test_labels,
                   name=mnist.name, side=mnist.side, source=mnist.source, checksums=mnist.checksums)
    manifest, arrays = net.build_network_experiment(small, weight_decays=(1e-4, 1.0, 10.0), hidden=32, epochs=5,
                                                    attack_options={"max_steps": 60})
    write_bundle(root, net.EXPERIMENT_ID, manifest, arrays)
    write_bundle(root, toy.EXPERIMENT_ID, *toy.build_toy_experiment())
    return root


@pytest.fixture(scope="session")
def browser_server(browser_kind, tmp_path_factory, request):
    """Base URL (ending in /) of the explorable over the real 2-vs-3 and 4-vs-9 bundles."""
    external = os.environ.get("TILTING_BROWSER_URL")
    if external:
        base = external.rstrip("/") + "/"
        _wait_for(base + "api/experiments.json")
        yield base
        return
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Chromium not found at {CHROMIUM}")
    root = request.getfixturevalue("browser_artifacts")
    if browser_kind == "static":
        yield from _static_site(root, tmp_path_factory.mktemp("docroot"))
        return
    port = _free_port()
    proc = subprocess.Popen(
        _server_command(root, port),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{port}/"
        _wait_for(base + "api/experiments.json", proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _static_site(artifacts, docroot):
    """`tilting export` into docroot/blog/explorable/, served by Python's plain static server."""
    import functools
    import http.server
    import threading

    from tilting.backend.export import export_site

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    export_site(artifacts, docroot / "blog" / "explorable")
    handler = functools.partial(Quiet, directory=str(docroot))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/blog/explorable/"
    finally:
        server.shutdown()


def skip_or_fail(reason: str):
    """Skip on a developer's machine; in CI (CI=true) a missing browser is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests; `make test` installs them)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    try:
        from playwright import sync_api as playwright
    except ImportError:
        skip_or_fail("the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Chromium not found at {CHROMIUM}")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Console:
    """Console errors/warnings and uncaught exceptions seen by one page."""

    def __init__(self, page):
        self.messages = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))

    def _console(self, msg):
        if msg.type in ("error", "warning") and not any(n in msg.text for n in BROWSER_NOISE):
            self.messages.append(f"{msg.type}: {msg.text}")


@pytest.fixture()
def open_page(chromium, browser_server):
    """open_page(path, width=1440) -> (page, console); asserts a clean console at teardown."""
    contexts = []

    def _open(path, width=1440, height=900):
        context = chromium.new_context(viewport={"width": width, "height": height}, has_touch=width < 500)
        contexts.append(context)
        page = context.new_page()
        console = Console(page)
        page.goto(browser_server + path)
        contexts[-1].console = console
        return page, console

    yield _open
    problems = [m for c in contexts for m in c.console.messages]
    for c in contexts:
        c.close()
    assert not problems, "console errors or warnings:\n" + "\n".join(problems)


# The article's figures, in page order (each mounted in #fig-<name>).
ARTICLE_FIGURES = ("teaser", "network", "linear", "toy", "explorer", "loss", "tilt3d",
                   "network-ce", "network-curves", "network-filters", "network-tilt")


def open_article_with_every_figure(open_page, width=1440):
    """The article with every figure mounted (each waits until it nears the viewport)."""
    page, console = open_page("", width=width)
    wait_ready(page, "teaser")
    for figure in ARTICLE_FIGURES:
        page.locator(f"#fig-{figure}").scroll_into_view_if_needed()
        wait_ready(page, figure)
    return page, console


def wait_ready(page, figure, timeout=20000):
    page.wait_for_function(f"window.__tilting && window.__tilting.readyAt && window.__tilting.readyAt['{figure}']", timeout=timeout)


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
