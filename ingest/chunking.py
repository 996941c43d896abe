"""Cut a document into retrievable chunks along its structure.

Sections (heading + body) are the unit; a section larger than ``max_chars`` is split between blocks with a
small overlap, and only a block larger than that is split inside (by lines, then sentences). A flashcard is
question + answer: a long answer is split, but every piece carries its question.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from ingest.blocks import Block, heading_title, parse_blocks
from ingest.types import HEADING_SEP, Chunk, Document
from ingest.units import Segment, build_units

# Bump when cleaning or chunking rules change: stored chunks from an older rule set are then re-made.
# 4: chunks record each text line's file line (evidence units cite exact lines); 5: tags, date; 6: markdown by a
# CommonMark parser (setext headings, indented code), note aliases; 7: answer units (whole lists with their
# lead-in, code with its introducing sentence, table rows with their header) made and embedded at ingest
CHUNKER_VERSION = 7


@dataclass(frozen=True)
class ChunkingConfig:
    max_chars: int = 900
    overlap_chars: int = 200


def chunk_document(doc: Document, config: ChunkingConfig) -> list[Chunk]:
    blocks = parse_blocks(doc)
    if doc.format == "flashcards":
        return _chunk_flashcards(doc, blocks, config)
    return _chunk_sections(doc, blocks, config)


def _chunk_sections(doc: Document, blocks: list[Block], config: ChunkingConfig) -> list[Chunk]:
    root = _title_root(doc)
    return [
        chunk
        for path, body in _merge_small_subsections(_sections(blocks), config.max_chars)
        for chunk in _pack(doc, HEADING_SEP.join(_under(root, path)), body, config)
    ]


def _title_root(doc: Document) -> str:
    """A note whose front matter names it (``title``, with its ``description``) but whose headings do not (a docs
    page: "Description", "Configuration" under every command's page): that name heads every passage's path, so a
    passage says which note it belongs to."""
    title = doc.metadata.get("title", "").strip()
    description = doc.metadata.get("description", "").strip()
    return f"{title}: {description}" if title and description else title


def _under(root: str, path: tuple[str, ...]) -> tuple[str, ...]:
    if not root or (path and _norm(root).startswith(_norm(path[0]))):
        return path  # the note's own top heading already names it
    return (root, *path)


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def _sections(blocks: list[Block]) -> list[tuple[tuple[str, ...], list[Block]]]:
    """Group blocks under their heading path. A heading with no body yet joins the next section."""
    sections: list[tuple[tuple[str, ...], list[Block]]] = []
    stack: list[tuple[int, str]] = []
    stack_before: list[tuple[int, str]] = []  # the path of the section being collected
    body: list[Block] = []
    for block in blocks:
        if block.kind == "heading":
            if any(b.kind != "heading" for b in body):
                sections.append((tuple(t for _, t in stack_before), body))
                body = []
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, heading_title(block)))
        if not body or body[-1].kind == "heading" or block.kind == "heading":
            stack_before = list(stack)
        body.append(block)
    if body:
        sections.append((tuple(t for _, t in stack_before), body))
    return sections


def _merge_small_subsections(
    sections: list[tuple[tuple[str, ...], list[Block]]], max_chars: int
) -> list[tuple[tuple[str, ...], list[Block]]]:
    """A small subsection joins its parent's chunk when both fit together (e.g. "Pros:" under its post)."""
    merged: list[tuple[tuple[str, ...], list[Block]]] = []
    for path, body in sections:
        if merged:
            prev_path, prev_body = merged[-1]
            is_child = 0 < len(prev_path) < len(path) and path[: len(prev_path)] == prev_path
            if is_child and sum(len(b.text) for b in prev_body + body) <= max_chars:
                merged[-1] = (prev_path, prev_body + body)
                continue
        merged.append((path, list(body)))
    return merged


def _chunk_flashcards(doc: Document, blocks: list[Block], config: ChunkingConfig) -> list[Chunk]:
    chunks: list[Chunk] = []
    # An export is strictly term, definition, term, definition...: pair the blocks up.
    for k in range(0, len(blocks), 2):
        card = blocks[k : k + 2]
        question = " ".join(card[0].text.split())
        chunks.extend(_pack(doc, question, card, config, repeat_first=True))
    return chunks


def _pack(
    doc: Document, path: str, blocks: list[Block], config: ChunkingConfig, repeat_first: bool = False
) -> list[Chunk]:
    """Greedily pack blocks into chunks of at most ``max_chars``; consecutive chunks overlap by one small block.

    With ``repeat_first`` (flashcards) the first block, the question, is repeated as the prefix of every piece.
    """
    head = blocks[0] if repeat_first else None
    pieces = [p for b in (blocks[1:] if head else blocks) for p in _split_block(b, config.max_chars)]
    budget = config.max_chars - (len(head.text) if head else 0)
    groups: list[list[Block]] = []
    current: list[Block] = []
    size = 0
    for piece in pieces:
        if current and size + len(piece.text) > max(budget, config.max_chars // 3):
            groups.append(current)
            tail = current[-1]
            # the next chunk starts with the last block again when it is small, or when it leads into what follows
            # ("… ran the following:" before a code block): a lead-in travels with what it introduces
            carried = len(tail.text) <= config.overlap_chars or tail.text.rstrip().rstrip("*_ ").endswith(":")
            current = [tail] if carried and tail.kind != "heading" and len(tail.text) < budget else []
            size = sum(len(b.text) for b in current)
        current.append(piece)
        size += len(piece.text)
    if current or not groups:
        groups.append(current)
    title = doc.title
    heading = path or title
    chunks = []
    for group in groups:
        members = ([head] if head else []) + group
        start, end = min(b.start for b in members), max(b.end for b in members)
        text, line_map = _join(members)
        segments = [_segment(b, b is head) for b in members]
        units = build_units(doc.lines, segments, doc.format, heading.split(HEADING_SEP)[-1] if heading else "")
        chunks.append(
            Chunk(
                doc.path, heading, start, end, text,
                lines=line_map, tags=doc.tags, date=doc.date, aliases=doc.aliases, units=units,
            )
        )  # fmt: skip
    return chunks


def _segment(block: Block, is_question: bool) -> Segment:
    """A block as the unit builder reads it; a flashcard's question is the heading of its answer."""
    numbered = tuple(
        (number - 1, line) for number, line in zip(_block_lines(block), block.text.split("\n"), strict=True) if number
    )
    if is_question:
        return Segment("heading", numbered, " ".join(block.text.split()))
    return Segment(block.kind, numbered, heading_title(block) if block.kind == "heading" else "")


def _join(blocks: list[Block]) -> tuple[str, tuple[int, ...]]:
    """Blocks on adjacent lines join with a newline, blocks apart with a blank line, as in the note.

    Also returns, for each line of the joined text, the file line it comes from (0: a blank separator or a
    fence line added when a code block was split)."""
    out = blocks[0].text
    line_map = _block_lines(blocks[0])
    for prev, block in itertools.pairwise(blocks):
        if block.start == prev.end + 1:
            out += "\n" + block.text
        else:
            out += "\n\n" + block.text
            line_map += (0,)
        line_map += _block_lines(block)
    return out, line_map


def _block_lines(block: Block) -> tuple[int, ...]:
    numbers: list[int] = []
    line_no = block.start
    for i in range(block.text.count("\n") + 1):
        if i in block.added_lines:
            numbers.append(0)
        else:
            numbers.append(line_no)
            line_no += 1
    return tuple(numbers)


def _split_block(block: Block, max_chars: int) -> list[Block]:
    """A block that fits is returned as is; a larger one is cut at line, then sentence, boundaries."""
    if len(block.text) <= max_chars:
        return [block]
    lines = block.text.split("\n")
    if len(lines) > 1:
        out: list[Block] = []
        acc: list[str] = []
        first = block.start
        for offset, line in enumerate(lines):
            if acc and sum(len(x) + 1 for x in acc) + len(line) > max_chars:
                out.append(Block(block.kind, first, block.start + offset - 1, "\n".join(acc)))
                acc, first = [], block.start + offset
            acc.append(line)
        out.append(Block(block.kind, first, block.end, "\n".join(acc)))
        # a single line still too long is cut at spaces (before re-fencing: a fenced piece is three lines again)
        out = [p for b in out for p in (_split_block(b, max_chars) if b.start == b.end else [b])]
        return _refence(out) if block.kind == "code" else out
    sentences = re.split(r"(?<=[.!?])\s+(?=\S)", block.text)
    out, acc = [], []
    for sentence in sentences:
        for word_piece in _hard_wrap(sentence, max_chars):
            if acc and sum(len(x) + 1 for x in acc) + len(word_piece) > max_chars:
                out.append(Block(block.kind, block.start, block.end, " ".join(acc)))
                acc = []
            acc.append(word_piece)
    if acc:
        out.append(Block(block.kind, block.start, block.end, " ".join(acc)))
    return out


def _refence(pieces: list[Block]) -> list[Block]:
    """Pieces of a split code block each get an opening and closing fence, so each reads as code."""
    fence = pieces[0].text.lstrip()[:3]
    if fence not in ("```", "~~~"):  # indented code reads as code without fences
        return pieces
    out = []
    for piece in pieces:
        text = piece.text
        added: list[int] = []
        if not text.lstrip().startswith(fence):
            text = f"{fence}\n{text}"
            added.append(0)
        if not text.rstrip().endswith(fence) or text.strip() == fence:
            text = f"{text}\n{fence}"
            added.append(text.count("\n"))
        out.append(Block(piece.kind, piece.start, piece.end, text, added_lines=tuple(added)))
    return out


def _hard_wrap(text: str, max_chars: int) -> list[str]:
    """Cut at spaces; a "word" longer than a chunk (a minified line, a base64 blob) is cut every ``max_chars``."""
    if len(text) <= max_chars:
        return [text]
    words = [w[i : i + max_chars] for w in text.split(" ") for i in range(0, max(len(w), 1), max_chars)]
    out, acc = [], ""
    for word in words:
        if acc and len(acc) + 1 + len(word) > max_chars:
            out.append(acc)
            acc = word
        else:
            acc = f"{acc} {word}" if acc else word
    return [*out, acc]
