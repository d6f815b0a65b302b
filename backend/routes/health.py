"""GET /healthz: liveness, for supervisors and the Docker HEALTHCHECK."""

from fastapi import APIRouter

from tilting.backend.deps import StoreDep
from tilting.backend.models import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness", response_model=Health)
async def healthz(store: StoreDep):
    return {"status": "ok", "experiments": len(store.experiments)}
