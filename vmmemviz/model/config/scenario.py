"""Scenario files (TOML): a host, its settings, its VMs, their processes and workloads.

::

    name = "Two web servers"       # shown in the title bar
    seed = 1                       # same seed, same events, byte for byte
    duration = 120                 # simulated seconds (ticks) to run
    [host]
    memory_mb = 8192
    tlb_entries = 64               # per-VM TLB model size
    host_cache_mb = 0              # host cache (swap to SSD) in MB, 0 = none
    [settings]                     # ESXi advanced settings, by name (settings.py)
    "Mem.ShareForceSalting" = 2
    [[vm]]
    name = "web01"                 # with count: a pattern, "web{:02d}" -> web01, web02, ...
    count = 1                      # optional: N copies of this VM
    memory_mb = 2048
    guest_os = "linux"             # or "windows"
    tools = true                   # VMware Tools (balloon driver) installed
    mmu = "ept"                    # or "shadow"
    reservation_mb = 0
    limit_mb = 2048                # optional
    shares = "normal"              # low / normal / high / a number
    image = "guest.elf"            # optional: guest memory from a real image (ELF core, raw, .vmem)
    [vm.settings]
    "sched.mem.pshare.enable" = true
    [[vm.process]]
    name = "httpd"
    size_mb = 512                  # guest virtual address space
    start_mb = 64                  # allocated at its first tick
    alloc_mb = 4                   # more per second, up to size_mb
    free_mb = 0                    # freed per second
    working_set_mb = 128           # accesses go to the first part of what it holds
    touches = 200                  # accesses per second
    write_fraction = 0.3
    trace = "ls.lackey"            # optional: accesses from a Valgrind lackey / din / pin trace
    content = { text = 0.6, random = 0.3, zero = 0.1 }   # what it writes (also "os")
    [[vm.process.step]]            # scripted: at a tick, alloc/free/read/write
    at = 5
    op = "write"
    pages = "0x0-0xf"              # a GVPN range, or a count of random held pages
    content = "zero"
    [[chapter]]                    # tours: a titled part of the timeline
    at = 0
    title = "Three layers"
    text = "..."
    [compare]                      # a compare tour: run side by side with run B
    set = ["Mem.ShareForceSalting=2"]   # run B's changes (KEY=VALUE, as --compare-set)
    title = "salting 2"            # optional: what run B is (default: the changes)

Sizes in MB may be fractions (0.25 MB = 64 pages) so that teaching scenarios stay small.
Sizes in MB may be fractions (0.25 MB = 64 pages) so that teaching scenarios stay small.

``count = N`` on a ``[[vm]]`` makes N copies of it (a host-scale scenario is then a page, not
32 copies): the name is then a pattern with one integer field, ``"web{:02d}"`` -> web01,
web02, ... (numbered from 1). The copies draw from the scenario's one seeded random stream in
turn, so each behaves differently and the run is still the same for the same seed.

Every key is declared once in ``SCHEMA`` (type, default, bounds, the limit a bound comes
from, help); ``parse`` checks a document against it and then the rules across keys
(reservation <= memory, ESXi admission control, what this machine can hold). A bad file
raises InputError, one line: file, key path (``vm[web01].process[0].touches``), what was
expected, what was found. The limits, and where they come from, are in README.md
("Scenario files").
"""
from __future__ import annotations

import copy
import functools
import math
import os
import re
import string
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from vmmemviz.assets import asset
from vmmemviz.errors import InputError
from vmmemviz.inputfile import open_input
from vmmemviz.model.config import settings as S
from vmmemviz.model.core.units import pages
from vmmemviz.model.core.vm import PAGES_PER_MB, VMConfig
from vmmemviz.model.guest.workload import CONTENT_CLASSES, OPS, ProcessConfig, Step

BUILTIN_DIR = asset("scenarios")

TB = 1 << 20                      # MB in a TB
MAX_TICKS = 86_400                # one simulated day: a Mem.ShareScanTime of 600 min fits twice
MAX_HOST_MB = 8 * TB              # machine pages are numbered in 31 bits (ESXi 8 allows 24 TB)
MAX_VM_MB = 24 * TB               # ESXi 8: largest VM (the host bound comes first)
MAX_VMS = 250                     # VM index is 8 bits here (ESXi 8 allows 1,024 VMs per host)
MAX_PROCS = 250                   # process index is 8 bits per VM
MAX_HOST_CACHE_MB = TB             # an 8 TB cache took 21 GB a run: two runs of a comparison, OOM
MAX_PROC_MB = 16 * TB - 1         # guest virtual page numbers are 32 bits: 2**32 - 2 pages
MAX_TOUCHES = 1 << 20             # accesses a second per process: one array element each a tick
MAX_TOUCHES_ALL = 1 << 24         # ... and in all processes of all VMs
MAX_TLB = 4096                    # x86 second-level TLBs hold 1,536-2,048 entries
MAX_SHARES = 1_000_000            # ESXi custom shares range 0-1,000,000
MAX_WEIGHT = 1e6
MAX_STEPS = 10_000                # scripted steps per process
MAX_STEPS_ALL = 100_000           # ... and in all processes of all VMs (looked through each tick)
MAX_CHAPTERS = 1000
MAX_CHANGES = 100                 # KEY=VALUE changes of a [compare] table
MAX_FILE = 16 << 20               # bytes of TOML (the largest built-in is 7 KB)
MAX_NAME = 80                     # vSphere limits VM names to 80 characters
KEEP_FACTOR = 2                   # the view state the window seeks in, keyframes, history, temporaries
HOST_CACHE_SLOT_BYTES = 5         # a host cache slot's content id (uint32) and VM (uint8): hostcache.py
REQUIRED = object()


@dataclass(frozen=True)
class Key:
    """One key of a scenario table: its kind, default, bounds and help.

    kind: int, mb (a finite number), str, name (no control characters), path (no NUL),
    bool, choice, strs (an array of at most ``hi`` strings, each one of ``choices`` if
    given), shares, pages, weights, settings, table or tables (``fields`` is then the
    nested schema; ``hi`` bounds the number of tables).
    """

    kind: str
    help: str
    default: object = REQUIRED
    lo: float | None = None
    hi: float | None = None
    limit: str = ""               # where the upper bound comes from, said in the error
    choices: tuple = ()
    fields: dict | None = None


def _mb(help, default=REQUIRED, lo=0, hi=MAX_VM_MB, limit="ESXi 8's largest VM, 24 TB"):
    return Key("mb", help, default, lo, hi, limit)


def _tick(help, default=REQUIRED):
    return Key("int", help, default, 0, MAX_TICKS, "one simulated day, the longest run")


STEP = {
    "at": _tick("the tick (second) of the step"),
    "op": Key("choice", "what the process does", choices=OPS),
    "pages": Key("pages", "a count of random held pages, or a GVPN range like \"0x0-0xf\""),
    "content": Key("choice", "what a write writes", "text", choices=tuple(CONTENT_CLASSES)),
}
PROCESS = {
    "name": Key("name", "the application's name"),
    "size_mb": _mb("its guest virtual address space", lo=1 / PAGES_PER_MB, hi=MAX_PROC_MB,
                   limit="32-bit guest virtual page numbers, 16 TB"),
    "start_mb": _mb("allocated by system call at its first tick", 0, hi=MAX_PROC_MB,
                    limit="the largest process, 16 TB"),
    "alloc_mb": _mb("allocated per second after that, up to size_mb", 0, hi=MAX_PROC_MB,
                    limit="the largest process, 16 TB"),
    "free_mb": _mb("freed per second (its oldest pages)", 0, hi=MAX_PROC_MB,
                   limit="the largest process, 16 TB"),
    "working_set_mb": _mb("random accesses go to this much of what it holds", None, hi=MAX_PROC_MB,
                          limit="the largest process, 16 TB"),
    "touches": Key("int", "accesses per second", 0, 0, MAX_TOUCHES,
                   "what one tick of this simulator can do per process"),
    "write_fraction": Key("mb", "share of accesses that write", 0.3, 0, 1, "a fraction"),
    "start": _tick("the tick it starts at", 1),
    "trace": Key("path", "accesses from a Valgrind lackey / din / pin trace", None),
    "content": Key("weights", "weights of what it writes (zero / os / text / random)", None),
    "step": Key("tables", "[[vm.process.step]] scripted steps", [], 0, MAX_STEPS,
                "the steps one process may script", fields=STEP),
}
VM = {
    "name": Key("name", "the VM's name (a pattern like \"web{:02d}\" with count)"),
    "count": Key("int", "copies of this VM, named from the name pattern", 1, 1, MAX_VMS,
                 "the VMs of one host here (8-bit VM index)"),
    "memory_mb": _mb("the VM's configured memory in MB", lo=0.25),
    "guest_os": Key("choice", "the guest OS", "linux", choices=("linux", "windows")),
    "tools": Key("bool", "VMware Tools (balloon driver) installed", True),
    "mmu": Key("choice", "hardware (ept) or software (shadow) MMU", "ept", choices=("ept", "shadow")),
    "reservation_mb": _mb("sched.mem.min: memory guaranteed to the VM", 0),
    "limit_mb": _mb("sched.mem.max: most machine memory it may get", None),
    "overhead_mb": _mb("VMM overhead (default: 1/128 of memory + 64 KB)", None),
    "shares": Key("shares", "sched.mem.shares: low, normal, high or a number", "normal",
                  1, MAX_SHARES, "ESXi's custom shares range"),
    "image": Key("path", "guest memory from a real image (ELF core, raw, .vmem)", None),
    "settings": Key("settings", "per-VM settings (sched.mem.*)", {}, fields=S.VM_SETTINGS),
    "process": Key("tables", "[[vm.process]] applications in the guest", [], 0, MAX_PROCS,
                   "the processes of one VM here (8-bit process index)", fields=PROCESS),
}
HOST = {
    "memory_mb": _mb("the host's machine memory in MB", lo=1, hi=MAX_HOST_MB,
                     limit="8 TB: machine pages are numbered in 31 bits here (ESXi 8 allows 24 TB)"),
    "tlb_entries": Key("int", "size of each VM's TLB model", 64, 1, MAX_TLB,
                       "x86 second-level TLBs hold 1,536-2,048 entries"),
    "host_cache_mb": _mb("host cache (swap to SSD), 0 = none", 0, hi=MAX_HOST_CACHE_MB,
                         limit="1 TB: each slot costs this machine 5 B, in each run of a comparison"),
}
CHAPTER = {
    "at": _tick("the tick the chapter starts at"),
    "title": Key("str", "the chapter's title"),
    "text": Key("str", "what the chapter is about", ""),
}
COMPARE = {
    "set": Key("changes", "run B: this scenario with these \"KEY=VALUE\" changes (as --compare-set)",
               lo=1, hi=MAX_CHANGES, limit="changes of one compare"),
    "title": Key("str", "what run B is, in words (default: the changes)", ""),
}
SCHEMA = {
    "name": Key("str", "shown in the title bar", None),
    "description": Key("str", "a paragraph about the scenario", ""),
    "seed": Key("int", "same seed, same events, byte for byte", 1, 0, 2**63 - 1, "a 63-bit seed"),
    "duration": Key("int", "simulated seconds (ticks) to run", 60, 1, MAX_TICKS,
                    "one simulated day, the longest run"),
    "host": Key("table", "a [host] table (the machine)", fields=HOST),
    "settings": Key("settings", "ESXi advanced settings (Mem.*)", {}, fields=S.HOST_SETTINGS),
    "vm": Key("tables", "at least one [[vm]] table (a virtual machine)", lo=1, hi=MAX_VMS,
              limit="the VMs of one host here (8-bit VM index)", fields=VM),
    "chapter": Key("tables", "[[chapter]] titled parts of the timeline", [], 0, MAX_CHAPTERS,
                   "chapters of one tour", fields=CHAPTER),
    "compare": Key("table", "a [compare] table: a compare tour, run side by side with run B",
                   None, fields=COMPARE),
}


# -- KEY=VALUE changes of a scenario (compare's run B, [compare] set) --------------------

_VM = re.compile(r"vm(?:\[(?P<sel>[^\]]+)\])?\.(?P<key>.+)")
_TOP = ("name", "description", "seed", "duration")


@dataclass(frozen=True)
class Change:
    """One ``KEY=VALUE``: where it goes (table path, VM selector) and the value (None = unset)."""

    text: str
    table: str                    # "" (top level), "host", "settings", "vm", "vm.settings"
    key: str
    value: object
    vm: str = "*"                 # with table vm / vm.settings: a VM name, pattern or *


def _value(raw: str):
    if raw.strip() == "":
        return None
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw.strip()        # a bare word: a string


def parse_change(text: str, where: str = "--compare-set") -> Change:
    """``KEY=VALUE`` -> Change; InputError (one line) on an unknown key or no ``=``."""
    if "=" not in text:
        raise InputError(f"{where} {text!r}: expected KEY=VALUE (e.g. Mem.ShareForceSalting=0)")
    key, raw = (s.strip() for s in text.split("=", 1))
    value = _value(raw)
    if key in S.HOST_SETTINGS:
        return Change(text, "settings", key, value)
    if key in S.VM_SETTINGS:
        return Change(text, "vm.settings", key, value)
    if key in _TOP:
        return Change(text, "", key, value)
    if key.startswith("host.") and key[5:] in HOST:
        return Change(text, "host", key[5:], value)
    m = _VM.fullmatch(key)
    if m:
        sel, k = m["sel"] or "*", m["key"]
        if k in S.VM_SETTINGS:
            return Change(text, "vm.settings", k, value, sel)
        if k in VM and VM[k].kind not in ("tables", "settings") and k != "count":
            return Change(text, "vm", k, value, sel)
    known = ("a host setting (Mem.*, LPage.*, Sim.*), a VM setting (sched.mem.*), "
             f"{', '.join(_TOP)}, host.KEY or vm[NAME].KEY")
    raise InputError(f"{where} {text!r}: unknown key {key!r} (expected {known})")


@dataclass
class Chapter:
    at: int
    title: str
    text: str = ""


def _reflowed(c: Chapter) -> Chapter:
    """A chapter whose text's single line breaks (a TOML multi-line string wrapped to fit the
    file) are spaces: the window and the figures wrap it to their own width. A blank line
    stays: a new paragraph."""
    return replace(c, text=re.sub(r"[ \t]*(?<!\n)\n(?!\n)[ \t]*", " ", c.text.strip()))


@dataclass
class Scenario:
    name: str
    host_pages: int
    vms: list
    seed: int = 1
    duration: int = 60
    tlb_entries: int = 64
    host_cache_pages: int = 0        # [host] host_cache_mb: the host cache (swap to SSD), 0 = none
    settings: dict = field(default_factory=dict)
    description: str = ""
    chapters: list = field(default_factory=list)
    compare_sets: list = field(default_factory=list)    # [compare] set: run B's KEY=VALUE changes
    compare_title: str = ""                              # [compare] title: what run B is
    path: str | None = None
    text: str = ""

    @property
    def host_mb(self) -> float:
        return self.host_pages / PAGES_PER_MB

    @property
    def files(self) -> tuple:
        """The files a run of it reads: its own and its VMs' images and processes' traces (an
        output written over one would replace what the run is made from)."""
        return (self.path, *(vm.image for vm in self.vms), *(p.trace for vm in self.vms for p in vm.processes))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A path, or the stem of a built-in scenario."""
    name_or_path = os.fspath(name_or_path)
    if "\0" in name_or_path:
        raise InputError(f"{name_or_path}: expected a scenario file or name, got one with a NUL character")
    p = Path(name_or_path)
    try:
        a_path = p.suffix == ".toml" or "/" in name_or_path or p.exists()
    except OSError:                 # a name too long for a file: load reports it as one
        a_path = True
    if a_path:
        return p
    b = BUILTIN_DIR / f"{name_or_path}.toml"
    if not b.is_file():
        raise InputError(f"{name_or_path}: not a file and not a built-in scenario "
                         f"(built-in: {', '.join(builtin_names())})")
    return b


def load(name_or_path: str | os.PathLike) -> Scenario:
    """A scenario file, or a built-in by name. A file is named in messages as it was given
    (``./default``, not ``default``: that is the built-in's name, and a missing ``./default``
    is not read as it)."""
    path = resolve(name_or_path)
    typed = os.fspath(name_or_path)
    src = typed if path == Path(typed) else str(path)
    stem = Path(typed).stem
    missing = "no such scenario file" + (f" (the built-in scenario is named {stem}, without a folder or "
                                         f".toml)" if src == typed and stem in builtin_names() else "")
    text = read_text(src, MAX_FILE, "a scenario", "(count = N makes many VMs from one table)", missing)
    return parse(text, src)


def read_text(path, limit: int, what: str, hint: str = "", missing: str = "") -> str:
    """The UTF-8 text of the regular file ``path`` of at most ``limit`` bytes (InputError otherwise)."""
    with open_input(path, missing=missing) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise InputError(f"{path}: size: expected {what} of at most {limit >> 20} MB of TOML"
                             f"{' ' + hint if hint else ''}, got {size:,} bytes")
        try:
            data = f.read()
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    return _utf8(data, path)


def _utf8(data: bytes, path) -> str:
    """``data`` as UTF-8 (a byte-order mark allowed, as editors on Windows write one); else
    one line with the line and column of the first byte that is not."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path}: expected UTF-8 text, got UTF-16 (save the file as UTF-8)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise InputError(f"{path}: line {line}, column {col}: expected UTF-8 text, got the byte "
                         f"0x{data[e.start]:02x}") from None


def toml(text: str, src: str) -> dict:
    """``text`` parsed as TOML; InputError (one line naming ``src`` and the line) if it is not."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{src}: not valid TOML: {_where(str(e), text)}") from None
    except RecursionError:
        raise InputError(f"{src}: not valid TOML: expected arrays and tables nested at most a few "
                         f"hundred deep, got deeper") from None


_AT_END = " (at end of document)"
_SPECIAL = re.compile(r"[#\"'\[\]{}]")      # what opens or closes a string, an array or a table


def _where(msg: str, text: str) -> str:
    """tomllib's message with its "(at end of document)" made a line like its other errors':
    where the string, array, inline table or table header left open begins, else the last line."""
    if not msg.endswith(_AT_END):
        return msg
    msg, at = msg[:-len(_AT_END)], _unclosed(text)
    if at is None:
        return f"{msg} (at the end of the file, line {text.rstrip().count(chr(10)) + 1})"
    line, col = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
    return f"{msg} (at line {line}, column {col}: opened there and not closed by the end of the file)"


def _unclosed(text: str) -> int | None:
    """Where in ``text`` a string left open at its end begins, else its outermost ``[`` or ``{``
    left open (a table header's too), else None. Comments and closed strings are skipped; TOML
    allows one or two quotes more before a multi-line string's closing three."""
    depth, opened, i = 0, 0, 0
    while (m := _SPECIAL.search(text, i)) is not None:
        i, c = m.start(), m.group()
        if c == "#":
            i = text.find("\n", i)
            if i < 0:
                break
        elif c in "\"'":
            q = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(q)
            while j < len(text) and not text.startswith(q, j):
                j += 2 if c == '"' and text[j] == "\\" else 1
            if j >= len(text):
                return i
            i = j + len(q)
            while len(q) == 3 and text.startswith(c, i) and i < j + 5:
                i += 1
            continue
        elif c in "[{":
            opened, depth = (i if depth == 0 else opened), depth + 1
        else:
            depth -= 1
        i += 1
    return opened if depth > 0 else None


# -- checking a document against the schema ----------------------------------------------

def _show(v) -> str:
    """A found value, short."""
    s = repr(v)
    if isinstance(v, (dict, list)) and len(s) > 60:
        return f"a table of {len(v)} keys" if isinstance(v, dict) else f"an array of {len(v)}"
    return s if len(s) <= 60 else s[:57] + "..."


_INT = r"[ \t]*(0[xXoObB][0-9a-fA-F]+|[0-9]+)[ \t]*"
# a GVPN range "0x0-0xf": ASCII digits as written, not all int(text, 0) reads (1_0, Arabic-Indic
# or full-width digits, a no-break space)
_GVPN = re.compile(f"{_INT}-{_INT}", re.ASCII)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fmt(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


class _Check:
    """Checks values against ``Key`` specs; every error is one line naming file and key path."""

    def __init__(self, src: str):
        self.src = src

    def fail(self, path: str, expected: str, got) -> InputError:
        return InputError(f"{self.src}: {path}: expected {expected}, got {_show(got)}")

    def _range(self, spec: Key) -> str:
        lo = "" if spec.lo is None else f"from {_fmt(spec.lo)} "
        hi = "" if spec.hi is None else f"to {_fmt(spec.hi)} ({spec.limit})" if spec.limit else f"to {_fmt(spec.hi)}"
        return (lo + hi).strip()

    def value(self, path: str, spec: Key, v):
        k = spec.kind
        if k in ("int", "mb"):
            what = "an integer" if k == "int" else "a number"
            ok = isinstance(v, int) and not isinstance(v, bool) if k == "int" else _number(v) and math.isfinite(v)
            if not ok or (spec.lo is not None and v < spec.lo) or (spec.hi is not None and v > spec.hi):
                raise self.fail(path, f"{what} {self._range(spec)}", v)
            return v
        if k in ("str", "name", "path"):
            if not isinstance(v, str):
                raise self.fail(path, "a string", v)
            if k == "name" and (not v or len(v) > MAX_NAME or not v.isprintable()):
                raise self.fail(path, f"a name of 1 to {MAX_NAME} printable characters", v)
            if k == "path" and (not v or "\0" in v):
                raise self.fail(path, "a file path (not empty, no NUL character)", v)
            return v
        if k == "bool":
            if not isinstance(v, bool):
                raise self.fail(path, "true or false", v)
            return v
        if k == "choice":
            if not isinstance(v, str) or v not in spec.choices:
                raise self.fail(path, "one of " + ", ".join(spec.choices), v)
            return v
        if k == "strs":
            ok = isinstance(v, list) and len(v) <= spec.hi and all(isinstance(x, str) for x in v)
            if not ok or (spec.choices and not set(v) <= set(spec.choices)):
                what = f"one of {', '.join(spec.choices)}" if spec.choices else "a string"
                raise self.fail(path, f"an array of at most {_fmt(spec.hi)} strings, each {what}", v)
            return list(v)
        if k == "shares":
            if v in ("low", "normal", "high") and isinstance(v, str):
                return v
            if not isinstance(v, int) or isinstance(v, bool) or not spec.lo <= v <= spec.hi:
                raise self.fail(path, f"low, normal, high or an integer {self._range(spec)}", v)
            return v
        if k == "pages":
            return self.pages(path, v)
        if k == "weights":
            if not isinstance(v, dict) or not v or any(c not in CONTENT_CLASSES for c in v) or \
                    any(not _number(x) or not 0 <= x <= MAX_WEIGHT for x in v.values()) or sum(v.values()) <= 0:
                raise self.fail(path, f"a table of weights from 0 to {MAX_WEIGHT:g} for "
                                f"{' / '.join(CONTENT_CLASSES)}, not all 0", v)
            return dict(v)
        if k == "settings":
            if not isinstance(v, dict):
                raise self.fail(path, "a table of settings by name", v)
            out = {}
            for name, x in v.items():
                try:
                    out[name] = S.check(spec.fields, name, x, f"{self.src}: {path}")
                except ValueError as e:
                    raise InputError(str(e)) from None
            return out
        if k == "changes":
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v) or not spec.lo <= len(v) <= spec.hi:
                raise self.fail(path, f"a list of \"KEY=VALUE\" strings, {self._range(spec)}", v)
            for i, x in enumerate(v):
                parse_change(x, f"{self.src}: {path}[{i}]")
            return list(v)
        if k == "table":
            return self.table(path, spec.fields, v)
        if k == "tables":
            name = path.rsplit('.', 1)[-1].split('[')[0]
            if not isinstance(v, list):
                raise self.fail(path, f"[[{name}]] tables", v)
            odd = next((i for i, x in enumerate(v) if not isinstance(x, dict)), None)
            if odd is not None:         # which one, and what it is
                raise self.fail(f"{path}[{odd}]", f"a table (as [[{name}]] writes one)", v[odd])
            if not spec.lo <= len(v) <= spec.hi:
                raise self.fail(path, f"{self._range(spec)} tables", v)
            return v            # each one is checked by the caller, which knows its label
        raise AssertionError(k)

    def pages(self, path: str, v):
        """A count (int) or a GVPN range "0x10-0x1f" (inclusive) -> (count, start, stop)."""
        if isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_PROC_MB * PAGES_PER_MB:
            return v, None, None
        m = _GVPN.fullmatch(v) if isinstance(v, str) else None
        if m:
            try:
                lo, hi = int(m[1], 0), int(m[2], 0)
            except ValueError:          # 010, 0o9: not what int(text, 0) reads
                lo = hi = -1
            if 0 <= lo <= hi < MAX_PROC_MB * PAGES_PER_MB:
                return None, lo, hi + 1
        most = MAX_PROC_MB * PAGES_PER_MB
        raise self.fail(path, f"a page count from 1 to {most:,} or a GVPN range like \"0x0-0xf\" below "
                              f"{most:#x} (a process's largest size)", v)

    def table(self, path: str, schema: dict, t) -> dict:
        """A table checked key by key, defaults filled in; unknown and missing keys refused."""
        if not isinstance(t, dict):
            raise self.fail(path, "a table", t)
        pre = f"{path}." if path else ""
        for k in t:
            if k not in schema:
                raise InputError(f"{self.src}: {pre}{k}: unknown key (expected one of "
                                 f"{', '.join(schema)})")
        out = {}
        for k, spec in schema.items():
            if k in t:
                out[k] = self.value(pre + k, spec, t[k])
            elif spec.default is REQUIRED:
                raise InputError(f"{self.src}: {pre}{k}: expected {spec.help}, got no {k} key")
            else:
                out[k] = copy.copy(spec.default)
        return out


def _relative(ck: _Check, where: str, path: str | None) -> str | None:
    """A data file named in a scenario (``~user`` expanded), relative to the scenario's folder."""
    if path is None:
        return None
    try:
        p = Path(path).expanduser()
    except RuntimeError:
        raise ck.fail(where, "a file path whose ~user has a home directory", path) from None
    return str(p if p.is_absolute() else Path(ck.src).resolve().parent / p)


def _process(ck: _Check, where: str, t) -> ProcessConfig:
    d = ck.table(where, PROCESS, t)
    size = pages(d["size_mb"])
    pc = ProcessConfig(
        name=d["name"], size_pages=size,
        start_pages=pages(d["start_mb"]), alloc_pages=pages(d["alloc_mb"]),
        free_pages=pages(d["free_mb"]), touches=d["touches"],
        write_fraction=float(d["write_fraction"]), start_tick=d["start"],
        trace=_relative(ck, f"{where}.trace", d["trace"]),
    )
    ws = d["working_set_mb"]
    pc.working_set_pages = None if ws is None else max(1, pages(ws))
    if d["content"] is not None:
        pc.content = d["content"]
    for i, st in enumerate(d["step"]):
        sw = f"{where}.step[{i}]"
        s = ck.table(sw, STEP, st)
        count, lo, hi = s["pages"]
        if hi is not None and hi > size:
            raise InputError(f"{ck.src}: {sw}.pages: expected a range inside the process "
                             f"({size:,} pages, size_mb), got {st['pages']!r}")
        if count is not None and count > size:
            raise ck.fail(f"{sw}.pages", f"a count of at most the process's {size:,} pages (size_mb)",
                          count)
        pc.steps.append(Step(s["at"], s["op"], count, lo, hi, s["content"]))
    return pc


def _names(ck: _Check, where: str, name: str, count: int | None) -> list[str]:
    """The VM names of a [[vm]] table: its name, or ``count`` names from a pattern."""
    if count is None:
        return [name]
    fields = [f for _, f, _, _ in string.Formatter().parse(name) if f is not None] \
        if "{" in name or "}" in name else []
    try:
        names = [name.format(k) for k in range(1, count + 1)]
    except (ValueError, IndexError, KeyError, AttributeError):
        names = []
    if len(fields) != 1 or not names or len(set(names)) != count or \
            not all(n and len(n) <= MAX_NAME and n.isprintable() for n in names):
        raise ck.fail(f"{where}.name", "a name pattern with one integer field like \"web{:02d}\" "
                      "giving distinct names (count is set)", name)
    return names


def _vms(ck: _Check, tables: list) -> list[VMConfig]:
    vms, seen = [], set()
    for i, t in enumerate(tables):
        if "name" not in t:
            raise InputError(f"{ck.src}: vm[{i}].name: expected {VM['name'].help}, got no name key")
        name = ck.value(f"vm[{i}].name", Key("str", ""), t["name"])
        label = f"vm[{name}]"
        d = ck.table(label, VM, t)
        names = _names(ck, label, name, d["count"] if "count" in t else None)
        if len(vms) + len(names) > MAX_VMS:
            raise InputError(f"{ck.src}: {label}.count: expected at most {MAX_VMS} VMs in all "
                             f"({VM['count'].limit}), got {len(vms) + len(names)} ({len(vms)} before this "
                             f"table and {len(names)} here)")
        cfg = VMConfig(
            name=names[0], memory_mb=d["memory_mb"], guest_os=d["guest_os"], tools=d["tools"],
            mmu=d["mmu"], reservation_mb=d["reservation_mb"], limit_mb=d["limit_mb"],
            overhead_mb=d["overhead_mb"], shares=d["shares"], settings=d["settings"],
            image=_relative(ck, f"{label}.image", d["image"]))
        if cfg.reservation_mb > cfg.memory_mb:
            raise ck.fail(f"{label}.reservation_mb", f"at most memory_mb ({_fmt(cfg.memory_mb)})",
                          cfg.reservation_mb)
        if cfg.limit_mb is not None and cfg.limit_mb < cfg.reservation_mb:
            raise ck.fail(f"{label}.limit_mb", f"at least reservation_mb ({_fmt(cfg.reservation_mb)}), "
                          "as ESXi requires", cfg.limit_mb)
        for j, pt in enumerate(d["process"]):
            cfg.processes.append(_process(ck, f"{label}.process[{j}]", pt))
        for n in names:
            if n in seen:
                raise ck.fail(f"vm[{i}].name", "a unique name", n)
            seen.add(n)
            vm = copy.copy(cfg)           # copies share the read-only steps and weights
            vm.name, vm.settings = n, dict(cfg.settings)
            vm.processes = [copy.copy(p) for p in cfg.processes]
            vms.append(vm)
    return vms


def parse(text: str, src: str = "<scenario>") -> Scenario:
    doc = toml(text, src)
    ck = _Check(src)
    d = ck.table("", SCHEMA, doc)
    vms = _vms(ck, d["vm"])
    chapters = [_reflowed(Chapter(**ck.table(f"chapter[{i}]", CHAPTER, c))) for i, c in enumerate(d["chapter"])]
    h = d["host"]
    sc = Scenario(
        name=d["name"] if d["name"] is not None else Path(src).stem,
        description=d["description"], seed=d["seed"], duration=d["duration"],
        host_pages=pages(h["memory_mb"]), vms=vms, tlb_entries=h["tlb_entries"],
        settings=d["settings"], host_cache_pages=pages(h["host_cache_mb"]),
        chapters=sorted(chapters, key=lambda c: c.at), path=src, text=text,
        compare_sets=(d["compare"] or {}).get("set", []), compare_title=(d["compare"] or {}).get("title", ""),
    )
    _admit(src, sc)
    _totals(src, sc)
    _fits_machine(src, sc)
    return sc


# -- rules across keys --------------------------------------------------------------------

def _admit(src: str, sc: Scenario) -> None:
    """ESXi admission control, and what a VM larger than the host can get here.

    ESXi powers a VM on only if the host can guarantee its reservation plus its VMM
    overhead from memory not yet reserved by the VMs powered on before it; vmmemviz powers
    the VMs on in file order. It also refuses a VM whose configured memory exceeds the
    host's memory less the other VMs' reservations: vSphere only warns, but here a guest
    that touches all of its memory at once (Windows zeroes it at boot) could not be backed
    even by reclaiming every unreserved page of the others.
    """
    host_mb = sc.host_mb
    reserved = 0.0
    for vm in sc.vms:
        ovhd = vm.overhead_pages() / PAGES_PER_MB
        need = vm.reservation_mb + ovhd
        if reserved + need > host_mb:
            raise InputError(
                f"{src}: vm[{vm.name}]: cannot power on (ESXi admission control): reservation "
                f"{_fmt(vm.reservation_mb)} MB + overhead {ovhd:,.2f} MB = {need:,.2f} MB, but the "
                f"host's {_fmt(host_mb)} MB has only {max(0.0, host_mb - reserved):,.2f} MB unreserved "
                f"after the VMs before it")
        reserved += need
    all_res = sum(vm.reservation_mb for vm in sc.vms)
    for vm in sc.vms:
        others = all_res - vm.reservation_mb
        if vm.memory_mb > host_mb - others:
            raise InputError(
                f"{src}: vm[{vm.name}].memory_mb: expected at most what the host can give it, "
                f"{host_mb - others:,.2f} MB (the host's {_fmt(host_mb)} MB less the other VMs' "
                f"reservations, {others:,.2f} MB): a VM larger than that cannot be simulated here, "
                f"got {_fmt(vm.memory_mb)}")


def _totals(src: str, sc: Scenario) -> None:
    """Work per tick over all VMs (copies made by count included) stays what a tick can do."""
    procs = [p for vm in sc.vms for p in vm.processes]
    for what, total, limit in (("touches", sum(p.touches for p in procs), MAX_TOUCHES_ALL),
                               ("step", sum(len(p.steps) for p in procs), MAX_STEPS_ALL)):
        if total > limit:
            raise InputError(f"{src}: vm.process.{what}: expected at most {limit:,} in all VMs "
                             f"(copies made by count included; what one tick can do here), got {total:,}")


def machine_bytes() -> int | None:
    """Physical memory of this machine, or None if the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


@functools.cache
def _bytes_per_page() -> tuple[int, int, int]:
    """Bytes of model arrays per machine page, guest physical page and process page."""
    from vmmemviz.model.core.host import Host
    from vmmemviz.model.core.vm import VM
    from vmmemviz.model.guest.guestos import Process

    host, vm, proc = Host(1), VM(0, VMConfig("x", 1 / PAGES_PER_MB), 1), Process(0, "p", 1)
    return (sum(getattr(host, a).nbytes for a in Host.ARRAYS),
            vm.nbytes() - vm.tlb.nbytes, proc.nbytes())


def _need(sc: Scenario) -> tuple[int, str]:
    """The bytes of arrays ``sc`` needs at most (with keyframes), and how they add up."""
    per_host, per_gp, per_gv = _bytes_per_page()
    gp = sum(vm.pages for vm in sc.vms)
    gv = sum(p.size_pages for vm in sc.vms for p in vm.processes)
    cache = sc.host_cache_pages
    need = KEEP_FACTOR * (sc.host_pages * per_host + gp * per_gp + gv * per_gv + cache * HOST_CACHE_SLOT_BYTES)
    return need, (f"{sc.host_pages:,} machine pages x {per_host} B + {gp:,} guest pages x {per_gp} B + {gv:,} "
                  f"process pages x {per_gv} B + {cache:,} host cache slots x {HOST_CACHE_SLOT_BYTES} B, "
                  f"x{KEEP_FACTOR} for keyframes")


def _fits_machine(src: str, sc: Scenario) -> None:
    """Refuse a scenario whose arrays would not fit in this machine's memory (MemoryError)."""
    have = machine_bytes()
    need, how = _need(sc)
    if have and need > have:
        raise InputError(
            f"{src}: host.memory_mb / host.host_cache_mb / vm.memory_mb / process.size_mb: expected a "
            f"scenario this machine can simulate (its {have / 2**30:,.1f} GiB of memory), got one that needs "
            f"about {need / 2**30:,.1f} GiB ({how})")


def pair_fits_machine(src: str, a: Scenario, b: Scenario) -> None:
    """Refuse a comparison whose two runs would not fit in this machine's memory together
    (each alone passed ``_fits_machine``)."""
    have, na, nb = machine_bytes(), _need(a)[0], _need(b)[0]
    if have and na + nb > have:
        raise InputError(
            f"{src}: compare: expected runs A and B that this machine can simulate side by side (its "
            f"{have / 2**30:,.1f} GiB of memory), got two that need about {(na + nb) / 2**30:,.1f} GiB "
            f"together ({na / 2**30:,.1f} + {nb / 2**30:,.1f})")
