"""/api/experiments/{id}/models/{k} and /images/{index}: computed per request from a model."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, HTTPException, Path

from tilting.backend.deps import ExperimentDep, PathModel, QueryModel
from tilting.backend.images import image_set
from tilting.backend.models import GalleryImage, ModelDetail
from tilting.backend.routes.experiments import ERRORS

router = APIRouter(prefix="/api", tags=["experiments"], responses=ERRORS)


@router.get("/experiments/{exp_id}/models/{k}", response_model=ModelDetail, summary="One model")
def get_model(exp: ExperimentDep, k: PathModel):
    """A model's metrics with its weight vector w and the plane axis n̂."""
    metrics = exp.models[k]
    return {
        **metrics,
        "cos_theta": float(np.cos(metrics["theta"])),
        "w": exp.f64("weights")[k].tolist(),
        "normal": exp.f64("normals")[k].tolist(),
    }


@router.get("/experiments/{exp_id}/images/{index}", response_model=GalleryImage, summary="A gallery image")
def get_gallery_image(
    exp: ExperimentDep,
    index: Annotated[int, Path(description="Position in the gallery (gallery_images).", examples=[0])],
    k: QueryModel,
):
    """A test image of the gallery with x_p, x_m and the valid-image minimal adversarial at model k."""
    images = exp.array("gallery_images")
    if not 0 <= index < len(images):
        raise HTTPException(404, f"The gallery of {exp.id} has images 0..{len(images) - 1}; there is no {index}.")
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
