"""snapshot(pid) on the test process itself (tests run as root), checked against smaps."""
from __future__ import annotations

import mmap
import os

import numpy as np
import pytest

from vmmemviz.errors import InputError
from vmmemviz.importers.procsnap import snapshot

PAGE = 4096


def find(snap, addr):
    (m,) = [m for m in snap.mappings if m.start <= addr < m.end]
    return m


def smaps_kb(addr, key):
    with open("/proc/self/smaps") as f:
        inside = False
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                a, b = (int(x, 16) for x in head.split("-"))
                inside = a <= addr < b
            elif inside and head == key + ":":
                return int(line.split()[1])
    raise AssertionError(f"{key} not found for {addr:#x}")


def test_snapshot_of_self():
    n = 256
    # rwx so that the kernel does not merge it with Python's own rw- anonymous memory
    anon = mmap.mmap(-1, n * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                     prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    for i in range(0, 100):
        anon[i * PAGE] = 7             # written: private anonymous pages
    for i in range(150, 160):
        _ = anon[i * PAGE]             # only read: mapped to the shared zero page
    base = np.frombuffer(anon, np.uint8).ctypes.data
    snap = snapshot(os.getpid())
    m = find(snap, base)
    assert (m.start, m.end, m.perms) == (base, base + n * PAGE, "rwxp")
    first = 0
    pres = m.present[first:first + n]
    assert pres[:100].all() and pres[150:160].all() and not pres[100:150].any()
    assert m.has("ANON")[first:first + 100].all()
    zero = m.has("ZERO_PAGE")[first:first + n]
    assert zero[150:160].all() and not zero[:100].any()
    assert len(set(m.pfn[first + 150:first + 160].tolist())) == 1      # one zero page
    assert len(set(m.pfn[first:first + 100].tolist())) == 100
    assert (m.mapcount[first:first + 100] == 1).all()
    assert np.array_equal(m.gvpn[first:first + 3], np.arange(3, dtype=np.uint64) + (base >> 12))
    # the mapping agrees with the kernel's own accounting (Rss leaves out the zero page)
    assert int(m.present.sum()) == 110
    assert int(m.present.sum() - m.has("ZERO_PAGE").sum()) == 100 == smaps_kb(base, "Rss") // 4
    del m, snap
    anon.close()


def test_transparent_huge_pages_match_smaps():
    """Ask for THP on a 4 MiB region and touch it: whatever the kernel gave (huge pages or
    not), our THP-flagged page count equals smaps AnonHugePages."""
    size = 4 << 20
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    region.madvise(mmap.MADV_HUGEPAGE)
    for off in range(0, size, PAGE):
        region[off] = 1
    base = np.frombuffer(region, np.uint8).ctypes.data
    snap = snapshot(os.getpid())
    m = find(snap, base)
    assert m.start <= base and base + size <= m.end
    assert int(m.has("THP").sum()) * 4 == smaps_kb(base, "AnonHugePages")
    assert int(m.present.sum() - m.has("ZERO_PAGE").sum()) * 4 == smaps_kb(base, "Rss")
    del m, snap
    region.close()


def test_shared_file_pages_counted_twice(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(bytes(range(256)) * 16 * 4)
    with open(p, "r+b") as f:
        a = mmap.mmap(f.fileno(), 4 * PAGE, flags=mmap.MAP_SHARED)
        b = mmap.mmap(f.fileno(), 4 * PAGE, flags=mmap.MAP_SHARED)
        _ = a[0], a[PAGE], b[0], b[PAGE]
        pa, pb = (np.frombuffer(x, np.uint8).ctypes.data for x in (a, b))
        snap = snapshot(os.getpid())
        ma, mb = find(snap, pa), find(snap, pb)
        ia, ib = (pa - ma.start) // PAGE, (pb - mb.start) // PAGE
        assert ma.path == str(p)
        assert ma.pfn[ia] == mb.pfn[ib] != 0 and ma.pfn[ia + 1] == mb.pfn[ib + 1]
        assert ma.mapcount[ia] >= 2 and not ma.has("ANON")[ia]
        assert snap.totals()["shared"] >= 4
        del ma, mb
        a.close()
        b.close()


def test_no_such_process():
    with pytest.raises(InputError, match=r"^/proc/999999999/maps: missing: no such process$"):
        snapshot(999999999)


def test_missing_kpageflags(tmp_path):
    fake = tmp_path / "proc"
    (fake / "1").mkdir(parents=True)
    (fake / "1" / "maps").write_text("00400000-00401000 r--p 00000000 00:00 0 /x\n")
    (fake / "1" / "pagemap").write_bytes(bytes(8))
    with pytest.raises(InputError) as ei:
        snapshot(1, proc=str(fake))
    msg = str(ei.value)
    assert msg.startswith(f"{fake}/kpageflags: missing") and "\n" not in msg
    (fake / "1" / "maps").write_text("00400000-00401000 r--p zz 00:00 0 /x\n")
    with pytest.raises(InputError, match=r"maps:1: expected"):
        snapshot(1, proc=str(fake))


def test_without_root_one_clear_line():
    """A child that drops root gets one line naming what needs root."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            os.setgid(65534)
            os.setuid(65534)
            snapshot(os.getpid())
            msg = "no error"
        except InputError as e:
            msg = "InputError:" + str(e)
        except BaseException as e:  # noqa: BLE001
            msg = f"{type(e).__name__}: {e}"
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        msg = f.read().decode()
    os.waitpid(pid, 0)
    assert msg.startswith("InputError:/proc/") and "root" in msg and "\n" not in msg, msg
