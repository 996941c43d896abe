"""The ``notes-qa`` command: ingest, search, ask, serve, mcp (eval and calibrate come from ``eval``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.types import UsageError
from service.api.adapt_command import add_command as add_adapt_command
from service.api.cli_scope import add_scope_arguments, scope_of

if TYPE_CHECKING:  # imported where used: `notes-qa --help` stays fast
    from service.backends.settings import Settings

EXIT_USER_ERROR = 2
COMMANDS = "notes_qa.commands"  # entry-point group: callables that add subcommands (eval, calibrate, bench, …)


class UserError(UsageError):
    """A mistake the user can fix; printed as one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    # Everything loads from installed packages: never reach for a model hub. Set before any HF import.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # model-loading bars; ingest keeps its own
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        settings = _settings()
        result: int = args.func(settings, args)
        return result
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if _is_user_error(exc):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USER_ERROR
        raise


def _settings() -> Any:
    from pydantic import ValidationError

    from service.backends.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"NOTES_QA_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise UserError(f"bad configuration: {problems}") from exc


def _is_user_error(exc: Exception) -> bool:
    from index.manifest import IndexMismatch
    from index.scope import NothingInScope
    from index.store import IndexBusy, IndexNotFound, IndexWriteFailed
    from ingest.pipeline import IngestError
    from ingest.types import ModelUnavailable
    from service.api.security import InsecureExposure

    user_errors = (
        UserError, IngestError, IndexNotFound, IndexBusy, IndexMismatch, ModelUnavailable, UsageError,
        InsecureExposure, IndexWriteFailed, NothingInScope,
    )  # fmt: skip
    return isinstance(exc, user_errors)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notes-qa",
        description="Ask questions over your notes; answers cite the passages they come from. "
        "Configuration: NOTES_QA_* environment variables (see README).",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, func: Callable[[Any, argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    p = command("ingest", cmd_ingest, "Index a folder of .md/.markdown/.txt/.org/.html/.pdf notes (incremental).")
    p.add_argument("dir", nargs="?", help="notes folder (default: NOTES_QA_NOTES_DIR, i.e. ./notes)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, summary line only")
    p.add_argument("--watch", action="store_true", help="then keep watching the folder: re-index after every save")

    p = command("search", cmd_search, "Show the passages retrieved for a question (no generation).")
    p.add_argument("question")
    p.add_argument("--top-k", type=_positive, default=None)
    add_scope_arguments(p)

    p = command("ask", cmd_ask, "Answer a question from the notes, with citations.")
    p.add_argument("question")
    p.add_argument("--top-k", type=_positive, default=None)
    add_scope_arguments(p)

    p = command("serve", cmd_serve, "Run the HTTP API (builds the index first if there is none).")
    p.add_argument("--host", default=None, help="default: NOTES_QA_HOST (127.0.0.1)")
    p.add_argument("--port", type=_positive, default=None, help="default: NOTES_QA_PORT (8000)")
    p.add_argument(
        "--workers", type=_positive, default=1, help="API processes (each loads the models; all serve one index)"
    )
    p.add_argument("--watch", action="store_true", help="re-index the notes folder after every save, while serving")
    p.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve on a non-loopback address without API keys (anyone who reaches the port reads your notes)",
    )
    command("mcp", cmd_mcp, "Run the MCP server over stdio, for assistants (serve has it at /mcp); indexes first.")
    command("new-key", cmd_new_key, "Make an API key: prints the key (give it to clients) and its hashed form.")
    p = command(
        "export-model", cmd_export_model, "Write the packaged generator as one GGUF file (for llama.cpp, vLLM)."
    )
    p.add_argument("path", help="where to write the .gguf file")
    p.add_argument("--model", default=None, help="default: NOTES_QA_GENERATOR_MODEL")
    add_adapt_command(command)

    # Later stages add their commands through the `notes_qa.commands` entry points (pyproject.toml): the CLI
    # composes every stage without the service stage importing eval.
    for entry in sorted(entry_points(group=COMMANDS), key=lambda e: e.name):
        entry.load()(command)
    return parser


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _question(text: str, settings: Settings) -> str:
    text = text.strip()
    if not text:
        raise UserError("the question is empty")
    if len(text) > settings.max_question_chars:
        raise UserError(f"the question is {len(text)} characters; the limit is {settings.max_question_chars}")
    return text


def _top_k(value: int | None, settings: Settings) -> int | None:
    if value is not None and value > settings.max_top_k:
        raise UserError(f"--top-k must be at most {settings.max_top_k}")
    return value


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from service.backends.ingesting import ingest_and_report

    notes_dir = Path(args.dir) if args.dir else settings.notes_dir
    ingest_and_report(settings, notes_dir, quiet=args.quiet)
    if args.watch:
        import threading

        from service.backends.watching import watch_notes

        print(f"watching {notes_dir} (Ctrl-C to stop)", file=sys.stderr)
        watch_notes(settings, notes_dir, threading.Event(), report=lambda line: print(line, file=sys.stderr))
    return 0


def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    from service.backends.components import build_answerer
    from service.backends.first_use import ensure_index

    question = _question(args.question, settings)
    ensure_index(settings)
    answerer = build_answerer(settings)
    for hit in answerer.search(question, _top_k(args.top_k, settings), scope_of(args)):
        c = hit.chunk
        print(f"{hit.rank:>2}. {hit.score:.3f}  {c.file} › {c.heading} (lines {c.start_line}–{c.end_line})")
        print("    " + " ".join(c.text.split())[:200])
    return 0


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    from service.backends.components import build_answerer
    from service.backends.first_use import ensure_index

    question = _question(args.question, settings)
    top_k = _top_k(args.top_k, settings)
    ensure_index(settings)
    answerer = build_answerer(settings)
    answerer.warm_up()
    answer = answerer.answer(question, top_k, scope=scope_of(args))
    print(answer.text)
    if answer.citations:
        print()
    for citation in answer.citations:
        u = citation.evidence.unit
        where = f"lines {u.start_line}–{u.end_line}" if u.end_line > u.start_line else f"line {u.start_line}"
        print(f"[{citation.n}] {u.file} › {u.heading} ({where})")
        for line in u.text.strip().splitlines():
            print(f"    > {line.strip()}")
        if citation.obsidian_uri or citation.uri:
            print(f"    open: {citation.obsidian_uri or citation.uri}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from service.api.app import create_app
    from service.api.observability import configure_logging
    from service.api.security import KeyRing, check_exposure
    from service.backends.first_use import ensure_index

    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    if args.insecure_no_auth:
        settings.insecure_no_auth = True
    check_exposure(settings)
    KeyRing(settings).load()  # a missing or malformed keys file stops us here, not at the first request
    ensure_index(settings)
    configure_logging(settings.log_format, settings.log_level)
    if args.watch:  # in this process only: one watcher (one writer) whatever the number of workers
        from service.backends.watching import start_watcher

        start_watcher(settings, settings.notes_dir)
    if args.workers > 1:
        # each worker process builds its own app (and models) from the same NOTES_QA_* environment
        uvicorn.run(
            "service.api.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=args.workers,
            log_config=None,
        )
    else:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
    return 0


def cmd_mcp(settings: Settings, args: argparse.Namespace) -> int:
    from service.api.mcp_stdio import run_stdio

    run_stdio(settings)
    return 0


def cmd_new_key(settings: Settings, args: argparse.Namespace) -> int:
    import secrets

    from service.api.security import hash_key

    key = secrets.token_urlsafe(32)
    print(f"key (give it to the client; shown once):   {key}")
    print(f"for NOTES_QA_API_KEYS_FILE (one per line): {hash_key(key)}")
    return 0


def cmd_export_model(settings: Settings, args: argparse.Namespace) -> int:
    from service.backends.packaged_models import PACKAGED_GGUF, export_gguf

    name = args.model or settings.generator_model
    if name not in PACKAGED_GGUF:
        raise UserError(f"unknown model {name!r}; choose one of {', '.join(sorted(PACKAGED_GGUF))}")
    path = Path(args.path)
    digest = export_gguf(PACKAGED_GGUF[name], path)
    print(f"{name}: {path} ({path.stat().st_size / 1e6:.0f} MB, sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
