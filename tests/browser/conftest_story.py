"""A server for the story figures' browser tests: a small real 2-vs-3 bundle, a tiny
network bundle (few images, small network, short attacks, so some attacks honestly fail)
and the toy bundle, served by the real backend."""

import subprocess
import urllib.request
import json

import numpy as np
import pytest

from tests.browser.conftest import ROOT, _free_port, _server_command, _wait_for


@pytest.fixture(scope="session")
def story_server(tmp_path_factory, mnist):
    from precompute import network as net
    from precompute import toy
    from precompute.artifacts import write_bundle
    from precompute.data import Digits
    from precompute.experiment import build_experiment

    root = tmp_path_factory.mktemp("story-artifacts")
    manifest, arrays = build_experiment(mnist, 2, 3, np.arange(-6.0, 2.01, 0.5), per_class=300)
    write_bundle(root, "mnist-2-3", manifest, arrays)
    small = Digits(train_images=mnist.train_images[:2000], train_labels=mnist.train_labels[:2000],
                   test_images=mnist.test_images, test_labels=mnist.test_labels,
                   name=mnist.name, side=mnist.side, source=mnist.source, checksums=mnist.checksums)
    manifest, arrays = net.build_network_experiment(small, alphas=(1e-4, 1.0), hidden=32, epochs=5,
                                                    attack_options={"max_steps": 60})
    write_bundle(root, net.EXPERIMENT_ID, manifest, arrays)
    manifest, arrays = toy.build_toy_experiment()
    write_bundle(root, toy.EXPERIMENT_ID, manifest, arrays)
    port = _free_port()
    proc = subprocess.Popen(_server_command(root, port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        base = f"http://127.0.0.1:{port}/"
        _wait_for(base + "api/experiments.json", proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def get_json(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.load(r)


def get_array(base, info):
    with urllib.request.urlopen(base + "api/" + info["url"], timeout=10) as r:
        dtype = {"float32": "<f4", "float64": "<f8", "int32": "<i4", "int8": "i1"}[info["dtype"]]
        return np.frombuffer(r.read(), dtype=dtype).reshape(info["shape"])
