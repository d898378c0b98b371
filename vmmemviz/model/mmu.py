"""MMU and TLB: translating a guest virtual access to a machine page, and what it costs.

Every access goes GVPN -> GPPN (the guest's page table) -> MPN (the PMAP). The CPU's TLB
caches the whole GVPN -> MPN translation. On a TLB miss the hardware walks page tables:

* native (no hypervisor): a 4-level walk, 4 memory references;
* hardware MMU (``mmu = "ept"``, Intel EPT / AMD RVI/NPT): a two-dimensional walk of the
  guest's 4-level table whose every reference is itself translated by the 4-level nested
  table: (g+1)(h+1)-1 = 24 references; 19 when the host backs the guest with 2 MB pages
  (h = 3). Guest page-table updates cost nothing extra.
* software MMU (``mmu = "shadow"``): the VMM keeps a shadow page table GVPN -> MPN that the
  hardware walks natively (4 references), but every guest page-table update traps (a VM
  exit) so the VMM can re-sync the shadow table with the guest table and the PMAP.

The TLB is modelled per VM as a direct-mapped array of ``tlb_entries`` (default 64) tags.
Counters: TLB hits and misses, page-walk references, VM exits.
"""
from __future__ import annotations

import numpy as np

from . import host as H
from .events import F_TLB_HIT, F_WRITE, hx, kind
from .vm import ACCESSED, MAPPED, SHARED

NATIVE_LEVELS = 4


def walk_refs(mmu: str, large: bool, guest_levels: int = 4) -> int:
    """Memory references of one TLB-miss page walk."""
    if mmu == "ept":
        host_levels = 3 if large else 4
        return (guest_levels + 1) * (host_levels + 1) - 1
    return guest_levels  # shadow (and native): the hardware walks one table


@kind(20, "ACCESS", "access", "Memory Virtualisation Basics: an application reads or writes its "
      "virtual memory; the TLB or a page walk translates guest virtual -> guest physical -> machine.")
def apply_access(state, rows):
    for v in np.unique(rows["vm"]):
        sel = np.flatnonzero(rows["vm"] == v)
        vm = state.vms[int(v)]
        r = rows[sel]
        gppn = r["gppn"].astype(np.int64)
        st = vm.gp_state[gppn]
        assert np.all((st == MAPPED) | ((st == SHARED) & ((r["flags"] & F_WRITE) == 0))), \
            "access to a page that is not mapped for it (a fault handler did not run)"
        mpn = vm.gp_loc[gppn].astype(np.int64)
        # TLB, with the result of applying the rows one by one
        tags = (r["proc"].astype(np.int64) << 32) | r["gvpn"].astype(np.int64)
        slots = tags % len(vm.tlb)
        order = np.argsort(slots, kind="stable")
        s_sorted, t_sorted = slots[order], tags[order]
        prev = vm.tlb[s_sorted].copy()
        same = np.zeros(len(order), bool)
        same[1:] = s_sorted[1:] == s_sorted[:-1]
        prev[1:][same[1:]] = t_sorted[:-1][same[1:]]
        hit = np.empty(len(order), bool)
        hit[order] = prev == t_sorted
        last = np.ones(len(order), bool)
        last[:-1] = s_sorted[1:] != s_sorted[:-1]
        vm.tlb[s_sorted[last]] = t_sorted[last]
        large = (state.host.mpn_flags[mpn] & H.LARGE) != 0
        cost = np.where(large, walk_refs(vm.cfg.mmu, True), walk_refs(vm.cfg.mmu, False))
        cost = np.where(hit, 0, cost)
        vm.tlb_hits += int(hit.sum())
        vm.tlb_misses += int((~hit).sum())
        vm.walk_refs += int(cost.sum())
        vm.gp_flags[gppn] |= ACCESSED
        w = (r["flags"] & F_WRITE) != 0
        state.host.mpn_content[mpn[w]] = r["content"][w]
        r["mpn"] = mpn
        r["flags"] = np.where(hit, r["flags"] | F_TLB_HIT, r["flags"] & ~np.uint8(F_TLB_HIT))
        r["aux"] = cost
        rows[sel] = r


@apply_access.narrator
def _(row, names):
    verb = "wrote" if row["flags"] & F_WRITE else "read"
    how = ("a TLB hit" if row["flags"] & F_TLB_HIT else
           f"a TLB miss: the page walk took {int(row['aux'])} memory references")
    return (f"A process in {names[row['vm']]} {verb} GVPN {hx(row['gvpn'])} -> GPPN {hx(row['gppn'])} "
            f"-> MPN {hx(row['mpn'])}, {how}.")
