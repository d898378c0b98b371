"""The mechanisms that run after the workloads each tick, in this order.

Each is an object with ``name``, ``enabled(sim)``, ``setup(sim)`` and ``tick(sim)``; it may
also have ``setup_state(state, scenario)`` (to add arrays), ``fault(sim, vm, gppns, writes)``
(make pages accessible before an access), ``guest_fault(sim, vm, proc, gvpns)`` (bring
guest-paged pages back) and ``guest_reclaim(sim, vm, n)`` (free guest pages on demand).
"""
from .sampling import ActiveSampling
from .states import HostStates

ALL = [HostStates(), ActiveSampling()]
