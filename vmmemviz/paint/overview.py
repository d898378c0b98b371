"""The whole picture's grids downsampled, for the zoomed-out view and the minimap: one RGB32
pixel per ``step`` x ``step`` cells, the colour of the cell at the block's top-left corner
(as a band's grid samples its cells when they are smaller than a pixel).

Kept between frames: a frame built from the last one (``Frame.changes``: the cells that
changed, per band) updates only the pixels those cells are sampled at; anything else (a new
layout, step, theme, or a frame from scratch) samples every band again.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore, QtGui

from ..scene import bands as B
from ..scene import palette as P


class Overview:
    def __init__(self):
        self.key = None          # (layout, step, theme) the pixels are for
        self.pos = None          # the frame position they show
        self.px = None           # (h, w) uint32
        self.img = None
        self.origin = (0.0, 0.0)

    def follow(self, bands, changes, base, pos) -> None:
        """A new frame: its changes since ``base`` when the pixels show ``base``, else start again
        at the next paint."""
        if self.key is None or changes is None or base != self.pos or self.key[0] != _layout(bands):
            self.key = None
            return
        step, lut = self.key[1], P.lut32(self.key[2])
        for b in bands:
            if b.key not in changes:
                continue
            idx = changes[b.key]
            if idx is None:
                self._place(b, step, lut)
                continue
            r0, c0, i0, j0 = self._phase(b, step)
            r, c = np.divmod(idx, b.cols)
            keep = (r >= r0) & (c >= c0) & ((r - r0) % step == 0) & ((c - c0) % step == 0)
            i, j = i0 + (r[keep] - r0) // step, j0 + (c[keep] - c0) // step
            ok = (i < self.px.shape[0]) & (j < self.px.shape[1])
            self.px[i[ok], j[ok]] = lut[b.codes.reshape(-1)[idx[keep][ok]]]
        self.img = self._wrap()          # a new image: Qt may cache one it has drawn
        self.pos = pos

    def image(self, bands, step: int, theme: str, pos) -> QtGui.QImage:
        """The pixels for ``bands`` at ``step`` cells a pixel (sampled again if out of date)."""
        key = (_layout(bands), step, theme)
        if key != self.key:
            self.px = self._sampled(bands, step, theme)
            self.img = self._wrap()
            self.key, self.pos = key, pos
        return self.img

    def _sampled(self, bands, step: int, theme: str) -> np.ndarray:
        """Every band sampled again."""
        x, y, w, h = B.scene_rect(bands)
        self.origin = (x, y)
        self.px = np.full((math.ceil(h / step), math.ceil(w / step)), P.lut32(theme)[P.BG], np.uint32)
        for b in bands:
            self._place(b, step, P.lut32(theme))
        return self.px

    def paint(self, painter: QtGui.QPainter, bands, step: int, theme: str, pos) -> None:
        """Draw the picture's grids in scene coordinates."""
        img = self.image(bands, step, theme, pos)
        painter.save()
        painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QtCore.QRectF(self.origin[0], self.origin[1], img.width() * step, img.height() * step), img)
        painter.restore()

    def _wrap(self) -> QtGui.QImage:
        h, w = self.px.shape
        return QtGui.QImage(self.px.data, w, h, 4 * w, QtGui.QImage.Format.Format_RGB32)

    def _phase(self, b, step: int):
        """(first band row and column sampled, their pixel row and column)."""
        i0 = max(0, math.ceil((b.y - self.origin[1]) / step - 1e-9))
        j0 = max(0, math.ceil((b.x - self.origin[0]) / step - 1e-9))
        return (math.floor(self.origin[1] + i0 * step - b.y + 1e-9), math.floor(self.origin[0] + j0 * step - b.x + 1e-9),
                i0, j0)

    def _place(self, b, step: int, lut) -> None:
        r0, c0, i0, j0 = self._phase(b, step)
        cells = b.codes[r0::step, c0::step]
        h, w = min(cells.shape[0], self.px.shape[0] - i0), min(cells.shape[1], self.px.shape[1] - j0)
        if h > 0 and w > 0:
            self.px[i0:i0 + h, j0:j0 + w] = lut[cells[:h, :w]]


def _layout(bands) -> tuple:
    return tuple((b.key, b.x, b.y, b.cols, b.rows) for b in bands)
