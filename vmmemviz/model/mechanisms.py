"""The mechanisms that run after the workloads each tick, in this order.

Each is an object with ``name``, ``enabled(sim)``, ``setup(sim)`` and ``tick(sim)``; it may
also have ``setup_state(state, scenario)`` (to add arrays), ``fault(sim, vm, gppns, writes)``
(make pages accessible before an access), ``back(sim, vm, gppns)`` (back first touches its
own way, e.g. with large pages; returns the GPPNs left for 4 KB ``BACK``),
``guest_fault(sim, vm, proc, gvpns)`` (bring guest-paged pages back) and
``guest_reclaim(sim, vm, n)`` (free guest pages on demand).
"""
from .largepages import LargePages
from .sampling import ActiveSampling
from .states import HostStates
from .tps import PageSharing

# large pages are broken before TPS scans; TPS runs before any swapping (share before swap)
ALL = [HostStates(), ActiveSampling(), LargePages(), PageSharing()]
