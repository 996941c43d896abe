"""Who may call the API and how often: API keys, trusted Host names, per-client rate limits, and the rule that
a server reachable from other machines needs keys.

Keys are kept only as SHA-256 digests and compared in constant time; a key is never logged or echoed. Requests
to public paths (health, readiness, metrics, docs) and the widget's page and script need no key: the widget asks
for one (or takes ``data-api-key``) and sends it on its API calls.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.rate_limit import RateLimiter
from service.backends.settings import Settings

STATIC_PATHS = frozenset({"/", "/widget.js", "/favicon.ico"})
ANSWER_PATHS = frozenset({"/ask", "/ask/stream", "/v1/chat/completions"})  # the routes that queue for the model
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


class InsecureExposure(ValueError):
    """Serving on a non-loopback address without API keys (and without --insecure-no-auth)."""


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRing:
    """The accepted keys, as digests. ``load`` reads the keys file (done by the app's lifespan, not here)."""

    def __init__(self, settings: Settings) -> None:
        self.file = settings.api_keys_file
        self._digests = [_digest_of(hash_key(k.get_secret_value())) for k in settings.api_keys]
        self.required = bool(self._digests) or self.file is not None  # a configured file that fails: fail closed

    def load(self) -> None:
        if self.file is None:
            return
        try:
            lines = self.file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InsecureExposure(f"API keys file {self.file}: {exc.strerror or exc}") from exc
        entries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if not entries:
            raise InsecureExposure(f"API keys file {self.file} holds no keys")
        self._digests += [_digest_of(e if e.startswith("sha256:") else hash_key(e)) for e in entries]

    def identify(self, token: str) -> str | None:
        """The key's id (a digest prefix, safe to log and to rate-limit by) when ``token`` is a valid key."""
        offered = hashlib.sha256(token.encode("utf-8")).digest()
        found = None
        for digest in self._digests:  # every digest is compared: the time taken does not say which matched
            if hmac.compare_digest(offered, digest):
                found = digest
        return f"key:{found.hex()[:12]}" if found is not None else None


def _digest_of(entry: str) -> bytes:
    hexdigest = entry.removeprefix("sha256:")
    try:
        digest = bytes.fromhex(hexdigest)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise InsecureExposure("an API key entry `sha256:...` must hold a 64-digit hex digest")
    return digest


def is_loopback(host: str) -> bool:
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """Refuse to serve beyond this machine without keys, unless the operator says so explicitly."""
    if is_loopback(settings.host) or settings.api_keys or settings.api_keys_file or settings.insecure_no_auth:
        return
    raise InsecureExposure(
        f"refusing to serve on {settings.host} without API keys: anyone who can reach the port could read your "
        "notes. Set NOTES_QA_API_KEYS (or NOTES_QA_API_KEYS_FILE), serve on 127.0.0.1, or pass --insecure-no-auth"
    )


def allowed_hosts(settings: Settings) -> list[str]:
    """Host header values served: loopback names, the bound address, and the configured extras."""
    hosts = [*LOOPBACK_NAMES, *settings.trusted_hosts]
    if settings.host not in ("0.0.0.0", "::", ""):
        hosts.append(settings.host)
    return list(dict.fromkeys(hosts))


def host_name(header: str) -> str:
    """The name part of a Host header: ``[::1]:8000`` → ``[::1]``, ``localhost:8000`` → ``localhost``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware: the Host check (every path); then, for every non-public path, the API key and the
    per-client rate limit; then, for the answer routes, an early 503 when the answer queue is already full (the
    route's own ``Admission.reserve`` decides; this only spares reading and parsing a body to say no)."""

    def __init__(self, app: ASGIApp, settings: Settings, keys: KeyRing) -> None:
        self.app = app
        self.keys = keys
        self.hosts = None if "*" in settings.trusted_hosts else frozenset(h.lower() for h in allowed_hosts(settings))
        self.public = frozenset(settings.public_paths) | STATIC_PATHS
        self.limiter = RateLimiter(settings.rate_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and self.hosts is not None:
            host = host_name(_header(scope["headers"], b"host") or "")
            if host not in self.hosts:  # DNS rebinding: a foreign page whose name resolves to this machine
                message = f"Host {host[:100]!r} is not served here; add it to NOTES_QA_TRUSTED_HOSTS if it should be"
                await _refuse(send, path, 400, message, "untrusted_host", {})
                return
        if scope["type"] != "http" or path in self.public or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        identity = f"ip:{client[0]}" if client else "ip:unknown"
        if self.keys.required:
            token = _bearer(_header(scope["headers"], b"authorization"))
            key_id = self.keys.identify(token) if token else None
            if key_id is None:
                message = "invalid API key" if token else "missing API key: send `Authorization: Bearer <key>`"
                challenge = 'Bearer realm="notes-qa"' + (', error="invalid_token"' if token else "")
                await _refuse(send, path, 401, message, "invalid_api_key", {"www-authenticate": challenge})
                return
            identity = key_id
        retry = self.limiter.hit(identity)
        if retry is not None:
            message = f"rate limit exceeded ({self.limiter.description}); retry in {retry} s"
            await _refuse(send, path, 429, message, "rate_limit_exceeded", {"retry-after": str(retry)})
            return
        answering = path in ANSWER_PATHS and scope.get("method") == "POST"
        admission = getattr(scope["app"].state, "admission", None) if answering else None
        busy = admission.busy() if admission is not None else None
        if busy is not None:  # refused before the body is even read: a full queue stays cheap to say no to
            retry_after = {"retry-after": str(busy.retry_after)}
            await _refuse(send, path, 503, str(busy), "busy", retry_after, detail={"reason": str(busy), "sources": []})
            return
        await self.app(scope, receive, send)


def _header(headers: Iterable[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return None


def _bearer(value: str | None) -> str | None:
    scheme, _, token = (value or "").strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


async def _refuse(
    send: Send, path: str, status: int, message: str, code: str, headers: dict[str, str], detail: Any = None
) -> None:
    """An error in the route family's shape: OpenAI's under /v1, FastAPI's ``{"detail"}`` elsewhere."""
    type_ = "server_error" if status >= 500 else "invalid_request_error"
    body: dict[str, Any] = (
        {"error": {"message": message, "type": type_, "param": None, "code": code}}
        if path.startswith("/v1/")
        else {"detail": message if detail is None else detail}
    )
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
