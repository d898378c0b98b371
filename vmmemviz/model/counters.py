"""Counters derived from the state, never kept beside it, named as esxtop names them (MB).

Per VM: MEMSZ (configured), GRANT (guest memory backed by machine memory, shared included),
TCHD (touched lately, sampling.py), OVHD (VMM overhead), plus the TLB/MMU figures.
Host: managed, free, minfree, state. Reclamation mechanisms add theirs through
``VM_EXTRA`` / ``HOST_EXTRA`` (functions of (state, sim) returning a dict).
"""
from __future__ import annotations

import numpy as np

from . import host as H
from .sampling import touched
from .states import STATE_NAMES
from .vm import MAPPED, PAGES_PER_MB, SHARED

VM_EXTRA: list = []
HOST_EXTRA: list = []


def mb(pages) -> float:
    return round(float(pages) / PAGES_PER_MB, 2)


def vm_counters(state, vm, sim=None) -> dict:
    st = vm.gp_state
    granted = int(np.count_nonzero((st == MAPPED) | (st == SHARED)))
    ovhd = int(np.count_nonzero((state.host.mpn_state == H.HV) & (state.host.mpn_owner == vm.index)))
    out = {
        "MEMSZ": mb(vm.n),
        "GRANT": mb(granted),
        "TCHD": mb(touched(vm)),
        "%ACTV": vm.active_pct,
        "OVHD": mb(ovhd),
        "TLB_HITS": vm.tlb_hits,
        "TLB_MISSES": vm.tlb_misses,
        "WALK_REFS": vm.walk_refs,
        "VM_EXITS": vm.vm_exits,
    }
    for f in VM_EXTRA:
        out.update(f(state, vm, sim))
    return out


def host_counters(state, sim) -> dict:
    free = state.host.free_count()
    out = {
        "managed_mb": mb(state.host.n_mpn),
        "free_mb": mb(free),
        "minfree_mb": round(sim.minfree_mb, 2),
        "state": STATE_NAMES[state.host_state],
    }
    for f in HOST_EXTRA:
        out.update(f(state, sim))
    return out


def all_counters(state, sim) -> dict:
    return {"host": host_counters(state, sim),
            "vms": {vm.name: vm_counters(state, vm, sim) for vm in state.vms}}
