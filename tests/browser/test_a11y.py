"""Accessibility in real Chromium: axe-core (shipped by the axe-playwright-python package) on
the article and on every embed, keyboard use of the network grid and of the drawing pad's
alternative, and the honest notice for a digit pair that is not built."""

from pathlib import Path

import pytest

from .conftest import ARTICLE_FIGURES, open_article_with_every_figure, skip_or_fail, wait_ready

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")


def axe_script() -> str:
    try:
        import axe_playwright_python
    except ImportError:
        skip_or_fail("axe-playwright-python (the `test` extra) is not installed")
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def run_axe(page) -> list[dict]:
    """axe-core's violations on the page as it is now (WCAG 2.x A/AA and best practices)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Injected through the DevTools protocol, so the page's own CSP does not apply to it.
        page.evaluate(axe_script())
    return page.evaluate("""async () => {
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary.split('\\n').slice(0, 2).join(' ')) }));
    }""")


def describe(violations) -> str:
    return "\n".join(f"[{v['impact']}] {v['id']} ({len(v['nodes'])}): {v['help']}\n    " + "\n    ".join(v["nodes"][:4])
                     for v in violations)


def blocking(violations):
    return [v for v in violations if v["impact"] in BLOCKING]


def test_article_has_no_serious_axe_violations(open_page):
    page, _ = open_article_with_every_figure(open_page)
    page.wait_for_timeout(500)
    violations = run_axe(page)
    assert not blocking(violations), describe(violations)


@pytest.mark.parametrize("figure", ARTICLE_FIGURES)
def test_each_embed_has_no_serious_axe_violations(open_page, figure):
    page, _ = open_page(f"embed/{figure}.html?pair=2-3", width=1000)
    wait_ready(page, figure)
    page.wait_for_timeout(500)
    violations = run_axe(page)
    assert not blocking(violations), describe(violations)


def test_every_image_canvas_says_what_it_shows(open_page):
    page, _ = open_article_with_every_figure(open_page)
    unnamed = page.evaluate("""() => [...document.querySelectorAll('canvas[role=img]')]
        .filter(c => !(c.getAttribute('aria-label') || '').trim()).map(c => c.closest('[id]')?.id)""")
    assert unnamed == []


def test_network_grid_is_one_tab_stop_with_arrow_keys(open_page):
    page, _ = open_page("embed/network.html?cell=2-0", width=1000)
    wait_ready(page, "network")
    cells = page.locator(".net-cell")
    assert cells.count() == 100
    assert page.locator(".net-cell[tabindex='0']").count() == 1
    assert page.locator(".net-cell:not([tabindex='-1'])").count() == 1
    # Tab reaches the grid once, on the chosen cell; Tab again leaves it.
    page.locator("[data-control='view']").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.cell") == "2-0"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.cell") is None
    # Arrows move within the grid and choose the cell; Home/End go to the row's ends.
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.dataset.cell") == "2-0"
    for key, expected in (("ArrowRight", "2-1"), ("ArrowDown", "3-1"), ("ArrowLeft", "3-0"),
                          ("ArrowUp", "2-0"), ("End", "2-9"), ("Home", "2-0"), ("ArrowUp", "1-0")):
        page.keyboard.press(key)
        assert page.evaluate("document.activeElement.dataset.cell") == expected, key
        assert page.get_attribute(f"[data-cell='{expected}']", "aria-pressed") == "true"
        assert page.locator(".net-cell[tabindex='0']").count() == 1
    # Each cell's name includes what it shows (the digits and the visible probability).
    name = page.evaluate("document.querySelector('[data-cell=\"1-0\"]').innerText.trim()")
    label = page.evaluate("""(() => { const b = document.querySelector('[data-cell="1-0"]');
        return b.getAttribute('aria-label') || [...b.querySelectorAll('[aria-label]')].map(n => n.getAttribute('aria-label')).join(' ') + ' ' + b.innerText; })()""")
    assert name in label and "1" in label and "0" in label


def test_drawing_pad_has_a_keyboard_alternative(open_page):
    page, _ = open_page("embed/explorer.html?pair=2-3&lambda=-2", width=1440)
    wait_ready(page, "explorer")
    pad = page.locator(".drawpad")
    # The pad says how to use it without a pointer, and the keyboard pen draws a digit.
    described = pad.get_attribute("aria-describedby")
    assert described and page.locator(f"#{described}").inner_text().strip()
    pad.focus()
    page.keyboard.press("Enter")  # pen down
    for key in ["ArrowDown"] * 6 + ["ArrowRight"] * 3:
        page.keyboard.press(key)
    page.keyboard.press("Escape")  # pen up: the stroke is read as a drawing
    page.locator("[data-pred=drawing]").wait_for(timeout=5000)
    use_y = page.get_by_role("button", name="Use as y")
    use_y.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("new URLSearchParams(location.search).get('y')?.startsWith('d')", timeout=5000)
    # A gallery image is reachable and chosen with the keyboard alone.
    gallery = page.locator(".slot").first.locator(".gallery button").nth(3)
    gallery.focus()
    page.keyboard.press("Enter")
    assert gallery.get_attribute("aria-pressed") == "true"


def test_unbuilt_pair_in_the_url_gets_a_visible_notice(open_page):
    page, _ = open_page("embed/explorer.html?pair=5-8&lambda=-2", width=1000)
    wait_ready(page, "explorer")
    notice = page.locator("[role=status].pair-notice")
    notice.wait_for(state="visible", timeout=5000)
    text = notice.inner_text()
    assert "5 vs 8" in text and "2 vs 3" in text, text
    # What is shown is 2 vs 3, and the link now says so.
    assert page.locator("select[aria-label='Digit pair']").input_value() == "mnist-2-3"
    # The old key goes; the experiment's id takes its place.
    page.wait_for_function("new URLSearchParams(location.search).get('experiment') === 'mnist-2-3'", timeout=5000)
    assert "pair=" not in page.url


def test_article_opens_on_two_versus_three_and_lists_every_pair(chromium, browser_server):
    # The test bundles are 2-3 and 4-9. With every pair built the server lists 0-1 first; here
    # the listing is served with 4-9 first, and a page without ?pair= must still show 2-3
    # (the pair the text is about), with the picker offering both and no notice.
    import json

    context = chromium.new_context(viewport={"width": 1000, "height": 900})
    try:
        def reorder(route):
            response = route.fetch()
            body = response.json()
            body["experiments"].sort(key=lambda e: e["digits"] == [2, 3])
            assert body["experiments"][0]["digits"] != [2, 3]
            route.fulfill(response=response, body=json.dumps(body))

        context.route("**/api/experiments.json", reorder)
        page = context.new_page()
        page.goto(browser_server + "embed/explorer.html")
        wait_ready(page, "explorer")
        assert page.locator("select[aria-label='Digit pair']").input_value() == "mnist-2-3"
        assert page.locator(".slot .figure-heading").first.inner_text().count("2") >= 1
        options = page.eval_on_selector_all("select[aria-label='Digit pair'] option", "os => os.map(o => o.value)")
        assert {"mnist-2-3", "mnist-4-9"} <= set(options)
        assert page.locator(".pair-notice").count() == 0
    finally:
        context.close()


def test_play_respects_reduced_motion(open_page):
    page, _ = open_page("embed/tilt3d.html?pair=2-3", width=1000)
    page.emulate_media(reduced_motion="reduce")
    wait_ready(page, "tilt3d")
    page.wait_for_function("document.querySelector('.tilt-plot')?.data?.length > 0", timeout=15000)
    play = page.locator(".tilt-rotation button")
    play.click()
    page.wait_for_timeout(400)
    # No continuous animation: the view goes straight to the other plane, in one step.
    first = page.input_value("[data-control='rot']")
    page.wait_for_timeout(400)
    assert page.input_value("[data-control='rot']") == first
    assert float(first) in (0.0, 1.0)
    assert play.get_attribute("aria-pressed") != "true"
