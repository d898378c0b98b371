"""Memory-access traces of real programs, streamed as numpy chunks of (vpn, is_write).

Formats (auto-detected from the first lines):

* Valgrind lackey (``--tool=lackey --trace-mem=yes``): ``I  04011a0,3`` instruction fetch,
  `` L addr,size`` load, `` S addr,size`` store, `` M addr,size`` modify (load + store,
  counted as a write); hex address without 0x, decimal size; ``==PID==`` lines ignored.
* Dinero din: ``LABEL ADDR`` (hex): 0 read, 1 write, 2 instruction fetch, 3 misc (a read);
  4 copy-back and 5 invalidate are cache operations, not program accesses, and are skipped.
* Pin pinatrace: ``0x4011a0: R 0x7ffe1234`` / ``W`` (extra fields ignored), ends with ``#eof``;
  a file without ``#eof`` is truncated and rejected.

Each access gives ``vpn = address >> 12`` (uint64) and ``is_write`` (bool); an access that
straddles a page boundary counts for its first page only. Blank and ``#`` lines are ignored
in din and pin. Lines end in LF, CR LF or a lone CR (so a CR-only file is read, not taken
for one empty line). A malformed line raises InputError naming the file and line.
"""
from __future__ import annotations

import os
import re
from typing import Iterator, NamedTuple

import numpy as np

from vmmemviz.errors import InputError
from vmmemviz.inputfile import open_input

BLOCK = 4 << 20
MAX_LINE = 1 << 16


class TraceChunk(NamedTuple):
    vpn: np.ndarray       # uint64 virtual page numbers (address >> 12)
    is_write: np.ndarray  # bool


_LACKEY = re.compile(rb"^(?:I  | ([LSM]) )([0-9a-fA-F]{1,16}),(\d+)[ \t\r]*$", re.M)
_DIN = re.compile(rb"^[ \t]*([0-9])[ \t]+(?:0[xX])?([0-9a-fA-F]{1,16})(?:[ \t][^\n]*)?\r?$", re.M)
_PIN = re.compile(rb"^(?:0[xX])?[0-9a-fA-F]{1,16}:[ \t]+([RW])[ \t]+(?:0[xX])?([0-9a-fA-F]{1,16})"
                  rb"(?:[ \t][^\n]*)?\r?$", re.M)
FORMATS = ("lackey", "din", "pin")


def _lines(f, data: bytes) -> bytes:
    """``data`` read from ``f`` with CR LF and a lone CR (old Mac line ends) turned into LF.

    A block that ends in CR takes one more byte, so a CR LF split across blocks stays one end."""
    if b"\r" not in data:
        return data
    if data.endswith(b"\r"):
        data += f.read(1)
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _ignored(fmt: str, line: bytes) -> bool:
    s = line.strip()
    if not s:
        return True
    if fmt == "lackey":
        return line.startswith(b"==") or line.startswith(b"--")
    return s.startswith(b"#")


def detect_format(path: str | os.PathLike) -> str:
    """'lackey', 'din' or 'pin', from the first lines; InputError if none fits."""
    path = os.fspath(path)
    with open_input(path) as f:
        raw = f.read(1 << 16)
        head = _lines(f, raw)
    lines = head.split(b"\n")
    if len(raw) == 1 << 16:
        lines = lines[:-1]
    for n, line in enumerate(lines[:200], 1):
        if not line.strip():
            continue
        if line.startswith(b"==") and re.match(rb"==\d+==", line):
            return "lackey"
        if _LACKEY.match(line):
            return "lackey"
        if _PIN.match(line):
            return "pin"
        if _DIN.match(line):
            return "din"
        if line.startswith(b"#"):
            continue
        shown = line[:40].decode("latin-1")
        raise InputError(f"{path}:{n}: expected a memory trace line (Valgrind lackey 'I  04011a0,3', "
                         f"Dinero din '0 7ffe1234' or pinatrace '0x4011a0: R 0x7ffe1234'), "
                         f"got {shown!r}")
    raise InputError(f"{path}: expected a memory trace (lackey, din or pinatrace), "
                     f"found no trace lines at the start")


def _parse_block(fmt: str, block: bytes, fetches: bool):
    """Parse complete lines; return (addr list, write list, fetch list, expected count)."""
    if fmt == "lackey":
        m = _LACKEY.findall(block)
        kinds = [k for k, _, _ in m]
        addrs = [a for _, a, _ in m]
        writes = [k in (b"S", b"M") for k in kinds]
        fetch = [k == b"" for k in kinds]
        lead = b"\n" + block
        expected = block.count(b"\n") - lead.count(b"\n==") - lead.count(b"\n--") \
            - lead.count(b"\n\n")
    elif fmt == "din":
        m = _DIN.findall(block)
        labels = [int(l) for l, _ in m]
        if any(l > 5 for l in labels):
            return None
        keep = [l <= 3 for l in labels]
        addrs = [a for (_, a), k in zip(m, keep) if k]
        writes = [l == 1 for l, k in zip(labels, keep) if k]
        fetch = [l == 2 for l, k in zip(labels, keep) if k]
        lead = b"\n" + block
        expected = block.count(b"\n") - lead.count(b"\n#") - lead.count(b"\n\n")
        m = labels
    else:
        m = _PIN.findall(block)
        addrs = [a for _, a in m]
        writes = [k == b"W" for k, _ in m]
        fetch = [False] * len(m)
        lead = b"\n" + block
        expected = block.count(b"\n") - lead.count(b"\n#") - lead.count(b"\n\n")
    if len(m) != expected:
        return None
    vpn = np.fromiter((int(a, 16) >> 12 for a in addrs), dtype=np.uint64, count=len(addrs))
    w = np.array(writes, dtype=bool)
    if not fetches:
        keep = ~np.array(fetch, dtype=bool)
        vpn, w = vpn[keep], w[keep]
    return vpn, w


def _bad_line(path, fmt, block: bytes, first_line: int) -> None:
    """Raise InputError for the first line that is neither a record nor ignorable, if any."""
    rx = {"lackey": _LACKEY, "din": _DIN, "pin": _PIN}[fmt]
    for i, line in enumerate(block.split(b"\n")[:-1]):
        if _ignored(fmt, line):
            continue
        m = rx.match(line)
        if m and (fmt != "din" or int(m.group(1)) <= 5):
            continue
        want = {"lackey": "'I  ADDR,SIZE' or ' L|S|M ADDR,SIZE' (hex address, decimal size)",
                "din": "'LABEL ADDR' with LABEL 0-5 and a hex address of at most 64 bits",
                "pin": "'0xIP: R|W 0xADDR'"}[fmt]
        raise InputError(f"{path}:{first_line + i}: expected a {fmt} record {want}, "
                         f"got {line[:60].decode('latin-1')!r}")


def iter_trace(path: str | os.PathLike, fmt: str | None = None, fetches: bool = True,
               block_bytes: int = BLOCK) -> Iterator[TraceChunk]:
    """Stream a trace file as TraceChunk(vpn, is_write) arrays, one per block of lines.

    ``fetches=False`` drops instruction fetches (lackey I, din 2)."""
    path = os.fspath(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown trace format {fmt!r}")
    line_no = 1
    carry = b""
    eof_seen = False
    with open_input(path) as f:
        while not eof_seen:
            data = _lines(f, f.read(block_bytes))
            if not data:
                if not carry:
                    break
                data, carry = carry + b"\n", b""
                last = True
            else:
                data, last = carry + data, False
            cut = data.rfind(b"\n") + 1
            block, carry = data[:cut], data[cut:]
            if len(carry) > MAX_LINE:
                at_line = line_no + block.count(b"\n")
                raise InputError(f"{path}:{at_line}: expected lines of at most "
                                 f"{MAX_LINE} bytes, got a longer one")
            if fmt == "pin":
                at = block.find(b"#eof")
                while at > 0 and block[at - 1] != 10:   # only '#eof' at a line start
                    at = block.find(b"#eof", at + 1)
                if at >= 0:
                    block, eof_seen = block[:at], True
            if block:
                parsed = _parse_block(fmt, block, fetches)
                if parsed is None:   # a bad line, or ignorable lines the fast count missed
                    _bad_line(path, fmt, block, line_no)
                    kept = [ln for ln in block.split(b"\n")[:-1] if not _ignored(fmt, ln)]
                    parsed = _parse_block(fmt, b"\n".join(kept) + b"\n" if kept else b"", fetches)
                    if parsed is None:
                        raise InputError(f"{path}:{line_no}: could not parse the {fmt} records "
                                         f"of the block starting here")
                line_no += block.count(b"\n")
                if len(parsed[0]):
                    yield TraceChunk(*parsed)
            if last:
                break
    if fmt == "pin" and not eof_seen:
        raise InputError(f"{path}:{line_no}: expected '#eof' at the end of a pinatrace, got the end "
                         f"of the file (truncated?)")


def read_trace(path: str | os.PathLike, fmt: str | None = None, fetches: bool = True,
               **kw) -> TraceChunk:
    """The whole trace as one TraceChunk (vpn, is_write)."""
    parts = list(iter_trace(path, fmt, fetches, **kw))
    if not parts:
        return TraceChunk(np.empty(0, np.uint64), np.empty(0, bool))
    return TraceChunk(np.concatenate([p.vpn for p in parts]),
                      np.concatenate([p.is_write for p in parts]))
