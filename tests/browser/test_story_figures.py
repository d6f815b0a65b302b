"""Real Chromium on the four story figures' embed pages (network, toy, tilt3d, loss):
each renders alone with a clean console, its controls change what is shown, numbers
match independent references (closed forms, numpy on the API's arrays), and its state
round-trips through the URL. Screenshots at 360 and 1440 px go to test-artifacts/."""

import math

import numpy as np
import pytest

from tests.browser.conftest import Console, screenshot, wait_ready
from tests.browser.conftest_story import get_array, get_json, story_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser



@pytest.fixture()
def story_page(chromium, story_server):  # noqa: F811
    contexts = []

    def _open(path, width=1440, height=900):
        context = chromium.new_context(viewport={"width": width, "height": height}, has_touch=width < 500)
        page = context.new_page()
        console = Console(page)
        contexts.append((context, console))
        page.goto(story_server + path)
        return page

    yield _open
    problems = [m for _, c in contexts for m in c.messages]  # Console drops BROWSER_NOISE
    for context, _ in contexts:
        context.close()
    assert not problems, "console errors or warnings:\n" + "\n".join(problems)


def value(page, name):
    return float(page.locator(f'[data-readout="{name}"]').get_attribute("data-value"))


def slide(page, selector, v):
    page.eval_on_selector(selector, "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }", v)


def wait_url(page, fragment):
    page.wait_for_function(f"location.search.includes({fragment!r})", timeout=5000)


def test_network_grid_toggle_live_probability_and_url(story_page, story_server):  # noqa: F811
    fig = get_json(story_server, "api/figures/network-mnist.json")
    reached = get_array(story_server, fig["arrays"]["reached"])
    prob = get_array(story_server, fig["arrays"]["target_probability"])
    page = story_page("embed/network.html")
    wait_ready(page, "network")
    assert page.locator(".net-cell").count() == 100
    grid_weak = page.eval_on_selector('[data-cell="2-0"] canvas', "c => c.toDataURL()")
    assert value(page, "test-accuracy") == pytest.approx(fig["models"][0]["test_accuracy"])
    slide(page, '[data-control="net"]', 1)
    assert page.eval_on_selector('[data-cell="2-0"] canvas', "c => c.toDataURL()") != grid_weak
    assert value(page, "test-accuracy") == pytest.approx(fig["models"][1]["test_accuracy"])
    off = ~np.eye(10, dtype=bool)
    assert page.locator(".net-cell.not-reached").count() == int((off & (reached[1] == 0)).sum())
    # The browser's forward pass through the stored weights gives the stored probability.
    page.click('[data-cell="7-1"]')
    page.wait_for_function("document.querySelector('[data-readout=\"live-probability\"]').dataset.value !== ''")
    assert value(page, "live-probability") == pytest.approx(prob[1, 7, 1], abs=1e-5)
    page.select_option('[data-control="view"]', "pert")
    wait_url(page, "cell=7-1")
    wait_url(page, "view=pert")
    url = page.url
    screenshot(page, "story-network-1440")
    again = story_page(url[len(story_server):], width=360)
    wait_ready(again, "network")
    assert again.input_value('[data-control="net"]') == "1"
    assert again.get_attribute('[data-cell="7-1"]', "aria-pressed") == "true"
    assert again.input_value('[data-control="view"]') == "pert"
    screenshot(again, "story-network-360")


def test_toy_mirror_distance_matches_closed_form_and_url(story_page, story_server):  # noqa: F811
    page = story_page("embed/toy.html")
    wait_ready(page, "toy")
    page.wait_for_selector('[data-readout="toy-theta"][data-value]')
    level = 0.58  # the figure's x: a J image at this left level
    # The dimension slider's shapes: h×2h for h = 1…50, and 28×28 (d = 784) after h = 19.
    shapes = [(h, h) for h in range(1, 51)]
    shapes.insert(19, (28, 14))
    for (rows, half), theta in (((1, 1), 30.0), ((28, 14), 30.0), ((50, 50), 72.5)):
        slide(page, '[data-control="da"]', shapes.index((rows, half)))
        slide(page, '[data-control="ta"]', theta)
        assert page.locator('[data-panel="a"] label').first.inner_text().startswith(f"d = {2 * rows * half:,}")
        closed = 2 * level * math.sqrt(rows * half) * abs(math.cos(math.radians(theta)))
        assert value(page, "mirror-distance-a") == pytest.approx(closed, rel=1e-9)
        assert value(page, "relative-a") == pytest.approx(2 * abs(math.cos(math.radians(theta))), rel=1e-9)
    # The trained toy: weakest λ fits the mislabelled image with a strong tilt, strongest ignores it.
    toy = get_json(story_server, "api/figures/toy.json")["models"]
    slide(page, '[data-control="toylam"]', 0)
    weak_theta = value(page, "toy-theta")
    assert weak_theta == pytest.approx(toy[0]["theta_deg"]) and value(page, "toy-fits") == 1
    slide(page, '[data-control="toylam"]', len(toy) - 1)
    assert value(page, "toy-fits") == 0 and value(page, "toy-theta") < weak_theta
    wait_url(page, "ta=72.5")
    wait_url(page, "toylam=")
    screenshot(page, "story-toy-1440")
    again = story_page(page.url[len(story_server):], width=360)
    wait_ready(again, "toy")
    again.wait_for_selector('[data-readout="toy-theta"][data-value]')
    assert again.input_value('[data-control="da"]') == str(shapes.index((50, 50)))
    assert value(again, "mirror-distance-a") == pytest.approx(2 * level * 50 * math.cos(math.radians(72.5)), rel=1e-9)
    assert value(again, "toy-theta") == pytest.approx(toy[-1]["theta_deg"])
    screenshot(again, "story-toy-360")


def test_tilt3d_draws_planes_and_round_trips(story_page, story_server):  # noqa: F811
    exp = get_json(story_server, "api/experiments/mnist-2-3.json")
    models = exp["models"]
    page = story_page("embed/tilt3d.html")
    wait_ready(page, "tilt3d")
    page.wait_for_selector(".tilt-plot[data-points]")
    strong = max(k for k, m in enumerate(models) if m["theta_deg"] > 1)
    assert int(page.input_value('[data-control="strong"]')) == strong
    assert int(page.input_value('[data-control="weak"]')) == 0
    # The angle between the two n̂, against numpy on the API's normals.
    normals = get_array(story_server, exp["arrays"]["normals"]).astype(np.float64)
    c = normals[strong] @ normals[0]
    assert value(page, "normals-angle") == pytest.approx(math.degrees(math.acos(c)), abs=1e-3)
    # WebGL draws the scene: coloured (non-grey) pixels in plotly's rendering of it.
    coloured = page.evaluate("""async () => {
      const url = await Plotly.toImage(document.querySelector('.tilt-plot'), {format: 'png', width: 500, height: 400});
      const img = new Image(); img.src = url; await img.decode();
      const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
      const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data; let n = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.max(d[i], d[i+1], d[i+2]) - Math.min(d[i], d[i+1], d[i+2]) > 60) n++;
      return n; }""")
    assert coloured > 500
    page.select_option('[data-control="weak"]', "2")
    slide(page, '[data-control="rot"]', 0.4)
    wait_url(page, "rot=0.40")
    wait_url(page, f"lw={models[2]['log10_lambda']:.1f}")
    screenshot(page, "story-tilt3d-1440")
    again = story_page(page.url[len(story_server):], width=360)
    wait_ready(again, "tilt3d")
    again.wait_for_selector(".tilt-plot[data-points]")
    assert again.input_value('[data-control="weak"]') == "2"
    assert float(again.input_value('[data-control="rot"]')) == pytest.approx(0.4)
    assert value(again, "theta-weak") == pytest.approx(models[2]["theta_deg"])
    screenshot(again, "story-tilt3d-360")


def test_loss_slider_moves_curves_and_round_trips(story_page, story_server):  # noqa: F811
    exp = get_json(story_server, "api/experiments/mnist-2-3.json")
    page = story_page("embed/loss.html?lambda=-3")
    wait_ready(page, "loss")
    k = min(range(len(exp["models"])), key=lambda i: abs(exp["models"][i]["log10_lambda"] + 3))
    own = exp["models"][k]["w_norm"]
    assert value(page, "own-w") == pytest.approx(own, rel=1e-6)
    hinge = "() => { const c = document.querySelector('.loss-plot').drawn.curves[1]; return [c.name, c.t, c.y]; }"
    name, x0, y0 = page.evaluate(hinge)
    assert name == "hinge"
    slide(page, '[data-control="wnorm"]', 1.5)
    _, x1, y1 = page.evaluate(hinge)
    assert y1 != y0
    np.testing.assert_allclose(y1, np.maximum(0, 1 - 10**1.5 * np.array(x1)), rtol=1e-9, atol=1e-12)
    assert value(page, "err-form") == pytest.approx(10**1.5 * exp["models"][k]["d_err"], rel=1e-6)
    # The 0-1 loss is drawn as it is: 1 up to the boundary, a vertical jump there, then 0.
    name, t, y = page.evaluate("() => { const c = document.querySelector('.loss-plot').drawn.curves[0]; return [c.name, c.t, c.y]; }")
    t, y = np.array(t), np.array(y)
    assert name == "0-1 loss"
    assert (y[t < 0] == 1).all() and (y[t > 0] == 0).all() and sorted(y[t == 0]) == [0, 1]
    wait_url(page, "wnorm=1.50")
    screenshot(page, "story-loss-1440")
    again = story_page(page.url[len(story_server):], width=360)
    wait_ready(again, "loss")
    assert value(again, "loss-w") == pytest.approx(10**1.5)
    screenshot(again, "story-loss-360")
