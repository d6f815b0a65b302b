"""The article and its figures in real headless Chromium, checked against the API's numbers."""

import base64
import re
import urllib.request

import numpy as np
import pytest

from tilting.precompute import geometry as geo

from .api import api, api_array
from .conftest import ARTICLE_FIGURES, screenshot, wait_ready

pytestmark = pytest.mark.browser


def readout(page, name, scope="body"):
    return float(page.locator(f"{scope} [data-readout='{name}']").first.get_attribute("data-value"))


def slider_k(page, scope="body"):
    return int(page.locator(f"{scope} input[type=range]").first.input_value())


def scatter_row(page, scope="body"):
    """The v coordinates of the first class's training points as the plane's canvas drew them."""
    return np.array(page.evaluate(
        f"() => Array.from(document.querySelector('{scope} .plane-plot').planePoints.train.I.v)"))


def next_frame(page):
    """Wait until the slider's update (applied once per animation frame) has run."""
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def canvas_digest(page, selector):
    return page.evaluate(f"() => [...document.querySelectorAll(\"{selector}\")].map(c => c.toDataURL()).join('|')")


def test_article_loads_every_figure_without_console_messages(open_page, browser_server, browser_kind):
    # Under `tilting serve` the pages run under the strict policy: no inline script, so a CSP
    # violation (an inline <script> or handler) would show up as a console error below.
    if browser_kind == "serve":
        with urllib.request.urlopen(browser_server) as r:
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    for width in (1440, 360):
        page, console = open_page("", width=width)
        wait_ready(page, "teaser")
        # Figures below the fold load only when they near the viewport, or in the background
        # once the page is quiet: the first view (what is fetched before that starts)
        # fetches neither the explorer's data nor the network figure's 1.5 MB of weights.
        page.wait_for_timeout(300)
        warm = page.evaluate("window.__tilting.warmUp")
        assert page.evaluate("window.__tilting.readyAt.explorer") is None or "explorer" in [m["figure"] for m in warm["mounted"]]
        fetched = page.evaluate("""performance.getEntriesByType('resource')
            .filter(e => e.startTime < (window.__tilting.warmUp.started ?? Infinity)).map(e => e.name)""")
        assert not [u for u in fetched if "network-mnist" in u], fetched
        # The weights come when the live check is on screen, and the check runs.
        page.locator("#fig-network").scroll_into_view_if_needed()
        wait_ready(page, "network")
        page.locator("#fig-network .net-detail").scroll_into_view_if_needed()
        page.wait_for_function("(document.querySelector('#fig-network [data-readout=\"live-probability\"]') || {dataset: {}}).dataset.value > ''")
        fetched = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
        assert [u for u in fetched if "coef_0" in u]
        for figure in ("linear", "toy", "explorer", "loss", "tilt3d"):  # page order
            page.locator(f"#fig-{figure}").scroll_into_view_if_needed()
            wait_ready(page, figure)
        page.wait_for_timeout(300)
        assert page.locator(".figure-mount[aria-busy], .figure-error").count() == 0
        assert page.locator("h1").inner_text() == "Boundary Tilting"
        assert "Tanay" in page.locator(".byline").inner_text()
        assert page.locator(".placeholder").count() == 0
        assert page.locator(".figure-mount").count() == len(ARTICLE_FIGURES)
        screenshot(page, f"article-{width}")


def test_slider_mouse_and_keyboard_update_figures_with_the_api_numbers(open_page, browser_server):
    # Start where the path still moves (the small test bundle is separable: every λ ≤ 10^−2.5 gives the hard-margin SVM).
    page, _ = open_page("embed/explorer.html?pair=2-3&lambda=-1")
    wait_ready(page, "explorer")
    manifest = api(browser_server, "experiments/mnist-2-3.json")
    train_v = api_array(browser_server, manifest, "train_v")
    train_y = api_array(browser_server, manifest, "train_y")
    W = api_array(browser_server, manifest, "weights").astype(np.float64)
    B = api_array(browser_server, manifest, "intercepts").astype(np.float64)
    gallery = api_array(browser_server, manifest, "gallery_images").astype(np.float64)

    def check_against_api():
        next_frame(page)
        k = slider_k(page)
        model = manifest["models"][k]
        assert readout(page, "theta") == pytest.approx(model["theta_deg"], abs=1e-9)
        assert readout(page, "d_adv") == pytest.approx(model["d_adv"], abs=1e-9)
        assert readout(page, "test_error") == pytest.approx(model["test_error"], abs=1e-12)
        assert page.locator("[data-readout='theta']").inner_text() == f"{model['theta_deg']:.1f}°"
        # Every class-I point where the API puts it (float16 transfer: 3 significant digits).
        expected = train_v[k][train_y < 0]
        drawn = scatter_row(page)
        assert drawn.shape == expected.shape
        np.testing.assert_allclose(drawn, expected, rtol=1e-3, atol=2e-3)
        # The valid-image adversarial of image x, recomputed here with the reference numpy code.
        g = int(page.locator(".slot").first.locator("[aria-pressed=true]").get_attribute("data-gallery"))
        _, dist = geo.box_adversarial(gallery[g], W[k], B[k])
        shown = page.locator(".slot").first.locator("[data-view=adversarial] .dist").inner_text()
        assert shown == f"‖δ‖ = {dist:.2f}"
        score = gallery[g] @ W[k] + B[k]
        assert page.locator("[data-pred=x0]").inner_text() == str(manifest["digits"][int(score > 0)])
        return k

    k0 = check_against_api()
    before = (readout(page, "theta"), scatter_row(page), canvas_digest(page, ".slot [data-view=adversarial] canvas"))

    # Mouse: drag the thumb to the far left.
    box = page.locator("input[type=range]").first.bounding_box()
    y = box["y"] + box["height"] / 2
    start = box["x"] + box["width"] * (k0 + 0.5) / len(manifest["models"])
    page.mouse.move(start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, y, steps=5)
    page.mouse.move(box["x"] + 2, y, steps=5)
    page.mouse.up()
    k1 = check_against_api()
    assert k1 == 0 and k1 != k0
    after = (readout(page, "theta"), scatter_row(page), canvas_digest(page, ".slot [data-view=adversarial] canvas"))
    assert after[0] != before[0]
    assert not np.array_equal(after[1], before[1])
    assert after[2] != before[2]

    # Keyboard: focus the slider and step right twice, then End.
    page.locator("input[type=range]").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert check_against_api() == 2
    page.keyboard.press("End")
    assert check_against_api() == len(manifest["models"]) - 1
    assert readout(page, "theta") != after[0]


def test_slider_applies_the_first_input_at_once_and_then_one_per_frame(open_page, browser_server):
    models = api(browser_server, "experiments/mnist-2-3.json")["models"]
    page, _ = open_page("embed/explorer.html?pair=2-3")
    wait_ready(page, "explorer")
    now, later = page.evaluate(
        """async () => {
          const seen = [];
          window.__tilting.store.subscribe((s, changed) => { if (changed.includes('log10Lambda')) seen.push(s.log10Lambda); });
          const input = document.querySelector('.fig-explorer input[type=range]');
          for (const k of [10, 11, 12, 13]) { input.value = String(k); input.dispatchEvent(new Event('input', { bubbles: true })); }
          const now = seen.slice();
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          return [now, seen];
        }""")
    grid = [m["log10_lambda"] for m in models]
    # The first input is drawn in the very next frame; the three that came in the same frame
    # collapse into one update with the latest value.
    assert now == pytest.approx([grid[10]])
    assert later == pytest.approx([grid[10], grid[13]])
    assert slider_k(page, ".fig-explorer") == 13


def test_linear_figure_shows_a_misclassified_adversarial(open_page, browser_server):
    page, _ = open_page("embed/linear.html?pair=2-3&lambda=-4&g=5")
    wait_ready(page, "linear")
    manifest = api(browser_server, "experiments/mnist-2-3.json")
    W = api_array(browser_server, manifest, "weights").astype(np.float64)
    B = api_array(browser_server, manifest, "intercepts").astype(np.float64)
    x = api_array(browser_server, manifest, "gallery_images")[5].astype(np.float64)
    k = slider_k(page)
    assert manifest["models"][k]["log10_lambda"] == pytest.approx(-4, abs=0.26)
    image, dist = geo.box_adversarial(x, W[k], B[k])
    assert page.locator("[data-readout=delta]").inner_text() == f"{dist:.2f}"
    digits = manifest["digits"]
    assert page.locator("[data-pred=x]").inner_text() == str(digits[int(x @ W[k] + B[k] > 0)])
    assert page.locator("[data-pred=adv]").inner_text() == str(digits[int(image @ W[k] + B[k] > 0)])
    assert page.locator("[data-pred=adv]").inner_text() != page.locator("[data-pred=x]").inner_text()
    before = page.locator("[data-readout=delta]").inner_text()
    page.locator("input[type=range]").focus()
    page.keyboard.press("End")
    next_frame(page)
    assert page.locator("[data-readout=delta]").inner_text() != before


def test_pair_selector_switches_data(open_page, browser_server):
    experiments = api(browser_server, "experiments.json")["experiments"]
    other = next(e for e in experiments if e["digits"] != [2, 3])
    page, _ = open_page("embed/explorer.html?pair=2-3&lambda=-2")
    wait_ready(page, "explorer")
    theta_23 = readout(page, "theta")
    v_23 = scatter_row(page)
    page.select_option(".pair-select select", other["id"])
    page.wait_for_function(f"document.querySelector('.slot .figure-heading').textContent.includes('a {other['digits'][0]} ')")
    manifest = api(browser_server, f"experiments/{other['id']}.json")
    k = slider_k(page)
    assert manifest["models"][k]["log10_lambda"] == pytest.approx(-2, abs=0.26)
    assert readout(page, "theta") == pytest.approx(manifest["models"][k]["theta_deg"], abs=1e-9)
    assert readout(page, "theta") != theta_23
    assert len(scatter_row(page)) == other["counts"]["train_i"] != len(v_23) or not np.array_equal(scatter_row(page), v_23)
    page.wait_for_timeout(400)
    assert f"experiment={other['id']}" in page.url and "pair=" not in page.url


def draw_a_one(page):
    pad = page.locator("canvas.drawpad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    cx = box["x"] + box["width"] / 2
    page.mouse.move(cx - 10, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(cx, box["y"] + box["height"] * 0.15, steps=4)
    page.mouse.move(cx, box["y"] + box["height"] * 0.85, steps=12)
    page.mouse.up()


def test_drawing_yields_a_prediction_and_the_url_round_trips(open_page, browser_server):
    page, _ = open_page("embed/explorer.html?pair=2-3&lambda=-2&y=15&test=1")
    wait_ready(page, "explorer")
    manifest = api(browser_server, "experiments/mnist-2-3.json")
    digits = [str(d) for d in manifest["digits"]]
    assert page.locator(".toggle input").is_checked()
    assert page.locator(".slot").nth(1).locator("[aria-pressed=true]").get_attribute("data-gallery") == "15"
    draw_a_one(page)
    verdict = page.locator("[data-pred=drawing]")
    verdict.wait_for()
    assert verdict.inner_text() in digits
    page.get_by_role("button", name="Use as x").click()
    page.wait_for_function("location.search.includes('x=d')")
    assert page.locator("[data-pred=x0]").inner_text() == verdict.inner_text()
    # The drawing's score, recomputed from the URL's pixels and the API's weights.
    code = page.evaluate("new URLSearchParams(location.search).get('x')")[1:]
    raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
    pixels = np.array([(b >> 4, b & 15) for b in raw]).ravel()[: 784] / 15
    W = api_array(browser_server, manifest, "weights").astype(np.float64)
    B = api_array(browser_server, manifest, "intercepts").astype(np.float64)
    k = slider_k(page)
    assert verdict.inner_text() == digits[int(pixels @ W[k] + B[k] > 0)]
    shown = {v: page.locator(f"[data-score=x{v}]").inner_text() for v in range(4)}
    url = page.url

    assert url.startswith(browser_server)
    page2, _ = open_page(url[len(browser_server):])
    wait_ready(page2, "explorer")
    assert slider_k(page2) == k
    assert page2.locator(".toggle input").is_checked()
    assert {v: page2.locator(f"[data-score=x{v}]").inner_text() for v in range(4)} == shown
    assert page2.locator(".slot").nth(1).locator("[aria-pressed=true]").get_attribute("data-gallery") == "15"


@pytest.mark.parametrize("figure", ["teaser", "linear", "explorer"])
def test_each_embed_renders_alone(open_page, browser_server, figure):
    for width in (360, 1440):
        page, _ = open_page(f"embed/{figure}.html?pair=2-3&lambda=-3", width=width)
        wait_ready(page, figure)
        assert page.locator(".embed-title").inner_text()
        assert page.locator("input[type=range]").count() == 1
        snippet = page.locator(".embed-snippet textarea").input_value()
        src = re.search(r'<iframe src="([^"]+)"', snippet).group(1)
        assert f"/embed/{figure}.html?" in src
        # The snippet's address is one the server (and a static host) really serves.
        with urllib.request.urlopen(src) as r:
            assert r.status == 200 and f'data-figure="{figure}"' in r.read().decode()
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{figure} overflows a {width} px viewport by {overflow} px"
        page.wait_for_timeout(300)
        screenshot(page, f"embed-{figure}-{width}")


def test_plane_points_drew_pixels(open_page, browser_server):
    page, _ = open_page("embed/teaser.html?pair=2-3")
    wait_ready(page, "teaser")
    page.wait_for_timeout(300)
    # Hide every SVG layer so only the canvas is left in the screenshot.
    page.evaluate("document.querySelectorAll('.plane-plot svg').forEach(s => s.style.visibility = 'hidden')")
    png = page.locator(".plane-plot").screenshot()
    counts = page.evaluate(
        """async (b64) => {
          const img = new Image(); img.src = 'data:image/png;base64,' + b64; await img.decode();
          const c = new OffscreenCanvas(img.width, img.height); const ctx = c.getContext('2d');
          ctx.drawImage(img, 0, 0); const d = ctx.getImageData(0, 0, img.width, img.height).data;
          let blue = 0, orange = 0;
          for (let i = 0; i < d.length; i += 4) {
            if (d[i + 2] > d[i] + 40) blue++;
            if (d[i] > d[i + 2] + 40) orange++;
          }
          return { blue, orange };
        }""",
        base64.b64encode(png).decode(),
    )
    assert counts["blue"] > 500 and counts["orange"] > 500, counts
    # Drawn on one 2-D canvas at the screen's pixel ratio, with no WebGL canvas (read back on
    # every frame where the browser composites in software: benchmarks/RESULTS.md).
    width, css_width, dpr, canvases = page.evaluate(
        """() => { const c = document.querySelector('.plane-plot canvas.plane-overlay');
                 return [c.width, c.getBoundingClientRect().width, devicePixelRatio,
                         document.querySelectorAll('.plane-plot canvas').length]; }""")
    assert width == pytest.approx(css_width * dpr, abs=1) and canvases == 1
