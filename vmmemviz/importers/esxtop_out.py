"""esxtop out: a run written as an esxtop batch capture (``esxtop -b``), one row per tick.

Windows PerfMon CSV as esxtop writes it: every field double-quoted, CRLF line ends, first
cell ``(PDH-CSV 4.0) (UTC)(0)``, columns ``\\\\HOST\\Memory\\<counter>`` and
``\\\\HOST\\Group Memory(GID:vm)\\<counter>`` named from :data:`esxtop.COUNTERS` (the
batch names the model's counters declare; one esxtop has not as ``vmmemviz NAME``, which
esxtop tools ignore), one ``Vcpu(GID:vm:WID:vmx)\\% Used`` column per VM so readers can tell VMs from
system groups as esxtop does. Kernel State is written with ESXi 6.x numbering (0 high ...
4 low), MCTL? as 1 / 0. The file is written to a temp file and renamed (never half-written).
"""
from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

from vmmemviz.outputfile import out_file
from vmmemviz.importers.esxtop import BY_KEY, MAGIC, STATES_6

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
GID0 = 100000          # esxtop's group IDs of VMs are large numbers


def _cell(scope: str, key: str, v) -> str:
    u = BY_KEY[(scope, key)].unit if (scope, key) in BY_KEY else ""
    if u == "state":
        return str(STATES_6.index(v))
    if u == "Y/N":
        return "1" if v in ("Y", True, 1) else "0"
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


def _name(scope: str, key: str) -> str:
    c = BY_KEY.get((scope, key))
    return c.pdh[0] if c else key


def alloc_columns(scenario) -> dict:
    """esxtop's Alloc Min / Max / Shares (RESV, LIMIT, SHARES) of a scenario's VMs: they are
    configuration, not counters of the run, but esxtop writes them in every row."""
    return {v.name: {"RESV": float(v.reservation_mb),
                     "LIMIT": float(v.limit_mb) if v.limit_mb is not None else -1.0,
                     "SHARES": int(v.share_count())} for v in scenario.vms}


def write_esxtop(path, history: list, host: str = "vmmemviz", start: datetime = START,
                 alloc: dict | None = None, what: str = "esxtop CSV") -> int:
    """Write ``history`` (per tick: {"tick", "host": {...}, "vms": {...}}, as Timeline.history
    and ``run --json``) to ``path``, with each VM's ``alloc`` columns (:func:`alloc_columns`)
    in every row; returns the number of rows. An error writing it is one line naming
    ``what`` (``outputfile.out_file``), and ``path`` is left as it was."""
    if not history:
        raise ValueError("no ticks to write")
    if alloc:
        history = [{**h, "vms": {n: {**v, **alloc.get(n, {})} for n, v in h["vms"].items()}}
                   for h in history]
    host_keys = list(dict.fromkeys(k for h in history for k in h["host"]))
    vms = list(dict.fromkeys(n for h in history for n in h["vms"]))
    vm_keys = list(dict.fromkeys(k for h in history for v in h["vms"].values() for k in v))
    gid = {n: GID0 + 1000 * i for i, n in enumerate(vms)}
    head = [f"{MAGIC} (UTC)(0)"]
    head += [f"\\\\{host}\\Memory\\{_name('host', k)}" for k in host_keys]
    for n in vms:
        head += [f"\\\\{host}\\Group Memory({gid[n]}:{n})\\{_name('vm', k)}" for k in vm_keys]
    head += [f"\\\\{host}\\Vcpu({gid[n]}:{n}:{gid[n] + 1}:vmx)\\% Used" for n in vms]
    with out_file(path, what) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(head)
        for h in history:
            t = start + timedelta(seconds=int(h["tick"]))
            row = [t.strftime("%m/%d/%Y %H:%M:%S")]
            row += [_cell("host", k, h["host"][k]) if k in h["host"] else "" for k in host_keys]
            for n in vms:
                v = h["vms"].get(n, {})
                row += [_cell("vm", k, v[k]) if k in v else "" for k in vm_keys]
            row += ["0"] * len(vms)
            w.writerow(row)
    return len(history)
