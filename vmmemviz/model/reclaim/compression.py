"""Memory compression: pages chosen for swapping are kept compressed in memory if they compress well.

``Mem.MemZipEnable`` = 1 (default). Only pages the hypervisor has already chosen to swap
(swap.py, after share before swap) are considered. Each is compressed with real LZ4 on its
real bytes (``lz4.block.compress(content.page_bytes(cid), store_size=False)``):

* 1 KiB or less: kept in a 1 KiB slot of the VM's compression cache (``ZIP``);
* 2 KiB or less (at least 50% saved): kept in a 2 KiB slot;
* more: not kept; the page goes to the .vswp as usual.

The page's MPN is freed. A guest access to a compressed page faults and the hypervisor
decompresses it into a fresh MPN (``UNZIP``, UNZIP/s).

The cache and its accounting: the cache of a VM is made of real host frames (``mpn_state``
ZIP, owned by the VM), at most ``Mem.MemZipMaxPct`` (default 10%, range 5-100) of the VM's
configured memory. It starts empty and takes a frame when a compressed page fits in none of
the frames it holds (``ZIP_GROW``); a frame it no longer uses is given back at the end of the
second (``ZIP_SHRINK``). A frame is four 1 KiB units; a 2 KiB page takes two units starting
at an even one. Slots are unit indices (frame * 4 + unit) and are taken first fit. When the
cache holds all the frames it may and a page fits nowhere, the oldest compressed page is
decompressed and swapped out until it fits (only pages compressed in earlier passes are
evicted): to the host cache while it has room (``ZIP_EVICT_LL``, counted in LLSWW/s; hostcache.py),
else to the .vswp (``ZIP_EVICT``, counted in SWW/s). The cache's frames count against the VM
(allocation.consumed). CACHESZ is the frames the cache holds, CACHEUSD the units in use;
host ZIP/MB zipped is the uncompressed size of the compressed pages, saved that less the
units they use.

Per VM arrays: ``zip_frame`` (MPN of each cache frame, or NONE), per unit ``zip_size``
(FREE, ONE_K, TWO_K, or TAIL for the second unit of a 2 KiB slot), ``zip_gppn``,
``zip_content`` and ``zip_age`` (order of compression, for eviction), and ``zip_clock``.
"""
from __future__ import annotations

from functools import lru_cache

import lz4.block
import numpy as np

from vmmemviz.model.core import content as C
from vmmemviz.model.core import host as H
from vmmemviz.model.core import counter
from vmmemviz.model.core.events import NONE, by_vm, hx, kind
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.store import Store
from vmmemviz.model.core.units import PAGES_PER_MB, mb
from vmmemviz.model.core.vm import COMPRESSED, MAPPED, restore
from vmmemviz.model.reclaim.hostcache import HostCache

UNITS_PER_FRAME = 4             # 1 KiB units in a 4 KiB frame
FREE, ONE_K, TWO_K, TAIL = 0, 1, 2, 3
KEEP_MAX = 2048                 # bytes: kept only if it compresses to half a page or less


@lru_cache(maxsize=1 << 16)
def compressed_size(cid: int) -> int:
    """Bytes LZ4 compresses the page with content ``cid`` to."""
    return len(lz4.block.compress(C.page_bytes(cid), store_size=False))


def slot_class(nbytes) -> np.ndarray:
    """Units a page compressed to ``nbytes`` takes: 1 (<= 1 KiB), 2 (<= 2 KiB), else 0 (not kept)."""
    nbytes = np.asarray(nbytes)
    return np.where(nbytes <= 1024, ONE_K, np.where(nbytes <= KEEP_MAX, TWO_K, 0))


def max_frames(settings, vm) -> int:
    return max(1, vm.n * settings["Mem.MemZipMaxPct"] // 100)


def release(vm, slots) -> None:
    """Drop compressed pages from the cache (decompressed, evicted, or ballooned)."""
    slots = np.asarray(slots, np.int64)
    two = slots[vm.zip_size[slots] == TWO_K]
    vm.zip_size[slots] = FREE
    vm.zip_size[two + 1] = FREE
    vm.zip_gppn[slots] = NONE
    vm.zip_content[slots] = 0


class CacheStore(Store):
    """The compression cache as a store: slots are 1 KiB units; its frames are host frames
    counted against the VM. Pages are placed by compression's plan (``ZIP`` rows name their
    slot), not by ``put``."""

    ARRAYS = ("zip_frame", "zip_size", "zip_gppn", "zip_content", "zip_age", "zip_clock")
    slot_kib = 1

    def setup_state(self, state, settings) -> None:
        for vm in state.vms:
            f = max_frames(settings, vm)
            vm.zip_frame = np.full(f, NONE, np.uint32)
            vm.zip_size = np.zeros(f * UNITS_PER_FRAME, np.uint8)
            vm.zip_gppn = np.full(f * UNITS_PER_FRAME, NONE, np.uint32)
            vm.zip_content = np.zeros(f * UNITS_PER_FRAME, np.uint32)
            vm.zip_age = np.zeros(f * UNITS_PER_FRAME, np.uint32)
            vm.zip_clock = np.zeros(1, np.uint32)
            vm.ARRAYS = vm.ARRAYS + self.ARRAYS

    def size(self, state, vm) -> int:
        return len(vm.zip_size)

    def occupied(self, state, vm, n: int | None = None) -> np.ndarray:
        return vm.zip_size[:n] != FREE

    def content(self, state, vm, slots) -> np.ndarray:
        return vm.zip_content[slots]

    def release(self, state, vm, slots) -> None:
        release(vm, slots)

    def frames(self, state, vm) -> int:
        return frames_held(vm)

    def wide(self, state, vm, n: int | None = None):
        size = vm.zip_size[:n]
        return (size == TWO_K) | (size == TAIL)


CACHE = CacheStore("zip", "compression cache", COMPRESSED, group="zip")


def units_used(vm) -> int:
    return int(np.count_nonzero(vm.zip_size != FREE))


def tallied_units(tally, vm) -> int:
    """``units_used``, counted once for the VM and the host counters."""
    return tally.once(("zip units", vm.index), lambda: units_used(vm))


def frames_held(vm) -> int:
    return int(np.count_nonzero(vm.zip_frame != NONE))


@kind(80, "ZIP_GROW", "zip", "Memory compression: the VM's compression cache takes a machine page to "
      "hold compressed pages. It grows as needed, up to Mem.MemZipMaxPct (10%) of the VM's memory.")
def apply_zip_grow(state, rows):
    mpn = state.host.peek_free(len(rows))
    for vm, sel in by_vm(state, rows):
        state.host.take(mpn[sel], H.ZIP, vm.index, NONE, 0)
        vm.zip_frame[rows["aux"][sel]] = mpn[sel]
    rows["mpn"] = mpn


@apply_zip_grow.narrator
def _(row, names):
    return (f"{names[row['vm']]}'s compression cache grew: it took MPN {hx(row['mpn'])} as its frame "
            f"{int(row['aux'])} (four 1 KiB units).")


@kind(81, "ZIP", "zip", "Memory compression: a page chosen for swapping compresses to 2 KB or less (at "
      "least 50%), so instead of going to disk it is kept compressed in the VM's compression cache in "
      "host memory, and its machine page is freed.", src="mp", dst="zip", flow="zip")
def apply_zip(state, rows):
    for vm, sel in by_vm(state, rows):
        g = rows["gppn"][sel].astype(np.int64)
        assert (vm.gp_state[g] == MAPPED).all(), "compression of a page not held privately"
        slots = rows["slot"][sel].astype(np.int64)
        cls = slot_class(rows["aux"][sel])
        mpn = vm.gp_loc[g].astype(np.int64)
        content = state.host.mpn_content[mpn]
        vm.zip_size[slots] = cls
        vm.zip_size[slots[cls == TWO_K] + 1] = TAIL
        vm.zip_gppn[slots] = g
        vm.zip_content[slots] = content
        vm.zip_age[slots] = vm.zip_clock[0] + np.arange(len(g), dtype=np.uint32)
        vm.zip_clock[0] += len(g)
        state.host.release(mpn)
        vm.gp_state[g] = COMPRESSED
        vm.gp_loc[g] = slots
        rows["mpn"][sel] = mpn
        rows["content"][sel] = content


@apply_zip.narrator
def _(row, names):
    return (f"LZ4 compressed {names[row['vm']]}'s GPPN {hx(row['gppn'])} to {int(row['aux'])} bytes, so the "
            f"hypervisor kept it in a {int(slot_class(row['aux']))} KiB slot ({hx(row['slot'])}) of the "
            f"compression cache instead of swapping it, and freed MPN {hx(row['mpn'])}.")


@kind(82, "UNZIP", "zip", "Memory compression: the guest touched a compressed page; the access faults "
      "and the hypervisor decompresses it into a fresh machine page, far faster than a read from disk.",
      src="zip", dst="mp", flow="zip")
def apply_unzip(state, rows):
    restore(state, rows, CACHE)


@apply_unzip.narrator
def _(row, names):
    return (f"{names[row['vm']]} touched compressed GPPN {hx(row['gppn'])}: the hypervisor decompressed "
            f"cache slot {hx(row['slot'])} into MPN {hx(row['mpn'])}.")


def evict(state, rows, store: str) -> None:
    """Swap out the compressed pages in the rows' cache ``slot``s to the lowest free slots of
    ``store`` (the rows learn them in ``aux``, and the GPPN and content)."""
    to = state.stores[store]
    for vm, sel in by_vm(state, rows):
        slots = rows["slot"][sel].astype(np.int64)
        g = vm.zip_gppn[slots].astype(np.int64)
        assert (vm.gp_state[g] == COMPRESSED).all() and (vm.gp_loc[g] == slots).all(), "eviction of a free slot"
        content = vm.zip_content[slots]
        out = to.put(state, vm, content)
        release(vm, slots)
        vm.gp_state[g] = to.page_state
        vm.gp_loc[g] = out
        rows["gppn"][sel] = g
        rows["content"][sel] = content
        rows["aux"][sel] = out


def evicted(row, names, where: str) -> str:
    return (f"{names[row['vm']]}'s compression cache was full: its oldest page, GPPN {hx(row['gppn'])} in slot "
            f"{hx(row['slot'])}, was decompressed and swapped out to {where} slot {hx(row['aux'])}.")


@kind(83, "ZIP_EVICT", "zip", "Memory compression: the compression cache is full, so its oldest "
      "compressed page is decompressed and written to the swap file to make room.", src="zip", dst="vswp", flow="swap")
def apply_zip_evict(state, rows):
    evict(state, rows, "vswp")


@apply_zip_evict.narrator
def _(row, names):
    return evicted(row, names, ".vswp")


@kind(85, "ZIP_EVICT_LL", "zip", "Memory compression: the compression cache is full, so its oldest "
      "compressed page is decompressed and swapped out to make room: to the host cache (SSD) while it has "
      "room, as every page the hypervisor swaps.", src="zip", dst="hostcache", flow="swap")
def apply_zip_evict_ll(state, rows):
    evict(state, rows, "hostcache")


@apply_zip_evict_ll.narrator
def _(row, names):
    return evicted(row, names, "host cache")


@kind(84, "ZIP_SHRINK", "zip", "Memory compression: a frame of the compression cache holds no compressed "
      "page any more, so the cache gives the machine page back to the host.")
def apply_zip_shrink(state, rows):
    for vm, sel in by_vm(state, rows):
        f = rows["aux"][sel].astype(np.int64)
        mpn = vm.zip_frame[f].astype(np.int64)
        state.host.release(mpn)
        vm.zip_frame[f] = NONE
        rows["mpn"][sel] = mpn


@apply_zip_shrink.narrator
def _(row, names):
    return (f"{names[row['vm']]}'s compression cache gave back MPN {hx(row['mpn'])} (its frame "
            f"{int(row['aux'])} was empty).")


class _Plan:
    """Where a pass of compression puts its pages, worked out on copies of the cache arrays."""

    def __init__(self, vm, spare_frames: int):
        self.free = vm.zip_size == FREE
        self.held = np.repeat(vm.zip_frame != NONE, UNITS_PER_FRAME)
        old = np.flatnonzero((vm.zip_size == ONE_K) | (vm.zip_size == TWO_K))
        self.oldest = old[np.argsort(vm.zip_age[old], kind="stable")].tolist()
        self.sizes = vm.zip_size
        self.spare = spare_frames
        self.grow, self.evict, self.place = [], [], []

    def fit(self, units: int):
        ok = self.free & self.held
        if units == TWO_K:
            ok = ok[0::2] & ok[1::2]
            hit = np.flatnonzero(ok)
            return 2 * int(hit[0]) if len(hit) else None
        hit = np.flatnonzero(ok)
        return int(hit[0]) if len(hit) else None

    def slot_for(self, units: int):
        """A slot for a page of ``units`` units: first fit, else a new frame, else evictions."""
        while True:
            s = self.fit(units)
            if s is not None:
                self.free[s:s + units] = False
                return s
            unheld = np.flatnonzero(~self.held[::UNITS_PER_FRAME])
            if len(unheld) and self.spare > 0:
                f = int(unheld[0])
                self.held[f * UNITS_PER_FRAME:(f + 1) * UNITS_PER_FRAME] = True
                self.grow.append(f)
                self.spare -= 1
            elif self.oldest:
                e = self.oldest.pop(0)
                self.free[e:e + (2 if self.sizes[e] == TWO_K else 1)] = True
                self.evict.append(e)
            else:
                return None


def compress(sim, vm, gppns) -> np.ndarray:
    """Compress what compresses well among ``gppns`` (pages chosen for swapping); return the rest."""
    gppns = np.asarray(gppns, np.int64)
    if not len(gppns):
        return gppns
    nbytes = np.array([compressed_size(int(c)) for c in sim.state.host.mpn_content[vm.gp_loc[gppns]]])
    units = slot_class(nbytes)
    plan = _Plan(vm, sim.state.host.free_count())
    kept = np.zeros(len(gppns), bool)
    for i in np.flatnonzero(units):
        s = plan.slot_for(int(units[i]))
        if s is None:
            break
        plan.place.append((i, s))
        kept[i] = True
    if plan.evict:      # swapped out: to the host cache while it has room, then the .vswp
        cache = sim.mechanism(HostCache)
        k = min(len(plan.evict), cache.room() if cache else 0)
        sim.emit(sim.rows(k, apply_zip_evict_ll.code, vm.index, slot=plan.evict[:k]))
        sim.emit(sim.rows(len(plan.evict) - k, apply_zip_evict.code, vm.index, slot=plan.evict[k:]))
    if plan.grow:
        sim.emit(sim.rows(len(plan.grow), apply_zip_grow.code, vm.index, aux=plan.grow))
    if plan.place:
        i, s = (np.array(x) for x in zip(*plan.place))
        sim.emit(sim.rows(len(i), apply_zip.code, vm.index, gppn=gppns[i], slot=s, aux=nbytes[i]))
    return gppns[~kept]


class Compression(Mechanism):
    """Mechanism: compresses pages on their way to the swap file (``before_swap``, after share
    before swap, on every path: urgent reclaim too), decompresses on access (``fault``), and gives empty
    cache frames back once a second (``tick``, after swapping)."""

    name = "compression"
    after = ("tps", "swap")
    stores = (CACHE,)
    counters = (
        counter.vm("CACHESZ", "MB", "zip", "size of the VM's compression cache (at most Mem.MemZipMaxPct of "
                   "MEMSZ)", "Memory Cache Size MBytes"),
        counter.vm("CACHEUSD", "MB", "zip", "compression cache in use (compressed guest memory)",
                   "Memory Cache Used MBytes"),
        counter.vm("ZIP/s", "MB/s", "zip", "compression rate", "Compressed Memory MBytes/sec"),
        counter.vm("UNZIP/s", "MB/s", "zip", "decompression rate (reads of compressed pages)",
                   "Decompressed Memory MBytes/sec"),
        counter.host("zip_zipped_mb", "ZIP/MB", "zipped", "guest memory held compressed", "Total Compressed MBytes"),
        counter.host("zip_saved_mb", "ZIP/MB", "saved", "machine memory compression saves",
                     "Total Saved By Compression MBytes"),
    )

    def enabled(self):
        return bool(self.sim.settings["Mem.MemZipEnable"])

    def before_swap(self, vm, gppns, urgent):
        return compress(self.sim, vm, gppns)

    def tick(self):
        sim = self.sim
        for vm in sim.vms:
            held = np.flatnonzero(vm.zip_frame != NONE)
            used = (vm.zip_size.reshape(-1, UNITS_PER_FRAME)[held] != FREE).any(axis=1)
            empty = held[~used]
            if len(empty):
                sim.emit(sim.rows(len(empty), apply_zip_shrink.code, vm.index, aux=empty))

    def fault(self, vm, gppns, writes):
        z = gppns[vm.gp_state[gppns] == COMPRESSED]
        if len(z):
            self.sim.emit(self.sim.rows(len(z), apply_unzip.code, vm.index, gppn=z))

    @staticmethod
    def vm_values(state, vm, sim, tally):
        return {"CACHESZ": mb(frames_held(vm)), "CACHEUSD": round(tallied_units(tally, vm) / 1024, 2),
                "ZIP/s": tally.rate(vm, apply_zip.code), "UNZIP/s": tally.rate(vm, apply_unzip.code)}

    @staticmethod
    def host_values(state, sim, tally):
        zipped = sum(tally.pages(vm, COMPRESSED) for vm in state.vms)
        used = sum(tallied_units(tally, vm) for vm in state.vms)
        return {"zip_zipped_mb": mb(zipped), "zip_saved_mb": round(zipped / PAGES_PER_MB - used / 1024, 2)}
