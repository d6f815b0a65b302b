"""The "Embed this figure" snippet pasted into a blank page on another origin; the article
printed (every figure a picture on paper, nothing cut off, no sliders); and the article's
text checked against what the figures show (numbers, figure numbering, citations)."""

import base64
import functools
import http.server
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from .api import api
from .conftest import ARTICLE_FIGURES, SCREENSHOTS, open_article_with_every_figure, wait_ready

pytestmark = pytest.mark.browser

OWN_KEYS = {
    "teaser": {"experiment", "lambda"}, "linear": {"experiment", "lambda", "g"},
    "explorer": {"experiment", "lambda", "x", "y", "test"}, "network": {"net", "view", "cell", "proto"},
    "toy": {"da", "ta", "db", "tb", "toylam"}, "tilt3d": {"experiment", "ls", "lw", "rot"},
    "loss": {"experiment", "lambda", "wnorm"},
    "network-ce": {"net", "ceweight"}, "network-curves": {"net"}, "network-filters": {"net"}, "network-tilt": {"net"},
}


@pytest.fixture()
def host_server(tmp_path):
    """A blogger's page: a plain static server on another loopback port (another origin)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def snippet_of(page, figure):
    page.locator(f"#fig-{figure} .embed-snippet summary").click()
    return page.locator(f"#fig-{figure} .embed-snippet textarea").input_value()


# Every figure's parameters at once, as a reader who moved every control would have them.
ALL_PARAMS = "pair=2-3&lambda=-2&g=4&x=3&y=7&test=1&net=1&view=pert&cell=7-1&da=50&ta=60&db=8&tb=10&toylam=-3&ls=0.5&lw=-5&rot=0.4&wnorm=1"


def test_snippet_carries_only_its_figures_state(open_page):
    page, _ = open_page(f"?{ALL_PARAMS}", width=1440)
    wait_ready(page, "teaser")
    for figure in ARTICLE_FIGURES:
        page.locator(f"#fig-{figure}").scroll_into_view_if_needed()
        wait_ready(page, figure)
        code = snippet_of(page, figure)
        src = re.search(r'<iframe src="([^"]+)"', code).group(1)
        keys = set(parse_qs(urlsplit(src).query))
        assert keys <= OWN_KEYS[figure], (figure, src)
        assert f"/embed/{figure}.html" in src
        # The resize listener is part of the snippet, and trusts only this site's origin.
        assert "tilting-embed-height" in code and "e.origin !==" in code


@pytest.mark.parametrize("figure", ["explorer", "network"])
def test_pasted_snippet_grows_to_the_figures_height(open_page, chromium, host_server, figure):
    page, _ = open_page(f"?{ALL_PARAMS}", width=1440)
    wait_ready(page, "teaser")
    page.locator(f"#fig-{figure}").scroll_into_view_if_needed()
    wait_ready(page, figure)
    code = snippet_of(page, figure)
    folder, host = host_server
    (folder / "post.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>A blog post</title></head>"
        f"<body style='margin:0'><h1>My post</h1><p>Look at this:</p>\n{code}\n<p>After the figure.</p></body></html>",
        encoding="utf-8")
    context = chromium.new_context(viewport={"width": 900, "height": 800})
    try:
        blog = context.new_page()
        blog.goto(host + "post.html")
        frame = blog.frame_locator("iframe")
        frame.locator(".figure-mount").first.wait_for(timeout=20000)
        inner = next(f for f in blog.frames if "/embed/" in f.url)
        inner.wait_for_function(f"window.__tilting && window.__tilting.readyAt && window.__tilting.readyAt['{figure}']", timeout=20000)
        # The iframe settles at the embedded page's content height, not its first guess.
        blog.wait_for_timeout(800)
        content = inner.evaluate("Math.ceil(document.body.getBoundingClientRect().height)")
        blog.wait_for_function(f"Math.abs(document.querySelector('iframe').getBoundingClientRect().height - {content}) <= 2", timeout=5000)
        height = blog.evaluate("document.querySelector('iframe').getBoundingClientRect().height")
        assert height > 480
        # Nothing inside scrolls: the figure is shown whole.
        assert inner.evaluate("document.documentElement.scrollHeight - document.documentElement.clientHeight") <= 2
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        blog.screenshot(path=str(SCREENSHOTS / f"embed-host-{figure}.png"), full_page=True)
    finally:
        context.close()


PIXELS = """async (src) => {
  const img = new Image(); img.src = src; await img.decode();
  const c = new OffscreenCanvas(img.naturalWidth, img.naturalHeight); const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0); const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let ink = 0, colour = 0;
  for (let i = 0; i < d.length; i += 4) {
    const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
    if (r + g + b < 600) ink++;
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) colour++;
  }
  return { ink: ink / (d.length / 4), colour: colour / (d.length / 4) };
}"""


def test_print_shows_every_figure_as_a_picture_without_sliders_or_clipping(open_page):
    page, _ = open_page("?pair=2-3", width=760, height=1000)  # about an A4 page's width
    wait_ready(page, "teaser")
    page.evaluate("window.__tilting.preparePrint()")
    pictures = "[...document.querySelectorAll('[data-figure]')].map(c => c.dataset.snapshots || '0')"
    made = page.evaluate(pictures)
    page.emulate_media(media="print")
    # Print media changes the figures' heights (plots hidden, pictures shown); the pictures
    # being printed are not redrawn (nor their URLs revoked) for it, even after the settling
    # time a redraw would wait (SETTLE_MS, 1 s, then an idle moment).
    page.wait_for_timeout(2500)
    assert page.evaluate(pictures) == made
    # No slider on paper; the λ labels stay.
    visible_sliders = page.evaluate("[...document.querySelectorAll('input[type=range]')].filter(i => i.getClientRects().length).length")
    assert visible_sliders == 0
    assert page.locator(".embed-snippet").first.is_hidden()
    # Every plot has a printed picture with real content (the 3-D figure's points included),
    # and the live plot it replaces is hidden.
    plots = page.evaluate("""[...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
        figure: gd.closest('figure').id, shown: gd.getClientRects().length > 0,
        img: gd.nextElementSibling?.classList.contains('print-snapshot') ? gd.nextElementSibling.src : null,
        imgShown: gd.nextElementSibling?.classList.contains('print-snapshot') && gd.nextElementSibling.getClientRects().length > 0 }))""")
    figures_with_plots = {p["figure"] for p in plots}
    assert {"fig-teaser", "fig-toy", "fig-explorer", "fig-tilt3d"} <= figures_with_plots
    colour = {}
    for p in plots:
        assert p["img"] and p["imgShown"] and not p["shown"], p["figure"]
        stats = page.evaluate(PIXELS, p["img"])
        # Ink (axes, text, lines) on every picture: a blank WebGL print has none.
        assert stats["ink"] > 0.003, (p["figure"], stats)
        colour[p["figure"]] = max(colour.get(p["figure"], 0), stats["colour"])
    # Each figure's main plot shows its coloured data points (the 3-D figure's included).
    assert all(c > 0.002 for c in colour.values()), colour
    # Every figure has something on paper, and nothing is wider than the page.
    for figure in ARTICLE_FIGURES:
        box = page.locator(f"#fig-{figure}").bounding_box()
        assert box and box["height"] > 100, figure
    overflow = page.evaluate("""[...document.querySelectorAll('main *')].filter(e => e.getClientRects().length)
        .map(e => [e.tagName + '.' + e.className, e.getBoundingClientRect().right]).filter(([, r]) => r > document.documentElement.clientWidth + 1)
        .slice(0, 5)""")
    assert overflow == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "article-print.png"), full_page=True)
    pdf = page.pdf(format="A4")
    assert len(pdf) > 50_000


PLOTLY_FIGURES = ("teaser", "toy", "explorer", "tilt3d")


def snapshot_count(page, figure):
    return int(page.evaluate(f"document.querySelector('#fig-{figure} [data-figure]').dataset.snapshots || '0'"))


@pytest.mark.parametrize("reader", ["looks at every figure", "does nothing"])
def test_print_from_the_browser_menu_finds_up_to_date_pictures(open_page, reader):
    """Printing from the browser's menu (no Ctrl+P, whose handler waits for the pictures):
    each plot keeps a picture of itself, redrawn once the reader stops interacting, and
    print.css shows those. No figure area is blank on paper, whether the reader scrolled
    through the article or never left its first screen (the figures below it are mounted
    in the background once the page is quiet)."""
    page, _ = open_page("?pair=2-3", width=760, height=1000)
    wait_ready(page, "teaser")
    figures = page.eval_on_selector_all("main [data-figure]", "ns => ns.map(n => n.dataset.figure)")
    assert set(ARTICLE_FIGURES) <= set(figures)
    if reader == "does nothing":
        page.wait_for_function("window.__tilting.warmUp && window.__tilting.warmUp.done", timeout=90000)
        assert page.evaluate("window.scrollY") == 0
    for figure in figures:  # a reader who looked at each figure for a moment, or nobody
        if reader != "does nothing":
            page.locator(f"#fig-{figure}").scroll_into_view_if_needed()
        wait_ready(page, figure)
        if figure in PLOTLY_FIGURES:
            page.wait_for_function(f"Number(document.querySelector('#fig-{figure} [data-figure]').dataset.snapshots || 0) >= 1", timeout=30000)
    teaser_before = page.evaluate("document.querySelector('#fig-teaser img.print-snapshot').src")
    counts = {f: snapshot_count(page, f) for f in ("teaser", "explorer")}
    # The reader moves λ in the explorer and stops: both λ figures get new pictures, the
    # teaser (scrolled away, so not redrawn on each step) included.
    page.locator("#fig-explorer input[type=range]").first.focus()
    page.keyboard.press("End")
    for figure, n in counts.items():
        page.wait_for_function(f"Number(document.querySelector('#fig-{figure} [data-figure]').dataset.snapshots || 0) > {n}", timeout=20000)
    assert page.evaluate("document.querySelector('#fig-teaser img.print-snapshot').src") != teaser_before
    page.emulate_media(media="print")
    page.wait_for_timeout(300)
    # Every plot is replaced on paper by its picture.
    plots = page.evaluate("""[...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
        figure: gd.closest('figure').id, shown: gd.getClientRects().length > 0, plane: gd.classList.contains('plane-plot'),
        overlays: gd.nextElementSibling?.dataset.overlays,
        imgShown: gd.nextElementSibling?.classList.contains('print-snapshot') && gd.nextElementSibling.getClientRects().length > 0 }))""")
    assert {f"fig-{f}" for f in PLOTLY_FIGURES} <= {p["figure"] for p in plots}
    assert all(p["imgShown"] and not p["shown"] for p in plots), plots
    # A plane's picture has its boundary, band, arrows and images painted over plotly's
    # (taken only once plotly's draw and the figure's own drawing over it are done).
    assert all(p["overlays"] == "1" for p in plots if p["plane"]), plots
    # No figure area is blank: each figure, as printed, has ink, and each printed plot shows
    # its coloured data (the pixels on the page under print media, not the picture's file).
    shot = lambda locator: page.evaluate(PIXELS, "data:image/png;base64," + base64.b64encode(locator.screenshot()).decode())  # noqa: E731
    for figure in figures:
        stats = shot(page.locator(f"#fig-{figure}"))
        assert stats["ink"] > 0.01, (figure, stats)
    colour = {}
    for figure in PLOTLY_FIGURES:
        pictures = page.locator(f"#fig-{figure} img.print-snapshot")
        assert pictures.count() >= 1, figure
        for i in range(pictures.count()):
            stats = shot(pictures.nth(i))
            assert stats["ink"] > 0.003, (figure, i, stats)
            colour[figure] = max(colour.get(figure, 0), stats["colour"])
    assert all(c > 0.002 for c in colour.values()), colour  # each figure's main plot shows its points
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"article-print-menu-{reader.split()[0]}.png"), full_page=True)


# The page's own record of the background mounting and the reader's input, both on the
# page's clock: the test's key presses are stamped by a listener the test adds.
STAMP_KEYS = "window.__keys = []; window.addEventListener('keydown', () => window.__keys.push(performance.now()), true)"


def test_background_mounting_never_starts_within_the_quiet_time_of_input(open_page):
    page, _ = open_page("", width=1440)
    wait_ready(page, "teaser")
    page.evaluate(STAMP_KEYS)
    slider = page.locator("#fig-teaser input[type=range]").first
    slider.focus()
    # A reader who drags λ with the keyboard for a while, pausing now and then, then stops.
    for i in range(24):
        page.keyboard.press("ArrowLeft" if i % 8 < 4 else "ArrowRight")
        page.wait_for_timeout(1500 if i % 6 == 5 else 150)
    page.wait_for_function("window.__tilting.warmUp.done", timeout=90000)
    log = page.evaluate("window.__tilting.warmUp")
    keys = page.evaluate("window.__keys")
    assert len(keys) == 24 and log["mounted"], log
    # Every figure the background mounted was started at least the quiet time after the last
    # key press before it (and whatever the machine's speed, never in between two presses).
    for m in log["mounted"]:
        before = [k for k in keys if k <= m["at"]]
        assert not before or m["at"] - before[-1] >= log["quietMs"], (m, before[-1:])
    # It mounted exactly the figures the reader had not reached, in page order.
    mounted = [m["figure"] for m in log["mounted"]]
    assert mounted == [f for f in ARTICLE_FIGURES if f in mounted] and "teaser" not in mounted
    assert all(page.evaluate(f"Boolean(window.__tilting.readyAt['{f}'])") for f in ARTICLE_FIGURES)


FIGURE_STATE = """[...document.querySelectorAll('main [data-figure]')].map(c => ({
    figure: c.dataset.figure, parked: c.classList.contains('parked'), skipped: getComputedStyle(c).contentVisibility,
    held: parseFloat(c.style.containIntrinsicHeight) || null,
    top: c.getBoundingClientRect().top, height: c.getBoundingClientRect().height }))"""


@pytest.mark.parametrize("width,height", [(1440, 900), (390, 844)])
def test_far_figures_are_parked_at_their_height_and_come_back_drawn(open_page, width, height):
    """Once every figure is mounted, those over a screen away are parked (skipped by layout,
    paint and compositing) at the height they had; each, jumped to after λ has moved, is
    unparked at that same height, drawn, and showing the new λ."""
    page, _ = open_page("", width=width, height=height)
    wait_ready(page, "teaser")
    page.wait_for_function("window.__tilting.warmUp.done", timeout=120000)
    # Parked once mounted and pictured (a figure is unparked while its print picture is made).
    far_parked = f"""{FIGURE_STATE}.filter(f => f.top > 2 * innerHeight || f.top + f.height < -innerHeight)
                     .every(f => f.parked)"""
    page.wait_for_function(far_parked, timeout=60000, polling=200)
    figures = page.evaluate(FIGURE_STATE)
    far = [f for f in figures if f["top"] > 2 * height or f["top"] + f["height"] < -height]
    assert len(far) >= 5, figures
    # Parking moves nothing: a parked figure keeps the height it had.
    assert all(f["skipped"] == "auto" and f["height"] == pytest.approx(f["held"], abs=1) for f in far), far
    # Still in the tab order: a parked figure's control takes the focus.
    assert "explorer" in {f["figure"] for f in far}
    page.locator("#fig-explorer input[type=range]").first.focus()
    assert page.evaluate("document.activeElement.closest('[data-figure]')?.dataset.figure") == "explorer"
    page.evaluate("scrollTo(0, 0)")
    assert not any(f["parked"] for f in figures if f["top"] < height), figures  # the first screen
    slider = page.locator("#fig-teaser input[type=range]").first
    slider.focus()
    page.keyboard.press("End")
    k = slider.input_value()
    shot = lambda locator: page.evaluate(PIXELS, "data:image/png;base64," + base64.b64encode(locator.screenshot()).decode())  # noqa: E731
    for before in far:
        name = before["figure"]
        page.evaluate(f"document.querySelector('[data-figure=\"{name}\"]').scrollIntoView()")
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        after = next(f for f in page.evaluate(FIGURE_STATE) if f["figure"] == name)
        assert not after["parked"] and after["skipped"] == "visible", after
        if name != "tilt3d":  # (which builds its plot only when near, and grows when it does)
            assert after["height"] == pytest.approx(before["held"], abs=1), (before, after)
        # Drawn (the 3-D plot builds once near: a few frames, however long they take here).
        for _ in range(100):
            ink = shot(page.locator(f"#fig-{name} [data-figure]"))["ink"]
            if ink > 0.01 or name != "tilt3d":
                break
            page.wait_for_timeout(100)
        assert ink > 0.01, name
    # A λ figure that was parked when λ moved shows the new λ.
    assert page.locator("#fig-explorer input[type=range]").first.input_value() == k


SAVE_DATA = "Object.defineProperty(Navigator.prototype, 'connection', { get: () => ({ saveData: true }) })"


def test_a_reader_saving_data_gets_no_background_mounting_and_a_note_on_paper(open_page):
    page, _ = open_page("", width=760, height=1000)
    page.context.add_init_script(SAVE_DATA)
    page.reload()
    wait_ready(page, "teaser")
    log = page.evaluate("window.__tilting.warmUp")
    assert log["skipped"] == "save-data" and log["mounted"] == []
    unmounted = page.eval_on_selector_all("main [data-figure]", "ns => ns.filter(n => !n.childElementCount).map(n => n.dataset.figure)")
    assert "tilt3d" in unmounted and "teaser" not in unmounted
    page.emulate_media(media="print")
    page.wait_for_timeout(300)
    for figure in unmounted:  # no blank figure on paper: the missing one says so
        note = page.evaluate(f"getComputedStyle(document.querySelector('#fig-{figure} [data-figure]'), '::before').content")
        assert "had not loaded" in note, figure
        assert page.locator(f"#fig-{figure} [data-figure]").bounding_box()["height"] > 20, figure


JARGON = ("float16", "bundle", "build machine", "manifest", "precompute", "artifact")


def test_prose_agrees_with_the_figures(open_page, browser_server):
    page, _ = open_article_with_every_figure(open_page)
    page.wait_for_timeout(300)
    # The toy paragraph's number is the readout of figure 4's tilted panel.
    shown = float(page.locator("[data-readout='relative-a']").get_attribute("data-value"))
    assert page.locator("[data-prose='toy-relative-a']").inner_text() == f"{shown:.2f}"
    # The numbers about the data are the 2-vs-3 experiment's.
    models = api(browser_server, "experiments/mnist-2-3.json")["models"]
    k = min(range(len(models)), key=lambda i: abs(models[i]["log10_lambda"] + 3))
    fact = lambda name: page.locator(f"[data-fact='{name}']").first.inner_text()  # noqa: E731
    assert fact("models") == str(len(models))
    assert fact("accuracy") == str(round(100 * (1 - models[k]["test_error"])))
    assert float(fact("lambda-min").replace("−", "-")) == pytest.approx(models[0]["log10_lambda"])
    assert float(fact("lambda-max").replace("−", "-")) == pytest.approx(models[-1]["log10_lambda"])
    # Figures are numbered 1…N in page order, and the text names only figures that exist.
    numbers = page.eval_on_selector_all("main figure.figure > figcaption > b:first-child", "bs => bs.map(b => b.textContent)")
    assert numbers == [f"Figure {i}." for i in range(1, len(ARTICLE_FIGURES) + 1)]
    prose = page.evaluate("""[...document.querySelectorAll('main p, main aside, footer p')]
        .filter(n => !n.closest('.figure-mount')).map(n => n.textContent).join('\\n')""")
    cited = {int(n) for n in re.findall(r"[Ff]igure (\d+)", prose)}
    assert cited and max(cited) <= len(ARTICLE_FIGURES) and 2 in cited
    # d_err is defined where it is used.
    assert "error distance" in prose
    # Every citation points at a reference, and every reference is cited.
    hrefs = page.eval_on_selector_all("a.citation", "as => as.map(a => a.getAttribute('href'))")
    refs = page.eval_on_selector_all("ol.references > li", "ls => ls.map(l => '#' + l.id)")
    assert set(hrefs) == set(refs) and len(refs) >= 6
    assert page.locator("a[href='https://thomas-tanay.github.io/post--L2-regularization/']").count() >= 1
    # No build vocabulary in what a reader reads (the text, and the figures this text owns).
    readable = prose + page.evaluate("""[...document.querySelectorAll('figcaption, .figure-mount')]
        .map(n => n.innerText).join('\\n')""")
    found = [w for w in JARGON if w in readable.lower()]
    assert found == []
