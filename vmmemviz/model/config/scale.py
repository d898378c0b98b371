"""A scenario at another size: every size in MB and every per-second rate divided by a factor.

A host-scale scenario (the built-in ``datacenter``: 256 GiB) takes minutes a run; the same file
at 1/32 keeps its VMs, their mix and its dynamics (sizes and rates shrink together) and runs in
seconds, so tests and quick looks go through the file users open. minFree is a sliding scale,
so the states come at somewhat different ticks than at full size.
"""
from __future__ import annotations

import tomlkit

from vmmemviz.model.config.settings import HOST_SETTINGS

RATES = ("touches",)                            # per second: they shrink with memory
SETTING_RATES = ("Sim.BalloonRate", "Sim.SwapRate")   # ... also when left at their default


def scaled(text: str, factor: float) -> str:
    """The scenario ``text`` with every ``*_mb`` size and every rate divided by ``factor``."""
    doc = tomlkit.parse(text)

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
    for k in SETTING_RATES:
        settings[k] = max(1, int(settings.get(k, HOST_SETTINGS[k][0]) // factor))
    for vm in doc.get("vm", []):
        shrink(vm)
        for p in vm.get("process", []):
            shrink(p)
    return tomlkit.dumps(doc)
