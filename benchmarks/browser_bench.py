"""Browser benchmark: the article in headless Chromium against `tilting serve`.

    python -m benchmarks.browser_bench [--artifacts DIR] [--url URL] [--runs 3]

With the real MNIST 2-vs-3 bundle (n = 6,000, 81 models) it measures
  * first figure: navigation start → the teaser is interactive (its data, code and
    plotly.js loaded and drawn), median of cold-cache runs;
  * first-view bytes: compressed bytes (CDP encodedDataLength) the page fetched
    before the reader scrolls, against the same view with float32 plane coordinates;
  * λ step: one input on the explorer's λ slider, applied to every linked figure the
    reader can see (the explorer's scatter of all 6,000 training points, boundary, band,
    images, readouts, histogram and curves; figures out of view take the step when they
    scroll back), over --passes sweeps of the 81 models (p50/p95): its main-thread work
    (input handler + the next frame's rAF callbacks, style, layout, paint and commit) and
    its latency (input → that frame rendered, vsync wait included), against the same loop
    with no input (the floor). A stress variant forces the off-screen figures (teaser,
    linear, loss) to redraw in the same frame as well;
  * print picture: after the reader stops, the explorer's plots redraw the picture printing
    shows (plotly's image export): time until it is in place, longest main-thread task;
  * background mounting: on a page left alone, the figures below the first view mount
    (so that a print from the browser's menu finds every picture): when it starts, how
    long until every figure has its picture, the bytes it fetches, the longest task.
--url uses an already running server instead of starting `tilting serve`.
"""

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.common import ROOT, machine, stamp

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]

SWEEP = """async ({ update, offscreen, passes }) => {
  // One λ step per frame, as a reader's slider produces them: the explorer's range input
  // gets a value and an 'input' event (every linked figure follows the shared store).
  // latency: input -> the frame showing it has been rendered (a task posted from that
  //   frame's first requestAnimationFrame callback runs after its style, layout and paint);
  //   it includes the wait for the next vsync.
  // work: main-thread time the step costs: the input handler, plus everything from that
  //   frame's first rAF callback (registered before the input, so it runs first) to the
  //   end of its rendering; the idle wait for vsync is excluded.
  const t = window.__tilting;
  t.updateOffscreen = offscreen;
  const slider = document.querySelector('#fig-explorer input[type=range]');
  const K = Number(slider.max) + 1;
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  // A task of its own, after the frame has rendered: where a key press or a pointer
  // event is dispatched (an input dispatched from inside a rAF callback would be drawn
  // by that same frame, before the measurement starts).
  const task = () => new Promise((r) => { const c = new MessageChannel(); c.port1.onmessage = () => r(); c.port2.postMessage(0); });
  const latency = []; const work = [];
  await frame();
  await task();
  for (let pass = 0; pass < passes; pass++) {
    for (let k = 0; k < K; k++) {
      const kk = pass % 2 ? K - 1 - k : k;
      const drawn = new Promise((resolve) => {
        requestAnimationFrame(() => {
          const tR = performance.now();
          const channel = new MessageChannel();
          channel.port1.onmessage = () => resolve([tR, performance.now()]);
          channel.port2.postMessage(0);
        });
      });
      const t0 = performance.now();
      if (update) { slider.value = String(kk); slider.dispatchEvent(new Event('input', { bubbles: true })); }
      const t1 = performance.now();
      const [tR, tP] = await drawn;
      latency.push(tP - t0);
      work.push((t1 - t0) + (tP - tR));
      await frame();
      await task();
    }
  }
  return { latency, work };
}"""


# The print picture (figures.js): after the reader stops, each plotly figure redraws a
# picture of itself with plotly's image export. Its cost, for the explorer after one λ
# step: the time until the picture is in place, and the longest main-thread task meanwhile
# (what a reader who starts dragging again at that moment would wait for).
SNAPSHOT = """async () => {
  const c = document.querySelector('#fig-explorer [data-figure]');
  const count = () => Number(c.dataset.snapshots || 0);
  // First no picture pending: the count has not moved for 1.5 s.
  for (let seen = count(), since = performance.now(); performance.now() - since < 1500;) {
    await new Promise((r) => setTimeout(r, 50));
    if (count() !== seen) { seen = count(); since = performance.now(); }
  }
  const before = count();
  const tasks = [];
  const observer = new PerformanceObserver((list) => tasks.push(...list.getEntries().map((e) => e.duration)));
  observer.observe({ type: 'longtask' });
  const slider = c.querySelector('input[type=range]');
  slider.value = String(Math.floor(Number(slider.max) / 2));
  slider.dispatchEvent(new Event('input', { bubbles: true }));
  const t0 = performance.now();
  while (count() === before) await new Promise((r) => setTimeout(r, 20));
  const done = performance.now() - t0;
  observer.disconnect();
  return { picture_ms: Number(c.dataset.snapshotMs), input_to_picture_ms: done,
           longest_task_ms: Math.max(0, ...tasks), long_tasks: tasks.length };
}"""


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def start_server(artifacts: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).parent / "tilting"
    proc = subprocess.Popen([str(exe), "serve", "--artifacts", str(artifacts), "--port", str(port),
                             "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/"
    for _ in range(150):
        if proc.poll() is not None:
            raise SystemExit(f"tilting serve failed: {proc.stderr.read()}")
        try:
            urllib.request.urlopen(base + "api/experiments.json", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("tilting serve did not start")


def first_view(browser, base):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes = {}
    urls = {}
    cdp.on("Network.responseReceived", lambda e: urls.__setitem__(e["requestId"], e["response"]["url"]))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(base)
    page.wait_for_function("window.__tilting && window.__tilting.readyAt && window.__tilting.readyAt.teaser", timeout=60000)
    ready = page.evaluate("new Promise(r => requestAnimationFrame(() => r(window.__tilting.readyAt.teaser)))")
    page.wait_for_timeout(1500)  # let anything else the first view asks for arrive
    # The first view ends before the background mounting (figures.js warmUp) starts: it
    # waits for the page to be quiet for longer than this.
    if page.evaluate("window.__tilting.warmUp.started") is not None:
        raise SystemExit("the background mounting started within the first view: its bytes would be counted")
    by_url = {urls.get(k, k): v for k, v in sizes.items()}
    context.close()
    return ready, by_url


# The background mounting (figures.js warmUp) on a page the reader leaves alone: how long
# after the first figure every figure is mounted with its print picture, what it fetches,
# and the longest main-thread task meanwhile (what a reader who comes back at that moment
# would wait for; reader input postpones the next figure, not a task under way).
LONG_TASKS = "window.__longTasks = []; new PerformanceObserver((l) => window.__longTasks.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask', buffered: true })"
SAVE_DATA = "Object.defineProperty(Navigator.prototype, 'connection', { get: () => ({ saveData: true }) })"
ONLY_REACHED = "['teaser','explorer'].every(f => Number(document.querySelector(`#fig-${f} [data-figure]`).dataset.snapshots) >= 1)"
PICTURED = "[...document.querySelectorAll('main [data-figure]')].every(c => !c.querySelector('.js-plotly-plot') || Number(c.dataset.snapshots) >= 1)"
# No print picture made for 2 s: scrolling the explorer into view can bring the 3-D figure
# near, which builds and then redraws its picture; that picture is idle-time work a reader
# pays once, not part of a λ step, so the sweep starts after it.
PICTURES_QUIET = """async () => {
  const count = () => [...document.querySelectorAll('main [data-figure]')].map(c => c.dataset.snapshots || 0).join();
  for (let seen = count(), since = performance.now(); performance.now() - since < 2000;) {
    await new Promise((r) => setTimeout(r, 100));
    if (count() !== seen) { seen = count(); since = performance.now(); }
  }
}"""


def background_mounting(browser, base):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(LONG_TASKS)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(base)
    page.wait_for_function("window.__tilting && window.__tilting.readyAt && window.__tilting.readyAt.teaser", timeout=60000)
    page.wait_for_function("window.__tilting.warmUp && window.__tilting.warmUp.started !== null", timeout=60000)
    before = sum(sizes.values())
    tasks_before = page.evaluate("window.__longTasks.length")
    page.wait_for_function(f"window.__tilting.warmUp.done && {PICTURED}", timeout=180000, polling=100)
    pictured_at = page.evaluate("performance.now()")
    log = page.evaluate("window.__tilting.warmUp")
    ready = page.evaluate("window.__tilting.readyAt.teaser")
    tasks = page.evaluate(f"window.__longTasks.slice({tasks_before})")
    result = {
        "start_after_first_figure_ms": round(log["started"] - ready), "figures": len(log["mounted"]),
        "mounting_ms": round(log["done"] - log["started"]), "all_pictured_ms": round(pictured_at - log["started"]),
        "bytes": sum(sizes.values()) - before, "longest_task_ms": round(max(tasks, default=0), 1), "long_tasks": len(tasks),
    }
    context.close()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifacts", type=Path, default=ROOT / "artifacts")
    parser.add_argument("--url", help="benchmark an already running server")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--passes", type=int, default=6, help="sweeps over the 81 models, alternately up and down")
    parser.add_argument("--only-reached", action="store_true",
                        help="sweep with only the figures scrolled to mounted (no background mounting)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    proc = None
    if args.url:
        base = args.url.rstrip("/") + "/"
    else:
        proc, base = start_server(args.artifacts)
    try:
        manifest = json.load(urllib.request.urlopen(base + "api/experiments/mnist-2-3.json"))
        n, K = manifest["counts"]["train"], len(manifest["models"])
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            runs = [first_view(browser, base) for _ in range(args.runs)]
            background = background_mounting(browser, base)
            first_ms = statistics.median(r[0] for r in runs)
            by_url = runs[-1][1]
            total = sum(by_url.values())
            v_f16 = sum(v for u, v in by_url.items() if "train_v" in u)
            v_f32_raw = 4 * K * n

            context = browser.new_context(viewport={"width": 1440, "height": 900})
            if args.only_reached:  # a browser saving data: no background mounting (figures.js)
                context.add_init_script(SAVE_DATA)
            page = context.new_page()
            page.goto(base + "?pair=2-3")
            for sel in ("#fig-linear", "#fig-explorer"):
                page.locator(sel).scroll_into_view_if_needed()
            page.wait_for_function("['teaser','linear','explorer'].every(f => window.__tilting.readyAt[f])", timeout=60000)
            # The first print pictures are made before the sweeps, so none is made during them
            # (a sweep's steps come one per frame: the picture waits for the reader to stop);
            # so is the background mounting, so every figure is mounted (the others off screen).
            page.wait_for_function(ONLY_REACHED if args.only_reached else f"window.__tilting.warmUp.done && {PICTURED}",
                                   timeout=180000, polling=100)
            page.evaluate(PICTURES_QUIET)
            sweep = {"passes": args.passes}
            floor = page.evaluate(SWEEP, {**sweep, "update": False, "offscreen": True})
            steps = page.evaluate(SWEEP, {**sweep, "update": True, "offscreen": False})  # as the page runs
            forced = page.evaluate(SWEEP, {**sweep, "update": True, "offscreen": True})  # off-screen figures too
            page.evaluate("window.__tilting.updateOffscreen = false")
            page.wait_for_timeout(1500)
            snapshot = page.evaluate(SNAPSHOT)
            context.close()
            browser.close()
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)

    result = {
        "when": stamp(), "machine": machine(), "n": n, "models": K,
        "sweep_page": "figures reached only" if args.only_reached else "every figure mounted",
        "first_figure_ms": round(first_ms, 1), "first_figure_runs_ms": [round(r[0], 1) for r in runs],
        "first_view_bytes": total, "first_view_requests": len(by_url),
        "train_v_f16_bytes": v_f16, "train_v_f32_raw_bytes": v_f32_raw,
        "first_view_bytes_with_f32_plane": total - v_f16 + v_f32_raw,
        **{f"{name}_{kind}_p{q}_ms": round(pct(run[kind], q / 100), 2)
           for name, run in (("step", steps), ("step_offscreen_forced", forced), ("floor", floor))
           for kind in ("work", "latency") for q in (50, 95)},
        "steps_measured": len(steps["work"]),
        **{f"print_{k}": round(v, 1) for k, v in snapshot.items()},
        **{f"background_{k}": v for k, v in background.items()},
        "largest_first_view_responses": sorted(((v, u.split("/")[-1]) for u, v in by_url.items()), reverse=True)[:6],
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
