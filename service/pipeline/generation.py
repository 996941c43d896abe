"""What the pipeline asks of a generator: a chat prompt in, a stream of text pieces out. Backends
(``service.backends``) implement it; the pipeline never imports one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


class GeneratorUnavailable(RuntimeError):
    """The generator could not produce a reply (inference server down, timed out, or refusing). ``public`` is the
    reason without internals (server addresses), for API clients; the full message goes to the log."""

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


class Generator(Protocol):
    name: str

    def warm_up(self) -> None: ...

    def generate(self, prompt: Prompt) -> Iterator[str]:
        """Yield the answer's text pieces as they are produced (greedy, bounded length)."""
        ...
