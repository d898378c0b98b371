"""Large pages: guest memory backed by 2 MB machine pages, broken into small pages under contention.

With ``Mem.AllocGuestLargePage`` = 1 and the hardware MMU (``mmu = "ept"``), the first touch
of a guest physical page backs its whole aligned 2 MB range (512 GPPNs) with one large
page: 512 contiguous machine frames starting at a 512-aligned MPN, flagged LARGE on the
host (``LP_BACK``). A TLB miss inside it walks 19 memory references instead of 24: the
nested walk has one level less (mmu.py). The range is backed with small pages instead when
the VM uses the software MMU, when part of the range is already backed (the guest OS
image is loaded at boot page by page), when the host is not in the high state, when no
aligned free 2 MB of machine memory is left, or when taking 2 MB would leave less than
minFree free. A Windows guest zeroing its memory at boot on a hardware MMU touches every
range first: it gets 2 MB pages full of zeros, so LPAGE is about its whole memory and ZERO
stays near 0 while the host is in high (Epping, "Large pages and TPS").

The TLB does not cover more memory: the guest maps 4 KB pages, and a TLB entry caches one
guest virtual 4 KB page however the host backs it. What a large page saves is on a TLB
miss: the nested walk ends one level earlier (19 references instead of 24).

A large page is not shared (two identical 2 MB pages are improbable and comparing them
costs too much), but the TPS scanner hashes its small pages and keeps the hashes as hints
(tps.py). A large page is broken into 512 small pages (``LP_BREAK``: the frames stay, the
mapping is split) and TPS shares its hinted small pages at once:

* in the clear state and below: every large page;
* in the high state with free memory under 400% of minFree (break candidates; esx4: the
  soft state): the large pages whose hints show at least one small page that would be
  shared (each VM's large pages are examined round robin, ``CANDIDATE_CHECKS`` a tick, so
  the cost stays bounded), and every large page of which more than
  ``LPage.MaxSharedPages`` (510) small pages were hinted as zero pages. (This is the
  model's reading of the knob; VMware documents little more than its name and default.)
  Above the 400% mark nothing is broken: an idle Windows VM keeps its zeroed large pages;
* whatever the state: before any 4 KB part of it is ballooned, compressed or swapped
  (``release``): it is then no longer backed by one 2 MB machine page, so LPAGE <= GRANT.

Counters: per VM LPAGE (MB backed by large pages) and WALK/MISS (page-walk references per
TLB miss so far: 24 on small pages, 19 on large pages under EPT, 4 under shadow paging).
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core import host as H
from vmmemviz.model.core import counter
from vmmemviz.model.core.events import F_RANGE, NONE, by_vm, hx, kind
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.units import PAGES_PER_MB, mb
from vmmemviz.model.core.vm import MAPPED, UNTOUCHED
from vmmemviz.model.guest.mmu import walk_refs
from vmmemviz.model.reclaim import freestates as states
from vmmemviz.model.reclaim import tps

LP = H.LARGE_PAGES
CANDIDATE_CHECKS = 16      # large pages per VM examined a tick for break candidates
CONTENTION, CANDIDATE, ZEROS, RECLAIM = 0, 1, 2, 3
WHY = ("the host is in the clear state or lower (entered when free memory falls below minFree, "
       "left only above 400% of it)",
       "host free memory is below 400% of minFree and some of its small pages can be shared",
       "host free memory is below 400% of minFree and it holds more than LPage.MaxSharedPages zero pages",
       "part of it is about to be ballooned, compressed or swapped")


def aligned_free_groups(host, k: int) -> np.ndarray:
    """First MPNs of the ``k`` lowest 512-aligned runs of 512 free frames (fewer if short)."""
    groups = host.mpn_state[:host.n_mpn // LP * LP].reshape(-1, LP)
    heads = np.flatnonzero(groups[:, 0] == H.FREE)          # candidates: first frame free
    out, found = [], 0
    for i in range(0, len(heads), 64):
        c = heads[i:i + 64]
        ok = c[(groups[c] == H.FREE).all(axis=1)][:k - found]     # whole rows: one copy each
        out.append(ok)
        found += len(ok)
        if found >= k:
            break
    return np.concatenate(out).astype(np.int64) * LP if out else np.zeros(0, np.int64)


def in_large_pages(state, vm) -> np.ndarray:
    """Per GPPN of ``vm`` (up to its last whole 2 MB): mapped to a frame of a large page."""
    n = vm.n // LP * LP
    # every page's frame flags (a GPPN not mapped reads any frame, then is masked out): one
    # gather, without compressing the mapped pages' MPNs out first
    large = (state.host.mpn_flags.take(vm.gp_loc[:n], mode="clip") & H.LARGE) != 0
    large &= vm.gp_state[:n] == MAPPED
    return large


def large_mapped(state, vm, tally) -> int:
    """LPAGE in pages. Nothing to look up when the host holds no large page (at host scale,
    most states: every large page is broken in the clear state; a max() tells frames without
    any flag) or the VM no private page."""
    flags = state.host.mpn_flags
    if not tally.pages(vm, MAPPED) or not tally.once("large frames", lambda: bool(
            flags.max(initial=0) and np.count_nonzero(flags & H.LARGE))):
        return 0
    return int(np.count_nonzero(in_large_pages(state, vm)))


def large_groups(state, vm) -> np.ndarray:
    """First GPPNs of ``vm``'s ranges backed by a large page (any page of the range still in
    it: balloon or swap may have taken some)."""
    return np.flatnonzero(in_large_pages(state, vm).reshape(-1, LP).any(axis=1)) * LP


@kind(50, "LP_BACK", "lpage", "Large pages: on a hardware MMU the hypervisor backs guest memory with 2 MB "
      "machine pages. TLB entries stay per 4 KB guest page, but a TLB miss walks one level less of the "
      "nested tables (19 memory references instead of 24).")
def apply_lp_back(state, rows):
    """Back each row's 512 GPPNs from ``gppn`` with the lowest aligned free 2 MB of frames."""
    base = aligned_free_groups(state.host, len(rows))
    assert len(base) == len(rows), "no aligned free 2 MB left for a large page"
    for vm, sel in by_vm(state, rows):
        g = (rows["gppn"][sel].astype(np.int64)[:, None] + np.arange(LP)).reshape(-1)
        m = (base[sel][:, None] + np.arange(LP)).reshape(-1)
        at = H.run_of(g)            # a Windows boot backs the whole VM at once: one run
        vm.gp_state[at] = MAPPED
        vm.gp_loc[at] = m
        state.host.take(m, H.PRIVATE, vm.index, g, 0, H.LARGE)
    rows["mpn"] = base


@apply_lp_back.narrator
def _(row, names):
    g, m = int(row["gppn"]), int(row["mpn"])
    return (f"{names[row['vm']]} touched its 2 MB range GPPN {hx(g)}-{hx(g + LP - 1)} for the first time; "
            f"the hypervisor backed all 512 pages with one large page, MPN {hx(m)}-{hx(m + LP - 1)}: the TLB "
            f"still holds one entry per 4 KB guest page, but a miss there walks {walk_refs('ept', True)} memory "
            f"references instead of {walk_refs('ept', False)}.")


@kind(51, "LP_BREAK", "lpage", "Large pages: a 2 MB page is not shared, but under memory contention the "
      "hypervisor breaks it into 512 small pages; the hashes TPS kept for them let it share the small "
      "pages at once.")
def apply_lp_break(state, rows):
    """Split the large page behind each row's 512 GPPNs into small pages (``mpn`` = its first)."""
    for v in np.unique(rows["vm"]):
        sel = np.flatnonzero(rows["vm"] == v)
        vm = state.vms[int(v)]
        g = rows["gppn"][sel].astype(np.int64)[:, None] + np.arange(LP)
        mapped = vm.gp_state[g] == MAPPED
        state.host.mpn_flags[vm.gp_loc[g[mapped]].astype(np.int64)] &= ~np.uint8(H.LARGE)
        rows["mpn"][sel] = np.where(mapped[:, 0], vm.gp_loc[g[:, 0]], NONE)


@apply_lp_break.narrator
def _(row, names):
    g = int(row["gppn"])
    return (f"The hypervisor broke {names[row['vm']]}'s large page behind GPPN {hx(g)}-{hx(g + LP - 1)} "
            f"into 512 small pages because {WHY[int(row['slot'])]}; TPS can now share them, and a TLB miss "
            f"there walks {walk_refs('ept', False)} memory references again instead of {walk_refs('ept', True)}.")


class LargePages(Mechanism):
    """Mechanism: large-page backing on first touch (back) and breaking (tick, before TPS
    scans; it asks TPS, through its public interface, which small pages would be shared)."""

    name = "largepages"
    after = ("states",)
    counters = (
        counter.vm("LPAGE", "MB", "mmu", "guest memory backed by 2 MB large pages (Mem.AllocGuestLargePage)"),
        counter.vm("WALK/MISS", "", "mmu", "memory references per TLB miss (page-walk cost; 24 at most with "
                   "EPT and 4 KB pages, 19 in a large page, 4 with shadow tables)"),
    )

    def __init__(self, sim):
        super().__init__(sim)
        self.cursor = [0] * len(sim.vms)      # round robin over each VM's large pages

    def enabled(self):
        return bool(self.sim.settings["Mem.AllocGuestLargePage"]) and any(vm.cfg.mmu == "ept" for vm in self.sim.vms)

    def back(self, vm, gppns):
        """Back the 2 MB ranges of ``gppns`` (first touches) with large pages where possible;
        return the GPPNs left for small pages."""
        sim = self.sim
        if vm.cfg.mmu != "ept" or sim.state.host_state != states.HIGH:
            return gppns
        whole = vm.n // LP * LP
        grp = np.flatnonzero(np.bincount(gppns // LP, minlength=1))      # the 2 MB ranges, sorted
        grp = grp[(grp + 1) * LP <= vm.n]
        grp = grp[(vm.gp_state[:whole].reshape(-1, LP)[grp] == UNTOUCHED).all(axis=1)]
        # never let 2 MB pages take the frames this fault and minFree need: a large page takes
        # the frames of its GPPNs in the fault and as many again for the rest of its range
        spare = sim.state.host.free_count() - sim.mechanism(states.HostStates).minfree_mb * PAGES_PER_MB - len(gppns)
        touched = np.zeros(whole, bool)
        touched[gppns[gppns < whole]] = True
        extra = LP - np.count_nonzero(touched.reshape(-1, LP)[grp], axis=1)
        grp = grp[np.cumsum(extra) <= spare]
        grp = grp[: len(aligned_free_groups(sim.state.host, len(grp)))]
        if len(grp) == 0:
            return gppns
        sim.emit(sim.rows(len(grp), apply_lp_back.code, vm.index, gppn=grp * LP, aux=LP, flags=F_RANGE))
        return gppns[~np.isin(gppns // LP, grp)]

    def tick(self):
        sim = self.sim
        sharing = sim.mechanism(tps.PageSharing)
        st = sim.state.host_state
        free_mb = sim.state.host.free_count() / PAGES_PER_MB
        candidate = free_mb < sim.mechanism(states.HostStates).lpage_break_mb
        if st < states.CLEAR and not candidate:
            return                    # nothing to break: no pass over every VM's pages
        max_shared = sim.settings["LPage.MaxSharedPages"]
        for vm in sim.vms:
            first = large_groups(sim.state, vm)
            if len(first) == 0:
                continue
            g = first[:, None] + np.arange(LP)
            why = np.full(len(first), -1)
            if st >= states.CLEAR:
                why[:] = CONTENTION
            elif candidate:
                why[tps.zero_hinted(vm, g).sum(axis=1) > max_shared] = ZEROS
                at = self.cursor[vm.index] % len(first)
                look = np.roll(np.arange(len(first)), -at)[:CANDIDATE_CHECKS]
                self.cursor[vm.index] = at + len(look)
                hinted = g[look][tps.hinted(vm, g[look])]
                can = np.unique(hinted[sharing.shareable(vm, hinted)] // LP) * LP
                why[np.isin(first, can) & (why < 0)] = CANDIDATE
            brk = why >= 0
            if brk.any():
                self.split(vm, first[brk], why[brk])

    def split(self, vm, first, why, share: bool = True) -> None:
        """Break the large pages starting at GPPNs ``first``; TPS shares their hinted pages
        (not when they are broken for reclamation: those pages are on their way out)."""
        sim = self.sim
        sim.emit(sim.rows(len(first), apply_lp_break.code, vm.index, gppn=first, aux=LP, flags=F_RANGE, slot=why))
        if not share:
            return
        sub = (first[:, None] + np.arange(LP)).reshape(-1)
        sim.mechanism(tps.PageSharing).share_pages(vm, sub[tps.hinted(vm, sub)], hints=False)

    def release(self, vm, gppns):
        """``gppns`` are about to lose their machine pages: break the large pages they are in."""
        gppns = np.asarray(gppns, np.int64)
        inside = gppns[gppns < vm.n // LP * LP]
        if not len(inside):
            return
        first = np.unique(inside // LP) * LP
        first = first[np.isin(first, large_groups(self.sim.state, vm))]
        if len(first):
            self.split(vm, first, np.full(len(first), RECLAIM), share=False)

    @staticmethod
    def vm_values(state, vm, sim, tally) -> dict:
        return {"LPAGE": mb(large_mapped(state, vm, tally)),
                "WALK/MISS": round(vm.walk_refs / vm.tlb_misses, 2) if vm.tlb_misses else 0.0}
