"""The worker serves its user between the parts of a tick: a host-scale tick takes seconds, and a
seek must not wait for it."""
from vmmemviz.assets import asset
from vmmemviz.engine import worker as W
from vmmemviz.model.config import scenario
from vmmemviz.model.config.scale import scaled


def test_a_seek_posted_mid_tick_gets_its_frame_before_the_tick_ends(qtbot, monkeypatch):
    """The datacenter's 64 VMs make a tick of more than 64 parts; with no time to spare the worker
    runs one part per timer tick, so the tick is long however fast the machine is. The worker
    lives in this thread: what it does between parts is deterministic."""
    monkeypatch.setattr(W, "SLICE_S", 0.0)
    sc = scenario.parse(scaled(asset("scenarios/datacenter.toml").read_text(), 512), "datacenter/512")
    w = W.SimWorker(sc)
    frames, parts = [], []
    w.frameReady.connect(lambda f: frames.append((f.pos, w.timeline.sim.now, len(parts))))
    w.start()
    try:
        qtbot.waitUntil(lambda: bool(frames), timeout=10000)
        tl = w.timeline
        assert frames[0][0] == 0
        run_part = tl.advance_for

        def part(seconds):
            parts.append(tl.sim.now)
            n = run_part(seconds)
            if len(parts) == 1 and tl.sim.now == 0:      # tick 0 began: its first part ran
                w.seek(n)
            return n

        monkeypatch.setattr(tl, "advance_for", part)
        qtbot.waitUntil(lambda: len(frames) > 1, timeout=10000)
        pos, tick, after_parts = frames[1]
        assert pos > 0 and tick == 0             # the tick had not ended ...
        assert after_parts <= 2                  # ... and the seek waited one part at most
        assert not tl.finished()
        qtbot.waitUntil(lambda: tl.sim.now == 1, timeout=20000)
        assert sum(1 for t in parts if t == 0) > 64     # the tick ran on in parts after it
    finally:
        w.stop()


def test_a_seek_while_playing_gets_the_counters_of_its_position(monkeypatch):
    """Counters are passed on only to frames that play forward from them: a seek back must not
    show the counters of a later event."""
    monkeypatch.setattr(W, "COUNTERS_EVERY_S", 1e9)
    w = W.SimWorker(scenario.load("default"))
    frames = []
    w.frameReady.connect(frames.append)
    w._serve()                                   # load
    w.timeline.ensure(2000)
    w.playing = True
    w._serve_cmds({"seek": 1000})
    assert frames[-1].counters_pos == 1000
    w._emit_frame(1001, 1000)
    assert frames[-1].counters_pos == 1000       # played forward: passed on
    w._serve_cmds({"seek": 200})
    assert frames[-1].pos == 200 and frames[-1].counters_pos == 200


def test_at_host_scale_a_seek_s_picture_goes_first_and_its_counters_follow(monkeypatch):
    """On a host of SPLIT_PAGES or more (the counters pass costs as much as the picture), a seek
    is sent with the counters the window had, and once the window has painted it, the same
    picture again with the position's own counters."""
    monkeypatch.setattr(W, "SPLIT_PAGES", 0)           # every host counts as large
    w = W.SimWorker(scenario.load("default"))
    frames = []
    w.frameReady.connect(frames.append)
    w._serve()                                         # load: the frame at 0, counted
    w.timeline.ensure(2000)
    w._serve_cmds({"seek": 1000})
    first = frames[-1]
    assert first.pos == 1000 and first.counters_pos == 0
    w._play()                                          # not painted yet: nothing more
    assert frames[-1] is first
    w.ack()
    w._play()
    own = frames[-1]
    assert own.pos == 1000 and own.counters_pos == 1000
    assert own.counters == w.timeline.counters()
    assert all(a.codes is b.codes for a, b in zip(own.bands, first.bands))   # the same picture
    w.ack()
    w._play()
    assert frames[-1] is own                           # and no more
    monkeypatch.setattr(W, "SPLIT_PAGES", 1 << 22)     # a small host: one frame, its own counters
    w._serve_cmds({"seek": 500})
    assert frames[-1].pos == 500 and frames[-1].counters_pos == 500


def test_a_recount_that_fails_is_said_once_not_every_timer_tick(monkeypatch):
    """The counters of a picture sent first are computed again once; if that fails the window
    hears it once, and the worker does not try again at every timer tick."""
    monkeypatch.setattr(W, "SPLIT_PAGES", 0)
    w = W.SimWorker(scenario.load("default"))
    frames, failed = [], []
    w.frameReady.connect(frames.append)
    w.failed.connect(failed.append)
    w._serve()
    w.timeline.ensure(2000)
    w._serve_cmds({"seek": 1000})
    assert frames[-1].counters_pos == 0
    monkeypatch.setattr(w.timeline, "counters", lambda: 1 / 0)
    for _ in range(5):
        w.ack()
        w._play()
    assert len(failed) == 1 and "ZeroDivisionError" in failed[0]
    monkeypatch.undo()
    monkeypatch.setattr(W, "SPLIT_PAGES", 0)
    w._serve_cmds({"seek": 1200})                       # a new move: its counters follow again
    w.ack()
    w._play()
    assert frames[-1].pos == 1200 and frames[-1].counters_pos == 1200


def test_the_timeline_summary_is_sent_again_only_when_the_log_changed(monkeypatch):
    """The timeline bar's summary reads every row (18 ms at host scale, a click waits for it):
    twice a second while the log grows, not while it stays as it is."""
    w = W.SimWorker(scenario.load("tps"))
    sent = []
    w.timelineChanged.connect(sent.append)
    clock = [1000.0]
    monkeypatch.setattr(W.time, "monotonic", lambda: clock[0])
    w._serve()                                         # load: a summary
    w.timeline.run_to_end()
    for _ in range(4):                                 # the log grew: one summary, not one a tick
        clock[0] += 0.6
        w._play()
    assert len(sent) == 2 and sent[-1]["total"] == len(w.timeline) and sent[-1]["finished"]
    clock[0] += 0.1
    w._serve_cmds({"seek": 10})                        # a move that leaves the log alone: none
    w.ack()
    w._play()
    assert len(sent) == 2


def test_speed_and_play_reach_the_worker_as_commands(qtbot):
    """The window wrote the worker's speed, rate and playing from its own thread and read its
    rate back: now they are posted and served in the worker's thread (this one here, so what
    happens before the event loop runs is deterministic), and the frames carry the rate."""
    w = W.SimWorker(scenario.load("translation"))
    frames = []

    def shown(f):                   # as the window does once it has painted a frame
        frames.append(f)
        w.ack()
    w.frameReady.connect(shown)
    w.start()
    try:
        qtbot.waitUntil(lambda: bool(frames), timeout=10000)
        w.set_speed(8)
        w.set_playing(True)
        assert (w.speed, w.playing) == (W.AUTO, False)        # nothing written from the caller
        qtbot.waitUntil(lambda: (w.speed, w.playing) == (8, True), timeout=5000)
        qtbot.waitUntil(lambda: frames[-1].rate == 8 and frames[-1].pos > 0, timeout=5000)
    finally:
        w.stop()
