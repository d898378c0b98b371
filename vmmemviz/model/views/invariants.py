"""Invariants of the model, checked by the tests after every event (production code never
imports this module).

* Frames: every MPN is free, hypervisor-owned, compression cache, or mapped by exactly
  as many GPPNs as its reference count (1 for a private frame).
* Stores: every GPPN a hypervisor store holds (``gp_state`` = its ``page_state``) has a slot
  of its own in use there; every paged-out GVPN, a guest swap slot of its own.
* Guest views: every resident GVPN maps a GPPN the guest OS lists as USER for that very
  process page, and back.
* Content (with :func:`guest_content`): what a guest read returns, wherever the page is,
  looked up in the State's stores (store.py).
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core import host as H
from vmmemviz.model.core import vm as V
from vmmemviz.model.guest import guestos as G


class Broken(AssertionError):
    pass


def check(state) -> None:
    host = state.host
    n = host.n_mpn
    maps = np.zeros(n, np.int64)
    for vm in state.vms:
        mapped = (vm.gp_state == V.MAPPED) | (vm.gp_state == V.SHARED)
        maps += np.bincount(vm.gp_loc[mapped].astype(np.int64), minlength=n)[:n]
        priv = vm.gp_state == V.MAPPED
        m = vm.gp_loc[priv].astype(np.int64)
        bad = (host.mpn_state[m] != H.PRIVATE) | (host.mpn_owner[m] != vm.index) | \
              (host.mpn_gppn[m] != np.flatnonzero(priv))
        if bad.any():
            raise Broken(f"{vm.name}: GPPN {np.flatnonzero(priv)[bad][0]:#x} maps a frame that is not "
                         f"its private frame")
        sh = vm.gp_loc[vm.gp_state == V.SHARED].astype(np.int64)
        if (host.mpn_state[sh] != H.SHARED).any():
            raise Broken(f"{vm.name}: a SHARED GPPN maps a frame that is not shared")
        _check_guest(vm)
        _check_stores(state, vm)
    st = host.mpn_state
    counted = (st == H.PRIVATE) | (st == H.SHARED)
    if (maps[~counted] != 0).any():
        raise Broken(f"MPN {np.flatnonzero(maps[~counted] != 0)[0]:#x}: mapped but free/HV/cache")
    wrong = counted & (maps != host.mpn_refs)
    if wrong.any():
        m = int(np.flatnonzero(wrong)[0])
        raise Broken(f"MPN {m:#x}: {maps[m]} GPPNs map it, reference count {host.mpn_refs[m]}")
    if (host.mpn_refs[st == H.FREE] != 0).any():
        raise Broken("a free frame has references")
    if host.free_count() != int(np.count_nonzero(st == H.FREE)):
        raise Broken(f"the host counts {host.free_count()} free frames, its array {np.count_nonzero(st == H.FREE)}")


def _check_stores(state, vm) -> None:
    for s in state.stores.values():
        slots = s.held(state, vm)
        if len(np.unique(slots)) != len(slots):
            raise Broken(f"{vm.name}: two pages share a slot of the {s.title}")
        occupied = s.occupied(state, vm)
        if not occupied[slots].all():
            raise Broken(f"{vm.name}: a page held in the {s.title} has a free slot")
        if s.wide(state, vm) is None and not s.per_host and np.count_nonzero(occupied) != len(slots):
            raise Broken(f"{vm.name}: a slot of the {s.title} is in use but holds none of its pages")


def _check_guest(vm) -> None:
    user = vm.gp_guest == G.USER
    for p in vm.procs:
        res = np.flatnonzero(p.pt_state == G.RESIDENT)
        g = p.pt[res].astype(np.int64)
        if (vm.gp_guest[g] != G.USER).any() or (vm.gp_proc[g] != p.index).any() or (vm.gp_gvpn[g] != res).any():
            raise Broken(f"{vm.name}/{p.name}: a resident GVPN maps a GPPN not allocated to it")
        user[g] = False
    if user.any():
        raise Broken(f"{vm.name}: GPPN {np.flatnonzero(user)[0]:#x} is USER but no process maps it")


def guest_content(state, vm, proc, gvpns) -> np.ndarray:
    """Content id a read of each GVPN returns (resolving swap, cache, guest swap)."""
    gvpns = np.asarray(gvpns, np.int64)
    out = np.zeros(len(gvpns), np.uint32)
    ps = proc.pt_state[gvpns]
    if (ps == G.UNMAPPED).any():
        raise Broken("read of an unmapped GVPN")
    gs = ps == G.GSWAPPED
    if gs.any():
        out[gs] = state.stores["gswap"].content(state, vm, proc.pt[gvpns[gs]].astype(np.int64))
    res = ~gs
    g = proc.pt[gvpns[res]].astype(np.int64)
    st = vm.gp_state[g]
    loc = vm.gp_loc[g].astype(np.int64)
    c = np.zeros(len(g), np.uint32)
    on = (st == V.MAPPED) | (st == V.SHARED)
    c[on] = state.host.mpn_content[loc[on]]
    for s in state.stores.values():
        sel = st == s.page_state
        if s.page_state is not None and sel.any():
            c[sel] = s.content(state, vm, loc[sel])
    out[res] = c
    return out
