"""Guest memory image readers: real QEMU dumps and synthetic / hostile files."""
from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from vmmemviz.errors import InputError
from vmmemviz.importers.elfcore import ElfCoreImage
from vmmemviz.importers.images import open_image
from vmmemviz.importers.rawimage import RawImage
from vmmemviz.importers.vmss import VmssImage

from . import builders as B

PAGE = 4096


def one_line_error(excinfo, path):
    msg = str(excinfo.value)
    assert "\n" not in msg and str(path) in msg, msg
    return msg


# ---------------------------------------------------------------- real QEMU dumps
def test_real_elf_matches_raw_page_for_page(images):
    """ELF core and pmemsave of the same paused guest: every RAM page of the ELF equals the
    raw image's page at the same guest physical address."""
    elf = open_image(images["a"].with_suffix(".elf"))
    raw = open_image(images["a"].with_suffix(".raw"))
    assert isinstance(elf, ElfCoreImage) and isinstance(raw, RawImage)
    assert raw.ram_pages == 128 * 256
    # RAM is everything the ELF has below 0xf0000000: 0-640K and 768K-128M (VGA window hole)
    assert 127 * 256 < elf.ram_pages < raw.ram_pages
    labels = {lab.label for lab in elf.non_ram}
    assert {"vga", "bios"} <= labels
    assert all(0xF000_0000 <= lab.gpa < 2**32 for lab in elf.non_ram)
    g = elf.page_numbers()
    assert len(g) == elf.ram_pages and np.all(np.diff(g) > 0) and g.max() < 128 * 256
    seen = 0
    for gppn, pages in elf.iter_chunks(3000):
        assert pages.shape == (len(gppn), PAGE)
        assert np.array_equal(gppn, g[seen:seen + len(gppn)])
        assert np.array_equal(pages, raw.pages(gppn))
        seen += len(gppn)
    assert seen == elf.ram_pages
    assert elf.vcpus == 1 and len(elf.cr3) == 1 and elf.cr3[0] % PAGE == 0


def test_page_reads_raw_file_offsets(images):
    path = images["b"].with_suffix(".raw")
    im = open_image(path)
    rng = np.random.default_rng(1)
    picks = rng.choice(im.ram_pages, 50, replace=False)
    with open(path, "rb") as f:
        for gppn in picks.tolist():
            f.seek(gppn * PAGE)
            assert im.page(gppn) == f.read(PAGE)
    assert np.array_equal(im.pages(picks)[7], np.frombuffer(im.page(int(picks[7])), np.uint8))
    assert not any(im.page(int(g)) == bytes(PAGE) for g in picks[:0])
    with pytest.raises(KeyError):
        im.page(im.ram_pages)


def test_truncated_real_elf_rejected(images, tmp_path):
    src = images["a"].with_suffix(".elf")
    cut = tmp_path / "cut.elf"
    with open(src, "rb") as f, open(cut, "wb") as g:
        g.write(f.read(10 << 20))
    with pytest.raises(InputError) as ei:
        open_image(cut)
    msg = one_line_error(ei, cut)
    assert "program header" in msg and "past the end" in msg


def test_an_elf_cut_inside_its_header_says_so(tmp_path):
    """Only the magic left (was: "expected ELF magic 7f 45 4c 46, got 7f 45 4c 46")."""
    cut = tmp_path / "magic.elf"
    cut.write_bytes(b"\x7fELF")
    with pytest.raises(InputError) as ei:
        open_image(cut)
    assert "e_ident: expected an ELF header of at least 16 bytes, got a file of 4 (cut short)" in \
        one_line_error(ei, cut)


# ---------------------------------------------------------------- synthetic ELF
def pages_of(*vals):
    return b"".join(bytes([v]) * PAGE for v in vals)


def test_synthetic_elf32_and_non_ram_window(tmp_path):
    blocks = [(0, pages_of(1, 2)), (0x10_0000, pages_of(3)), (0xFD00_0000, pages_of(9, 9)),
              (0xFFFC_0000, pages_of(8))]
    for is64 in (True, False):
        p = tmp_path / f"s{is64}.elf"
        p.write_bytes(B.elf_core(blocks, is64=is64))
        im = open_image(p)
        assert im.kind == "elf" and im.ram_pages == 3
        assert list(im.page_numbers()) == [0, 1, 0x100]
        assert im.page(0x100) == pages_of(3)
        assert [lab.label for lab in im.non_ram] == ["vga", "bios"]


def test_elf_above_4g_split(tmp_path):
    # a block straddling the non-RAM window is split; pages above 4 GiB count as RAM
    p = tmp_path / "hi.elf"
    p.write_bytes(B.elf_core([(0x1_0000_0000, pages_of(5, 6))]))
    im = open_image(p)
    assert list(im.page_numbers()) == [0x100000, 0x100001] and im.page(0x100001) == pages_of(6)


def test_elf_qemu_note_cr3(tmp_path):
    desc = bytearray(440)
    struct.pack_into("<II", desc, 0, 1, 440)
    struct.pack_into("<Q", desc, 416, 0x1234000)
    notes = B.note(b"CORE", 1, bytes(336)) + B.note(b"QEMU", 0, bytes(desc))
    p = tmp_path / "n.elf"
    p.write_bytes(B.elf_core([(0, pages_of(1))], notes=notes))
    im = open_image(p)
    assert im.vcpus == 1 and im.cr3 == [0x1234000]


@pytest.mark.parametrize("case", ["magic_vmss_like", "phnum_huge", "offset_past_end", "not_core",
                                  "unaligned", "class", "header_cut", "note_overrun",
                                  "overlap", "no_ram"])
def test_hostile_elf(tmp_path, case):
    good = B.elf_core([(0, pages_of(1, 2))])
    data = bytearray(good)
    if case == "magic_vmss_like":
        data = bytearray(B.elf_core([(0, pages_of(1))]))
        data[1] = ord("X")  # not ELF -> raw; but its size is not a page multiple -> rejected
    elif case == "phnum_huge":
        struct.pack_into("<H", data, 56, 0xFFFE)
    elif case == "offset_past_end":
        struct.pack_into("<Q", data, 64 + 8, 1 << 40)
    elif case == "not_core":
        struct.pack_into("<H", data, 16, 2)
    elif case == "unaligned":
        data = bytearray(B.elf_core([(0x800, pages_of(1))]))
    elif case == "class":
        data[4] = 7
    elif case == "header_cut":
        data = data[:40]
    elif case == "note_overrun":
        bad_note = struct.pack("<III", 5, 1 << 30, 1) + b"CORE\0\0\0\0"
        data = bytearray(B.elf_core([(0, pages_of(1))], notes=bad_note))
    elif case == "overlap":
        data = bytearray(B.elf_core([(0, pages_of(1, 2)), (0x1000, pages_of(3))]))
    elif case == "no_ram":
        data = bytearray(B.elf_core([(0xFD00_0000, pages_of(1))]))
    p = tmp_path / "bad.elf"
    p.write_bytes(bytes(data))
    with pytest.raises(InputError) as ei:
        open_image(p)
    one_line_error(ei, p)


# ---------------------------------------------------------------- raw
def test_raw_rejects_partial_page_and_empty(tmp_path):
    for name, data in (("cut.raw", bytes(PAGE + 100)), ("empty.raw", b"")):
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(InputError) as ei:
            open_image(p)
        one_line_error(ei, p)
    with pytest.raises(InputError) as ei:
        open_image(tmp_path / "missing.raw")
    one_line_error(ei, tmp_path / "missing.raw")


# ---------------------------------------------------------------- VMware
def write_vmware(tmp_path, regions, vmem_pages, meta_ext=".vmss", extra_groups=None, **kw):
    vmem = tmp_path / "vm.vmem"
    vmem.write_bytes(b"".join(bytes([i + 1]) * PAGE for i in range(vmem_pages)))
    groups = dict(extra_groups or {})
    groups["memory"] = B.vmss_tag("align_mask", 0xFFFF) + B.vmss_tag("Memory", b"\x00" * 33) + \
        B.memory_group(regions)
    meta = tmp_path / ("vm" + meta_ext)
    meta.write_bytes(B.vmss(groups, **kw))
    return vmem, meta


@pytest.mark.parametrize("ext", [".vmss", ".vmsn"])
def test_vmss_region_map(tmp_path, ext):
    # guest pages 0-2 at vmem pages 0-2; guest pages 0x100-0x101 at vmem pages 3-4
    vmem, meta = write_vmware(tmp_path, [(0, 0, 3), (0x100, 3, 2)], 5, ext,
                              extra_groups={"cpu": B.vmss_tag("CR", 3, (0, 1))})
    for path in (vmem, meta):
        im = open_image(path)
        assert isinstance(im, VmssImage) and im.kind == "vmss" and im.path == str(vmem)
        assert list(im.page_numbers()) == [0, 1, 2, 0x100, 0x101]
        assert im.page(0x101) == bytes([5]) * PAGE and im.page(2) == bytes([3]) * PAGE


def test_vmem_without_metadata_is_raw(tmp_path):
    vmem = tmp_path / "lone.vmem"
    vmem.write_bytes(bytes(3 * PAGE))
    im = open_image(vmem)
    assert im.kind == "raw" and im.ram_pages == 3


@pytest.mark.parametrize("case", ["magic", "ngroups_huge", "region_past_end", "count_huge",
                                  "missing_index", "no_memory", "truncated_tags", "meta_only"])
def test_hostile_vmss(tmp_path, case):
    regions, pages, kw, extra = [(0, 0, 2)], 2, {}, None
    if case == "magic":
        kw = {"magic": 0x12345678}
    elif case == "ngroups_huge":
        kw = {"ngroups_override": 0x7FFFFFFF}
    elif case == "region_past_end":
        regions = [(0, 1, 5)]
    vmem, meta = write_vmware(tmp_path, regions, pages, extra_groups=extra, **kw)
    if case == "count_huge":
        meta.write_bytes(B.vmss({"memory": B.vmss_tag("regionsCount", 0xFFFFFFFF)}))
    elif case == "missing_index":
        meta.write_bytes(B.vmss({"memory": B.vmss_tag("regionsCount", 2) +
                                 B.memory_group([(0, 0, 1)])[len(B.vmss_tag("regionsCount", 1)):]}))
    elif case == "no_memory":
        meta.write_bytes(B.vmss({"cpu": B.vmss_tag("x", 1)}))
    elif case == "truncated_tags":
        meta.write_bytes(meta.read_bytes()[:-9])
    elif case == "meta_only":
        os.remove(vmem)
    with pytest.raises(InputError) as ei:
        open_image(meta if case == "meta_only" else vmem)
    one_line_error(ei, meta)
