"""Trace readers: real Valgrind lackey traces, din and pinatrace written from them, bad files."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from vmmemviz.errors import InputError
from vmmemviz.importers.traces import detect_format, iter_trace, read_trace

VALGRIND = shutil.which("valgrind") or "/usr/bin/valgrind"


@pytest.fixture(scope="module")
def lackey_ls(tmp_path_factory):
    """A real lackey trace of `ls /` (about 770,000 records)."""
    out = tmp_path_factory.mktemp("lackey") / "ls.lackey"
    subprocess.run([VALGRIND, "--tool=lackey", "--trace-mem=yes", f"--log-file={out}", "ls", "/"],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def independent_lackey(path):
    """Line-by-line reference parse: (addr, kind) for each record."""
    recs = []
    with open(path) as f:
        for line in f:
            if line.startswith("I  ") or line[:3] in (" L ", " S ", " M "):
                kind = "I" if line[0] == "I" else line[1]
                addr = int(line[3:].split(",")[0], 16)
                recs.append((addr, kind))
    return recs


def test_real_lackey_trace(lackey_ls):
    assert detect_format(lackey_ls) == "lackey"
    recs = independent_lackey(lackey_ls)
    assert len(recs) > 300_000
    t = read_trace(lackey_ls)
    assert t.vpn.dtype == np.uint64 and t.is_write.dtype == bool
    assert np.array_equal(t.vpn, np.array([a >> 12 for a, _ in recs], dtype=np.uint64))
    assert np.array_equal(t.is_write, np.array([k in "SM" for _, k in recs]))
    # stack pages are written, code pages fetched: both kinds occur
    assert 0 < t.is_write.sum() < len(t.vpn)
    data = read_trace(lackey_ls, fetches=False)
    assert len(data.vpn) == sum(k != "I" for _, k in recs)
    # streaming in small blocks gives the same arrays
    parts = list(iter_trace(lackey_ls, block_bytes=10_000))
    assert len(parts) > 100
    assert np.array_equal(np.concatenate([p.vpn for p in parts]), t.vpn)
    assert np.array_equal(np.concatenate([p.is_write for p in parts]), t.is_write)


def test_din_and_pin_from_real_trace(lackey_ls, tmp_path):
    recs = independent_lackey(lackey_ls)[:20000]
    din = tmp_path / "t.din"
    pin = tmp_path / "t.pinatrace"
    label = {"I": 2, "L": 0, "S": 1, "M": 1}
    with open(din, "w") as f:
        f.write("# made from a lackey trace\n")
        for a, k in recs:
            f.write(f"{label[k]} {a:x}\n")
        f.write("4 1000\n5 2000\n")  # copy-back / invalidate: cache operations, skipped
    with open(pin, "w") as f:
        for a, k in recs:
            if k != "I":
                f.write(f"0x401000: {'W' if k in 'SM' else 'R'} 0x{a:x}\n")
        f.write("#eof\n")
    assert detect_format(din) == "din" and detect_format(pin) == "pin"
    d = read_trace(din)
    assert np.array_equal(d.vpn, np.array([a >> 12 for a, _ in recs], dtype=np.uint64))
    assert np.array_equal(d.is_write, np.array([k in "SM" for _, k in recs]))
    p = read_trace(pin)
    data = [(a, k) for a, k in recs if k != "I"]
    assert np.array_equal(p.vpn, np.array([a >> 12 for a, _ in data], dtype=np.uint64))
    assert int(p.is_write.sum()) == sum(k in "SM" for _, k in data)


@pytest.mark.parametrize("name,text,where", [
    ("cut.lackey", "==1== Lackey\nI  0401ab70,3\n S 1fff000778,8\nI  0401ab", ":4:"),
    ("badsize.lackey", "==1== x\nI  0401ab70,3\n L 1fff000778,x\n", ":3:"),
    ("huge.lackey", "==1== x\n L " + "f" * 40 + ",8\n", ":2:"),
    ("label.din", "0 1000\n1 2000\n9 3000\n", ":3:"),
    ("noeof.pin", "0x1: R 0x1000\n0x2: W 0x2000\n", ":3:"),
    ("junk.pin", "0x1: R 0x1000\n0x2: X 0x2000\n#eof\n", ":2:"),
    ("garbage.txt", "hello world\n", ":1:"),
    ("empty.txt", "", ""),
])
def test_bad_traces(tmp_path, name, text, where):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(InputError) as ei:
        read_trace(p)
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(str(p) + where), msg


def test_overlong_line_bounded(tmp_path):
    p = tmp_path / "long.din"
    p.write_bytes(b"0 1000\n" + b"0 " + b"1" * (1 << 20))
    with pytest.raises(InputError, match=r"long.din:2: expected lines of at most"):
        read_trace(p, block_bytes=1 << 16)


def test_indented_comments_and_blank_lines(tmp_path):
    p = tmp_path / "c.din"
    p.write_text("# head\n0 1000\n   # indented comment\n  \n1 2fff\n\n2 3000 4\n")
    t = read_trace(p)
    assert t.vpn.tolist() == [1, 2, 3] and t.is_write.tolist() == [False, True, False]
    assert read_trace(p, fetches=False).vpn.tolist() == [1, 2]
