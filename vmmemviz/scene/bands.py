"""Bands: the model State as page-grid images, one uint8 palette code per page.

Top to bottom: guest virtual (one grid per process, under its VM), guest physical (one
grid per VM, side by side), machine memory (one grid, full width), backing stores (per VM:
compression cache, .vswp, guest swap). A band's ``layer`` is the layer name
``model.inspect`` uses, so a cell is the reference ``(layer, vm, proc, index)``.

Stores are the model's (``state.stores``, model/core/store.py): every store a mechanism
declares gets a band per VM, sized, filled and titled by the store itself.
The layout (cell positions) depends only on the sizes and the view's shape, so it is
stable while playing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from vmmemviz.model.core import content as C
from vmmemviz.model.guest import guestos as G
from vmmemviz.model.core import host as H
from vmmemviz.model.core import vm as V
from vmmemviz.model.core.store import page_state_name
from . import palette as P

BADGE_MAX = 20000       # shared-frame count badges are sent only up to this many
ASPECT = 1.4            # default width / height of the picture (the view asks for its own)


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

    @property
    def rows(self) -> int:
        return -(-self.count // self.cols)

    def ref(self, index: int) -> tuple:
        return (self.layer, self.vm, self.proc, int(index))

    def index_at(self, x: float, y: float) -> int | None:
        """The page under scene point (x, y), or None."""
        c, r = int(np.floor(x - self.x)), int(np.floor(y - self.y))
        if 0 <= c < self.cols and 0 <= r < self.rows:
            i = r * self.cols + c
            return i if i < self.count else None
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


def _by_state(states: np.ndarray, table: dict) -> np.ndarray:
    codes = np.full(states.shape, P.FREE, np.uint8)
    for s, code in table.items():
        codes += (states == s).view(np.uint8) * np.uint8(code - P.FREE)
    return codes


def _blend(codes: np.ndarray, mask: np.ndarray, other: np.ndarray) -> None:
    """codes[mask] = other[mask], by arithmetic (mod 256): no branches on random masks."""
    codes += mask.view(np.uint8) * (other - codes)


def mp_codes(state) -> np.ndarray:
    h = state.host
    codes = _by_state(h.mpn_state, MP_CODES)
    if len(state.vms) <= P.VM_SLOTS:
        vm = h.mpn_owner * np.uint8(2) + np.uint8(P.VM_BASE)     # NO_VM wraps, but is not private
    else:
        vm = (P.VM_BASE + 2 * (h.mpn_owner.astype(np.int32) % P.VM_SLOTS)).astype(np.uint8)
    vm += (h.mpn_content == C.ZERO_CID).view(np.uint8)
    _blend(codes, h.mpn_state == H.PRIVATE, vm)
    return codes


def gp_codes(state, vm, mp: np.ndarray) -> np.ndarray:
    """A mapped GPPN shows the code of its machine page (``mp``: ``mp_codes``)."""
    codes = _by_state(vm.gp_state, GP_CODES | {s.page_state: STORE_CODES.get(s.group, P.SWAP)
                                               for s in state.stores.values() if s.page_state is not None})
    _blend(codes, vm.gp_state == V.MAPPED, np.take(mp, vm.gp_loc, mode="clip"))
    return codes


def gv_codes(proc, gp: np.ndarray) -> np.ndarray:
    codes = np.full(proc.vpages, P.UNMAPPED, np.uint8)
    res = np.flatnonzero(proc.pt_state == G.RESIDENT)
    codes[res] = gp[proc.pt[res]]
    codes[proc.pt_state == G.GSWAPPED] = P.GSWAP
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
def layout(mp_pages: int, vms: tuple, aspect: float = ASPECT) -> tuple:
    """Slots for every band. ``vms``: per VM (name, gp pages, ((proc name, pages), ...),
    ((store layer, size, shown), ...)). Picks the width (in cells, a multiple of 16) whose
    picture is closest to ``aspect`` (width / height): the picture gets wider as the width
    grows, so a bisection finds it, then its neighbours are compared."""
    lo, hi = 3, (1 << 15) // 16            # widths lo*16 .. hi*16
    while hi - lo > 1:
        mid = (lo + hi) // 2
        _, height = _place(mp_pages, vms, mid * 16)
        lo, hi = (mid, hi) if mid * 16 / height < aspect else (lo, mid)
    best = None
    for w in range(max(3, lo - 2) * 16, (hi + 3) * 16, 16):
        slots, height = _place(mp_pages, vms, w)
        score = abs(np.log(w / height / aspect))
        if best is None or score < best[0]:
            best = (score, slots)
    return best[1]


def _place(mp_pages: int, vms: tuple, w: int):
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
    row_h = 0
    for i, (name, _, _, stores) in enumerate(vms):       # stores stacked under their VM
        h = 0.0
        for layer, title, size, shown in stores:
            # at least a twelfth of the VM's own band high (four rows), or it is invisible
            shown = min(size, max(shown, cw * max(4, vms[i][1] // cw // 12)))
            slots.append(Slot(f"{layer}.{i}", layer, i, None, f"{name} {title}", shown, cw,
                              i * (cw + g), y + h + lab, size))
            h += lab + -(-shown // cw) + g
        row_h = max(row_h, h)
    y += row_h
    if not any(s.vm is not None and s.layer not in ("gv", "gp") for s in slots):
        y -= lab               # no stores: no heading for them
    return tuple(slots), max(y - g, 1.0)


def _stores(state, vm, occupied: dict) -> tuple:
    out = []
    for s in state.stores.values():
        occ = occupied[(vm.index, s.name)] = s.occupied(state, vm)
        used = int(np.flatnonzero(occ)[-1]) + 1 if occ.any() else 0
        size = s.size(state, vm)
        out.append((s.name, s.title, size, shown_slots(size, used)))
    return tuple(out)


def shown_slots(size: int, used: int) -> int:
    """Slots a store band shows: a small store all of it; a large one (a .vswp is as large
    as the VM) the next power of two above what is used, at least 256: stores fill
    lowest-slot-first, and a mostly empty multi-GB file would crowd the picture."""
    if size <= 1024:
        return size
    return min(size, max(256, 1 << max(0, used - 1).bit_length()))


def shape_key(state, occupied: dict) -> tuple:
    """What the layout depends on; fills ``occupied`` with each store's slots in use."""
    return state.host.n_mpn, tuple(
        (vm.name, vm.n, tuple((p.name, p.vpages) for p in vm.procs), _stores(state, vm, occupied))
        for vm in state.vms)


def build_bands(state, aspect: float = ASPECT) -> tuple:
    """Every band of ``state``, laid out for a picture of about ``aspect`` (width / height)."""
    occupied = {}
    mp_pages, vms = shape_key(state, occupied)
    slots = layout(mp_pages, vms, round(aspect, 1))
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
        store = store_of(state, s.layer)
        if store is not None:
            flat = store_codes(s.count, occupied[(s.vm, s.layer)], STORE_CODES.get(store.group, P.SWAP))
        out.append(Band(s.key, s.layer, s.vm, s.proc, s.title, s.count, s.cols, s.x, s.y,
                        _grid(flat, s.cols), badges, outlines, s.total, store.slot_kib if store else 4))
    return tuple(out)


def _badges(h) -> tuple:
    idx = np.flatnonzero(h.mpn_state == H.SHARED)
    if len(idx) > BADGE_MAX:
        return ()
    return tuple(zip(idx.tolist(), h.mpn_refs[idx].tolist()))


def _outlines(h) -> tuple:
    n = h.n_mpn - h.n_mpn % H.LARGE_PAGES
    starts = np.flatnonzero(h.mpn_flags[:n:H.LARGE_PAGES] & H.LARGE) * H.LARGE_PAGES
    return tuple((int(s), H.LARGE_PAGES) for s in starts)


def scene_rect(bands) -> tuple:
    """(x, y, w, h) around every band, its label and its row's heading."""
    w = max(b.x + b.cols for b in bands)
    lab = label_height(int(w))
    top = min(b.y for b in bands) - 2 * lab
    return (0.0, top, w, max(b.y + b.rows for b in bands) - top)


# -- words -------------------------------------------------------------------------------------
def describe(state, ref: tuple, names) -> str:
    """Tooltip text for one page: layer, number, owner, state, content class."""
    layer, vmi, proc, i = ref
    if layer == "mp":
        h = state.host
        st = int(h.mpn_state[i])
        own = int(h.mpn_owner[i])
        lines = [f"machine memory: MPN 0x{i:x}", f"state: {H.MPN_STATE_NAMES[st]}"]
        if own != H.NO_VM:
            lines.append(f"owner: {names[own]}" + (f", GPPN 0x{int(h.mpn_gppn[i]):x}" if st == H.PRIVATE else ""))
        if st == H.SHARED:
            lines.append(f"shared by {int(h.mpn_refs[i])} guest pages")
        if h.mpn_flags[i] & H.LARGE:
            lines.append("part of a 2 MB large page")
        if st in (H.PRIVATE, H.SHARED):
            lines.append(f"content: {C.CLASS_NAMES[int(C.content_class(h.mpn_content[i]))]}")
        return "\n".join(lines)
    vm = state.vms[vmi]
    if layer == "gv":
        p = vm.procs[proc]
        ps = int(p.pt_state[i])
        lines = [f"guest virtual: {names[vmi]} / {p.name}, GVPN 0x{i:x}",
                 "state: " + ("unmapped", "resident", "paged out by the guest")[ps]]
        if ps == G.RESIDENT:
            g = int(p.pt[i])
            return "\n".join(lines + [f"-> GPPN 0x{g:x}"] + describe(state, ("gp", vmi, None, g), names).split("\n")[2:])
        return "\n".join(lines)
    if layer == "gp":
        st = int(vm.gp_state[i])
        lines = [f"guest physical: {names[vmi]}, GPPN 0x{i:x}",
                 f"state: {page_state_name(st)}; guest OS: {G.GUEST_STATE_NAMES[vm.gp_guest[i]]}"]
        loc = int(vm.gp_loc[i])
        if st in (V.MAPPED, V.SHARED):
            lines.append(f"-> MPN 0x{loc:x}")
            lines.append(f"content: {C.CLASS_NAMES[int(C.content_class(state.host.mpn_content[loc]))]}")
        elif state.store_holding(st) is not None:
            lines.append(f"-> {state.store_holding(st).title} slot 0x{loc:x}")
        return "\n".join(lines)
    store = store_of(state, layer)
    occ = store.occupied(state, vm)
    return f"{names[vmi]} {store.title}: slot 0x{i:x}\n" + ("in use" if i < len(occ) and occ[i] else "free")
