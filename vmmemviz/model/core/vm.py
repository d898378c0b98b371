"""A virtual machine as the hypervisor sees it: configuration, and the PMAP (GPPN -> MPN).

A VM starts with no machine memory. The first touch of a guest physical page (GPPN)
makes the hypervisor back it with a machine page (MPN) and record the mapping in the
VM's PMAP (``BACK`` events). The VMM also takes machine frames of its own for the VM at
power-on (``POWER_ON``): PMAP, shadow / EPT tables and per-VM data, counted as OVHD.

Per GPPN (structure of arrays, 15 bytes a page):

* ``gp_state`` what backs the page: UNTOUCHED, MAPPED (private MPN), SHARED (a TPS
  MPN), BALLOONED (pinned by the balloon driver, no MPN), SWAPPED (in the .vswp),
  COMPRESSED (in the compression cache)
* ``gp_loc``   the MPN, swap slot or cache slot, by state
* ``gp_guest`` what the guest OS thinks of it: FREE, KERNEL, USER, BALLOON (guest.py)
* ``gp_flags`` ACCESSED (sampled for active memory)
* ``gp_proc``, ``gp_gvpn`` the process page that maps it (the guest's reverse map)

Per-VM settings use ESXi's names: ``sched.mem.pshare.enable``, ``sched.mem.pshare.salt``,
``sched.mem.maxmemctl`` (MB), ``sched.mem.min`` (reservation), ``sched.mem.max`` (limit),
``sched.mem.shares``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vmmemviz.model.core import content as C
from vmmemviz.model.core import host as H
from vmmemviz.model.core.events import F_RANGE, NONE, by_vm, hx, kind
from vmmemviz.model.core.units import PAGES_PER_MB, pages

UNTOUCHED, MAPPED, SHARED, BALLOONED, SWAPPED, COMPRESSED = range(6)
GP_STATE_NAMES = ("untouched", "mapped", "shared", "ballooned", "swapped", "compressed")
ACCESSED = 1
SHARES_PER_MB = {"low": 5, "normal": 10, "high": 20}


@dataclass
class VMConfig:
    name: str
    memory_mb: int
    guest_os: str = "linux"
    tools: bool = True
    mmu: str = "ept"
    reservation_mb: int = 0
    limit_mb: int | None = None
    shares: int | str = "normal"
    overhead_mb: float | None = None
    settings: dict = field(default_factory=dict)
    processes: list = field(default_factory=list)
    image: str | None = None

    @property
    def pages(self) -> int:
        return pages(self.memory_mb)

    def share_count(self) -> int:
        """Memory shares S: High/Normal/Low are 20/10/5 per MB of configured memory."""
        if isinstance(self.shares, str):
            return SHARES_PER_MB[self.shares] * self.memory_mb
        return int(self.shares)

    def overhead_pages(self) -> int:
        """VMM overhead frames: PMAP and EPT/shadow tables (about 1/128 of the guest) + 16."""
        if self.overhead_mb is not None:
            return pages(self.overhead_mb)
        return self.pages // 128 + 16


class VM:
    ARRAYS = ("gp_state", "gp_loc", "gp_guest", "gp_flags", "gp_proc", "gp_gvpn", "tlb")
    SCALARS = ("tlb_hits", "tlb_misses", "walk_refs", "vm_exits", "pt_updates", "active_pct")

    def __init__(self, index: int, cfg: VMConfig, tlb_entries: int = 64):
        self.index, self.cfg, self.name = index, cfg, cfg.name
        n = cfg.pages
        self.n = n
        self.gp_state = np.zeros(n, np.uint8)
        self.gp_loc = np.full(n, NONE, np.uint32)
        self.gp_guest = np.zeros(n, np.uint8)
        self.gp_flags = np.zeros(n, np.uint8)
        self.gp_proc = np.full(n, 255, np.uint8)
        self.gp_gvpn = np.full(n, NONE, np.uint32)
        self.tlb = np.full(tlb_entries, -1, np.int64)
        self.tlb_hits = self.tlb_misses = self.walk_refs = self.vm_exits = self.pt_updates = 0
        self.active_pct = 100     # estimated active share (sampling.py), 100 until sampled
        self.procs = []          # guest.Process, in order of creation
        self.salt = 0            # set by the simulator from the salting settings

    def setting(self, key: str, default):
        return self.cfg.settings.get(key, default)

    def nbytes(self) -> int:
        return sum(getattr(self, a).nbytes for a in self.ARRAYS) + sum(p.nbytes() for p in self.procs)


def expand(rows):
    """Per-page GPPNs of rows, expanding F_RANGE rows (``aux`` pages from ``gppn``).

    Returns (row_index_per_page, gppn_per_page, offset_in_row).
    """
    counts = np.where(rows["flags"] & F_RANGE, rows["aux"], 1).astype(np.int64)
    idx = np.repeat(np.arange(len(rows)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    offs = np.arange(int(counts.sum())) - starts
    return idx, rows["gppn"][idx].astype(np.int64) + offs, offs


def back_pages(state, rows):
    """Back GPPNs with the lowest free MPNs, in row order; each row learns its first MPN."""
    idx, gppns, offs = expand(rows)
    mpns = state.host.peek_free(len(gppns))
    vms = rows["vm"][idx]
    content = rows["content"][idx]
    # a range of OS pages holds consecutive pages of the OS image
    content = np.where((content >> np.uint32(C.CLASS_SHIFT)) == C.OS, content + offs.astype(np.uint32), content)
    content = C.canonical(content)       # real guest images: zero and duplicate pages
    for v in np.unique(vms):
        m = vms == v
        vm = state.vms[int(v)]
        vm.gp_state[gppns[m]] = MAPPED
        vm.gp_loc[gppns[m]] = mpns[m]
        state.host.take(mpns[m], H.PRIVATE, v, gppns[m], content[m])
    first = np.searchsorted(idx, np.arange(len(rows)))
    rows["mpn"] = mpns[first]


def stash(state, rows, store) -> None:
    """Move privately held GPPNs into a hypervisor ``store`` (its lowest free slots) and free their
    MPNs: the way out that :func:`restore` undoes. Rows learn the MPN, the slot and the content."""
    for vm, sel in by_vm(state, rows):
        g = rows["gppn"][sel].astype(np.int64)
        assert (vm.gp_state[g] == MAPPED).all(), f"{store.title}: a page to put there is not held privately"
        mpn = vm.gp_loc[g].astype(np.int64)
        content = state.host.mpn_content[mpn]
        slots = store.put(state, vm, content)
        state.host.release(mpn)
        vm.gp_state[g] = store.page_state
        vm.gp_loc[g] = slots
        rows["mpn"][sel] = mpn
        rows["slot"][sel] = slots
        rows["content"][sel] = content


def restore(state, rows, store) -> None:
    """Bring GPPNs back from a hypervisor ``store`` (store.py) into the lowest free MPNs with the
    content its slots hold, and free the slots. Rows learn the MPN, the slot and the content."""
    for vm, sel in by_vm(state, rows):
        g = rows["gppn"][sel].astype(np.int64)
        assert (vm.gp_state[g] == store.page_state).all(), f"{store.title}: a page to bring back is not there"
        slots = vm.gp_loc[g].astype(np.int64)
        content = store.content(state, vm, slots)
        mpn = state.host.peek_free(len(g))
        state.host.take(mpn, H.PRIVATE, vm.index, g, content)
        store.release(state, vm, slots)
        vm.gp_state[g] = MAPPED
        vm.gp_loc[g] = mpn
        rows["mpn"][sel] = mpn
        rows["slot"][sel] = slots
        rows["content"][sel] = content


@kind(1, "BACK", "core", "Virtual Machine Memory Allocation: a VM starts with no machine memory; "
      "the first time the guest touches a guest physical page, the hypervisor backs it with a "
      "machine page and records GPPN -> MPN in the VM's PMAP.")
def apply_back(state, rows):
    back_pages(state, rows)


@apply_back.narrator
def _(row, names):
    if row["flags"] & F_RANGE:
        n = int(row["aux"])
        return (f"{names[row['vm']]} touched GPPN {hx(row['gppn'])}-{hx(row['gppn'] + n - 1)} for the "
                f"first time; the hypervisor backed the {n} pages with MPNs from {hx(row['mpn'])} (PMAP).")
    return (f"{names[row['vm']]} touched GPPN {hx(row['gppn'])} for the first time; the hypervisor "
            f"backed it with MPN {hx(row['mpn'])} and recorded the mapping in the PMAP.")


@kind(2, "POWER_ON", "core", "The virtual machine monitor (VMM) controls each VM's memory. At power-on "
      "it takes machine memory of its own for the VM (PMAP, shadow or EPT tables): the overhead, OVHD.")
def apply_power_on(state, rows):
    for r in rows:
        mpns = state.host.peek_free(int(r["aux"]))
        state.host.take(mpns, H.HV, r["vm"], NONE, 0)
        r["mpn"] = mpns[0] if len(mpns) else NONE


@apply_power_on.narrator
def _(row, names):
    return (f"{names[row['vm']]} powered on with no machine memory; its VMM took {int(row['aux'])} "
            f"MPNs from {hx(row['mpn'])} for overhead (PMAP, page tables).")
