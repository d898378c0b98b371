"""Bands: the model State as page-grid images, one uint8 palette code per page.

Top to bottom: guest virtual (one grid per process, under its VM), guest physical (one
grid per VM, side by side), machine memory (one grid, full width), backing stores (per VM:
compression cache, .vswp, guest swap; stacked, or in a column too narrow for their titles
side by side on one label line where that halves their height), then the stores of the
whole host (the host cache), once, full width (narrower beside a large host, so it is not a
hairline). A band's ``layer`` is the layer name ``model.inspect`` uses, so a cell is the
reference ``(layer, vm, proc, index)`` (a host store's cell names the VM whose page
it holds).

Stores are the model's (``state.stores``, model/core/store.py): every store a mechanism
declares gets a band per VM (``Store.per_host``: one for the host), sized, filled and
titled by the store itself. The code functions take an index (``idx``) so a frame can be
built again for the pages that changed only (scene/incremental.py).
The layout (cell positions) depends only on the sizes and the view's shape, so it is
stable while playing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from vmmemviz.model.catalog import MECHANISMS
from vmmemviz.model.core import content as C
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.core import host as H
from vmmemviz.model.core import vm as V
from . import palette as P

BADGE_MAX = 20000       # shared-frame count badges are sent only up to this many
ASPECT = 1.4            # default width / height of the picture (the view asks for its own)
TITLE_WIDTH = 8         # label heights of width a store's title needs to show


@dataclass(frozen=True)
class Band:
    key: str                 # "gv.0.1", "gp.0", "mp", "zip.0", "vswp.0", "gswap.0"
    layer: str               # gv, gp, mp, zip, vswp, gswap (model.inspect layers)
    vm: int | None
    proc: int | None
    title: str
    count: int               # pages; cells past it are padding (palette.BG)
    cols: int
    x: float                 # top-left of the grid, in cells
    y: float
    codes: np.ndarray = field(repr=False)     # (rows, cols) uint8 palette codes
    badges: tuple = ()       # (index, refcount) of shared frames
    outlines: tuple = ()     # (start, length) of large-page groups
    total: int = 0           # a store's full size in slots (0: the band shows all pages)
    slot_kib: int = 4        # KiB a cell stands for (the compression cache counts 1 KiB units)
    owners: np.ndarray | None = field(default=None, repr=False)   # a host store: the VM per slot

    @property
    def rows(self) -> int:
        return -(-self.count // self.cols)

    def ref(self, index: int) -> tuple:
        vm = self.vm if self.owners is None else int(self.owners[index])
        return (self.layer, vm, self.proc, int(index))

    def index_at(self, x: float, y: float) -> int | None:
        """The page under scene point (x, y), or None (also a free slot of a host store: it
        belongs to no VM)."""
        c, r = int(np.floor(x - self.x)), int(np.floor(y - self.y))
        if 0 <= c < self.cols and 0 <= r < self.rows:
            i = r * self.cols + c
            if i < self.count and (self.owners is None or self.owners[i] != H.NO_VM):
                return i
        return None

    def range_rects(self, lo: int, hi: int) -> list:
        """Scene rectangles (x, y, w, h) covering pages lo..hi-1: at most three row spans."""
        lo, hi = max(0, lo), min(self.count, hi)
        if hi <= lo:
            return []
        cols = self.cols
        r0, c0 = divmod(lo, cols)
        r1, c1 = divmod(hi - 1, cols)
        if r0 == r1:
            return [(self.x + c0, self.y + r0, c1 - c0 + 1, 1)]
        out = [(self.x + c0, self.y + r0, cols - c0, 1)]
        if r1 > r0 + 1:
            out.append((self.x, self.y + r0 + 1, cols, r1 - r0 - 1))
        out.append((self.x, self.y + r1, c1 + 1, 1))
        return out


# a store's cells take the colour of its event group
STORE_CODES = {"zip": P.ZIP, "swap": P.SWAP, "guest": P.GSWAP}
MEMORY_LAYERS = ("gv", "gp", "mp")
HOST_STORES = frozenset(s.name for m in MECHANISMS for s in m.stores if s.per_host)


def store_key(layer: str, vm) -> str:
    """The band key of a store: one band per VM, or one for the host."""
    return layer if layer in HOST_STORES else f"{layer}.{vm}"


def store_code(store) -> int:
    """The palette code of a store's cells (and of the pages it holds); a store for the whole
    host (the host cache) has its own."""
    return P.HOSTCACHE if store.per_host else STORE_CODES.get(store.group, P.SWAP)


def is_store(band) -> bool:
    """A band of a backing store (the model's ``state.stores``), not a memory layer."""
    return band.layer not in MEMORY_LAYERS


def band_kib(band) -> int:
    """Size of what a band's cells hold, in KiB: a page, or a store's slot."""
    return band.slot_kib


def store_of(state, layer: str):
    """The model's store (``state.stores``) a store band shows, or None for a memory layer."""
    return state.stores.get(layer)


# -- codes ---------------------------------------------------------------------------------
# Whole-array uint8 arithmetic: a compare, a multiply and an add per state cost ~4 ms on
# 16.7M frames, where a lookup-table take costs ~40 ms and a masked copy ~80 ms.
MP_CODES = {H.HV: P.HV, H.SHARED: P.SHARED, H.ZIP: P.ZIP}            # others: free
GP_CODES = {V.SHARED: P.SHARED, V.BALLOONED: P.BALLOON}      # and each store's page state


ALL = slice(None)         # every page (the code functions' default index)


def _by_state(states: np.ndarray, table: dict) -> np.ndarray:
    codes = np.full(states.shape, P.FREE, np.uint8)
    for s, code in table.items():
        codes += (states == s).view(np.uint8) * np.uint8(code - P.FREE)
    return codes


def _blend(codes: np.ndarray, mask: np.ndarray, other: np.ndarray) -> None:
    """codes[mask] = other[mask], by arithmetic (mod 256): no branches on random masks."""
    codes += mask.view(np.uint8) * (other - codes)


def mp_codes(state, idx=ALL) -> np.ndarray:
    """Codes of the MPNs ``idx`` (default all)."""
    h = state.host
    st, owner = h.mpn_state[idx], h.mpn_owner[idx]
    codes = _by_state(st, MP_CODES)
    if len(state.vms) <= P.VM_SLOTS:
        vm = owner * np.uint8(2) + np.uint8(P.VM_BASE)     # NO_VM wraps, but is not private
    else:
        vm = (P.VM_BASE + 2 * (owner.astype(np.int32) % P.VM_SLOTS)).astype(np.uint8)
    vm += (h.mpn_content[idx] == C.ZERO_CID).view(np.uint8)
    _blend(codes, st == H.PRIVATE, vm)
    return codes


def gp_codes(state, vm, mp: np.ndarray, idx=ALL) -> np.ndarray:
    """Codes of the GPPNs ``idx``: a mapped GPPN shows the code of its machine page (``mp``:
    every MPN's code)."""
    st = vm.gp_state[idx]
    codes = _by_state(st, GP_CODES | {s.page_state: store_code(s)
                                      for s in state.stores.values() if s.page_state is not None})
    _blend(codes, st == V.MAPPED, np.take(mp, vm.gp_loc[idx], mode="clip"))
    return codes


def gv_codes(proc, gp: np.ndarray, idx=ALL) -> np.ndarray:
    """Codes of the GVPNs ``idx`` of ``proc``; ``gp``: every GPPN's code of its VM."""
    st, pt = proc.pt_state[idx], proc.pt[idx]
    codes = np.full(st.shape, P.UNMAPPED, np.uint8)
    res = np.flatnonzero(st == G.RESIDENT)
    codes[res] = gp[pt[res]]
    codes[st == G.GSWAPPED] = P.GSWAP
    return codes


def store_codes(size: int, occupied: np.ndarray, code: int) -> np.ndarray:
    codes = np.full(size, P.FREE, np.uint8)
    n = min(size, len(occupied))
    codes[:n][occupied[:n]] = code
    return codes


def _grid(flat: np.ndarray, cols: int) -> np.ndarray:
    rows = -(-len(flat) // cols)
    out = np.full(rows * cols, P.BG, np.uint8)
    out[:len(flat)] = flat
    return out.reshape(rows, cols)


# -- layout ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    key: str
    layer: str
    vm: int | None
    proc: int | None
    title: str
    count: int
    cols: int
    x: float
    y: float
    total: int = 0           # a store's full size, when the band shows only its used part


def label_height(width: int) -> float:
    """Height of a band's label line, in cells (labels scale with the picture)."""
    return max(4.0, width / 40)


def gap(width: int, columns: int = 1) -> int:
    """Space between bands, in cells: narrower with many VM columns side by side."""
    return max(1, min(round(width / 64), round(width / (12 * columns))))


@lru_cache(maxsize=16)
def layout(mp_pages: int, vms: tuple, aspect: float = ASPECT, host: tuple = (), width: int | None = None) -> tuple:
    """Slots for every band. ``vms``: per VM (name, gp pages, ((proc name, pages), ...),
    ((store layer, title, size, shown), ...)); ``host``: the host's stores, as (store layer,
    title, size, shown). ``width`` (in cells): this width, default ``fit_width``'s."""
    return _place(mp_pages, vms, width or fit_width(mp_pages, vms, aspect, host), host)[0]


@lru_cache(maxsize=16)
def fit_width(mp_pages: int, vms: tuple, aspect: float = ASPECT, host: tuple = ()) -> int:
    """The width (in cells, a multiple of 16) whose picture is closest to ``aspect`` (width /
    height): the picture gets wider as the width grows, so a bisection finds it, then its
    neighbours are compared."""
    lo, hi = 3, (1 << 15) // 16            # widths lo*16 .. hi*16
    while hi - lo > 1:
        mid = (lo + hi) // 2
        _, height = _place(mp_pages, vms, mid * 16, host)
        lo, hi = (mid, hi) if mid * 16 / height < aspect else (lo, mid)
    return min(range(max(3, lo - 2) * 16, (hi + 3) * 16, 16),
               key=lambda w: abs(np.log(w / _place(mp_pages, vms, w, host)[1] / aspect)))


def _place(mp_pages: int, vms: tuple, w: int, host: tuple = ()):
    n = len(vms)
    g, lab = gap(w, n), label_height(w)
    cw = max(4, int((w - g * (n - 1)) // n))
    slots, y = [], lab         # each row of bands starts with a heading line (the layer's name)
    # guest virtual: each VM's processes side by side inside its column
    row_h = 0
    for i, (name, _, procs, _) in enumerate(vms):
        x0 = i * (cw + g)
        if not procs:
            continue
        pw = max(2, int((cw - g * (len(procs) - 1)) // len(procs)))
        for j, (pname, pages) in enumerate(procs):
            slots.append(Slot(f"gv.{i}.{j}", "gv", i, j, f"{name} / {pname}", pages, pw,
                              x0 + j * (pw + g), y + lab))
            row_h = max(row_h, -(-pages // pw))
    if row_h:
        y += lab + row_h + 2 * g + lab
    row_h = 0
    for i, (name, pages, _, _) in enumerate(vms):
        slots.append(Slot(f"gp.{i}", "gp", i, None, name, pages, cw, i * (cw + g), y + lab))
        row_h = max(row_h, -(-pages // cw))
    y += lab + row_h + 2 * g + lab
    mw = n * cw + g * (n - 1)
    slots.append(Slot("mp", "mp", None, None, "machine memory", mp_pages, mw, 0, y + lab))
    y += lab + -(-mp_pages // mw) + 2 * g + lab
    # a VM's stores stacked under it, so their titles show; in a column too narrow for titles
    # (many VMs) side by side on one label line where that halves their height (stacked, the
    # labels of mostly empty stores took more height than their cells)
    row_h = 0.0
    for i, vm in enumerate(vms):
        x0 = i * (cw + g)
        placed = _stores_placed(i, vm, cw, g, lab, x0, y, False)
        if cw < TITLE_WIDTH * lab:
            side = _stores_placed(i, vm, cw, g, lab, x0, y, True)
            placed = side if 2 * side[1] <= placed[1] else placed
        slots += placed[0]
        row_h = max(row_h, placed[1])
    y += row_h
    for layer, title, size, shown in host:   # the host's stores: once, full width when small (a
        rows = max(4, -(-mp_pages // mw) // 12)  # few rows), else at least a 12th of machine memory
        if size <= mw * 4 and 4 * -(-size // mw) >= rows:   # high (four rows); narrower if need be
            cols = mw
        else:          # (a small store beside a large host: full width would be a hairline)
            cols = max(16, min(mw, -(-min(size, max(shown, mw * 4)) // rows)) // 16 * 16)
        shown = min(size, max(shown, cols * rows))
        slots.append(Slot(layer, layer, None, None, f"{title} (all VMs)", shown, cols, 0, y + lab, size))
        y += lab + -(-shown // cols) + g
    if not any(s.layer not in ("gv", "gp", "mp") for s in slots):
        y -= lab               # no stores: no heading for them
    return tuple(slots), max(y - g, 1.0)


def _stores_placed(i: int, vm: tuple, cw: int, g: int, lab: float, x0: float, y: float, side: bool):
    """(slots of VM ``i``'s stores under its column at (``x0``, ``y``), stacked or ``side`` by
    side, and their height); ``vm`` as ``layout`` takes it."""
    name, pages, _, stores = vm
    # rows: at least a twelfth of the VM's own band high (four rows), or it is invisible
    least, h, slots = max(4, pages // cw // 12), 0.0, []
    sw = max(2, int((cw - g * (len(stores) - 1)) // max(1, len(stores)))) if side else cw
    for j, (layer, title, size, shown) in enumerate(stores):
        shown = min(size, max(shown, sw * least))
        rows = -(-shown // sw)
        slots.append(Slot(f"{layer}.{i}", layer, i, None, f"{name} {title}", shown, sw,
                          x0 + (j * (sw + g) if side else 0), y + lab + (0 if side else h), size))
        h = max(h, lab + rows + g) if side else h + lab + rows + g
    return slots, h


def _stores(state, vm, occupied: dict) -> tuple:
    out = []
    for s in state.stores.values():
        if s.per_host:
            continue
        occ = occupied[(vm.index, s.name)] = s.occupied(state, vm)
        out.append((s.name, s.title, s.size(state, vm), _shown(s.size(state, vm), occ)))
    return tuple(out)


def _shown(size: int, occ: np.ndarray) -> int:
    return shown_slots(size, int(np.flatnonzero(occ)[-1]) + 1 if occ.any() else 0)


def _host_stores(state, occupied: dict) -> tuple:
    """The host's stores as (layer, title, size, shown); ``occupied[(None, layer)]`` gets the
    VM holding each slot (NO_VM: free)."""
    out = []
    for s in state.stores.values():
        if not s.per_host:
            continue
        size = s.size(state, state.vms[0]) if state.vms else 0
        owners = np.full(size, H.NO_VM, np.uint8)
        for vm in state.vms:
            owners[s.occupied(state, vm)[:size]] = vm.index
        occupied[(None, s.name)] = owners
        out.append((s.name, s.title, size, _shown(size, owners != H.NO_VM)))
    return tuple(out)


def shown_slots(size: int, used: int) -> int:
    """Slots a store band shows: a small store all of it; a large one (a .vswp is as large
    as the VM) the next power of two above what is used, at least 256: stores fill
    lowest-slot-first, and a mostly empty multi-GB file would crowd the picture."""
    if size <= 1024:
        return size
    return min(size, max(256, 1 << max(0, used - 1).bit_length()))


def shape_key(state, occupied: dict) -> tuple:
    """What the layout depends on: (MPNs, VMs, host stores) as ``layout`` takes them; fills
    ``occupied`` with each store's slots in use."""
    return state.host.n_mpn, tuple(
        (vm.name, vm.n, tuple((p.name, p.vpages) for p in vm.procs), _stores(state, vm, occupied))
        for vm in state.vms), _host_stores(state, occupied)


def store_band(state, s: Slot, occupied: dict) -> Band:
    """The band of one store's slot ``s`` (``occupied``: as ``shape_key`` filled it)."""
    store = store_of(state, s.layer)
    occ = occupied[(s.vm, s.layer)]
    owners = None
    if store.per_host:
        owners = np.full(s.count, H.NO_VM, np.uint8)
        owners[:min(s.count, len(occ))] = occ[:s.count]
        owners.setflags(write=False)
        occ = occ != H.NO_VM
    flat = store_codes(s.count, occ, store_code(store))
    if not store.per_host:
        _two_kib(flat, store.wide(state, state.vms[s.vm]))
    return Band(s.key, s.layer, s.vm, s.proc, s.title, s.count, s.cols, s.x, s.y, _grid(flat, s.cols),
                (), (), s.total, store.slot_kib, owners)


def build_bands(state, aspect: float = ASPECT, known=None) -> tuple:
    """Every band of ``state``, laid out for a picture of about ``aspect`` (width / height);
    ``known``: (``shape_key``, its ``occupied``) when already computed."""
    occupied = {}
    (mp_pages, vms, host), occupied = known or (shape_key(state, occupied), occupied)
    slots = layout(mp_pages, vms, round(aspect, 1), host)
    mp = mp_codes(state)
    gps = {vm.index: gp_codes(state, vm, mp) for vm in state.vms}
    out = []
    for s in slots:
        badges, outlines = (), ()
        if s.layer == "gv":
            flat = gv_codes(state.vms[s.vm].procs[s.proc], gps[s.vm])
        elif s.layer == "gp":
            flat = gps[s.vm]
        elif s.layer == "mp":
            flat = mp
            badges, outlines = _badges(state.host), _outlines(state.host)
        else:
            out.append(store_band(state, s, occupied))
            continue
        out.append(Band(s.key, s.layer, s.vm, s.proc, s.title, s.count, s.cols, s.x, s.y,
                        _grid(flat, s.cols), badges, outlines, s.total))
    return tuple(out)


def _shape(bands, empty_stores: bool) -> tuple:
    """(the bands kept by key, and ``layout``'s MPNs, VMs and host stores) of ``bands``, the
    stores that hold nothing left out unless ``empty_stores``."""
    def empty(b):
        return is_store(b) and not np.any((b.codes != P.FREE) & (b.codes != P.BG))
    keep = {b.key: b for b in bands if empty_stores or not empty(b)}
    gps = sorted((b for b in keep.values() if b.layer == "gp"), key=lambda b: b.vm)
    vms = tuple((g.title, g.count,
                 tuple((b.title.split(" / ", 1)[-1], b.count)
                       for b in sorted((b for b in keep.values() if b.layer == "gv" and b.vm == g.vm),
                                       key=lambda b: b.proc)),
                 tuple((b.layer, b.title, b.total or b.count, b.count)
                       for b in keep.values() if b.vm == g.vm and is_store(b)))
                for g in gps)
    host = tuple((b.layer, b.title, b.total or b.count, b.count)
                 for b in keep.values() if b.vm is None and is_store(b))
    return keep, keep["mp"].count, vms, host


def relayout_width(bands, aspect: float = ASPECT, empty_stores: bool = True) -> int:
    """The width (in cells) ``relayout`` gives ``bands`` for ``aspect``."""
    _, mp_pages, vms, host = _shape(bands, empty_stores)
    return fit_width(mp_pages, vms, round(aspect, 1), host)


def relayout(bands, aspect: float = ASPECT, empty_stores: bool = True, width: int | None = None) -> tuple:
    """``bands`` laid out again for a picture of about ``aspect`` (figures have one shape
    whatever the window's), or ``width`` cells wide, leaving out the stores that hold nothing
    unless ``empty_stores``. Cells, badges and outlines are page indices, so they stay as they are."""
    keep, mp_pages, vms, host = _shape(bands, empty_stores)
    out = []
    for s in layout(mp_pages, vms, round(aspect, 1), host, width):
        old = keep[s.key]
        flat = np.full(s.count, P.FREE, np.uint8)
        n = min(s.count, old.count)
        flat[:n] = old.codes.ravel()[:n]
        owners = None
        if old.owners is not None:
            owners = np.full(s.count, H.NO_VM, np.uint8)
            owners[:n] = old.owners[:n]
        out.append(Band(s.key, s.layer, s.vm, s.proc, old.title, s.count, s.cols, s.x, s.y,
                        _grid(flat, s.cols), old.badges, old.outlines, s.total, old.slot_kib, owners))
    return tuple(out)


def reflow(band: Band, aspect: float = 2.4) -> Band:
    """One band alone, its cells re-wrapped to about ``aspect`` (width / height) at the
    origin: a power-of-two row length, so a 2 MB page (512 cells) stays a block."""
    cols = 1 << max(2, round(np.log2(max(4.0, np.sqrt(band.count * aspect)))))
    flat = band.codes.ravel()[:band.count]
    return Band(band.key, band.layer, band.vm, band.proc, band.title, band.count, cols, 0, 0,
                _grid(flat, cols), band.badges, band.outlines, band.total, band.slot_kib, band.owners)


def _two_kib(flat: np.ndarray, wide) -> None:
    """A page held in two slots (compressed to 2 KiB: two 1 KiB units of the cache): both get ZIP2."""
    if wide is not None:
        n = min(len(flat), len(wide))
        flat[:n][wide[:n]] = P.ZIP2


def _badges(h) -> tuple:
    idx = np.flatnonzero(h.mpn_state == H.SHARED)
    if len(idx) > BADGE_MAX:
        return ()
    return tuple(zip(idx.tolist(), h.mpn_refs[idx].tolist()))


def large_starts(h) -> np.ndarray:
    """The first MPN of every 2 MB large page."""
    n = h.n_mpn - h.n_mpn % H.LARGE_PAGES
    return np.flatnonzero(h.mpn_flags[:n:H.LARGE_PAGES] & H.LARGE) * H.LARGE_PAGES


def outlines_of(starts: np.ndarray) -> tuple:
    return tuple(zip(starts.tolist(), [H.LARGE_PAGES] * len(starts)))


def _outlines(h) -> tuple:
    return outlines_of(large_starts(h))


def scene_rect(bands) -> tuple:
    """(x, y, w, h) around every band, its label and its row's heading."""
    w = max(b.x + b.cols for b in bands)
    lab = label_height(int(w))
    top = min(b.y for b in bands) - 2 * lab
    return (0.0, top, w, max(b.y + b.rows for b in bands) - top)
