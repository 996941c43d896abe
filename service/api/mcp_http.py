"""The MCP server on the HTTP service: ``/mcp``, the SDK's streamable HTTP transport, inside the same app.

It sits behind the app's middleware like every other route: the Host check, API keys (``Authorization: Bearer``),
the per-client rate limit (each HTTP request to ``/mcp`` counts) and the body limit (413 before parsing). The SDK's
own checks are set to the same policy (Host names; ``Origin``: loopback, the bound address, trusted hosts and
``NOTES_QA_CORS_ORIGINS``). Stateless: every request stands alone (progress notifications stream back on the
request's own response), so ``serve --workers N`` needs no sticky sessions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from service.api.mcp_server import NotesServer, Runtime, build_server
from service.api.security import allowed_hosts
from service.backends.settings import Settings

MCP_PATH = "/mcp"


class McpEndpoint:
    """``routes`` go into the app; ``running(app.state)`` goes in its lifespan, after the models are loaded."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._state: Any = None
        self.server: NotesServer = build_server(Runtime(settings, lambda: self._state))
        self.routes = [Route(MCP_PATH, endpoint=self, methods=["GET", "POST", "DELETE"], name="mcp")]
        self._manager: Any = None

    @asynccontextmanager
    async def running(self, state: Any) -> AsyncIterator[None]:
        """Serve ``/mcp`` with the tools reading ``state``. A session manager runs once: each run makes its own."""
        self._state = state
        self.server.streamable_http_app(  # (the returned app is not used: its route is ours)
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            max_request_body_size=self.settings.max_body_bytes,
            transport_security=transport_security(self.settings),
        )
        self._manager = self.server.session_manager
        async with self._manager.run():
            yield
        self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The route's ASGI app: the running session manager answers."""
        if self._manager is None:
            raise RuntimeError("the MCP endpoint is not running (the app's lifespan did not start it)")
        await self._manager.handle_request(scope, receive, send)


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """The SDK's Host/Origin checks with the service's policy (the ``Guard`` middleware checks Host first)."""
    if "*" in settings.trusted_hosts or "*" in settings.cors_origins:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = allowed_hosts(settings)
    origins = [f"{scheme}://{host}{port}" for host in hosts for scheme in ("http", "https") for port in ("", ":*")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[name for host in hosts for name in (host, f"{host}:*")],
        allowed_origins=[*settings.cors_origins, *origins],
    )
