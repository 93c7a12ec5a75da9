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
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .ctokens import Token, code_tokens, matching, tokenize
from .gates import Gate, GateError, parse_gate
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
CLASS_LABELS = ("FP-EXTRA", "FP-SYNTAX", "FP-REFUSED", "FN-MISSING", "FN-VERIFIER", "WRONG-READ", "FN-RUNTIME", "FP-RUNTIME")
REPORT_ONLY = re.compile(r"^//\s*REPORT-ONLY\s*$")
ATTACH_KINDS = ("kprobe", "kretprobe", "tracepoint", "raw_tracepoint", "tc", "xdp", "socket")
TRIGGERS = ("open", "udp", "tcp")
REWRITE = re.compile(r"expect-rewrite(?:@([+-]?\d+))?\{\{(.+?)\}\}")
LOAD = re.compile(r"expect-load(?:\[(\w+)\])?:\s*(ok|reject(?:\s+([\w-]+))?)\s*$")


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

    def load_expectation(self, function: str) -> LoadExpectation:
        return dict(self.function_loads).get(function, self.load)

    def prog_types(self) -> Dict[str, str]:
        return {f.name: f.prog_type for f in self.functions}


def case_id(path: Path, root: Path) -> str:
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        rel = Path(path.name)
    return str(rel.with_suffix(""))


def read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CaseError(path, line, f"not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start})")


def parse_case(path: Path, root: Path, text: Optional[str] = None) -> Case:
    path = Path(path)
    if text is None:
        text = read_text(path)
    if not text.strip():
        raise CaseError(path, 1, "empty case file")
    tokens = tokenize(text, path.name)
    lines = text.splitlines()
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
                description = m.group(2).strip()

    if not description:
        raise CaseError(path, 1, "missing '// CASE: <one-line description>'")
    # An ATTACH line says the program type where neither a PROG line nor the name does.
    attach_types = {"tc": "sched_cls", "xdp": "xdp", "socket": "socket_filter", "kretprobe": "kretprobe",
                    "tracepoint": "tracepoint", "raw_tracepoint": "raw_tracepoint"}
    for name, (kind, _, line) in attach.items():
        if name not in declared and kind in attach_types:
            declared[name] = (attach_types[kind], line)
    functions = _functions(path, code_tokens(tokens), declared)
    if not functions:
        raise CaseError(path, 1, "no BPF program function found (a non-static function with a body, "
                                 "or TRACEPOINT_PROBE/RAW_TRACEPOINT_PROBE)")
    names = {f.name for f in functions}
    for name, (_, line) in declared.items():
        if name not in names:
            raise CaseError(path, line, f"PROG names {name!r}, which is not a program function here")
    for name, (_, _, line) in attach.items():
        if name not in names:
            raise CaseError(path, line, f"ATTACH names {name!r}, which is not a program function here")
    attach_points = tuple((f.name, *attach[f.name][:2]) if f.name in attach else (f.name, *_implied_attach(f.name))
                          for f in functions if f.name in attach or _implied_attach(f.name))

    sites = tuple(_locate(path, tokens, lines, ann, target, want) for ann, target, want in rewrites)
    case_load = LoadExpectation(True)
    function_loads = []
    for line, fname, expectation in loads:
        owner = fname or next((f.name for f in functions if f.first_line <= line <= f.last_line), None)
        if fname and fname not in {f.name for f in functions}:
            raise CaseError(path, line, f"expect-load[{fname}] names no program function")
        if owner:
            function_loads.append((owner, expectation))
        else:
            case_load = expectation
    return Case(id=case_id(path, root), path=path, text=text, description=description,
                functions=tuple(functions), sites=sites, load=case_load,
                function_loads=tuple(function_loads), requires=tuple(requires), xfails=tuple(xfails),
                attach=attach_points, trigger=trigger[0], report_only=report_only, origin=origin,
                cflags=tuple(cflags), expect_map=tuple(expect_map))


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
                declared[words[0]] = (words[1], n)
            elif key == "ATTACH":
                words = value.split()
                if len(words) != 3 or words[1] not in ATTACH_KINDS:
                    raise CaseError(path, n, f"ATTACH wants '<function> <kind> <target>', kind one of "
                                             f"{', '.join(ATTACH_KINDS)}")
                attach[words[0]] = (words[1], words[2], n)
            elif key == "TRIGGER":
                words = value.split()
                arity = {"open": 1, "udp": 4, "tcp": 2}
                if not words or words[0] not in TRIGGERS or len(words) != arity[words[0]] or \
                        not all(w.isdigit() for w in words[1:]):
                    raise CaseError(path, n, f"TRIGGER wants 'open', 'tcp PORT' or 'udp COUNT SIZE PORT', "
                                             f"not {value!r}")
                trigger[0] = value
            elif key == "EXPECT-MAP":
                m = EXPECT_MAP.match(value)
                if not m:
                    raise CaseError(path, n, f"EXPECT-MAP wants 'map[key] == value' (==, !=, >=, <=, >, <), "
                                             f"not {value!r}")
                raw = m.group(4)
                number = ord(raw[1]) if raw.startswith("'") else raw if raw.startswith("$") else int(raw)
                expect_map.append((m.group(1), int(m.group(2)), m.group(3), number))
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


def _target_line(spec: Optional[str], line: int) -> int:
    if spec is None:
        return line
    if spec[0] in "+-":
        return line + int(spec)
    return int(spec)


def _locate(path: Path, tokens: List[Token], lines: List[str], ann_line: int, line: int, want: str) -> ExpectedSite:
    """The annotation's expression must appear, token for token, in the code of its target line."""
    want_tokens = [t.text for t in code_tokens(tokenize(want))]
    here = [t for t in code_tokens(tokens) if t.line == line]
    texts = [t.text for t in here]
    macro_call = len(want_tokens) > 2 and want_tokens[1] == "(" and want_tokens[0][:1].isalpha()
    if not any(t in ("->", "[") for t in want_tokens) and want_tokens[:1] != ["*"] and not macro_call and \
            not (want_tokens[:1] == ["("] and "*" in want_tokens):
        raise CaseError(path, ann_line, f"expect-rewrite{{{{{want}}}}} names no dereference "
                                        f"(a rewrite site is a `->`, a unary `*`, a subscript or a macro call)")
    for i in range(len(texts) - len(want_tokens) + 1):
        # a whole expression, not the tail of a longer member chain (`p->a` inside `q->p->a`)
        if i > 0 and texts[i - 1] in (".", "->"):
            continue
        if want_tokens[:1] == ["*"] and i > 0 and (here[i - 1].kind in ("identifier", "literal")
                                                   or texts[i - 1] in (")", "]")):
            continue    # that `*` multiplies
        if texts[i:i + len(want_tokens)] == want_tokens:
            last = here[i + len(want_tokens) - 1]
            source = lines[line - 1].encode()[here[i].col - 1:last.end_col - 1].decode()
            return ExpectedSite(line=line, text=source, col=here[i].col, annotation_line=ann_line)
    raise CaseError(path, ann_line, f"expect-rewrite{{{{{want}}}}} names no expression on line {line}")


def _functions(path: Path, tokens: List[Token], declared: Dict[str, Tuple[str, int]]) -> List[Function]:
    """Program functions: non-static definitions at file scope, and bcc's probe macros."""
    found = []
    depth = 0
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.text == "{":
            depth += 1
        elif t.text == "}":
            depth -= 1
        elif depth == 0 and t.kind == "identifier" and i + 1 < len(tokens) and tokens[i + 1].text == "(":
            close = matching(tokens, i + 1)
            if close is not None and close + 1 < len(tokens) and tokens[close + 1].text == "{":
                end = matching(tokens, close + 1, "{", "}")
                last = tokens[end].line if end is not None else tokens[-1].line
                name = _program_name(tokens, i, close)
                if name:
                    kind = declared.get(name, (None,))[0] or _infer_type(name, tokens[i + 2:close])
                    found.append(Function(name, kind, t.line, last))
                i = (end if end is not None else len(tokens)) + 1
                continue
        i += 1
    return found


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
        if p.is_dir():
            files += sorted(p.rglob("*.c"))
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
        except OSError as e:
            errors.append(CaseError(f, 1, f"cannot read: {e.strerror}"))
    return LoadedCases(tuple(cases), tuple(errors))
