"""Pages and megabytes: the one conversion, and the per-second rates counters show."""
from __future__ import annotations

import numpy as np

PAGES_PER_MB = 256          # 4 KiB pages in a MB


def pages(mb: float) -> int:
    """Whole 4 KiB pages in ``mb`` MB (rounded)."""
    return int(round(mb * PAGES_PER_MB))


def mb(pages) -> float:
    """MB, to two decimals, as esxtop shows them."""
    return round(float(pages) / PAGES_PER_MB, 2)


def rate(recent, vm, *codes) -> float:
    """MB/s of ``vm``'s rows of kinds ``codes`` among ``recent`` (the tick's rows so far)."""
    return mb(np.count_nonzero((recent["vm"] == vm.index) & np.isin(recent["kind"], codes)))
