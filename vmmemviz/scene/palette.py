"""Colours of the picture: palette codes (what a cell means) and their RGBA per theme.

Band images hold one uint8 code per page; the views colour them through a lookup table
(``lut(theme)``). Okabe-Ito based: one hue per VM for its private pages (a pale tint of
it for the VM's zero pages), yellow for shared (TPS) pages, golden amber for ballooned
pages (hatched by the views), slate teal for guest-swapped ones, free frames dark. Every
reclaimed state stays apart from every VM hue (CIEDE2000, also as deuteranopes, protanopes and
tritanopes see them: tests/scene/test_palette.py). Compressed pages are violet (a page compressed
to 2 KiB takes two 1 KiB units of the cache, drawn deep plum); pages swapped to the host cache
(a store for the whole host) are maroon, a darker kin of the .vswp's brown, chosen to stay apart from
every VM hue and tint in both themes, also as seen with deuteranopia, protanopia and
tritanopia (tests/scene/test_palette.py measures it). The inspected chain is magenta
with a halo, unlike the event's arrows (white / black). A compare outlines the pages that
differ from the other run in ``diff``, pure magenta (paint/marks.py).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

# fixed codes
BG, FREE, HV, SHARED, UNMAPPED, BALLOON, ZIP, SWAP, GSWAP, ZIP2, HOSTCACHE = range(11)
VM_BASE = 16                # VM i: VM_BASE + 2*(i % VM_SLOTS) private, +1 zero page
VM_SLOTS = (256 - VM_BASE) // 2

# Okabe-Ito: orange E69F00, sky blue 56B4E9, bluish green 009E73, yellow F0E442,
# blue 0072B2, vermillion D55E00, reddish purple CC79A7.
# The eighth is aquamarine, not brick red (#B0413E): that was the .vswp's brown to deuteranopes
# (CIEDE2000 2.4) and near the host cache's maroon.
VM_HUES = ("#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8F6BB3", "#5E8C31", "#00D8A8")

THEMES = {
    "dark": {
        "bg": "#1B1E23", "fg": "#E6E8EB", "muted": "#9AA3AD", "grid": "#2E333B",
        BG: "#1B1E23", FREE: "#3A404A", UNMAPPED: "#24282F", HV: "#8A8F98",
        "arrow": "#F2F2F2", "highlight": "#FFFFFF", "chain": "#FF2B8A", "zero_mix": "#FFFFFF",
        "diff": "#FF00FF",
    },
    "light": {
        "bg": "#F7F7F5", "fg": "#1D2127", "muted": "#5E6670", "grid": "#D9DCE0",
        BG: "#F7F7F5", FREE: "#7D8590", UNMAPPED: "#E4E6EA", HV: "#B9C0C8",
        "arrow": "#1D2127", "highlight": "#000000", "chain": "#D4006A", "zero_mix": "#FFFFFF",
        "diff": "#FF00FF",
    },
}
# Ballooned: golden amber, yellower than Okabe-Ito's orange (#E69F00, CIEDE2000 22 from the third VM's
# vermillion, 12.5 to deuteranopes), still apart from shared yellow; guest-swapped: slate teal (was
# khaki #A89040, 4.4 from the seventh VM's olive to protanopes, 15 from ballooned).
COMMON = {SHARED: "#F0E442", BALLOON: "#F0A800", ZIP: "#6A2BE0", ZIP2: "#440055", SWAP: "#8C5A3C",
          GSWAP: "#306058", HOSTCACHE: "#660000"}

# arrow / flow colours by arrow kind (scene.arrows)
ARROW_COLOURS = {"share": "#F0E442", "balloon": "#F0A800", "zip": "#8F5CFF", "swap": "#C07A4F",
                 "gswap": "#109890", "free": "#9AA3AD"}

# event groups (events.Kind.group) -> marker colour on the timeline
GROUP_COLOURS = {"core": "#0072B2", "access": "#56B4E9", "guest": "#009E73", "tps": "#F0E442",
                 "lpage": "#CC79A7", "balloon": "#F0A800", "swap": "#8C5A3C", "zip": "#8F5CFF",
                 "state": "#D55E00"}
GROUP_ORDER = ("access", "core", "guest", "lpage", "tps", "zip", "swap", "balloon", "state")


def hex_rgba(h: str, alpha: int = 255) -> tuple:
    h = h.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha


def _mix(a: str, b: str, t: float) -> str:
    ra, rb = hex_rgba(a), hex_rgba(b)
    return "#" + "".join(f"{round(x + (y - x) * t):02X}" for x, y in zip(ra[:3], rb[:3]))


def vm_hue(i: int) -> str:
    """The colour of VM ``i``'s private pages (hues repeat, darker, past the eighth VM)."""
    base = VM_HUES[i % len(VM_HUES)]
    return _mix(base, "#000000", 0.25 * ((i // len(VM_HUES)) % 3))


def vm_code(i: int, zero: bool = False) -> int:
    return VM_BASE + 2 * (i % VM_SLOTS) + int(zero)


def colour(code: int, theme: str = "dark") -> str:
    """Hex colour of one palette code."""
    t = THEMES[theme]
    if code >= VM_BASE:
        i, zero = divmod(code - VM_BASE, 2)
        hue = vm_hue(i)
        return _mix(hue, t["zero_mix"], 0.62) if zero else hue
    return COMMON.get(code) or t.get(code, t[BG])


@lru_cache(maxsize=4)
def lut(theme: str = "dark") -> np.ndarray:
    """(256, 4) uint8 RGBA lookup table for band images (read-only, shared)."""
    out = np.array([hex_rgba(colour(c, theme)) for c in range(256)], np.uint8)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4)
def lut32(theme: str = "dark") -> np.ndarray:
    """(256,) uint32 0xFFRRGGBB per code: the pixels of an RGB32 image."""
    rgba = lut(theme).astype(np.uint32)
    out = 0xFF000000 | (rgba[:, 0] << 16) | (rgba[:, 1] << 8) | rgba[:, 2]
    out.setflags(write=False)
    return out


# Zoomed out, a pixel stands for a block of cells. A reclaimed page is rare but what a host-scale
# picture is about, so a block holding one shows it (host cache, .vswp, guest swap, compressed,
# ballooned: the most notable first); any other block shows its first cell, so private, shared,
# zero and free pages keep their share of the picture (ranked, sharing and private pages
# above the rest, they painted whole VMs in one colour).
NOTABLE = (HOSTCACHE, SWAP, GSWAP, ZIP2, ZIP, BALLOON)       # most notable first
LOD_NOTE = "zoomed out, a pixel shows any reclaimed page it covers"
NOTABLE_RANK = 256 - len(NOTABLE)     # ``lod_order`` ranks of the NOTABLE codes start here


@lru_cache(maxsize=1)
def lod_order() -> tuple:
    """(rank of each code, code of each rank): uint8 tables; ``NOTABLE`` codes rank from
    ``NOTABLE_RANK`` up, the others below by how much they say."""
    vm = list(range(VM_BASE, 256))
    plain = (BG, UNMAPPED, FREE, HV, SHARED, *NOTABLE)
    order = [BG, UNMAPPED, FREE, HV] + [c for c in range(VM_BASE) if c not in plain] + \
        vm[1::2] + [SHARED] + vm[0::2] + list(reversed(NOTABLE))
    code = np.array(order, np.uint8)
    rank = np.empty(256, np.uint8)
    rank[code] = np.arange(256, dtype=np.uint8)
    rank.setflags(write=False)
    code.setflags(write=False)
    return rank, code


def block_ranks(rank: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Per block of ``rank`` (a band's cells' ranks) starting at ``rows`` x ``cols``: its most
    notable rank if it holds a ``NOTABLE`` code, else the rank of its first cell."""
    top = np.where(rank >= NOTABLE_RANK, rank, np.uint8(0))
    top = np.maximum.reduceat(np.maximum.reduceat(top, rows, axis=0), cols, axis=1)
    return np.where(top > 0, top, rank[np.ix_(rows, cols)])


def most_notable(codes: np.ndarray, step: int) -> np.ndarray:
    """``codes`` (rows, cols) reduced to one code per ``step`` x ``step`` block (the last
    blocks may be smaller): its most notable reclaimed code, else its first cell's."""
    h, w = codes.shape
    if step <= 1 or not h or not w:
        return codes
    rank, code = lod_order()
    return code[block_ranks(rank[codes], np.arange(0, h, step), np.arange(0, w, step))]


# legend rows of the fixed codes, in legend order: (code, label, style)
KEYED = ((SHARED, "shared (TPS)", "fill"), (BALLOON, "ballooned / pinned", "hatch"),
         (ZIP, "compressed (1 KiB in the cache)", "fill"),
         (ZIP2, "compressed to 2 KiB (two 1 KiB units)", "fill"), (SWAP, "swapped (.vswp)", "fill"),
         (HOSTCACHE, "swapped (host cache)", "fill"), (GSWAP, "guest-swapped", "fill"),
         (HV, "hypervisor overhead", "fill"), (FREE, "free / not backed", "fill"),
         (UNMAPPED, "unmapped (guest virtual)", "fill"))

# what each legend row means, for its tooltip (ESXi's names and counters)
MEANING = {
    "shared (TPS)": "one read-only machine page (MPN) that transparent page sharing maps several guest "
                    "pages to; a write to it breaks the sharing (copy-on-write). Counters: SHRD, PSHARE/MB",
    "ballooned / pinned": "guest pages the balloon driver (vmmemctl, VMware Tools) took from the guest OS "
                          "and pinned; ESXi unmapped them and freed their machine pages. Counters: MCTLSZ, "
                          "MEMCTL/MB",
    "compressed (1 KiB in the cache)": "a page chosen for swapping that LZ4 shrank to 1 KiB or less, kept in "
                                       "the VM's compression cache (Mem.MemZipMaxPct). Counters: ZIP/s, ZIP/MB",
    "compressed to 2 KiB (two 1 KiB units)": "a page chosen for swapping that LZ4 shrank to 2 KiB or less "
                                             "(at least 50%): two 1 KiB units of the compression cache",
    "swapped (.vswp)": "a page ESXi swapped to the VM's swap file (.vswp), chosen at random: the hypervisor "
                       "cannot tell which pages the guest uses. Counters: SWCUR, SWR/s, SWW/s",
    "swapped (host cache)": "a page swapped to the host cache (swap to SSD), the faster tier tried first. "
                            "Counters: LLSWR/s, LLSWW/s, LLSWAP/MB",
    "guest-swapped": "a process page the guest OS paged out to its own swap device (a balloon inflating "
                     "with no free guest memory left makes the guest page)",
    "hypervisor overhead": "machine memory ESXi keeps for itself and each VM's overhead (page tables, PMAP, "
                           "frame buffer): not guest memory",
    "free / not backed": "a machine page nobody holds, or a guest page with no machine page behind it yet",
    "unmapped (guest virtual)": "a process's virtual page the guest OS has not mapped to guest physical memory",
    "zero page (pale VM colour)": "a guest page holding only zeros (a fresh or zeroed page): under TPS "
                                  "all of them share one machine page. Counter: ZERO",
    "large page (2 MB)": "512 contiguous machine pages backing a 2 MB guest range (Mem.AllocGuestLargePage), "
                         "broken into small pages under contention (then TPS can share them) and before any "
                         "part is ballooned, compressed or swapped",
}

DIFF_LABEL = "differs from the other run"
HUES_NOTE = "VM hues, repeating past 24 VMs: hover one for its VMs"


def legend_entries(vm_names, theme: str = "dark", used=None, outlines: bool = True, marks: bool = False,
                   note: bool = False, compact: bool = False) -> list:
    """(label, hex colour, style) rows of the legend; style: "fill", "hatch", "outline", "note"
    (text only), "swatch" (the colour alone; the label is for a tooltip). Every VM the picture
    shows is named: VMs whose hues repeat (past the 24th) share a row. ``used``: the palette
    codes the picture shows (None: all), so a figure's legend names only what is in it;
    ``outlines``: whether it shows 2 MB large-page outlines; ``marks``: whether it marks pages
    that differ from another run (a compare); ``note``: say what a zoomed-out pixel shows
    (``LOD_NOTE``); ``compact`` (the window, where the VM columns are labelled and a tooltip
    names a swatch's VMs): when hues repeat, one swatch per hue and ``HUES_NOTE``, a row
    rather than six at 64 VMs."""
    def shows(*codes):
        return used is None or any(c in used for c in codes)
    vms = [i for i in range(len(vm_names)) if shows(vm_code(i), vm_code(i, True))]
    hues = {}
    for i in vms:
        hues.setdefault(colour(vm_code(i), theme), []).append(vm_names[i])
    repeat = compact and len(hues) < len(vms)
    out = [(", ".join(names), col, "swatch" if repeat else "fill") for col, names in hues.items()]
    if repeat:
        out.append((HUES_NOTE, THEMES[theme]["muted"], "note"))
    if shows(*(vm_code(i, True) for i in range(len(vm_names)))):
        out.append(("zero page (pale VM colour)", colour(vm_code(vms[0] if vms else 0, True), theme), "fill"))
    out += [(label, colour(code, theme), style) for code, label, style in KEYED if shows(code)]
    if outlines:
        out.append(("large page (2 MB)", THEMES[theme]["fg"], "outline"))
    if marks:
        out.append((DIFF_LABEL, THEMES[theme]["diff"], "outline"))
    if note:
        out.append((LOD_NOTE, THEMES[theme]["muted"], "note"))
    return out
