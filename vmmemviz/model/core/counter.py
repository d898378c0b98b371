"""Counter declarations: what each esxtop figure is, declared beside the code that computes it.

A mechanism lists its counters in ``Mechanism.counters`` (the base figures are in
views/counters.py); the counters panel, the plots, F1 help and the esxtop reader read these
declarations instead of keeping tables of their own.
"""
from __future__ import annotations

from dataclasses import dataclass

# per-VM column groups, as esxtop's memory screen groups them: group -> (title, the event
# group whose colour it takes, one line)
GROUPS = {
    "mem": ("MEM", "core", "Memory size, granted, touched and overhead"),
    "tps": ("TPS", "tps", "Transparent page sharing"),
    "mctl": ("MCTL", "balloon", "Ballooning (the vmmemctl driver in VMware Tools)"),
    "swap": ("SWAP", "swap", "Hypervisor swapping to the VM's .vswp file and the host cache"),
    "zip": ("ZIP", "zip", "Memory compression cache"),
    "mmu": ("MMU", "access", "TLB and page-walk figures of the simulated MMU"),
    "other": ("OTHER", None, "Other counters"),
}


@dataclass(frozen=True)
class Counter:
    name: str                 # per VM the esxtop field ("MCTLSZ"); host: the key ("memctl_curr_mb")
    unit: str                 # "MB", "MB/s", "%", "pages/s" or ""
    group: str                # per VM: a key of GROUPS; host: esxtop's block ("MEMCTL/MB")
    help: str                 # one line: what it measures
    batch: str | None = None  # the esxtop batch-mode (PDH-CSV) counter name, where esxtop has one
    label: str = ""           # host: the figure's name inside its block ("curr")
    host: bool = False


def vm(name: str, unit: str, group: str, help: str, batch: str | None = None) -> Counter:
    """A per-VM counter."""
    assert group in GROUPS, f"{name}: unknown group {group}"
    return Counter(name, unit, group, help, batch)


def host(name: str, block: str, label: str, help: str, batch: str | None = None, unit: str = "MB") -> Counter:
    """A host counter: ``label`` in esxtop's ``block``."""
    return Counter(name, unit, block, help, batch, label, True)
