"""A request's scope (`/ask`, MCP tools, question files): which notes may answer, validated at the edge."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

from index.scope import Scope


class ScopeIn(BaseModel):
    """Only notes in this scope answer (filters combine with AND); a scope with no notes is a 404 that says so."""

    model_config = ConfigDict(extra="forbid")
    folder: str | None = Field(None, max_length=500, description="a folder of the notes folder (and its subfolders)")
    file: str | None = Field(None, max_length=500, description="a glob over the note's path or name: '*interview*'")
    tag: str | None = Field(None, max_length=200, description="a tag ('#' optional); 'ml' also matches 'ml/vision'")
    since: date | None = Field(None, description="notes dated on or after (front matter date, else modified)")
    until: date | None = Field(None, description="notes dated on or before")

    @model_validator(mode="after")
    def _valid(self) -> ScopeIn:
        self.to_scope()  # its ValueError (a '..' folder, since after until) becomes a 422
        return self

    def to_scope(self) -> Scope:
        return Scope(self.folder, self.file, self.tag, self.since, self.until)
