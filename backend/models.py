"""Pydantic models of the API's requests and responses (they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tilting.precompute.schema import Counts, ExperimentFields, ModelRecord

# Strict: JSON numbers only. An int is still a float here (0 and 1 are pixels), but
# true, false and "0.5" are refused rather than read as 1, 0 and 0.5.
Pixel = Annotated[float, Field(strict=True, ge=0.0, le=1.0, allow_inf_nan=False)]


class ErrorBody(BaseModel):
    """Every error: one sentence for people."""

    detail: str = Field(examples=["Unknown experiment 'mnist-2-4'; available: mnist-2-3."])


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    experiments: int = Field(examples=[1])


class ExperimentSummary(BaseModel):
    id: str = Field(examples=["mnist-2-3"])
    title: str = Field(examples=["Digit 2 (I, y = −1) vs digit 3 (J, y = +1)"])
    dataset: str = Field(description="'mnist', or 'sklearn-digits' for the 8×8 fallback.", examples=["mnist"])
    digits: list[int] = Field(description="[I, J]: I has label −1, J label +1.", examples=[[2, 3]])
    counts: Counts
    n_models: int = Field(description="Models on the path (one per log10 λ of the grid).", examples=[81])
    grid_size: int = Field(description="The same as n_models: its older name, kept for existing clients.",
                           examples=[81], deprecated=True)
    log10_lambda_min: float = Field(examples=[-6.0])
    log10_lambda_max: float = Field(examples=[2.0])
    notice: str | None = Field(description="Set when the data is not the real MNIST.", examples=[None])


class ExperimentList(BaseModel):
    experiments: list[ExperimentSummary]


class ArrayInfo(BaseModel):
    dtype: str = Field(examples=["float32"])
    shape: list[int] = Field(examples=[[81, 6000]])
    sha256: str = Field(description="SHA-256 of the raw bytes served at `url`; also their ETag.")
    url: str = Field(description="Raw little-endian bytes, relative to /api/.",
                     examples=["experiments/mnist-2-3/arrays/train_v.bin?v=759578d3130e188b"])
    url_json: str
    url_f16: str | None = Field(description="The same array as float16, for float arrays.")


class ExperimentDetail(ExperimentFields):
    """A bundle's manifest as the API serves it: the same schema, with array URLs."""

    model_config = ConfigDict(strict=False)

    arrays: dict[str, ArrayInfo]


class ModelDetail(ModelRecord):
    cos_theta: float
    w: list[float] = Field(description="The weight vector, row-major image order.")
    normal: list[float] = Field(description="n̂, the tilting plane's second axis.")


class ImageSet(BaseModel):
    """An image and what model k makes of it."""

    image: list[float]
    projected: list[float] = Field(description="x_p = x − d(x)ŵ: on the boundary.")
    mirror: list[float] = Field(description="x_m = x − 2d(x)ŵ: as confident, on the other side.")
    adversarial: list[float] | None = Field(
        description="The smallest change keeping pixels in [0, 1] that crosses the boundary; "
        "null when none exists."
    )
    scores: dict[str, float | None] = Field(description="w·x + b of original, projected, mirror, adversarial.")
    distances: dict[str, float | None] = Field(
        description="to_boundary (signed d(x)), mirror (‖x_m − x‖), adversarial (‖x_adv − x‖)."
    )
    predicted: dict[str, int | None] = Field(description="The digit the model predicts for each.")


class GalleryImage(ImageSet):
    index: int
    digit: int
    y: int
    test_index: int = Field(description="Position in the MNIST test file.")
    k: int
    log10_lambda: float


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"image": [0.0] * 784, "k": 40}]})

    image: list[Pixel] = Field(description="The image's pixels in [0, 1], row by row (784 for MNIST).",
                               max_length=4096)
    k: StrictInt | None = Field(None, description="Model for the adversarial images (default: mid-grid).")


class PerModel(BaseModel):
    score: list[float]
    distance: list[float]
    predicted: list[int]
    v: list[float] = Field(description="Plane coordinate along each model's n̂.")


class AnalyzeResponse(ImageSet):
    k: int
    u: float = Field(description="Plane coordinate along ẑ (the same for every model).")
    models: PerModel
