"""Snapshot of a live Linux process's memory: ``snapshot(pid)``.

Reads ``/proc/PID/maps`` (``start-end perms offset dev inode path``), ``/proc/PID/pagemap``
(one u64 per virtual page: bits 0-54 PFN, 55 soft-dirty, 56 exclusively mapped, 61 file
page or shared anon, 62 swapped, 63 present), then ``/proc/kpageflags`` and
``/proc/kpagecount`` (one u64 per PFN: flags as in include/uapi/linux/kernel-page-flags.h,
and how many times the frame is mapped). These files report size 0 and need 8-byte
aligned reads, so they are read with pread in runs. PFNs and page flags need root
(CAP_SYS_ADMIN); without it, or without the files, InputError says what is missing.
Mappings without any access (``---p``) are listed with empty arrays, not read.
"""
from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np

from vmmemviz.errors import InputError
from vmmemviz.inputfile import open_input

PAGE_SHIFT = 12
PFN_MASK = (1 << 55) - 1
KPF = {"LOCKED": 0, "ERROR": 1, "REFERENCED": 2, "UPTODATE": 3, "DIRTY": 4, "LRU": 5,
       "ACTIVE": 6, "SLAB": 7, "WRITEBACK": 8, "RECLAIM": 9, "BUDDY": 10, "MMAP": 11, "ANON": 12,
       "SWAPCACHE": 13, "SWAPBACKED": 14, "COMPOUND_HEAD": 15, "COMPOUND_TAIL": 16, "HUGE": 17,
       "UNEVICTABLE": 18, "HWPOISON": 19, "NOPAGE": 20, "KSM": 21, "THP": 22, "OFFLINE": 23,
       "BALLOON": 23, "ZERO_PAGE": 24, "IDLE": 25, "PGTABLE": 26}
MAX_PAGES = 1 << 24   # 64 GiB of mapped address space read per snapshot by default


@dataclass
class Mapping:
    """One line of /proc/PID/maps and per-page arrays over its pages (gvpn ascending)."""

    start: int
    end: int
    perms: str
    offset: int
    dev: str
    inode: int
    path: str
    gvpn: np.ndarray = field(repr=False)      # uint64 virtual page numbers
    present: np.ndarray = field(repr=False)   # bool
    swapped: np.ndarray = field(repr=False)   # bool
    soft_dirty: np.ndarray = field(repr=False)
    exclusive: np.ndarray = field(repr=False)
    file_shared: np.ndarray = field(repr=False)
    pfn: np.ndarray = field(repr=False)       # uint64, 0 where not present
    flags: np.ndarray = field(repr=False)     # uint64 kpageflags, 0 where not present
    mapcount: np.ndarray = field(repr=False)  # uint64 kpagecount, 0 where not present
    skipped: bool = False   # not read (no access rights, e.g. guard pages): arrays are empty

    def has(self, flag: str) -> np.ndarray:
        """Per-page bool: kpageflags bit ``flag`` (e.g. "ZERO_PAGE", "THP", "KSM", "ANON")."""
        return (((self.flags >> np.uint64(KPF[flag])) & np.uint64(1)) == 1) & self.present

    @property
    def pages(self) -> int:
        return len(self.gvpn)


@dataclass
class Snapshot:
    pid: int
    mappings: list[Mapping]

    def totals(self) -> dict:
        """Counts of pages over all mappings: present, swapped, zero_page, thp, ksm, anon, shared."""
        out = dict.fromkeys(("pages", "present", "swapped", "zero_page", "thp", "ksm", "anon",
                             "shared"), 0)
        for m in self.mappings:
            out["pages"] += m.pages
            out["present"] += int(m.present.sum())
            out["swapped"] += int(m.swapped.sum())
            out["zero_page"] += int(m.has("ZERO_PAGE").sum())
            out["thp"] += int(m.has("THP").sum())
            out["ksm"] += int(m.has("KSM").sum())
            out["anon"] += int(m.has("ANON").sum())
            out["shared"] += int((m.mapcount > 1).sum())
        return out


def _open(path: str, what: str):
    return open_input(path, missing=f"missing: {what}",
                      denied=f"permission denied: {what} needs root (CAP_SYS_ADMIN); run as root")


def _pread_u64(fd: int, first: int, count: int) -> np.ndarray:
    """Read ``count`` u64 entries from index ``first``; entries past a short read are 0."""
    out = np.zeros(count, np.uint64)
    done = 0
    while done < count:
        n = min(count - done, 1 << 20)
        try:
            buf = os.pread(fd, n * 8, (first + done) * 8)
        except OSError:
            break
        if not buf:
            break
        k = len(buf) // 8
        out[done:done + k] = np.frombuffer(buf[:k * 8], np.uint64)
        done += k
    return out


def _read_by_pfn(fd: int, pfns: np.ndarray) -> np.ndarray:
    """kpageflags / kpagecount values for sorted unique PFNs, read in runs."""
    out = np.zeros(len(pfns), np.uint64)
    if not len(pfns):
        return out
    breaks = np.flatnonzero(np.diff(pfns) > 64) + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, len(pfns)]
    for s, e in zip(starts.tolist(), ends.tolist()):
        lo, hi = int(pfns[s]), int(pfns[e - 1])
        vals = _pread_u64(fd, lo, hi - lo + 1)
        out[s:e] = vals[(pfns[s:e] - lo).astype(np.int64)]
    return out


def parse_maps(path: str) -> list[tuple]:
    with open_input(path, missing="missing: no such process",
                    denied="permission denied: run as root or as the process's user") as f:
        text = f.read()
    rows = []
    for n, line in enumerate(text.decode("utf-8", "replace").splitlines(), 1):
        parts = line.split(None, 5)
        try:
            a, b = parts[0].split("-")
            start, end = int(a, 16), int(b, 16)
            perms, off, dev, inode = parts[1], int(parts[2], 16), parts[3], int(parts[4])
        except (ValueError, IndexError):
            raise InputError(f"{path}:{n}: expected 'start-end perms offset dev inode path', "
                             f"got {line[:60]!r}") from None
        if end < start or start % 4096 or end % 4096:
            raise InputError(f"{path}:{n}: expected page-aligned start <= end, got {parts[0]}")
        rows.append((start, end, perms, off, dev, inode, parts[5] if len(parts) > 5 else ""))
    return rows


def snapshot(pid: int, proc: str = "/proc", max_pages: int = MAX_PAGES) -> Snapshot:
    """Read the page state of every mapping of process ``pid`` (see module doc)."""
    pid = int(pid)
    rows = parse_maps(f"{proc}/{pid}/maps")
    flags_path, count_path = f"{proc}/kpageflags", f"{proc}/kpagecount"
    with ExitStack() as files:
        fd_pm, fd_fl, fd_ct = (files.enter_context(_open(p, what)).fileno() for p, what in (
            (f"{proc}/{pid}/pagemap", "the page map of the process"),
            (flags_path, "page flags (CONFIG_PROC_PAGE_MONITOR)"),
            (count_path, "page map counts (CONFIG_PROC_PAGE_MONITOR)")))
        total = sum((e - s) >> PAGE_SHIFT for s, e, perms, *_ in rows if perms[:3] != "---")
        if total > max_pages:
            raise InputError(f"{proc}/{pid}/maps: {total} mapped pages, more than the limit of "
                             f"{max_pages}; pass a larger max_pages")
        raw = []
        for s, e, perms, *_ in rows:
            n = (e - s) >> PAGE_SHIFT
            raw.append(_pread_u64(fd_pm, s >> PAGE_SHIFT, n) if perms[:3] != "---"
                       else np.empty(0, np.uint64))
        allpm = np.concatenate(raw) if raw else np.empty(0, np.uint64)
        present = (allpm >> np.uint64(63)) & np.uint64(1) == 1
        pfn_all = np.where(present, allpm & np.uint64(PFN_MASK), np.uint64(0))
        if present.any() and not pfn_all.any():
            raise InputError(f"{proc}/{pid}/pagemap: page frame numbers read as 0: they need root "
                             f"(CAP_SYS_ADMIN); run as root")
        upfn = np.unique(pfn_all[present])
        fl = _read_by_pfn(fd_fl, upfn)
        ct = _read_by_pfn(fd_ct, upfn)
    idx = np.searchsorted(upfn, pfn_all) if len(upfn) else np.zeros(len(pfn_all), np.int64)
    idx = np.minimum(idx, max(len(upfn) - 1, 0))
    flags_all = np.where(present, fl[idx] if len(upfn) else np.uint64(0), np.uint64(0))
    count_all = np.where(present, ct[idx] if len(upfn) else np.uint64(0), np.uint64(0))
    maps = []
    pos = 0
    one = np.uint64(1)
    for (s, e, perms, off, dev, inode, path), pm in zip(rows, raw):
        n = len(pm)
        sl = slice(pos, pos + n)
        pos += n
        maps.append(Mapping(
            s, e, perms, off, dev, inode, path,
            gvpn=np.arange(s >> PAGE_SHIFT, (s >> PAGE_SHIFT) + n, dtype=np.uint64),
            present=present[sl], swapped=(pm >> np.uint64(62)) & one == 1,
            soft_dirty=(pm >> np.uint64(55)) & one == 1, exclusive=(pm >> np.uint64(56)) & one == 1,
            file_shared=(pm >> np.uint64(61)) & one == 1, pfn=pfn_all[sl],
            flags=flags_all[sl], mapcount=count_all[sl], skipped=perms[:3] == "---"))
    return Snapshot(pid, maps)
