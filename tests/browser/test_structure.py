"""The frontend's structure (issue 11), checked in real Chromium: one table of URL keys
(state.js) with the experiment id in it and old links still read; the plotly adapter's fast
λ path really running (not only the page drawing); the figures' derive functions (derive.js)
giving the API's numbers when a test calls them; the link to the project's code."""

import numpy as np
import pytest

from tilting.precompute import geometry as geo

from .api import api, api_array
from .conftest import wait_ready

pytestmark = pytest.mark.browser

# Each figure's URL keys, in the table's order.
OWN_KEYS = {
    "teaser": ["experiment", "lambda"], "linear": ["experiment", "lambda", "g"],
    "explorer": ["experiment", "lambda", "x", "y", "test"], "toy": ["da", "ta", "db", "tb", "toylam"],
    "tilt3d": ["experiment", "ls", "lw", "rot"], "loss": ["experiment", "lambda", "wnorm"],
}

IMPORT = "(name) => import(new URL(`../js/${name}.js`, location.href))"


def test_one_table_of_url_keys_reads_old_links_and_writes_each_figures_keys(open_page):
    page, _ = open_page("embed/teaser.html?pair=2-3")
    wait_ready(page, "teaser")
    got = page.evaluate(f"""async () => {{
      const load = {IMPORT};
      const s = await load('state');
      const keys = {{}};
      for (const f of {list(OWN_KEYS)!r}) keys[f] = s.keysOf(f);
      return {{
        keys,
        legacy: s.readUrl('?pair=4-9&lambda=-2'),
        both: s.readUrl('?pair=4-9&experiment=mnist-2-3-100'),
        refused: s.readUrl('?experiment=../x&lambda=abc&rot=7&test=0'),
        written: s.toSearch({{ experiment: 'mnist-2-3', log10Lambda: -2.004, tiltRotation: 0.4, tiltWeakLog10Lambda: -5 }}, {{ figure: 'tilt3d', search: '' }}),
        kept: s.toSearch({{ experiment: 'mnist-4-9', log10Lambda: -1 }}, {{ search: '?pair=2-3&utm=a&lambda=3' }}),
        store: Object.keys(window.__tilting.store.get()),
      }};
    }}""")
    assert got["keys"] == OWN_KEYS
    # An old link's pair=2-3 names the MNIST experiment of those digits; experiment= wins over it.
    assert got["legacy"] == {"experiment": "mnist-4-9", "log10Lambda": -2}
    assert got["both"]["experiment"] == "mnist-2-3-100"
    # What a row's parser refuses is left out (the default stands).
    assert got["refused"] == {"experiment": "mnist-2-3"}
    assert got["written"] == "?experiment=mnist-2-3&lw=-5.0&rot=0.40"  # tilt3d's keys only, in the URL's formats
    # The writer replaces the old key and keeps keys it does not own.
    assert got["kept"] == "?utm=a&experiment=mnist-4-9&lambda=-1"
    # The store holds fields of the table only (no bridge keys such as story_*).
    assert not [k for k in got["store"] if k.startswith("story_")]


def test_the_url_and_the_picker_choose_an_experiment_by_its_id(open_page, browser_server):
    experiments = {e["id"]: e for e in api(browser_server, "experiments.json")["experiments"]}
    assert {"mnist-2-3", "mnist-2-3-100"} <= set(experiments)  # same digits, two experiments
    page, _ = open_page("embed/explorer.html?experiment=mnist-2-3-100&lambda=-2")
    wait_ready(page, "explorer")
    picker = page.locator("select[aria-label='Digit pair']")
    assert picker.input_value() == "mnist-2-3-100"
    assert page.locator(".pair-notice").count() == 0
    small = api(browser_server, "experiments/mnist-2-3-100.json")
    k = int(page.locator(".fig-explorer input[type=range]").input_value())
    assert float(page.locator("[data-readout='theta']").get_attribute("data-value")) == pytest.approx(small["models"][k]["theta_deg"], abs=1e-9)
    assert page.evaluate("document.querySelector('.plane-plot').planePoints.train.I.v.length") == small["counts"]["train_i"]
    # The two 2-vs-3 experiments are told apart in the picker.
    labels = page.eval_on_selector_all("select[aria-label='Digit pair'] option", "os => Object.fromEntries(os.map(o => [o.value, o.textContent]))")
    assert labels["mnist-2-3"] != labels["mnist-2-3-100"]
    picker.select_option("mnist-2-3")
    page.wait_for_function("new URLSearchParams(location.search).get('experiment') === 'mnist-2-3'", timeout=5000)
    page.wait_for_function(f"document.querySelector('.plane-plot').planePoints.train.I.v.length === {experiments['mnist-2-3']['counts']['train_i']}")
    # An old link still opens what it showed.
    old, _ = open_page("embed/explorer.html?pair=2-3&lambda=-2")
    wait_ready(old, "explorer")
    assert old.locator("select[aria-label='Digit pair']").input_value() == "mnist-2-3"


def test_story_figure_keys_and_lambda_share_one_writer(open_page):
    page, _ = open_page("?pair=2-3")
    wait_ready(page, "teaser")
    for figure in ("toy", "explorer"):
        page.locator(f"#fig-{figure}").scroll_into_view_if_needed()
        wait_ready(page, figure)
    page.eval_on_selector("[data-control='ta']", "el => { el.value = '45'; el.dispatchEvent(new Event('input', { bubbles: true })); }")
    page.locator("#fig-explorer input[type=range]").first.focus()
    page.keyboard.press("Home")
    # One write, after the reader pauses, with both figures' keys and the experiment's id.
    page.wait_for_function("location.search.includes('ta=45') && location.search.includes('lambda=-6')", timeout=5000)
    assert "experiment=mnist-2-3" in page.url and "pair=" not in page.url


def test_a_lambda_drag_redraws_the_plane_without_plotly(open_page):
    page, _ = open_page("embed/explorer.html?pair=2-3&lambda=-1")
    wait_ready(page, "explorer")
    page.wait_for_timeout(200)
    adapter = page.evaluate("window.__tilting.plotlyAdapter()")
    verified = page.evaluate(f"async () => (await ({IMPORT})('plotly-adapter')).VERIFIED_PLOTLY")
    # The plotly.js served is the one the adapter was verified with, and nothing fell back.
    assert adapter["version"] == verified and adapter["verified"] and adapter["fallbacks"] == []
    assert page.evaluate("document.documentElement.dataset.plotlyAdapter") == "verified"
    before = page.evaluate("window.__tilting.plotlyStats('.plane-plot')")
    assert before["full"] >= 1
    drawn = "() => { const d = document.querySelector('.plane-plot'); return [d.planePoints.k, d.querySelector('canvas.plane-overlay').toDataURL()]; }"
    k0, pixels0 = page.evaluate(drawn)
    box = page.locator("input[type=range]").first.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.8, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, y, steps=6)
    page.mouse.move(box["x"] + 2, y, steps=6)
    page.mouse.up()
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    after = page.evaluate("window.__tilting.plotlyStats('.plane-plot')")
    k1, pixels1 = page.evaluate(drawn)
    # The canvas shows the new model; Plotly (axes and grid only) was not called once more.
    assert k1 == int(page.locator("input[type=range]").first.input_value()) != k0 and pixels1 != pixels0
    assert after["full"] == before["full"]


def test_derive_functions_give_the_apis_numbers(open_page, browser_server):
    page, _ = open_page("embed/explorer.html?pair=2-3")
    wait_ready(page, "explorer")
    manifest = api(browser_server, "experiments/mnist-2-3.json")
    k = len(manifest["models"]) // 2
    g = 5
    got = page.evaluate(f"""async ([k, g]) => {{
      const load = {IMPORT};
      const [d, data, maths] = await Promise.all([load('derive'), load('data'), load('maths')]);
      const exp = await data.loadExperiment('mnist-2-3', ['weights', 'intercepts', 'normals', 'centroids', 'z_hat',
        'hist_edges', 'hist_train', 'hist_test', 'gallery_images', 'gallery_y']);
      const x = exp.arrays.gallery_images.data.subarray(g * exp.dim, (g + 1) * exp.dim);
      const at = d.imageAtModel(maths.analyseImage(x, exp), exp, k);
      const path = d.distancesAlongPath(exp, x);
      const h = d.histogramAtModel(exp, k);
      return {{ d: at.d, moved: at.moved, u: at.plane.u, v: at.plane.v, scores: at.scores,
               adv: Array.from(path.adv), mirror: Array.from(path.mirror), train: Array.from(h.shares.train),
               defaultX: d.defaultGallery(exp, 'x', -1), readouts: d.modelReadouts(exp.model(k)),
               curves: d.pathCurves(exp.manifest.models).theta }};
    }}""", [k, g])
    W = api_array(browser_server, manifest, "weights").astype(np.float64)
    B = api_array(browser_server, manifest, "intercepts").astype(np.float64)
    N = api_array(browser_server, manifest, "normals").astype(np.float64)
    C = api_array(browser_server, manifest, "centroids").astype(np.float64)
    z = api_array(browser_server, manifest, "z_hat").astype(np.float64)
    x = api_array(browser_server, manifest, "gallery_images")[g].astype(np.float64)
    norms = np.linalg.norm(W, axis=1)
    d = (x @ W[k] + B[k]) / norms[k]
    assert got["d"] == pytest.approx(d, rel=1e-5, abs=1e-6)
    assert got["moved"][1:3] == pytest.approx([abs(d), 2 * abs(d)], rel=1e-5)
    # x, x_p, x_m on the plane: u is fixed, v moves along n̂'s share of ŵ.
    m = C.mean(axis=0)
    assert got["u"][0] == pytest.approx((x - m) @ z, abs=1e-4)
    assert got["v"][0] == pytest.approx((x - m) @ N[k], abs=1e-4)
    assert got["scores"][2] == pytest.approx(-(x @ W[k] + B[k]), rel=1e-3, abs=1e-4)  # the mirror's score is −s(x)
    mirror = 2 * np.abs(x @ W.T + B) / norms
    np.testing.assert_allclose(got["mirror"], mirror, rtol=1e-5, atol=1e-6)
    adv = [geo.box_adversarial(x, W[j], B[j])[1] for j in range(len(W))]
    np.testing.assert_allclose(got["adv"], adv, rtol=1e-4, atol=1e-5)
    assert got["moved"][3] == pytest.approx(adv[k], rel=1e-4)
    hist = api_array(browser_server, manifest, "hist_train")[k]
    np.testing.assert_allclose(got["train"], hist / manifest["counts"]["train"], rtol=1e-6)
    assert got["defaultX"] == manifest["defaults"]["x"]["gallery"]
    assert got["readouts"]["theta"] == manifest["models"][k]["theta_deg"]
    assert got["curves"] == [m_["theta_deg"] for m_ in manifest["models"]]


def test_the_code_is_linked_to_its_repository_when_the_site_names_one_and_downloads_when_not(
        chromium, browser_server):
    context = chromium.new_context(viewport={"width": 1000, "height": 900}, accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(browser_server)
        wait_ready(page, "teaser")
        node = page.locator("[data-source-code]")
        assert "Python package" in node.inner_text()
        # No repository named: the archive the server makes, found relative to the page (the
        # static copy lives under a sub-path).
        link = node.locator("a")
        assert link.count() == 1 and link.get_attribute("download") is not None
        got = page.evaluate("""async (a) => {
          const response = await fetch(a.href);
          const bytes = new Uint8Array(await response.arrayBuffer());
          return { href: a.href, status: response.status, magic: [bytes[0], bytes[1]], size: bytes.length };
        }""", link.element_handle())
        assert got["href"] == browser_server + "source.tar.gz"
        assert got["status"] == 200 and got["magic"] == [0x1F, 0x8B] and got["size"] > 100_000
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == "source.tar.gz"
        assert download.value.failure() is None

        def named(route):
            response = route.fetch()
            body = response.text().replace('name="tilting:source-code" content=""', 'name="tilting:source-code" content="https://code.example/tilting"')
            route.fulfill(response=response, body=body)

        other = context.new_page()
        other.route(browser_server, named)
        other.goto(browser_server)
        wait_ready(other, "teaser")
        link = other.locator("[data-source-code] a")
        assert link.count() == 1 and link.get_attribute("href") == "https://code.example/tilting"
        text = other.locator("[data-source-code]").inner_text()
        assert "repository" in text and ".tar.gz" not in text
    finally:
        context.close()


def test_plane_frame_fits_the_whole_path_with_equal_aspect(open_page, browser_server):
    manifest = api(browser_server, "experiments/mnist-2-3.json")
    u = api_array(browser_server, manifest, "train_u")
    v = api_array(browser_server, manifest, "train_v")  # (models, n)
    page, _ = open_page("embed/teaser.html?pair=2-3")
    wait_ready(page, "teaser")
    frames = []
    for log10_lambda in (manifest["models"][0]["log10_lambda"], manifest["models"][-1]["log10_lambda"]):
        page.evaluate(f"window.__tilting.store.set({{ log10Lambda: {log10_lambda} }})")
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        frames.append(page.evaluate(f"""async () => {{
          const a = (await ({IMPORT})('plotly-adapter')).plotArea(document.querySelector('.plane-plot'));
          return {{ x0: a.x.toPixel(0), x1: a.x.toPixel(1), y0: a.y.toPixel(0), y1: a.y.toPixel(1),
                   left: a.x.offset, right: a.x.offset + a.x.length, top: a.y.offset, bottom: a.y.offset + a.y.length }};
        }}"""))
    # The same frame at both ends of the path: nothing jumps while λ is dragged.
    assert frames[0] == pytest.approx(frames[1])
    f = frames[0]
    # One unit is as long across as up: angles are true.
    assert f["x1"] - f["x0"] == pytest.approx(f["y0"] - f["y1"], rel=1e-6)
    # Every point of every model is inside the frame, and the frame is not much larger (fitted).
    px = lambda value: f["x0"] + (f["x1"] - f["x0"]) * value  # noqa: E731
    py = lambda value: f["y0"] + (f["y1"] - f["y0"]) * value  # noqa: E731
    assert f["left"] <= px(u.min()) and px(u.max()) <= f["right"]
    assert f["top"] <= py(v.max()) and py(v.min()) <= f["bottom"]
    assert (px(u.max()) - px(u.min())) > 0.85 * (f["right"] - f["left"]) or (py(v.min()) - py(v.max())) > 0.85 * (f["bottom"] - f["top"])
