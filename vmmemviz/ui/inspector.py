"""The page inspector: one page's chain through the layers, its content, sharers and history.

``show_inspection(info)`` takes the dict of :func:`vmmemviz.model.views.pageinfo.inspect`. The
chain (GVPN -> GPPN -> MPN, or the store holding the page) is a row of links in the
colours the layer view gives those pages; clicking a link or a sharer emits
``referenceClicked(ref)``. The history lists the events that touched any link, narrated
(``set_source(log, vm_names)``); clicking one emits ``seekRequested(index + 1)``.
A page of compare mode's run B (``show_inspection(info, other=(log, vm_names))``) is titled
"Run B", its history narrated from run B's log; its links emit ``otherClicked(ref)``, and
its history rows are not clickable (the timeline is run A's).
"""
from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt

from vmmemviz.model.core import events as E
from vmmemviz.model.catalog import STORES
from ..scene import palette as P
from ..scene.bands import store_code
from vmmemviz.model.views.pageinfo import HISTORY_MAX
from .eventlist import chip, mono_font, swatch

LAYERS = {   # layer -> (label, what it is)
    "gv": ("GVPN", "guest virtual page: what the application sees"),
    "gp": ("GPPN", "guest physical page: what the guest OS thinks is RAM"),
    "mp": ("MPN", "machine page: a frame of the host's RAM"),
} | {s.name: (s.slot_title, s.help) for s in STORES}
STORE_CODES = {s.name: store_code(s) for s in STORES}


class InspectorPanel(QtWidgets.QWidget):
    seekRequested = QtCore.Signal(int)
    referenceClicked = QtCore.Signal(tuple)
    otherClicked = QtCore.Signal(tuple)        # a link of run B's page (compare mode)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.log = None
        self.names: list[str] = []
        self.info: dict = {}
        self.other = None               # (log, vm_names) of run B while its page is shown

        self.title = QtWidgets.QLabel("No page inspected")
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.title.setToolTip("The page being inspected")
        self.state = QtWidgets.QLabel("Click a page in the layer view to inspect it.")
        self.state.setWordWrap(True)
        self.state.setToolTip("The page's state in its layer (and in the guest OS)")

        self.chain = QtWidgets.QHBoxLayout()
        self.chain.setSpacing(4)
        chain_box = QtWidgets.QWidget()
        chain_box.setLayout(self.chain)
        chain_box.setToolTip("Where the page is translated to, layer by layer; click a link to inspect it")
        self.links: list[QtWidgets.QPushButton] = []

        self.content = QtWidgets.QLabel()
        self.content.setTextFormat(Qt.TextFormat.RichText)
        self.content.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.content.setToolTip("The 4 KiB the page holds: its content class, content id, the first 64 bits "
                                "of its SHA-1 (what TPS would compare) and the machine page's reference count")

        self.sharers = QtWidgets.QListWidget()
        self.sharers.setFont(mono_font())
        self.sharers.setToolTip("Every guest physical page mapped to this machine page by TPS; click to inspect one")
        self.sharers.itemClicked.connect(lambda it: self._clicked(it.data(Qt.ItemDataRole.UserRole)))
        self.sharers_label = QtWidgets.QLabel("Shared by")

        self.history = QtWidgets.QListWidget()
        self.history.setToolTip("Events that touched any link of the chain, oldest first; click one to go there")
        self.history.setWordWrap(True)
        self.history.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.history.setAlternatingRowColors(True)
        self.history.itemClicked.connect(
            lambda it: self.other is None and self.seekRequested.emit(int(it.data(Qt.ItemDataRole.UserRole)) + 1))
        self.history_label = QtWidgets.QLabel("History")

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.title)
        lay.addWidget(self.state)
        lay.addWidget(chain_box)
        lay.addWidget(self.content)
        lay.addWidget(self.sharers_label)
        lay.addWidget(self.sharers, 1)
        lay.addWidget(self.history_label)
        lay.addWidget(self.history, 3)
        lay.addStretch(0)           # the room below while nothing is inspected
        self._show_sharers([])
        self._shown(False)

    def changeEvent(self, event) -> None:
        """A theme change: colour the links for the new palette."""
        super().changeEvent(event)
        if event.type() == QtCore.QEvent.Type.PaletteChange and self.info:
            info, self.info = self.info, {}
            self.show_inspection(info, self.other)

    def set_source(self, log, vm_names) -> None:
        """Another scenario (``log``: its LogSnapshot): nothing of the old one stays."""
        self.log, self.names = log, list(vm_names)
        self.clear()

    def set_log(self, log) -> None:
        """A newer LogSnapshot: history rows logged since can be narrated."""
        self.log = log

    def clear(self) -> None:
        self.info, self.other = {}, None
        self.title.setText("No page inspected")
        self.state.setText("Click a page in the layer view to inspect it.")
        self._show_chain([])
        self.content.setText("")
        self._show_sharers([])
        self._show_history([])
        self._shown(False)

    def _shown(self, on: bool) -> None:
        """The sharing and history sections only while a page is inspected (with none, "Not
        shared" and an empty history said something about no page)."""
        for w in (self.sharers_label, self.history_label, self.history):
            w.setVisible(on)

    # -- colours and names -----------------------------------------------------------------
    def _theme(self) -> str:
        return "dark" if self.palette().color(QtGui.QPalette.ColorRole.Window).lightnessF() < 0.5 else "light"

    def _page_colour(self) -> str:
        """The colour the layer view gives the inspected page (every link of its chain has it)."""
        info, theme = self.info, self._theme()
        chain = info.get("chain", ())
        store = next((r[0] for r in chain if r[0] in STORE_CODES), None)
        state = str(info.get("state", ""))
        vm = next((r[1] for r in chain if r[1] is not None), None)
        if store:
            code = STORE_CODES[store]
        elif info.get("sharers") or state.startswith("shared"):
            code = P.SHARED
        elif state.startswith("ballooned"):
            code = P.BALLOON
        elif vm is not None:
            code = P.vm_code(vm, info.get("content_class") == "zero")
        else:
            code = P.FREE if state == "free" else P.HV
        return P.colour(code, theme)

    def _names(self) -> list:
        return list(self.other[1]) if self.other is not None else self.names

    def _vm(self, i) -> str:
        names = self._names()
        return names[i] if i is not None and i < len(names) else f"VM {i}"

    def _clicked(self, ref) -> None:
        (self.referenceClicked if self.other is None else self.otherClicked).emit(tuple(ref))

    def describe(self, ref: tuple) -> str:
        """``ref`` in words, for a link's tooltip."""
        layer, vm, proc, index = ref
        label, what = LAYERS.get(layer, (layer, layer))
        where = "the host" if layer == "mp" else self._vm(vm) + (f", process {proc}" if layer == "gv" else "")
        return f"{label} 0x{index:x} of {where}: {what}. Click to inspect it."

    # -- showing ---------------------------------------------------------------------------
    def show_inspection(self, info: dict, other=None) -> None:
        """Show ``info``; ``other``: (log, vm_names) when the page is compare mode's run B's."""
        if info == self.info and other is self.other:   # re-inspected on every frame; most change nothing
            return
        self.info, self.other = info, other
        self._shown(True)
        self.title.setText(info.get("what", "?") if other is None else f"Run B: {info.get('what', '?')}")
        self.state.setText(f"State: {info.get('state', '?')}")
        self._show_chain(info.get("chain", []))
        self._show_content(info)
        self._show_sharers(info.get("sharers", []))
        self._show_history(info.get("history", []))

    def _show_chain(self, chain) -> None:
        while self.chain.count():
            w = self.chain.takeAt(0).widget()
            if w is not None:
                w.hide()
                w.deleteLater()
        self.links = []
        text = self.palette().color(QtGui.QPalette.ColorRole.WindowText).name()
        c = QtGui.QColor(self._page_colour())
        style = (f"QPushButton {{ background: rgba({c.red()},{c.green()},{c.blue()},70); "
                 f"border: 2px solid {c.name()}; border-radius: 4px; padding: 2px 6px; color: {text}; }}"
                 f"QPushButton:hover {{ background: {c.name()}; }}")
        for i, ref in enumerate(chain):
            if i:
                arrow = QtWidgets.QLabel("→")
                arrow.setToolTip("translates to" if ref[0] in ("gp", "mp") else "is held in")
                self.chain.addWidget(arrow)
            label = LAYERS.get(ref[0], (ref[0],))[0]
            b = QtWidgets.QPushButton(f"{label} 0x{ref[3]:x}")
            b.setFont(mono_font())
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            b.setStyleSheet(style)
            b.setToolTip(self.describe(ref))
            b.clicked.connect(lambda _=False, r=tuple(ref): self._clicked(r))
            self.chain.addWidget(b)
            self.links.append(b)
        self.chain.addStretch(1)

    def _show_content(self, info) -> None:
        if "content_class" not in info:
            self.content.setText("<i>No machine page holds this page's content now.</i>")
            return
        mono = mono_font().family()
        rows = [("content", html.escape(info["content_class"])),
                ("content id", f"<span style='font-family:{mono}'>0x{info['content_id']:08x}</span>"),
                ("SHA-1", f"<span style='font-family:{mono}'>{html.escape(info['hash'])}…</span>")]
        if "refs" in info:
            rows.append(("references", str(info["refs"])))
        self.content.setText("<table cellspacing=0 cellpadding=1>" + "".join(
            f"<tr><td>{k}&nbsp;&nbsp;</td><td><b>{v}</b></td></tr>" for k, v in rows) + "</table>")

    def _show_sharers(self, sharers) -> None:
        self.sharers.clear()
        for vm, gppn in sharers:
            it = QtWidgets.QListWidgetItem(f"{self._vm(vm)}  GPPN 0x{gppn:x}")
            it.setData(Qt.ItemDataRole.UserRole, ("gp", vm, None, gppn))
            it.setIcon(swatch(P.colour(P.vm_code(vm), self._theme())))
            it.setToolTip(self.describe(("gp", vm, None, gppn)))
            self.sharers.addItem(it)
        self.sharers_label.setText(f"Shared by {len(sharers)} guest pages" if sharers else "Not shared")
        self.sharers.setVisible(bool(sharers))

    def _show_history(self, indices) -> None:
        self.history.clear()
        log = self.log if self.other is None else self.other[0]
        then = "Click to show the state after this event." if self.other is None else "An event of run B."
        for i in indices:
            if log is not None and i < len(log):
                row = log[i]
                k = E.KINDS[int(row["kind"])]
                sentence = E.narrate(row, self._names())
                it = QtWidgets.QListWidgetItem(f"#{i + 1:,}  t={int(row['tick'])}  {sentence}")
                it.setIcon(chip(k.group))
                it.setToolTip(f"#{i + 1:,}, tick {int(row['tick'])}, {k.name}: {sentence}\n{then}")
            else:
                it = QtWidgets.QListWidgetItem(f"#{i + 1:,}")
                it.setToolTip(then)
            it.setData(Qt.ItemDataRole.UserRole, int(i))
            self.history.addItem(it)
        self.history_label.setText(f"History: {len(indices)} events" + (
            " (the latest)" if len(indices) >= HISTORY_MAX else ""))
        self.history.scrollToBottom()
