"""/api/experiments: the list, one experiment's metadata, and its bulk arrays.

These answer with precomputed payloads only; ``tilting.backend.fastpath`` answers the
same URLs before routing when it can (and these routes are its fallback, and
what the OpenAPI schema documents).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from tilting.backend.deps import ExperimentDep, StoreDep
from tilting.backend.models import ErrorBody, ExperimentDetail, ExperimentList
from tilting.backend.representation import IMMUTABLE, REVALIDATE, payload_response
from tilting.backend.store import Experiment, Payload

ERRORS = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
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
ArrayFile = Annotated[str, Path(description="NAME.bin, NAME.f16.bin or NAME.json", examples=["train_v.f16.bin"])]
ArrayVersion = Annotated[str | None, Query(max_length=64, description="Content version from the experiment's "
                                           "`arrays` table; with it the response is cacheable forever.")]

router = APIRouter(prefix="/api", tags=["experiments"], responses=ERRORS)


def array_payload(exp: Experiment, previous: Experiment | None, file: str, v: str | None) -> tuple[Payload, str]:
    """An array file's payload and Cache-Control; 404 with one sentence when there is none.

    ``v`` names a content version: the current one, or the version this id
    served before its bundle was replaced (``previous``), whose URLs pages
    that read the old metadata still hold."""
    if file not in exp.arrays:
        names = ", ".join(sorted(exp.versions))
        raise HTTPException(404, f"No array file {file!r} in {exp.id}; arrays are {names} "
                                 "(as NAME.bin, NAME.f16.bin for floats, or NAME.json).")
    if v is None:
        return exp.arrays[file], REVALIDATE
    name = file.split(".")[0]
    for holder in (exp, previous):
        if holder is not None and file in holder.arrays and holder.versions[name] == v:
            return holder.arrays[file], IMMUTABLE
    raise HTTPException(404, f"Version {v!r} of {file} is gone; the current one is {exp.versions[name]!r}.")


def array_response(request: Request, store, exp: Experiment, file: str, v: str | None) -> Response:
    payload, cache = array_payload(exp, store.previous.get(exp.id), file, v)
    return payload_response(request, payload, cache)


@router.get("/experiments", response_model=ExperimentList, summary="List the experiments")
@router.get("/experiments.json", response_model=ExperimentList, include_in_schema=False)
async def list_experiments(request: Request, store: StoreDep):
    """Every experiment (digit pair) this server has, with its counts and grid. Bundles that
    land in the artifacts folder while the server runs appear here within a second."""
    store.refresh()
    return payload_response(request, store.listing_payload, REVALIDATE)


# Decorators register bottom-up: the ".json" alias must come first to match first.
@router.get("/experiments/{exp_id}", response_model=ExperimentDetail, summary="One experiment")
@router.get("/experiments/{exp_id}.json", response_model=ExperimentDetail, include_in_schema=False)
async def get_experiment(request: Request, exp: ExperimentDep):
    """Metadata, the per-model metrics table (λ, θ, d_adv, errors, ‖w‖, b′, duality gap, …)
    and the URLs of the bulk arrays."""
    return payload_response(request, exp.detail_payload, REVALIDATE)


@router.get("/experiments/{exp_id}/arrays/{file}", summary="A bulk array (binary or JSON)",
            response_class=Response, responses=ARRAY_RESPONSES)
async def get_array(request: Request, store: StoreDep, exp: ExperimentDep, file: ArrayFile,
                    v: ArrayVersion = None):
    return array_response(request, store, exp, file, v)
