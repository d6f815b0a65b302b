"""/api/figures: the data bundles of single figures (the network, the toy problem)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tilting.backend.deps import FigureDep, StoreDep
from tilting.backend.representation import REVALIDATE, payload_response
from tilting.backend.routes.experiments import ARRAY_RESPONSES, ERRORS, ArrayFile, ArrayVersion, array_response

router = APIRouter(prefix="/api", tags=["figures"], responses=ERRORS)
Listing = dict[str, list[dict[str, str]]]


@router.get("/figures", summary="List the figures' data bundles", response_model=Listing)
@router.get("/figures.json", include_in_schema=False, response_model=Listing)
async def list_figures(request: Request, store: StoreDep):
    """The data bundles of single figures that this server has (id, kind, title)."""
    store.refresh()
    return payload_response(request, store.figures_payload, REVALIDATE)


@router.get("/figures/{fig_id}", summary="Data of a single figure", response_model=dict[str, Any])
@router.get("/figures/{fig_id}.json", include_in_schema=False, response_model=dict[str, Any])
async def get_figure(request: Request, fig: FigureDep):
    """The manifest of a figure's data bundle (`network-mnist`: the small network and its
    targeted adversarial examples; `toy`: the toy problem's SVM path), with its arrays' URLs."""
    return payload_response(request, fig.detail_payload, REVALIDATE)


@router.get("/figures/{fig_id}/arrays/{file}", summary="An array of a figure's data",
            response_class=Response, responses=ARRAY_RESPONSES)
async def get_figure_array(request: Request, store: StoreDep, fig: FigureDep, file: ArrayFile,
                           v: ArrayVersion = None):
    return array_response(request, store, fig, file, v)
