"""onnxruntime-genai in a child process.

Its Python binding holds the GIL for a whole prefill and for every decoding step (measured: the main thread of
the server stalled 3.2 s during one prefill), which would freeze the HTTP event loop: health checks, refusals
and other clients' streams would all wait for the model. In a child process it computes while the server stays
responsive; the parent waits on a pipe (no GIL held). The child stops a generation between two tokens when told
to, and a child that dies is reported as an unavailable generator and started again on the next request.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

from ingest.types import ModelUnavailable
from service.backends.heap import return_freed_memory_promptly
from service.pipeline.generation import GeneratorUnavailable, Prompt

START_TIMEOUT_S = 300.0
# The model runs at a lower CPU priority than the server: with both cores busy generating, the HTTP loop still gets
# the CPU at once (health checks, refusals, other clients' events); an idle machine generates as fast as before.
NICENESS = 10


def _serve(model_dir: str, max_new_tokens: int) -> None:
    """The child: load the model, then answer ``{"op": "generate"}`` lines on stdin one at a time, writing
    ``{"kind": "piece"|"done"|"error"|"ready"}`` lines. Stray prints go to stderr, never into the protocol."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    os.nice(NICENESS)
    return_freed_memory_promptly()

    def send(kind: str, value: object = None) -> None:
        out.write(json.dumps({"kind": kind, "value": value}) + "\n")
        out.flush()

    try:
        import onnxruntime_genai as og

        model = og.Model(model_dir)
        tokenizer = og.Tokenizer(model)
    except Exception as exc:
        send("error", f"{type(exc).__name__}: {exc}")
        return
    send("ready")
    requests = _Lines(0)
    while (line := requests.next()) is not None:
        request = json.loads(line)
        if request.get("op") == "choose":
            _choose(model, tokenizer, request, send)
            continue
        if request.get("op") != "generate":
            continue  # a stop that arrived after its generation had finished
        try:
            ids = tokenizer.encode(chat_text(tokenizer, request["system"], request["user"]))
            params = og.GeneratorParams(model)
            params.set_search_options(max_length=len(ids) + max_new_tokens, do_sample=False, repetition_penalty=1.05)
            generator = og.Generator(model, params)
            stream = tokenizer.create_stream()
            generator.append_tokens(ids)
            while not generator.is_done():
                if requests.pending():  # the parent said stop
                    requests.next()
                    break
                generator.generate_next_token()
                piece = stream.decode(generator.get_next_tokens()[0])
                if piece:
                    send("piece", piece)
            del generator
            send("done")
        except Exception as exc:
            send("error", f"{type(exc).__name__}: {exc}")


def _choose(model: Any, tokenizer: Any, request: dict[str, Any], send: Any) -> None:
    """One prefill, no decoding: the next-token probabilities of the answers "0".."options" (renormalised over
    them), read from the logits after the prompt."""
    import numpy as np
    import onnxruntime_genai as og

    try:
        ids = tokenizer.encode(chat_text(tokenizer, request["system"], request["user"]))
        answers = [int(tokenizer.encode(str(i))[0]) for i in range(int(request["options"]) + 1)]
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(ids) + 1, do_sample=False)
        generator = og.Generator(model, params)
        generator.append_tokens(ids)
        logits = np.asarray(generator.get_logits(), dtype=np.float64).reshape(-1)[answers]
        del generator
        probabilities = np.exp(logits - logits.max())
        send("choice", (probabilities / probabilities.sum()).tolist())
    except Exception as exc:
        send("error", f"{type(exc).__name__}: {exc}")


def chat_text(tokenizer: Any, system: str, user: str) -> str:
    """The prompt text for an onnxruntime-genai ``tokenizer``: the chat template of the model's own tokenizer files,
    rendered by onnxruntime-genai (the same text as transformers' ``apply_chat_template``, tested, without the
    seconds that importing transformers adds to every start)."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return str(tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True))


class _Lines:
    """Unbuffered line reading from a file descriptor, so that "is a line waiting?" is always answerable."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def pending(self) -> bool:
        return b"\n" in self.buffer or bool(select.select([self.fd], [], [], 0)[0])

    def next(self) -> str | None:
        while b"\n" not in self.buffer:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8")


class GenerationProcess:
    """The parent's side: one child, one generation at a time (the CPU has no room for two)."""

    def __init__(self, model_dir: str, max_new_tokens: int) -> None:
        self.model_dir = model_dir
        self.max_new_tokens = max_new_tokens
        self._process: subprocess.Popen[str] | None = None
        self.lock = threading.Lock()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the child and wait until its model is loaded; ``ModelUnavailable`` when it cannot be."""
        if self.alive:
            return
        command = [sys.executable, "-m", "service.backends.onnx_process", self.model_dir, str(self.max_new_tokens)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env, bufsize=1
        )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        reply = _read(process.stdout) if ready else {"kind": "error", "value": f"not loaded in {START_TIMEOUT_S:g} s"}
        if reply.get("kind") != "ready":
            process.kill()
            process.wait()
            raise ModelUnavailable(f"the generator could not load {self.model_dir}: {reply.get('value')}")
        self._process = process

    def _running(self) -> tuple[subprocess.Popen[str], IO[str], IO[str]]:
        """The child, started if need be (call holding ``lock``); ``GeneratorUnavailable`` when it cannot start."""
        try:
            self.start()
        except ModelUnavailable as exc:
            raise GeneratorUnavailable(str(exc), "the local generator could not start") from exc
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        return process, process.stdin, process.stdout

    def generate(self, prompt: Prompt) -> Iterator[str]:
        with self.lock:
            process, stdin, stdout = self._running()
            finished = False
            try:
                _write(stdin, {"op": "generate", "system": prompt.system, "user": prompt.user})
                while True:
                    reply = _read(stdout)  # waits without holding the GIL
                    if reply["kind"] == "piece":
                        yield reply["value"]
                    elif reply["kind"] == "done":
                        finished = True
                        return
                    else:
                        finished = True
                        raise GeneratorUnavailable(f"generation failed: {reply['value']}", "the local generator failed")
            except (EOFError, OSError, ValueError) as exc:
                finished = True
                self.stop()
                raise GeneratorUnavailable(
                    f"the generator process died ({exc})", "the local generator stopped; retry"
                ) from exc
            finally:
                if not finished:  # our reader left early: stop the child between two tokens, wait till it has
                    self._stop_generation(process)

    def choose(self, prompt: Prompt, options: int) -> list[float]:
        """P(the reply starts "0".."options") after one prefill of ``prompt`` (``GeneratorUnavailable`` on failure)."""
        with self.lock:
            _, stdin, stdout = self._running()
            try:
                _write(stdin, {"op": "choose", "system": prompt.system, "user": prompt.user,
                                       "options": options})  # fmt: skip
                reply = _read(stdout)
            except (EOFError, OSError, ValueError) as exc:
                self.stop()
                raise GeneratorUnavailable(
                    f"the generator process died ({exc})", "the local generator stopped"
                ) from exc
            if reply["kind"] != "choice":
                raise GeneratorUnavailable(f"choosing failed: {reply['value']}", "the local generator failed")
            return [float(p) for p in reply["value"]]

    def _stop_generation(self, process: subprocess.Popen[str]) -> None:
        assert process.stdin is not None and process.stdout is not None
        try:
            _write(process.stdin, {"op": "stop"})
            while _read(process.stdout)["kind"] not in ("done", "error"):
                pass
        except (EOFError, OSError, ValueError):
            self.stop()

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=5)
        self._process = None


def _write(stream: IO[str], message: dict[str, Any]) -> None:
    stream.write(json.dumps(message) + "\n")
    stream.flush()


def _read(stream: IO[str]) -> dict[str, Any]:
    line = stream.readline()
    if not line:
        raise EOFError("the generator process closed its output")
    reply: dict[str, Any] = json.loads(line)
    return reply


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
