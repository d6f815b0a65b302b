"""Readability of the figures (issue 12): what a reader sees on first sight, measured in real
Chromium. Labels in the tilting plane never overlap, every mark is in the legend, the teaser's
question and slider are on the first screen, the 3-D figure opens on a view where both
boundaries show, images that leave [0, 1] are drawn on mid-grey, δ keeps one scale, and no
control or picture runs past a phone's edge."""

import math

import numpy as np
import pytest

from .api import api, api_array
from .conftest import open_article_with_every_figure, screenshot, wait_ready

pytestmark = pytest.mark.browser

LAMBDAS = (-6, -4.5, -3, -1.5, 0, 2)  # both ends of the path and points between


def set_lambda(page, value):
    page.evaluate(f"window.__tilting.store.set({{ log10Lambda: {value} }})")
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def overlap(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def plane_state(page, scope):
    return page.evaluate(f"""() => {{
      const div = document.querySelector('{scope} .plane-plot');
      const legend = [...document.querySelectorAll('{scope} .plane-legend [data-legend]')].map(n => n.dataset.legend);
      return {{ labels: div.planeLabels, kinds: div.planeKinds, thumbs: div.planeThumbs, legend,
               plot: [div._fullLayout.xaxis._offset, div._fullLayout.yaxis._offset, div._fullLayout.xaxis._length, div._fullLayout.yaxis._length] }};
    }}""")


@pytest.mark.parametrize("figure", ["explorer", "teaser"])
@pytest.mark.parametrize("width", [1440, 390])
def test_plane_labels_never_overlap_and_every_mark_is_in_the_legend(open_page, figure, width):
    page, _ = open_page(f"embed/{figure}.html?pair=2-3", width=width, height=900 if width > 500 else 844)
    wait_ready(page, figure)
    scope = f".fig-{figure}"
    for lam in LAMBDAS:
        set_lambda(page, lam)
        state = plane_state(page, scope)
        labels = state["labels"]
        texts = [label["text"] for label in labels]
        assert "ŵ" in texts and "i" in texts and "j" in texts, texts
        if figure == "explorer":
            # x, its projection, mirror and adversarial, and the same for y: all labelled.
            assert {"x", "xₚ", "xₘ", "x̃", "y", "yₚ", "yₘ", "ỹ"} <= set(texts), texts
        for n, a in enumerate(labels):
            for b in labels[n + 1:]:
                assert not overlap(a, b), f"λ = 10^{lam}, {width} px: label {a['text']} overlaps {b['text']} ({a}, {b})"
        # Labels sit inside the plot area; the class-mean images sit above it, off the data.
        x0, y0, w, h = state["plot"]
        for a in labels:
            assert a["x"] >= x0 - 0.5 and a["x"] + a["w"] <= x0 + w + 0.5 and a["y"] >= y0 - 0.5 and a["y"] + a["h"] <= y0 + h + 0.5, a
        assert len(state["thumbs"]) == 2 and all(t["y"] + t["h"] <= y0 for t in state["thumbs"])
        # Every kind of mark drawn has a legend entry.
        missing = set(state["kinds"]) - set(state["legend"])
        assert not missing, f"marks without a legend entry: {missing}"
        if figure == "explorer":
            assert {"image", "projected", "mirror", "adversarial", "mean", "w", "boundary", "band"} <= set(state["kinds"])
    screenshot(page, f"readability-{figure}-{width}")


@pytest.mark.parametrize("size", [(1440, 900), (390, 844)])
def test_teaser_question_and_slider_are_on_the_first_screen(open_page, size):
    width, height = size
    page, _ = open_page("", width=width, height=height)
    wait_ready(page, "teaser")
    for selector in (".fig-teaser .teaser-question", ".fig-teaser input[type=range]"):
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, f"{selector} at {box} is below the first {height} px"
    assert page.locator(".fig-teaser .teaser-question").inner_text().strip().endswith("?")


def test_tilt3d_opens_on_a_view_showing_both_boundaries(open_page):
    for width in (1440, 390):
        page, _ = open_page("embed/tilt3d.html?pair=2-3", width=width)
        wait_ready(page, "tilt3d")
        page.wait_for_selector(".tilt-plot[data-points]")
        scene, normals, traces = page.evaluate("""() => { const p = document.querySelector('.tilt-plot');
          return [p.layout.scene, p.tiltNormals, p.data.map(t => [t.type, t.mode || '', t.opacity ?? 1])]; }""")
        # Equal ranges and an equal aspect ratio on the three axes: the eye vector is the view
        # direction in data units.
        ranges = [scene[a]["range"] for a in ("xaxis", "yaxis", "zaxis")]
        assert all(r == pytest.approx(ranges[0]) for r in ranges)
        ratio = scene.get("aspectratio")
        assert scene.get("aspectmode") == "cube" or (ratio["x"] == ratio["y"] == ratio["z"])
        eye = np.array([scene["camera"]["eye"][a] for a in "xyz"])
        e = eye / np.linalg.norm(eye)
        for n in normals:
            c = abs(float(np.dot(n, e))) / np.linalg.norm(n)
            # Neither edge-on (|n·e| near 0: a line) nor face-on (near 1: a sheet over every point).
            assert 0.2 <= c <= 0.85, f"a boundary is seen at |n·e| = {c:.2f}"
        # Both planes semi-transparent and outlined; no tick labels to pile up in an oblique view.
        meshes = [t for t in traces if t[0] == "mesh3d"]
        outlines = [t for t in traces if t[0] == "scatter3d" and t[1] == "lines"]
        assert len(meshes) == 2 and all(0 < t[2] < 0.6 for t in meshes) and len(outlines) == 2
        assert all(scene[a]["showticklabels"] is False for a in ("xaxis", "yaxis", "zaxis"))
        screenshot(page, f"readability-tilt3d-{width}")


def canvas_pixels(page, selector):
    """The canvas's pixels, read from a copy (reading the figure's own canvas back would make
    Chrome warn about readbacks on a canvas that is not willReadFrequently)."""
    return np.array(page.evaluate(f"""async () => {{ const c = document.querySelector("{selector}");
      const img = new Image(); img.src = c.toDataURL(); await img.decode();
      const copy = document.createElement('canvas'); copy.width = c.width; copy.height = c.height;
      const ctx = copy.getContext('2d', {{ willReadFrequently: true }}); ctx.drawImage(img, 0, 0);
      return Array.from(ctx.getImageData(0, 0, c.width, c.height).data); }}"""), dtype=float).reshape(-1, 4)


def test_mirror_images_are_drawn_on_mid_grey(open_page):
    page, _ = open_page("embed/explorer.html?pair=2-3&lambda=0")
    wait_ready(page, "explorer")
    for view in ("projected", "mirror"):
        px = canvas_pixels(page, f".slot [data-view={view}] canvas")
        corner = px[0]  # blank paper, moved a little by −2d(x)ŵ: near mid-grey, not white
        assert corner[0] == corner[1] == corner[2]
        assert 80 <= corner[0] <= 175, f"{view}: corner pixel {corner[:3]} is not mid-grey"
        # Values below 0 show lighter than the paper, above it darker: both sides are used.
        grey = px[:, 0]
        assert (grey > 140).any() and (grey < 110).any()
    assert "mid-grey" in page.locator(".fig-explorer .fig-note").last.inner_text()


def test_delta_keeps_one_scale_across_lambda_and_the_distance_curve_matches(open_page, browser_server):
    manifest = api(browser_server, "experiments/mnist-2-3.json")
    W = api_array(browser_server, manifest, "weights").astype(np.float64)
    B = api_array(browser_server, manifest, "intercepts").astype(np.float64)
    page, _ = open_page("embed/linear.html?pair=2-3&g=0&lambda=-6")
    wait_ready(page, "linear")
    x = api_array(browser_server, manifest, "gallery_images")[0].astype(np.float64)
    seen = {}
    for lam in (-6, 0):
        set_lambda(page, lam)
        k = int(page.locator("input[type=range]").input_value())
        canvas = ".equation-row .digit-panel:nth-of-type(2) canvas"
        scale = page.locator(canvas).get_attribute("data-scale")
        px = canvas_pixels(page, canvas)
        faint = (255 - px[:, :3].min(axis=1)).max()  # the strongest colour drawn
        delta = float(page.locator("[data-readout=delta]").inner_text())
        seen[lam] = (scale, faint, delta)
        # The curve beside the figure: ‖x_m − x‖ = 2|d(x)| and ‖x̃ − x‖ at the current λ.
        mirror = float(page.locator("[data-readout=mirror-distance]").get_attribute("data-value"))
        assert mirror == pytest.approx(2 * abs(x @ W[k] + B[k]) / np.linalg.norm(W[k]), rel=1e-4)
        adv = float(page.locator("[data-readout=adv-distance]").get_attribute("data-value"))
        assert f"{adv:.2f}" == f"{delta:.2f}"
    (s1, f1, d1), (s2, f2, d2) = seen[-6], seen[0]
    assert s1 == s2 and s1 is not None, "δ must be drawn on one fixed scale"
    # The smaller change is drawn fainter (with a per-λ scale both would reach full colour).
    small, large = sorted([(d1, f1), (d2, f2)])
    assert small[0] < large[0] and small[1] < large[1]
    assert math.isfinite(float(s1))


@pytest.mark.parametrize("width", [390, 360])
def test_no_control_or_picture_runs_past_a_phones_edge(open_page, width):
    """The page cannot scroll sideways (figures clip what overflows), so a control wider than
    the screen is cut off, not scrollable: a select sized to its longest option lost its arrow
    and its text at 390 px. Every visible control, label, readout and picture of every figure
    lies inside the screen."""
    page, _ = open_article_with_every_figure(open_page, width=width)
    cut = page.evaluate("""(() => { const W = document.documentElement.clientWidth;
      return [...document.querySelectorAll('main :is(select, input, button, textarea, summary, label, .readout, canvas, img, svg)')]
        .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
        .map(e => { const r = e.getBoundingClientRect(); return [e.closest('figure')?.id, e.tagName, Math.round(r.left), Math.round(r.right)]; })
        .filter(([, , left, right]) => left < -1 || right > W + 1); })()""")
    assert cut == [], f"cut off at {width} px: {cut}"


@pytest.mark.parametrize("width", [1440, 390])
def test_each_figure_mounts_into_the_height_held_for_it(open_page, width):
    """Until it mounts, a figure's place holds the smallest height it takes in its range of
    widths (article.css): mounting never shrinks it, and grows it by at most a quarter, so
    the text around a figure arriving above the screen barely moves."""
    page, _ = open_article_with_every_figure(open_page, width=width)
    page.wait_for_timeout(500)
    heights = page.evaluate("""[...document.querySelectorAll('main .figure-mount[data-figure]')].map(c => {
      const probe = document.createElement('div');  // an empty mount of that figure, as before it mounted
      probe.className = 'figure-mount'; probe.dataset.figure = c.dataset.figure;
      probe.style.cssText = 'position: absolute; top: 0; left: 0; width: 10px; visibility: hidden';
      c.parentElement.append(probe);
      const held = probe.getBoundingClientRect().height;
      probe.remove();
      return [c.dataset.figure, held, c.getBoundingClientRect().height]; })""")
    assert {f for f, _, _ in heights} >= {"teaser", "explorer", "tilt3d", "network-tilt"}
    wrong = [(f, round(held), round(h)) for f, held, h in heights if not (held <= h + 1 and h <= 1.25 * held)]
    assert wrong == [], f"(figure, height held, height mounted) at {width} px: {wrong}"
