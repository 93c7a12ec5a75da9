"""The differential value oracle: does each rewrite read what the original expression designates?

From a case and bcc's rewrite sites (placed on the original by sites.py) we write two programs:

- the probe: the original program with each outermost site E wrapped so that the value bcc's rewrite
  produced is recorded:   ({ typeof(T) __hr = (E); __harness_record(ID, &__hr, sizeof(__hr)); __hr; })
  bcc rewrites E inside it exactly as it would in the case;
- the twin: every site (nested ones too) replaced by an explicit read of the original expression's
  address, nested sites first, each into a temporary of its own; bcc must rewrite nothing in it (checked):
      ({ typeof(Tn) __hN = <twin of nested site N>; ...
         typeof(T) __hr; ...; bpf_probe_read_kernel(&__hr, sizeof(__hr), (void *)RIGHT); record value;
         u64 __ho = (u64)(ADDR) - (u64)(RIGHT); record offset; __hr; })
  RIGHT is the original expression's address (nested sites replaced by the temporaries), ADDR bcc's own
  address expression with its nested reads replaced by the same temporaries: the offset between them is
  the proof. An offset other than 0 is a wrong read whatever the values; offset 0 is a right one; only a
  site whose ADDR cannot be evaluated falls back to comparing the values the two programs read.
T is the type bcc itself printed for the site (`typeof(T) _val`), a type name, so nothing in it can be
rewritten. Both programs attach to the same hook and fire on the same event of the trigger's process
(filtered by its pid, set in a config map), so the same fields are read at the same moment; the trigger
runs twice with different inputs (round 2 records under id | ROUND_ID), so a site judged by its values
has two chances to differ.
Spans come from libclang's tokens of the original (the AST cannot be trusted without kernel headers).
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .ctokens import code_tokens, matching, tokenize
from .guest.include_sets import include_block_end
from .sites import Site

OFFSET_ID = 0x10000          # twin records the address offset of site N under N | OFFSET_ID
ROUND_ID = 0x100000          # values recorded on the second trigger: N | ROUND_ID (and N | OFFSET_ID | ROUND_ID)
ROUNDS = 2
MAX_BYTES = 64

PRELUDE = r"""
/* --- harness oracle instrumentation --- */
/* Probe and twin run as two programs on one event: a random choice must be the same in both. */
#define bpf_get_prandom_u32() ((u32)0x5eed)
struct __harness_value { u32 len; u8 bytes[64]; };
BPF_ARRAY(__harness_cfg, u32, 2);          /* [0] the trigger's pid, [1] the trigger round */
BPF_HASH(__harness_values, u32, struct __harness_value, 1024);
static __always_inline void __harness_record(u32 site, const void *src, u32 len)
{
    u32 zero = 0, one = 1;
    u32 *pid = __harness_cfg.lookup(&zero);
    if (!pid || *pid != (u32)(bpf_get_current_pid_tgid() >> 32))
        return;
    u32 *round = __harness_cfg.lookup(&one);
    if (round && *round)
        site |= ROUND_BIT;
    struct __harness_value v = {};
    v.len = len;
    __builtin_memcpy(v.bytes, src, len < sizeof(v.bytes) ? len : sizeof(v.bytes));
    __harness_values.update(&site, &v);
}
/* --- end of instrumentation --- */
""".replace("ROUND_BIT", hex(ROUND_ID))


class OracleError(ValueError):
    """The oracle cannot judge this case (and says why)."""


@dataclass(frozen=True)
class Programs:
    probe: str
    twin: str
    sites: Tuple[Site, ...]          # every site, nested ones too, in id order (id = index + 1)
    no_offset: Tuple[str, ...] = ()  # per site: why the twin cannot evaluate bcc's address ("" when it can)


def _offsets(text: str) -> List[int]:
    """Byte offset of the start of each line (1-based lines), for (line, col) -> offset."""
    starts, pos = [0], 0
    for line in text.encode().splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _span(site: Site, starts: List[int]) -> Tuple[int, int]:
    return starts[site.line - 1] + site.col - 1, starts[site.end_line - 1] + site.end_col - 1


def _placed(sites: List[Site]) -> List[Site]:
    bad = [s for s in sites if not s.line or not s.end_line]
    if bad:
        raise OracleError(f"site {bad[0].text!r} could not be placed on the original")
    missing_type = [s for s in sites if not s.value_type or "anonymous" in s.value_type]
    if missing_type:
        raise OracleError(f"no usable type for site {missing_type[0].text!r}")
    return sites


def _member_subscript(expr: str) -> Optional[Tuple[str, str, str, str]]:
    """`X->m[I]` or `X.m[I]` -> (X, operator, m, I); None for any other expression."""
    toks = [t.text for t in code_tokens(tokenize(expr, "site.c"))]
    if len(toks) < 6 or toks[-1] != "]":
        return None
    depth, open_at = 0, None
    for i in range(len(toks) - 1, -1, -1):
        depth += {"]": 1, "[": -1}.get(toks[i], 0)
        if depth == 0:
            open_at = i
            break
    if open_at is None or open_at < 3 or toks[open_at - 2] not in ("->", ".") \
            or not re.fullmatch(r"[A-Za-z_]\w*", toks[open_at - 1]):
        return None
    return (" ".join(toks[:open_at - 2]), toks[open_at - 2], toks[open_at - 1],
            " ".join(toks[open_at + 1:-1]))


def _right_address(site: Site, expr: str) -> str:
    """The address of the original expression: &(E), but
    - for a dereference *P simply (P), because bcc rewrites the * inside &(*P) as a read and the & then
      applies to a value;
    - for a subscript of a member `X->m[I]`, chosen at compile time by m's type: an array member is &(E);
      a pointer member is read explicitly first and then indexed (the kernel refuses &(E), which loads the
      pointer directly). The type test names X's type through an uninitialised local `typeof(X) __hq`,
      which bcc never takes for an external pointer (it tracks initialisers), so nothing in it is rewritten."""
    if site.form == "deref" and expr.startswith("*"):
        return f"({expr[1:]})"
    parts = _member_subscript(expr) if site.form == "subscript" else None
    if parts is None:
        return f"(void *)&({expr})"
    base, op, member, index = parts
    holder = f"typeof({base}) __hq;" if op == "->" else f"typeof(&({base})) __hq;"
    pointer = (f"({{ u64 __hp = 0; bpf_probe_read_kernel(&__hp, sizeof(__hp), (void *)&({base}{op}{member})); "
               f"(void *)(__hp + ({index}) * sizeof(__hq->{member}[0])); }})")
    return (f"({{ {holder} __builtin_choose_expr(__builtin_types_compatible_p(typeof(__hq->{member}), "
            f"typeof(&__hq->{member}[0])), {pointer}, (void *)&({expr})); }})")


SIDE_EFFECTS = {"++", "--", "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}


def _bcc_address(site: Site, nested: List[str]) -> Tuple[str, str]:
    """bcc's ADDR for `site` with its nested reads replaced by `nested` (the twin's temporaries, in order)
    -> (C text, '') or ('', why it cannot be evaluated in the twin)."""
    tokens = code_tokens(tokenize(site.address, "address.c"))
    toks = [t.text for t in tokens]
    out, i, found = [], 0, 0
    while i < len(toks):
        if toks[i:i + 3] == ["(", "{", "typeof"]:
            end = matching(tokens, i)
            if end is None or found >= len(nested):
                return "", "bcc's address holds nested reads the original does not"
            out.append(nested[found])
            found, i = found + 1, end + 1
            continue
        out.append(toks[i])
        i += 1
    if found != len(nested):
        return "", f"bcc's address holds {found} nested read(s), the original {len(nested)}"
    if SIDE_EFFECTS & set(out):
        return "", "bcc's address has side effects (evaluating it again would change the program)"
    if any(t in ("bpf_pseudo_fd", "_val") for t in out):
        return "", "bcc's address uses names only its rewritten program has"
    return " ".join(out), ""


def _prelude_offset(original: str) -> int:
    """Where the instrumentation goes: after the program's leading #include block, so that the probe
    and the twin have the case's include set and share its precompiled headers in split mode; at the
    top when code before that point already calls what the prelude redefines."""
    end = include_block_end(original)
    if "bpf_get_prandom_u32" in original[:end]:
        return 0
    return len(original[:end].encode())


def _replace(data: bytes, edits: List[Tuple[int, int, bytes]]) -> bytes:
    for start, end, new in sorted(edits, reverse=True):
        data = data[:start] + new + data[end:]
    return data


class _Twin:
    """The twin's explicit read of each site, nested sites into temporaries first."""

    def __init__(self, sites: List[Site], data: bytes, starts: List[int]):
        self.sites, self.data, self.starts = sites, data, starts
        self.spans = [_span(s, starts) for s in sites]
        self.no_offset = [""] * len(sites)

    def children(self, k: int) -> List[int]:
        s0, s1 = self.spans[k]
        depth = self.sites[k].depth + 1
        return [j for j, (c0, c1) in enumerate(self.spans)
                if self.sites[j].depth == depth and s0 <= c0 and c1 <= s1 and j != k]

    def read(self, k: int) -> str:
        site, (s0, s1), n = self.sites[k], self.spans[k], k + 1
        kids = self.children(k)
        decls = "".join(f"typeof({self.sites[j].value_type}) __h{j + 1} = {self.read(j)}; " for j in kids)
        expr = _replace(self.data[s0:s1], [(self.spans[j][0] - s0, self.spans[j][1] - s0, f"__h{j + 1}".encode())
                                           for j in kids]).decode()
        right = _right_address(site, expr)
        address, why = _bcc_address(site, [f"__h{j + 1}" for j in kids])
        self.no_offset[k] = why
        offset = (f" u64 __ho = (u64)({address}) - (u64)({right}); "
                  f"__harness_record({n | OFFSET_ID}, &__ho, sizeof(__ho));") if address else ""
        return (f"({{ {decls}typeof({site.value_type}) __hr; __builtin_memset(&__hr, 0, sizeof(__hr)); "
                f"bpf_probe_read_kernel(&__hr, sizeof(__hr), (void *)({right}));{offset} "
                f"__harness_record({n}, &__hr, sizeof(__hr)); __hr; }})")


UNEVALUATED = re.compile(rb"\b(sizeof|typeof|__typeof__|_Alignof|offsetof)\s*(\(\s*)?$")


def build(original: str, sites: List[Site]) -> Programs:
    """The probe and twin programs for a case whose rewrite produced `sites`."""
    if not sites:
        raise OracleError("no rewrite sites: nothing to compare")
    sites = _placed(list(sites))
    starts = _offsets(original)
    data = original.encode()
    for site in sites:   # an operand of sizeof/typeof is never read: there is no value to compare
        if UNEVALUATED.search(data[:_span(site, starts)[0]]):
            raise OracleError(f"site {site.text!r} (line {site.line}) is never evaluated "
                              f"(an operand of sizeof or typeof)")
    twin = _Twin(sites, data, starts)
    probe_edits, twin_edits = [], []
    for k, site in enumerate(sites):
        if site.depth:
            continue
        s0, s1 = twin.spans[k]
        expr = data[s0:s1].decode()
        probe_edits.append((s0, s1, (f"({{ typeof({site.value_type}) __hr = ({expr}); "
                                     f"__harness_record({k + 1}, &__hr, sizeof(__hr)); __hr; }})").encode()))
        twin_edits.append((s0, s1, twin.read(k).encode()))
    at = _prelude_offset(original)
    probe = _replace(data, probe_edits + [(at, at, PRELUDE.encode())]).decode()
    twin_text = _replace(data, twin_edits + [(at, at, PRELUDE.encode())]).decode()
    return Programs(probe, twin_text, tuple(sites), tuple(twin.no_offset))


@dataclass(frozen=True)
class Reading:
    """One trigger event's record of a site."""
    rewritten: Optional[bytes]      # what the rewrite read (outermost sites only: the probe records those)
    reference: Optional[bytes]      # what the explicit read of the original address read
    offset: Optional[int]           # bcc's address minus the right one, in bytes, when computable

    @property
    def differs(self) -> bool:
        return self.rewritten is not None and self.reference is not None and self.rewritten != self.reference


BY_ADDRESS, BY_VALUE, NOT_JUDGED = "address", "value", ""


@dataclass(frozen=True)
class SiteVerdict:
    site: Site
    id: int
    readings: Tuple[Reading, ...]
    no_offset: str = ""             # why the twin could not evaluate bcc's address ("" when it could)

    @property
    def _shown(self) -> Reading:
        """The reading a message shows: the first with a wrong offset, else a differing one, else any."""
        for test in (lambda r: r.offset, lambda r: r.differs,
                     lambda r: r.reference is not None or r.rewritten is not None):
            hit = next((r for r in self.readings if test(r)), None)
            if hit:
                return hit
        return Reading(None, None, None)

    @property
    def rewritten(self) -> Optional[bytes]:
        return self._shown.rewritten

    @property
    def reference(self) -> Optional[bytes]:
        return self._shown.reference

    @property
    def offset(self) -> Optional[int]:
        return self._shown.offset

    @property
    def basis(self) -> str:
        """How the site is judged: by bcc's address (the proof), by value only, or not at all."""
        if any(r.offset is not None for r in self.readings):
            return BY_ADDRESS
        if self.site.depth == 0 and any(r.rewritten is not None and r.reference is not None for r in self.readings):
            return BY_VALUE
        return NOT_JUDGED

    @property
    def wrong(self) -> bool:
        """The address is the proof: any offset other than 0 is a wrong read, whatever the values. Without an
        offset, a difference in the values on either trigger is."""
        if self.basis == BY_ADDRESS:
            return any(r.offset for r in self.readings)
        return self.basis == BY_VALUE and any(r.differs for r in self.readings)

    @property
    def volatile(self) -> bool:
        """Right address, different values: the value changed between the two programs' reads."""
        return self.basis == BY_ADDRESS and not self.wrong and any(r.differs for r in self.readings)

    @property
    def reason(self) -> str:
        """Why the site is not judged ('' when it is)."""
        if self.basis != NOT_JUDGED:
            return ""
        if not any(r.reference is not None or r.rewritten is not None for r in self.readings):
            return "not evaluated on the trigger's events"
        if self.no_offset:
            return f"nested site, no offset: {self.no_offset}"
        return "nested site, no offset recorded"


def judge(programs: Programs, probe_values: Dict[int, bytes], twin_values: Dict[int, bytes]) -> List[SiteVerdict]:
    """Per site, its readings on each trigger round (round r's ids carry ROUND_ID * r)."""
    out = []
    for n, site in enumerate(programs.sites, 1):
        readings = []
        for r in range(ROUNDS):
            key = n | (ROUND_ID if r else 0)
            raw = twin_values.get(key | OFFSET_ID)
            offset = int.from_bytes(raw[:8], "little", signed=True) if raw and len(raw) >= 8 else None
            readings.append(Reading(probe_values.get(key), twin_values.get(key), offset))
        no_offset = programs.no_offset[n - 1] if programs.no_offset else ""
        out.append(SiteVerdict(site, n, tuple(readings), no_offset))
    return out


def describe(v: SiteVerdict) -> str:
    def show(b: Optional[bytes]) -> str:
        if b is None:
            return "nothing recorded" if v.site.depth == 0 else "not recorded (a nested site)"
        num = int.from_bytes(b, "little") if len(b) <= 8 else None
        return b.hex() + (f" ({num})" if num is not None else "")
    shown = v._shown
    where = ""
    if shown.offset:
        agree = ("the values happen to agree" if shown.rewritten == shown.reference else "the values differ") \
            if shown.rewritten is not None and shown.reference is not None else "no value of its own to compare"
        where = f"; bcc's address is {shown.offset:+d} bytes off ({agree})"
    elif v.basis == BY_VALUE:
        where = f"; judged by value only ({v.no_offset or 'no offset recorded'})"
    return (f"{v.site.text} (line {v.site.line}) via `{v.site.address}`: rewrite read {show(shown.rewritten)}, "
            f"the original expression holds {show(shown.reference)}{where}")


@dataclass
class Coverage:
    """How many sites the oracle judged by address, by value only, and could not judge (with why)."""
    by_address: int = 0
    by_value: int = 0
    not_judged: Counter = field(default_factory=Counter)
    not_run: Counter = field(default_factory=Counter)     # sites of cases the oracle does not run, by why

    def add_verdicts(self, verdicts: List[SiteVerdict]) -> None:
        for v in verdicts:
            if v.basis == BY_ADDRESS:
                self.by_address += 1
            elif v.basis == BY_VALUE:
                self.by_value += 1
            else:
                self.not_judged[v.reason] += 1

    def add_unjudged(self, count: int, reason: str) -> None:
        if count:
            self.not_judged[reason] += count

    def merge(self, other: "Coverage") -> None:
        self.by_address += other.by_address
        self.by_value += other.by_value
        self.not_judged.update(other.not_judged)
        self.not_run.update(other.not_run)

    @property
    def total(self) -> int:
        return self.by_address + self.by_value + sum(self.not_judged.values())

    def summary(self) -> str:
        text = f"{self.by_address} by address, {self.by_value} by value only, " \
               f"{sum(self.not_judged.values())} not judged"
        return text + (f" ({self.by_address * 100 // self.total}% by address)" if self.total else "")

    def to_json(self) -> dict:
        return {"by_address": self.by_address, "by_value": self.by_value, "not_judged": dict(self.not_judged),
                "not_run": dict(self.not_run)}

    @staticmethod
    def from_json(data: dict) -> "Coverage":
        return Coverage(data.get("by_address", 0), data.get("by_value", 0), Counter(data.get("not_judged", {})),
                        Counter(data.get("not_run", {})))
