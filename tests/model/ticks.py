"""Scenario-level tests read a run tick by tick, as ``vmmemviz run SCENARIO --jsonl`` prints it."""
from vmmemviz.model.config import scenario
from vmmemviz.model.core.timeline import Timeline


def tick_records(sc, ticks: int | None = None):
    """Yield ``{"tick", "host", "vms"}`` per tick of ``sc`` (a Scenario, TOML text or a built-in name)."""
    if isinstance(sc, str):
        sc = scenario.parse(sc, "test.toml") if "\n" in sc else scenario.load(sc)
    if ticks is not None:
        sc.duration = ticks
    yield from Timeline(sc).records()
