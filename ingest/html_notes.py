"""HTML exports (Notion, Evernote, a saved page) read as markdown-like text: headings become the heading path,
paragraphs, list items, table rows and code blocks are kept; scripts, styles, navigation, headers, footers, asides
and forms are dropped. Line spans of such a note count lines of this text (the HTML file's own lines mean little);
its citations therefore link to the file without a line."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup, NavigableString, Tag

HTML_SUFFIXES = (".html", ".htm")
_DROPPED = ["script", "style", "nav", "header", "footer", "aside", "noscript", "form", "svg", "iframe", "template",
            "button", "head"]  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_TEXT_BLOCKS = {"p", "blockquote", "dt", "dd", "figcaption", "summary", "caption"}
_BLOCK_NAMES = {"pre", "table", "ul", "ol", "p", "div", "section", "blockquote", "dl", "figure", "article"}


def html_to_text(html: str) -> tuple[str, str]:
    """(markdown-like text, page title)."""
    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(_DROPPED):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    blocks: list[str] = []
    _emit(root, blocks, depth=0)
    return "\n\n".join(b for b in blocks if b.strip()) + "\n", title


def _inline(node: Tag) -> str:
    return " ".join(node.get_text().split())


def _emit(node: Any, blocks: list[str], depth: int) -> None:
    for child in node.children:
        if isinstance(child, NavigableString):
            if text := " ".join(str(child).split()):
                blocks.append(text)
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name in _HEADINGS:
            if text := _inline(child):
                blocks.append("#" * _HEADINGS[name] + " " + text)
        elif name == "pre":
            blocks.append("```\n" + child.get_text().strip("\n") + "\n```")
        elif name == "table":
            rows = [" | ".join(_inline(c) for c in tr.find_all(["th", "td"])) for tr in child.find_all("tr")]
            blocks.append("\n".join(f"| {r} |" for r in rows if r.strip(" |")))
        elif name in ("ul", "ol"):
            _emit_list(child, blocks, depth)
        elif name in _TEXT_BLOCKS:
            if text := _inline(child):
                blocks.append(("> " if name == "blockquote" else "") + text)
        elif name in ("br", "hr", "img"):
            continue
        else:  # div, section, article, span, a, ...: containers or inline text
            if any(isinstance(c, Tag) and (c.name in _HEADINGS or c.name in _BLOCK_NAMES) for c in child.descendants):
                _emit(child, blocks, depth)
            elif text := _inline(child):
                blocks.append(text)


def _emit_list(node: Tag, blocks: list[str], depth: int) -> None:
    items = []
    for li in node.find_all("li", recursive=False):
        nested = li.find_all(["ul", "ol"], recursive=False)
        for sub in nested:
            sub.extract()
        items.append("  " * depth + "- " + _inline(li))
        for sub in nested:
            inner: list[str] = []
            _emit_list(sub, inner, depth + 1)
            items += inner
    if items:
        blocks.append("\n".join(items))
