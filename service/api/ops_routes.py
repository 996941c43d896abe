"""Operations routes: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.deps import MetricsDep
from service.api.readiness import UNAVAILABLE, Readiness, public_reason
from service.api.schemas import Health, Ready

router = APIRouter(tags=["ops"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness: the process is up."""
    return Health(status="ok")


@router.get("/ready", response_model=Ready, responses={503: {"model": Ready}})
def ready(request: Request) -> Ready:
    """Readiness: index loaded and models warm. Reports the index version this process serves now."""
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    if readiness is None or not readiness.check():
        detail = readiness.error if readiness else "loading"
        raise HTTPException(status_code=503, detail=Ready(ready=False, detail=detail).model_dump())
    a = readiness.answerer
    try:
        manifest = a.retriever.manifest
    except UNAVAILABLE as exc:
        body = Ready(ready=False, detail=public_reason(exc)).model_dump()
        raise HTTPException(status_code=503, detail=body) from exc
    return Ready(
        ready=True,
        index_version=manifest.version,
        indexed_at=manifest.created_at,
        chunks=manifest.chunk_count,
        embedder=manifest.embedder_name,
        generator=a.generator.name,
        answerability=a.answerability_source,
        reader=f"{a.retriever.reader_name()} embedder; unit reader "
        f"{'trained by calibrate on this index' if manifest.reader else 'shipped default'}",
    )


@router.get("/metrics", response_class=Response)
def metrics(request: Request, metrics: MetricsDep) -> Response:
    """Prometheus text format: requests and latency per route, retrieval and generation time, abstentions,
    generator failures, index version, model load time."""
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    if readiness is not None and readiness.ready:
        try:
            manifest = readiness.answerer.retriever.manifest
            metrics.set_index(manifest.version, manifest.chunk_count)
        except RuntimeError:
            pass  # the index is unreadable right now; /ready says why
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
