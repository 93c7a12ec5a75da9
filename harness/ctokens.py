"""C tokens from libclang's lexer: the one tokenizer the case parser and the site alignment share.

Only lexing is used (no include is resolved), so a bcc program tokenizes on the host without kernel
headers or bcc's own headers.
"""

from dataclasses import dataclass
from typing import List, Optional

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
    global _INDEX
    if _INDEX is None:
        _INDEX = cindex.Index.create()
    data = text.encode("utf-8")
    tu = _INDEX.parse(name, args=["-x", "c", "-nostdinc"], unsaved_files=[(name, data)],
                      options=cindex.TranslationUnit.PARSE_INCOMPLETE
                      | cindex.TranslationUnit.PARSE_SKIP_FUNCTION_BODIES)
    extent = tu.get_extent(name, (0, len(data)))
    return [Token(t.spelling, t.kind.name.lower(), t.location.line, t.location.column,
                  t.extent.end.line, t.extent.end.column)
            for t in tu.get_tokens(extent=extent)]


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
