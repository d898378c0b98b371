"""VMware suspended / snapshot memory: ``NAME.vmem`` plus ``NAME.vmss`` or ``NAME.vmsn``.

Metadata file: ``u32 magic, u32 version, u32 numgroups`` (little endian; magic 0xbed0bed0,
0xbed2bed0, 0xbed2bed2, 0xbed3bed3, 0xbad1bad1 or 0xbad2bad2), then numgroups records
``char name[64]; u64 position; u64 size``. A group is a stream of tags ended by tag 0:
u16 with name length in bits 15-8, index count in bits 7-6, value size in bits 5-0
(62 = compressed block, 63 = block: u32/u64 stored size, u32/u64 memory size, u16 pad
length, pad, data), then the name, one u32 per index, then the value. Group ``memory``
gives ``regionsCount``, ``regionPPN[i]``, ``regionPageNum[i]``, ``regionSize[i]``: guest
page regionPPN+k is page regionPageNum+k of the .vmem. Without regions the .vmem is flat.
"""
from __future__ import annotations

import os
import struct

from vmmemviz.errors import InputError

from ._base import PAGE, GuestImage, Region, file_size

MAGICS = {0xBED0BED0, 0xBED2BED0, 0xBED2BED2, 0xBED3BED3, 0xBAD1BAD1, 0xBAD2BAD2}
GROUP_REC = struct.Struct("<64sQQ")
MAX_GROUPS = 4096
MAX_TAGS = 1 << 20


def is_vmss_magic(head: bytes) -> bool:
    return len(head) >= 4 and struct.unpack_from("<I", head)[0] in MAGICS


def read_groups(path: str) -> tuple[int, dict[str, tuple[int, int]]]:
    """Return (magic, {group name: (position, size)}) with every count and offset checked."""
    size = file_size(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12:
            raise InputError(f"{path}: header: expected 12 bytes (magic, version, numgroups), "
                             f"got {len(head)}")
        magic, _version, ngroups = struct.unpack("<III", head)
        if magic not in MAGICS:
            raise InputError(f"{path}: magic (offset 0): expected one of "
                             f"{', '.join(hex(m) for m in sorted(MAGICS))}, got {magic:#x}")
        if ngroups > MAX_GROUPS or 12 + ngroups * GROUP_REC.size > size:
            raise InputError(f"{path}: numgroups (offset 8): {ngroups} group records of "
                             f"{GROUP_REC.size} bytes do not fit in the file ({size} bytes)")
        raw = f.read(ngroups * GROUP_REC.size)
    groups = {}
    for i in range(ngroups):
        name, pos, gsize = GROUP_REC.unpack_from(raw, i * GROUP_REC.size)
        name = name.split(b"\0", 1)[0].decode("latin-1")
        if pos > size:
            raise InputError(f"{path}: group {i} ({name!r}) position {pos:#x}: past the end of "
                             f"the file ({size} bytes)")
        groups[name] = (pos, gsize)
    return magic, groups


def read_tags(path: str, magic: int, pos: int, gsize: int, group: str) -> dict[tuple, object]:
    """Parse one group's tag stream into {(name, *indices): int or bytes-size}."""
    size = file_size(path)
    end = min(size, pos + gsize) if gsize else size
    version0 = (magic & 0xF) == 0
    wide = 4 if version0 else 8
    tags: dict[tuple, object] = {}
    with open(path, "rb") as f:
        f.seek(pos)
        buf = f.read(min(end - pos, 64 << 20))
    off = 0
    n = 0
    while True:
        at = pos + off
        if off + 2 > len(buf):
            raise InputError(f"{path}: group {group!r} tag at offset {at:#x}: expected a tag or the "
                             f"end tag 0, got end of data (truncated?)")
        (tag,) = struct.unpack_from("<H", buf, off)
        if tag == 0:
            return tags
        n += 1
        if n > MAX_TAGS:
            raise InputError(f"{path}: group {group!r}: more than {MAX_TAGS} tags without an end tag")
        nlen, nidx, vsize = tag >> 8, (tag >> 6) & 3, tag & 0x3F
        p = off + 2
        if p + nlen + 4 * nidx > len(buf):
            raise InputError(f"{path}: group {group!r} tag at offset {at:#x}: name and indices run "
                             f"past the end of the group (truncated?)")
        name = buf[p:p + nlen].decode("latin-1")
        p += nlen
        idx = struct.unpack_from(f"<{nidx}I", buf, p)
        p += 4 * nidx
        if vsize in (62, 63):
            if p + 2 * wide + 2 > len(buf):
                raise InputError(f"{path}: group {group!r} tag {name!r} at offset {at:#x}: block "
                                 f"header runs past the end of the group")
            stored = struct.unpack_from("<I" if wide == 4 else "<Q", buf, p)[0]
            (pad,) = struct.unpack_from("<H", buf, p + 2 * wide)
            p += 2 * wide + 2 + pad
            if p + stored > len(buf) + (end - pos - len(buf)):
                raise InputError(f"{path}: group {group!r} tag {name!r} at offset {at:#x}: block "
                                 f"of {stored} bytes runs past the end of the group/file")
            value: object = ("block", pos + p, stored)
            p += stored
            if p > len(buf):  # a huge block past our read window: nothing after it we need
                return tags
        else:
            if p + vsize > len(buf):
                raise InputError(f"{path}: group {group!r} tag {name!r} at offset {at:#x}: value of "
                                 f"{vsize} bytes runs past the end of the group (truncated?)")
            raw = buf[p:p + vsize]
            value = int.from_bytes(raw, "little") if vsize <= 8 else raw
            p += vsize
        tags[(name, *idx)] = value
        off = p


def metadata_for(vmem: str) -> str | None:
    base, _ = os.path.splitext(vmem)
    for ext in (".vmss", ".vmsn"):
        if os.path.exists(base + ext):
            return base + ext
    return None


class VmssImage(GuestImage):
    kind = "vmss"

    def __init__(self, vmem: str, meta: str | None = None):
        meta = meta or metadata_for(vmem)
        if meta is None:
            raise InputError(f"{vmem}: expected a .vmss or .vmsn file beside it, found none")
        self.meta_path = meta
        vsize = file_size(vmem)
        if vsize % PAGE:
            raise InputError(f"{vmem}: size: expected a multiple of 4096 bytes, got {vsize} "
                             f"(truncated?)")
        magic, groups = read_groups(meta)
        if "memory" not in groups:
            raise InputError(f"{meta}: groups: expected a group named 'memory', got "
                             f"{', '.join(repr(g) for g in groups) or 'none'}")
        tags = read_tags(meta, magic, *groups["memory"], "memory")
        count = tags.get(("regionsCount",), 0)
        if not isinstance(count, int):
            raise InputError(f"{meta}: memory/regionsCount: expected an integer, got a block")
        regions = []
        if count == 0:
            regions.append(Region(0, vsize // PAGE, 0))
        else:
            if count > len(tags):
                raise InputError(f"{meta}: memory/regionsCount: {count} regions but only "
                                 f"{len(tags)} tags in the group")
            for i in range(count):
                vals = []
                for field in ("regionPPN", "regionPageNum", "regionSize"):
                    v = tags.get((field, i))
                    if not isinstance(v, int):
                        raise InputError(f"{meta}: memory/{field}[{i}]: expected an integer tag "
                                         f"(regionsCount = {count}), "
                                         f"got {'none' if v is None else 'a block'}")
                    vals.append(v)
                ppn, pagenum, npages = vals
                if (pagenum + npages) * PAGE > vsize:
                    raise InputError(f"{meta}: memory/regionPageNum[{i}] {pagenum} + regionSize[{i}] "
                                     f"{npages}: past the end of {vmem} ({vsize // PAGE} pages)")
                regions.append(Region(ppn, npages, pagenum * PAGE))
        super().__init__(vmem, regions)
