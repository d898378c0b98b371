"""Page content from real memory (resources/corpus, tools/make_corpus.py): LZ4 sizes and the
duplicate structure come from real Linux guest pages. Sources: ESXI-FACTS.md "Memory
compression" (real LZ4 on real page bytes; 1 KiB slot below 25%, kept below 50%) and
Waldspurger 2002 (identical VMs share their OS image and application pages)."""
import lz4.block
import numpy as np

from vmmemviz.assets import asset
from vmmemviz.model.core import content as C


def lz4_sizes(cids) -> np.ndarray:
    return np.array([len(lz4.block.compress(C.page_bytes(int(c)), store_size=False)) for c in cids])


def test_corpus_is_compact_real_and_deterministic():
    path = asset("corpus", "linux-guest-pages.npz")
    assert path.stat().st_size < 3_000_000
    corpus = C.corpus()
    assert corpus["os"].shape[1] == corpus["text"].shape[1] == C.PAGE_SIZE
    assert len(corpus["os"]) >= 256 and len(corpus["text"]) >= 256
    for cls in ("os", "text"):                          # distinct, non-zero pages
        pages = corpus[cls]
        assert pages.any(axis=1).all()
        assert len({p.tobytes() for p in pages}) == len(pages)
    # Linux OS page i is corpus page i, byte for byte
    assert C.page_bytes(int(C.os_cid("linux", 5))) == corpus["os"][5].tobytes()


def test_text_pages_compress_like_real_private_memory():
    """Real kernel heap / data pages: a good part fits a 1 KiB slot, nearly all are kept (<= 2 KiB)."""
    s = lz4_sizes(C.unique_cid(C.TEXT, np.arange(1, 1001)))
    assert 0.25 <= np.mean(s <= 1024) <= 0.6
    assert np.mean(s <= 2048) >= 0.85
    os_s = lz4_sizes(C.os_cid("linux", np.arange(0, 500)))
    assert np.median(os_s) > 2048                      # kernel code compresses poorly under LZ4


def test_every_cid_has_its_own_bytes_except_where_content_is_identical():
    cids = np.concatenate([C.os_cid("linux", np.arange(0, 1200)), C.os_cid("windows", np.arange(0, 600)),
                           C.unique_cid(C.TEXT, np.arange(1, 1200)), C.app_cid("spec95", np.arange(0, 600)),
                           C.app_cid("httpd", np.arange(0, 600))])
    assert len({C.page_bytes(int(c)) for c in cids}) == len(cids)


def test_application_images_are_identical_across_vms_running_them():
    """Two VMs running an application of the same name write the same bytes to the same GVPN
    of its image; another application's image differs."""
    from vmmemviz.model.config import scenario
    from vmmemviz.model.core.simulator import Simulator
    vm = """
[[vm]]
name = "{name}"
memory_mb = 1
[[vm.process]]
name = "{app}"
size_mb = 0.5
start_mb = 0.5
[[vm.process.step]]
at = 1
op = "write"
pages = "0x0-0x1f"
content = "app"
"""
    text = "[host]\nmemory_mb = 8\n" + "".join(vm.format(name=n, app=a) for n, a in
                                                (("a", "spec95"), ("b", "spec95"), ("c", "gcc")))
    sim = Simulator(scenario.parse(text, "app.toml"))
    sim.run(2)
    held = [sim.state.host.mpn_content[v.gp_loc[v.procs[0].pt[:32]]] for v in sim.vms]
    assert (held[0] == held[1]).all() and not (held[0] == held[2]).any()
    assert all(C.content_class(int(c)) == C.OS for c in held[0])
