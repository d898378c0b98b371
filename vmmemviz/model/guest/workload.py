"""Workloads: what the applications in a guest do each simulated second (one tick).

A process has a guest virtual address space of ``size_mb`` and a workload made of

* seeded random behaviour: allocate ``alloc_mb`` per second (starting with ``start_mb``)
  until ``size_mb``; free ``free_mb`` per second (its oldest allocation); make ``touches``
  accesses per second to pages of its working set (the first ``working_set_mb`` of what it
  holds), a ``write_fraction`` of them writes; written content drawn from ``content``
  (weights of zero / os / text / random / app pages; ``app``: page GVPN of the application's
  own image, its binary and input files, the same in every VM running an application of
  that name, as in Waldspurger's identical SPEC95 VMs);
* scripted steps at given ticks: ``{at = 3, op = "write", pages = "0x0-0xf", content = "text"}``
  with op alloc / free / read / write and ``pages`` a count or a GVPN range.

``plan`` only decides (with the simulator's random generator); the simulator turns the
plan into events.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vmmemviz.model.core import content as C
from vmmemviz.model.guest.guestos import UNMAPPED

APP = 4                                   # not a CID class: app pages are OS-class image pages
CONTENT_CLASSES = {"zero": C.ZERO, "os": C.OS, "text": C.TEXT, "random": C.RANDOM, "app": APP}
OPS = ("alloc", "free", "read", "write")


@dataclass
class Step:
    at: int
    op: str
    count: int | None = None              # pages, when no explicit range
    start: int | None = None              # explicit GVPN range [start, stop)
    stop: int | None = None
    content: str = "text"


@dataclass
class ProcessConfig:
    name: str
    size_pages: int
    start_pages: int = 0
    alloc_pages: int = 0
    free_pages: int = 0
    working_set_pages: int | None = None
    touches: int = 0
    write_fraction: float = 0.3
    content: dict = field(default_factory=lambda: {"text": 0.6, "random": 0.3, "zero": 0.1})
    steps: list = field(default_factory=list)
    start_tick: int = 1
    trace: str | None = None              # accesses come from this trace (realdata.py)


def contents(sim, proc_cfg: ProcessConfig, vm, n: int, cls_name: str | None = None, gvpns=None) -> np.ndarray:
    """Content ids for ``n`` fresh writes (to ``gvpns``, which app pages are indexed by)."""
    if cls_name is None:
        names = list(proc_cfg.content)
        w = np.array([proc_cfg.content[k] for k in names], float)
        pick = sim.rng.choice(len(names), size=n, p=w / w.sum())
        classes = np.array([CONTENT_CLASSES[names[i]] for i in range(len(names))])[pick]
    else:
        classes = np.full(n, CONTENT_CLASSES[cls_name])
    out = np.zeros(n, np.uint32)
    uniq = (classes == C.TEXT) | (classes == C.RANDOM)
    serial = sim.next_serials(int(uniq.sum()))
    out[uniq] = C.unique_cid(0, serial) | (classes[uniq].astype(np.uint32) << np.uint32(C.CLASS_SHIFT))
    os_pages = classes == C.OS
    if os_pages.any():
        # an application loading shared libraries: pages of the guest OS image
        out[os_pages] = C.os_cid(vm.cfg.guest_os, sim.rng.integers(0, max(8, vm.n // 16), int(os_pages.sum())))
    app = classes == APP
    if app.any():
        index = np.asarray(gvpns)[app] if gvpns is not None else sim.next_serials(int(app.sum()))
        out[app] = C.app_cid(proc_cfg.name, index)
    return out


def first_fit(proc, n: int) -> int | None:
    """Lowest GVPN starting ``n`` unmapped pages in a row."""
    free = proc.pt_state == UNMAPPED
    if n <= 0 or n > len(free):
        return None
    # runs of unmapped pages: [start, end) from the edges of the mask (a pass over bytes, not
    # a cumulative sum of int64); the lowest fit starts the first run long enough
    edges = np.flatnonzero(np.diff(free.view(np.int8), prepend=np.int8(0), append=np.int8(0)))
    starts, ends = edges[0::2], edges[1::2]
    ok = np.flatnonzero(ends - starts >= n)
    return int(starts[ok[0]]) if len(ok) else None


def plan(sim, vm, proc, tick: int) -> list:
    """Operations of one process for one tick: ('alloc', gvpn, n), ('free', gvpn, n),
    ('access', gvpns, writes, contents)."""
    cfg: ProcessConfig = proc.cfg
    ops = []
    steps = [s for s in cfg.steps if s.at == tick]
    rnd = tick >= cfg.start_tick
    want = 0
    if rnd and not cfg.trace:
        held = proc.held()
        want = cfg.start_pages if tick == cfg.start_tick else 0
        want = min(want + cfg.alloc_pages, cfg.size_pages - held)
    for s in steps:
        if s.op == "alloc":
            n = s.count if s.count is not None else s.stop - s.start
            ops.append(("alloc", s.start, n))
    if want > 0:
        ops.append(("alloc", None, want))
    if rnd and cfg.free_pages:
        held = proc.allocated()
        if len(held) > cfg.free_pages:
            ops.append(("free", int(held[0]), cfg.free_pages))
    for s in steps:
        if s.op == "free":
            if s.start is not None:
                ops.append(("free", s.start, s.stop - s.start))
            else:
                held = proc.allocated()
                if len(held):
                    ops.append(("free", int(held[0]), min(s.count, len(held))))
        elif s.op in ("read", "write"):
            ops.append(("touch", s))
    if rnd and cfg.touches:
        ops.append(("trace", None) if cfg.trace else ("random-touch", None))
    return ops


def touches_for(sim, vm, proc, op) -> tuple:
    """Resolve a touch op after allocations ran: (gvpns, writes, contents)."""
    cfg: ProcessConfig = proc.cfg
    held = proc.allocated()
    if len(held) == 0:
        return None
    if op[0] == "touch":
        s: Step = op[1]
        if s.start is not None:
            g = np.arange(s.start, s.stop)
            g = g[proc.pt_state[g] != UNMAPPED]
        else:
            g = held[sim.rng.integers(0, len(held), s.count)]
        w = np.full(len(g), s.op == "write")
        c = contents(sim, cfg, vm, len(g), s.content, g) if s.op == "write" else np.zeros(len(g), np.uint32)
        return g, w, c
    ws = len(held) if cfg.working_set_pages is None else max(1, min(cfg.working_set_pages, len(held)))
    g = held[sim.rng.integers(0, ws, cfg.touches)]
    w = sim.rng.random(cfg.touches) < cfg.write_fraction
    c = np.zeros(cfg.touches, np.uint32)
    c[w] = contents(sim, cfg, vm, int(w.sum()), gvpns=g[w])
    return g, w, c
