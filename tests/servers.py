"""Helpers for tests that need real servers on loopback, and for the browser tests (Debian's headless Chromium
driven by Playwright).

Playwright's own browser download is never used (`executable_path` points at /usr/bin/chromium, which `.ci/run`
installs). Outside CI a machine without Chromium skips these tests; on CI (CI set) a missing browser fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.conftest import REPO

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots and other browser-test output: git-ignored, kept after the run for a person to look at.
ARTIFACTS = REPO / "test-artifacts"


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


@contextmanager
def launch_chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        _unavailable("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def _unavailable(reason: str) -> Any:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run on CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve_app(app: Any, ready_path: str = "/ready") -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread on a free loopback port; yields its base URL once `ready_path`
    answers 200."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}{ready_path}", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the API did not become ready")
        time.sleep(0.1)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """A plain static file server (another origin, like a user's own site) on a free loopback port."""
    handler = partial(_QuietHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def embed_page(folder: Path, api: str, scope: str | None = None) -> Path:
    """A third-party page that embeds the widget with the README's one tag (and ``data-scope`` when given)."""
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "index.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>My site</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'></head><body>"
        "<h1>My own site</h1><p>It embeds the notes chat.</p>"
        f'<script src="{api}/widget.js" data-endpoint="{api}"'
        + (f' data-scope="{scope}"' if scope else "")
        + "></script></body></html>",
        encoding="utf-8",
    )
    return page


def new_page(browser: Any, **context_options: Any) -> Any:
    """A page in a fresh browser context that records (and dismisses) every dialog in ``page.dialogs``."""
    page = browser.new_context(**context_options).new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    return page


def ask_widget(page: Any, question: str, timeout_ms: int = 30_000) -> Any:
    """Type a question in the widget and press Enter (keyboard only); returns the finished answer bubble."""
    before = page.locator(".msg.bot").count()
    box = page.get_by_label("Ask your notes")
    box.fill(question)
    box.press("Enter")
    done = page.locator(".msg.bot:not([aria-busy])").nth(before)
    done.wait_for(timeout=timeout_ms)
    return done
