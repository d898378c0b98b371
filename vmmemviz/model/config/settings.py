"""ESXi advanced settings (``Mem.*``, ``LPage.*``) and per-VM settings (``sched.mem.*``).

Each entry: name -> (default, kind, (min, max) or None, one-line description with source).
Scenario files, the settings dialog and the model all read this one table. ``Sim.*``
settings are vmmemviz's own (how the simulation is run), not ESXi knobs.
"""
from __future__ import annotations

HOST_SETTINGS = {
    "Mem.ShareScanTime": (60, int, (10, 600), "minutes to scan each VM's memory once for sharing"),
    "Mem.ShareScanGHz": (4, int, (0, 32), "MB/s of page scanning per GHz of host CPU; 0 disables TPS scanning"),
    "Mem.ShareRateMax": (1024, int, (0, 32768), "most pages scanned per second per VM"),
    "Mem.ShareForceSalting": (2, int, (0, 2), "0 share across all VMs; 1 only among VMs with equal "
                              "sched.mem.pshare.salt; 2 salt per VM (default since 6.0U3: sharing inside a VM)"),
    "Mem.AllocGuestLargePage": (1, int, (0, 1), "back guest memory with 2 MB machine pages (hardware MMU only)"),
    "LPage.MaxSharedPages": (510, int, (0, 512), "small pages of a 2 MB page that may be shared before it is broken"),
    "Mem.MemMinFreePct": (0, int, (0, 50), "minFree as a percentage of memory; 0 = the ESXi 5+ sliding scale"),
    "Mem.CtlMaxPercent": (65, int, (0, 75), "largest balloon, as a percentage of the VM's configured memory"),
    "Sim.BalloonRate": (2048, int, (1, 1 << 20), "pages a balloon driver inflates per second at most (older "
                        "Linux vmw_balloon drivers allocated at most 2048 a second)"),
    "Sim.SwapRate": (25600, int, (0, 1 << 24), "pages the hypervisor picks for swapping (compressed or written "
                     "to the .vswp) per second at most, the swap device's speed (25600 = 100 MB/s; 0 = no limit); "
                     "frames a fault needs when none are free are taken at once"),
    "Mem.IdleTax": (75, int, (0, 99), "idle memory tax, percent: idle pages cost more shares than active ones"),
    "Mem.SamplePeriod": (60, int, (1, 600), "seconds between active-memory estimates"),
    "Mem.MemZipEnable": (1, int, (0, 1), "compress pages chosen for swapping when they compress to 2 KB or less"),
    "Mem.MemZipMaxPct": (10, int, (5, 100), "compression cache size, percent of the VM's configured memory"),
    "Sim.StateModel": ("esxi6", str, ("esxi6", "esx4"), "host free-memory states: ESXi 6 (high/clear/soft/hard/"
                       "low at 400/100/64/32/16% of minFree) or ESX 4 (6/4/2/1% of memory)"),
    "Sim.HostGHz": (20, int, (1, 1000), "host CPU capacity in GHz (for Mem.ShareScanGHz)"),
    "Sim.TimeScale": (1, int, (1, 3600), "seconds of page-sharing scanning one tick stands for (1 = real "
                      "time); tours raise it so a Mem.ShareScanTime of minutes fits a short tour"),
}

VM_SETTINGS = {
    "sched.mem.pshare.enable": (True, bool, None, "take part in transparent page sharing"),
    "sched.mem.pshare.salt": (None, int, None, "salt for Mem.ShareForceSalting = 1 or 2"),
    "sched.mem.maxmemctl": (None, int, (0, 1 << 20), "largest balloon in MB (overrides Mem.CtlMaxPercent)"),
}


def check(table: dict, name: str, value, where: str):
    """Validate one setting; return it, or raise ValueError with a one-line reason."""
    if name not in table:
        known = ", ".join(sorted(table))
        raise ValueError(f"{where}: unknown setting {name!r} (known: {known})")
    default, typ, rng, _ = table[name]
    if typ is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {name!r}: expected true or false, got {value!r}")
        return value
    if typ is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{where}: {name!r}: expected an integer, got {value!r}")
    if typ is str:
        if value not in rng:
            raise ValueError(f"{where}: {name!r}: expected one of {', '.join(rng)}, got {value!r}")
        return value
    if rng and not rng[0] <= value <= rng[1]:
        raise ValueError(f"{where}: {name!r}: expected {rng[0]} to {rng[1]}, got {value}")
    return value


def defaults(table: dict) -> dict:
    return {k: v[0] for k, v in table.items()}
