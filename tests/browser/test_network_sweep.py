"""Real Chromium on the article's last section (the network weight-decay sweep): it renders at
the default view with its numbers read from the data, one slider moves every network figure
(figure 2's grid included) and the URL, the slider works from the keyboard, the calibrated
protocol's probabilities are recomputed in the browser at the stored temperature, and the
new embeds are axe-clean."""

import pytest

from .api import api, api_array
from .conftest import open_article_with_every_figure, wait_ready
from .test_a11y import blocking, describe, run_axe

pytestmark = pytest.mark.browser

SWEEP_FIGURES = ("network-ce", "network-curves", "network-filters", "network-tilt")


def readout(page, scope, name):
    return float(page.locator(f'{scope} [data-readout="{name}"]').get_attribute("data-value"))


def slide(page, selector, k):
    page.eval_on_selector(selector, "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }", k)


@pytest.fixture()
def network(browser_server):
    return api(browser_server, "figures/network-mnist.json")


def test_section_renders_with_numbers_from_the_data(open_page, network):
    page, _ = open_article_with_every_figure(open_page)
    models = network["models"]
    page.wait_for_function("[...document.querySelectorAll('[data-net-fact]')].every(n => n.textContent !== '…')")
    fact = lambda name: page.locator(f"[data-net-fact='{name}']").first.inner_text()  # noqa: E731
    assert fact("count") == str(len(models))
    assert fact("train") == f"{network['counts']['train']:,}"
    assert fact("angle-min") == f"{models[0]['tilt']['median_angle_sample']:.0f}°"
    assert fact("angle-max") == f"{models[-1]['tilt']['median_angle_sample']:.0f}°"
    assert fact("temp-min") == f"{models[0]['temperature']:.3g}"
    angles = [m["tilt"]["median_angle_sample"] for m in models]
    trend = fact("angle-trend")
    if all(b < a for a, b in zip(angles, angles[1:])):
        assert trend == "falls"
    elif all(b > a for a, b in zip(angles, angles[1:])):
        assert trend == "rises"
    else:
        assert trend not in ("falls", "rises")
    # The section's equation is MathML, and every network figure opens on the first network.
    assert page.locator("#deep math[display='block']").count() >= 2
    for figure in SWEEP_FIGURES:
        assert page.locator(f"#fig-{figure} [data-control='net']").input_value() == "0"
    assert readout(page, "#fig-network-tilt", "net-tilt-median") == pytest.approx(models[0]["tilt"]["median_angle_sample"])


def test_one_slider_moves_every_network_figure_and_the_url(open_page, browser_server, network):
    page, _ = open_article_with_every_figure(open_page)
    models = network["models"]
    last = len(models) - 1
    ce_loss = api_array(browser_server, network, "ce_hist_loss")
    test_error = api_array(browser_server, network, "history_test_error")
    filters_before = page.eval_on_selector("#fig-network-filters canvas.digit", "c => c.toDataURL()")
    grid_before = page.eval_on_selector('#fig-network [data-cell="2-0"] canvas', "c => c.toDataURL()")
    slide(page, "#fig-network-tilt [data-control='net']", last)
    m = models[last]
    assert readout(page, "#fig-network-tilt", "net-tilt-median") == pytest.approx(m["tilt"]["median_angle_sample"])
    assert readout(page, "#fig-network-ce", "net-ce-mean") == pytest.approx(ce_loss[last].sum())
    assert readout(page, "#fig-network-curves", "net-test-error") == pytest.approx(test_error[last, -1])
    assert readout(page, "#fig-network-filters", "net-rms-0") == pytest.approx(m["rms_weights"][0])
    assert readout(page, "#fig-network", "test-accuracy") == pytest.approx(m["test_accuracy"])
    assert page.eval_on_selector("#fig-network-filters canvas.digit", "c => c.toDataURL()") != filters_before
    assert page.eval_on_selector('#fig-network [data-cell="2-0"] canvas', "c => c.toDataURL()") != grid_before
    for figure in ("network", *SWEEP_FIGURES):
        assert page.locator(f"#fig-{figure} [data-control='net']").input_value() == str(last), figure
    page.wait_for_function(f"location.search.includes('net={last}')", timeout=5000)


def test_slider_works_from_the_keyboard(open_page, network):
    page, _ = open_page("embed/network-tilt.html", width=1000)
    wait_ready(page, "network-tilt")
    slider = page.locator("[data-control='net']")
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert slider.input_value() == "1"
    assert "weight decay alpha" in slider.get_attribute("aria-valuetext")
    assert readout(page, "", "net-tilt-median") == pytest.approx(network["models"][1]["tilt"]["median_angle_sample"])
    page.keyboard.press("End")
    assert readout(page, "", "net-test-error-tilt") == pytest.approx(network["models"][-1]["test_error"])


def test_calibrated_protocol_is_recomputed_at_the_stored_temperature(open_page, browser_server, network):
    page, _ = open_page("embed/network.html?net=1&cell=7-1", width=1440)
    wait_ready(page, "network")
    page.select_option("[data-control='protocol']", "cal")
    # The calibrated grid is fetched when first chosen; the readouts follow once it is in.
    page.wait_for_function("document.querySelector('[data-readout=\"temperature\"]').dataset.value !== '1'")
    prob = api_array(browser_server, network, "cal_target_probability")
    assert readout(page, "", "temperature") == pytest.approx(network["models"][1]["temperature"])
    assert readout(page, "", "reached") == network["models"][1]["attack_calibrated"]["attacks_reached"]
    page.locator(".net-detail").scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('[data-readout=\"live-probability\"]').dataset.value > ''")
    assert readout(page, "", "live-probability") == pytest.approx(prob[1, 7, 1], abs=1e-5)
    page.wait_for_function("location.search.includes('proto=cal')", timeout=5000)


def test_cross_entropy_bars_switch_and_keep_their_state(open_page, network):
    page, _ = open_page("embed/network-ce.html", width=1000)
    wait_ready(page, "network-ce")
    bars = "document.querySelector('.net-ce-plot').data[0].y"
    images = page.evaluate(bars)
    assert sum(images) == pytest.approx(1.0)
    page.select_option("[data-control='ce-weight']", "loss")
    loss = page.evaluate(bars)
    assert sum(loss) == pytest.approx(1.0) and loss != images
    page.wait_for_function("location.search.includes('ceweight=loss')", timeout=5000)


@pytest.mark.parametrize("figure", SWEEP_FIGURES)
def test_new_embeds_have_no_serious_axe_violations_at_another_weight_decay(open_page, figure):
    page, _ = open_page(f"embed/{figure}.html?net=2", width=1000)
    wait_ready(page, figure)
    assert page.locator("[data-control='net']").input_value() == "2"
    page.wait_for_timeout(300)
    violations = run_axe(page)
    assert not blocking(violations), describe(violations)
