"""Shared pieces of the guest-image readers: the page-region table and bulk page access.

An image is a list of RAM regions ``(gppn, npages, file_offset)``: guest page numbers
``gppn .. gppn+npages-1`` live at ``file_offset + i*4096`` in one file, read through a
read-only ``np.memmap``. Non-RAM ranges (VGA, BIOS) are kept as labels only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from vmmemviz.errors import InputError
from vmmemviz.inputfile import input_size as file_size, open_input  # noqa: F401 (file_size: for the readers)

PAGE = 4096
PAGE_SHIFT = 12


@dataclass(frozen=True)
class Region:
    """RAM pages ``gppn .. gppn+npages-1`` stored at ``offset`` in the image file."""

    gppn: int
    npages: int
    offset: int


@dataclass(frozen=True)
class Label:
    """A non-RAM range of guest physical memory present in the file (not counted as RAM)."""

    gpa: int
    size: int
    label: str


MAX_GPPN = 1 << 40     # x86-64 guest physical addresses have at most 52 bits: 2**40 pages


class GuestImage:
    """Guest physical memory of one VM, read lazily from a file.

    Attributes: ``path``, ``kind`` ("elf", "raw", "vmss"), ``regions`` (list of Region,
    sorted by gppn, non-overlapping), ``non_ram`` (list of Label), ``ram_pages``.
    """

    kind = "?"

    def __init__(self, path: str, regions: list[Region], non_ram: list[Label] | None = None,
                 data_path: str | None = None):
        self.path = path
        self.data_path = data_path or path
        self.non_ram = list(non_ram or [])
        regions = sorted((r for r in regions if r.npages > 0), key=lambda r: r.gppn)
        size = file_size(self.data_path)
        for a, b in zip(regions, regions[1:]):
            if a.gppn + a.npages > b.gppn:
                raise InputError(f"{path}: region at GPPN {b.gppn:#x}: overlaps the region at "
                                 f"GPPN {a.gppn:#x} ({a.npages} pages); expected disjoint regions")
        for r in regions:
            if r.gppn < 0 or r.gppn + r.npages > MAX_GPPN:
                raise InputError(f"{path}: region at GPPN {r.gppn:#x} ({r.npages} pages): expected "
                                 f"guest page numbers below {MAX_GPPN:#x} (52-bit guest physical "
                                 f"addresses)")
            if r.offset < 0 or r.offset + r.npages * PAGE > size:
                raise InputError(f"{path}: region at GPPN {r.gppn:#x}: file offset {r.offset:#x} + "
                                 f"{r.npages} pages is past the end of {self.data_path} "
                                 f"({size} bytes)")
        self.regions = regions
        self.ram_pages = int(sum(r.npages for r in regions))
        self._starts = np.array([r.gppn for r in regions], dtype=np.int64)
        self._cum = np.cumsum([0] + [r.npages for r in regions]).astype(np.int64)
        self._mm = None
        self._views: list[np.ndarray] | None = None
        if size == 0 or not regions:
            self._views = [np.empty((0, PAGE), np.uint8) for _ in regions]

    # -- memory map --------------------------------------------------------------------
    def _region_views(self) -> list[np.ndarray]:
        if self._views is None:
            with open_input(self.data_path) as f:
                mm = np.memmap(f, dtype=np.uint8, mode="r")
            self._mm = mm
            base = mm.view(np.ndarray)
            self._views = [base[r.offset:r.offset + r.npages * PAGE].reshape(r.npages, PAGE)
                           for r in self.regions]
        return self._views

    def close(self) -> None:
        self._views = None
        self._mm = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.path!r} kind={self.kind} "
                f"ram_pages={self.ram_pages} regions={len(self.regions)}>")

    # -- page access -----------------------------------------------------------------
    @property
    def memory_mb(self) -> float:
        return self.ram_pages * PAGE / 2**20

    def page_numbers(self) -> np.ndarray:
        """GPPNs of all RAM pages, ascending (int64)."""
        if not self.regions:
            return np.empty(0, np.int64)
        return np.concatenate([np.arange(r.gppn, r.gppn + r.npages, dtype=np.int64)
                               for r in self.regions])

    def iter_chunks(self, chunk_pages: int = 8192) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(gppn int64[n], pages uint8[n, 4096])`` over all RAM pages in order.

        ``pages`` are read-only views of the memory map (no copy)."""
        chunk_pages = max(1, int(chunk_pages))
        for r, v in zip(self.regions, self._region_views()):
            for s in range(0, r.npages, chunk_pages):
                e = min(r.npages, s + chunk_pages)
                yield np.arange(r.gppn + s, r.gppn + e, dtype=np.int64), v[s:e]

    def _locate(self, gppns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Region index and row inside it for each GPPN; KeyError if one is not RAM."""
        g = np.asarray(gppns, dtype=np.int64).ravel()
        if not self.regions:
            raise KeyError(f"{self.path} has no RAM pages")
        ri = np.searchsorted(self._starts, g, side="right") - 1
        ok = ri >= 0
        rows = g - self._starts[np.maximum(ri, 0)]
        sizes = np.diff(self._cum)
        ok &= rows < sizes[np.maximum(ri, 0)]
        if not ok.all():
            bad = int(g[~ok][0])
            raise KeyError(f"GPPN {bad:#x} is not a RAM page of {self.path}")
        return ri, rows

    def contains(self, gppns) -> np.ndarray:
        """Boolean mask: which of ``gppns`` are RAM pages in this image."""
        g = np.asarray(gppns, dtype=np.int64).ravel()
        if not self.regions:
            return np.zeros(g.shape, bool)
        ri = np.searchsorted(self._starts, g, side="right") - 1
        rows = g - self._starts[np.maximum(ri, 0)]
        return (ri >= 0) & (rows < np.diff(self._cum)[np.maximum(ri, 0)])

    def pages(self, gppns) -> np.ndarray:
        """Copy of the pages for an array of GPPNs: uint8[n, 4096]. KeyError if one is not RAM."""
        g = np.asarray(gppns, dtype=np.int64).ravel()
        out = np.empty((len(g), PAGE), np.uint8)
        if len(g) == 0:
            return out
        ri, rows = self._locate(g)
        views = self._region_views()
        for k in np.unique(ri):
            sel = np.flatnonzero(ri == k)
            out[sel] = views[k][rows[sel]]
        return out

    def page(self, gppn: int) -> bytes:
        """The 4096 bytes of one guest physical page. KeyError if it is not a RAM page."""
        ri, rows = self._locate(np.array([gppn]))
        return self._region_views()[int(ri[0])][int(rows[0])].tobytes()
