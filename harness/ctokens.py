"""C tokens from libclang's lexer: the one tokenizer the case parser and the site alignment share.

Only lexing is used (no include is resolved), so a bcc program tokenizes on the host without kernel
headers or bcc's own headers.
"""

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import List, Optional, Tuple

from clang import cindex

_INDEX = None


@dataclass(frozen=True)
class Token:
    text: str
    kind: str       # "identifier" | "keyword" | "literal" | "punctuation" | "comment"
    line: int       # 1-based
    col: int        # 1-based, in bytes of the line
    end_line: int
    end_col: int    # exclusive


def tokenize(text: str, name: str = "input.c") -> List[Token]:
    """The tokens of `text`, comments included. Classifying a matrix tokenizes each case once per cell
    and most rewritten texts once per kernel, so the tokens of recent texts are kept."""
    return list(_tokens(text, name))


@lru_cache(maxsize=1024)
def _tokens(text: str, name: str) -> Tuple[Token, ...]:
    global _INDEX
    if _INDEX is None:
        _INDEX = cindex.Index.create()
    data = text.encode("utf-8")
    tu = _INDEX.parse(name, args=["-x", "c", "-nostdinc"], unsaved_files=[(name, data)],
                      options=cindex.TranslationUnit.PARSE_INCOMPLETE
                      | cindex.TranslationUnit.PARSE_SKIP_FUNCTION_BODIES)
    # Lines and columns from byte offsets, as clang counts them (\r\n, \r and \n each end a line):
    # asking libclang for a token's line and column costs four calls through ctypes, an offset one.
    starts = [0] + [m.end() for m in _LINE_END.finditer(data)]

    def line_col(offset: int) -> Tuple[int, int]:
        line = bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1
    out = []
    for t in tu.get_tokens(extent=tu.get_extent(name, (0, len(data)))):
        spelling = t.spelling
        start = t.location.offset
        # a token's end from its spelling, one call through ctypes fewer than its extent; the extent
        # where the source differs from the spelling (a backslash-newline inside the token)
        end = start + len(spelling.encode("utf-8"))
        if data[start:end].decode("utf-8", "replace") != spelling:
            end = t.extent.end.offset
        out.append(Token(spelling, t.kind.name.lower(), *line_col(start), *line_col(end)))
    return tuple(out)


_LINE_END = re.compile(rb"\r\n|\r|\n")


def matching(tokens: List[Token], i: int, open_: str = "(", close: str = ")") -> Optional[int]:
    """Index of the bracket closing the one at tokens[i] (None when unbalanced)."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].text == open_:
            depth += 1
        elif tokens[j].text == close:
            depth -= 1
            if depth == 0:
                return j
    return None


def code_tokens(tokens: List[Token]) -> List[Token]:
    return [t for t in tokens if t.kind != "comment"]
