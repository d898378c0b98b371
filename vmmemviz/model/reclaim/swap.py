"""Hypervisor swapping: the hypervisor writes guest pages to the VM's swap file, the .vswp.

Driven by the hypervisor, transparent to the guest (guest-level paging is guestswap.py: its
own store, events and counters). It runs in the hard and low states, and in any state for a
VM above its limit that the balloon cannot bring down (no VMware Tools, or the balloon at
its maximum).

* Each VM has a ``.vswp`` of (configured memory - reservation) pages: ``vswp``, one content
  id per slot, EMPTY when free. Pages swapped plus pages compressed never exceed it, so
  every compressed page can still be evicted to it. No VM is swapped below its reservation:
  its target (SZTGT) never is.
* ``SWAP_TARGET`` (SWTGT) is what the hypervisor wants out of the VM's machine memory,
  swapped or compressed: in hard and low what is out already plus what the VM holds above
  its SZTGT (allocation.py).
* Victims are chosen at random among the pages the VM holds privately: the hypervisor does
  not know what the guest uses them for, so it swaps active pages too. Share before swap:
  each victim is offered to page sharing first (``tps.share_before_swap``); what is not
  shared is offered to memory compression (compression.py, ``Mem.MemZipEnable``); the rest
  goes to the lowest free .vswp slot and its MPN is freed (``SWAP_OUT``, SWW/s).
* A guest access to a swapped page faults; the hypervisor reads it back into a fresh MPN
  (``SWAP_IN``, SWR/s), however often that happens: random swapping can thrash.
* SWTGT as esxtop shows it is "the expected swap usage": the target less the pages that
  compression took; the host's SWAP/MB rclmtgt (``swap_rclmtgt_mb``) is their sum.
* Low state (Epping): VMs above their target are blocked from allocating (allocation.py)
  and the host reclaims aggressively, from the VMs furthest above their target, until free
  memory is back above the hard threshold. Whenever a fault or a boot needs more frames than
  are free, ``make_room`` swaps at once, before the frames are taken: from the VMs furthest
  above their target (never by who faulted), then from any VM above its reservation.
  Compression comes before swapping on every path.
* Swapping takes time: at most ``Sim.SwapRate`` pages a second are picked (the swap device's
  speed, a model choice; ESXi's is its datastore's), so the hard and low states last while
  the host swaps its way back up. Only frames a fault needs when none are free are taken at
  once (``make_room``).
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core import counter
from vmmemviz.model.core.events import hx, kind, per_vm_target, reading, writing
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.store import SlotStore
from vmmemviz.model.core.units import PAGES_PER_MB, mb
from vmmemviz.model.core.vm import MAPPED, SWAPPED, restore, stash
from vmmemviz.model.reclaim import balloon
from vmmemviz.model.reclaim.allocation import RECLAIM_MARGIN, consumed, need, over_limit, reservation_pages
from vmmemviz.model.reclaim.freestates import HARD, LOW, HostStates

TARGET = "swap.target"
VSWP = SlotStore("vswp", ".vswp", "vswp", SWAPPED, lambda vm: vm.n - reservation_pages(vm))


def out(vm) -> int:
    """Pages taken out of machine memory by the hypervisor: swapped or compressed."""
    return int(np.count_nonzero(vm.gp_state >= SWAPPED))      # SWAPPED, COMPRESSED: the last states


def swap_target(state, vm, tally) -> int:
    """esxtop SWTGT, "the expected swap usage": the target of pages out less those compressed
    (the swap target counts both, since compression takes pages on their way to the .vswp)."""
    return max(0, int(state.extra[TARGET][vm.index]) - (tally.pages_out(vm) - tally.pages(vm, SWAPPED)))


apply_swap_target = kind(70, "SWAP_TARGET", "swap", "Hypervisor swapping: in the hard and low states the "
                         "hypervisor sets how much of a VM's memory it will swap (SWTGT): what the VM holds "
                         "above its target.")(per_vm_target(TARGET))


@apply_swap_target.narrator
def _(row, names):
    return (f"The hypervisor now wants {int(row['aux'])} pages of {names[row['vm']]}'s memory out of "
            f"machine memory, compressed or swapped; esxtop's SWTGT counts the part to swap.")


@kind(71, "SWAP_OUT", "swap", "Hypervisor swapping: the hypervisor writes a page chosen at random to the "
      "VM's swap file (.vswp) and frees its machine page. It cannot know whether the guest is using the "
      "page, so active pages are swapped too.", src="mp", dst="vswp", flow="swap")
def apply_swap_out(state, rows):
    stash(state, rows, VSWP)


@apply_swap_out.narrator
def _(row, names):
    return (f"The hypervisor swapped {names[row['vm']]}'s GPPN {hx(row['gppn'])} out to .vswp slot "
            f"{hx(row['slot'])} and freed MPN {hx(row['mpn'])}.")


@kind(72, "SWAP_IN", "swap", "Hypervisor swapping: the guest touched a page the hypervisor had swapped "
      "out; the access faults and the hypervisor reads the page back from the .vswp into a fresh "
      "machine page while the virtual CPU waits.", src="vswp", dst="mp", flow="swap")
def apply_swap_in(state, rows):
    restore(state, rows, VSWP)


@apply_swap_in.narrator
def _(row, names):
    return (f"{names[row['vm']]} touched swapped GPPN {hx(row['gppn'])}: the hypervisor read .vswp slot "
            f"{hx(row['slot'])} back into MPN {hx(row['mpn'])}.")


def new_target(sim, vm, now_out: int) -> int:
    """SWTGT: pages out now (``now_out``) plus what is to go (by target in hard/low, by limit
    otherwise)."""
    state = sim.state
    if state.host_state >= HARD:
        want = need(state, vm)
    else:
        want = max(0, over_limit(state, vm) - (balloon.mctl_max(sim.settings, vm) - balloon.size(vm)))
    return min(now_out + want, VSWP.size(state, vm))


def victims(sim, vm, k: int, exclude=None) -> np.ndarray:
    """Up to ``k`` pages the VM holds privately, at random (never those in ``exclude``)."""
    cand = np.flatnonzero(vm.gp_state == MAPPED)
    if exclude is not None:
        cand = np.setdiff1d(cand, exclude)
    k = min(k, len(cand), VSWP.size(sim.state, vm) - out(vm))
    if k <= 0:
        return cand[:0]
    return np.sort(sim.rng.choice(cand, k, replace=False))


def swap_out(sim, vm, gppns, urgent: bool = False) -> None:
    """Offer the pages to the other mechanisms first (``release``: large pages broken;
    ``before_swap``: share before swap, then compression, also when ``urgent``), then swap
    what is left."""
    if len(gppns):
        sim.release(vm, gppns)
    gppns = sim.before_swap(vm, gppns, urgent)
    if len(gppns):
        sim.emit(sim.rows(len(gppns), apply_swap_out.code, vm.index, gppn=gppns))


class Swap(Mechanism):
    """Mechanism: sets SWTGT and swaps towards it once a second (after ballooning had its go);
    swaps pages in on access."""

    name = "swap"
    after = ("allocation", "balloon")
    stores = (VSWP,)
    counters = (
        counter.vm("SWCUR", "MB", "swap", "guest memory swapped out by the hypervisor to the .vswp file",
                   "Swapped MBytes"),
        counter.vm("SWTGT", "MB", "swap", "the expected swap usage: what the VMkernel wants swapped, less what "
                   "it compressed instead", "Swap Target MBytes"),
        counter.vm("SWR/s", "MB/s", "swap", "swap-in rate: pages read back from the .vswp file",
                   "Swap Read MBytes/sec"),
        counter.vm("SWW/s", "MB/s", "swap", "swap-out rate: pages written to the .vswp file",
                   "Swap Written MBytes/sec"),
        counter.host("swap_curr_mb", "SWAP/MB", "curr", "guest memory swapped to .vswp files", "Swap Used MBytes"),
        counter.host("swap_rclmtgt_mb", "SWAP/MB", "rclmtgt", "what the host expects to reclaim by swapping (the "
                     "sum of the VMs' SWTGT)", "Swap Reclaim Target MBytes"),
    )

    @classmethod
    def setup_state(cls, state, sc):
        state.extra[TARGET] = np.zeros(len(state.vms), np.uint32)

    def tick(self):
        sim = self.sim
        tgt = sim.state.extra[TARGET]
        rate = sim.settings["Sim.SwapRate"] or None
        budget = rate
        if sim.state.host_state == LOW:
            # low: reclaim aggressively, first, from the VMs above their target until free
            # memory is back above the hard threshold (the host leaves low for hard there)
            hard = sim.mechanism(HostStates).thresholds_mb[HARD - 1]
            budget = self.reclaim(int(hard * (1 + RECLAIM_MARGIN) * PAGES_PER_MB) + 1, limit=budget)
        for vm in sim.vms:
            now_out = out(vm)
            t = new_target(sim, vm, now_out)
            if t != tgt[vm.index]:
                sim.emit(sim.rows(1, apply_swap_target.code, vm.index, aux=t))     # sets SWTGT only
            k = t - now_out if budget is None else min(t - now_out, budget)
            if k > 0:
                picked = victims(sim, vm, k)
                swap_out(sim, vm, picked)
                budget = None if budget is None else budget - len(picked)

    def fault(self, vm, gppns, writes):
        sw = gppns[vm.gp_state[gppns] == SWAPPED]
        if len(sw):
            self.sim.emit(self.sim.rows(len(sw), apply_swap_in.code, vm.index, gppn=sw))

    def make_room(self, vm, frames, keep):
        """A fault or a boot needs ``frames`` and the host has fewer free: swap at once
        (never ``vm``'s ``keep``), from the VMs above their target, then above their reservation."""
        self.reclaim(frames, vm, keep, beyond_target=True)

    def reclaim(self, frames, vm=None, keep=None, beyond_target=False, limit=None):
        """Swap (compression first) until the host has ``frames`` free, picking at most
        ``limit`` pages (None: no limit); return what is left of ``limit``. Who pays is decided
        by target (shares, idle tax, reservation, limit), never by which VM faulted: the VMs
        furthest above their target first; then, when ``beyond_target``, any VM above its
        reservation (again while it frees anything: a page shared before swap may free no frame)."""
        sim = self.sim
        host = sim.state.host
        deficit = frames - host.free_count()
        state = sim.state
        order = sorted(sim.vms, key=lambda v: -need(state, v))
        rooms = [lambda v: need(state, v)]
        if beyond_target:
            rooms.append(lambda v: consumed(state, v) - reservation_pages(v))
        for room in rooms:
            freed = 1
            while freed > 0 and deficit > 0:
                freed = 0
                for v in order:
                    k = min(deficit, room(v), deficit if limit is None else limit)
                    if k <= 0:
                        continue
                    before = host.free_count()
                    picked = victims(sim, v, k, exclude=keep if v is vm else None)
                    swap_out(sim, v, picked, urgent=True)
                    limit = None if limit is None else limit - len(picked)
                    freed += host.free_count() - before
                    deficit -= host.free_count() - before
                    if deficit <= 0:
                        return limit
        return limit

    @staticmethod
    def vm_values(state, vm, sim, tally):
        return {"SWCUR": mb(tally.pages(vm, SWAPPED)), "SWTGT": mb(swap_target(state, vm, tally)),
                "SWR/s": tally.rate(vm, *tally.kinds(reading, "vswp")),
                "SWW/s": tally.rate(vm, *tally.kinds(writing, "vswp"))}

    @staticmethod
    def host_values(state, sim, tally):
        return {"swap_curr_mb": mb(sum(tally.pages(vm, SWAPPED) for vm in state.vms)),
                "swap_rclmtgt_mb": mb(sum(swap_target(state, vm, tally) for vm in state.vms))}
