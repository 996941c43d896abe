"""Typed FastAPI dependencies: what a route needs, taken from ``app.state`` (filled by the lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from service.answering import Answerer
from service.observability import Metrics
from service.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_answerer(request: Request) -> Answerer:
    answerer: Answerer | None = getattr(request.app.state, "answerer", None)
    if answerer is None or not getattr(request.app.state, "ready", False):
        raise HTTPException(status_code=503, detail="models or index still loading; retry shortly")
    return answerer


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]
