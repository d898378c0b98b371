"""Command line.

    vmmemviz [SCENARIO]                  open the app (default: the built-in "default")
    vmmemviz run SCENARIO [--steps N] [--events] [--json]
    vmmemviz run SCENARIO --jsonl        one JSON object per tick: {"tick", "host", "vms"}
    vmmemviz list                        built-in scenarios and tours
    vmmemviz --version

Other subcommands (export, analyze, snapshot, ...) register themselves in SUBCOMMANDS.
Bad input prints one line and exits 2; never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .errors import InputError

# (module, function) pairs: function(subparsers) adds a subcommand with func=handler
SUBCOMMANDS = [
    ("vmmemviz.importers.cli", "register"),
    ("vmmemviz.export.cli", "register"),
]


def _run(args) -> int:
    from vmmemviz.model.core import events
    from vmmemviz.model.config import scenario
    from vmmemviz.model.core.timeline import Timeline

    sc = scenario.load(args.scenario)
    if args.ticks is not None:
        sc.duration = args.ticks
    tl = Timeline(sc)
    if args.jsonl:
        for rec in tl.records():
            sys.stdout.write(json.dumps(rec) + "\n")
        return 0
    end = tl.ensure(args.steps) if args.steps is not None else tl.run_to_end()
    if args.steps is not None:
        end = min(end, args.steps)
    tl.seek(end)
    names = [vm.name for vm in tl.view.vms]
    if args.events:
        out = sys.stdout
        for i in range(end):
            row = tl.log[i]
            out.write(f"{i + 1:7d} t={int(row['tick']):4d} {events.KINDS[int(row['kind'])].name:13s} "
                      f"{events.narrate(row, names)}\n")
    c = tl.counters()
    if args.json:
        # the states the host read, as HOST_STATE events (low can be entered and left within a tick)
        from vmmemviz.model.reclaim.freestates import STATE_NAMES, apply_host_state
        rows = tl.log.rows(0, end)
        seq = ["high"] + [STATE_NAMES[int(a)] for a in rows["aux"][rows["kind"] == apply_host_state.code]]
        print(json.dumps({"scenario": sc.name, "events": end, "ticks": tl.view.tick + 1,
                          "digest": tl.view.digest(), "state_sequence": seq, **c}))
    elif not args.events:
        print(table(c, sc.name, end, tl.view.tick))
    return 0


def table(c: dict, title: str, events: int, tick: int) -> str:
    """An esxtop-like memory screen."""
    h = c["host"]
    lines = [f"{title}: {events} events, {tick + 1} s",
             "  ".join(f"{k}: {v}" for k, v in h.items())]
    vms = c["vms"]
    cols = list(next(iter(vms.values())).keys())
    widths = [max(len(col), 8) for col in cols]
    name_w = max(8, *(len(n) for n in vms))
    lines.append(f"{'NAME':<{name_w}} " + " ".join(f"{col:>{w}}" for col, w in zip(cols, widths)))
    for name, row in vms.items():
        lines.append(f"{name:<{name_w}} " + " ".join(f"{row[col]!s:>{w}}" for col, w in zip(cols, widths)))
    return "\n".join(lines)


def _list(args) -> int:
    from vmmemviz.model.config import scenario
    for name in scenario.builtin_names():
        sc = scenario.load(name)
        print(f"{name:14s} {sc.name}")
    return 0


def _gui(args) -> int:
    from .ui.app import main as gui_main
    return gui_main(args.scenario)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vmmemviz", description="See how an ESXi-like hypervisor manages memory.")
    p.add_argument("--version", action="version", version=f"vmmemviz {__version__}")
    sub = p.add_subparsers(dest="command")
    r = sub.add_parser("run", help="run a scenario headless and print esxtop-like counters")
    r.add_argument("scenario", help="a .toml file or the name of a built-in scenario")
    r.add_argument("--steps", type=int, help="stop after N events")
    r.add_argument("--ticks", type=int, help="simulated seconds to run (default: the scenario's duration)")
    r.add_argument("--events", action="store_true", help="print every event's narration")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--jsonl", action="store_true",
                   help='print one JSON object per tick: {"tick", "host", "vms"} (the keys of --json)')
    r.set_defaults(func=_run)
    ls = sub.add_parser("list", help="list the built-in scenarios and tours")
    ls.set_defaults(func=_list)
    g = sub.add_parser("gui", help="open the app (the default with no subcommand)")
    g.add_argument("scenario", nargs="?", default="default")
    g.set_defaults(func=_gui)
    import importlib
    for mod, fn in SUBCOMMANDS:
        getattr(importlib.import_module(mod), fn)(sub)
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = parser()
    commands = {a for a in p._subparsers._group_actions[0].choices}
    if not argv or (argv[0] not in commands and not argv[0].startswith("-")):
        argv = ["gui", *argv]          # `vmmemviz` and `vmmemviz FILE.toml` open the app
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except InputError as e:
        print(f"vmmemviz: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
