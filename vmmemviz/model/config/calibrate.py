"""Calibrate: a scenario that reproduces one sample of a real host (an esxtop capture).

What is taken as it is: the host's managed memory (less what ESXi's own groups hold, folded
into host overhead), each VM's MEMSZ, reservation (RESV), limit (LIMIT), shares (SHARES)
and VMware Tools (MCTL?), and the compression cache size (CACHESZ / MEMSZ ->
``Mem.MemZipMaxPct``).

What is inferred, per VM, as one application that writes its memory a little every second
over a ramp (40 s to start with):

* how much it holds: GRANT + SWCUR + the VM's share of host zipped memory (what the
  guest holds, wherever the host keeps it), then corrected run after run against the
  simulated GRANT;
* its guest OS: a VM whose zero pages (ZERO) are more than 40% of GRANT zeroed its memory
  at boot, as Windows does (those pages are never touched again), so it is a Windows guest;
* what it writes: ZERO / GRANT zero pages, (SHRD - ZERO) / GRANT OS pages (both shareable),
  the rest text (compresses to 2 KB) and random (does not), starting from the ratio of the
  VM's compressed to swapped memory and corrected run after run by its CACHEUSD;
* how it touches: working set TCHD, write fraction TCHD_W / TCHD (0.3 if not captured),
  eight touches a second per MB of working set to start with, corrected run after run by
  the VM's %ACTV (how active a VM looks sets its idle tax, so its target SZTGT and so how
  much of the host's ballooning and swapping falls on it and not on the others).

The speed of the host's swap device (``Sim.SwapRate``): how fast the capture shows the host
taking pages out (SWW/s + ZIP/s + LLSWW/s summed over VMs, the median of the samples where it
swapped), so that the hard and low states last as long as they did.

History of pressure: ballooning, swapping and compression happen in the simulator when
the host runs short, as on the real host; how much of each depends on how fast the
pressure came. Too little swapped + zipped memory: a burst, an extra process in the VMs
with swapped or compressed memory that writes B MB 10 s after the ramp and frees it 45 s
later (B searched for, secant on the host's swap + zip; each VM's part of B corrected by
its own swapped + zipped memory). The ramp's length is searched against the host's
Memctl: slower pressure leaves ballooning time to act before the host is hard (without
ballooning in the capture, the ramp slows when there is too much swap + zip even
without a burst).

When: the capture is one moment of a pressure episode that goes on (balloons still
inflating, PShare saving falling as they take zero pages), so each run goes 30 ticks past
the usual end and the scenario ends at the tick after the burst where the figures match best
(how long the pressure had lasted when the capture was taken).

The search runs the simulator ``rounds`` times and keeps the best round; after a run that
did worse than the best it corrects the best run's guess again, half as far. It reads the
model only through ``run --json``'s counters, so it follows the model when reclamation
changes. Targets and tolerance (``ok``): host PShare saving, Memctl, Swap and Zip, each
VM's GRANT, within 10% of the capture or 1% of managed memory.
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field

from vmmemviz.errors import InputError

TARGETS = ("pshare_saving_mb", "memctl_curr_mb", "swap_curr_mb", "zip_zipped_mb")
END_SPAN = 30                         # ticks run past ramp + 60 to choose the end from


def _f(d: dict, k: str, default: float = 0.0) -> float:
    v = d.get(k)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
        else default


def _mb(v: float) -> float:
    """MB rounded to a whole page (1/256 MB)."""
    return max(0.0, round(v * 256) / 256)


@dataclass
class Guess:
    """The inferred part of the scenario: per VM MB held, the burst MB."""

    held: dict
    text: dict                        # per VM: share of text (compressible) in the non-shared rest
    share: dict                       # per VM: its part of the burst
    touch: dict = field(default_factory=dict)   # per VM: touches a second per MB of working set
    burst: float = 0.0
    scan_speed: float = 1.0           # page sharing: 1 = a scan of each VM every 40 ticks
    ramp: int = 40                    # ticks over which the applications write what they hold
    swap_rate: int = 0                # Sim.SwapRate, pages/s (0: the default)
    end: int = 0                      # duration: the tick the capture is matched at (0: ramp + 60)


@dataclass
class Calibration:
    text: str                         # the scenario (TOML, with comments)
    capture: dict                     # {"host", "vms"} of the sample
    simulated: dict                   # {"host", "vms"} at the end of the calibrated run
    managed_mb: float
    rounds: list = field(default_factory=list)   # per round: worst error as a share of the bound

    def rows(self) -> list:
        """(what, capture, simulated, bound, ok) for every target."""
        tol = 0.01 * self.managed_mb
        out = []
        for k in TARGETS:
            c, s = _f(self.capture["host"], k), _f(self.simulated["host"], k)
            b = max(0.1 * abs(c), tol)
            out.append((f"host {k}", c, s, b, abs(s - c) <= b))
        for n, vm in self.capture["vms"].items():
            c, s = _f(vm, "GRANT"), _f(self.simulated["vms"].get(n, {}), "GRANT")
            b = max(0.1 * abs(c), tol)
            out.append((f"{n} GRANT", c, s, b, abs(s - c) <= b))
        return out

    @property
    def ok(self) -> bool:
        return all(r[4] for r in self.rows())


def compare_table(cal: Calibration) -> str:
    """Capture against simulated, side by side."""
    lines = [f"{'':28} {'capture':>10} {'simulated':>10} {'bound':>8}  within",
             *(f"{w[:28]:28} {c:10.2f} {s:10.2f} {b:8.2f}  {'yes' if ok else 'NO'}"
               for w, c, s, b, ok in cal.rows()),
             f"search: {len(cal.rounds)} simulator runs, worst error / bound per run: "
             + ", ".join(f"{e:.2f}" for e in cal.rounds)]
    return "\n".join(lines)


def _t(s: str) -> str:
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _n(v: float) -> str:
    v = round(float(v), 8)          # exact for page multiples (1 page = 0.00390625 MB)
    return str(int(v)) if v == int(v) else repr(v)


def first_guess(sample: dict) -> Guess:
    vms = sample["vms"]
    zip_host = _f(sample["host"], "zip_zipped_mb")
    used = sum(_f(v, "CACHEUSD") for v in vms.values())
    held = {}
    for n, v in vms.items():
        zipped = zip_host * _f(v, "CACHEUSD") / used if used else 0.0
        held[n] = _f(v, "GRANT") + _f(v, "SWCUR") + zipped
    text = {}
    for n, v in vms.items():
        sw, zp = _f(v, "SWCUR"), _zipped(sample, n)
        text[n] = zp / (zp + sw) if zp + sw > 0 else 0.6
    out = {n: _f(v, "SWCUR") + _zipped(sample, n) for n, v in vms.items()}
    total = sum(out.values())
    share = {n: o / total if total else 1 / len(vms) for n, o in out.items()}
    return Guess(held, text, share)


def _zipped(sample: dict, name: str) -> float:
    used = sum(_f(v, "CACHEUSD") for v in sample["vms"].values())
    return _f(sample["host"], "zip_zipped_mb") * _f(sample["vms"][name], "CACHEUSD") / used \
        if used else 0.0


def _managed(sample: dict) -> float:
    """The captured host's managed memory in MB (else PMEM, else its VMs' MEMSZ)."""
    h = sample["host"]
    return _f(h, "managed_mb") or _f(h, "pmem_mb") or sum(_f(v, "MEMSZ") for v in sample["vms"].values())


def scenario_text(sample: dict, guess: Guess, name: str, source: str, scale: float = 1.0) -> str:
    """The scenario for ``guess``; sizes divided by ``scale`` (1 = the host's real size)."""
    h = sample["host"]
    vms = sample["vms"]
    managed, system = _managed(sample), _f(h, "system_mb")
    zip_pct = [100 * _f(v, "CACHESZ") / _f(v, "MEMSZ") for v in vms.values()
               if _f(v, "CACHESZ") > 0 and _f(v, "MEMSZ") > 0]
    burst_at, free_at = guess.ramp + 10, guess.ramp + 55
    duration = guess.end or guess.ramp + 60
    o = [f"# Calibrated from {source}.",
         "# Run it and compare: vmmemviz calibrate prints capture against simulated.",
         f"# [host] memory_mb: managed memory {_n(managed)} MB less {_n(system)} MB held by ESXi's own",
         "# groups (hostd, vpxa, ...: host overhead the VMs cannot have)"
         + (f"; every size divided by {_n(scale)}." if scale != 1 else "."),
         "# Per VM: MEMSZ, Alloc Min/Max/Shares (RESV, LIMIT, SHARES) and MCTL? (Tools) as captured.",
         "# Workloads inferred: an application holding GRANT + SWCUR + its zipped memory (corrected",
         f"# against the simulator), written over {guess.ramp} s with ZERO/GRANT zero pages, (SHRD-ZERO)/GRANT",
         "# shareable OS pages and text (compressible) / random pages, from zipped : swapped and",
         "# corrected by CACHEUSD;",
         "# working set TCHD, write fraction TCHD_W/TCHD.",
         f"# Pressure history: a burst of {_n(guess.burst)} MB (searched for so that swap and zip match)",
         f"# written at {burst_at} s and freed at {free_at} s, in the VMs with swapped or zipped memory.",
         f"# Ends at {duration} s: of the ticks after the burst, the one where the figures match best",
         "# (how long the pressure had lasted when the capture was taken).",
         f"name = {_t(name)}", "seed = 1", f"duration = {duration}", "",
         "[host]", f"memory_mb = {_n(_mb(max(1.0, managed - system) / scale))}", "",
         "[settings]",
         "# page sharing: its speed searched so that PShare saving matches (faster: more seconds of",
         "# scanning a tick; slower: a longer Mem.ShareScanTime)",
         f'"Mem.ShareScanTime" = {min(600, round(10 / min(1.0, guess.scan_speed)))}',
         f'"Sim.TimeScale" = {min(3600, round(15 * max(1.0, guess.scan_speed)))}']
    if _f(h, "pshare_saving_mb") <= 0 and not any(_f(v, "SHRD") > 0 for v in vms.values()):
        o.append('"Mem.ShareScanGHz" = 0   # nothing shared in the capture: TPS scanning off')
    if guess.swap_rate:
        o.append(f'"Sim.SwapRate" = {max(1, round(guess.swap_rate / scale))}'
                 "   # SWW/s + ZIP/s + LLSWW/s while the host swapped (median)")
    if zip_pct:
        o.append(f'"Mem.MemZipMaxPct" = {min(100, max(5, round(sum(zip_pct) / len(zip_pct))))}'
                 "   # CACHESZ / MEMSZ")
    weight = {n: w for n, w in guess.share.items() if w > 0}
    for n, v in vms.items():
        memsz = _f(v, "MEMSZ") / scale
        grant = max(_f(v, "GRANT"), 1e-9)
        held = min(guess.held[n] / scale, memsz * 0.9)
        windows = _f(v, "ZERO") > 0.4 * _f(v, "GRANT") > 0
        o += ["", f"# {n}: captured GRANT {_n(_f(v, 'GRANT'))}, SWCUR {_n(_f(v, 'SWCUR'))}, zipped "
              f"{_n(round(_zipped(sample, n), 2))}, MCTLSZ {_n(_f(v, 'MCTLSZ'))}, TCHD {_n(_f(v, 'TCHD'))} MB; "
              f"inferred: holds {_n(round(held * scale, 2))} MB, text share {guess.text[n]:.2f}, "
              f"{guess.touch.get(n, 8.0):.1f} touches/s per MB of TCHD (by %ACTV {_n(_f(v, '%ACTV'))})",
              "[[vm]]", f"name = {_t(n)}", f"memory_mb = {_n(_mb(memsz))}",
              f"tools = {'false' if v.get('MCTL?') == 'N' else 'true'}"]
        if windows:
            o.append('guest_os = "windows"   # ZERO > 40% of GRANT: its memory was zeroed at boot')
        resv = _f(v, "RESV") / scale
        if resv > 0:
            o.append(f"reservation_mb = {_n(_mb(min(resv, memsz)))}")
        limit = _f(v, "LIMIT", -1)
        if 0 < limit / scale < memsz:
            o.append(f"limit_mb = {_n(_mb(limit / scale))}")
        shares = _f(v, "SHARES")
        if shares > 0:
            o.append(f"shares = {max(1, round(shares / scale))}")
        zero = min(1.0, _f(v, "ZERO") / grant)
        os_ = min(1.0 - zero, max(0.0, _f(v, "SHRD") - _f(v, "ZERO")) / grant)
        rest = 1.0 - zero - os_
        text = rest * guess.text[n]
        mix = {"zero": zero, "os": os_, "text": text, "random": rest - text}
        pages = max(1, int(held * 256))
        tchd = _f(v, "TCHD", held * scale * 0.3) / scale
        wf = _f(v, "TCHD_W") / _f(v, "TCHD") if _f(v, "TCHD") > 0 and "TCHD_W" in v else 0.3
        o += ["", "[[vm.process]]", 'name = "app"', f"size_mb = {_n(pages / 256)}",
              f"working_set_mb = {_n(_mb(max(tchd, 1 / 256)))}",
              f"touches = {max(10, min(2000, int(tchd * guess.touch.get(n, 8.0))))}",
              f"write_fraction = {round(min(1.0, wf), 3)}"]
        o += _steps(pages, mix, guess.ramp)
        if guess.burst > 0 and n in weight:
            share = weight[n] / sum(weight.values())
            b = int(min(guess.burst * share / scale, memsz * 0.9 - held) * 256)
            if b > 0:
                o += ["", "[[vm.process]]", 'name = "burst"', f"size_mb = {_n(b / 256)}"]
                for op, at in (("alloc", burst_at), ("write", burst_at), ("free", free_at)):
                    o += ["[[vm.process.step]]", f"at = {at}", f'op = "{op}"',
                          f'pages = "0x0-{b - 1:#x}"'] + (['content = "text"'] if op == "write" else [])
    return "\n".join(o) + "\n"


def _steps(pages: int, mix: dict, ramp: int) -> list:
    """Allocate ``pages`` at tick 1 and write them a little each tick for ``ramp`` ticks,
    each tick one content class, the classes in the shares of ``mix`` (largest remainder)."""
    o = ["[[vm.process.step]]", "at = 1", 'op = "alloc"', f'pages = "0x0-{pages - 1:#x}"']
    total = sum(mix.values()) or 1.0
    done = {k: 0 for k in mix}
    for i in range(ramp):
        lo, hi = pages * i // ramp, pages * (i + 1) // ramp
        if hi <= lo:
            continue
        k = max(mix, key=lambda c: mix[c] / total * (i + 1) - done[c])
        done[k] += 1
        o += ["[[vm.process.step]]", f"at = {2 + i}", 'op = "write"', f'pages = "{lo:#x}-{hi - 1:#x}"',
              f'content = "{k}"']
    return o


def simulate(text: str) -> dict:
    """Run a scenario text to its end; its counters ({"host", "vms"})."""
    from vmmemviz.model.config.scenario import parse
    from vmmemviz.model.core.timeline import Timeline

    tl = Timeline(parse(text, "<calibrated>"))
    tl.seek(tl.run_to_end())
    return tl.counters()


def _ticks(text: str, source: str = "<calibrated>") -> list:
    """Run a scenario text to its end; each tick's counters ({"tick", "host", "vms"}). A text
    the scenario check refuses (a VM of MEMSZ 0, a host larger than one here) is one line naming
    ``source``, the capture and sample it was made from."""
    from vmmemviz.model.config.scenario import parse
    from vmmemviz.model.core.timeline import Timeline

    return list(Timeline(parse(text, source)).records())


def _worst(cal: Calibration) -> float:
    return max(abs(s - c) / b for _, c, s, b, _ in cal.rows())


def _check_scale(sample: dict, scale: float) -> None:
    """``scale`` leaves the host at least 1 MB and every VM at least 0.25 MB (a scenario's
    least), else one line that says the largest scale the capture takes."""
    host = _managed(sample) - _f(sample["host"], "system_mb")      # scenario_text's host.memory_mb
    vm = min((_f(v, "MEMSZ") for v in sample["vms"].values() if _f(v, "MEMSZ") > 0), default=math.inf)
    most = min(max(host, 1.0), vm / 0.25)
    if scale > most:
        raise InputError(f"scale {scale:g}: the captured host ({host:,.2f} MB, its smallest VM "
                         f"{vm:,.2f} MB) takes a scale of at most {math.floor(most * 100) / 100:g}")


def calibrate(sample: dict, source: str = "an esxtop capture", name: str = "calibrated host",
              rounds: int = 8, scale: float = 1.0, progress=None, swap_mbps: float = 0.0) -> Calibration:
    """Search the inferred part against the simulator; the best of ``rounds`` runs.
    ``swap_mbps``: how fast the captured host swapped (``EsxtopCapture.swap_out_mbps``),
    the speed of its swap device (``Sim.SwapRate``); 0 = unknown."""
    managed = _f(sample["host"], "managed_mb") or sum(_f(v, "MEMSZ") for v in sample["vms"].values())
    _check_scale(sample, scale)
    target = {"host": sample["host"], "vms": sample["vms"]}
    guess = first_guess(sample)
    guess.swap_rate = round(swap_mbps * 256)
    best, base, history, bursts, step = None, None, [], [], 1.0
    for r in range(max(1, rounds)):
        # run past the usual end and take the tick after the burst that matches best
        guess.end = guess.ramp + 60 + END_SPAN
        ticks = _ticks(scenario_text(sample, guess, name, source, scale), source)[guess.ramp + 10:]
        sims = [_unscale({"host": t["host"], "vms": t["vms"]}, scale) for t in ticks]
        i = min(range(len(sims)), key=lambda j: _worst(Calibration("", target, sims[j], managed)))
        sim, guess.end = sims[i], ticks[i]["tick"] + 1
        text = scenario_text(sample, guess, name, source, scale)
        cal = Calibration(text, target, sim, managed)
        err = _worst(cal)
        history.append(err)
        if progress:
            progress(f"calibrate: run {r + 1}/{rounds}: worst error {err:.2f} of the bound")
        if best is None or err < _worst(best):
            best, base, step = cal, (guess, sim), 1.0
        else:                # worse: step again from the best run, half as far
            step /= 2
        if cal.ok:
            break
        bursts.append((guess.burst, _f(sim["host"], "swap_curr_mb") + _f(sim["host"], "zip_zipped_mb")))
        guess = _corrected(copy.deepcopy(base[0]), base[1], sample, managed, step, bursts)
    best.rounds = history
    return best


def _corrected(guess: Guess, sim: dict, sample: dict, managed: float, step: float, bursts: list) -> Guess:
    """The next guess from ``guess`` and its run ``sim``; ``step`` (1, or less after a run that
    did worse than the best) scales every correction."""
    def towards(want, got, lo, hi):       # a damped ratio want / got, to the power ``step``
        return (min(hi, max(lo, want / got)) if got > 0 else hi) ** step

    # per VM: what it holds, by its GRANT error (damped)
    for n, v in sample["vms"].items():
        got_v = sim["vms"].get(n, {})
        guess.held[n] = max(1 / 256, guess.held[n] + 0.6 * step * (_f(v, "GRANT") - _f(got_v, "GRANT")))
        want_n = _f(v, "SWCUR") + _zipped(sample, n)
        if want_n > 0 and guess.share[n] > 0:
            guess.share[n] *= towards(want_n, _f(got_v, "SWCUR") + _zipped(sim, n), 0.5, 2.0)
        if _f(v, "%ACTV") > 0:        # touches a second by the active share (%ACTV)
            guess.touch[n] = guess.touch.get(n, 8.0) * towards(_f(v, "%ACTV"), _f(got_v, "%ACTV"), 0.5, 2.0)
        if _f(v, "CACHEUSD") > 0:
            guess.text[n] = min(1.0, max(0.05, guess.text[n] * towards(_f(v, "CACHEUSD"), _f(got_v, "CACHEUSD"),
                                                                       0.5, 2.0)))
    # page sharing: scan faster or slower by the PShare saving error
    want_s, got_s = _f(sample["host"], "pshare_saving_mb"), _f(sim["host"], "pshare_saving_mb")
    if want_s > 0 and abs(got_s - want_s) > max(0.1 * want_s, 0.01 * managed):
        guess.scan_speed *= towards(want_s, got_s, 0.25, 4.0)
    # the burst: by the host's swap + zip error (secant through the last two runs that differ)
    want_out = _f(sample["host"], "swap_curr_mb") + _f(sample["host"], "zip_zipped_mb")
    got = _f(sim["host"], "swap_curr_mb") + _f(sim["host"], "zip_zipped_mb")
    pts = [p for p in bursts if p[0] != guess.burst][-1:] + [(guess.burst, got)]
    if len(pts) == 2 and pts[0][1] != pts[1][1]:
        (b0, g0), (b1, g1) = pts
        nxt = b1 + (want_out - g1) * (b1 - b0) / (g1 - g0)
    else:
        nxt = guess.burst + 1.5 * (want_out - got)
    want_b, got_b = _f(sample["host"], "memctl_curr_mb"), _f(sim["host"], "memctl_curr_mb")
    slower = towards(want_b, got_b, 0.67, 1.5) if want_b > 0 else \
        (1.5 ** step if nxt <= 0 and got > want_out + 0.01 * managed else 1.0)
    if abs(slower - 1) > 0.05:       # slower pressure: more ballooning before the host is hard
        guess.ramp = int(min(120, max(20, guess.ramp * slower)))
        bursts.clear()
    guess.burst = max(0.0, min(guess.burst + step * (nxt - guess.burst), managed))
    total = sum(guess.share.values()) or 1.0
    guess.share = {n: w / total for n, w in guess.share.items()}
    return guess


def _unscale(c: dict, scale: float) -> dict:
    if scale == 1:
        return c

    def up(d):
        return {k: v * scale if isinstance(v, float) else v for k, v in d.items()}
    return {"host": up(c["host"]), "vms": {n: up(v) for n, v in c["vms"].items()}}
