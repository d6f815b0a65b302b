"""Typed dependencies: the store, and the experiment, figure data and model a URL names.

Each lookup answers 404 with one sentence naming what exists. They are
``async``: they only read dictionaries, and FastAPI would otherwise run each
in a worker thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request

from tilting.backend.store import Experiment, Store

EXAMPLE_EXPERIMENT = "mnist-2-3"
EXAMPLE_FIGURE = "network-mnist"


async def get_store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]


def lookup(store: Store, section: str, key: str) -> Experiment:
    """The experiment or figure data ``key`` of ``section``, looking for bundles that landed
    since the last look; 404 naming what there is otherwise."""
    found = store.find(section, key)
    if found is None:
        if section == "experiments":
            noun, build = "experiment", "tilting precompute"
        else:
            noun, build = "figure data", "tilting precompute --network` or `--toy"
        table = store.experiments if section == "experiments" else store.figures
        known = ", ".join(table) or f"none (run `{build}`)"
        raise HTTPException(404, f"Unknown {noun} {key!r}; available: {known}.")
    return found


async def get_experiment(store: StoreDep,
                         exp_id: Annotated[str, Path(examples=[EXAMPLE_EXPERIMENT])]) -> Experiment:
    return lookup(store, "experiments", exp_id)


async def get_figure(store: StoreDep, fig_id: Annotated[str, Path(examples=[EXAMPLE_FIGURE])]) -> Experiment:
    return lookup(store, "figures", fig_id)


ExperimentDep = Annotated[Experiment, Depends(get_experiment)]
FigureDep = Annotated[Experiment, Depends(get_figure)]


def model_index(exp: Experiment, k: int | None) -> int:
    """``k`` if the experiment has such a model (404 otherwise); the middle of the grid for None."""
    count = len(exp.models)
    if k is None:
        return count // 2
    if not 0 <= k < count:
        raise HTTPException(404, f"Experiment {exp.id} has models 0..{count - 1}; there is no model {k}.")
    return k


async def path_model(exp: ExperimentDep, k: Annotated[int, Path(examples=[40])]) -> int:
    return model_index(exp, k)


async def query_model(exp: ExperimentDep, k: Annotated[int | None, Query(
        description="Model index (default: the middle of the grid).")] = None) -> int:
    return model_index(exp, k)


PathModel = Annotated[int, Depends(path_model)]
QueryModel = Annotated[int, Depends(query_model)]
