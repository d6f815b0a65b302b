"""The default images x and y, chosen by the bundle's stated rule, make the figures' point
before the reader touches anything: at λ = 1 their mirror images and valid-image
adversarials are at least 3× farther from them than at λ = 1e-6."""

import re

import numpy as np
import pytest

from tilting.precompute import geometry as geo

from .api import api, api_array
from .conftest import wait_ready

pytestmark = pytest.mark.browser

RATIO = 3.0


def number(text):
    """The first number in a caption such as 'd(x) = −0.395' or '‖δ‖ = 0.48'."""
    return float(re.search(r"[−-]?\d+(?:\.\d+)?(?:e[−-]?\d+)?", text).group(0).replace("−", "-"))


@pytest.fixture(scope="module")
def bundle(browser_server):
    manifest = api(browser_server, "experiments/mnist-2-3.json")
    arrays = {name: api_array(browser_server, manifest, name).astype(np.float64)
              for name in ("weights", "intercepts", "gallery_images")}
    return manifest, arrays


def k_of(manifest, log10):
    return int(np.argmin([abs(m["log10_lambda"] - log10) for m in manifest["models"]]))


def explorer_view(open_page, log10):
    """What the explorer shows for x and y at λ = 10^log10 with no image chosen in the URL:
    {key: (gallery index, ‖x_m − x‖ from the page's d(x) caption, ‖x̃ − x‖ as shown)}."""
    page, _ = open_page(f"embed/explorer.html?pair=2-3&lambda={log10}")
    wait_ready(page, "explorer")
    shown = {}
    for n, key in enumerate(("x", "y")):
        slot = page.locator(".slot").nth(n)
        g = int(slot.locator(".gallery [aria-pressed=true]").get_attribute("data-gallery"))
        d = number(slot.locator("[data-view=image] .dist").inner_text())
        mirror = number(slot.locator("[data-view=mirror] .dist").inner_text())
        adversarial = number(slot.locator("[data-view=adversarial] .dist").inner_text())
        assert mirror == pytest.approx(2 * abs(d), rel=5e-3, abs=0.006)  # the caption's ‖δ‖ is 2|d(x)|
        shown[key] = (g, 2 * abs(d), adversarial)
    return shown


def test_explorer_defaults_are_the_manifests_and_their_mirror_images_move_with_lambda(open_page, bundle):
    manifest, arrays = bundle
    weak, strong = explorer_view(open_page, -6), explorer_view(open_page, 0)
    for key in ("x", "y"):
        g = weak[key][0]
        assert strong[key][0] == g
        # The page's numbers are those of the image it shows (3 significant digits shown).
        x = arrays["gallery_images"][g]
        for view, log10 in ((weak, -6), (strong, 0)):
            k = k_of(manifest, log10)
            w, b = arrays["weights"][k], arrays["intercepts"][k]
            assert view[key][1] == pytest.approx(2 * abs(geo.signed_distance(x[None], w, b)[0]), rel=5e-3)
            assert view[key][2] == pytest.approx(geo.box_adversarial(x, w, b)[1], abs=0.006)
        # The point: ‖x_m − x‖ and ‖x̃ − x‖ grow at least 3-fold from λ = 1e-6 to λ = 1.
        assert strong[key][1] >= RATIO * weak[key][1], (key, weak[key], strong[key])
        assert strong[key][2] >= RATIO * (weak[key][2] + 0.005), (key, weak[key], strong[key])
        # And that image is the one the manifest names, by its stated rule.
        assert g == manifest["defaults"][key]["gallery"], f"the explorer's default {key} is not the manifest's"


def test_linear_figure_default_is_x_and_its_attack_grows_with_lambda(open_page, bundle):
    manifest, arrays = bundle
    # The manifest's default x (before the rule existed, the figure showed gallery image 0).
    g = manifest.get("defaults", {}).get("x", {}).get("gallery", 0)
    x = arrays["gallery_images"][g]
    shown = {}
    for log10 in (-6, 0, 2):
        page, _ = open_page(f"embed/linear.html?pair=2-3&lambda={log10}")
        wait_ready(page, "linear")
        k = k_of(manifest, log10)
        w, b = arrays["weights"][k], arrays["intercepts"][k]
        # The figure shows the manifest's default x: its score is the one on the page.
        score = float(x @ w + b)
        assert number(page.locator("[data-score=x]").inner_text()) == pytest.approx(score, rel=5e-3)
        assert f"a {manifest['digits'][0]} from the test set" in page.locator(".fig-linear figcaption").first.inner_text()
        delta = float(page.locator("[data-readout=delta]").inner_text())
        assert delta == pytest.approx(geo.box_adversarial(x, w, b)[1], abs=0.006)
        assert page.locator("[data-pred=adv]").inner_text() == str(manifest["digits"][1])
        shown[log10] = delta
    # ‖x̃ − x‖ at λ = 1 is at least 3× its value at λ = 1e-6 (rounded up to the shown precision),
    # and the strongly regularized model's attack is no smaller than the weak one's.
    assert shown[0] >= RATIO * (shown[-6] + 0.005), shown
    assert shown[2] >= RATIO * (shown[-6] + 0.005), shown
