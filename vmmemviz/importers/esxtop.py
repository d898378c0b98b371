"""esxtop batch captures (``esxtop -b``): Windows PerfMon CSV, every field double-quoted.

Row 1: first cell ``(PDH-CSV 4.0) (UTC)(0)``, then column names
``\\\\HOST\\Object(instance)\\Counter``; each further row is one sample: a timestamp
(``MM/DD/YYYY hh:mm:ss``) and the values. Only the memory objects are kept: ``Memory``
(host) and ``Group Memory(GID:name)`` (per VM / resource group); other objects (CPU, disk,
network: most of the tens of thousands of columns) are skipped while streaming. Counters
are renamed to esxtop field names: host ``managed``, ``minfree``, ``free``, ``state``,
``pshare_*_mb``, ``swap_*_mb``, ``zip_*_mb``, ``memctl_*_mb``; per VM ``MEMSZ``, ``GRANT``,
``TCHD``, ``SZTGT``, ``MCTLSZ``, ``SWCUR``, ``ZERO``, ``SHRD``, ``COWH``, ``OVHD``,
``CACHESZ``, ... (table below). Memory counters we do not know are kept by their CSV name.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from vmmemviz.errors import InputError
from vmmemviz.inputfile import open_input

MAGIC = "(PDH-CSV 4.0)"

# esxtop name -> CSV counter names (lower case, regular expressions, first match wins)
HOST_COUNTERS = {
    "pmem_mb": [r"machine mbytes"],
    "managed": [r"kernel managed mbytes"],
    "minfree": [r"kernel minfree mbytes"],
    "free": [r"free mbytes"],
    "state": [r"kernel state"],
    "reserved_mb": [r"kernel reserved mbytes"],
    "unreserved_mb": [r"kernel unreserved mbytes"],
    "pshare_shared_mb": [r"pshare shared mbytes"],
    "pshare_common_mb": [r"pshare common mbytes"],
    "pshare_saving_mb": [r"pshare savings? mbytes"],
    "swap_curr_mb": [r"swap used mbytes", r"swap current mbytes"],
    "swap_rclmtgt_mb": [r"swap target mbytes", r"swap reclaim target mbytes"],
    "swap_r_mbps": [r"swap mbytes read/sec", r"swap read mbytes/sec"],
    "swap_w_mbps": [r"swap mbytes write/sec", r"swap written mbytes/sec"],
    "zip_zipped_mb": [r"total compressed mbytes", r"compressed mbytes"],
    "zip_saved_mb": [r"total saved by compression mbytes", r"saved by compression mbytes"],
    "memctl_curr_mb": [r"memctl current mbytes", r"memctl mbytes"],
    "memctl_target_mb": [r"memctl target mbytes"],
    "memctl_max_mb": [r"memctl max mbytes"],
}
HOST_ALIASES = {"managed_mb": "managed", "minfree_mb": "minfree", "free_mb": "free"}
VM_COUNTERS = {
    "MEMBERS": [r"members"],
    "MEMSZ": [r"memory size mbytes"],
    "GRANT": [r"memory granted size mbytes", r"granted mbytes"],
    "CNSM": [r"memory consumed size mbytes", r"consumed mbytes"],
    "SZTGT": [r"target size mbytes", r"memory target size mbytes"],
    "TCHD": [r"touched mbytes"],
    "TCHD_W": [r"touched write mbytes"],
    "%ACTV": [r"% active estimate"],
    "%ACTVS": [r"% active slow estimate"],
    "%ACTVF": [r"% active fast estimate"],
    "%ACTVN": [r"% active next estimate"],
    "MCTL?": [r"memctl installed\??", r"memctl\?"],
    "MCTLSZ": [r"memctl mbytes", r"memctl size mbytes", r"memctl current mbytes"],
    "MCTLTGT": [r"memctl target mbytes"],
    "MCTLMAX": [r"memctl max mbytes", r"max memctl mbytes"],
    "SWCUR": [r"swapped mbytes", r"swap current mbytes", r"swap used mbytes"],
    "SWTGT": [r"swap target mbytes"],
    "SWR/s": [r"swap read mbytes/sec", r"swapin mbytes/sec"],
    "SWW/s": [r"swap written mbytes/sec", r"swap write mbytes/sec", r"swapout mbytes/sec"],
    "LLSWR/s": [r"llswap read mbytes/sec"],
    "LLSWW/s": [r"llswap written mbytes/sec", r"llswap write mbytes/sec"],
    "ZERO": [r"zero mbytes"],
    "SHRD": [r"shared mbytes"],
    "SHRDSVD": [r"shared saved mbytes"],
    "COWH": [r"copy-on-write hint mbytes", r"cow hint mbytes"],
    "OVHD": [r"overhead mbytes"],
    "OVHDMAX": [r"overhead max mbytes"],
    "OVHDUW": [r"overhead upper watermark mbytes"],
    "CACHESZ": [r"(compression )?memory cache size mbytes", r"cache size mbytes"],
    "CACHEUSD": [r"(compression )?memory cache used mbytes", r"cache used mbytes"],
    "ZIP/s": [r"compressed memory mbytes/sec", r"compress(ion)? mbytes/sec", r"zip mbytes/sec"],
    "UNZIP/s": [r"decompressed memory mbytes/sec", r"decompress(ion)? mbytes/sec",
                r"unzip mbytes/sec"],
    "RESV": [r"(memory )?reservation mbytes", r"resv mbytes"],
    "LIMIT": [r"(memory )?limit mbytes"],
    "SHARES": [r"(memory )?shares"],
}
_HOST_RX = [(k, re.compile(f"(?:{'|'.join(v)})$")) for k, v in HOST_COUNTERS.items()]
_VM_RX = [(k, re.compile(f"(?:{'|'.join(v)})$")) for k, v in VM_COUNTERS.items()]
_COL = re.compile(r"^\\\\([^\\]*)\\([^\\(]+)(?:\((.*)\))?\\(.+)$")


def _match(table, counter: str) -> str | None:
    c = " ".join(counter.lower().split())
    for name, rx in table:
        if rx.fullmatch(c):
            return name
    return None


@dataclass
class EsxtopCapture:
    """Memory time series of one esxtop batch capture (one value per sample)."""

    path: str
    host_name: str
    times: np.ndarray                                   # datetime64[s], UTC
    host: dict[str, np.ndarray] = field(default_factory=dict)
    vms: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    gids: dict[str, str] = field(default_factory=dict)  # group name -> GID
    columns: dict[tuple, str] = field(default_factory=dict, repr=False)  # (who, name) -> CSV

    @property
    def samples(self) -> int:
        return len(self.times)

    def sample(self, i: int) -> dict:
        """Counters at sample ``i`` as {"host": {...}, "vms": {name: {...}}} (floats)."""
        return {"host": {k: float(v[i]) for k, v in self.host.items()},
                "vms": {n: {k: float(v[i]) for k, v in c.items()} for n, c in self.vms.items()}}


def _num(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        low = s.strip().lower()
        if low in ("y", "yes", "true"):
            return 1.0
        if low in ("n", "no", "false"):
            return 0.0
        return math.nan


def read_esxtop(path: str | os.PathLike) -> EsxtopCapture:
    """Stream an esxtop batch CSV and keep the host and per-group memory counters."""
    path = os.fspath(path)
    f = io.TextIOWrapper(open_input(path), encoding="utf-8", errors="replace", newline="")
    with f:
        head = f.read(64)
        f.seek(0)
        if not head.lstrip("\ufeff").startswith('"' + MAGIC):
            raise InputError(f"{path}:1: first cell: expected \"{MAGIC} (UTC)(0)\" (an esxtop "
                             f"batch capture, esxtop -b), got {head[:30]!r}")
        reader = csv.reader(f, strict=True)
        try:
            header = next(reader)
            ncol = len(header)
            keep: list[tuple[int, str, str]] = []   # (column, who, name)
            host_name = ""
            columns = {}
            gids: dict[str, str] = {}
            for j, col in enumerate(header[1:], 1):
                m = _COL.match(col)
                if not m:
                    continue
                host, obj, inst, counter = m.groups()
                obj = obj.strip()
                if obj == "Memory" and inst is None:
                    host_name = host_name or host
                    name = _match(_HOST_RX, counter) or counter
                    who = "host"
                elif obj == "Group Memory" and inst is not None:
                    gid, _, vm = inst.partition(":")
                    if not vm:
                        gid, vm = "", inst
                    if vm in gids and gids[vm] != gid:
                        vm = f"{vm} ({gid})"
                    gids[vm] = gid
                    name = _match(_VM_RX, counter) or counter
                    who = vm
                else:
                    continue
                if (who, name) in columns:   # the same counter twice: keep the first
                    continue
                columns[(who, name)] = col
                keep.append((j, who, name))
            rows_t: list[str] = []
            values: list[list[float]] = []
            idx = [j for j, _, _ in keep]
            for row in reader:
                if not row or row == [""]:
                    continue
                if len(row) != ncol:
                    raise InputError(f"{path}:{reader.line_num}: expected {ncol} fields (as in the "
                                     f"header), got {len(row)} (truncated or corrupt row)")
                rows_t.append(row[0])
                values.append([_num(row[j]) for j in idx])
        except csv.Error as e:
            raise InputError(f"{path}:{reader.line_num}: expected quoted CSV fields, got a CSV error: "
                             f"{e}") from None
        except StopIteration:
            raise InputError(f"{path}:1: expected a header row, got an empty file") from None
    times = np.empty(len(rows_t), "datetime64[s]")
    for i, t in enumerate(rows_t):
        try:
            dt = datetime.strptime(t.strip(), "%m/%d/%Y %H:%M:%S").replace(tzinfo=timezone.utc)
        except ValueError:
            raise InputError(f"{path}:{i + 2}: timestamp: expected MM/DD/YYYY hh:mm:ss, "
                             f"got {t[:40]!r}") from None
        times[i] = np.datetime64(int(dt.timestamp()), "s")
    data = np.array(values, dtype=np.float64).reshape(len(values), len(keep))
    cap = EsxtopCapture(path, host_name, times, gids=gids, columns=columns)
    for k, (_, who, name) in enumerate(keep):
        series = data[:, k]
        if who == "host":
            cap.host[name] = series
        else:
            cap.vms.setdefault(who, {})[name] = series
    for alias, name in HOST_ALIASES.items():
        if name in cap.host:
            cap.host[alias] = cap.host[name]
    return cap


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _mb(v: float) -> str:
    v = round(float(v), 2)
    return str(int(v)) if v == int(v) else repr(v)


def scenario_skeleton(capture: EsxtopCapture | str | os.PathLike, sample: int = 0) -> str:
    """TOML scenario text: [host] memory_mb and one [[vm]] per group with a MEMSZ > 0
    (name, memory_mb = MEMSZ, reservation_mb / limit_mb when the capture has them)."""
    cap = capture if isinstance(capture, EsxtopCapture) else read_esxtop(capture)
    if cap.samples == 0:
        raise InputError(f"{cap.path}: expected at least one sample row, got only the header")
    i = sample if sample >= 0 else cap.samples + sample

    def val(series):
        if series is None:
            return math.nan
        return float(series[i])

    vms = []
    for name, c in cap.vms.items():
        memsz = val(c.get("MEMSZ"))
        if math.isfinite(memsz) and memsz > 0:
            vms.append((name, memsz, val(c.get("RESV")), val(c.get("LIMIT"))))
    host_mb = next((v for v in (val(cap.host.get("pmem_mb")), val(cap.host.get("managed")))
                    if math.isfinite(v) and v > 0), None)
    if host_mb is None:
        host_mb = sum(m for _, m, _, _ in vms) or 1024
    out = io.StringIO()
    when = str(cap.times[i]) if cap.samples else "?"
    out.write(f"# Scenario skeleton from the esxtop capture {os.path.basename(cap.path)}\n")
    out.write(f"# host {cap.host_name or '?'}, sample {i + 1} of {cap.samples} ({when} UTC).\n")
    out.write("# Sizes are from the capture; add processes and workloads to each VM.\n")
    out.write(f"name = {_toml_str('esxtop capture of ' + (cap.host_name or 'a host'))}\n")
    out.write(f"duration = {max(60, cap.samples)}\n\n[host]\nmemory_mb = {_mb(host_mb)}\n")
    for name, memsz, resv, limit in vms:
        out.write(f"\n[[vm]]\nname = {_toml_str(name)}\nmemory_mb = {_mb(memsz)}\n")
        if math.isfinite(resv) and resv > 0:
            out.write(f"reservation_mb = {_mb(min(resv, memsz))}\n")
        if math.isfinite(limit) and 0 < limit < memsz:
            out.write(f"limit_mb = {_mb(limit)}\n")
    return out.getvalue()
