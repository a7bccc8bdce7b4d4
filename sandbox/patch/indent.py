"""Added lines in the file's own indentation, where a hunk matched only whitespace-tolerantly.

A hunk whose context lines match the file only after whitespace is folded was written in
another style than the file's: spaces for a tab-indented file (a renderer expanding tabs), two
spaces for four, or U+00A0 no-break spaces copied from a web page. Its added lines were written
in that style too. The matched pairs (hunk line, file line) show how the hunk's indentation maps
to the file's, and the added lines are rewritten by that map:

- U+00A0 in added lines becomes a space when a matched hunk line has U+00A0 where the file has none,
  and in an added line's indentation wherever no line of the file is indented with it;
- added lines are re-indented only in a file whose indented lines are all of one kind (led by a
  tab, or by two or more spaces): where a file mixes both, a line as written may be right;
- an indentation the pairs map one way is replaced by what it maps to;
- any other indentation goes through the models that explain every pair (runs of spaces as tabs
  of width 2, 4 or 8; tabs as spaces; indentation levels of 2 and 4 spaces swapped) when they
  agree on it; otherwise it is left as written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

NBSP = "\u00a0"
_BLANKS = " \t" + NBSP
Model = Callable[[str], str | None]


def lead(line: str) -> str:
    """A line's indentation: its leading spaces, tabs and no-break spaces."""
    return line[: len(line) - len(line.lstrip(_BLANKS))]


def kind(indent: str) -> str | None:
    """"tab" for indentation led by a tab, "space" for two or more leading spaces, else None."""
    if indent.startswith("\t"):
        return "tab"
    return "space" if indent.startswith("  ") else None


def kinds(texts: Sequence[str]) -> frozenset[str]:
    """The kinds of indentation a file's lines use ("tab", "space", and "nbsp" for U+00A0 anywhere in it)."""
    out = {k for k in (kind(lead(t)) for t in texts if t.strip(_BLANKS)) if k is not None}
    return frozenset(out | ({"nbsp"} if any(NBSP in lead(t) for t in texts) else set()))


def _columns(indent: str, tab: int) -> int:
    width = 0
    for ch in indent:
        width = width + tab - width % tab if ch == "\t" else width + 1
    return width


def _tabs(width: int) -> Model:
    def model(indent: str) -> str:
        cols = _columns(indent, width)
        return "\t" * (cols // width) + " " * (cols % width)

    return model


def _spaces(width: int) -> Model:
    return lambda indent: " " * _columns(indent, width)


def _levels(given: int, wanted: int) -> Model:
    def model(indent: str) -> str | None:
        if indent.strip(" "):
            return None
        return " " * (len(indent) // given * wanted + len(indent) % given)

    return model


MODELS: tuple[Model, ...] = (_tabs(4), _tabs(8), _tabs(2), _spaces(4), _spaces(8), _spaces(2), _levels(2, 4), _levels(4, 2))


def restyle(pairs: Sequence[tuple[str, str]], used: frozenset[str], tolerant: bool) -> Callable[[str], str]:
    """The rewrite of added lines that the matched (hunk line, file line) pairs call for, in a file whose
    lines use the indentation kinds `used`; `tolerant`: the pairs matched only whitespace-tolerantly."""
    nbsp = tolerant and any(NBSP in given and NBSP not in found for given, found in pairs)
    spaced = _unbreak_lead if "nbsp" not in used else _same
    seen: dict[str, set[str]] = {}
    for given, found in pairs:
        if given.strip(_BLANKS) and found.strip(_BLANKS):
            seen.setdefault(_unbreak(lead(given)) if nbsp else lead(given), set()).add(lead(found))
    if not tolerant or (not nbsp and all(found == {given} for given, found in seen.items())):
        return spaced
    table = {given: next(iter(found)) for given, found in seen.items() if len(found) == 1}
    fitting = [m for m in MODELS if all(found == {m(given)} for given, found in seen.items())]

    def rewrite(text: str) -> str:
        text = _unbreak(text) if nbsp else spaced(text)
        indent = lead(text)
        if kind(indent) is None or len(used - {"nbsp"}) != 1:
            return text
        if indent in table:
            return table[indent] + text[len(indent) :]
        mapped = {m(indent) for m in fitting}
        if len(mapped) == 1 and None not in mapped:
            return f"{mapped.pop()}{text[len(indent) :]}"
        return text

    return rewrite


def _unbreak(text: str) -> str:
    return text.replace(NBSP, " ")


def _unbreak_lead(text: str) -> str:
    indent = lead(text)
    return _unbreak(indent) + text[len(indent) :] if NBSP in indent else text


def _same(text: str) -> str:
    return text
