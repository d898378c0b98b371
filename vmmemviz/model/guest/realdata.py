"""Real data in a scenario: a VM's memory from a guest memory image, a process driven by a
memory-access trace.

* ``image = "guest.elf"`` on a ``[[vm]]`` (QEMU/libvirt ELF core, raw ``pmemsave`` image,
  or VMware ``.vmem`` with its ``.vmss``/``.vmsn``): at power-on the guest's RAM pages are
  loaded with their real bytes (``IMAGE_LOAD``, one event per RAM region), so page sharing
  and compression run on real content. All-zero pages go on the guest's free list; the
  others count as in use by the guest OS.
* ``trace = "ls.lackey"`` on a ``[[vm.process]]`` (Valgrind lackey, Dinero din or Pin
  pinatrace): the process's accesses are the trace's, ``touches`` records a second. Trace
  pages are laid out in the process's address space in order of first use; a page used
  for the first time is allocated by system call first.

Paths are relative to the scenario file.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.errors import InputError
from vmmemviz.model.core import content as C
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.core.events import F_RANGE, hx, kind
from vmmemviz.model.core.units import PAGES_PER_MB
from vmmemviz.model.core.vm import back_pages


def load_images(sim) -> None:
    """Open and scan each VM's image; register its pages as that VM's content source."""
    from vmmemviz.importers.analyze import scan
    from vmmemviz.importers.images import open_image

    sim.image_regions = {}
    for vm in sim.vms:
        path = vm.cfg.image
        if not path:
            continue
        try:
            img = open_image(path)
        except InputError as e:          # the image's own error, under the field that named it
            raise InputError(f"{sim.sc.path}: vm[{vm.name}].image: {e}") from None
        g = img.page_numbers()
        if len(g) and int(g.max()) >= vm.n:
            raise InputError(f"{sim.sc.path}: vm[{vm.name}].image: expected an image that fits in memory_mb "
                             f"({vm.n} pages), got RAM up to GPPN {int(g.max()):#x} in {path}")
        if vm.index >= 64 - C.IMAGE_SOURCE0:
            raise InputError(f"{sim.sc.path}: vm[{vm.name}].image: at most {64 - C.IMAGE_SOURCE0} VMs "
                             f"can take their memory from images")
        C.register_image(vm.index, img, scan([img])[0], vm.n)
        # contiguous runs of RAM pages: one IMAGE_LOAD event each
        cut = np.flatnonzero(np.diff(g) != 1) + 1
        sim.image_regions[vm.index] = [(int(r[0]), len(r)) for r in np.split(g, cut) if len(r)]


def image_boot_rows(sim, vm) -> list:
    src = C.IMAGE_SOURCE0 + vm.index
    return [sim.rows(1, apply_image_load.code, vm.index, gppn=start, aux=n, flags=F_RANGE,
                     content=C.image_cid(src, start))
            for start, n in sim.image_regions[vm.index]]


@kind(14, "IMAGE_LOAD", "guest", "Real guest memory: the VM's guest physical pages are loaded from a "
      "memory image of a real VM, so page sharing and compression work on its real bytes.")
def apply_image_load(state, rows):
    back_pages(state, rows)
    for r in rows:
        vm = state.vms[r["vm"]]
        g = np.arange(int(r["gppn"]), int(r["gppn"]) + int(r["aux"]))
        zero = state.host.mpn_content[vm.gp_loc[g]] == C.ZERO_CID
        vm.gp_guest[g] = np.where(zero, G.FREE, G.KERNEL)


@apply_image_load.narrator
def _(row, names):
    n = int(row["aux"])
    return (f"{names[row['vm']]} was loaded from its guest memory image: GPPN {hx(row['gppn'])}-"
            f"{hx(row['gppn'] + n - 1)} ({n} pages) hold the real VM's bytes, backed from MPN {hx(row['mpn'])}.")


class Trace:
    """A process's trace: GVPN of every record (pages in order of first use) and writes."""

    def __init__(self, path: str, where: str, size_pages: int):
        from vmmemviz.importers.traces import read_trace

        try:
            t = read_trace(path)
        except InputError as e:          # the trace's own error, under the field that named it
            raise InputError(f"{where}.trace: {e}") from None
        uniq, first, inv = np.unique(t.vpn, return_index=True, return_inverse=True)
        rank = np.empty(len(uniq), np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))
        self.gvpn = rank[inv.ravel()]
        self.write = np.asarray(t.is_write, bool)
        self.cursor = 0
        if len(uniq) > size_pages:
            raise InputError(f"{where}.size_mb: expected room for the trace's {len(uniq)} pages "
                             f"({len(uniq) / PAGES_PER_MB:.2f} MB) of {path}, got {size_pages} pages")

    def next(self, n: int):
        """The next ``n`` records (fewer at the end of the trace)."""
        a, self.cursor = self.cursor, min(self.cursor + n, len(self.gvpn))
        return self.gvpn[a:self.cursor], self.write[a:self.cursor]
