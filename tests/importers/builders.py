"""Writers of small synthetic inputs for the importer tests (formats from FORMATS.md)."""
from __future__ import annotations

import struct

PAGE = 4096


def elf_core(blocks, *, is64=True, notes=b"", phnum_override=None, e_type=4) -> bytes:
    """ELF core with one PT_LOAD per (paddr, bytes) block (and a PT_NOTE if notes)."""
    e = "<"
    hsize, phsize = (64, 56) if is64 else (52, 32)
    phdrs = ([(4, notes)] if notes else []) + [(1, (paddr, data)) for paddr, data in blocks]
    off = hsize + phsize * len(phdrs)
    body = b""
    ph = b""
    for ptype, item in phdrs:
        if ptype == 4:
            data, paddr = item, 0
        else:
            paddr, data = item
        if is64:
            ph += struct.pack(e + "IIQQQQQQ", ptype, 0, off + len(body), 0, paddr, len(data),
                              len(data), 0)
        else:
            ph += struct.pack(e + "IIIIIIII", ptype, off + len(body), 0, paddr, len(data), len(data),
                              0, 0)
        body += data
    n = len(phdrs) if phnum_override is None else phnum_override
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1]) + bytes(9)
    if is64:
        hdr = struct.pack(e + "16sHHIQQQIHHHHHH", ident, e_type, 62, 1, 0, hsize, 0, 0, hsize,
                          phsize, n, 0, 0, 0)
    else:
        hdr = struct.pack(e + "16sHHIIIIIHHHHHH", ident, e_type, 3, 1, 0, hsize, 0, 0, hsize,
                          phsize, n, 0, 0, 0)
    return hdr + ph + body


def note(name: bytes, ntype: int, desc: bytes) -> bytes:
    pad = lambda b: b + bytes(-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name) + 1, len(desc), ntype) + pad(name + b"\0") + pad(desc)


def vmss_tag(name: str, value, indices=()) -> bytes:
    """A tag; int value -> 4 or 8 byte value, bytes value -> block (size 63, version != 0)."""
    nb = name.encode()
    if isinstance(value, bytes):
        tag = (len(nb) << 8) | (len(indices) << 6) | 63
        head = struct.pack("<H", tag) + nb + b"".join(struct.pack("<I", i) for i in indices)
        return head + struct.pack("<QQH", len(value), len(value), 0) + value
    size = 8 if value >= 2**32 else 4
    tag = (len(nb) << 8) | (len(indices) << 6) | size
    return (struct.pack("<H", tag) + nb + b"".join(struct.pack("<I", i) for i in indices)
            + value.to_bytes(size, "little"))


def vmss(groups: dict[str, bytes], magic=0xBED3BED3, ngroups_override=None) -> bytes:
    """Metadata file: header, group records, then each group's tag stream (+ end tag)."""
    n = len(groups)
    pos = 12 + n * 80
    recs = b""
    body = b""
    for name, tags in groups.items():
        data = tags + b"\0\0"
        recs += struct.pack("<64sQQ", name.encode(), pos + len(body), len(data))
        body += data
    count = n if ngroups_override is None else ngroups_override
    return struct.pack("<III", magic, 1, count) + recs + body


def memory_group(regions) -> bytes:
    """Tags of group 'memory' for [(ppn, pagenum, npages), ...]."""
    t = vmss_tag("regionsCount", len(regions))
    for i, (ppn, pagenum, size) in enumerate(regions):
        t += vmss_tag("regionPPN", ppn, (i,))
        t += vmss_tag("regionPageNum", pagenum, (i,))
        t += vmss_tag("regionSize", size, (i,))
    return t
