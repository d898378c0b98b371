"""Compare tours ([compare] scenarios): each chapter's claims, read from runs A and B."""
import json

import pytest

from vmmemviz.cli import main
from vmmemviz.engine.frame import build_frame
from vmmemviz.errors import InputError
from vmmemviz.model.config import compare as C
from vmmemviz.model.config import scenario as SC
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.scene import compare as D

TOURS = ("compare-salting", "compare-mmu", "compare-idletax", "compare-tools", "compare-largepages")


class Runs:
    """Runs A and B of a compare tour, read at the end of a simulated second."""

    def __init__(self, name):
        self.a, self.b, self.what = C.pair(SC.load(name))
        self.tl = Timeline(self.a), Timeline(self.b)

    def at(self, tick):
        out = []
        for tl in self.tl:
            tl.seek(D.position_at(tl, tick))
            out.append(tl.counters())
        return out

    def pages_differ(self, tick) -> int:
        return D.diff_frames(*(build_frame(tl, D.position_at(tl, tick)) for tl in self.tl)).pages


def test_tours_are_listed_and_compare(capsys):
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    for name in TOURS:
        sc = SC.load(name)
        assert name in listed and sc.compare_sets and sc.compare_title and len(sc.chapters) >= 2
        assert sc.duration <= 90 and sum(vm.pages for vm in sc.vms) <= 4096
    assert main(["run", "compare-mmu", "--json", "--ticks", "3"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["b_is"] == "shadow page tables (software MMU)" and set(got) >= {"a", "b", "delta"}


def test_salting():
    r = Runs("compare-salting")
    for tick in (15, 50):
        a, b = r.at(tick)
        assert all(v["SHRD"] > v["ZERO"] for v in a["vms"].values())          # A shares across VMs
        assert all(v["SHRD"] == v["ZERO"] for v in b["vms"].values())         # B: zero pages only
    assert a["host"]["pshare_saving_mb"] > 1.25 * b["host"]["pshare_saving_mb"]
    assert r.pages_differ(50) > 0


def test_mmu_changes_cost_not_pages():
    r = Runs("compare-mmu")
    a, b = r.at(22)
    va, vb = a["vms"]["app01"], b["vms"]["app01"]
    assert (va["WALK/MISS"], vb["WALK/MISS"], va["VM_EXITS"], vb["VM_EXITS"]) == (24, 4, 0, 320)
    assert va["GRANT"] == vb["GRANT"] and va["TLB_MISSES"] == vb["TLB_MISSES"]
    assert r.pages_differ(22) == 0


def test_idletax():
    r = Runs("compare-idletax")
    a, b = r.at(20)
    ab, ai, bb, bi = a["vms"]["busy01"], a["vms"]["idle01"], b["vms"]["busy01"], b["vms"]["idle01"]
    assert ab["SZTGT"] == ai["SZTGT"] and bb["SZTGT"] > bi["SZTGT"] + 0.3
    assert ab["MCTLSZ"] > ai["MCTLSZ"] and bi["MCTLSZ"] > 2 * bb["MCTLSZ"]
    assert bi["GSWCUR"] > 0 and bb["GRANT"] > ab["GRANT"]


def test_tools():
    r = Runs("compare-tools")
    a, b = r.at(45)
    ai, bi = a["vms"]["idle01"], b["vms"]["idle01"]
    assert ai["MCTL?"] == "Y" and bi["MCTL?"] == "N"
    assert ai["MCTLSZ"] > 1 and ai["SWCUR"] == 0 and bi["MCTLSZ"] == 0 and bi["SWCUR"] > 0.5


def test_largepages():
    r = Runs("compare-largepages")
    a, b = r.at(4)
    assert a["vms"]["app01"]["LPAGE"] == 2 and b["vms"]["app01"]["LPAGE"] == 0
    assert a["host"]["free_mb"] + 3 < b["host"]["free_mb"]
    a, b = r.at(57)
    assert all(v["LPAGE"] == 0 for v in a["vms"].values())
    assert a["host"]["pshare_saving_mb"] > 2 * b["host"]["pshare_saving_mb"]


@pytest.mark.parametrize("table, says", [
    ('[compare]\nset = "Mem.IdleTax=0"', 'compare.set: expected a list of "KEY=VALUE" strings, from 1 to 100'),
    ('[compare]\nset = ["Mem.Nope=1"]', "compare.set[0] 'Mem.Nope=1': unknown key"),
    ('[compare]\ntitle = "x"', "compare.set: expected"),
    ('[compare]\nset = ["Mem.IdleTax=0"]\ncolour = 1', "compare.colour: unknown key"),
])
def test_bad_compare_table_is_one_line(table, says):
    text = SC.load("compare-mmu").text.split("[compare]")[0] + table
    with pytest.raises(InputError) as e:
        SC.parse(text, "x.toml")
    assert says in str(e.value) and "\n" not in str(e.value)
