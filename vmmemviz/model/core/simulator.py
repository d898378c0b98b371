"""The simulator: builds the model from a scenario and moves it forward, one tick a second.

Each tick: power-on and boot at tick 0; then every process runs its workload (system
calls, then accesses, each access first resolved through the fault handlers: a first
touch is backed, a write to a shared page is copied, a swapped or compressed page is
brought back); then the mechanisms of the catalog tick in order. The simulator holds one
instance of each enabled mechanism and calls their hooks (core/mechanism.py).
Everything goes through :meth:`emit`: rows are applied to the state and logged.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.guest import guestos as guest
from vmmemviz.model.core import host as H
from vmmemviz.model.guest import realdata
from vmmemviz.model.guest import workload
from vmmemviz.model.core import content as C
from vmmemviz.model.core.events import F_RANGE, F_WRITE, EventLog, apply_rows, make_rows
from vmmemviz.model.guest.mmu import apply_access
from vmmemviz.model.config.settings import HOST_SETTINGS, VM_SETTINGS, defaults
from vmmemviz.model.core.modelstate import State
from vmmemviz.model.core.vm import MAPPED, SHARED, UNTOUCHED, VM, apply_back, apply_power_on, expand
from vmmemviz.model.catalog import MECHANISMS, STORES


def build_state(sc) -> State:
    """A fresh State of the shape the scenario asks for (no events applied)."""
    host = H.Host(sc.host_pages)
    vms = []
    for i, cfg in enumerate(sc.vms):
        vm = VM(i, cfg, sc.tlb_entries)
        for j, pc in enumerate(cfg.processes):
            vm.procs.append(guest.Process(j, pc.name, pc.size_pages, pc))
        vms.append(vm)
    st = State(host, vms)
    settings = defaults(HOST_SETTINGS) | sc.settings
    for m in MECHANISMS:
        m.setup_state(st, sc)
        for s in m.stores:
            s.setup_state(st, settings)
    st.stores = {s.name: s for s in STORES if s.exists(st)}
    return st


class Simulator:
    def __init__(self, scenario, log: bool = True):
        self.sc = scenario
        self.settings = defaults(HOST_SETTINGS) | scenario.settings
        self.state = build_state(scenario)
        for vm in self.state.vms:
            vm.vm_settings = defaults(VM_SETTINGS) | vm.cfg.settings
        self.rng = np.random.default_rng(scenario.seed)
        self.log = EventLog() if log else None
        self.events = 0
        self.on_emit = None    # called with the event count after each emit (the timeline's keyframes)
        self.now = 0           # the next tick to run
        self._serial = 1
        realdata.load_images(self)
        self.traces = {(vm.index, p.index): realdata.Trace(p.cfg.trace, f"{scenario.path}: vm[{vm.name}]."
                                                           f"process[{p.index}]", p.vpages)
                       for vm in self.vms for p in vm.procs if p.cfg.trace}
        self.mechanisms = [m for m in (cls(self) for cls in MECHANISMS) if m.enabled()]
        self._by_class = {type(m): m for m in self.mechanisms}

    def mechanism(self, cls):
        """The running instance of mechanism ``cls`` (None when it is not enabled)."""
        return self._by_class.get(cls)

    @property
    def vms(self):
        return self.state.vms

    # -- plumbing -------------------------------------------------------------------
    def emit(self, rows: np.ndarray) -> np.ndarray:
        """Apply rows to the state and log them."""
        if len(rows) == 0:
            return rows
        apply_rows(self.state, rows)
        if self.log is not None:
            self.log.append(rows)
        self.events += len(rows)
        if self.on_emit is not None:
            self.on_emit(self.events)
        return rows

    def rows(self, n: int, kind_code: int, vm: int = 0, **fields) -> np.ndarray:
        return make_rows(n, self.now, kind_code, vm, **fields)

    def next_serials(self, n: int) -> np.ndarray:
        s = np.arange(self._serial, self._serial + n, dtype=np.uint32)
        self._serial += n
        return s

    # -- the tick ----------------------------------------------------------------------
    def done(self) -> bool:
        return self.now >= self.sc.duration

    def step_tick(self) -> None:
        for _ in self.tick_parts():
            pass

    def tick_parts(self):
        """One tick in parts: it yields after powering on each VM, after each process's run, and
        after each mechanism's tick and end of tick, so a caller with a deadline (the window's
        worker) can serve its user between parts. Every event logged so far is final: replaying the log to any
        position gives the state play gave there, mid-tick too."""
        t = self.now
        if t == 0:
            for vm in self.state.vms:
                self.power_on(vm)
                yield
        for vm in self.state.vms:
            for proc in vm.procs:
                self.run_process(vm, proc, t)
                yield
        for m in self.mechanisms:
            m.tick()
            yield
        for m in self.mechanisms:
            m.end_tick()
            yield
        self.now += 1

    def run(self, ticks: int | None = None, max_events: int | None = None) -> None:
        end = self.sc.duration if ticks is None else self.now + ticks
        while self.now < end and (max_events is None or self.events < max_events):
            self.step_tick()

    def power_on(self, vm) -> None:
        """``vm`` powers on: its overhead memory, then its guest OS boots."""
        self.make_room(vm, vm.cfg.overhead_pages())
        self.emit(self.rows(1, apply_power_on.code, vm.index, aux=vm.cfg.overhead_pages()))
        boot = realdata.image_boot_rows(self, vm) if vm.cfg.image else guest.boot_rows(self.now, vm)
        for r in boot:
            gppns = expand(r)[1]
            self.make_room(vm, len(gppns), gppns)
            if r["kind"][0] == guest.apply_boot_zero.code:
                self.boot_zero(vm, gppns)
            else:
                self.emit(r)

    def boot_zero(self, vm, gppns) -> None:
        """A Windows guest zeroes ``gppns`` at boot: first touches, backed as any first touch
        (2 MB pages of zeros on a hardware MMU), the rest by ``BOOT_ZERO`` runs of 4 KB pages."""
        for m in self.mechanisms:
            gppns = m.back(vm, gppns)
        cut = np.flatnonzero(np.diff(gppns) != 1) + 1
        for run in np.split(gppns, cut) if len(gppns) else []:
            self.emit(make_rows(1, self.now, guest.apply_boot_zero.code, vm.index, gppn=int(run[0]),
                                aux=len(run), flags=F_RANGE, content=C.ZERO_CID))

    # -- processes -----------------------------------------------------------------------
    def run_process(self, vm, proc, t: int) -> None:
        for op in workload.plan(self, vm, proc, t):
            if op[0] == "alloc":
                self.alloc(vm, proc, op[1], op[2])
            elif op[0] == "trace":
                self.trace_step(vm, proc)
            elif op[0] == "free":
                self.emit(self.rows(1, guest.apply_free.code, vm.index, proc=proc.index, gvpn=op[1], aux=op[2]))
            else:
                got = workload.touches_for(self, vm, proc, op)
                if got is not None and len(got[0]):
                    self.access(vm, proc, *got)

    def trace_step(self, vm, proc) -> None:
        """The next ``touches`` records of the process's trace; new pages allocated first."""
        gv, w = self.traces[(vm.index, proc.index)].next(proc.cfg.touches)
        if not len(gv):
            return
        held = proc.held()
        if int(gv.max()) >= held:
            self.alloc(vm, proc, held, int(gv.max()) + 1 - held)
        ok = proc.pt_state[gv] != guest.UNMAPPED       # pages the guest had no memory for
        contents = np.zeros(int(ok.sum()), np.uint32)
        contents[w[ok]] = workload.contents(self, proc.cfg, vm, int(w[ok].sum()))
        self.access(vm, proc, gv[ok], w[ok], contents)

    def alloc(self, vm, proc, gvpn, n: int) -> None:
        """A system call for ``n`` pages at ``gvpn`` (first fit when None)."""
        free = int(np.count_nonzero(vm.gp_guest == guest.FREE))
        if free < n:
            self.guest_reclaim(vm, n - free)
            free = int(np.count_nonzero(vm.gp_guest == guest.FREE))
        n = min(n, free)
        if gvpn is None:
            gvpn = workload.first_fit(proc, n)
        if n <= 0 or gvpn is None:
            return
        self.emit(self.rows(1, guest.apply_alloc.code, vm.index, proc=proc.index, gvpn=gvpn, aux=n))

    def access(self, vm, proc, gvpns, writes, contents) -> None:
        """Accesses by ``proc``: guest faults, hypervisor faults, then the ACCESS rows."""
        gvpns, writes = np.asarray(gvpns, np.int64), np.asarray(writes, bool)
        gppns = proc.pt[gvpns].astype(np.int64)       # a page the guest paged out: its swap slot
        wait = self.needs_frames(vm, proc, gvpns, gppns, writes)
        if wait.any() and any(m.blocks(vm, int(wait.sum())) for m in self.mechanisms):
            go = ~wait
            gvpns, gppns, writes, contents = gvpns[go], gppns[go], writes[go], np.asarray(contents)[go]
            if not len(gvpns):
                return
            wait = wait[go]
        if (proc.pt_state[gvpns[wait]] == guest.GSWAPPED).any():
            for m in self.mechanisms:
                m.guest_fault(vm, proc, np.unique(gvpns))
            gppns = proc.pt[gvpns].astype(np.int64)
            wait = np.ones(len(gvpns), bool)      # paged in to new GPPNs: fault them all
        if wait.any():
            # the other accesses find their pages mapped (a read of a shared one too): for them
            # the fault handlers would do nothing, but reclaiming for the rest must spare them
            self.fault(vm, gppns[wait], writes[wait], keep=gppns)
        flags = np.where(writes, F_WRITE, 0).astype(np.uint8)
        self.emit(self.rows(len(gvpns), apply_access.code, vm.index, proc=proc.index, gvpn=gvpns,
                            gppn=gppns, content=contents, flags=flags))

    @staticmethod
    def needs_frames(vm, proc, gvpns, gppns, writes) -> np.ndarray:
        """Per access (GVPN, its page-table entry, write): it needs a machine page (first touch,
        swapped, compressed, ballooned, copy on write, or paged out by the guest)."""
        out = proc.pt_state[gvpns] == guest.GSWAPPED
        st = vm.gp_state.take(gppns, mode="clip")       # a swap slot's entry is read, then ignored
        return out | ((st != MAPPED) & ((st != SHARED) | writes))

    def make_room(self, vm, frames: int, keep=None) -> None:
        """Before ``frames`` machine pages are taken for ``vm``: if the host has fewer free, the
        mechanisms reclaim at once (never ``vm``'s GPPNs in ``keep``)."""
        if frames and frames > self.state.host.free_count():
            for m in self.mechanisms:
                m.make_room(vm, frames, keep)

    def fault(self, vm, gppns, writes, keep=None) -> None:
        """Make every GPPN in ``gppns`` accessible (writable where ``writes``); reclaiming
        frames for them never takes ``vm``'s GPPNs in ``keep`` (default ``gppns``)."""
        u, inv = np.unique(gppns, return_inverse=True)
        w = np.zeros(len(u), bool)
        w[inv[np.asarray(writes, bool)]] = True
        st = vm.gp_state[u]
        self.make_room(vm, int(np.count_nonzero((st != MAPPED) & ((st != SHARED) | w))), u if keep is None else keep)
        untouched = u[vm.gp_state[u] == UNTOUCHED]
        for m in self.mechanisms:
            if len(untouched):
                untouched = m.back(vm, untouched)
        if len(untouched):
            self.emit(self.rows(len(untouched), apply_back.code, vm.index, gppn=untouched, content=0))
        for m in self.mechanisms:
            m.fault(vm, u, w)

    def guest_reclaim(self, vm, n: int) -> None:
        """The guest OS of ``vm`` needs ``n`` more free pages (guest-level paging frees them)."""
        for m in self.mechanisms:
            m.guest_reclaim(vm, n)

    def release(self, vm, gppns) -> None:
        """``gppns`` of ``vm`` are about to lose their machine pages: every mechanism prepares."""
        for m in self.mechanisms:
            m.release(vm, gppns)

    def before_swap(self, vm, gppns, urgent: bool = False):
        """Offer pages chosen for swapping to every mechanism (share, compress); returns the
        GPPNs still to swap."""
        for m in self.mechanisms:
            gppns = m.before_swap(vm, gppns, urgent)
        return gppns
