"""Ballooning: the balloon driver (vmmemctl, part of VMware Tools) takes memory from inside the guest.

The host cannot tell which guest pages are free; the balloon makes the guest tell it. Once a
second the driver polls its target (MCTLTGT, set by ``BALLOON_TARGET``) and moves towards it:

* Inflating, the driver allocates guest physical pages from the guest OS and pins them. The
  guest gives free pages first; when it has none it pages its own applications out to its
  guest swap (guest-level paging, guestswap.py). The driver hands the pinned GPPNs to the
  hypervisor, which unmaps them and frees what backed them: the MPN (or its reference to a
  shared MPN, or the page's .vswp or compression cache slot) (``BALLOON_PIN``).
* Deflating, the driver unpins pages and gives them back to the guest's free list; they are
  backed again when the guest touches them (``BALLOON_UNPIN``). It also gives pages back at
  once when the guest has no page left to bring a paged-out application page back into
  (like the memory shrinker of Linux's vmw_balloon or virtio's deflate-on-OOM).

Target: in the soft state, the balloon takes what the VM holds above its SZTGT (allocation.py:
shares, idle memory tax, reservation, limit). In high and clear it only deflates (its target
is at most its size), except for a VM above its limit, which is ballooned down to it there
too. In hard and low ballooning stops (the driver holds still): compression and swapping
take over.

Limits: only a VM with VMware Tools (``tools``) has a balloon. At most ``Mem.CtlMaxPercent``
(default 65%) of its configured memory, or ``sched.mem.maxmemctl`` MB when set (MCTLMAX), and
never into its reservation. The driver inflates at most ``Sim.BalloonRate`` pages a second
(vmmemviz's pacing; older Linux vmw_balloon drivers allocated at most 2048 pages a second);
it deflates at once.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core import counter
from vmmemviz.model.core.events import NONE, by_vm, hx, kind, per_vm_target
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.store import page_state_name
from vmmemviz.model.core.units import mb
from vmmemviz.model.core.vm import BALLOONED, MAPPED, PAGES_PER_MB, SHARED, UNTOUCHED
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.reclaim.allocation import consumed, over_limit, reservation_pages, sztgt
from vmmemviz.model.reclaim.freestates import HARD, SOFT

TARGET = "balloon.target"


def mctl_max(settings, vm) -> int:
    """MCTLMAX in pages: 0 without VMware Tools."""
    if not vm.cfg.tools:
        return 0
    mm = vm.cfg.settings.get("sched.mem.maxmemctl")
    cap = vm.n * settings["Mem.CtlMaxPercent"] // 100 if mm is None else int(mm * PAGES_PER_MB)
    return max(0, min(cap, vm.n - reservation_pages(vm)))


def size(vm) -> int:
    """MCTLSZ in pages."""
    return int(np.count_nonzero(vm.gp_guest == G.BALLOON))


def tallied_size(tally, vm) -> int:
    """``size``, counted once for the VM and the host counters; BALLOON is the largest guest
    page state, so a VM without a balloon page (most) is told by a max(), without a mask."""
    return tally.once(("balloon", vm.index), lambda: 0 if vm.gp_guest.max(initial=0) < G.BALLOON else size(vm))


def unback(state, vm, gppns) -> np.ndarray:
    """Free whatever backs ``gppns``; returns the MPN each had (NONE for none)."""
    host = state.host
    st = vm.gp_state[gppns]
    loc = vm.gp_loc[gppns].astype(np.int64)
    priv = st == MAPPED
    host.release(loc[priv])
    sh = loc[st == SHARED]
    np.subtract.at(host.mpn_refs, sh, 1)
    host.release(np.unique(sh[host.mpn_refs[sh] == 0]))
    for s in state.stores.values():
        held = st == s.page_state
        if s.page_state is not None and held.any():
            s.release(state, vm, loc[held])
    return np.where(priv | (st == SHARED), loc, NONE)


apply_balloon_target = kind(60, "BALLOON_TARGET", "balloon", "Ballooning: the hypervisor tells the balloon "
                            "driver in the guest how big to be (MCTLTGT); the driver polls it once a second "
                            "and inflates or deflates towards it.")(per_vm_target(TARGET))


@apply_balloon_target.narrator
def _(row, names):
    return (f"The hypervisor set {names[row['vm']]}'s balloon target (MCTLTGT) to {int(row['aux'])} pages "
            f"({int(row['aux']) / PAGES_PER_MB:.2f} MB).")


@kind(61, "BALLOON_PIN", "balloon", "Ballooning: the balloon driver allocates a page from the guest OS and "
      "pins it, so the guest will not use it; the hypervisor unmaps that guest physical page and frees "
      "its machine page for other VMs.")
def apply_balloon_pin(state, rows):
    for vm, sel in by_vm(state, rows):
        g = rows["gppn"][sel].astype(np.int64)
        assert (vm.gp_guest[g] == G.FREE).all(), "the balloon pinned a page the guest was using"
        rows["aux"][sel] = vm.gp_state[g]
        rows["mpn"][sel] = unback(state, vm, g)
        vm.gp_state[g] = BALLOONED
        vm.gp_loc[g] = NONE
        vm.gp_guest[g] = G.BALLOON


@apply_balloon_pin.narrator
def _(row, names):
    head = f"{names[row['vm']]}'s balloon driver pinned GPPN {hx(row['gppn'])}; the hypervisor "
    was = int(row["aux"])
    if was == MAPPED:
        return head + f"freed MPN {hx(row['mpn'])}."
    if was == SHARED:
        return head + f"dropped its reference to shared MPN {hx(row['mpn'])}."
    if was == UNTOUCHED:
        return head + "had never backed it, so no MPN was freed, but the guest can no longer touch it."
    return head + f"dropped its {page_state_name(was)} copy, which the guest no longer needs."


@kind(62, "BALLOON_UNPIN", "balloon", "Ballooning: the balloon deflates; the driver unpins pages and gives "
      "them back to the guest OS's free list. The hypervisor backs them again when they are touched.")
def apply_balloon_unpin(state, rows):
    for vm, sel in by_vm(state, rows):
        g = rows["gppn"][sel].astype(np.int64)
        assert (vm.gp_guest[g] == G.BALLOON).all(), "the balloon unpinned a page it did not hold"
        vm.gp_state[g] = UNTOUCHED
        vm.gp_guest[g] = G.FREE


@apply_balloon_unpin.narrator
def _(row, names):
    return (f"{names[row['vm']]}'s balloon driver deflated: GPPN {hx(row['gppn'])} is back on the guest's "
            f"free list, to be backed by the hypervisor when it is touched.")


def new_target(sim, vm, bal) -> int:
    """MCTLTGT for the host state (see the module docstring); ``bal``: the balloon's size now
    (not needed in hard and low)."""
    state = sim.state
    if state.host_state >= HARD:
        return int(state.extra[TARGET][vm.index])
    cap = bal + over_limit(state, vm) if state.host_state != SOFT else None
    if cap == 0:
        return 0            # min(computed >= 0, 0): no need to count what the VM consumes
    computed = int(np.clip(bal + consumed(state, vm) - sztgt(state, vm), 0, mctl_max(sim.settings, vm)))
    return computed if cap is None else min(computed, cap)


def inflate(sim, vm, n: int) -> None:
    """Pin ``n`` guest pages: free ones first, then what the guest pages out to make them free."""
    short = n - int(np.count_nonzero(vm.gp_guest == G.FREE))
    if short > 0:
        sim.guest_reclaim(vm, short)
    g = G.free_gppns(vm, n)
    if len(g):
        sim.release(vm, g)
        sim.emit(sim.rows(len(g), apply_balloon_pin.code, vm.index, gppn=g))


def deflate(sim, vm, n: int) -> None:
    """Unpin ``n`` balloon pages (the lowest) back to the guest's free list."""
    g = np.flatnonzero(vm.gp_guest == G.BALLOON)[:n]
    if len(g):
        sim.emit(sim.rows(len(g), apply_balloon_unpin.code, vm.index, gppn=g))


class Balloon(Mechanism):
    """Mechanism: sets each VM's balloon target and runs its driver once a second."""

    name = "balloon"
    after = ("allocation",)
    counters = (
        counter.vm("MCTL?", "", "mctl", "is the balloon driver (vmmemctl, VMware Tools) running in the guest?",
                   "Memctl Installed?"),
        counter.vm("MCTLSZ", "MB", "mctl", "guest memory the balloon driver holds (reclaimed from the VM)",
                   "Memctl MBytes"),
        counter.vm("MCTLTGT", "MB", "mctl", "the balloon size the VMkernel asks for", "Memctl Target MBytes"),
        counter.vm("MCTLMAX", "MB", "mctl", "the largest balloon (Mem.CtlMaxPercent or sched.mem.maxmemctl)",
                   "Memctl Max MBytes"),
        counter.host("memctl_curr_mb", "MEMCTL/MB", "curr", "memory the balloon drivers of all VMs hold",
                     "Memctl Current MBytes"),
        counter.host("memctl_target_mb", "MEMCTL/MB", "target", "what the balloons are asked to hold",
                     "Memctl Target MBytes"),
        counter.host("memctl_max_mb", "MEMCTL/MB", "max", "the most the balloons may hold", "Memctl Max MBytes"),
    )

    @classmethod
    def setup_state(cls, state, sc):
        state.extra[TARGET] = np.zeros(len(state.vms), np.uint32)

    def tick(self):
        sim = self.sim
        tgt = sim.state.extra[TARGET]
        for vm in sim.vms:
            if not vm.cfg.tools:
                continue
            bal = size(vm) if sim.state.host_state < HARD else None
            t = new_target(sim, vm, bal)
            if t != tgt[vm.index]:
                sim.emit(sim.rows(1, apply_balloon_target.code, vm.index, aux=t))     # sets MCTLTGT only
            if sim.state.host_state >= HARD:
                continue
            if t > bal:
                inflate(sim, vm, min(t - bal, sim.settings["Sim.BalloonRate"]))
            elif t < bal:
                deflate(sim, vm, bal - t)

    def guest_fault(self, vm, proc, gvpns):
        """A guest that has no page left to page an application page in to (all of them free
        of use are in the balloon, the rest are the ones being touched) takes pages back from
        its balloon first."""
        st = proc.pt_state[gvpns]
        keep = np.unique(proc.pt[gvpns[st == G.RESIDENT]])
        usable = int(np.count_nonzero(vm.gp_guest == G.FREE) + np.count_nonzero(vm.gp_guest == G.USER)) - len(keep)
        short = int(np.count_nonzero(st == G.GSWAPPED)) - usable
        if short > 0:
            deflate(self.sim, vm, short)

    @staticmethod
    def vm_values(state, vm, sim, tally):
        return {"MCTL?": "Y" if vm.cfg.tools else "N", "MCTLSZ": mb(tallied_size(tally, vm)),
                "MCTLTGT": mb(state.extra[TARGET][vm.index]), "MCTLMAX": mb(mctl_max(sim.settings, vm))}

    @staticmethod
    def host_values(state, sim, tally):
        return {"memctl_curr_mb": mb(sum(tallied_size(tally, vm) for vm in state.vms)),
                "memctl_target_mb": mb(int(state.extra[TARGET].sum())),
                "memctl_max_mb": mb(sum(mctl_max(sim.settings, vm) for vm in state.vms))}
