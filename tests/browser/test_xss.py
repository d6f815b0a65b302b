"""Hostile URLs: script payloads in every URL parameter the pages read, and in the hash,
on the article and every embed (served and exported). No dialog, no page error, no
injected element."""

import re
import urllib.parse
from pathlib import Path

import pytest

from .conftest import wait_ready

pytestmark = pytest.mark.browser

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
PAYLOADS = [
    '"><img src=x onerror=alert(1)>',
    "</script><script>alert(2)</script>",
    "javascript:alert(3)",
    "<svg/onload=alert(4)>",
    "'-alert(5)-'",
    "1e309",
    "d" + "A" * 5000,
]


def url_keys() -> list[str]:
    """Every query key any page script reads (found in the code, so a new key is covered too)."""
    keys = set()
    for script in FRONTEND.glob("js/*.js"):
        text = script.read_text()
        keys.update(re.findall(r"""\.get\(['"]([a-z0-9_]+)['"]\)""", text))
        # The rows of state.js's URL table, and the old keys they still read.
        keys.update(re.findall(r"""\{ key: '([a-z0-9_]+)'""", text))
        keys.update(re.findall(r"""legacy: \{ ([a-z0-9_]+):""", text))
    assert {"experiment", "pair", "lambda", "rot", "wnorm"} <= keys
    return sorted(keys)


def embeds() -> list[str]:
    return sorted(p.stem for p in (FRONTEND / "embed").glob("*.html"))


def hostile_urls(page_path: str, payload: str) -> list[str]:
    """The payload in every key, in as few URLs as keep each under the server's 64 KiB header
    limit (a long payload in all twenty keys at once would be refused with 431 before any
    page script read it)."""
    keys = url_keys()
    per_url = max(1, 30_000 // len(urllib.parse.quote(payload)))
    return [f"{page_path}?{urllib.parse.urlencode({key: payload for key in keys[i:i + per_url]})}#{urllib.parse.quote(payload)}"
            for i in range(0, len(keys), per_url)]


@pytest.mark.parametrize("page_path", ["", *(f"embed/{name}.html" for name in embeds())])
def test_script_payloads_in_the_url_do_nothing(open_page, browser_server, page_path):
    page, _ = open_page(page_path)  # a clean load first, so the dialog listener is in place
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    figure = page.locator("[data-figure]").first.get_attribute("data-figure")
    for payload in PAYLOADS:
        for url in hostile_urls(page_path, payload):
            page.goto(browser_server + url)
            wait_ready(page, figure)
            injected = page.evaluate("() => document.querySelectorAll('img[src=x], svg[onload], script:not([src])').length")
            assert injected == 0, f"{payload!r} injected an element into {page_path or 'the article'}"
    assert not dialogs, dialogs
    # open_page's teardown fails the test on any page error or console error.
