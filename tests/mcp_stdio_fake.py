"""``python -m tests.mcp_stdio_fake``: the stdio MCP server of ``notes-qa mcp`` (the same code from the index on),
with the fakes instead of the models, over the index and notes named by the NOTES_QA_* environment.
NOTES_QA_FAKE_DELAY (seconds between two generated words) slows the scripted generator down."""

from __future__ import annotations

import os

from service.api.mcp_stdio import serve_stdio
from service.backends.components import build_store
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.fakes import ALWAYS_ANSWER, HashEmbedder, ScriptedGenerator

REPLY = "Recall is TP/(TP+FN) [1]."


def main() -> None:
    settings = Settings()
    delay = float(os.environ.get("NOTES_QA_FAKE_DELAY", "0"))
    answerer = Answerer(
        Retriever(build_store(settings), HashEmbedder()), ScriptedGenerator(REPLY, delay), 3, ALWAYS_ANSWER
    )
    serve_stdio(settings, answerer)


if __name__ == "__main__":
    main()
