"""Pages and megabytes: the one conversion."""
from __future__ import annotations

PAGES_PER_MB = 256          # 4 KiB pages in a MB


def pages(mb: float) -> int:
    """Whole 4 KiB pages in ``mb`` MB (rounded)."""
    return int(round(mb * PAGES_PER_MB))


def mb(pages) -> float:
    """MB, to two decimals, as esxtop shows them."""
    return round(float(pages) / PAGES_PER_MB, 2)

