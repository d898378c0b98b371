"""esxtop batch captures written from the documented format: small ones and a wide one."""
from __future__ import annotations

import csv
import time
import tomllib

import numpy as np
import pytest

from vmmemviz.errors import InputError
from vmmemviz.importers.esxtop import read_esxtop, scenario_skeleton

HOST = "esx01.lab"
HOST_COLS = {"Machine MBytes": "pmem_mb", "Kernel Managed MBytes": "managed",
             "Kernel MinFree MBytes": "minfree", "Free MBytes": "free", "Kernel State": "state",
             "PShare Shared MBytes": "pshare_shared_mb", "PShare Common MBytes": "pshare_common_mb",
             "PShare Savings MBytes": "pshare_saving_mb", "Swap Used MBytes": "swap_curr_mb",
             "Total Compressed MBytes": "zip_zipped_mb",
             "Total Saved By Compression MBytes": "zip_saved_mb",
             "Memctl Current MBytes": "memctl_curr_mb", "Memctl Target MBytes": "memctl_target_mb",
             "Memctl Max MBytes": "memctl_max_mb"}
VM_COLS = {"Members": "MEMBERS", "Memory Size MBytes": "MEMSZ",
           "Memory Granted Size MBytes": "GRANT", "Target Size MBytes": "SZTGT",
           "Touched MBytes": "TCHD", "Touched Write MBytes": "TCHD_W",
           "% Active Estimate": "%ACTV", "Memctl MBytes": "MCTLSZ",
           "Memctl Target MBytes": "MCTLTGT", "Memctl Max MBytes": "MCTLMAX",
           "Swapped MBytes": "SWCUR", "Swap Target MBytes": "SWTGT", "Zero MBytes": "ZERO",
           "Shared MBytes": "SHRD", "Shared Saved MBytes": "SHRDSVD",
           "Copy-On-Write Hint MBytes": "COWH", "Overhead MBytes": "OVHD",
           "Memory Cache Size MBytes": "CACHESZ", "Memory Cache Used MBytes": "CACHEUSD",
           "Reservation MBytes": "RESV"}
NOISE = ["Physical Cpu(0)\\% Processor Time", "Group Cpu(1234:web01)\\% Used",
         "Physical Disk Adapter(vmhba0)\\Reads/sec", "Network Port(vSwitch0:1:vmk0)\\MBits Received/sec"]


def value(col, t):
    """A deterministic value per column and sample."""
    return (sum(map(ord, col)) % 997) + t


def write_capture(path, vms, samples, noise_cols=0, mutate=None):
    cols = [f"\\\\{HOST}\\Memory\\{c}" for c in HOST_COLS]
    cols += [f"\\\\{HOST}\\Memory\\Memory Overcommit (1 Minute Avg)"]
    for gid, name in vms:
        cols += [f"\\\\{HOST}\\Group Memory({gid}:{name})\\{c}" for c in VM_COLS]
    cols += [f"\\\\{HOST}\\{NOISE[i % len(NOISE)]}#{i}" for i in range(noise_cols)]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(["(PDH-CSV 4.0) (UTC)(0)"] + cols)
        for t in range(samples):
            row = [f"11/27/2026 08:{t // 60:02d}:{t % 60:02d}"]
            for c in cols:
                if c.endswith("Memory Size MBytes"):
                    row.append("4096" if "db" in c else "2048")
                elif c.endswith("Reservation MBytes"):
                    row.append("1024" if "db" in c else "0")
                elif c.endswith("Machine MBytes"):
                    row.append("65523")
                else:
                    row.append(str(value(c, t)))
            if mutate:
                row = mutate(t, row)
            w.writerow(row)
    return cols


def test_small_capture(tmp_path):
    p = tmp_path / "small.csv"
    write_capture(p, [(1234, "web01"), (5678, "db01"), (91, "odd: name (x)")], 5)
    cap = read_esxtop(p)
    assert cap.host_name == HOST and cap.samples == 5
    assert cap.times[0] == np.datetime64("2026-11-27T08:00:00") and cap.times[4] - cap.times[0] == 4
    assert set(cap.vms) == {"web01", "db01", "odd: name (x)"}
    assert cap.gids["db01"] == "5678"
    for csv_name, ours in HOST_COLS.items():
        if ours != "pmem_mb":
            col = f"\\\\{HOST}\\Memory\\{csv_name}"
            assert np.array_equal(cap.host[ours], [value(col, t) for t in range(5)]), ours
    assert cap.host["managed_mb"] is cap.host["managed"]
    assert "Memory Overcommit (1 Minute Avg)" in cap.host        # unknown counter kept by name
    for csv_name, ours in VM_COLS.items():
        col = f"\\\\{HOST}\\Group Memory(1234:web01)\\{csv_name}"
        if ours not in ("MEMSZ", "RESV"):
            assert np.array_equal(cap.vms["web01"][ours], [value(col, t) for t in range(5)]), ours
    assert np.all(cap.vms["db01"]["MEMSZ"] == 4096)
    s = cap.sample(2)
    assert s["vms"]["web01"]["MEMSZ"] == 2048 and s["host"]["free"] == cap.host["free"][2]


def test_scenario_skeleton_is_valid_toml(tmp_path):
    p = tmp_path / "small.csv"
    write_capture(p, [(1234, "web01"), (5678, "db01"), (7, 'q"uote\\')], 3)
    text = scenario_skeleton(p)
    sc = tomllib.loads(text)
    assert sc["host"]["memory_mb"] == 65523
    vms = {v["name"]: v for v in sc["vm"]}
    assert set(vms) == {"web01", "db01", 'q"uote\\'}
    assert vms["db01"] == {"name": "db01", "memory_mb": 4096, "reservation_mb": 1024}
    assert vms["web01"] == {"name": "web01", "memory_mb": 2048}


def test_wide_capture_streams_fast(tmp_path):
    """Thousands of columns, most of them not memory: 200 groups, 12,000 noise columns."""
    p = tmp_path / "wide.csv"
    vms = [(1000 + i, f"vm{i:03d}") for i in range(200)]
    cols = write_capture(p, vms, 60, noise_cols=12000)
    assert len(cols) > 15000 and p.stat().st_size > 5_000_000
    t = time.perf_counter()
    cap = read_esxtop(p)
    assert time.perf_counter() - t < 10
    assert len(cap.vms) == 200 and cap.samples == 60
    col = f"\\\\{HOST}\\Group Memory(1199:vm199)\\Touched MBytes"
    assert np.array_equal(cap.vms["vm199"]["TCHD"], [value(col, t) for t in range(60)])
    assert len(tomllib.loads(scenario_skeleton(cap))["vm"]) == 200


def test_bad_captures(tmp_path):
    good = tmp_path / "g.csv"
    write_capture(good, [(1, "a")], 3)
    with open(good, newline="") as f:
        text = f.read()
    cases = {
        "magic.csv": text.replace("PDH-CSV 4.0", "XYZ"),
        "cut.csv": text[: len(text) - 40],
        "time.csv": text.replace("11/27/2026 08:00:01", "yesterday"),
        "quote.csv": text.replace('"11/27/2026 08:00:02"', '"11/27/2026 08:00:02" x"'),
        "empty.csv": "",
    }
    for name, body in cases.items():
        p = tmp_path / name
        p.write_text(body)
        with pytest.raises(InputError) as ei:
            read_esxtop(p)
        msg = str(ei.value)
        assert msg.startswith(str(p)) and "\n" not in msg, msg
    only_header = tmp_path / "h.csv"
    only_header.write_text(text.split("\r\n")[0] + "\r\n")
    assert read_esxtop(only_header).samples == 0
    with pytest.raises(InputError, match="at least one sample"):
        scenario_skeleton(only_header)


def test_skeleton_loads_as_a_scenario(tmp_path):
    """The model's scenario parser accepts the skeleton (integration with vmmemviz.model)."""
    from vmmemviz.model.config.scenario import parse

    p = tmp_path / "c.csv"
    write_capture(p, [(1, "web01"), (2, "db01")], 2)
    sc = parse(scenario_skeleton(p), str(p))
    assert [v.name for v in sc.vms] == ["web01", "db01"]
    assert [v.reservation_mb for v in sc.vms] == [0, 1024]
