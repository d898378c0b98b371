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
    name = "web01"
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

Sizes in MB may be fractions (0.25 MB = 64 pages) so that teaching scenarios stay small.
A bad file raises InputError naming the file, the key and what was expected.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from vmmemviz.errors import InputError
from vmmemviz.model.config import settings as S
from vmmemviz.model.core.vm import PAGES_PER_MB, VMConfig
from vmmemviz.model.guest.workload import CONTENT_CLASSES, OPS, ProcessConfig, Step
from vmmemviz.assets import asset

BUILTIN_DIR = asset("scenarios")


@dataclass
class Chapter:
    at: int
    title: str
    text: str = ""


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
    path: str | None = None
    text: str = ""

    @property
    def host_mb(self) -> float:
        return self.host_pages / PAGES_PER_MB


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def resolve(name_or_path: str) -> Path:
    """A path, or the stem of a built-in scenario."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists() or "/" in name_or_path:
        if not p.is_file():
            raise InputError(f"{name_or_path}: no such scenario file")
        return p
    b = BUILTIN_DIR / f"{name_or_path}.toml"
    if not b.is_file():
        raise InputError(f"{name_or_path}: not a file and not a built-in scenario "
                         f"(built-in: {', '.join(builtin_names())})")
    return b


def load(name_or_path: str) -> Scenario:
    path = resolve(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    return parse(text, str(path))


class _Reader:
    """Takes keys out of a TOML table, checking types; leftovers are unknown keys."""

    def __init__(self, src: str, where: str, table):
        if not isinstance(table, dict):
            raise InputError(f"{src}: {where}: expected a table, got {type(table).__name__}")
        self.src, self.where, self.t = src, where, dict(table)

    def err(self, key, expected, got):
        return InputError(f"{self.src}: {self.where}{'.' if self.where else ''}{key}: expected {expected}, got {got!r}")

    def get(self, key, default=..., kind=None, expected=""):
        if key not in self.t:
            if default is ...:
                raise InputError(f"{self.src}: {self.where}{'.' if self.where else ''}{key}: missing "
                                 f"(expected {expected})")
            return default
        v = self.t.pop(key)
        if kind == "mb":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise self.err(key, expected or "a size in MB (a number >= 0)", v)
        elif kind == "posint":
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise self.err(key, expected or "a positive integer", v)
        elif kind == "int":
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise self.err(key, expected or "an integer >= 0", v)
        elif kind == "frac":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise self.err(key, expected or "a number from 0 to 1", v)
        elif kind == "str":
            if not isinstance(v, str):
                raise self.err(key, expected or "a string", v)
        elif kind == "bool":
            if not isinstance(v, bool):
                raise self.err(key, "true or false", v)
        elif isinstance(kind, tuple):
            if v not in kind:
                raise self.err(key, "one of " + ", ".join(map(str, kind)), v)
        return v

    def done(self):
        if self.t:
            k = next(iter(self.t))
            raise InputError(f"{self.src}: {self.where}{'.' if self.where else ''}{k}: unknown key")


def _relative(src: str, path: str | None) -> str | None:
    """A data file named in a scenario, relative to the scenario's folder."""
    if path is None:
        return None
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else Path(src).resolve().parent / p)


def _pages(mb) -> int:
    return int(round(mb * PAGES_PER_MB))


def _parse_pages(src, where, v):
    """A count (int) or a GVPN range "0x10-0x1f" (inclusive) -> (count, start, stop)."""
    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return v, None, None
    if isinstance(v, str) and "-" in v:
        a, b = v.split("-", 1)
        try:
            lo, hi = int(a.strip(), 0), int(b.strip(), 0)
        except ValueError:
            lo = hi = -1
        if 0 <= lo <= hi:
            return None, lo, hi + 1
    raise InputError(f"{src}: {where}.pages: expected a page count or a GVPN range like \"0x0-0xf\", got {v!r}")


def _process(src, where, t, vm_pages) -> ProcessConfig:
    r = _Reader(src, where, t)
    name = r.get("name", kind="str", expected="a process name")
    size = _pages(r.get("size_mb", kind="mb"))
    if size <= 0:
        raise r.err("size_mb", "more than 0", size)
    pc = ProcessConfig(
        name=name, size_pages=size,
        start_pages=_pages(r.get("start_mb", 0, "mb")),
        alloc_pages=_pages(r.get("alloc_mb", 0, "mb")),
        free_pages=_pages(r.get("free_mb", 0, "mb")),
        touches=r.get("touches", 0, "int"),
        write_fraction=float(r.get("write_fraction", 0.3, "frac")),
        start_tick=r.get("start", 1, "int"),
        trace=_relative(src, r.get("trace", None, "str")),
    )
    ws = r.get("working_set_mb", None, "mb")
    pc.working_set_pages = None if ws is None else max(1, _pages(ws))
    mix = r.get("content", None)
    if mix is not None:
        if not isinstance(mix, dict) or not mix or any(k not in CONTENT_CLASSES for k in mix) or \
                any(isinstance(x, bool) or not isinstance(x, (int, float)) or x < 0 for x in mix.values()) or \
                sum(mix.values()) <= 0:
            raise r.err("content", "a table of weights for zero / os / text / random", mix)
        pc.content = dict(mix)
    for i, st in enumerate(r.get("step", [])):
        sr = _Reader(src, f"{where}.step[{i}]", st)
        op = sr.get("op", kind=OPS)
        at = sr.get("at", kind="int", expected="the tick (second) of the step")
        count, lo, hi = _parse_pages(src, sr.where, sr.get("pages", kind=None, expected="a count or range"))
        if hi is not None and hi > size:
            raise InputError(f"{src}: {sr.where}.pages: range ends past the process size ({size} pages)")
        cls = sr.get("content", "text", tuple(CONTENT_CLASSES))
        sr.done()
        pc.steps.append(Step(at, op, count, lo, hi, cls))
    r.done()
    return pc


def parse(text: str, src: str = "<scenario>") -> Scenario:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{src}: not valid TOML: {e}") from None
    r = _Reader(src, "", doc)
    hr = _Reader(src, "host", r.get("host", expected="a [host] table"))
    host_mb = hr.get("memory_mb", kind="mb", expected="the host's memory in MB")
    tlb = hr.get("tlb_entries", 64, "posint")
    host_cache_mb = hr.get("host_cache_mb", 0, "mb")
    hr.done()
    settings = {}
    for k, v in (r.get("settings", {}) or {}).items():
        try:
            settings[k] = S.check(S.HOST_SETTINGS, k, v, f"{src}: settings")
        except ValueError as e:
            raise InputError(str(e)) from None
    vms = []
    vm_tables = r.get("vm", None)
    if not isinstance(vm_tables, list) or not vm_tables:
        raise InputError(f"{src}: vm: expected at least one [[vm]] table")
    if len(vm_tables) > 250:
        raise InputError(f"{src}: vm: at most 250 VMs, got {len(vm_tables)}")
    names = set()
    for i, t in enumerate(vm_tables):
        vr = _Reader(src, f"vm[{i}]", t)
        name = vr.get("name", kind="str", expected="a VM name")
        if name in names:
            raise InputError(f"{src}: vm[{i}].name: expected a unique name, got {name!r} twice")
        names.add(name)
        vr.where = f"vm[{name}]"
        cfg = VMConfig(
            name=name,
            memory_mb=vr.get("memory_mb", kind="mb", expected="the VM's configured memory in MB"),
            guest_os=vr.get("guest_os", "linux", ("linux", "windows")),
            tools=vr.get("tools", True, "bool"),
            mmu=vr.get("mmu", "ept", ("ept", "shadow")),
            reservation_mb=vr.get("reservation_mb", 0, "mb"),
            limit_mb=vr.get("limit_mb", None, "mb"),
            overhead_mb=vr.get("overhead_mb", None, "mb"),
            image=_relative(src, vr.get("image", None, "str")),
        )
        if cfg.pages < 64:
            raise vr.err("memory_mb", "at least 0.25 (64 pages)", cfg.memory_mb)
        if cfg.reservation_mb > cfg.memory_mb:
            raise vr.err("reservation_mb", f"at most memory_mb ({cfg.memory_mb})", cfg.reservation_mb)
        sh = vr.get("shares", "normal")
        if not (sh in ("low", "normal", "high") or (isinstance(sh, int) and not isinstance(sh, bool) and sh > 0)):
            raise vr.err("shares", "low, normal, high or a positive number", sh)
        cfg.shares = sh
        for k, v in (vr.get("settings", {}) or {}).items():
            try:
                cfg.settings[k] = S.check(S.VM_SETTINGS, k, v, f"{src}: {vr.where}.settings")
            except ValueError as e:
                raise InputError(str(e)) from None
        procs = vr.get("process", [])
        if not isinstance(procs, list):
            raise vr.err("process", "[[vm.process]] tables", procs)
        if len(procs) > 250:
            raise vr.err("process", "at most 250 processes", len(procs))
        for j, pt in enumerate(procs):
            cfg.processes.append(_process(src, f"{vr.where}.process[{j}]", pt, cfg.pages))
        vr.done()
        vms.append(cfg)
    chapters = []
    for i, c in enumerate(r.get("chapter", [])):
        cr = _Reader(src, f"chapter[{i}]", c)
        chapters.append(Chapter(cr.get("at", kind="int"), cr.get("title", kind="str"), cr.get("text", "", "str")))
        cr.done()
    sc = Scenario(
        name=r.get("name", Path(src).stem, "str"),
        description=r.get("description", "", "str"),
        seed=r.get("seed", 1, "int"),
        duration=r.get("duration", 60, "posint", "a number of simulated seconds"),
        host_pages=_pages(host_mb), vms=vms, tlb_entries=tlb, settings=settings,
        host_cache_pages=_pages(host_cache_mb),
        chapters=sorted(chapters, key=lambda c: c.at), path=src, text=text,
    )
    r.done()
    if sc.host_pages < 256:
        raise InputError(f"{src}: host.memory_mb: expected at least 1 MB, got {host_mb}")
    if sc.host_pages >= 1 << 31:
        raise InputError(f"{src}: host.memory_mb: expected at most 8 TB, got {host_mb}")
    return sc
