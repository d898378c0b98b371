"""Allocation: each VM's memory target (esxtop SZTGT) from reservation, limit and shares.

When the host is short of memory the VMs cannot all keep what they hold; the target says
how much machine memory each one should have, and ballooning (soft state) or swapping
(hard and low states) take the rest (``consumed - SZTGT``) from it. Consumed counts the
VM's private frames, its part of each shared frame (1 / references) and its compression
cache. Waldspurger's (OSDI 2002) min-funding revocation with the idle memory tax decides
who gives: memory is taken from the VM with the fewest shares per page,

    rho = S / (P * (f + k * (1 - f))),   k = 1 / (1 - tau),

S its shares (``sched.mem.shares``: High / Normal / Low = 20 / 10 / 5 per MB), P the pages
it holds, f its sampled active fraction (``%ACTV``, sampling.py) and tau the idle memory
tax ``Mem.IdleTax`` (default 75%, so an idle page costs k = 4 times an active one). Taking
from the lowest rho until no VM has a lower one ends where every VM that gives has the same
rho; so the targets are ``S / (c * lambda)`` (c = f + k(1 - f)) clipped to
[reservation, demand], with lambda found so that they add up to the memory the VMs may
have: managed memory less VMM overhead, less the free memory the host wants back (just
above the clear threshold, ``minFree`` on ESXi 6). Demand is what the VM would hold without
reclamation (consumed + ballooned + swapped + compressed), at most its limit
(``sched.mem.max``, ``limit_mb``): a VM above its limit has a target below what it holds
even when the host has plenty free, and is reclaimed in any state. No target is below the
reservation (``sched.mem.min``, ``reservation_mb``), so nothing reclaims a VM below it.

The target is state: ``MEM_TARGET`` events set it (per VM, when it changes) so it replays.
esxtop's SZTGT "includes the overhead memory for a VM" (Interpreting esxtop Statistics,
section 3.3): the counter is the target plus the VM's overhead (OVHD); the target the
mechanisms compare with what a VM consumes is for its guest memory alone.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core.units import mb, pages
from vmmemviz.model.core import counter
from vmmemviz.model.core.events import kind, per_vm_target
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.tally import Tally
from vmmemviz.model.reclaim.freestates import LOW, HostStates
from vmmemviz.model.core.vm import BALLOONED, MAPPED, PAGES_PER_MB

SZTGT = "alloc.sztgt"
RECLAIM_MARGIN = 0.10     # targets leave free memory 10% above the clear (esx4: soft) threshold
GROWTH_WINDOW = 10        # seconds of demand growth a target makes room for


def consumed(state, vm, tally=None) -> int:
    """Machine frames the VM uses (esxtop CONSUMED): its private pages, its part of each shared
    frame it maps (1 / references) and the frames its stores hold in memory (compression cache).
    ``tally``: the counters' tally of ``state``, whose counts it shares (default: a fresh one)."""
    tally = Tally(state) if tally is None else tally
    return (tally.pages(vm, MAPPED) + int(np.sum(1.0 / np.maximum(tally.shared_refs(vm), 1)))
            + sum(s.frames(state, vm) for s in state.stores.values()))


def reclaimed(vm) -> int:
    """Guest pages taken from the VM: ballooned, swapped or compressed."""
    return int(np.count_nonzero(vm.gp_state >= BALLOONED))    # BALLOONED, SWAPPED, COMPRESSED: the last states


def reservation_pages(vm) -> int:
    return pages(vm.cfg.reservation_mb)


def limit_pages(vm) -> int:
    """The VM's limit in pages, or its configured memory when it has none."""
    if vm.cfg.limit_mb is None:
        return vm.n
    return min(vm.n, pages(vm.cfg.limit_mb))


def over_limit(state, vm) -> int:
    if vm.cfg.limit_mb is None:
        return 0
    return max(0, consumed(state, vm) - limit_pages(vm))


def targets(shares, active, lo, hi, available: float, idle_tax: int) -> np.ndarray:
    """Pages per VM: ``shares / (c * lambda)`` clipped to [lo, hi], summing to ``available``.

    ``active`` is the active fraction f per VM; c = f + k(1 - f), k = 1 / (1 - tau).
    """
    shares, lo, hi = (np.asarray(a, float) for a in (shares, lo, hi))
    if hi.sum() <= available:
        return hi.astype(np.int64)
    if lo.sum() >= available:
        return lo.astype(np.int64)
    k = 1.0 / (1.0 - idle_tax / 100.0)
    f = np.asarray(active, float)
    weight = shares / (f + k * (1.0 - f))        # pages per unit of 1/lambda
    # bisection on log(1/lambda): the clipped sum grows with it
    a, b = -60.0, 60.0
    for _ in range(64):
        m = (a + b) / 2
        if np.clip(weight * np.exp(m), lo, hi).sum() > available:
            b = m
        else:
            a = m
    return np.floor(np.clip(weight * np.exp(a), lo, hi) + 1e-6).astype(np.int64)


def compute(sim) -> np.ndarray:
    """SZTGT of every VM (pages) for the live state, once ``Allocation.tick`` has noted what
    each VM holds now."""
    state = sim.state
    vms = state.vms
    hv = sum(vm.cfg.overhead_pages() for vm in vms)      # the VMMs' frames, taken at power-on
    goal_free = sim.mechanism(HostStates).thresholds_mb[0] * (1 + RECLAIM_MARGIN) * PAGES_PER_MB
    available = state.host.n_mpn - hv - goal_free
    alloc = sim.mechanism(Allocation)       # held[-1]: consumed + reclaimed, this tick's
    demand = np.array([min(limit_pages(vm), alloc.held[vm.index][-1] + alloc.growth(vm)) for vm in vms])
    lo = np.minimum([reservation_pages(vm) for vm in vms], demand)
    return targets([vm.cfg.share_count() for vm in vms], [vm.active_pct / 100 for vm in vms],
                   lo, demand, available, sim.settings["Mem.IdleTax"])


def sztgt(state, vm) -> int:
    return int(state.extra[SZTGT][vm.index])


def need(state, vm) -> int:
    """Pages to take from the VM to bring it down to its target."""
    return max(0, consumed(state, vm) - sztgt(state, vm))


apply_mem_target = kind(69, "MEM_TARGET", "state", "Memory Reclamation: when memory is short the hypervisor "
                        "gives each VM a target (SZTGT) by its shares, reservation and limit; idle memory is "
                        "taxed, so a VM that does not use its memory gives first. Ballooning and swapping "
                        "take what a VM holds above it.")(per_vm_target(SZTGT))


@apply_mem_target.narrator
def _(row, names):
    return (f"{names[row['vm']]}'s memory target (SZTGT) is now {int(row['aux'])} pages "
            f"({int(row['aux']) / PAGES_PER_MB:.2f} MB), by its shares, active memory, reservation and limit.")


@kind(68, "MEM_WAIT", "state", "Memory Reclamation: in the low state the hypervisor blocks VMs above "
      "their target (SZTGT) from allocating machine memory: their faults wait while it reclaims.")
def apply_mem_wait(state, rows):
    pass          # nothing changes: the faults did not happen (the count is in ``aux``)


@apply_mem_wait.narrator
def _(row, names):
    return (f"The host is in the low state and {names[row['vm']]} holds more than its target (SZTGT): "
            f"its faults on {int(row['aux'])} pages wait for machine memory while the host reclaims.")


class Allocation(Mechanism):
    """Mechanism: recomputes every VM's SZTGT once a second, emitting MEM_TARGET on a change
    (after page sharing, which changes what each VM consumes); blocks VMs above their target
    from allocating in the low state (``MEM_WAIT``)."""

    name = "allocation"
    after = ("states", "sampling", "tps")
    counters = (counter.vm("SZTGT", "MB", "mem", "the machine memory the VMkernel wants the VM to have (its "
                           "target), its VMM overhead (OVHD) included, as esxtop counts it", "Target Size MBytes"),
                counter.vm("CNSM", "MB", "mem", "machine memory the VM consumes (private pages, its part of "
                           "shared pages, its compression cache)"),
                counter.vm("MEMWAIT/s", "MB/s", "mem", "faults that waited because the host is in the low state "
                           "and the VM is above its target (vmmemviz's own, not an esxtop column)"))

    def __init__(self, sim):
        super().__init__(sim)
        self.held = [[] for _ in sim.vms]       # per VM: pages held or reclaimed, last ticks
        self.waited = [[] for _ in sim.vms]     # per VM: pages whose faults waited, last ticks

    @classmethod
    def setup_state(cls, state, sc):
        state.extra[SZTGT] = np.array([vm.n for vm in state.vms], np.uint32)

    def growth(self, vm) -> int:
        """Pages the VM's demand grew by over the last ``GROWTH_WINDOW`` seconds (what it took,
        and what it waited for): a busy VM whose working set grows gets a target above what it
        holds when memory allows (Waldspurger's min-funding revocation: targets from demand).
        Never less than 0: what it holds fell (pages shared, its balloon deflated) does not
        make its demand less than what it holds."""
        held = self.held[vm.index]
        return max(0, held[-1] - held[0] if held else 0) + sum(self.waited[vm.index])

    def tick(self):
        sim = self.sim
        for vm in sim.vms:
            self.held[vm.index] = (self.held[vm.index] + [consumed(sim.state, vm) + reclaimed(vm)])[-GROWTH_WINDOW:]
            self.waited[vm.index] = (self.waited[vm.index] + [0])[-GROWTH_WINDOW:]
        new = compute(sim)
        old = sim.state.extra[SZTGT]
        changed = np.flatnonzero(new != old)
        if len(changed):
            sim.emit(sim.rows(len(changed), apply_mem_target.code, changed, aux=new[changed]))

    def blocks(self, vm, pages):
        """Low state (Epping): a VM above its target is blocked from allocating."""
        sim = self.sim
        if sim.state.host_state != LOW or consumed(sim.state, vm) <= sztgt(sim.state, vm):
            return False
        sim.emit(sim.rows(1, apply_mem_wait.code, vm.index, aux=pages))
        if self.waited[vm.index]:
            self.waited[vm.index][-1] += pages
        return True

    @staticmethod
    def vm_values(state, vm, sim, tally):
        return {"SZTGT": mb(sztgt(state, vm) + vm.cfg.overhead_pages()), "CNSM": mb(consumed(state, vm, tally)),
                "MEMWAIT/s": mb(tally.aux(vm, apply_mem_wait.code))}
