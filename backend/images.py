"""The per-request maths of the API: an image through a model (x_p, x_m, the valid-image adversarial)."""

from __future__ import annotations

import numpy as np

from tilting.backend.store import Experiment
from tilting.precompute import geometry as geo


def model_params(exp: Experiment, k: int):
    return exp.f64("weights")[k], float(exp.array("intercepts")[k])


def digit_of(exp: Experiment, score: float) -> int:
    return exp.bundle.manifest["digits"][1 if score > 0 else 0]


def image_set(exp: Experiment, x: np.ndarray, k: int) -> dict:
    """x, x_p, x_m and the valid-image adversarial at model k, with scores and distances."""
    w, b = model_params(exp, k)
    norm = float(np.linalg.norm(w))
    projected = geo.projected_image(x[None], w, b)[0]
    mirror = geo.mirror_image(x[None], w, b)[0]
    adversarial, adv_distance = geo.box_adversarial(x, w, b)
    exists = bool(np.isfinite(adv_distance))
    score = float(x @ w + b)
    scores = {
        "original": score,
        "projected": float(projected @ w + b),
        "mirror": float(mirror @ w + b),
        "adversarial": float(adversarial @ w + b) if exists else None,
    }
    return {
        "image": x.tolist(),
        "projected": projected.tolist(),
        "mirror": mirror.tolist(),
        "adversarial": adversarial.tolist() if exists else None,
        "scores": scores,
        "distances": {
            "to_boundary": score / norm,
            "mirror": float(np.linalg.norm(mirror - x)),
            "adversarial": float(adv_distance) if exists else None,
        },
        "predicted": {
            "original": digit_of(exp, score),
            "mirror": digit_of(exp, scores["mirror"]),
            "adversarial": digit_of(exp, scores["adversarial"]) if exists else None,
        },
    }


def analysis(exp: Experiment, x: np.ndarray, k: int) -> dict:
    """Any image through every model (score, distance, prediction, plane coordinates), and
    its image set at model k."""
    weights = exp.f64("weights")
    scores = weights @ x + exp.array("intercepts")
    centred = x - exp.f64("centroids").mean(axis=0)
    digits = exp.bundle.manifest["digits"]
    return {
        "k": k,
        "u": float(centred @ exp.array("z_hat")),
        "models": {
            "score": scores.tolist(),
            "distance": (scores / np.linalg.norm(weights, axis=1)).tolist(),
            "predicted": [digits[1] if s > 0 else digits[0] for s in scores],
            "v": (exp.f64("normals") @ centred).tolist(),
        },
        **image_set(exp, x, k),
    }
