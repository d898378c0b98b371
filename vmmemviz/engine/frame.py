"""Frame: everything the views need to paint one position of the timeline.

Built in the simulation thread from the timeline's view state; immutable once sent, so
the UI thread never reads arrays the simulation is changing. Panels take what they need:
``counters`` for the counters panel, ``history`` for the plots, ``event``/``narration``
for the caption and the event list, ``bands``/``arrows`` for the layer view.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Frame:
    pos: int                    # events applied (0 = before the first)
    total: int                  # events known so far
    finished: bool              # the live simulation has reached the scenario's end
    tick: int                   # simulated second of the current event
    event: np.void | None       # the current event row (a copy), None at position 0
    kind: str | None            # its kind's NAME (events.KINDS)
    group: str | None           # its kind's group (core, access, guest, tps, balloon, swap, zip, state)
    narration: str              # one sentence about the current event
    chapter: object | None      # the scenario chapter (tours) the position is in
    vm_names: tuple
    counters: dict              # {"host": {...}, "vms": {name: {...}}}, esxtop names
    history: tuple              # per tick: {"tick", "events", "host", "vms"} up to now
    bands: tuple = field(default=())    # layer images, filled by the layer-view builder
    arrows: tuple = field(default=())   # arrows of the current event
