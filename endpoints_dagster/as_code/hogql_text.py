"""HogQL text compared the way a reader does: layout is not a change, strings and comments are.

Reformatting a query (line breaks, indentation) changes nothing it does, so it must not make a
new version, and a diff should show only what changed, even when PostHog holds the query on one
line and the file spreads it over twenty. Whitespace inside string literals and quoted
identifiers counts, and a ``--`` comment keeps its end of line (it decides what is commented out).

>>> normalized("SELECT  a,\\n  b FROM t WHERE s = 'x  y'")
"SELECT a, b FROM t WHERE s = 'x  y'"
>>> print(reflow("SELECT a, b FROM t ORDER BY a", like="SELECT a, b\\nFROM t\\nORDER BY b"))
SELECT a, b
FROM t
ORDER BY a
"""

from __future__ import annotations

import difflib

__all__ = ["normalized", "reflow", "tokens"]

_QUOTES = "'\"`"


def tokens(text: str) -> list[tuple[str, str]]:
    """``(whitespace before, token)`` pairs; a quoted literal or a comment is one token."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        start = i
        while i < n and text[i].isspace():
            i += 1
        space, begin = text[start:i], i
        if i >= n:
            break
        while i < n and not text[i].isspace():
            if text[i] in _QUOTES:
                quote, i = text[i], i + 1
                while i < n and text[i] != quote:
                    i += 2 if text[i] == "\\" else 1
                i += 1
            elif text.startswith("--", i):
                end = text.find("\n", i)
                i = n if end < 0 else end + 1  # the newline belongs to the comment
                break
            elif text.startswith("/*", i):
                end = text.find("*/", i + 2)
                i = n if end < 0 else end + 2
            else:
                i += 1
        out.append((space, text[begin : min(i, n)]))
    return out


def normalized(text: str) -> str:
    """The query with every run of layout whitespace as one space."""
    return " ".join(token for _, token in tokens(text))


def reflow(text: str, *, like: str) -> str:
    """``text`` laid out with the line breaks of ``like`` where their tokens agree (for readable diffs)."""
    old, new = tokens(text), tokens(like)
    matcher = difflib.SequenceMatcher(a=[t for _, t in old], b=[t for _, t in new], autojunk=False)
    parts: list[str] = []
    for tag, i1, i2, j1, _ in matcher.get_opcodes():
        if tag == "equal":
            parts += [new[j1 + k][0] + old[i1 + k][1] for k in range(i2 - i1)]
        elif tag in ("replace", "delete"):
            lead = new[j1][0] if tag == "replace" and j1 < len(new) else " "
            parts += [(lead if k == i1 else " ") + old[k][1] for k in range(i1, i2)]
    return "".join(parts).strip()
