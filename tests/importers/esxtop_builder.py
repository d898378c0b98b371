"""Write esxtop batch captures in esxtop's exact form: every field quoted, CRLF, host
``Memory`` columns, one ``Group Memory(GID:name)`` block per VM and per ESXi system group,
``Group Cpu`` and per-world ``Vcpu(GID:name:WID:world)`` columns, and other objects."""
from __future__ import annotations

import csv

HOST = "esx01.lab"
HOST_COLS = ("Machine MBytes", "Kernel Managed MBytes", "Kernel MinFree MBytes", "Free MBytes",
             "Kernel State", "PShare Shared MBytes", "PShare Common MBytes", "PShare Savings MBytes",
             "Swap Used MBytes", "Total Compressed MBytes", "Total Saved By Compression MBytes",
             "Memctl Current MBytes", "Memctl Target MBytes", "Memctl Max MBytes",
             "Memory Overcommit (1 Minute Avg)")
GROUP_COLS = ("Members", "Memory Size MBytes", "Memory Granted Size MBytes", "Target Size MBytes",
              "Touched MBytes", "Touched Write MBytes", "% Active Estimate", "Memctl Installed?",
              "Memctl MBytes", "Memctl Target MBytes", "Memctl Max MBytes", "Swapped MBytes",
              "Swap Target MBytes", "Zero MBytes", "Shared MBytes", "Shared Saved MBytes",
              "Copy On Write Hint MBytes", "Overhead MBytes", "Overhead Max MBytes",
              "Overhead UW MBytes", "Compressed Memory MBytes", "Used Compressed Memory MBytes",
              "Alloc Min MBytes", "Alloc Max MBytes", "Alloc Shares", "NUMA Home Nodes",
              "Numa % Local", "Commit Pages Per Share")
SYSTEM = [(1, "system"), (2, "idle"), (8, "helper"), (9, "drivers"), (2101, "init"), (2232, "sh"),
          (35412, "hostd"), (36011, "vpxa"), (34512, "vmsyslogd")]
NOISE = ("Physical Cpu(0)\\% Processor Time", "Physical Disk Adapter(vmhba0)\\Reads/sec",
         "Network Port(vSwitch0:33554436:vmk0)\\MBits Received/sec")


def vm_values(memsz, grant, tools=True, resv=0, limit=-1, shares=None, balloon=0.0, swapped=0.0,
              zipped=0.0, tchd=None, zero=0.0, shrd=0.0):
    """A VM's Group Memory values (by column name), esxtop's conventions (limit -1 = none)."""
    tchd = grant * 0.4 if tchd is None else tchd
    return {"Members": 7, "Memory Size MBytes": memsz, "Memory Granted Size MBytes": grant,
            "Target Size MBytes": grant, "Touched MBytes": tchd, "Touched Write MBytes": tchd / 3,
            "% Active Estimate": 12, "Memctl Installed?": 1 if tools else 0,
            "Memctl MBytes": balloon, "Memctl Target MBytes": balloon,
            "Memctl Max MBytes": round(memsz * 0.65, 2) if tools else 0,
            "Swapped MBytes": swapped, "Swap Target MBytes": swapped, "Zero MBytes": zero,
            "Shared MBytes": shrd, "Shared Saved MBytes": shrd * 0.9,
            "Copy On Write Hint MBytes": grant / 10, "Overhead MBytes": 30,
            "Overhead Max MBytes": 45, "Overhead UW MBytes": 12,
            "Compressed Memory MBytes": round(memsz / 10, 2), "Used Compressed Memory MBytes": zipped,
            "Alloc Min MBytes": resv, "Alloc Max MBytes": limit,
            "Alloc Shares": shares if shares is not None else memsz * 10, "NUMA Home Nodes": 1,
            "Numa % Local": 100, "Commit Pages Per Share": 1}


def system_values(mb):
    """An ESXi system group: memory but no balloon and no VMM overhead maximum."""
    return {"Members": 3, "Memory Size MBytes": mb, "Memory Granted Size MBytes": mb,
            "Touched MBytes": mb / 2, "Overhead MBytes": 0, "Overhead Max MBytes": 0,
            "Memctl Max MBytes": 0, "Alloc Shares": 1000, "Alloc Max MBytes": -1}


def write_capture(path, host: list[dict], vms: dict, system=True, worlds=True, noise=3,
                  start="11/27/2026 08:00:00", step=5):
    """``host``: per sample {column: value}; ``vms``: {(gid, name): per-sample list of
    {column: value}}. System groups are added with small fixed sizes."""
    groups = dict(vms)
    if system:
        for gid, name in SYSTEM:
            groups[(gid, name)] = [system_values(20 + gid % 50)] * len(host)
    cols = [f"\\\\{HOST}\\Memory\\{c}" for c in HOST_COLS]
    for (gid, name) in groups:
        cols += [f"\\\\{HOST}\\Group Memory({gid}:{name})\\{c}" for c in GROUP_COLS]
    for (gid, name) in groups:
        cols.append(f"\\\\{HOST}\\Group Cpu({gid}:{name})\\% Used")
    world_cols = []
    if worlds:
        for (gid, name) in groups:
            ws = ["vmx", "vmast", "vmx-vcpu-0:" + name, "vmx-mks:" + name] if (gid, name) in vms \
                else [name]
            world_cols += [f"\\\\{HOST}\\Vcpu({gid}:{name}:{gid + 1 + k}:{w})\\% Used"
                           for k, w in enumerate(ws)]
    cols += world_cols
    cols += [f"\\\\{HOST}\\{NOISE[i % len(NOISE)]}#{i}" for i in range(noise)]
    h, m, s = (int(x) for x in start.split()[1].split(":"))
    with open(path, "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(["(PDH-CSV 4.0) (UTC)(0)"] + cols)
        for t, hv in enumerate(host):
            sec = h * 3600 + m * 60 + s + t * step
            row = [f"{start.split()[0]} {sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"]
            row += [f"{hv.get(c, 0):.2f}" for c in HOST_COLS]
            for key in groups:
                gv = groups[key][t]
                row += [f"{gv.get(c, 0):.2f}" for c in GROUP_COLS]
            row += ["1.50"] * len(groups) + ["0.30"] * len(world_cols) + ["0.00"] * noise
            w.writerow(row)
    return cols
