"""Page content: every page holds a content id (CID); the store turns a CID into 4 KiB of bytes.

A CID is a uint32 whose top two bits name its class:

* ``ZERO``   -- the all-zero page (CID 0 only). Windows zeroes all of its memory at boot.
* ``OS``     -- page *i* of a guest OS image (kernel text, libraries). Two VMs of the same
  OS hold byte-identical OS pages: what inter-VM transparent page sharing finds. Also page
  *i* of an application's image (``app_cid``: its binary and the data files it reads), the
  same in every VM that runs an application of that name.
* ``TEXT``   -- heap, data, page tables: private to one VM.
* ``RANDOM`` -- encrypted or compressed data: incompressible, never identical by chance.

Bytes are produced deterministically from the CID (same CID, same bytes, in every run), so
page sharing compares real bytes and memory compression runs real LZ4 on them. OS and TEXT
bytes are real guest pages: the corpus ``resources/corpus/linux-guest-pages.npz`` (built by
``tools/make_corpus.py`` from two boots of a Linux guest) holds distinct pages of its OS image
(the kernel and pages identical in both boots) and of its private memory (pages found in one
boot only). OS page *i* is corpus page *i*; past the corpus, and for other OS kinds and
application images, a corpus page is stamped with the CID in its first 8 bytes (unique bytes,
almost the same LZ4 size). TEXT page *s* is a text corpus page stamped the same way. So LZ4
sizes (1 KiB and 2 KiB slots, pages sent to the swap file) are those of real pages.

Real guest memory: a VM whose scenario names an ``image`` takes its pages from that file
(``register_image``). Its pages are OS-class CIDs with source ``IMAGE_SOURCE0 + slot`` and
the GPPN as index; zero pages become CID 0 and pages with equal bytes one canonical CID
(``canonical``). Their class (for colours) comes from their bytes: zero, compressible
(LZ4 to 2 KiB or less: shown as TEXT) or incompressible (RANDOM).
"""
from __future__ import annotations

import threading
import zlib
from functools import lru_cache

import numpy as np

from vmmemviz.assets import asset

PAGE_SIZE = 4096
CLASS_SHIFT = 30
ZERO, OS, TEXT, RANDOM = 0, 1, 2, 3
CLASS_NAMES = ("zero", "os", "text", "random")
ZERO_CID = 0
UNIQUE_MASK = (1 << CLASS_SHIFT) - 1
OS_KINDS = ("linux", "windows", "app")
OS_INDEX_BITS = 24
APP_NAME_BITS = 8


def os_cid(os_kind: str, index):
    """CID of page ``index`` of the image of guest OS ``os_kind`` (vectorised over index)."""
    k = OS_KINDS.index(os_kind)
    return (np.uint32(OS << CLASS_SHIFT) | np.uint32(k << OS_INDEX_BITS)
            | (np.asarray(index, dtype=np.uint32) & np.uint32((1 << OS_INDEX_BITS) - 1)))


def app_cid(app_name: str, index):
    """CID of page ``index`` of the image of application ``app_name`` (its binary and input
    files): identical in every VM that runs an application of that name."""
    tag = zlib.crc32(app_name.encode()) & ((1 << APP_NAME_BITS) - 1)
    bits = OS_INDEX_BITS - APP_NAME_BITS
    return os_cid("app", np.uint32(tag << bits) | (np.asarray(index, np.uint32) & np.uint32((1 << bits) - 1)))


def unique_cid(cls: int, serial):
    """CID of a fresh page of class TEXT or RANDOM with serial number ``serial``."""
    return np.uint32(cls << CLASS_SHIFT) | (np.asarray(serial, dtype=np.uint32) & np.uint32(UNIQUE_MASK))


IMAGE_SOURCE0 = 32
_IMAGES: dict = {}    # source -> (image, canonical CID per GPPN, class per GPPN)


def register_image(slot: int, image, scan, pages: int) -> int:
    """Make guest image ``image`` (with its ``importers.analyze`` scan) the content of
    GPPNs 0..pages-1 of source ``IMAGE_SOURCE0 + slot``; returns that source."""
    source = IMAGE_SOURCE0 + slot
    canon = np.zeros(pages, np.uint32)
    cls = np.zeros(pages, np.uint8)
    inside = scan.gppn < pages
    g, ids, lz = scan.gppn[inside], scan.content[inside], scan.lz4[inside]
    rep = np.empty(len(g), np.int64)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.searchsorted(sorted_ids, sorted_ids, side="left")
    rep[order] = g[order[starts]]                 # lowest GPPN holding the same bytes
    canon[g] = np.where(ids == 0, ZERO_CID, image_cid(source, rep))
    cls[g] = np.where(ids == 0, ZERO, np.where(lz <= 2048, TEXT, RANDOM))
    _IMAGES[source] = (image, canon, cls)
    page_bytes.cache_clear()
    return source


def image_cid(source: int, gppn):
    return (np.uint32(OS << CLASS_SHIFT) | np.uint32(source << OS_INDEX_BITS)
            | np.asarray(gppn, np.uint32))


def _image_parts(cids):
    c = np.asarray(cids, np.uint32)
    src = (c >> np.uint32(OS_INDEX_BITS)) & np.uint32(63)
    is_img = ((c >> np.uint32(CLASS_SHIFT)) == OS) & (src >= IMAGE_SOURCE0)
    return c, src, is_img, c & np.uint32((1 << OS_INDEX_BITS) - 1)


def canonical(cids):
    """Image CIDs mapped to their canonical CID (0 for zero pages); others unchanged."""
    c, src, is_img, g = _image_parts(cids)
    if not _IMAGES or not is_img.any():
        return c
    out = c.copy()
    for s in np.unique(src[is_img]):
        sel = is_img & (src == s)
        out[sel] = _IMAGES[int(s)][1][g[sel]]
    return out


def content_class(cid):
    """Class of one CID or of an array of CIDs (image pages: by their bytes)."""
    c = np.asarray(cid, dtype=np.uint32)
    cls = c >> np.uint32(CLASS_SHIFT)
    if not _IMAGES:
        return cls
    c, src, is_img, g = _image_parts(c)
    if not is_img.any():
        return cls
    cls = np.array(cls, np.uint32)
    for s in np.unique(src[is_img]):
        sel = is_img & (src == s)
        cls[sel] = _IMAGES[int(s)][2][g[sel]]
    return cls if cls.ndim else cls[()]


def build_page_bytes(cid: int) -> bytes:
    """The 4 KiB a page with this CID holds, built anew (``page_bytes`` caches them)."""
    cid = int(cid)
    cls = cid >> CLASS_SHIFT
    if cid == ZERO_CID:
        return bytes(PAGE_SIZE)
    src = (cid >> OS_INDEX_BITS) & 63
    if cls == OS and src >= IMAGE_SOURCE0:
        return _IMAGES[src][0].page(cid & ((1 << OS_INDEX_BITS) - 1))
    if cls == RANDOM:
        return _random_page(cid)
    os_page = cls == OS and src == 0
    pages = corpus()["os" if cls == OS and src != OS_KINDS.index("app") else "text"]
    index = cid & (UNIQUE_MASK if cls == TEXT else (1 << OS_INDEX_BITS) - 1)
    if os_page and index < len(pages):
        return pages[index].tobytes()           # the Linux image as it was in memory
    page = memoryview(pages[(index * 2654435761) % len(pages)])
    return (cid | (1 << 63)).to_bytes(8, "little") + page[8:]        # stamped with the CID


page_bytes = lru_cache(maxsize=65536)(build_page_bytes)


_M32, _M128 = (1 << 32) - 1, (1 << 128) - 1
_PCG64_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_PCG = threading.local()          # one PCG64 per thread, set to each random page's state


def _powers(first: int, mult: int, n: int) -> list:
    out = [first]
    for _ in range(n):
        out.append((out[-1] * mult) & _M32)
    return out


# numpy's SeedSequence with a pool of 4 words: its hash constants follow a fixed sequence
# (INIT_A times MULT_A per hashmix, INIT_B times MULT_B per output word), so they are tables
_HA = _powers(0x43b0d7e5, 0x931e8875, 16)
_HB = _powers(0x8b51f9dd, 0x58f38ded, 8)


def _hashmix(v: int, k: int) -> int:
    """SeedSequence's k-th hashmix of ``v``."""
    v = ((v ^ _HA[k]) * _HA[k + 1]) & _M32
    return v ^ (v >> 16)


_POOL0 = [_hashmix(0, k) for k in (1, 2, 3)]            # the pool past a one-word entropy
_MIXES = [(src, dst, _HA[k], _HA[k + 1])                 # its mixing: every word into every other
          for k, (src, dst) in enumerate(((s, d) for s in range(4) for d in range(4) if s != d), 4)]


def _random_page(cid: int) -> bytes:
    """``np.random.default_rng(cid).integers(0, 256, 4096, uint8)``: PCG64 seeded through
    SeedSequence(cid), its first 512 raw draws little-endian, without building a Generator,
    a SeedSequence and a PCG64 per page (numpy's seeding redone in Python ints)."""
    pool = [_hashmix(cid, 0)] + _POOL0
    for src, dst, ha, hb in _MIXES:
        v = ((pool[src] ^ ha) * hb) & _M32
        r = (0xca01f9dd * pool[dst] - 0x4973f715 * (v ^ (v >> 16))) & _M32
        pool[dst] = r ^ (r >> 16)
    w = [((pool[i % 4] ^ _HB[i]) * _HB[i + 1]) & _M32 for i in range(8)]
    w = [v ^ (v >> 16) for v in w]
    seed = (w[1] << 96) | (w[0] << 64) | (w[3] << 32) | w[2]          # generate_state(4, uint64)
    inc = ((((w[5] << 96) | (w[4] << 64) | (w[7] << 32) | w[6]) << 1) | 1) & _M128
    state = ((inc + seed) * _PCG64_MULT + inc) & _M128                # pcg64_set_seed: srandom_r
    bg = getattr(_PCG, "bg", None)
    if bg is None:
        bg = _PCG.bg = np.random.PCG64(0)
    bg.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0, "uinteger": 0}
    return bg.random_raw(PAGE_SIZE // 8).astype("<u8", copy=False).tobytes()


@lru_cache(maxsize=1)
def corpus() -> dict:
    """Real guest pages per class: ``{"os": uint8[n, 4096], "text": uint8[m, 4096]}``."""
    with np.load(asset("corpus", "linux-guest-pages.npz")) as z:
        return {"os": z["os"], "text": z["text"]}
