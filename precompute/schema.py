"""The bundle manifest as one typed schema: written by precompute, checked on read, documented by the API.

Every key of a manifest is declared here, with its type. Reading a bundle
validates its manifest against these models in strict mode (no string where a
number belongs, no boolean where an integer belongs, no key missing or extra),
then checks what types cannot say: counts that must agree with each other.
The API's OpenAPI schema is built from the same classes (``tilting.backend.models``
imports them), so what a client is promised is what a reader accepts.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

SCHEMA_VERSION = 2
# Little-endian float32/float64, int32 and int8: the dtypes every reader (numpy,
# the API's raw bytes, the browser's typed arrays) agrees on.
ALLOWED_DTYPES = ("<f4", "<f8", "<i4", "|i1")

Dtype = Literal["<f4", "<f8", "<i4", "|i1"]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
FileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+\.npy$")]
ExperimentId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Count = Annotated[int, Field(ge=0)]


class Strict(BaseModel):
    """No coercion and no unknown keys: a damaged manifest fails loudly."""

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


class ArrayEntry(Strict):
    file: FileName
    dtype: Dtype
    shape: list[Count]
    sha256: Sha256


class Counts(Strict):
    train: int = Field(examples=[6000])
    test: int = Field(examples=[2042])
    train_i: int
    train_j: int
    test_i: int
    test_j: int
    features: int = Field(examples=[784])


class Dataset(Strict):
    name: str = Field(description="'mnist', or 'sklearn-digits' for the 8×8 fallback.")
    source: str
    checksums: dict[str, str]
    image_side: int = Field(examples=[28])
    notice: str | None


class Grid(Strict):
    log10_lambda: list[float]
    size: int


class Solver(Strict):
    method: str
    target_relative_gap: float
    max_relative_gap: float


class ModelRecord(Strict):
    """One model of the path; distances are in L2 pixel units."""

    k: int = Field(examples=[40])
    log10_lambda: float = Field(examples=[-2.0])
    lambda_: float = Field(alias="lambda", examples=[0.01])
    theta: float = Field(description="Tilting angle between ŵ and ẑ, radians.")
    theta_deg: float = Field(examples=[45.9])
    w_norm: float
    b: float
    b_prime: float = Field(description="b/‖w‖.")
    bias_low: float = Field(description="Lower end of the optimal bias interval.")
    bias_high: float = Field(
        description="Upper end of the optimal bias interval (b is its point closest to −w·m, m = midpoint of the class means)."
    )
    bias_midpoint: float = Field(
        description="Midpoint of the optimal bias interval: libsvm's (sklearn SVC's) choice, kept for comparison. "
        "Equal to b except where the bias is not unique (large λ); no other number in the bundle uses it."
    )
    boundary_offset: float = Field(description="c in the plane's boundary line cos θ·u + sin θ·v + c = 0.")
    d_adv: float = Field(description="Mean signed distance (1/n) Σ y d(x) of the training set.")
    d_err: float = Field(description="(1/n) Σ over misclassified training points of −y d(x).")
    train_error: float
    test_error: float
    mean_hinge: float
    objective: float = Field(description="Mean hinge + λ‖w‖² at the solution.")
    dual_objective: float
    duality_gap: float
    relative_gap: float
    n_support: int
    n_margin_support: int
    smo_iterations: int
    polished: bool
    normal_inherited: bool = Field(description="True where n̂ was taken from a neighbour (θ ≈ 0).")
    robust_accuracy_1: float = Field(description="Test accuracy against valid-image L2 attacks of size 1.")


class DefaultImage(Strict):
    """One default test image of the explorable (see ``rules.defaults``)."""

    digit: int = Field(examples=[2])
    label: Literal[-1, 1] = Field(description="−1 for class I (image x), +1 for class J (image y).")
    test_position: Count = Field(description="Index into the bundle's test arrays (test_u, test_y, test_box_distance).")
    dataset_index: Count = Field(description="Index of the image in the dataset's test file (as gallery_index).")
    gallery: Count = Field(description="Index into gallery_images, gallery_y and gallery_index.")
    y_d_strongest: float = Field(description="y·d(x) of the image under the most regularized model.")
    y_d_weakest: float = Field(description="y·d(x) of the image under the least regularized model.")
    median_y_d_strongest: float = Field(
        description="Median of y·d(x) under the most regularized model over the class's test images correctly "
        "classified by every model; the default is the candidate nearest it."
    )
    candidates: Count = Field(description="How many test images of the class the rule chose among.")


class Defaults(Strict):
    """The test images the figures show before the reader chooses one, and the rule that chose them."""

    x: DefaultImage
    y: DefaultImage
    rule: str


def _check_models(models: list, size: int) -> None:
    if len(models) != size:
        raise ValueError(f"it lists {len(models)} models but its grid has {size}")
    for position, model in enumerate(models):
        if model.k != position:
            raise ValueError(f"model {position} has k = {model.k}")


class ExperimentFields(Strict):
    """What an SVM-path manifest and the API's experiment detail share."""

    id: ExperimentId
    title: str
    created: str
    build_seconds: float
    dataset: Dataset
    digits: list[int]
    per_class: int | None
    counts: Counts
    grid: Grid
    loss: str
    solver: Solver
    rules: dict[str, str]
    robust_radii: list[float]
    defaults: Defaults = Field(description="The default images x (class I) and y (class J) and the rule that chose them.")
    models: list[ModelRecord]
    software: dict[str, str | None]

    @model_validator(mode="after")
    def _counts_agree(self):
        if self.defaults.x.label != -1 or self.defaults.y.label != 1:
            raise ValueError("its default x must be of class I (label −1) and y of class J (+1)")
        if len(self.grid.log10_lambda) != self.grid.size:
            raise ValueError(f"its grid lists {len(self.grid.log10_lambda)} values but says size {self.grid.size}")
        _check_models(self.models, self.grid.size)
        if len(self.digits) != 2:
            raise ValueError(f"it names {len(self.digits)} digits, not 2")
        return self


class ExperimentManifest(ExperimentFields):
    schema_version: Literal[2]
    arrays: dict[str, ArrayEntry]

    @model_validator(mode="after")
    def _every_model_certified(self):
        # A bundle promises exact models: one whose duality gap is above the solver's
        # target is never written, and never read (whatever wrote it).
        target = self.solver.target_relative_gap
        late = [m for m in self.models if not m.relative_gap <= target]
        if late:
            worst = max(late, key=lambda m: m.relative_gap)
            which = ", ".join(f"{m.log10_lambda:g}" for m in late[:8]) + (", …" if len(late) > 8 else "")
            raise ValueError(
                f"{len(late)} model(s) are not certified (log10 λ = {which}); the worst, at log10 λ = "
                f"{worst.log10_lambda:g}, has relative duality gap {worst.relative_gap:.2g}, above the "
                f"target {target:g}")
        return self


# The network manifest's own layout version (the bundle schema version stays 2): network
# bundles of another layout are refused with a request to rebuild them.
NETWORK_VERSION = 2


class NetworkAttackSummary(Strict):
    """One protocol's 90 targeted attacks on one network; norms are L2, pixel units."""

    attacks: Count
    attacks_reached: Count
    success_rate: float
    median_l2_reached: float | None
    mean_l2_reached: float | None
    min_l2_reached: float | None
    max_l2_reached: float | None
    median_l2_all: float
    median_steps: float
    min_target_probability: float
    next_class_l2: list[float] = Field(description="‖δ‖₂ of digit c pushed towards (c + 1) mod 10, c = 0…9.")
    next_class_reached: Count


class NetworkTiltSummary(Strict):
    """The network's local tilting angle (degrees; see ``rules.tilt``) and linearised distance."""

    median_angle_grid: float = Field(description="Median over the 90 attacked (original, target) pairs.")
    median_angle_adversarial: float | None = Field(description="Median at the adversarial images that reached the target.")
    median_angle_sample: float = Field(description="Median over the test sample and every other class.")
    q25_angle_sample: float
    q75_angle_sample: float
    median_distance_sample: float = Field(description="Median over the sample of the nearest local boundary's linearised distance.")
    median_gradient_norm_sample: float


class NetworkModelRecord(Strict):
    k: int
    weight_decay: float = Field(description="the L2 weight decay: scikit-learn MLPClassifier's `alpha`.")
    test_accuracy: float
    train_accuracy: float
    test_error: float
    train_error: float
    final_training_loss: float
    mean_train_cross_entropy: float
    median_test_score: float = Field(description="Median over the test set of p(true label | x) at temperature 1.")
    temperature: float = Field(description="Softmax temperature that makes the median test score 0.95.")
    training_seconds: float
    weight_norm: float
    rms_weights: list[float] = Field(description="sqrt(mean(W²)) of each layer's weights.")
    attack: NetworkAttackSummary
    attack_calibrated: NetworkAttackSummary
    tilt: NetworkTiltSummary


class NetworkManifest(Strict):
    schema_version: Literal[2]
    id: ExperimentId
    kind: Literal["network"]
    network_version: Literal[2]
    title: str
    created: str
    build_seconds: float
    dataset: Dataset
    digits: list[int]
    counts: dict[str, int]
    grid: dict[str, list[float] | int]
    architecture: dict[str, str | int | bool | list[int]]
    attack: dict[str, float | int | str]
    attack_calibrated: dict[str, float]
    filter_units: list[int]
    rules: dict[str, str]
    original_index: list[int]
    models: list[NetworkModelRecord]
    software: dict[str, str | None]
    arrays: dict[str, ArrayEntry]

    @model_validator(mode="after")
    def _counts_agree(self):
        _check_models(self.models, self.grid.get("size", -1))
        weight_decays = self.grid.get("weight_decay")
        if not isinstance(weight_decays, list) or len(weight_decays) != len(self.models):
            raise ValueError(f"its grid lists {len(weight_decays) if isinstance(weight_decays, list) else 'no'} weight decays "
                             f"for {len(self.models)} networks")
        for model, weight_decay in zip(self.models, weight_decays):
            if model.weight_decay != weight_decay:
                raise ValueError(f"network {model.k} has weight decay {model.weight_decay:g} but the grid says {weight_decay:g}")
        layers = len(self.architecture.get("layers", [])) - 1
        for model in self.models:
            if len(model.rms_weights) != layers:
                raise ValueError(f"network {model.k} lists {len(model.rms_weights)} RMS weights for {layers} layers")
        return self


class ToyModelRecord(Strict):
    k: int
    log10_lambda: float
    lambda_: float = Field(alias="lambda")
    theta: float
    theta_deg: float
    w_norm: float
    b: float
    fits_mislabelled: bool
    train_error: float
    relative_gap: float


class ToyDataset(Strict):
    name: Literal["toy"]
    source: str
    checksums: dict[str, str]
    image_shape: list[int]
    seed: int
    notice: str | None


class ToyManifest(Strict):
    schema_version: Literal[2]
    id: ExperimentId
    kind: Literal["toy"]
    title: str
    created: str
    build_seconds: float
    dataset: ToyDataset
    digits: list[str]
    counts: dict[str, int]
    grid: dict[str, list[float] | int | str]
    loss: str
    mislabelled: dict[str, int | float]
    rules: dict[str, str]
    models: list[ToyModelRecord]
    arrays: dict[str, ArrayEntry]

    @model_validator(mode="after")
    def _counts_agree(self):
        _check_models(self.models, self.grid.get("size", -1))
        return self


MANIFESTS = {None: ExperimentManifest, "network": NetworkManifest, "toy": ToyManifest}


def manifest_problem(manifest) -> str | None:
    """What is wrong with a parsed manifest, as one clause, or None when it is valid.

    Examples
    --------
    >>> manifest_problem({"schema_version": 2, "kind": "film"})
    "its kind is 'film', not one of None, 'network', 'toy'"
    """
    if not isinstance(manifest, dict):
        return f"it is a JSON {type(manifest).__name__}, not an object"
    kind = manifest.get("kind")
    if not isinstance(kind, str | None) or kind not in MANIFESTS:
        return f"its kind is {kind!r}, not one of " + ", ".join(repr(k) for k in MANIFESTS)
    if kind == "network" and manifest.get("network_version") != NETWORK_VERSION:
        return ("it is a network bundle of an older layout (it predates the weight-decay sweep); "
                "rebuild it with `tilting precompute --network`")
    try:
        MANIFESTS[kind].model_validate(manifest)
    except ValidationError as exc:
        return _clause(exc)
    return None


def _clause(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "value_error":  # our own _counts_agree checks
        return str(error["ctx"]["error"])
    if error["type"] == "missing":
        return f"it lacks the key {where!r}"
    if error["type"] == "extra_forbidden":
        return f"it has an unexpected key {where!r}"
    return f"{where or 'it'}: {error['msg'].lower()} (found {_short(error.get('input'))})"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
