"""The whole picture's grids downsampled, for the zoomed-out view and the minimap: one RGB32
pixel per ``step`` x ``step`` cells of the scene. A pixel shows the most notable reclaimed
page it covers (``palette.NOTABLE``: a single swapped page stays visible among a million
plain ones); any other pixel the cell at its top-left corner (background in a gap between
bands, so VM columns stay apart), so plain pages keep their share of the picture. For the
reclaimed pages a cell belongs to the pixel its top-left corner falls in.

Kept between frames: a frame built from the last one (``Frame.changes``: the cells that
changed, per band) computes again only the pixels those cells are sampled at or fall in;
anything else (a new layout, step, theme, or a frame from scratch) reduces every band again.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from PySide6 import QtCore, QtGui

from ..scene import bands as B
from ..scene import palette as P


class Overview:
    def __init__(self):
        self.key = None          # (layout, step, theme) the pixels are for
        self.pos = None          # the frame position they show
        self.sample = None       # (h, w) uint8: the code of the cell at each pixel's corner
        self.top = None          # (h, w) uint8: the rank of the most notable page in each (0: none)
        self.px = None           # (h, w) uint32
        self.maps = {}           # band key -> its rows' pixel rows and its columns' pixel columns
        self._mapped = None      # the (layout, step) of the maps
        self.img = None
        self.origin = (0.0, 0.0)

    def follow(self, bands, changes, base, pos) -> None:
        """A new frame: its changes since ``base`` when the pixels show ``base``, else start again
        at the next paint."""
        if self.key is None or changes is None or base != self.pos or self.key[0] != _layout(bands):
            self.key = None
            return
        step = self.key[1]
        hit, sampled = [], []
        for b in bands:
            if b.key not in changes:
                continue
            idx = changes[b.key]
            pi, pj = self.maps[b.key]
            if not len(pi) or not len(pj):
                continue
            if idx is None:
                ui, uj = np.unique(pi), np.unique(pj)
                hit.append((np.repeat(ui, len(uj)), np.tile(uj, len(ui))))
                i0, j0, h, w = self._place(b, step)
                sampled.append((np.repeat(np.arange(i0, i0 + h), w), np.tile(np.arange(j0, j0 + w), h)))
                continue
            r, c = np.divmod(idx, b.cols)
            hit.append((pi[r], pj[c]))
            r0, c0, i0, j0 = self._phase(b, step)
            keep = (r >= r0) & (c >= c0) & ((r - r0) % step == 0) & ((c - c0) % step == 0)
            i, j = i0 + (r[keep] - r0) // step, j0 + (c[keep] - c0) // step
            ok = (i < self.sample.shape[0]) & (j < self.sample.shape[1])
            self.sample[i[ok], j[ok]] = b.codes.reshape(-1)[idx[keep][ok]]
            sampled.append((i[ok], j[ok]))
        if hit:
            i, j = self._unique(hit)
            top = np.zeros(len(i), np.uint8)
            lo_i, hi_i, lo_j, hi_j = i.min(), i.max(), j.min(), j.max()
            for b in bands:                 # every band that covers one of them (its neighbours too)
                pi, pj = self.maps[b.key]
                if not len(pi) or not len(pj) or pi[0] > hi_i or pi[-1] < lo_i or pj[0] > hi_j or pj[-1] < lo_j:
                    continue
                inside = (i >= pi[0]) & (i <= pi[-1]) & (j >= pj[0]) & (j <= pj[-1])
                if inside.any():
                    top[inside] = np.maximum(top[inside], _block_top(b, pi, pj, i[inside], j[inside]))
            self.top[i, j] = top
        if hit or sampled:
            i, j = self._unique(hit + sampled)
            self.px[i, j] = _colours(self.sample[i, j], self.top[i, j], self.key[2])
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
        shape = (math.ceil(h / step), math.ceil(w / step))
        self.sample, self.top = np.full(shape, P.BG, np.uint8), np.zeros(shape, np.uint8)
        mapped = (_layout(bands), step)
        if self._mapped != mapped:                          # a seek keeps the layout: its maps too
            self.maps, self._mapped = {b.key: self._map(b, step) for b in bands}, mapped
        rank = P.lod_order()[0]
        for b in bands:
            self._place(b, step)
            pi, pj = self.maps[b.key]
            if not len(pi) or not len(pj):
                continue
            codes = b.codes.reshape(-1)
            found = B.where_in(codes, *_notable_run())     # (a table lookup widens every uint8 to 8 bytes)
            if len(found) <= len(codes) >> 6:   # reclaimed pages are few: each to its pixel
                r, c = np.divmod(found, b.cols)
                np.maximum.at(self.top, (pi[r], pj[c]), rank[codes[found]])
                continue
            top = rank[b.codes]
            top[top < P.NOTABLE_RANK] = 0
            block = np.maximum.reduceat(np.maximum.reduceat(top, np.flatnonzero(np.diff(pi, prepend=-1)), axis=0),
                                        np.flatnonzero(np.diff(pj, prepend=-1)), axis=1)
            at = self.top[pi[0]:pi[-1] + 1, pj[0]:pj[-1] + 1]
            np.maximum(at, block, out=at)
        return _colours(self.sample, self.top, theme)

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

    def _unique(self, parts) -> tuple:
        flat = np.unique(np.concatenate([i for i, _ in parts]).astype(np.int64) * self.px.shape[1] +
                         np.concatenate([j for _, j in parts]))
        return np.divmod(flat, self.px.shape[1])

    def _phase(self, b, step: int):
        """(first band row and column sampled, their pixel row and column)."""
        i0 = max(0, math.ceil((b.y - self.origin[1]) / step - 1e-9))
        j0 = max(0, math.ceil((b.x - self.origin[0]) / step - 1e-9))
        return (math.floor(self.origin[1] + i0 * step - b.y + 1e-9), math.floor(self.origin[0] + j0 * step - b.x + 1e-9),
                i0, j0)

    def _place(self, b, step: int) -> tuple:
        """The cells of ``b`` at the pixels' corners sampled again: (first pixel row and column,
        pixel rows and columns) written."""
        r0, c0, i0, j0 = self._phase(b, step)
        cells = b.codes[r0::step, c0::step]
        h, w = max(min(cells.shape[0], self.sample.shape[0] - i0), 0), max(min(cells.shape[1], self.sample.shape[1] - j0), 0)
        self.sample[i0:i0 + h, j0:j0 + w] = cells[:h, :w]
        return i0, j0, h, w

    def _map(self, b, step: int):
        """The pixel row of each of ``b``'s rows and the pixel column of each of its columns
        (non-decreasing, consecutive)."""
        h, w = self.sample.shape
        pi = np.floor((b.y - self.origin[1] + np.arange(b.rows)) / step + 1e-9).astype(np.int64)
        pj = np.floor((b.x - self.origin[0] + np.arange(b.cols)) / step + 1e-9).astype(np.int64)
        return np.minimum(np.maximum(pi, 0), h - 1), np.minimum(np.maximum(pj, 0), w - 1)


def _block_top(b, pi, pj, i, j) -> np.ndarray:
    """The rank of the most notable reclaimed page of ``b`` in each pixel (``i``, ``j``), 0 for
    none (``pi``, ``pj``: ``Overview._map``'s)."""
    r0, r1 = np.searchsorted(pi, i, "left"), np.searchsorted(pi, i, "right")
    c0, c1 = np.searchsorted(pj, j, "left"), np.searchsorted(pj, j, "right")
    hr, hc = int((r1 - r0).max()), int((c1 - c0).max())
    rr = r0[:, None] + np.arange(hr)
    cc = c0[:, None] + np.arange(hc)
    ok = (rr < r1[:, None])[:, :, None] & (cc < c1[:, None])[:, None, :]
    cells = b.codes[np.minimum(rr, b.rows - 1)[:, :, None], np.minimum(cc, b.cols - 1)[:, None, :]]
    rank = P.lod_order()[0][cells]
    return np.where(ok & (rank >= P.NOTABLE_RANK), rank, 0).reshape(len(i), -1).max(axis=1)


@functools.cache
def _notable_run() -> tuple:
    """The notable codes (``palette.NOTABLE``), numbered in one run: (first, last - first)."""
    codes = np.flatnonzero(P.lod_order()[0] >= P.NOTABLE_RANK)
    if not len(codes) or codes[-1] - codes[0] != len(codes) - 1:
        raise ValueError("the palette must number the notable codes in one run")
    return np.uint8(codes[0]), np.uint8(codes[-1] - codes[0])


def _colours(sample: np.ndarray, top: np.ndarray, theme: str) -> np.ndarray:
    """The pixels: the most notable page's colour, else the sampled cell's (``np.take``: twice
    as fast as indexing a table with uint8 codes, which numpy widens first)."""
    code = np.take(P.lod_order()[1], top)
    np.copyto(code, sample, where=top == 0)
    return np.take(P.lut32(theme), code)


def _layout(bands) -> tuple:
    return tuple((b.key, b.x, b.y, b.cols, b.rows) for b in bands)
