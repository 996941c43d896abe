"""Typed FastAPI dependencies: what a route needs, taken from ``app.state`` (filled by the lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from service.answering import Answerer
from service.observability import Metrics
from service.readiness import Readiness
from service.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_answerer(request: Request) -> Answerer:
    """The answerer, once ready (a process that is not ready tries loading again, at most every few seconds)."""
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    if readiness is None:
        raise HTTPException(status_code=503, detail="models or index still loading; retry shortly")
    if not readiness.check():
        raise HTTPException(status_code=503, detail=f"not ready: {readiness.error}")
    return readiness.answerer


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]
