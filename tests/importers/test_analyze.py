"""analyze(): sharing and LZ4 numbers checked against a slow independent computation."""
from __future__ import annotations

import hashlib

import lz4.block
import numpy as np
import pytest

from vmmemviz.importers.analyze import ZERO_LZ4, _chunk_stats, analyze, scan

PAGE = 4096
KEYS = {"pages", "zero", "distinct", "reclaimable", "lz4_le_2k", "lz4_le_1k", "images"}


def slow_stats(paths):
    """Plain file reads, sha256 per page, lz4 per page (also for zero pages): no importer code."""
    total = {"pages": 0, "zero": 0, "lz4_le_2k": 0, "lz4_le_1k": 0}
    everything, per = set(), []
    zero = bytes(PAGE)
    for path in paths:
        seen = set()
        st = dict.fromkeys(total, 0)
        with open(path, "rb") as f:
            while page := f.read(PAGE):
                d = hashlib.sha256(page).digest()
                seen.add(d)
                st["pages"] += 1
                st["zero"] += page == zero
                n = len(lz4.block.compress(page, store_size=False))
                st["lz4_le_2k"] += n <= 2048
                st["lz4_le_1k"] += n <= 1024
        everything |= seen
        st["distinct"] = len(seen)
        st["reclaimable"] = st["pages"] - len(seen)
        per.append(st)
        for k in total:
            total[k] += st[k]
    total["distinct"] = len(everything)
    total["reclaimable"] = total["pages"] - len(everything)
    return total, per


def test_analyze_matches_slow_computation_cross_image(images):
    paths = [str(images["a"].with_suffix(".raw")), str(images["b"].with_suffix(".raw"))]
    got = analyze(paths)
    assert set(got) == KEYS
    want, want_per = slow_stats(paths)
    assert {k: got[k] for k in want} == want
    for g, w, p in zip(got["images"], want_per, paths):
        assert g["path"] == p and g["kind"] == "raw"
        assert {k: g[k] for k in w} == w
    # a guest with 8 MB of tmpfs content and a booted kernel: not all zero, not all distinct
    assert 0 < got["zero"] < got["pages"] and got["distinct"] < got["pages"] - got["zero"]


def test_identical_vms_share_more_across_images(images):
    """Two dumps made with the same arguments: sharing across them reclaims more than sharing
    inside each image (kernel text, identical files, the same text pages)."""
    r = analyze([images["a"].with_suffix(".elf"), images["b"].with_suffix(".elf")])
    inside = sum(i["reclaimable"] for i in r["images"])
    assert r["reclaimable"] > inside + 2000
    assert r["distinct"] < sum(i["distinct"] for i in r["images"])
    assert r["pages"] == sum(i["pages"] for i in r["images"])
    # the same image twice: everything of the second one is reclaimable
    a = images["a"].with_suffix(".elf")
    twice = analyze([a, a])
    one = twice["images"][0]
    assert twice["distinct"] == one["distinct"] and twice["reclaimable"] == 2 * one["pages"] - one["distinct"]


def test_hash_collision_does_not_merge_different_pages(tmp_path):
    """Pages built to collide in the 128-bit linear hash still count as distinct."""
    rng = np.random.default_rng(7)
    a = rng.integers(0, 2**63, 512, dtype=np.uint64)
    b = a.copy()
    b[:2] ^= np.uint64(1 << 63)   # top bit of two words: both linear hashes collide
    pages = np.stack([a, b, a, np.zeros(512, np.uint64)]).view(np.uint8)
    _, h, _ = _chunk_stats(pages)
    assert np.array_equal(h[0], h[1]), "the crafted pages should collide in the hash"
    p = tmp_path / "collide.raw"
    p.write_bytes(pages.tobytes())
    r = analyze([p])
    assert (r["pages"], r["zero"], r["distinct"], r["reclaimable"]) == (4, 1, 3, 1)
    s = scan([str(p)])[0]
    assert s.content[0] == s.content[2] != s.content[1] and s.content[3] == 0


def test_scan_content_ids_and_lz4(images, tmp_path):
    path = images["b"].with_suffix(".raw")
    s = scan([str(path)], workers=1)[0]
    im = s.image
    assert np.array_equal(s.gppn, im.page_numbers())
    assert ZERO_LZ4 == len(lz4.block.compress(bytes(PAGE), store_size=False))
    rng = np.random.default_rng(3)
    nz = np.flatnonzero(~s.zero)
    for i in rng.choice(nz, 40, replace=False).tolist():
        page = im.page(int(s.gppn[i]))
        assert s.lz4[i] == len(lz4.block.compress(page, store_size=False))
        same = np.flatnonzero(s.content == s.content[i])
        assert all(im.page(int(s.gppn[j])) == page for j in same[:5])
    # ids of different content differ: check a sample of pairs
    for i, j in rng.choice(nz, (40, 2)).tolist():
        assert (s.content[i] == s.content[j]) == (im.page(int(s.gppn[i])) == im.page(int(s.gppn[j])))
    assert np.all(s.content[s.zero] == 0) and np.all(s.content[~s.zero] > 0)


def test_progress_and_workers_agree(images):
    path = images["a"].with_suffix(".elf")
    calls = []
    one = analyze([path], progress=lambda d, t: calls.append((d, t)), workers=1, chunk_pages=1000)
    two = analyze([path], workers=2)
    assert one == two
    assert calls[-1][0] == calls[-1][1] == one["pages"]
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and len(calls) > 10


@pytest.mark.parametrize("verify", [True, False])
def test_empty_list(verify):
    r = analyze([], verify=verify)
    assert r == {"pages": 0, "zero": 0, "distinct": 0, "reclaimable": 0, "lz4_le_2k": 0,
                 "lz4_le_1k": 0, "images": []}


def test_scan_at_lookup(images):
    s = scan([str(images["a"].with_suffix(".elf"))])[0]
    g = s.gppn[[0, 5, 1000, -1]]
    content, sizes = s.at(g)
    assert np.array_equal(content, s.content[[0, 5, 1000, -1]])
    assert np.array_equal(sizes, s.lz4[[0, 5, 1000, -1]])
    with pytest.raises(KeyError):
        s.at([0xA0])   # the VGA window 0xa0000: not RAM in the ELF core


def test_no_qt_imported():
    import subprocess
    import sys

    code = ("import sys, vmmemviz.importers, vmmemviz.importers.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unaligned_elf_offsets_same_numbers(tmp_path):
    """PT_LOAD data at an odd file offset (after a 5-byte note) gives the same numbers as the
    same pages in a raw image."""
    from . import builders as B

    rng = np.random.default_rng(11)
    pages = np.zeros((64, PAGE), np.uint8)
    pages[:20] = rng.integers(0, 256, (20, PAGE), dtype=np.uint8)
    pages[20:40] = pages[:20]
    pages[40:50] = np.frombuffer((b"compressible text " * 300)[:PAGE], np.uint8)
    raw = tmp_path / "p.raw"
    raw.write_bytes(pages.tobytes())
    elf = tmp_path / "p.elf"
    elf.write_bytes(B.elf_core([(0, pages.tobytes())], notes=b"\x01" * 5))
    from vmmemviz.importers.images import open_image
    im = open_image(elf)
    assert im.regions[0].offset % 8 != 0
    a, b = analyze([raw]), analyze([elf])
    for k in ("pages", "zero", "distinct", "reclaimable", "lz4_le_2k", "lz4_le_1k"):
        assert a[k] == b[k], k
    assert (a["zero"], a["distinct"]) == (14, 22)
