"""A scenario at another size: every size in MB, every per-second rate and every count of pages
a scripted step names divided by a factor.

A host-scale scenario (the built-in ``datacenter``: 256 GiB) takes minutes a run; the same file
at 1/32 keeps its VMs, their mix and its dynamics (sizes and rates shrink together) and runs in
seconds, so tests and quick looks go through the file users open.

minFree is a sliding scale (6% of a 4 GB host, 1.2% of a 256 GiB one), so a host scaled down
as it is would have its state thresholds 4x wider for its size and reach the states at other
ticks, or not at all. Unless the file sets ``Mem.MemMinFreePct``, the copy keeps the full
host's minFree as a share of memory, to the whole percent the setting takes (hostscale: 1.94%
-> 2%, datacenter: 1.23% -> 1%).
"""
from __future__ import annotations

import tomlkit

from vmmemviz.model.config.settings import HOST_SETTINGS
from vmmemviz.model.reclaim.freestates import minfree_mb

RATES = ("touches",)                            # per second: they shrink with memory
SETTING_RATES = ("Sim.BalloonRate", "Sim.SwapRate",   # ... also when left at their default
                 "Mem.ShareRateMax", "Sim.HostGHz")  # page sharing: pages/s per VM, MB/s of scanning


def scaled(text: str, factor: float) -> str:
    """The scenario ``text`` with every ``*_mb`` size, every rate and every step's count of pages
    divided by ``factor`` (a step's GVPN range is kept as it is)."""
    doc = tomlkit.parse(text)
    host_mb = doc.get("host", {}).get("memory_mb")

    def shrink(table):
        for k in list(table):
            if k.endswith("_mb"):
                table[k] = table[k] / factor
            elif k in RATES:
                table[k] = max(1, int(table[k] // factor))

    shrink(doc.get("host", {}))
    if "settings" not in doc:
        doc["settings"] = tomlkit.table()
    settings = doc["settings"]
    shrink(settings)
    if host_mb and not settings.get("Mem.MemMinFreePct") and settings.get("Sim.StateModel", "esxi6") == "esxi6":
        settings["Mem.MemMinFreePct"] = max(1, round(100 * minfree_mb(host_mb) / host_mb))
    for k in SETTING_RATES:
        settings[k] = max(1, int(settings.get(k, HOST_SETTINGS[k][0]) // factor))
    for vm in doc.get("vm", []):
        shrink(vm)
        for p in vm.get("process", []):
            shrink(p)
            for step in p.get("step", []):
                if isinstance(step.get("pages"), int):
                    step["pages"] = max(1, int(step["pages"] // factor))
    return tomlkit.dumps(doc)
