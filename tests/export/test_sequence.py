"""Animations: frame plan, GIF / APNG / numbered PNGs, cancel and errors leave nothing."""
import os

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor

from vmmemviz.errors import InputError
from vmmemviz.export import render, sequence


class Grid:
    """A stand-in body: one cell per event position, filled up to the shown position."""

    def __init__(self):
        self.pos, self.progress = 0, 1.0

    def aspect(self, band_key=None):
        return 2.0

    def header(self, band_key=None):
        return 0.0

    def render_to(self, painter, rect, band_key=None):
        for i in range(8):
            c = QColor("#0072B2") if i < self.pos else QColor("#4A515C")
            painter.fillRect(QRectF(rect.left() + i * 20, rect.top(), 18, 18 * (self.progress if i == self.pos - 1 else 1)), c)


def renderer(opts, start, end):
    body = Grid()
    page = render.layout(opts, body.aspect(), footer=render.Footer("", 0))

    def render_shot(shot):
        body.pos, body.progress = shot.pos, shot.progress
        frac = (shot.pos - 1 + shot.progress - start) / (end - start)
        return render.image(opts, page, body, None, "", render.Footer(f"event {shot.pos}", frac))
    return render_shot


OPTS = render.FigureOptions(size=(240, 120))


def test_plan_counts_steps_and_transitions():
    shots = sequence.plan(2, 5, fps=10)          # 0.4 s transitions at 10 fps: 3 between-frames
    assert len(shots) == 4 + 3 * 3
    assert [s.pos for s in shots if s.progress == 1.0] == [2, 3, 4, 5]
    assert shots[1].progress == pytest.approx(0.25) and shots[1].ms == 100
    assert len(sequence.plan(0, 3, fps=2)) == 4     # too slow for transitions: steps only
    with pytest.raises(InputError):
        sequence.plan(0, 3, fps=0)


@pytest.mark.parametrize("fmt", ["gif", "apng"])
def test_animation_has_one_frame_per_step_plus_transitions(tmp_path, qapp, fmt):
    out = tmp_path / f"a.{'png' if fmt == 'apng' else fmt}"
    shots = sequence.plan(0, 4, fps=10)
    sequence.write(out, fmt, shots, renderer(OPTS, 0, 4))
    with Image.open(out) as im:
        assert im.n_frames == len(shots) == 5 + 4 * 3
        assert im.size == (240, 120)
        if fmt == "apng":
            assert im.format == "PNG" and im.is_animated
    assert os.listdir(tmp_path) == [out.name]


def test_numbered_pngs_with_durations(tmp_path, qapp):
    out = tmp_path / "frames"
    shots = sequence.plan(1, 3, fps=5)
    sequence.write(out, "png", shots, renderer(OPTS, 1, 3))
    files = sorted(os.listdir(out))
    assert files == [f"frame-{i:04d}.png" for i in range(1, len(shots) + 1)] + ["frames.ffconcat"]
    with Image.open(out / files[0]) as im:
        assert im.size == (240, 120)
    concat = (out / "frames.ffconcat").read_text().splitlines()
    assert concat[0] == "ffconcat version 1.0" and concat[1:3] == ["file 'frame-0001.png'", "duration 1"]


@pytest.mark.parametrize("fmt", ["gif", "apng", "png"])
def test_cancel_leaves_no_file(tmp_path, qapp, fmt):
    calls = []

    def progress(done, total):
        calls.append(done)
        return done < 3

    with pytest.raises(sequence.Cancelled):
        sequence.write(tmp_path / "out", fmt, sequence.plan(0, 4, 10), renderer(OPTS, 0, 4), progress=progress)
    assert calls == [1, 2, 3]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fmt", ["apng", "png"])
def test_cancel_when_the_file_is_complete_still_leaves_nothing(tmp_path, qapp, fmt):
    shots = sequence.plan(0, 2, 5)
    seen = []

    def progress(done, total):
        seen.append((done, total))
        return done < total

    with pytest.raises(sequence.Cancelled):
        sequence.write(tmp_path / "out", fmt, shots, renderer(OPTS, 0, 2), progress=progress)
    assert seen[-1] == (len(shots) + 1, len(shots) + 1)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fmt", ["gif", "png"])
def test_error_mid_way_leaves_no_file_and_keeps_the_old_one(tmp_path, qapp, fmt):
    out = tmp_path / "out"
    (out.mkdir() if fmt == "png" else out.write_bytes(b"old"))
    good = renderer(OPTS, 0, 4)

    def failing(shot):
        if shot.pos == 3:
            raise RuntimeError("renderer broke")
        return good(shot)

    with pytest.raises(RuntimeError):
        sequence.write(out, fmt, sequence.plan(0, 4, 10), failing)
    assert os.listdir(tmp_path) == ["out"]
    assert (os.listdir(out) == []) if fmt == "png" else out.read_bytes() == b"old"


def test_memory_guard_names_what_to_change():
    with pytest.raises(InputError, match="fewer events"):
        sequence.check_memory("apng", 2000, 1280, 800)
    sequence.check_memory("gif", 100, 1280, 800)


def test_transparent_gif_keeps_a_clear_background_and_exact_colours(tmp_path, qapp):
    out = tmp_path / "t.gif"
    opts = render.FigureOptions(size=(240, 120), transparent=True)
    sequence.write(out, "gif", sequence.plan(0, 2, 5), renderer(opts, 0, 2), transparent=True,
                   colours=render.figure_colours("light"))
    with Image.open(out) as im:
        assert im.info["transparency"] == 255
        rgba = im.convert("RGBA")
        assert rgba.getpixel((1, 1))[3] == 0                        # the margin is clear
        assert rgba.getpixel((16 + 5, 16 + 9)) == (0x4A, 0x51, 0x5C, 255)     # a cell, its exact colour


def test_frames_never_replace_a_folder_holding_other_files(tmp_path, qapp):
    out = tmp_path / "docs"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match="holds other files"):
        sequence.write(out, "png", sequence.plan(0, 1, 2), renderer(OPTS, 0, 1))
    assert (out / "thesis.tex").read_text() == "precious" and os.listdir(tmp_path) == ["docs"]
    frames = tmp_path / "frames"
    for _ in range(2):                      # a folder of earlier frames is replaced
        sequence.write(frames, "png", sequence.plan(0, 1, 2), renderer(OPTS, 0, 1))
    assert sorted(os.listdir(frames)) == ["frame-0001.png", "frame-0002.png", "frames.ffconcat"]


def test_gif_quantizer_keeps_exact_colours_even_one_step_apart():
    """Pillow's palette search is approximate; the palette's own colours must still be exact."""
    cols = [(0xF7, 0xF7, 0xF5), (0x4A, 0x51, 0x5C), (0x4B, 0x51, 0x5C), (0, 0, 0), (10, 10, 10)]
    cols += [((37 * i) % 256, (91 * i) % 256, (53 * i) % 256) for i in range(1, 200)]
    q = sequence._Quantizer(cols)
    exact = list(dict.fromkeys(cols))
    row = np.array([exact], np.uint8)
    out = q(Image.fromarray(row, "RGB").convert("RGBA"), transparent=False)
    assert list(np.asarray(out)[0]) == list(range(len(exact)))
    near = q(Image.fromarray(np.array([[(0x4C, 0x52, 0x5C)]], np.uint8), "RGB"), transparent=False)
    assert np.asarray(near)[0, 0] < len(exact)             # an antialiased colour: some entry, not 255
