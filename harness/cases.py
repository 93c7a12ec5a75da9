"""Cases: a bcc C program with its expectations written inline, in the spirit of clang -verify.

    // CASE: one-line description                       (required)
    // PROG: function_name kprobe                       (program type where the name does not say)
    // REQUIRES: kernel>=5.5                            (else UNSUPPORTED in that cell)
    // ATTACH: function kprobe finish_task_switch       (where it runs for runtime checks; re:REGEX allowed;
                                                        kprobe__X, tracepoint__C__E ... attach by name)
    // TRIGGER: open | udp COUNT SIZE PORT              (what the trigger does; default: open. udp sends COUNT
                                                        packets of SIZE payload bytes from a peer namespace
                                                        over a veth pair to 10.200.0.1:PORT)
    // ATTACH: fn tc ingress|egress, fn xdp generic, fn socket veth   (network programs, on the veth)
    // TRIGGER: tcp PORT                                (the trigger process connects to 127.0.0.1:PORT)
    // EXPECT-MAP: counts[0] == 3                       (a map value after the trigger: runtime check;
                                                        'c' is a character, $PID / $PPID the trigger
                                                        process's pid and its parent's)
    // REPORT-ONLY                                      (no site expectations: only compile and load count)
    // CFLAGS: -DMAX_PID=32768                          (compiler flags the program is built with)
    // XFAIL: bcc<=0.37 WRONG-READ reason               (a class after the conditions: the failure predicted)
    // ORIGIN: where the program comes from               (kept with imported programs)
    // XFAIL: bcc<0.38 reason, link                     (a failure there is expected; a pass is XPASS)
    // expect-load: ok | reject <category>              (outside functions: whole case; inside: that function)
    ... prev->pid ...   // expect-rewrite{{prev->pid}}    (this line; @+N / @-N relative, @N absolute)

The set of expect-rewrite sites is strict: a rewrite no annotation names is an extra call.
"""

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .ctokens import Token, code_tokens, matching, tokenize
from .gates import Gate, GateError, parse_gate
from .outcome import Outcome
from .paths import display_path

PROG_TYPES = ("kprobe", "kretprobe", "uprobe", "uretprobe", "tracepoint", "raw_tracepoint",
              "perf_event", "socket_filter", "sched_cls", "tc", "xdp", "sock_ops", "cgroup_sockopt",
              "cgroup_skb", "cgroup_sock", "sk_msg", "fentry", "fexit", "lsm")
# bcc's own naming conventions (and its probe macros) say the type; then the context parameter's type;
# anything else defaults to kprobe.
NAME_PREFIXES = {"kprobe__": "kprobe", "kretprobe__": "kretprobe", "tracepoint__": "tracepoint",
                 "raw_tracepoint__": "raw_tracepoint", "kfunc__": "fentry", "kretfunc__": "fexit",
                 "lsm__": "lsm"}
# The macros expand to `int <prefix><args joined by __>(...)` (KFUNC_PROBE's name gained `vmlinux__`
# after 0.26: the guest matches both spellings).
PROBE_MACROS = {"TRACEPOINT_PROBE": ("tracepoint__", "tracepoint"),
                "RAW_TRACEPOINT_PROBE": ("raw_tracepoint__", "raw_tracepoint"),
                "KFUNC_PROBE": ("kfunc__", "fentry"), "KRETFUNC_PROBE": ("kretfunc__", "fexit"),
                "LSM_PROBE": ("lsm__", "lsm")}
# The context parameter's struct says the type where the name does not. A __sk_buff program loads as
# sched_cls: the type that accepts every __sk_buff access a socket filter does, and tc's own helpers.
CONTEXT_TYPES = {"__sk_buff": "sched_cls", "xdp_md": "xdp", "bpf_sock_ops": "sock_ops",
                 "bpf_sockopt": "cgroup_sockopt", "bpf_perf_event_data": "perf_event",
                 "bpf_raw_tracepoint_args": "raw_tracepoint", "sk_msg_md": "sk_msg", "bpf_sock": "cgroup_sock"}
LOAD_CATEGORIES = ("invalid-mem-access", "ctx-access", "unknown-helper", "other")

HEADER = re.compile(r"//\s*(CASE|PROG|REQUIRES|XFAIL|ATTACH|TRIGGER|ORIGIN|CFLAGS|EXPECT-MAP):(.*)$")
EXPECT_MAP = re.compile(r"^(\w+)\[(\d+)\]\s*(==|!=|>=|<=|>|<)\s*(-?\d+|'.'|\$PID|\$PPID)$")
CLASS_LABELS = tuple(o.label for o in Outcome if o.rewriter_bug)    # what an XFAIL line may predict
LOOKS_LIKE_CLASS = re.compile(r"^[A-Z]{2,}(-[A-Z]+)+$")
REPORT_ONLY = re.compile(r"^//\s*REPORT-ONLY\s*$")
ATTACH_KINDS = ("kprobe", "kretprobe", "tracepoint", "raw_tracepoint", "tc", "xdp", "socket")
TRIGGERS = ("open", "udp", "tcp")
REWRITE = re.compile(r"expect-rewrite(?:@([+-]?\d+))?\{\{(.+?)\}\}")
LOAD = re.compile(r"expect-load(?:\[(\w+)\])?:\s*(ok|reject(?:\s+([\w-]+))?)\s*$")
MAX_CASE_BYTES = 512 * 1024     # a case is one small program; bcc's largest tools are under 40 KB
# bcc's map macros: BPF_HASH(name, ...), BPF_TABLE("hash", key, leaf, name, ...), BPF_PERF_OUTPUT(name) ...
MAP_MACRO = re.compile(r"BPF_[A-Z0-9_]+$")
MACRO_NAME = re.compile(r"[A-Z][A-Z0-9_]*$")
INTERNAL = "the harness failed to parse this file; please report it"


class CaseError(ValueError):
    """A case file that cannot be used; names the file and line."""

    def __init__(self, path: Path, line: int, message: str):
        super().__init__(f"{display_path(path)}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclass(frozen=True)
class ExpectedSite:
    line: int
    text: str           # the source expression, as written in the annotation
    col: int            # where it starts on its line (1-based)
    annotation_line: int


@dataclass(frozen=True)
class LoadExpectation:
    ok: bool
    category: str = ""  # for reject: the verifier log category it must show ("" = any)


@dataclass(frozen=True)
class Function:
    name: str
    prog_type: str
    first_line: int
    last_line: int


@dataclass(frozen=True)
class Xfail:
    gate: Gate
    reason: str
    predicts: str = ""      # a class label the gate predicts (e.g. WRONG-READ), "" for any failure


@dataclass(frozen=True)
class Case:
    id: str                 # path below the cases root, without .c
    path: Path
    text: str
    description: str
    functions: Tuple[Function, ...]
    sites: Tuple[ExpectedSite, ...]
    load: LoadExpectation
    function_loads: Tuple[Tuple[str, LoadExpectation], ...] = ()
    requires: Tuple[Gate, ...] = ()
    xfails: Tuple[Xfail, ...] = ()
    attach: Tuple[Tuple[str, str, str], ...] = ()   # (function, kind, target)
    trigger: str = "open"
    report_only: bool = False
    origin: str = ""
    cflags: Tuple[str, ...] = ()
    expect_map: Tuple[Tuple[str, int, str, int], ...] = ()   # (map, key, op, value) after the trigger

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @property
    def untrusted(self) -> bool:
        """Triage reports and imported tools (report-only, or with an origin) are untrusted input: they
        compile in the untrusted sandbox. The project's hand-written cases are reviewed code."""
        return self.report_only or bool(self.origin)

    def load_expectation(self, function: str) -> LoadExpectation:
        return dict(self.function_loads).get(function, self.load)

    def prog_types(self) -> Dict[str, str]:
        return {f.name: f.prog_type for f in self.functions}


def case_id(path: Path, root: Path) -> str:
    try:
        rel = Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
    except ValueError:
        rel = Path(path.name)
    return str(rel.with_suffix(""))


def read_text(path: Path) -> str:
    """The case's text; a file that cannot be a case (unreadable, a FIFO, a symlink loop, huge, not
    UTF-8) is a CaseError naming it, never an exception that stops the other cases."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise CaseError(path, 1, "not a regular file (a directory, FIFO or device cannot be a case)")
        if st.st_size > MAX_CASE_BYTES:
            raise CaseError(path, 1, f"{st.st_size} bytes, more than the {MAX_CASE_BYTES} a case may have")
        data = path.read_bytes()
    except OSError as e:
        raise CaseError(path, 1, f"cannot read: {e.strerror or e}")
    _reject_nul(path, data)     # before decoding: a binary file is named as such
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CaseError(path, line, f"not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start})")


def _reject_nul(path: Path, data) -> None:
    """bytes or str: a NUL byte ends the text for C tools, so what follows would be silently ignored."""
    nul = "\0" if isinstance(data, str) else b"\0"
    if nul in data:
        raise CaseError(path, data[:data.index(nul)].count("\n" if isinstance(data, str) else b"\n") + 1,
                        "a NUL byte (a binary file?)")


def parse_case(path: Path, root: Path, text: Optional[str] = None) -> Case:
    path = Path(path)
    if text is None:
        text = read_text(path)
    if not text.strip():
        raise CaseError(path, 1, "empty case file")
    _reject_nul(path, text)
    if text.startswith("\ufeff"):    # a byte-order mark: clang skips it, and columns must not count it
        text = text[1:]
    tokens = tokenize(text, path.name)
    lines = text.splitlines()
    _check_lexing(path, tokens, lines)
    declared: Dict[str, Tuple[str, int]] = {}
    description = ""
    requires: List[Gate] = []
    xfails: List[Xfail] = []
    rewrites: List[Tuple[int, int, str]] = []      # (annotation line, target line, text)
    loads: List[Tuple[int, Optional[str], LoadExpectation]] = []
    attach: Dict[str, Tuple[str, str, int]] = {}
    trigger = ["open"]
    cflags: List[str] = []
    expect_map: List[Tuple[str, int, str, int]] = []

    report_only = False
    origin = ""
    for tok in tokens:
        if tok.kind != "comment":
            continue
        if REPORT_ONLY.match(tok.text.strip()):
            report_only = True
        m = HEADER.match(tok.text.strip())
        if m and m.group(1) == "ORIGIN":
            origin = m.group(2).strip()
        for offset, comment_line in enumerate(tok.text.splitlines()):
            n = tok.line + offset
            _parse_comment(path, n, comment_line, declared, requires, xfails, rewrites, loads,
                           len(lines), attach, trigger, cflags, expect_map)
            m = HEADER.search(comment_line)
            if m and m.group(1) == "CASE":
                if description:
                    raise CaseError(path, n, "a second CASE line (one description per case)")
                description = m.group(2).strip()

    if not description:
        raise CaseError(path, 1, "missing '// CASE: <one-line description>'")
    # An ATTACH line says the program type where neither a PROG line nor the name does.
    attach_types = {"tc": "sched_cls", "xdp": "xdp", "socket": "socket_filter", "kretprobe": "kretprobe",
                    "tracepoint": "tracepoint", "raw_tracepoint": "raw_tracepoint"}
    for name, (kind, _, line) in attach.items():
        if name not in declared and kind in attach_types:
            declared[name] = (attach_types[kind], line)
    if not code_tokens(tokens):
        raise CaseError(path, 1, "no code, only comments: a case needs a program (functions, or maps and "
                                 "types to compile)")
    code = _without_directives(code_tokens(tokens), lines)
    # No program function at all (maps and types only) is a compile-only case.
    functions = _functions(path, code, declared)
    names = {f.name for f in functions}
    _check_implied_attach(path, functions, declared, attach)
    maps = _declared_maps(code)
    for name, _, _, _, line in expect_map:
        if name not in maps:
            raise CaseError(path, line, f"EXPECT-MAP names map {name!r}, which the program does not declare "
                                        f"(declared: {', '.join(sorted(maps)) or 'none'})")
    for name, (_, line) in declared.items():
        if name not in names:
            raise CaseError(path, line, f"PROG names {name!r}, which is not a program function here")
    for name, (_, _, line) in attach.items():
        if name not in names:
            raise CaseError(path, line, f"ATTACH names {name!r}, which is not a program function here")
    attach_points = tuple((f.name, *attach[f.name][:2]) if f.name in attach else (f.name, *_implied_attach(f.name))
                          for f in functions if f.name in attach or _implied_attach(f.name))

    sites = []
    for ann, target, want in rewrites:     # the same text annotated twice on a line: its 2nd occurrence
        nth = sum((t, w) == (target, want) for _, t, w in rewrites[:len(sites)])
        sites.append(_locate(path, tokens, lines, ann, target, want, nth))
    sites = tuple(sites)
    case_load = LoadExpectation(True)
    function_loads = []
    said: Dict[Optional[str], int] = {}
    for line, fname, expectation in loads:
        owner = fname or next((f.name for f in functions if f.first_line <= line <= f.last_line), None)
        if fname and fname not in {f.name for f in functions}:
            raise CaseError(path, line, f"expect-load[{fname}] names no program function")
        if owner in said:
            raise CaseError(path, line, f"a second expect-load for {owner or 'the whole case'} "
                                        f"(the first is on line {said[owner]})")
        said[owner] = line
        if owner:
            function_loads.append((owner, expectation))
        else:
            case_load = expectation
    return Case(id=case_id(path, root), path=path, text=text, description=description,
                functions=tuple(functions), sites=sites, load=case_load,
                function_loads=tuple(function_loads), requires=tuple(requires), xfails=tuple(xfails),
                attach=attach_points, trigger=trigger[0], report_only=report_only, origin=origin,
                cflags=tuple(cflags), expect_map=tuple(e[:4] for e in expect_map))


def _parse_comment(path, n, comment, declared, requires, xfails, rewrites, loads, nlines, attach, trigger,
                   cflags, expect_map):
    m = HEADER.search(comment)
    if m:
        key, value = m.group(1), m.group(2).strip()
        try:
            if key == "PROG":
                words = value.split()
                if len(words) != 2 or words[1] not in PROG_TYPES:
                    raise CaseError(path, n, f"PROG wants '<function> <type>', type one of {', '.join(PROG_TYPES)}")
                if words[0] in declared:
                    raise CaseError(path, n, f"a second PROG line for {words[0]} (line {declared[words[0]][1]})")
                declared[words[0]] = (words[1], n)
            elif key == "ATTACH":
                words = value.split()
                if len(words) != 3 or words[1] not in ATTACH_KINDS:
                    raise CaseError(path, n, f"ATTACH wants '<function> <kind> <target>', kind one of "
                                             f"{', '.join(ATTACH_KINDS)}")
                if words[0] in attach:
                    raise CaseError(path, n, f"a second ATTACH line for {words[0]} (line {attach[words[0]][2]})")
                if words[2].startswith("re:"):
                    try:
                        re.compile(words[2][3:])
                    except re.error as e:
                        raise CaseError(path, n, f"ATTACH: bad regular expression {words[2][3:]!r}: {e}")
                attach[words[0]] = (words[1], words[2], n)
            elif key == "TRIGGER":
                words = value.split()
                arity = {"open": 1, "udp": 4, "tcp": 2}
                if not words or words[0] not in TRIGGERS or len(words) != arity[words[0]] or \
                        not all(w.isdigit() for w in words[1:]):
                    raise CaseError(path, n, f"TRIGGER wants 'open', 'tcp PORT' or 'udp COUNT SIZE PORT', "
                                             f"not {value!r}")
                _check_trigger(path, n, words)
                if len(trigger) > 1:
                    raise CaseError(path, n, f"a second TRIGGER line (line {trigger[1]})")
                trigger[:] = [value, n]
            elif key == "EXPECT-MAP":
                m = EXPECT_MAP.match(value)
                if not m:
                    raise CaseError(path, n, f"EXPECT-MAP wants 'map[key] == value' (==, !=, >=, <=, >, <), "
                                             f"not {value!r}")
                raw = m.group(4)
                number = ord(raw[1]) if raw.startswith("'") else raw if raw.startswith("$") else int(raw)
                expect_map.append((m.group(1), int(m.group(2)), m.group(3), number, n))
            elif key == "REQUIRES":
                gate, rest = parse_gate(value)
                if rest:
                    raise CaseError(path, n, f"REQUIRES: unexpected text {rest!r}")
                requires.append(gate)
            elif key == "XFAIL":
                gate, reason = parse_gate(value)
                predicts = ""
                first = reason.split(" ", 1)[0].rstrip(":")
                if first in CLASS_LABELS:
                    predicts, reason = first, reason.split(" ", 1)[1].strip() if " " in reason else ""
                elif LOOKS_LIKE_CLASS.match(first) or first in {o.label for o in Outcome}:
                    raise CaseError(path, n, f"XFAIL: {first} is not a class an XFAIL line can predict "
                                             f"({', '.join(CLASS_LABELS)})")
                if not reason:
                    raise CaseError(path, n, "XFAIL needs a reason after its conditions")
                xfails.append(Xfail(gate, reason, predicts))
            elif key == "CFLAGS":
                cflags.extend(value.split())
        except GateError as e:
            raise CaseError(path, n, f"{key}: {e}")
    if "expect-rewrite" in comment:
        found = list(REWRITE.finditer(comment))
        leftover = REWRITE.sub("", comment)
        if not found or "expect-rewrite" in leftover:
            raise CaseError(path, n, "malformed expect-rewrite (expected expect-rewrite{{expr}} or "
                                     "expect-rewrite@+1{{expr}})")
        for r in found:
            target = _target_line(r.group(1), n)
            if not 1 <= target <= nlines:
                raise CaseError(path, n, f"expect-rewrite@{r.group(1)} points at line {target}, "
                                         f"outside the file")
            rewrites.append((n, target, r.group(2).strip()))
    if "expect-load" in comment:
        m = LOAD.search(comment)
        if not m:
            raise CaseError(path, n, "malformed expect-load (expected 'expect-load: ok' or "
                                     "'expect-load: reject invalid-mem-access')")
        category = m.group(3) or ""
        if category and category not in LOAD_CATEGORIES:
            raise CaseError(path, n, f"unknown load category {category!r} ({', '.join(LOAD_CATEGORIES)})")
        loads.append((n, m.group(1), LoadExpectation(m.group(2) == "ok", category)))


def _check_lexing(path: Path, tokens: List[Token], lines: List[str]) -> None:
    """What clang's lexer swallows silently: an unclosed literal becomes one odd token, an unclosed
    comment no token at all (it runs to the end of the file)."""
    for t in tokens:
        if t.kind == "punctuation" and t.text[:1] in "\"'":
            raise CaseError(path, t.line, "a string or character literal that is never closed")
    end_line, end_col = (tokens[-1].end_line, tokens[-1].end_col) if tokens else (1, 1)
    tail = [lines[end_line - 1].encode()[end_col - 1:].decode(errors="replace")] if end_line <= len(lines) else []
    for n, text in enumerate(tail + lines[end_line:], end_line):
        if "/*" in text:
            raise CaseError(path, n, "a /* comment that is never closed")


def _check_trigger(path: Path, n: int, words: List[str]) -> None:
    """Numbers the trigger can use: a port in 1..65535; udp: at least one packet, at most a datagram."""
    numbers = [int(w) for w in words[1:]]
    if numbers and not 1 <= numbers[-1] <= 65535:
        raise CaseError(path, n, f"TRIGGER: port {numbers[-1]} is not in 1..65535")
    if words[0] == "udp":
        count, size = numbers[:2]
        if count < 1 or size > 65507:
            raise CaseError(path, n, f"TRIGGER: udp wants COUNT >= 1 and SIZE <= 65507 (a UDP datagram), "
                                     f"not {count} and {size}")


def _target_line(spec: Optional[str], line: int) -> int:
    if spec is None:
        return line
    if spec[0] in "+-":
        return line + int(spec)
    return int(spec)


def _locate(path: Path, tokens: List[Token], lines: List[str], ann_line: int, line: int, want: str,
            nth: int = 0) -> ExpectedSite:
    """The annotation's expression must appear, token for token, in the code of its target line (its
    nth occurrence there when the same expression is annotated several times)."""
    want_tokens = [t.text for t in code_tokens(tokenize(want))]
    here = [t for t in code_tokens(tokens) if t.line == line]
    texts = [t.text for t in here]
    macro_call = len(want_tokens) > 2 and want_tokens[1] == "(" and want_tokens[0][:1].isalpha()
    if not any(t in ("->", "[") for t in want_tokens) and want_tokens[:1] != ["*"] and not macro_call and \
            not (want_tokens[:1] == ["("] and "*" in want_tokens):
        raise CaseError(path, ann_line, f"expect-rewrite{{{{{want}}}}} names no dereference "
                                        f"(a rewrite site is a `->`, a unary `*`, a subscript or a macro call)")
    found = []
    for i in range(len(texts) - len(want_tokens) + 1):
        # a whole expression, not the tail of a longer member chain (`p->a` inside `q->p->a`)
        if i > 0 and texts[i - 1] in (".", "->"):
            continue
        if want_tokens[:1] == ["*"] and i > 0 and (here[i - 1].kind in ("identifier", "literal")
                                                   or texts[i - 1] in (")", "]")):
            continue    # that `*` multiplies
        if texts[i:i + len(want_tokens)] == want_tokens:
            found.append(i)
    if nth >= len(found) > 0:
        raise CaseError(path, ann_line, f"expect-rewrite{{{{{want}}}}} annotated {nth + 1} times, but line {line} "
                                        f"holds it {len(found)} time(s)")
    if not found:
        raise CaseError(path, ann_line, f"expect-rewrite{{{{{want}}}}} names no expression on line {line}")
    i = found[nth]
    last = here[i + len(want_tokens) - 1]
    source = lines[line - 1].encode()[here[i].col - 1:last.end_col - 1].decode()
    return ExpectedSite(line=line, text=source, col=here[i].col, annotation_line=ann_line)


def _without_directives(tokens: List[Token], lines: List[str]) -> List[Token]:
    """Code tokens outside preprocessor lines (`#define LBRACE {` must not count as a brace)."""
    directive, continued = set(), False
    for n, text in enumerate(lines, 1):
        if continued or text.lstrip().startswith("#"):
            directive.add(n)
            continued = text.rstrip().endswith("\\")
    return [t for t in tokens if t.line not in directive]


def _functions(path: Path, tokens: List[Token], declared: Dict[str, Tuple[str, int]]) -> List[Function]:
    """Program functions: non-static definitions at file scope, and bcc's probe macros. Braces must
    balance and a program name may be defined once."""
    found: List[Function] = []
    opened: List[int] = []      # lines of the braces still open
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.text == "{":
            opened.append(t.line)
        elif t.text == "}":
            if not opened:
                raise CaseError(path, t.line, "a `}` that closes no `{`")
            opened.pop()
        elif not opened and t.kind == "identifier" and i + 1 < len(tokens) and tokens[i + 1].text == "(":
            close = matching(tokens, i + 1)
            if close is not None and close + 1 < len(tokens) and tokens[close + 1].text == "{":
                end = matching(tokens, close + 1, "{", "}")
                if end is None:
                    raise CaseError(path, tokens[close + 1].line, f"the `{{` of {t.text}'s body is never closed")
                name = _program_name(tokens, i, close)
                if name:
                    twin = next((f for f in found if f.name == name), None)
                    if twin and not MACRO_NAME.match(name):     # KFUNC_PROBE(a), KFUNC_PROBE(b): bcc names them
                        raise CaseError(path, t.line, f"program function {name} is defined twice "
                                                      f"(first on line {twin.first_line})")
                    kind = declared.get(name, (None,))[0] or _infer_type(name, tokens[i + 2:close])
                    found.append(Function(name, kind, t.line, tokens[end].line))
                i = end + 1
                continue
        i += 1
    if opened:
        raise CaseError(path, opened[-1], "a `{` that is never closed")
    return found


def _check_implied_attach(path: Path, functions: List[Function], declared: Dict[str, Tuple[str, int]],
                          attach: Dict[str, Tuple[str, str, int]]) -> None:
    """bcc attaches kprobe__X, kretprobe__X, tracepoint__C__E by name: a PROG or ATTACH line saying
    otherwise describes a program bcc does not run."""
    for f in functions:
        implied = _implied_attach(f.name)
        if not implied:
            continue
        kind, target = implied
        if not target or (kind == "tracepoint" and "" in target.split(":")):
            wants = "tracepoint__<category>__<event>" if kind == "tracepoint" else f"{kind}__<function>"
            raise CaseError(path, f.first_line, f"{f.name!r} names no attach point: bcc wants {wants}")
        if f.name in declared and declared[f.name][0] != _infer_type(f.name):
            prog, line = declared[f.name]
            raise CaseError(path, line, f"{f.name} is a {_infer_type(f.name)} by its name (bcc attaches it "
                                        f"so), not a {prog}")
        if f.name in attach:
            a_kind, a_target, line = attach[f.name]
            same = re.search(a_target[3:], target) if a_target.startswith("re:") else a_target == target
            if a_kind != kind or not same:
                raise CaseError(path, line, f"ATTACH says {a_kind} {a_target}, but bcc attaches {f.name} "
                                            f"by its name: {kind} {target}")


def _declared_maps(tokens: List[Token]) -> set:
    """Map names declared by bcc's macros at file scope: BPF_HASH(name, ...), BPF_PERF_OUTPUT(name),
    and the name fourth in BPF_TABLE(type, key, leaf, name, size) and its variants."""
    names = set()
    for i, t in enumerate(tokens[:-1]):
        if t.kind == "identifier" and MAP_MACRO.match(t.text) and tokens[i + 1].text == "(":
            close = matching(tokens, i + 1)
            args, depth = [[]], 0
            for a in tokens[i + 2:close if close is not None else len(tokens)]:
                depth += (a.text in "([{") - (a.text in ")]}")
                if a.text == "," and depth == 0:
                    args.append([])
                else:
                    args[-1].append(a.text)
            at = 3 if t.text.startswith(("BPF_TABLE", "BPF_F_TABLE")) else 0
            if at < len(args) and len(args[at]) == 1:
                names.add(args[at][0])
    return names


def _program_name(tokens: List[Token], i: int, close: int) -> Optional[str]:
    name = tokens[i].text
    if name in PROBE_MACROS:
        args = [t.text for t in tokens[i + 2:close] if t.text != ","]
        if PROBE_MACROS[name][1] in ("fentry", "fexit", "lsm"):
            args = args[:1]         # the rest are the traced function's parameters
        return PROBE_MACROS[name][0] + "__".join(args)
    # Look back over the declaration's specifiers: static helpers are inlined, not programs.
    j = i - 1
    while j >= 0 and (tokens[j].kind in ("identifier", "keyword") or tokens[j].text == "*"):
        if tokens[j].text == "static":
            return None
        j -= 1
    return name


def _implied_attach(name: str) -> Optional[Tuple[str, str]]:
    """bcc's own names say where a function attaches: kprobe__X, tracepoint__C__E, ..."""
    for prefix in ("kretprobe__", "kprobe__", "raw_tracepoint__"):
        if name.startswith(prefix):
            return prefix[:-2], name[len(prefix):]
    if name.startswith("tracepoint__"):
        category, _, event = name[len("tracepoint__"):].partition("__")
        return "tracepoint", f"{category}:{event}"
    return None


def _infer_type(name: str, params: List[Token] = ()) -> str:
    for prefix, kind in NAME_PREFIXES.items():
        if name.startswith(prefix):
            return kind
    first = []
    for t in params:
        if t.text == ",":
            break
        first.append(t.text)
    if len(first) >= 3 and first[0] == "struct" and first[1] in CONTEXT_TYPES and "*" in first:
        return CONTEXT_TYPES[first[1]]
    return "kprobe"


@dataclass(frozen=True)
class LoadedCases:
    cases: Tuple[Case, ...]
    errors: Tuple[CaseError, ...]


def discover(paths: List[Path], root: Path) -> List[Path]:
    files: List[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():    # a folder named x.c is searched, not read
            files += [f for f in sorted(p.rglob("*.c")) if not f.is_dir()]
        else:
            files.append(p)
    return files


def load_cases(paths: List[Path], root: Path) -> LoadedCases:
    """Parse every case; a bad one becomes an error with file and line, the others still load."""
    cases, errors = [], []
    for f in discover(paths, root):
        try:
            cases.append(parse_case(f, root))
        except CaseError as e:
            errors.append(e)
        except Exception as e:      # a parser bug must not lose the other cases either
            errors.append(CaseError(f, 1, f"{INTERNAL} ({type(e).__name__}: {e})"))
    return LoadedCases(tuple(cases), tuple(errors))
