"""The mechanisms of the model, in one list: what a new mechanism is added to.

Each entry is a :class:`~vmmemviz.model.core.mechanism.Mechanism` subclass; ``MECHANISMS``
is this list in the order their ``after`` declarations give (the listing order breaks ties,
and is the order of ticks, hook chains and counters). Importing this module also imports
every mechanism's module, so every event kind is registered (events.KINDS) once it is
imported: the simulator does, and so should any code that lists kinds or stores.
"""
from __future__ import annotations

from vmmemviz.model.core.mechanism import ordered
from vmmemviz.model.guest.guestswap import GuestPaging
from vmmemviz.model.reclaim.allocation import Allocation
from vmmemviz.model.reclaim.balloon import Balloon
from vmmemviz.model.reclaim.compression import Compression
from vmmemviz.model.reclaim.freestates import HostStates
from vmmemviz.model.reclaim.hostcache import HostCache
from vmmemviz.model.reclaim.largepages import LargePages
from vmmemviz.model.reclaim.sampling import ActiveSampling
from vmmemviz.model.reclaim.swap import Swap
from vmmemviz.model.reclaim.tps import PageSharing

MECHANISMS = ordered([HostStates, ActiveSampling, LargePages, PageSharing, Allocation, Balloon,
                      GuestPaging, Swap, Compression, HostCache])
STORES = tuple(s for m in MECHANISMS for s in m.stores)
