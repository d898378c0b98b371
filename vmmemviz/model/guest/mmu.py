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

from vmmemviz.model.core import host as H
from vmmemviz.model.core.events import F_TLB_HIT, F_WRITE, hx, kind
from vmmemviz.model.core.vm import ACCESSED, MAPPED, SHARED

WRITTEN = 4            # gp_flags: written in the current sample period (esxtop TCHD_W)


def walk_refs(mmu: str, large: bool, guest_levels: int = 4) -> int:
    """Memory references of one TLB-miss page walk."""
    if mmu == "ept":
        host_levels = 3 if large else 4
        return (guest_levels + 1) * (host_levels + 1) - 1
    return guest_levels  # shadow (and native): the hardware walks one table


@kind(20, "ACCESS", "access", "Memory Virtualisation Basics: an application reads or writes its "
      "virtual memory; the TLB or a page walk translates guest virtual -> guest physical -> machine.")
def apply_access(state, rows):
    vmcol = rows["vm"]
    single = vmcol[0] == vmcol[-1] and (vmcol == vmcol[0]).all()
    for v in (vmcol[:1] if single else np.unique(vmcol)):
        vm = state.vms[int(v)]
        sel = slice(None) if single else np.flatnonzero(vmcol == v)
        gppn = rows["gppn"][sel].astype(np.int64)
        flags = rows["flags"][sel]
        write = (flags & F_WRITE) != 0
        st = vm.gp_state[gppn]
        assert np.all((st == MAPPED) | ((st == SHARED) & ~write)), \
            "access to a page that is not mapped for it (a fault handler did not run)"
        mpn = vm.gp_loc[gppn].astype(np.int64)
        hit = tlb_lookup(vm.tlb, (rows["proc"][sel].astype(np.int64) << 32) | rows["gvpn"][sel])
        large = (state.host.mpn_flags[mpn] & H.LARGE) != 0
        cost = np.where(hit, 0, np.where(large, walk_refs(vm.cfg.mmu, True), walk_refs(vm.cfg.mmu, False)))
        nhit = int(np.count_nonzero(hit))
        vm.tlb_hits += nhit
        vm.tlb_misses += len(hit) - nhit
        vm.walk_refs += int(cost.sum())
        vm.gp_flags[gppn] |= ACCESSED
        w = np.flatnonzero(write)
        vm.gp_flags[gppn[w]] |= WRITTEN
        state.host.mpn_content[mpn[w]] = rows["content"][sel][w]
        rows["mpn"][sel] = mpn
        rows["flags"][sel] = np.where(hit, flags | F_TLB_HIT, flags & ~np.uint8(F_TLB_HIT))
        rows["aux"][sel] = cost


def tlb_lookup(tlb: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """Hit or miss for each tag in order, as if looked up one by one; updates ``tlb``."""
    n = len(tlb)
    slots = tags & (n - 1) if n & (n - 1) == 0 else tags % n      # tags >= 0: & is % for a power of 2
    small = np.uint8 if n <= 256 else np.uint16 if n <= 65536 else None      # a radix sort's passes
    order = np.argsort(slots.astype(small) if small else slots, kind="stable")
    s_sorted, t_sorted = slots[order], tags[order]
    first = np.ones(len(order), bool)
    first[1:] = s_sorted[1:] != s_sorted[:-1]
    prev = np.empty_like(t_sorted)
    prev[first] = tlb[s_sorted[first]]
    prev[~first] = t_sorted[:-1][~first[1:]]
    hit = np.empty(len(order), bool)
    hit[order] = prev == t_sorted
    last = np.ones(len(order), bool)
    last[:-1] = first[1:]
    tlb[s_sorted[last]] = t_sorted[last]
    return hit


@apply_access.narrator
def _(row, names):
    verb = "wrote" if row["flags"] & F_WRITE else "read"
    how = ("a TLB hit" if row["flags"] & F_TLB_HIT else
           f"a TLB miss: the page walk took {int(row['aux'])} memory references")
    return (f"A process in {names[row['vm']]} {verb} GVPN {hx(row['gvpn'])} -> GPPN {hx(row['gppn'])} "
            f"-> MPN {hx(row['mpn'])}, {how}.")
