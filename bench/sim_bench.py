"""Simulation benchmark at host scale: a 64 GiB host (16.7 M frames), 32 VMs of 4 GiB
doing random touches.

Prints page-events per second, bytes of model state per machine frame and per guest page,
and the ratio of one simulation tick to a bare numpy pass (one read of every state array)
over the same arrays, measured in the same run. Targets: >= 2 M page-events/s, <= 32 bytes
per frame and per guest page, a tick within 3x the bare pass.

    python bench/sim_bench.py [--host-gb 64] [--vms 32] [--vm-gb 4] [--ticks 5]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from vmmemviz.model.config import scenario
from vmmemviz.model.core.simulator import Simulator
from vmmemviz.model.core.vm import expand


def make(host_gb, vms, vm_gb, touches):
    text = f"seed = 1\nduration = 1000\n[host]\nmemory_mb = {host_gb * 1024}\n"
    for i in range(vms):
        text += (f"[[vm]]\nname = 'vm{i:02d}'\nmemory_mb = {vm_gb * 1024}\nguest_os = 'linux'\n"
                 f"[[vm.process]]\nname = 'app'\nsize_mb = {vm_gb * 512}\nstart_mb = {vm_gb * 256}\n"
                 f"touches = {touches}\nwrite_fraction = 0.3\n")
    return scenario.parse(text, "bench")


def page_events(rows) -> int:
    return len(expand(rows)[0]) if len(rows) else 0


def bare_pass(state) -> float:
    t = time.perf_counter()
    for _, a in state.arrays():
        np.count_nonzero(a)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host-gb", type=int, default=64)
    ap.add_argument("--vms", type=int, default=32)
    ap.add_argument("--vm-gb", type=int, default=4)
    ap.add_argument("--touches", type=int, default=16384, help="accesses per VM per second")
    ap.add_argument("--ticks", type=int, default=5)
    a = ap.parse_args()
    sc = make(a.host_gb, a.vms, a.vm_gb, a.touches)
    t0 = time.perf_counter()
    sim = Simulator(sc, log=True)
    sim.step_tick()                                      # tick 0: power-on, boot, first allocations
    boot = time.perf_counter() - t0
    st = sim.state
    frames = st.host.n_mpn
    guest_pages = sum(vm.n for vm in st.vms)
    host_b = st.host.nbytes() / frames
    guest_b = sum(vm.nbytes() for vm in st.vms) / guest_pages
    print(f"host {a.host_gb} GiB = {frames:,} frames; {a.vms} VMs x {a.vm_gb} GiB = {guest_pages:,} guest pages")
    print(f"boot tick: {boot:.2f} s, {len(sim.log):,} events")
    print(f"state: {host_b:.1f} bytes per machine frame, {guest_b:.1f} bytes per guest page "
          f"(page tables of the processes included)  [target <= 32]")
    ticks, bare, n_events = [], [], 0
    for _ in range(a.ticks):
        n0 = len(sim.log)
        t = time.perf_counter()
        sim.step_tick()
        ticks.append(time.perf_counter() - t)
        n_events += page_events(sim.log.rows(n0))
        bare.append(bare_pass(st))
    tick, b = float(np.median(ticks)), float(np.median(bare))
    rate = n_events / sum(ticks)
    print(f"tick: {tick * 1000:.0f} ms median; bare numpy pass over the same arrays: {b * 1000:.0f} ms")
    print(f"page-events/s: {rate / 1e6:.2f} M  [target >= 2 M]")
    print(f"ratio tick / bare pass: {tick / b:.2f}x  [target <= 3x]")


if __name__ == "__main__":
    main()
