"""Counters derived from the state, never kept beside it, named as esxtop names them (MB).

Every counter is declared (core/counter.py) next to what computes it: here the base figures
of the host and the VMs (MEMSZ, GRANT, OVHD, the TLB/MMU figures; managed, free), and in
each mechanism of the catalog its own (``Mechanism.counters``, values from
``vm_values(state, vm, sim, recent)`` / ``host_values(state, sim, recent)``, in catalog
order, whether the mechanism is enabled or not). ``sim`` is the live simulator (settings,
mechanisms); ``recent`` is the event rows of the current tick up to the state's position,
for the per-second rates (SWR/s, ZIP/s, ...). ``VM`` and ``HOST`` map every declared name
to its declaration: the counters panel, the plots, F1 help and the esxtop reader read them.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.catalog import MECHANISMS
from vmmemviz.model.core import counter
from vmmemviz.model.core import host as H
from vmmemviz.model.core.events import EVENT_DTYPE, take_rows
from vmmemviz.model.core.units import mb
from vmmemviz.model.core.vm import MAPPED, SHARED

BASE = (
    counter.vm("MEMSZ", "MB", "mem", "configured memory of the VM (the guest physical memory size)",
               "Memory Size MBytes"),
    counter.vm("GRANT", "MB", "mem", "guest physical memory backed by machine memory (consumed), shared "
               "pages included", "Memory Granted Size MBytes"),
    counter.vm("OVHD", "MB", "mem", "machine memory the VMM uses for this VM (PMAP, shadow or EPT tables)",
               "Overhead MBytes"),
    counter.vm("TLB_HITS", "", "mmu", "translations found in the TLB (no page walk)"),
    counter.vm("TLB_MISSES", "", "mmu", "translations that needed a page walk"),
    counter.vm("WALK_REFS", "", "mmu", "memory references of all page walks (up to 24 each with EPT, 4 with "
               "shadow tables)"),
    counter.vm("VM_EXITS", "", "mmu", "exits to the VMM to re-sync shadow page tables (software MMU only)"),
    counter.host("managed_mb", "VMKMEM", "managed", "machine memory the VMkernel manages", "Kernel Managed MBytes"),
    counter.host("free_mb", "VMKMEM", "free", "free memory; compared with minFree it decides the host state",
                 "Free MBytes"),
)
DECLARED = BASE + tuple(c for m in MECHANISMS for c in m.counters)
VM = {c.name: c for c in DECLARED if not c.host}
HOST = {c.name: c for c in DECLARED if c.host}
assert len(VM) + len(HOST) == len(DECLARED), "a counter is declared twice"


def overhead_by_vm(state) -> np.ndarray:
    """Hypervisor frames per owner VM, in one pass over the host."""
    hv = state.host.mpn_state == H.HV
    return np.bincount(state.host.mpn_owner[hv], minlength=H.NO_VM + 1)


def vm_counters(state, vm, sim, recent, ovhd_by_vm=None) -> dict:
    """The counters of ``vm``; ``recent``: the tick's rows so far (all of them, or only the
    VM's own: every VM counter reads only rows of its VM)."""
    st = vm.gp_state
    granted = int(np.count_nonzero((st == MAPPED) | (st == SHARED)))
    ovhd = int((overhead_by_vm(state) if ovhd_by_vm is None else ovhd_by_vm)[vm.index])
    out = {
        "MEMSZ": mb(vm.n),
        "GRANT": mb(granted),
        "OVHD": mb(ovhd),
        "TLB_HITS": vm.tlb_hits,
        "TLB_MISSES": vm.tlb_misses,
        "WALK_REFS": vm.walk_refs,
        "VM_EXITS": vm.vm_exits,
    }
    for m in MECHANISMS:
        out.update(m.vm_values(state, vm, sim, recent))
    return out


def host_counters(state, sim, recent) -> dict:
    out = {"managed_mb": mb(state.host.n_mpn), "free_mb": mb(state.host.free_count())}
    for m in MECHANISMS:
        out.update(m.host_values(state, sim, recent))
    return out


def rows_by_vm(recent, n_vms: int) -> list:
    """``recent`` split by VM, each VM's rows in their order: a VM's counters read only its own
    rows, so each rate scans those instead of the whole tick's (64 VMs x 16 rates a tick)."""
    grouped = take_rows(recent, np.argsort(recent["vm"], kind="stable"))
    bounds = np.searchsorted(grouped["vm"], np.arange(n_vms + 1))
    return [grouped[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def all_counters(state, sim, recent=None) -> dict:
    """Every counter of ``state``; ``recent`` defaults to no rows (rates of 0)."""
    if recent is None:
        recent = np.zeros(0, EVENT_DTYPE)
    ovhd = overhead_by_vm(state)
    mine = rows_by_vm(recent, len(state.vms))
    return {"host": host_counters(state, sim, recent),
            "vms": {vm.name: vm_counters(state, vm, sim, mine[vm.index], ovhd) for vm in state.vms}}
