"""The differential value oracle: does each rewrite read what the original expression designates?

From a case and bcc's rewrite sites (placed on the original by sites.py) we write two programs:

- the probe: the original program with each outermost site E wrapped so that the value bcc's rewrite
  produced is recorded:   ({ typeof(T) __hr = (E); __harness_record(ID, &__hr, sizeof(__hr)); __hr; })
  bcc rewrites E inside it exactly as it would in the case;
- the twin: each outermost site replaced by an explicit read of the original expression's address,
  nested sites read bottom-up into temporaries; bcc must rewrite nothing in it (checked):
      ({ typeof(T) __hr; ...; bpf_probe_read_kernel(&__hr, sizeof(__hr), (void *)&(E')); record; __hr; })
  where the site's address as bcc wrote it has no nested site, the twin also records the byte offset
  between bcc's address and the right one.
T is the type bcc itself printed for the site (`typeof(T) _val`), a type name, so nothing in it can be
rewritten. Both programs attach to the same hook and fire on the same event of the trigger's process
(filtered by its pid, set in a config map), so the same fields are read at the same moment.
Spans come from libclang's tokens of the original (the AST cannot be trusted without kernel headers).
"""

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .sites import Site

OFFSET_ID = 0x10000          # twin records the address offset of site N under N | OFFSET_ID
MAX_BYTES = 64

PRELUDE = r"""
/* --- harness oracle instrumentation --- */
/* Probe and twin run as two programs on one event: a random choice must be the same in both. */
#define bpf_get_prandom_u32() ((u32)0x5eed)
struct __harness_value { u32 len; u8 bytes[64]; };
BPF_ARRAY(__harness_cfg, u32, 1);
BPF_HASH(__harness_values, u32, struct __harness_value, 1024);
static __always_inline void __harness_record(u32 site, const void *src, u32 len)
{
    u32 zero = 0;
    u32 *pid = __harness_cfg.lookup(&zero);
    if (!pid || *pid != (u32)(bpf_get_current_pid_tgid() >> 32))
        return;
    struct __harness_value v = {};
    v.len = len;
    __builtin_memcpy(v.bytes, src, len < sizeof(v.bytes) ? len : sizeof(v.bytes));
    __harness_values.update(&site, &v);
}
/* --- end of instrumentation --- */
"""


class OracleError(ValueError):
    """The oracle cannot judge this case (and says why)."""


@dataclass(frozen=True)
class Programs:
    probe: str
    twin: str
    sites: Tuple[Site, ...]          # the outermost sites, in id order (id = index + 1)


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


def _twin_address(site: Site, expr: str) -> str:
    """The address of the original expression: &(E), but for a dereference *P simply (P), because bcc
    rewrites the * inside &(*P) as a read and the & then applies to a value."""
    if site.form == "deref" and expr.startswith("*"):
        return f"({expr[1:]})"
    return f"&({expr})"


def _twin_read(site: Site, expr: str) -> str:
    return (f"({{ typeof({site.value_type}) __hr; __builtin_memset(&__hr, 0, sizeof(__hr)); "
            f"bpf_probe_read_kernel(&__hr, sizeof(__hr), (void *){_twin_address(site, expr)}); __hr; }})")


def _replace(data: bytes, edits: List[Tuple[int, int, bytes]]) -> bytes:
    for start, end, new in sorted(edits, reverse=True):
        data = data[:start] + new + data[end:]
    return data


def _twin_expr(site: Site, inner: List[Site], data: bytes, starts: List[int]) -> str:
    """The original expression of `site` with every nested site replaced by its explicit read."""
    s0, s1 = _span(site, starts)
    direct = [n for n in inner if n.depth == site.depth + 1 and s0 <= _span(n, starts)[0]
              and _span(n, starts)[1] <= s1]
    edits = []
    for n in direct:
        n0, n1 = _span(n, starts)
        deeper = [m for m in inner if m.depth > n.depth and n0 <= _span(m, starts)[0] and _span(m, starts)[1] <= n1]
        edits.append((n0 - s0, n1 - s0, _twin_read(n, _twin_expr(n, deeper, data, starts)).encode()))
    return _replace(data[s0:s1], edits).decode()


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
    outer = [s for s in sites if s.depth == 0]
    probe_edits, twin_edits = [], []
    for n, site in enumerate(outer, 1):
        s0, s1 = _span(site, starts)
        expr = data[s0:s1].decode()
        probe_edits.append((s0, s1, (f"({{ typeof({site.value_type}) __hr = ({expr}); "
                                     f"__harness_record({n}, &__hr, sizeof(__hr)); __hr; }})").encode()))
        inner = [m for m in sites if m.depth > 0 and s0 <= _span(m, starts)[0] and _span(m, starts)[1] <= s1]
        twin_expr = _twin_expr(site, inner, data, starts)
        offset = ""
        if not inner:   # bcc's own address expression, evaluated beside the right one
            offset = (f" u64 __ho = (u64)({_address_text(site)}) - (u64){_twin_address(site, twin_expr)}; "
                      f"__harness_record({n | OFFSET_ID}, &__ho, sizeof(__ho));")
        twin_edits.append((s0, s1, (
            f"({{ typeof({site.value_type}) __hr; __builtin_memset(&__hr, 0, sizeof(__hr)); "
            f"bpf_probe_read_kernel(&__hr, sizeof(__hr), (void *){_twin_address(site, twin_expr)});{offset} "
            f"__harness_record({n}, &__hr, sizeof(__hr)); __hr; }})").encode()))
    probe = PRELUDE + _replace(data, probe_edits).decode()
    twin = PRELUDE + _replace(data, twin_edits).decode()
    return Programs(probe, twin, tuple(outer))


def _address_text(site: Site) -> str:
    """bcc's ADDR tokens as C text (only used for sites with no nested site inside)."""
    return site.address


@dataclass(frozen=True)
class SiteVerdict:
    site: Site
    id: int
    rewritten: Optional[bytes]      # what the rewrite read
    reference: Optional[bytes]      # what the explicit read of the original address read
    offset: Optional[int]           # bcc's address minus the right one, in bytes, when computable

    @property
    def differs(self) -> bool:
        return self.rewritten is not None and self.reference is not None and self.rewritten != self.reference

    @property
    def wrong(self) -> bool:
        """Different values, unless the twin proved bcc's address is the original's (offset 0): then the
        value itself changed between the two programs' reads (a counter, a random choice), not the address."""
        return self.differs and self.offset != 0

    @property
    def volatile(self) -> bool:
        return self.differs and self.offset == 0


def judge(programs: Programs, probe_values: Dict[int, bytes], twin_values: Dict[int, bytes]) -> List[SiteVerdict]:
    out = []
    for n, site in enumerate(programs.sites, 1):
        raw = twin_values.get(n | OFFSET_ID)
        offset = int.from_bytes(raw[:8], "little", signed=True) if raw and len(raw) >= 8 else None
        out.append(SiteVerdict(site, n, probe_values.get(n), twin_values.get(n), offset))
    return out


def describe(v: SiteVerdict) -> str:
    def show(b: Optional[bytes]) -> str:
        if b is None:
            return "nothing recorded"
        num = int.from_bytes(b, "little") if len(b) <= 8 else None
        return b.hex() + (f" ({num})" if num is not None else "")
    where = f"; bcc's address is {v.offset:+d} bytes off" if v.offset else ""
    return (f"{v.site.text} (line {v.site.line}) via `{v.site.address}`: rewrite read {show(v.rewritten)}, "
            f"the original expression holds {show(v.reference)}{where}")
