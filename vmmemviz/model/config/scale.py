"""A scenario at another size: every size in MB and every per-second rate divided by a factor.

A host-scale scenario (the built-in ``datacenter``: 256 GiB) takes minutes a run; the same file
at 1/32 keeps its VMs, their mix and its dynamics (sizes and rates shrink together) and runs in
seconds, so tests and quick looks go through the file users open. minFree is a sliding scale,
so the states come at somewhat different ticks than at full size.
"""
from __future__ import annotations

import tomlkit

RATES = ("touches", "Sim.BalloonRate")      # per second: they shrink with memory


def scaled(text: str, factor: float) -> str:
    """The scenario ``text`` with every ``*_mb`` size and every rate divided by ``factor``."""
    doc = tomlkit.parse(text)

    def shrink(table):
        for k in list(table):
            if k.endswith("_mb"):
                table[k] = table[k] / factor
            elif k in RATES:
                table[k] = max(1, int(table[k] // factor))

    for name in ("host", "settings"):
        shrink(doc.get(name, {}))
    for vm in doc.get("vm", []):
        shrink(vm)
        for p in vm.get("process", []):
            shrink(p)
    return tomlkit.dumps(doc)
