"""Real data inside scenarios: a VM whose memory is a real guest image, a process driven
by a real Valgrind trace."""
import subprocess

import lz4.block
import numpy as np
import pytest

from vmmemviz.errors import InputError
from vmmemviz.importers.images import open_image
from vmmemviz.model.core import content as C
from vmmemviz.model.guest import guestos as guest
from vmmemviz.model.views import invariants
from vmmemviz.model.config import scenario
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.model.core.vm import MAPPED, SHARED


def image_scenario(path, mem_mb=128):
    return scenario.parse(f"""
duration = 2
[host]
memory_mb = 512
[[vm]]
name = "real"
memory_mb = {mem_mb}
image = "{path}"
""", "/tmp/image.toml")


def test_vm_memory_from_a_real_image(images):
    path = images["a"].with_suffix(".elf")
    tl = Timeline(image_scenario(path))
    tl.run_to_end()
    vm = tl.sim.vms[0]
    img = open_image(path)
    g = img.page_numbers()
    assert np.isin(vm.gp_state[g], (MAPPED, SHARED)).all()       # backed (TPS may share some)
    rng = np.random.default_rng(0)
    for p in rng.choice(g, 200, replace=False):
        cid = int(tl.sim.state.host.mpn_content[vm.gp_loc[p]])
        assert C.page_bytes(cid) == img.page(int(p))             # the real bytes, page for page
        cls = int(C.content_class(cid))
        data = img.page(int(p))
        if not any(data):
            assert cid == C.ZERO_CID and vm.gp_guest[p] == guest.FREE
        else:
            small = len(lz4.block.compress(data, store_size=False)) <= 2048
            assert cls == (C.TEXT if small else C.RANDOM) and vm.gp_guest[p] == guest.KERNEL
    invariants.check(tl.sim.state)
    # identical pages of the image got one content id
    cids = tl.sim.state.host.mpn_content[vm.gp_loc[g]]
    nonzero = cids[cids != 0]
    assert len(np.unique(nonzero)) < len(nonzero)


def test_image_larger_than_the_vm_is_one_clear_line(images):
    path = images["a"].with_suffix(".elf")
    with pytest.raises(InputError, match=r"vm\[real\]\.image: expected an image that fits"):
        Timeline(image_scenario(path, mem_mb=64))


def test_process_driven_by_a_real_lackey_trace(tmp_path):
    trace = tmp_path / "true.lackey"
    subprocess.run(["valgrind", "--tool=lackey", "--trace-mem=yes", f"--log-file={trace}", "/bin/true"],
                   check=True, capture_output=True)
    (tmp_path / "t.toml").write_text("""
duration = 30
[host]
memory_mb = 64
[[vm]]
name = "vm"
memory_mb = 16
[[vm.process]]
name = "true"
size_mb = 8
touches = 5000
trace = "true.lackey"
""")
    sc = scenario.load(str(tmp_path / "t.toml"))
    tl = Timeline(sc)
    tl.run_to_end()
    from vmmemviz.importers.traces import read_trace
    t = read_trace(trace)
    used = min(len(t.vpn), 5000 * 29)               # records played in ticks 1..29
    proc = tl.sim.vms[0].procs[0]
    assert int((proc.pt_state != guest.UNMAPPED).sum()) == len(np.unique(t.vpn[:used]))
    acc = tl.log.rows()
    acc = acc[acc["kind"] == 20]
    assert len(acc) == used
    assert int(((acc["flags"] & 1) != 0).sum()) == int(t.is_write[:len(acc)].sum())
    invariants.check(tl.sim.state)
