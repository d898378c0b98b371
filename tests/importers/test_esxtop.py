"""esxtop batch captures in esxtop's exact form: VMs told from system groups, units, the
Kernel State numbering of ESXi 5.x and 6.x, bad files, and the ``vmmemviz esxtop`` command."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tests.importers.esxtop_builder import HOST, SYSTEM, write_capture, vm_values
from vmmemviz.cli import main
from vmmemviz.errors import InputError
from vmmemviz.importers.esxtop import read_esxtop, unit

VMS6 = {"web01": (4096, 2100), "web02": (4096, 1900), "db01": (8192, 2500), "app01": (2048, 900),
        "win01": (4096, 1500), "jump01": (1024, 300)}


def field_capture(path, worlds=True, samples=3, free=590.0, state=1):
    """The field case: an 8 GB ESXi 6.x host, 6 VMs and ESXi's system groups, free memory at
    146% of minFree, Kernel State 1, after ballooning, swapping and compression."""
    host = [{"Machine MBytes": 8191.5, "Kernel Managed MBytes": 8043, "Kernel MinFree MBytes": 403,
             "Free MBytes": free + t, "Kernel State": state, "PShare Shared MBytes": 1900,
             "PShare Common MBytes": 300, "PShare Savings MBytes": 1600, "Swap Used MBytes": 1100,
             "Total Compressed MBytes": 173, "Total Saved By Compression MBytes": 120,
             "Memctl Current MBytes": 5200, "Memctl Target MBytes": 5200, "Memctl Max MBytes": 16000,
             "Memory Overcommit (1 Minute Avg)": 1.62} for t in range(samples)]
    vms = {(60000 + 1000 * i, n): [vm_values(sz, g, tools=n != "db01", balloon=0 if n == "db01" else 900,
                                             swapped=180, zipped=30) for _ in range(samples)]
           for i, (n, (sz, g)) in enumerate(VMS6.items())}
    write_capture(path, host, vms, worlds=worlds)


@pytest.mark.parametrize("worlds", [True, False])
def test_vms_and_system_groups_apart(tmp_path, worlds):
    p = tmp_path / "field.csv"
    field_capture(p, worlds=worlds)
    cap = read_esxtop(p)
    assert list(cap.vms) == list(VMS6)                          # the 6 VMs, in capture order
    assert set(cap.system) == {n for _, n in SYSTEM}
    assert cap.why_vm == ("groups with a vmx world" if worlds else
                          "groups with a balloon or VMM overhead maximum")
    s = cap.sample()
    sys_mb = sum(20 + gid % 50 for gid, _ in SYSTEM)
    assert s["host"]["system_mb"] == sys_mb                    # folded into host overhead
    assert set(s["system"]) == {n for _, n in SYSTEM} and "hostd" not in s["vms"]


def test_field_capture_values_and_units(tmp_path):
    p = tmp_path / "field.csv"
    field_capture(p)
    cap = read_esxtop(p)
    assert cap.host_name == HOST and cap.samples == 3 and cap.esxi == "6.x"
    assert cap.times[2] - cap.times[0] == 10
    s = cap.sample()                                           # default: the last sample
    h = s["host"]
    assert h["state"] == "clear" and h["state_raw"] == 1       # 146% of minFree is clear in 6.x
    assert (h["managed_mb"], h["minfree_mb"], h["free_mb"]) == (8043, 403, 592)
    assert list(h).count("free_mb") == 1 and "free" not in h and "managed" not in h
    assert h["zip_zipped_mb"] == 173 and h["memctl_curr_mb"] == 5200 and h["overcommit_1m"] == 1.62
    db, web = s["vms"]["db01"], s["vms"]["web01"]
    assert db["MCTL?"] == "N" and web["MCTL?"] == "Y"
    assert web["COWH"] == 210 and web["OVHDUW"] == 12 and web["CACHESZ"] == 409.6 and web["CACHEUSD"] == 30
    assert web["RESV"] == 0 and web["LIMIT"] == -1 and web["SHARES"] == 40960
    assert isinstance(web["MEMBERS"], int) and web["MEMBERS"] == 7 and web["NHN"] == 1
    for key, u in (("MEMBERS", "count"), ("NHN", "count"), ("N%L", "%"), ("CPTSH", "count"),
                   ("MCTL?", "Y/N"), ("GRANT", "MB"), ("SHARES", "count"), ("%ACTV", "%")):
        assert unit("vm", key) == u, key
    assert unit("host", "state") == "state" and unit("host", "overcommit_1m") == "ratio"


def test_state_numbering_5x_and_6x(tmp_path):
    """ESXi 5.x has no clear: 1 is soft. A 5.x host below minFree with state 1 reads soft;
    a 6.x host at 146% of minFree with state 1 reads clear; a 4 can only be 6.x (low)."""
    p5 = tmp_path / "five.csv"
    field_capture(p5, free=250.0, state=1)                      # 62% of minFree
    cap = read_esxtop(p5)
    assert cap.esxi == "5.x" and cap.sample()["host"]["state"] == "soft"
    assert read_esxtop(p5, esxi="6").sample()["host"]["state"] == "clear"      # forced
    p6 = tmp_path / "six.csv"
    field_capture(p6, free=50.0, state=4)
    cap = read_esxtop(p6)
    assert cap.esxi == "6.x" and cap.sample()["host"]["state"] == "low"
    assert cap.sample()["host"]["state_raw"] == 4
    p5b = tmp_path / "five-hard.csv"
    field_capture(p5b, free=80.0, state=2)       # 20% of minFree: 5.x hard (6.x soft is left below 32%)
    assert read_esxtop(p5b).sample()["host"]["state"] == "hard"
    assert read_esxtop(p5b, esxi="6").sample()["host"]["state"] == "soft"


def test_unknown_counters_kept_with_a_unit(tmp_path):
    p = tmp_path / "u.csv"
    p.write_text('"(PDH-CSV 4.0) (UTC)(0)","\\\\h\\Memory\\Free MBytes","\\\\h\\Memory\\Fancy New MBytes",'
                 '"\\\\h\\Group Memory(7:vm.77)\\Odd Counter"\r\n'
                 '"11/27/2026 08:00:00","10","20","3"\r\n')
    cap = read_esxtop(p)
    s = cap.sample(0)
    assert s["host"]["Fancy New MBytes"] == 20 and unit("host", "Fancy New MBytes") == "MB"
    assert s["vms"]["vm.77"]["Odd Counter"] == 3 and unit("vm", "Odd Counter") == "count"


def test_bad_captures_one_line(tmp_path):
    good = tmp_path / "g.csv"
    field_capture(good)
    text = good.read_text()
    cases = {
        "magic.csv": text.replace("PDH-CSV 4.0", "XYZ"),
        "cut.csv": text[: len(text) - 40],
        "time.csv": text.replace("11/27/2026 08:00:05", "yesterday"),
        "quote.csv": text.replace('"11/27/2026 08:00:10"', '"11/27/2026 08:00:10" x"'),
        "empty.csv": "",
        "nomem.csv": '"(PDH-CSV 4.0) (UTC)(0)","\\\\h\\Physical Cpu(0)\\% Processor Time"\r\n'
                     '"11/27/2026 08:00:00","3"\r\n',
    }
    for name, body in cases.items():
        p = tmp_path / name
        p.write_text(body)
        with pytest.raises(InputError) as ei:
            read_esxtop(p)
        msg = str(ei.value)
        assert msg.startswith(str(p)) and "\n" not in msg, msg
        if name == "nomem.csv":
            assert "no memory columns" in msg
    only_header = tmp_path / "h.csv"
    only_header.write_text(text.split("\n")[0] + "\n")
    cap = read_esxtop(only_header)
    assert cap.samples == 0
    with pytest.raises(InputError, match="at least one sample"):
        cap.sample()
    with pytest.raises(InputError, match="--sample: expected 0 to 2"):
        read_esxtop(good).sample(7)


def test_wide_capture_streams_fast(tmp_path):
    """Thousands of columns, most of them not memory: 200 VMs and 12,000 other columns."""
    p = tmp_path / "wide.csv"
    vms = {(1000 + i, f"vm{i:03d}"): [vm_values(2048, 100 + i + t) for t in range(40)]
           for i in range(200)}
    cols = write_capture(p, [{"Free MBytes": 100 + t} for t in range(40)], vms, noise=12000)
    assert len(cols) > 15000 and p.stat().st_size > 5_000_000
    t = time.perf_counter()
    cap = read_esxtop(p)
    assert time.perf_counter() - t < 10
    assert len(cap.vms) == 200 and len(cap.system) == len(SYSTEM) and cap.samples == 40
    assert np.array_equal(cap.vms["vm199"]["GRANT"], [299 + t for t in range(40)])


def test_esxtop_command(tmp_path, capsys):
    p = tmp_path / "field.csv"
    field_capture(p)
    assert main(["esxtop", str(p), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"host", "vms", "system"} and out["sample"] == 2
    assert out["host"]["state"] == "clear" and list(out["vms"]) == list(VMS6)
    assert main(["esxtop", str(p), "--sample", "0"]) == 0
    text = capsys.readouterr().out
    assert "VMs (6)" in text and "system groups (9)" in text and "MEMBERS" in text
    assert text.index("web01") < text.index("hostd")
    assert main(["esxtop", str(p), "--sample", "9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--sample" in err
