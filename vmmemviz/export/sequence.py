"""A range of events as an animation: numbered PNGs, animated GIF or APNG.

Each step from position k-1 to k is shown as the view's transition animation (frames at
progress 1/(t+1) .. t/(t+1), t = fps x TRANSITION_S - 1) and then the settled picture
(progress 1), held HOLD_S seconds. The first position of the range is shown settled only.
So a range of n positions gives n + (n - 1) x t frames.

Frames are rendered lazily, one at a time, by a caller-supplied function; a progress
callback is told after each frame and once more when the file is complete (frames + 1
units), and cancels the export by returning False, up to the last moment. Pillow
encodes GIF and APNG; every output is written atomically (``outputfile.py``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

from ..errors import InputError
from ..outputfile import atomic_dir, atomic_file
from .render import png_bytes

TRANSITION_S = 0.4           # length of one event's transition animation
HOLD_S = 1.0                 # how long the settled picture of each step stays
FPS_RANGE = (1, 50)          # GIF delays are in 1/100 s; browsers clamp below 20 ms
MEMORY_BUDGET = 1536 << 20   # Pillow keeps every GIF/APNG frame until it writes the file
FORMATS = ("png", "gif", "apng")
FRAME_FILE = re.compile(r"frame-\d+\.png|frames\.ffconcat")


class Cancelled(Exception):
    """The progress callback asked to stop; nothing was written."""


@dataclass(frozen=True)
class Shot:
    pos: int          # timeline position (events applied)
    progress: float   # point of the transition into ``pos`` (1 = settled)
    ms: int           # how long the frame is shown


def plan(start: int, end: int, fps: float) -> list[Shot]:
    """Frames for positions ``start``..``end`` (inclusive) at ``fps`` frames a second."""
    if not FPS_RANGE[0] <= fps <= FPS_RANGE[1]:
        raise InputError(f"--fps: expected {FPS_RANGE[0]} to {FPS_RANGE[1]} frames a second, got {fps:g}")
    if not 0 <= start <= end:
        raise InputError(f"--range: expected A:B with 0 <= A <= B, got {start}:{end}")
    t = max(0, round(fps * TRANSITION_S) - 1)
    step_ms = round(1000 / fps)
    shots = [Shot(start, 1.0, round(HOLD_S * 1000))]
    for pos in range(start + 1, end + 1):
        shots += [Shot(pos, i / (t + 1), step_ms) for i in range(1, t + 1)]
        shots.append(Shot(pos, 1.0, round(HOLD_S * 1000)))
    return shots


def check_memory(fmt: str, frames: int, width: int, height: int) -> None:
    """Refuse an animation Pillow could not hold in memory, with what to change."""
    per_pixel = {"gif": 1, "apng": 4}.get(fmt, 0)
    need = frames * width * height * per_pixel
    if need > MEMORY_BUDGET:
        raise InputError(f"{fmt}: {frames} frames of {width}x{height} need about {need >> 20} MB to encode "
                         f"(at most {MEMORY_BUDGET >> 20}): export fewer events, fewer frames a second or a smaller size")


def _frames(shots, render, progress):
    """Render every shot, telling ``progress(done, total)``; False from it cancels. The total
    counts one more unit, the encoding, reported when the file is complete."""
    total = len(shots) + 1
    for i, shot in enumerate(shots):
        yield render(shot)
        if progress is not None and progress(i + 1, total) is False:
            raise Cancelled()


def _finished(shots, progress) -> None:
    """Last chance to cancel: the temp file is complete but not yet renamed."""
    if progress is not None and progress(len(shots) + 1, len(shots) + 1) is False:
        raise Cancelled()


def gif_palette(exact, sample: Image.Image) -> list:
    """Up to 255 RGB colours: ``exact`` (hex, kept as they are so the legend's colours stay true),
    ramps from the first to the others (antialiased text and lines), then the sample's
    most used other colours. Index 255 is left for transparency."""
    rgb = [tuple(int(h.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)) for h in exact]
    cols = list(dict.fromkeys(rgb))
    base = rgb[0] if rgb else (255, 255, 255)
    for c in rgb[1:]:
        cols += [tuple(round(b + (x - b) * k / 6) for b, x in zip(base, c)) for k in range(1, 6)]
    cols = list(dict.fromkeys(cols))[:200]
    seen = set(cols)
    for _, c in sorted(sample.convert("RGB").getcolors(1 << 24) or [], reverse=True):
        if len(cols) >= 255:
            break
        if c not in seen:
            cols.append(c)
            seen.add(c)
    return cols


class _Quantizer:
    """Frames onto one fixed palette without dithering, so flat cells stay flat: Pillow maps
    each colour to a near entry, then the palette's own colours are set to their exact
    entry (Pillow's search is approximate) so the legend's colours stay true."""

    def __init__(self, palette: list):
        cols = list(dict.fromkeys(palette))[:255]           # index 255: transparency
        self.rgb = np.array(cols, np.uint8)
        self.image = Image.new("P", (1, 1))
        self.image.putpalette(self.rgb.tobytes())
        keys = _packed(self.rgb)
        self.order = np.argsort(keys)
        self.keys = keys[self.order]

    def __call__(self, im: Image.Image, transparent: bool) -> Image.Image:
        rgb_im = im.convert("RGB")
        idx = np.array(rgb_im.quantize(palette=self.image, dither=Image.Dither.NONE))
        keys = _packed(np.asarray(rgb_im))
        at = np.searchsorted(self.keys, keys).clip(0, len(self.keys) - 1)
        exact = self.keys[at] == keys
        idx[exact] = self.order[at[exact]]
        if transparent:
            idx[np.asarray(im.getchannel("A")) < 128] = 255
        p = Image.fromarray(idx, "P")
        p.putpalette(self.rgb.tobytes() + bytes(3 * (256 - len(self.rgb))))
        if transparent:
            p.info["transparency"] = 255
        return p


def _packed(rgb: np.ndarray) -> np.ndarray:
    """0xRRGGBB of each colour of an (..., 3) uint8 array."""
    rgb = rgb.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _pil(qimage, transparent: bool) -> Image.Image:
    img = qimage.convertToFormat(QImage.Format_RGBA8888)
    pil = Image.frombuffer("RGBA", (img.width(), img.height()), bytes(img.constBits()),
                           "raw", "RGBA", img.bytesPerLine(), 1)
    return pil if transparent else pil.convert("RGB")


def _check_replaceable(folder: Path) -> None:
    """A frames folder replaces an older one whole; never a folder holding anything else."""
    if folder.exists():
        other = [p.name for p in folder.iterdir() if not FRAME_FILE.fullmatch(p.name)] if folder.is_dir() else [""]
        if other:
            raise InputError(f"{folder}: exists and holds other files ({', '.join(other[:3])}); "
                             f"choose a new folder for the frames")


def write(path, fmt: str, shots: list[Shot], render, transparent: bool = False, progress=None,
          colours=()) -> None:
    """Render ``shots`` with ``render(shot) -> QImage`` and write them to ``path``.

    ``colours`` (hex, background first) are kept exact in a GIF's one palette.
    ``png`` writes a folder of numbered PNGs (``frame-0001.png`` ...) and ``frames.ffconcat``
    (their durations, for ``ffmpeg -f concat -i frames.ffconcat``); ``gif`` and ``apng``
    write one animated file that loops forever.
    """
    if fmt not in FORMATS:
        raise InputError(f"{fmt}: expected one of {', '.join(FORMATS)}")
    frames = _frames(shots, render, progress)
    if fmt == "png":
        _check_replaceable(Path(path))
        width = max(4, len(str(len(shots))))
        with atomic_dir(path) as folder:
            lines = ["ffconcat version 1.0"]
            for i, (shot, img) in enumerate(zip(shots, frames), 1):
                name = f"frame-{i:0{width}d}.png"
                (folder / name).write_bytes(png_bytes(img))
                lines += [f"file '{name}'", f"duration {shot.ms / 1000:g}"]
            (folder / "frames.ffconcat").write_text("\n".join(lines) + "\n")
            _finished(shots, progress)
        return
    pil = (_pil(img, transparent) for img in frames)
    first = next(pil)
    durations = [s.ms for s in shots]
    with atomic_file(path) as tmp:
        if fmt == "gif":
            quantize = _Quantizer(gif_palette(colours, first))
            frames = (quantize(im, transparent) for im in pil)
            quantize(first, transparent).save(
                tmp, "GIF", save_all=True, append_images=frames, duration=durations, loop=0,
                disposal=2 if transparent else 1, optimize=False)
        else:   # Pillow walks an APNG's frames twice (modes, then data): it needs a list
            first.save(tmp, "PNG", save_all=True, append_images=list(pil), duration=durations, loop=0,
                       default_image=False)
        _finished(shots, progress)
