"""Host cache (swap to host cache, "swap to SSD"): a faster tier in front of the .vswp files.

Configured per host as an amount of SSD datastore (vSphere: Host Cache Configuration;
vmmemviz: ``[host] host_cache_mb``, 0 = none). Pages the hypervisor swaps go to the host
cache first while it has room, then to the VM's .vswp (swap.py): this mechanism takes them in
the ``before_swap`` chain, after page sharing and compression had their go, so compression
still comes first; a full compression cache swaps its oldest pages out here too while it has
room (compression.py, ``ZIP_EVICT_LL``). A guest access to a page in the host cache faults
and the hypervisor reads it back from the SSD into a fresh MPN (``LLSWAP_IN``). VMware
reports swapping to the host cache about 30% better than ordinary swapping.

The cache is one store for the whole host: per slot the content id and the VM that owns it
(``state.extra``: ``hostcache.content``, ``hostcache.owner``); a page in it has ``gp_state``
CACHED and its slot in ``gp_loc``. Slots are taken lowest first.

Counters: per VM LLSWR/s and LLSWW/s (esxtop: swap-in from and swap-out to the host cache,
MB/s) and %SWPWT, the share of the second the VM waited for swap-ins, with a read from the
host cache costing ``CACHE_READ_COST`` (70%) of a .vswp read (``VSWP_READ_MS``); host
LLSWAP/MB size and used.
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core import counter
from vmmemviz.model.core import host as H
from vmmemviz.model.core.events import hx, kind, reading, writing
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.store import EMPTY, Store
from vmmemviz.model.core.units import mb
from vmmemviz.model.core.vm import restore, stash

CACHED = 6                      # gp_state of a page in the host cache
CONTENT, OWNER = "hostcache.content", "hostcache.owner"
VSWP_READ_MS = 1.0              # a swap-in from the .vswp, in ms of the VM's time (vmmemviz's scale)
CACHE_READ_COST = 0.7           # a swap-in from the host cache costs 30% less (VMware)


class HostCacheStore(Store):
    """The host cache: slots shared by every VM of the host."""

    per_host = True

    def exists(self, state) -> bool:
        return CONTENT in state.extra

    def size(self, state, vm) -> int:
        return len(state.extra[CONTENT])

    def occupied(self, state, vm, n: int | None = None) -> np.ndarray:
        return state.extra[OWNER][:n] == vm.index

    def content(self, state, vm, slots) -> np.ndarray:
        return state.extra[CONTENT][slots]

    def free(self, state) -> int:
        return int(np.count_nonzero(state.extra[OWNER] == H.NO_VM))

    def put(self, state, vm, content, gppns=None) -> np.ndarray:
        slots = np.flatnonzero(state.extra[OWNER] == H.NO_VM)[:len(content)]
        assert len(slots) == len(content), "host cache full"
        state.extra[CONTENT][slots] = content
        state.extra[OWNER][slots] = vm.index
        return slots

    def release(self, state, vm, slots) -> None:
        state.extra[CONTENT][slots] = EMPTY
        state.extra[OWNER][slots] = H.NO_VM


CACHE = HostCacheStore("hostcache", "host cache", CACHED)


@kind(73, "LLSWAP_OUT", "swap", "Swap to host cache: the hypervisor writes a page chosen for swapping to "
      "the host cache on SSD, faster than the VM's .vswp, while the cache has room; its machine page is "
      "freed.", src="mp", dst="hostcache", flow="swap")
def apply_llswap_out(state, rows):
    stash(state, rows, CACHE)


@apply_llswap_out.narrator
def _(row, names):
    return (f"The hypervisor swapped {names[row['vm']]}'s GPPN {hx(row['gppn'])} out to host cache slot "
            f"{hx(row['slot'])} (SSD) and freed MPN {hx(row['mpn'])}.")


@kind(74, "LLSWAP_IN", "swap", "Swap to host cache: the guest touched a page swapped to the host cache; "
      "the hypervisor reads it back from the SSD into a fresh machine page, sooner than from the .vswp.",
      src="hostcache", dst="mp", flow="swap")
def apply_llswap_in(state, rows):
    restore(state, rows, CACHE)


@apply_llswap_in.narrator
def _(row, names):
    return (f"{names[row['vm']]} touched GPPN {hx(row['gppn'])}, swapped to the host cache: the hypervisor "
            f"read slot {hx(row['slot'])} back from the SSD into MPN {hx(row['mpn'])}.")


class HostCache(Mechanism):
    """Mechanism: takes pages chosen for swapping while the host cache has room (after share
    before swap and compression), swaps them back in on access."""

    name = "hostcache"
    after = ("swap", "compression")
    stores = (CACHE,)
    counters = (
        counter.vm("LLSWR/s", "MB/s", "swap", "swap-in rate from the host cache (swap to SSD)",
                   "LLSwap Read MBytes/sec"),
        counter.vm("LLSWW/s", "MB/s", "swap", "swap-out rate to the host cache (swap to SSD)",
                   "LLSwap Written MBytes/sec"),
        counter.vm("%SWPWT", "%", "swap", "share of the second the VM waited for swap-ins (a host cache "
                   "read costs 70% of a .vswp read)"),
        counter.host("llswap_size_mb", "LLSWAP/MB", "size", "the host cache (swap to SSD) configured"),
        counter.host("llswap_used_mb", "LLSWAP/MB", "used", "guest memory swapped to the host cache"),
    )

    @classmethod
    def setup_state(cls, state, scenario):
        if scenario.host_cache_pages:
            state.extra[CONTENT] = np.full(scenario.host_cache_pages, EMPTY, np.uint32)
            state.extra[OWNER] = np.full(scenario.host_cache_pages, H.NO_VM, np.uint8)

    def enabled(self):
        return CACHE.exists(self.sim.state)

    def room(self) -> int:
        """Pages the host cache can still take (compression evicts there first too)."""
        return CACHE.free(self.sim.state)

    def before_swap(self, vm, gppns, urgent):
        k = min(len(gppns), self.room())
        if k:
            self.sim.emit(self.sim.rows(k, apply_llswap_out.code, vm.index, gppn=gppns[:k]))
        return gppns[k:]

    def fault(self, vm, gppns, writes):
        c = gppns[vm.gp_state[gppns] == CACHED]
        if len(c):
            self.sim.emit(self.sim.rows(len(c), apply_llswap_in.code, vm.index, gppn=c))

    @staticmethod
    def vm_values(state, vm, sim, tally):
        cache_reads = tally.rows(vm, *tally.kinds(reading, "hostcache"))
        wait_ms = VSWP_READ_MS * (tally.rows(vm, *tally.kinds(reading, "vswp")) + CACHE_READ_COST * cache_reads)
        return {"LLSWR/s": mb(cache_reads), "LLSWW/s": tally.rate(vm, *tally.kinds(writing, "hostcache")),
                "%SWPWT": round(min(100.0, float(wait_ms) / 10), 2)}

    @staticmethod
    def host_values(state, sim, tally):
        if not CACHE.exists(state):
            return {"llswap_size_mb": 0.0, "llswap_used_mb": 0.0}
        return {"llswap_size_mb": mb(len(state.extra[CONTENT])),
                "llswap_used_mb": mb(np.count_nonzero(state.extra[OWNER] != H.NO_VM))}
