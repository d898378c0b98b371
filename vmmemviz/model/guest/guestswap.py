"""Guest-level paging: the guest OS pages its own applications out to its own swap device.

Driven by the guest, not the hypervisor (that is hypervisor swapping, swap.py, with its own
store, events and counters). The guest pages out when it runs short of free guest physical
pages: when an application allocates more than the free list holds, or when the balloon
driver (balloon.py) asks for pages and none are free.

* ``GUEST_PAGEOUT``: the guest OS reads an application page, writes it to the lowest free
  slot of its swap device, points the process's page-table entry at the slot (``pt_state``
  GSWAPPED) and puts the GPPN on its free list. Reading the page first brings it back if the
  hypervisor had swapped or compressed it: double paging. The GPPN keeps its machine page:
  only the balloon can hand guest memory back to the hypervisor.
* ``GUEST_PAGEIN``: an access to a paged-out GVPN faults in the guest; the guest OS takes a
  free GPPN (paging others out if it has none), reads the slot into it and maps it again.

Victims follow the guest's LRU lists, approximated by the accessed bits: pages not touched in
the current or the last sample period first (at random among them), then the others.
The guest swap (``gswap``, one content id per slot, EMPTY when free) is as large as the VM's
memory, like a Linux swap partition the size of RAM.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core import counter
from vmmemviz.model.core.events import NONE, by_vm, hx, kind
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.store import SlotStore
from vmmemviz.model.core.units import mb
from vmmemviz.model.core.vm import ACCESSED, MAPPED, SHARED
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.reclaim.sampling import PREV_ACCESSED

class GuestSwap(SlotStore):
    """The guest's swap device: its pages are process pages (a GVPN's ``pt`` is the slot)."""

    def held(self, state, vm) -> np.ndarray:
        parts = [p.pt[p.pt_state == G.GSWAPPED] for p in vm.procs]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


GSWAP = GuestSwap("gswap", "guest swap", "gswap", None, lambda vm: vm.n, group="guest")


def _by_process(vm, rows, sel):
    """(process, mask within ``sel``) for each process of the selected rows."""
    procs = rows["proc"][sel]
    for p in np.unique(procs):
        yield vm.procs[int(p)], procs == p


@kind(63, "GUEST_PAGEOUT", "guest", "Guest-level paging: short of free memory (often because the balloon "
      "driver took it), the guest OS pages its own applications out to its swap device. The guest "
      "decides what goes; the hypervisor is not involved.", src="gv", dst="gswap", flow="gswap")
def apply_guest_pageout(state, rows):
    for vm, sel in by_vm(state, rows):
        g = rows["gppn"][sel].astype(np.int64)
        assert np.isin(vm.gp_state[g], (MAPPED, SHARED)).all(), "guest page-out of a page it cannot read"
        assert (vm.gp_guest[g] == G.USER).all(), "guest page-out of a page no application holds"
        content = state.host.mpn_content[vm.gp_loc[g]]
        slots = GSWAP.put(state, vm, content)
        gv = rows["gvpn"][sel].astype(np.int64)
        for proc, m in _by_process(vm, rows, sel):
            proc.pt[gv[m]] = slots[m]
            proc.pt_state[gv[m]] = G.GSWAPPED
            G.pt_updated(vm, proc, gv[m])
        vm.gp_guest[g] = G.FREE
        vm.gp_proc[g] = 255
        vm.gp_gvpn[g] = NONE
        rows["slot"][sel] = slots
        rows["content"][sel] = content
        rows["mpn"][sel] = vm.gp_loc[g]


@apply_guest_pageout.narrator
def _(row, names):
    return (f"{names[row['vm']]}'s guest OS paged GVPN {hx(row['gvpn'])} of process {int(row['proc'])} out to "
            f"its guest swap slot {hx(row['slot'])}, freeing GPPN {hx(row['gppn'])} for itself (its MPN "
            f"{hx(row['mpn'])} stays with the VM).")


@kind(64, "GUEST_PAGEIN", "guest", "Guest-level paging: an application touched a page its guest OS had "
      "paged out; the guest reads it back from its swap device into a free guest physical page.",
      src="gswap", dst="gv", flow="gswap")
def apply_guest_pagein(state, rows):
    for vm, sel in by_vm(state, rows):
        g = rows["gppn"][sel].astype(np.int64)
        assert (vm.gp_guest[g] == G.FREE).all() and (vm.gp_state[g] == MAPPED).all(), \
            "guest page-in into a page that is not free and writable"
        gv = rows["gvpn"][sel].astype(np.int64)
        slots = np.zeros(len(g), np.int64)
        for proc, m in _by_process(vm, rows, sel):
            assert (proc.pt_state[gv[m]] == G.GSWAPPED).all(), "guest page-in of a page not paged out"
            slots[m] = proc.pt[gv[m]]
            proc.pt[gv[m]] = g[m]
            proc.pt_state[gv[m]] = G.RESIDENT
            vm.gp_proc[g[m]] = proc.index
            G.pt_updated(vm, proc, gv[m])
        content = GSWAP.content(state, vm, slots)
        GSWAP.release(state, vm, slots)
        state.host.mpn_content[vm.gp_loc[g]] = content
        vm.gp_guest[g] = G.USER
        vm.gp_gvpn[g] = gv
        rows["slot"][sel] = slots
        rows["content"][sel] = content
        rows["mpn"][sel] = vm.gp_loc[g]


@apply_guest_pagein.narrator
def _(row, names):
    return (f"Process {int(row['proc'])} in {names[row['vm']]} touched paged-out GVPN {hx(row['gvpn'])}; its "
            f"guest OS read guest swap slot {hx(row['slot'])} back into GPPN {hx(row['gppn'])} "
            f"(MPN {hx(row['mpn'])}).")


def page_out(sim, vm, n: int, keep=None) -> int:
    """The guest OS pages out up to ``n`` application pages (never the GPPNs in ``keep``);
    returns how many it paged out."""
    user = np.flatnonzero(vm.gp_guest == G.USER)
    if keep is not None:
        user = np.setdiff1d(user, keep)
    n = min(n, len(user), GSWAP.free(sim.state, vm))
    if n <= 0:
        return 0
    idle = (vm.gp_flags[user] & (ACCESSED | PREV_ACCESSED)) == 0
    order = np.concatenate((sim.rng.permutation(user[idle]), sim.rng.permutation(user[~idle])))
    victims = np.sort(order[:n])
    sim.fault(vm, victims, np.zeros(n, bool))      # the guest reads them to write them out
    sim.emit(sim.rows(n, apply_guest_pageout.code, vm.index, proc=vm.gp_proc[victims],
                      gvpn=vm.gp_gvpn[victims], gppn=victims))
    return n


class GuestPaging(Mechanism):
    """Mechanism: the guest OS's own paging, on demand (no work of its own each tick); a guest
    takes pages back from its balloon before it pages for them."""

    name = "guest paging"
    after = ("balloon",)
    stores = (GSWAP,)
    counters = (  # vmmemviz's own: esxtop cannot see inside the guest
        counter.vm("GSWCUR", "MB", "mctl", "guest memory the guest OS paged out to its own swap device "
                   "(guest-level paging, when the balloon needs more than the guest has free)"),
        counter.vm("GSWR/s", "MB/s", "mctl", "guest-level page-in rate (from the guest's swap device)"),
        counter.vm("GSWW/s", "MB/s", "mctl", "guest-level page-out rate (to the guest's swap device)"),
    )

    def guest_reclaim(self, vm, n):
        page_out(self.sim, vm, n)

    def guest_fault(self, vm, proc, gvpns):
        """Make every GVPN of ``gvpns`` resident: page in the paged-out ones, never page out any."""
        out = gvpns[proc.pt_state[gvpns] == G.GSWAPPED]
        if not len(out):
            return
        short = len(out) - int(np.count_nonzero(vm.gp_guest == G.FREE))
        sim = self.sim
        if short > 0:
            page_out(sim, vm, short, keep=proc.pt[gvpns[proc.pt_state[gvpns] == G.RESIDENT]])
        gppns = G.free_gppns(vm, len(out))
        assert len(gppns) == len(out), f"{vm.name}: the guest OS has no page left to page in to"
        sim.fault(vm, gppns, np.ones(len(gppns), bool))    # the guest writes them
        sim.emit(sim.rows(len(out), apply_guest_pagein.code, vm.index, proc=proc.index, gvpn=out, gppn=gppns))

    @staticmethod
    def vm_values(state, vm, sim, tally):
        return {"GSWCUR": mb(GSWAP.used(state, vm)), "GSWR/s": tally.rate(vm, apply_guest_pagein.code),
                "GSWW/s": tally.rate(vm, apply_guest_pageout.code)}
