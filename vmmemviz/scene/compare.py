"""Which pages differ between two runs' frames at the same moment (compare, issue 14).

The one place that says it, for the CLI, exports and the window alike. A page differs
when its palette code differs: the state the picture shows (free, hypervisor, shared,
ballooned, compressed, swapped, private to a VM, zero page), page by page, band by band.

Bands are matched by what they show, not by their position in the frame:
``(layer, VM name, process name)`` (``ident``), so two runs of the same scenario shape
pair every band, and runs with other VMs (``--compare OTHER.toml``) pair the VMs they both
have by name. A VM's colour code depends on its index in its own run, so run B's VM
codes are read as the codes of the same-named VM in A before comparing. A band with no
counterpart in the other run (a VM, process or store only one run has) is ``only``:
every page of it is marked, and ``FrameDiff.only_a`` / ``only_b`` name the VMs missing
from the other run. Two matched bands of different sizes (another VM size, a store shown
to another depth) compare page by page up to the shorter; a page past the end of the other
band counts as free there when the other store is that large (a store band shows only its
used part), else as differing.

Masks are flat, one bool per page of the band (``band.count``), so they survive
``bands.relayout`` / ``reflow`` (page indices do not change); ``grid_mask`` puts one on
a band's (rows, cols) grid.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import palette as P


@dataclass(frozen=True)
class BandDiff:
    key: str              # the band's key in its own frame
    ident: tuple          # (layer, VM name or None, process name or None)
    mask: np.ndarray      # bool per page of the band: differs from the other run
    count: int            # pages marked
    only: bool = False    # no such band in the other run (every page marked)


@dataclass(frozen=True)
class FrameDiff:
    a: dict               # band key in A -> BandDiff
    b: dict               # band key in B -> BandDiff
    only_a: tuple         # VM names run A has and run B has not
    only_b: tuple         # VM names run B has and run A has not

    @property
    def pages(self) -> int:
        """Pages marked in run A's picture (matched bands mark the same pages in both)."""
        return sum(d.count for d in self.a.values())

    def summary(self) -> dict:
        """Counts for JSON: pages differing per layer, per VM, and the VMs only one run has."""
        by_layer: dict = {}
        by_vm: dict = {}
        for d in self.a.values():
            layer, vm, _ = d.ident
            by_layer[layer] = by_layer.get(layer, 0) + d.count
            if vm is not None:
                by_vm[vm] = by_vm.get(vm, 0) + d.count
        return {"pages": self.pages, "layers": by_layer, "vms": by_vm,
                "only_a": list(self.only_a), "only_b": list(self.only_b)}


def ident(band, vm_names) -> tuple:
    """What a band shows, independent of its run's VM order: (layer, VM name, process name)."""
    vm = vm_names[band.vm] if band.vm is not None else None
    return band.layer, vm, band.proc_name


def vm_lut(names_a, names_b) -> np.ndarray:
    """Run B's palette codes as run A would write them: a VM's codes by its name in A; a VM
    A has not gets a code no A page has (so its pages differ)."""
    lut = np.arange(256, dtype=np.uint8)
    if max(len(names_a), len(names_b)) > P.VM_SLOTS:
        return lut             # hues repeat past VM_SLOTS VMs: the codes are compared as they are
    where = {n: i for i, n in enumerate(names_a)}
    spare = [i for i in range(P.VM_SLOTS) if i >= len(names_a)]
    for j, n in enumerate(names_b):
        i = where.get(n)
        if i is None:
            i = spare.pop(0) if spare else j
        for zero in (False, True):
            lut[P.vm_code(j, zero)] = P.vm_code(i, zero)
    return lut


def legend_names(names_a, names_b) -> list:
    """VM names by palette index once run B is recoloured with ``vm_lut``: run A's VMs,
    then those only run B has."""
    return [*names_a, *(n for n in names_b if n not in set(names_a))]


def _flat(band) -> np.ndarray:
    return band.codes.ravel()[:band.count]


def _pair(ca: np.ndarray, cb: np.ndarray, room_a: int, room_b: int) -> tuple:
    """Masks over pages of two matched bands (codes ``ca``, ``cb``; ``room_*``: how many
    pages each band's store really has, beyond what it shows)."""
    n = max(len(ca), len(cb))
    pa = np.full(n, P.BG, np.uint8)
    pb = np.full(n, P.BG, np.uint8)
    pa[:len(ca)], pb[:len(cb)] = ca, cb
    pa[len(ca):min(n, room_a)] = P.FREE      # shown shorter, but the store is there (and unused)
    pb[len(cb):min(n, room_b)] = P.FREE
    diff = pa != pb
    return diff[:len(ca)], diff[:len(cb)]


def diff_bands(bands_a, names_a, bands_b, names_b) -> FrameDiff:
    """The differing pages of every band of run A's and run B's pictures."""
    lut = vm_lut(tuple(names_a), tuple(names_b))
    ib = {ident(b, names_b): b for b in bands_b}
    out_a, out_b, seen = {}, {}, set()
    for ba in bands_a:
        key = ident(ba, names_a)
        bb = ib.get(key)
        if bb is None:
            out_a[ba.key] = BandDiff(ba.key, key, np.ones(ba.count, bool), ba.count, True)
            continue
        seen.add(key)
        ma, mb = _pair(_flat(ba), lut[_flat(bb)], max(ba.total, ba.count), max(bb.total, bb.count))
        out_a[ba.key] = BandDiff(ba.key, key, ma, int(ma.sum()))
        out_b[bb.key] = BandDiff(bb.key, key, mb, int(mb.sum()))
    for key, bb in ib.items():
        if key not in seen:
            out_b[bb.key] = BandDiff(bb.key, key, np.ones(bb.count, bool), bb.count, True)
    return FrameDiff(out_a, out_b,
                     tuple(n for n in names_a if n not in set(names_b)),
                     tuple(n for n in names_b if n not in set(names_a)))


def position_at(tl, tick: int) -> int:
    """Events of timeline ``tl`` applied by the end of simulated second ``tick`` (simulates
    that far): two runs are compared at the same simulated time, not the same event count."""
    while not tl.finished() and (len(tl) == 0 or int(tl.log[len(tl) - 1]["tick"]) <= tick):
        tl.advance()           # until an event past the tick exists: the tick is complete
    return tl.log.tick_index(tick, "right")


def diff_frames(frame_a, frame_b) -> FrameDiff:
    """``diff_bands`` of two ``engine.frame.Frame``s (two runs at the same simulated time)."""
    return diff_bands(frame_a.bands, frame_a.vm_names, frame_b.bands, frame_b.vm_names)


def grid_mask(band, mask: np.ndarray) -> np.ndarray:
    """A flat page mask on ``band``'s (rows, cols) grid (padding cells False)."""
    out = np.zeros(band.rows * band.cols, bool)
    n = min(band.count, len(mask))
    out[:n] = mask[:n]
    return out.reshape(band.rows, band.cols)
