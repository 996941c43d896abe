"""Typed FastAPI dependencies: what a route needs, taken from ``app.state`` (filled by the lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from service.api.admission import Admission
from service.api.observability import Metrics
from service.api.readiness import RETRY_S, Readiness
from service.backends.settings import Settings
from service.pipeline.answering import Answerer


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_answerer(request: Request) -> Answerer:
    """The answerer, once ready (a process that is not ready tries loading again, at most every few seconds, in a
    worker thread). Dependencies are async: a ready server answers, or refuses, without a thread hop."""
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    retry = {"Retry-After": str(int(RETRY_S))}
    if readiness is None:
        raise HTTPException(status_code=503, detail="models or index still loading; retry shortly", headers=retry)
    if not readiness.ready and not await run_in_threadpool(readiness.check):
        raise HTTPException(status_code=503, detail=f"not ready: {readiness.error}", headers=retry)
    return readiness.answerer


async def get_admission(request: Request) -> Admission:
    admission: Admission = request.app.state.admission
    return admission


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]
AdmissionDep = Annotated[Admission, Depends(get_admission)]
