"""The mechanism contract: what the simulator calls, and how a mechanism says where it runs.

A mechanism (page sharing, ballooning, swapping...) is a subclass of :class:`Mechanism`
listed in ``vmmemviz.model.catalog``. Each :class:`~vmmemviz.model.core.simulator.Simulator`
makes one instance of each enabled mechanism; the instance keeps the mechanism's live
state (what it decided and remembers, never the model state: that is in the ``State``
arrays its ``setup_state`` adds, so replay can rebuild it). Every hook is a no-op here;
a mechanism overrides the ones it needs:

* ``setup_state(state, scenario)`` (class method): add arrays to a fresh ``State`` (also the
  timeline's replay view, which has no simulator);
* ``tick()``: once a second, after the workloads, in catalog order;
* ``end_tick()``: after every mechanism's ``tick`` (e.g. re-read the host state);
* ``blocks(vm, pages)``: True makes ``vm``'s faults that need machine memory wait a tick;
* ``back(vm, gppns)``: back first touches its own way, return the GPPNs left for 4 KB ``BACK``;
* ``fault(vm, gppns, writes)``: make pages accessible before an access;
* ``make_room(vm, frames, keep)``: the host has fewer free frames than ``vm`` is about to take:
  reclaim at once, never ``vm``'s GPPNs in ``keep``;
* ``guest_fault(vm, proc, gvpns)``: make every GVPN of an access resident in the guest;
* ``guest_reclaim(vm, n)``: the guest OS needs ``n`` more free pages;
* ``release(vm, gppns)``: these pages are about to lose their machine pages (ballooned,
  compressed or swapped): prepare them (large pages are broken first);
* ``before_swap(vm, gppns, urgent)``: take pages chosen for swapping another way (share,
  compress); return those still to swap. ``urgent``: reclaim that blocks a fault.

Order and dependencies are declared: ``after`` names the mechanisms this one must follow
(each tick and in every hook chain), and the catalog order breaks ties. A mechanism that
needs another's knowledge asks for the instance (``sim.mechanism(Cls)``) and calls its
public methods; it never reads another mechanism's private arrays. ``stores`` are the
places outside machine memory it keeps pages in (store.py); ``counters`` declares the
esxtop counters it produces (counter.py) and ``vm_values`` / ``host_values`` compute them.
"""
from __future__ import annotations


class Mechanism:
    name = ""                 # short name, what ``after`` refers to
    after: tuple = ()         # names of mechanisms that must run before this one
    stores: tuple = ()        # store.Store objects this mechanism keeps pages in
    counters: tuple = ()      # counter.Counter declarations of what vm_values / host_values give

    def __init__(self, sim):
        self.sim = sim

    @classmethod
    def setup_state(cls, state, scenario) -> None:
        """Add this mechanism's arrays to a fresh State."""

    def enabled(self) -> bool:
        return True

    def tick(self) -> None:
        """Once a second, after the workloads."""

    def end_tick(self) -> None:
        """Once a second, after every mechanism's ``tick``."""

    def blocks(self, vm, pages: int) -> bool:
        """``vm`` faults on ``pages`` pages that need machine memory: True makes them wait
        this tick (the mechanism says so with an event)."""
        return False

    def back(self, vm, gppns):
        return gppns

    def fault(self, vm, gppns, writes) -> None:
        """Make ``gppns`` accessible (writable where ``writes``)."""

    def make_room(self, vm, frames: int, keep) -> None:
        """Free frames at once before ``vm`` takes ``frames`` (never ``vm``'s ``keep``)."""

    def guest_fault(self, vm, proc, gvpns) -> None:
        """Make every GVPN of an access by ``proc`` resident."""

    def guest_reclaim(self, vm, n: int) -> None:
        """The guest OS needs ``n`` more free guest physical pages."""

    def release(self, vm, gppns) -> None:
        """``gppns`` are about to lose their machine pages (ballooned, compressed, swapped)."""

    def before_swap(self, vm, gppns, urgent: bool):
        return gppns

    @staticmethod
    def vm_values(state, vm, sim, tally) -> dict:
        """The VM's counters (declared in ``counters``); ``tally`` (tally.py): the figures
        several counters share, and the tick's rows so far for the rates."""
        return {}

    @staticmethod
    def host_values(state, sim, tally) -> dict:
        """The host's counters (declared in ``counters``)."""
        return {}


def ordered(classes) -> list:
    """``classes`` in an order that honours every ``after``; listing order breaks ties."""
    names = {c.name for c in classes}
    for c in classes:
        unknown = set(c.after) - names
        assert not unknown, f"{c.name} runs after unknown mechanisms {sorted(unknown)}"
    done, out = set(), []
    while len(out) < len(classes):
        ready = [c for c in classes if c.name not in done and set(c.after) <= done]
        assert ready, f"mechanisms wait on each other: {sorted(names - done)}"
        out.append(ready[0])
        done.add(ready[0].name)
    return out
