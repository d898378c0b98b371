"""Counters derived from the state, never kept beside it, named as esxtop names them (MB).

Every counter is declared (core/counter.py) next to what computes it: here the base figures
of the host and the VMs (MEMSZ, GRANT, OVHD, the TLB/MMU figures; managed, free), and in
each mechanism of the catalog its own (``Mechanism.counters``, values from
``vm_values(state, vm, sim, tally)`` / ``host_values(state, sim, tally)``, in catalog
order, whether the mechanism is enabled or not). ``sim`` is the live simulator (settings,
mechanisms); ``tally`` (core/tally.py) counts, once for the whole call, what several counters
read: pages per state, the event rows of the current tick up to the state's position for the
per-second rates (SWR/s, ZIP/s, ...). ``VM`` and ``HOST`` map every declared name
to its declaration: the counters panel, the plots, F1 help and the esxtop reader read them.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.catalog import MECHANISMS
from vmmemviz.model.core import counter
from vmmemviz.model.core import host as H
from vmmemviz.model.core.tally import Tally
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
    counter.host("free_mb", "PMEM/MB", "free", "free memory; compared with minFree it decides the host state",
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


def vm_counters(state, vm, sim, tally) -> dict:
    """The counters of ``vm``."""
    out = {
        "MEMSZ": mb(vm.n),
        "GRANT": mb(tally.pages(vm, MAPPED) + tally.pages(vm, SHARED)),
        "OVHD": mb(int(tally.once("overhead", lambda: overhead_by_vm(state))[vm.index])),
        "TLB_HITS": vm.tlb_hits,
        "TLB_MISSES": vm.tlb_misses,
        "WALK_REFS": vm.walk_refs,
        "VM_EXITS": vm.vm_exits,
    }
    for m in MECHANISMS:
        out.update(m.vm_values(state, vm, sim, tally))
    return out


def host_counters(state, sim, tally) -> dict:
    out = {"managed_mb": mb(state.host.n_mpn), "free_mb": mb(state.host.free_count())}
    for m in MECHANISMS:
        out.update(m.host_values(state, sim, tally))
    return out


def all_counters(state, sim, recent=None) -> dict:
    """Every counter of ``state``; ``recent``: the tick's rows up to the state's position
    (default: none, rates of 0)."""
    tally = Tally(state, recent)
    # the VMs first, one after the other (the tally keeps one VM's arrays at a time); the
    # host's sums then find each VM's counts in the tally
    vms = {vm.name: vm_counters(state, vm, sim, tally) for vm in state.vms}
    return {"host": host_counters(state, sim, tally), "vms": vms}
