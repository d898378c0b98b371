"""esxtop batch captures (``esxtop -b``): Windows PerfMon CSV, every field double-quoted.

Row 1: first cell ``(PDH-CSV 4.0) (UTC)(0)``, then column names
``\\\\HOST\\Object(instance)\\Counter``; each further row is one sample: a timestamp
(``MM/DD/YYYY hh:mm:ss``) and the values. Only the memory objects are kept: ``Memory``
(host) and ``Group Memory(GID:name)`` (one per scheduler group); the per-world ``Vcpu``
object is read only for its world names; everything else (CPU, disk, network: most of
the tens of thousands of columns) is skipped while streaming.

Counters are named as the model names them (``run --json``): host ``managed_mb``,
``free_mb``, ``minfree_mb``, ``state``, ``pshare_*_mb``, ...; per group the esxtop field
names ``MEMSZ``, ``GRANT``, ``TCHD``, ... Each has its unit (:data:`COUNTERS`: the model's
own declarations, model.core.counter, plus the counters only captures have): counts
(MEMBERS, NUMA nodes and migrations, pages per share) and percentages are not MB, MCTL?
is Y/N. Memory counters we do not know are kept by their CSV name.

VMs and system groups. esxtop's ``V`` command shows only the groups that are VMs; a VM's
group holds its VMX world beside its vCPU, MKS and SVGA worlds ("Interpreting esxtop
Statistics", section 2.1 Worlds and Groups, VMware communities DOC-9279; in batch mode the
worlds appear as ``Vcpu(GID:vmname:WID:vmx)``). So, in order:

1. the capture has per-world columns: a group is a VM if one of its worlds is ``vmx``;
2. else a group is a VM if esxtop gives it a balloon maximum or a VMM overhead maximum
   (``Memctl Max MBytes`` / ``Overhead Max MBytes`` > 0 in some sample): both are
   computed from a VM's configured memory, and ESXi's own process groups (hostd, vpxa,
   sh, init, ...) have neither;
3. else (neither counter captured) a group is a system group if its name is one of
   ESXi's own (:data:`SYSTEM_NAMES`), a VM otherwise.

System groups are kept apart (``capture.system``) and folded into the host's
``system_mb`` (their granted plus overhead memory): memory the VMs cannot have.

Kernel State is a number whose meaning changed: ESXi 6.x 0 high, 1 clear, 2 soft, 3 hard,
4 low; ESXi 5.x (no clear) 0 high, 1 soft, 2 hard, 3 low. The capture does not say its
version, so unless told (``esxi="5"`` / ``"6"``) the reader takes the numbering whose
states best fit free memory against minFree with the hysteresis of docs/fidelity.md (6.x:
clear from 64% to 400% of minFree; 5.x: high above 64%), with 6.x on a tie and whenever a
4 appears (:data:`BANDS`). The raw number is kept as ``state_raw``.
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from vmmemviz.argparsing import ascii_float
from vmmemviz.errors import InputError
from vmmemviz.inputfile import open_input
from vmmemviz.model.reclaim.freestates import band
from vmmemviz.model.views import counters as declared

MAGIC = "(PDH-CSV 4.0)"

@dataclass(frozen=True)
class Counter:
    """One esxtop memory counter: its key (the model's name for it), its PDH names (the
    first is the one written), its unit and whether esxtop has it."""

    key: str
    scope: str                     # "host" or "vm"
    pdh: tuple
    unit: str                      # MB, MB/s, %, count, pages/s, Y/N, state, ratio
    esxtop: bool = True            # False: vmmemviz's own (written, ignored by other tools)


def _c(scope, key, unit, *pdh):
    return Counter(key, scope, pdh, unit)


# Names other esxtop versions use for a counter the model declares (the reader takes them
# too; the declaration's batch name is the one written). ESXi 6.x captures say "Compressed
# Memory MBytes", "Used Compressed Memory MBytes" and "Copy On Write Hint MBytes".
OTHER_NAMES = {
    ("host", "pshare_saving_mb"): ("PShare Saving MBytes",),
    ("host", "swap_curr_mb"): ("Swap Current MBytes",),
    ("host", "zip_saved_mb"): ("Saved By Compression MBytes",),
    ("vm", "GRANT"): ("Granted MBytes",),
    ("vm", "SZTGT"): ("Memory Target Size MBytes",),
    ("vm", "MCTL?"): ("Memctl?", "Memctl Installed"),
    ("vm", "MCTLSZ"): ("Memctl Size MBytes", "Memctl Current MBytes"),
    ("vm", "MCTLMAX"): ("Max Memctl MBytes",),
    ("vm", "SWCUR"): ("Swap Current MBytes", "Swap Used MBytes"),
    ("vm", "SWR/s"): ("Swapin MBytes/sec",),
    ("vm", "SWW/s"): ("Swap Write MBytes/sec", "Swapout MBytes/sec"),
    ("vm", "COWH"): ("Copy On Write Hint MBytes", "COW Hint MBytes"),
    ("vm", "CACHESZ"): ("Compressed Memory MBytes", "Compression Memory Cache Size MBytes"),
    ("vm", "CACHEUSD"): ("Used Compressed Memory MBytes", "Compression Memory Cache Used MBytes"),
    ("vm", "ZIP/s"): ("Compressed MBytes/sec",),
    ("vm", "UNZIP/s"): ("Decompressed MBytes/sec",),
}
# what a declared counter's values are, where its unit does not say it
KINDS = {("host", "state"): "state", ("vm", "MCTL?"): "Y/N"}
# counters esxtop writes that the model has not: read from captures only
CAPTURE_ONLY = (
    _c("host", "pmem_mb", "MB", "Machine MBytes"),
    _c("host", "reserved_mb", "MB", "Kernel Reserved MBytes"),
    _c("host", "unreserved_mb", "MB", "Kernel Unreserved MBytes"),
    _c("host", "nonkernel_mb", "MB", "NonKernel MBytes"),
    _c("host", "swap_rclmtgt_mb", "MB", "Swap Target MBytes", "Swap Reclaim Target MBytes"),
    _c("host", "swap_r_mbps", "MB/s", "Swap MBytes Read/sec", "Swap Read MBytes/sec"),
    _c("host", "swap_w_mbps", "MB/s", "Swap MBytes Write/sec", "Swap Written MBytes/sec"),
    _c("host", "overcommit_1m", "ratio", "Memory Overcommit (1 Minute Avg)"),
    _c("host", "overcommit_5m", "ratio", "Memory Overcommit (5 Minute Avg)"),
    _c("host", "overcommit_15m", "ratio", "Memory Overcommit (15 Minute Avg)"),
    _c("vm", "MEMBERS", "count", "Members"),
    _c("vm", "CNSM", "MB", "Memory Consumed Size MBytes", "Consumed MBytes"),
    _c("vm", "TCHD_W", "MB", "Touched Write MBytes"),
    _c("vm", "%ACTVS", "%", "% Active Slow Estimate"),
    _c("vm", "%ACTVF", "%", "% Active Fast Estimate"),
    _c("vm", "%ACTVN", "%", "% Active Next Estimate"),
    _c("vm", "LLSWR/s", "MB/s", "LLSwap Read MBytes/sec"),
    _c("vm", "LLSWW/s", "MB/s", "LLSwap Written MBytes/sec", "LLSwap Write MBytes/sec"),
    _c("vm", "OVHDMAX", "MB", "Overhead Max MBytes"),
    _c("vm", "OVHDUW", "MB", "Overhead UW MBytes", "Overhead Upper Watermark MBytes"),
    _c("vm", "RESV", "MB", "Alloc Min MBytes", "Memory Alloc Min MBytes", "Reservation MBytes",
       "Alloc Min"),
    _c("vm", "LIMIT", "MB", "Alloc Max MBytes", "Memory Alloc Max MBytes", "Limit MBytes",
       "Alloc Max"),
    _c("vm", "SHARES", "count", "Alloc Shares", "Memory Alloc Shares", "Shares"),
    _c("vm", "NHN", "count", "NUMA Home Nodes", "Numa Home Nodes"),
    _c("vm", "NMIG", "count", "Numa Migrations", "NUMA Migrations"),
    _c("vm", "NRMEM", "MB", "Numa Remote MBytes", "NUMA Remote MBytes"),
    _c("vm", "NLMEM", "MB", "Numa Local MBytes", "NUMA Local MBytes"),
    _c("vm", "N%L", "%", "Numa % Local", "NUMA % Local"),
    _c("vm", "CPTSH", "count", "Commit Pages Per Share"),
)


def _declared():
    """The model's counters as declared beside their mechanisms (model.views.counters);
    one without an esxtop batch name is written as "vmmemviz NAME"."""
    for scope, table in (("host", declared.HOST), ("vm", declared.VM)):
        for name, d in table.items():
            names = (d.batch,) if d.batch else (f"vmmemviz {name}",)
            yield Counter(name, scope, names + OTHER_NAMES.get((scope, name), ()),
                          KINDS.get((scope, name)) or d.unit or "count", d.batch is not None)


# Every counter, in one table: the reader, the table, the JSON and the writer read it.
COUNTERS = tuple(_declared()) + CAPTURE_ONLY
BY_KEY = {(c.scope, c.key): c for c in COUNTERS}
_BY_PDH = {(c.scope, " ".join(n.lower().split())): c for c in COUNTERS for n in c.pdh}

STATES_6 = ("high", "clear", "soft", "hard", "low")
STATES_5 = ("high", "soft", "hard", "low")
# shares of minFree, as freestates.threshold_lines gives them: the mark above which the host
# is back in high, then where each state is entered. With the hysteresis of docs/fidelity.md
# (a state is left upward only above the mark of the state above) a state can be reported
# anywhere in its band (freestates.band): one reading fits a real 6.x host in clear at 146% of
# minFree after reclamation ("high above 400%, clear between 400% and 100%" as it recovers)
# and vmmemviz's own exports, which enter clear below 100% on the way down.
BANDS = {"6.x": (("high", 4.0), ("clear", 1.0), ("soft", 0.64), ("hard", 0.32), ("low", 0.16)),
         "5.x": (("high", 1.0), ("soft", 0.64), ("hard", 0.32), ("low", 0.16))}


def threshold_lines(esxi: str, minfree_mb: float) -> list[tuple[str, float]]:
    """(state, MB) of each line, top down: the high mark, then where each state is entered."""
    return [(n, share * minfree_mb) for n, share in BANDS[esxi]]


def fits(esxi: str, state: str, free_mb: float, minfree_mb: float) -> bool:
    """Whether a host of this numbering can report ``state`` with ``free_mb`` free."""
    lo, hi = band(threshold_lines(esxi, minfree_mb), state)
    return lo <= free_mb < hi
# ESXi's own scheduler groups and user-world processes (used only when the capture has
# neither per-world columns nor the VM-only counters)
SYSTEM_NAMES = frozenset(
    "host system idle helper drivers ft vmotion vmkapimod init sh hostd vpxa hostd-probe "
    "vmsyslogd vmkiscsid vmkdevmgr vobd net-lacp net-lbt dcui sfcbd sfcbd-watchdog rhttpproxy "
    "lwsmd ntpd snmpd storageRM sdrsInjector smartd swapobjd usbarbitrator vvold nfsgssd "
    "iofilterd-vmwarevmcrypt busybox ioFilterVPServer hostdCgiServer dhclient-uw vmfstraced "
    "nscd openwsmand sensord slpd epd etcd hostprofiletrace apiForwarder vsanvpd "
    "vsanmgmtd cmmdsd clomd osfsd vmtoolsd".lower().split())

_COL = re.compile(r"^\\\\([^\\]*)\\([^\\(]+)(?:\((.*)\))?\\(.+)$")


def unit(scope: str, key: str) -> str:
    """The unit of a counter (for counters not in :data:`COUNTERS`, from its CSV name)."""
    c = BY_KEY.get((scope, key))
    if c:
        return c.unit
    low = key.lower()
    return "MB/s" if "mbytes/sec" in low else "MB" if "mbytes" in low else \
        "%" if "%" in low else "count"


@dataclass
class EsxtopCapture:
    """Memory time series of one esxtop batch capture (one value per sample)."""

    path: str
    host_name: str
    times: np.ndarray                                    # datetime64[s], UTC
    host: dict[str, np.ndarray] = field(default_factory=dict)
    vms: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    system: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    gids: dict[str, str] = field(default_factory=dict)   # group name -> GID
    columns: dict[tuple, str] = field(default_factory=dict, repr=False)  # (who, key) -> CSV
    esxi: str = "6.x"                                    # state numbering used
    why_vm: str = ""                                     # how VMs were told from system groups

    @property
    def samples(self) -> int:
        return len(self.times)

    def index(self, sample: int | None) -> int:
        """Sample number (negative from the end, None = the last) checked against the file."""
        if self.samples == 0:
            raise InputError(f"{self.path}: expected at least one sample row, got only the header")
        i = self.samples - 1 if sample is None else sample if sample >= 0 else self.samples + sample
        if not 0 <= i < self.samples:
            raise InputError(f"{self.path}: --sample: expected 0 to {self.samples - 1} "
                             f"(or -1 for the last), got {sample}")
        return i

    def sample(self, i: int | None = None) -> dict:
        """Counters at sample ``i`` in ``run --json``'s shape: {"host", "vms", "system"}.
        Sizes in MB, Kernel State as its name (raw number in ``state_raw``), MCTL? as Y/N."""
        i = self.index(i)
        host = {k: _value("host", k, v[i], self.esxi) for k, v in self.host.items()}
        if "state" in self.host and math.isfinite(self.host["state"][i]):
            host["state_raw"] = int(self.host["state"][i])
        sysmb = [_group_mb(c, i) for c in self.system.values()]
        if sysmb:
            host["system_mb"] = round(sum(sysmb), 2)
        return {"host": host,
                "vms": {n: {k: _value("vm", k, v[i], "") for k, v in c.items()}
                        for n, c in self.vms.items()},
                "system": {n: {k: _value("vm", k, v[i], "") for k, v in c.items()}
                           for n, c in self.system.items()}}


    def swap_out_mbps(self, i: int | None = None) -> float:
        """How fast the host took pages out for swapping up to sample ``i``: the median, over
        the samples where it swapped, of SWW/s + ZIP/s + LLSWW/s summed over VMs (0 when it
        never did). The median, not the peak: a fault that finds no free frame is served at once."""
        i = self.index(i)
        rates = [c[k][:i + 1] for c in self.vms.values() for k in ("SWW/s", "ZIP/s", "LLSWW/s") if k in c]
        total = np.nansum(rates, axis=0) if rates else np.zeros(1)
        return float(np.median(total[total > 0])) if (total > 0).any() else 0.0


def _group_mb(c: dict, i: int) -> float:
    """Machine memory of a system group: granted (or consumed) plus overhead."""
    grant = c.get("GRANT", c.get("CNSM"))
    total = 0.0
    for s in (grant, c.get("OVHD")):
        if s is not None and math.isfinite(s[i]):
            total += float(s[i])
    return total


def _value(scope, key, v, esxi):
    v = float(v)
    if math.isnan(v):
        return None
    u = BY_KEY[(scope, key)].unit if (scope, key) in BY_KEY else ""
    if u == "state":
        names = STATES_5 if esxi.startswith("5") else STATES_6
        return names[int(v)] if 0 <= v < len(names) and v == int(v) else f"unknown ({v:g})"
    if u == "Y/N":
        return "Y" if v else "N"
    return int(v) if u == "count" and v == int(v) else round(v, 2)


MISSING = ("", "n/a", "nan", "+nan", "-nan")   # how esxtop writes a counter it has none of (any case)
MAX_CELL = 1e15                     # no counter of a real host comes near (1e15 MB is 1 ZB)
_WORDS = {"y": 1.0, "yes": 1.0, "true": 1.0, "n": 0.0, "no": 0.0, "false": 0.0}


def _num(s: str, words: bool = True) -> float | None:
    """A cell's value: a number as esxtop writes one (ASCII digits, a point, an exponent:
    ``ascii_float``) of at most :data:`MAX_CELL` either way, NaN for none (:data:`MISSING`), with
    ``words`` Y/N words as 1/0; None for anything else (text, 1e308, 1_000, full-width digits):
    the reader refuses it."""
    v = ascii_float(s)
    if v is not None:
        return v if abs(v) <= MAX_CELL else None
    low = s.strip(" \t").lower()
    return math.nan if low in MISSING else _WORDS.get(low) if words else None


def _words(scope: str, key: str) -> bool:
    """Whether a column may hold Y/N words: a Y/N counter, or one we do not know."""
    c = BY_KEY.get((scope, key))
    return c is None or c.unit == "Y/N"


def _bad_cell(path, line: int, column: str, scope: str, key: str, cell: str) -> InputError:
    what = "Y or N" if unit(scope, key) == "Y/N" else f"a number from {-MAX_CELL:g} to {MAX_CELL:g}"
    return InputError(f"{path}:{line}: {column}: expected {what} (or an empty cell or N/A where esxtop "
                      f"has none), got {cell[:40]!r}")


def _state_numbering(state, free, minfree) -> str:
    """The reading of Kernel State (a key of BANDS) that fits free/minFree best: least
    distance in states between each reported state and the nearest state that fits (a sample
    with negative free memory, which no real host reports, fits none and is not counted)."""
    raw = state[np.isfinite(state)]
    if free is None or minfree is None:
        return "6.x"
    miss = {}
    for esxi in BANDS:
        names = STATES_5 if esxi.startswith("5") else STATES_6
        if len(raw) and raw.max() >= len(names):
            continue
        miss[esxi] = 0
        for s, f, m in zip(state, free, minfree):
            if math.isfinite(s) and math.isfinite(f) and f >= 0 and m > 0 and 0 <= s < len(names):
                miss[esxi] += min(abs(int(s) - j) for j, n in enumerate(names) if fits(esxi, n, f, m))
    if not miss:        # a state past every numbering's last: read as 6.x (as --esxi 6 reads it)
        return "6.x"
    return min(miss, key=lambda k: (miss[k], k != "6.x"))


def read_esxtop(path: str | os.PathLike, esxi: str | None = None) -> EsxtopCapture:
    """Stream an esxtop batch CSV and keep the host and per-group memory counters.
    ``esxi`` "5" or "6" forces the Kernel State numbering (default: inferred)."""
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
            keep: list[tuple[int, str, str]] = []   # (column, who, key)
            host_name = ""
            columns = {}
            gids: dict[str, str] = {}
            vmx_gids: set[str] = set()
            worlds_seen = False
            for j, col in enumerate(header[1:], 1):
                m = _COL.match(col)
                if not m:
                    continue
                host, obj, inst, counter = m.groups()
                obj = obj.strip()
                cname = " ".join(counter.lower().split())
                if obj == "Memory" and inst is None:
                    host_name = host_name or host
                    c = _BY_PDH.get(("host", cname))
                    who, key = "host", c.key if c else counter
                elif obj == "Group Memory" and inst is not None:
                    gid, _, name = inst.partition(":")
                    if not name:
                        gid, name = "", inst
                    if name in gids and gids[name] != gid:
                        name = f"{name} ({gid})"
                    gids[name] = gid
                    c = _BY_PDH.get(("vm", cname))
                    who, key = name, c.key if c else counter
                elif obj == "Vcpu" and inst is not None:
                    worlds_seen = True
                    parts = inst.split(":")
                    if parts[-1].strip().lower() == "vmx":
                        vmx_gids.add(parts[0])
                    continue
                else:
                    continue
                if (who, key) in columns:   # the same counter twice: keep the first
                    continue
                columns[(who, key)] = col
                keep.append((j, who, key))
            rows_t: list[str] = []
            lines: list[int] = []                   # each row's line, as an editor numbers it
            values: list[list[float]] = []
            idx = [(j, _words("host" if who == "host" else "vm", key)) for j, who, key in keep]
            for row in reader:
                if not row or row == [""]:
                    continue
                if len(row) != ncol:
                    raise InputError(f"{path}:{reader.line_num}: expected {ncol} fields (as in the "
                                     f"header), got {len(row)} (truncated or corrupt row)")
                rows_t.append(row[0])
                lines.append(reader.line_num)
                vals = [_num(row[j], words) for j, words in idx]
                if None in vals:
                    j, who, key = keep[vals.index(None)]
                    raise _bad_cell(path, reader.line_num, header[j], "host" if who == "host" else "vm",
                                    key, row[j])
                values.append(vals)
        except csv.Error as e:
            raise InputError(f"{path}:{reader.line_num}: expected quoted CSV fields, got a CSV error: "
                             f"{e}") from None
        except StopIteration:
            raise InputError(f"{path}:1: expected a header row, got an empty file") from None
    if not keep:
        raise InputError(f"{path}:1: no memory columns (expected \\\\HOST\\Memory\\... or \\\\HOST\\"
                         f"Group Memory(GID:name)\\...: capture with the memory screen enabled)")
    times = np.empty(len(rows_t), "datetime64[s]")
    for i, t in enumerate(rows_t):
        try:
            dt = datetime.strptime(t.strip(), "%m/%d/%Y %H:%M:%S").replace(tzinfo=timezone.utc)
        except ValueError:
            raise InputError(f"{path}:{lines[i]}: timestamp: expected MM/DD/YYYY hh:mm:ss, "
                             f"got {t[:40]!r}") from None
        times[i] = np.datetime64(int(dt.timestamp()), "s")
    data = np.array(values, dtype=np.float64).reshape(len(values), len(keep))
    cap = EsxtopCapture(path, host_name, times, gids=gids, columns=columns)
    groups: dict[str, dict[str, np.ndarray]] = {}
    for k, (_, who, key) in enumerate(keep):
        (cap.host if who == "host" else groups.setdefault(who, {}))[key] = data[:, k]
    _split_groups(cap, groups, vmx_gids if worlds_seen else None)
    if esxi in ("5", "5.x"):
        cap.esxi = "5.x"
    elif esxi in (None, "", "auto"):
        if "state" in cap.host:
            cap.esxi = _state_numbering(cap.host["state"], cap.host.get("free_mb"),
                                        cap.host.get("minfree_mb"))
    return cap


def _split_groups(cap: EsxtopCapture, groups: dict, vmx_gids: set | None) -> None:
    """VMs first, system groups apart (see the module docstring for the rule)."""
    have_vm_only = any(k in c for c in groups.values() for k in ("MCTLMAX", "OVHDMAX"))
    for name, c in groups.items():
        if vmx_gids is not None:
            is_vm = cap.gids.get(name) in vmx_gids
            cap.why_vm = "groups with a vmx world"
        elif have_vm_only:
            is_vm = any(np.nanmax(c[k], initial=0) > 0 for k in ("MCTLMAX", "OVHDMAX") if k in c)
            cap.why_vm = "groups with a balloon or VMM overhead maximum"
        else:
            is_vm = name.split(".")[0].lower() not in SYSTEM_NAMES
            cap.why_vm = "groups not named as ESXi's own processes"
        (cap.vms if is_vm else cap.system)[name] = c


def table(s: dict, title: str = "") -> str:
    """One sample as an esxtop-like memory screen: host line, VMs, then system groups."""
    h = s["host"]
    lines = [title] if title else []
    lines.append("  ".join(f"{k}: {v}{_u('host', k)}" for k, v in h.items()))
    for label, groups in (("VMs", s["vms"]), ("system groups", s.get("system", {}))):
        if not groups:
            continue
        cols = list(dict.fromkeys(k for g in groups.values() for k in g))
        heads = [f"{c}{'(' + _unit_short('vm', c) + ')' if _unit_short('vm', c) else ''}"
                 for c in cols]
        widths = [max(len(x), 7) for x in heads]
        name_w = max(8, *(len(n) for n in groups))
        lines.append(f"\n{label} ({len(groups)})")
        lines.append(f"{'NAME':<{name_w}} " + " ".join(f"{x:>{w}}" for x, w in zip(heads, widths)))
        for n, g in groups.items():
            lines.append(f"{n:<{name_w}} " + " ".join(
                f"{'-' if g.get(c) is None else g[c]!s:>{w}}" for c, w in zip(cols, widths)))
    return "\n".join(lines)


def host_label(key: str) -> str:
    """A host figure as esxtop names it: its block and word ("VMKMEM minfree", "PSHARE/MB
    saving") where the model declares it, else its batch column's words ("Machine")."""
    d = declared.HOST.get(key)
    if d is not None:
        return f"{d.group} {d.label}"
    c = BY_KEY.get(("host", key))
    return " ".join(c.pdh[0].replace("MBytes", "").split()) if c else key


def _unit_short(scope, key) -> str:
    u = unit(scope, key)
    return u if u in ("MB", "MB/s") else ""


def _u(scope, key) -> str:
    u = unit(scope, key)
    return f" {u}" if u in ("MB", "MB/s") else ""
