"""Stores: every place a page's content can live outside the VM's machine memory.

Like Linux's frontswap_ops, one small interface for all of them (the .vswp, the compression
cache, the guest swap, the host cache): slots, ``put`` / ``release``, content lookup and
occupancy, on the model ``State`` (so replay, invariants, the inspector and the scene read
them the same way). A mechanism lists its stores in ``Mechanism.stores``; ``build_state``
registers them on the State (``state.stores``), where event kinds, invariants, the page
inspector, the scene bands and the counters find them by name or by the page state they
hold. Event kinds name the store they write or read in their ``src`` / ``dst`` (events.py).

Hypervisor stores hold GPPNs (``page_state``: the ``gp_state`` of a page held there, its
``gp_loc`` the slot); the guest swap holds process pages (``page_state`` None: a GVPN's
page-table entry is the slot).
"""
from __future__ import annotations

import numpy as np

from vmmemviz.model.core.events import NONE, reading, writing
from vmmemviz.model.core.vm import GP_STATE_NAMES

EMPTY = NONE     # a free slot of a SlotStore
_HOLDING: dict = {}   # page state -> the title of the store that holds such pages


def page_state_name(code: int) -> str:
    """The name of a ``gp_state``: the VM's own, or the title of the store holding such pages."""
    return GP_STATE_NAMES[code] if code < len(GP_STATE_NAMES) else _HOLDING[code]


def extent_of(occupied: np.ndarray) -> int:
    """Slots up to the last one in use (``occupied``: per slot), 0 when none is."""
    return int(np.flatnonzero(occupied)[-1]) + 1 if occupied.any() else 0


class Store:
    name = ""                 # layer name: inspector references, band keys, kind src / dst
    title = ""                # as the guide names it
    page_state = None         # gp_state of the GPPNs held here (None: a guest store)
    slot_kib = 4              # KiB a slot holds
    group = "swap"            # the event group whose colour its cells take ("zip", "swap", "guest")
    per_host = False          # one store for the whole host (slots shared by the VMs)

    def __init__(self, name: str, title: str, page_state=None, group: str = "swap"):
        self.name, self.title, self.page_state, self.group = name, title, page_state, group
        if page_state is not None and page_state >= len(GP_STATE_NAMES):
            assert _HOLDING.setdefault(page_state, title) == title, f"page state {page_state} taken"

    @property
    def slot_title(self) -> str:
        """What one of its cells is called (".vswp slot", "host cache slot")."""
        return f"{self.title} slot"

    @property
    def help(self) -> str:
        """One line on what a slot is, for tooltips."""
        whose = "one for the whole host" if self.per_host else (
            "kept by the guest OS" if self.page_state is None else "one per VM")
        return f"slot in the {self.title} ({whose})"

    def setup_state(self, state, settings) -> None:
        """Add the store's arrays to a fresh State."""

    def exists(self, state) -> bool:
        """Whether the scenario has this store at all (an optional tier may be configured away);
        a store that does not exist is not registered on the State."""
        return True

    def size(self, state, vm) -> int:
        """Slots the store has for ``vm``."""
        raise NotImplementedError

    def occupied(self, state, vm, n: int | None = None) -> np.ndarray:
        """Per slot (the first ``n``, default all): in use by ``vm``."""
        raise NotImplementedError

    def extent(self, state, vm) -> int:
        """Slots up to the last one ``vm`` uses (0: none)."""
        return extent_of(self.occupied(state, vm))

    def content(self, state, vm, slots) -> np.ndarray:
        """Content ids held in ``slots``."""
        raise NotImplementedError

    def put(self, state, vm, content, gppns=None) -> np.ndarray:
        """Write pages to the lowest free slots, in order; returns the slots."""
        raise NotImplementedError

    def release(self, state, vm, slots) -> None:
        """Free ``slots`` (the page came back, was ballooned or freed)."""
        raise NotImplementedError

    def wide(self, state, vm, n: int | None = None):
        """Per slot (the first ``n``, default all): a unit of a page held in more than one slot
        (a 2 KiB compressed page takes two 1 KiB units), or None when every page takes one slot."""
        return None

    def used(self, state, vm) -> int:
        return int(np.count_nonzero(self.occupied(state, vm)))

    def held(self, state, vm) -> np.ndarray:
        """The slots of the pages of ``vm`` held here, by the pages' states (a guest store
        overrides it: its pages are process pages)."""
        return vm.gp_loc[vm.gp_state == self.page_state].astype(np.int64)

    def writes(self) -> tuple:
        """Codes of the event kinds that put pages here."""
        return writing(self.name)

    def reads(self) -> tuple:
        """Codes of the event kinds that bring pages back from here."""
        return reading(self.name)

    def frames(self, state, vm) -> int:
        """Machine frames the store holds for ``vm`` (they count as the VM's consumed memory)."""
        return 0


class SlotStore(Store):
    """A per-VM array of content ids, one a slot, EMPTY when free (a swap file or device)."""

    def __init__(self, name: str, title: str, array: str, page_state, slots, group: str = "swap"):
        super().__init__(name, title, page_state, group)
        self.array = array
        self._slots = slots           # f(vm) -> the store's size for the VM

    def setup_state(self, state, settings) -> None:
        for vm in state.vms:
            setattr(vm, self.array, np.full(self._slots(vm), EMPTY, np.uint32))
            vm.ARRAYS = vm.ARRAYS + (self.array,)

    def _arr(self, vm) -> np.ndarray:
        return getattr(vm, self.array)

    def size(self, state, vm) -> int:
        return len(self._arr(vm))

    def occupied(self, state, vm, n: int | None = None) -> np.ndarray:
        return self._arr(vm)[:n] != EMPTY

    def extent(self, state, vm) -> int:
        """From the slots of the pages held here: a slot is in use exactly when one of the
        VM's pages is held in it (``invariants.check``), and the page states are a byte a
        page where the slots are four (at 64 GiB a far seek's picture read 512 MB of slots)."""
        held = self.held(state, vm)
        return int(held.max()) + 1 if len(held) else 0

    def content(self, state, vm, slots) -> np.ndarray:
        return self._arr(vm)[slots]

    def free(self, state, vm) -> int:
        return int(np.count_nonzero(self._arr(vm) == EMPTY))

    def used(self, state, vm) -> int:
        """Slots in use; EMPTY is the largest slot value, so a store with none in use (most VMs
        never page to their guest swap) is told by a min(), without a mask."""
        arr = self._arr(vm)
        return 0 if not len(arr) or arr.min() == EMPTY else int(np.count_nonzero(arr != EMPTY))

    def put(self, state, vm, content, gppns=None) -> np.ndarray:
        arr = self._arr(vm)
        slots = np.flatnonzero(arr == EMPTY)[:len(content)]
        assert len(slots) == len(content), f"{vm.name}: {self.title} full"
        arr[slots] = content
        return slots

    def release(self, state, vm, slots) -> None:
        self._arr(vm)[slots] = EMPTY
