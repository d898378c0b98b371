"""Sharing and compression potential of real guest memory images.

``scan(images)`` reads every RAM page once (numpy over a memory map, two threads) and gives
per page: zero or not, LZ4 size (``lz4.block.compress(page, store_size=False)``; zero pages
use the known size without a call) and a content id equal for equal pages, across all
images of the scan. ``analyze(paths)`` sums that up:

``pages`` RAM pages, ``zero`` all-zero pages, ``distinct`` distinct page contents,
``reclaimable`` = pages - distinct (what ideal content-based sharing frees),
``lz4_le_2k`` / ``lz4_le_1k`` pages whose LZ4 size is <= 2048 / <= 1024 bytes (zero pages
included), and ``images``: the same per image, with sharing counted inside that image only.

Exactness: pages are grouped by a 128-bit hash (two 64-bit linear hashes of the page's
64-bit words with random odd keys, fast as a numpy matmul), then every page is compared
byte for byte with its group's first page. A mismatch (a linear-hash collision, which
crafted pages can cause) splits that group by a BLAKE2b-256 digest of each page. So
``distinct`` is exact unless different pages collide in both hashes at once.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import lz4.block
import numpy as np

from ._base import PAGE, GuestImage
from .images import open_image

ZERO_LZ4 = len(lz4.block.compress(bytes(PAGE), store_size=False))
_KEYS = (np.random.default_rng(0x766D6D656D).integers(0, 2**63, size=(PAGE // 8, 2),
                                                       dtype=np.uint64) | np.uint64(1))

Progress = Callable[[int, int], None]


@dataclass
class ImageScan:
    """Per-page results for one image, in ``image.page_numbers()`` order.

    ``content``: int64 content id, 0 for the zero page; equal ids = equal bytes (ids are
    comparable across the images of one ``scan`` call). ``lz4``: int32 LZ4 block size."""

    image: GuestImage
    gppn: np.ndarray
    zero: np.ndarray
    lz4: np.ndarray
    content: np.ndarray

    def at(self, gppns) -> tuple[np.ndarray, np.ndarray]:
        """(content ids, LZ4 sizes) for an array of GPPNs; KeyError if one is not RAM."""
        g = np.asarray(gppns, dtype=np.int64).ravel()
        i = np.searchsorted(self.gppn, g)
        ok = (i < len(self.gppn)) & (self.gppn[np.minimum(i, len(self.gppn) - 1)] == g) \
            if len(self.gppn) else np.zeros(len(g), bool)
        if not ok.all():
            raise KeyError(f"GPPN {int(g[~ok][0]):#x} is not a RAM page of {self.image.path}")
        return self.content[i], self.lz4[i]

    def summary(self) -> dict:
        pages = int(len(self.gppn))
        distinct = int(len(np.unique(self.content)))
        return {"path": self.image.path, "kind": self.image.kind, "pages": pages,
                "zero": int(self.zero.sum()), "distinct": distinct,
                "reclaimable": pages - distinct,
                "lz4_le_2k": int((self.lz4 <= 2048).sum()),
                "lz4_le_1k": int((self.lz4 <= 1024).sum())}


def _chunk_stats(pages: np.ndarray):
    """zero mask, 128-bit hashes (n, 2) uint64 (0 for zero pages), LZ4 sizes."""
    n = len(pages)
    if pages.ctypes.data % 8:
        pages = np.array(pages)  # unaligned memory map offset (ELF): one aligned copy
    words = pages.view(np.uint64)
    nonzero = words.any(axis=1)
    nz = np.flatnonzero(nonzero)
    hashes = np.zeros((n, 2), np.uint64)
    if len(nz) == n:
        hashes = words @ _KEYS
    elif len(nz):
        hashes[nz] = words[nz] @ _KEYS
    sizes = np.full(n, ZERO_LZ4, np.int32)
    if len(nz):
        flat = memoryview(np.ascontiguousarray(pages).reshape(-1))
        comp = lz4.block.compress
        sizes[nz] = [len(comp(flat[i * PAGE:(i + 1) * PAGE], store_size=False)) for i in nz.tolist()]
    return ~nonzero, hashes, sizes


def _scan_raw(images: Sequence[GuestImage], progress: Progress | None, pool, workers: int,
              chunk_pages: int):
    total = sum(im.ram_pages for im in images)
    done = 0
    per_image = []
    for im in images:
        gppns, zeros, hashes, sizes = [], [], [], []
        pending = []

        def drain(limit):
            nonlocal done
            while len(pending) > limit:
                g, fut = pending.pop(0)
                z, h, s = fut.result()
                gppns.append(g)
                zeros.append(z)
                hashes.append(h)
                sizes.append(s)
                done += len(g)
                if progress:
                    progress(done, total)

        for g, pages in im.iter_chunks(chunk_pages):
            pending.append((g, pool.submit(_chunk_stats, pages)))
            drain(2 * workers)
        drain(0)
        if gppns:
            per_image.append((np.concatenate(gppns), np.concatenate(zeros),
                              np.concatenate(hashes), np.concatenate(sizes)))
        else:
            per_image.append((np.empty(0, np.int64), np.empty(0, bool),
                              np.empty((0, 2), np.uint64), np.empty(0, np.int32)))
    return per_image


def _verify(images, owner, gppn_of, group, first, pool):
    """Compare every page with its group's first page; return content ids (exact).

    owner/gppn_of: image index and GPPN of each nonzero page; group: its hash group;
    first: index (into these arrays) of each group's first page. Pages of a group that
    turn out to differ (a collision of the linear hash) are regrouped by BLAKE2b-256."""
    ids = group.copy()
    rep = first[group]
    todo = np.flatnonzero(rep != np.arange(len(group)))

    def check(sel):
        a = _gather(images, owner[sel], gppn_of[sel])
        reps, inv = np.unique(rep[sel], return_inverse=True)
        b = _gather(images, owner[reps], gppn_of[reps])
        diff = (a.view(np.uint64) != b.view(np.uint64)[inv.ravel()]).any(axis=1)
        return sel[diff]

    step = 4096
    bad = [x for x in pool.map(check, [todo[s:s + step] for s in range(0, len(todo), step)])
           if len(x)]
    if not bad:
        return ids
    # hash collision: regroup the affected groups by a 256-bit digest of the bytes
    members = np.flatnonzero(np.isin(group, np.unique(group[np.concatenate(bad)])))
    next_id = int(group.max()) + 1
    seen: dict[tuple[int, bytes], int] = {}
    first_of: set[int] = set()
    for s in range(0, len(members), step):
        sel = members[s:s + step]
        for m, page in zip(sel.tolist(), _gather(images, owner[sel], gppn_of[sel])):
            gid = int(group[m])
            key = (gid, hashlib.blake2b(page, digest_size=32).digest())
            if key not in seen:
                if gid in first_of:
                    seen[key] = next_id
                    next_id += 1
                else:
                    seen[key] = gid
                    first_of.add(gid)
            ids[m] = seen[key]
    return ids


def _gather(images, owner, gppns):
    out = np.empty((len(gppns), PAGE), np.uint8)
    for k in np.unique(owner).tolist():
        sel = np.flatnonzero(owner == k)
        out[sel] = images[k].pages(gppns[sel])
    return out


def scan(images: Iterable[GuestImage | str], progress: Progress | None = None,
         workers: int | None = None, chunk_pages: int = 4096, verify: bool = True
         ) -> list[ImageScan]:
    """Scan images (objects or paths) and return one ImageScan per image."""
    images = [open_image(i) if not isinstance(i, GuestImage) else i for i in images]
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return _scan(images, progress, pool, workers, chunk_pages, verify)


def _scan(images, progress, pool, workers, chunk_pages, verify) -> list[ImageScan]:
    raw = _scan_raw(images, progress, pool, workers, chunk_pages)
    # global grouping of nonzero pages by 128-bit hash
    owner = np.concatenate([np.full(int((~z).sum()), k, np.int32) for k, (_, z, _, _) in
                            enumerate(raw)]) if raw else np.empty(0, np.int32)
    nzsel = [np.flatnonzero(~z) for (_, z, _, _) in raw]
    gppn_of = np.concatenate([g[s] for (g, _, _, _), s in zip(raw, nzsel)]) if raw else \
        np.empty(0, np.int64)
    h = np.concatenate([hh[s] for (_, _, hh, _), s in zip(raw, nzsel)]) if raw else \
        np.empty((0, 2), np.uint64)
    if len(h):
        keys = np.ascontiguousarray(h).view(np.dtype((np.void, 16))).ravel()
        _, first, group = np.unique(keys, return_index=True, return_inverse=True)
        group = group.ravel().astype(np.int64)
        ids = _verify(images, owner, gppn_of, group, first, pool) if verify else group
        ids = ids + 1
    else:
        ids = np.empty(0, np.int64)
    out = []
    pos = 0
    for im, (g, z, _, s), sel in zip(images, raw, nzsel):
        content = np.zeros(len(g), np.int64)
        content[sel] = ids[pos:pos + len(sel)]
        pos += len(sel)
        out.append(ImageScan(im, g, z, s, content))
    return out


def summarize(scans: Sequence[ImageScan]) -> dict:
    per = [s.summary() for s in scans]
    pages = sum(p["pages"] for p in per)
    allc = np.concatenate([s.content for s in scans]) if scans else np.empty(0, np.int64)
    distinct = int(len(np.unique(allc)))
    return {"pages": pages, "zero": sum(p["zero"] for p in per), "distinct": distinct,
            "reclaimable": pages - distinct,
            "lz4_le_2k": sum(p["lz4_le_2k"] for p in per),
            "lz4_le_1k": sum(p["lz4_le_1k"] for p in per),
            "images": per}


def analyze(paths: Iterable[str | os.PathLike], progress: Progress | None = None, **kw) -> dict:
    """Open the images at ``paths``, scan them, return the summary dict (see module doc)."""
    images = [open_image(p) for p in paths]
    try:
        return summarize(scan(images, progress, **kw))
    finally:
        for im in images:
            im.close()
