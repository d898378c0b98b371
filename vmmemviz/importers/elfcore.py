"""QEMU / libvirt ELF core guest memory (``dump-guest-memory``, ``virsh dump --memory-only``).

ELF32 or ELF64, either byte order. Each ``PT_LOAD`` is a block of guest physical memory:
``p_paddr`` = guest physical address, ``p_offset`` / ``p_filesz`` = where its bytes are.
Blocks inside [0xF000_0000, 0x1_0000_0000) are VGA / BIOS / MMIO and are labelled, not
counted as RAM. ``PT_NOTE`` holds per-vCPU "CORE" NT_PRSTATUS and "QEMU" notes
(QEMUCPUState: version 1, size 440, CR3 at offset 416); we read the vCPU count and CR3s.
``e_phnum == 0xffff`` (PN_XNUM) means the real count is ``sh_info`` of section 0.
"""
from __future__ import annotations

import struct

import numpy as np

from vmmemviz.errors import InputError
from vmmemviz.inputfile import open_input

from ._base import PAGE, GuestImage, Label, Region, file_size

PT_LOAD, PT_NOTE = 1, 4
ET_CORE = 4
PN_XNUM = 0xFFFF
NON_RAM_LO, NON_RAM_HI = 0xF000_0000, 0x1_0000_0000
NT_PRSTATUS = 1


def _label_for(gpa: int) -> str:
    if gpa >= 0xFFF0_0000:
        return "bios"
    if 0xFD00_0000 <= gpa < 0xFE00_0000:
        return "vga"
    return "mmio"


class ElfCoreImage(GuestImage):
    kind = "elf"

    def __init__(self, path: str):
        size = file_size(path)
        with open_input(path) as f:
            ident = f.read(64)
            if ident[:4] != b"\x7fELF":
                raise InputError(f"{path}: offset 0: expected ELF magic 7f 45 4c 46, "
                                 f"got {ident[:4].hex(' ') or 'an empty file'}")
            if len(ident) < 16:
                raise InputError(f"{path}: e_ident: expected an ELF header of at least 16 bytes, got a "
                                 f"file of {len(ident)} (cut short)")
            cls, data = ident[4], ident[5]
            if cls not in (1, 2):
                raise InputError(f"{path}: e_ident[EI_CLASS] (offset 4): expected 1 (ELF32) or 2 "
                                 f"(ELF64), got {cls}")
            if data not in (1, 2):
                raise InputError(f"{path}: e_ident[EI_DATA] (offset 5): expected 1 (little endian) "
                                 f"or 2 (big endian), got {data}")
            e = "<" if data == 1 else ">"
            is64 = cls == 2
            hfmt = e + ("16sHHIQQQIHHHHHH" if is64 else "16sHHIIIIIHHHHHH")
            hsize = struct.calcsize(hfmt)
            if len(ident) < hsize:
                raise InputError(f"{path}: ELF header: expected {hsize} bytes, got {len(ident)} "
                                 f"(truncated)")
            (_, e_type, _, _, _, e_phoff, e_shoff, _, _, e_phentsize, e_phnum, e_shentsize,
             e_shnum, _) = struct.unpack(hfmt, ident[:hsize])
            if e_type != ET_CORE:
                raise InputError(f"{path}: e_type (offset 16): expected 4 (ET_CORE, a memory dump), "
                                 f"got {e_type}")
            phsize = 56 if is64 else 32
            if e_phentsize < phsize:
                raise InputError(f"{path}: e_phentsize: expected at least {phsize}, got {e_phentsize}")
            if e_phnum == PN_XNUM:
                shsize, info_at = (64, 44) if is64 else (40, 28)
                if e_shentsize < shsize or e_shoff + shsize > size:
                    raise InputError(f"{path}: e_shoff {e_shoff:#x}: PN_XNUM needs section header 0 "
                                     f"inside the file ({size} bytes)")
                f.seek(e_shoff + info_at)
                (e_phnum,) = struct.unpack(e + "I", f.read(4))
            if e_phnum == 0:
                raise InputError(f"{path}: e_phnum: expected at least one program header, got 0")
            end = e_phoff + e_phnum * e_phentsize
            if end > size:
                raise InputError(f"{path}: e_phoff {e_phoff:#x} + e_phnum {e_phnum} x {e_phentsize}: "
                                 f"program headers end at {end:#x}, past the end of the file "
                                 f"({size} bytes)")
            f.seek(e_phoff)
            raw = f.read(e_phnum * e_phentsize)
        u = "u8" if is64 else "u4"
        if is64:
            fields = [("p_type", e + "u4"), ("p_flags", e + "u4"), ("p_offset", e + u),
                      ("p_vaddr", e + u), ("p_paddr", e + u), ("p_filesz", e + u),
                      ("p_memsz", e + u), ("p_align", e + u)]
        else:
            fields = [("p_type", e + "u4"), ("p_offset", e + u), ("p_vaddr", e + u),
                      ("p_paddr", e + u), ("p_filesz", e + u), ("p_memsz", e + u),
                      ("p_flags", e + "u4"), ("p_align", e + "u4")]
        dt = np.dtype({"names": [n for n, _ in fields], "formats": [t for _, t in fields],
                       "offsets": [0, 4, 8, 16, 24, 32, 40, 48] if is64 else
                       [0, 4, 8, 12, 16, 20, 24, 28], "itemsize": e_phentsize})
        ph = np.frombuffer(raw, dtype=dt, count=e_phnum)
        regions: list[Region] = []
        non_ram: list[Label] = []
        self.notes: list[tuple[int, int]] = []
        for i, p in enumerate(ph):
            ptype = int(p["p_type"])
            off, filesz = int(p["p_offset"]), int(p["p_filesz"])
            where = f"{path}: program header {i}"
            if ptype not in (PT_LOAD, PT_NOTE):
                continue
            if off + filesz > size:
                raise InputError(f"{where}: p_offset {off:#x} + p_filesz {filesz:#x} is past the end "
                                 f"of the file ({size} bytes; truncated?)")
            if ptype == PT_NOTE:
                self.notes.append((off, filesz))
                continue
            paddr, memsz = int(p["p_paddr"]), int(p["p_memsz"])
            if filesz > memsz:
                raise InputError(f"{where}: p_filesz {filesz:#x}: expected <= p_memsz {memsz:#x}")
            if filesz == 0:
                continue
            # split the block at the non-RAM window below 4 GiB
            lo, hi = paddr, paddr + filesz
            for a, b, ram in ((lo, min(hi, NON_RAM_LO), True),
                              (max(lo, NON_RAM_LO), min(hi, NON_RAM_HI), False),
                              (max(lo, NON_RAM_HI), hi, True)):
                if a >= b:
                    continue
                if not ram:
                    non_ram.append(Label(a, b - a, _label_for(a)))
                    continue
                if a % PAGE or (b - a) % PAGE:
                    raise InputError(f"{where}: p_paddr {paddr:#x} / p_filesz {filesz:#x}: expected "
                                     f"a RAM block aligned to 4096 bytes")
                regions.append(Region(a // PAGE, (b - a) // PAGE, off + (a - lo)))
        if not regions:
            raise InputError(f"{path}: program headers: expected at least one PT_LOAD RAM block "
                             f"outside [0xf0000000, 0x100000000), found none")
        self.endian = e
        self.elfclass = 64 if is64 else 32
        super().__init__(path, regions, non_ram)
        self.vcpus, self.cr3 = self._read_notes()

    def _read_notes(self) -> tuple[int, list[int]]:
        """Count NT_PRSTATUS notes (one per vCPU) and read CR3 from QEMU notes (best effort)."""
        e = self.endian
        vcpus, cr3 = 0, []
        with open_input(self.path) as f:
            for off, size in self.notes:
                if size > 64 << 20:  # implausible for notes; do not read it all
                    raise InputError(f"{self.path}: PT_NOTE at {off:#x}: size {size} is implausibly "
                                     f"large (expected < 64 MiB)")
                f.seek(off)
                buf = f.read(size)
                pos = 0
                while pos + 12 <= len(buf):
                    namesz, descsz, ntype = struct.unpack_from(e + "III", buf, pos)
                    name_end = pos + 12 + namesz
                    desc_at = pos + 12 + ((namesz + 3) & ~3)
                    nxt = desc_at + ((descsz + 3) & ~3)
                    if nxt > len(buf):
                        raise InputError(f"{self.path}: note at {off + pos:#x}: namesz {namesz} / "
                                         f"descsz {descsz} run past the PT_NOTE end ({size} bytes)")
                    name = buf[pos + 12:name_end].rstrip(b"\0")
                    if name == b"CORE" and ntype == NT_PRSTATUS:
                        vcpus += 1
                    elif name == b"QEMU" and descsz >= 424:
                        version, state_size = struct.unpack_from(e + "II", buf, desc_at)
                        if version == 1:
                            cr3.append(struct.unpack_from(e + "Q", buf, desc_at + 416)[0])
                    pos = nxt
        return vcpus, cr3
