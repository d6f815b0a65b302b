"""The JSON API under /api: experiments, models, arrays, gallery images, analysis."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from backend.models import (
    AnalyzeRequest,
    AnalyzeResponse,
    ErrorBody,
    ExperimentDetail,
    ExperimentList,
    GalleryImage,
    ModelDetail,
)
from backend.store import Experiment, Payload, Store
from precompute import geometry as geo

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
ERRORS = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
# Routes that only look up precomputed bytes are `async def`: they never block, and
# skipping the thread pool more than halves their cost per request.

ARRAY_RESPONSES = {
    200: {
        "description": "`NAME.bin`: the array's raw little-endian bytes in C order, its dtype and "
        "shape in the X-Array-Dtype and X-Array-Shape headers. `NAME.f16.bin`: the same "
        "float array as float16. `NAME.json`: {name, dtype, shape, data} with inf as null.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {"schema": {"type": "object"}}},
    },
    304: {"description": "Not modified (If-None-Match matched the ETag)."},
}

router = APIRouter(prefix="/api", tags=["experiments"], responses=ERRORS)


def header_value(headers, name: str) -> str | None:
    """All of a request header's lines joined by commas (RFC 9110 5.3), or None if absent.

    ``headers``: a Starlette Headers, or an ASGI scope's raw header list."""
    if isinstance(headers, list):
        values = [value.decode("latin-1") for key, value in headers if key == name.encode()]
    else:
        values = headers.getlist(name)
    return ", ".join(values) if values else None


def _qvalue(params: list[str]) -> float | None:
    """The q= weight among a coding's parameters (1 without one); None if it is malformed."""
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return None
            return q if 0.0 <= q <= 1.0 else None
    return 1.0


def use_gzip(accept_encoding: str | None, size: int, threshold: int) -> bool:
    """Whether to send ``size`` bytes gzip'd to a client with this Accept-Encoding (RFC 9110 12.5.3).

    gzip is sent when the client accepts it (``gzip``, ``x-gzip`` or ``*`` with a
    weight above 0) and either the body is over ``threshold`` bytes or the client
    refused identity (``identity;q=0``, or ``*;q=0`` without an identity entry).
    Without the header, or when it refuses every coding we have, the body goes
    as it is: identity is always understood.
    """
    if not accept_encoding:
        return False
    weights = {}
    for item in accept_encoding.split(","):
        coding, *params = item.split(";")
        coding = coding.strip().lower()
        q = _qvalue(params)
        if coding and q is not None:
            weights[coding] = q
    star = weights.get("*")
    gzip_q = weights.get("gzip", weights.get("x-gzip", star if star is not None else 0.0))
    identity_q = weights.get("identity", star)  # None: acceptable, no preference stated
    if gzip_q <= 0:
        return False
    if identity_q is not None and identity_q <= 0:
        return True
    return size > threshold and (identity_q is None or gzip_q >= identity_q)


ENTITY_TAG = re.compile(r'(?:W/)?("[^"]*")')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): ``*``, or any listed tag
    equal to ``etag`` once their ``W/`` prefixes are set aside."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag == wanted for tag in ENTITY_TAG.findall(if_none_match))


GZIP_MIN_BYTES = 512  # below this, gzip saves less than its header and the time it takes


def representation(request_headers, digest: str, size: int) -> tuple[str, bool, bool]:
    """What a client gets of a body of ``size`` bytes whose SHA-256 is ``digest``:
    its strong ETag, whether it goes gzip'd, and whether the client has it already (304).

    One policy for every response: precomputed payloads (``payload_response``) and
    those computed per request (``backend.app.ComputedResponses``).
    """
    gzip_ok = use_gzip(header_value(request_headers, "accept-encoding"), size, GZIP_MIN_BYTES)
    # gzip and identity bytes are two representations: each has its own strong tag.
    etag = f'"{digest}-gz"' if gzip_ok else f'"{digest}"'
    return etag, gzip_ok, etag_matches(header_value(request_headers, "if-none-match"), etag)


def payload_response(request: Request, payload: Payload, cache_control: str) -> Response:
    """The payload, gzip'd when accepted, or 304 when the client has it already."""
    etag, gzip_ok, fresh = representation(request.headers, payload.etag.strip('"'), len(payload.body))
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding", **payload.headers}
    if fresh:
        return Response(status_code=304, headers=headers)
    if gzip_ok:
        headers["Content-Encoding"] = "gzip"
        return Response(payload.gzipped, media_type=payload.media_type, headers=headers)
    return Response(payload.body, media_type=payload.media_type, headers=headers)


def store(request: Request) -> Store:
    return request.app.state.store


def _lookup(bundles: dict, key: str, noun: str, how_to_build: str) -> Experiment:
    if key not in bundles:
        known = ", ".join(bundles) or f"none (run `{how_to_build}`)"
        raise HTTPException(404, f"Unknown {noun} {key!r}; available: {known}.")
    return bundles[key]


def experiment(request: Request, exp_id: str) -> Experiment:
    return _lookup(store(request).experiments, exp_id, "experiment", "tilting precompute")


def figure(request: Request, fig_id: str) -> Experiment:
    return _lookup(store(request).figures, fig_id, "figure data", "tilting precompute --network` or `--toy")


def model_index(exp: Experiment, k: int | None) -> int:
    count = len(exp.models)
    if k is None:
        return count // 2
    if not 0 <= k < count:
        raise HTTPException(404, f"Experiment {exp.id} has models 0..{count - 1}; there is no model {k}.")
    return k


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


def array_response(request: Request, exp: Experiment, file: str, v: str | None) -> Response:
    payload = exp.arrays.get(file)
    if payload is None:
        names = ", ".join(sorted(exp.versions))
        raise HTTPException(404, f"No array file {file!r} in {exp.id}; arrays are {names} "
                                 "(as NAME.bin, NAME.f16.bin for floats, or NAME.json).")
    name = file.split(".")[0]
    if v is not None and v != exp.versions[name]:
        raise HTTPException(404, f"Version {v!r} of {file} is gone; the current one is {exp.versions[name]!r}.")
    return payload_response(request, payload, IMMUTABLE if v is not None else REVALIDATE)


@router.get("/experiments", response_model=ExperimentList, summary="List the experiments")
@router.get("/experiments.json", response_model=ExperimentList, include_in_schema=False)
async def list_experiments(request: Request):
    """Every experiment (digit pair) this server has, with its counts and grid."""
    return payload_response(request, store(request).listing_payload, REVALIDATE)


# Decorators register bottom-up: the ".json" alias must come first to match first.
@router.get("/experiments/{exp_id}", response_model=ExperimentDetail, summary="One experiment")
@router.get("/experiments/{exp_id}.json", response_model=ExperimentDetail, include_in_schema=False)
async def get_experiment(request: Request, exp_id: str = Path(examples=["mnist-2-3"])):
    """Metadata, the per-model metrics table (λ, θ, d_adv, errors, ‖w‖, b′, duality gap, …)
    and the URLs of the bulk arrays."""
    return payload_response(request, experiment(request, exp_id).detail_payload, REVALIDATE)


@router.get(
    "/experiments/{exp_id}/arrays/{file}",
    summary="A bulk array (binary or JSON)",
    response_class=Response,
    responses=ARRAY_RESPONSES,
)
async def get_array(
    request: Request,
    exp_id: str = Path(examples=["mnist-2-3"]),
    file: str = Path(description="NAME.bin, NAME.f16.bin or NAME.json", examples=["train_v.f16.bin"]),
    v: str | None = Query(None, max_length=64, description="Content version from the experiment's "
                          "`arrays` table; with it the response is cacheable forever."),
):
    return array_response(request, experiment(request, exp_id), file, v)


@router.get("/experiments/{exp_id}/models/{k}", response_model=ModelDetail, summary="One model")
def get_model(request: Request, exp_id: str = Path(examples=["mnist-2-3"]), k: int = Path(examples=[40])):
    """A model's metrics with its weight vector w and the plane axis n̂."""
    exp = experiment(request, exp_id)
    k = model_index(exp, k)
    metrics = exp.models[k]
    return {
        **metrics,
        "cos_theta": float(np.cos(metrics["theta"])),
        "w": exp.f64("weights")[k].tolist(),
        "normal": exp.f64("normals")[k].tolist(),
    }


@router.get("/experiments/{exp_id}/images/{index}", response_model=GalleryImage, summary="A gallery image")
def get_gallery_image(
    request: Request,
    exp_id: str = Path(examples=["mnist-2-3"]),
    index: int = Path(description="Position in the gallery (gallery_images).", examples=[0]),
    k: int | None = Query(None, description="Model index (default: the middle of the grid)."),
):
    """A test image of the gallery with x_p, x_m and the valid-image minimal adversarial at model k."""
    exp = experiment(request, exp_id)
    images = exp.array("gallery_images")
    if not 0 <= index < len(images):
        raise HTTPException(404, f"The gallery of {exp_id} has images 0..{len(images) - 1}; there is no {index}.")
    k = model_index(exp, k)
    y = int(exp.array("gallery_y")[index])
    return {
        "index": index,
        "digit": exp.bundle.manifest["digits"][0 if y < 0 else 1],
        "y": y,
        "test_index": int(exp.array("gallery_index")[index]),
        "k": k,
        "log10_lambda": exp.models[k]["log10_lambda"],
        **image_set(exp, exp.f64("gallery_images")[index], k),
    }


@router.post(
    "/experiments/{exp_id}/analyze",
    response_model=AnalyzeResponse,
    summary="Analyse an image",
    responses={413: {"model": ErrorBody}},
)
def analyze(request: Request, body: AnalyzeRequest, exp_id: str = Path(examples=["mnist-2-3"])):
    """Any image (pixels in [0, 1]) through every model: score, signed distance, prediction and
    plane coordinates; plus x_p, x_m and the valid-image adversarial at model k."""
    exp = experiment(request, exp_id)
    side = exp.bundle.manifest["dataset"]["image_side"]
    if len(body.image) != side * side:
        raise HTTPException(422, f"image has {len(body.image)} pixels; {exp_id} needs {side}×{side} = {side * side}.")
    k = model_index(exp, body.k)
    x = np.asarray(body.image, dtype=np.float64)
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


FILE_DOC = Path(description="NAME.bin, NAME.f16.bin or NAME.json", examples=["originals.bin"])
VERSION_DOC = Query(None, max_length=64, description="Content version from the `arrays` table.")


@router.get("/figures", summary="List the figures' data bundles", tags=["figures"],
            response_model=dict[str, list[dict[str, str]]])
@router.get("/figures.json", include_in_schema=False, response_model=dict[str, list[dict[str, str]]])
async def list_figures(request: Request):
    """The data bundles of single figures that this server has (id, kind, title)."""
    return payload_response(request, store(request).figures_payload, REVALIDATE)


@router.get("/figures/{fig_id}", summary="Data of a single figure", tags=["figures"],
            response_model=dict[str, Any])
@router.get("/figures/{fig_id}.json", include_in_schema=False, response_model=dict[str, Any])
async def get_figure(request: Request, fig_id: str = Path(examples=["network-mnist"])):
    """The manifest of a figure's data bundle (`network-mnist`: the small network and its
    targeted adversarial examples; `toy`: the toy problem's SVM path), with its arrays' URLs."""
    return payload_response(request, figure(request, fig_id).detail_payload, REVALIDATE)


@router.get("/figures/{fig_id}/arrays/{file}", summary="An array of a figure's data", tags=["figures"],
            response_class=Response, responses=ARRAY_RESPONSES)
async def get_figure_array(request: Request, fig_id: str = Path(examples=["network-mnist"]),
                     file: str = FILE_DOC, v: str | None = VERSION_DOC):
    return array_response(request, figure(request, fig_id), file, v)
