"""Model figures at real host sizes (issue 15), each against a bare baseline of the same run:

* seek to a random event of hostscale (64 GiB) and of the overcommit tour: median and max
  after the first, the ratio to a bare copy of every state array once (what restoring a whole
  keyframe would cost at least) and to a bare copy of the blocks each seek changed (what any
  restore of whole blocks must write); the first seek after the run (the window's view at
  its end) against writing as many bytes into new memory; and the seek with the window's frame
  after it (bands and counters, as the window's worker builds it: what the user waits for);
* one tick against a bare numpy pass over the same arrays (sim_bench's figure and way);
* bytes per page all in at 256 GiB (64 VMs of 8 GiB, 5 ticks through the Timeline): peak RSS
  growth / (machine frames + guest pages), beside the bytes of the live arrays alone; headless
  as ``run`` does (``bytes``), and as the window holds it (``window``: the view, a frame);
* the 1 TiB host (128 VMs of 8 GiB) headless: peak RSS and seconds per simulated second;
* the built-in ``datacenter`` (64 VMs, 256 GiB) scaled down by ``--dc-scale`` (1 = full size,
  which takes far longer than a bench should): the host states it walks through, the
  reclamation event kinds it shows, its events and time.

Each measurement runs in a child process with an address-space cap (``--cap-gb``, default 16)
so a big run fails with MemoryError instead of swapping a shared machine; the big ones run one
after another, never together. ``--quick`` runs every figure at small sizes (seconds).

    python bench/scale_bench.py [--quick] [--only seek,tick,bytes,window,tib,datacenter] [--cap-gb 16]
                                [--dc-scale 32]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

# (host GiB, VMs, GiB per VM, ticks): full size, then --quick
SIZES = {"seek": ((64, None, None, None), (8, 8, 1, 6)),
         "tick": ((64, 32, 4, 5), (8, 8, 1, 3)),
         "bytes": ((256, 64, 8, 5), (16, 4, 8, 3)),
         "window": ((256, 64, 8, 5), (16, 4, 8, 3)),
         "tib": ((1024, 128, 8, 3), (32, 4, 8, 3)),
         "datacenter": ((None,), (None,))}
SEEKS = 12


def host_text(host_gb: int, vms: int, vm_gb: int, duration: int) -> str:
    """A host-scale scenario: ``vms`` copies (count = N) of a VM running a Java-like process."""
    return (f"name = 'bench {host_gb} GiB'\nseed = 1\nduration = {duration}\n[host]\n"
            f"memory_mb = {host_gb * 1024}\n[[vm]]\nname = 'vm{{:03d}}'\ncount = {vms}\n"
            f"memory_mb = {vm_gb * 1024}\n[[vm.process]]\nname = 'java'\nsize_mb = {vm_gb * 512}\n"
            f"start_mb = {vm_gb * 64}\nalloc_mb = {vm_gb * 4}\nworking_set_mb = {vm_gb * 128}\n"
            f"touches = 200\nwrite_fraction = 0.3\n")


def rss(field: str = "VmRSS") -> int:
    """Resident bytes of this process now (VmRSS) or at its peak (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def pss() -> int:
    """Proportional bytes of this process now: a page mapped twice (the live state and a view
    sharing it) counts once, where RSS counts it twice."""
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/smaps_rollup has no Pss")


def bare_copy(state) -> float:
    """Seconds to copy every array of ``state`` once into a preallocated twin."""
    pairs = [(np.empty_like(a), a) for _, a in state.arrays()]
    t = time.perf_counter()
    for dst, src in pairs:
        np.copyto(dst, src)
    return time.perf_counter() - t


def seeks(tl, trail, targets: list[int]) -> tuple:
    """Seconds of seeks to ``targets`` from the end of the finished run (as the window's view
    after End), of the window's frame after each (as the worker builds it with ``trail``, the
    CodeTrail it gives a timeline: on a host of SPLIT_PAGES or more the picture with the
    counters the window had, then the frame with the position's own counters); then, going
    the same way again from the end, of a bare copy of the blocks each seek changed (what any
    restore of whole blocks must at least write; the view's bytes are compared before and
    after each seek), and of writing as many bytes into new memory (what a first seek that
    gave the view its own copy of them would at least pay)."""
    from vmmemviz.engine.frame import build_frame
    from vmmemviz.engine.worker import SPLIT_PAGES
    from vmmemviz.model.core.modelstate import BLOCK
    from vmmemviz.scene.bands import ASPECT
    from vmmemviz.scene.incremental import BandBuilder
    out, frames, counted, bare = [], [], [], []
    builder = BandBuilder(trail)
    last = build_frame(tl, len(tl), None, ASPECT, builder)     # the window's frame at the end
    split = tl.view.host.n_mpn >= SPLIT_PAGES       # as the worker: the picture first, its counters next
    for k in targets:
        t = time.perf_counter()
        tl.seek(k)
        out.append(time.perf_counter() - t)
        t = time.perf_counter()
        build_frame(tl, k, None, ASPECT, builder, (last.counters_pos, last.counters) if split else None)
        frames.append(time.perf_counter() - t)
        t = time.perf_counter()
        if split:
            last = build_frame(tl, k, None, ASPECT, builder)
        counted.append(time.perf_counter() - t)
    tl.seek(len(tl))                    # back where the timed seeks began
    for k in targets:
        before = tl.view.buf.raw.copy()
        tl.seek(k)
        after = tl.view.buf.raw
        differ = np.flatnonzero((before.view(np.uint64) != after.view(np.uint64)).reshape(-1, BLOCK // 8).any(axis=1))
        t = time.perf_counter()
        for b in differ.tolist():
            before[b * BLOCK:(b + 1) * BLOCK] = after[b * BLOCK:(b + 1) * BLOCK]
        bare.append(time.perf_counter() - t)
        if len(bare) == 1:
            del before
            t = time.perf_counter()
            np.ones(len(differ) * BLOCK, np.uint8)          # first touches of as many pages
            first = time.perf_counter() - t
    return out, frames, counted, bare, first


def part_seek(size, quick: bool) -> dict:
    from vmmemviz.model.config import scenario
    from vmmemviz.model.core.timeline import Timeline
    from vmmemviz.scene.codetrail import CodeTrail

    host_gb, vms, vm_gb, ticks = size
    out = {}
    cases = [("overcommit", scenario.load("overcommit"))]
    if quick:
        cases.append((f"{host_gb} GiB", scenario.parse(host_text(host_gb, vms, vm_gb, ticks), "quick")))
    else:
        cases.append(("hostscale", scenario.load("hostscale")))
    rng = np.random.default_rng(1)
    for label, sc in cases:
        tl = Timeline(sc)
        trail = CodeTrail(tl)
        t = time.perf_counter()
        tl.run_to_end()
        run = time.perf_counter() - t
        s, frames, counted, differ, first = seeks(tl, trail, [int(k) for k in rng.integers(0, len(tl), SEEKS)])
        shown = [a + b for a, b in zip(s, frames)]
        bare = min(bare_copy(tl.view) for _ in range(3))
        out[label] = {"events": len(tl), "run_s": run, "median_ms": 1e3 * float(np.median(s)),
                      "max_ms": 1e3 * max(s[1:]), "first_ms": 1e3 * s[0], "bare_copy_ms": 1e3 * bare,
                      "differ_ms": 1e3 * float(np.median(differ[1:])), "first_touch_ms": 1e3 * first,
                      "over_100": sum(x > 0.1 for x in s), "keyframes": len(tl.keyframes),
                      "frame_ms": 1e3 * float(np.median(frames)), "counted_ms": 1e3 * float(np.median(counted)), "shown_ms": 1e3 * float(np.median(shown)),
                      "shown_max_ms": 1e3 * max(shown), "shown_over_100": sum(x > 0.1 for x in shown),
                      "keyframe_mb": tl.keyframe_bytes() / 2**20, "history_mb": tl.history_bytes() / 2**20,
                      "trail_mb": (trail.nbytes() + sum(v.nbytes for v in trail.head.values())) / 2**20,
                      "trail_from": trail.anchors[0] / len(tl)}
    return out


def part_tick(size, quick: bool) -> dict:
    import sim_bench
    from vmmemviz.model.core.simulator import Simulator

    host_gb, vms, vm_gb, ticks = size
    sim = Simulator(sim_bench.make(host_gb, vms, vm_gb, 16384))
    sim.step_tick()
    return sim_bench.tick_ratios(sim, ticks)          # interleaved with bare passes: see sim_bench


def part_host(size, quick: bool) -> dict:
    """Run the Timeline ``ticks`` ticks and show the last event, as ``run`` does (headless)."""
    from vmmemviz.model.config import scenario
    from vmmemviz.model.core.timeline import Timeline

    host_gb, vms, vm_gb, ticks = size
    sc = scenario.parse(host_text(host_gb, vms, vm_gb, ticks), f"bench {host_gb} GiB")
    base = rss()
    t = time.perf_counter()
    tl = Timeline(sc)
    tl.advance()
    boot = time.perf_counter() - t
    t = time.perf_counter()
    tl.run_to_end()
    rest = time.perf_counter() - t
    tl.seek(len(tl))
    tl.counters()
    pages = sc.host_pages + sum(vm.pages for vm in sc.vms)
    grown = rss("VmHWM") - base
    live = tl.sim.state.nbytes()
    return {"host_gb": host_gb, "pages": pages, "events": len(tl), "boot_s": boot,
            "s_per_sim_s": rest / max(1, ticks - 1), "peak_rss_gb": grown / 1e9,
            "bytes_per_page": grown / pages, "live_bytes_per_page": live / pages,
            "keyframe_mb": tl.keyframe_bytes() / 2**20}


def part_window(size, quick: bool) -> dict:
    """What the window holds at the same size: the view follows the live run tick by tick (as
    the worker shows it), then is sought to the middle and back to the end, and a frame of
    it is built (build_frame, as the worker does, its code trail included)."""
    from vmmemviz.engine.frame import build_frame
    from vmmemviz.model.config import scenario
    from vmmemviz.model.core.timeline import Timeline
    from vmmemviz.scene.bands import ASPECT
    from vmmemviz.scene.codetrail import CodeTrail
    from vmmemviz.scene.incremental import BandBuilder

    host_gb, vms, vm_gb, ticks = size
    sc = scenario.parse(host_text(host_gb, vms, vm_gb, ticks), f"bench {host_gb} GiB")
    base, held = rss(), []
    tl = Timeline(sc)
    builder = BandBuilder(CodeTrail(tl))          # as the worker's
    while not tl.finished():
        tl.advance()
        tl.seek(len(tl))
        held.append(pss())
    t = time.perf_counter()
    tl.seek(len(tl) // 2)
    mid = time.perf_counter() - t
    held.append(pss())
    t = time.perf_counter()
    tl.seek(len(tl))
    end = time.perf_counter() - t
    frame = build_frame(tl, len(tl), None, ASPECT, builder)
    held.append(pss())
    pages = sc.host_pages + sum(vm.pages for vm in sc.vms)
    peak = rss("VmHWM") - base
    return {"host_gb": host_gb, "pages": pages, "events": len(tl), "seek_mid_ms": 1e3 * mid,
            "seek_end_ms": 1e3 * end, "peak_rss_gb": peak / 1e9, "bytes_per_page": peak / pages,
            "pss_bytes_per_page": (max(held) - base) / pages, "end_bytes_per_page": (held[-1] - base) / pages,
            "frame_mb": sum(b.codes.nbytes for b in frame.bands) / 2**20,
            "log_mb": len(tl) * tl.log.rows(0, 1).itemsize / 2**20, "keyframe_mb": tl.keyframe_bytes() / 2**20}


def part_datacenter(size, quick: bool, scale: float) -> dict:
    from vmmemviz.assets import asset
    from vmmemviz.model.config import scenario
    from vmmemviz.model.config.scale import scaled
    from vmmemviz.model.core import events
    from vmmemviz.model.core.timeline import Timeline
    from vmmemviz.model.reclaim.freestates import STATE_NAMES, apply_host_state

    path = asset("scenarios/datacenter.toml")
    text = path.read_text()
    sc = scenario.parse(scaled(text, scale) if scale != 1 else text, str(path))
    base = rss()
    t = time.perf_counter()
    tl = Timeline(sc)
    tl.run_to_end()
    took = time.perf_counter() - t
    rows = tl.log.rows()
    seq = ["high"] + [STATE_NAMES[int(a)] for a in rows["aux"][rows["kind"] == apply_host_state.code]]
    return {"scale": scale, "events": len(tl), "s_per_sim_s": took / sc.duration,
            "peak_rss_gb": (rss("VmHWM") - base) / 1e9, "states": sorted(set(seq), key=STATE_NAMES.index),
            "kinds": sorted(events.KINDS[int(k)].name for k in np.unique(rows["kind"]))}


PARTS = {"seek": part_seek, "tick": part_tick, "bytes": part_host, "window": part_window, "tib": part_host,
         "datacenter": part_datacenter}


def child(name: str, quick: bool, cap_gb: float, dc_scale: float) -> dict:
    """Run one part in a child process under an address-space cap; its figures, or its error."""
    def cap():
        lim = int(cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    p = subprocess.run([sys.executable, __file__, "--child", name, "--dc-scale", str(dc_scale)]
                       + (["--quick"] if quick else []),
                       capture_output=True, text=True, preexec_fn=cap)
    if p.returncode:
        tail = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        return {"error": tail}
    return json.loads(p.stdout.strip().splitlines()[-1])


def report(res: dict, cap_gb: float) -> None:
    if "seek" in res:
        for label, r in res["seek"].items() if "error" not in res["seek"] else []:
            print(f"seek {label} ({r['events']:,} events, run {r['run_s']:.1f} s, {r['keyframes']} keyframes "
                  f"{r['keyframe_mb']:.0f} MiB, {r['history_mb']:.0f} MiB of it history): median {r['median_ms']:.0f} ms, "
                  f"max {r['max_ms']:.0f} ms, {r['over_100']} of {SEEKS} over 100 ms; the first "
                  f"{r['first_ms']:.0f} ms against {r['first_touch_ms']:.0f} ms to write its bytes into new memory; "
                  f"bare copy of the state {r['bare_copy_ms']:.0f} ms -> median {r['median_ms'] / r['bare_copy_ms']:.2f}x; "
                  f"bare copy of the blocks a seek changed, median {r['differ_ms']:.0f} ms -> "
                  f"{r['median_ms'] / max(r['differ_ms'], 1e-3):.2f}x  [target <= 100 ms]")
            print(f"  shown (the seek and the window's picture after it, as its worker builds it): median "
                  f"{r['shown_ms']:.0f} ms (the picture {r['frame_ms']:.0f} ms), max {r['shown_max_ms']:.0f} ms, "
                  f"{r['shown_over_100']} of {SEEKS} over 100 ms  [target <= 100 ms]; its own counters "
                  f"{r['counted_ms']:.0f} ms later (0: in the same frame); the code trail {r['trail_mb']:.0f} MiB, from "
                  f"{100 * r['trail_from']:.0f}% of the run")
    if "tick" in res and "error" not in res["tick"]:
        r = res["tick"]
        for clock in ("wall", "cpu"):
            c = r[clock]
            print(f"tick / bare numpy pass ({clock} clock, each tick over the passes around it): median "
                  f"{c['median']:.2f}x, {c['low']:.2f}-{c['high']:.2f}x over the steady ticks, the first "
                  f"{c['first']:.2f}x; as quoted before {c['as_before']:.2f}x  [target <= 3x]")
    for key, target in (("bytes", "<= 32 B/page"), ("tib", f"within {cap_gb:g} GB")):
        r = res.get(key)
        if r and "error" not in r:
            print(f"{r['host_gb']} GiB host ({r['pages']:,} frames + guest pages, {r['events']:,} events): "
                  f"peak RSS +{r['peak_rss_gb']:.2f} GB = {r['bytes_per_page']:.1f} B/page all in "
                  f"(live arrays {r['live_bytes_per_page']:.1f} B/page, keyframes {r['keyframe_mb']:.0f} MiB); "
                  f"boot tick {r['boot_s']:.1f} s, then {r['s_per_sim_s']:.1f} s per simulated s  [target {target}]")
    r = res.get("window")
    if r and "error" not in r:
        print(f"{r['host_gb']} GiB as the window holds it (the view following the run, then sought to the middle "
              f"in {r['seek_mid_ms']:.0f} ms and back to the end in {r['seek_end_ms']:.0f} ms; a frame of "
              f"{r['frame_mb']:.0f} MiB, log {r['log_mb']:.0f} MiB, keyframes {r['keyframe_mb']:.0f} MiB): peak RSS "
              f"+{r['peak_rss_gb']:.2f} GB = {r['bytes_per_page']:.1f} B/page (RSS counts a page the view shares "
              f"twice); proportional (Pss) {r['pss_bytes_per_page']:.1f} B/page all in at its highest after a step, "
              f"{r['end_bytes_per_page']:.1f} with the frame  [target <= 32 B/page]")
    r = res.get("datacenter")
    if r and "error" not in r:
        print(f"datacenter at 1/{r['scale']:g}: {r['events']:,} events, {r['s_per_sim_s']:.1f} s per simulated s, "
              f"peak RSS +{r['peak_rss_gb']:.2f} GB; states {', '.join(r['states'])}; kinds {', '.join(r['kinds'])}")
    for key, r in res.items():
        if "error" in r:
            print(f"{key}: failed under the {cap_gb:g} GiB cap: {r['error']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, seconds in all")
    ap.add_argument("--only", default=",".join(PARTS), help="comma-separated: " + ",".join(PARTS))
    ap.add_argument("--cap-gb", type=float, default=16.0, help="address-space cap of each child (GiB)")
    ap.add_argument("--dc-scale", type=float, default=32.0, help="datacenter scaled down by this (1 = full size)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        extra = (a.dc_scale,) if a.child == "datacenter" else ()
        print(json.dumps(PARTS[a.child](SIZES[a.child][a.quick], a.quick, *extra)))
        return
    res = {}
    for name in a.only.split(","):
        res[name] = child(name, a.quick, a.cap_gb, a.dc_scale)     # one at a time: the big ones never overlap
    report(res, a.cap_gb)
    if a.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
