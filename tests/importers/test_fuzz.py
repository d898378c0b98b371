"""Mutated and truncated files: every reader either reads them or raises InputError."""
from __future__ import annotations

import numpy as np
import pytest

from vmmemviz.errors import InputError
from vmmemviz.importers.esxtop import read_esxtop
from vmmemviz.importers.images import open_image
from vmmemviz.importers.traces import read_trace

from . import builders as B

PAGE = 4096


def mutations(data: bytes, rng, n, head=600):
    """Truncations, flipped bytes and 0xff runs over the first ``head`` bytes."""
    head = min(len(data), head)
    for i in range(n):
        d = bytearray(data)
        kind = i % 3
        if kind == 0:
            d = d[:int(rng.integers(0, len(d)))]
        elif kind == 1:
            for _ in range(4):
                d[int(rng.integers(0, head))] = int(rng.integers(0, 256))
        else:
            at = int(rng.integers(0, head - 8))
            d[at:at + 8] = b"\xff" * 8
        yield bytes(d)


def survive(read, path):
    try:
        read(path)
    except InputError as e:
        assert "\n" not in str(e) and str(path) in str(e), str(e)


def test_fuzz_elf(tmp_path):
    notes = B.note(b"CORE", 1, bytes(336)) + B.note(b"QEMU", 0, bytes(440))
    good = B.elf_core([(0, bytes(2 * PAGE)), (0x10_0000, b"\x01" * PAGE),
                       (0xFD00_0000, bytes(PAGE))], notes=notes)
    rng = np.random.default_rng(1)
    for k, d in enumerate(mutations(good, rng, 300)):
        p = tmp_path / f"m{k}.elf"
        p.write_bytes(d)
        survive(lambda q: open_image(q).pages(open_image(q).page_numbers()), p)


def test_fuzz_vmss(tmp_path):
    vmem = tmp_path / "vm.vmem"
    vmem.write_bytes(bytes(4 * PAGE))
    good = B.vmss({"cpu": B.vmss_tag("CR", 3, (0, 1)),
                   "memory": B.vmss_tag("Memory", b"\0" * 40) + B.memory_group([(0, 0, 2), (9, 2, 2)])})
    rng = np.random.default_rng(2)
    meta = tmp_path / "vm.vmss"
    for d in mutations(good, rng, 300):
        meta.write_bytes(d)
        survive(lambda q: open_image(vmem).page_numbers(), meta)


@pytest.mark.parametrize("name,text", [
    ("t.lackey", "==1== Lackey\nI  0401ab70,3\n S 1fff000778,8\n L 1fff000770,8\n M 10,4\n==1== end\n"),
    ("t.din", "0 1000\n1 2000\n2 3000\n4 10\n"),
    ("t.pin", "0x1: R 0x1000\n0x2: W 0x2000\n#eof\n"),
])
def test_fuzz_traces(tmp_path, name, text):
    rng = np.random.default_rng(3)
    for k, d in enumerate(mutations(text.encode(), rng, 200)):
        p = tmp_path / f"{k}{name}"
        p.write_bytes(d)
        survive(read_trace, p)


def test_fuzz_esxtop(tmp_path):
    from .test_esxtop import field_capture

    src = tmp_path / "c.csv"
    field_capture(src)
    rng = np.random.default_rng(4)
    for k, d in enumerate(mutations(src.read_bytes(), rng, 200, head=1 << 30)):
        p = tmp_path / f"m{k}.csv"
        p.write_bytes(d)
        survive(lambda q: [c.sample(i) for c in [read_esxtop(q)] for i in range(c.samples)], p)
