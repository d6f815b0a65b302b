"""Fixtures for the story figures' browser tests (network, toy, 3-D tilt, loss scaling)."""

import json
import urllib.request

import numpy as np
import pytest


@pytest.fixture(scope="session")
def story_server(browser_server):
    """The same sites as the other browser tests (conftest.browser_artifacts builds the tiny
    network and the toy bundles too): `tilting serve`, then the static export."""
    return browser_server


def get_json(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.load(r)


def get_array(base, info):
    with urllib.request.urlopen(base + "api/" + info["url"], timeout=10) as r:
        dtype = {"float32": "<f4", "float64": "<f8", "int32": "<i4", "int8": "i1"}[info["dtype"]]
        return np.frombuffer(r.read(), dtype=dtype).reshape(info["shape"])
