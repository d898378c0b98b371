"""Picture work shared between the calling thread and one more: numpy's scans, copies and
scatters run without the GIL, so on two cores two shares take little more than half the
time (a far seek's trail walk and its store scans at 64 GiB: 32 -> 20 ms and 11 -> 7 ms)."""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

THREADS = 2


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(THREADS - 1, thread_name_prefix="vmmemviz-picture")


def halves(items: list) -> list:
    """``items`` in ``THREADS`` consecutive shares, as even as counts go."""
    n = len(items)
    return [items[i * n // THREADS:(i + 1) * n // THREADS] for i in range(THREADS)]


def balanced(items, size) -> list:
    """``items`` in ``THREADS`` shares of about equal total ``size(item)``, biggest first."""
    shares, load = [[] for _ in range(THREADS)], [0] * THREADS
    for item in sorted(items, key=size, reverse=True):
        least = load.index(min(load))
        shares[least].append(item)
        load[least] += size(item)
    return shares


def run(fn, shares: list) -> list:
    """``[fn(share) for share in shares]``, the first share in this thread and the others in the
    pool; every share has finished when it returns, also when one raised."""
    others = [_pool().submit(fn, share) for share in shares[1:]]
    try:
        return [fn(shares[0])] + [other.result() for other in others]
    finally:
        for other in others:
            other.exception()       # waits: nothing may still write into the caller's arrays
