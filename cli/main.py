"""The ``tilting`` command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from tilting.precompute.defaults import DEFAULT_LOG10_LAMBDA_GRID, DEFAULT_PAIR, DEFAULT_PER_CLASS
from tilting.precompute.errors import TiltingError

DEFAULT_ARTIFACTS = "artifacts"


def default_artifacts_dir() -> str:
    return os.environ.get("TILTING_ARTIFACTS", DEFAULT_ARTIFACTS)


def parse_grid(text: str) -> np.ndarray:
    """``start:stop:step`` (inclusive) or a comma-separated list of log10 λ."""
    from tilting.precompute.solver import log10_lambda_grid

    text = text.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            return log10_lambda_grid(*(float(p) for p in parts))
        values = np.array([float(p) for p in text.split(",") if p.strip()], dtype=float)
    except ValueError:
        raise TiltingError(
            f"--log10-lambda {text!r} is not START:STOP:STEP (e.g. -6:2:0.1) nor a comma-separated list."
        ) from None
    if len(values) == 0:
        raise TiltingError("--log10-lambda gives an empty grid.")
    if not np.isfinite(values).all():
        raise TiltingError("--log10-lambda values must be finite numbers.")
    if len(np.unique(values)) != len(values) or (np.diff(values) <= 0).any():
        raise TiltingError("--log10-lambda values must be distinct and increasing.")
    return values


def _int_within(text: str, low: int, high: int | None, refusal: str) -> int:
    """``text`` as an int in [low, high] (no upper bound when ``high`` is None), else the
    one-sentence ``refusal`` (a format string of ``text``)."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(refusal.format(text=text))
    return value


def parse_per_class(text: str) -> int | None:
    return None if text == "all" else _int_within(text, 1, None, "expected a positive count or 'all', got {text!r}")


def parse_port(text: str) -> int:
    # Checked here: uvicorn would take 70000 modulo 65536 and quietly listen on 4464.
    return _int_within(text, 1, 65535, "{text} is not a port number (1-65535)")


def parse_workers(text: str) -> int:
    return _int_within(text, 1, None, "expected a number of processes, at least 1, got {text!r}")


def check_out_folder(out) -> None:
    """Fail at once, not after minutes of computing, if bundles cannot be written into ``out``.

    Probes by creating and removing a folder in ``out`` (or, if ``out`` does
    not exist yet, in its nearest existing parent), so a refused run leaves
    nothing behind.
    """
    import tempfile

    folder = Path(out)
    existing = next(p for p in [folder, *folder.absolute().parents] if p.exists())
    if not existing.is_dir():
        raise TiltingError(f"Cannot write bundles to {out}: {existing} is a file, not a folder.")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".tilting-write-test-", dir=existing))
    except OSError as exc:
        raise TiltingError(f"Cannot write bundles to {out}: {exc.strerror or exc}.") from None


def cmd_precompute_checked(args) -> int:
    """``tilting precompute`` with --out checked first, and failed writes as one sentence."""
    check_out_folder(args.out)
    try:
        return cmd_precompute(args)
    except OSError as exc:
        # A full disk, say: bundles are written atomically, so nothing was replaced.
        where = exc.filename or args.out  # a failed write() names no file
        raise TiltingError(f"Cannot write {where}: {exc.strerror or exc}; no bundle was replaced.") from None


def cmd_precompute(args) -> int:
    if args.network:
        return cmd_precompute_network(args)
    if args.toy:
        return cmd_precompute_toy(args)
    if args.all_pairs or args.pairs is not None:
        return cmd_precompute_all_pairs(args)
    if args.jobs is not None or args.scheduler is not None:
        raise TiltingError("--jobs and --scheduler go with --all-pairs or --pairs, not with one --pair.")
    precompute_pair(
        *(args.pair or DEFAULT_PAIR), per_class=args.per_class, log10_lambda=args.log10_lambda,
        mnist_dir=args.mnist_dir, out=args.out, quiet=args.quiet,
    )
    return 0


def load_dataset(mnist_dir, classes=None):
    """MNIST (or the fallback, announced loudly on stderr) for a build; ``classes``: only those digits."""
    from tilting.precompute.data import load_digits_dataset

    digits = load_digits_dataset(mnist_dir, classes)
    if digits.notice:
        print(f"\n*** NOTICE: {digits.notice} ***\n", file=sys.stderr)
    return digits


def precompute_pair(digit_i, digit_j, *, per_class, log10_lambda, mnist_dir, out, quiet=False) -> Path:
    """Build one digit pair's bundle with a progress bar; the path of the bundle written.

    Shared by ``tilting precompute`` and ``tilting serve`` (which builds the
    default pair when the artifacts folder is empty).
    """
    from tqdm import tqdm

    from tilting.precompute.artifacts import write_bundle
    from tilting.precompute.data import check_pair
    from tilting.precompute.experiment import build_experiment, experiment_id

    check_pair(digit_i, digit_j)
    log10_lambdas = parse_grid(log10_lambda)
    digits = load_dataset(mnist_dir, classes=(digit_i, digit_j))  # only the pair's images
    exp_id = experiment_id(digits.name, digit_i, digit_j, per_class)

    bar = tqdm(total=len(log10_lambdas), desc=f"{exp_id}: solving", unit="model", disable=quiet)

    def progress(k, log10_lambda):
        bar.set_postfix_str(f"log10 λ = {log10_lambda:+.1f}")
        bar.update(1)

    manifest, arrays = build_experiment(
        digits, digit_i, digit_j, log10_lambdas, per_class=per_class, progress=progress
    )
    bar.close()
    path = write_bundle(out, exp_id, manifest, arrays)
    if not quiet:
        print(summary_table(manifest["models"]))
    print(f"Wrote {path} ({len(manifest['models'])} models, {manifest['counts']['train']} training images).")
    return path


def cmd_precompute_network(args) -> int:
    """Train the weight-decay sweep, attack, measure the local tilt, write the ``network-mnist`` bundle."""
    import time

    from tqdm import tqdm

    from tilting.precompute.artifacts import write_bundle
    from tilting.precompute.network import ARCHITECTURE, EXPERIMENT_ID, SWEEP, build_network_experiment

    digits = load_dataset(args.mnist_dir)
    epochs = ARCHITECTURE.get(digits.name, ARCHITECTURE["mnist"])[1]
    weight_decays = SWEEP.get(digits.name, SWEEP["mnist"])
    bars = {}

    def progress(k, label):
        # One bar per network's training (a tick per epoch), then one for the attacks and
        # measurements of all networks (a tick per network).
        key = "measure" if k is None else k
        if key not in bars:
            for bar in bars.values():
                bar.close()
            desc = "attacks, local tilt" if k is None else f"network {k + 1}/{len(weight_decays)} α={weight_decays[k]:g}"
            bars[key] = tqdm(total=len(weight_decays) if k is None else epochs, desc=desc, unit="network" if k is None
                             else "epoch", disable=args.quiet)
        bars[key].set_postfix_str(label)
        bars[key].update(1)

    cpu = time.process_time()
    manifest, arrays = build_network_experiment(digits, weight_decays, progress=progress)
    for bar in bars.values():
        bar.close()
    path = write_bundle(args.out, EXPERIMENT_ID, manifest, arrays)
    if not args.quiet:
        head = (f"{'decay':>7} {'test err':>8} {'reached':>7} {'median L2':>9} {'T':>6} {'cal. L2':>8} "
                f"{'tilt (°)':>8} {'IQR':>11}")
        print(head + "\n" + "-" * len(head))
        for m in manifest["models"]:
            a, c, t = m["attack"], m["attack_calibrated"], m["tilt"]
            show = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
            print(f"{m['weight_decay']:>7g} {m['test_error']:>8.4f} {a['attacks_reached']:>3}/{a['attacks']:<3} "
                  f"{show(a['median_l2_reached']):>9} {m['temperature']:>6.2f} {show(c['median_l2_reached']):>8} "
                  f"{t['median_angle_sample']:>8.1f} {t['q25_angle_sample']:>5.1f}-{t['q75_angle_sample']:<5.1f}")
    print(f"Wrote {path} ({len(weight_decays)} networks; {manifest['build_seconds']:.0f} s wall, "
          f"{time.process_time() - cpu:.0f} s CPU in this process).")
    return 0


def cmd_precompute_toy(args) -> int:
    """Solve the toy problem's SVM path and write the ``toy`` bundle."""
    from tilting.precompute.artifacts import write_bundle
    from tilting.precompute.toy import EXPERIMENT_ID, build_toy_experiment

    manifest, arrays = build_toy_experiment()
    path = write_bundle(args.out, EXPERIMENT_ID, manifest, arrays)
    thetas = [m["theta_deg"] for m in manifest["models"]]
    print(f"Wrote {path} ({len(thetas)} models, θ from {thetas[0]:.2f}° to {thetas[-1]:.2f}°).")
    return 0


def cmd_precompute_all_pairs(args) -> int:
    """``--all-pairs`` or ``--pairs I-J,…``: each bundle written here as it lands, one line per pair."""
    import contextlib

    from tilting.precompute.pairs import ALL_PAIRS, connect, digits_of, parse_pairs

    if args.all_pairs and args.pairs is not None:
        raise TiltingError("Give --all-pairs or --pairs, not both.")
    if args.pair is not None:
        raise TiltingError("Give --pair or --pairs/--all-pairs, not both.")
    if args.jobs is not None and args.jobs == 0:
        raise TiltingError("--jobs must be a number of processes (or -1 for one per core), not 0.")
    if args.worker_timeout is not None and not args.worker_timeout > 0:
        raise TiltingError("--worker-timeout must be a positive number of seconds.")
    pairs = ALL_PAIRS if args.all_pairs else parse_pairs(args.pairs)
    log10_lambda = parse_grid(args.log10_lambda)
    # The cluster first (a wrong address fails before any work), then the data, read here once
    # (only the digits the pairs use): each task carries only its two digits' images.
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(connect(args.scheduler)) if args.scheduler else None
        if cluster is not None:
            _quiet_dask_logs()  # what goes wrong is said in our own sentences, once
        digits = load_dataset(args.mnist_dir, digits_of(pairs))
        return _build_pairs_reporting(args, pairs, log10_lambda, digits, cluster)


def _quiet_dask_logs() -> None:
    import logging

    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.startswith("distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _build_pairs_reporting(args, pairs, log10_lambda, digits, cluster) -> int:
    import time

    from tilting.precompute.pairs import build_pairs

    where = f"the Dask cluster at {args.scheduler}" if args.scheduler else "this machine"
    print(f"Building {len(pairs)} pair{'s' if len(pairs) != 1 else ''} on {where} into {args.out}.", flush=True)
    started = time.perf_counter()
    settled = []

    def progress(result):
        settled.append(result)
        name = result.experiment_id or f"pair {result.pair[0]}-{result.pair[1]}"
        line = f"[{len(settled)}/{len(pairs)}] {name} {result.status}"
        if result.status == "built":
            line += f" in {result.seconds:.1f} s"
        elif result.status == "failed":
            line += f": {result.message}"
        if not args.quiet or result.status == "failed":
            print(line, file=sys.stderr if result.status == "failed" else sys.stdout, flush=True)

    try:
        results = build_pairs(
            args.out, log10_lambda, per_class=args.per_class, pairs=pairs, n_jobs=args.jobs or -1,
            scheduler=cluster, progress=progress, digits=digits, worker_timeout=args.worker_timeout,
        )
    except KeyboardInterrupt:
        built = sum(r.status == "built" for r in settled)
        print(f"tilting: interrupted; the work left was cancelled and nothing more is written "
              f"({built} bundle{'s' if built != 1 else ''} written before, each complete).", file=sys.stderr)
        return 130
    counts = {s: sum(r.status == s for r in results) for s in ("built", "skipped", "failed")}
    print(f"{counts['built']} built, {counts['skipped']} already valid, {counts['failed']} failed, "
          f"in {args.out} ({time.perf_counter() - started:.0f} s).")
    if counts["failed"]:
        failed = ", ".join(f"{r.pair[0]}-{r.pair[1]}" for r in results if r.status == "failed")
        print(f"tilting: error: failed: {failed} (reasons above); rerun to retry only those.", file=sys.stderr)
    return 1 if counts["failed"] else 0


def summary_table(models, every: int = 5) -> str:
    """A fixed-width table of the main metrics, one row per ``every`` models."""
    head = f"{'log10 λ':>8} {'θ (deg)':>8} {'d_adv':>8} {'train err':>9} {'test err':>9} {'rel. gap':>9}"
    rows = [head, "-" * len(head)]
    chosen = list(range(0, len(models), every))
    if chosen[-1] != len(models) - 1:
        chosen.append(len(models) - 1)
    for k in chosen:
        m = models[k]
        rows.append(
            f"{m['log10_lambda']:>8.1f} {m['theta_deg']:>8.2f} {m['d_adv']:>8.4f} "
            f"{m['train_error']:>9.4f} {m['test_error']:>9.4f} {m['relative_gap']:>9.1e}"
        )
    # The table shows every 5th model; the certificate is about all of them.
    worst = max(models, key=lambda m: m["relative_gap"])
    rows.append(f"all {len(models)} models certified; the worst relative duality gap is "
                f"{worst['relative_gap']:.1e} (log10 λ = {worst['log10_lambda']:g}).")
    return "\n".join(rows)


def cmd_verify(args) -> int:
    from tilting.precompute.artifacts import list_bundles, read_all

    paths = [Path(args.path)] if args.path else list_bundles(args.artifacts)
    if not paths:
        raise TiltingError(f"No bundle found in {args.artifacts}; run `tilting precompute` first.")
    # The same reading as `tilting serve`'s, so what verify passes, serve serves.
    for bundle in read_all(paths).values():
        print(f"{bundle.path}: valid ({len(bundle.manifest['models'])} models, {len(bundle.arrays)} arrays).")
    return 0


def cmd_fetch_mnist(args) -> int:
    from tilting.precompute.data import fetch_mnist

    path = fetch_mnist(args.dest)
    print(f"MNIST is in {path}.")
    return 0


def ensure_default_bundle(artifacts: Path, mnist_dir: str | None) -> None:
    """Build the default pair when ``artifacts`` holds no bundle, so `tilting serve` alone works.

    A broken entry counts as a bundle: it is reported by the server, never replaced by other data.
    """
    from tilting.precompute.artifacts import list_bundles

    if list_bundles(artifacts):
        return
    print(f"No bundle in {artifacts}: building the default experiment (digits "
          f"{DEFAULT_PAIR[0]} vs {DEFAULT_PAIR[1]}) first.", file=sys.stderr)
    precompute_pair(*DEFAULT_PAIR, per_class=DEFAULT_PER_CLASS, log10_lambda=DEFAULT_LOG10_LAMBDA_GRID,
                    mnist_dir=mnist_dir, out=artifacts)


def cmd_serve(args) -> int:
    # Imported here so that `tilting precompute` does not pay for FastAPI.
    from tilting.backend.server import serve

    ensure_default_bundle(Path(args.artifacts), args.mnist_dir)

    return serve(args)


def cmd_export(args) -> int:
    from tilting.backend.export import export_site

    count = export_site(args.artifacts, args.out)
    print(f"Exported {count} files to {args.out}; serve it with any static file server.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tilting",
        description="Boundary Tilting: linear SVMs on MNIST along a regularization path, "
        "the data behind the explorable, and the server that shows it.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "precompute",
        help="train the SVM path for a digit pair and write its artifact bundle",
        description="Train a linear SVM for every λ of the grid on two MNIST digits, compute the "
        "tilting geometry, and write the bundle to OUT/<dataset>-<I>-<J>/ (replacing an older "
        "one atomically). Example: tilting precompute --pair 2 3",
    )
    p.add_argument("--pair", nargs=2, type=int, metavar=("I", "J"),
                   help="the two digits; I gets label −1, J label +1; the bundle is OUT/mnist-I-J (default: 2 3)")
    p.add_argument("--per-class", type=parse_per_class, default=DEFAULT_PER_CLASS, metavar="N|all",
                   help="training images per digit, the first ones in file order (default: 3000)")
    p.add_argument("--log10-lambda", "--log-lambda", dest="log10_lambda", default=DEFAULT_LOG10_LAMBDA_GRID,
                   metavar="START:STOP:STEP",
                   help="log10 λ grid, inclusive, or a comma-separated list (default: -6:2:0.1, 81 models); "
                   "--log-lambda is an older name for it")
    p.add_argument("--mnist-dir", metavar="DIR",
                   help="folder with the four MNIST IDX files (default: $TILTING_MNIST_DIR, then the user cache)")
    p.add_argument("--out", default=default_artifacts_dir(), metavar="DIR",
                   help="artifacts folder (default: $TILTING_ARTIFACTS or ./artifacts)")
    p.add_argument("--all-pairs", action="store_true",
                   help="build all 45 digit pairs I < J in parallel, each bundle written as it lands; "
                   "bundles already valid for this grid and --per-class are kept, so a stopped run resumes")
    p.add_argument("--pairs", metavar="I-J,…",
                   help="like --all-pairs, for the pairs listed, e.g. 2-3,4-9 (I gets label −1)")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="with --all-pairs/--pairs: processes on this machine (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --all-pairs/--pairs: run on the Dask cluster at ADDRESS (e.g. tcp://10.0.0.5:8786); "
                   "this process reads MNIST and writes every bundle into --out, its workers need only "
                   "this package")
    p.add_argument("--worker-timeout", type=float, metavar="SECONDS",
                   help="with --scheduler: give up when the cluster has had no worker this long (default: 60)")
    p.add_argument("--network", action="store_true",
                   help="instead of an SVM pair: train the small network at a sweep of weight decays on all "
                   "of MNIST, attack one test image per digit towards every digit, measure its local tilt, "
                   "write OUT/network-mnist/")
    p.add_argument("--toy", action="store_true",
                   help="instead of an SVM pair: solve the toy problem's SVM path, write OUT/toy/")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    p.set_defaults(func=cmd_precompute_checked)

    p = sub.add_parser("verify", help="check bundles against their manifests",
                       description="Validate schema, files, shapes and SHA-256 of every bundle.")
    p.add_argument("path", nargs="?", help="one bundle folder (default: every bundle in --artifacts)")
    p.add_argument("--artifacts", default=default_artifacts_dir(), metavar="DIR")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("fetch-mnist", help="download MNIST from public mirrors into the user cache",
                       description="Download the four MNIST files, verifying their SHA-256.")
    p.add_argument("--dest", metavar="DIR", help="where to put them (default: the user cache)")
    p.set_defaults(func=cmd_fetch_mnist)

    p = sub.add_parser("serve", help="serve the explorable and its JSON API",
                       description="Serve the article, the embeddable figures and the JSON API "
                       "(docs at /docs) over every bundle in --artifacts. With no bundle there, first "
                       "build the default experiment (digits 2 vs 3). A damaged bundle stops start-up.")
    p.add_argument("--artifacts", default=default_artifacts_dir(), metavar="DIR",
                   help="artifacts folder (default: $TILTING_ARTIFACTS or ./artifacts)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: 127.0.0.1, loopback only; 0.0.0.0 exposes it)")
    p.add_argument("--port", type=parse_port, default=8000, help="1-65535 (default: 8000)")
    p.add_argument("--mnist-dir", metavar="DIR",
                   help="MNIST folder, used only to build the default experiment when none exists")
    p.add_argument("--workers", type=parse_workers, default=1, metavar="N",
                   help="server processes sharing the port (default: 1)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn's log level; 'warning' drops the per-request access log")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("export", help="write the whole explorable as a static site",
                       description="Write the article, every embed page, plotly.js and every data file "
                       "the pages fetch (the same bytes the API serves) into OUT, with relative URLs, "
                       "so it works under any sub-path of any static host.")
    p.add_argument("--out", required=True, metavar="DIR", help="the site's folder: new, empty, or an earlier export (then replaced)")
    p.add_argument("--artifacts", default=default_artifacts_dir(), metavar="DIR",
                   help="artifacts folder (default: $TILTING_ARTIFACTS or ./artifacts)")
    p.set_defaults(func=cmd_export)
    return parser


def _join_negative_values(argv):
    """Let ``--log10-lambda -6:2:0.1`` work: argparse takes '-6:…' for an option."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg in ("--log10-lambda", "--log-lambda") and out[i + 1].startswith("-"):
            out[i : i + 2] = [f"{arg}={out[i + 1]}"]
            break
    return out


def main(argv=None) -> int:
    argv = _join_negative_values(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TiltingError as exc:
        print(f"tilting: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tilting: interrupted; nothing was replaced.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
