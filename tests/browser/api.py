"""Reading the API the way the tests' independent checks need it: JSON and typed arrays."""

import json
import urllib.request

import numpy as np


def api(base, path):
    with urllib.request.urlopen(base + "api/" + path) as r:
        return json.loads(r.read())


def api_array(base, manifest, name):
    info = manifest["arrays"][name]
    with urllib.request.urlopen(base + "api/" + info["url"]) as r:
        data = np.frombuffer(r.read(), dtype=np.dtype(info["dtype"]))
    return data.reshape(info["shape"])
