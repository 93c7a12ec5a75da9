"""Whom a verifier rejection blames: the rewriter (a kernel pointer it left unrewritten) or the program.

The deciding instruction of the log is mapped to a line of the compiled (rewritten) file, through the
line info the log carries (BTF line info, `; <line> @ main.c:NN` on 6.12+, the line's text alone
before) or, where the log has none (split mode loads without BTF), through bcc's own source-annotated
disassembly (DEBUG_SOURCE, in compile.log). That line is mapped back to the original program (the
token alignment of sites.py), and the original line's tokens (libclang's lexer) give the dereferences
on it; those bcc did not rewrite, and whose base is not the program's context, are what the verifier
stopped at. No expectations are needed, so report-only cases and triage reports are judged the same way.
"""

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .ctokens import Token, code_tokens, matching, tokenize
from .sites import Site, compact, line_map
from .verifier import Rejection

DISASM_FUNCTION = re.compile(r"^Disassembly of function (\S+)\s*$")
DISASM_SOURCE = re.compile(r"^; (.*) // Line\s*(\d+)\s*$")
DISASM_INSN = re.compile(r"^\s*(\d+):\t")
# a function-like macro of the program whose body dereferences (`#define TGID_OF(t) ((t)->tgid)`)
DEREF_MACRO = re.compile(r"^\s*#\s*define\s+(\w+)\([^)]*\)[^\n]*(?:->|\(\s*\*)", re.M)

# Why a rejection that is no missed rewrite happened, one a line: category :: pattern on the log :: why.
# ENVIRONMENT_REASONS say this kernel cannot run the program at all: ENV, like a missing helper.
_REASON_TABLE = r"""
wrong-prog-type :: BPF_LD_\[ABS\|IND\] instructions not allowed :: packet loads (load_byte, ...) need a socket filter or tc program
ctx-access :: invalid bpf_context access|invalid access to context :: a context offset this program type does not allow
helper :: program of this type cannot use helper|unknown func|invalid func :: a helper this program type or kernel does not offer
null-check :: invalid mem access '\w*or_null' :: a map lookup's result used without a NULL check
loop :: back-edge|infinite loop|loop detected|unbounded :: a loop the verifier cannot bound
too-complex :: too large|too many states|complexity limit|jump out of range :: the program exceeds the verifier's limits
stack-uninit :: invalid (indirect )?read from stack|uninitialized stack :: it reads stack memory it never wrote
uninit-register :: !read_ok :: it reads a register it never set
stack-size :: stack (limit|size|off)|combined stack :: its stack is too large
helper-argument :: type=\w+ expected=|expected=\w+ :: a helper gets an argument of the wrong kind
pointer-arithmetic :: on pointer prohibited|pointer arithmetic .* prohibited :: arithmetic forbidden on a stack or map pointer
attach-target :: must provide btf_id|attach_btf_id|is not a (global )?function :: the traced function is not in this kernel's BTF
reference-leak :: unreleased reference|reference leak :: an acquired reference is not released
scalar-load :: invalid mem access '(inv|scalar)' :: a load through a plain number on a line with no unrewritten kernel pointer dereference
"""
REASONS = tuple((re.compile(pattern), category, why) for category, pattern, why in
                (row.split(" :: ") for row in _REASON_TABLE.strip().splitlines()))
ENVIRONMENT_REASONS = ("attach-target",)


@dataclass(frozen=True)
class Deref:
    text: str
    line: int
    col: int


@dataclass(frozen=True)
class Attribution:
    line: int = 0                   # the original line the deciding instruction comes from (0: unknown)
    source: str = ""                # that line's text
    how: str = ""                   # how the line was found
    derefs: Tuple[Deref, ...] = ()  # dereferences of external pointers bcc left on it, most likely first


def rejection_reason(rejection: Rejection) -> Tuple[str, str]:
    """(category, why) of a rejection that blames the program, from the deciding line and the log."""
    for pattern, category, why in REASONS:
        if pattern.search(rejection.line):
            return category, why
    for pattern, category, why in REASONS:
        if pattern.search(rejection.tail):
            return category, why
    return "other", "the verifier's reason is in its log"


def source_map(compile_log: str) -> Dict[str, List[Tuple[int, int]]]:
    """bcc's DEBUG_SOURCE disassembly -> function -> [(first instruction, compiled line)] in order."""
    out: Dict[str, List[Tuple[int, int]]] = {}
    fn, line = None, 0
    for text in compile_log.splitlines():
        m = DISASM_FUNCTION.match(text)
        if m:
            fn, line = m.group(1), 0
            out[fn] = []
            continue
        if fn is None:
            continue
        m = DISASM_SOURCE.match(text)
        if m:
            line = int(m.group(2))
            continue
        m = DISASM_INSN.match(text)
        if m and line:
            out[fn].append((int(m.group(1)), line))
    return out


def compiled_line(rejection: Rejection, function: str, compile_log: str, rewritten: str) -> Tuple[int, str]:
    """(line of the compiled file the deciding instruction comes from, how it was found); (0, "")."""
    if rejection.source_line:
        return rejection.source_line, "BTF line info"
    same = [n for n, text in enumerate(rewritten.splitlines(), 1)
            if rejection.source.strip() and compact(text) == compact(rejection.source)]
    if len(same) == 1:      # the log's own source line, where its text says which line it is
        return same[0], "BTF line info"
    if rejection.insn is not None:
        spans = source_map(compile_log).get(function, [])
        before = [line for first, line in spans if first <= rejection.insn]
        if before:
            return before[-1], "bcc's source-annotated disassembly"
    if same:
        return same[0], "BTF line info (the first line with its text)"
    return 0, ""


def attribute(original: str, rewritten: str, compile_log: str, function: str, rejection: Rejection,
              sites: Sequence[Site], context_names: Sequence[str] = ()) -> Attribution:
    """The original line a rejection comes from and the unrewritten dereferences on it."""
    n, how = compiled_line(rejection, function, compile_log, rewritten)
    if not n:
        return Attribution()
    line = line_map(original, rewritten).get(n, 0)
    if not line:
        return Attribution(how=how)
    rewritten_here = {compact(s.text) for s in sites if s.line == line}
    found = [d for d in dereferences(original, line)
             if compact(d.text) not in rewritten_here and _base(d.text) not in context_names]
    return Attribution(line, original.splitlines()[line - 1].strip(), how, tuple(found))


def _base(text: str) -> str:
    m = re.match(r"[\s*(]*(\w+)", text)
    return m.group(1) if m else ""


def _back_to_open(tokens: List[Token], j: int, open_: str, close: str) -> Optional[int]:
    """Index of the bracket opening the one closing at tokens[j] (matching, read backwards)."""
    k = matching(tokens[j::-1], 0, close, open_)
    return None if k is None else j - k


def _chain_start(tokens: List[Token], j: int) -> int:
    """The first token of the postfix expression ending at tokens[j] (a `->` base)."""
    while j >= 0:
        t = tokens[j]
        if t.text in (")", "]"):
            k = _back_to_open(tokens, j, "(" if t.text == ")" else "[", t.text)
            if k is None:
                return j
            if k > 0 and (tokens[k - 1].kind == "identifier" or tokens[k - 1].text in (")", "]")):
                j = k - 1          # a call or a subscript: its callee or array is part of the base
                continue
            return k
        if t.kind == "identifier":
            if j >= 2 and tokens[j - 1].text in (".", "->"):
                j -= 2
                continue
            return j
        return j + 1
    return 0


def dereferences(text: str, line: int) -> List[Deref]:
    """Member accesses through `->`, uses of the program's own macros that dereference, and unary `*`
    on one line of a program, in that order."""
    tokens = code_tokens(tokenize(text, "original.c"))
    here = [t for t in tokens if t.line == line]
    src = text.splitlines()[line - 1].encode()

    def span(a: int, b: int) -> Deref:
        return Deref(src[here[a].col - 1:here[b].end_col - 1].decode(), line, here[a].col)

    derefing_macros = set(DEREF_MACRO.findall(text))
    arrows, macros, stars = [], [], []
    for k, t in enumerate(here):
        if t.text in derefing_macros and k + 1 < len(here) and here[k + 1].text == "(":
            close = matching(here, k + 1)
            if close is not None:
                macros.append(span(k, close))
            continue
        if t.text == "->" and k > 0 and k + 1 < len(here):
            start = _chain_start(here, k - 1)
            end = k + 1
            while end + 1 < len(here):
                if end + 2 < len(here) and here[end + 1].text == "." and here[end + 2].kind == "identifier":
                    end += 2
                elif here[end + 1].text == "[" and matching(here, end + 1, "[", "]") is not None:
                    end = matching(here, end + 1, "[", "]")     # p->arr[i]: the subscript is the read
                else:
                    break
            if start <= k - 1:
                arrows.append(span(start, end))
        elif t.text == "*" and k + 1 < len(here) and _unary(here, k):
            nxt = here[k + 1]
            if nxt.kind == "identifier":
                stars.append(span(k, k + 1))
            elif nxt.text == "(":
                close = matching(here, k + 1)
                if close is not None:
                    stars.append(span(k, close))
    return arrows + macros + stars


def _unary(tokens: List[Token], k: int) -> bool:
    """Is the `*` at k a dereference (not a multiplication or a pointer declarator)?"""
    if k == 0:
        return True
    prev = tokens[k - 1]
    if prev.text == ")":     # `(struct sock *)*p`: a cast's closing parenthesis
        return k >= 2 and tokens[k - 2].text == "*"
    if prev.kind in ("identifier", "literal") or prev.text == "]":
        return False
    if prev.kind == "keyword":
        return prev.text in ("return", "sizeof", "case")
    return True
