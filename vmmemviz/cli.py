"""Command line.

    vmmemviz [SCENARIO]                  open the app (default: the built-in "default")
    vmmemviz run SCENARIO [--steps N] [--events] [--json] [--esxtop OUT.csv]
    vmmemviz run SCENARIO --jsonl        one JSON object per tick: {"tick", "host", "vms"}
    vmmemviz run SCENARIO (--compare-set KEY=VALUE ... | --compare OTHER.toml) [--json]
                                         two runs at one simulated time and the delta B - A
    vmmemviz esxtop CAPTURE.csv [--sample N] [--json]
    vmmemviz calibrate CAPTURE.csv [--sample N] --out SCENARIO.toml
    vmmemviz list                        built-in scenarios and tours
    vmmemviz --version

Other subcommands (export, analyze, snapshot, ...) register themselves in SUBCOMMANDS.
Bad input prints one line and exits 2; never a traceback.
"""
from __future__ import annotations

import json
import sys

from . import __version__
from .argparsing import ArgumentParser, bounded_float, bounded_int, integer, print_error, scenario_name
from .errors import InputError
from .model.config.scenario import MAX_TICKS

MAX_ROUNDS = 64             # calibrate --rounds: each is a run of the simulator
MAX_SCALE = 1024.0          # calibrate --scale: a 1 TiB host simulated as 1 GiB

# (module, function) pairs: function(subparsers) adds a subcommand with func=handler
SUBCOMMANDS = [
    ("vmmemviz.importers.cli", "register"),
    ("vmmemviz.export.cli", "register"),
    ("vmmemviz.export.session", "register"),
]


def _run(args) -> int:
    from vmmemviz.model.config import scenario
    from vmmemviz.model.core.timeline import Timeline

    sc = scenario.load(args.scenario)
    if args.esxtop is not None:
        from vmmemviz.outputfile import check_out
        check_out(args.esxtop, "--esxtop", sc.files)       # before the run, not after
    if args.compare_set or args.compare or (sc.compare_sets and not (args.jsonl or args.esxtop)):
        return _run_compare(args, sc)
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
    rec = run_record(tl, end)
    if args.events:
        _print_events(tl, end)
    if args.esxtop is not None:
        from vmmemviz.importers.esxtop_out import alloc_columns, write_esxtop
        ticks = [h for h in tl.history if h["events"] <= end] or tl.history[:1]
        write_esxtop(args.esxtop, ticks, alloc=alloc_columns(sc), what="--esxtop")
    if args.json:
        print(json.dumps(rec))
    elif not args.events:
        print(table(rec, f"{sc.name}: {end} events, {rec['ticks']} s"))
    return 0


def run_record(tl, end: int) -> dict:
    """What ``run --json`` prints for one run: the view at position ``end`` (seeks there)."""
    # the states the host read, as HOST_STATE events (low can be entered and left within a tick)
    from vmmemviz.model.reclaim.freestates import STATE_NAMES, apply_host_state
    tl.seek(end)
    rows = tl.log.rows(0, end)
    seq = ["high"] + [STATE_NAMES[int(a)] for a in rows["aux"][rows["kind"] == apply_host_state.code]]
    return {"scenario": tl.sc.name, "events": end, "ticks": tl.view.tick + 1,
            "digest": tl.view.digest(), "state_sequence": seq, **tl.counters()}


def _print_events(tl, end: int, prefix: str = "") -> None:
    from vmmemviz.model.core import events
    names = [vm.name for vm in tl.view.vms]
    for i in range(end):
        row = tl.log[i]
        sys.stdout.write(f"{prefix}{i + 1:7d} t={int(row['tick']):4d} {events.KINDS[int(row['kind'])].name:13s} "
                         f"{events.narrate(row, names)}\n")


def _run_compare(args, sc) -> int:
    """Runs A and B (``compare.pair``) at one simulated time: with ``--steps N`` the end of
    the second of A's N-th event, else the end of the shorter run."""
    from vmmemviz.model.config import compare
    from vmmemviz.model.core.timeline import Timeline
    from vmmemviz.scene.compare import position_at

    for flag in ("jsonl", "esxtop"):
        if getattr(args, flag):
            raise InputError(f"run --{flag}: writes one run, not with --compare-set or --compare")
    a, b, what = compare.pair(sc, args.compare_set, args.compare)
    if args.ticks is not None:
        a.duration = b.duration = args.ticks
    ta, tb = Timeline(a), Timeline(b)
    if args.steps is not None:
        n = min(ta.ensure(args.steps), args.steps)
        tick = int(ta.log[n - 1]["tick"]) if n else 0
    else:
        tick = min(a.duration, b.duration) - 1
    ends = position_at(ta, tick), position_at(tb, tick)
    ra, rb = run_record(ta, ends[0]), run_record(tb, ends[1])
    d = compare.delta(ra, rb)
    if args.events:
        for tag, tl, end in (("A", ta, ends[0]), ("B", tb, ends[1])):
            _print_events(tl, end, f"{tag} ")
    if args.json:
        print(json.dumps({"a": ra, "b": rb, "delta": d, "b_is": what, "tick": tick}))
    elif not args.events:
        la, lb = compare.run_labels(a, b, what)
        print("\n\n".join((table(ra, f"A: {la}: {ends[0]} events, {tick + 1} s"),
                            table(rb, f"B: {lb}: {ends[1]} events, {tick + 1} s"),
                            table(d, "B - A"))))
    return 0


def table(c: dict, heading: str) -> str:
    """An esxtop-like memory screen (counters or a compare's delta) under ``heading``."""
    h = c["host"]
    lines = [heading, "  ".join(f"{k}: {v}" for k, v in h.items())]
    vms = c["vms"]
    if not vms:
        return "\n".join(lines)
    cols = list(next(iter(vms.values())).keys())
    widths = [max(len(col), 8) for col in cols]
    name_w = max(8, *(len(n) for n in vms))
    lines.append(f"{'NAME':<{name_w}} " + " ".join(f"{col:>{w}}" for col, w in zip(cols, widths)))
    for name, row in vms.items():
        lines.append(f"{name:<{name_w}} " + " ".join(f"{row.get(col, '')!s:>{w}}" for col, w in zip(cols, widths)))
    return "\n".join(lines)


def _esxtop(args) -> int:
    from vmmemviz.importers.esxtop import read_esxtop, table as esxtop_table

    cap = read_esxtop(args.capture, esxi=args.esxi)
    i = cap.index(args.sample)
    s = cap.sample(i)
    if args.json:
        print(json.dumps({"capture": cap.path, "host_name": cap.host_name, "sample": i,
                          "samples": cap.samples, "time": str(cap.times[i]) + "Z",
                          "esxi_states": cap.esxi, "vms_are": cap.why_vm, **s}))
    else:
        print(esxtop_table(s, f"{cap.host_name}: sample {i} of 0-{cap.samples - 1}, "
                              f"{cap.times[i]} UTC, Kernel State read as ESXi {cap.esxi}, "
                              f"VMs = {cap.why_vm}"))
    return 0


def _calibrate(args) -> int:
    from vmmemviz.outputfile import check_out, out_file
    from vmmemviz.importers.esxtop import read_esxtop
    from vmmemviz.model.config.calibrate import calibrate, compare_table

    check_out(args.out, "--out", (args.capture,))       # before the simulator runs, not after
    cap = read_esxtop(args.capture, esxi=args.esxi)
    i = cap.index(args.sample)
    result = calibrate(cap.sample(i), source=f"{cap.path} sample {i} ({cap.times[i]} UTC)",
                       name=f"calibrated from {cap.host_name or 'an esxtop capture'}",
                       rounds=args.rounds, scale=args.scale, swap_mbps=cap.swap_out_mbps(i),
                       progress=lambda m: print(m, file=sys.stderr))
    with out_file(args.out, "--out") as tmp:
        tmp.write_text(result.text, encoding="utf-8")
    print(compare_table(result))
    print(f"wrote {args.out}")
    return 0


def _list(args) -> int:
    from vmmemviz.model.config import scenario
    for name in scenario.builtin_names():
        sc = scenario.load(name)
        print(f"{name:14s} {sc.name}")
    return 0


def _gui(args) -> int:
    from .ui.app import main as gui_main
    return gui_main(args.scenario, args.compare_set, args.compare)


def parser(commands: set | None = None) -> ArgumentParser:
    """The CLI's parser; ``commands`` (a set) gets the subcommands' names."""
    p = ArgumentParser(prog="vmmemviz", description="See how an ESXi-like hypervisor manages memory.")
    p.add_argument("--version", action="version", version=f"vmmemviz {__version__}")
    sub = p.add_subparsers(dest="command")
    r = sub.add_parser("run", help="run a scenario headless and print esxtop-like counters")
    r.add_argument("scenario", help="a .toml file or the name of a built-in scenario")
    r.add_argument("--steps", type=bounded_int(0, 2**63 - 1),
                   help="stop after N events (with a compare: both runs at the end of the simulated "
                        "second of run A's N-th event; runs are aligned by simulated time, not event count)")
    r.add_argument("--ticks", type=bounded_int(1, MAX_TICKS, "one simulated day, the longest run"),
                   help="simulated seconds to run (default: the scenario's duration)")
    r.add_argument("--events", action="store_true", help="print every event's narration")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--esxtop", metavar="OUT.csv", help="also write the run as an esxtop batch "
                   "capture (PDH-CSV, one row per tick)")
    r.add_argument("--jsonl", action="store_true",
                   help='print one JSON object per tick: {"tick", "host", "vms"} (the keys of --json)')
    r.add_argument("--compare-set", action="append", default=[], metavar="KEY=VALUE",
                   help="compare with run B, this scenario with KEY=VALUE changed (repeatable): "
                        "Mem.ShareForceSalting=0, vm.tools=false, vm[web01].mmu=shadow, ...; "
                        "prints both runs and the delta B - A at the same simulated time (the end of "
                        "the shorter run); with --json: {\"a\", \"b\", \"delta\"}")
    r.add_argument("--compare", type=scenario_name, metavar="OTHER.toml",
                   help="compare with run B, another scenario (file or built-in name); VMs pair by name. "
                        "A compare tour (a scenario with a [compare] table) compares without either "
                        "flag; its --jsonl and --esxtop write run A alone")
    r.set_defaults(func=_run)
    e = sub.add_parser("esxtop", help="one sample of an esxtop batch capture (esxtop -b)")
    e.add_argument("capture", metavar="CAPTURE.csv")
    e.add_argument("--sample", type=integer, help="sample number (0 = first, -1 = last; default last)")
    e.add_argument("--esxi", choices=("5", "6"), help="Kernel State numbering (default: inferred)")
    e.add_argument("--json", action="store_true", help="print one JSON object (run --json's shape)")
    e.set_defaults(func=_esxtop)
    cb = sub.add_parser("calibrate", help="a scenario that reproduces a host from an esxtop capture")
    cb.add_argument("capture", metavar="CAPTURE.csv")
    cb.add_argument("--sample", type=integer, help="sample number (default the last)")
    cb.add_argument("--esxi", choices=("5", "6"), help="Kernel State numbering (default: inferred)")
    cb.add_argument("--out", required=True, metavar="SCENARIO.toml")
    cb.add_argument("--rounds", type=bounded_int(1, MAX_ROUNDS, "each is a run of the simulator"), default=8,
                    help="simulator runs to search with (default 8)")
    cb.add_argument("--scale", type=bounded_float(1, MAX_SCALE, "a 1 TiB host simulated as 1 GiB"), default=1.0,
                    help="simulate the host N times smaller "
                    "(every size divided by N; a real 8 GB host runs faster at --scale 8)")
    cb.set_defaults(func=_calibrate)
    ls = sub.add_parser("list", help="list the built-in scenarios and tours")
    ls.set_defaults(func=_list)
    g = sub.add_parser("gui", help="open the app (the default with no subcommand)")
    g.add_argument("scenario", nargs="?", default="default")
    g.add_argument("--compare-set", action="append", default=[], metavar="KEY=VALUE",
                   help="open in compare mode: run B is SCENARIO with this change (repeatable)")
    g.add_argument("--compare", type=scenario_name, metavar="OTHER.toml", help="open in compare mode: run B is this scenario")
    g.set_defaults(func=_gui)
    import importlib
    for mod, fn in SUBCOMMANDS:
        getattr(importlib.import_module(mod), fn)(sub)
    if commands is not None:
        commands.update(sub.choices)     # the subparsers action's choices: name -> parser
    return p


DASHED_VALUES = ("--range", "--size")   # values that may start with "-" (a mistyped -1:2, -300x300)


def _joined(argv: list) -> list:
    """``--range -1:2`` as ``--range=-1:2``: argparse takes "-1:2" for an option and says only
    "expected one argument"; joined, the option's own check names what it expects."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in DASHED_VALUES and i + 1 < len(argv) and argv[i + 1][:1] == "-" and argv[i + 1][1:2].isdigit():
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    commands: set = set()
    p = parser(commands)
    if not argv or (argv[0] not in commands and not argv[0].startswith("-")):
        argv = ["gui", *argv]          # `vmmemviz` and `vmmemviz FILE.toml` open the app
    argv = _joined(argv)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except InputError as e:
        return print_error("vmmemviz", e)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
