"""The scene: band codes after known events, stable layout, arrows of known events (no Qt)."""
import numpy as np
import pytest

from vmmemviz.model.core import events as E
from vmmemviz.model.config import scenario
from vmmemviz.model.core.timeline import Timeline
from vmmemviz.model.views.pageinfo import describe
from vmmemviz.scene import bands as B
from vmmemviz.scene import palette as P
from vmmemviz.scene.arrows import BUNDLE_AT, REGIONS, Arrow, bundle, chain_arrows, event_arrows, row_arrows


@pytest.fixture(scope="module")
def tl():
    t = Timeline(scenario.load("default"))
    t.ensure(400)
    return t


def first(tl, name):
    code = E.BY_NAME[name].code
    return next(i for i in range(len(tl)) if tl.log[i]["kind"] == code)


def code_at(bands, key, i):
    b = next(b for b in bands if b.key == key)
    return int(b.codes.reshape(-1)[i])


def test_first_back_colours_the_mpn_with_its_vm(tl):
    i = first(tl, "BACK")
    tl.seek(i + 1)
    row = tl.log[i]
    bands = B.build_bands(tl.view)
    # a freshly backed page holds zeros: the pale tint of its VM's colour, in both layers
    assert code_at(bands, "mp", int(row["mpn"])) == P.vm_code(int(row["vm"]), zero=True)
    assert code_at(bands, f"gp.{int(row['vm'])}", int(row["gppn"])) == P.vm_code(int(row["vm"]), zero=True)
    tl.seek(i)
    assert code_at(B.build_bands(tl.view), "mp", int(row["mpn"])) == P.FREE


def test_kernel_pages_take_the_vm_colour_and_boot_zero_the_zero_tint(tl):
    i = first(tl, "BOOT_ZERO")
    row = tl.log[i]
    vm, g0, n = int(row["vm"]), int(row["gppn"]), int(row["aux"])
    tl.seek(i)
    before = B.build_bands(tl.view)
    assert code_at(before, "mp", 0) == P.HV                      # the first VM's overhead
    assert code_at(before, f"gp.{vm}", 0) == P.vm_code(vm)     # kernel image: not zero
    assert code_at(before, f"gp.{vm}", g0) == P.FREE
    tl.seek(i + 1)
    after = B.build_bands(tl.view)
    gp = next(b for b in after if b.key == f"gp.{vm}").codes.reshape(-1)
    assert (gp[g0:g0 + n] == P.vm_code(vm, zero=True)).all()
    assert P.colour(P.vm_code(vm, True)) != P.colour(P.vm_code(vm)) != P.colour(P.FREE)


def test_layout_is_stable_and_cells_are_where_they_say(tl):
    tl.seek(10)
    a = B.build_bands(tl.view)
    tl.seek(390)
    b = B.build_bands(tl.view)
    assert [(x.key, x.x, x.y, x.cols) for x in a] == [(x.key, x.x, x.y, x.cols) for x in b]
    mp = next(x for x in b if x.key == "mp")
    assert mp.count == tl.view.host.n_mpn and mp.cols * mp.rows >= mp.count
    assert mp.index_at(mp.x + 3.5, mp.y + 1.2) == mp.cols + 3
    assert mp.index_at(mp.x - 1, mp.y) is None
    # bands do not overlap
    rects = [(x.x, x.y, x.x + x.cols, x.y + x.rows) for x in b]
    for i, r in enumerate(rects):
        for s in rects[i + 1:]:
            assert r[2] <= s[0] or s[2] <= r[0] or r[3] <= s[1] or s[3] <= r[1]


def test_range_rects_cover_exactly_the_range():
    b = B.Band("mp", "mp", None, None, "t", 100, 10, 0, 0, np.zeros((10, 10), np.uint8))
    rects = b.range_rects(7, 34)
    assert sum(w * h for _, _, w, h in rects) == 27
    assert rects[0] == (7, 0, 3, 1) and rects[-1] == (0, 3, 4, 1)


def test_access_arrows_translate_through_every_layer(tl):
    i = first(tl, "ACCESS")
    tl.seek(i + 1)
    row = tl.log[i]
    arrows = row_arrows(row, tl.view)
    vm, proc = int(row["vm"]), int(row["proc"])
    assert [a.kind for a in arrows] == ["translate", "translate", "shortcut"]
    assert arrows[0].src == (f"gv.{vm}.{proc}", int(row["gvpn"]), int(row["gvpn"]) + 1)
    assert arrows[1].dst == ("mp", int(row["mpn"]), int(row["mpn"]) + 1)
    assert "refs" in arrows[2].label or arrows[2].label == "TLB hit"


def test_range_events_become_one_bundled_arrow_and_many_rows_are_bundled(tl):
    i = first(tl, "BOOT_ZERO")
    tl.seek(i + 1)
    bands = B.build_bands(tl.view)
    (a,) = event_arrows(tl.log.rows(i, i + 1), tl.view, bands)
    assert a.kind == "back" and a.count == int(tl.log[i]["aux"]) and a.src[2] - a.src[1] == a.count
    many = [Arrow("translate", ("mp", k % 4000, k % 4000 + 1), ("mp", k % 4000 + 1, k % 4000 + 2))
            for k in range(3 * BUNDLE_AT)]
    out = bundle(many, bands)
    assert len(out) <= 2 * REGIONS and sum(x.count for x in out) == len(many)


def test_flows_point_out_to_the_store_and_back_in():
    """Swap-like kinds are read from group and name: OUT goes to the store, IN comes back."""
    tl = Timeline(scenario.load("default"))
    tl.ensure(50)
    tl.seek(50)
    for name, inward in (("SWAP_OUT", False), ("SWAP_IN", True)):
        if name not in E.BY_NAME:
            pytest.fail(f"{name} is not a registered kind")
        row = E.make_rows(1, 0, E.BY_NAME[name].code, 0, gppn=5, mpn=9, slot=3)[0]
        (a,) = row_arrows(row, tl.view)
        assert a.kind == "swap" and a.flow
        store, page = ("vswp.0", 3, 4), ("mp", 9, 10)
        assert (a.src, a.dst) == ((store, page) if inward else (page, store))


def test_chain_and_describe(tl):
    tl.seek(390)
    vm = tl.view.vms[0]
    g = int(np.flatnonzero(vm.gp_state == 1)[0])
    m = int(vm.gp_loc[g])
    text = describe(tl.view, ("gp", 0, None, g), ["web01", "web02", "win01"])
    assert f"GPPN 0x{g:x}" in text and f"MPN 0x{m:x}" in text and "content:" in text
    ch = chain_arrows([("gp", 0, None, g), ("mp", None, None, m)])
    assert any(a.src == ("gp.0", g, g + 1) and a.dst == ("mp", m, m + 1) for a in ch)


@pytest.mark.parametrize("aspect", [0.6, 1.0, 1.4, 2.5])
def test_layout_follows_the_view_shape(tl, aspect):
    tl.seek(100)
    bands = B.build_bands(tl.view, aspect)
    x, y, w, h = B.scene_rect(bands)
    assert abs(np.log(w / h / aspect)) < 0.5
    assert all(isinstance(b.cols, int) and b.codes.shape == (b.rows, b.cols) for b in bands)


def test_sharing_joins_both_sharers_into_one_machine_page():
    t = Timeline(scenario.load("tps"))
    code = E.BY_NAME["TPS_SHARE"].code
    t.ensure(3000)
    i = next(i for i in range(len(t)) if t.log[i]["kind"] == code)
    t.seek(i + 1)
    shares = [a for a in row_arrows(t.log[i], t.view) if a.kind == "share"]
    assert len(shares) == 2 and shares[0].dst == shares[1].dst and shares[0].src != shares[1].src
    mpn = shares[0].dst[1]
    assert code_at(B.build_bands(t.view), "mp", mpn) == P.SHARED


def test_large_pages_are_outlined_groups():
    t = Timeline(scenario.load("largepages"))
    code = E.BY_NAME["LP_BACK"].code
    t.ensure(2000)
    i = next(i for i in range(len(t)) if t.log[i]["kind"] == code)
    t.seek(i + 1)
    mp = next(b for b in B.build_bands(t.view) if b.key == "mp")
    assert (int(t.log[i]["mpn"]), 512) in mp.outlines


def test_a_2k_compressed_page_fills_two_units_of_the_cache_band():
    t = Timeline(scenario.load("compression"))
    t.run_to_end()
    code = E.BY_NAME["ZIP"].code
    zips = [i for i in range(len(t)) if t.log[i]["kind"] == code]
    sizes = {}                                              # vm -> the slot sizes compressed so far
    for i in zips:                                          # the first moment a VM holds both sizes
        row = t.log[i]
        sizes.setdefault(int(row["vm"]), set()).add(1 if int(row["aux"]) <= 1024 else 2)
        if sizes[int(row["vm"])] == {1, 2}:
            break
    t.seek(i + 1)
    vm = t.view.vms[int(row["vm"])]
    zip_band = next(b for b in B.build_bands(t.view) if b.key == f"zip.{int(row['vm'])}")
    flat = zip_band.codes.reshape(-1)
    two = np.flatnonzero(vm.zip_size == 2)                  # first units of 2 KiB pages
    one = np.flatnonzero(vm.zip_size == 1)                  # pages that took one 1 KiB unit
    assert len(two) and (flat[two] == P.ZIP2).all() and (flat[two + 1] == P.ZIP2).all()
    assert len(one) and (flat[one] == P.ZIP).all()
    assert zip_band.count == len(vm.zip_size)               # sized by the cache's own array
    assert B.band_kib(zip_band) == 1


def test_a_large_page_break_is_a_split_of_its_2mb_range():
    t = Timeline(scenario.load("largepages"))
    t.run_to_end()                       # large pages are broken only below the 400% mark (t = 57)
    i = first(t, "LP_BREAK")
    t.seek(i + 1)
    arrows = row_arrows(t.log[i], t.view)
    assert [a.kind for a in arrows] == ["split"]
    key, lo, hi = arrows[0].src
    assert hi - lo == 512 and "4 KB" in arrows[0].label


def test_relayout_keeps_cells_and_drops_empty_stores(tl):
    tl.seek(300)
    bands = B.build_bands(tl.view, 2.5)
    again = B.relayout(bands, B.ASPECT)
    for a, b in zip(sorted(bands, key=lambda b: b.key), sorted(again, key=lambda b: b.key)):
        assert a.key == b.key and (a.codes.ravel()[:a.count] == b.codes.ravel()[:a.count]).all()
    lean = B.relayout(bands, B.ASPECT, empty_stores=False)
    kept = {b.key for b in lean}
    for b in bands:
        used = np.any((b.codes != P.FREE) & (b.codes != P.BG))
        assert (b.key in kept) == (not B.is_store(b) or used)
    one = B.reflow(next(b for b in bands if b.key == "mp"))
    assert one.cols & (one.cols - 1) == 0 and 1.2 < one.cols / one.rows < 5


def test_legend_names_only_what_is_shown():
    names = ("web01", "web02", "win01")
    full = [e[0] for e in P.legend_entries(names, "light")]
    some = [e[0] for e in P.legend_entries(names, "light", {P.vm_code(1), P.FREE, P.ZIP2}, outlines=False)]
    assert some == ["web02", "compressed to 2 KiB (two 1 KiB units)", "free / not backed"]
    assert set(some) < set(full) and "large page (2 MB)" in full


def test_a_step_of_many_events_bundles_as_its_rows_arrows_would():
    """The accesses and single backings of a step, bundled as arrays, give what bundling every
    row's own arrows gives."""
    t = Timeline(scenario.load("overcommit"))
    t.ensure(20000)
    k = t.log.rows(0, len(t))["kind"]
    back, access = E.BY_NAME["BACK"].code, E.BY_NAME["ACCESS"].code
    lo = next(i for i in range(0, len(t) - 600, 200)
              if {back, access} <= set(np.unique(k[i:i + 600]).tolist()))
    t.seek(lo + 600)
    rows = t.log.rows(lo, lo + 600)
    bands = B.build_bands(t.view)
    names = rows.dtype.names
    each = [a for r in rows.tolist() for a in row_arrows(dict(zip(names, r)), t.view)]
    assert len(each) < BUNDLE_AT
    assert sorted(map(repr, event_arrows(rows, t.view, bands))) == sorted(map(repr, bundle(each, bands)))


def _lab(hex_colour: str) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB colour."""
    rgb = np.array([int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)])
    rgb = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ rgb
    f = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(f > 0.008856, np.cbrt(f), 7.787 * f + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_a_reclaimed_page_never_looks_like_a_vm_s_page():
    """Every reclaimed state's colour (and shared) stands apart, by a CIE76 distance of 20 or
    more, from each of the first 8 VM hues, their pale zero-page tints, and each other, in both
    themes: guest-swapped was a tan 12.8 from the third VM's zero pages, so a Windows guest
    zeroing its memory at boot read as swapped out."""
    codes = P.NOTABLE + (P.SHARED,)
    for theme in ("dark", "light"):
        vms = [P.colour(P.vm_code(i, z), theme) for i in range(8) for z in (False, True)]
        for c in codes:
            mine = _lab(P.colour(c, theme))
            others = vms + [P.colour(o, theme) for o in codes if o != c]
            near = min(others, key=lambda o: np.linalg.norm(mine - _lab(o)))
            assert np.linalg.norm(mine - _lab(near)) >= 20, (theme, P.colour(c, theme), near)


def test_a_process_band_is_read_by_its_vms_name_when_either_holds_the_separator():
    """VM and process names may hold " / " (the separator of a process band's title): the
    process's name is read after its VM's, not split off the title."""
    from vmmemviz.scene.compare import ident
    vms = (("a / b", 64, (("c / d", 32), ("httpd", 16)), ()),)
    slots = B.layout(256, vms, 1.4)
    bands = [B.Band(s.key, s.layer, s.vm, s.proc, s.title, s.count, s.cols, s.x, s.y,
                    np.zeros((-(-s.count // s.cols), s.cols), np.uint8), owner=s.owner) for s in slots]
    gv = [b for b in bands if b.layer == "gv"]
    assert [b.title for b in gv] == ["a / b / c / d", "a / b / httpd"]
    assert [ident(b, ["a / b"]) for b in gv] == [("gv", "a / b", "c / d"), ("gv", "a / b", "httpd")]
    assert B._shape(bands, True)[2] == vms        # what relayout lays out again: the same names
    assert next(b for b in bands if b.layer == "mp").proc_name is None
