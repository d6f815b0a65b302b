"""The Dockerfile: its structure, and the commands it runs, in a fresh virtual env.

No Docker engine runs here, so the image itself is not built; instead the
same scripts the Dockerfile runs are run in a fresh venv.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, mnist_dir

INSTRUCTIONS = {"FROM", "ENV", "RUN", "WORKDIR", "COPY", "USER", "EXPOSE", "HEALTHCHECK", "CMD", "ARG", "LABEL"}


def dockerfile_instructions():
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)  # line continuations
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split()[0], line[len(line.split()[0]):].strip()) for line in lines]


def test_dockerfile_parses_and_has_what_the_issue_asks():
    steps = dockerfile_instructions()
    assert all(op in INSTRUCTIONS for op, _ in steps), [op for op, _ in steps if op not in INSTRUCTIONS]
    ops = [op for op, _ in steps]
    assert steps[0][0] == "FROM" and "slim" in steps[0][1]
    user = [arg for op, arg in steps if op == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert ("EXPOSE", "8000") in steps
    health = next(arg for op, arg in steps if op == "HEALTHCHECK")
    assert "/healthz" in health
    # dependencies are installed before the source is copied (their own cached layer)
    first_source_copy = next(i for i, (op, arg) in enumerate(steps) if op == "COPY" and arg.startswith("precompute"))
    deps = next(i for i, (op, arg) in enumerate(steps) if op == "RUN" and "install-deps.py" in arg)
    assert deps < first_source_copy
    assert ops.index("USER") > deps
    # every file it copies exists in the build context
    for op, arg in steps:
        if op == "COPY":
            for source in arg.split()[:-1]:
                assert (ROOT / source).exists(), source


@pytest.mark.slow
@pytest.mark.skipif(mnist_dir() is None, reason="needs real MNIST for the bundle step")
def test_dockerfile_commands_succeed_in_a_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("TILTING_MNIST_DIR", None)
    env.pop("VIRTUAL_ENV", None)
    python = str(venv / "bin" / "python")
    # RUN python install-deps.py   (in the folder holding pyproject.toml)
    subprocess.run([python, str(ROOT / "docker" / "install-deps.py")], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    # RUN pip install --no-deps -e .
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "-e", str(ROOT)], env=env, check=True,
                   capture_output=True)
    # RUN sh docker/build-bundle.sh /app/artifacts  (with MNIST placed in docker/mnist/)
    context = tmp_path / "context"
    (context / "mnist").mkdir(parents=True)
    for f in Path(mnist_dir()).glob("*.gz"):
        (context / "mnist" / f.name).symlink_to(f)
    (context / "build-bundle.sh").write_text((ROOT / "docker" / "build-bundle.sh").read_text())
    # (the other pairs small here: the image builds them like 2 vs 3, which the tests time elsewhere)
    result = subprocess.run(["sh", str(context / "build-bundle.sh"), str(tmp_path / "artifacts"),
                             "--per-class", "100", "--log10-lambda", "-2,0"], env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    valid = {Path(line.split(":")[0]).name for line in result.stdout.splitlines() if ": valid (" in line}
    pairs = {f"mnist-{i}-{j}-100" for i in range(10) for j in range(i + 1, 10)}
    assert valid == {"mnist-2-3", "toy", "network-mnist"} | pairs, result.stdout
    assert "mnist-2-3: valid (81 models" in result.stdout


def precompute_options(text: str) -> set[str]:
    """The bundles a script builds: the options of its `tilting precompute` commands, less where
    they write, where MNIST is and how much they print."""
    found = set()
    for line in text.splitlines():
        if "tilting precompute" not in line:
            continue
        command = re.split(r"[;|&'>}<]", line.split("tilting precompute", 1)[1])[0]  # up to the shell's next word
        words = iter(command.split())
        kept = []
        for word in words:
            if word in ("--out", "--mnist-dir"):
                next(words)  # and its value
            elif word not in ("--quiet", '"$@"'):
                kept.append(word)
        found.add(" ".join(kept))
    return found


def make_run_recipe() -> str:
    return (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]


def test_the_image_builds_what_make_run_builds():
    """Docker's build step and `make run` build the same bundles (the image once showed
    the network and toy figures as "not built"), every pair included."""
    image = precompute_options((ROOT / "docker" / "build-bundle.sh").read_text())
    assert image == precompute_options(make_run_recipe()) == {"--pair 2 3", "--toy", "--network", "--all-pairs"}


def test_make_run_serves_2_3_first_and_builds_the_rest_in_the_background():
    """In `make run` the server starts right after the 2-vs-3 and toy bundles; the network and the
    other pairs come from one background command, after which the recipe's last line serves."""
    recipe = make_run_recipe()
    lines = [line.strip() for line in recipe.splitlines()]
    assert lines[-1].startswith("$(BIN)/tilting serve")
    foreground = [line for line in lines if line.startswith("@") and "tilting precompute" in line]
    assert [precompute_options(line) for line in foreground] == [{"--pair 2 3"}, {"--toy"}]
    background = recipe[recipe.index("sh -c '"): recipe.index("echo $$! >$(BUILD_PID)")]
    assert precompute_options(background) == {"--network", "--all-pairs"}
    assert background.rstrip(" \t\\\n").endswith(">>$(BUILD_LOG) 2>&1 </dev/null &")  # in the background
