"""The model's fast paths compute what the plain way computes: rows copied as bytes, the hash
memo, an access that faults only the pages that need it while reclaiming spares every page it
touches, TPS's table matched once per distinct hash, and page bytes built without numpy's
per-page objects (the counters' own: test_counters_fast.py)."""
import numpy as np

from vmmemviz.model.config import scenario
from vmmemviz.model.core import content as C
from vmmemviz.model.core import events
from vmmemviz.model.core import host as H
from vmmemviz.model.core.events import EVENT_DTYPE, EventLog, concat_rows, take_rows
from vmmemviz.model.core.mechanism import Mechanism
from vmmemviz.model.core.simulator import Simulator
from vmmemviz.model.core.vm import MAPPED
from vmmemviz.model.guest import guestos, workload
from vmmemviz.model.reclaim import largepages, tps


def random_rows(rng, n):
    raw = rng.integers(0, 256, n * EVENT_DTYPE.itemsize, dtype=np.uint8)
    return raw.view(EVENT_DTYPE)


def test_rows_copied_as_bytes_equal_numpy_structured_copies():
    rng = np.random.default_rng(3)
    rows = random_rows(rng, 5000)
    idx = rng.integers(0, len(rows), 3000)
    assert take_rows(rows, idx).tobytes() == rows[idx].tobytes()
    assert take_rows(rows[::3], idx[idx < len(rows[::3])]).tobytes() == rows[::3][idx[idx < len(rows[::3])]].tobytes()
    parts = [rows[:10], rows[100:2000], rows[::7]]
    assert concat_rows(parts).tobytes() == np.concatenate(parts).tobytes()


def test_the_log_returns_every_row_appended_small_and_large_batches():
    rng = np.random.default_rng(4)
    log, batches = EventLog(), []
    for n in rng.integers(0, EventLog.BLOCK // 2, 12).tolist() + [EventLog.BLOCK // 4, 1, 0]:
        batches.append(random_rows(rng, n))
        log.append(batches[-1])
    want = np.concatenate(batches)
    assert len(log) == len(want)
    assert log.rows().tobytes() == want.tobytes()
    assert log.rows(777, 70000).tobytes() == want[777:70000].tobytes()


def test_the_hash_memo_gives_each_contents_hash_across_merges_and_clears():
    memo = tps.HashMemo(limit=9000)
    rng = np.random.default_rng(5)
    pool = np.unique(np.concatenate([C.unique_cid(C.TEXT, np.arange(1, 6000)), np.zeros(1, np.uint32),
                                     C.os_cid("linux", np.arange(50))]))
    for n in (10, 4500, 3000, 5000, 200):          # 4500: a merge into main; 5000 more: past the limit
        u = np.unique(rng.choice(pool, n))
        got = memo(u)
        assert got.tolist() == [tps.content_hash(int(c)) for c in u]
    assert len(memo.main[0]) + len(memo.recent[0]) <= 9000


def test_same_bytes_compares_bytes_only_of_different_contents():
    z = C.ZERO_CID
    a = C.unique_cid(C.TEXT, np.array([7, 7, 8]))
    assert tps.same_bytes([a[0], z, a[0], z], [a[1], z, a[2], a[0]]).tolist() == [True, True, False, False]
    assert tps.same_bytes([], []).tolist() == []


ONE_VM = """seed = 2
duration = 10
[host]
memory_mb = 64
[settings]
"Mem.AllocGuestLargePage" = 0
[[vm]]
name = "a"
memory_mb = 16
[[vm.process]]
name = "app"
size_mb = 1
"""


class Spy(Mechanism):
    """Records what a fault asks to reclaim, and frees that many hypervisor frames."""

    name = "spy"

    def __init__(self, sim, hv):
        super().__init__(sim)
        self.calls, self.hv = [], hv

    def make_room(self, vm, frames, keep):
        self.calls.append((frames, set(np.asarray(keep).tolist())))
        self.sim.state.host.release(self.hv[:frames])
        self.hv = self.hv[frames:]


def test_an_access_faults_only_what_needs_frames_and_reclaiming_spares_all_it_touches():
    sim = Simulator(scenario.parse(ONE_VM, "one vm"))
    sim.step_tick()
    vm, proc = sim.vms[0], sim.vms[0].procs[0]
    sim.alloc(vm, proc, 0, 64)
    gv = np.arange(64)
    sim.access(vm, proc, gv[:32], np.zeros(32, bool), np.zeros(32, np.uint32))
    host = sim.state.host
    hv = host.peek_free(host.free_count()).astype(np.int64)
    host.take(hv, H.HV, 0, events.NONE, 0)                 # the host is full
    spy = Spy(sim, hv)
    sim.mechanisms = [spy]
    n = len(sim.log)
    sim.access(vm, proc, gv[:32], np.zeros(32, bool), np.zeros(32, np.uint32))
    assert spy.calls == [] and set(sim.log.rows(n)["kind"].tolist()) == {events.BY_NAME["ACCESS"].code}
    batch = np.r_[gv[24:48], gv[30:34]]                  # 8 mapped, 16 untouched, repeats
    sim.access(vm, proc, batch, np.zeros(len(batch), bool), np.zeros(len(batch), np.uint32))
    assert spy.calls == [(16, set(proc.pt[batch].astype(np.int64).tolist()))]
    assert (vm.gp_state[proc.pt[gv[:48]].astype(np.int64)] == MAPPED).all()


def test_first_fit_finds_the_lowest_run_of_n_unmapped_pages():
    class Proc:
        pass
    rng = np.random.default_rng(6)
    p = Proc()
    for _ in range(400):
        p.pt_state = ((rng.random(int(rng.integers(1, 40))) < rng.random()) * rng.integers(1, 3)).astype(np.uint8)
        free = p.pt_state == 0
        for n in range(0, len(free) + 2):
            fits = [g for g in range(len(free) - n + 1) if n > 0 and free[g:g + n].all()]
            assert workload.first_fit(p, n) == (fits[0] if fits else None)


def test_aligned_free_groups_are_the_lowest_whole_free_2mb_runs():
    rng = np.random.default_rng(7)
    LP = H.LARGE_PAGES
    for _ in range(30):
        host = H.Host(LP * int(rng.integers(1, 200)) + int(rng.integers(0, LP)))
        busy = rng.random(host.n_mpn // LP) < rng.random()
        for g in np.flatnonzero(busy):
            host.mpn_state[g * LP + int(rng.integers(0, LP))] = H.PRIVATE
        whole = [g * LP for g in range(host.n_mpn // LP) if (host.mpn_state[g * LP:(g + 1) * LP] == H.FREE).all()]
        for k in (0, 1, 5, 70, 10 ** 6):
            assert largepages.aligned_free_groups(host, k).tolist() == whole[:k]


def test_in_large_pages_reads_the_frame_of_mapped_pages_only():
    class State:
        pass

    class VM:
        pass
    rng = np.random.default_rng(8)
    st, vm = State(), VM()
    st.host = H.Host(1 << 14)
    st.host.mpn_flags[:] = rng.integers(0, 4, st.host.n_mpn)
    vm.n = 5 * H.LARGE_PAGES + 100
    vm.gp_state = rng.integers(0, 6, vm.n).astype(np.uint8)
    vm.gp_loc = np.where(vm.gp_state == MAPPED, rng.integers(0, st.host.n_mpn, vm.n), events.NONE).astype(np.uint32)
    want = [bool(vm.gp_state[g] == MAPPED and st.host.mpn_flags[vm.gp_loc[g]] & H.LARGE)
            for g in range(5 * H.LARGE_PAGES)]
    assert largepages.in_large_pages(st, vm).tolist() == want


def test_allocated_gvpns_of_a_prefix_and_of_a_process_with_holes():
    rng = np.random.default_rng(9)
    proc = guestos.Process(0, "p", 64)
    assert proc.allocated().tolist() == [] and proc.held() == 0
    for _ in range(300):
        n = int(rng.integers(0, 65))
        proc.pt_state[:] = guestos.UNMAPPED
        proc.pt_state[:n] = rng.integers(1, 3, n)              # resident or paged out by the guest
        if rng.random() < 0.5:
            proc.pt_state[rng.integers(0, 64, 3)] = rng.integers(0, 3, 3)
        assert proc.allocated().tolist() == np.flatnonzero(proc.pt_state != guestos.UNMAPPED).tolist()
        assert proc.held() == len(proc.allocated())


def test_share_table_merge_places_entries_as_np_insert_does():
    rng = np.random.default_rng(10)
    for n_into, n_new in ((0, 5), (40, 0), (100, 60), (7, 300)):
        def entries(n):
            return {name: rng.integers(0, 30, n).astype(dt) for name, dt in tps.ShareTable.FIELDS}
        into = entries(n_into)
        order = np.argsort(into["key"], kind="stable")
        into = {k: v[order] for k, v in into.items()}
        new = entries(n_new)
        got = tps.ShareTable._merge(into, new)
        o = np.argsort(new["key"], kind="stable")
        pos = np.searchsorted(into["key"], new["key"][o], side="right")
        for name, _ in tps.ShareTable.FIELDS:
            assert got[name].tolist() == np.insert(into[name], pos, new[name][o]).tolist(), name


def plain_table_targets(kinv, large, nk, ek, main, sh, cand, selfq, valid):
    """Every (query, entry) pair of a hash, in the order the queries come: the main part's
    pairs, then the recent part's, each by query and then entry."""
    pairs = [(q, j) for part in (True, False) for q in range(len(kinv)) for j in range(len(ek))
             if main[j] == part and ek[j] == kinv[q]]
    self_ok = np.zeros(len(kinv), bool)
    t_sh, t_hi = np.full(nk, -1), np.full(nk, -1)
    for q, j in pairs:
        is_self = selfq[j] == q
        self_ok[q] |= bool(valid[j] and is_self)
        if cand[j] and not is_self and not large[q]:
            t = t_sh if sh[j] else t_hi
            if t[kinv[q]] < 0:
                t[kinv[q]] = j
    return self_ok, t_sh, t_hi


def test_table_targets_equal_those_of_every_query_entry_pair():
    rng = np.random.default_rng(11)
    for _ in range(3000):
        nk, n, ne = int(rng.integers(1, 5)), int(rng.integers(0, 10)), int(rng.integers(0, 14))
        kinv = rng.integers(0, nk, n)
        large = rng.random(n) < 0.3
        main = rng.random(ne) < 0.6
        ek = rng.integers(0, nk, ne)
        order = np.lexsort((ek, ~main))              # as lookup lists them: main first, by hash
        main, ek = main[order], ek[order]
        sh, cand, valid = (rng.random((3, ne)) < [[0.3], [0.7], [0.7]])
        selfq = np.full(ne, -1)
        for j in range(ne):
            mine = np.flatnonzero(kinv == ek[j])
            if len(mine) and rng.random() < 0.6 and not sh[j]:
                selfq[j] = rng.choice(mine)
        got = tps._table_targets(kinv, large, nk, ek, main, sh, cand, selfq, valid)
        want = plain_table_targets(kinv, large, nk, ek, main, sh, cand, selfq, valid)
        for a, b in zip(got, want):
            assert a.tolist() == b.tolist(), (kinv, large, ek, main, sh, cand, selfq, valid)


def test_random_page_bytes_are_a_generators_uint8_integers():
    seeds = np.r_[0, 1, 2, 977, np.random.default_rng(12).integers(0, C.UNIQUE_MASK, 60), C.UNIQUE_MASK]
    for cid in C.unique_cid(C.RANDOM, seeds).tolist():
        want = np.random.default_rng(cid).integers(0, 256, C.PAGE_SIZE, dtype=np.uint8).tobytes()
        assert C.build_page_bytes(cid) == want


def plain_page_bytes(cid: int) -> bytes:
    """A corpus page's bytes as content.page_bytes built them with numpy."""
    cls, src = cid >> C.CLASS_SHIFT, (cid >> C.OS_INDEX_BITS) & 63
    pages = C.corpus()["os" if cls == C.OS and src != C.OS_KINDS.index("app") else "text"]
    index = cid & (C.UNIQUE_MASK if cls == C.TEXT else (1 << C.OS_INDEX_BITS) - 1)
    if cls == C.OS and src == 0 and index < len(pages):
        return pages[index].tobytes()
    page = pages[(index * 2654435761) % len(pages)].copy()
    page[:8] = np.frombuffer(np.uint64(cid | (1 << 63)).tobytes(), np.uint8)
    return page.tobytes()


def test_corpus_page_bytes_built_in_python_equal_numpys():
    n_os = len(C.corpus()["os"])
    cids = np.r_[C.os_cid("linux", [0, 5, n_os - 1, n_os, n_os + 77]), C.os_cid("windows", [0, 3]),
                 C.app_cid("web", [0, 9]), C.unique_cid(C.TEXT, [1, 2, C.UNIQUE_MASK]),
                 np.uint32(C.OS << C.CLASS_SHIFT | 7 << C.OS_INDEX_BITS | 3)]
    for c in cids.tolist():
        assert C.build_page_bytes(c) == plain_page_bytes(c), hex(c)


def test_self_query_is_the_query_of_the_entrys_own_page_and_hash():
    rng = np.random.default_rng(13)
    for _ in range(500):
        n, ne, nk = int(rng.integers(0, 12)), int(rng.integers(0, 12)), int(rng.integers(1, 4))
        g = rng.choice(40, n, replace=False)                  # a batch's GPPNs are distinct
        kinv, ek = rng.integers(0, nk, n), rng.integers(0, nk, ne)
        own = rng.random(ne) < 0.7
        ref = np.where(rng.random(ne) < 0.6, g[rng.integers(0, max(n, 1), ne)] if n else 0, rng.integers(0, 40, ne))
        want = [next((q for q in range(n) if own[j] and g[q] == ref[j] and kinv[q] == ek[j]), -1) for j in range(ne)]
        assert tps._self_query(g, kinv, ek, own, ref).tolist() == want
