"""The mechanisms that run after the workloads each tick, in this order.

Each is an object with ``name``, ``enabled(sim)``, ``setup(sim)`` and ``tick(sim)``; it may
also have ``setup_state(state, scenario)`` (to add arrays), ``fault(sim, vm, gppns, writes)``
(make pages accessible before an access), ``back(sim, vm, gppns)`` (back first touches its
own way, e.g. with large pages; returns the GPPNs left for 4 KB ``BACK``),
``make_room(sim, vm, frames, keep)`` (called when the host has fewer free frames than a
fault or a boot is about to take: reclaim at once, never ``vm``'s GPPNs in ``keep``),
``guest_fault(sim, vm, proc, gvpns)`` (make all the GVPNs of an access resident: page in
those the guest paged out, page out none of them), ``guest_reclaim(sim, vm, n)`` (free
guest pages on demand) and ``before_swap(sim, vm, gppns)`` (take pages chosen for swapping
another way, e.g. compression; returns the GPPNs still to swap).
"""
from vmmemviz.model.reclaim.allocation import Allocation
from vmmemviz.model.reclaim.balloon import Balloon
from vmmemviz.model.reclaim.compression import Compression
from vmmemviz.model.guest.guestswap import GuestPaging
from vmmemviz.model.reclaim.largepages import LargePages
from vmmemviz.model.reclaim.sampling import ActiveSampling
from vmmemviz.model.reclaim.freestates import HostStates
from vmmemviz.model.reclaim.swap import Swap
from vmmemviz.model.reclaim.tps import PageSharing

# large pages are broken before TPS scans; TPS runs before any swapping (share before swap)
ALL = [HostStates(), ActiveSampling(), LargePages(), PageSharing()]
# reclamation, after page sharing: targets, then ballooning, then swapping (compression
# takes pages on their way to the swap file and gives its empty frames back last)
ALL += [Allocation(), Balloon(), GuestPaging(), Swap(), Compression()]
