"""Inspect one page: its whole chain through the layers, its content, sharers and history.

A page is named by a reference ``(layer, vm, proc, index)``: layer ``"gv"`` (a process's
GVPN), ``"gp"`` (a VM's GPPN) or ``"mp"`` (an MPN; vm and proc are ignored). The chain runs
GVPN -> GPPN -> MPN, or ends in the store that holds the page (guest swap, .vswp,
compression cache, any store of ``state.stores``) as the page's state says; the content
then comes from that store. A store slot is named ``(store name, vm, None, slot)``.
"""
from __future__ import annotations

import hashlib

import numpy as np

from vmmemviz.model.core import content as C
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.core import host as H
from vmmemviz.model.core import vm as V
from vmmemviz.model.core.events import F_RANGE, KINDS, NONE
from vmmemviz.model.core.store import page_state_name

HISTORY_MAX = 200


def _gp_chain(state, vm, gppn: int) -> list:
    st = int(vm.gp_state[gppn])
    loc = int(vm.gp_loc[gppn])
    if st in (V.MAPPED, V.SHARED):
        return [("mp", None, None, loc)]
    store = state.store_holding(st)
    return [(store.name, vm.index, None, loc)] if store is not None else []


def _guest_store(state):
    return next(s for s in state.stores.values() if s.page_state is None)


def inspect(state, log_rows: np.ndarray, ref: tuple, names: list) -> dict:
    """Everything about the page ``ref`` in ``state``; ``log_rows`` are the events so far."""
    layer, vmi, proc, index = ref
    chain = [ref]
    out = {"ref": ref}
    if layer == "gv":
        vm = state.vms[vmi]
        p = vm.procs[proc]
        ps = int(p.pt_state[index])
        out["what"] = f"{names[vmi]} / {p.name}: GVPN 0x{index:x}"
        out["state"] = ("unmapped", "resident", "paged out by the guest")[ps]
        if ps == G.RESIDENT:
            g = int(p.pt[index])
            chain.append(("gp", vmi, None, g))
            chain += _gp_chain(state, vm, g)
        elif ps == G.GSWAPPED:
            chain.append((_guest_store(state).name, vmi, None, int(p.pt[index])))
    elif layer == "gp":
        vm = state.vms[vmi]
        out["what"] = f"{names[vmi]}: GPPN 0x{index:x}"
        out["state"] = (f"{page_state_name(vm.gp_state[index])}; guest OS: "
                        f"{G.GUEST_STATE_NAMES[vm.gp_guest[index]]}")
        if vm.gp_guest[index] == G.USER and vm.gp_proc[index] != 255:
            pi = int(vm.gp_proc[index])
            chain.insert(0, ("gv", vmi, pi, int(vm.gp_gvpn[index])))
        chain += _gp_chain(state, vm, index)
    elif layer == "mp":
        out["what"] = f"MPN 0x{index:x}"
        st = int(state.host.mpn_state[index])
        out["state"] = H.MPN_STATE_NAMES[st]
        own = int(state.host.mpn_owner[index])
        if st in (H.PRIVATE,) and own != H.NO_VM:
            g = int(state.host.mpn_gppn[index])
            vm = state.vms[own]
            if vm.gp_guest[g] == G.USER and vm.gp_proc[g] != 255:
                chain = [("gv", own, int(vm.gp_proc[g]), int(vm.gp_gvpn[g])), ("gp", own, None, g), ref]
            else:
                chain = [("gp", own, None, g), ref]
    else:
        store = state.stores[layer]
        out["what"] = f"{names[vmi]}: {store.title} slot 0x{index:x}"
        occ = store.occupied(state, state.vms[vmi])
        out["state"] = "in use" if index < len(occ) and occ[index] else "free"
    # content: from the machine page when there is one
    mp = [c for c in chain if c[0] == "mp"]
    cid = None
    if mp:
        cid = int(state.host.mpn_content[mp[0][3]])
        if state.host.mpn_state[mp[0][3]] in (H.FREE, H.HV):
            cid = None
        out["refs"] = int(state.host.mpn_refs[mp[0][3]])
    elif chain[-1][0] in state.stores and out["state"] != "free":    # the page lives in a store
        layer, vmi, _, slot = chain[-1]
        cid = int(state.stores[layer].content(state, state.vms[vmi], np.array([slot]))[0])
    if cid is not None:
        data = C.page_bytes(cid)
        out["content_id"] = cid
        out["content_class"] = C.CLASS_NAMES[int(C.content_class(cid))]
        out["hash"] = hashlib.sha1(data).hexdigest()[:16]
    # sharers: every GPPN mapped to the same MPN
    if mp and state.host.mpn_state[mp[0][3]] == H.SHARED:
        m = mp[0][3]
        out["sharers"] = [(vm.index, int(g)) for vm in state.vms
                          for g in np.flatnonzero((vm.gp_loc == m) & (vm.gp_state == V.SHARED))]
    out["chain"] = chain
    out["history"] = history(log_rows, chain)
    return out


def history(rows: np.ndarray, chain: list) -> list:
    """Indices of the events (most recent last, at most HISTORY_MAX) that touched any link."""
    hit = np.zeros(len(rows), bool)
    host_wide = [c for c, k in KINDS.items() if k.group == "state"]   # they reuse columns freely
    page_rows = ~np.isin(rows["kind"], host_wide)
    span = np.where(rows["flags"] & F_RANGE, rows["aux"].astype(np.int64), 1)
    for layer, vmi, proc, index in chain:
        if layer == "gv":
            hit |= ((rows["vm"] == vmi) & (rows["proc"] == proc) & (rows["gvpn"] != NONE)
                    & (rows["gvpn"] <= index) & (index < rows["gvpn"].astype(np.int64) + np.maximum(span, 1)))
        elif layer == "gp":
            g = rows["gppn"].astype(np.int64)
            hit |= (rows["vm"] == vmi) & (rows["gppn"] != NONE) & (g <= index) & (index < g + span)
        elif layer == "mp":
            hit |= rows["mpn"] == index
        else:
            hit |= (rows["vm"] == vmi) & (rows["slot"] == index)
    return np.flatnonzero(hit & page_rows)[-HISTORY_MAX:].tolist()
