"""A comparison in one small immutable object: the scenario texts of runs A and B and what B
changes. The window's compare mode keeps one (``MainWindow.comparison.state``); a session
saves it and ``ui.compare.start(window, state)`` restores it."""
from __future__ import annotations

from dataclasses import dataclass

from vmmemviz.model.config import compare as C
from vmmemviz.model.config import scenario as SC


@dataclass(frozen=True)
class CompareState:
    text_a: str
    text_b: str
    label: str                  # what B is: "Mem.ShareForceSalting=0" or the other scenario's name
    src_a: str = "<scenario>"   # where the texts came from (errors name them)
    src_b: str = "<scenario>"

    @classmethod
    def of(cls, a: SC.Scenario, b: SC.Scenario, label: str) -> "CompareState":
        return cls(a.text, b.text, label, a.path or "<scenario>", b.path or "<scenario>")

    @classmethod
    def pair(cls, a: SC.Scenario, sets=(), other: str | None = None) -> "CompareState":
        """``compare.pair``: B is A with ``sets`` (KEY=VALUE) or the ``other`` scenario."""
        return cls.of(*C.pair(a, list(sets), other))

    def scenario_b(self) -> SC.Scenario:
        return SC.parse(self.text_b, self.src_b)
