"""POST /api/experiments/{id}/analyze: the reader's own image through every model."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, HTTPException

from tilting.backend.deps import ExperimentDep, model_index
from tilting.backend.images import analysis
from tilting.backend.models import AnalyzeRequest, AnalyzeResponse, ErrorBody
from tilting.backend.routes.experiments import ERRORS

router = APIRouter(prefix="/api", tags=["experiments"], responses={**ERRORS, 413: {"model": ErrorBody}})


@router.post("/experiments/{exp_id}/analyze", response_model=AnalyzeResponse, summary="Analyse an image")
def analyze(body: AnalyzeRequest, exp: ExperimentDep):
    """Any image (pixels in [0, 1]) through every model: score, signed distance, prediction and
    plane coordinates; plus x_p, x_m and the valid-image adversarial at model k."""
    side = exp.bundle.manifest["dataset"]["image_side"]
    if len(body.image) != side * side:
        raise HTTPException(422, f"image has {len(body.image)} pixels; {exp.id} needs {side}×{side} = {side * side}.")
    return analysis(exp, np.asarray(body.image, dtype=np.float64), model_index(exp, body.k))
