"""A file's text as lines that remember their own endings, its BOM and its final-newline state."""

from __future__ import annotations

from dataclasses import dataclass

BOM = "\ufeff"


def loose(line: str) -> str:
    """The whitespace-tolerant key of a line: runs of whitespace collapsed, ends stripped."""
    return " ".join(line.split())


@dataclass(frozen=True)
class Lines:
    """`texts[i]` is line i without its ending; `eols[i]` is "\\n", "\\r\\n" or "" (last line, no newline)."""

    texts: tuple[str, ...]
    eols: tuple[str, ...]
    bom: bool = False

    @classmethod
    def parse(cls, text: str) -> Lines:
        bom = text.startswith(BOM)
        if bom:
            text = text[1:]
        if not text:
            return cls((), (), bom)
        pieces = text.split("\n")
        last = pieces.pop()
        texts: list[str] = []
        eols: list[str] = []
        for piece in pieces:
            crlf = piece.endswith("\r")
            texts.append(piece[:-1] if crlf else piece)
            eols.append("\r\n" if crlf else "\n")
        if last:
            texts.append(last)
            eols.append("")
        return cls(tuple(texts), tuple(eols), bom)

    def render(self) -> str:
        return (BOM if self.bom else "") + "".join(t + e for t, e in zip(self.texts, self.eols, strict=True))

    @property
    def eol(self) -> str:
        """The dominant line ending, used for lines the file did not have."""
        crlf = sum(1 for e in self.eols if e == "\r\n")
        return "\r\n" if crlf * 2 > len(self.eols) else "\n"

    @property
    def final_newline(self) -> bool:
        return not self.eols or self.eols[-1] != ""

    def rebuilt(self, lines: list[tuple[str, str | None]], final_newline: bool) -> Lines:
        """New lines in this file's style: a None ending takes the dominant one; the last line obeys `final_newline`."""
        eol = self.eol
        texts = tuple(t for t, _ in lines)
        eols = [e or eol for _, e in lines]
        if eols:
            eols[-1] = eol if final_newline else ""
        return Lines(texts, tuple(eols), self.bom)
