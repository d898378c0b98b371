"""Counters derived from the state, never kept beside it, named as esxtop names them (MB).

Per VM: MEMSZ (configured), GRANT (guest memory backed by machine memory, shared included),
TCHD (touched lately, sampling.py), OVHD (VMM overhead), plus the TLB/MMU figures.
Host: managed, free, minfree, state. Every mechanism of the catalog adds its own through
``Mechanism.vm_counters(state, vm, sim, recent)`` / ``host_counters(state, sim, recent)``
(a dict), in catalog order, whether it is enabled or not. ``sim`` is the live simulator
(settings, mechanisms); ``recent`` is the event rows of the current tick up to the state's
position, for the per-second rates (SWR/s, ZIP/s, ...).
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.catalog import MECHANISMS
from vmmemviz.model.core import host as H
from vmmemviz.model.core.events import EVENT_DTYPE
from vmmemviz.model.core.units import mb
from vmmemviz.model.core.vm import MAPPED, SHARED
from vmmemviz.model.reclaim.freestates import STATE_NAMES, HostStates
from vmmemviz.model.reclaim.sampling import touched


def overhead_by_vm(state) -> np.ndarray:
    """Hypervisor frames per owner VM, in one pass over the host."""
    hv = state.host.mpn_state == H.HV
    return np.bincount(state.host.mpn_owner[hv], minlength=256)


def vm_counters(state, vm, sim, recent, ovhd_by_vm=None) -> dict:
    st = vm.gp_state
    granted = int(np.count_nonzero((st == MAPPED) | (st == SHARED)))
    ovhd = int((overhead_by_vm(state) if ovhd_by_vm is None else ovhd_by_vm)[vm.index])
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
    for m in MECHANISMS:
        out.update(m.vm_counters(state, vm, sim, recent))
    return out


def host_counters(state, sim, recent) -> dict:
    free = state.host.free_count()
    out = {
        "managed_mb": mb(state.host.n_mpn),
        "free_mb": mb(free),
        "minfree_mb": round(sim.mechanism(HostStates).minfree_mb, 2),
        "state": STATE_NAMES[state.host_state],
    }
    for m in MECHANISMS:
        out.update(m.host_counters(state, sim, recent))
    return out


def all_counters(state, sim, recent=None) -> dict:
    """Every counter of ``state``; ``recent`` defaults to no rows (rates of 0)."""
    if recent is None:
        recent = np.zeros(0, EVENT_DTYPE)
    ovhd = overhead_by_vm(state)
    return {"host": host_counters(state, sim, recent),
            "vms": {vm.name: vm_counters(state, vm, sim, recent, ovhd) for vm in state.vms}}
