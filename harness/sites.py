"""Actual rewrite sites: where bcc put a probe read, mapped back to the original expression.

bcc replaces an external dereference E by a statement expression of this shape (all releases since
0.18; the cast was (u64) up to about 0.2x, (void *) after):

    ({ typeof(T) _val; __builtin_memset(&_val, 0, sizeof(_val));
       bpf_probe_read(&_val, sizeof(_val), (void *)ADDR); _val; })

where ADDR is `&E'` for a member access E' (`p->f`), the operand for a unary `*`, and
`((&?BASE) + (INDEX))` for a subscript. Nested sites appear inside ADDR. We recover E from ADDR (undoing
nested sites first), put it back into the rewritten token stream, and align that stream with the
original tokens (difflib over libclang tokens): each site lands on exact original lines and columns.
"""

import difflib
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .ctokens import Token, code_tokens, matching, tokenize

PROBE_READS = ("bpf_probe_read", "bpf_probe_read_kernel", "bpf_probe_read_user")
CASTS = (["(", "void", "*", ")"], ["(", "u64", ")"], ["(", "unsigned", "long", "long", ")"])


@dataclass(frozen=True)
class Site:
    text: str                 # the original expression, as written in the case
    line: int                 # in the original; 0 when it could not be placed
    col: int
    end_line: int
    end_col: int
    helper: str               # bpf_probe_read | bpf_probe_read_kernel | bpf_probe_read_user
    form: str                 # "member" | "deref" | "subscript"
    address: str              # ADDR as bcc wrote it (nested sites shown as written)
    rewritten_line: int       # line of the statement expression in the rewritten text
    depth: int = 0            # 0 outermost; nested sites are deeper
    value_type: str = ""      # T of bcc's `typeof(T) _val`: the type of the value read

    @property
    def key(self) -> Tuple[int, str]:
        return (self.line, compact(self.text))


def compact(text: str) -> str:
    return "".join(text.split())


@dataclass
class _Piece:
    text: str
    origin: Optional[Token]      # the rewritten token it came from, None when synthesized


def _probe_call(tokens: List[Token], start: int, end: int) -> Optional[Tuple[int, int, str]]:
    """Inside a `({ ... })` span: the probe-read call whose first argument is &_val -> (addr from, to, helper)."""
    for i in range(start, end):
        t = tokens[i]
        if t.text in PROBE_READS and tokens[i + 1].text == "(" and \
                [x.text for x in tokens[i + 2:i + 4]] == ["&", "_val"]:
            close = matching(tokens, i + 1, "(", ")")
            if close is None:
                return None
            # skip `&_val , sizeof ( _val ) ,`
            j = i + 4
            commas = 0
            while j < close and commas < 2:
                if tokens[j].text == "(":
                    j = matching(tokens, j, "(", ")")
                elif tokens[j].text == ",":
                    commas += 1
                j += 1
            return j, close, t.text
    return None


def _is_site(tokens: List[Token], i: int) -> Optional[Tuple[int, int, int, str]]:
    """A site starting at tokens[i] == '(' -> (end index, addr from, addr to, helper)."""
    if not (tokens[i].text == "(" and i + 2 < len(tokens) and tokens[i + 1].text == "{"
            and tokens[i + 2].text == "typeof"):
        return None
    end = matching(tokens, i, "(", ")")
    if end is None:
        return None
    call = _probe_call(tokens, i, end)
    if call is None:
        return None
    return end, call[0], call[1], call[2]


def _strip_cast(pieces: List[_Piece]) -> List[_Piece]:
    texts = [p.text for p in pieces]
    for cast in CASTS:
        if texts[:len(cast)] == cast:
            return pieces[len(cast):]
    return pieces


def _balanced_end(pieces: List[_Piece], i: int) -> Optional[int]:
    depth = 0
    for j in range(i, len(pieces)):
        if pieces[j].text == "(":
            depth += 1
        elif pieces[j].text == ")":
            depth -= 1
            if depth == 0:
                return j
    return None


def _strip_pointer_cast(base: List[_Piece]) -> List[_Piece]:
    """`(T *)&p->arr`, as a rewriter that steps over elements of a member array writes the subscript's
    base (docs/findings/array-member-subscript.patch), is `&p->arr` for the original expression."""
    end = _balanced_end(base, 0) if base[:1] and base[0].text == "(" else None
    if end is not None and end > 1 and base[end - 1].text == "*" and base[end + 1:end + 2] \
            and base[end + 1].text == "&":
        return base[end + 1:]
    return base


def _original_of(addr: List[_Piece]) -> Tuple[List[_Piece], str]:
    """ADDR (nested sites already undone) -> the original expression and the form of the site."""
    addr = _strip_cast(addr)
    texts = [p.text for p in addr]
    if texts[:1] == ["&"]:
        return addr[1:], "member"
    if texts[:2] == ["(", "("] and _balanced_end(addr, 0) == len(addr) - 1:
        base_end = _balanced_end(addr, 1)
        if base_end is not None and base_end + 2 < len(addr) and texts[base_end + 1] == "+" \
                and texts[base_end + 2] == "(":
            index_end = _balanced_end(addr, base_end + 2)
            if index_end == len(addr) - 2:
                base = _strip_pointer_cast(addr[2:base_end])
                if base[:1] and base[0].text == "&":
                    base = base[1:]
                index = addr[base_end + 3:index_end]
                return base + [_Piece("[", None)] + index + [_Piece("]", None)], "subscript"
    return [_Piece("*", None)] + addr, "deref"


def _undo(tokens: List[Token], lo: int, hi: int, depth: int,
          sites: List[Tuple[List[_Piece], int, int, dict]]) -> List[_Piece]:
    """Tokens[lo:hi] with every site replaced by its original expression; records sites found."""
    out: List[_Piece] = []
    i = lo
    while i < hi:
        found = _is_site(tokens, i)
        if found:
            end, a_from, a_to, helper = found
            inner = _undo(tokens, a_from, a_to, depth + 1, sites)
            original, form = _original_of(inner)
            start = len(out)
            out.extend(original)
            type_end = matching(tokens, i + 3, "(", ")")
            value_type = " ".join(t.text for t in tokens[i + 4:type_end]) if type_end else ""
            sites.append((out, start, len(out), {
                "helper": helper, "form": form, "depth": depth, "value_type": value_type,
                "address": " ".join(t.text for t in tokens[a_from:a_to]),
                "rewritten_line": tokens[i].line, "pieces": original}))
            i = end + 1
        else:
            out.append(_Piece(tokens[i].text, tokens[i]))
            i += 1
    return out


def _align(original: str, rewritten: str):
    """(original tokens, the rewritten stream with sites undone, the sites found, stream index ->
    original token index)."""
    orig_tokens = code_tokens(tokenize(original, "original.c"))
    rew_tokens = code_tokens(tokenize(rewritten, "rewritten.c"))
    raw: List[Tuple[List[_Piece], int, int, dict]] = []
    plain = _undo(rew_tokens, 0, len(rew_tokens), 0, raw)
    matcher = difflib.SequenceMatcher(None, [p.text for p in plain], [t.text for t in orig_tokens],
                                      autojunk=False)
    to_orig = {}
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            to_orig[a + k] = b + k
    return orig_tokens, plain, raw, to_orig


def line_map(original: str, rewritten: str) -> Dict[int, int]:
    """Rewritten line -> original line (the one most of its aligned tokens come from)."""
    orig_tokens, plain, _, to_orig = _align(original, rewritten)
    votes: Dict[int, Counter] = {}
    for k, piece in enumerate(plain):
        if piece.origin is not None and k in to_orig:
            votes.setdefault(piece.origin.line, Counter())[orig_tokens[to_orig[k]].line] += 1
    return {line: c.most_common(1)[0][0] for line, c in votes.items()}


def find_sites(original: str, rewritten: str) -> List[Site]:
    """Every probe-read site bcc inserted, placed on the original program."""
    orig_tokens, plain, raw, to_orig = _align(original, rewritten)
    # Each nested site's pieces object also appears, by identity, inside its parent's expression and
    # in the top-level stream; place every site by where its pieces sit in the top-level stream.
    index_of = {id(p): k for k, p in enumerate(plain)}
    lines = original.splitlines()
    sites = []
    for _, _, _, info in raw:
        pieces = info["pieces"]
        positions = [index_of.get(id(p)) for p in pieces]
        mapped = [to_orig.get(k) for k in positions if k is not None]
        mapped = [m for m in mapped if m is not None]
        text = " ".join(p.text for p in pieces)
        line = col = end_line = end_col = 0
        if mapped and len(mapped) == len(pieces) and mapped == list(range(mapped[0], mapped[0] + len(mapped))):
            first, last = orig_tokens[mapped[0]], orig_tokens[mapped[-1]]
            line, col, end_line, end_col = first.line, first.col, last.end_line, last.end_col
            text = _slice(lines, first, last)
        elif mapped:  # partly placed: keep where it starts so the report can still point at it
            first = orig_tokens[mapped[0]]
            line, col, end_line, end_col = first.line, first.col, first.end_line, first.end_col
        sites.append(Site(text=text, line=line, col=col, end_line=end_line, end_col=end_col,
                          helper=info["helper"], form=info["form"], address=info["address"],
                          rewritten_line=info["rewritten_line"], depth=info["depth"],
                          value_type=info["value_type"]))
    sites.sort(key=lambda s: (s.line, s.col, s.depth))
    return sites


def _slice(lines: List[str], first: Token, last: Token) -> str:
    if first.line == last.line:
        return lines[first.line - 1].encode()[first.col - 1:last.end_col - 1].decode()
    parts = [lines[first.line - 1].encode()[first.col - 1:].decode()]
    parts += lines[first.line:last.end_line - 1]
    parts.append(lines[last.end_line - 1].encode()[:last.end_col - 1].decode())
    return " ".join(p.strip() for p in parts)
