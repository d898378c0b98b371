"""The picture's work in two shares (scene/parallel.py) and the chunked scan both the badges
and the overview use (bands.where_in)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vmmemviz.scene import bands as B
from vmmemviz.scene import parallel


def test_shares_cover_every_item_once_and_balance_their_sizes():
    items = list(range(1, 40))
    shares = parallel.balanced(items, lambda i: i * i)
    assert sorted(i for s in shares for i in s) == items
    loads = [sum(i * i for i in s) for s in shares]
    assert max(loads) - min(loads) <= 39 * 39          # greedy, biggest first: within one item
    halves = parallel.halves(items)
    assert [i for s in halves for i in s] == items and abs(len(halves[0]) - len(halves[1])) <= 1


def test_a_share_that_raises_still_waits_for_the_others():
    done = threading.Event()

    def work(share):
        if share == "here":
            raise ValueError("bad share")
        time.sleep(0.2)
        done.set()
        return share

    with pytest.raises(ValueError, match="bad share"):
        parallel.run(work, ["here", "there"])
    assert done.is_set()            # the pool's share finished before run returned
    assert parallel.run(lambda s: s * 2, [1, 2]) == [2, 4]


@pytest.mark.parametrize("first,span", [(0, 0), (5, 5), (7, 0), (250, 5)])
def test_where_in_finds_the_values_of_a_run_across_chunk_boundaries(first, span):
    rng = np.random.default_rng(first)
    values = rng.integers(0, 256, 10_000).astype(np.uint8)
    values[rng.integers(0, len(values), 50)] = first             # some in the run, some alone
    values[:3000] = 255 if first == 0 else 0                     # chunks without any
    want = np.flatnonzero((values >= first) & (values <= first + span))
    got = B.where_in(values, first, span, chunk=1024)
    assert got.tolist() == want.tolist() and len(want)
    assert B.where_in(values[:3000], 1, 0, chunk=1024).tolist() == np.flatnonzero(values[:3000] == 1).tolist()
