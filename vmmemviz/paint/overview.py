"""The whole picture's grids downsampled, for the zoomed-out view and the minimap: one RGB32
pixel per ``step`` x ``step`` cells of the scene, the colour of the most notable reclaimed
page it covers, else of its first cell (``palette.block_ranks``: a single reclaimed page
stays visible among plain ones). A cell belongs to the pixel its top-left corner falls in;
a pixel on the border of two bands shows the higher ranked of both.

Kept between frames: a frame built from the last one (``Frame.changes``: the cells that
changed, per band) computes again only the pixels those cells fall in; anything else (a new
layout, step, theme, or a frame from scratch) reduces every band again.
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
        self.rank = None         # (h, w) uint8: the rank (palette.lod_order) of each pixel's cell
        self.px = None           # (h, w) uint32
        self.maps = {}           # band key -> its rows' pixel rows and its columns' pixel columns
        self.img = None
        self.origin = (0.0, 0.0)

    def follow(self, bands, changes, base, pos) -> None:
        """A new frame: its changes since ``base`` when the pixels show ``base``, else start again
        at the next paint."""
        if self.key is None or changes is None or base != self.pos or self.key[0] != _layout(bands):
            self.key = None
            return
        step = self.key[1]
        hit = []
        for b in bands:
            if b.key not in changes:
                continue
            idx = changes[b.key]
            pi, pj = self.maps[b.key]
            if not len(pi) or not len(pj):
                continue
            if idx is None:
                hit.append((np.repeat(np.unique(pi), len(np.unique(pj))), np.tile(np.unique(pj), len(np.unique(pi)))))
                continue
            r, c = np.divmod(idx, b.cols)
            hit.append((pi[r], pj[c]))
        if hit:
            flat = np.unique(np.concatenate([i for i, _ in hit]).astype(np.int64) * self.rank.shape[1] +
                             np.concatenate([j for _, j in hit]))
            i, j = np.divmod(flat, self.rank.shape[1])
            rank = np.zeros(len(i), np.uint8)
            lo_i, hi_i, lo_j, hi_j = i.min(), i.max(), j.min(), j.max()
            for b in bands:                 # every band that covers one of them (its neighbours too)
                pi, pj = self.maps[b.key]
                if not len(pi) or not len(pj) or pi[0] > hi_i or pi[-1] < lo_i or pj[0] > hi_j or pj[-1] < lo_j:
                    continue
                inside = (i >= pi[0]) & (i <= pi[-1]) & (j >= pj[0]) & (j <= pj[-1])
                if inside.any():
                    rank[inside] = np.maximum(rank[inside], _block_rank(b, pi, pj, i[inside], j[inside]))
            self.rank[i, j] = rank
            self.px[i, j] = P.lut32(self.key[2])[P.lod_order()[1][rank]]
        self.img = self._wrap()          # a new image: Qt may cache one it has drawn
        self.pos = pos

    def image(self, bands, step: int, theme: str, pos) -> QtGui.QImage:
        """The pixels for ``bands`` at ``step`` cells a pixel (reduced again if out of date)."""
        key = (_layout(bands), step, theme)
        if key != self.key:
            self.px = self._sampled(bands, step, theme)
            self.img = self._wrap()
            self.key, self.pos = key, pos
        return self.img

    def _sampled(self, bands, step: int, theme: str) -> np.ndarray:
        """Every band reduced again."""
        x, y, w, h = B.scene_rect(bands)
        self.origin = (x, y)
        self.rank = np.zeros((math.ceil(h / step), math.ceil(w / step)), np.uint8)
        self.maps = {b.key: self._map(b, step) for b in bands}
        for b in bands:
            pi, pj = self.maps[b.key]
            if not len(pi) or not len(pj):
                continue
            block = P.block_ranks(P.lod_order()[0][b.codes], np.flatnonzero(np.diff(pi, prepend=-1)),
                                  np.flatnonzero(np.diff(pj, prepend=-1)))
            at = self.rank[pi[0]:pi[-1] + 1, pj[0]:pj[-1] + 1]
            np.maximum(at, block, out=at)
        return P.lut32(theme)[P.lod_order()[1][self.rank]]

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

    def _map(self, b, step: int):
        """The pixel row of each of ``b``'s rows and the pixel column of each of its columns
        (non-decreasing, consecutive)."""
        h, w = self.rank.shape
        pi = np.floor((b.y - self.origin[1] + np.arange(b.rows)) / step + 1e-9).astype(np.int64)
        pj = np.floor((b.x - self.origin[0] + np.arange(b.cols)) / step + 1e-9).astype(np.int64)
        return np.minimum(np.maximum(pi, 0), h - 1), np.minimum(np.maximum(pj, 0), w - 1)


def _block_rank(b, pi, pj, i, j) -> np.ndarray:
    """``palette.block_ranks`` of ``b``'s cells in each pixel (``i``, ``j``) (``pi``, ``pj``: ``_map``'s)."""
    r0, r1 = np.searchsorted(pi, i, "left"), np.searchsorted(pi, i, "right")
    c0, c1 = np.searchsorted(pj, j, "left"), np.searchsorted(pj, j, "right")
    hr, hc = int((r1 - r0).max()), int((c1 - c0).max())
    rr = r0[:, None] + np.arange(hr)
    cc = c0[:, None] + np.arange(hc)
    ok = (rr < r1[:, None])[:, :, None] & (cc < c1[:, None])[:, None, :]
    cells = b.codes[np.minimum(rr, b.rows - 1)[:, :, None], np.minimum(cc, b.cols - 1)[:, None, :]]
    rank = P.lod_order()[0][cells]
    top = np.where(ok & (rank >= 256 - len(P.NOTABLE)), rank, 0).reshape(len(i), -1).max(axis=1)
    return np.where(top > 0, top, rank[:, 0, 0])


def _layout(bands) -> tuple:
    return tuple((b.key, b.x, b.y, b.cols, b.rows) for b in bands)
