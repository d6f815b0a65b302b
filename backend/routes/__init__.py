"""One router per resource; ``tilting.backend.app`` includes them in this order (the frontend's
catch-all last, so that every other route matches first)."""

from tilting.backend.routes import analyze, docs, experiments, figures, frontend, health, models

ROUTERS = [health.router, experiments.router, models.router, analyze.router, figures.router, docs.router,
           frontend.router]
