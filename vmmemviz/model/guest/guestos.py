"""The guest OS and its applications: guest virtual pages (GVPN) mapped to guest physical (GPPN).

The guest OS believes it owns all the physical memory it was given. It keeps a free list
and an allocated list of guest physical pages (``gp_guest``: FREE, KERNEL, USER, BALLOON)
and hands pages out lowest-free-first, like a buddy allocator would. An application
starts with no memory and gets it by a system call (``ALLOC``); it frees it voluntarily
(``FREE``). The guest OS has no interface to give memory back to the hypervisor, so a
freed page keeps its machine page: the host cannot tell guest-free pages from used ones.

Boot: the guest loads its kernel and OS image (``KERNEL_LOAD``, content shared by every
VM of the same OS); a Windows guest then zeroes all its memory (``BOOT_ZERO``), so all
of it is touched and backed at once, where a Linux guest touches memory lazily.

Each process has a page table ``pt`` (GVPN -> GPPN, or a guest swap slot when the page
was paged out by the guest) and ``pt_state`` (UNMAPPED, RESIDENT, GSWAPPED).
A guest page-table update costs a VM exit under the software MMU (shadow page tables
must be re-synced); under EPT/NPT it costs nothing (see mmu.py).
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core import content as C
from vmmemviz.model.core.events import F_RANGE, NONE, hx, kind
from vmmemviz.model.core.vm import PAGES_PER_MB, UNTOUCHED, back_pages

FREE, KERNEL, USER, BALLOON = range(4)
GUEST_STATE_NAMES = ("free", "kernel", "user", "balloon")
UNMAPPED, RESIDENT, GSWAPPED = range(3)


class Process:
    """An application in the guest with its own guest virtual address space."""

    def __init__(self, index: int, name: str, vpages: int, cfg=None):
        self.index, self.name, self.vpages, self.cfg = index, name, vpages, cfg
        self.pt = np.full(vpages, NONE, np.uint32)
        self.pt_state = np.zeros(vpages, np.uint8)

    def nbytes(self) -> int:
        return self.pt.nbytes + self.pt_state.nbytes

    def held(self) -> int:
        """GVPNs allocated (UNMAPPED is 0: every other state is held)."""
        return int(np.count_nonzero(self.pt_state))

    def allocated(self) -> np.ndarray:
        """The allocated GVPNs, in order. First fit keeps them a prefix of the address space
        until the process frees some, and a prefix is found by counting and checking it."""
        n = self.held()
        if n and self.pt_state[n - 1] != UNMAPPED and self.pt_state[:n].all():
            return np.arange(n)
        return np.flatnonzero(self.pt_state != UNMAPPED)


def free_gppns(vm, count: int) -> np.ndarray:
    """The ``count`` lowest GPPNs on the guest OS free list, scanned in growing chunks: an
    allocation takes a few pages, and listing every free one of millions cost ~3 ms."""
    g, out, found, at, step = vm.gp_guest, [], 0, 0, max(2 * count, 1 << 16)
    while found < count and at < len(g):
        f = np.flatnonzero(g[at:at + step] == FREE)[:count - found] + at
        out.append(f)
        found, at, step = found + len(f), at + step, 2 * step
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def pt_updated(vm, proc, gvpns) -> None:
    """Guest page-table entries changed: drop them from the TLB; shadow MMU pays a VM exit each."""
    n = len(gvpns)
    vm.pt_updates += n
    if vm.cfg.mmu == "shadow":
        vm.vm_exits += n
    tags = (np.int64(proc.index) << 32) | np.asarray(gvpns, np.int64)
    slots = tags % len(vm.tlb)
    hit = vm.tlb[slots] == tags
    vm.tlb[slots[hit]] = -1


@kind(10, "KERNEL_LOAD", "guest", "Operating System Memory Management: the guest OS loads its kernel "
      "and libraries into guest physical memory. Pages of the same OS image are byte-identical "
      "across VMs, which is what page sharing finds.")
def apply_kernel_load(state, rows):
    for r in rows:
        vm = state.vms[r["vm"]]
        g = int(r["gppn"])
        vm.gp_guest[g:g + int(r["aux"])] = KERNEL
    back_pages(state, rows)


@apply_kernel_load.narrator
def _(row, names):
    n = int(row["aux"])
    return (f"{names[row['vm']]}'s guest OS loaded its kernel and OS image into GPPN {hx(row['gppn'])}-"
            f"{hx(row['gppn'] + n - 1)}; the hypervisor backed the {n} pages from MPN {hx(row['mpn'])}.")


@kind(11, "BOOT_ZERO", "guest", "Virtual Machine Memory Allocation: a Windows guest zeroes all of its "
      "memory at boot, so the hypervisor must back every page at once; a Linux guest touches lazily.")
def apply_boot_zero(state, rows):
    back_pages(state, rows)


@apply_boot_zero.narrator
def _(row, names):
    n = int(row["aux"])
    return (f"{names[row['vm']]}'s Windows guest zeroed GPPN {hx(row['gppn'])}-{hx(row['gppn'] + n - 1)} "
            f"at boot: {n} zero pages the hypervisor had to back ({n / PAGES_PER_MB:g} MB).")


@kind(12, "ALLOC", "guest", "Application Memory Management: an application starts with no memory and "
      "allocates it through a system call; the guest OS moves pages from its free list to its allocated "
      "list and maps them in the process's page table.")
def apply_alloc(state, rows):
    for r in rows:
        vm = state.vms[r["vm"]]
        proc = vm.procs[r["proc"]]
        n, v = int(r["aux"]), int(r["gvpn"])
        g = free_gppns(vm, n)
        assert len(g) == n, "guest allocation beyond the free list"
        vm.gp_guest[g] = USER
        vm.gp_proc[g] = proc.index
        vm.gp_gvpn[g] = np.arange(v, v + n)
        proc.pt[v:v + n] = g
        proc.pt_state[v:v + n] = RESIDENT
        pt_updated(vm, proc, np.arange(v, v + n))
        r["gppn"] = g[0] if n else NONE
        r["mpn"] = vm.gp_loc[g[0]] if n and vm.gp_state[g[0]] != UNTOUCHED else NONE


@apply_alloc.narrator
def _(row, names):
    n = int(row["aux"])
    return (f"A process in {names[row['vm']]} allocated {n} pages by system call: the guest OS mapped "
            f"GVPN {hx(row['gvpn'])}-{hx(row['gvpn'] + n - 1)} to free guest physical pages from GPPN "
            f"{hx(row['gppn'])}.")


@kind(13, "FREE", "guest", "Application Memory Management: the application frees memory voluntarily; the "
      "guest OS puts the pages back on its free list. It has no way to give them back to the hypervisor, "
      "so their machine pages stay allocated.")
def apply_free(state, rows):
    for r in rows:
        vm = state.vms[r["vm"]]
        proc = vm.procs[r["proc"]]
        v, n = int(r["gvpn"]), int(r["aux"])
        res = np.flatnonzero(proc.pt_state[v:v + n] == RESIDENT) + v
        g = proc.pt[res]
        vm.gp_guest[g] = FREE
        vm.gp_proc[g] = 255
        vm.gp_gvpn[g] = NONE
        swapped = np.flatnonzero(proc.pt_state[v:v + n] == GSWAPPED) + v
        if len(swapped):
            state.stores["gswap"].release(state, vm, proc.pt[swapped])
        proc.pt[v:v + n] = NONE
        proc.pt_state[v:v + n] = UNMAPPED
        pt_updated(vm, proc, np.arange(v, v + n))
        r["gppn"] = g[0] if len(g) else NONE


@apply_free.narrator
def _(row, names):
    n = int(row["aux"])
    return (f"A process in {names[row['vm']]} freed GVPN {hx(row['gvpn'])}-{hx(row['gvpn'] + n - 1)}; the "
            f"guest OS put {n} pages on its free list, but their MPNs stay allocated: the guest cannot "
            f"give memory back to the hypervisor.")


def boot_rows(tick: int, vm) -> list:
    """Events of a guest OS boot: kernel load (1/16 of memory, at least 8 pages), and for
    Windows the zeroing of all the rest."""
    from vmmemviz.model.core.events import make_rows
    k = min(vm.n, max(8, vm.n // 16))
    out = [make_rows(1, tick, apply_kernel_load.code, vm.index, gppn=0, aux=k, flags=F_RANGE,
                     content=C.os_cid(vm.cfg.guest_os, 0))]
    if vm.cfg.guest_os == "windows" and vm.n > k:
        out.append(make_rows(1, tick, apply_boot_zero.code, vm.index, gppn=k, aux=vm.n - k,
                             flags=F_RANGE, content=C.ZERO_CID))
    return out
