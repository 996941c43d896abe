"""The chat page (``GET /``) and the one-tag embed script (``GET /widget.js``), served from ``service/api/static``."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

# The page loads only its own script and talks only to its own origin; inline handlers and scripts never run,
# a second line of defence behind the widget's text-only rendering.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def _static(name: str) -> str:
    """Package data, fixed for the life of the process: read once."""
    return (files("service.api") / "static" / name).read_text(encoding="utf-8")


def add_widget_routes(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def chat_page() -> HTMLResponse:
        return HTMLResponse(
            _static("index.html"),
            headers={"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff"},
        )

    @app.get("/widget.js", include_in_schema=False)
    def widget_script() -> Response:
        """Any page may load the script (a <script> tag needs no CORS); its API calls are what CORS governs."""
        return Response(
            _static("widget.js"),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )
